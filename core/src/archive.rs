//! Module archive safety rules.
//!
//! The archive adapter walks an archive and reports each entry and every decompressed
//! byte here; these rules decide. Sizes are counted from the bytes actually inflated,
//! never from headers, which can lie.

use std::fmt;

/// The two archive formats a module can be published as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveFormat {
    TarGz,
    Zip,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "application/gzip",
            ArchiveFormat::Zip => "application/zip",
        }
    }
    /// From an upload's `Content-Type` (parameters ignored).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let media = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/gzip"
            | "application/x-gzip"
            | "application/x-tar+gzip"
            | "application/x-gtar" => Some(ArchiveFormat::TarGz),
            "application/zip" | "application/x-zip-compressed" => Some(ArchiveFormat::Zip),
            _ => None,
        }
    }
    /// From a file name (`.tar.gz`, `.tgz`, `.zip`).
    pub fn from_file_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(ArchiveFormat::TarGz)
        } else if lower.ends_with(".zip") {
            Some(ArchiveFormat::Zip)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Hardlink,
    /// Devices, FIFOs and anything else that is not a plain file or directory.
    Special,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Largest upload accepted, compressed.
    pub max_archive_bytes: u64,
    /// Largest total of decompressed file bytes.
    pub max_unpacked_bytes: u64,
    /// Largest unpacked/compressed ratio, checked once the unpacked total passes `ratio_floor_bytes`.
    pub max_ratio: u64,
    pub ratio_floor_bytes: u64,
    pub max_entries: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_archive_bytes: 100 * 1024 * 1024,
            max_unpacked_bytes: 512 * 1024 * 1024,
            max_ratio: 100,
            ratio_floor_bytes: 1024 * 1024,
            max_entries: 20_000,
        }
    }
}

/// Why an archive was refused. `check()` names the failed check for API errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveViolation {
    TooLarge { limit: u64 },
    Malformed(String),
    AbsolutePath(String),
    ParentTraversal(String),
    InvalidPath(String),
    Link(String),
    SpecialFile(String),
    TooManyEntries { limit: u64 },
    UnpackedTooLarge { limit: u64 },
    RatioExceeded { limit: u64 },
    NoTerraformFiles,
}

impl ArchiveViolation {
    pub fn check(&self) -> &'static str {
        match self {
            ArchiveViolation::TooLarge { .. } => "size_limit",
            ArchiveViolation::Malformed(_) => "well_formed",
            ArchiveViolation::AbsolutePath(_) => "absolute_path",
            ArchiveViolation::ParentTraversal(_) => "path_traversal",
            ArchiveViolation::InvalidPath(_) => "path_characters",
            ArchiveViolation::Link(_) => "no_links",
            ArchiveViolation::SpecialFile(_) => "no_special_files",
            ArchiveViolation::TooManyEntries { .. } => "entry_limit",
            ArchiveViolation::UnpackedTooLarge { .. } => "unpacked_size_limit",
            ArchiveViolation::RatioExceeded { .. } => "compression_ratio",
            ArchiveViolation::NoTerraformFiles => "has_tf_files",
        }
    }
}

impl fmt::Display for ArchiveViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveViolation::TooLarge { limit } => {
                write!(f, "archive is larger than the {limit}-byte limit")
            }
            ArchiveViolation::Malformed(why) => write!(f, "archive is not well-formed: {why}"),
            ArchiveViolation::AbsolutePath(p) => {
                write!(f, "archive entry {p:?} has an absolute path")
            }
            ArchiveViolation::ParentTraversal(p) => {
                write!(f, "archive entry {p:?} contains a '..' component")
            }
            ArchiveViolation::InvalidPath(p) => {
                write!(f, "archive entry {p:?} has an invalid path")
            }
            ArchiveViolation::Link(p) => write!(f, "archive entry {p:?} is a symlink or hardlink"),
            ArchiveViolation::SpecialFile(p) => {
                write!(f, "archive entry {p:?} is a device or special file")
            }
            ArchiveViolation::TooManyEntries { limit } => {
                write!(f, "archive has more than {limit} entries")
            }
            ArchiveViolation::UnpackedTooLarge { limit } => {
                write!(f, "archive unpacks to more than the {limit}-byte limit")
            }
            ArchiveViolation::RatioExceeded { limit } => {
                write!(
                    f,
                    "archive compression ratio exceeds {limit}:1 (possible zip bomb)"
                )
            }
            ArchiveViolation::NoTerraformFiles => write!(f, "archive contains no .tf file"),
        }
    }
}

