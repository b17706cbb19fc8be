//! Counts per campaign by hour and by day (days at `ads.day_offset_hours`), with the pace a
//! daily cap sets: what should have been delivered by then.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::AdError;
use super::delivery::snapshot::day_start;
use super::entity::{campaign, hourly_stat};
use crate::platform::Platform;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HourStats {
    /// Start of the hour, UTC.
    pub hour: DateTime<Utc>,
    pub impressions: i64,
    pub clicks: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayStats {
    /// The day at the configured offset.
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
    /// With a daily cap: the impressions its pace allows by the end of the day (or by now,
    /// today).
    pub pace: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignStats {
    pub campaign_id: String,
    pub daily_cap: Option<i64>,
    pub total_cap: Option<i64>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub hours: Vec<HourStats>,
    pub days: Vec<DayStats>,
    /// Impressions and clicks in the period.
    pub impressions: i64,
    pub clicks: i64,
}

/// Counts between `from` and `to` as of the last flush (within `ads.flush_every`).
pub async fn campaign_stats(
    platform: &Platform,
    campaign: &campaign::Model,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CampaignStats, AdError> {
    let rows = hourly_stat::Entity::find()
        .filter(hourly_stat::Column::CampaignId.eq(&campaign.id))
        .filter(hourly_stat::Column::Hour.gte(from))
        .filter(hourly_stat::Column::Hour.lt(to))
        .order_by_asc(hourly_stat::Column::Hour)
        .all(&platform.db)
        .await?;
    let offset = platform.settings.ads.day_offset_hours;
    let now = Utc::now();
    let mut days: Vec<DayStats> = Vec::new();
    for row in &rows {
        let start = day_start(row.hour, offset);
        let day = (start + TimeDelta::hours(i64::from(offset))).date_naive();
        match days.last_mut() {
            Some(last) if last.day == day => {
                last.impressions += row.impressions;
                last.clicks += row.clicks;
            }
            _ => days.push(DayStats {
                day,
                impressions: row.impressions,
                clicks: row.clicks,
                pace: campaign
                    .daily_cap
                    .map(|cap| pace(cap, start, campaign, now)),
            }),
        }
    }
    Ok(CampaignStats {
        campaign_id: campaign.id.clone(),
        daily_cap: campaign.daily_cap,
        total_cap: campaign.total_cap,
        from,
        to,
        impressions: rows.iter().map(|r| r.impressions).sum(),
        clicks: rows.iter().map(|r| r.clicks).sum(),
        hours: rows
            .into_iter()
            .map(|r| HourStats {
                hour: r.hour,
                impressions: r.impressions,
                clicks: r.clicks,
            })
            .collect(),
        days,
    })
}

/// The impressions a daily cap's pace allows on the day starting at `start`, by `now` if the
/// day is not over: the cap times the elapsed share of the campaign's part of that day.
pub fn pace(cap: i64, start: DateTime<Utc>, campaign: &campaign::Model, now: DateTime<Utc>) -> i64 {
    let from = start.max(campaign.starts_at);
    let to = (start + TimeDelta::days(1)).min(campaign.ends_at);
    if to <= from {
        return 0;
    }
    let span = (to - from).num_seconds() as f64;
    let elapsed = ((now.min(to) - from).num_seconds() as f64 / span).clamp(0.0, 1.0);
    (cap as f64 * elapsed).round() as i64
}
