//! Blob storage settings: the backend switch, each backend's keys, and refusals naming the
//! key. (Startup checks against real stores are in tests/tests/storage_startup.rs.)

use std::path::{Path, PathBuf};

use common::{jail, refused};
use tfr::config::{AzureStorageCredentials, GcsStorageCredentials, Settings, StorageSettings};

mod common;

#[test]
fn local_is_the_default() {
    jail(|_| {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.storage, StorageSettings::Local { dir: None });
        assert_eq!(s.blob_dir(), Path::new("./tfr-data").join("blobs"));
        assert_eq!(s.storage.backend(), "local");
    });
}

#[test]
fn local_dir_moves_the_blob_dir() {
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "local");
        jail.set_env("TFR_STORAGE_LOCAL_DIR", "/srv/tfr-blobs");
        let s = Settings::load(None).unwrap();
        assert_eq!(s.blob_dir(), PathBuf::from("/srv/tfr-blobs"));
    });
}

#[test]
fn s3_from_the_environment_with_static_keys() {
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "S3");
        jail.set_env("TFR_STORAGE_S3_BUCKET", "tfr-blobs");
        jail.set_env("TFR_STORAGE_S3_REGION", "eu-west-1");
        jail.set_env("TFR_STORAGE_S3_PREFIX", "/tenant/blobs/");
        jail.set_env("TFR_STORAGE_S3_ENDPOINT", "http://127.0.0.1:9000/");
        jail.set_env("TFR_STORAGE_S3_FORCE_PATH_STYLE", "true");
        jail.set_env("TFR_STORAGE_S3_ACCESS_KEY_ID", "AKIAEXAMPLE");
        jail.set_env("TFR_STORAGE_S3_SECRET_ACCESS_KEY", "s3cr3t-value");
        let s = Settings::load(None).unwrap();
        let StorageSettings::S3(s3) = &s.storage else {
            panic!("wanted s3: {:?}", s.storage)
        };
        assert_eq!(s3.bucket, "tfr-blobs");
        assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s3.prefix, "tenant/blobs");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.force_path_style);
        assert_eq!(s3.access_key_id.as_deref(), Some("AKIAEXAMPLE"));
        assert_eq!(
            s3.secret_access_key.as_ref().map(|k| k.expose()),
            Some("s3cr3t-value")
        );
        // The secret never shows in the printed configuration or Debug.
        let json = s.to_redacted_json();
        assert!(!json.contains("s3cr3t-value"), "{json}");
        assert!(json.contains("\"backend\": \"s3\""), "{json}");
        assert!(!format!("{s:?}").contains("s3cr3t-value"));
        assert_eq!(
            s.storage.describe(&s.data_dir),
            "s3://tfr-blobs/tenant/blobs"
        );
    });
}

#[test]
fn s3_without_keys_uses_the_aws_chain() {
    jail(|jail| {
        jail.create_file(
            "tfr.toml",
            "storage_backend = \"s3\"\nstorage_s3_bucket = \"tfr-blobs\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(Path::new("tfr.toml"))).unwrap();
        let StorageSettings::S3(s3) = &s.storage else {
            panic!("wanted s3")
        };
        assert!(s3.access_key_id.is_none() && s3.secret_access_key.is_none());
        assert!(s3.region.is_none() && s3.endpoint.is_none() && !s3.force_path_style);
        assert_eq!(s3.prefix, "");
    });
}

#[test]
fn s3_refusals_name_the_key() {
    refused(
        &[("TFR_STORAGE_BACKEND", "s3")],
        "storage_s3_bucket",
        "is required when storage_backend is s3",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "s3"),
            ("TFR_STORAGE_S3_BUCKET", "Bad_Bucket"),
        ],
        "TFR_STORAGE_S3_BUCKET",
        "invalid bucket name",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "s3"),
            ("TFR_STORAGE_S3_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_S3_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ],
        "storage_s3_secret_access_key",
        "is required when storage_s3_access_key_id is set",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "s3"),
            ("TFR_STORAGE_S3_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_S3_SECRET_ACCESS_KEY", "s3cr3t"),
        ],
        "storage_s3_access_key_id",
        "is required",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "s3"),
            ("TFR_STORAGE_S3_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_S3_ENDPOINT", "ftp://example.com"),
        ],
        "TFR_STORAGE_S3_ENDPOINT",
        "invalid URL",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "s3"),
            ("TFR_STORAGE_S3_BUCKET", "tfr-blobs"),
            (
                "TFR_STORAGE_S3_ENDPOINT",
                "https://user:pw@minio.example.com",
            ),
        ],
        "TFR_STORAGE_S3_ENDPOINT",
        "must not carry credentials",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "s3"),
            ("TFR_STORAGE_S3_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_S3_PREFIX", "a/../b"),
        ],
        "TFR_STORAGE_S3_PREFIX",
        "invalid prefix",
    );
}

