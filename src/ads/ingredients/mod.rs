//! The ingredient normalization table: rows of (normalized name, written name, concept id) in
//! the database, the whole of it mirrored into one cache-store hash (`key → concept`) that
//! delivery reads, so one replica's import serves them all.
//!
//! The hash is replaced in one step: a new one is written under a temporary key and renamed
//! over the old, so delivery never sees half a table. Its [`LOADED_FIELD`] holds the version
//! of the table it was loaded from (row count and latest change); every replica compares it
//! with the database's at each refresh and loads the table again when they differ, so a cache
//! that lost it (a restarted Redis), an import whose load failed, or an import made by the
//! command line against another cache all heal within `ads.refresh_every`.

pub mod csv;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Serialize;

use super::AdError;
use super::entity::{ingredient, unmatched};
use super::normalize::{self, Candidates, Resolution};
use crate::platform::Platform;
use crate::platform::text::TextEncoding;
use csv::RowError;

/// The cache-store hash delivery reads.
pub const TABLE_KEY: &str = "ads:ingredients";
/// A field no normalized key can be (keys are never empty): the version loaded.
pub const LOADED_FIELD: &str = "";
/// The table shipped with sous, loaded on first start when the table is empty.
pub const SAMPLE: &[u8] = include_bytes!("../../../assets/ads/ingredients.csv");
/// Rows per INSERT, under SQLite's bound on bound parameters.
const CHUNK: usize = 500;
/// Keys one delivery may look up: a few hundred fields are one quick `HMGET`; names past the
/// bound are left unresolved.
const MAX_KEYS: usize = 400;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub encoding: TextEncoding,
    /// Rows applied (added or changed).
    pub applied: usize,
    /// Rows refused, each with its line and column.
    pub errors: Vec<RowError>,
    /// Rows in the table after the import.
    pub table_rows: u64,
}

/// Applies the good rows of a CSV table and reloads the cache-store copy.
pub async fn import(platform: &Platform, bytes: Bytes) -> Result<ImportReport, AdError> {
    // Decoding and normalizing 20,000 rows is CPU work.
    let parsed = crate::platform::cpu::run(move || csv::parse(&bytes)).await??;
    let applied = parsed.rows.len();
    upsert(&platform.db, &parsed.rows).await?;
    let table_rows = load_into_cache(platform).await?;
    tracing::info!(
        applied,
        refused = parsed.errors.len(),
        table_rows,
        "ingredient table imported"
    );
    Ok(ImportReport {
        encoding: parsed.encoding,
        applied,
        errors: parsed.errors,
        table_rows,
    })
}

