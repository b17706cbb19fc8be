//! Products from a seller's CSV: rows checked one by one against the file and the seller's
//! images (by the file names in their archives), good rows applied in one transaction, bad ones
//! reported by line and column and kept as a CSV to fix and upload again. Re-importing a SKU
//! updates it.

pub mod api;
pub mod csv;

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::csv::{FileError, ProductRow, RowError};
use super::entity::{image, product, product_import};
use crate::platform::Platform;
use crate::platform::cpu;

/// One of a product's images: the file name the CSV gave, and the image it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductImage {
    pub name: String,
    pub image_id: String,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Imports `bytes` (a CSV) for `owner`, or with `dry_run` only checks it; the report is kept
/// either way.
pub async fn import(
    platform: &Platform,
    owner: &str,
    bytes: bytes::Bytes,
    dry_run: bool,
) -> Result<product_import::Model, ImportError> {
    let max_rows = platform.settings.bulk.max_csv_rows;
    let mut parsed = cpu::run(move || csv::parse(&bytes, max_rows)).await??;
    let names: Vec<String> = parsed
        .rows
        .iter()
        .flat_map(|row| row.images.iter().map(|(_, name)| name.clone()))
        .collect();
    let known = image_ids(&platform.db, owner, &names).await?;
    let mut good: Vec<(ProductRow, Vec<ProductImage>)> = Vec::new();
    for row in std::mem::take(&mut parsed.rows) {
        let unknown: Vec<RowError> = row
            .images
            .iter()
            .filter(|(_, name)| !known.contains_key(name))
            .map(|(column, name)| RowError {
                line: row.line,
                column: column.clone(),
                message: format!("no image named `{name}` in your archives"),
            })
            .collect();
        if unknown.is_empty() {
            let images = row
                .images
                .iter()
                .map(|(_, name)| ProductImage {
                    name: name.clone(),
                    image_id: known[name].clone(),
                })
                .collect();
            good.push((row, images));
        } else {
            parsed.failed.push((row.line, row.raw.clone()));
            parsed.errors.extend(unknown);
        }
    }
    parsed.failed.sort_by_key(|(line, _)| *line);
    parsed.errors.sort_by_key(|e| e.line);
    if !dry_run {
        apply(&platform.db, owner, &good).await?;
    }
    let report = product_import::Model {
        id: Uuid::now_v7().to_string(),
        owner: owner.to_string(),
        dry_run,
        encoding: serde_json::to_value(parsed.encoding)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        rows: (good.len() + parsed.failed.len()) as i32,
        applied: if dry_run { 0 } else { good.len() as i32 },
        failed: parsed.failed.len() as i32,
        errors: serde_json::to_string(&parsed.errors).map_err(anyhow::Error::new)?,
        failed_rows: csv::failed_rows(&parsed.header, &parsed.failed, &parsed.errors),
        created_at: Utc::now(),
    };
    product_import::Entity::insert(product_import::ActiveModel::from(report.clone()))
        .exec_without_returning(&platform.db)
        .await?;
    Ok(report)
}

/// The owner's image ids by file name, for `names`.
async fn image_ids(
    db: &DatabaseConnection,
    owner: &str,
    names: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    let mut known = HashMap::new();
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    // Bounded lists, as databases limit the parameters of one statement.
    for chunk in names.chunks(500) {
        let rows: Vec<(String, String)> = image::Entity::find()
            .select_only()
            .column(image::Column::Name)
            .column(image::Column::ImageId)
            .filter(image::Column::Owner.eq(owner))
            .filter(image::Column::Name.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        known.extend(rows);
    }
    Ok(known)
}

/// Creates or updates the products, all or none.
async fn apply(
    db: &DatabaseConnection,
    owner: &str,
    rows: &[(ProductRow, Vec<ProductImage>)],
) -> Result<(), ImportError> {
    let now = Utc::now();
    let txn = db.begin().await?;
    for chunk in rows.chunks(500) {
        let mut models = Vec::with_capacity(chunk.len());
        for (row, images) in chunk {
            models.push(product::ActiveModel {
                owner: Set(owner.to_string()),
                sku: Set(row.sku.clone()),
                name: Set(row.name.clone()),
                price: Set(row.price),
                description: Set(row.description.clone()),
                images: Set(serde_json::to_string(images).map_err(anyhow::Error::new)?),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        product::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([product::Column::Owner, product::Column::Sku])
                    .update_columns([
                        product::Column::Name,
                        product::Column::Price,
                        product::Column::Description,
                        product::Column::Images,
                        product::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn find_import(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<product_import::Model>, DbErr> {
    product_import::Entity::find_by_id(id).one(db).await
}

pub async fn find(
    db: &DatabaseConnection,
    owner: &str,
    sku: &str,
) -> Result<Option<product::Model>, DbErr> {
    product::Entity::find_by_id((owner.to_string(), sku.to_string()))
        .one(db)
        .await
}

/// A page of the owner's products in SKU order, after `after`.
pub async fn list(
    db: &DatabaseConnection,
    owner: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<product::Model>, DbErr> {
    let mut query = product::Entity::find()
        .filter(product::Column::Owner.eq(owner))
        .order_by_asc(product::Column::Sku)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(product::Column::Sku.gt(after));
    }
    query.all(db).await
}
