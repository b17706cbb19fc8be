//! Reads and writes of `meal_photos`. Every change a poller can see (a photo created, a status
//! moved) takes the next value of the change sequence in the same transaction as the change: the counter row stays locked until that transaction
//! commits, so sequence values become visible in the order they were taken, and a poller whose
//! cursor reached a value has seen every smaller one (a plain database sequence does not give
//! that: a smaller value can commit after a larger one).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};

use super::entity::photo::{self, Column, Entity as Photos, Model as Photo, PhotoStatus};

/// Takes the next change sequence value; the counter stays locked until `txn` ends.
async fn next_change(txn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let statement = Statement::from_string(
        txn.get_database_backend(),
        "UPDATE meal_photo_sequence SET value = value + 1 WHERE name = 'meal_photos' \
         RETURNING value",
    );
    let row = txn
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the meal_photos change sequence".into()))?;
    row.try_get("", "value")
}

/// What a device asks for.
pub struct NewPhoto<'a> {
    pub id: &'a str,
    pub owner: &'a str,
    pub device_photo_id: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    pub bytes: i64,
}

/// The owner's photo for this device photo id: inserted now, or the one asked for before.
pub async fn insert_or_find(db: &DatabaseConnection, new: NewPhoto<'_>) -> Result<Photo, DbErr> {
    let txn = db.begin().await?;
    let seq = next_change(&txn).await?;
    let now = Utc::now();
    Photos::insert(photo::ActiveModel {
        id: Set(new.id.to_string()),
        owner: Set(new.owner.to_string()),
        device_photo_id: Set(new.device_photo_id.to_string()),
        key: Set(new.key.to_string()),
        content_type: Set(new.content_type.to_string()),
        bytes: Set(new.bytes),
        status: Set(PhotoStatus::Waiting),
        is_food: Set(None),
        score: Set(None),
        model_name: Set(None),
        model_version: Set(None),
        classified_at: Set(None),
        reason: Set(None),
        change_seq: Set(seq),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::Owner, Column::DevicePhotoId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let row = Photos::find()
        .filter(Column::Owner.eq(new.owner))
        .filter(Column::DevicePhotoId.eq(new.device_photo_id))
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("meal photo {}", new.id)))?;
    if row.id == new.id {
        txn.commit().await?;
    } else {
        // Asked for before: nothing changed, so the sequence value goes back unused.
        txn.rollback().await?;
    }
    Ok(row)
}

/// The device changed what it will upload (while still waiting): it shows nowhere in the
/// photo's view, so it takes no sequence value.
pub async fn set_upload(
    db: &DatabaseConnection,
    id: &str,
    content_type: &str,
    bytes: i64,
) -> Result<(), DbErr> {
    Photos::update_many()
        .col_expr(Column::ContentType, Expr::value(content_type))
        .col_expr(Column::Bytes, Expr::value(bytes))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(PhotoStatus::Waiting))
        .exec(db)
        .await?;
    Ok(())
}

/// A change of status (see [`change`]).
pub struct Change {
    pub to: PhotoStatus,
    pub result: Option<Classified>,
    pub reason: Option<String>,
}

impl Change {
    pub fn to(status: PhotoStatus) -> Change {
        Change {
            to: status,
            result: None,
            reason: None,
        }
    }

    pub fn failed(reason: String) -> Change {
        Change {
            to: PhotoStatus::Failed,
            result: None,
            reason: Some(reason),
        }
    }

    pub fn done(result: Classified) -> Change {
        Change {
            to: PhotoStatus::Done,
            result: Some(result),
            reason: None,
        }
    }
}

/// A decision, as stored.
pub struct Classified {
    pub is_food: bool,
    pub score: f64,
    pub model_name: String,
    pub model_version: String,
    pub at: DateTime<Utc>,
}

/// Moves the photo at `key` to `change.to` if its status is one of `from`; returns whether it
/// moved. The change takes a new sequence value, so pollers see it once.
pub async fn change(
    db: &DatabaseConnection,
    key: &str,
    from: &[PhotoStatus],
    change: Change,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let seq = next_change(&txn).await?;
    let mut update = Photos::update_many()
        .col_expr(Column::Status, Expr::value(change.to))
        .col_expr(Column::ChangeSeq, Expr::value(seq))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(Column::Reason, Expr::value(change.reason));
    if let Some(result) = change.result {
        update = update
            .col_expr(Column::IsFood, Expr::value(result.is_food))
            .col_expr(Column::Score, Expr::value(result.score))
            .col_expr(Column::ModelName, Expr::value(result.model_name))
            .col_expr(Column::ModelVersion, Expr::value(result.model_version))
            .col_expr(Column::ClassifiedAt, Expr::value(result.at));
    }
    let moved = update
        .filter(Column::Key.eq(key))
        .filter(Column::Status.is_in(from.iter().copied()))
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    if moved {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(moved)
}

pub async fn find(db: &DatabaseConnection, id: &str) -> Result<Option<Photo>, DbErr> {
    Photos::find_by_id(id.to_string()).one(db).await
}

pub async fn find_by_key(db: &DatabaseConnection, key: &str) -> Result<Option<Photo>, DbErr> {
    Photos::find().filter(Column::Key.eq(key)).one(db).await
}

/// Photos that changed after `after`, in the order of their changes; only `owner`'s when given.
pub async fn changed_since(
    db: &DatabaseConnection,
    owner: Option<&str>,
    after: i64,
    status: Option<PhotoStatus>,
    limit: u64,
) -> Result<Vec<Photo>, DbErr> {
    let mut query = Photos::find().filter(Column::ChangeSeq.gt(after));
    if let Some(owner) = owner {
        query = query.filter(Column::Owner.eq(owner));
    }
    if let Some(status) = status {
        query = query.filter(Column::Status.eq(status));
    }
    query
        .order_by_asc(Column::ChangeSeq)
        .limit(limit)
        .all(db)
        .await
}

pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    Photos::delete_by_id(id.to_string()).exec(db).await?;
    Ok(())
}
