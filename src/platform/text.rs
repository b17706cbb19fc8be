//! Text files as people's tools write them: spreadsheets exported by Excel on Japanese Windows
//! are CP932, everything else UTF-8, with or without a byte-order mark.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    /// Windows-31J, Shift_JIS as Microsoft extended it.
    #[serde(rename = "cp932")]
    Cp932,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the file is neither UTF-8 nor CP932 (Shift_JIS) text")]
pub struct NotText;

/// Decodes `bytes`, detecting the encoding: UTF-8 when they are valid UTF-8 (a BOM is
/// dropped), else CP932 when they are valid CP932, else an error; never a replacement
/// character in silence.
pub fn decode(bytes: &[u8]) -> Result<(String, TextEncoding), NotText> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_string(), TextEncoding::Utf8Bom))
            .map_err(|_| NotText);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_string(), TextEncoding::Utf8));
    }
    // WHATWG's Shift_JIS decoder is Windows-31J: it has NEC and IBM extensions (①, ㈱, 髙).
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(NotText);
    }
    Ok((text.into_owned(), TextEncoding::Cp932))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_encoding() {
        let text = "名前,値\n塩,①髙\n";
        assert_eq!(
            decode(text.as_bytes()).unwrap(),
            (text.to_string(), TextEncoding::Utf8)
        );
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(
            decode(&with_bom).unwrap(),
            (text.to_string(), TextEncoding::Utf8Bom)
        );
        let (cp932, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!unmappable);
        assert_eq!(
            decode(&cp932).unwrap(),
            (text.to_string(), TextEncoding::Cp932)
        );
    }

    #[test]
    fn binary_is_refused() {
        assert_eq!(decode(&[0x82, 0xFF, 0xFF, 0x00, 0x81]), Err(NotText));
        assert_eq!(decode(b"\xEF\xBB\xBF\xFF"), Err(NotText));
    }
}
