//! Upload tokens for stores that cannot sign URLs themselves (local disk, memory): the intent's
//! terms, HMAC-signed with a key derived from the signing key.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::platform::signed::{SignatureError, SignedTokens};

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
#[derive(Clone, Debug)]
pub struct UploadSigner {
    tokens: SignedTokens,
}

impl UploadSigner {
    /// A key of its own, so an upload token can never pass for anything else signed.
    pub fn new(signing_key: &SecretString) -> Self {
        UploadSigner {
            tokens: SignedTokens::new(signing_key, "sous upload token v1"),
        }
    }

    pub fn sign(&self, claims: &UploadClaims) -> String {
        self.tokens.sign(claims)
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<UploadClaims, TokenError> {
        let claims: UploadClaims = self.tokens.verify(token).map_err(|e| match e {
            SignatureError::Malformed => TokenError::Malformed,
            SignatureError::Forged => TokenError::Forged,
        })?;
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
