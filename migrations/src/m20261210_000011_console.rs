//! One-time sign-in codes for the console, and per-minute job outcomes per queue (what the
//! console charts; shared by every replica, unlike the metrics each process keeps).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginCodes {
    Table,
    CodeHash,
    Subject,
    Scopes,
    TokenTtlSecs,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum JobActivity {
    Table,
    Queue,
    Minute,
    Succeeded,
    Retried,
    Dead,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginCodes::Table)
                    .col(
                        ColumnDef::new(LoginCodes::CodeHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginCodes::Subject).string().not_null())
                    .col(ColumnDef::new(LoginCodes::Scopes).string().not_null())
                    .col(
                        ColumnDef::new(LoginCodes::TokenTtlSecs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginCodes::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let count = |column: JobActivity| {
            ColumnDef::new(column)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(JobActivity::Table)
                    .col(ColumnDef::new(JobActivity::Queue).string().not_null())
                    // Unix seconds of the minute's start.
                    .col(ColumnDef::new(JobActivity::Minute).big_integer().not_null())
                    .col(count(JobActivity::Succeeded))
                    .col(count(JobActivity::Retried))
                    .col(count(JobActivity::Dead))
                    .primary_key(
                        Index::create()
                            .col(JobActivity::Queue)
                            .col(JobActivity::Minute),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobActivity::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LoginCodes::Table).to_owned())
            .await
    }
}
