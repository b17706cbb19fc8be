//! Delivery: `GET /v1/ads`. Kill switch → recipe id → the recipe's concept ids: from this
//! replica's recent recipes, else from the cache store, else its ingredient names resolved
//! against this replica's copy of the cache-store table (the cache store's own before the copy
//! is taken), then cached in both → the choice among campaigns held in process → creatives
//! with click URLs. A popular recipe costs no round trip; a new one costs one.
//!
//! The cache calls of a request share one budget, `ads.cache_timeout`, behind a circuit
//! breaker; on a timeout, an error or an open circuit the ingredient step is skipped and
//! delivery goes on with keyword and normal ads. Nothing here queries the database.

mod breaker;
pub mod choose;
pub mod snapshot;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use prometheus::IntCounterVec;
use rand::Rng;
use serde::Serialize;

use super::click::{self, ClickClaims};
use super::counting::{Counted, LocalCounts};
use super::ingredients::{self, LocalTable};
use super::normalize::Resolution;
use crate::platform::Platform;
use crate::platform::signed::SignedTokens;
use breaker::Breaker;
use snapshot::Snapshot;

/// What one platform's ads delivery keeps in process.
pub struct Runtime {
    /// Deliveries choose and count under its read lock; a reload swaps under its write lock,
    /// so the new snapshot's counts hold every delivery made before it and none after.
    snapshot: RwLock<Arc<Snapshot>>,
    breaker: Breaker,
    pub counts: LocalCounts,
    /// Held while this process moves counts (push, flush) and while a reload reads them, so a
    /// reload sees each count once. Other replicas' counts reach it only through the cache
    /// store and the database, a few seconds late.
    counting: tokio::sync::Mutex<()>,
    pub clicks: SignedTokens,
    ingredient_steps: IntCounterVec,
    /// This replica's copy of the ingredient table (see `ingredients::LocalTable`).
    table: RwLock<Option<Arc<LocalTable>>>,
    /// Recipes this replica resolved or read lately: a popular recipe costs no round trip.
    recipes: moka::sync::Cache<String, Arc<Vec<String>>>,
}

/// Recipes remembered in process; their entries in the cache store last `ads.recipe_ttl`.
const LOCAL_RECIPES: u64 = 100_000;
const LOCAL_RECIPE_TTL: Duration = Duration::from_secs(600);

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

pub fn runtime(platform: &Platform) -> Arc<Runtime> {
    platform.state.get_or_init(|| {
        let ads = &platform.settings.ads;
        Runtime {
            snapshot: RwLock::new(Arc::new(Snapshot::empty())),
            breaker: Breaker::new(ads.breaker_failures, ads.breaker_cooldown),
            counts: LocalCounts::default(),
            counting: tokio::sync::Mutex::new(()),
            clicks: platform.signed_tokens(click::PURPOSE),
            ingredient_steps: platform.metrics.counter(
                "ads_ingredient_steps_total",
                "Ad deliveries by what became of their ingredient step",
                &["outcome"],
            ),
            table: RwLock::new(None),
            recipes: moka::sync::Cache::builder()
                .max_capacity(LOCAL_RECIPES)
                .time_to_live(LOCAL_RECIPE_TTL.min(ads.recipe_ttl))
                .build(),
        }
    })
}

impl Runtime {
    /// The current snapshot; never waits (empty until the first load, at start).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("snapshot lock").clone()
    }

    pub async fn reload(&self, platform: &Platform) -> anyhow::Result<()> {
        let _counting = self.counting.lock().await;
        let mut fresh = snapshot::load(platform).await?;
        let mut current = self.snapshot.write().expect("snapshot lock");
        fresh.add_local(self.counts.impressions());
        *current = Arc::new(fresh);
        Ok(())
    }

    fn table(&self) -> Option<Arc<LocalTable>> {
        self.table.read().expect("table lock").clone()
    }

    /// Takes the cache-store table when its version changed.
    async fn sync_table(&self, platform: &Platform) -> Result<(), super::AdError> {
        let known = self.table().map(|t| t.version.clone());
        if let Some(fresh) = ingredients::fetch_if_changed(platform, known.as_deref()).await? {
            tracing::info!(
                rows = fresh.len(),
                version = fresh.version,
                "ingredient table taken"
            );
            *self.table.write().expect("table lock") = Some(Arc::new(fresh));
        }
        Ok(())
    }

    /// Runs `call` within the budget, behind the breaker.
    async fn cache_call<T>(
        &self,
        budget: Duration,
        call: impl Future<Output = Result<T, super::AdError>>,
    ) -> Result<T, Skipped> {
        if !self.breaker.allows() {
            return Err(Skipped::CircuitOpen);
        }
        let outcome = match tokio::time::timeout(budget, call).await {
            Ok(Ok(value)) => {
                self.breaker.succeeded();
                return Ok(value);
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "cache call failed; delivering without ingredients");
                Skipped::CacheError
            }
            Err(_) => Skipped::Timeout,
        };
        if self.breaker.failed() {
            tracing::warn!("the cache store keeps failing; skipping ingredients for a while");
        }
        Err(outcome)
    }
}

