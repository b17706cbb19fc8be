//! The module's tables: `bulk_archives`, one row per archive a seller uploads, with its counts;
//! `bulk_archive_entries`, each entry's outcome under its (archive, entry index) key, committed
//! before the next entry is read, so a retry skips what is done; `bulk_images`, the seller's
//! registered images by file name, the names a product CSV refers to.

pub mod archive {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bulk_archives")]
    pub struct Model {
        /// A UUIDv7, so ids sort by creation time.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub owner: String,
        /// Where the seller uploads it: `bulk/archives/{id}.zip`.
        #[sea_orm(unique)]
        pub key: String,
        pub status: ArchiveStatus,
        /// Images in the archive (folders and system files not counted); 0 until it is read.
        pub total: i32,
        pub registered: i32,
        /// Folders, `__MACOSX/`, `.DS_Store` and `Thumbs.db`: neither images nor refused.
        pub skipped: i32,
        pub refused: i32,
        /// Why the archive as a whole failed.
        pub reason: Option<String>,
        pub bytes: Option<i64>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    #[derive(
        Debug,
        Clone,
        Copy,
        PartialEq,
        Eq,
        EnumIter,
        DeriveActiveEnum,
        serde::Serialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum ArchiveStatus {
        /// No archive uploaded yet (`queued` is shown once its object is in the store).
        #[sea_orm(string_value = "waiting")]
        Waiting,
        /// A run failed on something passing (the store, the database) and will be retried.
        #[sea_orm(string_value = "queued")]
        Queued,
        #[sea_orm(string_value = "running")]
        Running,
        #[sea_orm(string_value = "done")]
        Done,
        #[sea_orm(string_value = "failed")]
        Failed,
    }
}

pub mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bulk_archive_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub archive_id: String,
        /// The entry's place in the central directory, from 0.
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_index: i32,
        pub name: String,
        pub status: EntryStatus,
        pub image_id: Option<String>,
        pub reason: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    #[derive(
        Debug,
        Clone,
        Copy,
        PartialEq,
        Eq,
        EnumIter,
        DeriveActiveEnum,
        serde::Serialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum EntryStatus {
        #[sea_orm(string_value = "registered")]
        Registered,
        #[sea_orm(string_value = "refused")]
        Refused,
    }
}

pub mod image {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bulk_images")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner: String,
        /// The entry's name in its archive, NFC: `商品画像/01_りんご.jpg`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub image_id: String,
        /// The latest archive that had the name (ids sort by creation).
        pub archive_id: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod product {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub owner: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sku: String,
        pub name: String,
        /// Yen.
        pub price: i64,
        pub description: String,
        /// JSON array of `{"name": …, "image_id": …}`, in the CSV's column order.
        pub images: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod product_import {
    use sea_orm::entity::prelude::*;

    /// An import's report, kept so it can be read again and its failed rows downloaded.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "product_imports")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub owner: String,
        pub dry_run: bool,
        pub encoding: String,
        pub rows: i32,
        pub applied: i32,
        pub failed: i32,
        /// JSON array of `{"line", "column", "message"}`.
        pub errors: String,
        /// The failed rows as a CSV with an `error` column.
        pub failed_rows: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
