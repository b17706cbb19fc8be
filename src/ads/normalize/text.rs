//! From a written name to its key, step by step: enclosed markers, NFKC, brackets, decorative
//! symbols, a leading list marker, folding (katakana, case, variant kanji), trailing
//! quantities; and the separators that split a name into parts.

use unicode_normalization::UnicodeNormalization;

use super::MAX_CHARS;

/// Enclosed numbers, letters and kana (①, Ⓐ, ㋐) are list markers; NFKC would turn them into
/// plain digits and letters indistinguishable from the name, so they go before it.
pub(super) fn is_enclosed_marker(c: char) -> bool {
    matches!(c,
        '\u{2460}'..='\u{24FF}'
        | '\u{3251}'..='\u{325F}'
        | '\u{3280}'..='\u{3289}'
        | '\u{32B1}'..='\u{32BF}'
        | '\u{32D0}'..='\u{32FE}')
}

/// NFKC (full-width to ASCII, half-width kana to full-width), without enclosed markers, cut to
/// [`MAX_CHARS`]. Lazy, so a huge input costs no more than its first characters.
pub(super) fn prepare(written: &str) -> String {
    written
        .chars()
        .filter(|&c| !is_enclosed_marker(c))
        .nfkc()
        .take(MAX_CHARS)
        .collect()
}

pub(super) fn is_opening(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '<' | '【' | '〈' | '《' | '〔' | '〖' | '〘' | '〚'
    )
}

pub(super) fn is_closing(c: char) -> bool {
    matches!(
        c,
        ')' | ']' | '}' | '>' | '】' | '〉' | '》' | '〕' | '〗' | '〙' | '〛'
    )
}

/// Drops bracketed notes (塩（少々）, 【A】塩), nested or not; an unclosed one runs to the end.
/// A name written wholly in brackets keeps its text: it is the name, not a note on it.
pub(super) fn drop_brackets(text: &str) -> String {
    let mut depth = 0usize;
    let mut kept = String::with_capacity(text.len());
    for c in text.chars() {
        if is_opening(c) {
            depth += 1;
        } else if is_closing(c) {
            depth = depth.saturating_sub(1);
        } else if depth == 0 {
            kept.push(c);
        }
    }
    if kept.chars().any(is_content) {
        kept
    } else {
        text.chars()
            .filter(|&c| !is_opening(c) && !is_closing(c))
            .collect()
    }
}

pub(super) fn is_content(c: char) -> bool {
    !c.is_whitespace() && !is_symbol(c)
}

/// Strips a group marker such as `A 塩`, `a. 塩`, `A)塩`, `A★塩`; only when a space or symbol
/// follows the letter, because names may start with one (Tボーン, Lサイズ卵).
pub(super) fn strip_leading_marker(text: &str) -> String {
    let text = text.trim_start();
    let mut chars = text.chars();
    if let (Some(letter), Some(next)) = (chars.next(), chars.next())
        && letter.is_ascii_alphabetic()
        && (next.is_whitespace()
            || matches!(next, ':' | '.' | ')')
            || (!next.is_ascii() && is_symbol(next)))
    {
        return text[1..].to_owned();
    }
    text.to_owned()
}

/// Decoration, punctuation and pictographs: nothing a name is made of. `々`, `〆` and `ー` are.
pub(super) fn is_symbol(c: char) -> bool {
    if c.is_whitespace() {
        return false;
    }
    c.is_ascii_punctuation()
        || c.is_control()
        || matches!(c,
            '\u{A1}'..='\u{BF}'
            | '×'
            | '÷'
            | '\u{200B}'..='\u{206F}'
            | '\u{20A0}'..='\u{20FF}'
            | '\u{2190}'..='\u{2BFF}'
            | '\u{3001}'..='\u{3004}'
            | '\u{3007}'..='\u{3020}'
            | '\u{3030}'
            | '\u{3036}'..='\u{3037}'
            | '\u{303C}'..='\u{303F}'
            | '\u{309B}'..='\u{309C}'
            | '\u{30A0}'
            | '\u{30FB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFF0}'..='\u{FFFF}'
            | '\u{1F000}'..='\u{1FBFF}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}')
}

/// Kept between two digits, where they belong to a quantity: 1/2, 1.5, 1,000, 1~2.
pub(super) fn is_number_joiner(c: char) -> bool {
    matches!(c, '.' | '/' | ',' | '⁄' | '~' | '〜' | '-' | '−' | '–')
}