/// Why a delivery went without its ingredient step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Skipped {
    /// Switched off (the setting or the switch).
    Disabled,
    /// No recipe id, or a recipe not cached and no ingredient names given.
    NoRecipe,
    Timeout,
    CacheError,
    CircuitOpen,
    /// The cache store has no ingredient table (it is being loaded).
    TableNotLoaded,
}

impl Skipped {
    fn as_str(self) -> &'static str {
        match self {
            Skipped::Disabled => "disabled",
            Skipped::NoRecipe => "no_recipe",
            Skipped::Timeout => "timeout",
            Skipped::CacheError => "cache_error",
            Skipped::CircuitOpen => "circuit_open",
            Skipped::TableNotLoaded => "table_not_loaded",
        }
    }
}

/// A delivery request, already read and bounded.
#[derive(Debug, Default)]
pub struct AdRequest {
    pub slots: Vec<String>,
    /// Normalized.
    pub keyword: Option<String>,
    pub recipe_id: Option<String>,
    pub ingredient_names: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdView {
    pub slot: String,
    pub campaign_id: String,
    pub creative_id: String,
    /// `ingredient` or `keyword` for a jack, `none` for a normal ad.
    pub targeting: crate::ads::entity::campaign::Targeting,
    pub title: String,
    pub image_url: Option<String>,
    /// Follow this (not the advertiser's link): it counts the click and redirects.
    pub click_url: String,
    /// The creative's client-facing JSON, as submitted.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub ads: Vec<AdView>,
    /// Concept ids of the recipe, when the ingredient step ran.
    pub concepts: Vec<String>,
    /// Why the ingredient step did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingredients_skipped: Option<Skipped>,
}

pub async fn deliver(platform: &Platform, request: AdRequest) -> Delivery {
    let runtime = runtime(platform);
    let ads = &platform.settings.ads;
    let step = if !(ads.ingredient_jack && runtime.snapshot().ingredient_jack) {
        Err(Skipped::Disabled)
    } else {
        ingredient_step(platform, &runtime, &request).await
    };
    let outcome = step.as_ref().err().map_or("used", |s| s.as_str());
    runtime.ingredient_steps.with_label_values(&[outcome]).inc();
    let concepts = step.as_ref().cloned().unwrap_or_default();
    let now = Utc::now();
    let pacing = choose::Pacing {
        day_start: snapshot::day_start(now, ads.day_offset_hours),
        allowance: ads.pacing_allowance,
    };
    let page = choose::Page {
        slots: &request.slots,
        keyword: request.keyword.as_deref(),
        concepts: &concepts,
    };
    let base = platform.settings.public_url.as_str().trim_end_matches('/');
    let expires_at = now.timestamp() + ads.click_ttl.as_secs() as i64;
    let ads = {
        let snapshot = runtime.snapshot.read().expect("snapshot lock");
        let placements = choose::choose(&snapshot, &page, now, pacing, &mut rand::rng());
        placements
            .into_iter()
            .map(|placed| {
                placed.campaign.served();
                runtime
                    .counts
                    .add(Counted::impression(&placed.campaign.id, now), 1);
                let token = click::sign(
                    &runtime.clicks,
                    &ClickClaims {
                        campaign_id: placed.campaign.id.clone(),
                        creative_id: placed.creative.id.clone(),
                        slot: placed.slot.clone(),
                        expires_at,
                        nonce: rand::rng().random(),
                    },
                );
                AdView {
                    slot: placed.slot,
                    campaign_id: placed.campaign.id.clone(),
                    creative_id: placed.creative.id.clone(),
                    targeting: placed.campaign.targeting,
                    title: placed.creative.title.clone(),
                    image_url: placed.creative.image_url.clone(),
                    click_url: format!("{base}/v1/ads/click/{token}"),
                    payload: placed.creative.payload.clone(),
                }
            })
            .collect()
    };
    Delivery {
        ads,
        concepts,
        ingredients_skipped: step.err(),
    }
}

/// Where a recipe's concepts are cached: by its id and the names it was sent with, so that a
/// request with made-up names cannot decide what the real recipe page shows.
pub fn recipe_key(recipe_id: &str, names: &[String]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(names.join("\n").as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("ads:recipe:{recipe_id}:{short}")
}

enum Lookup {
    Cached(Vec<String>),
    Resolved(Vec<Resolution>),
    TableNotLoaded,
}

/// The recipe's entry in the cache store, or its names resolved against this replica's table
/// (or, before it has one, the cache store's): one budget for both calls.
async fn lookup(
    platform: &Platform,
    key: &str,
    names: &[String],
    table: Option<Arc<LocalTable>>,
) -> Result<Lookup, super::AdError> {
    if let Some(cached) = platform.cache.get(key).await?
        && let Ok(concepts) = serde_json::from_slice::<Vec<String>>(&cached)
    {
        return Ok(Lookup::Cached(concepts));
    }
    if let Some(table) = table {
        return Ok(Lookup::Resolved(table.resolve(names)));
    }
    Ok(match ingredients::resolve_names(platform, names).await? {
        Some(resolutions) => Lookup::Resolved(resolutions),
        None => Lookup::TableNotLoaded,
    })
}

/// The recipe's concept ids: cached, or resolved from its names and then cached (an empty list
/// too, so a recipe with no known ingredient is not resolved again on every view).
async fn ingredient_step(
    platform: &Platform,
    runtime: &Runtime,
    request: &AdRequest,
) -> Result<Vec<String>, Skipped> {
    let (Some(recipe_id), false) = (&request.recipe_id, request.ingredient_names.is_empty()) else {
        return Err(Skipped::NoRecipe);
    };
    let ads = &platform.settings.ads;
    let key = recipe_key(recipe_id, &request.ingredient_names);
    if let Some(concepts) = runtime.recipes.get(&key) {
        return Ok(concepts.as_ref().clone());
    }
    let budget = ads.cache_timeout;
    let table = runtime.table();
    let resolutions = match runtime
        .cache_call(
            budget,
            lookup(platform, &key, &request.ingredient_names, table),
        )
        .await?
    {
        Lookup::Cached(concepts) => {
            runtime.recipes.insert(key, Arc::new(concepts.clone()));
            return Ok(concepts);
        }
        Lookup::TableNotLoaded => return Err(Skipped::TableNotLoaded),
        Lookup::Resolved(resolutions) => resolutions,
    };
    let mut concepts: Vec<String> = Vec::new();
    for (name, resolution) in request.ingredient_names.iter().zip(&resolutions) {
        if resolution.matched_by.is_none() {
            if let Some(key) = resolution.keys_tried.first() {
                runtime.counts.add(
                    Counted::Unmatched {
                        key: key.clone(),
                        example: name.chars().filter(|c| !c.is_control()).collect(),
                    },
                    1,
                );
            }
            continue;
        }
        for concept in &resolution.concepts {
            if !concepts.contains(concept) {
                concepts.push(concept.clone());
            }
        }
    }
    runtime
        .recipes
        .insert(key.clone(), Arc::new(concepts.clone()));
    // Written in the background: the page does not wait for it.
    let jitter = rand::rng().random_range(0..=ads.recipe_ttl_jitter.as_millis() as u64);
    let ttl = ads.recipe_ttl + Duration::from_millis(jitter);
    let value = Bytes::from(serde_json::to_vec(&concepts).expect("strings serialize"));
    let cache = platform.cache.clone();
    tokio::spawn(async move {
        let stored = tokio::time::timeout(budget * 10, cache.set(&key, value, Some(ttl))).await;
        if !matches!(stored, Ok(Ok(()))) {
            tracing::debug!(key, "could not cache a recipe's concepts");
        }
    });
    Ok(concepts)
}

/// Every replica, every `ads.refresh_every`: the ingredient table in the cache store and this
/// replica's copy of it, then the snapshot.
pub async fn refresh(platform: Platform) -> anyhow::Result<()> {
    let runtime = runtime(&platform);
    if let Err(error) = ingredients::ensure_loaded(&platform).await {
        tracing::warn!(%error, "cannot load the ingredient table into the cache store");
    }
    if let Err(error) = runtime.sync_table(&platform).await {
        tracing::warn!(%error, "cannot take the ingredient table from the cache store");
    }
    runtime.reload(&platform).await
}

/// Every replica, every `ads.count_every` and as it stops: what it counted, into the cache
/// store.
pub async fn push_counts(platform: Platform) -> anyhow::Result<()> {
    let runtime = runtime(&platform);
    let _counting = runtime.counting.lock().await;
    runtime.counts.push(&platform).await
}

/// Flushes the counts of the cache store into the database (see `counting`).
pub async fn flush_counts(platform: Platform) -> anyhow::Result<()> {
    let runtime = runtime(&platform);
    let _counting = runtime.counting.lock().await;
    let applied = super::counting::flush(&platform).await?;
    if applied > 0 {
        tracing::debug!(applied, "ad counts flushed");
    }
    Ok(())
}
