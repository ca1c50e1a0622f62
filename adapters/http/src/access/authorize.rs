//! RBAC: the route's declared requirement (see `routes`) against the principal's scopes,
//! resolved in the organization that owns the resource.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tfr_ports::service::{NamespaceDecision, Principal};

use super::routes::{MatchedRoute, Requirement, match_route};
use super::{RequestAuth, TargetOrganization, audit};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub struct Authorize(pub Arc<AppState>);

impl<E: Endpoint> Middleware<E> for Authorize {
    type Output = AuthorizeEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        AuthorizeEndpoint {
            inner: ep,
            state: self.0.clone(),
        }
    }
}

pub struct AuthorizeEndpoint<E> {
    inner: E,
    state: Arc<AppState>,
}

enum Decision {
    Allow(Option<TargetOrganization>),
    Unauthenticated,
    Forbidden(String),
}

const NEED_CREDENTIAL: &str = "a credential is required (an API key or `terraform login` token as a bearer token, or a session)";

impl<E: Endpoint> AuthorizeEndpoint<E> {
    async fn decide(
        &self,
        route: &MatchedRoute,
        principal: Option<&Principal>,
    ) -> Result<Decision, ApiError> {
        let state = &self.state;
        let need = |p: Option<&Principal>, ok: bool, scope: String| match p {
            None => Decision::Unauthenticated,
            Some(_) if ok => Decision::Allow(None),
            Some(_) => Decision::Forbidden(format!("the {scope} scope is required")),
        };
        Ok(match route.rule.requirement {
            Requirement::Public => Decision::Allow(None),
            Requirement::Authenticated => need(principal, true, String::new()),
            Requirement::Global(scope) => need(
                principal,
                principal.is_some_and(|p| p.grants.allows_global(scope)),
                scope.to_string(),
            ),
            Requirement::Listing(scope) => {
                if state.namespace_access.anonymous_read() {
                    Decision::Allow(None)
                } else {
                    need(principal, true, scope.to_string())
                }
            }
            Requirement::AnyOrganization(scope) => {
                if state.namespace_access.anonymous_read() {
                    Decision::Allow(None)
                } else {
                    match principal {
                        None => Decision::Unauthenticated,
                        Some(p) if p.grants.allows_somewhere(scope) => Decision::Allow(None),
                        Some(_) => Decision::Forbidden(format!(
                            "the {scope} scope is required (in any organization)"
                        )),
                    }
                }
            }
            Requirement::Organization(scope) => {
                let Some(p) = principal else {
                    return Ok(Decision::Unauthenticated);
                };
                let name = route.param("organization").unwrap_or_default();
                match state.identity.organization(name).await {
                    Ok(org) if p.grants.allows_in(scope, org.id) => {
                        Decision::Allow(Some(TargetOrganization(org.id)))
                    }
                    // Unknown: only those who could see every organization learn that.
                    Err(tfr_ports::service::ServiceError::NotFound(_))
                        if p.grants.allows_global(scope) =>
                    {
                        Decision::Allow(None)
                    }
                    Ok(_) | Err(tfr_ports::service::ServiceError::NotFound(_)) => {
                        Decision::Forbidden(format!(
                            "the {scope} scope is required in organization {name}"
                        ))
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            Requirement::NamespaceRead(scope) | Requirement::NamespaceWrite(scope) => {
                let namespace = route.param("namespace").unwrap_or_default();
                let access = &state.namespace_access;
                let decision = if matches!(route.rule.requirement, Requirement::NamespaceRead(_)) {
                    access.check_read(principal, namespace, scope).await?
                } else {
                    access.check_write(principal, namespace, scope).await?
                };
                match decision {
                    NamespaceDecision::Allowed { organization_id } => {
                        Decision::Allow(Some(TargetOrganization(organization_id)))
                    }
                    NamespaceDecision::Unauthenticated => Decision::Unauthenticated,
                    NamespaceDecision::Forbidden(msg) => Decision::Forbidden(msg),
                }
            }
        })
    }
}

impl<E: Endpoint> Endpoint for AuthorizeEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let route = req
            .data::<MatchedRoute>()
            .cloned()
            .or_else(|| match_route(req.method(), req.uri().path()));
        let Some(route) = route else {
            // Not an API operation (signed file links, docs, the UI): handlers decide.
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let principal = req.data::<RequestAuth>().and_then(|a| a.principal.clone());
        let decision = match self.decide(&route, principal.as_ref()).await {
            Ok(d) => d,
            Err(err) => return Ok(err.into_response()),
        };
        match decision {
            Decision::Allow(target) => {
                if let Some(target) = target {
                    req.set_data(target);
                }
                req.set_data(route);
                self.inner.call(req).await.map(IntoResponse::into_response)
            }
            Decision::Unauthenticated => {
                audit::record_refusal(&self.state, &req, Some(&route), None, 401, NEED_CREDENTIAL)
                    .await;
                Ok(ApiError::unauthorized(NEED_CREDENTIAL).into_response())
            }
            Decision::Forbidden(message) => {
                tracing::info!(principal = principal.as_ref().map(|p| p.audit_id()), path = %req.uri().path(), "{message}");
                audit::record_refusal(
                    &self.state,
                    &req,
                    Some(&route),
                    principal.as_ref(),
                    403,
                    &message,
                )
                .await;
                Ok(ApiError::Forbidden(ErrorBody::new(message)).into_response())
            }
        }
    }
}
