//! Large provider zips generated on the fly: one stored, executable member of
//! pseudo-random content. Header, member and central directory are produced on demand;
//! CRC-32 and SHA-256 are computed once, by streaming, when the zip is defined.

use std::sync::OnceLock;

use bytes::Bytes;
use sha2::{Digest, Sha256};

const GEN_CHUNK: usize = 1024 * 1024;

/// 1 MiB of pseudo-random bytes; chunk `i` is this block stamped with `i`.
fn gen_block() -> &'static [u8] {
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    BLOCK.get_or_init(|| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..GEN_CHUNK / 8)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .collect()
    })
}

/// A zip with one stored, executable member of generated content: header, member and
/// central directory are produced on demand; CRC-32 and SHA-256 are computed once.
pub(super) struct GeneratedZip {
    member_size: u64,
    local_header: Bytes,
    tail: Bytes,
    pub(super) len: u64,
    pub(super) sha256: String,
}

impl GeneratedZip {
    pub(super) fn new(member_name: &str, member_size: u64) -> Self {
        let name = member_name.as_bytes();
        let total = 30 + 46 + 22 + 2 * name.len() as u64 + member_size;
        assert!(
            total < u32::MAX as u64,
            "generated zips stay below 4 GiB (no zip64)"
        );
        let mut crc = crc32fast::Hasher::new();
        for chunk in member_chunks(member_size) {
            crc.update(&chunk);
        }
        let crc = crc.finalize();
        let size = member_size as u32;
        let le16 = |v: u16| v.to_le_bytes();
        let le32 = |v: u32| v.to_le_bytes();
        let mut local = Vec::new();
        for part in [
            &le32(0x0403_4b50)[..],
            &le16(10),
            &le16(0),
            &le16(0),
            &le16(0),
            &le16(0x21),
        ] {
            local.extend_from_slice(part);
        }
        for part in [
            &le32(crc)[..],
            &le32(size),
            &le32(size),
            &le16(name.len() as u16),
            &le16(0),
            name,
        ] {
            local.extend_from_slice(part);
        }
        let mut tail = Vec::new();
        for part in [
            &le32(0x0201_4b50)[..],
            &le16(0x0314),
            &le16(10),
            &le16(0),
            &le16(0),
            &le16(0),
            &le16(0x21),
        ] {
            tail.extend_from_slice(part);
        }
        let external = 0o100_755u32 << 16;
        for part in [
            &le32(crc)[..],
            &le32(size),
            &le32(size),
            &le16(name.len() as u16),
            &le16(0),
            &le16(0),
        ] {
            tail.extend_from_slice(part);
        }
        for part in [&le16(0)[..], &le16(0), &le32(external), &le32(0), name] {
            tail.extend_from_slice(part);
        }
        let cd_size = (46 + name.len()) as u32;
        let cd_offset = (local.len() as u64 + member_size) as u32;
        for part in [
            &le32(0x0605_4b50)[..],
            &le16(0),
            &le16(0),
            &le16(1),
            &le16(1),
            &le32(cd_size),
            &le32(cd_offset),
            &le16(0),
        ] {
            tail.extend_from_slice(part);
        }
        let mut this = Self {
            member_size,
            len: local.len() as u64 + member_size + tail.len() as u64,
            local_header: Bytes::from(local),
            tail: Bytes::from(tail),
            sha256: String::new(),
        };
        let mut sha = Sha256::new();
        for chunk in this.chunks() {
            sha.update(&chunk);
        }
        this.sha256 = hex::encode(sha.finalize());
        this
    }

    pub(super) fn chunks(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        std::iter::once(self.local_header.clone())
            .chain(member_chunks(self.member_size))
            .chain(std::iter::once(self.tail.clone()))
    }
}

fn member_chunks(size: u64) -> impl Iterator<Item = Bytes> + Send + 'static {
    let n = size.div_ceil(GEN_CHUNK as u64);
    (0..n).map(move |i| {
        let len = (size - i * GEN_CHUNK as u64).min(GEN_CHUNK as u64) as usize;
        let mut chunk = gen_block()[..len].to_vec();
        let stamp = i.to_le_bytes();
        let k = len.min(8);
        chunk[..k].copy_from_slice(&stamp[..k]);
        Bytes::from(chunk)
    })
}