#[test]
fn unknown_backend_and_stray_keys_are_refused() {
    refused(
        &[("TFR_STORAGE_BACKEND", "ftp")],
        "TFR_STORAGE_BACKEND",
        "expected local, s3, azure or gcs",
    );
    // A key of another backend is a mistake, not something to ignore silently.
    refused(
        &[("TFR_STORAGE_S3_BUCKET", "tfr-blobs")],
        "TFR_STORAGE_S3_BUCKET",
        "storage_backend is local",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "gcs"),
            ("TFR_STORAGE_GCS_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_AZURE_CONTAINER", "blobs"),
        ],
        "TFR_STORAGE_AZURE_CONTAINER",
        "storage_backend is gcs",
    );
}

#[test]
fn azure_with_an_account_key_or_a_connection_string() {
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "azure");
        jail.set_env("TFR_STORAGE_AZURE_ACCOUNT", "tfrprod");
        jail.set_env("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs");
        jail.set_env("TFR_STORAGE_AZURE_ACCOUNT_KEY", "a2V5LXZhbHVl");
        let s = Settings::load(None).unwrap();
        let StorageSettings::Azure(az) = &s.storage else {
            panic!("wanted azure")
        };
        assert_eq!(az.account, "tfrprod");
        assert_eq!(az.container, "tfr-blobs");
        assert!(az.endpoint.is_none());
        assert!(
            matches!(&az.credentials, AzureStorageCredentials::AccountKey(k) if k.expose() == "a2V5LXZhbHVl")
        );
        assert!(!s.to_redacted_json().contains("a2V5LXZhbHVl"));
    });
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "azure");
        jail.set_env("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs");
        jail.set_env(
            "TFR_STORAGE_AZURE_CONNECTION_STRING",
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        );
        let s = Settings::load(None).unwrap();
        let StorageSettings::Azure(az) = &s.storage else {
            panic!("wanted azure")
        };
        // Account and endpoint come from the connection string.
        assert_eq!(az.account, "devstoreaccount1");
        assert_eq!(
            az.endpoint.as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        assert!(matches!(
            az.credentials,
            AzureStorageCredentials::ConnectionString(_)
        ));
        assert!(!s.to_redacted_json().contains("AccountKey=a2V5"));
    });
}

#[test]
fn azure_refusals_name_the_key() {
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "azure"),
            ("TFR_STORAGE_AZURE_ACCOUNT", "tfrprod"),
            ("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs"),
        ],
        "storage_azure_account_key",
        "is required when storage_backend is azure",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "azure"),
            ("TFR_STORAGE_AZURE_ACCOUNT", "tfrprod"),
            ("TFR_STORAGE_AZURE_ACCOUNT_KEY", "a2V5"),
        ],
        "storage_azure_container",
        "is required",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "azure"),
            ("TFR_STORAGE_AZURE_ACCOUNT", "Not-Valid"),
            ("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs"),
            ("TFR_STORAGE_AZURE_ACCOUNT_KEY", "a2V5"),
        ],
        "TFR_STORAGE_AZURE_ACCOUNT",
        "invalid account name",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "azure"),
            ("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs"),
            ("TFR_STORAGE_AZURE_CONNECTION_STRING", "AccountName=x"),
        ],
        "TFR_STORAGE_AZURE_CONNECTION_STRING",
        "must contain AccountName and AccountKey",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "azure"),
            ("TFR_STORAGE_AZURE_ACCOUNT", "tfrprod"),
            ("TFR_STORAGE_AZURE_CONTAINER", "Blobs"),
            ("TFR_STORAGE_AZURE_ACCOUNT_KEY", "a2V5"),
        ],
        "TFR_STORAGE_AZURE_CONTAINER",
        "invalid container name",
    );
}

