//! Meal photos: each photo a device uploads, its classification, and the change sequence the
//! app polls by.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MealPhotos {
    Table,
    Id,
    Owner,
    DevicePhotoId,
    Key,
    ContentType,
    Bytes,
    Status,
    IsFood,
    Score,
    ModelName,
    ModelVersion,
    ClassifiedAt,
    Reason,
    ChangeSeq,
    CreatedAt,
    UpdatedAt,
}

/// One counter row: taking the next value locks it until the taker commits, so values become
/// visible in the order they were taken, and a poller's cursor never passes an uncommitted one.
#[derive(DeriveIden)]
enum MealPhotoSequence {
    Table,
    Name,
    Value,
}

fn timestamp<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MealPhotos::Table)
                    .col(
                        ColumnDef::new(MealPhotos::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(MealPhotos::Owner).string().not_null())
                    .col(
                        ColumnDef::new(MealPhotos::DevicePhotoId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MealPhotos::Key)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(MealPhotos::ContentType).string().not_null())
                    .col(ColumnDef::new(MealPhotos::Bytes).big_integer().not_null())
                    .col(ColumnDef::new(MealPhotos::Status).string().not_null())
                    .col(ColumnDef::new(MealPhotos::IsFood).boolean().null())
                    .col(ColumnDef::new(MealPhotos::Score).double().null())
                    .col(ColumnDef::new(MealPhotos::ModelName).string().null())
                    .col(ColumnDef::new(MealPhotos::ModelVersion).string().null())
                    .col(
                        ColumnDef::new(MealPhotos::ClassifiedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(MealPhotos::Reason).text().null())
                    .col(
                        ColumnDef::new(MealPhotos::ChangeSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp(MealPhotos::CreatedAt))
                    .col(timestamp(MealPhotos::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Asking again for the same device photo finds it.
        manager
            .create_index(
                Index::create()
                    .name("meal_photos_device")
                    .table(MealPhotos::Table)
                    .col(MealPhotos::Owner)
                    .col(MealPhotos::DevicePhotoId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // What changed for a user since their cursor.
        manager
            .create_index(
                Index::create()
                    .name("meal_photos_owner_changes")
                    .table(MealPhotos::Table)
                    .col(MealPhotos::Owner)
                    .col(MealPhotos::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        // What changed for everyone (an admin's feed).
        manager
            .create_index(
                Index::create()
                    .name("meal_photos_changes")
                    .table(MealPhotos::Table)
                    .col(MealPhotos::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MealPhotoSequence::Table)
                    .col(
                        ColumnDef::new(MealPhotoSequence::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MealPhotoSequence::Value)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(MealPhotoSequence::Table)
                    .columns([MealPhotoSequence::Name, MealPhotoSequence::Value])
                    .values_panic(["meal_photos".into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MealPhotoSequence::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MealPhotos::Table).to_owned())
            .await
    }
}
