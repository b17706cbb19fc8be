//! Impressions, clicks and unmatched ingredient names: counted in process, added to one
//! cache-store hash by every replica each `ads.count_every` (and once more as it stops), and
//! flushed from there into `ads_hourly_stats` and `ads_unmatched` by the scheduler.
//!
//! # Exactly once
//!
//! A flush first *moves* the counting hash aside ([`PENDING`] → [`FLUSHING`], one atomic
//! rename, so counting goes on into a fresh hash), gives the moved hash a flush id (set only if
//! it has none), then applies it in one transaction that also inserts the id into
//! `ads_flushes`, and only then deletes it (if it still holds that id). A flush that dies before its commit leaves the
//! moved hash, which the next flush applies; one that dies after its commit leaves it too, but
//! its id is in `ads_flushes`, so the next flush only deletes it. A replica whose push fails
//! sends the same batch again at its next push; the cache store adds a batch once.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait, TransactionTrait};

use super::entity::{flush, hourly_stat, unmatched};
use crate::platform::Platform;

/// Where replicas add their counts.
pub const PENDING: &str = "ads:counts";
/// The counts one flush is applying.
pub const FLUSHING: &str = "ads:counts:flushing";
/// The field of [`FLUSHING`] holding its flush id (fields are otherwise `kind␟…`).
pub const FLUSH_ID_FIELD: &str = "flush_id";

const SEPARATOR: char = '\u{1f}';

/// What one count is of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Counted {
    Impression {
        campaign_id: String,
        hour: i64,
    },
    Click {
        campaign_id: String,
        hour: i64,
    },
    /// An ingredient name no rule resolved: its key, and the name as written.
    Unmatched {
        key: String,
        example: String,
    },
}

impl Counted {
    pub fn impression(campaign_id: &str, at: DateTime<Utc>) -> Self {
        Counted::Impression {
            campaign_id: campaign_id.to_string(),
            hour: hour_of(at).timestamp(),
        }
    }

    pub fn click(campaign_id: &str, at: DateTime<Utc>) -> Self {
        Counted::Click {
            campaign_id: campaign_id.to_string(),
            hour: hour_of(at).timestamp(),
        }
    }

    fn field(&self) -> String {
        let s = SEPARATOR;
        match self {
            Counted::Impression { campaign_id, hour } => format!("i{s}{campaign_id}{s}{hour}"),
            Counted::Click { campaign_id, hour } => format!("c{s}{campaign_id}{s}{hour}"),
            Counted::Unmatched { key, example } => format!("u{s}{key}{s}{example}"),
        }
    }

    fn parse(field: &str) -> Option<Counted> {
        let mut parts = field.splitn(3, SEPARATOR);
        let (kind, first, second) = (parts.next()?, parts.next()?, parts.next()?);
        Some(match kind {
            "i" => Counted::Impression {
                campaign_id: first.to_string(),
                hour: second.parse().ok()?,
            },
            "c" => Counted::Click {
                campaign_id: first.to_string(),
                hour: second.parse().ok()?,
            },
            "u" => Counted::Unmatched {
                key: first.to_string(),
                example: second.to_string(),
            },
            _ => return None,
        })
    }
}

pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// Distinct unmatched names kept between two pushes: recipe pages name what they like, and a
/// flood of made-up names must not grow the counts without bound.
const MAX_UNMATCHED_PER_PUSH: usize = 500;
/// How long the cache store remembers a pushed batch, so that one sent again (its first
/// answer lost to a timeout) is not added twice.
const REMEMBER_BATCHES: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug)]
struct Batch {
    id: String,
    counts: HashMap<Counted, i64>,
}

/// Counts not yet added to the cache store.
#[derive(Debug, Default)]
pub struct LocalCounts {
    pending: Mutex<HashMap<Counted, i64>>,
    /// A batch whose push failed: sent again as it was, under the same id.
    unsent: Mutex<Option<Batch>>,
    unmatched_dropped: std::sync::atomic::AtomicU64,
}

