//! Ads: advertisers, campaigns and their creatives, the ingredient table, hourly counts, the
//! unmatched ingredient names, and the switches operators flip.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdsAdvertisers {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AdsCampaigns {
    Table,
    Id,
    AdvertiserId,
    Name,
    StartsAt,
    EndsAt,
    Slots,
    Priority,
    Weight,
    DailyCap,
    TotalCap,
    Status,
    Targeting,
    Keywords,
    Concepts,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AdsCreatives {
    Table,
    Id,
    CampaignId,
    Title,
    Link,
    ImageId,
    Payload,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AdsIngredients {
    Table,
    Key,
    WrittenName,
    NormalizedName,
    ConceptId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AdsHourlyStats {
    Table,
    CampaignId,
    Hour,
    Impressions,
    Clicks,
}

#[derive(DeriveIden)]
enum AdsFlushes {
    Table,
    Id,
    FlushedAt,
}

#[derive(DeriveIden)]
enum AdsUnmatched {
    Table,
    Key,
    Example,
    Count,
    LastSeen,
}

#[derive(DeriveIden)]
enum AdsSwitches {
    Table,
    Name,
    Enabled,
    UpdatedAt,
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
                    .table(AdsAdvertisers::Table)
                    .col(
                        ColumnDef::new(AdsAdvertisers::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdsAdvertisers::Name).string().not_null())
                    .col(timestamp(AdsAdvertisers::CreatedAt))
                    .col(timestamp(AdsAdvertisers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Slots, keywords and concepts are short JSON arrays read whole with their campaign.
        manager
            .create_table(
                Table::create()
                    .table(AdsCampaigns::Table)
                    .col(
                        ColumnDef::new(AdsCampaigns::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdsCampaigns::AdvertiserId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdsCampaigns::Name).string().not_null())
                    .col(timestamp(AdsCampaigns::StartsAt))
                    .col(timestamp(AdsCampaigns::EndsAt))
                    .col(ColumnDef::new(AdsCampaigns::Slots).text().not_null())
                    .col(ColumnDef::new(AdsCampaigns::Priority).integer().not_null())
                    .col(ColumnDef::new(AdsCampaigns::Weight).integer().not_null())
                    .col(ColumnDef::new(AdsCampaigns::DailyCap).big_integer().null())
                    .col(ColumnDef::new(AdsCampaigns::TotalCap).big_integer().null())
                    .col(ColumnDef::new(AdsCampaigns::Status).string().not_null())
                    .col(ColumnDef::new(AdsCampaigns::Targeting).string().not_null())
                    .col(ColumnDef::new(AdsCampaigns::Keywords).text().not_null())
                    .col(ColumnDef::new(AdsCampaigns::Concepts).text().not_null())
                    .col(timestamp(AdsCampaigns::CreatedAt))
                    .col(timestamp(AdsCampaigns::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("ads_campaigns_advertiser")
                            .from_tbl(AdsCampaigns::Table)
                            .from_col(AdsCampaigns::AdvertiserId)
                            .to_tbl(AdsAdvertisers::Table)
                            .to_col(AdsAdvertisers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdsCreatives::Table)
                    .col(
                        ColumnDef::new(AdsCreatives::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdsCreatives::CampaignId).string().not_null())
                    .col(ColumnDef::new(AdsCreatives::Title).string().not_null())
                    .col(ColumnDef::new(AdsCreatives::Link).text().not_null())
                    .col(ColumnDef::new(AdsCreatives::ImageId).string().null())
                    .col(ColumnDef::new(AdsCreatives::Payload).text().not_null())
                    .col(timestamp(AdsCreatives::CreatedAt))
                    .col(timestamp(AdsCreatives::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("ads_creatives_campaign")
                            .from_tbl(AdsCreatives::Table)
                            .from_col(AdsCreatives::CampaignId)
                            .to_tbl(AdsCampaigns::Table)
                            .to_col(AdsCampaigns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Keyed by the normalized key of the written name: two spellings that normalize alike
        // are one row, so the table can never say two things about one key.
        manager
            .create_table(
                Table::create()
                    .table(AdsIngredients::Table)
                    .col(
                        ColumnDef::new(AdsIngredients::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdsIngredients::WrittenName)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdsIngredients::NormalizedName)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdsIngredients::ConceptId)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(AdsIngredients::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ads_ingredients_concept")
                    .table(AdsIngredients::Table)
                    .col(AdsIngredients::ConceptId)
                    .to_owned(),
            )
            .await?;
        // The table's version (its latest change) is read by every replica at every refresh.
        manager
            .create_index(
                Index::create()
                    .name("ads_ingredients_updated_at")
                    .table(AdsIngredients::Table)
                    .col(AdsIngredients::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdsHourlyStats::Table)
                    .col(
                        ColumnDef::new(AdsHourlyStats::CampaignId)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(AdsHourlyStats::Hour))
                    .col(
                        ColumnDef::new(AdsHourlyStats::Impressions)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdsHourlyStats::Clicks)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AdsHourlyStats::CampaignId)
                            .col(AdsHourlyStats::Hour),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per applied flush: applying the same flush twice finds its row and stops.
        manager
            .create_table(
                Table::create()
                    .table(AdsFlushes::Table)
                    .col(
                        ColumnDef::new(AdsFlushes::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(timestamp(AdsFlushes::FlushedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdsUnmatched::Table)
                    .col(
                        ColumnDef::new(AdsUnmatched::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdsUnmatched::Example).string().not_null())
                    .col(ColumnDef::new(AdsUnmatched::Count).big_integer().not_null())
                    .col(timestamp(AdsUnmatched::LastSeen))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdsSwitches::Table)
                    .col(
                        ColumnDef::new(AdsSwitches::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdsSwitches::Enabled).boolean().not_null())
                    .col(timestamp(AdsSwitches::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AdsSwitches::Table.into_iden(),
            AdsUnmatched::Table.into_iden(),
            AdsFlushes::Table.into_iden(),
            AdsHourlyStats::Table.into_iden(),
            AdsIngredients::Table.into_iden(),
            AdsCreatives::Table.into_iden(),
            AdsCampaigns::Table.into_iden(),
            AdsAdvertisers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
