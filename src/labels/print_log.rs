//! The print log: a `print_jobs` row per request, and the ESC/POS bytes beside it in object
//! storage, written first and removed again if the row does not commit.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, DerivePartialModel, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::{self, Column, Entity, PrintStatus};
use super::{LabelTree, render_batch};
use crate::platform::storage::{ObjectKey, Store, Uncommitted};

/// Where a print job's ESC/POS bytes live.
pub(super) fn escpos_key(id: Uuid) -> ObjectKey {
    ObjectKey::parse(&format!("labels/print-jobs/{id}.bin")).expect("a UUID makes a valid key")
}

/// A character a label prints differently, and which label it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabelSubstitution {
    /// Index of the label in the request (0 for a single label).
    pub label: usize,
    /// The text element, as a path in that label's tree: `/children/3/children/0`.
    pub path: String,
    /// Position of the character in the element's text, in characters.
    pub offset: usize,
    pub original: char,
    /// What prints instead; absent when the character is dropped.
    pub replacement: Option<char>,
}

/// A print job as the log shows it: everything but the trees and the preview, which can
/// run to megabytes for a large batch.
#[derive(Debug, Clone, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub(super) struct Summary {
    pub id: String,
    pub owner: String,
    pub printer: Option<String>,
    pub dry_run: bool,
    pub status: PrintStatus,
    pub label_count: i32,
    pub substitutions: String,
    pub escpos_key: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub(super) struct Preview {
    pub owner: String,
    pub preview: String,
}

/// A rendered request, ready to be logged.
#[derive(Debug)]
pub(super) struct NewPrintJob {
    id: Uuid,
    owner: String,
    printer: Option<String>,
    dry_run: bool,
    label_count: usize,
    trees: String,
    preview: String,
    substitutions: String,
    escpos: Bytes,
}

impl NewPrintJob {
    /// Renders the labels and serializes what the log keeps: CPU work for the blocking pool.
    pub fn render(
        owner: String,
        printer: Option<String>,
        dry_run: bool,
        trees: &[LabelTree],
    ) -> Self {
        let batch = render_batch(trees);
        let substitutions: Vec<LabelSubstitution> = batch
            .substitutions
            .into_iter()
            .enumerate()
            .flat_map(|(label, found)| {
                found.into_iter().map(move |s| LabelSubstitution {
                    label,
                    path: s.path.to_string(),
                    offset: s.offset,
                    original: s.original,
                    replacement: s.replacement,
                })
            })
            .collect();
        NewPrintJob {
            id: Uuid::now_v7(),
            owner,
            printer,
            dry_run,
            label_count: trees.len(),
            trees: serde_json::to_string(trees).expect("trees serialize"),
            preview: batch.html,
            substitutions: serde_json::to_string(&substitutions).expect("substitutions serialize"),
            escpos: batch.escpos.into(),
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum CreateError {
    #[error("cannot store the ESC/POS bytes")]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Logs a print job: `queued` with its bytes in storage, or `dry_run` without them (nothing
/// will ever send them). The caller enqueues the print after this returns.
pub(super) async fn create(
    db: &DatabaseConnection,
    store: &Store,
    job: NewPrintJob,
) -> Result<Summary, CreateError> {
    let now = Utc::now();
    let (status, written) = if job.dry_run {
        (PrintStatus::DryRun, None)
    } else {
        let written = Uncommitted::put(store, escpos_key(job.id), job.escpos).await?;
        (PrintStatus::Queued, Some(written))
    };
    let summary = Summary {
        id: job.id.to_string(),
        owner: job.owner,
        printer: job.printer,
        dry_run: job.dry_run,
        status,
        label_count: i32::try_from(job.label_count).expect("batches are small"),
        substitutions: job.substitutions,
        escpos_key: written.as_ref().map(|w| w.key().to_string()),
        error: None,
        attempts: 0,
        created_at: now,
        updated_at: now,
    };
    let row = entity::ActiveModel {
        id: Set(summary.id.clone()),
        owner: Set(summary.owner.clone()),
        printer: Set(summary.printer.clone()),
        dry_run: Set(summary.dry_run),
        status: Set(status),
        label_count: Set(summary.label_count),
        trees: Set(job.trees),
        preview: Set(job.preview),
        substitutions: Set(summary.substitutions.clone()),
        escpos_key: Set(summary.escpos_key.clone()),
        error: Set(None),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Entity::insert(row).exec_without_returning(db).await?;
    if let Some(written) = written {
        written.commit();
    }
    Ok(summary)
}

pub(super) async fn find(db: &DatabaseConnection, id: &str) -> Result<Option<Summary>, DbErr> {
    Entity::find_by_id(id).into_partial_model().one(db).await
}

pub(super) async fn preview(db: &DatabaseConnection, id: &str) -> Result<Option<Preview>, DbErr> {
    Entity::find_by_id(id).into_partial_model().one(db).await
}

/// A page of the log, newest first: jobs created before the job `before` (exclusive), of one
/// owner or of everyone.
pub(super) async fn list(
    db: &DatabaseConnection,
    owner: Option<&str>,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<Summary>, DbErr> {
    let mut query = Entity::find();
    if let Some(owner) = owner {
        query = query.filter(Column::Owner.eq(owner));
    }
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    query
        .order_by_desc(Column::Id)
        .limit(limit)
        .into_partial_model()
        .all(db)
        .await
}

/// Marks the job `printing` on its `attempts`th attempt; `false` when it was printed meanwhile
/// (a duplicate delivery), so the caller must not print again.
pub(super) async fn begin_attempt(
    db: &DatabaseConnection,
    id: &str,
    attempts: i32,
) -> Result<bool, DbErr> {
    let changes = entity::ActiveModel {
        status: Set(PrintStatus::Printing),
        attempts: Set(attempts),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    let updated = Entity::update_many()
        .set(changes)
        .filter(Column::Id.eq(id))
        .filter(Column::Status.ne(PrintStatus::Printed))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Records how an attempt ended: `printed` clears the error, the others keep it.
pub(super) async fn finish(
    db: &DatabaseConnection,
    id: &str,
    status: PrintStatus,
    error: Option<String>,
) -> Result<(), DbErr> {
    let changes = entity::ActiveModel {
        status: Set(status),
        error: Set(error),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    Entity::update_many()
        .set(changes)
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escpos_bytes_live_under_the_print_job_id() {
        let id = Uuid::now_v7();
        assert_eq!(
            escpos_key(id).as_str(),
            format!("labels/print-jobs/{id}.bin")
        );
    }

    #[test]
    fn substitutions_name_their_label() {
        let tree = |text: &str| {
            super::super::LabelBuilder::sheet(super::super::Paper::MM58, |l| l.text_line(text))
                .unwrap()
        };
        let job = NewPrintJob::render("alice".into(), None, true, &[tree("なし"), tree("〜𠮷")]);
        let found: Vec<LabelSubstitution> = serde_json::from_str(&job.substitutions).unwrap();
        let got: Vec<_> = found
            .iter()
            .map(|s| {
                (
                    s.label,
                    s.path.as_str(),
                    s.offset,
                    s.original,
                    s.replacement,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "/children/0", 0, '〜', Some('～')),
                (1, "/children/0", 1, '𠮷', Some('吉'))
            ]
        );
        assert_eq!(job.label_count, 2);
        let trees: Vec<LabelTree> = serde_json::from_str(&job.trees).unwrap();
        assert_eq!(trees, [tree("なし"), tree("〜𠮷")]);
    }
}
