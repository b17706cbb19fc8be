//! The print log of the labels module.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PrintJobs {
    Table,
    Id,
    Owner,
    Printer,
    DryRun,
    Status,
    LabelCount,
    Trees,
    Preview,
    Substitutions,
    EscposKey,
    Error,
    Attempts,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PrintJobs::Table)
                    .col(
                        ColumnDef::new(PrintJobs::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PrintJobs::Owner).string().not_null())
                    .col(ColumnDef::new(PrintJobs::Printer).string().null())
                    .col(ColumnDef::new(PrintJobs::DryRun).boolean().not_null())
                    .col(ColumnDef::new(PrintJobs::Status).string().not_null())
                    .col(ColumnDef::new(PrintJobs::LabelCount).integer().not_null())
                    .col(ColumnDef::new(PrintJobs::Trees).text().not_null())
                    .col(ColumnDef::new(PrintJobs::Preview).text().not_null())
                    .col(ColumnDef::new(PrintJobs::Substitutions).text().not_null())
                    .col(ColumnDef::new(PrintJobs::EscposKey).string().null())
                    .col(ColumnDef::new(PrintJobs::Error).text().null())
                    .col(ColumnDef::new(PrintJobs::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(PrintJobs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PrintJobs::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Each owner's log, newest first, is read by a range over this index.
        manager
            .create_index(
                Index::create()
                    .name("print_jobs_owner_id")
                    .table(PrintJobs::Table)
                    .col(PrintJobs::Owner)
                    .col(PrintJobs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PrintJobs::Table).to_owned())
            .await
    }
}
