//! What the app configures ([`AzureConfig`]) and what the store runs on once that is
//! checked ([`Resolved`]): one account, one endpoint, one way to authenticate.

use std::fmt;

use base64::Engine;
use url::Url;

/// Where the store lives and how it authenticates.
#[derive(Clone, Debug)]
pub struct AzureConfig {
    /// Storage account name. May be empty with a connection string that names it.
    pub account: String,
    pub container: String,
    /// `""` or `"a/b"`: blobs live at `{prefix}/{key}`. Surrounding `/` are ignored.
    pub prefix: String,
    /// The blob service endpoint, e.g. Azurite's `http://127.0.0.1:10000/devstoreaccount1`;
    /// `None` = the connection string's `BlobEndpoint`, else
    /// `https://{account}.blob.core.windows.net`.
    pub endpoint: Option<String>,
    pub credentials: AzureCredentials,
}

/// How the store authenticates. `Debug` never shows a secret.
#[derive(Clone)]
pub enum AzureCredentials {
    /// The account's shared key (base64). Presigned URLs are service SAS signed with it.
    AccountKey(String),
    /// An Azure Storage connection string: `AccountName`, `AccountKey` and optionally
    /// `BlobEndpoint`, `DefaultEndpointsProtocol`, `EndpointSuffix`, or
    /// `UseDevelopmentStorage=true` (Azurite on its default port).
    ConnectionString(String),
    /// An Entra ID token from the environment: workload identity (AKS, from
    /// `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`), else App
    /// Service / Functions (`IDENTITY_ENDPOINT`), else the VM's system-assigned identity
    /// (IMDS). Presigned URLs are user delegation SAS (the identity needs
    /// `Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey`, part of
    /// "Storage Blob Data Contributor").
    ManagedIdentity,
}

impl fmt::Debug for AzureCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AccountKey(_) => f.write_str("AccountKey(<redacted>)"),
            Self::ConnectionString(_) => f.write_str("ConnectionString(<redacted>)"),
            Self::ManagedIdentity => f.write_str("ManagedIdentity"),
        }
    }
}

/// Why a configuration cannot be used. Never includes a secret.
#[derive(Debug, thiserror::Error)]
#[error("invalid Azure blob storage configuration: {0}")]
pub struct ConfigError(pub String);

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// How requests are signed, once the configuration is checked.
#[derive(Clone)]
pub(crate) enum Auth {
    /// Decoded-checked base64 account key.
    Key(String),
    ManagedIdentity,
}

/// A checked configuration.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub account: String,
    pub container: String,
    /// Without surrounding `/`; empty for none.
    pub prefix: String,
    /// No trailing `/`.
    pub endpoint: Url,
    pub auth: Auth,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobStore")
            .field("account", &self.account)
            .field("container", &self.container)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint.as_str())
            .field(
                "auth",
                &match self.auth {
                    Auth::Key(_) => "account key",
                    Auth::ManagedIdentity => "managed identity",
                },
            )
            .finish()
    }
}

impl Resolved {
    /// The blob name of a key (or a probe name) under the prefix.
    pub fn blob_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// The prefix that `list` asks for (`"a/b/"`), `None` for the whole container.
    pub fn list_prefix(&self) -> Option<String> {
        (!self.prefix.is_empty()).then(|| format!("{}/", self.prefix))
    }

    pub fn is_https(&self) -> bool {
        self.endpoint.scheme() == "https"
    }
}

/// Azurite's well-known development account (public; not a secret).
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// The parts of a connection string tfr uses.
#[derive(Default)]
struct ConnectionParts {
    account: Option<String>,
    key: Option<String>,
    blob_endpoint: Option<String>,
    protocol: Option<String>,
    suffix: Option<String>,
    development: bool,
    sas: bool,
}

/// Parses `Key=Value;...` (keys case-insensitive). Errors name the key, never a value:
/// the string holds the account key.
fn parse_connection_string(raw: &str) -> Result<ConnectionParts, ConfigError> {
    let mut parts = ConnectionParts::default();
    for pair in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(invalid(
                "connection string: every part must be Key=Value (separated by ';')",
            ));
        };
        let (k, v) = (k.trim(), v.trim().to_string());
        match k.to_ascii_lowercase().as_str() {
            "accountname" => parts.account = Some(v),
            "accountkey" => parts.key = Some(v),
            "blobendpoint" => parts.blob_endpoint = Some(v),
            "defaultendpointsprotocol" => parts.protocol = Some(v.to_ascii_lowercase()),
            "endpointsuffix" => parts.suffix = Some(v),
            "usedevelopmentstorage" => parts.development = v.eq_ignore_ascii_case("true"),
            "sharedaccesssignature" => parts.sas = true,
            // Endpoints of other services and the like: not ours.
            _ => {}
        }
    }
    Ok(parts)
}

