//! Entry names: decoded the way the writer meant them, and judged. A name is data (the key the
//! seller's product CSV refers to), never a path: nothing is written to disk by it.
//!
//! Decoding, in order: the Info-ZIP Unicode Path extra field when present and made for this
//! name; UTF-8 when the entry says so or the bytes are valid UTF-8; otherwise CP932, as
//! Japanese Windows writes names. Then NFC, since macOS writes names decomposed (NFD).

use unicode_normalization::UnicodeNormalization;

/// The name of an entry, or `None` when no encoding reads it.
pub fn decode(raw: &[u8], says_utf8: bool, unicode_path: Option<&[u8]>) -> Option<String> {
    let text = unicode_path
        .and_then(|field| from_unicode_path(raw, field))
        .or_else(|| {
            if says_utf8 || std::str::from_utf8(raw).is_ok() {
                std::str::from_utf8(raw).ok().map(str::to_string)
            } else {
                let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(raw);
                (!had_errors).then(|| text.into_owned())
            }
        })?;
    Some(text.nfc().collect())
}

/// The UTF-8 name of a Unicode Path field (version 1, the CRC-32 of the name it stands for,
/// the name), if it was written for `raw` and is UTF-8.
fn from_unicode_path(raw: &[u8], field: &[u8]) -> Option<String> {
    let (&version, rest) = field.split_first()?;
    let (crc, name) = rest.split_at_checked(4)?;
    if version != 1 || u32::from_le_bytes(crc.try_into().ok()?) != crc32fast::hash(raw) {
        return None;
    }
    std::str::from_utf8(name).ok().map(str::to_string)
}

/// What an archive holds besides the seller's pictures: folders and what macOS and Windows
/// leave behind. Neither counted nor reported.
pub fn is_ignored(name: &str, is_dir: bool) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    is_dir
        || name.split(['/', '\\']).any(|part| part == "__MACOSX")
        || base == ".DS_Store"
        || base.eq_ignore_ascii_case("Thumbs.db")
}

/// Why a name is refused, if it is: one that would climb out of a folder or name an absolute
/// place if anything ever used it as a path, or that holds control characters.
pub fn refusal(name: &str) -> Option<&'static str> {
    let drive = name.as_bytes().get(1) == Some(&b':')
        && name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    if name.is_empty() {
        Some("the name is empty")
    } else if name.starts_with(['/', '\\']) || drive {
        Some("the name is an absolute path")
    } else if name.split(['/', '\\']).any(|part| part == "..") {
        Some("the name has a `..` segment")
    } else if name.chars().any(char::is_control) {
        Some("the name holds control characters")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode_as_their_writers_meant() {
        let apple = "商品画像/01_りんご.jpg";
        assert_eq!(decode(apple.as_bytes(), true, None).as_deref(), Some(apple));
        // Valid UTF-8 without the flag (many Linux and macOS zippers).
        assert_eq!(
            decode(apple.as_bytes(), false, None).as_deref(),
            Some(apple)
        );
        // Japanese Windows: CP932 bytes, no flag.
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode(apple);
        assert_eq!(decode(&cp932, false, None).as_deref(), Some(apple));
        // macOS: decomposed, composed again (が is か + ゙ in NFD).
        let nfd: String = "がぎ.jpg".chars().collect::<String>().nfd().collect();
        assert_ne!(nfd, "がぎ.jpg");
        assert_eq!(
            decode(nfd.as_bytes(), true, None).as_deref(),
            Some("がぎ.jpg")
        );
        // Neither UTF-8 nor CP932.
        assert_eq!(decode(&[0x82, 0xff, 0xfe], false, None), None);
    }

    #[test]
    fn a_unicode_path_field_wins_only_when_it_was_written_for_the_name() {
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode("りんご.jpg");
        let field = |crc: u32, name: &str| {
            let mut field = vec![1u8];
            field.extend(crc.to_le_bytes());
            field.extend(name.as_bytes());
            field
        };
        let good = field(crc32fast::hash(&cp932), "林檎.jpg");
        assert_eq!(
            decode(&cp932, false, Some(&good)).as_deref(),
            Some("林檎.jpg")
        );
        // Written for another name (the entry was renamed since): the header's name stands.
        let stale = field(crc32fast::hash(b"other"), "林檎.jpg");
        assert_eq!(
            decode(&cp932, false, Some(&stale)).as_deref(),
            Some("りんご.jpg")
        );
        let mut version_two = good.clone();
        version_two[0] = 2;
        assert_eq!(
            decode(&cp932, false, Some(&version_two)).as_deref(),
            Some("りんご.jpg")
        );
    }

    #[test]
    fn folders_and_system_leftovers_are_ignored() {
        for name in [
            "photos/",
            "__MACOSX/photos/._a.jpg",
            "photos/.DS_Store",
            "Thumbs.db",
            "photos\\THUMBS.DB",
        ] {
            assert!(is_ignored(name, name.ends_with('/')), "{name}");
        }
        assert!(is_ignored("photos", true));
        assert!(!is_ignored("photos/a.jpg", false));
        assert!(!is_ignored("MACOSX.jpg", false));
    }

    #[test]
    fn names_that_would_escape_are_refused() {
        for (name, reason) in [
            ("../evil.jpg", "the name has a `..` segment"),
            ("a/../../evil.jpg", "the name has a `..` segment"),
            ("a\\..\\evil.jpg", "the name has a `..` segment"),
            ("/abs.jpg", "the name is an absolute path"),
            ("\\abs.jpg", "the name is an absolute path"),
            ("C:evil.jpg", "the name is an absolute path"),
            ("c:\\evil.jpg", "the name is an absolute path"),
            ("a\u{0}.jpg", "the name holds control characters"),
            ("a\n.jpg", "the name holds control characters"),
            ("", "the name is empty"),
        ] {
            assert_eq!(refusal(name), Some(reason), "{name:?}");
        }
        for fine in [
            "a.jpg",
            "商品画像/01_りんご.jpg",
            "..jpg",
            "a..b.jpg",
            "x/y/z.png",
        ] {
            assert_eq!(refusal(fine), None, "{fine}");
        }
    }
}
