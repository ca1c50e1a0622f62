//! Provider mirror configurations over HTTP, with the testkit fakes: the admin API (CRUD,
//! validation, scopes), and sync runs with their history.

mod common;
mod mirror_common;

use poem::http::StatusCode;
use serde_json::json;
use tfr_core::Scope;
use tfr_ports::driven::DEFAULT_ORGANIZATION_ID;

use common::{Caller, ReplyExt, TestApp, audit_rows};

use mirror_common::*;

// ------------------------------------------------------------------ admin API

#[tokio::test]
async fn configuration_lifecycle() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);

    let created = as_admin
        .post(
            MIRRORS,
            json!({
                "name": "terraform",
                "namespaces": ["HashiCorp"],
                "provider_types": ["aws", "AzureRM"],
                "version_constraint": ">= 5.0, < 6.0",
                "platforms": ["linux_amd64"],
            }),
        )
        .await
        .expect_status(StatusCode::CREATED);
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["name"], "terraform");
    assert_eq!(created["upstream"], TERRAFORM, "the default upstream");
    assert_eq!(
        created["hostnames"],
        json!([TERRAFORM]),
        "default hostnames"
    );
    assert_eq!(created["namespaces"], json!(["hashicorp"]), "lower-cased");
    assert_eq!(created["provider_types"], json!(["aws", "azurerm"]));
    assert_eq!(created["version_constraint"], ">= 5.0, < 6.0");
    assert_eq!(created["platforms"], json!(["linux_amd64"]));
    assert_eq!(created["enabled"], true, "enabled unless said otherwise");
    assert_eq!(created["sync_interval_secs"], 600);
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    assert!(created.get("last_sync_at").is_none() && created.get("last_sync_status").is_none());

    let list = as_admin.get(MIRRORS).await.expect_status(StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], id.as_str());
    let path = config_path(&id);
    let got = as_admin.get(&path).await.expect_status(StatusCode::OK);
    assert_eq!(got, created);

    // A full update: what is absent takes its default again.
    let updated = as_admin
        .put(
            &path,
            json!({
                "name": "both registries",
                "hostnames": [TERRAFORM, "registry.opentofu.org"],
                "enabled": false,
                "sync_interval_secs": 3600,
            }),
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "both registries");
    assert_eq!(
        updated["hostnames"],
        json!([TERRAFORM, "registry.opentofu.org"])
    );
    assert_eq!(updated["namespaces"], json!([]));
    assert!(updated.get("version_constraint").is_none(), "{updated}");
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["sync_interval_secs"], 3600);
    assert_eq!(updated["created_at"], created["created_at"]);

    // Audited with the configuration's id.
    let rows = audit_rows(&app).await;
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.action.as_str(), r.resource.as_str()))
        .collect();
    let resource = format!("mirror:{id}");
    assert!(
        actions.contains(&("mirror.create", resource.as_str())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("mirror.update", resource.as_str())),
        "{actions:?}"
    );

    as_admin
        .delete(&path)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let gone = as_admin
        .get(&path)
        .await
        .expect_status(StatusCode::NOT_FOUND);
    assert_error_mentions(&gone, "not found");
    for (method, payload) in [
        ("PUT", Some(json!({"name": "x"}))),
        ("DELETE", None),
        ("POST", None),
    ] {
        let target = if method == "POST" {
            format!("{path}/sync")
        } else {
            path.clone()
        };
        as_admin
            .send(method, &target, payload)
            .await
            .expect_status(StatusCode::NOT_FOUND);
    }
    as_admin
        .get(&format!("{path}/history"))
        .await
        .expect_status(StatusCode::NOT_FOUND);
    let list = as_admin.get(MIRRORS).await.expect_status(StatusCode::OK);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn invalid_configurations_name_the_failed_check() {
    let (_app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    for (payload, expected) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "no/slashes"}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (
            json!({"name": "m", "upstream": "https://registry.terraform.io"}),
            "upstream",
        ),
        (json!({"name": "m", "hostnames": ["bad host"]}), "hostnames"),
        (json!({"name": "m", "namespaces": ["-bad"]}), "namespaces"),
        (
            json!({"name": "m", "provider_types": ["a b"]}),
            "provider_types",
        ),
        (
            json!({"name": "m", "version_constraint": ">= banana"}),
            "version_constraint",
        ),
        (json!({"name": "m", "platforms": ["linux"]}), "platforms"),
        (
            json!({"name": "m", "sync_interval_secs": 5}),
            "sync_interval_secs",
        ),
        (
            json!({"name": "m", "sync_interval_secs": 8 * 24 * 3600}),
            "sync_interval_secs",
        ),
    ] {
        let err = as_admin
            .post(MIRRORS, payload.clone())
            .await
            .expect_status(StatusCode::BAD_REQUEST);
        assert_eq!(check(&err), expected, "{payload}: {err}");
        assert!(
            err["errors"][0]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("{expected}: "))),
            "{err}"
        );
    }
    // Malformed bodies and ids are 400 too, never 500; a misspelt filter is refused
    // rather than read as "any".
    for payload in [
        json!({"name": "m", "namespace": ["hashicorp"]}),
        json!({"namespaces": ["hashicorp"]}),
        json!({"name": "m", "enabled": "yes"}),
        json!({"name": "m", "sync_interval_secs": -1}),
    ] {
        let err = as_admin
            .post(MIRRORS, payload.clone())
            .await
            .expect_status(StatusCode::BAD_REQUEST);
        assert!(err["errors"][0].is_string(), "{payload}: {err}");
    }
    as_admin
        .get(&format!("{MIRRORS}/not-a-uuid"))
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    as_admin
        .get(MIRRORS)
        .await
        .expect_status(StatusCode::OK)
        .as_array()
        .filter(|a| a.is_empty())
        .expect("nothing was created");
}

