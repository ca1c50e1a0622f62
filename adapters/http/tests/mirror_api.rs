//! Provider mirrors over HTTP, with the testkit fakes: the admin API (CRUD, validation,
//! sync and history), the Provider Network Mirror Protocol (content type, shapes,
//! pull-through, signed archive links, errors) and the mirrored provider listing.

mod common;

use std::time::Duration;

use poem::http::StatusCode;
use poem::test::TestResponse;
use serde_json::{Value, json};
use tfr_core::{ProviderAddress, RegistryHost, Scope};
use tfr_ports::driven::DEFAULT_ORGANIZATION_ID;
use tfr_ports::testkit::upstream::FakeUpstreamRegistry;

use common::{Caller, Client, Options, Reply, ReplyExt, TestApp, audit_rows, body};

const MIRRORS: &str = "/api/v1/admin/mirrors";
const TERRAFORM: &str = "registry.terraform.io";
const AWS: &str = "/v1/mirror/registry.terraform.io/hashicorp/aws";

fn aws() -> ProviderAddress {
    ProviderAddress::parse("hashicorp", "aws").expect("address")
}

fn terraform() -> RegistryHost {
    RegistryHost::terraform_registry()
}

/// Upstream offers hashicorp/aws 1.0.0 (two platforms) and 1.1.0 (one).
fn offer_aws(app: &TestApp) {
    app.upstream.add_version(
        &terraform(),
        &aws(),
        "1.0.0",
        &["linux_amd64", "darwin_arm64"],
    );
    app.upstream
        .add_version(&terraform(), &aws(), "1.1.0", &["linux_amd64"]);
}

/// A configuration mirroring hashicorp/aws from registry.terraform.io; its id.
async fn create_aws_mirror(admin: Caller<'_>) -> String {
    let created = admin
        .post(
            MIRRORS,
            json!({"name": "terraform", "namespaces": ["hashicorp"], "provider_types": ["aws"]}),
        )
        .await
        .expect_status(StatusCode::CREATED);
    created["id"].as_str().expect("id").to_string()
}

/// An app built with `options` whose upstream offers hashicorp/aws ([`offer_aws`]) and
/// which mirrors it ([`create_aws_mirror`]); a client and a global administrator's key.
async fn aws_mirror_with(options: Options) -> (TestApp, Client, String) {
    let app = TestApp::with(options);
    let cli = app.client();
    let admin = app.admin_token().await;
    offer_aws(&app);
    create_aws_mirror(Caller::new(&cli, &admin)).await;
    (app, cli, admin)
}

/// [`aws_mirror_with`] the default options.
async fn aws_mirror() -> (TestApp, Client, String) {
    aws_mirror_with(Options::default()).await
}

/// The admin API path of configuration `id`.
fn config_path(id: &str) -> String {
    format!("{MIRRORS}/{id}")
}

/// Asks for a sync of configuration `id`.
async fn start_sync(admin: Caller<'_>, id: &str) -> Reply {
    admin.post_empty(&format!("{MIRRORS}/{id}/sync")).await
}

async fn get(cli: &Client, path: &str, token: Option<&str>) -> TestResponse {
    let req = cli.get(path);
    match token {
        Some(t) => req.header("Authorization", format!("Bearer {t}")),
        None => req,
    }
    .send()
    .await
}

