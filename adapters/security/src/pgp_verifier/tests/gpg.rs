//! Interop with GnuPG-made keys and signatures, when `gpg` is on PATH.

use std::path::Path;
use std::process::{Command, Output};

use super::*;

struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    /// `None` (with a note) when gpg is not installed.
    fn start() -> Option<Self> {
        if Command::new("gpg").arg("--version").output().is_err() {
            eprintln!("note: gpg is not on PATH; skipping the GnuPG interop test");
            return None;
        }
        let home = tempfile::Builder::new()
            .prefix("tfr-gpg")
            .tempdir()
            .expect("temp GNUPGHOME");
        Some(Self { home })
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn path(&self, name: &str) -> String {
        self.home.path().join(name).to_string_lossy().into_owned()
    }

    /// (long key ID, fingerprint) of the primary key for `uid`, from `--with-colons`.
    fn ids(&self, uid: &str) -> (String, String) {
        let out = self.run(&["--with-colons", "--list-keys", uid]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut key_id = None;
        let mut fpr = None;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.first() {
                Some(&"pub") if key_id.is_none() => key_id = fields.get(4).map(|s| s.to_string()),
                Some(&"fpr") if fpr.is_none() => fpr = fields.get(9).map(|s| s.to_string()),
                _ => {}
            }
        }
        (key_id.expect("pub line"), fpr.expect("fpr line"))
    }

    /// `gpg --list-keys --keyid-format long` shows `rsa2048/<KEYID>`.
    fn long_listing(&self, uid: &str) -> String {
        let out = self.run(&["--list-keys", "--keyid-format", "long", uid]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

fn sign_file(gpg: &Gpg, uid: &str, data: &[u8], armor: bool) -> Vec<u8> {
    let data_path = gpg.path("SHA256SUMS");
    std::fs::write(&data_path, data).unwrap();
    let sig_path = gpg.path(if armor {
        "SHA256SUMS.asc"
    } else {
        "SHA256SUMS.sig"
    });
    let mut args = vec!["--local-user", uid, "--detach-sign", "--output", &sig_path];
    if armor {
        args.push("--armor");
    }
    args.push(&data_path);
    gpg.run(&args);
    std::fs::read(Path::new(&sig_path)).unwrap()
}

#[test]
fn gnupg_rsa_key_and_signatures() {
    let Some(gpg) = Gpg::start() else {
        return;
    };
    let uid = "Test <t@example.com>";
    gpg.run(&["--quick-generate-key", uid, "rsa2048", "sign", "never"]);
    let armored = String::from_utf8(gpg.run(&["--armor", "--export", uid]).stdout).unwrap();
    let (gpg_key_id, gpg_fpr) = gpg.ids(uid);

    let info = verifier().parse_public_key(&armored).unwrap();
    assert_eq!(info.key_id, gpg_key_id);
    assert_eq!(info.fingerprint, gpg_fpr);
    assert!(
        info.warnings.is_empty(),
        "RSA keys suit every Terraform: {:?}",
        info.warnings
    );
    assert!(
        gpg.long_listing(uid)
            .contains(&format!("rsa2048/{}", info.key_id))
    );

    let sig = sign_file(&gpg, uid, SUMS, false);
    assert_eq!(
        verifier()
            .verify_detached(&armored, SUMS, &sig)
            .unwrap()
            .key_id,
        gpg_key_id
    );
    assert_eq!(
        verifier().verify_detached(&armored, b"other data", &sig),
        Err(SignatureError::Mismatch)
    );
    let wrong = generate_signing_key();
    assert_eq!(
        verifier().verify_detached(&wrong.armored_public, SUMS, &sig),
        Err(SignatureError::Mismatch)
    );

    let asc = sign_file(&gpg, uid, SUMS, true);
    assert!(matches!(
        verifier().verify_detached(&armored, SUMS, &asc),
        Err(SignatureError::BadSignature(msg)) if msg.contains("binary")
    ));

    // The exported secret key is refused outright.
    let secret =
        String::from_utf8(gpg.run(&["--armor", "--export-secret-keys", uid]).stdout).unwrap();
    assert!(matches!(
        verifier().parse_public_key(&secret),
        Err(SignatureError::BadKey(_))
    ));
}

#[test]
fn gnupg_signing_subkey() {
    let Some(gpg) = Gpg::start() else {
        return;
    };
    let uid = "Sub <sub@example.com>";
    gpg.run(&["--quick-generate-key", uid, "ed25519", "cert", "never"]);
    let (primary_id, fpr) = gpg.ids(uid);
    gpg.run(&["--quick-add-key", &fpr, "ed25519", "sign", "never"]);
    let armored = String::from_utf8(gpg.run(&["--armor", "--export", uid]).stdout).unwrap();

    let sig = sign_file(&gpg, uid, SUMS, false);
    let parsed = DetachedSignature::from_bytes(&sig[..]).unwrap();
    assert_ne!(
        parsed.signature.issuer_key_id()[0]
            .to_string()
            .to_uppercase(),
        primary_id,
        "gpg signed with the subkey"
    );
    let info = verifier().verify_detached(&armored, SUMS, &sig).unwrap();
    assert_eq!(info.key_id, primary_id);
    assert_eq!(info.fingerprint, fpr);
    assert_eq!(
        verifier().verify_detached(&armored, b"tampered", &sig),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn gnupg_verifies_test_support_signatures() {
    let Some(gpg) = Gpg::start() else {
        return;
    };
    let key = generate_signing_key();
    let key_path = gpg.path("key.asc");
    std::fs::write(&key_path, &key.armored_public).unwrap();
    gpg.run(&["--import", &key_path]);
    let data_path = gpg.path("SHA256SUMS");
    std::fs::write(&data_path, SUMS).unwrap();
    let sig_path = gpg.path("SHA256SUMS.sig");
    std::fs::write(&sig_path, key.sign_detached(SUMS)).unwrap();
    let out = gpg.run(&["--status-fd", "1", "--verify", &sig_path, &data_path]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
    assert!(status.contains(&key.key_id()), "{status}");

    // And a subkey-signed one.
    let sub = generate_subkey_signing_key();
    std::fs::write(&key_path, &sub.armored_public).unwrap();
    gpg.run(&["--import", &key_path]);
    std::fs::write(&sig_path, sub.sign_detached(SUMS)).unwrap();
    let out = gpg.run(&["--status-fd", "1", "--verify", &sig_path, &data_path]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("[GNUPG:] GOODSIG"), "{status}");
}
