//! Written ingredient names to lookup keys, and resolution of a name to concept ids.
//!
//! Recipe authors write one ingredient many ways (塩, しお, ★塩, 塩（少々）, 塩 少々, ｼｵ). [`key`]
//! folds those spellings onto one key; the ingredient table keys its written names with the same
//! function, so both sides meet. [`Candidates`] lists every key a name may resolve through, so
//! that the caller can fetch them all in one round trip before [`resolve`] walks them in order.

use std::collections::HashSet;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// Longer input is cut: ingredient names are short, and this bounds the work on hostile input.
const MAX_CHARS: usize = 64;
/// More separator parts than this are ignored, which bounds the keys fetched.
const MAX_PARTS: usize = 8;
/// Longer keys are not split into two names: every split point costs up to four keys.
const MAX_SPLIT_CHARS: usize = 16;

/// The lookup key of a written ingredient name (also applied to the table's written names).
pub fn key(written: &str) -> String {
    let text = prepare(written);
    let text = strip_leading_marker(&drop_brackets(&text));
    let mut chars = fold(&text);
    strip_quantities(&mut chars);
    chars.into_iter().filter(|c| !c.is_whitespace()).collect()
}

/// Every key a written name may resolve through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    whole: String,
    /// Keys of the parts of a name written as several (塩・こしょう); empty unless two or more.
    parts: Vec<String>,
}

impl Candidates {
    /// Looks nothing up, so that the caller can fetch every key in one round trip.
    pub fn of(written: &str) -> Candidates {
        let whole = key(written);
        if whole.is_empty() {
            return Candidates {
                whole,
                parts: Vec::new(),
            };
        }
        // Brackets and list markers go first: a note like （小さじ1/2、お好みで） holds separators.
        let text = strip_leading_marker(&drop_brackets(&prepare(written)));
        let groups: Vec<String> = split_separators(&text)
            .into_iter()
            .flat_map(whitespace_groups)
            .take(MAX_PARTS)
            .collect();
        let mut parts: Vec<String> = if groups.len() < 2 {
            Vec::new()
        } else {
            groups
                .iter()
                .map(|group| key(group))
                .filter(|k| !k.is_empty())
                .collect()
        };
        if parts.len() < 2 {
            parts.clear();
        }
        Candidates { whole, parts }
    }

    /// All distinct keys resolution may look up, the whole key first.
    pub fn keys(&self) -> Vec<&str> {
        if self.whole.is_empty() {
            return Vec::new();
        }
        let mut seen = HashSet::new();
        forms(&self.whole)
            .chain(self.parts.iter().flat_map(|part| forms(part)))
            .chain(
                self.splits()
                    .flat_map(|(left, right)| split_forms(left).chain(split_forms(right))),
            )
            .filter(|k| seen.insert(*k))
            .collect()
    }

    /// Two-name readings of the whole key (塩こしょう → 塩 + こしょう), the longest left half first
    /// so the more specific name wins (ごま油 + X before ごま + 油X). Only for a name not written
    /// with separators: those are split where the author split them.
    fn splits(&self) -> impl Iterator<Item = (&str, &str)> {
        let n = self.whole.chars().count();
        let splittable = self.parts.is_empty() && (2..=MAX_SPLIT_CHARS).contains(&n);
        self.whole
            .char_indices()
            .rev()
            .map(|(i, _)| i)
            .filter(move |&i| splittable && i > 0)
            .map(|i| self.whole.split_at(i))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Table,
    Honorific,
    Compound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Keys tried, in order.
    pub keys_tried: Vec<String>,
    /// Concept ids found, in the order of the parts of the name, without repeats; empty when none.
    pub concepts: Vec<String>,
    /// None when nothing matched.
    pub matched_by: Option<MatchedBy>,
}

/// Resolves a written name with `lookup` (key → concept id).
///
/// In order: the whole key (Table); the whole key without a leading お/ご (Honorific); then, for
/// a name written as several parts, each part by itself or without お/ご (Compound, with the parts
/// that resolved: 塩・謎の粉 still contains salt); otherwise two names written together, where
/// both halves must resolve (Compound).
pub fn resolve(candidates: &Candidates, lookup: impl Fn(&str) -> Option<String>) -> Resolution {
    let mut asked = Asked {
        lookup,
        answers: Vec::new(),
    };
    let whole = candidates.whole.as_str();
    if whole.is_empty() {
        return asked.into_resolution(Vec::new(), None);
    }
    if let Some(concept) = asked.ask(whole) {
        return asked.into_resolution(vec![concept], Some(MatchedBy::Table));
    }
    if let Some(concept) = honorific(whole).and_then(|rest| asked.ask(rest)) {
        return asked.into_resolution(vec![concept], Some(MatchedBy::Honorific));
    }
    if !candidates.parts.is_empty() {
        let mut concepts = Vec::new();
        for part in &candidates.parts {
            if let Some(concept) = forms(part).find_map(|k| asked.ask(k)) {
                push_new(&mut concepts, concept);
            }
        }
        let matched = (!concepts.is_empty()).then_some(MatchedBy::Compound);
        return asked.into_resolution(concepts, matched);
    }
    for (left, right) in candidates.splits() {
        let Some(first) = split_forms(left).find_map(|k| asked.ask(k)) else {
            continue;
        };
        if let Some(second) = split_forms(right).find_map(|k| asked.ask(k)) {
            let mut concepts = vec![first];
            push_new(&mut concepts, second);
            return asked.into_resolution(concepts, Some(MatchedBy::Compound));
        }
    }
    asked.into_resolution(Vec::new(), None)
}

/// The lookup, remembering its answers so each key is asked once and `keys_tried` stays exact.
struct Asked<F> {
    lookup: F,
    answers: Vec<(String, Option<String>)>,
}

impl<F: Fn(&str) -> Option<String>> Asked<F> {
    fn ask(&mut self, key: &str) -> Option<String> {
        if let Some((_, answer)) = self.answers.iter().find(|(k, _)| k == key) {
            return answer.clone();
        }
        let answer = (self.lookup)(key);
        self.answers.push((key.to_owned(), answer.clone()));
        answer
    }

