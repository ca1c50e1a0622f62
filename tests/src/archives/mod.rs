//! Module archives: well-formed ones and one hostile archive per publishing check.

mod bombs;
mod hostile;
mod raw;
#[cfg(test)]
mod tests;

pub use bombs::*;
pub use hostile::*;
pub use raw::*;

use std::io::Write;

use flate2::Compression;

/// A file in an archive: (path, contents).
pub type File = (String, Vec<u8>);

/// A small but real module: `main.tf` with a variable and an output, and a README.
pub fn sample_module_files(label: &str) -> Vec<File> {
    vec![
        (
            "main.tf".to_string(),
            format!(
                "variable \"name\" {{\n  type    = string\n  default = \"world\"\n}}\n\n\
                 output \"greeting\" {{\n  value = \"hello ${{var.name}} from {label}\"\n}}\n"
            )
            .into_bytes(),
        ),
        (
            "README.md".to_string(),
            format!("# {label}\n\nA test module published by tfr's black-box tests.\n")
                .into_bytes(),
        ),
    ]
}

/// `.tar.gz` of regular files (mode 0644).
pub fn tar_gz(files: &[File]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(1_600_000_000);
        builder
            .append_data(&mut header, path, data.as_slice())
            .expect("tar append");
    }
    gzip(&builder.into_inner().expect("tar finish"))
}

/// `.zip` of regular files (mode 0644), deflated.
pub fn zip(files: &[File]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, data) in files {
        w.start_file(path.as_str(), opts).expect("zip start_file");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// The sample module as `.tar.gz`.
pub fn module_tar_gz(label: &str) -> Vec<u8> {
    tar_gz(&sample_module_files(label))
}

/// The sample module as `.zip`.
pub fn module_zip(label: &str) -> Vec<u8> {
    zip(&sample_module_files(label))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip finish")
}

/// The `main.tf` of the sample module, for archives built by hand.
pub(crate) fn main_tf() -> Vec<u8> {
    sample_module_files("hostile").remove(0).1
}
