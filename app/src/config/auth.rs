//! Identity and HTTP security settings: sessions, read protection, SSO providers, role
//! mappings, `terraform login`, CORS and rate limits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::raw::Validator;
use super::{ConfigError, Secret};

pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The file under the data directory holding the generated session secret.
pub const JWT_SECRET_FILE: &str = "jwt-secret";
pub const DEFAULT_SESSION_TTL_SECS: u64 = 1800;
pub const DEFAULT_TERRAFORM_LOGIN_PORTS: (u16, u16) = (10000, 10010);
pub const DEFAULT_TERRAFORM_LOGIN_TOKEN_TTL_DAYS: u32 = 90;
pub const DEFAULT_RATE_LIMIT_ANONYMOUS_PER_MINUTE: u32 = 1200;
pub const DEFAULT_RATE_LIMIT_AUTHENTICATED_PER_MINUTE: u32 = 6000;
pub const DEFAULT_RATE_LIMIT_FAILED_AUTH_PER_MINUTE: u32 = 30;

/// A list given as a TOML array or as one string (separated by `;`, `,` or new lines).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum StringList {
    One(String),
    Many(Vec<String>),
}

impl StringList {
    fn items(self, separators: &[char]) -> Vec<String> {
        let all = match self {
            StringList::One(s) => s.split(separators).map(str::to_string).collect(),
            StringList::Many(v) => v,
        };
        all.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The raw identity keys, as read (extracted beside `raw::RawSettings`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawAuth {
    pub jwt_secret: Option<Secret>,
    pub jwt_secret_file: Option<PathBuf>,
    pub session_ttl_secs: Option<u64>,
    pub auth_anonymous_read: Option<bool>,
    pub auth_bootstrap_admins: Option<StringList>,
    pub auth_default_role: Option<String>,
    pub auth_group_mappings: Option<StringList>,
    pub oidc_issuer_url: Option<String>,
    pub oidc_client_id: Option<String>,
    pub oidc_client_secret: Option<Secret>,
    pub oidc_client_secret_file: Option<PathBuf>,
    pub oidc_display_name: Option<String>,
    pub oidc_scopes: Option<StringList>,
    pub oidc_username_claim: Option<String>,
    pub oidc_email_claim: Option<String>,
    pub oidc_groups_claim: Option<String>,
    pub oidc_require_verified_email: Option<bool>,
    pub azure_tenant_id: Option<String>,
    pub azure_client_id: Option<String>,
    pub azure_client_secret: Option<Secret>,
    pub azure_client_secret_file: Option<PathBuf>,
    pub azure_authority_host: Option<String>,
    pub azure_groups_claim: Option<String>,
    pub azure_display_name: Option<String>,
    pub terraform_login_ports: Option<String>,
    pub terraform_login_token_ttl_days: Option<u32>,
    pub cors_allowed_origins: Option<StringList>,
    pub rate_limit_anonymous_per_minute: Option<u32>,
    pub rate_limit_authenticated_per_minute: Option<u32>,
    pub rate_limit_failed_auth_per_minute: Option<u32>,
    pub trust_forwarded_for: Option<bool>,
}

/// `group=organization:role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMappingSetting {
    pub group: String,
    pub organization: String,
    pub role: String,
}

#[derive(Clone, Serialize)]
pub struct OidcSettings {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub email_claim: String,
    pub groups_claim: String,
    pub require_verified_email: bool,
}

#[derive(Clone, Serialize)]
pub struct AzureSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub authority_host: String,
    /// `groups` or `roles`.
    pub groups_claim: String,
    pub display_name: String,
}

#[derive(Clone, Serialize)]
pub struct AuthSettings {
    /// `None`: generated on first start into `<data_dir>/jwt-secret`.
    pub jwt_secret: Option<Secret>,
    pub session_ttl_secs: u64,
    /// Protocol reads without a credential (default false: every read needs one).
    pub anonymous_read: bool,
    /// Lower-case emails made global admins at their SSO login.
    pub bootstrap_admins: Vec<String>,
    /// `(organization, role)` for SSO users no mapping places anywhere.
    pub default_role: Option<(String, String)>,
    pub group_mappings: Vec<GroupMappingSetting>,
    pub oidc: Option<OidcSettings>,
    pub azure: Option<AzureSettings>,
    /// terraform login callback ports `[start, end)`.
    pub terraform_login_ports: (u16, u16),
    pub terraform_login_token_ttl_days: u32,
    pub cors_allowed_origins: Vec<String>,
    /// Per minute; 0 turns that limit off.
    pub rate_limit_anonymous_per_minute: u32,
    pub rate_limit_authenticated_per_minute: u32,
    pub rate_limit_failed_auth_per_minute: u32,
    pub trust_forwarded_for: bool,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets redact themselves; the JSON form is the readable one.
        f.write_str(&serde_json::to_string(self).unwrap_or_default())
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            session_ttl_secs: DEFAULT_SESSION_TTL_SECS,
            anonymous_read: false,
            bootstrap_admins: Vec::new(),
            default_role: Some(("default".into(), "viewer".into())),
            group_mappings: Vec::new(),
            oidc: None,
            azure: None,
            terraform_login_ports: DEFAULT_TERRAFORM_LOGIN_PORTS,
            terraform_login_token_ttl_days: DEFAULT_TERRAFORM_LOGIN_TOKEN_TTL_DAYS,
            cors_allowed_origins: Vec::new(),
            rate_limit_anonymous_per_minute: DEFAULT_RATE_LIMIT_ANONYMOUS_PER_MINUTE,
            rate_limit_authenticated_per_minute: DEFAULT_RATE_LIMIT_AUTHENTICATED_PER_MINUTE,
            rate_limit_failed_auth_per_minute: DEFAULT_RATE_LIMIT_FAILED_AUTH_PER_MINUTE,
            trust_forwarded_for: false,
        }
    }
}

