//! Strict Shift_JIS encoding for the printer, with visible, reported substitutions.
//!
//! `encoding_rs`'s Shift_JIS is Microsoft's CP932 (JIS X 0208 plus the NEC and IBM
//! extensions, so `髙` and `﨑` print as themselves). Its plain `encode` writes unmappable
//! characters as `&#…;`, which a printer would print literally, so characters go one by one
//! through the encoder API that reports them instead:
//!
//! 1. Forms with a full-width twin are folded to it (`〜` → `～`, `−` → `－`). `\` and `~`
//!    fold too: under the Japanese character set (`ESC R 8`) the printer shows bytes `5C`
//!    and `7E` as `¥` and `‾`.
//! 2. Invisible joiners and variation selectors are dropped.
//! 3. A character with a common variant in CP932 becomes that variant (`麵` → `麺`).
//! 4. Anything else, emoji included, becomes the geta mark `〓`.

use encoding_rs::{EncoderResult, SHIFT_JIS};
use serde::Serialize;

use crate::labels::tree::ElementPath;

/// Printed in place of a character Shift_JIS cannot carry.
pub const GETA: char = '〓';

/// A character the label could not print as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Substitution {
    /// The text element the character comes from.
    pub path: ElementPath,
    /// Position of the character in that element's text, counted in characters.
    pub offset: usize,
    pub original: char,
    /// What is printed instead; `None` when the character is dropped.
    pub replacement: Option<char>,
}

const FOLDS: &[(char, char)] = &[
    ('\\', '＼'),
    ('~', '～'),
    ('〜', '～'),
    ('−', '－'),
    ('–', '－'),
    ('—', '―'),
    ('‖', '∥'),
    ('¢', '￠'),
    ('£', '￡'),
    ('¬', '￢'),
    ('\u{a0}', ' '),
];

/// Newer or traditional forms (itaiji) and the CP932 form everybody reads as the same.
const VARIANTS: &[(char, char)] = &[
    ('麵', '麺'),
    ('𠮷', '吉'),
    ('鷗', '鴎'),
    ('剝', '剥'),
    ('𠮟', '叱'),
    ('塡', '填'),
    ('頰', '頬'),
    ('俱', '倶'),
    ('蔣', '蒋'),
    ('𡈽', '土'),
    ('𣘺', '橋'),
    ('噓', '嘘'),
    ('嚙', '噛'),
    ('繫', '繋'),
    ('醬', '醤'),
    ('搔', '掻'),
    ('摑', '掴'),
    ('蔥', '葱'),
    ('麴', '麹'),
    ('瘦', '痩'),
    ('禱', '祷'),
    ('蟬', '蝉'),
    ('顚', '顛'),
    ('姸', '妍'),
    ('屛', '屏'),
    ('幷', '并'),
    ('潑', '溌'),
    ('吞', '呑'),
    ('揭', '掲'),
    ('卽', '即'),
    ('鹼', '鹸'),
];

fn is_dropped(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{feff}' | '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}')
}

fn lookup(table: &[(char, char)], c: char) -> Option<char> {
    table.iter().find(|(from, _)| *from == c).map(|&(_, to)| to)
}

/// Whether `byte` starts a double-byte character, which is how the printer reads Shift_JIS.
pub(crate) fn is_lead_byte(byte: u8) -> bool {
    matches!(byte, 0x81..=0x9f | 0xe0..=0xfc)
}

/// A character as the printer receives it: one byte (ASCII, half-width katakana) or two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SjisChar {
    pub printed: char,
    bytes: [u8; 2],
    len: u8,
}

impl SjisChar {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Columns at size 1: the printer gives a double-byte character two.
    pub fn columns(&self) -> usize {
        usize::from(self.len)
    }
}

pub(crate) struct Encoder(encoding_rs::Encoder);

impl Encoder {
    pub fn new() -> Self {
        Encoder(SHIFT_JIS.new_encoder())
    }

    /// `None` when the character is dropped; `printed` differs from `c` when substituted.
    pub fn encode(&mut self, c: char) -> Option<SjisChar> {
        if is_dropped(c) {
            return None;
        }
        let folded = lookup(FOLDS, c).unwrap_or(c);
        let encoded = self
            .strict(folded)
            .or_else(|| lookup(VARIANTS, folded).and_then(|variant| self.strict(variant)))
            .or_else(|| self.strict(GETA))
            .expect("the geta mark is in Shift_JIS");
        Some(encoded)
    }

