//! What the mirror HTTP tests share: a hashicorp/aws upstream and mirror, request and
//! error helpers.
#![allow(dead_code)]

use poem::http::StatusCode;
use poem::test::TestResponse;
use serde_json::{Value, json};
use std::time::Duration;
use tfr_core::{ProviderAddress, RegistryHost};

use crate::common::{Caller, Client, Options, Reply, ReplyExt, TestApp, body};

pub const MIRRORS: &str = "/api/v1/admin/mirrors";
pub const TERRAFORM: &str = "registry.terraform.io";
pub const AWS: &str = "/v1/mirror/registry.terraform.io/hashicorp/aws";

pub fn aws() -> ProviderAddress {
    ProviderAddress::parse("hashicorp", "aws").expect("address")
}

pub fn terraform() -> RegistryHost {
    RegistryHost::terraform_registry()
}

/// Upstream offers hashicorp/aws 1.0.0 (two platforms) and 1.1.0 (one).
pub fn offer_aws(app: &TestApp) {
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
pub async fn create_aws_mirror(admin: Caller<'_>) -> String {
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
pub async fn aws_mirror_with(options: Options) -> (TestApp, Client, String) {
    let app = TestApp::with(options);
    let cli = app.client();
    let admin = app.admin_token().await;
    offer_aws(&app);
    create_aws_mirror(Caller::new(&cli, &admin)).await;
    (app, cli, admin)
}

/// [`aws_mirror_with`] the default options.
pub async fn aws_mirror() -> (TestApp, Client, String) {
    aws_mirror_with(Options::default()).await
}

/// The admin API path of configuration `id`.
pub fn config_path(id: &str) -> String {
    format!("{MIRRORS}/{id}")
}

/// Asks for a sync of configuration `id`.
pub async fn start_sync(admin: Caller<'_>, id: &str) -> Reply {
    admin.post_empty(&format!("{MIRRORS}/{id}/sync")).await
}

pub async fn get(cli: &Client, path: &str, token: Option<&str>) -> TestResponse {
    let req = cli.get(path);
    match token {
        Some(t) => req.header("Authorization", format!("Bearer {t}")),
        None => req,
    }
    .send()
    .await
}

/// The value of header `name` ("" when absent).
pub fn header(resp: &TestResponse, name: &str) -> String {
    resp.0
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub fn content_type(resp: &TestResponse) -> String {
    header(resp, "content-type")
}

/// The archive URL of `platform` in the `{version}.json` at `doc_path` (fetched with
/// `token`), resolved against `doc_path`.
pub async fn archive_link(cli: &Client, token: &str, doc_path: &str, platform: &str) -> String {
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
pub fn check(reply: &Value) -> &str {
    reply["check"].as_str().unwrap_or_default()
}

/// Asserts that the first message of a JSON error mentions `words`.
pub fn assert_error_mentions(err: &Value, words: &str) {
    assert!(
        err["errors"][0].as_str().is_some_and(|m| m.contains(words)),
        "expected an error mentioning {words:?}: {err}"
    );
}

/// Asserts the status of `resp` and that its JSON error mentions `words`.
pub async fn assert_refused(resp: TestResponse, status: StatusCode, words: &str) {
    resp.assert_status(status);
    assert_error_mentions(&body(resp).await, words);
}

/// Polls the history until the newest run finished; that run.
pub async fn finished_run(admin: Caller<'_>, id: &str) -> Value {
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
