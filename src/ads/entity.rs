//! The module's tables. Campaigns and creatives are read whole into every replica's
//! [`crate::ads::delivery::Snapshot`]; counts reach `ads_hourly_stats` only through a flush
//! (see `counting.rs`), each flush recorded in `ads_flushes` so that it applies once.

pub mod advertiser {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_advertisers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod campaign {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_campaigns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub advertiser_id: String,
        pub name: String,
        pub starts_at: DateTimeUtc,
        pub ends_at: DateTimeUtc,
        /// JSON array of slot names.
        #[sea_orm(column_type = "Text")]
        pub slots: String,
        pub priority: i32,
        pub weight: i32,
        pub daily_cap: Option<i64>,
        pub total_cap: Option<i64>,
        pub status: Status,
        pub targeting: Targeting,
        /// JSON array: the keywords of a keyword jack.
        #[sea_orm(column_type = "Text")]
        pub keywords: String,
        /// JSON array: the concept ids of an ingredient jack.
        #[sea_orm(column_type = "Text")]
        pub concepts: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(
        Clone,
        Copy,
        Debug,
        PartialEq,
        Eq,
        EnumIter,
        DeriveActiveEnum,
        Serialize,
        Deserialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum Status {
        #[sea_orm(string_value = "active")]
        Active,
        #[sea_orm(string_value = "paused")]
        Paused,
    }

    /// What makes a campaign fire; jacks take every slot of the page they fire on.
    #[derive(
        Clone,
        Copy,
        Debug,
        PartialEq,
        Eq,
        Hash,
        EnumIter,
        DeriveActiveEnum,
        Serialize,
        Deserialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum Targeting {
        /// Recipe pages whose ingredients include one of `concepts`.
        #[sea_orm(string_value = "ingredient")]
        Ingredient,
        /// Searches whose keyword contains one of `keywords`.
        #[sea_orm(string_value = "keyword")]
        Keyword,
        /// Any page, when no jack fires.
        #[sea_orm(string_value = "none")]
        None,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod creative {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_creatives")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub campaign_id: String,
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub link: String,
        /// An image of the images module; served from `/i/…`.
        pub image_id: Option<String>,
        /// The client-facing JSON object the apps render, as given.
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ingredient {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_ingredients")]
    pub struct Model {
        /// `normalize::key` of the written name.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub written_name: String,
        pub normalized_name: String,
        pub concept_id: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod hourly_stat {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_hourly_stats")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub campaign_id: String,
        /// The start of the hour, UTC.
        #[sea_orm(primary_key, auto_increment = false)]
        pub hour: DateTimeUtc,
        pub impressions: i64,
        pub clicks: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod flush {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_flushes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub flushed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod unmatched {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_unmatched")]
    pub struct Model {
        /// `normalize::key` of the names counted here.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// One name as a recipe wrote it.
        pub example: String,
        pub count: i64,
        pub last_seen: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod switch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ads_switches")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub enabled: bool,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