    fn strict(&mut self, c: char) -> Option<SjisChar> {
        let mut utf8 = [0; 4];
        let mut bytes = [0; 2];
        let (result, _, written) = self.0.encode_from_utf8_without_replacement(
            c.encode_utf8(&mut utf8),
            &mut bytes,
            false,
        );
        match result {
            EncoderResult::InputEmpty => Some(SjisChar {
                printed: c,
                bytes,
                len: u8::try_from(written).expect("at most two bytes"),
            }),
            EncoderResult::Unmappable(_) | EncoderResult::OutputFull => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(c: char) -> Option<(char, Vec<u8>)> {
        Encoder::new()
            .encode(c)
            .map(|s| (s.printed, s.bytes().to_vec()))
    }

    #[test]
    fn ascii_and_half_width_katakana_take_one_byte() {
        assert_eq!(encode('A'), Some(('A', vec![0x41])));
        assert_eq!(encode('ｱ'), Some(('ｱ', vec![0xb1])));
        assert_eq!(encode('ﾟ'), Some(('ﾟ', vec![0xdf])));
    }

    #[test]
    fn full_width_characters_take_two_bytes() {
        assert_eq!(encode('あ'), Some(('あ', vec![0x82, 0xa0])));
        assert_eq!(encode('漢'), Some(('漢', vec![0x8a, 0xbf])));
        assert_eq!(encode('─'), Some(('─', vec![0x84, 0x9f])));
    }

    #[test]
    fn cp932_extensions_are_kept() {
        assert_eq!(encode('髙'), Some(('髙', vec![0xfb, 0xfc])));
        assert_eq!(encode('①'), Some(('①', vec![0x87, 0x40])));
    }

    #[test]
    fn yen_and_overline_use_the_japanese_single_byte_set() {
        assert_eq!(encode('¥'), Some(('¥', vec![0x5c])));
        assert_eq!(encode('‾'), Some(('‾', vec![0x7e])));
    }

    #[test]
    fn common_forms_fold_to_their_full_width_twin() {
        let cases = [
            ('\\', '＼', [0x81, 0x5f]),
            ('~', '～', [0x81, 0x60]),
            ('〜', '～', [0x81, 0x60]),
            ('−', '－', [0x81, 0x7c]),
            ('—', '―', [0x81, 0x5c]),
            ('‖', '∥', [0x81, 0x61]),
            ('¢', '￠', [0x81, 0x91]),
            ('£', '￡', [0x81, 0x92]),
            ('¬', '￢', [0x81, 0xca]),
        ];
        for (from, to, bytes) in cases {
            assert_eq!(encode(from), Some((to, bytes.to_vec())), "{from}");
        }
    }

    #[test]
    fn variants_replace_characters_missing_from_cp932() {
        assert_eq!(encode('麵'), Some(('麺', vec![0x96, 0xcb])));
        assert_eq!(encode('𠮷'), Some(('吉', vec![0x8b, 0x67])));
    }

    #[test]
    fn every_table_entry_is_needed_and_works() {
        let mut encoder = Encoder::new();
        for &(from, to) in VARIANTS {
            assert!(
                encoder.strict(from).is_none(),
                "{from} is in CP932, no variant needed"
            );
            assert!(
                encoder.strict(to).is_some(),
                "variant {to} of {from} is not in CP932"
            );
        }
        for &(from, to) in FOLDS {
            assert!(
                encoder.strict(to).is_some(),
                "fold {to} of {from} is not in CP932"
            );
        }
    }

    #[test]
    fn everything_else_becomes_the_geta_mark() {
        for c in ['😀', '𩸽', '\u{e000}', 'ŉ'] {
            assert_eq!(encode(c), Some((GETA, vec![0x81, 0xac])), "{c}");
        }
    }

    #[test]
    fn joiners_and_variation_selectors_are_dropped() {
        for c in ['\u{200d}', '\u{fe0f}', '\u{e0100}', '\u{feff}'] {
            assert_eq!(encode(c), None, "{c:?}");
        }
    }
}