impl std::error::Error for ArchiveViolation {}

/// Normalises an entry path and checks it: relative, no `..`, no backslashes, control
/// characters (NUL included) or drive letters. Returns the path with `.` and empty
/// segments removed (`./a//b/` becomes `a/b`), so the result never starts with `/` and
/// never contains `..`. The archive root itself (`./`, `.`) normalises to `""`.
pub fn check_entry_path(raw: &str) -> Result<String, ArchiveViolation> {
    if raw.is_empty() || raw.contains('\\') || raw.chars().any(char::is_control) {
        return Err(ArchiveViolation::InvalidPath(raw.to_string()));
    }
    if raw.starts_with('/') || has_drive_prefix(raw) {
        return Err(ArchiveViolation::AbsolutePath(raw.to_string()));
    }
    if raw.split('/').any(|seg| seg == "..") {
        return Err(ArchiveViolation::ParentTraversal(raw.to_string()));
    }
    let path = raw
        .split('/')
        .filter(|seg| !seg.is_empty() && *seg != ".")
        .collect::<Vec<_>>()
        .join("/");
    // `./C:/x` or `.//C:` would otherwise slip a drive prefix past the first check.
    if has_drive_prefix(&path) {
        return Err(ArchiveViolation::AbsolutePath(raw.to_string()));
    }
    Ok(path)
}

/// `C:`, `c:foo`: anything whose second byte is a colon (conservative on purpose).
fn has_drive_prefix(path: &str) -> bool {
    path.len() >= 2 && path.as_bytes()[1] == b':'
}

/// Whether a (normalised) path is a Terraform or OpenTofu configuration file.
pub fn is_terraform_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".tf", ".tf.json", ".tofu", ".tofu.json"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

/// What a valid archive holds, for the listing API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    pub entries: u64,
    pub unpacked_bytes: u64,
    pub tf_files: u64,
    /// Root README path, if any (README.md preferred).
    pub readme_path: Option<String>,
}

/// Accumulates entries and inflated bytes and applies the limits as it goes, so a bomb
/// is stopped at the limit and never inflated in full.
#[derive(Debug)]
pub struct ArchiveAudit {
    limits: ArchiveLimits,
    compressed_bytes: u64,
    summary: ArchiveSummary,
}

impl ArchiveAudit {
    pub fn new(limits: ArchiveLimits, compressed_bytes: u64) -> Result<Self, ArchiveViolation> {
        if compressed_bytes > limits.max_archive_bytes {
            return Err(ArchiveViolation::TooLarge {
                limit: limits.max_archive_bytes,
            });
        }
        Ok(Self {
            limits,
            compressed_bytes: compressed_bytes.max(1),
            summary: ArchiveSummary::default(),
        })
    }

