//! Reading and writing the module's tables; every other file goes through here.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::codec::SourceFormat;
use super::entity::{image, variant};
use super::keys::{Sha256Hex, Version};
use super::placeholder::Placeholder;
use super::transform::{Focus, Variant};

/// An image at its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: Uuid,
    /// The subject that registered it.
    pub owner: String,
    pub version: Version,
    pub sha256: Sha256Hex,
    pub format: SourceFormat,
    /// Upright, after any EXIF rotation.
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
    /// Size of the upload.
    pub bytes: u64,
    pub placeholder: Option<Placeholder>,
    /// The point crops keep in view, as set through the API.
    pub focus: Option<Focus>,
    /// The point found in the picture at registration.
    pub attention: Option<Focus>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Image {
    /// Where it is served: `/i/{id}/{version}`, plus any transform as a query string.
    pub fn path(&self) -> String {
        format!("/i/{}/{}", self.id, self.version)
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Where crops centre: the point set, else the one found, else the middle.
    pub fn crop_focus(&self) -> Focus {
        self.focus.or(self.attention).unwrap_or(Focus::CENTRE)
    }

    fn from_row(row: image::Model) -> Result<Image, DbErr> {
        let broken = |what: &str| DbErr::Custom(format!("images row {}: bad {what}", row.id));
        Ok(Image {
            id: Uuid::parse_str(&row.id).map_err(|_| broken("id"))?,
            version: Version::parse(&row.version).ok_or_else(|| broken("version"))?,
            sha256: Sha256Hex::parse(&row.sha256).ok_or_else(|| broken("sha256"))?,
            format: SourceFormat::parse(&row.format).ok_or_else(|| broken("format"))?,
            width: u32::try_from(row.width).map_err(|_| broken("width"))?,
            height: u32::try_from(row.height).map_err(|_| broken("height"))?,
            bytes: u64::try_from(row.bytes).map_err(|_| broken("bytes"))?,
            placeholder: row
                .blurhash
                .zip(row.dominant_color)
                .map(|(blurhash, color)| Placeholder { blurhash, color }),
            focus: focus_of(row.focus_x, row.focus_y),
            attention: focus_of(row.attention_x, row.attention_y),
            owner: row.owner,
            has_alpha: row.has_alpha,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    fn to_row(&self) -> image::ActiveModel {
        image::ActiveModel {
            id: Set(self.id.to_string()),
            owner: Set(self.owner.clone()),
            version: Set(self.version.to_string()),
            sha256: Set(self.sha256.as_str().to_string()),
            format: Set(self.format.as_str().to_string()),
            width: Set(self.width as i32),
            height: Set(self.height as i32),
            has_alpha: Set(self.has_alpha),
            bytes: Set(i64::try_from(self.bytes).unwrap_or(i64::MAX)),
            blurhash: Set(self.placeholder.as_ref().map(|p| p.blurhash.clone())),
            dominant_color: Set(self.placeholder.as_ref().map(|p| p.color.clone())),
            focus_x: Set(self.focus.map(|f| f.hundredths().0.into())),
            focus_y: Set(self.focus.map(|f| f.hundredths().1.into())),
            attention_x: Set(self.attention.map(|f| f.hundredths().0.into())),
            attention_y: Set(self.attention.map(|f| f.hundredths().1.into())),
            created_at: Set(self.created_at),
            updated_at: Set(self.updated_at),
        }
    }
}

/// A stored pair of hundredths, when both are there and in range.
fn focus_of(x: Option<i16>, y: Option<i16>) -> Option<Focus> {
    Focus::from_hundredths(x?.into(), y?.into())
}

pub async fn find(db: &DatabaseConnection, id: Uuid) -> Result<Option<Image>, DbErr> {
    image::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .map(Image::from_row)
        .transpose()
}

/// The owner's image with these bytes, if they registered them before.
pub async fn find_by_content(
    db: &DatabaseConnection,
    owner: &str,
    sha256: &Sha256Hex,
) -> Result<Option<Image>, DbErr> {
    image::Entity::find()
        .filter(image::Column::Owner.eq(owner))
        .filter(image::Column::Sha256.eq(sha256.as_str()))
        .one(db)
        .await?
        .map(Image::from_row)
        .transpose()
}

/// A page of images, newest first: those created before the image `before`, of one owner or
/// of everyone.
pub async fn list(
    db: &DatabaseConnection,
    owner: Option<&str>,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<Image>, DbErr> {
    let mut query = image::Entity::find();
    if let Some(owner) = owner {
        query = query.filter(image::Column::Owner.eq(owner));
    }
    if let Some(before) = before {
        query = query.filter(image::Column::Id.lt(before));
    }
    query
        .order_by_desc(image::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(Image::from_row)
        .collect()
}

/// Whether a write went in, or lost to what another request did first.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The same owner registered the same bytes meanwhile (the unique index decided).
    DuplicateContent,
    /// The image was replaced or deleted meanwhile.
    Stale,
}

pub async fn insert(db: &DatabaseConnection, image: &Image) -> Result<Written, DbErr> {
    match image::Entity::insert(image.to_row())
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(Written::Done),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(Written::DuplicateContent)
        }
        Err(e) => Err(e),
    }
}

/// Moves the image from version `from` to `to`'s bytes, dropping the old version's variants,
/// unless it moved on or went away meanwhile.
pub async fn replace(
    db: &DatabaseConnection,
    from: &Version,
    to: &Image,
) -> Result<Written, DbErr> {
    let txn = db.begin().await?;
    variant::Entity::delete_many()
        .filter(variant::Column::ImageId.eq(to.id.to_string()))
        .filter(variant::Column::Version.eq(from.as_str()))
        .exec(&txn)
        .await?;
    let mut row = to.to_row();
    row.id = sea_orm::ActiveValue::NotSet;
    row.owner = sea_orm::ActiveValue::NotSet;
    row.created_at = sea_orm::ActiveValue::NotSet;
    let updated = image::Entity::update_many()
        .set(row)
        .filter(image::Column::Id.eq(to.id.to_string()))
        .filter(image::Column::Version.eq(from.as_str()))
        .exec(&txn)
        .await;
    let written = match updated {
        Ok(result) if result.rows_affected == 1 => Written::Done,
        Ok(_) => Written::Stale,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Written::DuplicateContent
        }
        Err(e) => return Err(e),
    };
    if written == Written::Done {
        txn.commit().await?;
    }
    Ok(written)
}

/// Deletes the image and its variant rows; `false` when it was not there.
pub async fn delete(db: &DatabaseConnection, id: Uuid) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    variant::Entity::delete_many()
        .filter(variant::Column::ImageId.eq(id.to_string()))
        .exec(&txn)
        .await?;
    let deleted = image::Entity::delete_by_id(id.to_string())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    txn.commit().await?;
    Ok(deleted)
}

/// The variants stored for one version of an image, largest first.
pub async fn variants(
    db: &DatabaseConnection,
    id: Uuid,
    version: &Version,
) -> Result<Vec<variant::Model>, DbErr> {
    variant::Entity::find()
        .filter(variant::Column::ImageId.eq(id.to_string()))
        .filter(variant::Column::Version.eq(version.as_str()))
        .order_by_desc(variant::Column::Width)
        .order_by_asc(variant::Column::Name)
        .all(db)
        .await
}

pub async fn count_derived(
    db: &DatabaseConnection,
    id: Uuid,
    version: &Version,
) -> Result<u64, DbErr> {
    variant::Entity::find()
        .filter(variant::Column::ImageId.eq(id.to_string()))
        .filter(variant::Column::Version.eq(version.as_str()))
        .filter(variant::Column::Kind.eq(variant::VariantKind::Derived))
        .count(db)
        .await
}

/// Records a stored variant; `Stale` when its image version is gone, since the row references it.
pub async fn insert_variant(
    db: &DatabaseConnection,
    id: Uuid,
    version: &Version,
    rendition: &Variant,
    kind: variant::VariantKind,
    bytes: usize,
) -> Result<Written, DbErr> {
    use variant::Column;
    let row = variant::ActiveModel {
        image_id: Set(id.to_string()),
        version: Set(version.to_string()),
        name: Set(rendition.name()),
        kind: Set(kind),
        format: Set(rendition.format().as_str().to_string()),
        width: Set(rendition.width() as i32),
        height: Set(rendition.height() as i32),
        bytes: Set(i64::try_from(bytes).unwrap_or(i64::MAX)),
        created_at: Set(Utc::now()),
    };
    let inserted = variant::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::ImageId, Column::Version, Column::Name])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match inserted {
        Ok(_) => Ok(Written::Done),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) => {
            Ok(Written::Stale)
        }
        Err(e) => Err(e),
    }
}

