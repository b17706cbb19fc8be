//! Signed transform URLs (`images.sign_urls`): `/i/{id}/{version}?w=320&format=webp&s=…`,
//! where `s` is an HMAC-SHA256 of the path and the rest of the query, as sent. Only URLs the
//! application made then render anything: a stranger cannot invent sizes, formats or crops.
//! Keys come from `SOUS_IMAGES_URL_KEYS` (comma-separated): the first signs, every one
//! verifies, so a new key is put first and the old one kept until its URLs are gone. A URL
//! without a query (the image as registered, at the default size) needs no signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::rows::Image;
use crate::platform::Platform;

/// The query parameter that carries the signature.
pub const PARAMETER: &str = "s";
/// Bytes of the HMAC kept: 128 bits, as imgproxy's truncated signatures.
const SIGNATURE_BYTES: usize = 16;

fn signature(key: &SecretString, path: &str, query: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()).expect("HMAC takes any key");
    mac.update(path.as_bytes());
    mac.update(b"?");
    mac.update(query.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..SIGNATURE_BYTES])
}

/// `query` with its signature appended (signed with the first key).
pub fn sign(keys: &[SecretString], path: &str, query: &str) -> String {
    match keys.first() {
        Some(key) => format!("{query}&{PARAMETER}={}", signature(key, path, query)),
        None => query.to_string(),
    }
}

/// The query without its signature, when the signature is one of `keys`'; `Err` says what is
/// wrong. A query with nothing but a signature, or nothing at all, needs none.
pub fn verify<'q>(
    keys: &[SecretString],
    path: &str,
    query: &'q str,
) -> Result<&'q str, &'static str> {
    let (rest, given) = match query.rsplit_once('&') {
        Some((rest, last)) => (rest, last.strip_prefix("s=")),
        None => ("", query.strip_prefix("s=")),
    };
    let Some(given) = given else {
        return if query.is_empty() {
            Ok(query)
        } else {
            Err("this image URL must be signed: its query ends with s=<signature>")
        };
    };
    if rest.is_empty() {
        return Ok(rest);
    }
    if keys.iter().any(|key| signature(key, path, rest) == given) {
        Ok(rest)
    } else {
        Err("the image URL's signature does not match it")
    }
}

/// Where `image` is served transformed by `query` (`w=320&format=webp`), signed when
/// `images.sign_urls` is on.
pub fn url(platform: &Platform, image: &Image, query: &str) -> String {
    let base = platform.settings.public_url.as_str().trim_end_matches('/');
    let path = image.path();
    if query.is_empty() {
        return format!("{base}{path}");
    }
    let images = &platform.settings.images;
    let query = if images.sign_urls {
        sign(&images.url_keys, &path, query)
    } else {
        query.to_string()
    };
    format!("{base}{path}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<SecretString> {
        names
            .iter()
            .map(|k| SecretString::from(k.repeat(32)))
            .collect()
    }

    const PATH: &str = "/i/0190/abcd";

    #[test]
    fn signed_queries_verify_and_tampered_ones_do_not() {
        let current = keys(&["a"]);
        let signed = sign(&current, PATH, "w=320&format=webp");
        assert_eq!(verify(&current, PATH, &signed), Ok("w=320&format=webp"));
        let tampered = signed.replace("w=320", "w=321");
        assert!(verify(&current, PATH, &tampered).is_err());
        assert!(
            verify(&current, "/i/0190/other", &signed).is_err(),
            "another image"
        );
        assert!(
            verify(&current, PATH, "w=320&format=webp").is_err(),
            "unsigned"
        );
        assert!(verify(&keys(&["b"]), PATH, &signed).is_err(), "another key");
        assert_eq!(verify(&current, PATH, ""), Ok(""), "the bare URL");
    }

    #[test]
    fn both_keys_verify_during_a_rotation() {
        let old = sign(&keys(&["a"]), PATH, "w=640");
        let rotated = keys(&["b", "a"]);
        assert_eq!(verify(&rotated, PATH, &old), Ok("w=640"));
        let new = sign(&rotated, PATH, "w=640");
        assert_ne!(new, old, "the first key signs");
        assert_eq!(verify(&rotated, PATH, &new), Ok("w=640"));
    }
}
