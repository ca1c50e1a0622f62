//! Helpers for the access-control suites: the operations of the OpenAPI document with the
//! requirement each declares (`x-tfr-scope`), requests sent with a chosen credential, and
//! reading the audit log back through its API.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::TestRegistry;
use crate::provider::ProviderUpload;

/// What an operation declares it requires (`x-tfr-scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `public`
    Public,
    /// `authenticated`
    Authenticated,
    /// `<scope> (global)`
    Global(String),
    /// `<scope> (organization)`
    Organization(String),
    /// `<scope> (namespace)`: a write in a namespace.
    Namespace(String),
    /// `<scope> (namespace; open with anonymous read ...)`: a protocol read.
    NamespaceRead(String),
    /// `<scope> (filtered; ...)`: a listing, filtered by what the caller may read.
    Listing(String),
    /// `<scope> (any organization; open with anonymous read)`: a read of what belongs to
    /// no organization (mirrored providers): the scope held in any organization or
    /// globally.
    AnyOrganization(String),
}

impl Requirement {
    /// Parses an `x-tfr-scope` value; an unknown form is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text {
            "public" => return Ok(Self::Public),
            "authenticated" => return Ok(Self::Authenticated),
            _ => {}
        }
        let (scope, rest) = text
            .split_once(" (")
            .ok_or_else(|| format!("unknown x-tfr-scope form {text:?}"))?;
        let scope = scope.trim().to_string();
        if !scope.contains(':') {
            return Err(format!("{text:?}: {scope:?} is not a scope name"));
        }
        let kind = rest
            .strip_suffix(')')
            .ok_or_else(|| format!("unknown x-tfr-scope form {text:?}"))?;
        let head = kind.split(';').next().unwrap_or_default().trim();
        let open = kind.contains("open with anonymous read");
        match (head, open) {
            ("global", false) => Ok(Self::Global(scope)),
            ("organization", false) => Ok(Self::Organization(scope)),
            ("namespace", false) => Ok(Self::Namespace(scope)),
            ("namespace", true) => Ok(Self::NamespaceRead(scope)),
            ("filtered", _) => Ok(Self::Listing(scope)),
            ("any organization", true) => Ok(Self::AnyOrganization(scope)),
            _ => Err(format!("unknown x-tfr-scope form {text:?}")),
        }
    }

    /// The scope the requirement names, if any.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Self::Public | Self::Authenticated => None,
            Self::Global(s)
            | Self::Organization(s)
            | Self::Namespace(s)
            | Self::NamespaceRead(s)
            | Self::Listing(s)
            | Self::AnyOrganization(s) => Some(s),
        }
    }

    /// Whether the access layer refuses a request without a credential (with anonymous
    /// read off and the namespace not public).
    pub fn needs_credential(&self) -> bool {
        !matches!(self, Self::Public)
    }

    /// Whether a credential lacking the scope is refused with 403 (listings filter
    /// instead; `authenticated` names no scope).
    pub fn refuses_other_scopes(&self) -> bool {
        matches!(
            self,
            Self::Global(_)
                | Self::Organization(_)
                | Self::Namespace(_)
                | Self::NamespaceRead(_)
                | Self::AnyOrganization(_)
        )
    }

    /// Whether the scope held in one organization only (any one) is enough.
    pub fn held_in_any_organization(&self) -> bool {
        matches!(self, Self::AnyOrganization(_))
    }
}

/// One operation of the OpenAPI document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: reqwest::Method,
    /// OpenAPI form: `/api/v1/modules/{namespace}/{name}/{system}/{version}`.
    pub path: String,
    pub operation_id: String,
    /// The raw `x-tfr-scope`, if present.
    pub declared: Option<String>,
    /// Request body media types, if the operation takes a body.
    pub body_types: Vec<String>,
    /// Query parameters the operation requires.
    pub required_query: Vec<String>,
}

impl Operation {
    /// `POST /api/v1/keys`
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn requirement(&self) -> Result<Requirement, String> {
        match &self.declared {
            Some(text) => Requirement::parse(text),
            None => Err(format!("{} declares no x-tfr-scope", self.label())),
        }
    }

    /// The `{param}` names of the path, in order.
    pub fn path_params(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect()
    }

