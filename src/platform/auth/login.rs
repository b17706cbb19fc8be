//! One-time sign-in codes: `sous token --login` stores a short-lived code and prints a console
//! link carrying it in the URL's fragment (never sent to a server, so never in an access log);
//! the console exchanges it once for a token. The table keeps only the code's SHA-256, so
//! reading the database does not sign anyone in, and a token never sits in a URL.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use super::Auth;

/// How long a printed link works.
pub const CODE_TTL: Duration = Duration::from_secs(5 * 60);

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub subject: String,
        /// Space-separated, as in the token.
        pub scopes: String,
        pub token_ttl_secs: i64,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "this sign-in link has expired or was already used; print a new one with `sous token --login`"
    )]
    Invalid,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot issue a token: {0:#}")]
    Issue(anyhow::Error),
}

/// A token handed out for a code.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub token: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub expires_at: chrono::DateTime<Utc>,
}

fn hash(code: &str) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        Sha256::digest(code.as_bytes()),
    )
}

/// Stores a new code for a token of `subject` with `scopes` lasting `token_ttl`; returns the
/// code. Expired codes are swept on the way.
pub async fn create(
    db: &DatabaseConnection,
    subject: &str,
    scopes: &[String],
    token_ttl: Duration,
) -> Result<String, LoginError> {
    let code = {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    };
    let now = Utc::now();
    entity::Entity::delete_many()
        .filter(entity::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    entity::Entity::insert(entity::ActiveModel {
        code_hash: Set(hash(&code)),
        subject: Set(subject.to_string()),
        scopes: Set(scopes.join(" ")),
        token_ttl_secs: Set(token_ttl.as_secs().min(i64::MAX as u64) as i64),
        expires_at: Set(now + chrono::Duration::from_std(CODE_TTL).expect("small duration")),
    })
    .exec(db)
    .await?;
    Ok(code)
}

/// Trades a code for a token, once: of two concurrent exchanges only the one whose delete
/// removed the row gets a token.
pub async fn exchange(
    db: &DatabaseConnection,
    auth: &Auth,
    code: &str,
) -> Result<SignedIn, LoginError> {
    let code_hash = hash(code);
    let row = entity::Entity::find_by_id(code_hash.clone())
        .one(db)
        .await?
        .filter(|row| row.expires_at > Utc::now())
        .ok_or(LoginError::Invalid)?;
    let deleted = entity::Entity::delete_by_id(code_hash).exec(db).await?;
    if deleted.rows_affected != 1 {
        return Err(LoginError::Invalid);
    }
    let scopes: Vec<String> = row.scopes.split_whitespace().map(str::to_string).collect();
    let ttl = Duration::from_secs(row.token_ttl_secs.max(0) as u64);
    let token = auth
        .issue(&row.subject, &scopes, ttl)
        .map_err(LoginError::Issue)?;
    Ok(SignedIn {
        token,
        subject: row.subject,
        scopes,
        expires_at: Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
    })
}
