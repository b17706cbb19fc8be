//! The shapes storage events arrive in: S3 notifications, SNS envelopes, Pub/Sub push messages.

use base64::Engine;
use serde_json::Value;

use super::sns::SnsMessage;

/// One "object created" as its sender described it (bucket and key not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub bucket: String,
    /// Decoded key, including any store prefix.
    pub key: String,
    pub version: String,
    pub size: Option<u64>,
    pub content_type: Option<String>,
}

/// The object creations found in a payload, and why anything else in it was skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub notifications: Vec<Notification>,
    pub ignored: Vec<String>,
}

#[derive(Debug)]
pub enum Incoming {
    /// S3 notification JSON posted as is.
    S3(Parsed),
    /// An SNS envelope, to verify before its message is trusted.
    Sns(Box<SnsMessage>),
    /// A Pub/Sub push message carrying a GCS notification.
    PubSub(Parsed),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Shape(String),
}

fn shape(message: impl Into<String>) -> ParseError {
    ParseError::Shape(message.into())
}

/// Tells the sender apart by the payload's shape.
pub fn parse(body: &[u8]) -> Result<Incoming, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    if value.get("Type").is_some() && value.get("TopicArn").is_some() {
        let message: SnsMessage = serde_json::from_value(value)
            .map_err(|e| shape(format!("not a valid SNS message: {e}")))?;
        return Ok(Incoming::Sns(Box::new(message)));
    }
    if let Some(message) = value.get("message") {
        return parse_pubsub(message).map(Incoming::PubSub);
    }
    parse_s3(&value).map(Incoming::S3)
}

/// An S3 event notification (`Records[]`) or the `s3:TestEvent` sent when one is configured.
pub fn parse_s3(value: &Value) -> Result<Parsed, ParseError> {
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Parsed {
            notifications: Vec::new(),
            ignored: vec!["s3:TestEvent".into()],
        });
    }
    let records = value
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("expected S3 event notification `Records`, an SNS envelope or a Pub/Sub push message"))?;
    let mut parsed = Parsed::default();
    for (index, record) in records.iter().enumerate() {
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !name.starts_with("ObjectCreated:") {
            parsed.ignored.push(format!(
                "Records[{index}]: {name:?} is not an object creation"
            ));
            continue;
        }
        let s3 = record
            .get("s3")
            .ok_or_else(|| shape(format!("Records[{index}] has no `s3`")))?;
        let text = |pointer: &str| {
            s3.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let bucket = text("/bucket/name")
            .ok_or_else(|| shape(format!("Records[{index}] has no s3.bucket.name")))?;
        let raw_key = text("/object/key")
            .ok_or_else(|| shape(format!("Records[{index}] has no s3.object.key")))?;
        let version = text("/object/versionId")
            .or_else(|| text("/object/sequencer"))
            .or_else(|| text("/object/eTag"))
            .ok_or_else(|| {
                shape(format!(
                    "Records[{index}] has neither versionId, sequencer nor eTag"
                ))
            })?;
        parsed.notifications.push(Notification {
            bucket,
            key: decode_s3_key(&raw_key),
            version,
            size: s3.pointer("/object/size").and_then(Value::as_u64),
            content_type: None,
        });
    }
    Ok(parsed)
}

/// S3 writes keys form-URL-encoded: `+` is a space, `%XX` a byte.
fn decode_s3_key(raw: &str) -> String {
    url::form_urlencoded::parse(format!("k={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A GCS notification inside a Pub/Sub push: attributes say what happened, `data` is the
/// object resource as base64 JSON (where sizes are strings).
fn parse_pubsub(message: &Value) -> Result<Parsed, ParseError> {
    let attributes = message
        .get("attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| shape("Pub/Sub message has no `attributes`"))?;
    let attribute = |name: &str| {
        attributes
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let event_type = attribute("eventType").unwrap_or_default();
    if event_type != "OBJECT_FINALIZE" {
        return Ok(Parsed {
            notifications: Vec::new(),
            ignored: vec![format!("{event_type:?} is not an object creation")],
        });
    }
    let bucket = attribute("bucketId").ok_or_else(|| shape("Pub/Sub message has no bucketId"))?;
    let key = attribute("objectId").ok_or_else(|| shape("Pub/Sub message has no objectId"))?;
    let version = attribute("objectGeneration")
        .ok_or_else(|| shape("Pub/Sub message has no objectGeneration"))?;
    let resource: Option<Value> = message
        .get("data")
        .and_then(Value::as_str)
        .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let size = resource.as_ref().and_then(|r| r.get("size")).and_then(|s| {
        s.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| s.as_u64())
    });
    let content_type = resource
        .as_ref()
        .and_then(|r| r.get("contentType"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Parsed {
        notifications: vec![Notification {
            bucket,
            key,
            version,
            size,
            content_type,
        }],
        ignored: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_keys_are_form_decoded() {
        assert_eq!(
            decode_s3_key("meal-photos/u1/my+lunch%281%29.jpg"),
            "meal-photos/u1/my lunch(1).jpg"
        );
        assert_eq!(decode_s3_key("a%2Bb"), "a+b");
    }

    #[test]
    fn malformed_payloads_say_what_is_wrong() {
        assert!(matches!(parse(b"{not json"), Err(ParseError::Json(_))));
        let err = parse(br#"{"hello": 1}"#).unwrap_err();
        assert!(err.to_string().contains("Records"), "{err}");
        let err = parse(br#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}"#).unwrap_err();
        assert!(err.to_string().contains("s3.object.key"), "{err}");
    }

    #[test]
    fn other_event_types_are_skipped_with_a_reason() {
        let Incoming::S3(parsed) =
            parse(br#"{"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {}}]}"#).unwrap()
        else {
            panic!("expected S3");
        };
        assert!(parsed.notifications.is_empty());
        assert!(parsed.ignored[0].contains("ObjectRemoved:Delete"));
    }
}
