//! Platform tables: dead-letter jobs and scheduler leases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobFailures {
    Table,
    Id,
    Queue,
    Kind,
    Payload,
    Attempts,
    Error,
    State,
    FailedAt,
    RequeuedAt,
}

#[derive(DeriveIden)]
enum SchedulerLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobFailures::Table)
                    .col(
                        ColumnDef::new(JobFailures::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(JobFailures::Queue).string().not_null())
                    .col(ColumnDef::new(JobFailures::Kind).string().not_null())
                    .col(ColumnDef::new(JobFailures::Payload).text().not_null())
                    .col(ColumnDef::new(JobFailures::Attempts).integer().not_null())
                    .col(ColumnDef::new(JobFailures::Error).text().not_null())
                    .col(ColumnDef::new(JobFailures::State).string().not_null())
                    .col(
                        ColumnDef::new(JobFailures::FailedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JobFailures::RequeuedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("job_failures_state_queue_id")
                    .table(JobFailures::Table)
                    .col(JobFailures::State)
                    .col(JobFailures::Queue)
                    .col(JobFailures::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SchedulerLeases::Table)
                    .col(
                        ColumnDef::new(SchedulerLeases::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SchedulerLeases::Holder).string().not_null())
                    .col(
                        ColumnDef::new(SchedulerLeases::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SchedulerLeases::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(JobFailures::Table).to_owned())
            .await
    }
}