/// Symbols become spaces, so that `塩…2個` still reads as a name and a quantity; katakana become
/// hiragana, ASCII lowercase and variant kanji their common form. Folding before quantities are
/// stripped lets one spelling of each quantity word match カップ and かっぷ alike; it works
/// character by character, so it commutes with everything else.
pub(super) fn fold(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let digit_at = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(char::is_ascii_digit)
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if is_number_joiner(c) && digit_at(i.checked_sub(1)) && digit_at(Some(i + 1)) {
                c
            } else if is_symbol(c) {
                ' '
            } else {
                fold_char(c)
            }
        })
        .collect()
}

pub(super) fn fold_char(c: char) -> char {
    match c {
        'ァ'..='ヶ' | 'ヽ' | 'ヾ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
        _ => VARIANTS
            .iter()
            .find(|(variant, _)| *variant == c)
            .map_or(c, |&(_, common)| common),
    }
}

/// Traditional, simplified or glyph variants and the form Japanese recipes use.
pub(super) const VARIANTS: &[(char, char)] = &[
    ('醬', '醤'),
    ('酱', '醤'),
    ('鹽', '塩'),
    ('盐', '塩'),
    ('鷄', '鶏'),
    ('雞', '鶏'),
    ('鸡', '鶏'),
    ('麵', '麺'),
    ('麪', '麺'),
    ('蔥', '葱'),
    ('糀', '麹'),
    ('麴', '麹'),
    ('豬', '猪'),
    ('黑', '黒'),
    ('黃', '黄'),
    ('綠', '緑'),
    ('麥', '麦'),
    ('餠', '餅'),
    ('鰺', '鯵'),
    ('鱼', '魚'),
    ('﨑', '崎'),
    ('髙', '高'),
];

/// Quantity words that end a name without a number (in folded form).
pub(super) const QUANTITY_WORDS: &[&str] = &[
    "少々",
    "少量",
    "少し",
    "適量",
    "適宜",
    "適当",
    "お好みで",
    "好みで",
    "お好み",
    "ひとつまみ",
    "一つまみ",
    "ひとつかみ",
    "ひとにぎり",
    "一握り",
    "ひとかけら",
    "ひとかけ",
    "一かけ",
    "数滴",
    "数個",
    "数本",
    "数枚",
    "半分",
    "半量",
    "分量外",
    "ずつ",
    "各",
    "約",
];

/// Units after a number (in folded form: ASCII lowercased, ヶ and コ as ゖ and こ).
pub(super) const UNITS_AFTER: &[&str] = &[
    "g",
    "kg",
    "mg",
    "ml",
    "dl",
    "l",
    "cc",
    "cm",
    "mm",
    "oz",
    "lb",
    "cup",
    "cups",
    "tbsp",
    "tsp",
    "ぐらむ",
    "きろ",
    "りっとる",
    "かっぷ",
    "ぱっく",
    "個",
    "こ",
    "ゖ",
    "ゕ",
    "つ",
    "本",
    "枚",
    "片",
    "かけ",
    "かけら",
    "株",
    "束",
    "袋",
    "缶",
    "合",
    "玉",
    "房",
    "尾",
    "切れ",
    "切",
    "杯",
    "粒",
    "丁",
    "膳",
    "匹",
    "羽",
    "節",
    "箱",
    "瓶",
    "滴",
    "把",
    "枝",
    "斤",
    "つまみ",
    "振り",
    "ふり",
    "人",
    "人前",
];

/// Measures before a number (大さじ1, 大1, カップ1/2).
pub(super) const UNITS_BEFORE: &[&str] = &[
    "大さじ",
    "小さじ",
    "中さじ",
    "大匙",
    "小匙",
    "計量かっぷ",
    "かっぷ",
    "cup",
    "tbsp",
    "tsp",
    "大",
    "小",
];

/// Words after a quantity (1個分, 小さじ1弱, 100gくらい).
pub(super) const QUANTITY_TAILS: &[&str] = &["分", "程度", "くらい", "ぐらい", "ほど", "弱", "強"];

/// Strips trailing quantities, one after the other (塩 小さじ1/2 → 塩), but never down to
/// nothing. Returns whether the text was nothing but quantities.
pub(super) fn strip_quantities(chars: &mut Vec<char>) -> bool {
    loop {
        let len = trailing_quantity(chars);
        if len == 0 {
            return false;
        }
        let rest = chars.len() - len;
        if chars[..rest].iter().all(|c| c.is_whitespace()) {
            return true;
        }
        chars.truncate(rest);
    }
}

