//! Cuts a body stream into upload parts of a fixed size, hashing it on the way and
//! stopping as soon as it is longer than the writer promised.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tfr_ports::driven::BlobError;
use tfr_ports::stream::{ByteStream, HashHandle, HashingStream};

/// Reads parts of exactly `part_size` bytes (the last one shorter) from a body.
pub(crate) struct PartReader {
    body: HashingStream,
    hash: HashHandle,
    /// The tail of a chunk that did not fit in the previous part.
    leftover: Option<Bytes>,
    part_size: usize,
    /// Bytes taken from the body so far.
    read: u64,
    /// The promised size: reading stops once more than this arrived.
    limit: Option<u64>,
    ended: bool,
    key: String,
}

impl PartReader {
    pub(crate) fn new(body: ByteStream, part_size: usize, limit: Option<u64>, key: &str) -> Self {
        let (body, hash) = HashingStream::new(body);
        Self {
            body,
            hash,
            leftover: None,
            part_size: part_size.max(1),
            read: 0,
            limit,
            ended: false,
            key: key.to_string(),
        }
    }

    /// Whether the body has ended and every byte was handed out.
    pub(crate) fn is_done(&self) -> bool {
        self.ended && self.leftover.is_none()
    }

    /// Lower-case hex SHA-256 and length of the whole body; valid once [`Self::is_done`].
    pub(crate) fn finish(&self) -> (String, u64) {
        self.hash.finish()
    }

    /// The next part: `part_size` bytes, fewer at the end, empty once the body is done.
    /// A failing body is `Body`; a body longer than promised is `SizeMismatch`.
    pub(crate) async fn next_part(&mut self) -> Result<Bytes, BlobError> {
        let mut buf = BytesMut::new();
        while buf.len() < self.part_size {
            let mut chunk = match self.leftover.take() {
                Some(chunk) => chunk,
                None => match self.next_chunk().await? {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            let room = self.part_size - buf.len();
            if chunk.len() > room {
                self.leftover = Some(chunk.split_off(room));
            }
            if buf.is_empty() && chunk.len() == self.part_size {
                // A whole part in one chunk: hand it on without copying.
                return Ok(chunk);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, BlobError> {
        if self.ended {
            return Ok(None);
        }
        match self.body.next().await {
            None => {
                self.ended = true;
                Ok(None)
            }
            Some(Err(e)) => Err(BlobError::Body(e)),
            Some(Ok(chunk)) => {
                self.read += chunk.len() as u64;
                if let Some(limit) = self.limit
                    && self.read > limit
                {
                    // No point storing (or even reading) the rest of a body already known
                    // to be wrong.
                    return Err(BlobError::SizeMismatch {
                        key: self.key.clone(),
                        expected: limit,
                        actual: self.read,
                    });
                }
                Ok(Some(chunk))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures::stream;

    use super::*;

    fn body(chunks: &[usize]) -> (ByteStream, Vec<u8>) {
        let mut all = Vec::new();
        let mut items = Vec::new();
        for (i, len) in chunks.iter().enumerate() {
            let chunk: Vec<u8> = (0..*len).map(|j| (i * 31 + j) as u8).collect();
            all.extend_from_slice(&chunk);
            items.push(Ok(Bytes::from(chunk)));
        }
        (Box::pin(stream::iter(items)), all)
    }

    async fn drain(reader: &mut PartReader) -> Vec<Bytes> {
        let mut parts = Vec::new();
        loop {
            let part = reader.next_part().await.expect("part");
            if part.is_empty() {
                return parts;
            }
            parts.push(part);
        }
    }

    #[tokio::test]
    async fn parts_have_the_exact_size_whatever_the_chunking() {
        for chunks in [
            vec![10],
            vec![3, 3, 3, 1],
            vec![25],
            vec![1; 23],
            vec![7, 0, 13, 4],
            vec![10, 10],
            vec![],
        ] {
            let (stream, all) = body(&chunks);
            let mut reader = PartReader::new(stream, 10, None, "k");
            let parts = drain(&mut reader).await;
            assert!(reader.is_done());
            let (_, len) = reader.finish();
            assert_eq!(len, all.len() as u64, "{chunks:?}");
            let joined: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            assert_eq!(joined, all, "{chunks:?}");
            for (i, part) in parts.iter().enumerate() {
                if i + 1 < parts.len() {
                    assert_eq!(part.len(), 10, "{chunks:?}: part {i}");
                } else {
                    assert!(
                        !part.is_empty() && part.len() <= 10,
                        "{chunks:?}: last part"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_body_longer_than_promised_stops_early() {
        let (stream, _) = body(&[4, 4, 4, 4]);
        let mut reader = PartReader::new(stream, 100, Some(6), "k");
        match reader.next_part().await {
            Err(BlobError::SizeMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, 6);
                assert_eq!(actual, 8);
            }
            other => panic!("wanted SizeMismatch, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failing_body_is_a_body_error() {
        let items: Vec<io::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::other("gone")),
        ];
        let mut reader = PartReader::new(Box::pin(stream::iter(items)), 100, None, "k");
        assert!(matches!(reader.next_part().await, Err(BlobError::Body(_))));
    }
}
