//! The three apalis backends behind one enum: Redis, PostgreSQL, SQLite.

use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::{Metrics, TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use sqlx::pool::PoolOptions;

use super::{Envelope, Queue};
use crate::config::Settings;

/// How a backend's workers beat and when their silence counts as death.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Heartbeat interval, which is also how often an idle worker looks for work.
    pub poll: Duration,
    /// Silence after which a worker counts as dead and its in-flight jobs are re-queued
    /// elsewhere. Many beats long, so a replica that skipped a beat or two keeps its jobs.
    pub orphan_after: Duration,
}

impl Timing {
    fn missed_heartbeats(self) -> usize {
        (self.orphan_after.as_secs_f64() / self.poll.as_secs_f64())
            .ceil()
            .max(2.0) as usize
    }
}

/// Jobs a worker claims per fetch. apalis sends no heartbeat while fetched jobs wait for a free
/// slot, so a worker holding more than it can start looks dead to its peers (which re-queue its
/// jobs: run twice) and to the stall watchdog. One at a time, a fetch happens only when a slot
/// is free.
const FETCH_BATCH: usize = 1;

/// Apalis's own retry is only a safety net for when our bookkeeping itself fails (see `runner`).
const BACKEND_MAX_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum JobBackendError {
    #[error("cannot encode job payload: {0}")]
    Encode(serde_json::Error),
    #[error("cannot reach the job backend: {0}")]
    Unavailable(String),
}

#[derive(Clone, Debug)]
pub enum JobBackend {
    Redis {
        conn: ConnectionManager,
        prefix: String,
        timing: Timing,
    },
    Postgres {
        pool: sqlx::postgres::PgPool,
        timing: Timing,
    },
    Sqlite {
        pool: SqlitePool,
        timing: Timing,
    },
}

