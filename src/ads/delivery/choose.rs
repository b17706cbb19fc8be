//! Choosing what a page shows: the ingredient jack, else the keyword jack, else normal ads;
//! within a tier the highest priority, then weighted random among equals. A jack is one
//! campaign taking every requested slot it runs in; slots it does not run in get normal ads.
//! A campaign is eligible while it runs (its dates), under its caps, and on pace.

use chrono::{DateTime, Utc};
use rand::Rng;

use super::snapshot::{LiveCampaign, LiveCreative, Snapshot};
use crate::ads::entity::campaign::Targeting;

/// What the page is.
#[derive(Debug, Default)]
pub struct Page<'a> {
    pub slots: &'a [String],
    /// Normalized (`normalize::key`).
    pub keyword: Option<&'a str>,
    pub concepts: &'a [String],
}

#[derive(Debug)]
pub struct Placement<'a> {
    pub slot: String,
    pub campaign: &'a LiveCampaign,
    pub creative: &'a LiveCreative,
}

/// How campaigns with a daily cap are paced.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub day_start: DateTime<Utc>,
    /// Share of the daily cap a campaign may run ahead of the elapsed share of its day.
    pub allowance: f64,
}

pub fn choose<'a>(
    snapshot: &'a Snapshot,
    page: &Page<'_>,
    now: DateTime<Utc>,
    pacing: Pacing,
    rng: &mut impl Rng,
) -> Vec<Placement<'a>> {
    let eligible: Vec<&LiveCampaign> = snapshot
        .campaigns
        .iter()
        .filter(|c| !c.creatives.is_empty() && runs(c, now) && under_caps(c, snapshot, now, pacing))
        .collect();
    let mut open: Vec<&str> = page.slots.iter().map(String::as_str).collect();
    let mut placements = Vec::new();
    let jack = [Targeting::Ingredient, Targeting::Keyword]
        .into_iter()
        .find_map(|tier| {
            let fired: Vec<&LiveCampaign> = eligible
                .iter()
                .copied()
                .filter(|c| c.targeting == tier && fires(c, page) && takes_any(c, &open))
                .collect();
            pick(&fired, rng)
        });
    if let Some(jack) = jack {
        open.retain(|slot| {
            if jack.slots.iter().any(|s| s == slot) {
                placements.push(place(slot, jack, rng));
                false
            } else {
                true
            }
        });
    }
    for slot in open {
        let normal: Vec<&LiveCampaign> = eligible
            .iter()
            .copied()
            .filter(|c| c.targeting == Targeting::None && c.slots.iter().any(|s| s == slot))
            .collect();
        if let Some(campaign) = pick(&normal, rng) {
            placements.push(place(slot, campaign, rng));
        }
    }
    placements
}

fn place<'a>(slot: &str, campaign: &'a LiveCampaign, rng: &mut impl Rng) -> Placement<'a> {
    let creative = &campaign.creatives[rng.random_range(0..campaign.creatives.len())];
    Placement {
        slot: slot.to_string(),
        campaign,
        creative,
    }
}

fn runs(campaign: &LiveCampaign, now: DateTime<Utc>) -> bool {
    campaign.starts_at <= now && now < campaign.ends_at
}

fn takes_any(campaign: &LiveCampaign, slots: &[&str]) -> bool {
    campaign.slots.iter().any(|s| slots.contains(&s.as_str()))
}

fn fires(campaign: &LiveCampaign, page: &Page<'_>) -> bool {
    match campaign.targeting {
        Targeting::Ingredient => campaign.concepts.iter().any(|c| page.concepts.contains(c)),
        Targeting::Keyword => page.keyword.is_some_and(|keyword| {
            campaign
                .keywords
                .iter()
                .any(|k| keyword.contains(k.as_str()))
        }),
        Targeting::None => false,
    }
}

/// Total and daily caps, and the daily cap's pace: delivered today may be at most the elapsed
/// share of the campaign's part of today, plus the allowance, times the cap.
fn under_caps(
    campaign: &LiveCampaign,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    pacing: Pacing,
) -> bool {
    let here = campaign.served_since_load();
    if campaign
        .total_cap
        .is_some_and(|cap| campaign.delivered_total + here >= cap)
    {
        return false;
    }
    let Some(cap) = campaign.daily_cap else {
        return true;
    };
    // A snapshot from before midnight counts yesterday: only what was served since is today's.
    let today = if snapshot.day_start == pacing.day_start {
        campaign.delivered_today + here
    } else {
        here
    };
    if today >= cap {
        return false;
    }
    let day_end = pacing.day_start + chrono::TimeDelta::days(1);
    let from = pacing.day_start.max(campaign.starts_at);
    let to = day_end.min(campaign.ends_at);
    let span = (to - from).num_milliseconds().max(1) as f64;
    let elapsed = ((now - from).num_milliseconds() as f64 / span).clamp(0.0, 1.0);
    today as f64 <= (elapsed + pacing.allowance) * cap as f64
}

