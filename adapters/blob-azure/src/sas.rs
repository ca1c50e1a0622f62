//! `presigned_url`: a read-only service SAS for one blob.
//!
//! With an account key the SAS is signed with it. With a managed identity it is a user
//! delegation SAS, signed with a user delegation key fetched from the service (cached
//! and reused until it would expire before the SAS does). The URL is a secret: it is
//! returned, never logged.

use std::time::Duration;

use azure_core::auth::Secret;
use azure_storage::shared_access_signature::SasProtocol;
use azure_storage::shared_access_signature::service_sas::{
    BlobSasPermissions, BlobSharedAccessSignature, BlobSignedResource, SasKey, UserDeligationKey,
};
use azure_storage_blobs::prelude::{BlobClient, BlobServiceClient};
use tfr_ports::driven::BlobError;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::errors::blob_error;

/// A SAS starts this far in the past, so a client whose clock runs behind can use it.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(1);
/// Azure's limit on a user delegation key's lifetime, less a margin.
const MAX_DELEGATION: time::Duration =
    time::Duration::days(7).saturating_sub(time::Duration::minutes(5));
/// A fresh delegation key is asked for at least this long (fewer round trips).
const DELEGATION_KEY_LIFETIME: time::Duration = time::Duration::hours(12);

pub(crate) struct Signer {
    account: String,
    container: String,
    /// `spr=https` only when the endpoint is https (Azurite serves http).
    https_only: bool,
    key: SigningKey,
}

enum SigningKey {
    Account(Secret),
    Delegation(Box<Delegation>),
}

struct Delegation {
    service: BlobServiceClient,
    cached: Mutex<Option<UserDeligationKey>>,
}

impl Signer {
    pub(crate) fn with_account_key(
        account: String,
        container: String,
        https_only: bool,
        key: String,
    ) -> Self {
        Self {
            account,
            container,
            https_only,
            key: SigningKey::Account(Secret::new(key)),
        }
    }

    pub(crate) fn with_delegation(
        account: String,
        container: String,
        https_only: bool,
        service: BlobServiceClient,
    ) -> Self {
        Self {
            account,
            container,
            https_only,
            key: SigningKey::Delegation(Box::new(Delegation {
                service,
                cached: Mutex::new(None),
            })),
        }
    }

    /// A URL that reads `blob` until `ttl` passes; `None` when no SAS can live that long
    /// (over 7 days with a managed identity): tfr then serves its own signed link.
    pub(crate) async fn presign(
        &self,
        blob: &BlobClient,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        let now = OffsetDateTime::now_utc();
        let Some(expiry) = time::Duration::try_from(ttl)
            .ok()
            .and_then(|ttl| now.checked_add(ttl))
        else {
            return Ok(None);
        };
        let mut start = now - CLOCK_SKEW;
        let key = match &self.key {
            SigningKey::Account(secret) => SasKey::Key(secret.clone()),
            SigningKey::Delegation(delegation) => {
                if expiry - now > MAX_DELEGATION {
                    return Ok(None);
                }
                let key =
                    delegation_key(&delegation.service, &delegation.cached, now, expiry).await?;
                // The SAS must lie within the key's validity.
                start = start.max(key.signed_start);
                SasKey::UserDelegationKey(key)
            }
        };
        let resource = format!(
            "/blob/{}/{}/{}",
            self.account,
            self.container,
            blob.blob_name()
        );
        let permissions = BlobSasPermissions {
            read: true,
            ..Default::default()
        };
        let mut sas = BlobSharedAccessSignature::new(
            key,
            resource,
            permissions,
            expiry,
            BlobSignedResource::Blob,
        )
        .start(start);
        if self.https_only {
            sas = sas.protocol(SasProtocol::Https);
        }
        let url = blob
            .generate_signed_blob_url(&sas)
            .map_err(|e| blob_error(&format!("signing a URL for {}", blob.blob_name()), e))?;
        Ok(Some(url.to_string()))
    }
}

/// The cached user delegation key if it outlives `expiry`, else a new one.
async fn delegation_key(
    service: &BlobServiceClient,
    cached: &Mutex<Option<UserDeligationKey>>,
    now: OffsetDateTime,
    expiry: OffsetDateTime,
) -> Result<UserDeligationKey, BlobError> {
    let mut cached = cached.lock().await;
    if let Some(key) = cached.as_ref()
        && key.signed_expiry >= expiry
        && key.signed_start <= now
    {
        return Ok(key.clone());
    }
    let key_start = now - CLOCK_SKEW;
    let key_expiry = (now + DELEGATION_KEY_LIFETIME)
        .max(expiry)
        .min(now + MAX_DELEGATION);
    let response = service
        .get_user_deligation_key(key_start, key_expiry)
        .await
        .map_err(|e| blob_error("getting a user delegation key (to sign download URLs)", e))?;
    let key = response.user_deligation_key;
    *cached = Some(key.clone());
    Ok(key)
}
