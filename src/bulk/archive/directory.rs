//! A ZIP's end records and central directory, parsed from bytes already read: where the
//! directory is (from the end-of-central-directory record, or its ZIP64 form), then one record
//! per entry with its raw name, sizes, method, flags and where its data starts.

use super::names;

const EOCD: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
/// The end record is at most this far from the end: itself and a comment of up to 64 KiB.
pub const TAIL: u64 = (EOCD_LEN + u16::MAX as usize + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN) as u64;

/// Where the central directory is, from the records at the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub offset: u64,
    pub size: u64,
    pub entries: u64,
}

/// What is wrong with an archive as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a ZIP archive, or a truncated one: it has no end-of-central-directory record")]
    NotZip,
    #[error("the archive is truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("archives split over several disks are not supported")]
    MultiDisk,
}

fn corrupt(what: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt(what.into())
}

/// Little-endian fields, bounds checked.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u16(&self, at: usize) -> Result<u16, ArchiveError> {
        self.0
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| corrupt("a record ends early"))
    }

    fn u32(&self, at: usize) -> Result<u32, ArchiveError> {
        self.0
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| corrupt("a record ends early"))
    }

    fn u64(&self, at: usize) -> Result<u64, ArchiveError> {
        self.0
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")))
            .ok_or_else(|| corrupt("a record ends early"))
    }
}

/// Finds the central directory from `tail`, the last bytes of a `size`-byte file (at least
/// [`TAIL`] of them, or all of a smaller file).
pub fn locate(size: u64, tail: &[u8]) -> Result<Location, ArchiveError> {
    let start = size - tail.len() as u64;
    // The last record whose comment runs exactly to the end of the file.
    let at = (0..=tail.len().saturating_sub(EOCD_LEN))
        .rev()
        .find(|&at| {
            let f = Fields(&tail[at..]);
            f.u32(0) == Ok(EOCD)
                && f.u16(20)
                    .is_ok_and(|comment| at + EOCD_LEN + usize::from(comment) == tail.len())
        })
        .ok_or(ArchiveError::NotZip)?;
    let eocd = Fields(&tail[at..]);
    if eocd.u16(4)? != 0 || eocd.u16(6)? != 0 {
        return Err(ArchiveError::MultiDisk);
    }
    let mut location = Location {
        entries: u64::from(eocd.u16(10)?),
        size: u64::from(eocd.u32(12)?),
        offset: u64::from(eocd.u32(16)?),
    };
    // ZIP64: a locator right before the record points at the 64-bit end record.
    if let Some(locator_at) = at.checked_sub(ZIP64_LOCATOR_LEN)
        && Fields(&tail[locator_at..]).u32(0) == Ok(ZIP64_LOCATOR)
    {
        let locator = Fields(&tail[locator_at..]);
        let record = locator.u64(8)?;
        let record_at = record
            .checked_sub(start)
            .map(|r| r as usize)
            .filter(|&r| r + ZIP64_EOCD_LEN <= locator_at)
            .ok_or_else(|| corrupt("the ZIP64 end record is not where its locator says"))?;
        let zip64 = Fields(&tail[record_at..]);
        if zip64.u32(0)? != ZIP64_EOCD {
            return Err(corrupt("the ZIP64 end record is missing"));
        }
        if zip64.u32(16)? != 0 || zip64.u32(20)? != 0 {
            return Err(ArchiveError::MultiDisk);
        }
        location = Location {
            entries: zip64.u64(32)?,
            size: zip64.u64(40)?,
            offset: zip64.u64(48)?,
        };
    }
    if location
        .offset
        .checked_add(location.size)
        .is_none_or(|end| end > size)
    {
        return Err(corrupt(
            "the central directory lies past the end of the file",
        ));
    }
    Ok(location)
}

/// One entry as the central directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its place in the central directory, from 0: the entry's key across retries.
    pub index: u32,
    /// Decoded (see `names.rs`); `None` when no encoding reads it.
    pub name: Option<String>,
    pub raw_name: Vec<u8>,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// Where its local header starts.
    pub offset: u64,
    /// A directory, by its name or its attributes.
    pub is_dir: bool,
}

impl Entry {
    /// Encrypted (traditional PKWARE encryption, strong encryption, or AES, method 99).
    pub fn is_encrypted(&self) -> bool {
        self.flags & 0x0001 != 0 || self.flags & 0x0040 != 0 || self.method == 99
    }

