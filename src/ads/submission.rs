//! The operator's submissions: advertisers, campaigns with their targeting, and creatives.
//! Every field is checked and all problems are reported at once, each with its field.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::AdError;
use super::entity::campaign::{self, Status, Targeting};
use super::entity::{advertiser, creative};
use super::ingredients;
use crate::platform::Platform;
use crate::platform::http::FieldError;

const MAX_NAME_CHARS: usize = 200;
const MAX_KEYWORDS: usize = 100;
const MAX_CONCEPTS: usize = 100;
const MAX_LINK_BYTES: usize = 2048;
/// The client-facing JSON of a creative, serialized.
const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvertiserInput {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub advertiser_id: String,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Slots it runs in, each one of `ads.slots`.
    pub slots: Vec<String>,
    /// Higher wins; equals share by `weight`.
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "one")]
    pub weight: i32,
    /// Impressions per day, spread over the day.
    #[serde(default)]
    pub daily_cap: Option<i64>,
    #[serde(default)]
    pub total_cap: Option<i64>,
    #[serde(default = "active")]
    pub status: Status,
    /// `ingredient` (with `concepts`), `keyword` (with `keywords`) or `none` (normal ads).
    pub targeting: Targeting,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Concept ids of the ingredient table.
    #[serde(default)]
    pub concepts: Vec<String>,
}

fn one() -> i32 {
    1
}

fn active() -> Status {
    Status::Active
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativeInput {
    pub title: String,
    /// Where a click goes: http or https.
    pub link: String,
    /// The JSON object the apps render, returned with the ad as is (up to 16 KiB).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// Collects the problems of a submission.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.0.push(FieldError {
                field: field.to_string(),
                message: message.into(),
            });
        }
    }

    fn name(&mut self, value: &str, field: &str) {
        let chars = value.trim().chars().count();
        self.check(chars > 0, field, "must not be empty");
        self.check(
            chars <= MAX_NAME_CHARS,
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        );
    }

    fn into_result(self) -> Result<(), AdError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AdError::Invalid(self.0))
        }
    }
}

