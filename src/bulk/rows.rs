//! Reading and writing the module's tables; every other file goes through here.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entity::archive::{self, ArchiveStatus};
use super::entity::entry::{self, EntryStatus};
use super::entity::image;

pub async fn insert_archive(
    db: &DatabaseConnection,
    id: &str,
    owner: &str,
    key: &str,
) -> Result<archive::Model, DbErr> {
    let now = Utc::now();
    let row = archive::Model {
        id: id.to_string(),
        owner: owner.to_string(),
        key: key.to_string(),
        status: ArchiveStatus::Waiting,
        total: 0,
        registered: 0,
        skipped: 0,
        refused: 0,
        reason: None,
        bytes: None,
        created_at: now,
        updated_at: now,
    };
    archive::Entity::insert(archive::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn find_archive(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<archive::Model>, DbErr> {
    archive::Entity::find_by_id(id).one(db).await
}

pub async fn find_archive_by_key(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<archive::Model>, DbErr> {
    archive::Entity::find()
        .filter(archive::Column::Key.eq(key))
        .one(db)
        .await
}

/// An owner's archives (everyone's with `None`), newest first, before the cursor `after`.
pub async fn list_archives(
    db: &DatabaseConnection,
    owner: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<archive::Model>, DbErr> {
    let mut query = archive::Entity::find()
        .order_by_desc(archive::Column::Id)
        .limit(limit);
    if let Some(owner) = owner {
        query = query.filter(archive::Column::Owner.eq(owner));
    }
    if let Some(after) = after {
        query = query.filter(archive::Column::Id.lt(after));
    }
    query.all(db).await
}

/// Moves the archive to `status` (with `reason` when it failed), unless it is finished.
pub async fn set_status(
    db: &DatabaseConnection,
    id: &str,
    status: ArchiveStatus,
    reason: Option<String>,
) -> Result<(), DbErr> {
    archive::Entity::update_many()
        .col_expr(archive::Column::Status, Expr::value(status))
        .col_expr(archive::Column::Reason, Expr::value(reason))
        .col_expr(archive::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(archive::Column::Id.eq(id))
        .filter(archive::Column::Status.is_not_in([ArchiveStatus::Done, ArchiveStatus::Failed]))
        .exec(db)
        .await?;
    Ok(())
}

/// An archive's counts, as they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u32,
    pub registered: u32,
    pub skipped: u32,
    pub refused: u32,
}

pub async fn set_counts(
    db: &DatabaseConnection,
    id: &str,
    counts: Counts,
    bytes: u64,
) -> Result<(), DbErr> {
    let as_i32 = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    archive::Entity::update_many()
        .col_expr(archive::Column::Total, Expr::value(as_i32(counts.total)))
        .col_expr(
            archive::Column::Registered,
            Expr::value(as_i32(counts.registered)),
        )
        .col_expr(
            archive::Column::Skipped,
            Expr::value(as_i32(counts.skipped)),
        )
        .col_expr(
            archive::Column::Refused,
            Expr::value(as_i32(counts.refused)),
        )
        .col_expr(
            archive::Column::Bytes,
            Expr::value(i64::try_from(bytes).unwrap_or(i64::MAX)),
        )
        .col_expr(archive::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(archive::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The entries of an archive whose outcome is committed, and how many were registered and
/// refused.
pub async fn outcomes(
    db: &DatabaseConnection,
    archive_id: &str,
) -> Result<(HashSet<u32>, u32, u32), DbErr> {
    let rows: Vec<(i32, EntryStatus)> = entry::Entity::find()
        .select_only()
        .column(entry::Column::EntryIndex)
        .column(entry::Column::Status)
        .filter(entry::Column::ArchiveId.eq(archive_id))
        .into_tuple()
        .all(db)
        .await?;
    let registered = rows
        .iter()
        .filter(|(_, status)| *status == EntryStatus::Registered)
        .count() as u32;
    let refused = rows.len() as u32 - registered;
    let done = rows.into_iter().map(|(index, _)| index as u32).collect();
    Ok((done, registered, refused))
}

/// Commits one entry's outcome; `false` when it was committed already (by an earlier run).
pub async fn record_entry(
    db: &DatabaseConnection,
    archive_id: &str,
    index: u32,
    name: &str,
    outcome: Result<&str, &str>,
) -> Result<bool, DbErr> {
    let (status, image_id, reason) = match outcome {
        Ok(image_id) => (EntryStatus::Registered, Some(image_id.to_string()), None),
        Err(reason) => (EntryStatus::Refused, None, Some(reason.to_string())),
    };
    let row = entry::ActiveModel {
        archive_id: Set(archive_id.to_string()),
        entry_index: Set(index as i32),
        name: Set(name.to_string()),
        status: Set(status),
        image_id: Set(image_id),
        reason: Set(reason),
        created_at: Set(Utc::now()),
    };
    let inserted = entry::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([entry::Column::ArchiveId, entry::Column::EntryIndex])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// A page of an archive's entry outcomes, in archive order, after entry `after`.
pub async fn entries(
    db: &DatabaseConnection,
    archive_id: &str,
    after: Option<u32>,
    limit: u64,
) -> Result<Vec<entry::Model>, DbErr> {
    let mut query = entry::Entity::find()
        .filter(entry::Column::ArchiveId.eq(archive_id))
        .order_by_asc(entry::Column::EntryIndex)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(entry::Column::EntryIndex.gt(after as i32));
    }
    query.all(db).await
}

/// Remembers `name` as `image_id` for the owner, unless a later archive named it already.
pub async fn remember_image(
    db: &DatabaseConnection,
    owner: &str,
    name: &str,
    image_id: &str,
    archive_id: &str,
) -> Result<(), DbErr> {
    let row = image::ActiveModel {
        owner: Set(owner.to_string()),
        name: Set(name.to_string()),
        image_id: Set(image_id.to_string()),
        archive_id: Set(archive_id.to_string()),
        updated_at: Set(Utc::now()),
    };
    let excluded = |column: image::Column| Expr::col((Alias::new("excluded"), column));
    image::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([image::Column::Owner, image::Column::Name])
                .update_columns([
                    image::Column::ImageId,
                    image::Column::ArchiveId,
                    image::Column::UpdatedAt,
                ])
                .action_and_where(
                    Expr::col((image::Entity, image::Column::ArchiveId))
                        .lte(excluded(image::Column::ArchiveId)),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A page of the owner's images by name, in name order after `after`; with `name`, that one.
pub async fn images(
    db: &DatabaseConnection,
    owner: &str,
    name: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<image::Model>, DbErr> {
    let mut query = image::Entity::find()
        .filter(image::Column::Owner.eq(owner))
        .order_by_asc(image::Column::Name)
        .limit(limit);
    if let Some(name) = name {
        query = query.filter(image::Column::Name.eq(name));
    }
    if let Some(after) = after {
        query = query.filter(image::Column::Name.gt(after));
    }
    query.all(db).await
}
