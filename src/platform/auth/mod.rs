//! Bearer tokens (JWT). HS256 with the signing key by default; RS256/ES256 with the identity
//! provider's public key in production. Handlers take a [`Principal`] (any valid token) or an
//! [`Admin`] (a token with the `admin` scope): missing or bad tokens are 401, a valid token
//! without the scope is 403.

use std::collections::BTreeSet;
use std::future::{Ready, ready};
use std::time::Duration;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub mod api;
pub mod login;

use super::Platform;
use super::http::ApiError;
use crate::config::{JwtAlgorithm, Settings};

pub const ADMIN_SCOPE: &str = "admin";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// Space-separated scopes (RFC 8693).
    #[serde(default)]
    scope: String,
    exp: u64,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

#[derive(Clone)]
pub struct Auth {
    decoding: DecodingKey,
    /// Present only with HS256, where sous holds the secret and can issue tokens itself.
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("algorithms", &self.validation.algorithms)
            .finish()
    }
}

impl Auth {
    pub fn new(settings: &Settings, signing_key: &SecretString) -> anyhow::Result<Auth> {
        use anyhow::Context;
        let jwt = &settings.jwt;
        let (algorithm, decoding, encoding) = match jwt.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = signing_key.expose_secret().as_bytes();
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret),
                    Some(EncodingKey::from_secret(secret)),
                )
            }
            JwtAlgorithm::RS256 | JwtAlgorithm::ES256 => {
                let pem = jwt
                    .public_key
                    .as_deref()
                    .context("SOUS_JWT_PUBLIC_KEY is required")?;
                let (algorithm, key) = if jwt.algorithm == JwtAlgorithm::RS256 {
                    (Algorithm::RS256, DecodingKey::from_rsa_pem(pem.as_bytes()))
                } else {
                    (Algorithm::ES256, DecodingKey::from_ec_pem(pem.as_bytes()))
                };
                (
                    algorithm,
                    key.context("invalid setting SOUS_JWT_PUBLIC_KEY: not a PEM public key of that algorithm")?,
                    None,
                )
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &jwt.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &jwt.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Auth {
            decoding,
            encoding,
            validation,
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
        })
    }

    /// Issues a token (development and tests); only possible with HS256.
    pub fn issue(&self, subject: &str, scopes: &[String], ttl: Duration) -> anyhow::Result<String> {
        let key = self
            .encoding
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("tokens can only be issued with HS256; this deployment verifies tokens of its identity provider"))?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_string(),
            scope: scopes.join(" "),
            exp: now + ttl.as_secs(),
            iat: now,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            key,
        )?)
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let reason = match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => "the token signature is invalid",
                    ErrorKind::InvalidIssuer => "the token was issued by someone else",
                    ErrorKind::InvalidAudience => "the token is for another audience",
                    ErrorKind::InvalidAlgorithm => {
                        "the token uses an algorithm this server does not accept"
                    }
                    ErrorKind::MissingRequiredClaim(_) => {
                        "the token lacks a required claim (sub, exp)"
                    }
                    _ => "the token is malformed",
                };
                ApiError::unauthorized(reason)
            })?;
        if data.claims.sub.is_empty() {
            return Err(ApiError::unauthorized("the token has an empty subject"));
        }
        Ok(Principal {
            expires_at: chrono::DateTime::from_timestamp(data.claims.exp as i64, 0)
                .unwrap_or_default(),
            subject: data.claims.sub,
            scopes: data
                .claims
                .scope
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        })
    }
}

/// The caller: who they are and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    /// When the token stops being accepted.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    pub fn is_admin(&self) -> bool {
        self.has_scope(ADMIN_SCOPE)
    }

    /// 403 unless the caller has `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the `{scope}` scope"
            )))
        }
    }

    /// Whose items a list request may show: an admin anyone's (`None`: everyone's), others
    /// only their own; naming someone else without the admin scope is a 403.
    pub fn listing_scope(&self, owner: Option<&str>) -> Result<Option<String>, ApiError> {
        match owner {
            None if self.is_admin() => Ok(None),
            None => Ok(Some(self.subject.clone())),
            Some(owner) if self.is_owner_or_admin(owner) => Ok(Some(owner.to_string())),
            Some(_) => Err(ApiError::forbidden(
                "only admins can list someone else's items",
            )),
        }
    }

    /// Whether the caller may see and change what `owner` owns: its owner, or an admin.
    /// Callers answer "no" with a 404, as for a missing item, so ids reveal nothing.
    pub fn is_owner_or_admin(&self, owner: &str) -> bool {
        self.subject == owner || self.is_admin()
    }
}

fn principal_from(req: &HttpRequest) -> Result<Principal, ApiError> {
    let platform = req.app_data::<web::Data<Platform>>().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("platform state missing from the app"))
    })?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("an `Authorization: Bearer <token>` header is required")
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    platform.auth.verify(token)
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_from(req))
    }
}

/// A principal with the `admin` scope.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_from(req).and_then(|p| p.require(ADMIN_SCOPE).map(|()| Admin(p))))
    }
}