    /// The path with each `{param}` replaced from `values`, plus the required query
    /// parameters from `values` too (panics on a missing one).
    pub fn fill(&self, values: &BTreeMap<String, String>) -> String {
        let get = |name: &str| {
            values
                .get(name)
                .unwrap_or_else(|| panic!("{}: no value for {name:?}", self.label()))
                .clone()
        };
        let query: Vec<String> = self
            .required_query
            .iter()
            .map(|name| format!("{name}={}", get(name)))
            .collect();
        let path = self
            .path
            .split('/')
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => get(name),
                    None => segment.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }

    /// The path parameters and required query parameters `fill` needs.
    pub fn params(&self) -> Vec<String> {
        let mut all = self.path_params();
        all.extend(self.required_query.iter().cloned());
        all
    }

    pub fn is_mutation(&self) -> bool {
        !matches!(
            self.method,
            reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::OPTIONS
        )
    }
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Every operation of an OpenAPI document, sorted by path then method.
pub fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let paths = spec["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("the OpenAPI document has no paths object"));
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .expect("an HTTP method");
            let body_types = op["requestBody"]["content"]
                .as_object()
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default();
            let required_query = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query" && p["required"] == Value::Bool(true))
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation {
                method,
                required_query,
                path: path.clone(),
                operation_id: op["operationId"].as_str().unwrap_or_default().to_string(),
                declared: op["x-tfr-scope"].as_str().map(str::to_string),
                body_types,
            });
        }
    }
    out.sort_by(|a, b| (&a.path, a.method.as_str()).cmp(&(&b.path, b.method.as_str())));
    out
}

/// `GET /openapi.json` from the running server.
pub async fn fetch_spec(reg: &TestRegistry) -> Value {
    let resp = reg.get_anonymous("/openapi.json").await;
    assert_eq!(resp.status().as_u16(), 200, "GET /openapi.json");
    resp.json().await.expect("the OpenAPI document is JSON")
}

/// A scope that does not grant `required` (tfr's implications: `admin:*` grants all,
/// `X:write` grants `X:read`, `mirrors:manage` grants `mirrors:read`).
pub fn unrelated_scope(required: &str) -> &'static str {
    if required.starts_with("mirrors:") {
        "audit:read"
    } else {
        "mirrors:read"
    }
}

/// The read scope beside a write scope (`modules:write` -> `modules:read`), which must not
/// grant the write.
pub fn weaker_sibling(required: &str) -> Option<String> {
    let family = required.strip_suffix(":write")?;
    Some(format!("{family}:read"))
}

/// A made-up API key: the right shape (`tfr_` + 40 characters), never issued.
pub fn bogus_key() -> String {
    let tail: String = uuid::Uuid::new_v4().simple().to_string();
    format!("tfr_{}{}", &tail[..8], tail)
}

/// The UTC time `secs_from_now` seconds from now as RFC 3339 (`2026-01-31T12:00:00Z`).
pub fn rfc3339_from_now(secs_from_now: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let t = now + secs_from_now;
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    /// A provider upload (multipart).
    Provider(ProviderUpload),
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `errors[0]`, or the raw text.
    pub fn message(&self) -> String {
        self.json()["errors"][0]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| self.text.chars().take(300).collect())
    }

    pub fn is_refusal(&self) -> bool {
        self.status == 401 || self.status == 403
    }
}

/// A request with an optional bearer token, optional `X-Request-Id` and extra headers.
pub struct Call<'a> {
    pub method: reqwest::Method,
    pub path: String,
    pub bearer: Option<&'a str>,
    pub body: Body,
    pub request_id: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl<'a> Call<'a> {
    pub fn new(method: reqwest::Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            bearer: None,
            body: Body::None,
            request_id: None,
            headers: Vec::new(),
        }
    }

    pub fn bearer(mut self, token: Option<&'a str>) -> Self {
        self.bearer = token;
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.body(Body::Json(body))
    }

    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub async fn send(self, reg: &TestRegistry) -> Reply {
        let label = format!("{} {}", self.method, self.path);
        let mut req = reg.client.request(self.method, reg.url(&self.path));
        if let Some(token) = self.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(id) = &self.request_id {
            req = req.header("x-request-id", id);
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        req = match self.body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(content_type, bytes) => req.header("content-type", content_type).body(bytes),
            Body::Provider(upload) => req.multipart(upload.form()),
        };
        let resp = req.send().await.unwrap_or_else(|e| panic!("{label}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            text,
        }
    }
}

