//! Configuration loading: sources and precedence, errors naming the key, redaction.
//! `figment::Jail` serialises the tests that touch environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{jail, load_err};
use tfr::config::{LogFormat, Settings};

mod common;

const KEY_40: &str = "0123456789012345678901234567890123456789";

#[test]
fn defaults_apply_without_file_or_env() {
    jail(|_| {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("./tfr-data"));
        assert_eq!(s.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(s.database_url, "sqlite://./tfr-data/tfr.db?mode=rwc");
        assert_eq!(s.public_url, None);
        assert!(!s.tls_enabled());
        assert_eq!(s.max_module_bytes, 100 * 1024 * 1024);
        assert_eq!(s.max_provider_package_bytes, 500 * 1024 * 1024);
        assert_eq!(s.download_url_ttl_secs, 900);
        assert_eq!(s.bcrypt_cost, 12);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.url_signing_key.is_none());
    });
}

#[test]
fn env_overrides_toml_file() {
    jail(|jail| {
        jail.create_file(
            "tfr.toml",
            r#"
                data_dir = "/srv/tfr"
                listen = "127.0.0.1:9000"
                max_module_bytes = "10MiB"
                log_format = "text"
            "#,
        )
        .unwrap();
        jail.set_env("TFR_LISTEN", "0.0.0.0:9443");
        jail.set_env("TFR_DOWNLOAD_URL_TTL_SECS", "60");
        let s = Settings::load(Some(Path::new("tfr.toml"))).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9443".parse::<SocketAddr>().unwrap());
        assert_eq!(s.data_dir, PathBuf::from("/srv/tfr"));
        assert_eq!(s.database_url, "sqlite:///srv/tfr/tfr.db?mode=rwc");
        assert_eq!(s.max_module_bytes, 10 * 1024 * 1024);
        assert_eq!(s.download_url_ttl_secs, 60);
        assert_eq!(s.log_format, LogFormat::Text);
    });
}

#[test]
fn tfr_config_env_names_the_file() {
    jail(|jail| {
        jail.create_file("other.toml", "bcrypt_cost = 11\n")
            .unwrap();
        jail.set_env("TFR_CONFIG", "other.toml");
        assert_eq!(Settings::load(None).unwrap().bcrypt_cost, 11);
        jail.set_env("TFR_CONFIG", "missing.toml");
        let err = load_err(None);
        assert!(err.to_string().contains("missing.toml"), "{err}");
    });
}

#[test]
fn bad_env_values_name_the_variable() {
    jail(|jail| {
        jail.set_env("TFR_LISTEN", "x");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_LISTEN");
        assert!(
            err.to_string()
                .starts_with("TFR_LISTEN: invalid socket address \"x\""),
            "{err}"
        );

        jail.set_env("TFR_LISTEN", "127.0.0.1:0");
        jail.set_env("TFR_MAX_MODULE_BYTES", "lots");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_MAX_MODULE_BYTES", "{err}");

        jail.set_env("TFR_MAX_MODULE_BYTES", "1GiB");
        jail.set_env("TFR_BCRYPT_COST", "many");
        assert_eq!(load_err(None).key, "TFR_BCRYPT_COST");

        jail.set_env("TFR_BCRYPT_COST", "4");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_BCRYPT_COST");
        assert!(err.message.contains("10"), "{err}");

        jail.set_env("TFR_BCRYPT_COST", "10");
        jail.set_env("TFR_LOG_FORMAT", "xml");
        assert_eq!(load_err(None).key, "TFR_LOG_FORMAT");

        jail.set_env("TFR_LOG_FORMAT", "json");
        jail.set_env("TFR_PUBLIC_URL", "http://registry.example.com");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_PUBLIC_URL");
        assert!(err.message.contains("https"), "{err}");

        jail.set_env("TFR_PUBLIC_URL", "https://registry.example.com/");
        jail.set_env("TFR_DATABASE_URL", "mysql://db/tfr");
        assert_eq!(load_err(None).key, "TFR_DATABASE_URL");

        jail.set_env("TFR_DATABASE_URL", "postgres://tfr:pw@db/tfr");
        let s = Settings::load(None).unwrap();
        assert_eq!(
            s.public_url.as_deref(),
            Some("https://registry.example.com")
        );
        assert_eq!(s.max_module_bytes, 1024 * 1024 * 1024);
        assert_eq!(s.bcrypt_cost, 10);
    });
}

#[test]
fn bad_file_values_name_the_key_and_file() {
    jail(|jail| {
        jail.create_file("tfr.toml", "listen = \"nowhere\"\n")
            .unwrap();
        let err = load_err(Some(Path::new("tfr.toml")));
        assert!(err.key.starts_with("listen (in "), "{err}");
        assert!(err.key.contains("tfr.toml"), "{err}");

        jail.create_file("typo.toml", "listn = \"127.0.0.1:1\"\n")
            .unwrap();
        let err = load_err(Some(Path::new("typo.toml")));
        assert!(err.to_string().contains("listn"), "{err}");
    });
}

