//! Driving tfr's provider mirror from tests: configurations through the admin API, sync
//! runs, and terraform CLI configurations that install through the network mirror only.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestRegistry, json_of};

/// The hostname mirrored providers are requested under in these tests. Terraform cannot
/// use a network mirror for a provider whose hostname has a port (it builds the request
/// path as `host:port/ns/type/index.json` and reads `host` as a URL scheme), so the fake
/// upstream's `localhost:PORT` is served under this name; with no `direct` method,
/// terraform never contacts it.
pub const MIRRORED_HOST: &str = "registry.terraform.io";

/// A mirror configuration fetching from `upstream` (a fake upstream's host) and
/// answering for [`MIRRORED_HOST`].
pub fn config_for(name: &str, upstream: &str, namespaces: &[&str], types: &[&str]) -> Value {
    json!({
        "name": name,
        "upstream": upstream,
        "hostnames": [MIRRORED_HOST],
        "namespaces": namespaces,
        "provider_types": types,
        "enabled": true,
    })
}

/// Creates a configuration with `token` (`mirrors:manage`); returns its id.
pub async fn create_mirror(reg: &TestRegistry, token: &str, config: &Value) -> String {
    let resp = reg
        .client
        .post(reg.url("/api/v1/admin/mirrors"))
        .bearer_auth(token)
        .json(config)
        .send()
        .await
        .expect("POST /api/v1/admin/mirrors");
    let (status, body) = json_of(resp, "create mirror").await;
    assert_eq!(status, 201, "creating a mirror configuration: {body}");
    body["id"].as_str().expect("id").to_string()
}

/// Every run of a configuration, newest first.
pub async fn history(reg: &TestRegistry, token: &str, id: &str) -> Vec<Value> {
    let resp = reg
        .client
        .get(reg.url(&format!("/api/v1/admin/mirrors/{id}/history")))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET history");
    let (status, body) = json_of(resp, "mirror history").await;
    assert_eq!(status, 200, "history: {body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// Starts a sync now and waits (up to two minutes) for it to finish; returns the run.
pub async fn sync_and_wait(reg: &TestRegistry, token: &str, id: &str) -> Value {
    let resp = reg
        .client
        .post(reg.url(&format!("/api/v1/admin/mirrors/{id}/sync")))
        .bearer_auth(token)
        .send()
        .await
        .expect("POST sync");
    let (status, started) = json_of(resp, "start sync").await;
    assert_eq!(status, 202, "starting a sync: {started}");
    let run_id = started["id"].as_str().expect("run id").to_string();
    for _ in 0..1200 {
        let runs = history(reg, token, id).await;
        if let Some(run) = runs.iter().find(|r| r["id"] == run_id.as_str())
            && run["status"] != "running"
        {
            return run.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sync run {run_id} did not finish within two minutes");
}

/// A CLI configuration installing every provider through tfr's network mirror (no
/// `direct`), with `token` for tfr's host.
pub fn network_mirror_cli_config(reg: &TestRegistry, token: &str) -> String {
    format!(
        "provider_installation {{\n  network_mirror {{\n    url = \"{}/v1/mirror/\"\n  }}\n}}\n{}",
        reg.base_url,
        reg.credentials_hcl(token)
    )
}

/// A `main.tf` requiring one provider at one version.
pub fn main_tf(source: &str, version: &str) -> String {
    let name = source.rsplit('/').next().unwrap_or(source);
    format!(
        "terraform {{\n  required_providers {{\n    {name} = {{\n      source  = \"{source}\"\n      version = \"{version}\"\n    }}\n  }}\n}}\n"
    )
}

/// The `h1:` hashes in a `.terraform.lock.hcl`.
pub fn lock_h1_hashes(lock: &str) -> Vec<String> {
    lock.split('"')
        .filter(|s| s.starts_with("h1:"))
        .map(str::to_string)
        .collect()
}
