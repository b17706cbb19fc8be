//! Upload intents and the record of storage events seen (one row per object version).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UploadIntents {
    Table,
    Id,
    Owner,
    Key,
    ContentTypes,
    MaxBytes,
    Status,
    CreatedAt,
    ExpiresAt,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum StorageEvents {
    Table,
    Id,
    Bucket,
    Key,
    Version,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UploadIntents::Table)
                    .col(
                        ColumnDef::new(UploadIntents::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(UploadIntents::Owner).string().not_null())
                    .col(
                        ColumnDef::new(UploadIntents::Key)
                            .string_len(1024)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(UploadIntents::ContentTypes)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UploadIntents::MaxBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UploadIntents::Status).string().not_null())
                    .col(
                        ColumnDef::new(UploadIntents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UploadIntents::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UploadIntents::ReceivedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("upload_intents_status_created")
                    .table(UploadIntents::Table)
                    .col(UploadIntents::Status)
                    .col(UploadIntents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StorageEvents::Table)
                    .col(
                        ColumnDef::new(StorageEvents::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StorageEvents::Bucket).string().not_null())
                    .col(
                        ColumnDef::new(StorageEvents::Key)
                            .string_len(1024)
                            .not_null(),
                    )
                    .col(ColumnDef::new(StorageEvents::Version).string().not_null())
                    .col(
                        ColumnDef::new(StorageEvents::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("storage_events_object_version")
                    .table(StorageEvents::Table)
                    .col(StorageEvents::Bucket)
                    .col(StorageEvents::Key)
                    .col(StorageEvents::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StorageEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UploadIntents::Table).to_owned())
            .await
    }
}
