//! The module's tables: `meal_photos`, one row per device photo with its classification and the
//! change sequence value of its last change; `meal_photo_sequence`, the counter those values
//! come from (see `rows::next_change`).

pub mod photo {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "meal_photos")]
    pub struct Model {
        /// A UUIDv7.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub owner: String,
        /// The device's own id for the photo: asking again for it finds this row.
        pub device_photo_id: String,
        /// `meal-photos/{id}`.
        #[sea_orm(unique)]
        pub key: String,
        pub content_type: String,
        /// The size the device declared.
        pub bytes: i64,
        pub status: PhotoStatus,
        pub is_food: Option<bool>,
        /// The food probability, 0 to 1.
        pub score: Option<f64>,
        pub model_name: Option<String>,
        pub model_version: Option<String>,
        pub classified_at: Option<DateTimeUtc>,
        /// Why it failed.
        pub reason: Option<String>,
        /// Taken from the sequence at every change; the polling cursor is over it.
        pub change_seq: i64,
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
        serde::Deserialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum PhotoStatus {
        /// For the upload.
        #[sea_orm(string_value = "waiting")]
        Waiting,
        /// Uploaded; waiting for a worker (or for the model's weights).
        #[sea_orm(string_value = "queued")]
        Queued,
        #[sea_orm(string_value = "processing")]
        Processing,
        #[sea_orm(string_value = "done")]
        Done,
        #[sea_orm(string_value = "failed")]
        Failed,
    }

    impl PhotoStatus {
        pub fn is_final(self) -> bool {
            matches!(self, PhotoStatus::Done | PhotoStatus::Failed)
        }
    }
}

pub mod sequence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "meal_photo_sequence")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
