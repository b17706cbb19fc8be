//! A ZIP archive read from the object store by ranged reads only, never whole: one HEAD (size
//! and version), one read of the tail (the end records and, usually, the whole central
//! directory; a second read when the directory is larger than the tail), then one read per
//! run of neighbouring entries. Every read is pinned to the version the HEAD saw, so an
//! archive replaced meanwhile fails cleanly instead of mixing two files' bytes.

mod directory;
mod extract;
pub mod names;

use std::ops::Range;

use bytes::Bytes;
use object_store::ObjectMeta;

pub use directory::{ArchiveError, Entry};
pub use extract::{EntryError, extract};

use crate::platform::storage::{ObjectKey, Store};

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the archive is not in the store")]
    Missing,
    #[error("the archive is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the archive was replaced while it was being read")]
    Replaced,
    #[error("the store failed: {0}")]
    Store(object_store::Error),
}

impl From<object_store::Error> for ReadError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => ReadError::Missing,
            object_store::Error::Precondition { .. } => ReadError::Replaced,
            other => ReadError::Store(other),
        }
    }
}

/// An archive's directory, and what pins reads to the version it came from.
#[derive(Debug)]
pub struct Archive {
    key: ObjectKey,
    meta: ObjectMeta,
    /// In the order of the central directory.
    pub entries: Vec<Entry>,
    /// Where each entry's bytes are (local header, data, descriptor), by entry index.
    spans: Vec<Range<u64>>,
    /// Ranged reads and bytes that opening took (the tail, and a larger directory).
    opened_with: (u64, u64),
}

/// Neighbouring entries read with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub range: Range<u64>,
    /// Entry indexes, in file order.
    pub entries: Vec<u32>,
}

impl Archive {
    /// Reads the directory of the archive at `key`, at most `max_bytes` long.
    pub async fn open(
        store: &Store,
        key: &ObjectKey,
        max_bytes: u64,
    ) -> Result<Archive, ReadError> {
        let meta = store.head(key).await?.ok_or(ReadError::Missing)?;
        if meta.size > max_bytes {
            return Err(ReadError::TooLarge { limit: max_bytes });
        }
        let size = meta.size;
        if size == 0 {
            return Err(ArchiveError::NotZip.into());
        }
        let tail_start = size - size.min(directory::TAIL);
        let tail = store.get_range_of(key, &meta, tail_start..size).await?;
        let location = directory::locate(size, &tail)?;
        let end = location.offset + location.size;
        let mut opened_with = (1, size - tail_start);
        let central = if location.offset >= tail_start {
            tail.slice((location.offset - tail_start) as usize..(end - tail_start) as usize)
        } else {
            let before = store
                .get_range_of(key, &meta, location.offset..tail_start)
                .await?;
            opened_with = (2, size - location.offset);
            let mut whole = Vec::with_capacity(location.size as usize);
            whole.extend_from_slice(&before);
            whole.extend_from_slice(&tail[..(end.min(size) - tail_start) as usize]);
            Bytes::from(whole)
        };
        let entries = directory::entries(location, &central)?;
        let spans = spans(&entries, location.offset);
        Ok(Archive {
            key: key.clone(),
            meta,
            entries,
            spans,
            opened_with,
        })
    }

    /// Ranged reads and bytes that opening took.
    pub fn opened_with(&self) -> (u64, u64) {
        self.opened_with
    }

    pub fn size(&self) -> u64 {
        self.meta.size
    }

    /// The reads that fetch `wanted` entries (indexes): neighbours share a read while it stays
    /// within `max_run` bytes, and a gap of at most `max_gap` bytes (entries not wanted) is read
    /// through rather than split on.
    pub fn runs(&self, wanted: &[u32], max_run: u64, max_gap: u64) -> Vec<Run> {
        let mut ordered: Vec<u32> = wanted.to_vec();
        ordered.sort_by_key(|&i| self.spans[i as usize].start);
        let mut runs: Vec<Run> = Vec::new();
        for index in ordered {
            let span = self.spans[index as usize].clone();
            match runs.last_mut() {
                Some(run)
                    if span.start >= run.range.end
                        && span.start - run.range.end <= max_gap
                        && span.end - run.range.start <= max_run =>
                {
                    run.range.end = span.end;
                    run.entries.push(index);
                }
                _ => runs.push(Run {
                    range: span,
                    entries: vec![index],
                }),
            }
        }
        runs
    }

    /// The bytes of `run`, from the archive's version that was opened.
    pub async fn read(&self, store: &Store, run: &Run) -> Result<Bytes, ReadError> {
        Ok(store
            .get_range_of(&self.key, &self.meta, run.range.clone())
            .await?)
    }

    /// Entry `index`'s bytes within the bytes read for `run`.
    pub fn slice(&self, run: &Run, bytes: &Bytes, index: u32) -> Bytes {
        let span = &self.spans[index as usize];
        let start = (span.start - run.range.start) as usize;
        let end = ((span.end - run.range.start) as usize).min(bytes.len());
        bytes.slice(start.min(end)..end)
    }
}

/// Each entry's bytes run from its local header to the next entry's (in file order), or to the
/// central directory for the last one.
fn spans(entries: &[Entry], directory_offset: u64) -> Vec<Range<u64>> {
    let mut starts: Vec<u64> = entries.iter().map(|e| e.offset).collect();
    starts.push(directory_offset);
    starts.sort_unstable();
    entries
        .iter()
        .map(|entry| {
            let next = starts
                .get(starts.partition_point(|&start| start <= entry.offset))
                .copied()
                .unwrap_or(directory_offset);
            entry.offset..next.max(entry.offset)
        })
        .collect()
}
