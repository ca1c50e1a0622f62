//! Finding the files of one provider release in a goreleaser `dist/` folder.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The files `tfr publish provider` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFiles {
    /// Every `terraform-provider-{type}_{version}_{os}_{arch}.zip`, sorted.
    pub packages: Vec<PathBuf>,
    pub shasums: PathBuf,
    pub signature: PathBuf,
    pub manifest: Option<PathBuf>,
    pub gpg_public_key: PathBuf,
}

/// Looks in `dir` for the release of `provider_type` at `version` (a leading `v` is
/// ignored, as goreleaser names files without it). The public key is `gpg_public_key`,
/// else `gpg-public-key.asc` in the folder, else the only `*.asc` file there.
pub fn find_dist_files(
    dir: &Path,
    provider_type: &str,
    version: &str,
    gpg_public_key: Option<&Path>,
) -> anyhow::Result<DistFiles> {
    let version = version.strip_prefix('v').unwrap_or(version);
    let stem = format!("terraform-provider-{provider_type}_{version}");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the dist folder {}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();

    let packages: Vec<PathBuf> = names
        .iter()
        .filter(|n| n.starts_with(&format!("{stem}_")) && n.ends_with(".zip"))
        .map(|n| dir.join(n))
        .collect();
    anyhow::ensure!(
        !packages.is_empty(),
        "{}: no {stem}_<os>_<arch>.zip files (is --type/--version right, and did goreleaser run?)",
        dir.display()
    );
    let required = |name: String| -> anyhow::Result<PathBuf> {
        let path = dir.join(&name);
        anyhow::ensure!(path.is_file(), "{}: {name} is missing", dir.display());
        Ok(path)
    };
    let shasums = required(format!("{stem}_SHA256SUMS"))?;
    let signature = required(format!("{stem}_SHA256SUMS.sig"))?;
    let manifest = Some(dir.join(format!("{stem}_manifest.json"))).filter(|p| p.is_file());

    let gpg_public_key = match gpg_public_key {
        Some(path) => {
            anyhow::ensure!(
                path.is_file(),
                "--gpg-public-key: {} does not exist",
                path.display()
            );
            path.to_path_buf()
        }
        None if dir.join("gpg-public-key.asc").is_file() => dir.join("gpg-public-key.asc"),
        None => {
            let asc: Vec<&String> = names.iter().filter(|n| n.ends_with(".asc")).collect();
            match asc.as_slice() {
                [one] => dir.join(one),
                [] => anyhow::bail!(
                    "no public key: pass --gpg-public-key FILE (gpg --armor --export KEYID > key.asc) or put gpg-public-key.asc in {}",
                    dir.display()
                ),
                many => anyhow::bail!(
                    "{} holds several .asc files ({}); pass --gpg-public-key FILE",
                    dir.display(),
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    Ok(DistFiles {
        packages,
        shasums,
        signature,
        manifest,
        gpg_public_key,
    })
}
