//! Tokens that carry their own claims, HMAC-signed with a key derived from the signing key and
//! a purpose, so a token made for one purpose never passes for another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is invalid")]
    Forged,
}

#[derive(Clone)]
pub struct SignedTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for SignedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedTokens")
    }
}

impl SignedTokens {
    pub fn new(signing_key: &SecretString, purpose: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(signing_key.expose_secret().as_bytes())
            .expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        SignedTokens {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key")
    }

    /// `base64url(json).base64url(hmac)`: URL-safe as it is.
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{signature}")
    }

    /// The claims of a token this signed; checking expiry is the caller's.
    pub fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, SignatureError> {
        let (body, signature) = token.split_once('.').ok_or(SignatureError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignatureError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| SignatureError::Forged)?;
        URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(SignatureError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_do_not_mix() {
        let key: SecretString = "k".repeat(40).into();
        let clicks = SignedTokens::new(&key, "clicks");
        let token = clicks.sign(&vec![1, 2, 3]);
        assert_eq!(clicks.verify::<Vec<i32>>(&token).unwrap(), vec![1, 2, 3]);
        let uploads = SignedTokens::new(&key, "uploads");
        assert_eq!(
            uploads.verify::<Vec<i32>>(&token),
            Err(SignatureError::Forged)
        );
        assert_eq!(
            clicks.verify::<Vec<i32>>("no-dot"),
            Err(SignatureError::Malformed)
        );
    }
}
