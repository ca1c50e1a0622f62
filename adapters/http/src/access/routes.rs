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
        }
    }
}

#[derive(Debug, Clone)]
pub struct RouteRule {
    pub method: Method,
    /// OpenAPI form: `/api/v1/modules/{namespace}/{name}`.
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

/// The rule for a request; literal segments win over parameters
/// (`/v1/modules/search` before `/v1/modules/{namespace}`).
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
        let mut literals = 0;
        let mut params = Vec::new();
        let matched = pattern.iter().zip(&segments).all(|(p, s)| {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if s.is_empty() {
                    return false;
                }
                params.push((name, percent_decode(s)));
                true
            } else {
                literals += 1;
                p == s
            }
        });
        if matched && best.as_ref().is_none_or(|(l, _)| literals > *l) {
            best = Some((literals, MatchedRoute { rule, params }));
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
