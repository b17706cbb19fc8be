//! The module's tables: `images`, one row per image at its current version;
//! `image_variants`, the renditions stored for that version (a variant row references its
//! image's (id, version), so one for a version that was replaced or deleted cannot commit);
//! `image_uploads`, direct uploads and what became of them.

pub mod image {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "images")]
    pub struct Model {
        /// A UUIDv7, so ids sort by creation time.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The subject that registered it.
        pub owner: String,
        /// The start of `sha256`, in the URL.
        pub version: String,
        /// Of the bytes as uploaded; an owner registering the same bytes again gets this image.
        pub sha256: String,
        /// The uploaded format: jpeg, png, gif or webp.
        pub format: String,
        /// Upright, after any EXIF rotation.
        pub width: i32,
        pub height: i32,
        /// Some pixel is not opaque.
        pub has_alpha: bool,
        /// Size of the upload.
        pub bytes: i64,
        /// What pages paint before the picture arrives (absent on images registered before).
        pub blurhash: Option<String>,
        pub dominant_color: Option<String>,
        /// The point crops keep in view, in hundredths: set through the API, else found in
        /// the picture (absent on images registered before, until the backfill).
        pub focus_x: Option<i16>,
        pub focus_y: Option<i16>,
        pub attention_x: Option<i16>,
        pub attention_y: Option<i16>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod variant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "image_variants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub image_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: String,
        /// `Variant::name`, also the last part of its object key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub kind: VariantKind,
        pub format: String,
        pub width: i32,
        pub height: i32,
        pub bytes: i64,
        pub created_at: DateTimeUtc,
    }

    /// Why a rendition exists; only `derived` ones count against the per-image bound.
    #[derive(
        Clone,
        Copy,
        Debug,
        PartialEq,
        Eq,
        EnumIter,
        DeriveActiveEnum,
        serde::Serialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum VariantKind {
        /// Configured in `images.presets`, made when the image is registered.
        #[sea_orm(string_value = "preset")]
        Preset,
        /// A width of `images.ladder`, made when the image is registered: what other sizes are
        /// resized from, instead of the original.
        #[sea_orm(string_value = "ladder")]
        Ladder,
        /// Asked for by a client and kept.
        #[sea_orm(string_value = "derived")]
        Derived,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod upload {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "image_uploads")]
    pub struct Model {
        /// A UUIDv7, also the last part of the upload's object key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub owner: String,
        pub status: UploadStatus,
        /// The image it became.
        pub image_id: Option<String>,
        /// Why it was refused.
        #[sea_orm(column_type = "Text", nullable)]
        pub error: Option<String>,
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
        serde::Serialize,
        utoipa::ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    #[serde(rename_all = "snake_case")]
    pub enum UploadStatus {
        /// The upload URL was given out; the bytes have not been registered yet.
        #[sea_orm(string_value = "waiting")]
        Waiting,
        /// Registered: `image_id` is the image.
        #[sea_orm(string_value = "registered")]
        Registered,
        /// The bytes are not an image sous takes: `error` says why.
        #[sea_orm(string_value = "refused")]
        Refused,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
