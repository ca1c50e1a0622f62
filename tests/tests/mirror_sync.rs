//! Mirror sync runs against a fake upstream over TLS: bad packages are refused, recorded
//! and never served; an interrupted download leaves nothing behind and the next sync
//! completes. (Two replicas on one database: app/tests/mirror_replicas.rs, with real
//! `tfr serve` processes.)

use serde_json::Value;
use tfr_tests::TestRegistry;
use tfr_tests::fake_upstream::{DEFAULT_PLATFORMS, FakeUpstream};
use tfr_tests::harness::json_of;
use tfr_tests::mirror::{MIRRORED_HOST, config_for, create_mirror, history, sync_and_wait};

fn failures(run: &Value) -> Vec<Value> {
    run["failures"].as_array().cloned().unwrap_or_default()
}

fn failure_for<'a>(failures: &'a [Value], provider: &str) -> &'a Value {
    failures
        .iter()
        .find(|f| f["provider"] == provider)
        .unwrap_or_else(|| panic!("no failure recorded for {provider}: {failures:?}"))
}

/// Blob and staging files whose path mentions `needle`.
fn files_mentioning(reg: &TestRegistry, needle: &str) -> Vec<String> {
    reg.blob_files()
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_packages_are_refused_recorded_and_never_served() {
    let reg = TestRegistry::builder()
        .tls_trusted_by_upstreams()
        .start()
        .await
        .expect("start tfr");
    let upstream = FakeUpstream::start(reg.ca.as_ref().expect("ca")).await;
    for ty in ["good", "badsig", "corrupt", "cut"] {
        upstream.add_provider("acme", ty, "1.0.0", DEFAULT_PLATFORMS);
    }
    upstream.set_bad_signature("acme", "badsig", "1.0.0");
    upstream.corrupt_package("acme", "corrupt", "1.0.0", "linux", "amd64");
    upstream.truncate_package("acme", "cut", "1.0.0", "linux", "amd64", 100);

    let admin = reg.key_with_scopes("mirrors:manage").await;
    let reader = reg.key_with_scopes("providers:read").await;
    let id = create_mirror(
        &reg,
        &admin,
        &config_for(
            "acme",
            &upstream.host(),
            &["acme"],
            &["good", "badsig", "corrupt", "cut"],
        ),
    )
    .await;

    let run = sync_and_wait(&reg, &admin, &id).await;
    assert_eq!(run["status"], "partial", "{run}");
    // good: 2; corrupt and cut: their darwin_arm64 packages.
    assert_eq!(run["packages_fetched"], 4, "{run}");
    let failed = failures(&run);
    assert_eq!(failed.len(), 3, "{run}");
    let badsig = failure_for(&failed, "acme/badsig");
    assert_eq!(badsig["version"], "1.0.0");
    assert!(badsig.get("platform").is_none(), "{badsig}");
    assert!(
        badsig["reason"]
            .as_str()
            .unwrap_or("")
            .contains("signature"),
        "{badsig}"
    );
    let corrupt = failure_for(&failed, "acme/corrupt");
    assert_eq!(corrupt["platform"], "linux_amd64", "{corrupt}");
    assert!(
        corrupt["reason"]
            .as_str()
            .unwrap_or("")
            .contains("does not match"),
        "{corrupt}"
    );
    let cut = failure_for(&failed, "acme/cut");
    assert_eq!(cut["platform"], "linux_amd64", "{cut}");

    // Nothing of a refused package was kept, and nothing is left in staging.
    assert!(files_mentioning(&reg, "/acme/badsig/").is_empty());
    assert!(files_mentioning(&reg, "corrupt_1.0.0_linux_amd64").is_empty());
    assert!(files_mentioning(&reg, "cut_1.0.0_linux_amd64").is_empty());
    assert!(
        files_mentioning(&reg, "@staging").is_empty(),
        "{:?}",
        reg.blob_files()
    );

    // Never served: the signature-failing version and the corrupt package answer 502
    // (tfr tries upstream again and refuses again).
    let get = |path: String| {
        let req = reg.client.get(reg.url(&path)).bearer_auth(&reader);
        async move { req.send().await.expect("GET") }
    };
    let resp = get(format!("/v1/mirror/{MIRRORED_HOST}/acme/badsig/1.0.0.json")).await;
    let (status, body) = json_of(resp, "badsig version").await;
    assert_eq!(status, 502, "{body}");

    let resp = get(format!(
        "/v1/mirror/{MIRRORED_HOST}/acme/corrupt/1.0.0.json"
    ))
    .await;
    let (status, listed) = json_of(resp, "corrupt version").await;
    assert_eq!(status, 200, "{listed}");
    let hashes = listed["archives"]["linux_amd64"]["hashes"]
        .as_array()
        .expect("hashes");
    assert!(
        hashes
            .iter()
            .all(|h| !h.as_str().unwrap_or("").starts_with("h1:")),
        "a package tfr does not hold has no h1: {listed}"
    );
    let url = listed["archives"]["linux_amd64"]["url"]
        .as_str()
        .expect("url");
    let archive = reg.url(&format!("/v1/mirror/{MIRRORED_HOST}/acme/corrupt/{url}"));
    let resp = reg.client.get(archive).send().await.expect("GET archive");
    assert_eq!(
        resp.status().as_u16(),
        502,
        "a corrupt package is not served"
    );
    assert!(files_mentioning(&reg, "corrupt_1.0.0_linux_amd64").is_empty());

    // Upstream fixed: the next sync completes.
    for ty in ["badsig", "corrupt", "cut"] {
        upstream.heal("acme", ty, "1.0.0");
    }
    let run = sync_and_wait(&reg, &admin, &id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["packages_fetched"], 4, "{run}");
    // Two syncs, and the two refused pull-throughs (badsig's version, corrupt's package).
    let runs = history(&reg, &admin, &id).await;
    let triggers: Vec<&str> = runs
        .iter()
        .map(|r| r["trigger"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        triggers,
        ["manual", "pull-through", "pull-through", "manual"],
        "{runs:?}"
    );

    upstream.shutdown().await;
    reg.shutdown().await;
}
