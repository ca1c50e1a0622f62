//! The server as the binary runs it: wiring, TLS from `--dev-tls`, shutdown, API keys.

use tfr::{Settings, dev_tls};

fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_the_dev_ca_and_shuts_down() {
    install_provider();
    let data = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(data.path());
    let tls = dev_tls::ensure(&settings.dev_tls_dir(), None).unwrap();
    settings.tls_cert_file = Some(tls.cert.clone());
    settings.tls_key_file = Some(tls.key.clone());

    let server = tfr::start(settings).await.unwrap();
    let base = server.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    assert_ne!(server.local_addr().port(), 0);

    let ca = reqwest::Certificate::from_pem(&std::fs::read(&tls.ca_cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let localhost = base.replace("127.0.0.1", "localhost");
    let discovery: serde_json::Value = client
        .get(format!("{localhost}/.well-known/terraform.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["modules.v1"], "/v1/modules/");
    assert_eq!(discovery["providers.v1"], "/v1/providers/");

    let addr = server.local_addr();
    server.shutdown().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_generated_signing_key() {
    install_provider();
    let data = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(data.path());
    settings.url_signing_key = None;
    settings.auth.jwt_secret = None;
    let server = tfr::start(settings.clone()).await.unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    let ready = reqwest::get(format!("{}/ready", server.base_url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    server.shutdown().await.unwrap();

    let key_file = data.path().join("url-signing.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert!(key.trim().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The session secret too: generated once, 0600, distinct from the link key.
    let jwt_file = data.path().join("jwt-secret");
    let jwt = std::fs::read_to_string(&jwt_file).unwrap();
    assert!(jwt.trim().len() >= 32);
    assert_ne!(jwt, key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&jwt_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // A second start reuses the same keys.
    let server = tfr::start(settings).await.unwrap();
    server.shutdown().await.unwrap();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    assert_eq!(std::fs::read_to_string(&jwt_file).unwrap(), jwt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_created_listed_and_revoked() {
    let data = tempfile::tempdir().unwrap();
    let settings = Settings::for_tests(data.path());
    let raw = tfr::create_api_key(&settings, "ci", "modules:write,providers:write")
        .await
        .unwrap();
    assert!(raw.starts_with("tfr_"), "{raw}");

    let listed = tfr::keys::list_api_keys(&settings).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "ci");
    assert!(raw.starts_with(&listed[0].prefix));
    let table = tfr::keys::format_table(&listed);
    assert!(
        table.contains("PREFIX") && table.contains(&listed[0].prefix),
        "{table}"
    );
    assert!(!table.contains(&raw), "the table must never show the key");
    assert!(
        !table.contains(&listed[0].key_hash),
        "the table must never show the hash"
    );

    let revoked = tfr::keys::revoke_api_key(&settings, &listed[0].prefix)
        .await
        .unwrap();
    assert_eq!(revoked.id, listed[0].id);
    let after = tfr::keys::list_api_keys(&settings).await.unwrap();
    assert!(after[0].revoked_at.is_some());

    let err = tfr::create_api_key(&settings, "bad", "modules:everything")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--scopes"), "{err:#}");
}

#[test]
fn stale_staged_uploads_are_removed_and_fresh_ones_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join(".upload-old");
    let fresh = dir.path().join(".upload-fresh");
    std::fs::write(&old, b"left by a crash").expect("write");
    std::fs::write(&fresh, b"in flight").expect("write");
    // Everything counts as stale at age zero; nothing at a day.
    tfr::wiring::remove_stale_uploads(dir.path(), std::time::Duration::from_secs(86_400));
    assert!(old.exists() && fresh.exists(), "young files stay");
    tfr::wiring::remove_stale_uploads(dir.path(), std::time::Duration::ZERO);
    assert!(!old.exists() && !fresh.exists(), "stale files go");
}

/// The mirror use cases are wired over the real database, and the scheduler runs due
/// configurations by itself (its first look comes within one interval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_admin_and_scheduler_are_wired() {
    install_provider();
    let data = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(data.path());
    settings.mirror.sync_enabled = true;
    settings.mirror.scheduler_interval_secs = 10;
    let key = tfr::create_api_key(&settings, "mirrors", "mirrors:manage,providers:read")
        .await
        .unwrap();
    let server = tfr::start(settings).await.unwrap();
    let base = server.base_url();
    let client = reqwest::Client::new();

    // No scheduled sync targets (no namespaces and types): pull-through only, so the
    // scheduled run contacts no upstream.
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/admin/mirrors"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "pull-through"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("created").to_string();
    assert_eq!(
        created["hostnames"],
        serde_json::json!(["registry.terraform.io"])
    );

    // A hostname no configuration answers for: 404 with exactly application/json.
    let unknown = client
        .get(format!(
            "{base}/v1/mirror/example.com/acme/thing/index.json"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );

    let history = format!("{base}/api/v1/admin/mirrors/{id}/history");
    let mut scheduled = None;
    for _ in 0..100 {
        let page: serde_json::Value = client
            .get(&history)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let run = &page["items"][0];
        if run["trigger"] == "scheduled" && run["status"] != "running" {
            scheduled = Some(run.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let run = scheduled.expect("the scheduler ran the due configuration");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(
        run["holder"].as_str().is_some_and(|h| h.contains('-')),
        "{run}"
    );
    server.shutdown().await.unwrap();
}