#[test]
fn gcs_credentials_and_the_emulator_variable() {
    jail(|jail| {
        jail.create_file("sa.json", "{\"type\": \"service_account\"}")
            .unwrap();
        jail.set_env("TFR_STORAGE_BACKEND", "gcs");
        jail.set_env("TFR_STORAGE_GCS_BUCKET", "tfr-blobs");
        jail.set_env("TFR_STORAGE_GCS_CREDENTIALS_FILE", "sa.json");
        let s = Settings::load(None).unwrap();
        let StorageSettings::Gcs(gcs) = &s.storage else {
            panic!("wanted gcs")
        };
        assert_eq!(
            gcs.credentials,
            GcsStorageCredentials::ServiceAccountFile(PathBuf::from("sa.json"))
        );
        assert!(gcs.endpoint.is_none());
    });
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "gcs");
        jail.set_env("TFR_STORAGE_GCS_BUCKET", "tfr-blobs");
        let s = Settings::load(None).unwrap();
        let StorageSettings::Gcs(gcs) = &s.storage else {
            panic!("wanted gcs")
        };
        assert_eq!(gcs.credentials, GcsStorageCredentials::ApplicationDefault);
    });
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "gcs");
        jail.set_env("TFR_STORAGE_GCS_BUCKET", "tfr-blobs");
        jail.set_env("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9023");
        let s = Settings::load(None).unwrap();
        let StorageSettings::Gcs(gcs) = &s.storage else {
            panic!("wanted gcs")
        };
        assert_eq!(gcs.endpoint.as_deref(), Some("http://127.0.0.1:9023"));
        assert_eq!(gcs.credentials, GcsStorageCredentials::Anonymous);
    });
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "gcs"),
            ("TFR_STORAGE_GCS_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_GCS_CREDENTIALS_FILE", "missing.json"),
        ],
        "TFR_STORAGE_GCS_CREDENTIALS_FILE",
        "does not exist",
    );
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "gcs"),
            ("TFR_STORAGE_GCS_BUCKET", "tfr-blobs"),
            ("TFR_STORAGE_GCS_CREDENTIALS_JSON", "not json"),
        ],
        "TFR_STORAGE_GCS_CREDENTIALS_JSON",
        "is not valid JSON",
    );
}

#[test]
fn migrate_target_files_hold_only_storage_keys() {
    jail(|jail| {
        jail.create_file(
            "target.toml",
            "storage_backend = \"azure\"\nstorage_azure_account = \"tfrprod\"\nstorage_azure_container = \"tfr-blobs\"\nstorage_azure_account_key = \"a2V5\"\n",
        )
        .unwrap();
        // The environment does not leak into the target's settings.
        jail.set_env("TFR_STORAGE_BACKEND", "s3");
        let target = Settings::load_storage_file(Path::new("target.toml")).unwrap();
        assert_eq!(target.backend(), "azure");

        jail.create_file(
            "bad.toml",
            "storage_backend = \"local\"\nlisten = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let err = Settings::load_storage_file(Path::new("bad.toml")).unwrap_err();
        assert!(err.key.starts_with("listen"), "{err}");
        assert!(err.message.contains("only storage_* keys"), "{err}");

        let err = Settings::load_storage_file(Path::new("missing.toml")).unwrap_err();
        assert_eq!(err.key, "--to");
    });
}

#[test]
fn azure_managed_identity_needs_no_key() {
    jail(|jail| {
        jail.set_env("TFR_STORAGE_BACKEND", "azure");
        jail.set_env("TFR_STORAGE_AZURE_ACCOUNT", "tfrprod");
        jail.set_env("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs");
        jail.set_env("TFR_STORAGE_AZURE_MANAGED_IDENTITY", "true");
        let s = Settings::load(None).unwrap();
        let StorageSettings::Azure(az) = &s.storage else {
            panic!("wanted azure")
        };
        assert_eq!(az.credentials, AzureStorageCredentials::ManagedIdentity);
    });
    refused(
        &[
            ("TFR_STORAGE_BACKEND", "azure"),
            ("TFR_STORAGE_AZURE_ACCOUNT", "tfrprod"),
            ("TFR_STORAGE_AZURE_CONTAINER", "tfr-blobs"),
            ("TFR_STORAGE_AZURE_MANAGED_IDENTITY", "true"),
            ("TFR_STORAGE_AZURE_ACCOUNT_KEY", "a2V5"),
        ],
        "TFR_STORAGE_AZURE_MANAGED_IDENTITY",
        "not both",
    );
}