impl JobBackend {
    /// Connects and prepares the backend's own tables.
    pub async fn connect(settings: &Settings) -> anyhow::Result<JobBackend> {
        use anyhow::Context;
        let timing = Timing {
            poll: settings.jobs.poll_interval,
            orphan_after: settings.jobs.orphan_after,
        };
        let url = match (&settings.jobs.url, &settings.redis_url) {
            (Some(url), _) => url.expose().to_string(),
            (None, Some(redis)) => redis.expose().to_string(),
            (None, None) if !settings.is_embedded() => settings.database_url.expose().to_string(),
            (None, None) => format!(
                "sqlite://{}?mode=rwc",
                settings.data_dir.join("jobs.db").display()
            ),
        };
        if url.starts_with("redis") {
            let conn = crate::platform::redis_connection(&url, settings.redis_timeout)
                .await
                .context("failed to connect to the job Redis")?;
            return Ok(JobBackend::Redis {
                conn,
                prefix: settings.redis_prefix.clone(),
                timing,
            });
        }
        if url.starts_with("postgres") {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(5))
                .connect(&url)
                .await
                .context("failed to connect to the job database (PostgreSQL)")?;
            PostgresStorage::<()>::setup(&pool)
                .await
                .context("failed to prepare the job tables in PostgreSQL")?;
            return Ok(JobBackend::Postgres { pool, timing });
        }
        // The queue polls with `UPDATE … RETURNING`; its own file keeps it from contending with
        // the application database's single writer.
        let options = SqliteConnectOptions::from_str(&url)
            .context("invalid job database URL")?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool: SqlitePool = SqlitePoolOptions::from(PoolOptions::new().max_connections(4))
            .connect_with(options)
            .await
            .context("failed to open the job database (SQLite)")?;
        SqliteStorage::<()>::setup(&pool)
            .await
            .context("failed to prepare the job tables in SQLite")?;
        Ok(JobBackend::Sqlite { pool, timing })
    }

    pub fn timing(&self) -> Timing {
        match self {
            JobBackend::Redis { timing, .. }
            | JobBackend::Postgres { timing, .. }
            | JobBackend::Sqlite { timing, .. } => *timing,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobBackend::Redis { .. } => "redis",
            JobBackend::Postgres { .. } => "postgres",
            JobBackend::Sqlite { .. } => "sqlite",
        }
    }

    /// The apalis queue name; Redis names carry the deployment prefix.
    pub(super) fn queue_name(&self, queue: Queue) -> String {
        match self {
            JobBackend::Redis { prefix, .. } => format!("{prefix}:jobs:{}", queue.name()),
            _ => format!("sous:{}", queue.name()),
        }
    }

    pub(super) fn redis_storage(
        conn: &ConnectionManager,
        name: &str,
        timing: Timing,
    ) -> RedisStorage<Envelope> {
        // `with_config(Config::default())` would reset the queue to "default": set it explicitly.
        let config = apalis_redis::Config::default()
            .queue(name)
            .batch_size(FETCH_BATCH)
            .heartbeat_interval(timing.poll)
            .missed_heartbeats(timing.missed_heartbeats());
        RedisStorage::new(conn.clone()).with_config(config)
    }

    fn redis_config(conn: &ConnectionManager, name: &str, timing: Timing) -> apalis_redis::Config {
        Self::redis_storage(conn, name, timing).get_config().clone()
    }

    pub(super) fn sqlite_storage(
        pool: &SqlitePool,
        name: &str,
        timing: Timing,
    ) -> SqliteStorage<Envelope> {
        let config = apalis_sqlite::Config::default()
            .queue(name)
            .batch_size(FETCH_BATCH)
            .heartbeat_interval(timing.poll)
            .missed_heartbeats(timing.missed_heartbeats());
        SqliteStorage::new(pool).with_config(config)
    }

    pub(super) fn postgres_storage(
        pool: &sqlx::postgres::PgPool,
        name: &str,
        timing: Timing,
    ) -> PostgresStorage<Envelope> {
        let config = apalis_postgres::Config::default()
            .queue(name)
            .batch_size(FETCH_BATCH)
            .heartbeat_interval(timing.poll)
            .missed_heartbeats(timing.missed_heartbeats());
        PostgresStorage::new(pool).with_config(config)
    }

    pub(super) async fn push(
        &self,
        queue: Queue,
        envelope: Envelope,
        delay: Duration,
    ) -> Result<(), JobBackendError> {
        let name = self.queue_name(queue);
        let mut task = TaskBuilder::new(envelope).max_attempts(BACKEND_MAX_ATTEMPTS);
        if !delay.is_zero() {
            // The backends schedule in whole seconds; round up so a delay is never shortened.
            let at = std::time::SystemTime::now() + delay;
            let since_epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            task = task.run_at_timestamp(
                since_epoch.as_secs() + u64::from(since_epoch.subsec_nanos() > 0),
            );
        }
        let task = task.build();
        match self {
            JobBackend::Redis { conn, timing, .. } => Self::redis_storage(conn, &name, *timing)
                .push_task(task)
                .await
                .map_err(unavailable),
            JobBackend::Postgres { pool, timing } => Self::postgres_storage(pool, &name, *timing)
                .push_task(task)
                .await
                .map_err(unavailable),
            JobBackend::Sqlite { pool, timing } => Self::sqlite_storage(pool, &name, *timing)
                .push_task(task)
                .await
                .map_err(unavailable),
        }
    }

    /// Jobs waiting in `queue` (due or scheduled), for metrics.
    pub async fn pending(&self, queue: Queue) -> Result<u64, JobBackendError> {
        let name = self.queue_name(queue);
        let stats = match self {
            JobBackend::Redis { conn, timing, .. } => {
                // Counted directly: apalis-redis 1.0.0's per-queue metrics script fails (it reads
                // an argument it is never given), and every new job waits in its scheduled set
                // before the active list, so both count.
                let config = Self::redis_config(conn, &name, *timing);
                let (active, scheduled): (u64, u64) = redis::pipe()
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCARD")
                    .arg(config.scheduled_jobs_set())
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(unavailable)?;
                return Ok(active + scheduled);
            }
            JobBackend::Postgres { pool, timing } => Self::postgres_storage(pool, &name, *timing)
                .fetch_by_queue()
                .await
                .map_err(|e| e.to_string()),
            JobBackend::Sqlite { pool, timing } => Self::sqlite_storage(pool, &name, *timing)
                .fetch_by_queue()
                .await
                .map_err(|e| e.to_string()),
        }
        .map_err(JobBackendError::Unavailable)?;
        Ok(pending_jobs(&stats))
    }

    /// Jobs that wait on `worker` of `queue`: due now and unclaimed, or claimed by it (fetched
    /// or running). A live worker would be making progress on them.
    pub async fn waiting_on(&self, queue: Queue, worker: &str) -> Result<u64, JobBackendError> {
        let name = self.queue_name(queue);
        let now = chrono::Utc::now().timestamp();
        let count = match self {
            JobBackend::Redis { conn, timing, .. } => {
                let config = Self::redis_config(conn, &name, *timing);
                let (active, scheduled, claimed): (i64, i64, i64) = redis::pipe()
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCOUNT")
                    .arg(config.scheduled_jobs_set())
                    .arg(0)
                    .arg(now)
                    .cmd("SCARD")
                    .arg(format!("{}:{worker}", config.inflight_jobs_set()))
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(unavailable)?;
                active + scheduled + claimed
            }
            // What apalis's fetch takes (its `get_jobs` and `fetch_next.sql`), plus this worker's.
            JobBackend::Postgres { pool, .. } => sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND ((\
                 (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
                 AND run_at < now()) \
                 OR (status IN ('Queued', 'Running') AND lock_by = $2))",
            )
            .bind(&name)
            .bind(worker)
            .fetch_one(pool)
            .await
            .map_err(unavailable)?,
            JobBackend::Sqlite { pool, .. } => sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM Jobs WHERE job_type = ?1 AND ((\
                 (status = 'Pending' AND lock_by IS NULL \
                  OR status = 'Failed' AND attempts < max_attempts) \
                 AND (run_at IS NULL OR run_at <= ?2)) \
                 OR (status IN ('Queued', 'Running') AND lock_by = ?3))",
            )
            .bind(&name)
            .bind(now)
            .bind(worker)
            .fetch_one(pool)
            .await
            .map_err(unavailable)?,
        };
        Ok(count.max(0) as u64)
    }

    /// What `queue` holds now: due, scheduled for later (retries and delayed jobs), and taken
    /// by a worker.
    pub async fn counts(&self, queue: Queue) -> Result<QueueCounts, JobBackendError> {
        let name = self.queue_name(queue);
        let now = chrono::Utc::now().timestamp();
        let (waiting, scheduled, in_flight) = match self {
            JobBackend::Redis { conn, timing, .. } => {
                let config = Self::redis_config(conn, &name, *timing);
                let mut conn = conn.clone();
                let (active, due, later, workers): (i64, i64, i64, Vec<String>) = redis::pipe()
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCOUNT")
                    .arg(config.scheduled_jobs_set())
                    .arg("-inf")
                    .arg(now)
                    .cmd("ZCOUNT")
                    .arg(config.scheduled_jobs_set())
                    .arg(format!("({now}"))
                    .arg("+inf")
                    .cmd("ZRANGE")
                    .arg(config.workers_set())
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                let mut inflight = redis::pipe();
                for worker in &workers {
                    inflight
                        .cmd("SCARD")
                        .arg(format!("{}:{worker}", config.inflight_jobs_set()));
                }
                let taken: Vec<i64> = if workers.is_empty() {
                    Vec::new()
                } else {
                    inflight.query_async(&mut conn).await.map_err(unavailable)?
                };
                (active + due, later, taken.iter().sum())
            }
            JobBackend::Postgres { pool, .. } => sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT \
                 count(*) FILTER (WHERE (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) AND run_at <= now()), \
                 count(*) FILTER (WHERE (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) AND run_at > now()), \
                 count(*) FILTER (WHERE status IN ('Queued', 'Running')) \
                 FROM apalis.jobs WHERE job_type = $1",
            )
            .bind(&name)
            .fetch_one(pool)
            .await
            .map_err(unavailable)?,
            JobBackend::Sqlite { pool, .. } => sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT \
                 coalesce(sum(ready AND (run_at IS NULL OR run_at <= ?2)), 0), \
                 coalesce(sum(ready AND run_at > ?2), 0), \
                 coalesce(sum(status IN ('Queued', 'Running')), 0) \
                 FROM (SELECT *, (status = 'Pending' AND lock_by IS NULL \
                       OR status = 'Failed' AND attempts < max_attempts) AS ready \
                       FROM Jobs WHERE job_type = ?1)",
            )
            .bind(&name)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(unavailable)?,
        };
        let count = |n: i64| n.max(0) as u64;
        Ok(QueueCounts {
            waiting: count(waiting),
            scheduled: count(scheduled),
            in_flight: count(in_flight),
        })
    }

    /// Readiness: the backend answers a trivial query.
    pub async fn ping(&self) -> Result<(), JobBackendError> {
        let result = match self {
            JobBackend::Redis { conn, .. } => redis::cmd("PING")
                .query_async::<String>(&mut conn.clone())
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            JobBackend::Postgres { pool, .. } => sqlx::query::<sqlx::Postgres>("SELECT 1")
                .execute(pool)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            JobBackend::Sqlite { pool, .. } => sqlx::query::<sqlx::Sqlite>("SELECT 1")
                .execute(pool)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        result.map_err(JobBackendError::Unavailable)
    }
}

/// A queue's jobs by where they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QueueCounts {
    /// Due now, not yet taken.
    pub waiting: u64,
    /// Due later: retries waiting out their backoff, and delayed jobs.
    pub scheduled: u64,
    /// Taken by a worker.
    pub in_flight: u64,
}

fn pending_jobs(stats: &[apalis::prelude::Statistic]) -> u64 {
    stats
        .iter()
        .find(|s| s.title == "PENDING_JOBS")
        .and_then(|s| s.value.parse::<f64>().ok())
        .unwrap_or_default() as u64
}

fn unavailable(error: impl std::fmt::Display) -> JobBackendError {
    JobBackendError::Unavailable(error.to_string())
}