#[tokio::test]
async fn names_are_unique() {
    let (_app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    as_admin
        .post(MIRRORS, json!({"name": "terraform"}))
        .await
        .expect_status(StatusCode::CREATED);
    let err = as_admin
        .post(MIRRORS, json!({"name": "terraform"}))
        .await
        .expect_status(StatusCode::CONFLICT);
    assert_error_mentions(&err, "terraform");
    let other = as_admin
        .post(MIRRORS, json!({"name": "opentofu"}))
        .await
        .expect_status(StatusCode::CREATED);
    let path = config_path(other["id"].as_str().expect("id"));
    as_admin
        .put(&path, json!({"name": "terraform"}))
        .await
        .expect_status(StatusCode::CONFLICT);
    // Keeping one's own name is no conflict.
    as_admin
        .put(&path, json!({"name": "opentofu", "enabled": false}))
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn admin_routes_need_global_mirror_scopes() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let id = create_aws_mirror(Caller::new(&cli, &admin)).await;
    let path = config_path(&id);
    let reader = app.system_key(&[Scope::MirrorsRead]).await;
    let unrelated = app.system_key(&[Scope::ProvidersRead]).await;
    let as_reader = Caller::new(&cli, &reader);

    as_reader.get(MIRRORS).await.expect_status(StatusCode::OK);
    as_reader.get(&path).await.expect_status(StatusCode::OK);
    as_reader
        .get(&format!("{path}/history"))
        .await
        .expect_status(StatusCode::OK);
    as_reader
        .post(MIRRORS, json!({"name": "x"}))
        .await
        .expect_status(StatusCode::FORBIDDEN);
    as_reader
        .put(&path, json!({"name": "x"}))
        .await
        .expect_status(StatusCode::FORBIDDEN);
    as_reader
        .delete(&path)
        .await
        .expect_status(StatusCode::FORBIDDEN);
    start_sync(as_reader, &id)
        .await
        .expect_status(StatusCode::FORBIDDEN);
    Caller::new(&cli, &unrelated)
        .get(MIRRORS)
        .await
        .expect_status(StatusCode::FORBIDDEN);
    // mirrors:read held in an organization only is not global.
    let org_reader = app
        .organization_key(DEFAULT_ORGANIZATION_ID, &[Scope::MirrorsRead])
        .await;
    Caller::new(&cli, &org_reader)
        .get(MIRRORS)
        .await
        .expect_status(StatusCode::FORBIDDEN);
    let anonymous = get(&cli, MIRRORS, None).await;
    anonymous.assert_status(StatusCode::UNAUTHORIZED);
    // A manager can do it all.
    let manager = app.system_key(&[Scope::MirrorsManage]).await;
    Caller::new(&cli, &manager)
        .put(&path, json!({"name": "renamed"}))
        .await
        .expect_status(StatusCode::OK);
}

// ------------------------------------------------------------------ sync and history

#[tokio::test]
async fn sync_runs_in_the_background_and_is_recorded() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    offer_aws(&app);
    let id = create_aws_mirror(as_admin).await;

    app.upstream.hold_downloads();
    let started = start_sync(as_admin, &id)
        .await
        .expect_status(StatusCode::ACCEPTED);
    assert_eq!(started["status"], "running", "{started}");
    assert_eq!(started["trigger"], "manual");
    assert_eq!(started["config_id"], id.as_str());
    assert!(started["holder"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(started.get("finished_at").is_none());

    // While it runs, another sync is refused.
    let busy = start_sync(as_admin, &id)
        .await
        .expect_status(StatusCode::CONFLICT);
    assert_error_mentions(&busy, "already");
    let config = as_admin
        .get(&config_path(&id))
        .await
        .expect_status(StatusCode::OK);
    assert!(
        config["last_sync_at"].is_string(),
        "the start is recorded: {config}"
    );
    app.upstream.release_downloads();

    let run = finished_run(as_admin, &id).await;
    assert_eq!(run["id"], started["id"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["versions_fetched"], 2);
    assert_eq!(run["packages_fetched"], 3);
    assert!(
        run["bytes_fetched"].as_u64().is_some_and(|b| b > 0),
        "{run}"
    );
    assert_eq!(run["failures"], json!([]));
    assert!(run["finished_at"].is_string());
    let config = as_admin
        .get(&config_path(&id))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(config["last_sync_status"], "succeeded");
    assert!(config["last_sync_at"].is_string());

    // A failing package is recorded with its reason; the run is partial.
    app.upstream
        .add_version(&terraform(), &aws(), "1.2.0", &["linux_amd64"]);
    app.upstream.bad_signature(&terraform(), &aws(), "1.2.0");
    start_sync(as_admin, &id)
        .await
        .expect_status(StatusCode::ACCEPTED);
    let run = finished_run(as_admin, &id).await;
    assert_eq!(run["status"], "partial", "{run}");
    assert_eq!(run["packages_fetched"], 0);
    let failure = &run["failures"][0];
    assert_eq!(failure["provider"], "hashicorp/aws", "{run}");
    assert_eq!(failure["version"], "1.2.0");
    assert!(
        failure["reason"]
            .as_str()
            .is_some_and(|r| r.contains("signature")),
        "{failure}"
    );

    // Newest first, paginated.
    let page = as_admin
        .get(&format!("{MIRRORS}/{id}/history?limit=1"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["status"], "partial");
    assert_eq!(page["meta"]["limit"], 1);
    assert_eq!(page["meta"]["next_offset"], 1, "{page}");
    let second = as_admin
        .get(&format!("{MIRRORS}/{id}/history?limit=1&offset=1"))
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(second["items"][0]["id"], started["id"]);
    assert!(second["meta"].get("next_offset").is_none(), "{second}");
    // The syncs are audited.
    let syncs = audit_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.action == "mirror.sync")
        .count();
    assert_eq!(syncs, 3, "two started, one refused");
}
