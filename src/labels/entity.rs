//! The print log: one row per print request, dry runs included.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "print_jobs")]
pub struct Model {
    /// A UUIDv7, so ids sort by creation time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The subject of the token that asked for it.
    pub owner: String,
    /// A configured printer's name; absent for dry runs without one.
    pub printer: Option<String>,
    pub dry_run: bool,
    pub status: PrintStatus,
    pub label_count: i32,
    /// Every label of the request as a JSON array of trees, in order.
    #[sea_orm(column_type = "Text")]
    pub trees: String,
    /// The HTML document showing every label.
    #[sea_orm(column_type = "Text")]
    pub preview: String,
    /// JSON array of `LabelSubstitution`s, each naming its label.
    #[sea_orm(column_type = "Text")]
    pub substitutions: String,
    /// The ESC/POS bytes in object storage; absent for dry runs, which print nothing.
    pub escpos_key: Option<String>,
    /// The last failure to print.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Attempts to send to the printer so far.
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Where a print job stands; stored as its snake_case name.
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
pub enum PrintStatus {
    /// Rendered and logged, never to be sent.
    #[sea_orm(string_value = "dry_run")]
    DryRun,
    /// Waiting for a worker, or for the retry after a failed attempt (see `error`).
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Being sent to the printer.
    #[sea_orm(string_value = "printing")]
    Printing,
    /// The printer took every byte.
    #[sea_orm(string_value = "printed")]
    Printed,
    /// Given up on: `error` says why.
    #[sea_orm(string_value = "failed")]
    Failed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