/// A fresh request id (`<label>-<uuid>`), to find the audit row of one request.
pub fn request_id(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

/// Every audit row matching `query` (`action=...&resource=...`, may be empty), newest
/// first, all pages, read with `audit_key` (which needs `audit:read`).
pub async fn audit_rows(reg: &TestRegistry, audit_key: &str, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut offset = 0;
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let path = format!("/api/v1/admin/audit-logs?{query}{sep}limit=500&offset={offset}");
        let reply = Call::new(reqwest::Method::GET, &path)
            .bearer(Some(audit_key))
            .send(reg)
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let page = reply.json();
        let items = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no items in {page}"))
            .clone();
        let total = page["total"].as_u64().unwrap_or(0);
        offset += items.len() as u64;
        let empty = items.is_empty();
        rows.extend(items);
        if empty || offset >= total {
            return rows;
        }
    }
}

/// How many rows the audit log holds.
pub async fn audit_total(reg: &TestRegistry, audit_key: &str) -> u64 {
    let reply = Call::new(reqwest::Method::GET, "/api/v1/admin/audit-logs?limit=1")
        .bearer(Some(audit_key))
        .send(reg)
        .await;
    assert_eq!(reply.status, 200, "audit log: {}", reply.text);
    reply.json()["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("audit log: no total in {}", reply.text))
}

/// The `n` newest audit rows (newest first).
pub async fn newest_audit_rows(reg: &TestRegistry, audit_key: &str, n: u64) -> Vec<Value> {
    let path = format!("/api/v1/admin/audit-logs?limit={}", n.clamp(1, 500));
    let reply = Call::new(reqwest::Method::GET, &path)
        .bearer(Some(audit_key))
        .send(reg)
        .await;
    assert_eq!(reply.status, 200, "audit log: {}", reply.text);
    let mut items = reply.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    items.truncate(n as usize);
    items
}

/// The outcome tfr records for a status: `success` (2xx, 3xx), `denied` (401, 403, 429)
/// or `failed`.
pub fn expected_outcome(status: u16) -> &'static str {
    match status {
        200..=399 => "success",
        401 | 403 | 429 => "denied",
        _ => "failed",
    }
}

/// The audit rows of one request (by the `X-Request-Id` it was sent with).
pub async fn audit_rows_of(reg: &TestRegistry, audit_key: &str, request_id: &str) -> Vec<Value> {
    audit_rows(reg, audit_key, "")
        .await
        .into_iter()
        .filter(|r| r["request_id"].as_str() == Some(request_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Requirement::parse("public"), Ok(Requirement::Public));
        assert_eq!(
            Requirement::parse("authenticated"),
            Ok(Requirement::Authenticated)
        );
        assert_eq!(
            Requirement::parse("audit:read (global)"),
            Ok(Requirement::Global("audit:read".into()))
        );
        assert_eq!(
            Requirement::parse("organizations:read (organization)"),
            Ok(Requirement::Organization("organizations:read".into()))
        );
        assert_eq!(
            Requirement::parse("modules:write (namespace)"),
            Ok(Requirement::Namespace("modules:write".into()))
        );
        assert_eq!(
            Requirement::parse(
                "modules:read (namespace; open with anonymous read or a public namespace)"
            ),
            Ok(Requirement::NamespaceRead("modules:read".into()))
        );
        assert_eq!(
            Requirement::parse("modules:read (filtered; open with anonymous read)"),
            Ok(Requirement::Listing("modules:read".into()))
        );
        assert_eq!(
            Requirement::parse("providers:read (any organization; open with anonymous read)"),
            Ok(Requirement::AnyOrganization("providers:read".into()))
        );
        assert!(Requirement::parse("providers:read (any organization)").is_err());
        assert!(Requirement::parse("modules:read").is_err());
        assert!(Requirement::parse("whatever (global)").is_err());
        assert!(Requirement::parse("modules:read (sometimes)").is_err());
    }

    #[test]
    fn rfc3339() {
        let now = rfc3339_from_now(0);
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
        assert!(rfc3339_from_now(86_400) > now);
        assert!(rfc3339_from_now(-86_400) < now);
    }

    #[test]
    fn scope_helpers() {
        assert_eq!(unrelated_scope("modules:write"), "mirrors:read");
        assert_eq!(unrelated_scope("mirrors:read"), "audit:read");
        assert_eq!(
            weaker_sibling("modules:write").as_deref(),
            Some("modules:read")
        );
        assert_eq!(weaker_sibling("audit:read"), None);
        let key = bogus_key();
        assert!(key.starts_with("tfr_") && key.len() == 44, "{key}");
    }
}
