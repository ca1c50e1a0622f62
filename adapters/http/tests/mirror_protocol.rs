//! The Provider Network Mirror Protocol over HTTP, with the testkit fakes: content type,
//! shapes, pull-through, signed archive links, errors, read protection; and the mirrored
//! provider listing.

mod common;
mod mirror_common;

use poem::http::StatusCode;
use serde_json::{Value, json};
use tfr_core::Scope;
use tfr_ports::driven::DEFAULT_ORGANIZATION_ID;
use tfr_ports::testkit::upstream::FakeUpstreamRegistry;

use common::{Caller, Options, ReplyExt, TestApp, body};

use mirror_common::*;

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
