//! Packing a module directory into a `.tar.gz`, leaving out what never belongs in a
//! published module: `.git`, `.terraform` and state files.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// What [`pack_module_dir`] put in the archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackSummary {
    /// Relative paths (with `/`) of the files packed, in archive order.
    pub files: Vec<String>,
    /// Relative paths left out.
    pub skipped: Vec<String>,
}

/// Whether a path (relative to the module root) is left out: anything under `.git` or
/// `.terraform`, and any `*.tfstate*` file.
pub fn is_excluded(relative: &Path) -> bool {
    relative.components().any(|c| {
        let name = c.as_os_str().to_string_lossy();
        name == ".git" || name == ".terraform"
    }) || relative
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains(".tfstate"))
}

/// Writes `dir` as a gzip-compressed tar to `out`. Entries are sorted and carry fixed
/// owners and times, so the same tree gives the same archive. Symbolic links are refused
/// (the registry rejects them).
pub fn pack_module_dir(dir: &Path, out: impl Write) -> io::Result<PackSummary> {
    let mut summary = PackSummary::default();
    let mut entries = Vec::new();
    collect(dir, Path::new(""), &mut entries, &mut summary)?;
    if !summary
        .files
        .iter()
        .any(|f| f.ends_with(".tf") || f.ends_with(".tf.json"))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} holds no .tf file; is it a Terraform module?",
                dir.display()
            ),
        ));
    }
    let mut builder = tar::Builder::new(GzEncoder::new(out, Compression::default()));
    for (relative, is_dir, executable) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let name = to_archive_path(&relative);
        if is_dir {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder.append_data(&mut header, format!("{name}/"), io::empty())?;
        } else {
            let file = File::open(dir.join(&relative))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_size(file.metadata()?.len());
            builder.append_data(&mut header, &name, file)?;
        }
    }
    builder.into_inner()?.finish()?.flush()?;
    Ok(summary)
}

fn to_archive_path(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

type Entry = (PathBuf, bool, bool);

fn collect(
    root: &Path,
    relative: &Path,
    out: &mut Vec<Entry>,
    summary: &mut PackSummary,
) -> io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let rel = relative.join(child.file_name());
        if is_excluded(&rel) {
            summary.skipped.push(to_archive_path(&rel));
            continue;
        }
        let kind = child.file_type()?;
        if kind.is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; the registry accepts no links in a module archive",
                    rel.display()
                ),
            ));
        } else if kind.is_dir() {
            out.push((rel.clone(), true, false));
            collect(root, &rel, out, summary)?;
        } else if kind.is_file() {
            let executable = is_executable(&child.metadata()?);
            summary.files.push(to_archive_path(&rel));
            out.push((rel, false, executable));
        } else {
            summary.skipped.push(to_archive_path(&rel));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions() {
        assert!(is_excluded(Path::new(".git")));
        assert!(is_excluded(Path::new(".git/config")));
        assert!(is_excluded(Path::new("sub/.terraform/providers")));
        assert!(is_excluded(Path::new("terraform.tfstate")));
        assert!(is_excluded(Path::new("env/terraform.tfstate.backup")));
        assert!(!is_excluded(Path::new("main.tf")));
        assert!(!is_excluded(Path::new(".terraform.lock.hcl")));
        assert!(!is_excluded(Path::new("modules/.gitignore")));
    }
}
