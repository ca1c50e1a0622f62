//! Checks that the builders make what they claim.

use std::io::Read;

use super::*;

#[test]
fn tar_gz_bomb_is_a_valid_tar_gz_of_the_stated_size() {
    let bomb = tar_gz_bomb(64);
    assert!(bomb.len() < 200 * 1024, "bomb is {} bytes", bomb.len());
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bomb.as_slice()));
    let mut seen = Vec::new();
    for entry in ar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        let n = std::io::copy(&mut entry, &mut std::io::sink()).expect("read entry");
        seen.push((name, n));
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "main.tf");
    assert_eq!(seen[1], ("zeros.bin".to_string(), 64 << 20));
    // The gzip trailer (CRC, size) is right too: reading to the end does not fail.
    let mut all = Vec::new();
    flate2::read::GzDecoder::new(bomb.as_slice())
        .read_to_end(&mut all)
        .expect("gzip with a valid trailer");
    assert_eq!(all.len() as u64, (64 << 20) + 3 * 512 + 1024);
}

#[test]
fn zip_bomb_is_a_valid_zip() {
    let bomb = zip_bomb(16);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bomb)).expect("zip");
    assert_eq!(z.len(), 2);
    let mut f = z.by_name("zeros.bin").expect("zeros.bin");
    assert_eq!(f.size(), 16 << 20);
    let n = std::io::copy(&mut f, &mut std::io::sink()).expect("read and check CRC");
    assert_eq!(n, 16 << 20);
}

#[test]
fn raw_tar_keeps_hostile_names() {
    let t = raw_tar(&[
        RawTarEntry::file("../evil.tf", b"x"),
        RawTarEntry::file("/abs.tf", b"y"),
    ]);
    let mut ar = tar::Archive::new(t.as_slice());
    let names: Vec<Vec<u8>> = ar
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry").path_bytes().into_owned())
        .collect();
    assert_eq!(names, vec![b"../evil.tf".to_vec(), b"/abs.tf".to_vec()]);
}

#[test]
fn raw_zip_is_readable_and_keeps_modes() {
    let z = raw_zip(&[
        RawZipEntry::file("main.tf", b"x = 1\n"),
        RawZipEntry {
            name: b"link.tf".to_vec(),
            unix_mode: 0o120777,
            data: RawZipData::Plain(b"main.tf".to_vec()),
        },
    ]);
    let mut ar = zip::ZipArchive::new(std::io::Cursor::new(z)).expect("zip");
    let mut main = String::new();
    ar.by_name("main.tf")
        .expect("main.tf")
        .read_to_string(&mut main)
        .expect("read");
    assert_eq!(main, "x = 1\n");
    let link = ar.by_name("link.tf").expect("link.tf");
    assert_eq!(link.unix_mode().expect("mode") & 0o170000, 0o120000);
}

#[test]
fn good_archives_round_trip() {
    let tgz = module_tar_gz("x");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
    let names: Vec<String> = ar
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec!["main.tf", "README.md"]);
    let z = zip::ZipArchive::new(std::io::Cursor::new(module_zip("x"))).expect("zip");
    assert_eq!(z.len(), 2);
}

#[test]
fn every_hostile_archive_is_nonempty_and_named() {
    let all = hostile_module_archives();
    let names: Vec<&str> = all.iter().map(|h| h.name).collect();
    assert_eq!(names, HOSTILE_MODULE_CASES);
    for h in &all {
        assert!(!h.body.is_empty(), "{}", h.name);
        // Bombs must stay under the 1 MiB cap the rejection tests configure.
        assert!(
            h.body.len() < 1 << 20,
            "{} is {} bytes",
            h.name,
            h.body.len()
        );
        assert!(!h.mentions.is_empty(), "{}", h.name);
    }
}
