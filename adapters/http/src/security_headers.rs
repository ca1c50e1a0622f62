//! The HTTP security settings, and the headers every response carries (errors included):
//! a per-request nonce-based Content-Security-Policy, `nosniff`, framing refused, no
//! referrer, and HSTS when the registry is served over TLS.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use poem::http::{HeaderValue, header};
use poem::{Body, Endpoint, Middleware, Request, Response, Result};
use serde::{Deserialize, Serialize};

use crate::rate_limit::RateLimits;

/// What the app decides about the HTTP layer's defences (filled from its settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSecurity {
    /// Clients reach the registry over HTTPS (directly or through a TLS-terminating
    /// proxy): responses carry `Strict-Transport-Security`. Set it whenever the public
    /// URL is `https://`.
    pub tls: bool,
    /// Browser origins (`https://ui.example.com`) allowed to call the API with
    /// credentials. Empty (the default): no CORS headers at all, and every preflight is
    /// refused; the UI served by the registry itself is same-origin and needs none.
    pub cors_allowed_origins: Vec<String>,
    pub rate_limits: RateLimits,
    /// Take the client address from the first `X-Forwarded-For` entry (only behind a
    /// proxy that sets it; otherwise clients choose their own rate-limit bucket).
    pub trust_forwarded_for: bool,
}

impl HttpSecurity {
    /// Checks the settings; the error names the offending value.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for origin in &self.cors_allowed_origins {
            crate::cors::check_origin(origin)?;
        }
        Ok(())
    }
}

/// The nonce of this request's Content-Security-Policy. Handlers that render HTML may
/// put it on inline `<script>`/`<style>` tags themselves; the middleware also adds it to
/// every such tag of a `text/html` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(pub String);

/// HTML bodies larger than this are passed through unchanged (their inline scripts then
/// do not run). The largest page served is the Swagger UI, about 1.6 MB with its bundle
/// inlined.
pub const MAX_NONCE_INJECTION_BYTES: usize = 4 * 1024 * 1024;

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The security headers middleware. See the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityHeaders {
    tls: bool,
}

impl SecurityHeaders {
    pub fn new(tls: bool) -> Self {
        Self { tls }
    }
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint {
            inner: ep,
            tls: self.tls,
        }
    }
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    tls: bool,
}

/// 128 bits from the thread-local CSPRNG (ChaCha, seeded and reseeded from the OS).
fn new_nonce() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The policy for one response. Inline scripts and styles run only with the nonce (the
/// Swagger UI's inline bundle, stylesheet and bootstrap script get it injected);
/// `img-src data:` covers the icons the Swagger UI stylesheet embeds; `connect-src 'self'`
/// lets its "try it out" call the API.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'"
    )
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let nonce = new_nonce();
        req.set_data(CspNonce(nonce.clone()));
        let mut resp = self.inner.get_response(req).await;
        let headers = resp.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        // Links carry secrets in their query strings (signed download links, the SSO
        // callback's code and state): never send them on as a referrer.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if self.tls {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        // A handler that set its own policy knows what its page needs: keep it, and
        // leave its body alone.
        if headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            return Ok(resp);
        }
        if let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        if is_html(&resp) {
            resp = add_nonce_to_html(resp, &nonce).await;
        }
        Ok(resp)
    }
}

fn is_html(resp: &Response) -> bool {
    let html = resp.content_type().is_some_and(|ct| {
        ct.get(..9)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    });
    html && !resp.headers().contains_key(header::CONTENT_ENCODING)
}

/// Reads the body up to [`MAX_NONCE_INJECTION_BYTES`] and adds the nonce to its inline
/// script and style tags; a larger (or failing) body is passed on unchanged, streamed.
async fn add_nonce_to_html(mut resp: Response, nonce: &str) -> Response {
    let mut stream = Box::pin(resp.take_body().into_bytes_stream());
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                buf.extend_from_slice(&chunk);
                if buf.len() > MAX_NONCE_INJECTION_BYTES {
                    let head = futures::stream::once(async move { Ok(buf.freeze()) });
                    resp.set_body(Body::from_bytes_stream(head.chain(stream)));
                    return resp;
                }
            }
            Err(err) => {
                let head = futures::stream::iter([Ok(buf.freeze()), Err(err)]);
                resp.set_body(Body::from_bytes_stream(head));
                return resp;
            }
        }
    }
    let html = inject_nonce(&buf, nonce);
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    // A page carrying a one-time nonce is not reused from a cache, unless its handler
    // decided otherwise.
    resp.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp.set_body(Bytes::from(html));
    resp
}

