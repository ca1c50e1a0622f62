//! From validated ID token claims (a JSON object) to an [`ExternalIdentity`]: pure functions,
//! no network, so every rule is unit-tested.

use serde_json::{Map, Value};
use tfr_ports::driven::{ExternalIdentity, SsoError};

use crate::config::{AzureAdConfig, AzureGroupsClaim, OidcConfig};

/// Tenants that are not one directory: the issuer and `tid` could not be checked.
const MULTI_TENANT_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];

/// How the claims of one provider map to an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRules {
    Oidc {
        username_claim: String,
        email_claim: String,
        groups_claim: String,
        require_verified_email: bool,
    },
    AzureAd {
        tenant_id: String,
        groups_claim: AzureGroupsClaim,
        require_verified_email: bool,
    },
}

impl ClaimRules {
    pub fn for_oidc(config: &OidcConfig) -> Self {
        ClaimRules::Oidc {
            username_claim: config.username_claim.clone(),
            email_claim: config.email_claim.clone(),
            groups_claim: config.groups_claim.clone(),
            require_verified_email: config.require_verified_email,
        }
    }

    pub fn for_azure(config: &AzureAdConfig) -> Self {
        ClaimRules::AzureAd {
            tenant_id: config.tenant_id.trim().to_string(),
            groups_claim: config.groups_claim,
            require_verified_email: config.require_verified_email,
        }
    }

    /// The configured claims absent from `claims` (what a userinfo request could fill in).
    pub fn missing_claims(&self, claims: &Map<String, Value>) -> Vec<String> {
        let wanted: Vec<&str> = match self {
            ClaimRules::Oidc {
                username_claim,
                email_claim,
                groups_claim,
                ..
            } => {
                let mut w = vec![username_claim.as_str(), email_claim.as_str()];
                w.push(groups_claim.as_str());
                if email_claim == "email" {
                    w.push("email_verified");
                }
                w
            }
            ClaimRules::AzureAd { groups_claim, .. } => vec!["email", groups_claim.claim_name()],
        };
        wanted
            .into_iter()
            .filter(|name| claim(claims, name).is_none_or(Value::is_null))
            .map(str::to_string)
            .collect()
    }
}

/// Checks an Azure tenant id is one directory's id, a GUID. `common` & co. name no single
/// tenant, and a domain name (`contoso.onmicrosoft.com`) makes Azure publish the GUID issuer,
/// which would then not match the configured one.
pub fn validate_tenant_id(tenant_id: &str) -> Result<(), String> {
    let t = tenant_id.trim();
    if MULTI_TENANT_ALIASES.contains(&t.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "the Azure AD tenant id {t:?} is not one directory: use the directory (tenant) id, a GUID"
        ));
    }
    let groups: Vec<&str> = t.split('-').collect();
    let is_guid = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()));
    if !is_guid {
        return Err(format!(
            "the Azure AD tenant id {t:?} is not a directory (tenant) id: expected a GUID such as \
             72f988bf-86f1-41af-91ab-2d7cd011db47 (Entra admin center -> Overview -> Tenant ID)"
        ));
    }
    Ok(())
}

/// Maps validated claims to an identity, or refuses the login.
pub fn map_claims(
    claims: &Map<String, Value>,
    rules: &ClaimRules,
) -> Result<ExternalIdentity, SsoError> {
    match rules {
        ClaimRules::Oidc {
            username_claim,
            email_claim,
            groups_claim,
            require_verified_email,
        } => {
            let subject = string_claim(claims, "sub")
                .ok_or_else(|| rejected("the ID token has no subject (sub)"))?;
            let email = string_claim(claims, email_claim).and_then(|e| normalize_email(&e));
            // `email_verified` speaks about the `email` claim only.
            let standard_email = string_claim(claims, "email").and_then(|e| normalize_email(&e));
            let email_verified = email.is_some()
                && email == standard_email
                && bool_claim(claims, "email_verified") == Some(true);
            check_verified(*require_verified_email, email.is_some(), email_verified)?;
            Ok(ExternalIdentity {
                subject,
                email,
                email_verified,
                username: string_claim(claims, username_claim),
                display_name: display_name(claims),
                groups: groups(claims, groups_claim),
            })
        }
        ClaimRules::AzureAd {
            tenant_id,
            groups_claim,
            require_verified_email,
        } => {
            let tid = string_claim(claims, "tid")
                .ok_or_else(|| rejected("the Azure AD token has no tenant id (tid)"))?;
            if !tid.eq_ignore_ascii_case(tenant_id) {
                return Err(rejected(format!(
                    "the Azure AD token is from tenant {tid}, not from the configured tenant {tenant_id}"
                )));
            }
            let subject = string_claim(claims, "oid").ok_or_else(|| {
                rejected(
                    "the Azure AD token has no object id (oid); is the `profile` scope granted?",
                )
            })?;
            let from_email = string_claim(claims, "email").and_then(|e| normalize_email(&e));
            let email_verified = from_email.is_some()
                && (bool_claim(claims, "email_verified") == Some(true)
                    || bool_claim(claims, "xms_edov") == Some(true));
            let email = from_email.or_else(|| {
                ["preferred_username", "upn"]
                    .into_iter()
                    .find_map(|c| string_claim(claims, c).and_then(|e| normalize_email(&e)))
            });
            check_verified(*require_verified_email, email.is_some(), email_verified)?;
            let claim_name = groups_claim.claim_name();
            if has_overage(claims, claim_name) {
                tracing::warn!(
                    claim = claim_name,
                    "Azure AD sent a groups overage marker instead of the groups (too many groups): \
                     group mappings see no groups; assign groups to the application or use app roles"
                );
            }
            Ok(ExternalIdentity {
                subject,
                email,
                email_verified,
                username: ["preferred_username", "upn"]
                    .into_iter()
                    .find_map(|c| string_claim(claims, c))
                    .map(|u| match u.split_once('@') {
                        Some((local, _)) if !local.is_empty() => local.to_string(),
                        _ => u,
                    }),
                display_name: display_name(claims),
                groups: groups(claims, claim_name),
            })
        }
    }
}

fn rejected(message: impl Into<String>) -> SsoError {
    SsoError::Rejected(message.into())
}

fn check_verified(required: bool, has_email: bool, verified: bool) -> Result<(), SsoError> {
    if !required || verified {
        return Ok(());
    }
    Err(rejected(if has_email {
        "the identity provider did not confirm the email address is verified, and a verified email is required"
    } else {
        "the identity provider sent no email address, and a verified email is required"
    }))
}

/// A claim by exact name, else by dotted path into nested objects.
pub fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// A non-empty string claim (numbers are accepted and written in decimal).
pub fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    let text = match claim(claims, name)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// A boolean claim; `"true"`/`"false"` strings are accepted (some providers send them).
pub fn bool_claim(claims: &Map<String, Value>, name: &str) -> Option<bool> {
    match claim(claims, name)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Lower-case, trimmed; `None` unless it looks like `local@domain`.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}

/// The groups claim: an array (strings, numbers) or one string; order kept, duplicates and
/// blanks dropped.
pub fn groups(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    let items: Vec<String> = match claim(claims, name) {
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.trim().to_string()],
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn display_name(claims: &Map<String, Value>) -> Option<String> {
    string_claim(claims, "name").or_else(|| {
        let parts: Vec<String> = ["given_name", "family_name"]
            .into_iter()
            .filter_map(|c| string_claim(claims, c))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })
}

/// Azure's "distributed claims" overage marker: `_claim_names: {"groups": "src1"}`.
fn has_overage(claims: &Map<String, Value>, name: &str) -> bool {
    claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| names.contains_key(name))
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
