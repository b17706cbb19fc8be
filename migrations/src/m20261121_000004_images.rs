//! Images, their stored renditions, and direct uploads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    Owner,
    Version,
    Sha256,
    Format,
    Width,
    Height,
    HasAlpha,
    Bytes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ImageVariants {
    Table,
    ImageId,
    Version,
    Name,
    Kind,
    Format,
    Width,
    Height,
    Bytes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ImageUploads {
    Table,
    Id,
    Owner,
    Status,
    ImageId,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Images::Table)
                    .col(ColumnDef::new(Images::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Images::Owner).string().not_null())
                    .col(ColumnDef::new(Images::Version).string().not_null())
                    .col(ColumnDef::new(Images::Sha256).string().not_null())
                    .col(ColumnDef::new(Images::Format).string().not_null())
                    .col(ColumnDef::new(Images::Width).integer().not_null())
                    .col(ColumnDef::new(Images::Height).integer().not_null())
                    .col(ColumnDef::new(Images::HasAlpha).boolean().not_null())
                    .col(ColumnDef::new(Images::Bytes).big_integer().not_null())
                    .col(
                        ColumnDef::new(Images::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Images::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One image per owner and content: registering the same bytes twice is idempotent.
        manager
            .create_index(
                Index::create()
                    .name("images_owner_sha256")
                    .table(Images::Table)
                    .col(Images::Owner)
                    .col(Images::Sha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // What variants reference: a variant belongs to one version of one image.
        manager
            .create_index(
                Index::create()
                    .name("images_id_version")
                    .table(Images::Table)
                    .col(Images::Id)
                    .col(Images::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImageVariants::Table)
                    .col(ColumnDef::new(ImageVariants::ImageId).string().not_null())
                    .col(ColumnDef::new(ImageVariants::Version).string().not_null())
                    .col(ColumnDef::new(ImageVariants::Name).string().not_null())
                    .col(ColumnDef::new(ImageVariants::Kind).string().not_null())
                    .col(ColumnDef::new(ImageVariants::Format).string().not_null())
                    .col(ColumnDef::new(ImageVariants::Width).integer().not_null())
                    .col(ColumnDef::new(ImageVariants::Height).integer().not_null())
                    .col(
                        ColumnDef::new(ImageVariants::Bytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ImageVariants::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ImageVariants::ImageId)
                            .col(ImageVariants::Version)
                            .col(ImageVariants::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("image_variants_image_version")
                            .from_tbl(ImageVariants::Table)
                            .from_col(ImageVariants::ImageId)
                            .from_col(ImageVariants::Version)
                            .to_tbl(Images::Table)
                            .to_col(Images::Id)
                            .to_col(Images::Version)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImageUploads::Table)
                    .col(
                        ColumnDef::new(ImageUploads::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ImageUploads::Owner).string().not_null())
                    .col(ColumnDef::new(ImageUploads::Status).string().not_null())
                    .col(ColumnDef::new(ImageUploads::ImageId).string().null())
                    .col(ColumnDef::new(ImageUploads::Error).text().null())
                    .col(
                        ColumnDef::new(ImageUploads::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ImageUploads::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImageUploads::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ImageVariants::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Images::Table).to_owned())
            .await
    }
}
