//! Raw tar and zip writers for archives no well-behaved writer makes.

// ---------------------------------------------------------------------------------------------
// Raw tar entries (tar::Header::set_path refuses absolute paths and `..`, so names are written
// as raw header bytes).

/// One raw tar entry.
pub struct RawTarEntry {
    pub name: Vec<u8>,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub link_name: Vec<u8>,
    pub data: Vec<u8>,
    pub device: Option<(u32, u32)>,
}

impl RawTarEntry {
    pub fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind: tar::EntryType::Regular,
            mode: 0o644,
            link_name: Vec::new(),
            data: data.to_vec(),
            device: None,
        }
    }
}

/// A tar stream (not compressed) of raw entries.
pub fn raw_tar(entries: &[RawTarEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_ustar();
        {
            let old = header.as_old_mut();
            assert!(e.name.len() <= old.name.len(), "raw tar name too long");
            old.name.fill(0);
            old.name[..e.name.len()].copy_from_slice(&e.name);
            assert!(
                e.link_name.len() <= old.linkname.len(),
                "raw tar link too long"
            );
            old.linkname.fill(0);
            old.linkname[..e.link_name.len()].copy_from_slice(&e.link_name);
        }
        header.set_mode(e.mode);
        header.set_entry_type(e.kind);
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(e.data.len() as u64);
        if let Some((major, minor)) = e.device {
            header.set_device_major(major).expect("device major");
            header.set_device_minor(minor).expect("device minor");
        }
        header.set_cksum();
        builder
            .append(&header, e.data.as_slice())
            .expect("tar append raw");
    }
    builder.into_inner().expect("tar finish")
}

// ---------------------------------------------------------------------------------------------
// Raw zip writer: full control over names and modes (symlinks, `..`, absolute paths), and
// entries whose compressed data was made elsewhere (zip bombs).

/// One raw zip entry.
pub struct RawZipEntry {
    pub name: Vec<u8>,
    /// Full unix mode including the file type bits (0o100644 regular, 0o120777 symlink).
    pub unix_mode: u32,
    pub data: RawZipData,
}

pub enum RawZipData {
    /// Stored uncompressed.
    Plain(Vec<u8>),
    /// Already deflated (raw deflate) with its uncompressed size and CRC-32.
    Deflated {
        compressed: Vec<u8>,
        size: u64,
        crc: u32,
    },
}

impl RawZipEntry {
    pub fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            unix_mode: 0o100644,
            data: RawZipData::Plain(data.to_vec()),
        }
    }
}

pub fn raw_zip(entries: &[RawZipEntry]) -> Vec<u8> {
    fn u16le(v: &mut Vec<u8>, x: u16) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn u32le(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let (method, crc, csize, usize_, data): (u16, u32, u32, u32, &[u8]) = match &e.data {
            RawZipData::Plain(d) => {
                let mut c = flate2::Crc::new();
                c.update(d);
                (0, c.sum(), d.len() as u32, d.len() as u32, d.as_slice())
            }
            RawZipData::Deflated {
                compressed,
                size,
                crc,
            } => (
                8,
                *crc,
                compressed.len() as u32,
                u32::try_from(*size).expect("raw zip entries must stay below 4 GiB"),
                compressed.as_slice(),
            ),
        };
        let offset = out.len() as u32;
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, 20); // version needed
        u16le(&mut out, 0); // flags
        u16le(&mut out, method);
        u16le(&mut out, 0); // time
        u16le(&mut out, 0x21); // date 1980-01-01
        u32le(&mut out, crc);
        u32le(&mut out, csize);
        u32le(&mut out, usize_);
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(data);

        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, (3 << 8) | 20); // made by: unix
        u16le(&mut central, 20);
        u16le(&mut central, 0);
        u16le(&mut central, method);
        u16le(&mut central, 0);
        u16le(&mut central, 0x21);
        u32le(&mut central, crc);
        u32le(&mut central, csize);
        u32le(&mut central, usize_);
        u16le(&mut central, e.name.len() as u16);
        u16le(&mut central, 0); // extra
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attrs
        u32le(&mut central, e.unix_mode << 16); // external attrs
        u32le(&mut central, offset);
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries.len() as u16);
    u16le(&mut out, entries.len() as u16);
    u32le(&mut out, cd_size);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}
