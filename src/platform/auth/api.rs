//! Who the caller is, and the exchange of a one-time sign-in code for a token.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::Principal;
use super::login::{self, LoginError, SignedIn};
use crate::platform::Platform;
use crate::platform::http::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/me").get(me))
        .service(web::resource("/v1/auth/login").post(exchange));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub subject: String,
    pub scopes: Vec<String>,
    /// Whether the token has the `admin` scope.
    pub admin: bool,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The signed-in caller: subject, scopes and when the token expires.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
async fn me(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        admin: principal.is_admin(),
        scopes: principal.scopes.into_iter().collect(),
        subject: principal.subject,
        expires_at: principal.expires_at,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The code of a link printed by `sous token --login`.
    code: String,
}

/// Trades a one-time sign-in code for a bearer token.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = SignedIn),
        (status = 400, body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::platform::http::Problem, content_type = "application/problem+json", description = "Unknown, used or expired code"),
    )
)]
async fn exchange(
    platform: web::Data<Platform>,
    request: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = login::exchange(&platform.db, &platform.auth, &request.code).await?;
    Ok(HttpResponse::Ok().json(signed_in))
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Invalid => ApiError::unauthorized(error.to_string()),
            LoginError::Database(e) => e.into(),
            LoginError::Issue(e) => ApiError::internal(e),
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(me, exchange), components(schemas(Me, LoginRequest, SignedIn)))]
pub struct AuthApi;
