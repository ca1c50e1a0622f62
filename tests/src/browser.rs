//! A browser without a screen for sign-in flows: a cookie jar that behaves like a browser's
//! (host, path, `Secure`, expiry) and redirects followed by hand, one hop at a time, across
//! tfr and the identity provider.
//!
//! reqwest's own cookie store is not used: it is not compiled in, and a browser's rules are
//! what the tests are about. As in browsers, cookies ignore the port (tfr and the identity
//! provider share the host `127.0.0.1`, so the jar holds both sides' cookies), and a
//! loopback origin (`http://127.0.0.1`, `http://localhost`) counts as secure: `Secure`
//! cookies are stored from it and sent to it, as Chrome and Firefox do.
//!
//! ```ignore
//! let browser = Browser::new()?;
//! let hops = browser.follow(&login_url, |hop| hop.url.path() == "/api/v1/auth/callback").await?;
//! let session = browser.cookie("tfr_session");
//! ```

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::ca::{TestCa, base_client_builder};

const MAX_HOPS: usize = 30;

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Hop {
    pub method: Method,
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    /// The raw `Set-Cookie` headers of the answer.
    pub set_cookies: Vec<String>,
    /// `Location`, resolved against [`Hop::url`].
    pub location: Option<Url>,
    pub body: String,
}

impl Hop {
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status) && self.location.is_some()
    }

    /// The `Set-Cookie` of this answer for `name` (the last one when several).
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        self.set_cookies
            .iter()
            .filter_map(|c| SetCookie::parse(c))
            .rfind(|c| c.name == name)
    }

    /// The raw `Location` header.
    pub fn location_header(&self) -> Option<&str> {
        self.headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: status {}, body is not JSON ({e}): {:?}",
                self.method, self.url, self.status, self.body
            )
        })
    }

    /// `METHOD url -> status [-> location]`, for assertion messages.
    pub fn describe(&self) -> String {
        match &self.location {
            Some(to) => format!("{} {} -> {} -> {to}", self.method, self.url, self.status),
            None => format!("{} {} -> {}", self.method, self.url, self.status),
        }
    }
}

