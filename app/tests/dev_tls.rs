//! `--dev-tls`: the local CA and server certificate, made once and reused.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tfr::dev_tls;

/// Verifies `cert` for `name` the way a TLS client trusting only `ca` would.
fn verify(ca: &Path, cert: &Path, name: &str) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(der.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap();
    let chain: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &server_name, &[], UnixTime::now())
        .map(drop)
}

#[test]
fn makes_a_ca_and_a_certificate_for_localhost_and_loopback() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("dev-tls");
    let tls = dev_tls::ensure(&dir, None).unwrap();
    assert!(!tls.reused);
    for file in [&tls.ca_cert, &tls.cert, &tls.key] {
        assert!(file.is_file(), "{} missing", file.display());
        assert!(file.is_absolute());
    }
    assert!(tls.names.contains(&"localhost".to_string()));
    assert!(tls.names.contains(&"127.0.0.1".to_string()));

    verify(&tls.ca_cert, &tls.cert, "localhost").unwrap();
    verify(&tls.ca_cert, &tls.cert, "127.0.0.1").unwrap();
    assert!(verify(&tls.ca_cert, &tls.cert, "example.com").is_err());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tls.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(dir.join("ca-key.pem"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn second_call_reuses_the_files() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("dev-tls");
    let first = dev_tls::ensure(&dir, None).unwrap();
    let ca = std::fs::read(&first.ca_cert).unwrap();
    let cert = std::fs::read(&first.cert).unwrap();
    let key = std::fs::read(&first.key).unwrap();

    let second = dev_tls::ensure(&dir, None).unwrap();
    assert!(second.reused);
    assert_eq!(second.cert, first.cert);
    assert_eq!(std::fs::read(&second.ca_cert).unwrap(), ca);
    assert_eq!(std::fs::read(&second.cert).unwrap(), cert);
    assert_eq!(std::fs::read(&second.key).unwrap(), key);
}

#[test]
fn public_url_host_is_added_under_the_same_ca() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("dev-tls");
    let first = dev_tls::ensure(&dir, None).unwrap();
    let ca = std::fs::read(&first.ca_cert).unwrap();

    let with_host = dev_tls::ensure(&dir, Some("https://registry.example.test:8443")).unwrap();
    assert!(
        !with_host.reused,
        "a new name means a new server certificate"
    );
    assert_eq!(
        std::fs::read(&with_host.ca_cert).unwrap(),
        ca,
        "the CA users trust is kept"
    );
    verify(&with_host.ca_cert, &with_host.cert, "registry.example.test").unwrap();
    verify(&with_host.ca_cert, &with_host.cert, "localhost").unwrap();
}

#[test]
fn trust_hint_names_ssl_cert_file() {
    let data = tempfile::tempdir().unwrap();
    let tls = dev_tls::ensure(&data.path().join("dev-tls"), None).unwrap();
    let hint = dev_tls::trust_hint(&tls, "https://127.0.0.1:8443");
    assert!(
        hint.contains(&format!("export SSL_CERT_FILE={}", tls.ca_cert.display())),
        "{hint}"
    );
    assert!(hint.contains("credentials \"127.0.0.1:8443\""), "{hint}");
    assert!(hint.contains("macOS"), "{hint}");
}