impl LocalCounts {
    pub fn add(&self, counted: Counted, by: i64) {
        let mut pending = self.pending.lock().expect("counts lock");
        if matches!(counted, Counted::Unmatched { .. }) && !pending.contains_key(&counted) {
            let unmatched = pending
                .keys()
                .filter(|c| matches!(c, Counted::Unmatched { .. }))
                .count();
            if unmatched >= MAX_UNMATCHED_PER_PUSH {
                self.unmatched_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
        }
        *pending.entry(counted).or_default() += by;
    }

    /// Impressions not yet known to be in the cache store, as (campaign, hour, count).
    pub fn impressions(&self) -> Vec<(String, i64, i64)> {
        let pending = self.pending.lock().expect("counts lock");
        let unsent = self.unsent.lock().expect("counts lock");
        let unsent = unsent.iter().flat_map(|batch| batch.counts.iter());
        pending
            .iter()
            .chain(unsent)
            .filter_map(|(counted, n)| match counted {
                Counted::Impression { campaign_id, hour } => Some((campaign_id.clone(), *hour, *n)),
                _ => None,
            })
            .collect()
    }

    /// Adds what this replica counted to the cache store: first a batch that failed before,
    /// under its id, then what was counted since, as a new batch. A batch whose answer is lost
    /// (a timeout) may have been added all the same; sent again, it is not added twice.
    pub(crate) async fn push(&self, platform: &Platform) -> anyhow::Result<()> {
        let dropped = self
            .unmatched_dropped
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "too many distinct unmatched ingredient names; some were not counted"
            );
        }
        let retry = self.unsent.lock().expect("counts lock").take();
        if let Some(batch) = retry {
            self.send(platform, batch).await?;
        }
        let counts = std::mem::take(&mut *self.pending.lock().expect("counts lock"));
        if counts.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            id: uuid::Uuid::now_v7().simple().to_string(),
            counts,
        };
        self.send(platform, batch).await
    }

    async fn send(&self, platform: &Platform, batch: Batch) -> anyhow::Result<()> {
        let increments: Vec<(String, i64)> =
            batch.counts.iter().map(|(c, n)| (c.field(), *n)).collect();
        let sent = platform
            .cache
            .hincr_many_once(PENDING, &batch.id, &increments, REMEMBER_BATCHES)
            .await;
        if let Err(error) = sent {
            *self.unsent.lock().expect("counts lock") = Some(batch);
            return Err(error.into());
        }
        Ok(())
    }
}

/// Impressions in the cache store not yet flushed to the database, as (campaign, hour, count).
pub async fn unflushed_impressions(platform: &Platform) -> anyhow::Result<Vec<(String, i64, i64)>> {
    let mut found = Vec::new();
    for key in [PENDING, FLUSHING] {
        for (field, value) in platform.cache.hgetall(key).await? {
            if let (Some(Counted::Impression { campaign_id, hour }), Some(n)) = (
                Counted::parse(&field),
                std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse().ok()),
            ) {
                found.push((campaign_id, hour, n));
            }
        }
    }
    Ok(found)
}

/// Moves the counts aside and applies them to the database, exactly once (see the module
/// documentation). Returns how many fields were applied.
pub async fn flush(platform: &Platform) -> anyhow::Result<usize> {
    let cache = &platform.cache;
    let resuming = !cache.hgetall(FLUSHING).await?.is_empty();
    if !resuming && !cache.rename_if_absent(PENDING, FLUSHING).await? {
        return Ok(0);
    }
    let new_id = Bytes::from(uuid::Uuid::now_v7().to_string());
    cache
        .hset_if_absent(FLUSHING, FLUSH_ID_FIELD, new_id)
        .await?;
    let fields = cache.hgetall(FLUSHING).await?;
    let id = fields
        .iter()
        .find(|(f, _)| f == FLUSH_ID_FIELD)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .ok_or_else(|| anyhow::anyhow!("the counts being flushed lost their flush id"))?
        .to_string();
    let counts: Vec<(Counted, i64)> = fields
        .iter()
        .filter_map(|(field, value)| {
            let n = std::str::from_utf8(value).ok()?.parse().ok()?;
            Some((Counted::parse(field)?, n))
        })
        .collect();
    let applied = apply(platform, &id, &counts).await?;
    if !applied {
        tracing::info!(flush = %id, "these counts were applied before; dropping them");
    }
    // Only this flush's hash: another flush may have moved newer counts here since.
    cache.delete_hash_if(FLUSHING, FLUSH_ID_FIELD, &id).await?;
    Ok(if applied { counts.len() } else { 0 })
}

