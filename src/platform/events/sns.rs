//! SNS envelopes: signature verification (v1 SHA1, v2 SHA256) against the certificate SNS signs
//! with, fetched over HTTPS from an SNS host of the configured region and cached, and
//! subscription confirmation.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use base64::Engine;
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message_id: String,
    pub token: Option<String>,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(rename = "SubscribeURL")]
    pub subscribe_url: Option<String>,
}

impl SnsMessage {
    /// The canonical text SNS signs: named fields in a fixed order, each as `name\nvalue\n`.
    pub fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        if self.kind == "Notification" {
            if let Some(subject) = &self.subject {
                fields.push(("Subject", subject));
            }
        } else {
            fields.push((
                "SubscribeURL",
                self.subscribe_url.as_deref().unwrap_or_default(),
            ));
        }
        fields.push(("Timestamp", &self.timestamp));
        if self.kind != "Notification" {
            fields.push(("Token", self.token.as_deref().unwrap_or_default()));
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        fields
            .iter()
            .map(|(name, value)| format!("{name}\n{value}\n"))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error("no SNS region is configured (SOUS_EVENTS__SNS_REGION or SOUS_S3_REGION)")]
    NoRegion,
    #[error("{0} is not an SNS host of region {1}")]
    ForeignHost(String, String),
    #[error("unsupported SignatureVersion {0:?}")]
    UnsupportedVersion(String),
    #[error("the signature does not match")]
    BadSignature,
    #[error("the signing certificate is unusable: {0}")]
    Certificate(String),
    #[error("cannot reach SNS: {0}")]
    Fetch(String),
}

/// Verifies envelopes; certificates are cached by URL (SNS rotates them rarely).
#[derive(Clone, Debug)]
pub struct SnsVerifier {
    region: Option<String>,
    verify: bool,
    public_keys: moka::future::Cache<String, Arc<Vec<u8>>>,
    client: reqwest::Client,
}

impl SnsVerifier {
    pub fn new(region: Option<String>, verify: bool) -> Self {
        SnsVerifier {
            region,
            verify,
            public_keys: moka::future::Cache::builder()
                .max_capacity(64)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .https_only(true)
                .build()
                .expect("a TLS client can be built"),
        }
    }

    /// An https URL on `sns.<region>.amazonaws.com` (or the China partition's host).
    pub fn check_host(&self, url: &str) -> Result<Url, SnsError> {
        let region = self.region.as_deref().ok_or(SnsError::NoRegion)?;
        let foreign = || SnsError::ForeignHost(url.to_string(), region.to_string());
        let parsed = Url::parse(url).map_err(|_| foreign())?;
        let host = parsed.host_str().unwrap_or_default();
        let ours = [
            format!("sns.{region}.amazonaws.com"),
            format!("sns.{region}.amazonaws.com.cn"),
        ];
        if parsed.scheme() != "https" || parsed.port().is_some() || !ours.iter().any(|h| h == host)
        {
            return Err(foreign());
        }
        Ok(parsed)
    }

    /// Trusts `pem` as the certificate at `url` without fetching it (pinning; tests).
    pub async fn trust_certificate(&self, url: &str, pem: &str) -> Result<(), SnsError> {
        self.check_host(url)?;
        let key = public_key_of(pem.as_bytes())?;
        self.public_keys
            .insert(url.to_string(), Arc::new(key))
            .await;
        Ok(())
    }

    pub async fn verify(&self, message: &SnsMessage) -> Result<(), SnsError> {
        if !self.verify {
            return Ok(());
        }
        let algorithm = match message.signature_version.as_str() {
            "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &RSA_PKCS1_2048_8192_SHA256,
            other => return Err(SnsError::UnsupportedVersion(other.to_string())),
        };
        let url = self.check_host(&message.signing_cert_url)?;
        let key = match self.public_keys.get(url.as_str()).await {
            Some(key) => key,
            None => {
                let pem = self
                    .client
                    .get(url.clone())
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| SnsError::Fetch(e.to_string()))?
                    .bytes()
                    .await
                    .map_err(|e| SnsError::Fetch(e.to_string()))?;
                let key = Arc::new(public_key_of(&pem)?);
                self.public_keys.insert(url.to_string(), key.clone()).await;
                key
            }
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&message.signature)
            .map_err(|_| SnsError::BadSignature)?;
        UnparsedPublicKey::new(algorithm, key.as_slice())
            .verify(message.string_to_sign().as_bytes(), &signature)
            .map_err(|_| SnsError::BadSignature)
    }

    /// Confirms a subscription by fetching its SubscribeURL, only on an SNS host of our region.
    pub async fn confirm_subscription(&self, message: &SnsMessage) -> Result<(), SnsError> {
        let url = message.subscribe_url.as_deref().unwrap_or_default();
        let url = self.check_host(url)?;
        self.client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| SnsError::Fetch(e.to_string()))?;
        Ok(())
    }
}

/// The RSA public key (PKCS#1 DER) of a PEM certificate.
fn public_key_of(pem: &[u8]) -> Result<Vec<u8>, SnsError> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(pem).map_err(|e| SnsError::Certificate(e.to_string()))?;
    let certificate = pem
        .parse_x509()
        .map_err(|e| SnsError::Certificate(e.to_string()))?;
    Ok(certificate.public_key().subject_public_key.data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_sns_hosts_of_the_region_are_trusted() {
        let verifier = SnsVerifier::new(Some("ap-northeast-1".into()), true);
        assert!(
            verifier
                .check_host("https://sns.ap-northeast-1.amazonaws.com/cert.pem")
                .is_ok()
        );
        for bad in [
            "http://sns.ap-northeast-1.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com/cert.pem",
            "https://sns.ap-northeast-1.amazonaws.com.evil.example/cert.pem",
            "https://evil.example/sns.ap-northeast-1.amazonaws.com",
            "https://sns.ap-northeast-1.amazonaws.com:8443/cert.pem",
            "not a url",
        ] {
            assert!(verifier.check_host(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            SnsVerifier::new(None, true).check_host("https://x"),
            Err(SnsError::NoRegion)
        ));
    }
}