/// Account names: 3–24 lower-case letters and digits (Azure's rule; Azurite's
/// `devstoreaccount1` fits).
fn check_account(account: &str) -> Result<(), ConfigError> {
    let ok = (3..=24).contains(&account.len())
        && account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "account name {account:?} must be 3-24 lower-case letters and digits"
        )))
    }
}

/// Container names: 3–63 of `a-z0-9-`, starting and ending with a letter or digit, no
/// `--` (Azure's rule).
fn check_container(container: &str) -> Result<(), ConfigError> {
    let bytes = container.as_bytes();
    let ok = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(|b| *b != b'-')
        && bytes.last().is_some_and(|b| *b != b'-')
        && !container.contains("--");
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "container name {container:?} must be 3-63 characters of a-z, 0-9 and '-' \
             (starting and ending with a letter or digit, no '--')"
        )))
    }
}

fn check_prefix(prefix: &str) -> Result<String, ConfigError> {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        return Ok(String::new());
    }
    let ok = prefix.len() <= 512
        && prefix
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.chars().any(char::is_control));
    if ok {
        Ok(prefix.to_string())
    } else {
        Err(invalid(format!(
            "prefix {prefix:?} must be '/'-separated non-empty segments (no '.' or '..')"
        )))
    }
}

fn check_key(key: &str) -> Result<String, ConfigError> {
    let key = key.trim();
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(bytes) if !bytes.is_empty() => Ok(key.to_string()),
        _ => Err(invalid("the account key is not valid base64")),
    }
}

fn parse_endpoint(raw: &str) -> Result<Url, ConfigError> {
    // A trailing '/' would give container URLs an empty path segment.
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed)
        .map_err(|e| invalid(format!("endpoint {trimmed:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(format!(
            "endpoint {trimmed:?} must be an http(s) URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "the endpoint must not carry a query, fragment or user info \
             (put credentials in `credentials`)",
        ));
    }
    Ok(url)
}