/// Applies one flush in one transaction; false when its id was applied before.
async fn apply(platform: &Platform, id: &str, counts: &[(Counted, i64)]) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut hours: HashMap<(String, i64), (i64, i64)> = HashMap::new();
    let mut names: HashMap<String, (String, i64)> = HashMap::new();
    for (counted, n) in counts {
        match counted {
            Counted::Impression { campaign_id, hour } => {
                hours.entry((campaign_id.clone(), *hour)).or_default().0 += n;
            }
            Counted::Click { campaign_id, hour } => {
                hours.entry((campaign_id.clone(), *hour)).or_default().1 += n;
            }
            Counted::Unmatched { key, example } => {
                names.entry(key.clone()).or_insert((example.clone(), 0)).1 += n;
            }
        }
    }
    let txn = platform.db.begin().await?;
    let first_time = flush::Entity::insert(flush::ActiveModel {
        id: Set(id.to_string()),
        flushed_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(flush::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?
        == 1;
    if !first_time {
        txn.rollback().await?;
        return Ok(false);
    }
    for ((campaign_id, hour), (impressions, clicks)) in hours {
        let Some(hour) = DateTime::from_timestamp(hour, 0) else {
            continue;
        };
        hourly_stat::Entity::insert(hourly_stat::ActiveModel {
            campaign_id: Set(campaign_id),
            hour: Set(hour),
            impressions: Set(impressions),
            clicks: Set(clicks),
        })
        .on_conflict(
            OnConflict::columns([hourly_stat::Column::CampaignId, hourly_stat::Column::Hour])
                .value(
                    hourly_stat::Column::Impressions,
                    Expr::cust("ads_hourly_stats.impressions + excluded.impressions"),
                )
                .value(
                    hourly_stat::Column::Clicks,
                    Expr::cust("ads_hourly_stats.clicks + excluded.clicks"),
                )
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    for (key, (example, count)) in names {
        unmatched::Entity::insert(unmatched::ActiveModel {
            key: Set(key),
            example: Set(example),
            count: Set(count),
            last_seen: Set(now),
        })
        .on_conflict(
            OnConflict::column(unmatched::Column::Key)
                .value(
                    unmatched::Column::Count,
                    Expr::cust("ads_unmatched.count + excluded.count"),
                )
                .update_column(unmatched::Column::LastSeen)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T10:42:13Z")
            .unwrap()
            .with_timezone(&Utc);
        for counted in [
            Counted::impression("c1", at),
            Counted::click("c1", at),
            Counted::Unmatched {
                key: "謎の粉".into(),
                example: "★謎の粉 少々".into(),
            },
        ] {
            assert_eq!(Counted::parse(&counted.field()), Some(counted));
        }
        assert_eq!(
            Counted::impression("c1", at),
            Counted::Impression {
                campaign_id: "c1".into(),
                hour: DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
                    .unwrap()
                    .timestamp()
            }
        );
        assert_eq!(Counted::parse(FLUSH_ID_FIELD), None);
    }

    #[test]
    fn local_counts_add_up_per_campaign() {
        let counts = LocalCounts::default();
        let at = Utc::now();
        counts.add(Counted::impression("a", at), 2);
        counts.add(Counted::impression("a", at), 3);
        counts.add(Counted::click("a", at), 1);
        counts.add(Counted::impression("b", at), 1);
        let mut impressions = counts.impressions();
        impressions.sort();
        let hour = hour_of(at).timestamp();
        assert_eq!(impressions, [("a".into(), hour, 5), ("b".into(), hour, 1)]);
    }
}
