//! The access rule of every route: what it requires (declared here, beside the route
//! list, and published in the OpenAPI document as `x-tfr-scope`), and what the audit log
//! calls a mutation of it. A drift test checks that this table and the OpenAPI document
//! list exactly the same operations.

use poem::http::Method;
use tfr_core::Scope;

/// What a route requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// No credential needed (discovery, health, login endpoints, signed file links).
    Public,
    /// Any valid credential.
    Authenticated,
    /// The scope, held everywhere (a global role or a system key).
    Global(Scope),
    /// The scope in the organization named by the `{organization}` path parameter.
    Organization(Scope),
    /// A protocol read in the `{namespace}` path parameter: open when anonymous read is
    /// on or the namespace is public, else the scope in the namespace's organization.
    NamespaceRead(Scope),
    /// A write in the `{namespace}` path parameter (or the organization a new namespace
    /// will belong to).
    NamespaceWrite(Scope),
    /// A listing across namespaces: open when anonymous read is on, else any credential;
    /// the handler filters to what the caller may read.
    Listing(Scope),
    /// A read of what belongs to no organization (mirrored providers): open when
    /// anonymous read is on, else a credential holding the scope in at least one
    /// organization or globally.
    AnyOrganization(Scope),
}

impl Requirement {
    /// As published in the OpenAPI document (`x-tfr-scope`).
    pub fn describe(self) -> String {
        match self {
            Requirement::Public => "public".into(),
            Requirement::Authenticated => "authenticated".into(),
            Requirement::Global(s) => format!("{s} (global)"),
            Requirement::Organization(s) => format!("{s} (organization)"),
            Requirement::NamespaceRead(s) => {
                format!("{s} (namespace; open with anonymous read or a public namespace)")
            }
            Requirement::NamespaceWrite(s) => format!("{s} (namespace)"),
            Requirement::Listing(s) => format!("{s} (filtered; open with anonymous read)"),
            Requirement::AnyOrganization(s) => {
                format!("{s} (any organization; open with anonymous read)")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct RouteRule {
    pub method: Method,
    /// OpenAPI form: `/api/v1/modules/{namespace}/{name}`. A parameter may carry a literal
    /// suffix (`{file}.zip`): such a rule refines the operation of the same path without
    /// the suffix, for the values that end with it, and is published beside that
    /// operation's `x-tfr-scope` as `x-tfr-scope-by-suffix`.
    pub path: &'static str,
    pub requirement: Requirement,
    /// The audit action of a mutation (`module.publish`); reads are not audited.
    pub action: &'static str,
    /// What the audit row names, with path parameters filled in.
    pub resource: &'static str,
}

const fn rule(
    method: Method,
    path: &'static str,
    requirement: Requirement,
    action: &'static str,
    resource: &'static str,
) -> RouteRule {
    RouteRule {
        method,
        path,
        requirement,
        action,
        resource,
    }
}

use Requirement::*;
use Scope::*;

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

pub static ROUTES: &[RouteRule] = &[
    // discovery and probes
    rule(GET, "/.well-known/terraform.json", Public, "", ""),
    rule(GET, "/health", Public, "", ""),
    rule(GET, "/ready", Public, "", ""),
    // Module Registry Protocol and listings
    rule(GET, "/v1/modules", Listing(ModulesRead), "", ""),
    rule(GET, "/v1/modules/search", Listing(ModulesRead), "", ""),
    rule(
        GET,
        "/v1/modules/{namespace}",
        NamespaceRead(ModulesRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/modules/{namespace}/{name}/{system}",
        NamespaceRead(ModulesRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/modules/{namespace}/{name}/{system}/versions",
        NamespaceRead(ModulesRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/modules/{namespace}/{name}/{system}/download",
        NamespaceRead(ModulesRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/modules/{namespace}/{name}/{system}/{version}",
        NamespaceRead(ModulesRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/modules/{namespace}/{name}/{system}/{version}/download",
        NamespaceRead(ModulesRead),
        "",
        "",
    ),
    // Provider Registry Protocol
    rule(
        GET,
        "/v1/providers/{namespace}/{type}/versions",
        NamespaceRead(ProvidersRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/providers/{namespace}/{type}/{version}/download/{os}/{arch}",
        NamespaceRead(ProvidersRead),
        "",
        "",
    ),
    // the provider listing (published and mirrored providers)
    rule(GET, "/api/v1/providers", Listing(ProvidersRead), "", ""),
    // Provider Network Mirror Protocol: `index.json` and `{version}.json` are reads of
    // mirrored providers, which belong to no organization. Archives (`*.zip`) are public:
    // Terraform sends no credential for them, the signed link is the credential.
    rule(
        GET,
        "/v1/mirror/{hostname}/{namespace}/{type}/{file}",
        AnyOrganization(ProvidersRead),
        "",
        "",
    ),
    rule(
        GET,
        "/v1/mirror/{hostname}/{namespace}/{type}/{file}.zip",
        Public,
        "",
        "",
    ),
    // publishing
    rule(
        POST,
        "/api/v1/modules/{namespace}/{name}/{system}/{version}",
        NamespaceWrite(ModulesWrite),
        "module.publish",
        "module:{namespace}/{name}/{system}/{version}",
    ),
    rule(
        DELETE,
        "/api/v1/modules/{namespace}/{name}/{system}/{version}",
        NamespaceWrite(ModulesWrite),
        "module.delete",
        "module:{namespace}/{name}/{system}/{version}",
    ),
    rule(
        POST,
        "/api/v1/providers/{namespace}/{type}/{version}",
        NamespaceWrite(ProvidersWrite),
        "provider.publish",
        "provider:{namespace}/{type}/{version}",
    ),
    rule(
        DELETE,
        "/api/v1/providers/{namespace}/{type}/{version}",
        NamespaceWrite(ProvidersWrite),
        "provider.delete",
        "provider:{namespace}/{type}/{version}",
    ),
    // sign-in
    rule(GET, "/api/v1/auth/providers", Public, "", ""),
    rule(GET, "/api/v1/auth/login", Public, "", ""),
    rule(GET, "/api/v1/auth/callback", Public, "", ""),
    rule(
        POST,
        "/api/v1/auth/logout",
        Authenticated,
        "auth.logout",
        "session",
    ),
    rule(
        POST,
        "/api/v1/auth/refresh",
        Authenticated,
        "auth.refresh",
        "session",
    ),
    rule(GET, "/api/v1/auth/me", Authenticated, "", ""),
    rule(GET, "/oauth/authorization", Public, "", ""),
    rule(
        POST,
        "/oauth/token",
        Public,
        "terraform_login.token",
        "api_key",
    ),
    // the caller's own API keys
    rule(GET, "/api/v1/keys", Authenticated, "", ""),
    rule(
        POST,
        "/api/v1/keys",
        Authenticated,
        "api_key.create",
        "api_key",
    ),
    rule(
        DELETE,
        "/api/v1/keys/{id}",
        Authenticated,
        "api_key.revoke",
        "api_key:{id}",
    ),
    rule(
        POST,
        "/api/v1/keys/{id}/rotate",
        Authenticated,
        "api_key.rotate",
        "api_key:{id}",
    ),
    // users
    rule(GET, "/api/v1/admin/users", Global(UsersRead), "", ""),
    rule(GET, "/api/v1/admin/users/{id}", Global(UsersRead), "", ""),
    rule(
        PATCH,
        "/api/v1/admin/users/{id}",
        Global(UsersWrite),
        "user.update",
        "user:{id}",
    ),
    rule(
        GET,
        "/api/v1/admin/users/{id}/api-keys",
        Global(UsersRead),
        "",
        "",
    ),
    rule(
        DELETE,
        "/api/v1/admin/users/{id}/api-keys/{key}",
        Global(UsersWrite),
        "api_key.revoke",
        "api_key:{key}",
    ),
    // organizations, members, role templates, organization keys
    rule(
        GET,
        "/api/v1/admin/organizations",
        Global(OrganizationsRead),
        "",
        "",
    ),
    rule(
        POST,
        "/api/v1/admin/organizations",
        Global(OrganizationsWrite),
        "organization.create",
        "organization",
    ),
    rule(
        GET,
        "/api/v1/admin/organizations/{organization}",
        Organization(OrganizationsRead),
        "",
        "",
    ),
    rule(
        PATCH,
        "/api/v1/admin/organizations/{organization}",
        Organization(OrganizationsWrite),
        "organization.update",
        "organization:{organization}",
    ),
    rule(
        DELETE,
        "/api/v1/admin/organizations/{organization}",
        Global(OrganizationsWrite),
        "organization.delete",
        "organization:{organization}",
    ),
    rule(
        GET,
        "/api/v1/admin/organizations/{organization}/members",
        Organization(OrganizationsRead),
        "",
        "",
    ),
    rule(
        PUT,
        "/api/v1/admin/organizations/{organization}/members/{user}",
        Organization(OrganizationsWrite),
        "member.set",
        "organization:{organization}/member:{user}",
    ),
    rule(
        DELETE,
        "/api/v1/admin/organizations/{organization}/members/{user}",
        Organization(OrganizationsWrite),
        "member.remove",
        "organization:{organization}/member:{user}",
    ),
    rule(
        GET,
        "/api/v1/admin/organizations/{organization}/role-templates",
        Organization(OrganizationsRead),
        "",
        "",
    ),
    rule(
        POST,
        "/api/v1/admin/organizations/{organization}/role-templates",
        Organization(OrganizationsWrite),
        "role_template.create",
        "organization:{organization}/role_template",
    ),
    rule(
        PUT,
        "/api/v1/admin/organizations/{organization}/role-templates/{id}",
        Organization(OrganizationsWrite),
        "role_template.update",
        "organization:{organization}/role_template:{id}",
    ),
    rule(
        DELETE,
        "/api/v1/admin/organizations/{organization}/role-templates/{id}",
        Organization(OrganizationsWrite),
        "role_template.delete",
        "organization:{organization}/role_template:{id}",
    ),
    rule(
        GET,
        "/api/v1/admin/organizations/{organization}/namespaces",
        Organization(OrganizationsRead),
        "",
        "",
    ),
    rule(
        POST,
        "/api/v1/admin/organizations/{organization}/namespaces",
        Organization(OrganizationsWrite),
        "namespace.create",
        "organization:{organization}/namespace",
    ),
    rule(
        GET,
        "/api/v1/admin/organizations/{organization}/api-keys",
        Organization(OrganizationsRead),
        "",
        "",
    ),
    rule(
        POST,
        "/api/v1/admin/organizations/{organization}/api-keys",
        Organization(OrganizationsWrite),
        "api_key.create",
        "organization:{organization}/api_key",
    ),
    rule(
        DELETE,
        "/api/v1/admin/organizations/{organization}/api-keys/{id}",
        Organization(OrganizationsWrite),
        "api_key.revoke",
        "organization:{organization}/api_key:{id}",
    ),
    rule(
        POST,
        "/api/v1/admin/organizations/{organization}/api-keys/{id}/rotate",
        Organization(OrganizationsWrite),
        "api_key.rotate",
        "organization:{organization}/api_key:{id}",
    ),
    // namespaces and role templates across organizations
    rule(GET, "/api/v1/admin/role-templates", Authenticated, "", ""),
    rule(
        GET,
        "/api/v1/admin/namespaces",
        Global(OrganizationsRead),
        "",
        "",
    ),
    rule(
        PATCH,
        "/api/v1/admin/namespaces/{namespace}",
        NamespaceWrite(OrganizationsWrite),
        "namespace.update",
        "namespace:{namespace}",
    ),
    // audit
    rule(GET, "/api/v1/admin/audit-logs", Global(AuditRead), "", ""),
    // provider mirrors
    rule(GET, "/api/v1/admin/mirrors", Global(MirrorsRead), "", ""),
    rule(
        POST,
        "/api/v1/admin/mirrors",
        Global(MirrorsManage),
        "mirror.create",
        "mirror",
    ),
    rule(
        GET,
        "/api/v1/admin/mirrors/{id}",
        Global(MirrorsRead),
        "",
        "",
    ),
    rule(
        PUT,
        "/api/v1/admin/mirrors/{id}",
        Global(MirrorsManage),
        "mirror.update",
        "mirror:{id}",
    ),
    rule(
        DELETE,
        "/api/v1/admin/mirrors/{id}",
        Global(MirrorsManage),
        "mirror.delete",
        "mirror:{id}",
    ),
    rule(
        POST,
        "/api/v1/admin/mirrors/{id}/sync",
        Global(MirrorsManage),
        "mirror.sync",
        "mirror:{id}",
    ),
    rule(
        GET,
        "/api/v1/admin/mirrors/{id}/history",
        Global(MirrorsRead),
        "",
        "",
    ),
];

/// Whether a method changes state (and so is audited, and needs CSRF proof with a
/// session cookie).
pub fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A matched rule with its path parameters.
#[derive(Debug, Clone)]
pub struct MatchedRoute {
    pub rule: &'static RouteRule,
    pub params: Vec<(&'static str, String)>,
}

impl MatchedRoute {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The audit resource with parameters filled in.
    pub fn resource(&self) -> String {
        let mut out = self.rule.resource.to_string();
        for (name, value) in &self.params {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// A pattern segment: a literal, or a parameter with an optional literal suffix.
enum PatternSegment<'a> {
    Literal(&'a str),
    Param { name: &'a str, suffix: &'a str },
}

fn pattern_segment(segment: &str) -> PatternSegment<'_> {
    match segment
        .strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
    {
        Some((name, suffix)) => PatternSegment::Param { name, suffix },
        None => PatternSegment::Literal(segment),
    }
}

/// The operation path a suffixed rule refines (`{file}.zip` -> `{file}`); `None` for a
/// rule without a suffixed parameter.
pub fn refined_operation(path: &str) -> Option<String> {
    let mut refined = false;
    let plain: Vec<String> = path
        .split('/')
        .map(|segment| match pattern_segment(segment) {
            PatternSegment::Param { name, suffix } if !suffix.is_empty() => {
                refined = true;
                format!("{{{name}}}")
            }
            _ => segment.to_string(),
        })
        .collect();
    refined.then(|| plain.join("/"))
}

/// The rule for a request. The most specific wins: a literal segment over a suffixed
/// parameter over a plain one (`/v1/modules/search` before `/v1/modules/{namespace}`,
/// `{file}.zip` before `{file}`).
pub fn match_route(method: &Method, path: &str) -> Option<MatchedRoute> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(usize, MatchedRoute)> = None;
    for rule in ROUTES
        .iter()
        .filter(|r| r.method == *method || (*method == Method::HEAD && r.method == Method::GET))
    {
        let pattern: Vec<&'static str> = rule.path.split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut score = 0;
        let mut params = Vec::new();
        let matched = pattern
            .iter()
            .zip(&segments)
            .all(|(p, s)| match pattern_segment(p) {
                PatternSegment::Param { name, suffix } => {
                    let value = percent_decode(s);
                    if value.len() <= suffix.len() || !value.ends_with(suffix) {
                        return false;
                    }
                    if !suffix.is_empty() {
                        score += 1;
                    }
                    params.push((name, value));
                    true
                }
                PatternSegment::Literal(literal) => {
                    score += 2;
                    literal == *s
                }
            });
        if matched && best.as_ref().is_none_or(|(l, _)| score > *l) {
            best = Some((score, MatchedRoute { rule, params }));
        }
    }
    best.map(|(_, m)| m)
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirement(method: Method, path: &str) -> Option<Requirement> {
        match_route(&method, path).map(|m| m.rule.requirement)
    }

    #[test]
    fn mirror_archives_are_public_and_documents_protected() {
        let base = "/v1/mirror/registry.terraform.io/hashicorp/aws";
        let protected = Some(AnyOrganization(ProvidersRead));
        assert_eq!(requirement(GET, &format!("{base}/index.json")), protected);
        assert_eq!(requirement(GET, &format!("{base}/5.0.0.json")), protected);
        assert_eq!(
            requirement(Method::HEAD, &format!("{base}/index.json")),
            protected
        );
        let zip = format!("{base}/terraform-provider-aws_5.0.0_linux_amd64.zip");
        assert_eq!(requirement(GET, &zip), Some(Public));
        assert_eq!(requirement(GET, &format!("{zip}/")), Some(Public));
        // The suffix is checked on the decoded value, as the handler sees it.
        assert_eq!(
            requirement(GET, &format!("{base}/index.json%2Ezip")),
            Some(Public)
        );
        assert_eq!(requirement(GET, &format!("{base}/%69ndex.json")), protected);
        // `.zip` alone is no file name: only the plain parameter matches.
        assert_eq!(requirement(GET, &format!("{base}/.zip")), protected);
        assert_eq!(requirement(GET, &format!("{base}/x.ZIP")), protected);
        assert_eq!(requirement(POST, &zip), None);
    }

    #[test]
    fn literals_win_over_parameters() {
        assert_eq!(
            requirement(GET, "/v1/modules/search"),
            Some(Listing(ModulesRead))
        );
        assert_eq!(
            requirement(GET, "/v1/modules/acme"),
            Some(NamespaceRead(ModulesRead))
        );
        let matched = match_route(&GET, "/api/v1/admin/mirrors/abc/history").expect("a rule");
        assert_eq!(matched.rule.path, "/api/v1/admin/mirrors/{id}/history");
        assert_eq!(matched.param("id"), Some("abc"));
    }

    #[test]
    fn refined_operations() {
        assert_eq!(
            refined_operation("/v1/mirror/{hostname}/{namespace}/{type}/{file}.zip").as_deref(),
            Some("/v1/mirror/{hostname}/{namespace}/{type}/{file}")
        );
        assert_eq!(
            refined_operation("/v1/mirror/{hostname}/{namespace}/{type}/{file}"),
            None
        );
    }

    #[test]
    fn every_rule_is_unique_and_refinements_refine_a_rule() {
        for (i, rule) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[..i]
                    .iter()
                    .any(|r| r.method == rule.method && r.path == rule.path),
                "{} {} twice",
                rule.method,
                rule.path
            );
            if let Some(plain) = refined_operation(rule.path) {
                assert!(
                    ROUTES
                        .iter()
                        .any(|r| r.method == rule.method && r.path == plain),
                    "{} refines no rule",
                    rule.path
                );
            }
        }
    }

    #[test]
    fn any_organization_is_described() {
        assert_eq!(
            AnyOrganization(ProvidersRead).describe(),
            "providers:read (any organization; open with anonymous read)"
        );
    }
}
