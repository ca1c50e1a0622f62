//! tfr's storage settings for the emulators of `tfr_emulators` (moto, azurite,
//! gcp-storage-emulator), and a look into a store through tfr's own adapters.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use tfr::Secret;
use tfr::config::{
    AzureStorageCredentials, AzureStorageSettings, GcsStorageCredentials, GcsStorageSettings,
    S3StorageSettings, StorageSettings,
};
use tfr_emulators::{
    AZURITE_ACCOUNT, AZURITE_KEY, Emulator, MOTO_ACCESS_KEY, MOTO_REGION, MOTO_SECRET_KEY,
};

/// A fresh bucket/container name.
pub fn bucket_name() -> String {
    format!("tfr-{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// S3 on moto with static keys, path-style, under `prefix`.
pub fn s3_settings(moto: &Emulator, bucket: &str, prefix: &str) -> StorageSettings {
    StorageSettings::S3(S3StorageSettings {
        bucket: bucket.to_string(),
        region: Some(MOTO_REGION.to_string()),
        prefix: prefix.to_string(),
        endpoint: Some(moto.endpoint()),
        force_path_style: true,
        access_key_id: Some(MOTO_ACCESS_KEY.to_string()),
        secret_access_key: Some(Secret::new(MOTO_SECRET_KEY)),
        session_token: None,
    })
}

/// Azure Blob on azurite's development account with its key, under `prefix`.
pub fn azure_settings(azurite: &Emulator, container: &str, prefix: &str) -> StorageSettings {
    azure_settings_with_key(azurite, container, prefix, AZURITE_KEY)
}

pub fn azure_settings_with_key(
    azurite: &Emulator,
    container: &str,
    prefix: &str,
    key: &str,
) -> StorageSettings {
    StorageSettings::Azure(AzureStorageSettings {
        account: AZURITE_ACCOUNT.to_string(),
        container: container.to_string(),
        prefix: prefix.to_string(),
        endpoint: Some(azurite.azurite_blob_endpoint()),
        credentials: AzureStorageCredentials::AccountKey(Secret::new(key)),
    })
}

/// GCS on the emulator, anonymous (tfr then signs its own links).
pub fn gcs_settings(gcs: &Emulator, bucket: &str, prefix: &str) -> StorageSettings {
    StorageSettings::Gcs(GcsStorageSettings {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        endpoint: Some(gcs.endpoint()),
        credentials: GcsStorageCredentials::Anonymous,
    })
}

/// Every object in the store `settings` describe, key -> (size, sha256 if recorded),
/// read through tfr's adapter (`list` then `metadata`). A local store needs its `dir`.
pub async fn store_contents(
    settings: &StorageSettings,
) -> anyhow::Result<BTreeMap<String, (u64, Option<String>)>> {
    let dir = tempfile::tempdir()?;
    let store = tfr::storage::open(settings, dir.path())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let listing: Vec<_> = store.list().try_collect().await?;
    let mut out = BTreeMap::new();
    for item in listing {
        let meta = store
            .metadata(&item.key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{} listed but absent", item.key))?;
        out.insert(item.key.to_string(), (meta.size, meta.sha256));
    }
    Ok(out)
}
