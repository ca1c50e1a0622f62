//! Authentication, authorization (RBAC) and the audit trail: three middlewares that run,
//! in this order, after rate limiting and before the handler. They share the route table
//! (`routes`) and hand their findings down as request data.

mod audit;
mod authenticate;
mod authorize;
pub mod routes;

use std::sync::{Arc, Mutex};

use poem::Request;
use tfr_ports::driven::SessionClaims;
use tfr_ports::service::Principal;
use uuid::Uuid;

pub use audit::AuditTrail;
pub use authenticate::Authenticate;
pub use authorize::Authorize;

/// The session cookie (HttpOnly) and its CSRF companion (readable by the page's script).
pub const SESSION_COOKIE: &str = "tfr_session";
pub const CSRF_COOKIE: &str = "tfr_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who the request is, as established by [`Authenticate`].
#[derive(Debug, Clone, Default)]
pub struct RequestAuth {
    pub principal: Option<Principal>,
    /// Set when a session token authenticated the request.
    pub session: Option<SessionClaims>,
    /// The session came from the cookie (so mutations needed CSRF proof).
    pub via_cookie: bool,
}

/// The organization an authorized request acts in (the namespace's, or the one a new
/// namespace will belong to), as decided by [`Authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetOrganization(pub Uuid);

/// What a handler adds to its audit row (the middleware knows the route, the handler
/// knows what the request turned out to be about).
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub resource: Option<String>,
    pub organization_id: Option<Uuid>,
    pub detail: Option<String>,
    /// For logins: who signed in (no principal was authenticated yet).
    pub actor: Option<(String, String)>,
}

/// Shared between the audit middleware and the handler.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(pub Arc<Mutex<AuditNote>>);

impl AuditSlot {
    pub fn note(req: &Request, f: impl FnOnce(&mut AuditNote)) {
        if let Some(slot) = req.data::<AuditSlot>() {
            f(&mut slot.0.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// The client address: the peer, or the first `X-Forwarded-For` hop when the registry
/// runs behind a proxy it trusts.
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> Option<String> {
    if trust_forwarded_for
        && let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return Some(first.to_string());
    }
    req.remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_string())
}

pub fn request_id(req: &Request) -> Option<String> {
    req.data::<poem::middleware::ReqId>()
        .map(|id| id.to_string())
}

/// For listings: `None` when the caller may read everything, else the organizations
/// whose namespaces it may read (public namespaces are always included).
pub fn readable_organizations(
    req: &Request,
    anonymous_read: bool,
    scope: tfr_core::Scope,
) -> Option<Vec<Uuid>> {
    if anonymous_read {
        return None;
    }
    let principal = req.data::<RequestAuth>().and_then(|a| a.principal.as_ref());
    match principal.map(|p| p.grants.organizations_with(scope)) {
        Some(tfr_ports::service::OrganizationFilter::All) => None,
        Some(tfr_ports::service::OrganizationFilter::Only(orgs)) => Some(orgs),
        None => Some(Vec::new()),
    }
}