/// The signing key: `SOUS_SIGNING_KEY`, or in embedded mode a key generated once into
/// `data_dir/signing.key` (mode 0600). Replicas must share a key, so outside embedded mode a
/// missing key is an error rather than a surprise.
pub fn signing_key(settings: &Settings) -> anyhow::Result<SecretString> {
    use anyhow::Context;
    if let Some(key) = &settings.signing_key {
        return Ok(key.clone());
    }
    anyhow::ensure!(
        settings.is_embedded(),
        "invalid setting SOUS_SIGNING_KEY: required outside embedded mode (every replica must share it); generate one with `openssl rand -hex 32`"
    );
    let path = settings.data_dir.join("signing.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let key = existing.trim().to_string();
        anyhow::ensure!(
            key.len() >= 32,
            "{} is too short to be a signing key",
            path.display()
        );
        return Ok(SecretString::from(key));
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("failed to create {}", settings.data_dir.display()))?;
    let key: String = {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    write_private(&path, &key).with_context(|| format!("failed to write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a signing key");
    Ok(SecretString::from(key))
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(&Settings::default(), &SecretString::from("k".repeat(64))).unwrap()
    }

    #[test]
    fn issued_tokens_verify_with_scopes() {
        let auth = auth();
        let token = auth
            .issue(
                "alice",
                &["admin".into(), "print".into()],
                Duration::from_secs(60),
            )
            .unwrap();
        let principal = auth.verify(&token).unwrap();
        assert_eq!(principal.subject, "alice");
        assert!(principal.is_admin() && principal.has_scope("print"));
    }

    #[test]
    fn foreign_and_expired_tokens_are_refused() {
        let other = Auth::new(&Settings::default(), &SecretString::from("x".repeat(64))).unwrap();
        let token = other
            .issue("mallory", &[], Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            auth().verify(&token).unwrap_err().detail(),
            "the token signature is invalid"
        );

        let claims = Claims {
            sub: "alice".into(),
            scope: String::new(),
            exp: jsonwebtoken::get_current_timestamp() - 3600,
            iat: 0,
            iss: None,
            aud: None,
        };
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret("k".repeat(64).as_bytes()),
        )
        .unwrap();
        assert_eq!(
            auth().verify(&expired).unwrap_err().detail(),
            "the token has expired"
        );
    }

    /// Production verifies the identity provider's tokens with its public key alone.
    #[test]
    fn provider_tokens_verify_with_rs256_and_es256_public_keys() {
        for (algorithm, key_pair) in [
            (
                JwtAlgorithm::RS256,
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                    .unwrap(),
            ),
            (
                JwtAlgorithm::ES256,
                rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            ),
        ] {
            let mut settings = Settings::default();
            settings.jwt.algorithm = algorithm;
            settings.jwt.public_key = Some(key_pair.public_key_pem());
            settings.jwt.issuer = Some("https://id.example".into());
            let auth = Auth::new(&settings, &SecretString::from("unused")).unwrap();
            assert!(
                auth.issue("alice", &[], Duration::from_secs(60)).is_err(),
                "no private key here"
            );

            let private = key_pair.serialize_pem();
            let (header, key) = match algorithm {
                JwtAlgorithm::RS256 => (
                    Header::new(Algorithm::RS256),
                    EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
                ),
                _ => (
                    Header::new(Algorithm::ES256),
                    EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
                ),
            };
            let claims = |iss: &str| Claims {
                sub: "alice".into(),
                scope: "admin".into(),
                exp: jsonwebtoken::get_current_timestamp() + 60,
                iat: 0,
                iss: Some(iss.into()),
                aud: None,
            };
            let token = jsonwebtoken::encode(&header, &claims("https://id.example"), &key).unwrap();
            assert!(auth.verify(&token).unwrap().is_admin(), "{algorithm:?}");
            let foreign =
                jsonwebtoken::encode(&header, &claims("https://evil.example"), &key).unwrap();
            assert_eq!(
                auth.verify(&foreign).unwrap_err().detail(),
                "the token was issued by someone else"
            );
            // An HS256 token signed with the public key as a secret is the classic confusion attack.
            let confused = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims("https://id.example"),
                &EncodingKey::from_secret(key_pair.public_key_pem().as_bytes()),
            )
            .unwrap();
            assert!(auth.verify(&confused).is_err());
        }
    }

    #[test]
    fn listing_scope_keeps_others_to_their_own() {
        let alice = Principal {
            subject: "alice".into(),
            scopes: BTreeSet::new(),
            expires_at: chrono::Utc::now(),
        };
        assert_eq!(alice.listing_scope(None).unwrap().as_deref(), Some("alice"));
        assert_eq!(
            alice.listing_scope(Some("alice")).unwrap().as_deref(),
            Some("alice")
        );
        assert_eq!(
            alice.listing_scope(Some("bob")).unwrap_err().code(),
            crate::platform::http::Code::Forbidden
        );
        let admin = Principal {
            subject: "ops".into(),
            scopes: BTreeSet::from([ADMIN_SCOPE.to_string()]),
            expires_at: chrono::Utc::now(),
        };
        assert_eq!(admin.listing_scope(None).unwrap(), None);
        assert_eq!(
            admin.listing_scope(Some("bob")).unwrap().as_deref(),
            Some("bob")
        );
    }

    #[test]
    fn generated_key_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let first = signing_key(&settings).unwrap();
        let second = signing_key(&settings).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("signing.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
