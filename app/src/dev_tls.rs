//! `tfr serve --dev-tls`: a local CA and a server certificate for `localhost`,
//! `127.0.0.1` (and the public URL's host), made once under `<data_dir>/dev-tls/` and
//! reused on later starts. Terraform refuses plain http, so this is how a laptop gets a
//! registry Terraform will talk to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Datelike, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const CERT: &str = "cert.pem";
const KEY: &str = "key.pem";
const STATE: &str = "names.txt";
const CA_COMMON_NAME: &str = "tfr development CA";
/// macOS refuses server certificates valid for more than 825 days.
const LEAF_DAYS: i64 = 800;
const CA_DAYS: i64 = 3650;
/// A leaf closer than this to expiry is reissued at start.
const RENEW_DAYS: i64 = 30;

/// The files `--dev-tls` serves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevTls {
    /// The CA to trust (`SSL_CERT_FILE`).
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The names on the server certificate.
    pub names: Vec<String>,
    /// `true` when an existing certificate was reused as is.
    pub reused: bool,
}

/// The names the server certificate must cover: `localhost`, `127.0.0.1`, `::1` and the
/// host of `public_url` if any.
pub fn wanted_names(public_url: Option<&str>) -> Vec<String> {
    let mut names: BTreeSet<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Some(host) = public_url
        .and_then(|u| reqwest::Url::parse(u).ok())
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        })
    {
        names.insert(host);
    }
    names.into_iter().collect()
}

/// Makes (or reuses) the CA and server certificate in `dir`.
pub fn ensure(dir: &Path, public_url: Option<&str>) -> anyhow::Result<DevTls> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let names = wanted_names(public_url);
    let today = Utc::now().date_naive();

    let (ca_params, ca_key, ca_fresh) = load_or_create_ca(&dir, today)?;
    let out = DevTls {
        ca_cert: dir.join(CA_CERT),
        cert: dir.join(CERT),
        key: dir.join(KEY),
        names: names.clone(),
        reused: false,
    };
    if !ca_fresh
        && out.cert.is_file()
        && out.key.is_file()
        && let Some((not_after, stored)) = read_state(&dir.join(STATE))
        && stored == names
        && (not_after - today).num_days() > RENEW_DAYS
    {
        return Ok(DevTls {
            reused: true,
            ..out
        });
    }

    let mut params =
        CertificateParams::new(names.clone()).context("building the server certificate")?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    dn.push(DnType::OrganizationName, "tfr development");
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let not_after = today + chrono::Duration::days(LEAF_DAYS);
    set_validity(&mut params, today - chrono::Duration::days(1), not_after);
    let key = KeyPair::generate().context("generating the server key")?;
    let issuer = Issuer::new(ca_params, &ca_key);
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the server certificate")?;

    replace_file(&out.cert, cert.pem().as_bytes(), false)?;
    replace_file(&out.key, key.serialize_pem().as_bytes(), true)?;
    let state = format!(
        "not_after={}\n{}\n",
        not_after.format("%Y-%m-%d"),
        names.join("\n")
    );
    replace_file(&dir.join(STATE), state.as_bytes(), false)?;
    Ok(out)
}

/// CA parameters are rebuilt identically on every start (same subject, same key, so the
/// same key identifier): the server certificate then chains to the `ca.pem` on disk.
fn ca_params(today: NaiveDate) -> anyhow::Result<CertificateParams> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).context("building the CA certificate")?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "tfr development");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(
        &mut params,
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(CA_DAYS),
    );
    Ok(params)
}

fn load_or_create_ca(
    dir: &Path,
    today: NaiveDate,
) -> anyhow::Result<(CertificateParams, KeyPair, bool)> {
    let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
    let params = ca_params(today)?;
    if cert_path.is_file() && key_path.is_file() {
        let pem = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let key = KeyPair::from_pem(&pem)
            .with_context(|| format!("{} is not a PEM private key", key_path.display()))?;
        return Ok((params, key, false));
    }
    let key = KeyPair::generate().context("generating the CA key")?;
    let cert = params
        .self_signed(&key)
        .context("self-signing the CA certificate")?;
    replace_file(&key_path, key.serialize_pem().as_bytes(), true)?;
    replace_file(&cert_path, cert.pem().as_bytes(), false)?;
    Ok((params, key, true))
}

fn read_state(path: &Path) -> Option<(NaiveDate, Vec<String>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let not_after = lines.next()?.strip_prefix("not_after=")?;
    let not_after = NaiveDate::parse_from_str(not_after, "%Y-%m-%d").ok()?;
    Some((
        not_after,
        lines
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

fn set_validity(params: &mut CertificateParams, from: NaiveDate, to: NaiveDate) {
    params.not_before = rcgen::date_time_ymd(from.year(), from.month() as u8, from.day() as u8);
    params.not_after = rcgen::date_time_ymd(to.year(), to.month() as u8, to.day() as u8);
}

/// Writes `path` afresh; private files get mode 0600.
fn replace_file(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    if private {
        crate::signing_key::write_private(path, contents)
    } else {
        std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
    }
}

/// What to tell the user after starting with `--dev-tls`: how to trust the CA and a
/// ready-to-paste Terraform CLI configuration.
pub fn trust_hint(tls: &DevTls, base_url: &str) -> String {
    let host = base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let ca = tls.ca_cert.display();
    format!(
        "\
tfr is serving HTTPS with a development certificate for {names}
signed by a local CA: {ca}

Trust it (Linux; Terraform reads SSL_CERT_FILE):
  export SSL_CERT_FILE={ca}
macOS and Windows ignore SSL_CERT_FILE: add {ca} to the Keychain or the Windows certificate store.

Create a key:   tfr keys create --name me --scopes modules:write,providers:write
Publish:        tfr publish module ./my-module --url https://{host} --ca-cert {ca} --namespace acme --name vpc --system aws --version 1.0.0

Terraform wants a dot in a registry host name, so address tfr as {host} (not localhost).
Terraform CLI configuration (~/.terraformrc, or a file named by TF_CLI_CONFIG_FILE):
  credentials \"{host}\" {{
    token = \"<API key>\"
  }}
and in main.tf:
  module \"vpc\" {{
    source  = \"{host}/acme/vpc/aws\"
    version = \"~> 1.0\"
  }}
",
        names = tls.names.join(", "),
    )
}
