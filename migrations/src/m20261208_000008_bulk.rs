//! Bulk ingest: seller archives, each entry's outcome, and the seller's images by file name.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BulkArchives {
    Table,
    Id,
    Owner,
    Key,
    Status,
    Total,
    Registered,
    Skipped,
    Refused,
    Reason,
    Bytes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BulkArchiveEntries {
    Table,
    ArchiveId,
    EntryIndex,
    Name,
    Status,
    ImageId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BulkImages {
    Table,
    Owner,
    Name,
    ImageId,
    ArchiveId,
    UpdatedAt,
}

fn timestamp<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn count<T: IntoIden>(column: T) -> ColumnDef {
    ColumnDef::new(column)
        .integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BulkArchives::Table)
                    .col(
                        ColumnDef::new(BulkArchives::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(BulkArchives::Owner).string().not_null())
                    .col(
                        ColumnDef::new(BulkArchives::Key)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(BulkArchives::Status).string().not_null())
                    .col(count(BulkArchives::Total))
                    .col(count(BulkArchives::Registered))
                    .col(count(BulkArchives::Skipped))
                    .col(count(BulkArchives::Refused))
                    .col(ColumnDef::new(BulkArchives::Reason).text().null())
                    .col(ColumnDef::new(BulkArchives::Bytes).big_integer().null())
                    .col(timestamp(BulkArchives::CreatedAt))
                    .col(timestamp(BulkArchives::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // A seller's archives, newest first.
        manager
            .create_index(
                Index::create()
                    .name("bulk_archives_owner")
                    .table(BulkArchives::Table)
                    .col(BulkArchives::Owner)
                    .col(BulkArchives::Id)
                    .to_owned(),
            )
            .await?;
        // The (archive, entry) key is what makes a retry skip what is done.
        manager
            .create_table(
                Table::create()
                    .table(BulkArchiveEntries::Table)
                    .col(
                        ColumnDef::new(BulkArchiveEntries::ArchiveId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(BulkArchiveEntries::EntryIndex)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(BulkArchiveEntries::Name).text().not_null())
                    .col(
                        ColumnDef::new(BulkArchiveEntries::Status)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(BulkArchiveEntries::ImageId).string().null())
                    .col(ColumnDef::new(BulkArchiveEntries::Reason).text().null())
                    .col(timestamp(BulkArchiveEntries::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(BulkArchiveEntries::ArchiveId)
                            .col(BulkArchiveEntries::EntryIndex),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("bulk_archive_entries_archive")
                            .from_tbl(BulkArchiveEntries::Table)
                            .from_col(BulkArchiveEntries::ArchiveId)
                            .to_tbl(BulkArchives::Table)
                            .to_col(BulkArchives::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BulkImages::Table)
                    .col(ColumnDef::new(BulkImages::Owner).string().not_null())
                    .col(ColumnDef::new(BulkImages::Name).text().not_null())
                    .col(ColumnDef::new(BulkImages::ImageId).string().not_null())
                    .col(ColumnDef::new(BulkImages::ArchiveId).string().not_null())
                    .col(timestamp(BulkImages::UpdatedAt))
                    .primary_key(Index::create().col(BulkImages::Owner).col(BulkImages::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BulkImages::Table.into_iden(),
            BulkArchiveEntries::Table.into_iden(),
            BulkArchives::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
