//! The scheduler role: periodic work, each task guarded by a lease in the database so that any
//! number of replicas running the role do it once per period between them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
};
use tokio::time::Instant;

use super::Platform;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scheduler_leases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub holder: String,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

type TaskFn = Arc<dyn Fn(Platform) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

#[derive(Clone)]
struct Periodic {
    name: &'static str,
    every: Duration,
    run: TaskFn,
    at_start: bool,
    at_stop: bool,
}

/// An every-replica task being registered: when it runs besides every period.
pub struct ReplicaTask<'a>(&'a mut Periodic);

impl ReplicaTask<'_> {
    /// Also as the process starts (what the process needs before it serves, say).
    pub fn at_start(self) -> Self {
        self.0.at_start = true;
        self
    }

    /// Also as the process stops, after its roles have (what it holds in memory, handed on).
    pub fn at_stop(self) -> Self {
        self.0.at_stop = true;
        self
    }
}

/// Periodic work registered by modules, assembled once in `lib.rs`.
#[derive(Clone, Default)]
pub struct Schedule {
    tasks: Vec<Periodic>,
    on_each_replica: Vec<Periodic>,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tasks.iter().map(|t| (t.name, t.every)))
            .finish()
    }
}

impl Schedule {
    /// Runs `run` about every `every`, on one replica at a time. It must be idempotent: a replica
    /// that dies mid-run leaves the work to the next period.
    pub fn every<F, Fut>(&mut self, name: &'static str, every: Duration, run: F) -> &mut Self
    where
        F: Fn(Platform) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        assert!(
            self.tasks.iter().all(|t| t.name != name),
            "periodic task {name} registered twice"
        );
        self.tasks.push(Periodic {
            name,
            every,
            run: Arc::new(move |platform| Box::pin(run(platform))),
            at_start: false,
            at_stop: false,
        });
        self
    }

    /// Runs `run` about every `every` in every process, whatever its roles (and at start or at
    /// stop when the returned [`ReplicaTask`] says so). `run` should return at once when it has
    /// nothing to do.
    pub fn on_each_replica<F, Fut>(
        &mut self,
        name: &'static str,
        every: Duration,
        run: F,
    ) -> ReplicaTask<'_>
    where
        F: Fn(Platform) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        assert!(
            self.on_each_replica.iter().all(|t| t.name != name),
            "replica task {name} registered twice"
        );
        self.on_each_replica.push(Periodic {
            name,
            every,
            run: Arc::new(move |platform| Box::pin(run(platform))),
            at_start: false,
            at_stop: false,
        });
        ReplicaTask(self.on_each_replica.last_mut().expect("just pushed"))
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

async fn run_logged(platform: &Platform, task: &Periodic) {
    let started = std::time::Instant::now();
    match (task.run)(platform.clone()).await {
        Ok(()) => {
            tracing::trace!(task = task.name, elapsed = ?started.elapsed(), "replica task done")
        }
        Err(error) => tracing::warn!(
            task = task.name,
            error = format!("{error:#}"),
            "replica task failed"
        ),
    }
}

/// Runs the schedule's every-replica tasks until `shutdown` resolves.
pub async fn run_on_each_replica(
    platform: Platform,
    schedule: Schedule,
    shutdown: impl Future<Output = ()>,
) {
    if schedule.on_each_replica.is_empty() {
        return;
    }
    let tasks = &schedule.on_each_replica;
    let mut next_due: Vec<Instant> = tasks
        .iter()
        .map(|t| Instant::now() + if t.at_start { Duration::ZERO } else { t.every })
        .collect();
    tokio::pin!(shutdown);
    loop {
        for (task, due) in tasks.iter().zip(next_due.iter_mut()) {
            if Instant::now() >= *due {
                run_logged(&platform, task).await;
                *due = Instant::now() + task.every;
            }
        }
        let sleep_until = next_due.iter().min().copied().expect("at least one task");
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
}

/// The last run of the every-replica tasks that hand something on, as the process stops.
pub async fn final_pass(platform: &Platform, schedule: &Schedule) {
    for task in schedule.on_each_replica.iter().filter(|t| t.at_stop) {
        run_logged(platform, task).await;
    }
}

/// Takes (or renews) the lease `name` for `ttl` unless another holder has it unexpired.
pub async fn try_lease(
    db: &DatabaseConnection,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, sea_orm::DbErr> {
    use entity::Column;
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    // Make sure the row exists (already expired) so the conditional update below decides alone.
    entity::Entity::insert(entity::ActiveModel {
        name: Set(name.to_string()),
        holder: Set(String::new()),
        expires_at: Set(chrono::DateTime::<Utc>::UNIX_EPOCH),
    })
    .on_conflict(OnConflict::column(Column::Name).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    let taken = entity::Entity::update_many()
        .col_expr(Column::Holder, holder.into())
        .col_expr(Column::ExpiresAt, expires_at.into())
        .filter(Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(Column::Holder.eq(holder))
                .add(Column::ExpiresAt.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Runs the schedule until `shutdown` resolves; a task in progress is finished first.
pub async fn run_scheduler(
    platform: Platform,
    schedule: Schedule,
    shutdown: impl Future<Output = ()>,
) {
    // Unique per scheduler instance, even for two in one process.
    let holder = format!(
        "{}#{}#{}",
        gethostname::gethostname().to_string_lossy(),
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    );
    let tick = platform.settings.scheduler.tick;
    let mut next_due: Vec<Instant> = schedule.tasks.iter().map(|_| Instant::now()).collect();
    tracing::info!(tasks = ?schedule, "scheduler started");
    tokio::pin!(shutdown);
    loop {
        for (task, due) in schedule.tasks.iter().zip(next_due.iter_mut()) {
            if Instant::now() < *due {
                continue;
            }
            *due = Instant::now() + task.every;
            // The lease outlives the period slightly less than it, so the next period is free.
            let lease = task.every.mul_f64(0.9);
            match try_lease(&platform.db, task.name, &holder, lease).await {
                Ok(true) => {
                    let started = std::time::Instant::now();
                    match (task.run)(platform.clone()).await {
                        Ok(()) => {
                            tracing::debug!(task = task.name, elapsed = ?started.elapsed(), "periodic task done")
                        }
                        Err(error) => tracing::error!(
                            task = task.name,
                            error = format!("{error:#}"),
                            "periodic task failed"
                        ),
                    }
                }
                Ok(false) => tracing::trace!(task = task.name, "another replica holds the lease"),
                Err(error) => {
                    tracing::warn!(task = task.name, %error, "cannot take the scheduler lease")
                }
            }
        }
        let sleep_until = next_due
            .iter()
            .min()
            .copied()
            .unwrap_or_else(|| Instant::now() + tick);
        let sleep_until = sleep_until.min(Instant::now() + tick);
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
    tracing::info!("scheduler stopped");
}