    fn into_resolution(self, concepts: Vec<String>, matched_by: Option<MatchedBy>) -> Resolution {
        Resolution {
            keys_tried: self.answers.into_iter().map(|(k, _)| k).collect(),
            concepts,
            matched_by,
        }
    }
}

fn push_new(concepts: &mut Vec<String>, concept: String) {
    if !concepts.contains(&concept) {
        concepts.push(concept);
    }
}

/// The key without a leading お/ご (お酢 → 酢), which authors add to some names and not others.
fn honorific(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(['お', 'ご'])?;
    (!rest.is_empty()).then_some(rest)
}

/// A key as written, then without its honorific.
fn forms(key: &str) -> impl Iterator<Item = &str> {
    std::iter::once(key).chain(honorific(key))
}

/// [`forms`] of a half of a split, without lone kana, letters or digits: those are fragments of
/// a longer word, while one kanji is often a whole ingredient (塩, 酢, 酒, 卵).
fn split_forms(half: &str) -> impl Iterator<Item = &str> {
    forms(half).filter(|k| {
        let mut chars = k.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => is_kanji(c),
            _ => true,
        }
    })
}

fn is_kanji(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}')
}

/// Enclosed numbers, letters and kana (①, Ⓐ, ㋐) are list markers; NFKC would turn them into
/// plain digits and letters indistinguishable from the name, so they go before it.
fn is_enclosed_marker(c: char) -> bool {
    matches!(c,
        '\u{2460}'..='\u{24FF}'
        | '\u{3251}'..='\u{325F}'
        | '\u{3280}'..='\u{3289}'
        | '\u{32B1}'..='\u{32BF}'
        | '\u{32D0}'..='\u{32FE}')
}

/// NFKC (full-width to ASCII, half-width kana to full-width), without enclosed markers, cut to
/// [`MAX_CHARS`]. Lazy, so a huge input costs no more than its first characters.
fn prepare(written: &str) -> String {
    written
        .chars()
        .filter(|&c| !is_enclosed_marker(c))
        .nfkc()
        .take(MAX_CHARS)
        .collect()
}

fn is_opening(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '<' | '【' | '〈' | '《' | '〔' | '〖' | '〘' | '〚'
    )
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        ')' | ']' | '}' | '>' | '】' | '〉' | '》' | '〕' | '〗' | '〙' | '〛'
    )
}

