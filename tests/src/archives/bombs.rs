//! Compression bombs, built fast.

use flate2::{Compress, Compression, FlushCompress};

use super::*;

// ---------------------------------------------------------------------------------------------
// Compression bombs, built fast even in debug builds: after a FULL flush the deflate state is
// reset and byte-aligned, so compressing the same 1 MiB of zeros again yields the same bytes,
// which are then repeated instead of recompressed.

const CHUNK: usize = 1 << 20;

fn deflate_step(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let start = c.total_in();
    loop {
        let consumed = (c.total_in() - start) as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate");
        let consumed = (c.total_in() - start) as usize;
        let done = match flush {
            FlushCompress::Finish => status == flate2::Status::StreamEnd,
            // With spare output room after a flush, the flush is complete.
            _ => consumed == input.len() && out.len() < out.capacity(),
        };
        if done {
            return out;
        }
    }
}

/// Raw deflate of `prefix` followed by `zeros` zero bytes and `suffix`; returns
/// (compressed, uncompressed size, CRC-32).
pub fn deflate_prefix_zeros(prefix: &[u8], zeros: u64, suffix: &[u8]) -> (Vec<u8>, u64, u32) {
    let mut c = Compress::new(Compression::best(), false);
    let mut crc = flate2::Crc::new();
    let mut out = deflate_step(&mut c, prefix, FlushCompress::Full);
    crc.update(prefix);
    let zero_chunk = vec![0u8; CHUNK];
    let mut zero_crc = flate2::Crc::new();
    zero_crc.update(&zero_chunk);
    let mut remaining = zeros;
    let mut previous: Option<Vec<u8>> = None;
    let mut repeat: Option<Vec<u8>> = None;
    while remaining >= CHUNK as u64 {
        match &repeat {
            Some(block) => out.extend_from_slice(block),
            None => {
                let block = deflate_step(&mut c, &zero_chunk, FlushCompress::Full);
                out.extend_from_slice(&block);
                if previous.as_ref() == Some(&block) {
                    repeat = Some(block);
                } else {
                    previous = Some(block);
                }
            }
        }
        crc.combine(&zero_crc);
        remaining -= CHUNK as u64;
    }
    let mut tail = vec![0u8; remaining as usize];
    tail.extend_from_slice(suffix);
    crc.update(&tail);
    out.extend(deflate_step(&mut c, &tail, FlushCompress::Finish));
    (
        out,
        prefix.len() as u64 + zeros + suffix.len() as u64,
        crc.sum(),
    )
}

/// A gzip member wrapping a raw deflate stream.
pub fn gzip_from_deflate(deflated: &[u8], size: u64, crc: u32) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(deflated);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

/// A `.tar.gz` holding `main.tf` and `zeros.bin` of `mib` MiB of zeros (a ~1000:1 bomb).
pub fn tar_gz_bomb(mib: u64) -> Vec<u8> {
    let size = mib * CHUNK as u64;
    let tf = main_tf();
    let mut prefix = raw_tar(&[RawTarEntry::file("main.tf", &tf)]);
    // raw_tar ends with two zero blocks; drop them and append the big entry's header.
    prefix.truncate(prefix.len() - 1024);
    let mut header = tar::Header::new_ustar();
    header.set_path("zeros.bin").expect("path");
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(1_600_000_000);
    header.set_cksum();
    prefix.extend_from_slice(header.as_bytes());
    // Data is a multiple of 512, then two zero blocks end the archive: all zeros.
    let (deflated, usize_, crc) = deflate_prefix_zeros(&prefix, size + 1024, &[]);
    gzip_from_deflate(&deflated, usize_, crc)
}

/// A `.zip` holding `main.tf` and `zeros.bin` of `mib` MiB of zeros.
pub fn zip_bomb(mib: u64) -> Vec<u8> {
    let (compressed, size, crc) = deflate_prefix_zeros(&[], mib * CHUNK as u64, &[]);
    raw_zip(&[
        RawZipEntry::file("main.tf", &main_tf()),
        RawZipEntry {
            name: b"zeros.bin".to_vec(),
            unix_mode: 0o100644,
            data: RawZipData::Deflated {
                compressed,
                size,
                crc,
            },
        },
    ])
}
