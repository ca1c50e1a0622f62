//! A throwaway certificate authority for TLS tests.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A CA and a server certificate (SANs `localhost` and `127.0.0.1`) signed by it, written as
/// `ca.pem`, `cert.pem` and `key.pem` into a temporary directory that lives as long as this value.
pub struct TestCa {
    dir: tempfile::TempDir,
    /// PEM of the CA certificate (what clients trust).
    pub ca_pem: String,
    /// PEM of the server certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of the server's private key.
    pub key_pem: String,
}

impl TestCa {
    pub fn new() -> anyhow::Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "tfr test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::V4(
                std::net::Ipv4Addr::LOCALHOST,
            )));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.is_ca = IsCa::ExplicitNoCa;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;

        let dir = tempfile::Builder::new().prefix("tfr-ca-").tempdir()?;
        let this = Self {
            dir,
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        std::fs::write(this.ca_file(), &this.ca_pem).context("writing ca.pem")?;
        std::fs::write(this.cert_file(), &this.cert_pem).context("writing cert.pem")?;
        std::fs::write(this.key_file(), &this.key_pem).context("writing key.pem")?;
        Ok(this)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// A reqwest client that trusts exactly this CA (and nothing else).
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?;
        Ok(base_client_builder().tls_certs_only([ca]).build()?)
    }
}

/// Client settings shared by every test client: no proxy (loopback only), no redirects
/// followed (tests assert on 302s themselves), a generous timeout.
pub fn base_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
}
