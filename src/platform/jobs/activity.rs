//! Job outcomes per queue per minute, kept in the database so that every replica's work adds
//! up in one place (the metrics each process exposes reset with it and are seen per replica).
//! Workers count in memory and each replica adds its counts to the table every few seconds
//! and as it stops; rows older than a day are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use super::Queue;
use crate::platform::Platform;

/// How often each replica writes its counts.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
const KEEP: chrono::Duration = chrono::Duration::days(1);

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_activity")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub queue: String,
        /// Unix seconds of the minute's start.
        #[sea_orm(primary_key, auto_increment = false)]
        pub minute: i64,
        pub succeeded: i64,
        pub retried: i64,
        pub dead: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Retried,
    Dead,
}

impl Outcome {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Retried => "retried",
            Outcome::Dead => "dead",
        }
    }
}

/// Attempts of one queue in one minute, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub succeeded: u64,
    pub retried: u64,
    pub dead: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.succeeded += other.succeeded;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

/// This process's counts not yet written.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    unwritten: Arc<Mutex<HashMap<(&'static str, i64), Counts>>>,
}

impl Activity {
    pub fn record(&self, queue: Queue, outcome: Outcome) {
        let minute = Utc::now().timestamp().div_euclid(60) * 60;
        let mut unwritten = self.unwritten.lock().expect("activity lock");
        let counts = unwritten.entry((queue.name(), minute)).or_default();
        match outcome {
            Outcome::Succeeded => counts.succeeded += 1,
            Outcome::Retried => counts.retried += 1,
            Outcome::Dead => counts.dead += 1,
        }
    }

    fn take(&self) -> HashMap<(&'static str, i64), Counts> {
        std::mem::take(&mut *self.unwritten.lock().expect("activity lock"))
    }

    /// Puts back counts a failed write did not store, to go with the next one.
    fn restore(&self, counts: HashMap<(&'static str, i64), Counts>) {
        let mut unwritten = self.unwritten.lock().expect("activity lock");
        for (key, value) in counts {
            unwritten.entry(key).or_default().add(value);
        }
    }
}

/// Adds this replica's counts to the table (a periodic task on each replica, and at stop).
pub async fn flush(platform: Platform) -> anyhow::Result<()> {
    let activity = platform.jobs.activity();
    let mut pending = activity.take();
    if pending.is_empty() {
        return Ok(());
    }
    let keys: Vec<_> = pending.keys().copied().collect();
    for key in keys {
        let counts = pending[&key];
        if let Err(error) = add(&platform.db, key, counts).await {
            activity.restore(pending);
            return Err(error.into());
        }
        pending.remove(&key);
    }
    let cutoff = (Utc::now() - KEEP).timestamp();
    entity::Entity::delete_many()
        .filter(entity::Column::Minute.lt(cutoff))
        .exec(&platform.db)
        .await?;
    Ok(())
}

async fn add(
    db: &DatabaseConnection,
    (queue, minute): (&'static str, i64),
    counts: Counts,
) -> Result<(), sea_orm::DbErr> {
    use entity::Column;
    use sea_orm::sea_query::ExprTrait as _;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    // `SET succeeded = job_activity.succeeded + n`: replicas writing the same minute add up.
    let plus = |column: Column, v: u64| Expr::col((entity::Entity, column)).add(n(v));
    entity::Entity::insert(entity::ActiveModel {
        queue: Set(queue.to_string()),
        minute: Set(minute),
        succeeded: Set(n(counts.succeeded)),
        retried: Set(n(counts.retried)),
        dead: Set(n(counts.dead)),
    })
    .on_conflict(
        OnConflict::columns([Column::Queue, Column::Minute])
            .value(Column::Succeeded, plus(Column::Succeeded, counts.succeeded))
            .value(Column::Retried, plus(Column::Retried, counts.retried))
            .value(Column::Dead, plus(Column::Dead, counts.dead))
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One minute of one queue, for charts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Minute {
    pub minute: chrono::DateTime<Utc>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The last 60 minutes of each of `queues`, oldest first, a row for every minute (zero when
/// idle).
pub async fn last_hour(
    db: &DatabaseConnection,
    queues: &[&str],
) -> Result<HashMap<String, Vec<Minute>>, sea_orm::DbErr> {
    let this_minute = Utc::now().timestamp().div_euclid(60) * 60;
    let first = this_minute - 59 * 60;
    let rows = entity::Entity::find()
        .filter(entity::Column::Minute.gte(first))
        .order_by_asc(entity::Column::Minute)
        .all(db)
        .await?;
    let mut recorded: HashMap<(String, i64), Counts> = HashMap::new();
    for row in rows {
        let counts = Counts {
            succeeded: row.succeeded.max(0) as u64,
            retried: row.retried.max(0) as u64,
            dead: row.dead.max(0) as u64,
        };
        recorded.insert((row.queue, row.minute), counts);
    }
    Ok(queues
        .iter()
        .map(|&queue| {
            let series = (0..60)
                .map(|i| {
                    let minute = first + i * 60;
                    Minute {
                        minute: chrono::DateTime::from_timestamp(minute, 0).unwrap_or_default(),
                        counts: recorded
                            .get(&(queue.to_string(), minute))
                            .copied()
                            .unwrap_or_default(),
                    }
                })
                .collect();
            (queue.to_string(), series)
        })
        .collect())
}
