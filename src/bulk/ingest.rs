//! The `bulk.ingest` job: a seller's archive, read by ranged reads, each image registered
//! through the images module. Every entry's outcome is committed under its (archive, entry)
//! key before the next is read, so a retry, a crash or a second storage event skips what is
//! done and finishes the rest: however often it runs, each valid entry is registered once.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::QUEUE;
use bytes::Bytes;

use super::archive::{Archive, Entry, ReadError, Run, extract, names};
use super::entity::archive::{ArchiveStatus, Model as ArchiveRow};
use super::rows::{self, Counts};
use crate::images::{self, Source};
use crate::platform::Platform;
use crate::platform::events::ObjectCreated;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};

#[derive(Debug, Serialize, Deserialize)]
pub struct IngestArchive {
    pub event: ObjectCreated,
}

impl From<ObjectCreated> for IngestArchive {
    fn from(event: ObjectCreated) -> Self {
        IngestArchive { event }
    }
}

impl Job for IngestArchive {
    const KIND: &'static str = "bulk.ingest";
    const QUEUE: Queue = QUEUE;

    #[tracing::instrument(skip_all, fields(key = %self.event.key))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = &context.platform;
        let row = rows::find_archive_by_key(&platform.db, &self.event.key)
            .await
            .map_err(JobError::retry)?
            .ok_or_else(|| {
                JobError::permanent(anyhow::anyhow!(
                    "no archive is uploaded to {}",
                    self.event.key
                ))
            })?;
        if matches!(row.status, ArchiveStatus::Done | ArchiveStatus::Failed) {
            return Ok(());
        }
        match ingest(platform, &row).await {
            Ok(()) => Ok(()),
            Err(Stop::Failed(reason)) => {
                tracing::info!(archive_id = %row.id, %reason, "archive refused");
                rows::set_status(&platform.db, &row.id, ArchiveStatus::Failed, Some(reason))
                    .await
                    .map_err(JobError::retry)
            }
            Err(Stop::Transient(error)) => {
                // Shown while the retry waits; the last attempt's failure is final.
                let (status, reason) = if context.is_last_attempt() {
                    (ArchiveStatus::Failed, Some(format!("{error:#}")))
                } else {
                    (ArchiveStatus::Queued, None)
                };
                rows::set_status(&platform.db, &row.id, status, reason)
                    .await
                    .map_err(JobError::retry)?;
                Err(JobError::retry(error))
            }
        }
    }
}

/// Why an ingest stopped before the end.
enum Stop {
    /// The archive as a whole cannot be ingested; retrying will not change that.
    Failed(String),
    /// The store or the database failed: retry.
    Transient(anyhow::Error),
}

impl From<sea_orm::DbErr> for Stop {
    fn from(error: sea_orm::DbErr) -> Self {
        Stop::Transient(error.into())
    }
}

impl From<ReadError> for Stop {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Store(e) => Stop::Transient(e.into()),
            other => Stop::Failed(other.to_string()),
        }
    }
}

