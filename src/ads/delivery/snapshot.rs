//! What delivery knows, held in process: the campaigns that are active and not over, their
//! creatives with image URLs, what each has delivered, and the ingredient-jack switch. Each
//! replica reloads it every `ads.refresh_every`, so delivery never queries the database and a
//! change reaches every replica within seconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::ads::counting;
use crate::ads::entity::campaign::{self, Status, Targeting};
use crate::ads::entity::{creative, hourly_stat, switch};
use crate::ads::normalize;
use crate::platform::Platform;

/// The switch row that turns the ingredient jack off on every replica.
pub const INGREDIENT_JACK: &str = "ingredient_jack";

#[derive(Debug)]
pub struct LiveCreative {
    pub id: String,
    pub title: String,
    pub link: String,
    pub image_url: Option<String>,
    pub payload: serde_json::Value,
}

#[derive(Debug)]
pub struct LiveCampaign {
    pub id: String,
    pub advertiser_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub slots: Vec<String>,
    pub priority: i32,
    pub weight: u32,
    pub daily_cap: Option<i64>,
    pub total_cap: Option<i64>,
    pub targeting: Targeting,
    /// Normalized like search keywords are, for matching.
    pub keywords: Vec<String>,
    pub concepts: Vec<String>,
    pub creatives: Vec<LiveCreative>,
    /// Delivered as of the load: today (of the snapshot's day) and in all.
    pub delivered_today: i64,
    pub delivered_total: i64,
    /// Delivered by this replica since the load (since the swap of this snapshot in, exactly:
    /// deliveries count under the lock the swap takes).
    pub served_here: AtomicI64,
}

impl LiveCampaign {
    pub fn served(&self) {
        self.served_here.fetch_add(1, Ordering::Relaxed);
    }