    /// Checks one entry; returns its normalised path.
    pub fn check_entry(&mut self, entry: &ArchiveEntry) -> Result<String, ArchiveViolation> {
        self.summary.entries += 1;
        if self.summary.entries > self.limits.max_entries {
            return Err(ArchiveViolation::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        let path = check_entry_path(&entry.path)?;
        match entry.kind {
            EntryKind::Symlink | EntryKind::Hardlink => {
                return Err(ArchiveViolation::Link(entry.path.clone()));
            }
            EntryKind::Special => return Err(ArchiveViolation::SpecialFile(entry.path.clone())),
            EntryKind::Directory => {}
            EntryKind::File => {
                if path.is_empty() {
                    return Err(ArchiveViolation::InvalidPath(entry.path.clone()));
                }
                if is_terraform_file(&path) {
                    self.summary.tf_files += 1;
                }
                if let Some(rank) = root_readme_rank(&path) {
                    let better = match &self.summary.readme_path {
                        None => true,
                        Some(current) => root_readme_rank(current)
                            .is_none_or(|cur| (rank, path.as_str()) < (cur, current.as_str())),
                    };
                    if better {
                        self.summary.readme_path = Some(path.clone());
                    }
                }
            }
        }
        Ok(path)
    }

    /// Records decompressed bytes as they are read.
    pub fn record_bytes(&mut self, n: u64) -> Result<(), ArchiveViolation> {
        self.summary.unpacked_bytes = self.summary.unpacked_bytes.saturating_add(n);
        let unpacked = self.summary.unpacked_bytes;
        if unpacked > self.limits.max_unpacked_bytes {
            return Err(ArchiveViolation::UnpackedTooLarge {
                limit: self.limits.max_unpacked_bytes,
            });
        }
        if unpacked > self.limits.ratio_floor_bytes
            && unpacked > self.compressed_bytes.saturating_mul(self.limits.max_ratio)
        {
            return Err(ArchiveViolation::RatioExceeded {
                limit: self.limits.max_ratio,
            });
        }
        Ok(())
    }

    pub fn finish(self) -> Result<ArchiveSummary, ArchiveViolation> {
        if self.summary.tf_files == 0 {
            return Err(ArchiveViolation::NoTerraformFiles);
        }
        Ok(self.summary)
    }
}

/// Preference among root READMEs, lower is better: `README.md` first, then any other
/// spelling of `readme.md`, `readme.markdown`, `readme`, `readme.txt`. `None` if the path
/// is not a root README. Ranking (rather than first-seen), with ties broken by the path's
/// bytes, makes the choice independent of entry order.
fn root_readme_rank(path: &str) -> Option<u8> {
    if path.contains('/') {
        return None;
    }
    if path == "README.md" {
        return Some(0);
    }
    match path.to_ascii_lowercase().as_str() {
        "readme.md" => Some(1),
        "readme.markdown" => Some(2),
        "readme" => Some(3),
        "readme.txt" => Some(4),
        _ => None,
    }
}

/// Largest README kept for the listing API.
pub const MAX_README_BYTES: usize = 512 * 1024;

/// A short description from a README: its first paragraph line that is not a heading
/// (ATX `#` or setext underlined), badge, HTML, horizontal rule or fenced code, trimmed
/// to 300 characters (an ellipsis marks the cut).
pub fn description_from_readme(readme: &str) -> Option<String> {
    let lines: Vec<&str> = readme.lines().map(str::trim).collect();
    let is_rule = |l: &str| {
        l.len() >= 3
            && (l.bytes().all(|b| b == b'-')
                || l.bytes().all(|b| b == b'=')
                || l.bytes().all(|b| b == b'*'))
    };
    let is_setext_underline =
        |l: &str| !l.is_empty() && (l.bytes().all(|b| b == b'=') || l.bytes().all(|b| b == b'-'));
    let mut in_fence = false;
    let mut found = None;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("```") || l.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || l.is_empty() || is_rule(l) || l.starts_with('#') || l.starts_with('<') {
            continue;
        }
        if l.starts_with("[!") || l.starts_with("![") {
            continue;
        }
        if lines
            .get(i + 1)
            .is_some_and(|next| is_setext_underline(next))
        {
            continue;
        }
        found = Some(*l);
        break;
    }
    let line = found?;
    let mut text: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        text.push('…');
    }
    Some(text)
}
