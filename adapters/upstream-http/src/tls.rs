//! Trust anchors added to the system roots: `SSL_CERT_FILE` and the configured extra CA
//! files.
//!
//! reqwest 0.13 verifies with rustls-platform-verifier: the OS store on macOS and
//! Windows, and on Linux the roots rustls-native-certs loads. That crate reads *only*
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` once either is set, dropping the distribution's
//! bundle, whereas Go (terraform) and OpenSSL keep scanning their default locations, and
//! the macOS/Windows verifiers ignore the variable altogether. So that
//! `SSL_CERT_FILE=corp-ca.pem` means "also trust these" everywhere, its certificates are
//! handed to reqwest as extra roots, and on Linux, when `SSL_CERT_DIR` is unset, the
//! first readable system bundle (Go's list) is added back too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use reqwest::Certificate;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::UpstreamInitError;

/// Go's `crypto/x509/root_linux.go` certFiles: the first readable one is the system bundle.
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The process environment's view of the two variables (read once, at construction).
pub(crate) struct CertEnv {
    pub ssl_cert_file: Option<OsString>,
    pub ssl_cert_dir: Option<OsString>,
}

impl CertEnv {
    pub fn from_process() -> Self {
        Self {
            ssl_cert_file: std::env::var_os("SSL_CERT_FILE"),
            ssl_cert_dir: std::env::var_os("SSL_CERT_DIR"),
        }
    }
}

/// Every root to add to the platform's: `SSL_CERT_FILE` (plus the system bundle, see the
/// module docs) and `extra_ca_files`.
pub(crate) fn extra_roots(
    env: &CertEnv,
    extra_ca_files: &[PathBuf],
) -> Result<Vec<Certificate>, UpstreamInitError> {
    let mut ders = Vec::new();
    if let Some(file) = &env.ssl_cert_file {
        if !file.is_empty() {
            let path = PathBuf::from(file);
            let (usable, skipped) =
                read_bundle(&path).map_err(|reason| UpstreamInitError::SslCertFile {
                    path: path.clone(),
                    reason,
                })?;
            if skipped > 0 {
                tracing::warn!(path = %path.display(), skipped, "SSL_CERT_FILE: skipped certificates that are not usable trust anchors");
            }
            if usable.is_empty() {
                tracing::warn!(path = %path.display(), "SSL_CERT_FILE holds no usable certificate");
            }
            tracing::debug!(path = %path.display(), count = usable.len(), "trusting SSL_CERT_FILE");
            ders.extend(usable);
        }
        if env.ssl_cert_dir.as_ref().is_none_or(|d| d.is_empty()) {
            ders.extend(system_bundle());
        }
    }
    for path in extra_ca_files {
        let (usable, skipped) =
            read_bundle(path).map_err(|reason| UpstreamInitError::BadCaFile {
                path: path.clone(),
                reason,
            })?;
        if skipped > 0 || usable.is_empty() {
            return Err(UpstreamInitError::BadCaFile {
                path: path.clone(),
                reason: if usable.is_empty() {
                    "no usable PEM certificate in the file".to_string()
                } else {
                    format!("{skipped} certificate(s) are not usable trust anchors")
                },
            });
        }
        tracing::debug!(path = %path.display(), count = usable.len(), "trusting extra CA file");
        ders.extend(usable);
    }
    ders.iter()
        .map(|der| Certificate::from_der(der.as_ref()).map_err(UpstreamInitError::Client))
        .collect()
}

/// The certificates of a PEM file that rustls accepts as trust anchors, and how many it
/// does not.
fn read_bundle(path: &Path) -> Result<(Vec<CertificateDer<'static>>, usize), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut usable = Vec::new();
    let mut skipped = 0;
    for item in CertificateDer::pem_slice_iter(&bytes) {
        match item {
            Ok(der) if usable_anchor(&der) => usable.push(der),
            _ => skipped += 1,
        }
    }
    Ok((usable, skipped))
}

fn usable_anchor(der: &CertificateDer<'static>) -> bool {
    rustls::RootCertStore::empty().add(der.clone()).is_ok()
}

#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
fn system_bundle() -> Vec<CertificateDer<'static>> {
    for candidate in SYSTEM_BUNDLES {
        if let Ok((certs, _)) = read_bundle(Path::new(candidate))
            && !certs.is_empty()
        {
            tracing::debug!(
                path = candidate,
                count = certs.len(),
                "keeping the system CA bundle next to SSL_CERT_FILE"
            );
            return certs;
        }
    }
    Vec::new()
}

/// Elsewhere the platform verifier keeps the OS store whatever the environment says.
#[cfg(not(all(unix, not(target_vendor = "apple"), not(target_os = "android"))))]
fn system_bundle() -> Vec<CertificateDer<'static>> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ssl_cert_file_is_an_error_naming_the_path() {
        let env = CertEnv {
            ssl_cert_file: Some("/nonexistent/tfr-ca.pem".into()),
            ssl_cert_dir: Some("/nonexistent".into()),
        };
        let err = extra_roots(&env, &[]).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/tfr-ca.pem"), "{err}");
    }

    #[test]
    fn a_file_without_certificates_is_refused_as_an_extra_ca() {
        let dir = std::env::temp_dir().join(format!("tfr-upstream-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let env = CertEnv {
            ssl_cert_file: None,
            ssl_cert_dir: None,
        };
        let err = extra_roots(&env, std::slice::from_ref(&path))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("empty.pem") && err.contains("no usable"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_environment_and_no_files_add_nothing() {
        let env = CertEnv {
            ssl_cert_file: None,
            ssl_cert_dir: None,
        };
        assert!(extra_roots(&env, &[]).unwrap().is_empty());
    }
}