/// Sets (or with `None` clears) the focus point of the image at `version`; `Stale` when it
/// moved on or went away.
pub async fn set_focus(
    db: &DatabaseConnection,
    id: Uuid,
    version: &Version,
    focus: Option<Focus>,
) -> Result<Written, DbErr> {
    let updated = image::Entity::update_many()
        .set(image::ActiveModel {
            focus_x: Set(focus.map(|f| f.hundredths().0.into())),
            focus_y: Set(focus.map(|f| f.hundredths().1.into())),
            updated_at: Set(Utc::now()),
            ..Default::default()
        })
        .filter(image::Column::Id.eq(id.to_string()))
        .filter(image::Column::Version.eq(version.as_str()))
        .exec(db)
        .await?;
    Ok(if updated.rows_affected == 1 {
        Written::Done
    } else {
        Written::Stale
    })
}

/// Up to `limit` images registered before placeholders or focus points were found, in id order
/// after `after`.
pub async fn lacking_extras(
    db: &DatabaseConnection,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Image>, DbErr> {
    use sea_orm::Condition;
    let mut query = image::Entity::find()
        .filter(
            Condition::any()
                .add(image::Column::Blurhash.is_null())
                .add(image::Column::AttentionX.is_null()),
        )
        .order_by_asc(image::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(image::Column::Id.gt(after.to_string()));
    }
    query
        .all(db)
        .await?
        .into_iter()
        .map(Image::from_row)
        .collect()
}

/// Records what the picture of the image at `version` was found to hold; nothing when it moved
/// on or went away meanwhile.
pub async fn fill_extras(
    db: &DatabaseConnection,
    id: Uuid,
    version: &Version,
    placeholder: &Placeholder,
    attention: Focus,
) -> Result<(), DbErr> {
    image::Entity::update_many()
        .set(image::ActiveModel {
            blurhash: Set(Some(placeholder.blurhash.clone())),
            dominant_color: Set(Some(placeholder.color.clone())),
            attention_x: Set(Some(attention.hundredths().0.into())),
            attention_y: Set(Some(attention.hundredths().1.into())),
            ..Default::default()
        })
        .filter(image::Column::Id.eq(id.to_string()))
        .filter(image::Column::Version.eq(version.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
