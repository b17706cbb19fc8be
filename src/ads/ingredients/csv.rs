//! Reading an ingredient table CSV: the whole file is refused only when it cannot be read as a
//! table (encoding, header); each bad row is reported by line and column and the rest apply.

use std::collections::HashMap;

use serde::Serialize;

use crate::ads::AdError;
use crate::ads::normalize;
use crate::ads::settings::is_slug;
use crate::platform::text::{self, TextEncoding};

pub const COLUMNS: [&str; 3] = ["normalized_name", "written_name", "concept_id"];
/// Longest name, in characters: longer is not an ingredient name but a sentence.
const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub line: u64,
    pub key: String,
    pub normalized_name: String,
    pub written_name: String,
    pub concept_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line in the file, the header being line 1.
    pub line: u64,
    pub column: String,
    pub message: String,
}

#[derive(Debug)]
pub struct Parsed {
    pub encoding: TextEncoding,
    pub rows: Vec<TableRow>,
    pub errors: Vec<RowError>,
}

pub fn parse(bytes: &[u8]) -> Result<Parsed, AdError> {
    let (text, encoding) = text::decode(bytes).map_err(|e| AdError::Csv(e.to_string()))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| AdError::Csv(format!("the header cannot be read: {e}")))?
        .clone();
    let position = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = COLUMNS
        .into_iter()
        .filter(|c| position(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(AdError::Csv(format!(
            "the header must name the columns {}; missing: {}",
            COLUMNS.join(", "),
            missing.join(", ")
        )));
    }
    let [normalized_at, written_at, concept_at] = COLUMNS.map(|c| position(c).expect("checked"));

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    // Where each key was first given, and for which concept.
    let mut seen: HashMap<String, (u64, String)> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    column: String::new(),
                    message: format!("the row cannot be read: {error}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut row_errors = Vec::new();
        let mut field = |at: usize, column: &str| -> String {
            let value = record.get(at).unwrap_or_default().to_string();
            if value.is_empty() {
                row_errors.push((column.to_string(), "is empty".to_string()));
            } else if value.chars().count() > MAX_NAME_CHARS {
                row_errors.push((
                    column.to_string(),
                    format!("is longer than {MAX_NAME_CHARS} characters"),
                ));
            }
            value
        };
        let normalized_name = field(normalized_at, COLUMNS[0]);
        let written_name = field(written_at, COLUMNS[1]);
        let concept_id = field(concept_at, COLUMNS[2]);
        if !concept_id.is_empty() && !is_slug(&concept_id) {
            row_errors.push((
                COLUMNS[2].to_string(),
                format!("`{concept_id}` is not a concept id (1 to 64 of a-z, 0-9, _ and -)"),
            ));
        }
        let key = normalize::key(&written_name);
        if !written_name.is_empty() && key.is_empty() {
            row_errors.push((
                COLUMNS[1].to_string(),
                format!("`{written_name}` has nothing left once normalized"),
            ));
        }
        if row_errors.is_empty()
            && let Some((first_line, first_concept)) = seen.get(&key)
        {
            if *first_concept != concept_id {
                row_errors.push((
                    COLUMNS[1].to_string(),
                    format!(
                        "`{written_name}` normalizes like line {first_line}, which is concept `{first_concept}`"
                    ),
                ));
            } else {
                continue;
            }
        }
        if row_errors.is_empty() {
            seen.insert(key.clone(), (line, concept_id.clone()));
            rows.push(TableRow {
                line,
                key,
                normalized_name,
                written_name,
                concept_id,
            });
        } else {
            errors.extend(row_errors.into_iter().map(|(column, message)| RowError {
                line,
                column,
                message,
            }));
        }
    }
    Ok(Parsed {
        encoding,
        rows,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_apply_and_bad_ones_are_reported_by_line_and_column() {
        let csv = "written_name,concept_id,normalized_name\n\
                   塩,salt,塩\n\
                   しお,salt,塩\n\
                   ,salt,塩\n\
                   こしょう,Pepper!,胡椒\n\
                   シオ,salt,塩\n\
                   ｼｵ,sugar,砂糖\n\
                   \"胡椒, 粗挽き\",pepper,胡椒\n";
        let parsed = parse(csv.as_bytes()).unwrap();
        assert_eq!(parsed.encoding, TextEncoding::Utf8);
        let written: Vec<&str> = parsed
            .rows
            .iter()
            .map(|r| r.written_name.as_str())
            .collect();
        assert_eq!(written, ["塩", "しお", "胡椒, 粗挽き"], "シオ repeats しお");
        let reported: Vec<(u64, &str)> = parsed
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(
            reported,
            [(4, "written_name"), (5, "concept_id"), (7, "written_name")]
        );
        assert!(
            parsed.errors[2].message.contains("line 3"),
            "{:?}",
            parsed.errors[2]
        );
    }

    #[test]
    fn cp932_and_bom_files_read_alike() {
        let csv = "normalized_name,written_name,concept_id\n塩,食塩,salt\n";
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), csv.as_bytes()].concat();
        for (bytes, encoding) in [
            (cp932.to_vec(), TextEncoding::Cp932),
            (with_bom, TextEncoding::Utf8Bom),
        ] {
            let parsed = parse(&bytes).unwrap();
            assert_eq!(parsed.encoding, encoding);
            assert_eq!(parsed.rows[0].written_name, "食塩");
            assert_eq!(parsed.rows[0].line, 2);
        }
    }

    #[test]
    fn a_wrong_header_refuses_the_file() {
        let error = parse("name,concept\n塩,salt\n".as_bytes()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("missing: normalized_name, written_name, concept_id"),
            "{error}"
        );
        assert!(matches!(parse(&[0xFF, 0xFE, 0x00]), Err(AdError::Csv(_))));
    }
}
