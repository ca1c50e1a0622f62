//! Provider "dist" folders as goreleaser makes them: one zip per platform, a text-mode
//! `SHA256SUMS`, its binary detached signature, and the armored public key.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};
pub use tfr_security::test_support::{TestSigningKey, generate_signing_key};

/// Something that makes OpenPGP binary detached signatures.
pub trait Signer {
    /// The ASCII-armored public key.
    fn armored_public(&self) -> String;
    /// A binary detached signature over `data` (what `gpg --detach-sign` writes).
    fn sign_detached(&self, data: &[u8]) -> Vec<u8>;
    /// The primary key's long key ID, upper-case hex (what terraform prints).
    fn key_id(&self) -> String;
}

/// tfr-security's test keys: Ed25519, made in-process (fast). Terraform 1.0.3's openpgp
/// cannot read EdDSA keys ("unsupported feature: public key type: 22"), so terraform tests
/// use [`GpgKey`] (RSA) instead.
impl Signer for TestSigningKey {
    fn armored_public(&self) -> String {
        self.armored_public.clone()
    }
    fn sign_detached(&self, data: &[u8]) -> Vec<u8> {
        TestSigningKey::sign_detached(self, data)
    }
    fn key_id(&self) -> String {
        TestSigningKey::key_id(self).to_uppercase()
    }
}

/// An RSA-2048 key made by the real `gpg` in a throwaway `GNUPGHOME` (an independent
/// OpenPGP implementation, and a key type every terraform version verifies).
pub struct GpgKey {
    home: tempfile::TempDir,
    armored_public: String,
    key_id: String,
}

impl GpgKey {
    pub fn generate() -> anyhow::Result<Self> {
        let home = tempfile::Builder::new().prefix("tfr-gpg-").tempdir()?;
        let gpg = |args: &[&str], home: &Path| -> anyhow::Result<Vec<u8>> {
            let out = Command::new("gpg")
                .env("GNUPGHOME", home)
                .args(["--batch", "--no-tty", "--quiet"])
                .args(args)
                .output()
                .map_err(|e| anyhow::anyhow!("running gpg (run .ci/run to install gnupg): {e}"))?;
            anyhow::ensure!(
                out.status.success(),
                "gpg {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(out.stdout)
        };
        let dir = home.path().to_path_buf();
        gpg(
            &[
                "--passphrase",
                "",
                "--quick-generate-key",
                "tfr test <tfr-test@example.com>",
                "rsa2048",
                "sign",
                "never",
            ],
            &dir,
        )?;
        let armored = String::from_utf8(gpg(&["--armor", "--export"], &dir)?)?;
        let listing = String::from_utf8(gpg(&["--with-colons", "--list-keys"], &dir)?)?;
        let key_id = listing
            .lines()
            .find(|l| l.starts_with("pub:"))
            .and_then(|l| l.split(':').nth(4))
            .ok_or_else(|| anyhow::anyhow!("no pub line in gpg output: {listing}"))?
            .to_uppercase();
        Ok(Self {
            home,
            armored_public: armored,
            key_id,
        })
    }
}

impl Signer for GpgKey {
    fn armored_public(&self) -> String {
        self.armored_public.clone()
    }
    fn sign_detached(&self, data: &[u8]) -> Vec<u8> {
        let input = self.home.path().join("to-sign");
        let sig = self.home.path().join("to-sign.sig");
        std::fs::write(&input, data).expect("write data to sign");
        let _ = std::fs::remove_file(&sig);
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args([
                "--batch",
                "--no-tty",
                "--quiet",
                "--yes",
                "--detach-sign",
                "-o",
            ])
            .arg(&sig)
            .arg(&input)
            .output()
            .expect("running gpg --detach-sign");
        assert!(
            out.status.success(),
            "gpg --detach-sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(&sig).expect("read signature")
    }
    fn key_id(&self) -> String {
        self.key_id.clone()
    }
}

impl Drop for GpgKey {
    fn drop(&mut self) {
        // Stop the agent gpg started for this home.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// The 3-line script that stands in for a provider binary (`terraform init` never runs it).
pub const FAKE_BINARY: &[u8] = b"#!/bin/sh\necho fake provider\nexit 1\n";

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `terraform-provider-{ty}_{version}_{os}_{arch}.zip`
pub fn zip_name(ty: &str, version: &str, os: &str, arch: &str) -> String {
    format!("terraform-provider-{ty}_{version}_{os}_{arch}.zip")
}

/// A provider zip holding one file `entry_name` with the given unix mode.
pub fn provider_zip(entry_name: &str, mode: u32, contents: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(mode);
    w.start_file(entry_name, opts).expect("zip start_file");
    w.write_all(contents).expect("zip write");
    w.finish().expect("zip finish").into_inner()
}

/// The standard zip for a platform: `terraform-provider-{ty}_v{version}`, mode 0755.
pub fn standard_provider_zip(ty: &str, version: &str) -> Vec<u8> {
    provider_zip(
        &format!("terraform-provider-{ty}_v{version}"),
        0o755,
        FAKE_BINARY,
    )
}

/// `sha256sum` text mode: `<hex>  <name>\n` per file.
pub fn shasums(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, data) in files {
        out.push_str(&format!("{}  {}\n", sha256_hex(data), name));
    }
    out.into_bytes()
}

/// The parts of a provider upload; any may be changed or left out to build hostile requests.
#[derive(Clone, Debug)]
pub struct ProviderUpload {
    /// (file name, zip bytes), one `package` part each.
    pub packages: Vec<(String, Vec<u8>)>,
    pub shasums: Option<Vec<u8>>,
    pub signature: Option<Vec<u8>>,
    pub gpg_public_key: Option<String>,
    pub protocols: Option<String>,
    /// File name used for the shasums part.
    pub shasums_name: String,
}

impl ProviderUpload {
    /// The multipart form tfr expects (`package` x N, `shasums`, `signature`, `gpg_public_key`,
    /// optional `protocols`).
    pub fn form(&self) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in &self.packages {
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(name.clone())
                .mime_str("application/zip")
                .expect("mime");
            form = form.part("package", part);
        }
        if let Some(s) = &self.shasums {
            let part = reqwest::multipart::Part::bytes(s.clone())
                .file_name(self.shasums_name.clone())
                .mime_str("text/plain")
                .expect("mime");
            form = form.part("shasums", part);
        }
        if let Some(sig) = &self.signature {
            let part = reqwest::multipart::Part::bytes(sig.clone())
                .file_name(format!("{}.sig", self.shasums_name))
                .mime_str("application/octet-stream")
                .expect("mime");
            form = form.part("signature", part);
        }
        if let Some(k) = &self.gpg_public_key {
            form = form.text("gpg_public_key", k.clone());
        }
        if let Some(p) = &self.protocols {
            form = form.text("protocols", p.clone());
        }
        form
    }