/// Drops bracketed notes (塩（少々）, 【A】塩), nested or not; an unclosed one runs to the end.
/// A name written wholly in brackets keeps its text: it is the name, not a note on it.
fn drop_brackets(text: &str) -> String {
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

fn is_content(c: char) -> bool {
    !c.is_whitespace() && !is_symbol(c)
}

/// Strips a group marker such as `A 塩`, `a. 塩`, `A)塩`, `A★塩`; only when a space or symbol
/// follows the letter, because names may start with one (Tボーン, Lサイズ卵).
fn strip_leading_marker(text: &str) -> String {
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
fn is_symbol(c: char) -> bool {
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
fn is_number_joiner(c: char) -> bool {
    matches!(c, '.' | '/' | ',' | '⁄' | '~' | '〜' | '-' | '−' | '–')
}

/// Symbols become spaces, so that `塩…2個` still reads as a name and a quantity; katakana become
/// hiragana, ASCII lowercase and variant kanji their common form. Folding before quantities are
/// stripped lets one spelling of each quantity word match カップ and かっぷ alike; it works
/// character by character, so it commutes with everything else.
fn fold(text: &str) -> Vec<char> {
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

fn fold_char(c: char) -> char {
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
const VARIANTS: &[(char, char)] = &[
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
const QUANTITY_WORDS: &[&str] = &[
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
const UNITS_AFTER: &[&str] = &[
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
const UNITS_BEFORE: &[&str] = &[
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
const QUANTITY_TAILS: &[&str] = &["分", "程度", "くらい", "ぐらい", "ほど", "弱", "強"];

/// Strips trailing quantities, one after the other (塩 小さじ1/2 → 塩), but never down to
/// nothing. Returns whether the text was nothing but quantities.
fn strip_quantities(chars: &mut Vec<char>) -> bool {
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
fn trailing_quantity(chars: &[char]) -> usize {
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

fn skip_spaces_back(chars: &[char], mut i: usize) -> usize {
    while i > 0 && chars[i - 1].is_whitespace() {
        i -= 1;
    }
    i
}

fn is_one_of(text: &[char], words: &[&str]) -> bool {
    longest_suffix(text, words) == Some(text.len())
}

/// The length in characters of the longest of `words` that `text` ends with.
fn longest_suffix(text: &[char], words: &[&str]) -> Option<usize> {
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
fn split_separators(text: &str) -> Vec<&str> {
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
fn whitespace_groups(piece: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn table() -> HashMap<String, String> {
        [
            ("塩", "salt"),
            ("しお", "salt"),
            ("食塩", "salt"),
            ("こしょう", "pepper"),
            ("胡椒", "pepper"),
            ("醤油", "soy_sauce"),
            ("しょうゆ", "soy_sauce"),
            ("酢", "vinegar"),
            ("みそ", "miso"),
            ("味噌", "miso"),
            ("砂糖", "sugar"),
            ("玉ねぎ", "onion"),
            ("たまねぎ", "onion"),
            ("ごはん", "rice"),
            ("おから", "okara"),
            ("ごま油", "sesame_oil"),
            ("ごま", "sesame"),
            ("豚バラ肉", "pork_belly"),
            ("鶏もも肉", "chicken_thigh"),
            ("卵", "egg"),
            ("酒", "sake"),
            ("みりん", "mirin"),
            ("米麹", "rice_koji"),
            ("オリーブオイル", "olive_oil"),
        ]
        .into_iter()
        .map(|(written, concept)| (key(written), concept.to_owned()))
        .collect()
    }

    fn resolved(written: &str) -> Resolution {
        let table = table();
        resolve(&Candidates::of(written), |k| table.get(k).cloned())
    }

    fn assert_resolves(written: &str, concepts: &[&str], matched_by: Option<MatchedBy>) {
        let resolution = resolved(written);
        assert_eq!(resolution.concepts, concepts, "{written}: {resolution:?}");
        assert_eq!(
            resolution.matched_by, matched_by,
            "{written}: {resolution:?}"
        );
    }

    /// Every name the tests resolve, for the properties that hold of all of them.
    const NAMES: &[&str] = &[
        "塩",
        "しお",
        "食塩",
        "★塩",
        "塩（少々）",
        "塩 少々",
        "ｼｵ",
        "シオ",
        "塩少々",
        "塩 小さじ1/2",
        "◎塩…適量",
        "【A】塩",
        "(A)醤油 大さじ1",
        "Ａ 醤油",
        "①砂糖",
        "醬油",
        "しょう油",
        "お酢",
        "おみそ",
        "ごはん",
        "おから",
        "塩・こしょう",
        "塩、こしょう",
        "塩こしょう",
        "塩コショウ",
        "塩 こしょう",
        "お塩こしょう",
        "塩・謎の粉",
        "塩・しお",
        "塩・お酢",
        "酢 大さじ 1・みそ 2 個",
        "謎 小さじ 1/2",
        "塩・こしょう 各少々",
        "玉ねぎ 1/2個",
        "豚バラ肉 200g",
        "豚バラ肉 ２００ｇ",
        "ごま油 少量",
        "砂糖 大さじ1と1/2",
        "塩 ひとつまみ",
        "鶏もも肉 1枚（250g）",
        "卵 2個",
        "卵 2",
        "卵 2つ",
        "卵2コ",
        "卵1ヶ",
        "卵 1~2個",
        "酒 大1",
        "みりん…小さじ2弱",
        "塩（小さじ1/2、お好みで）",
        "米糀",
        "オリーブ・オイル",
        "水",
        "★☆",
        "少々",
        "🧂塩",
        "a. 塩",
        "A★塩",
    ];

    #[test]
    fn keys_fold_spellings_together() {
        for written in [
            "塩",
            "★塩",
            "塩（少々）",
            "塩 少々",
            "塩少々",
            "◎塩…適量",
            "【A】塩",
        ] {
            assert_eq!(key(written), "塩", "{written}");
        }
        assert_eq!(key("ｼｵ"), "しお");
        assert_eq!(key("シオ"), "しお");
        assert_eq!(key("ＯＬＩＶＥ　ＯＩＬ"), "oliveoil");
        assert_eq!(key("①砂糖"), "砂糖");
        assert_eq!(key("醬油"), "醤油");
        assert_eq!(key("ヴィネガー"), "ゔぃねがー");
        assert_eq!(key("塩（少々"), "塩");
        assert_eq!(key("（塩）"), "塩");
        assert_eq!(key("1.5kgの豚肉 1.5kg"), "1.5kgの豚肉");
    }

    #[test]
    fn keys_keep_what_only_looks_like_a_quantity() {
        assert_eq!(key("少々"), "少々");
        assert_eq!(key("玉ねぎ"), "玉ねぎ");
        assert_eq!(key("一味唐辛子"), "一味唐辛子");
        assert_eq!(key("オメガ3"), "おめが3");
        assert_eq!(key("V8"), "v8");
        assert_eq!(key("Tボーン"), "tぼーん");
        assert_eq!(key("〆鯖"), "〆鯖");
        assert_eq!(key("★☆"), "");
    }

    #[test]
    fn resolves_spellings_of_one_name_through_the_table() {
        for written in [
            "塩",
            "しお",
            "食塩",
            "★塩",
            "塩（少々）",
            "塩 少々",
            "ｼｵ",
            "シオ",
            "塩少々",
            "塩 小さじ1/2",
            "◎塩…適量",
            "【A】塩",
            "塩 ひとつまみ",
            "塩（小さじ1/2、お好みで）",
            "🧂塩",
            "a. 塩",
            "A★塩",
        ] {
            assert_resolves(written, &["salt"], Some(MatchedBy::Table));
        }
        for written in ["(A)醤油 大さじ1", "Ａ 醤油", "醬油"] {
            assert_resolves(written, &["soy_sauce"], Some(MatchedBy::Table));
        }
        assert_resolves("①砂糖", &["sugar"], Some(MatchedBy::Table));
        assert_resolves("砂糖 大さじ1と1/2", &["sugar"], Some(MatchedBy::Table));
        assert_resolves("玉ねぎ 1/2個", &["onion"], Some(MatchedBy::Table));
        assert_resolves("豚バラ肉 200g", &["pork_belly"], Some(MatchedBy::Table));
        assert_resolves("豚バラ肉 ２００ｇ", &["pork_belly"], Some(MatchedBy::Table));
        assert_resolves("ごま油 少量", &["sesame_oil"], Some(MatchedBy::Table));
        assert_resolves(
            "鶏もも肉 1枚（250g）",
            &["chicken_thigh"],
            Some(MatchedBy::Table),
        );
        assert_resolves("卵 2個", &["egg"], Some(MatchedBy::Table));
        for written in ["卵 2", "卵 2つ", "卵2コ", "卵1ヶ", "卵 1~2個"] {
            assert_resolves(written, &["egg"], Some(MatchedBy::Table));
        }
        assert_resolves("酒 大1", &["sake"], Some(MatchedBy::Table));
        assert_resolves("みりん…小さじ2弱", &["mirin"], Some(MatchedBy::Table));
        assert_resolves("米糀", &["rice_koji"], Some(MatchedBy::Table));
        assert_resolves("オリーブ・オイル", &["olive_oil"], Some(MatchedBy::Table));
    }

    #[test]
    fn honorific_applies_only_when_the_whole_name_is_unknown() {
        assert_resolves("お酢", &["vinegar"], Some(MatchedBy::Honorific));
        assert_resolves("おみそ", &["miso"], Some(MatchedBy::Honorific));
        assert_resolves("ごはん", &["rice"], Some(MatchedBy::Table));
        assert_resolves("おから", &["okara"], Some(MatchedBy::Table));
        assert_eq!(resolved("お酢").keys_tried, ["お酢", "酢"]);
    }

    #[test]
    fn resolves_names_written_as_several() {
        let salt_and_pepper = &["salt", "pepper"][..];
        for written in [
            "塩・こしょう",
            "塩、こしょう",
            "塩 こしょう",
            "塩・こしょう 各少々",
        ] {
            assert_resolves(written, salt_and_pepper, Some(MatchedBy::Compound));
        }
        assert_resolves("塩・謎の粉", &["salt"], Some(MatchedBy::Compound));
        assert_resolves("塩・しお", &["salt"], Some(MatchedBy::Compound));
        assert_resolves("塩・お酢", &["salt", "vinegar"], Some(MatchedBy::Compound));
        assert_resolves(
            "酢 大さじ 1・みそ 2 個",
            &["vinegar", "miso"],
            Some(MatchedBy::Compound),
        );
        assert_eq!(Candidates::of("謎 小さじ 1/2").keys(), ["謎"]);
        assert_eq!(
            resolved("塩・こしょう").keys_tried,
            ["塩こしょう", "塩", "こしょう"]
        );
    }

    #[test]
    fn resolves_two_names_written_together() {
        for written in ["塩こしょう", "塩コショウ", "お塩こしょう"] {
            assert_resolves(written, &["salt", "pepper"], Some(MatchedBy::Compound));
        }
        assert_eq!(
            resolved("塩こしょう").keys_tried,
            ["塩こしょう", "塩こしょ", "塩こし", "塩こ", "塩", "こしょう"]
        );
    }

    #[test]
    fn unknown_names_resolve_to_nothing() {
        for written in ["水", "しょう油", "少々"] {
            let resolution = resolved(written);
            assert_eq!(resolution.concepts, Vec::<String>::new(), "{written}");
            assert_eq!(resolution.matched_by, None, "{written}");
            assert!(!resolution.keys_tried.is_empty(), "{written}");
        }
        let symbols = Candidates::of("★☆");
        assert!(symbols.keys().is_empty());
        let resolution = resolve(&symbols, |_| unreachable!("no key to ask"));
        assert_eq!(
            resolution,
            Resolution {
                keys_tried: Vec::new(),
                concepts: Vec::new(),
                matched_by: None,
            }
        );
    }

    #[test]
    fn candidates_hold_every_key_resolution_asks_once_whole_first() {
        for written in NAMES {
            let candidates = Candidates::of(written);
            let keys = candidates.keys();
            let distinct: HashSet<&str> = keys.iter().copied().collect();
            assert_eq!(distinct.len(), keys.len(), "{written}: {keys:?}");
            let whole = key(written);
            assert_eq!(
                keys.first().copied(),
                (!whole.is_empty()).then_some(&*whole)
            );
            // A lookup that knows nothing makes resolution try everything it can.
            for resolution in [resolved(written), resolve(&candidates, |_| None)] {
                for tried in &resolution.keys_tried {
                    assert!(
                        keys.contains(&tried.as_str()),
                        "{written}: {tried} ∉ {keys:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn huge_input_is_bounded() {
        let huge = [
            "塩".repeat(5_000),
            "塩・".repeat(2_500),
            "あ".repeat(10_000),
            "(".repeat(10_000),
            "★".repeat(3_000),
            "1".repeat(10_000),
            "塩 少々 ".repeat(1_500),
        ];
        for written in &huge {
            assert!(written.len() >= 9_000);
            let candidates = Candidates::of(written);
            assert!(key(written).chars().count() <= MAX_CHARS);
            assert!(candidates.parts.len() <= MAX_PARTS);
            assert!(candidates.keys().len() <= 2 + 4 * (MAX_SPLIT_CHARS - 1));
            resolved(written);
        }
    }

    #[test]
    fn matched_by_serializes_in_snake_case() {
        let resolution = resolved("塩・こしょう");
        let json = serde_json::to_value(&resolution).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "keys_tried": ["塩こしょう", "塩", "こしょう"],
                "concepts": ["salt", "pepper"],
                "matched_by": "compound",
            })
        );
    }
}