    /// Names written in UTF-8, by the writer's own say.
    fn says_utf8(&self) -> bool {
        self.flags & 0x0800 != 0
    }
}

/// The entries of a central directory of `location`, read whole into `directory`.
pub fn entries(location: Location, directory: &[u8]) -> Result<Vec<Entry>, ArchiveError> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < directory.len() {
        let record = Fields(&directory[at..]);
        if record.u32(0)? != CENTRAL {
            return Err(corrupt(format!(
                "a central directory record is damaged (entry {})",
                entries.len() + 1
            )));
        }
        let name_len = usize::from(record.u16(28)?);
        let extra_len = usize::from(record.u16(30)?);
        let comment_len = usize::from(record.u16(32)?);
        let end = at + CENTRAL_LEN + name_len + extra_len + comment_len;
        let raw_name = directory
            .get(at + CENTRAL_LEN..at + CENTRAL_LEN + name_len)
            .ok_or_else(|| corrupt("a name runs past the central directory"))?
            .to_vec();
        let extra = directory
            .get(at + CENTRAL_LEN + name_len..at + CENTRAL_LEN + name_len + extra_len)
            .ok_or_else(|| corrupt("an extra field runs past the central directory"))?;
        let mut entry = Entry {
            index: u32::try_from(entries.len()).map_err(|_| corrupt("too many entries"))?,
            name: None,
            flags: record.u16(8)?,
            method: record.u16(10)?,
            crc32: record.u32(16)?,
            compressed_size: u64::from(record.u32(20)?),
            uncompressed_size: u64::from(record.u32(24)?),
            offset: u64::from(record.u32(42)?),
            // MS-DOS's directory attribute, or a trailing slash.
            is_dir: record.u32(38)? & 0x10 != 0 || raw_name.ends_with(b"/"),
            raw_name,
        };
        let unicode_path = read_extra(&mut entry, extra)?;
        entry.name = names::decode(&entry.raw_name, entry.says_utf8(), unicode_path);
        entries.push(entry);
        at = end;
    }
    // The count in the end record is modulo 2^16 in archives that should have been ZIP64.
    if entries.len() as u64 % 65536 != location.entries % 65536 {
        return Err(corrupt(format!(
            "the central directory lists {} entries where the end record says {}",
            entries.len(),
            location.entries
        )));
    }
    Ok(entries)
}

/// Applies the ZIP64 sizes and offset; returns the Info-ZIP Unicode Path when present.
fn read_extra<'a>(
    entry: &mut Entry,
    mut extra: &'a [u8],
) -> Result<Option<&'a [u8]>, ArchiveError> {
    let mut unicode_path = None;
    while extra.len() >= 4 {
        let fields = Fields(extra);
        let (tag, len) = (fields.u16(0)?, usize::from(fields.u16(2)?));
        let data = extra
            .get(4..4 + len)
            .ok_or_else(|| corrupt("an extra field runs past its record"))?;
        match tag {
            0x0001 => {
                // Only the fields whose 32-bit forms are saturated, in this order.
                let data = Fields(data);
                let mut at = 0;
                for field in [
                    &mut entry.uncompressed_size,
                    &mut entry.compressed_size,
                    &mut entry.offset,
                ] {
                    if *field == u64::from(u32::MAX) {
                        *field = data.u64(at)?;
                        at += 8;
                    }
                }
            }
            0x7075 => unicode_path = Some(data),
            _ => {}
        }
        extra = &extra[4 + len..];
    }
    Ok(unicode_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_end_record_is_not_a_zip() {
        assert_eq!(locate(5, b"hello"), Err(ArchiveError::NotZip));
        assert_eq!(locate(0, b""), Err(ArchiveError::NotZip));
    }

    #[test]
    fn an_empty_archive_has_no_entries() {
        let mut empty = vec![0u8; EOCD_LEN];
        empty[..4].copy_from_slice(&EOCD.to_le_bytes());
        let location = locate(EOCD_LEN as u64, &empty).unwrap();
        assert_eq!(
            location,
            Location {
                offset: 0,
                size: 0,
                entries: 0
            }
        );
        assert_eq!(entries(location, &[]).unwrap(), vec![]);
    }

    #[test]
    fn a_directory_past_the_end_is_corrupt() {
        let mut eocd = vec![0u8; EOCD_LEN];
        eocd[..4].copy_from_slice(&EOCD.to_le_bytes());
        eocd[12..16].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(
            locate(EOCD_LEN as u64, &eocd),
            Err(ArchiveError::Corrupt(_))
        ));
    }
}
