//! Click URLs: `/v1/ads/click/{token}`, where the token names the campaign, creative and slot
//! and expires. The redirect goes to the creative's link as submitted, never to anything the
//! token says, so a forged or altered URL cannot become an open redirect; expiry bounds
//! replays, and each token counts one click however often it is followed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AdError;
use crate::platform::signed::{SignatureError, SignedTokens};

pub const PURPOSE: &str = "sous ad click v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickClaims {
    #[serde(rename = "c")]
    pub campaign_id: String,
    #[serde(rename = "r")]
    pub creative_id: String,
    #[serde(rename = "s")]
    pub slot: String,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// Makes every delivered URL distinct, so that one click is counted per delivery.
    #[serde(rename = "n")]
    pub nonce: u64,
}

pub fn sign(tokens: &SignedTokens, claims: &ClickClaims) -> String {
    tokens.sign(claims)
}

pub fn verify(
    tokens: &SignedTokens,
    token: &str,
    now: DateTime<Utc>,
) -> Result<ClickClaims, AdError> {
    let claims: ClickClaims = tokens.verify(token).map_err(|e| match e {
        SignatureError::Malformed | SignatureError::Forged => AdError::ClickInvalid,
    })?;
    if claims.expires_at <= now.timestamp() {
        return Err(AdError::ClickExpired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> SignedTokens {
        SignedTokens::new(&"k".repeat(40).into(), PURPOSE)
    }

    fn claims(expires_at: i64) -> ClickClaims {
        ClickClaims {
            campaign_id: "c1".into(),
            creative_id: "r1".into(),
            slot: "recipe_top".into(),
            expires_at,
            nonce: 7,
        }
    }

    #[test]
    fn a_token_works_until_it_expires() {
        let token = sign(&tokens(), &claims(2_000));
        let before = DateTime::from_timestamp(1_999, 0).unwrap();
        assert_eq!(verify(&tokens(), &token, before).unwrap(), claims(2_000));
        let after = DateTime::from_timestamp(2_000, 0).unwrap();
        assert!(matches!(
            verify(&tokens(), &token, after),
            Err(AdError::ClickExpired)
        ));
    }

    #[test]
    fn altered_tokens_are_refused() {
        let token = sign(&tokens(), &claims(2_000));
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let (body, signature) = token.split_once('.').unwrap();
        let mut altered = body.to_string();
        altered.replace_range(0..1, if body.starts_with('e') { "f" } else { "e" });
        for bad in [
            format!("{altered}.{signature}"),
            format!("{body}.{}", &signature[1..]),
            "nonsense".to_string(),
            String::new(),
        ] {
            assert!(
                matches!(verify(&tokens(), &bad, now), Err(AdError::ClickInvalid)),
                "{bad}"
            );
        }
    }
}
