//! The ingredient normalization table: rows of (normalized name, written name, concept id) in
//! the database, the whole of it mirrored into one cache-store hash (`key → concept`) that
//! delivery reads, so one replica's import serves them all.
//!
//! The hash is replaced in one step: a new one is written under a temporary key and renamed
//! over the old, so delivery never sees half a table. Its [`LOADED_FIELD`] tells a loaded
//! table from a cache that lost it (a restarted Redis), which is then loaded again rather
//! than read as "nothing matches".

pub mod csv;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
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
/// A field no normalized key can be (keys are never empty): present once the table is loaded.
pub const LOADED_FIELD: &str = "";
/// The table shipped with sous, loaded on first start when the table is empty.
pub const SAMPLE: &[u8] = include_bytes!("../../../assets/ads/ingredients.csv");
/// Rows per INSERT, under SQLite's bound on bound parameters.
const CHUNK: usize = 500;

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
pub async fn import(platform: &Platform, bytes: &[u8]) -> Result<ImportReport, AdError> {
    let parsed = csv::parse(bytes)?;
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

async fn upsert(db: &DatabaseConnection, rows: &[csv::TableRow]) -> Result<(), AdError> {
    let now = Utc::now();
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
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Replaces the cache-store copy with the whole table; returns its row count.
pub async fn load_into_cache(platform: &Platform) -> Result<u64, AdError> {
    let rows: Vec<(String, String)> = ingredient::Entity::find()
        .select_only()
        .column(ingredient::Column::Key)
        .column(ingredient::Column::ConceptId)
        .into_tuple()
        .all(&platform.db)
        .await?;
    let count = rows.len() as u64;
    let loading = format!("{TABLE_KEY}:loading:{}", uuid::Uuid::now_v7().simple());
    for chunk in rows.chunks(CHUNK * 2) {
        let entries: Vec<(String, Bytes)> = chunk
            .iter()
            .map(|(key, concept)| (key.clone(), Bytes::from(concept.clone())))
            .collect();
        platform.cache.hset_many(&loading, &entries).await?;
    }
    let loaded_at = Bytes::from(Utc::now().to_rfc3339());
    platform
        .cache
        .hset_many(&loading, &[(LOADED_FIELD.to_string(), loaded_at)])
        .await?;
    platform.cache.rename(&loading, TABLE_KEY).await?;
    Ok(count)
}

/// Makes sure delivery has a table: seeds the sample into an empty database table (when
/// `ads.seed_ingredients`), and loads the cache-store copy when the cache has lost it.
pub async fn ensure_loaded(platform: &Platform) -> Result<(), AdError> {
    let loaded = platform.cache.hget(TABLE_KEY, LOADED_FIELD).await?;
    if loaded.is_some() {
        return Ok(());
    }
    let empty = ingredient::Entity::find().count(&platform.db).await? == 0;
    if empty && platform.settings.ads.seed_ingredients {
        let report = import(platform, SAMPLE).await?;
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

/// How a batch of written names resolved against the cache-store table. `None` when the table
/// is not loaded there (so nothing can be concluded).
pub async fn resolve_names(
    platform: &Platform,
    names: &[String],
) -> Result<Option<Vec<Resolution>>, AdError> {
    let candidates: Vec<Candidates> = names.iter().map(|n| Candidates::of(n)).collect();
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