fn org_role(text: &str) -> Option<(String, String)> {
    let (org, role) = text.split_once(':')?;
    let (org, role) = (org.trim().to_ascii_lowercase(), role.trim().to_string());
    (!org.is_empty() && !role.is_empty()).then_some((org, role))
}

impl Validator<'_> {
    pub(super) fn secret_pair(
        &self,
        key: &str,
        value: Option<Secret>,
        file_key: &str,
        file: Option<PathBuf>,
    ) -> Result<Option<Secret>, ConfigError> {
        match (value, file) {
            (Some(_), Some(_)) => Err(self.err(
                file_key,
                format!("set either {key} or {file_key}, not both"),
            )),
            (Some(v), None) => Ok(Some(v)),
            (None, Some(path)) => self.read_secret_file(file_key, &path).map(Some),
            (None, None) => Ok(None),
        }
    }

    pub(super) fn required(
        &self,
        key: &str,
        value: Option<String>,
        because: &str,
    ) -> Result<String, ConfigError> {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.err(key, format!("is required when {because}")))
    }

    pub(super) fn auth(&self, raw: RawAuth) -> Result<AuthSettings, ConfigError> {
        let defaults = AuthSettings::default();
        let jwt_secret_from_file = raw.jwt_secret_file.is_some();
        let jwt_secret = self.secret_pair(
            "jwt_secret",
            raw.jwt_secret,
            "jwt_secret_file",
            raw.jwt_secret_file,
        )?;
        if let Some(secret) = &jwt_secret
            && secret.len() < MIN_JWT_SECRET_BYTES
        {
            let key = if jwt_secret_from_file {
                "jwt_secret_file"
            } else {
                "jwt_secret"
            };
            return Err(self.err(key, format!(
                "the session secret must be at least {MIN_JWT_SECRET_BYTES} bytes (got {}); generate one with `openssl rand -base64 32`",
                secret.len()
            )));
        }
        let session_ttl_secs = raw.session_ttl_secs.unwrap_or(DEFAULT_SESSION_TTL_SECS);
        if !(60..=86_400).contains(&session_ttl_secs) {
            return Err(self.err(
                "session_ttl_secs",
                format!("{session_ttl_secs} is out of range (60 to 86400 seconds)"),
            ));
        }
        let bootstrap_admins = raw
            .auth_bootstrap_admins
            .map(|l| l.items(&[',', ';', '\n', ' ']))
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.to_lowercase())
            .collect::<Vec<_>>();
        if let Some(bad) = bootstrap_admins.iter().find(|e| !e.contains('@')) {
            return Err(self.err(
                "auth_bootstrap_admins",
                format!("{bad:?} is not an email address"),
            ));
        }
        let default_role = match raw.auth_default_role.as_deref().map(str::trim) {
            None => defaults.default_role,
            Some("") | Some("none") => None,
            Some(text) => Some(org_role(text).ok_or_else(|| {
                self.err(
                    "auth_default_role",
                    format!("{text:?} is not ORGANIZATION:ROLE (e.g. default:viewer), or none"),
                )
            })?),
        };
        let mut group_mappings = Vec::new();
        for item in raw
            .auth_group_mappings
            .map(|l| l.items(&[';', '\n']))
            .unwrap_or_default()
        {
            let parsed = item
                .rsplit_once('=')
                .and_then(|(group, target)| {
                    let (organization, role) = org_role(target)?;
                    let group = group.trim().to_string();
                    (!group.is_empty()).then_some(GroupMappingSetting {
                        group,
                        organization,
                        role,
                    })
                })
                .ok_or_else(|| {
                    self.err(
                        "auth_group_mappings",
                        format!("{item:?} is not GROUP=ORGANIZATION:ROLE (entries separated by ;)"),
                    )
                })?;
            group_mappings.push(parsed);
        }

        let oidc_secret = self.secret_pair(
            "oidc_client_secret",
            raw.oidc_client_secret,
            "oidc_client_secret_file",
            raw.oidc_client_secret_file,
        )?;
        let oidc = match raw.oidc_issuer_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(issuer) => {
                let issuer_url = issuer.trim().trim_end_matches('/').to_string();
                if reqwest::Url::parse(&issuer_url).is_err() {
                    return Err(self.err(
                        "oidc_issuer_url",
                        format!("{issuer_url:?} is not an absolute URL"),
                    ));
                }
                let because = "oidc_issuer_url is set";
                Some(OidcSettings {
                    issuer_url,
                    client_id: self.required("oidc_client_id", raw.oidc_client_id, because)?,
                    client_secret: oidc_secret.ok_or_else(|| {
                        self.err(
                            "oidc_client_secret",
                            format!("is required when {because} (or oidc_client_secret_file)"),
                        )
                    })?,
                    display_name: raw
                        .oidc_display_name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| "Single sign-on".into()),
                    scopes: raw
                        .oidc_scopes
                        .map(|l| l.items(&[',', ' ', ';']))
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
                    username_claim: raw
                        .oidc_username_claim
                        .unwrap_or_else(|| "preferred_username".into()),
                    email_claim: raw.oidc_email_claim.unwrap_or_else(|| "email".into()),
                    groups_claim: raw.oidc_groups_claim.unwrap_or_else(|| "groups".into()),
                    require_verified_email: raw.oidc_require_verified_email.unwrap_or(true),
                })
            }
        };

        let azure_secret = self.secret_pair(
            "azure_client_secret",
            raw.azure_client_secret,
            "azure_client_secret_file",
            raw.azure_client_secret_file,
        )?;
        let azure = match raw.azure_tenant_id.filter(|t| !t.trim().is_empty()) {
            None => None,
            Some(tenant) => {
                let because = "azure_tenant_id is set";
                let groups_claim = raw.azure_groups_claim.unwrap_or_else(|| "groups".into());
                if groups_claim != "groups" && groups_claim != "roles" {
                    return Err(self.err(
                        "azure_groups_claim",
                        format!("{groups_claim:?} is not one of groups, roles"),
                    ));
                }
                let authority_host = raw
                    .azure_authority_host
                    .map(|h| h.trim().trim_end_matches('/').to_string())
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into());
                if reqwest::Url::parse(&authority_host).is_err() {
                    return Err(self.err(
                        "azure_authority_host",
                        format!("{authority_host:?} is not an absolute URL"),
                    ));
                }
                Some(AzureSettings {
                    tenant_id: tenant.trim().to_string(),
                    client_id: self.required("azure_client_id", raw.azure_client_id, because)?,
                    client_secret: azure_secret.ok_or_else(|| {
                        self.err(
                            "azure_client_secret",
                            format!("is required when {because} (or azure_client_secret_file)"),
                        )
                    })?,
                    authority_host,
                    groups_claim,
                    display_name: raw
                        .azure_display_name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| "Microsoft".into()),
                })
            }
        };

        let terraform_login_ports = match raw.terraform_login_ports {
            None => DEFAULT_TERRAFORM_LOGIN_PORTS,
            Some(text) => {
                let parsed = text.split_once('-').and_then(|(a, b)| {
                    Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
                });
                match parsed {
                    Some((start, end)) if start >= 1024 && end >= start + 2 => (start, end),
                    _ => {
                        return Err(self.err(
                            "terraform_login_ports",
                            format!("{text:?} is not START-END with START >= 1024 and at least two ports (terraform never picks END)"),
                        ));
                    }
                }
            }
        };
        let terraform_login_token_ttl_days = raw
            .terraform_login_token_ttl_days
            .unwrap_or(DEFAULT_TERRAFORM_LOGIN_TOKEN_TTL_DAYS);
        if !(1..=3650).contains(&terraform_login_token_ttl_days) {
            return Err(self.err("terraform_login_token_ttl_days", "must be 1 to 3650 days"));
        }
        let cors_allowed_origins = raw
            .cors_allowed_origins
            .map(|l| l.items(&[',', ' ', ';']))
            .unwrap_or_default();
        for origin in &cors_allowed_origins {
            let ok = reqwest::Url::parse(origin)
                .is_ok_and(|u| u.path() == "/" && !origin.ends_with('/') && u.host_str().is_some());
            if !ok {
                return Err(self.err(
                    "cors_allowed_origins",
                    format!("{origin:?} is not an origin such as https://ui.example.com"),
                ));
            }
        }
        Ok(AuthSettings {
            jwt_secret,
            session_ttl_secs,
            anonymous_read: raw.auth_anonymous_read.unwrap_or(false),
            bootstrap_admins,
            default_role,
            group_mappings,
            oidc,
            azure,
            terraform_login_ports,
            terraform_login_token_ttl_days,
            cors_allowed_origins,
            rate_limit_anonymous_per_minute: raw
                .rate_limit_anonymous_per_minute
                .unwrap_or(DEFAULT_RATE_LIMIT_ANONYMOUS_PER_MINUTE),
            rate_limit_authenticated_per_minute: raw
                .rate_limit_authenticated_per_minute
                .unwrap_or(DEFAULT_RATE_LIMIT_AUTHENTICATED_PER_MINUTE),
            rate_limit_failed_auth_per_minute: raw
                .rate_limit_failed_auth_per_minute
                .unwrap_or(DEFAULT_RATE_LIMIT_FAILED_AUTH_PER_MINUTE),
            trust_forwarded_for: raw.trust_forwarded_for.unwrap_or(false),
        })
    }
}