/// All the rows or none.
async fn upsert(db: &DatabaseConnection, rows: &[csv::TableRow]) -> Result<(), AdError> {
    let now = Utc::now();
    let txn = db.begin().await?;
    for chunk in rows.chunks(CHUNK) {
        let models = chunk.iter().map(|row| ingredient::ActiveModel {
            key: Set(row.key.clone()),
            written_name: Set(row.written_name.clone()),
            normalized_name: Set(row.normalized_name.clone()),
            concept_id: Set(row.concept_id.clone()),
            updated_at: Set(now),
        });
        ingredient::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(ingredient::Column::Key)
                    .update_columns([
                        ingredient::Column::WrittenName,
                        ingredient::Column::NormalizedName,
                        ingredient::Column::ConceptId,
                        ingredient::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// What the table is now, as the marker of the cache-store copy records it.
async fn version(db: &DatabaseConnection) -> Result<String, AdError> {
    let rows = ingredient::Entity::find().count(db).await?;
    let latest = ingredient::Entity::find()
        .order_by_desc(ingredient::Column::UpdatedAt)
        .one(db)
        .await?
        .map(|row| row.updated_at.to_rfc3339());
    Ok(format!("{rows}@{}", latest.unwrap_or_default()))
}

/// One load into the cache store at a time per process: loads read the table, then rename
/// their copy over the old one, so two that overlap could land in the wrong order and leave an
/// older table than the database's (an import racing the periodic refresh, say). Across
/// replicas that heals at the next refresh, since the copy's version then differs.
#[derive(Default)]
struct LoadTurn(tokio::sync::Mutex<()>);

/// Replaces the cache-store copy with the whole table; returns its row count.
pub async fn load_into_cache(platform: &Platform) -> Result<u64, AdError> {
    let turn = platform.state.get_or_init(LoadTurn::default);
    let _turn = turn.0.lock().await;
    let version = version(&platform.db).await?;
    let rows: Vec<(String, String)> = ingredient::Entity::find()
        .select_only()
        .column(ingredient::Column::Key)
        .column(ingredient::Column::ConceptId)
        .into_tuple()
        .all(&platform.db)
        .await?;
    let count = rows.len() as u64;
    let loading = format!("{TABLE_KEY}:loading:{}", uuid::Uuid::now_v7().simple());
    let loaded = async {
        for chunk in rows.chunks(CHUNK * 2) {
            let entries: Vec<(String, Bytes)> = chunk
                .iter()
                .map(|(key, concept)| (key.clone(), Bytes::from(concept.clone())))
                .collect();
            platform.cache.hset_many(&loading, &entries).await?;
        }
        platform
            .cache
            .hset_many(
                &loading,
                &[(LOADED_FIELD.to_string(), Bytes::from(version))],
            )
            .await?;
        platform.cache.rename(&loading, TABLE_KEY).await
    }
    .await;
    if let Err(error) = loaded {
        // Best effort: a half-written copy must not linger.
        platform.cache.delete(&loading).await.ok();
        return Err(error.into());
    }
    Ok(count)
}

/// Makes sure delivery has a table: seeds the sample into an empty database table (when
/// `ads.seed_ingredients`), and loads the cache-store copy when the cache has lost it.
pub async fn ensure_loaded(platform: &Platform) -> Result<(), AdError> {
    let loaded = platform.cache.hget(TABLE_KEY, LOADED_FIELD).await?;
    let current = version(&platform.db).await?;
    if loaded.as_deref() == Some(current.as_bytes()) {
        return Ok(());
    }
    let empty = current.starts_with("0@");
    if empty && platform.settings.ads.seed_ingredients {
        let report = import(platform, Bytes::from_static(SAMPLE)).await?;
        tracing::info!(
            rows = report.table_rows,
            "loaded the sample ingredient table"
        );
        return Ok(());
    }
    let rows = load_into_cache(platform).await?;
    tracing::info!(rows, "ingredient table loaded into the cache store");
    Ok(())
}

/// A replica's own copy of the cache-store table, taken whenever its version changes, so
/// that delivery resolves names without a round trip.
#[derive(Debug, Default)]
pub struct LocalTable {
    pub version: String,
    concepts: HashMap<String, String>,
}

impl LocalTable {
    /// One resolution per name, in order, for as many names as fit in [`MAX_KEYS`].
    pub fn resolve(&self, names: &[String]) -> Vec<Resolution> {
        candidates(names)
            .iter()
            .map(|c| normalize::resolve(c, |key| self.concepts.get(key).cloned()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }
}

/// The cache-store table, when its version differs from `known` (`None`: the same, or not
/// loaded there).
pub async fn fetch_if_changed(
    platform: &Platform,
    known: Option<&str>,
) -> Result<Option<LocalTable>, AdError> {
    let Some(version) = platform.cache.hget(TABLE_KEY, LOADED_FIELD).await? else {
        return Ok(None);
    };
    let version = String::from_utf8_lossy(&version).into_owned();
    if known == Some(version.as_str()) {
        return Ok(None);
    }
    let mut concepts: HashMap<String, String> = HashMap::new();
    let mut read_version = None;
    for (key, value) in platform.cache.hgetall(TABLE_KEY).await? {
        let value = String::from_utf8_lossy(&value).into_owned();
        if key == LOADED_FIELD {
            read_version = Some(value);
        } else {
            concepts.insert(key, value);
        }
    }
    Ok(Some(LocalTable {
        version: read_version.unwrap_or(version),
        concepts,
    }))
}

/// The candidates of as many names as fit in [`MAX_KEYS`].
fn candidates(names: &[String]) -> Vec<Candidates> {
    let mut candidates: Vec<Candidates> = Vec::with_capacity(names.len());
    let mut keys = 0;
    for name in names {
        let of = Candidates::of(name);
        keys += of.keys().len();
        if keys > MAX_KEYS {
            break;
        }
        candidates.push(of);
    }
    candidates
}

/// How a batch of written names resolved against the cache-store table, in one round trip:
/// one resolution per name, in order, for as many names as fit in [`MAX_KEYS`]. `None` when
/// the table is not loaded there (so nothing can be concluded).
pub async fn resolve_names(
    platform: &Platform,
    names: &[String],
) -> Result<Option<Vec<Resolution>>, AdError> {
    let candidates = candidates(names);
    let mut fields: Vec<&str> = vec![LOADED_FIELD];
    let mut seen = BTreeSet::new();
    for key in candidates.iter().flat_map(Candidates::keys) {
        if seen.insert(key) {
            fields.push(key);
        }
    }
    let values = platform.cache.hget_many(TABLE_KEY, &fields).await?;
    if values.first().is_none_or(Option::is_none) {
        return Ok(None);
    }
    let table: HashMap<&str, String> = fields
        .iter()
        .zip(values)
        .skip(1)
        .filter_map(|(key, value)| Some((*key, String::from_utf8(value?.to_vec()).ok()?)))
        .collect();
    Ok(Some(
        candidates
            .iter()
            .map(|c| normalize::resolve(c, |key| table.get(key).cloned()))
            .collect(),
    ))
}

/// How one written name resolves, as delivery would resolve it (loading the table into the
/// cache store first if it is not there).
pub async fn resolve_one(platform: &Platform, name: &str) -> Result<Resolution, AdError> {
    let names = [name.to_string()];
    if let Some(mut resolved) = resolve_names(platform, &names).await? {
        return Ok(resolved.pop().expect("one name, one resolution"));
    }
    ensure_loaded(platform).await?;
    Ok(resolve_names(platform, &names)
        .await?
        .and_then(|mut all| all.pop())
        .unwrap_or_else(|| normalize::resolve(&Candidates::of(name), |_| None)))
}

/// The concept ids among `concepts` that the table has.
pub async fn known_concepts(
    db: &DatabaseConnection,
    concepts: &[String],
) -> Result<BTreeSet<String>, AdError> {
    if concepts.is_empty() {
        return Ok(BTreeSet::new());
    }
    let found: Vec<String> = ingredient::Entity::find()
        .select_only()
        .column(ingredient::Column::ConceptId)
        .distinct()
        .filter(ingredient::Column::ConceptId.is_in(concepts.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(found.into_iter().collect())
}

/// Rows of the table, by key, optionally of one concept.
pub async fn list(
    db: &DatabaseConnection,
    concept: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<ingredient::Model>, AdError> {
    let mut query = ingredient::Entity::find().order_by_asc(ingredient::Column::Key);
    if let Some(concept) = concept {
        query = query.filter(ingredient::Column::ConceptId.eq(concept));
    }
    if let Some(after) = after {
        query = query.filter(ingredient::Column::Key.gt(after));
    }
    Ok(query.limit(limit).all(db).await?)
}

/// Names no rule resolved, most frequent first (as of the last flush of counts).
pub async fn unmatched(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<unmatched::Model>, AdError> {
    Ok(unmatched::Entity::find()
        .order_by_desc(unmatched::Column::Count)
        .order_by_asc(unmatched::Column::Key)
        .limit(limit)
        .all(db)
        .await?)
}