/// The value of header `name` ("" when absent).
fn header(resp: &TestResponse, name: &str) -> String {
    resp.0
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn content_type(resp: &TestResponse) -> String {
    header(resp, "content-type")
}

/// The archive URL of `platform` in the `{version}.json` at `doc_path` (fetched with
/// `token`), resolved against `doc_path`.
async fn archive_link(cli: &Client, token: &str, doc_path: &str, platform: &str) -> String {
    let doc = body(get(cli, doc_path, Some(token)).await).await;
    let url = doc["archives"][platform]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no {platform} archive in {doc}"));
    if url.starts_with('/') {
        return url.to_string();
    }
    let (dir, _) = doc_path.rsplit_once('/').expect("a path");
    format!("{dir}/{url}")
}

/// The checks a JSON error names.
fn check(reply: &Value) -> &str {
    reply["check"].as_str().unwrap_or_default()
}

/// Asserts that the first message of a JSON error mentions `words`.
fn assert_error_mentions(err: &Value, words: &str) {
    assert!(
        err["errors"][0].as_str().is_some_and(|m| m.contains(words)),
        "expected an error mentioning {words:?}: {err}"
    );
}

/// Asserts the status of `resp` and that its JSON error mentions `words`.
async fn assert_refused(resp: TestResponse, status: StatusCode, words: &str) {
    resp.assert_status(status);
    assert_error_mentions(&body(resp).await, words);
}

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

/// Polls the history until the newest run finished; that run.
async fn finished_run(admin: Caller<'_>, id: &str) -> Value {
    for _ in 0..200 {
        let history = admin
            .get(&format!("{MIRRORS}/{id}/history"))
            .await
            .expect_status(StatusCode::OK);
        let newest = &history["items"][0];
        if newest["status"] != "running" && newest.is_object() {
            return newest.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the sync did not finish");
}

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

// ------------------------------------------------------------------ the protocol

#[tokio::test]
async fn index_and_version_documents() {
    let (_app, cli, admin) = aws_mirror().await;

    let resp = get(&cli, &format!("{AWS}/index.json"), Some(&admin)).await;
    resp.assert_status_is_ok();
    assert_eq!(content_type(&resp), "application/json");
    assert_eq!(
        body(resp).await,
        json!({"versions": {"1.0.0": {}, "1.1.0": {}}})
    );

    let doc_path = format!("{AWS}/1.0.0.json");
    let resp = get(&cli, &doc_path, Some(&admin)).await;
    resp.assert_status_is_ok();
    assert_eq!(content_type(&resp), "application/json");
    let doc = body(resp).await;
    let archives = doc["archives"].as_object().expect("archives");
    assert_eq!(
        archives.keys().collect::<Vec<_>>(),
        ["darwin_arm64", "linux_amd64"]
    );
    let linux = &doc["archives"]["linux_amd64"];
    let url = linux["url"].as_str().expect("url");
    assert!(
        url.starts_with("terraform-provider-aws_1.0.0_linux_amd64.zip?expires="),
        "relative to the document: {url}"
    );
    let hashes = linux["hashes"].as_array().expect("hashes");
    assert_eq!(hashes.len(), 1, "only zh: before tfr holds it: {doc}");
    assert!(hashes[0].as_str().is_some_and(|h| h.starts_with("zh:")));

    // Case does not matter in the address, as in Terraform.
    let upper = get(
        &cli,
        "/v1/mirror/Registry.Terraform.IO/HashiCorp/AWS/index.json",
        Some(&admin),
    )
    .await;
    upper.assert_status_is_ok();
}

#[tokio::test]
async fn archives_pull_through_behind_signed_links() {
    let (_app, cli, admin) = aws_mirror().await;
    let doc_path = format!("{AWS}/1.0.0.json");
    let archive = archive_link(&cli, &admin, &doc_path, "linux_amd64").await;

    // No credential: the signed link is the credential.
    let resp = get(&cli, &archive, None).await;
    resp.assert_status(StatusCode::FOUND);
    let target = header(&resp, "location");
    assert!(target.starts_with("/v1/files/"), "{target}");
    let file = get(&cli, &target, None).await;
    file.assert_status_is_ok();
    let bytes = file.0.into_body().into_bytes().await.expect("bytes");
    let platform = tfr_core::Platform::parse("linux_amd64").expect("platform");
    assert_eq!(
        bytes,
        FakeUpstreamRegistry::default_bytes(&aws(), "1.0.0", &platform),
        "upstream's bytes, unchanged"
    );

    // Held now: served from storage, with its h1.
    let doc = body(get(&cli, &doc_path, Some(&admin)).await).await;
    let linux = &doc["archives"]["linux_amd64"];
    assert!(
        linux["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("/v1/files/")),
        "{doc}"
    );
    let hashes: Vec<&str> = linux["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(hashes.iter().any(|h| h.starts_with("h1:")), "{hashes:?}");
    assert!(hashes.iter().any(|h| h.starts_with("zh:")), "{hashes:?}");
    // A credential sent anyway is ignored on the public archive route.
    let again = get(&cli, &archive, Some("tfr_not_a_real_key")).await;
    again.assert_status(StatusCode::FOUND);
}

#[tokio::test]
async fn archive_links_must_be_signed_and_fresh() {
    let (app, cli, admin) = aws_mirror().await;
    let doc_path = format!("{AWS}/1.0.0.json");
    let archive = archive_link(&cli, &admin, &doc_path, "linux_amd64").await;
    let (file, _) = archive.split_once('?').expect("a query");
    let expires = archive
        .split("expires=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .expect("expires");

    for (path, why) in [
        (file.to_string(), "unsigned"),
        (format!("{file}?expires={expires}"), "no signature"),
        (
            format!("{file}?expires={expires}&signature=forged"),
            "a forged signature",
        ),
        (
            format!("{file}?expires=soon&signature=forged"),
            "a malformed expiry",
        ),
        (
            archive.replace("linux_amd64.zip?", "darwin_arm64.zip?"),
            "another file's signature",
        ),
    ] {
        let resp = get(&cli, &path, None).await;
        assert_eq!(resp.0.status(), StatusCode::FORBIDDEN, "{why}: {path}");
        assert!(content_type(&resp).starts_with("application/json"), "{why}");
        let err = body(resp).await;
        assert!(err["errors"][0].is_string(), "{why}: {err}");
    }
    assert_eq!(
        app.upstream
            .calls(tfr_ports::testkit::upstream::UpstreamCall::Download),
        0,
        "a refused link fetches nothing"
    );

    // Expired: past the links' lifetime.
    app.clock.advance(chrono::Duration::seconds(301));
    assert_refused(
        get(&cli, &archive, None).await,
        StatusCode::FORBIDDEN,
        "expired",
    )
    .await;
}

#[tokio::test]
async fn malformed_and_unknown_requests() {
    let (_app, cli, admin) = aws_mirror().await;
    for (path, status, expected_check) in [
        (
            "/v1/mirror/not_a_host!/hashicorp/aws/index.json",
            StatusCode::BAD_REQUEST,
            "hostname",
        ),
        (
            "/v1/mirror/registry.terraform.io:99999/hashicorp/aws/index.json",
            StatusCode::BAD_REQUEST,
            "hostname",
        ),
        (
            "/v1/mirror/registry.terraform.io/-bad-/aws/index.json",
            StatusCode::BAD_REQUEST,
            "provider",
        ),
        (
            "/v1/mirror/registry.terraform.io/hashicorp/a_b/index.json",
            StatusCode::BAD_REQUEST,
            "provider",
        ),
        (
            "/v1/mirror/registry.terraform.io/hashicorp/aws/banana.json",
            StatusCode::BAD_REQUEST,
            "version",
        ),
        // Not served by any configuration: 404, so Terraform tries its next method.
        (
            "/v1/mirror/registry.terraform.io/hashicorp/google/index.json",
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/mirror/registry.opentofu.org/hashicorp/aws/index.json",
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/mirror/registry.terraform.io/hashicorp/aws/9.9.9.json",
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/mirror/registry.terraform.io/hashicorp/aws/README.md",
            StatusCode::NOT_FOUND,
            "",
        ),
    ] {
        let resp = get(&cli, path, Some(&admin)).await;
        assert_eq!(resp.0.status(), status, "{path}");
        assert_eq!(content_type(&resp), "application/json", "{path}");
        let err = body(resp).await;
        assert_eq!(check(&err), expected_check, "{path}: {err}");
        assert!(err["errors"][0].is_string(), "{path}: {err}");
    }

    // Upstream does not know the provider and nothing is mirrored: 404 too.
    let tofu = Caller::new(&cli, &admin);
    tofu.post(
        MIRRORS,
        json!({"name": "everything", "hostnames": ["example.com"], "upstream": "example.com"}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let resp = get(
        &cli,
        "/v1/mirror/example.com/acme/thing/index.json",
        Some(&admin),
    )
    .await;
    resp.assert_status(StatusCode::NOT_FOUND);

    // A disabled configuration serves nothing.
    let list = tofu.get(MIRRORS).await.expect_status(StatusCode::OK);
    let terraform = list
        .as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == "terraform"))
        .expect("the terraform mirror");
    let path = config_path(terraform["id"].as_str().expect("id"));
    tofu.put(
        &path,
        json!({"name": "terraform", "namespaces": ["hashicorp"], "enabled": false}),
    )
    .await
    .expect_status(StatusCode::OK);
    get(&cli, &format!("{AWS}/index.json"), Some(&admin))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn upstream_failures_are_bad_gateway_not_server_errors() {
    let (app, cli, admin) = aws_mirror().await;
    app.upstream.bad_signature(&terraform(), &aws(), "1.0.0");
    assert_refused(
        get(&cli, &format!("{AWS}/1.0.0.json"), Some(&admin)).await,
        StatusCode::BAD_GATEWAY,
        "signature",
    )
    .await;
}

#[tokio::test]
async fn documents_need_providers_read_somewhere() {
    let (app, cli, _admin) = aws_mirror().await;
    let index = format!("{AWS}/index.json");

    get(&cli, &index, None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let unrelated = app.system_key(&[Scope::MirrorsManage]).await;
    get(&cli, &index, Some(&unrelated))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let global = app.system_key(&[Scope::ProvidersRead]).await;
    get(&cli, &index, Some(&global)).await.assert_status_is_ok();
    // Held in one organization is enough: mirrored providers belong to none.
    let org_key = app
        .organization_key(DEFAULT_ORGANIZATION_ID, &[Scope::ProvidersRead])
        .await;
    get(&cli, &index, Some(&org_key))
        .await
        .assert_status_is_ok();
    // A user's key reaches as far as the user does.
    let nobody = app.user("nobody").await;
    let nobody_key = app.user_key(nobody, &[Scope::ProvidersRead]).await;
    get(&cli, &index, Some(&nobody_key))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // With anonymous read, open to anyone.
    let (_open, open_cli, _) = aws_mirror_with(Options {
        anonymous_read: true,
        ..Options::default()
    })
    .await;
    let resp = get(&open_cli, &index, None).await;
    resp.assert_status_is_ok();
    assert_eq!(content_type(&resp), "application/json");
}

// ------------------------------------------------------------------ listing

#[tokio::test]
async fn mirrored_providers_are_listed() {
    let (app, cli, admin) = TestApp::with_admin().await;
    offer_aws(&app);
    let as_admin = Caller::new(&cli, &admin);
    let id = create_aws_mirror(as_admin).await;
    start_sync(as_admin, &id)
        .await
        .expect_status(StatusCode::ACCEPTED);
    finished_run(as_admin, &id).await;

    let reader = app.system_key(&[Scope::MirrorsRead]).await;
    let as_reader = Caller::new(&cli, &reader);
    let list = as_reader
        .get("/api/v1/providers?source=mirrored")
        .await
        .expect_status(StatusCode::OK);
    let providers = list["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 1, "{list}");
    let aws = &providers[0];
    assert_eq!(aws["id"], "registry.terraform.io/hashicorp/aws");
    assert_eq!(aws["namespace"], "hashicorp");
    assert_eq!(aws["name"], "aws");
    assert_eq!(aws["mirrored"]["upstream"], TERRAFORM);
    assert!(aws["mirrored"]["last_synced_at"].is_string(), "{aws}");
    let versions: Vec<&str> = aws["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"], "newest first");
    let platforms = &aws["versions"][1]["platforms"];
    assert_eq!(
        platforms.as_array().map(Vec::len),
        Some(2),
        "1.0.0 has two platforms: {aws}"
    );
    assert_eq!(list["meta"]["limit"], 15);

    // Filters and paging.
    let none = as_reader
        .get("/api/v1/providers?source=mirrored&namespace=acme")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(none["providers"], json!([]));
    let found = as_reader
        .get("/api/v1/providers?source=mirrored&q=AW")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(found["providers"].as_array().map(Vec::len), Some(1));

    // Published is the default, and holds none of them.
    let published = as_reader
        .get("/api/v1/providers")
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(published["providers"], json!([]), "{published}");
    let err = as_reader
        .get("/api/v1/providers?source=elsewhere")
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    assert!(err["errors"][0].is_string(), "{err}");

    // A credential is needed without anonymous read.
    get(&cli, "/api/v1/providers?source=mirrored", None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}