pub async fn create_advertiser(
    db: &DatabaseConnection,
    input: AdvertiserInput,
) -> Result<advertiser::Model, AdError> {
    let mut problems = Problems::default();
    problems.name(&input.name, "/name");
    problems.into_result()?;
    let now = Utc::now();
    Ok(advertiser::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        name: Set(input.name.trim().to_string()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn advertiser(db: &DatabaseConnection, id: &str) -> Result<advertiser::Model, AdError> {
    advertiser::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AdError::NotFound("such advertiser"))
}

pub async fn list_advertisers(
    db: &DatabaseConnection,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<advertiser::Model>, AdError> {
    let mut query = advertiser::Entity::find().order_by_asc(advertiser::Column::Id);
    if let Some(after) = after {
        query = query.filter(advertiser::Column::Id.gt(after));
    }
    Ok(query.limit(limit).all(db).await?)
}

pub async fn delete_advertiser(db: &DatabaseConnection, id: &str) -> Result<(), AdError> {
    let found = advertiser(db, id).await?;
    let campaigns = campaign::Entity::find()
        .filter(campaign::Column::AdvertiserId.eq(id))
        .count(db)
        .await?;
    if campaigns > 0 {
        return Err(AdError::InUse(format!(
            "the advertiser has {campaigns} campaign(s); delete them first"
        )));
    }
    advertiser::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(())
}

async fn check_campaign(platform: &Platform, input: &CampaignInput) -> Result<(), AdError> {
    let mut problems = Problems::default();
    problems.name(&input.name, "/name");
    let advertiser_exists = advertiser::Entity::find_by_id(&input.advertiser_id)
        .one(&platform.db)
        .await?
        .is_some();
    problems.check(
        advertiser_exists,
        "/advertiser_id",
        "no advertiser has this id",
    );
    problems.check(
        input.ends_at > input.starts_at,
        "/ends_at",
        "must be after starts_at",
    );
    problems.check(!input.slots.is_empty(), "/slots", "name at least one slot");
    let configured = &platform.settings.ads.slots;
    for (i, slot) in input.slots.iter().enumerate() {
        problems.check(
            configured.contains(slot),
            &format!("/slots/{i}"),
            format!(
                "`{slot}` is not a slot; the slots are {}",
                configured.join(", ")
            ),
        );
    }
    let distinct: BTreeSet<&String> = input.slots.iter().collect();
    problems.check(
        distinct.len() == input.slots.len(),
        "/slots",
        "name each slot once",
    );
    problems.check(
        (1..=1000).contains(&input.weight),
        "/weight",
        "from 1 to 1000",
    );
    for (field, cap) in [
        ("/daily_cap", input.daily_cap),
        ("/total_cap", input.total_cap),
    ] {
        problems.check(
            cap.is_none_or(|c| c > 0),
            field,
            "must be more than 0 (or absent)",
        );
    }
    match input.targeting {
        Targeting::Keyword => {
            problems.check(
                !input.keywords.is_empty(),
                "/keywords",
                "a keyword jack needs at least one keyword",
            );
            problems.check(
                input.keywords.len() <= MAX_KEYWORDS,
                "/keywords",
                format!("at most {MAX_KEYWORDS}"),
            );
            for (i, keyword) in input.keywords.iter().enumerate() {
                problems.check(
                    !super::normalize::key(keyword).is_empty(),
                    &format!("/keywords/{i}"),
                    "has nothing left once normalized",
                );
                problems.check(
                    keyword.len() <= platform.settings.ads.max_keyword_bytes,
                    &format!("/keywords/{i}"),
                    "is longer than a search keyword may be",
                );
            }
            problems.check(
                input.concepts.is_empty(),
                "/concepts",
                "only for targeting `ingredient`",
            );
        }
        Targeting::Ingredient => {
            problems.check(
                !input.concepts.is_empty(),
                "/concepts",
                "an ingredient jack needs at least one concept id",
            );
            problems.check(
                input.concepts.len() <= MAX_CONCEPTS,
                "/concepts",
                format!("at most {MAX_CONCEPTS}"),
            );
            let known = ingredients::known_concepts(&platform.db, &input.concepts).await?;
            for (i, concept) in input.concepts.iter().enumerate() {
                problems.check(
                    known.contains(concept),
                    &format!("/concepts/{i}"),
                    format!("`{concept}` is not a concept of the ingredient table"),
                );
            }
            problems.check(
                input.keywords.is_empty(),
                "/keywords",
                "only for targeting `keyword`",
            );
        }
        Targeting::None => {
            problems.check(
                input.keywords.is_empty(),
                "/keywords",
                "only for targeting `keyword`",
            );
            problems.check(
                input.concepts.is_empty(),
                "/concepts",
                "only for targeting `ingredient`",
            );
        }
    }
    problems.into_result()
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("strings serialize")
}

/// Creates a campaign (`id: None`) or replaces one.
pub async fn save_campaign(
    platform: &Platform,
    id: Option<&str>,
    input: CampaignInput,
) -> Result<campaign::Model, AdError> {
    check_campaign(platform, &input).await?;
    let now = Utc::now();
    let existing = match id {
        Some(id) => Some(campaign(&platform.db, id).await?),
        None => None,
    };
    let mut row = campaign::ActiveModel {
        id: Set(id.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string)),
        advertiser_id: Set(input.advertiser_id),
        name: Set(input.name.trim().to_string()),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        slots: Set(to_json(&input.slots)),
        priority: Set(input.priority),
        weight: Set(input.weight),
        daily_cap: Set(input.daily_cap),
        total_cap: Set(input.total_cap),
        status: Set(input.status),
        targeting: Set(input.targeting),
        keywords: Set(to_json(&input.keywords)),
        concepts: Set(to_json(&input.concepts)),
        created_at: Set(existing.as_ref().map_or(now, |e| e.created_at)),
        updated_at: Set(now),
    };
    Ok(match existing {
        Some(_) => {
            row.created_at = sea_orm::ActiveValue::Unchanged(row.created_at.clone().unwrap());
            row.update(&platform.db).await?
        }
        None => row.insert(&platform.db).await?,
    })
}

/// What a stored campaign was submitted as, so a partial change can be merged onto it.
pub fn as_input(row: &campaign::Model) -> CampaignInput {
    let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
    CampaignInput {
        advertiser_id: row.advertiser_id.clone(),
        name: row.name.clone(),
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        slots: list(&row.slots),
        priority: row.priority,
        weight: row.weight,
        daily_cap: row.daily_cap,
        total_cap: row.total_cap,
        status: row.status,
        targeting: row.targeting,
        keywords: list(&row.keywords),
        concepts: list(&row.concepts),
    }
}

pub async fn campaign(db: &DatabaseConnection, id: &str) -> Result<campaign::Model, AdError> {
    campaign::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AdError::NotFound("such campaign"))
}

pub async fn list_campaigns(
    db: &DatabaseConnection,
    advertiser_id: Option<&str>,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<campaign::Model>, AdError> {
    let mut query = campaign::Entity::find().order_by_asc(campaign::Column::Id);
    if let Some(advertiser_id) = advertiser_id {
        query = query.filter(campaign::Column::AdvertiserId.eq(advertiser_id));
    }
    if let Some(after) = after {
        query = query.filter(campaign::Column::Id.gt(after));
    }
    Ok(query.limit(limit).all(db).await?)
}

/// Deletes a campaign and its creatives (its counts stay, for the record).
pub async fn delete_campaign(db: &DatabaseConnection, id: &str) -> Result<(), AdError> {
    let found = campaign(db, id).await?;
    creative::Entity::delete_many()
        .filter(creative::Column::CampaignId.eq(&found.id))
        .exec(db)
        .await?;
    campaign::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(())
}

fn check_creative(input: &CreativeInput) -> Result<(), AdError> {
    let mut problems = Problems::default();
    problems.name(&input.title, "/title");
    let link = url::Url::parse(&input.link);
    problems.check(
        link.as_ref()
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
        "/link",
        "must be an http or https URL",
    );
    problems.check(
        input.link.len() <= MAX_LINK_BYTES,
        "/link",
        format!("must be at most {MAX_LINK_BYTES} bytes"),
    );
    problems.check(
        input.payload.is_object(),
        "/payload",
        "must be a JSON object",
    );
    problems.check(
        input.payload.to_string().len() <= MAX_PAYLOAD_BYTES,
        "/payload",
        format!("must be at most {MAX_PAYLOAD_BYTES} bytes of JSON"),
    );
    problems.into_result()
}

pub async fn create_creative(
    db: &DatabaseConnection,
    campaign_id: &str,
    input: CreativeInput,
) -> Result<creative::Model, AdError> {
    campaign(db, campaign_id).await?;
    check_creative(&input)?;
    let now = Utc::now();
    Ok(creative::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        campaign_id: Set(campaign_id.to_string()),
        title: Set(input.title.trim().to_string()),
        link: Set(input.link),
        image_id: Set(None),
        payload: Set(input.payload.to_string()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn update_creative(
    db: &DatabaseConnection,
    id: &str,
    input: CreativeInput,
) -> Result<creative::Model, AdError> {
    let found = creative(db, id).await?;
    check_creative(&input)?;
    let mut row = found.into_active_model();
    row.title = Set(input.title.trim().to_string());
    row.link = Set(input.link);
    row.payload = Set(input.payload.to_string());
    row.updated_at = Set(Utc::now());
    Ok(row.update(db).await?)
}

/// Registers `bytes` through the images module and makes it the creative's image.
pub async fn set_creative_image(
    platform: &Platform,
    id: &str,
    bytes: bytes::Bytes,
) -> Result<creative::Model, AdError> {
    let found = creative(&platform.db, id).await?;
    let image = crate::images::register(
        platform,
        super::IMAGE_OWNER,
        crate::images::Source::Bytes(bytes),
    )
    .await?;
    let mut row = found.into_active_model();
    row.image_id = Set(Some(image.id.to_string()));
    row.updated_at = Set(Utc::now());
    Ok(row.update(&platform.db).await?)
}

pub async fn creative(db: &DatabaseConnection, id: &str) -> Result<creative::Model, AdError> {
    creative::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AdError::NotFound("such creative"))
}

pub async fn creatives_of(
    db: &DatabaseConnection,
    campaign_id: &str,
) -> Result<Vec<creative::Model>, AdError> {
    Ok(creative::Entity::find()
        .filter(creative::Column::CampaignId.eq(campaign_id))
        .order_by_asc(creative::Column::Id)
        .all(db)
        .await?)
}

pub async fn delete_creative(db: &DatabaseConnection, id: &str) -> Result<(), AdError> {
    let found = creative(db, id).await?;
    creative::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(())
}
