//! Written ingredient names to lookup keys, and resolution of a name to concept ids.
//!
//! Recipe authors write one ingredient many ways (塩, しお, ★塩, 塩（少々）, 塩 少々, ｼｵ). [`key`]
//! folds those spellings onto one key; the ingredient table keys its written names with the same
//! function, so both sides meet. [`Candidates`] lists every key a name may resolve through, so
//! that the caller can fetch them all in one round trip before [`resolve`] walks them in order.

use std::collections::HashSet;

use serde::Serialize;

#[cfg(test)]
mod tests;
mod text;

use text::*;

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
