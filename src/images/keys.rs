//! Names of everything the module keeps: content hashes, and object keys built from parsed
//! parts only, never formatted by callers.
//!
//! ```text
//! images/{id}/{hash}/original        the bytes as uploaded
//! images/{id}/{hash}/{variant name}  renditions: 320x213-q80.webp, 1280x853-q90.jpg, …
//! images/uploads/{upload id}         direct uploads, until they are registered
//! ```

use std::fmt;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::transform::Variant;
use crate::platform::storage::ObjectKey;

/// Characters of the SHA-256 that name an image version in its URL.
const HASH_CHARS: usize = 16;

/// The SHA-256 of an image's bytes, in hex; its first characters are the version in the URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Hex(format!("{:x}", Sha256::digest(bytes)))
    }

    /// A hash as stored in a row; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        is_hex(text, 64).then(|| Sha256Hex(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn version(&self) -> Version {
        Version(self.0[..HASH_CHARS].to_string())
    }
}

/// The version of an image in its URL: the start of its SHA-256, so new bytes get a new URL
/// and every URL can be cached forever.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// A version as it appears in a URL or a row; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        is_hex(text, HASH_CHARS).then(|| Version(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn key(text: String) -> ObjectKey {
    ObjectKey::parse(&text).expect("built from a UUID, a hex version and a variant name")
}

pub fn original(id: Uuid, version: &Version) -> ObjectKey {
    key(format!("images/{id}/{version}/original"))
}

pub fn variant(id: Uuid, version: &Version, variant: &Variant) -> ObjectKey {
    key(format!("images/{id}/{version}/{}", variant.name()))
}

/// Everything stored for one version of an image.
pub fn version_prefix(id: Uuid, version: &Version) -> ObjectKey {
    key(format!("images/{id}/{version}"))
}

/// Everything stored for an image.
pub fn image_prefix(id: Uuid) -> ObjectKey {
    key(format!("images/{id}"))
}

/// Where direct uploads land, the prefix their storage events are routed by.
pub const UPLOADS: &str = "images/uploads/";

pub fn upload(id: Uuid) -> ObjectKey {
    key(format!("{UPLOADS}{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::transform::{OutputFormat, Quality};

    #[test]
    fn versions_are_the_start_of_the_hash() {
        let hash = Sha256Hex::of(b"abc");
        assert_eq!(
            hash.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash.version().as_str(), "ba7816bf8f01cfea");
        assert_eq!(Version::parse("ba7816bf8f01cfea"), Some(hash.version()));
    }

    #[test]
    fn versions_parse_only_lowercase_hex_of_their_length() {
        for bad in [
            "",
            "ba7816bf8f01cfe",
            "ba7816bf8f01cfea0",
            "BA7816BF8F01CFEA",
            "ba7816bf8f01cfeg",
            "../../../etc/pa",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_nest_under_the_image_and_version() {
        let id = Uuid::nil();
        let version = Sha256Hex::of(b"abc").version();
        let v = Variant::whole(320, 213, OutputFormat::Webp, Quality::of(80));
        assert_eq!(
            variant(id, &version, &v).as_str(),
            "images/00000000-0000-0000-0000-000000000000/ba7816bf8f01cfea/320x213-q80.webp"
        );
        assert!(original(id, &version).starts_with(version_prefix(id, &version).as_str()));
        assert!(version_prefix(id, &version).starts_with(image_prefix(id).as_str()));
        assert!(upload(id).starts_with(UPLOADS));
    }
}
