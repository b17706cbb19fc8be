//! One entry's bytes from the bytes read for it (its local header, data, and any data
//! descriptor): stored, or inflated with the output held to a limit, so a header that lies
//! about the size, or a zip bomb, stops at the limit rather than at the end of memory. The
//! central directory's sizes and CRC-32 are the ones trusted; the local header only says where
//! the data starts.

use flate2::{Decompress, FlushDecompress, Status};

use super::directory::Entry;

const LOCAL: u32 = 0x0403_4b50;
const LOCAL_LEN: usize = 30;
const STORED: u16 = 0;
const DEFLATE: u16 = 8;

/// Why an entry's bytes cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the entry is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the entry is compressed with method {0}; only stored and deflate are read")]
    Method(u16),
    #[error("the entry is damaged: {0}")]
    Damaged(&'static str),
}

/// The bytes of `entry`, from `bytes`, which start at its local header; at most `limit`.
pub fn extract(entry: &Entry, bytes: &[u8], limit: u64) -> Result<Vec<u8>, EntryError> {
    if entry.uncompressed_size > limit {
        return Err(EntryError::TooLarge { limit });
    }
    let header = bytes
        .get(..LOCAL_LEN)
        .ok_or(EntryError::Damaged("its local header is cut short"))?;
    let field = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as usize;
    if u32::from_le_bytes(header[..4].try_into().expect("four bytes")) != LOCAL {
        return Err(EntryError::Damaged("its local header is missing"));
    }
    let start = LOCAL_LEN + field(26) + field(28);
    let data = usize::try_from(entry.compressed_size)
        .ok()
        .and_then(|len| bytes.get(start..start.checked_add(len)?))
        .ok_or(EntryError::Damaged("its data runs past the archive"))?;
    let content = match entry.method {
        STORED => data.to_vec(),
        DEFLATE => inflate(data, entry.uncompressed_size, limit)?,
        other => return Err(EntryError::Method(other)),
    };
    if content.len() as u64 != entry.uncompressed_size {
        return Err(EntryError::Damaged(
            "its size is not the one the archive lists",
        ));
    }
    if crc32fast::hash(&content) != entry.crc32 {
        return Err(EntryError::Damaged("its checksum does not match"));
    }
    Ok(content)
}

/// Raw deflate, refusing output past `limit` as it comes. Always without `Finish`: with it,
/// the inflater expects all the output to fit the first buffer and fails for good otherwise.
fn inflate(data: &[u8], declared: u64, limit: u64) -> Result<Vec<u8>, EntryError> {
    let mut inflater = Decompress::new(false);
    // The declared size is within the limit; a lying one is caught below, not trusted.
    let mut out = Vec::with_capacity(declared as usize);
    loop {
        if out.len() == out.capacity() {
            if out.len() as u64 >= limit {
                // Full at the limit: one more byte means it is larger.
                let mut probe = [0u8; 1];
                let before = inflater.total_out();
                let consumed = inflater.total_in() as usize;
                inflater
                    .decompress(&data[consumed..], &mut probe, FlushDecompress::None)
                    .map_err(|_| EntryError::Damaged("its compressed data is invalid"))?;
                if inflater.total_out() > before {
                    return Err(EntryError::TooLarge { limit });
                }
                return Ok(out);
            }
            let room = (out.len() as u64)
                .max(64 * 1024)
                .min(limit - out.len() as u64);
            out.reserve_exact(room as usize);
        }
        let (consumed, produced) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress_vec(&data[consumed as usize..], &mut out, FlushDecompress::None)
            .map_err(|_| EntryError::Damaged("its compressed data is invalid"))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        // Room left and nothing more came: the stream stops before its end.
        if out.len() < out.capacity()
            && inflater.total_in() == consumed
            && inflater.total_out() == produced
        {
            return Err(EntryError::Damaged("its compressed data ends early"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::DeflateEncoder;

    use super::*;

    fn local(data: &[u8], method: u16) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(LOCAL.to_le_bytes());
        bytes.extend([0u8; 4]);
        bytes.extend(method.to_le_bytes());
        bytes.extend([0u8; 16]);
        bytes.extend(5u16.to_le_bytes());
        bytes.extend(0u16.to_le_bytes());
        bytes.extend(b"a.jpg");
        bytes.extend(data);
        bytes
    }

    fn entry(content: &[u8], compressed: usize, method: u16) -> Entry {
        Entry {
            index: 0,
            name: Some("a.jpg".into()),
            raw_name: b"a.jpg".to_vec(),
            flags: 0,
            method,
            crc32: crc32fast::hash(content),
            compressed_size: compressed as u64,
            uncompressed_size: content.len() as u64,
            offset: 0,
            is_dir: false,
        }
    }

    fn deflated(content: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(content).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn stored_and_deflated_entries_come_back_whole() {
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let stored = local(&content, STORED);
        assert_eq!(
            extract(&entry(&content, content.len(), STORED), &stored, 1 << 20).unwrap(),
            content
        );
        let packed = deflated(&content);
        let bytes = local(&packed, DEFLATE);
        assert_eq!(
            extract(&entry(&content, packed.len(), DEFLATE), &bytes, 1 << 20).unwrap(),
            content
        );
        // At the limit exactly, still whole.
        assert_eq!(
            extract(&entry(&content, packed.len(), DEFLATE), &bytes, 100_000).unwrap(),
            content
        );
    }

    #[test]
    fn a_lying_header_stops_at_the_limit() {
        // 100 MB of zeros deflate to about 100 KB; the directory claims 1 KB.
        let bomb = vec![0u8; 100 << 20];
        let packed = deflated(&bomb);
        let mut liar = entry(&bomb[..1024], packed.len(), DEFLATE);
        liar.uncompressed_size = 1024;
        let bytes = local(&packed, DEFLATE);
        assert_eq!(
            extract(&liar, &bytes, 8 << 20),
            Err(EntryError::TooLarge { limit: 8 << 20 })
        );
        // Declared past the limit: refused before inflating anything.
        let honest = entry(&bomb, packed.len(), DEFLATE);
        assert_eq!(
            extract(&honest, &bytes, 8 << 20),
            Err(EntryError::TooLarge { limit: 8 << 20 })
        );
    }

    #[test]
    fn damage_is_named() {
        let content = b"hello, world".repeat(100);
        let packed = deflated(&content);
        let good = entry(&content, packed.len(), DEFLATE);
        let mut bytes = local(&packed, DEFLATE);
        let cut = bytes.len() - 10;
        assert_eq!(
            extract(&good, &bytes[..cut], 1 << 20),
            Err(EntryError::Damaged("its data runs past the archive"))
        );
        let mut wrong_crc = good.clone();
        wrong_crc.crc32 ^= 1;
        assert_eq!(
            extract(&wrong_crc, &bytes, 1 << 20),
            Err(EntryError::Damaged("its checksum does not match"))
        );
        bytes[0] = b'X';
        assert_eq!(
            extract(&good, &bytes, 1 << 20),
            Err(EntryError::Damaged("its local header is missing"))
        );
        assert_eq!(
            extract(&entry(&content, 3, 12), &local(b"abc", 12), 1 << 20),
            Err(EntryError::Method(12))
        );
    }
}
