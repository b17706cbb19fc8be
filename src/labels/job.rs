//! Sends a logged print job's ESC/POS bytes to its printer.

use std::time::Duration;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::PrintStatus;
use super::print_log;
use super::printer::{self, PrinterError};
use crate::platform::Platform;
use crate::platform::jobs::{Job, JobContext, JobError, Queue};
use crate::platform::storage::ObjectKey;

/// How long to wait for a printer to answer, and again to take the bytes.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize, Deserialize)]
pub struct PrintLabels {
    pub print_job_id: Uuid,
}

impl Job for PrintLabels {
    const KIND: &'static str = "labels.print";
    const QUEUE: Queue = super::QUEUE;

    #[tracing::instrument(skip_all, fields(print_job_id = %self.print_job_id))]
    async fn run(self, context: JobContext) -> Result<(), JobError> {
        let platform = &context.platform;
        let id = self.print_job_id.to_string();
        let db = &platform.db;
        let job = print_log::find(db, &id)
            .await
            .map_err(JobError::retry)?
            .ok_or_else(|| JobError::permanent(anyhow!("print job {id} does not exist")))?;
        let attempts = match job.status {
            PrintStatus::Printed => {
                tracing::info!("already printed");
                return Ok(());
            }
            PrintStatus::DryRun => {
                return Err(JobError::permanent(anyhow!("print job {id} is a dry run")));
            }
            // A failed job only runs again when an operator re-queued it: it gets a fresh count.
            PrintStatus::Failed => 1,
            PrintStatus::Queued | PrintStatus::Printing => job.attempts.max(0) as u32 + 1,
        };
        if !print_log::begin_attempt(db, &id, attempts as i32)
            .await
            .map_err(JobError::retry)?
        {
            tracing::info!("printed meanwhile");
            return Ok(());
        }
        let Err(failure) = send(platform, job.printer.as_deref(), job.escpos_key.as_deref()).await
        else {
            // Should this fail, the retry prints again: a label twice beats none.
            print_log::finish(db, &id, PrintStatus::Printed, None)
                .await
                .map_err(JobError::retry)?;
            return Ok(());
        };
        // The log's attempts, not the queue's: a re-queued print job starts counting again.
        let retry = failure.transient && attempts < context.max_attempts;
        let status = if retry {
            PrintStatus::Queued
        } else {
            PrintStatus::Failed
        };
        print_log::finish(db, &id, status, Some(failure.message.clone()))
            .await
            .map_err(JobError::retry)?;
        if retry {
            Err(JobError::retry(anyhow!(failure.message)))
        } else {
            // Failed for good here, so the queue gives up too: the log and the dead letters agree.
            Err(JobError::permanent(anyhow!(failure.message)))
        }
    }
}

/// Why an attempt did not print, in words for the print job's owner: the printer by its name,
/// its address only in the logs.
struct Failure {
    message: String,
    transient: bool,
}

impl Failure {
    fn permanent(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            transient: false,
        }
    }

    fn transient(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            transient: true,
        }
    }
}

async fn send(
    platform: &Platform,
    printer: Option<&str>,
    key: Option<&str>,
) -> Result<(), Failure> {
    let (Some(name), Some(key)) = (printer, key) else {
        return Err(Failure::permanent(
            "nothing to print: no printer or no bytes",
        ));
    };
    let Some(address) = platform.settings.labels.printers.get(name) else {
        return Err(Failure::permanent(format!(
            "printer `{name}` is no longer configured"
        )));
    };
    let key = ObjectKey::parse(key).map_err(|e| Failure::permanent(e.to_string()))?;
    let bytes = match platform.store.get(&key).await {
        Ok(bytes) => bytes,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Failure::permanent(
                "the label bytes are missing from storage",
            ));
        }
        Err(error) => {
            tracing::warn!(%error, %key, "cannot read the label bytes");
            return Err(Failure::transient("storage is unavailable"));
        }
    };
    let address = printer::with_default_port(address);
    printer::send(&address, &bytes, SEND_TIMEOUT)
        .await
        .map_err(|error| {
            let message = describe(name, &error);
            let error = format!("{:#}", anyhow::Error::new(error));
            tracing::warn!(printer = name, error, "cannot print");
            Failure::transient(message)
        })
}

fn describe(name: &str, error: &PrinterError) -> String {
    match error {
        PrinterError::Connect { source, .. } => {
            format!("cannot connect to printer `{name}`: {}", source.kind())
        }
        PrinterError::ConnectTimeout { timeout, .. } => {
            format!("printer `{name}` did not answer within {timeout:?}")
        }
        PrinterError::Write { source, .. } => {
            format!("sending to printer `{name}` failed: {}", source.kind())
        }
        PrinterError::WriteTimeout { timeout, .. } => {
            format!("printer `{name}` did not take the data within {timeout:?}")
        }
    }
}
