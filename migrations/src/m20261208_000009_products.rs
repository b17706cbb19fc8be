//! Products imported from sellers' CSVs, and the reports of those imports.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Products {
    Table,
    Owner,
    Sku,
    Name,
    Price,
    Description,
    Images,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProductImports {
    Table,
    Id,
    Owner,
    DryRun,
    Encoding,
    Rows,
    Applied,
    Failed,
    Errors,
    FailedRows,
    CreatedAt,
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
                    .table(Products::Table)
                    .col(ColumnDef::new(Products::Owner).string().not_null())
                    .col(ColumnDef::new(Products::Sku).string().not_null())
                    .col(ColumnDef::new(Products::Name).text().not_null())
                    .col(ColumnDef::new(Products::Price).big_integer().not_null())
                    .col(ColumnDef::new(Products::Description).text().not_null())
                    .col(ColumnDef::new(Products::Images).text().not_null())
                    .col(timestamp(Products::CreatedAt))
                    .col(timestamp(Products::UpdatedAt))
                    .primary_key(Index::create().col(Products::Owner).col(Products::Sku))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProductImports::Table)
                    .col(
                        ColumnDef::new(ProductImports::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ProductImports::Owner).string().not_null())
                    .col(ColumnDef::new(ProductImports::DryRun).boolean().not_null())
                    .col(ColumnDef::new(ProductImports::Encoding).string().not_null())
                    .col(ColumnDef::new(ProductImports::Rows).integer().not_null())
                    .col(ColumnDef::new(ProductImports::Applied).integer().not_null())
                    .col(ColumnDef::new(ProductImports::Failed).integer().not_null())
                    .col(ColumnDef::new(ProductImports::Errors).text().not_null())
                    .col(ColumnDef::new(ProductImports::FailedRows).text().not_null())
                    .col(timestamp(ProductImports::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProductImports::Table.into_iden(),
            Products::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
