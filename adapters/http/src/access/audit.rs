//! The audit trail: every mutating request that reaches authentication leaves one row,
//! whether it succeeded, failed or was refused (refusals are recorded by the layer that
//! refused). Requests throttled by the rate limiter (429, before authentication) are
//! logged but not audited: a flood must not turn into a database write per request.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tfr_ports::driven::AuditOutcome;
use tfr_ports::service::{AuditActor, AuditEvent, Principal};

use super::routes::{MatchedRoute, is_mutation, match_route};
use super::{AuditSlot, RequestAuth, TargetOrganization, client_ip, request_id};
use crate::state::AppState;

pub struct AuditTrail(pub Arc<AppState>);

impl<E: Endpoint> Middleware<E> for AuditTrail {
    type Output = AuditTrailEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        AuditTrailEndpoint {
            inner: ep,
            state: self.0.clone(),
        }
    }
}

pub struct AuditTrailEndpoint<E> {
    inner: E,
    state: Arc<AppState>,
}

fn action_and_resource(req: &Request, route: Option<&MatchedRoute>) -> (String, String) {
    match route {
        Some(r) if !r.rule.action.is_empty() => (r.rule.action.to_string(), r.resource()),
        _ => (
            format!("http.{}", req.method().as_str().to_ascii_lowercase()),
            req.uri().path().chars().take(300).collect(),
        ),
    }
}

fn outcome(status: u16) -> AuditOutcome {
    match status {
        200..=399 => AuditOutcome::Success,
        401 | 403 | 429 => AuditOutcome::Denied,
        _ => AuditOutcome::Failed,
    }
}

/// Records a mutation refused before it reached the audit middleware (authentication,
/// CSRF, RBAC). Reads are not recorded.
pub(super) async fn record_refusal(
    state: &AppState,
    req: &Request,
    route: Option<&MatchedRoute>,
    principal: Option<&Principal>,
    status: u16,
    detail: &str,
) {
    if !is_mutation(req.method()) {
        return;
    }
    let (action, resource) = action_and_resource(req, route);
    let event = AuditEvent {
        action,
        resource,
        outcome: outcome(status),
        status,
        organization_id: None,
        client_ip: client_ip(req, state.web.trust_forwarded_for),
        request_id: request_id(req),
        detail: Some(detail.to_string()),
    };
    let _ = state
        .audit
        .record(principal.map(AuditActor::from).unwrap_or_default(), event)
        .await;
}

impl<E: Endpoint> Endpoint for AuditTrailEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        if !is_mutation(req.method()) {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let route = req
            .data::<MatchedRoute>()
            .cloned()
            .or_else(|| match_route(req.method(), req.uri().path()));
        let (action, resource) = action_and_resource(&req, route.as_ref());
        let principal = req.data::<RequestAuth>().and_then(|a| a.principal.clone());
        let target = req.data::<TargetOrganization>().map(|t| t.0);
        let ip = client_ip(&req, self.state.web.trust_forwarded_for);
        let id = request_id(&req);
        let slot = AuditSlot::default();
        req.set_data(slot.clone());

        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status().as_u16();
        let note = slot.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let actor = match (&principal, note.actor) {
            (_, Some((id, name))) => AuditActor {
                id: Some(id),
                name: Some(name),
            },
            (Some(p), None) => AuditActor::from(p),
            (None, None) => AuditActor::default(),
        };
        let detail = note.detail.or_else(|| {
            (status >= 400).then(|| {
                resp.status()
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_ascii_lowercase()
            })
        });
        let event = AuditEvent {
            action,
            resource: note.resource.unwrap_or(resource),
            outcome: outcome(status),
            status,
            organization_id: note.organization_id.or(target),
            client_ip: ip,
            request_id: id,
            detail,
        };
        let _ = self.state.audit.record(actor, event).await;
        Ok(resp)
    }
}