impl AzureConfig {
    pub(crate) fn resolve(&self) -> Result<Resolved, ConfigError> {
        let account = self.account.trim().to_string();
        let (account, auth, endpoint) = match &self.credentials {
            AzureCredentials::AccountKey(key) => {
                (account, Auth::Key(check_key(key)?), self.endpoint.clone())
            }
            AzureCredentials::ManagedIdentity => {
                (account, Auth::ManagedIdentity, self.endpoint.clone())
            }
            AzureCredentials::ConnectionString(raw) => {
                let parts = parse_connection_string(raw)?;
                if parts.development {
                    let endpoint = self
                        .endpoint
                        .clone()
                        .or(parts.blob_endpoint)
                        .unwrap_or_else(|| DEV_ENDPOINT.to_string());
                    (
                        DEV_ACCOUNT.to_string(),
                        Auth::Key(DEV_KEY.to_string()),
                        Some(endpoint),
                    )
                } else {
                    let named = parts.account.clone().unwrap_or_default();
                    let account = match (account.is_empty(), named.is_empty()) {
                        (true, _) => named,
                        (false, true) => account,
                        (false, false) if account == named => account,
                        (false, false) => {
                            return Err(invalid(format!(
                                "account {account:?} differs from the connection string's AccountName {named:?}"
                            )));
                        }
                    };
                    let Some(key) = parts.key.as_deref() else {
                        return Err(invalid(if parts.sas {
                            "connection string: SharedAccessSignature is not supported (tfr signs download URLs itself); give AccountKey"
                        } else {
                            "connection string: AccountKey is missing"
                        }));
                    };
                    let endpoint = self.endpoint.clone().or(parts.blob_endpoint).or_else(|| {
                        parts.suffix.as_ref().map(|suffix| {
                            let scheme = parts.protocol.as_deref().unwrap_or("https");
                            format!("{scheme}://{account}.blob.{suffix}")
                        })
                    });
                    let endpoint = match (endpoint, parts.protocol.as_deref()) {
                        (None, Some("http")) => {
                            Some(format!("http://{account}.blob.core.windows.net"))
                        }
                        (endpoint, _) => endpoint,
                    };
                    (account, Auth::Key(check_key(key)?), endpoint)
                }
            }
        };
        if account.is_empty() {
            return Err(invalid("the storage account name is empty"));
        }
        check_account(&account)?;
        check_container(&self.container)?;
        let prefix = check_prefix(&self.prefix)?;
        let endpoint = match endpoint {
            Some(raw) => parse_endpoint(&raw)?,
            None => parse_endpoint(&format!("https://{account}.blob.core.windows.net"))?,
        };
        Ok(Resolved {
            account,
            container: self.container.clone(),
            prefix,
            endpoint,
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a2V5a2V5a2V5";

    fn config(credentials: AzureCredentials) -> AzureConfig {
        AzureConfig {
            account: "acct1".into(),
            container: "tfr-blobs".into(),
            prefix: "/tenant/blobs/".into(),
            endpoint: None,
            credentials,
        }
    }

    #[test]
    fn account_key_defaults_to_public_endpoint() {
        let r = config(AzureCredentials::AccountKey(KEY.into()))
            .resolve()
            .unwrap();
        assert_eq!(r.endpoint.as_str(), "https://acct1.blob.core.windows.net/");
        assert_eq!(r.prefix, "tenant/blobs");
        assert_eq!(r.blob_name("a/b"), "tenant/blobs/a/b");
        assert_eq!(r.list_prefix().as_deref(), Some("tenant/blobs/"));
        assert!(r.is_https());
    }

    #[test]
    fn connection_string_supplies_account_key_and_endpoint() {
        let cs = format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:1234/devstoreaccount1/;"
        );
        let mut c = config(AzureCredentials::ConnectionString(cs));
        c.account = String::new();
        c.prefix = String::new();
        let r = c.resolve().unwrap();
        assert_eq!(r.account, "devstoreaccount1");
        assert_eq!(
            r.endpoint.as_str(),
            "http://127.0.0.1:1234/devstoreaccount1"
        );
        assert!(matches!(r.auth, Auth::Key(ref k) if k == DEV_KEY));
        assert_eq!(r.list_prefix(), None);
        assert_eq!(r.blob_name("k"), "k");
    }

    #[test]
    fn connection_string_suffix_and_development_storage() {
        let cs = format!("AccountName=acct1;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn");
        let r = config(AzureCredentials::ConnectionString(cs))
            .resolve()
            .unwrap();
        assert_eq!(
            r.endpoint.as_str(),
            "https://acct1.blob.core.chinacloudapi.cn/"
        );

        let mut c = config(AzureCredentials::ConnectionString(
            "UseDevelopmentStorage=true".into(),
        ));
        c.account = String::new();
        let r = c.resolve().unwrap();
        assert_eq!(r.account, DEV_ACCOUNT);
        assert_eq!(r.endpoint.as_str(), DEV_ENDPOINT);
    }

    #[test]
    fn errors_never_echo_secrets() {
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        for cs in [
            format!("AccountName=acct1;AccountKey={secret};garbage"),
            format!("AccountName=other1;AccountKey={secret}"),
            format!("AccountName=acct1;SharedAccessSignature={secret}"),
            "AccountName=acct1;AccountKey=not base64!!".to_string(),
        ] {
            let err = config(AzureCredentials::ConnectionString(cs))
                .resolve()
                .expect_err("invalid");
            assert!(!err.to_string().contains(secret), "{err}");
        }
        let c = config(AzureCredentials::AccountKey(secret.into()));
        assert!(!format!("{c:?}").contains(secret));
        let c = config(AzureCredentials::ConnectionString(format!(
            "AccountName=acct1;AccountKey={secret}"
        )));
        assert!(!format!("{c:?}").contains(secret));
        let r = c.resolve().unwrap();
        assert!(!format!("{r:?}").contains(secret));
    }

    #[test]
    fn bad_names_are_refused() {
        let mut c = config(AzureCredentials::AccountKey(KEY.into()));
        c.container = "Bad_Name".into();
        assert!(c.resolve().is_err());
        let mut c = config(AzureCredentials::AccountKey(KEY.into()));
        c.prefix = "a//b".into();
        assert!(c.resolve().is_err());
        let mut c = config(AzureCredentials::AccountKey(KEY.into()));
        c.endpoint = Some("ftp://x".into());
        assert!(c.resolve().is_err());
        let mut c = config(AzureCredentials::ManagedIdentity);
        c.account = String::new();
        assert!(c.resolve().is_err());
    }
}