async fn ingest(platform: &Platform, row: &ArchiveRow) -> Result<(), Stop> {
    let settings = &platform.settings.bulk;
    rows::set_status(&platform.db, &row.id, ArchiveStatus::Running, None).await?;
    let key = crate::platform::storage::ObjectKey::parse(&row.key)
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let started = Instant::now();
    let archive = Archive::open(&platform.store, &key, settings.max_archive_bytes).await?;
    let (reads, bytes) = archive.opened_with();
    read_made(platform, "directory", reads, bytes, started.elapsed());
    let (images, skipped): (Vec<&Entry>, Vec<&Entry>) = archive
        .entries
        .iter()
        .partition(|e| !names::is_ignored(e.name.as_deref().unwrap_or_default(), e.is_dir));
    if images.len() > settings.max_images as usize {
        return Err(Stop::Failed(format!(
            "the archive holds {} images; at most {} may be ingested at once",
            images.len(),
            settings.max_images
        )));
    }
    if let Some(locked) = images.iter().find(|e| e.is_encrypted()) {
        return Err(Stop::Failed(format!(
            "{} is encrypted: zip the images without a password",
            shown_name(locked)
        )));
    }
    let (done, registered, refused) = rows::outcomes(&platform.db, &row.id).await?;
    let mut progress = Progress {
        counts: Counts {
            total: images.len() as u32,
            registered,
            skipped: skipped.len() as u32,
            refused,
        },
        written: Instant::now(),
        bytes: archive.size(),
    };
    rows::set_counts(&platform.db, &row.id, progress.counts, archive.size()).await?;

    let pending: Vec<&Entry> = images
        .into_iter()
        .filter(|e| !done.contains(&e.index))
        .collect();
    let read = read_entries(platform, row, &archive, &pending, &mut progress).await;
    // The counts as committed, whether the run finished or stopped.
    let (_, registered, refused) = rows::outcomes(&platform.db, &row.id).await?;
    progress.counts.registered = registered;
    progress.counts.refused = refused;
    rows::set_counts(&platform.db, &row.id, progress.counts, archive.size()).await?;
    read?;
    rows::set_status(&platform.db, &row.id, ArchiveStatus::Done, None).await?;
    // The images keep their own copies: the archive has served its purpose.
    if let Err(error) = platform.store.delete(&key).await {
        tracing::warn!(%key, %error, "cannot remove an ingested archive");
    }
    Ok(())
}

/// Registers `pending` entries, or records why not, one outcome committed at a time.
async fn read_entries(
    platform: &Platform,
    row: &ArchiveRow,
    archive: &Archive,
    pending: &[&Entry],
    progress: &mut Progress,
) -> Result<(), Stop> {
    let settings = &platform.settings.bulk;
    // Entries refused by their directory record are recorded without reading them.
    let mut wanted = Vec::new();
    for entry in pending {
        match refusal_before_reading(entry, settings.max_image_bytes) {
            Some(reason) => record(platform, row, entry, Err(&reason), progress).await?,
            None => wanted.push(entry.index),
        }
    }
    // The next run is read while this one's images are registered, so a slow store costs
    // the larger of the two times, not their sum (one more run held: `max_read_bytes`).
    let runs = archive.runs(&wanted, settings.max_read_bytes, settings.max_read_gap);
    let mut next = match runs.first() {
        Some(run) => Some(read_run(platform, archive, run).await?),
        None => None,
    };
    for (at, run) in runs.iter().enumerate() {
        let bytes = next.take().expect("read ahead");
        let following = async {
            match runs.get(at + 1) {
                Some(run) => read_run(platform, archive, run).await.map(Some),
                None => Ok(None),
            }
        };
        let (registered, following) = tokio::join!(
            register_run(platform, row, archive, run, &bytes, progress),
            following
        );
        registered?;
        next = following?;
    }
    Ok(())
}

async fn read_run(platform: &Platform, archive: &Archive, run: &Run) -> Result<Bytes, Stop> {
    let started = Instant::now();
    let bytes = archive.read(&platform.store, run).await?;
    read_made(
        platform,
        "entries",
        1,
        bytes.len() as u64,
        started.elapsed(),
    );
    Ok(bytes)
}

/// Registers the entries of `run`, read into `bytes`, committing each outcome.
async fn register_run(
    platform: &Platform,
    row: &ArchiveRow,
    archive: &Archive,
    run: &Run,
    bytes: &Bytes,
    progress: &mut Progress,
) -> Result<(), Stop> {
    for &index in &run.entries {
        let entry = &archive.entries[index as usize];
        let data = archive.slice(run, bytes, index);
        let started = Instant::now();
        let outcome = register(platform, row, entry, &data).await?;
        entry_done(platform, started.elapsed());
        let outcome = outcome.as_ref().map(String::as_str).map_err(String::as_str);
        record(platform, row, entry, outcome, progress).await?;
    }
    Ok(())
}