#[test]
fn half_configured_tls_is_refused() {
    jail(|jail| {
        jail.create_file("cert.pem", "not really").unwrap();
        jail.set_env("TFR_TLS_CERT_FILE", "cert.pem");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_TLS_CERT_FILE");
        assert!(err.message.contains("TFR_TLS_KEY_FILE"), "{err}");

        jail.clear_env();
        jail.set_env("TFR_TLS_KEY_FILE", "cert.pem");
        assert_eq!(load_err(None).key, "TFR_TLS_KEY_FILE");

        jail.set_env("TFR_TLS_CERT_FILE", "absent.pem");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_TLS_CERT_FILE");
        assert!(err.message.contains("absent.pem"), "{err}");
    });
}

#[test]
fn short_signing_keys_are_refused() {
    jail(|jail| {
        jail.set_env("TFR_URL_SIGNING_KEY", "too-short");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_URL_SIGNING_KEY");
        assert!(err.message.contains("32"), "{err}");
        assert!(
            !err.to_string().contains("too-short"),
            "the key itself must not be echoed: {err}"
        );

        jail.clear_env();
        jail.create_file("key", "short\n").unwrap();
        jail.set_env("TFR_URL_SIGNING_KEY_FILE", "key");
        assert_eq!(load_err(None).key, "TFR_URL_SIGNING_KEY_FILE");

        jail.create_file("key", &format!("{KEY_40}\n")).unwrap();
        let s = Settings::load(None).unwrap();
        assert_eq!(s.url_signing_key.unwrap().expose(), KEY_40);

        jail.set_env("TFR_URL_SIGNING_KEY", KEY_40);
        let err = load_err(None);
        assert!(err.message.contains("not both"), "{err}");
    });
}

#[test]
fn numeric_looking_secrets_keep_every_digit() {
    jail(|jail| {
        jail.set_env("TFR_URL_SIGNING_KEY", KEY_40);
        let s = Settings::load(None).unwrap();
        assert_eq!(s.url_signing_key.unwrap().expose(), KEY_40);
    });
}

#[test]
fn secrets_are_redacted_in_debug_and_json() {
    jail(|jail| {
        jail.set_env(
            "TFR_URL_SIGNING_KEY",
            "a-very-secret-signing-key-of-40-bytes!!!",
        );
        jail.set_env("TFR_DATABASE_URL", "postgres://tfr:db-password@db:5432/tfr");
        let s = Settings::load(None).unwrap();
        for shown in [format!("{s:?}"), s.to_redacted_json()] {
            assert!(!shown.contains("a-very-secret"), "{shown}");
            assert!(!shown.contains("db-password"), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
            assert!(
                shown.contains("postgres://tfr:[redacted]@db:5432/tfr"),
                "{shown}"
            );
        }
        assert_eq!(s.database_url, "postgres://tfr:db-password@db:5432/tfr");
    });
}

#[test]
fn for_tests_settings() {
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::for_tests(dir.path());
    assert_eq!(s.listen.port(), 0);
    assert!(s.listen.ip().is_loopback());
    assert_eq!(s.bcrypt_cost, 4);
    assert!(!s.tls_enabled());
    assert!(s.database_url.starts_with("sqlite://"));
    assert!(s.database_url.contains(&dir.path().display().to_string()));
    assert!(s.url_signing_key.as_ref().is_some_and(|k| k.len() >= 32));
}

fn tfr_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tfr"));
    cmd.env_clear();
    cmd
}

#[test]
fn config_check_exits_2_naming_the_key() {
    let out = tfr_bin()
        .args(["config", "check"])
        .env("TFR_LISTEN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TFR_LISTEN: invalid socket address \"x\""),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn config_check_prints_redacted_effective_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = tfr_bin()
        .args(["config", "check"])
        .env("TFR_DATA_DIR", dir.path())
        .env(
            "TFR_URL_SIGNING_KEY",
            "a-very-secret-signing-key-of-40-bytes!!!",
        )
        .env("TFR_DATABASE_URL", "postgres://tfr:db-password@db/tfr")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("a-very-secret"), "{all}");
    assert!(!all.contains("db-password"), "{all}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["url_signing_key"], "[redacted]");
    assert_eq!(json["database_url"], "postgres://tfr:[redacted]@db/tfr");
    assert_eq!(json["listen"], "127.0.0.1:8080");
    // config check never generates the signing key file.
    assert!(!dir.path().join("url-signing.key").exists());
}
