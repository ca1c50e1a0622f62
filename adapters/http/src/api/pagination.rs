//! `meta` pagination as the public registry's listing API shapes it.

use poem_openapi::Object;

pub const DEFAULT_LIMIT: u64 = 15;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Clone, Object)]
pub struct PageMeta {
    /// The limit actually applied, after clamping.
    pub limit: u64,
    pub current_offset: u64,
    #[oai(skip_serializing_if_is_none)]
    pub next_offset: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub prev_offset: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub next_url: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub prev_url: Option<String>,
}

pub fn clamp_limit(limit: Option<u64>) -> u64 {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// Builds `meta`; `base` is the path plus any filter query (`?q=x` or empty).
pub fn meta(
    base_path: &str,
    filters: &[(&str, String)],
    limit: u64,
    offset: u64,
    has_more: bool,
) -> PageMeta {
    let url = |off: u64| {
        let mut query: Vec<String> = filters
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        query.push(format!("limit={limit}"));
        query.push(format!("offset={off}"));
        format!("{base_path}?{}", query.join("&"))
    };
    let next = has_more.then_some(offset + limit);
    let prev = (offset > 0).then(|| offset.saturating_sub(limit));
    PageMeta {
        limit,
        current_offset: offset,
        next_offset: next,
        prev_offset: prev,
        next_url: next.map(url),
        prev_url: prev.map(url),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
