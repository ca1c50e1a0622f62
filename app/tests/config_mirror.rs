//! Provider mirror settings: defaults, sources, validation. Errors name the key as the
//! user wrote it.

use std::path::{Path, PathBuf};

use common::{jail, load_err, refused};
use tfr::config::{MirrorSettings, Settings};

mod common;

#[test]
fn mirror_defaults() {
    jail(|_| {
        let m = Settings::load(None).unwrap().mirror;
        assert_eq!(m, MirrorSettings::default());
        assert!(m.sync_enabled, "the scheduler runs by default");
        assert_eq!(m.scheduler_interval_secs, 600);
        assert_eq!(m.concurrency, 4);
        assert_eq!(m.lease_secs, 300);
        assert_eq!(m.metadata_ttl_secs, 300);
        assert_eq!(m.max_package_bytes, 2 * 1024 * 1024 * 1024);
        assert_eq!(m.api_timeout_secs, 30);
        assert_eq!(m.download_timeout_secs, 600);
        assert!(m.extra_ca_files.is_empty());
    });
}

#[test]
fn tests_run_no_scheduler() {
    let s = Settings::for_tests(Path::new("/tmp/tfr-test"));
    assert!(!s.mirror.sync_enabled);
    assert_eq!(s.mirror.concurrency, 4);
}

#[test]
fn env_and_file_set_every_key() {
    jail(|jail| {
        jail.create_file("a.pem", "-----BEGIN CERTIFICATE-----\n")
            .unwrap();
        jail.create_file("b.pem", "-----BEGIN CERTIFICATE-----\n")
            .unwrap();
        jail.set_env("TFR_MIRROR_SYNC_ENABLED", "false");
        jail.set_env("TFR_MIRROR_SCHEDULER_INTERVAL_SECS", "60");
        jail.set_env("TFR_MIRROR_CONCURRENCY", "8");
        jail.set_env("TFR_MIRROR_LEASE_SECS", "120");
        jail.set_env("TFR_MIRROR_METADATA_TTL_SECS", "0");
        jail.set_env("TFR_MIRROR_MAX_PACKAGE_BYTES", "1GiB");
        jail.set_env("TFR_MIRROR_API_TIMEOUT_SECS", "10");
        jail.set_env("TFR_MIRROR_DOWNLOAD_TIMEOUT_SECS", "1200");
        jail.set_env("TFR_MIRROR_EXTRA_CA_FILES", "a.pem, b.pem");
        let m = Settings::load(None).unwrap().mirror;
        assert!(!m.sync_enabled);
        assert_eq!(m.scheduler_interval_secs, 60);
        assert_eq!(m.concurrency, 8);
        assert_eq!(m.lease_secs, 120);
        assert_eq!(m.metadata_ttl_secs, 0);
        assert_eq!(m.max_package_bytes, 1024 * 1024 * 1024);
        assert_eq!(m.api_timeout_secs, 10);
        assert_eq!(m.download_timeout_secs, 1200);
        assert_eq!(
            m.extra_ca_files,
            vec![PathBuf::from("a.pem"), PathBuf::from("b.pem")]
        );
    });
    jail(|jail| {
        jail.create_file("ca.pem", "-----BEGIN CERTIFICATE-----\n")
            .unwrap();
        jail.create_file(
            "tfr.toml",
            r#"
                mirror_sync_enabled = false
                mirror_concurrency = 2
                mirror_max_package_bytes = "100MiB"
                mirror_extra_ca_files = ["ca.pem"]
            "#,
        )
        .unwrap();
        let m = Settings::load(Some(Path::new("tfr.toml"))).unwrap().mirror;
        assert!(!m.sync_enabled);
        assert_eq!(m.concurrency, 2);
        assert_eq!(m.max_package_bytes, 100 * 1024 * 1024);
        assert_eq!(m.extra_ca_files, vec![PathBuf::from("ca.pem")]);
    });
}

#[test]
fn out_of_range_values_name_the_key() {
    for (key, value, mentions) in [
        ("TFR_MIRROR_SCHEDULER_INTERVAL_SECS", "5", "out of range"),
        (
            "TFR_MIRROR_SCHEDULER_INTERVAL_SECS",
            "100000",
            "out of range",
        ),
        ("TFR_MIRROR_CONCURRENCY", "0", "out of range"),
        ("TFR_MIRROR_CONCURRENCY", "65", "out of range"),
        ("TFR_MIRROR_LEASE_SECS", "10", "out of range"),
        ("TFR_MIRROR_METADATA_TTL_SECS", "100000", "out of range"),
        ("TFR_MIRROR_MAX_PACKAGE_BYTES", "0", "greater than 0"),
        ("TFR_MIRROR_MAX_PACKAGE_BYTES", "2 parsecs", "unknown unit"),
        ("TFR_MIRROR_API_TIMEOUT_SECS", "0", "out of range"),
        ("TFR_MIRROR_DOWNLOAD_TIMEOUT_SECS", "5", "out of range"),
        ("TFR_MIRROR_EXTRA_CA_FILES", "missing.pem", "does not exist"),
    ] {
        refused(&[(key, value)], key, mentions);
    }
    refused(
        &[("TFR_MIRROR_CONCURRENCY", "many")],
        "TFR_MIRROR_CONCURRENCY",
        "",
    );
    refused(
        &[("TFR_MIRROR_SYNC_ENABLED", "perhaps")],
        "TFR_MIRROR_SYNC_ENABLED",
        "",
    );
}

#[test]
fn a_bad_file_value_names_the_file() {
    jail(|jail| {
        jail.create_file("tfr.toml", "mirror_lease_secs = 1\n")
            .unwrap();
        let err = load_err(Some(Path::new("tfr.toml")));
        assert!(err.key.starts_with("mirror_lease_secs (in "), "{err}");
        assert!(err.message.contains("out of range"), "{err}");
    });
}

#[test]
fn the_effective_configuration_shows_the_mirror_settings() {
    jail(|_| {
        let json = Settings::load(None).unwrap().to_redacted_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["mirror"]["scheduler_interval_secs"], 600);
        assert_eq!(value["mirror"]["sync_enabled"], true);
    });
}
