//! The ads module's settings section (`SOUS_ADS__*`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdSettings {
    /// The ad slots pages have; campaigns name theirs, requests name one or more.
    pub slots: Vec<String>,
    /// Ingredient targeting as deployed; `false` switches it off on every replica whatever
    /// the switch in the database says (`PUT /v1/ads/switches/ingredient-jack`).
    pub ingredient_jack: bool,
    /// Budget of every cache call on the delivery path; past it, delivery goes on without
    /// ingredient targeting.
    #[serde(with = "humantime_serde")]
    pub cache_timeout: Duration,
    /// Failed cache calls within one second, and at least half of that second's calls, that
    /// open the circuit, so later requests stop waiting.
    pub breaker_failures: u32,
    /// How long an open circuit skips the cache before one request tries it again.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// How long a recipe's concepts are cached; each entry gets up to `recipe_ttl_jitter` more,
    /// so entries written together do not expire together.
    #[serde(with = "humantime_serde")]
    pub recipe_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub recipe_ttl_jitter: Duration,
    /// Ingredient names read from `X-Recipe-Ingredients`, and bytes of the header read.
    pub max_ingredient_names: usize,
    pub max_ingredient_bytes: usize,
    /// Longest search keyword looked at, in bytes; a longer one is ignored.
    pub max_keyword_bytes: usize,
    /// How often every replica reloads campaigns, creatives and switches.
    #[serde(with = "humantime_serde")]
    pub refresh_every: Duration,
    /// How often a replica adds the impressions and clicks it counted to the cache store.
    #[serde(with = "humantime_serde")]
    pub count_every: Duration,
    /// How often the scheduler flushes counts from the cache store into hourly rows.
    #[serde(with = "humantime_serde")]
    pub flush_every: Duration,
    /// How long a click URL works.
    #[serde(with = "humantime_serde")]
    pub click_ttl: Duration,
    /// Share of the daily cap a paced campaign may run ahead of the day's elapsed share.
    pub pacing_allowance: f64,
    /// Days (for daily caps and pacing) start at midnight at this offset from UTC, in whole
    /// hours: counts are kept per UTC hour.
    pub day_offset_hours: i32,
    /// Load `assets/ads/ingredients.csv` when the ingredient table is empty.
    pub seed_ingredients: bool,
}

impl Default for AdSettings {
    fn default() -> Self {
        AdSettings {
            slots: [
                "search_top",
                "search_middle",
                "recipe_top",
                "recipe_middle",
                "recipe_bottom",
            ]
            .map(String::from)
            .to_vec(),
            ingredient_jack: true,
            cache_timeout: Duration::from_millis(5),
            breaker_failures: 20,
            breaker_cooldown: Duration::from_secs(5),
            recipe_ttl: Duration::from_secs(24 * 3600),
            recipe_ttl_jitter: Duration::from_secs(2 * 3600),
            max_ingredient_names: 20,
            max_ingredient_bytes: 350,
            max_keyword_bytes: 256,
            refresh_every: Duration::from_secs(2),
            count_every: Duration::from_secs(1),
            flush_every: Duration::from_secs(10),
            click_ttl: Duration::from_secs(24 * 3600),
            pacing_allowance: 0.02,
            day_offset_hours: 9,
            seed_ingredients: true,
        }
    }
}

impl AdSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.slots.is_empty() {
            return Err(ConfigError::invalid(
                "SOUS_ADS__SLOTS",
                "name at least one slot",
            ));
        }
        if let Some(bad) = self.slots.iter().find(|s| !is_slug(s)) {
            return Err(ConfigError::invalid(
                "SOUS_ADS__SLOTS",
                format!("`{bad}`: a slot is 1 to 64 of a-z, 0-9, _ and -"),
            ));
        }
        for (setting, value) in [
            ("SOUS_ADS__CACHE_TIMEOUT", self.cache_timeout),
            ("SOUS_ADS__REFRESH_EVERY", self.refresh_every),
            ("SOUS_ADS__COUNT_EVERY", self.count_every),
            ("SOUS_ADS__FLUSH_EVERY", self.flush_every),
            ("SOUS_ADS__CLICK_TTL", self.click_ttl),
            ("SOUS_ADS__RECIPE_TTL", self.recipe_ttl),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(setting, "must be more than 0"));
            }
        }
        if self.breaker_failures == 0 {
            return Err(ConfigError::invalid(
                "SOUS_ADS__BREAKER_FAILURES",
                "must be more than 0",
            ));
        }
        if self.max_ingredient_names == 0 || self.max_ingredient_bytes == 0 {
            return Err(ConfigError::invalid(
                "SOUS_ADS__MAX_INGREDIENT_NAMES",
                "names and bytes must both be more than 0",
            ));
        }
        if !(0.0..=1.0).contains(&self.pacing_allowance) {
            return Err(ConfigError::invalid(
                "SOUS_ADS__PACING_ALLOWANCE",
                "a share of the daily cap, from 0 to 1",
            ));
        }
        if !(-12..=14).contains(&self.day_offset_hours) {
            return Err(ConfigError::invalid(
                "SOUS_ADS__DAY_OFFSET_HOURS",
                "whole hours from -12 to 14",
            ));
        }
        Ok(())
    }
}

/// Slots and concept ids: short, lowercase, URL-safe.
pub(crate) fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        AdSettings::default().validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_setting() {
        type BreakIt = fn(&mut AdSettings);
        let cases: Vec<(BreakIt, &str)> = vec![
            (|s| s.slots.clear(), "SOUS_ADS__SLOTS"),
            (|s| s.slots = vec!["Top Slot".into()], "SOUS_ADS__SLOTS"),
            (
                |s| s.cache_timeout = Duration::ZERO,
                "SOUS_ADS__CACHE_TIMEOUT",
            ),
            (|s| s.breaker_failures = 0, "SOUS_ADS__BREAKER_FAILURES"),
            (|s| s.pacing_allowance = 1.5, "SOUS_ADS__PACING_ALLOWANCE"),
            (|s| s.day_offset_hours = 15, "SOUS_ADS__DAY_OFFSET_HOURS"),
            (
                |s| s.max_ingredient_names = 0,
                "SOUS_ADS__MAX_INGREDIENT_NAMES",
            ),
        ];
        for (break_it, setting) in cases {
            let mut settings = AdSettings::default();
            break_it(&mut settings);
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(setting), "{error}");
        }
    }

    #[test]
    fn slugs() {
        assert!(is_slug("recipe_top") && is_slug("soy-sauce") && is_slug("a1"));
        assert!(!is_slug("") && !is_slug("Salt") && !is_slug("塩") && !is_slug(&"a".repeat(65)));
    }
}
