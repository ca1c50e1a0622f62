//! Namespaces, module and provider addresses, with Terraform's naming rules
//! (hashicorp/terraform-registry-address). Module parts match case-insensitively but keep
//! the case they were published with; provider parts are lower-case.

use std::fmt;
use std::hash::{Hash, Hasher};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("invalid {what} {value:?}: {rule}")]
    Invalid {
        what: &'static str,
        value: String,
        rule: &'static str,
    },
}

fn invalid(what: &'static str, value: &str, rule: &'static str) -> NameError {
    NameError::Invalid {
        what,
        value: value.to_string(),
        rule,
    }
}

/// `^[0-9A-Za-z](?:[0-9A-Za-z-_]{0,62}[0-9A-Za-z])?$`: the module namespace and name rule.
fn check_module_part(what: &'static str, value: &str) -> Result<(), NameError> {
    const RULE: &str =
        "must be 1-64 letters, digits, '-' or '_', starting and ending with a letter or digit";
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 {
        return Err(invalid(what, value, RULE));
    }
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    if !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return Err(invalid(what, value, RULE));
    }
    if !bytes.iter().all(|b| alnum(b) || *b == b'-' || *b == b'_') {
        return Err(invalid(what, value, RULE));
    }
    Ok(())
}

/// Provider namespace and type: letters, digits and dashes, no leading, trailing or
/// doubled dash. Terraform lower-cases them, so we require lower-case input.
fn check_provider_part(what: &'static str, value: &str) -> Result<(), NameError> {
    const RULE: &str =
        "must be 1-64 lower-case letters, digits or '-', without leading, trailing or doubled '-'";
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 {
        return Err(invalid(what, value, RULE));
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Err(invalid(what, value, RULE));
    }
    if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' || value.contains("--") {
        return Err(invalid(what, value, RULE));
    }
    Ok(())
}

/// A namespace as shown to users. Compared and stored for lookup in lower case.
#[derive(Debug, Clone)]
pub struct Namespace(String);

impl Namespace {
    /// Namespaces are shared by modules and providers; the module rule is the wider one,
    /// and a provider address additionally checks its own rule.
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check_module_part("namespace", value)?;
        Ok(Self(value.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The lookup key: namespaces match case-insensitively.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl PartialEq for Namespace {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Namespace {}

/// Consistent with the case-insensitive `PartialEq`.
impl Hash for Namespace {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A module name, matched case-insensitively.
#[derive(Debug, Clone)]
pub struct ModuleName(String);

impl ModuleName {
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check_module_part("module name", value)?;
        Ok(Self(value.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl PartialEq for ModuleName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for ModuleName {}

/// Consistent with the case-insensitive `PartialEq`.
impl Hash for ModuleName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The module's target system (historically "provider"): `^[0-9a-z]{1,64}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModuleSystem(String);

impl ModuleSystem {
    pub fn parse(value: &str) -> Result<Self, NameError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(invalid(
                "module system",
                value,
                "must be 1-64 lower-case letters or digits",
            ));
        }
        Ok(Self(value.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `namespace/name/system`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModuleAddress {
    pub namespace: Namespace,
    pub name: ModuleName,
    pub system: ModuleSystem,
}

impl ModuleAddress {
    pub fn parse(namespace: &str, name: &str, system: &str) -> Result<Self, NameError> {
        Ok(Self {
            namespace: Namespace::parse(namespace)?,
            name: ModuleName::parse(name)?,
            system: ModuleSystem::parse(system)?,
        })
    }
}

impl fmt::Display for ModuleAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.namespace,
            self.name.as_str(),
            self.system.as_str()
        )
    }
}

/// A provider type such as `aws`. The `terraform-` prefix is refused: it is the common
/// mistake of naming the repository (`terraform-provider-aws`) instead of the type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderType(String);

impl ProviderType {
    pub fn parse(value: &str) -> Result<Self, NameError> {
        check_provider_part("provider type", value)?;
        if value.starts_with("terraform-") {
            return Err(invalid(
                "provider type",
                value,
                "must not start with \"terraform-\" (use the type, e.g. \"aws\" for terraform-provider-aws)",
            ));
        }
        Ok(Self(value.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `namespace/type`, both lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderAddress {
    pub namespace: Namespace,
    pub provider_type: ProviderType,
}

impl ProviderAddress {
    pub fn parse(namespace: &str, provider_type: &str) -> Result<Self, NameError> {
        check_provider_part("provider namespace", namespace)?;
        Ok(Self {
            namespace: Namespace::parse(namespace)?,
            provider_type: ProviderType::parse(provider_type)?,
        })
    }
}

impl fmt::Display for ProviderAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.provider_type.as_str())
    }
}
