//! Which certificates the adapter trusts: not a private CA by default, the CA once listed
//! in `extra_ca_files`, and the CA once in `SSL_CERT_FILE` (checked in a child process:
//! the environment is the process's).

mod common;

use std::process::Command;

use common::fake_upstream::RequestKind;
use common::{World, address};
use tfr_core::RegistryHost;
use tfr_ports::driven::{UpstreamError, UpstreamRegistry};
use tfr_upstream_http::{HttpUpstreamRegistry, UpstreamInitError, UpstreamSettings};

const CHILD_HOST: &str = "TFR_UPSTREAM_TEST_CHILD_HOST";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_refused_unless_listed() {
    let w = World::start().await;
    let untrusting = HttpUpstreamRegistry::new(UpstreamSettings {
        extra_ca_files: Vec::new(),
        ..w.settings()
    })
    .expect("registry");
    let err = untrusting
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    let UpstreamError::Unavailable { reason, .. } = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(
        reason.contains("TLS") && reason.contains("certificate"),
        "{reason}"
    );
    // Refused at the handshake, and not retried.
    assert_eq!(w.fake.total_requests(), 0);
    let err = untrusting
        .fetch_document(
            &w.file_url("terraform-provider-fake_1.0.0_SHA256SUMS"),
            4096,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Unavailable { .. }), "{err:?}");

    w.registry()
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .expect("trusted through extra_ca_files");
    assert_eq!(w.fake.requests(RequestKind::Versions), 1);
    w.fake.shutdown().await;
}

#[test]
fn unreadable_extra_ca_files_fail_construction() {
    let err = HttpUpstreamRegistry::new(UpstreamSettings {
        extra_ca_files: vec!["/nonexistent/tfr/ca.pem".into()],
        ..UpstreamSettings::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, UpstreamInitError::BadCaFile { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/nonexistent/tfr/ca.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_file_is_trusted() {
    let w = World::start().await;
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "ssl_cert_file_child",
        "--include-ignored",
        "--nocapture",
    ])
    .env("SSL_CERT_FILE", w.ca.ca_file())
    // Exercises keeping the system bundle next to SSL_CERT_FILE (Linux).
    .env_remove("SSL_CERT_DIR")
    .env(CHILD_HOST, w.fake.host());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.fake.requests(RequestKind::Versions), 1);

    // The same lookup from this process (SSL_CERT_FILE without the CA) is refused.
    let plain = HttpUpstreamRegistry::new(UpstreamSettings::default()).expect("registry");
    let err = plain
        .provider_versions(&w.host(), &address("acme", "fake"))
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Unavailable { .. }), "{err:?}");
    w.fake.shutdown().await;
}

/// Run by [`ssl_cert_file_is_trusted`] in a child process with `SSL_CERT_FILE` set;
/// does nothing when run directly.
#[tokio::test]
#[ignore = "run by ssl_cert_file_is_trusted in a child process"]
async fn ssl_cert_file_child() {
    let Ok(host) = std::env::var(CHILD_HOST) else {
        return;
    };
    let registry = HttpUpstreamRegistry::new(UpstreamSettings::default())
        .expect("registry with SSL_CERT_FILE");
    let versions = registry
        .provider_versions(
            &RegistryHost::parse(&host).expect("host"),
            &address("acme", "fake"),
        )
        .await
        .expect("the CA from SSL_CERT_FILE is trusted");
    assert_eq!(versions.len(), 1);
}
