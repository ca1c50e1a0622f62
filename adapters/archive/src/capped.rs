//! A reader that fails once more than a set number of bytes has passed through it, and
//! remembers that it did, so the caller can tell a cap from a format error whatever the
//! tar or zip layer makes of the I/O error.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

pub(crate) struct CappedReader<R> {
    inner: R,
    remaining: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R> CappedReader<R> {
    pub(crate) fn new(inner: R, cap: u64) -> (Self, Rc<Cell<bool>>) {
        let tripped = Rc::new(Cell::new(false));
        (
            Self {
                inner,
                remaining: cap,
                tripped: tripped.clone(),
            },
            tripped,
        )
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // Allow reading past the cap only to see that the stream has ended.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.tripped.set(true);
                    Err(io::Error::other("decompressed stream exceeds its cap"))
                }
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_past_the_cap_only() {
        let (mut exact, tripped) = CappedReader::new(&b"12345"[..], 5);
        let mut out = Vec::new();
        exact.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"12345");
        assert!(!tripped.get());

        let (mut over, tripped) = CappedReader::new(&b"123456"[..], 5);
        let mut out = Vec::new();
        assert!(over.read_to_end(&mut out).is_err());
        assert!(tripped.get());
        assert_eq!(out, b"12345");
    }
}
