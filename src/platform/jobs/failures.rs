//! Dead letters: jobs that failed for good, kept in the database whatever the queue backend, so
//! an operator can list them and put them back on their queue.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Envelope, Jobs, Queue};

pub use entity::FailureState;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_failures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub queue: String,
        pub kind: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub attempts: i32,
        #[sea_orm(column_type = "Text")]
        pub error: String,
        pub state: FailureState,
        pub failed_at: DateTimeUtc,
        pub requeued_at: Option<DateTimeUtc>,
    }

    /// Where a dead letter stands.
    #[derive(
        Debug,
        Clone,
        Copy,
        PartialEq,
        Eq,
        serde::Serialize,
        serde::Deserialize,
        utoipa::ToSchema,
        EnumIter,
        DeriveActiveEnum,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "lowercase")]
    pub enum FailureState {
        /// Failed for good, waiting for an operator.
        #[sea_orm(string_value = "failed")]
        Failed,
        /// Put back on its queue by an operator.
        #[sea_orm(string_value = "requeued")]
        Requeued,
        /// Set aside by an operator: never to be run again.
        #[sea_orm(string_value = "discarded")]
        Discarded,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A dead letter as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedJob {
    pub id: String,
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub error: String,
    pub state: FailureState,
    pub failed_at: chrono::DateTime<Utc>,
    pub requeued_at: Option<chrono::DateTime<Utc>>,
}

impl From<entity::Model> for FailedJob {
    fn from(m: entity::Model) -> Self {
        FailedJob {
            payload: serde_json::from_str(&m.payload)
                .unwrap_or(serde_json::Value::String(m.payload)),
            attempts: m.attempts.max(0) as u32,
            state: m.state,
            id: m.id,
            queue: m.queue,
            kind: m.kind,
            error: m.error,
            failed_at: m.failed_at,
            requeued_at: m.requeued_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FailureError {
    #[error("no failed job with id {0}")]
    NotFound(String),
    #[error("job {0} was already re-queued")]
    AlreadyRequeued(String),
    #[error("job {0} was discarded")]
    Discarded(String),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Backend(#[from] super::JobBackendError),
}

/// Records a dead letter; recording the same job again (it failed again after a re-queue)
/// updates the row.
pub(super) async fn record(
    db: &DatabaseConnection,
    queue: Queue,
    envelope: &Envelope,
    attempts: u32,
    error: &str,
) -> Result<(), sea_orm::DbErr> {
    use entity::Column;
    let row = entity::ActiveModel {
        id: Set(envelope.id.to_string()),
        queue: Set(queue.name().to_string()),
        kind: Set(envelope.kind.clone()),
        payload: Set(envelope.payload.to_string()),
        attempts: Set(attempts as i32),
        error: Set(error.to_string()),
        state: Set(FailureState::Failed),
        failed_at: Set(Utc::now()),
        requeued_at: Set(None),
    };
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([
                    Column::Attempts,
                    Column::Error,
                    Column::State,
                    Column::FailedAt,
                    Column::RequeuedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Dead letters in id order (oldest job first), after the cursor.
pub async fn list(
    db: &DatabaseConnection,
    queue: Option<Queue>,
    state: FailureState,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<FailedJob>, sea_orm::DbErr> {
    use entity::Column;
    let mut query = entity::Entity::find().filter(Column::State.eq(state));
    if let Some(queue) = queue {
        query = query.filter(Column::Queue.eq(queue.name()));
    }
    if let Some(after) = after {
        query = query.filter(Column::Id.gt(after));
    }
    let rows = query.order_by_asc(Column::Id).limit(limit).all(db).await?;
    Ok(rows.into_iter().map(FailedJob::from).collect())
}

/// Puts a dead letter back on its queue with a fresh attempt count. The state flips first, with
/// a condition, so two operators clicking at once re-queue it once.
pub async fn requeue(
    db: &DatabaseConnection,
    jobs: &Jobs,
    id: &str,
) -> Result<FailedJob, FailureError> {
    use entity::Column;
    let row = entity::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| FailureError::NotFound(id.to_string()))?;
    // A queue no module declares any more: its jobs have nowhere to go.
    let queue = jobs
        .registry()
        .queue_named(&row.queue)
        .ok_or_else(|| FailureError::NotFound(id.to_string()))?;
    let flipped = entity::Entity::update_many()
        .col_expr(Column::State, FailureState::Requeued.into())
        .col_expr(Column::RequeuedAt, Some(Utc::now()).into())
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(FailureState::Failed))
        .exec(db)
        .await?;
    if flipped.rows_affected == 0 {
        return Err(not_failed(id, row.state));
    }
    let envelope = Envelope {
        id: Uuid::parse_str(&row.id).unwrap_or_else(|_| Uuid::now_v7()),
        kind: row.kind.clone(),
        payload: serde_json::from_str(&row.payload).unwrap_or_default(),
        attempt: 0,
    };
    if let Err(error) = jobs.push(queue, envelope, std::time::Duration::ZERO).await {
        entity::Entity::update_many()
            .col_expr(Column::State, FailureState::Failed.into())
            .col_expr(
                Column::RequeuedAt,
                Option::<chrono::DateTime<Utc>>::None.into(),
            )
            .filter(Column::Id.eq(id))
            .exec(db)
            .await?;
        return Err(error.into());
    }
    let row = entity::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| FailureError::NotFound(id.to_string()))?;
    Ok(row.into())
}

/// The error for a dead letter an operator already handled (read before a conditional update
/// lost; the other operator's state is the likeliest, a re-queue the only other).
fn not_failed(id: &str, state: FailureState) -> FailureError {
    match state {
        FailureState::Discarded => FailureError::Discarded(id.to_string()),
        FailureState::Failed | FailureState::Requeued => {
            FailureError::AlreadyRequeued(id.to_string())
        }
    }
}

/// Sets a dead letter aside for good. Only a failed one: a re-queued job is running again.
pub async fn discard(db: &DatabaseConnection, id: &str) -> Result<(), FailureError> {
    use entity::Column;
    let flipped = entity::Entity::update_many()
        .col_expr(Column::State, FailureState::Discarded.into())
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(FailureState::Failed))
        .exec(db)
        .await?;
    if flipped.rows_affected == 1 {
        return Ok(());
    }
    let row = entity::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| FailureError::NotFound(id.to_string()))?;
    Err(not_failed(id, row.state))
}

/// Dead letters waiting for an operator, per queue.
pub async fn dead_per_queue(
    db: &DatabaseConnection,
) -> Result<std::collections::HashMap<String, u64>, sea_orm::DbErr> {
    use entity::Column;
    use sea_orm::QuerySelect;
    let rows: Vec<(String, i64)> = entity::Entity::find()
        .select_only()
        .column(Column::Queue)
        .column_as(Column::Id.count(), "dead")
        .filter(Column::State.eq(FailureState::Failed))
        .group_by(Column::Queue)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(queue, n)| (queue, n.max(0) as u64))
        .collect())
}