/// How many characters at the end of `chars` are one quantity (with the spaces after it).
pub(super) fn trailing_quantity(chars: &[char]) -> usize {
    let end = skip_spaces_back(chars, chars.len());
    if let Some(word) = longest_suffix(&chars[..end], QUANTITY_WORDS) {
        return chars.len() - (end - word);
    }
    let mut i = end;
    // Up to two tails: 1個分程度.
    for _ in 0..2 {
        i -= longest_suffix(&chars[..i], QUANTITY_TAILS).unwrap_or(0);
    }
    let unit_after = longest_suffix(&chars[..i], UNITS_AFTER);
    i -= unit_after.unwrap_or(0);
    i = skip_spaces_back(chars, i);
    let number_end = i;
    while i > 0 {
        let c = chars[i - 1];
        let between_digits =
            i >= 2 && i < number_end && chars[i - 2].is_ascii_digit() && chars[i].is_ascii_digit();
        if c.is_ascii_digit() || ((is_number_joiner(c) || c == 'と') && between_digits) {
            i -= 1;
        } else {
            break;
        }
    }
    if i == number_end {
        return 0;
    }
    let number_start = i;
    let before_spaces = skip_spaces_back(chars, i);
    let unit_before = longest_suffix(&chars[..before_spaces], UNITS_BEFORE);
    if let Some(unit) = unit_before {
        i = before_spaces - unit;
    } else if unit_after.is_none() && before_spaces > 0 && number_start == before_spaces {
        // A bare number stuck to a name may be part of it (オメガ3); one after a space is not.
        return 0;
    }
    chars.len() - i
}

pub(super) fn skip_spaces_back(chars: &[char], mut i: usize) -> usize {
    while i > 0 && chars[i - 1].is_whitespace() {
        i -= 1;
    }
    i
}

pub(super) fn is_one_of(text: &[char], words: &[&str]) -> bool {
    longest_suffix(text, words) == Some(text.len())
}

/// The length in characters of the longest of `words` that `text` ends with.
pub(super) fn longest_suffix(text: &[char], words: &[&str]) -> Option<usize> {
    words
        .iter()
        .filter(|word| {
            let mut rest = text.iter().rev();
            word.chars().rev().all(|w| rest.next() == Some(&w))
        })
        .map(|word| word.chars().count())
        .max()
}

/// Splits on the characters authors list ingredients with (塩・こしょう, 塩、こしょう, 塩/こしょう),
/// except within a number (1/2, 1,000).
pub(super) fn split_separators(text: &str) -> Vec<&str> {
    let is_digit_at = |i: usize| text[i..].starts_with(|c: char| c.is_ascii_digit());
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        let within_number = matches!(c, '/' | ',')
            && previous.is_some_and(|p| p.is_ascii_digit())
            && is_digit_at(i + c.len_utf8());
        if matches!(c, '・' | '、' | ',' | '/' | '&' | '+' | '·') && !within_number {
            pieces.push(&text[start..i]);
            start = i + c.len_utf8();
        }
        previous = Some(c);
    }
    pieces.push(&text[start..]);
    pieces
}

/// Splits a piece on whitespace between two names (塩 こしょう), but keeps a quantity, a lone
/// measure or a symbol with the name before it (塩 少々, 塩 小さじ 1/2): only groups with a name
/// are returned.
pub(super) fn whitespace_groups(piece: &str) -> Vec<String> {
    let mut groups: Vec<(String, bool)> = Vec::new();
    for token in piece.split_whitespace() {
        let mut chars = fold(token);
        let word: Vec<char> = chars
            .iter()
            .copied()
            .filter(|c| !c.is_whitespace())
            .collect();
        let named = !word.is_empty()
            && ![UNITS_BEFORE, UNITS_AFTER, QUANTITY_TAILS]
                .iter()
                .any(|words| is_one_of(&word, words))
            && !strip_quantities(&mut chars);
        match groups.last_mut() {
            Some((group, has_name)) if !(named && *has_name) => {
                group.push(' ');
                group.push_str(token);
                *has_name |= named;
            }
            _ => groups.push((token.to_owned(), named)),
        }
    }
    groups
        .into_iter()
        .filter_map(|(group, has_name)| has_name.then_some(group))
        .collect()
}