/// A chain of hops, for assertion messages.
pub fn describe_hops(hops: &[Hop]) -> String {
    hops.iter()
        .map(Hop::describe)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A parsed `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    /// As written (`Lax`, `Strict`, `None`).
    pub same_site: Option<String>,
    pub max_age: Option<i64>,
    /// `Expires`, in seconds since the epoch.
    pub expires: Option<i64>,
}

impl SetCookie {
    pub fn parse(header: &str) -> Option<SetCookie> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let mut cookie = SetCookie {
            name: name.to_string(),
            value: value.trim().trim_matches('"').to_string(),
            path: None,
            domain: None,
            secure: false,
            http_only: false,
            same_site: None,
            max_age: None,
            expires: None,
        };
        for attr in parts {
            let (key, val) = match attr.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (attr.trim(), None),
            };
            match (key.to_ascii_lowercase().as_str(), val) {
                ("path", Some(v)) => cookie.path = Some(v.to_string()),
                ("domain", Some(v)) => cookie.domain = Some(v.trim_start_matches('.').into()),
                ("secure", _) => cookie.secure = true,
                ("httponly", _) => cookie.http_only = true,
                ("samesite", Some(v)) => cookie.same_site = Some(v.to_string()),
                ("max-age", Some(v)) => cookie.max_age = v.parse().ok(),
                ("expires", Some(v)) => cookie.expires = parse_http_date(v),
                _ => {}
            }
        }
        Some(cookie)
    }
}

/// A cookie in the jar.
#[derive(Debug, Clone)]
struct StoredCookie {
    name: String,
    value: String,
    host: String,
    path: String,
    secure: bool,
    expires_at: Option<SystemTime>,
}

impl StoredCookie {
    fn expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A browser: one cookie jar, redirects followed by hand.
pub struct Browser {
    client: reqwest::Client,
    jar: Mutex<Vec<StoredCookie>>,
}

impl Browser {
    /// Trusts no test CA: for plain HTTP servers.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_builder(base_client_builder())
    }

    /// Trusts exactly `ca` over HTTPS (plain HTTP, e.g. the identity provider, works too).
    pub fn trusting(ca: &TestCa) -> anyhow::Result<Self> {
        let pem = std::fs::read(ca.ca_file()).context("reading the test CA")?;
        let cert = reqwest::Certificate::from_pem(&pem)?;
        Self::with_builder(base_client_builder().tls_certs_only([cert]))
    }

    fn with_builder(builder: reqwest::ClientBuilder) -> anyhow::Result<Self> {
        // `localhost` is 127.0.0.1, never ::1 (terraform's login listener is tcp4) and never
        // a proxy (the base builder sets no_proxy).
        let client = builder
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            jar: Mutex::new(Vec::new()),
        })
    }

    /// GET `url` (one hop: redirects are not followed).
    pub async fn get(&self, url: &str) -> anyhow::Result<Hop> {
        self.send(Method::GET, url, &[], None).await
    }

    /// POST `url` without a body.
    pub async fn post(&self, url: &str, headers: &[(&str, &str)]) -> anyhow::Result<Hop> {
        self.send(Method::POST, url, headers, None).await
    }

    /// One request with the jar's cookies for `url`; the answer's cookies go into the jar.
    /// `body` is `(content type, bytes)`.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Hop> {
        let url = Url::parse(url).with_context(|| format!("URL {url:?}"))?;
        let mut request = self.client.request(method.clone(), url.clone());
        if let Some(cookies) = self.cookie_header(&url) {
            request = request.header(reqwest::header::COOKIE, cookies);
        }
        for (name, value) in headers {
            request = request.header(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        if let Some((content_type, bytes)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for header in &set_cookies {
            self.store(&url, header);
        }
        let location = match headers.get(reqwest::header::LOCATION).map(|v| v.to_str()) {
            Some(Ok(text)) => Some(
                url.join(text)
                    .with_context(|| format!("bad Location {text:?} at {url}"))?,
            ),
            _ => None,
        };
        let body = response.text().await.unwrap_or_default();
        Ok(Hop {
            method,
            url,
            status,
            headers,
            set_cookies,
            location,
            body,
        })
    }

    /// GETs `url` and follows redirects (as GETs) until `stop` says so for a hop, or an
    /// answer is not a redirect. Returns every hop; the last is the one that stopped.
    pub async fn follow(
        &self,
        url: &str,
        mut stop: impl FnMut(&Hop) -> bool,
    ) -> anyhow::Result<Vec<Hop>> {
        let mut hops = Vec::new();
        let mut next = url.to_string();
        for _ in 0..MAX_HOPS {
            let hop = self.get(&next).await?;
            let done = stop(&hop) || !hop.is_redirect();
            let location = hop.location.clone();
            hops.push(hop);
            if done {
                return Ok(hops);
            }
            next = location.expect("a redirect has a Location").to_string();
        }
        anyhow::bail!(
            "more than {MAX_HOPS} redirects from {url}:\n{}",
            describe_hops(&hops)
        )
    }

    /// Follows redirects from `url` until one points at an address starting with `prefix`
    /// (not requested: the last hop is that redirect). Fails when the chain ends elsewhere.
    pub async fn follow_to(&self, url: &str, prefix: &str) -> anyhow::Result<Vec<Hop>> {
        let hops = self
            .follow(url, |hop| {
                hop.location
                    .as_ref()
                    .is_some_and(|l| l.as_str().starts_with(prefix))
            })
            .await?;
        let last = hops.last().expect("at least one hop");
        anyhow::ensure!(
            last.location
                .as_ref()
                .is_some_and(|l| l.as_str().starts_with(prefix)),
            "the redirects from {url} never reached {prefix}:\n{}\nlast body: {}",
            describe_hops(&hops),
            last.body.chars().take(1000).collect::<String>()
        );
        Ok(hops)
    }

    /// The value of cookie `name` (any host or path; the first found), if live.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let now = SystemTime::now();
        self.jar
            .lock()
            .unwrap()
            .iter()
            .find(|c| c.name == name && !c.expired(now))
            .map(|c| c.value.clone())
    }

    /// Changes the value of every stored cookie called `name` (e.g. to tamper with it).
    /// Returns whether there was one.
    pub fn replace_cookie_value(&self, name: &str, value: &str) -> bool {
        let mut jar = self.jar.lock().unwrap();
        let mut found = false;
        for cookie in jar.iter_mut().filter(|c| c.name == name) {
            cookie.value = value.to_string();
            found = true;
        }
        found
    }

    /// Forgets every cookie called `name`.
    pub fn remove_cookie(&self, name: &str) {
        self.jar.lock().unwrap().retain(|c| c.name != name);
    }

    /// The `Cookie` header a browser would send to `url`.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let secure = secure_origin(url);
        let path = url.path();
        let now = SystemTime::now();
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|c| !c.expired(now));
        let mut matching: Vec<&StoredCookie> = jar
            .iter()
            .filter(|c| c.host == host && path_matches(&c.path, path) && (secure || !c.secure))
            .collect();
        // Longer paths first (RFC 6265 5.4).
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        if matching.is_empty() {
            return None;
        }
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Stores a `Set-Cookie` received from `url` as a browser would.
    pub fn store(&self, url: &Url, header: &str) {
        let Some(parsed) = SetCookie::parse(header) else {
            return;
        };
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return;
        };
        if parsed.secure && !secure_origin(url) {
            // Browsers refuse Secure cookies from insecure origins.
            return;
        }
        let path = match &parsed.path {
            Some(p) if p.starts_with('/') => p.clone(),
            _ => default_path(url.path()),
        };
        let now = SystemTime::now();
        let expires_at = match (parsed.max_age, parsed.expires) {
            (Some(age), _) if age <= 0 => Some(UNIX_EPOCH),
            (Some(age), _) => Some(now + Duration::from_secs(age.unsigned_abs())),
            (None, Some(at)) => Some(UNIX_EPOCH + Duration::from_secs(at.max(0).unsigned_abs())),
            (None, None) => None,
        };
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|c| !(c.name == parsed.name && c.host == host && c.path == path));
        let cookie = StoredCookie {
            name: parsed.name,
            value: parsed.value,
            host,
            path,
            secure: parsed.secure,
            expires_at,
        };
        if !cookie.expired(now) {
            jar.push(cookie);
        }
    }
}

/// HTTPS, or a loopback host (browsers treat those as secure contexts).
fn secure_origin(url: &Url) -> bool {
    url.scheme() == "https"
        || matches!(
            url.host_str(),
            Some("localhost") | Some("127.0.0.1") | Some("[::1]")
        )
}

/// RFC 6265 5.1.4.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 5.1.4: the request path up to its last `/` (`/` when none).
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => request_path[..i].to_string(),
    }
}

/// An HTTP date (`Thu, 01 Jan 1970 00:00:00 GMT`, or with dashes) in seconds since the epoch.
fn parse_http_date(text: &str) -> Option<i64> {
    let tokens: Vec<&str> = text
        .split([' ', '-', ','])
        .filter(|t| !t.is_empty())
        .collect();
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time = None;
    for token in tokens {
        if token.contains(':') {
            let hms: Vec<i64> = token.split(':').filter_map(|p| p.parse().ok()).collect();
            if hms.len() == 3 {
                time = Some(hms[0] * 3600 + hms[1] * 60 + hms[2]);
            }
        } else if let Ok(n) = token.parse::<i64>() {
            if day.is_none() && token.len() <= 2 {
                day = Some(n);
            } else {
                year = Some(if n < 100 {
                    n + 1900 + if n < 70 { 100 } else { 0 }
                } else {
                    n
                });
            }
        } else if let Some(m) = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .iter()
        .position(|m| token.to_ascii_lowercase().starts_with(m))
        {
            month = Some(m as i64 + 1);
        }
    }
    let (y, m, d) = (year?, month?, day?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + time.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(
            parse_http_date("Wed, 21-Oct-2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
    }

    #[test]
    fn paths() {
        assert!(path_matches("/", "/api"));
        assert!(path_matches(
            "/api/v1/auth/callback",
            "/api/v1/auth/callback"
        ));
        assert!(!path_matches("/api/v1/auth/callback", "/api/v1/auth/me"));
        assert!(!path_matches("/api", "/apix"));
        assert_eq!(default_path("/a/b"), "/a");
        assert_eq!(default_path("/a"), "/");
    }

    #[test]
    fn jar_rules() {
        let browser = Browser::new().unwrap();
        let tfr = Url::parse("http://127.0.0.1:8080/api/v1/auth/login").unwrap();
        browser.store(
            &tfr,
            "tfr_sso=abc; Path=/api/v1/auth/callback; Secure; SameSite=Lax; Max-Age=600; HttpOnly",
        );
        browser.store(&tfr, "a=1; Path=/");
        let callback = Url::parse("http://127.0.0.1:9/api/v1/auth/callback?code=x").unwrap();
        assert_eq!(
            browser.cookie_header(&callback).as_deref(),
            Some("tfr_sso=abc; a=1")
        );
        let other = Url::parse("http://127.0.0.1:8080/api/v1/auth/me").unwrap();
        assert_eq!(browser.cookie_header(&other).as_deref(), Some("a=1"));
        // Secure cookies neither come from nor go to a non-loopback plain HTTP origin.
        let remote = Url::parse("http://example.test/").unwrap();
        browser.store(&remote, "s=1; Secure");
        browser.store(&remote, "p=1");
        assert_eq!(browser.cookie_header(&remote).as_deref(), Some("p=1"));
        // Deletion.
        browser.store(&tfr, "a=; Path=/; Max-Age=0");
        assert_eq!(browser.cookie_header(&other), None);
        browser.store(&remote, "p=gone; expires=Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(browser.cookie_header(&remote), None);
    }
}
