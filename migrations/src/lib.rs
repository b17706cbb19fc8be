//! Schema migrations, one file per change; a migration is never edited once it has landed.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_platform;
mod m20261121_000002_labels;
mod m20261121_000003_uploads;
mod m20261121_000004_images;
mod m20261207_000005_ads;
mod m20261207_000006_image_placeholders;
mod m20261208_000007_image_focus;
mod m20261208_000008_bulk;
mod m20261208_000009_products;
mod m20261209_000010_meal_photos;
mod m20261210_000011_console;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_platform::Migration),
            Box::new(m20261121_000002_labels::Migration),
            Box::new(m20261121_000003_uploads::Migration),
            Box::new(m20261121_000004_images::Migration),
            Box::new(m20261207_000005_ads::Migration),
            Box::new(m20261207_000006_image_placeholders::Migration),
            Box::new(m20261208_000007_image_focus::Migration),
            Box::new(m20261208_000008_bulk::Migration),
            Box::new(m20261208_000009_products::Migration),
            Box::new(m20261209_000010_meal_photos::Migration),
            Box::new(m20261210_000011_console::Migration),
        ]
    }
}