    /// Recompute SHA256SUMS from the packages and sign it with `key`.
    pub fn resign(&mut self, key: &dyn Signer) {
        let sums = shasums(&self.packages);
        self.signature = Some(key.sign_detached(&sums));
        self.shasums = Some(sums);
        self.gpg_public_key = Some(key.armored_public());
    }
}

/// A complete, correctly signed provider release.
pub struct ProviderDist {
    pub ty: String,
    pub version: String,
    pub platforms: Vec<(String, String)>,
    pub zips: Vec<(String, Vec<u8>)>,
    pub shasums: Vec<u8>,
    pub signature: Vec<u8>,
    pub armored_public_key: String,
    /// Upper-case long key ID of the primary key (what terraform prints).
    pub key_id: String,
}

impl ProviderDist {
    pub fn build(key: &dyn Signer, ty: &str, version: &str, platforms: &[(&str, &str)]) -> Self {
        let zips: Vec<(String, Vec<u8>)> = platforms
            .iter()
            .map(|(os, arch)| {
                (
                    zip_name(ty, version, os, arch),
                    standard_provider_zip(ty, version),
                )
            })
            .collect();
        let shasums = shasums(&zips);
        let signature = key.sign_detached(&shasums);
        Self {
            ty: ty.to_string(),
            version: version.to_string(),
            platforms: platforms
                .iter()
                .map(|(o, a)| (o.to_string(), a.to_string()))
                .collect(),
            zips,
            shasums,
            signature,
            armored_public_key: key.armored_public(),
            key_id: key.key_id().to_uppercase(),
        }
    }

    pub fn shasums_name(&self) -> String {
        format!("terraform-provider-{}_{}_SHA256SUMS", self.ty, self.version)
    }

    pub fn zip(&self, os: &str, arch: &str) -> &[u8] {
        let name = zip_name(&self.ty, &self.version, os, arch);
        &self
            .zips
            .iter()
            .find(|(n, _)| *n == name)
            .expect("platform in dist")
            .1
    }

    /// The upload as tfr's publishing endpoint takes it.
    pub fn upload(&self) -> ProviderUpload {
        ProviderUpload {
            packages: self.zips.clone(),
            shasums: Some(self.shasums.clone()),
            signature: Some(self.signature.clone()),
            gpg_public_key: Some(self.armored_public_key.clone()),
            protocols: Some("5.0".to_string()),
            shasums_name: self.shasums_name(),
        }
    }

    /// Writes the goreleaser-style folder (zips, `_SHA256SUMS`, `_SHA256SUMS.sig`, `key.asc`).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, data) in &self.zips {
            std::fs::write(dir.join(name), data)?;
        }
        std::fs::write(dir.join(self.shasums_name()), &self.shasums)?;
        std::fs::write(
            dir.join(format!("{}.sig", self.shasums_name())),
            &self.signature,
        )?;
        std::fs::write(dir.join("key.asc"), &self.armored_public_key)?;
        Ok(())
    }
}