/// The highest priority, then weighted random among equals.
fn pick<'a>(campaigns: &[&'a LiveCampaign], rng: &mut impl Rng) -> Option<&'a LiveCampaign> {
    let top = campaigns.iter().map(|c| c.priority).max()?;
    let best: Vec<&LiveCampaign> = campaigns
        .iter()
        .copied()
        .filter(|c| c.priority == top)
        .collect();
    let total: u64 = best.iter().map(|c| u64::from(c.weight)).sum();
    let mut ticket = rng.random_range(0..total);
    for campaign in &best {
        let weight = u64::from(campaign.weight);
        if ticket < weight {
            return Some(campaign);
        }
        ticket -= weight;
    }
    best.last().copied()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use chrono::TimeDelta;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn campaign(id: &str, targeting: Targeting) -> LiveCampaign {
        LiveCampaign {
            id: id.into(),
            advertiser_id: "a".into(),
            starts_at: at("2026-12-01T00:00:00Z"),
            ends_at: at("2027-01-01T00:00:00Z"),
            slots: vec!["top".into(), "side".into()],
            priority: 0,
            weight: 1,
            daily_cap: None,
            total_cap: None,
            targeting,
            keywords: vec!["きんぴら".into()],
            concepts: vec!["salt".into()],
            creatives: vec![LiveCreative {
                id: format!("{id}-creative"),
                title: id.into(),
                link: "https://example.com".into(),
                image_url: None,
                payload: serde_json::json!({}),
            }],
            delivered_today: 0,
            delivered_total: 0,
            served_here: AtomicI64::new(0),
        }
    }

    fn snapshot(campaigns: Vec<LiveCampaign>, day_start: DateTime<Utc>) -> Snapshot {
        Snapshot {
            campaigns,
            ingredient_jack: true,
            day_start,
            loaded_at: day_start,
        }
    }

    const DAY: &str = "2026-12-07T00:00:00Z";

    fn pacing() -> Pacing {
        Pacing {
            day_start: at(DAY),
            allowance: 0.02,
        }
    }

    fn chosen(snapshot: &Snapshot, page: &Page<'_>, now: DateTime<Utc>) -> Vec<(String, String)> {
        let mut rng = StdRng::seed_from_u64(1);
        choose(snapshot, page, now, pacing(), &mut rng)
            .into_iter()
            .map(|p| (p.slot, p.campaign.id.clone()))
            .collect()
    }

    fn slots() -> Vec<String> {
        vec!["top".into(), "side".into()]
    }

    #[test]
    fn the_ingredient_jack_beats_the_keyword_jack_which_beats_normal_ads() {
        let now = at("2026-12-07T12:00:00Z");
        let all = snapshot(
            vec![
                campaign("normal", Targeting::None),
                campaign("keyword", Targeting::Keyword),
                campaign("ingredient", Targeting::Ingredient),
            ],
            at(DAY),
        );
        let (slots, concepts) = (slots(), vec!["salt".to_string()]);
        let page = |keyword, concepts| Page {
            slots: &slots,
            keyword,
            concepts,
        };
        let both = chosen(&all, &page(Some("きんぴらごぼう"), &concepts), now);
        assert!(both.iter().all(|(_, c)| c == "ingredient"), "{both:?}");
        assert_eq!(both.len(), 2, "a jack takes every slot");
        let keyword = chosen(&all, &page(Some("きんぴらごぼう"), &[]), now);
        assert!(keyword.iter().all(|(_, c)| c == "keyword"), "{keyword:?}");
        let neither = chosen(&all, &page(Some("カレー"), &[]), now);
        assert!(neither.iter().all(|(_, c)| c == "normal"), "{neither:?}");
    }

    #[test]
    fn slots_a_jack_does_not_run_in_get_normal_ads() {
        let mut jack = campaign("jack", Targeting::Ingredient);
        jack.slots = vec!["top".into()];
        let all = snapshot(vec![jack, campaign("normal", Targeting::None)], at(DAY));
        let (slots, concepts) = (slots(), vec!["salt".to_string()]);
        let page = Page {
            slots: &slots,
            keyword: None,
            concepts: &concepts,
        };
        let placed = chosen(&all, &page, at("2026-12-07T12:00:00Z"));
        assert_eq!(
            placed,
            [
                ("top".into(), "jack".into()),
                ("side".into(), "normal".into())
            ]
        );
    }

    #[test]
    fn priority_first_then_weights() {
        let mut high = campaign("high", Targeting::None);
        high.priority = 5;
        let all = snapshot(vec![campaign("low", Targeting::None), high], at(DAY));
        let slots = vec!["top".to_string()];
        let page = Page {
            slots: &slots,
            ..Page::default()
        };
        let now = at("2026-12-07T12:00:00Z");
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let placed = choose(&all, &page, now, pacing(), &mut rng);
            assert_eq!(placed[0].campaign.id, "high");
        }
        let mut heavy = campaign("heavy", Targeting::None);
        heavy.weight = 9;
        let equal = snapshot(vec![campaign("light", Targeting::None), heavy], at(DAY));
        let mut rng = StdRng::seed_from_u64(7);
        let heavy_share = (0..2000)
            .filter(|_| {
                choose(&equal, &page, now, pacing(), &mut rng)[0]
                    .campaign
                    .id
                    == "heavy"
            })
            .count();
        assert!(
            (1650..1950).contains(&heavy_share),
            "{heavy_share} of 2000, expected ~1800"
        );
    }

    #[test]
    fn dates_and_caps_are_respected() {
        let slots = vec!["top".to_string()];
        let page = Page {
            slots: &slots,
            ..Page::default()
        };
        let now = at("2026-12-07T12:00:00Z");
        let mut ended = campaign("ended", Targeting::None);
        ended.ends_at = now;
        let mut future = campaign("future", Targeting::None);
        future.starts_at = now + TimeDelta::seconds(1);
        let mut spent = campaign("spent", Targeting::None);
        spent.total_cap = Some(10);
        spent.delivered_total = 9;
        spent.served();
        let none = snapshot(vec![ended, future, spent], at(DAY));
        assert!(chosen(&none, &page, now).is_empty());
        let mut almost = campaign("almost", Targeting::None);
        almost.total_cap = Some(10);
        almost.delivered_total = 9;
        let one = snapshot(vec![almost], at(DAY));
        assert_eq!(
            chosen(&one, &page, now).len(),
            1,
            "one below the cap still serves"
        );
    }

    #[test]
    fn a_daily_cap_is_spread_over_the_day() {
        let slots = vec!["top".to_string()];
        let page = Page {
            slots: &slots,
            ..Page::default()
        };
        let paced = |delivered_today| {
            let mut c = campaign("paced", Targeting::None);
            c.daily_cap = Some(1000);
            c.delivered_today = delivered_today;
            snapshot(vec![c], at(DAY))
        };
        // A quarter of the day gone: 250 plus the 2 % allowance (20) may be out.
        let quarter = at("2026-12-07T06:00:00Z");
        assert_eq!(chosen(&paced(270), &page, quarter).len(), 1);
        assert!(
            chosen(&paced(271), &page, quarter).is_empty(),
            "ahead of pace"
        );
        assert!(
            chosen(&paced(1000), &page, at("2026-12-07T23:59:00Z")).is_empty(),
            "capped"
        );
        assert_eq!(
            chosen(&paced(0), &page, at(DAY)).len(),
            1,
            "midnight starts afresh"
        );
        // Yesterday's snapshot counts nothing today.
        let mut stale = paced(5000);
        stale.day_start = at("2026-12-06T00:00:00Z");
        assert_eq!(chosen(&stale, &page, quarter).len(), 1);
    }

    #[test]
    fn a_campaign_starting_mid_day_paces_over_what_is_left_of_it() {
        let slots = vec!["top".to_string()];
        let page = Page {
            slots: &slots,
            ..Page::default()
        };
        let mut c = campaign("late", Targeting::None);
        c.starts_at = at("2026-12-07T12:00:00Z");
        c.daily_cap = Some(100);
        c.delivered_today = 51;
        let late = snapshot(vec![c], at(DAY));
        // Half of its half-day gone: 50 + 2 may be out.
        assert_eq!(chosen(&late, &page, at("2026-12-07T18:00:00Z")).len(), 1);
        assert!(chosen(&late, &page, at("2026-12-07T17:00:00Z")).is_empty());
    }
}
