//! Upload tokens for stores that cannot sign URLs themselves (local disk, memory): the intent's
//! terms, HMAC-signed with a key derived from the signing key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token lets its bearer do: put one object, of these types, up to this size, until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadClaims {
    #[serde(rename = "i")]
    pub intent: String,
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "o")]
    pub owner: String,
    #[serde(rename = "t")]
    pub content_types: Vec<String>,
    #[serde(rename = "m")]
    pub max_bytes: u64,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the upload token is malformed")]
    Malformed,
    #[error("the upload token's signature is invalid")]
    Forged,
    #[error("the upload URL has expired")]
    Expired,
}

/// Signs and checks upload tokens.
#[derive(Clone)]
pub struct UploadSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UploadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadSigner")
    }
}

impl UploadSigner {
    /// A key of its own, so an upload token can never pass for anything else signed.
    pub fn new(signing_key: &SecretString) -> Self {
        let mut mac = HmacSha256::new_from_slice(signing_key.expose_secret().as_bytes())
            .expect("HMAC takes any key");
        mac.update(b"sous upload token v1");
        UploadSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key")
    }

    pub fn sign(&self, claims: &UploadClaims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{signature}")
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<UploadClaims, TokenError> {
        let (body, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::Forged)?;
        let claims: UploadClaims = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> UploadClaims {
        UploadClaims {
            intent: "i1".into(),
            key: "meal-photos/u1/a.jpg".into(),
            owner: "u1".into(),
            content_types: vec!["image/jpeg".into()],
            max_bytes: 1000,
            expires_at: 2_000,
        }
    }

    #[test]
    fn tokens_round_trip_until_expiry() {
        let signer = UploadSigner::new(&"k".repeat(40).into());
        let token = signer.sign(&claims());
        assert_eq!(signer.verify(&token, 1_999).unwrap(), claims());
        assert_eq!(signer.verify(&token, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn tampering_and_other_keys_are_caught() {
        let signer = UploadSigner::new(&"k".repeat(40).into());
        let token = signer.sign(&claims());
        let mut raised = claims();
        raised.max_bytes = 1 << 40;
        let (_, signature) = token.split_once('.').unwrap();
        let forged = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&raised).unwrap())
        );
        assert_eq!(signer.verify(&forged, 0), Err(TokenError::Forged));
        let other = UploadSigner::new(&"x".repeat(40).into());
        assert_eq!(other.verify(&token, 0), Err(TokenError::Forged));
        assert_eq!(signer.verify("nonsense", 0), Err(TokenError::Malformed));
    }
}
