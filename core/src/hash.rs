//! Package hashes as Terraform records them in `.terraform.lock.hcl`.

use base64::Engine;
use sha2::{Digest, Sha256};

/// `zh:` + lower-case hex SHA-256 of the zip's bytes.
pub fn zh(sha256_hex: &str) -> String {
    format!("zh:{}", sha256_hex.to_ascii_lowercase())
}

/// Go's `dirhash.Hash1` over `(name, sha256-of-content)` pairs: lines of
/// `hex  name\n` sorted by name, SHA-256 over them, standard padded base64.
/// For `HashZip`, pass every entry name as stored (directories hash as empty content).
pub fn h1<'a>(files: impl IntoIterator<Item = (&'a str, [u8; 32])>) -> String {
    let mut files: Vec<(&str, [u8; 32])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut summary = Sha256::new();
    for (name, digest) in files {
        summary.update(format!("{}  {}\n", hex::encode(digest), name).as_bytes());
    }
    let out = summary.finalize();
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(out.as_slice())
    )
}

/// Why [`h1_checked`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("h1 hash: file name {0:?} contains a newline")]
pub struct H1Error(pub String);

/// [`h1`], but refusing a name containing `\n` as Go's `dirhash.Hash1` does (such a
/// name would make the summary ambiguous).
pub fn h1_checked<'a>(
    files: impl IntoIterator<Item = (&'a str, [u8; 32])>,
) -> Result<String, H1Error> {
    let files: Vec<(&str, [u8; 32])> = files.into_iter().collect();
    if let Some((name, _)) = files.iter().find(|(name, _)| name.contains('\n')) {
        return Err(H1Error((*name).to_string()));
    }
    Ok(h1(files))
}