/// Counts ranged reads of archives (`sous_bulk_archive_read_seconds`, by what they fetch) and
/// their bytes, so operators see what an ingest costs the store.
fn read_made(platform: &Platform, kind: &str, reads: u64, bytes: u64, took: std::time::Duration) {
    let seconds = platform.metrics.histogram(
        "bulk_archive_read_seconds",
        "Ranged reads of archives, by what they fetch (the directory, or runs of entries)",
        &["kind"],
        &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    );
    // Opening may take two reads; they are timed together.
    for _ in 0..reads {
        seconds
            .with_label_values(&[kind])
            .observe(took.as_secs_f64() / reads as f64);
    }
    platform
        .metrics
        .counter(
            "bulk_archive_read_bytes_total",
            "Bytes of archives read, by what the reads fetch",
            &["kind"],
        )
        .with_label_values(&[kind])
        .inc_by(bytes);
}

/// Times an entry from its bytes to its outcome (inflating, checking, registering).
fn entry_done(platform: &Platform, took: std::time::Duration) {
    platform
        .metrics
        .histogram(
            "bulk_entry_seconds",
            "Time to inflate, check and register one archive entry",
            &[],
            &[0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
        )
        .with_label_values(&[] as &[&str])
        .observe(took.as_secs_f64());
}

struct Progress {
    counts: Counts,
    written: Instant,
    bytes: u64,
}

fn shown_name(entry: &Entry) -> String {
    entry
        .name
        .clone()
        .unwrap_or_else(|| format!("entry {}", entry.index + 1))
}

/// Why an entry is refused from what the central directory says alone.
fn refusal_before_reading(entry: &Entry, max_bytes: u64) -> Option<String> {
    let Some(name) = &entry.name else {
        return Some("the name is neither UTF-8 nor CP932".into());
    };
    if let Some(reason) = names::refusal(name) {
        return Some(reason.into());
    }
    (entry.uncompressed_size > max_bytes)
        .then(|| format!("the image is larger than {max_bytes} bytes"))
}

/// Registers one entry's image: its id, or why it is refused. Only a failure of the store or
/// the database is an error (the run is retried).
async fn register(
    platform: &Platform,
    row: &ArchiveRow,
    entry: &Entry,
    data: &[u8],
) -> Result<Result<String, String>, Stop> {
    let max = platform.settings.bulk.max_image_bytes;
    let content = match extract(entry, data, max) {
        Ok(content) => content,
        Err(error) => return Ok(Err(error.to_string())),
    };
    if let Err(error) = images::codec::sniff(&content) {
        return Ok(Err(error.to_string()));
    }
    match images::register(platform, &row.owner, Source::Bytes(content.into())).await {
        Ok(image) => {
            let name = entry.name.as_deref().expect("named entries only are read");
            let id = image.id.to_string();
            rows::remember_image(&platform.db, &row.owner, name, &id, &row.id).await?;
            Ok(Ok(id))
        }
        Err(error) if error.is_the_bytes_fault() => Ok(Err(error.to_string())),
        Err(error) => Err(Stop::Transient(error.into())),
    }
}

/// Commits an entry's outcome, and the counts every `bulk.progress_every`.
async fn record(
    platform: &Platform,
    row: &ArchiveRow,
    entry: &Entry,
    outcome: Result<&str, &str>,
    progress: &mut Progress,
) -> Result<(), Stop> {
    let name = shown_name(entry);
    if rows::record_entry(&platform.db, &row.id, entry.index, &name, outcome).await? {
        match outcome {
            Ok(_) => progress.counts.registered += 1,
            Err(_) => progress.counts.refused += 1,
        }
    }
    if progress.written.elapsed() >= platform.settings.bulk.progress_every {
        rows::set_counts(&platform.db, &row.id, progress.counts, progress.bytes).await?;
        progress.written = Instant::now();
    }
    Ok(())
}
