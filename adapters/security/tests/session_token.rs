//! The HS256 session token codec: what it accepts and, mostly, what it refuses.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tfr_ports::driven::{SessionClaims, SessionTokenCodec, TokenError};
use tfr_security::{JwtSessionCodec, SecurityConfigError};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(lifetime: i64) -> SessionClaims {
    SessionClaims {
        subject: uuid::Uuid::now_v7(),
        jti: "jti-1".into(),
        csrf: "csrf-1".into(),
        issued_at: now(),
        expires_at: now() + lifetime,
    }
}

fn codec() -> JwtSessionCodec {
    JwtSessionCodec::new(SECRET).unwrap()
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// The claims a real token carries, as JSON, for hand-made tokens.
fn payload_json(c: &SessionClaims, iss: &str, aud: &str) -> String {
    format!(
        r#"{{"sub":"{}","jti":"{}","csrf":"{}","iat":{},"exp":{},"iss":"{iss}","aud":"{aud}"}}"#,
        c.subject, c.jti, c.csrf, c.issued_at, c.expires_at
    )
}

#[derive(serde::Serialize)]
struct Raw<'a> {
    sub: String,
    jti: &'a str,
    csrf: &'a str,
    iat: i64,
    exp: i64,
    iss: &'a str,
    aud: &'a str,
}

fn raw(c: &SessionClaims, iss: &'static str, aud: &'static str) -> Raw<'static> {
    Raw {
        sub: c.subject.to_string(),
        jti: "jti-1",
        csrf: "csrf-1",
        iat: c.issued_at,
        exp: c.expires_at,
        iss,
        aud,
    }
}

#[test]
fn round_trip() {
    let codec = codec();
    let c = claims(3600);
    let token = codec.issue(&c);
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(codec.verify(&token), Ok(c));
}

#[test]
fn header_and_registered_claims() {
    let token = codec().issue(&claims(3600));
    let mut parts = token.split('.');
    let header = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    let body = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    assert!(header.contains(r#""alg":"HS256""#), "{header}");
    assert!(body.contains(r#""iss":"tfr""#), "{body}");
    assert!(body.contains(r#""aud":"tfr-session""#), "{body}");
    assert!(body.contains(r#""csrf":"csrf-1""#), "{body}");
}

#[test]
fn expired_token_is_reported_as_expired() {
    let codec = codec();
    let mut c = claims(0);
    c.issued_at -= 120;
    c.expires_at = now() - 1;
    let token = codec.issue(&c);
    assert_eq!(codec.verify(&token), Err(TokenError::Expired));
}

#[test]
fn no_leeway_for_recently_expired_tokens() {
    // jsonwebtoken's default leeway is 60 s; ours is zero.
    let codec = codec();
    let mut c = claims(0);
    c.expires_at = now() - 5;
    assert_eq!(codec.verify(&codec.issue(&c)), Err(TokenError::Expired));
}

#[test]
fn tampered_signature_is_invalid() {
    let codec = codec();
    let token = codec.issue(&claims(3600));
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig_bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig_bytes[0] ^= 1;
    let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig_bytes));
    assert_eq!(codec.verify(&forged), Err(TokenError::Invalid));
    assert_eq!(codec.verify(&format!("{head}.")), Err(TokenError::Invalid));
}

#[test]
fn tampered_claims_are_invalid() {
    let codec = codec();
    let c = claims(3600);
    let token = codec.issue(&c);
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut other = c.clone();
    other.subject = uuid::Uuid::now_v7();
    let body = b64(&payload_json(&other, "tfr", "tfr-session"));
    parts[1] = &body;
    assert_eq!(codec.verify(&parts.join(".")), Err(TokenError::Invalid));
}

#[test]
fn wrong_secret_is_invalid() {
    let token = JwtSessionCodec::new(OTHER_SECRET)
        .unwrap()
        .issue(&claims(3600));
    assert_eq!(codec().verify(&token), Err(TokenError::Invalid));
}

#[test]
fn expired_token_under_wrong_secret_is_invalid_not_expired() {
    let mut c = claims(0);
    c.expires_at = now() - 100;
    let token = JwtSessionCodec::new(OTHER_SECRET).unwrap().issue(&c);
    assert_eq!(codec().verify(&token), Err(TokenError::Invalid));
}

#[test]
fn alg_none_is_refused() {
    let c = claims(3600);
    let body = b64(&payload_json(&c, "tfr", "tfr-session"));
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        let head = b64(header);
        for token in [format!("{head}.{body}."), format!("{head}.{body}")] {
            assert_eq!(codec().verify(&token), Err(TokenError::Invalid), "{header}");
        }
    }
}

#[test]
fn hs512_token_with_the_right_secret_is_refused() {
    let c = claims(3600);
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &raw(&c, "tfr", "tfr-session"),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(codec().verify(&token), Err(TokenError::Invalid));
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &raw(&c, "tfr", "tfr-session"),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(codec().verify(&token), Err(TokenError::Invalid));
}

#[test]
fn hs256_signature_relabelled_as_rs256_is_refused() {
    // The classic key-confusion attack: an HMAC signature presented under a public-key
    // algorithm name.
    let codec = codec();
    let token = codec.issue(&claims(3600));
    let (_, rest) = token.split_once('.').unwrap();
    let forged = format!("{}.{rest}", b64(r#"{"alg":"RS256","typ":"JWT"}"#));
    assert_eq!(codec.verify(&forged), Err(TokenError::Invalid));
}

#[test]
fn wrong_issuer_or_audience_is_invalid() {
    let c = claims(3600);
    for (iss, aud) in [("other", "tfr-session"), ("tfr", "other"), ("tfr", "tfr")] {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &raw(&c, iss, aud),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            codec().verify(&token),
            Err(TokenError::Invalid),
            "{iss}/{aud}"
        );
    }
}

#[test]
fn missing_claims_are_invalid() {
    let c = claims(3600);
    let without_exp = format!(
        r#"{{"sub":"{}","jti":"j","csrf":"c","iat":1,"iss":"tfr","aud":"tfr-session"}}"#,
        c.subject
    );
    let without_aud = format!(
        r#"{{"sub":"{}","jti":"j","csrf":"c","iat":1,"exp":{},"iss":"tfr"}}"#,
        c.subject, c.expires_at
    );
    let bad_sub = format!(
        r#"{{"sub":"nobody","jti":"j","csrf":"c","iat":1,"exp":{},"iss":"tfr","aud":"tfr-session"}}"#,
        c.expires_at
    );
    for body in [without_exp, without_aud, bad_sub] {
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &value,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(codec().verify(&token), Err(TokenError::Invalid), "{body}");
    }
}

#[test]
fn garbage_is_invalid() {
    let codec = codec();
    for token in [
        "",
        "a",
        "a.b",
        "a.b.c",
        "...",
        "eyJ.eyJ.eyJ",
        &"x".repeat(10_000),
    ] {
        assert_eq!(codec.verify(token), Err(TokenError::Invalid), "{token:.20}");
    }
}

#[test]
fn short_secret_is_refused() {
    assert_eq!(
        JwtSessionCodec::new(&SECRET[..31]).unwrap_err(),
        SecurityConfigError::SecretTooShort {
            min: 32,
            actual: 31
        }
    );
    assert!(JwtSessionCodec::new(b"").is_err());
    assert!(JwtSessionCodec::new(SECRET).is_ok());
}

#[test]
fn debug_redacts_the_secret() {
    let shown = format!("{:?}", codec());
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
}
