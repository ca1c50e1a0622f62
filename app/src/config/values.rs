//! Parsers for values with more shape than a number: URLs and byte sizes.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// An absolute `https://` URL without query or fragment; `http://` only for a loopback
/// host (local development). Returned without a trailing slash.
pub(crate) fn validate_public_url(input: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(input.trim()).map_err(|e| {
        format!(
            "{input:?} is not an absolute URL ({e}); expected e.g. https://registry.example.com"
        )
    })?;
    let host = url.host_str().unwrap_or_default().to_string();
    if host.is_empty() {
        return Err(format!("{input:?} has no host"));
    }
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(format!(
                "{input:?} must be an https:// URL (terraform only talks to registries over https; got scheme {other})"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{input:?} must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{input:?} must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A byte count: an integer, or a string with an optional unit (`100MiB`, `1 GiB`, `512k`).
pub(super) fn byte_size<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct ByteSize;
    impl Visitor<'_> for ByteSize {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a byte count such as 104857600 or \"100MiB\"")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is negative")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_byte_size(v).map(Some).map_err(E::custom)
        }
    }
    deserializer.deserialize_any(ByteSize)
}

pub(crate) fn parse_byte_size(input: &str) -> Result<u64, String> {
    let s = input.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let number: u64 = digits.parse().map_err(|_| {
        format!("invalid byte size {input:?} (expected e.g. 104857600 or \"100MiB\")")
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => {
            return Err(format!(
                "invalid byte size {input:?}: unknown unit {unit:?} (use KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("byte size {input:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("100"), Ok(100));
        assert_eq!(parse_byte_size("100MiB"), Ok(100 * 1024 * 1024));
        assert_eq!(parse_byte_size("1 GiB"), Ok(1024 * 1024 * 1024));
        assert!(parse_byte_size("abc").is_err());
        assert!(parse_byte_size("10 parsecs").is_err());
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            validate_public_url("https://reg.example.com/"),
            Ok("https://reg.example.com".to_string())
        );
        assert_eq!(
            validate_public_url("https://reg.example.com/tfr/"),
            Ok("https://reg.example.com/tfr".to_string())
        );
        assert_eq!(
            validate_public_url("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".to_string())
        );
        assert!(validate_public_url("http://reg.example.com").is_err());
        assert!(validate_public_url("reg.example.com").is_err());
        assert!(validate_public_url("https://u:p@reg.example.com").is_err());
        assert!(validate_public_url("https://reg.example.com/?a=b").is_err());
    }
}