    pub fn served_since_load(&self) -> i64 {
        self.served_here.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub struct Snapshot {
    pub campaigns: Vec<LiveCampaign>,
    /// The switch in the database; `ads.ingredient_jack` can still turn the jack off.
    pub ingredient_jack: bool,
    /// Start of the day `delivered_today` counts.
    pub day_start: DateTime<Utc>,
    pub loaded_at: DateTime<Utc>,
}

impl Snapshot {
    pub fn empty() -> Self {
        Snapshot {
            campaigns: Vec::new(),
            ingredient_jack: true,
            day_start: DateTime::UNIX_EPOCH,
            loaded_at: DateTime::UNIX_EPOCH,
        }
    }

    pub fn campaign(&self, id: &str) -> Option<&LiveCampaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }

    /// Adds impressions (campaign, hour, count) this replica counted and has not pushed.
    pub fn add_local(&mut self, impressions: Vec<(String, i64, i64)>) {
        for (campaign_id, hour, n) in impressions {
            let Some(campaign) = self.campaigns.iter_mut().find(|c| c.id == campaign_id) else {
                continue;
            };
            campaign.delivered_total += n;
            if hour >= self.day_start.timestamp() {
                campaign.delivered_today += n;
            }
        }
    }
}

/// Midnight at `offset_hours` from UTC, on or before `now`.
pub fn day_start(now: DateTime<Utc>, offset_hours: i32) -> DateTime<Utc> {
    let offset = TimeDelta::hours(i64::from(offset_hours));
    let local = now + offset;
    let midnight = local
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    midnight - offset
}

/// Whether the switch in the database lets the ingredient jack run (no row: it does).
pub async fn ingredient_jack_switch(
    db: &sea_orm::DatabaseConnection,
) -> Result<bool, sea_orm::DbErr> {
    Ok(switch::Entity::find_by_id(INGREDIENT_JACK)
        .one(db)
        .await?
        .is_none_or(|row| row.enabled))
}

/// Reads everything delivery needs, with what each campaign delivered as far as the database
/// and the cache store know; [`Snapshot::add_local`] adds what this replica has not pushed.
pub async fn load(platform: &Platform) -> anyhow::Result<Snapshot> {
    let now = Utc::now();
    let day = day_start(now, platform.settings.ads.day_offset_hours);
    let campaigns = campaign::Entity::find()
        .filter(campaign::Column::Status.eq(Status::Active))
        .filter(campaign::Column::EndsAt.gt(now))
        .all(&platform.db)
        .await?;
    let ids: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
    let creatives = creative::Entity::find()
        .filter(creative::Column::CampaignId.is_in(ids.clone()))
        .all(&platform.db)
        .await?;
    let mut creatives_of: HashMap<String, Vec<LiveCreative>> = HashMap::new();
    for row in creatives {
        let image_url = match &row.image_id {
            Some(id) => crate::images::url_of(platform, id).await?,
            None => None,
        };
        creatives_of
            .entry(row.campaign_id.clone())
            .or_default()
            .push(LiveCreative {
                image_url,
                payload: serde_json::from_str(&row.payload).unwrap_or_default(),
                id: row.id,
                title: row.title,
                link: row.link,
            });
    }
    let delivered = delivered(platform, &ids, day).await?;
    let ingredient_jack = ingredient_jack_switch(&platform.db).await?;
    let campaigns = campaigns
        .into_iter()
        .map(|row| {
            let (delivered_today, delivered_total) =
                delivered.get(&row.id).copied().unwrap_or_default();
            let json_list =
                |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
            LiveCampaign {
                creatives: creatives_of.remove(&row.id).unwrap_or_default(),
                slots: json_list(&row.slots),
                keywords: json_list(&row.keywords)
                    .iter()
                    .map(|k| normalize::key(k))
                    .filter(|k| !k.is_empty())
                    .collect(),
                concepts: json_list(&row.concepts),
                weight: u32::try_from(row.weight).unwrap_or(1).max(1),
                id: row.id,
                advertiser_id: row.advertiser_id,
                starts_at: row.starts_at,
                ends_at: row.ends_at,
                priority: row.priority,
                daily_cap: row.daily_cap,
                total_cap: row.total_cap,
                targeting: row.targeting,
                delivered_today,
                delivered_total,
                served_here: AtomicI64::new(0),
            }
        })
        .collect();
    Ok(Snapshot {
        campaigns,
        ingredient_jack,
        day_start: day,
        loaded_at: now,
    })
}

/// Impressions per campaign, (today, in all): flushed rows, plus what the cache store holds
/// unflushed.
async fn delivered(
    platform: &Platform,
    ids: &[String],
    day: DateTime<Utc>,
) -> anyhow::Result<HashMap<String, (i64, i64)>> {
    let mut delivered: HashMap<String, (i64, i64)> = HashMap::new();
    if ids.is_empty() {
        return Ok(delivered);
    }
    let rows: Vec<(String, DateTime<Utc>, i64)> = hourly_stat::Entity::find()
        .select_only()
        .column(hourly_stat::Column::CampaignId)
        .column(hourly_stat::Column::Hour)
        .column(hourly_stat::Column::Impressions)
        .filter(hourly_stat::Column::CampaignId.is_in(ids.iter().cloned()))
        .into_tuple()
        .all(&platform.db)
        .await?;
    let mut add = |campaign_id: String, hour: DateTime<Utc>, n: i64| {
        let entry = delivered.entry(campaign_id).or_default();
        if hour >= day {
            entry.0 += n;
        }
        entry.1 += n;
    };
    for (campaign_id, hour, n) in rows {
        add(campaign_id, hour, n);
    }
    let unflushed = counting::unflushed_impressions(platform)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read unflushed counts; caps count flushed ones only");
            Vec::new()
        });
    for (campaign_id, hour, n) in unflushed {
        if let Some(hour) = DateTime::from_timestamp(hour, 0) {
            add(campaign_id, hour, n);
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_midnight_at_the_offset() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 2026-12-07 14:30 UTC is 23:30 in Tokyo; 15:30 UTC is already the 8th there.
        assert_eq!(
            day_start(at("2026-12-07T14:30:00Z"), 9),
            at("2026-12-06T15:00:00Z")
        );
        assert_eq!(
            day_start(at("2026-12-07T15:30:00Z"), 9),
            at("2026-12-07T15:00:00Z")
        );
        assert_eq!(
            day_start(at("2026-12-07T15:30:00Z"), 0),
            at("2026-12-07T00:00:00Z")
        );
        assert_eq!(
            day_start(at("2026-12-07T02:00:00Z"), -5),
            at("2026-12-06T05:00:00Z")
        );
    }
}