/// Adds `nonce="<nonce>"` to every `<script` and `<style` opening tag of an HTML
/// document. The contents of script and style elements (raw text, which may well hold
/// the string `<script`) and comments are copied untouched.
pub fn inject_nonce(html: &[u8], nonce: &str) -> Vec<u8> {
    let attribute = format!(" nonce=\"{nonce}\"");
    let mut out = Vec::with_capacity(html.len() + 8 * attribute.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(lt) = find_byte(html, b'<', at) {
        let rest = &html[lt..];
        if rest.starts_with(b"<!--") {
            at = find(html, b"-->", lt + 4).map_or(html.len(), |end| end + 3);
            continue;
        }
        let Some(name) = raw_text_element(rest) else {
            at = lt + 1;
            continue;
        };
        let name_end = lt + 1 + name.len();
        out.extend_from_slice(&html[copied..name_end]);
        out.extend_from_slice(attribute.as_bytes());
        copied = name_end;
        // The element's contents end at the first `</name`, whatever they hold.
        let close: Vec<u8> = [&b"</"[..], name].concat();
        at = find_ignore_case(html, &close, name_end).unwrap_or(html.len());
    }
    out.extend_from_slice(&html[copied..]);
    out
}

/// `script` or `style` when `tag` opens one of them (`<script>`, `<SCRIPT src=..>`).
fn raw_text_element(tag: &[u8]) -> Option<&'static [u8]> {
    for name in [&b"script"[..], b"style"] {
        let Some(candidate) = tag.get(1..1 + name.len()) else {
            continue;
        };
        let next = tag.get(1 + name.len()).copied();
        if candidate.eq_ignore_ascii_case(name)
            && matches!(
                next,
                Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'>' | b'/')
            )
        {
            return Some(name);
        }
    }
    None
}

fn find_byte(hay: &[u8], byte: u8, from: usize) -> Option<usize> {
    hay.get(from..)?
        .iter()
        .position(|b| *b == byte)
        .map(|p| p + from)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ignore_case(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(pos) = find_byte(hay, needle[0], at) {
        if hay
            .get(pos..pos + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(pos);
        }
        at = pos + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inject(html: &str) -> String {
        String::from_utf8(inject_nonce(html.as_bytes(), "N")).unwrap()
    }

    #[test]
    fn tags_get_the_nonce() {
        assert_eq!(
            inject(
                "<html><head><style>a{}</style><script src=\"/x.js\"></script></head><SCRIPT>1</SCRIPT></html>"
            ),
            "<html><head><style nonce=\"N\">a{}</style><script nonce=\"N\" src=\"/x.js\"></script></head><SCRIPT nonce=\"N\">1</SCRIPT></html>"
        );
    }

    #[test]
    fn contents_and_comments_are_left_alone() {
        let html = "<script>let s = \"<script>\"; let t = '<style>';</script><!-- <script> --><p><scripts></p><stylesheet>";
        assert_eq!(
            inject(html),
            "<script nonce=\"N\">let s = \"<script>\"; let t = '<style>';</script><!-- <script> --><p><scripts></p><stylesheet>"
        );
        assert_eq!(
            inject("<style>p::before{content:\"<script>\"}</style><script\n>x</script>"),
            "<style nonce=\"N\">p::before{content:\"<script>\"}</style><script nonce=\"N\"\n>x</script>"
        );
    }

    #[test]
    fn unterminated_input_is_copied() {
        assert_eq!(
            inject("<script>never closed"),
            "<script nonce=\"N\">never closed"
        );
        assert_eq!(
            inject("<!-- never closed <script>"),
            "<!-- never closed <script>"
        );
        assert_eq!(inject("text <"), "text <");
        assert_eq!(inject("<scr"), "<scr");
        assert_eq!(inject(""), "");
    }

    #[test]
    fn swagger_ui_page_keeps_its_bundle_intact() {
        let page = crate::service().swagger_ui_html();
        let injected = inject(&page);
        let opening = |s: &str| s.matches("<script").count() + s.matches("<style").count();
        assert_eq!(injected.matches("nonce=\"N\"").count(), 3);
        assert_eq!(
            injected.len(),
            page.len() + 3 * " nonce=\"N\"".len(),
            "only the three opening tags change"
        );
        assert_eq!(opening(&injected), opening(&page));
    }

    #[test]
    fn policy_names_the_nonce_for_scripts_and_styles() {
        let csp = content_security_policy("abc");
        assert!(csp.contains("script-src 'self' 'nonce-abc'"));
        assert!(csp.contains("style-src 'self' 'nonce-abc'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe"));
    }
}
