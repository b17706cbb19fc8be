//! Reading a product CSV: the whole file is refused only when it cannot be read as a table
//! (encoding, header, too many rows); each bad row is reported by line and column, and the
//! others apply.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::platform::text::{self, TextEncoding};

pub const REQUIRED: [&str; 3] = ["sku", "name", "price"];
pub const DESCRIPTION: &str = "description";
/// Image columns: `image_1` to `image_10`, each a file name from the seller's archives.
pub const MAX_IMAGES: usize = 10;
const MAX_SKU_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 255;
const MAX_DESCRIPTION_CHARS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub line: u64,
    pub sku: String,
    pub name: String,
    /// Yen.
    pub price: i64,
    pub description: String,
    /// (column, file name), in column order.
    pub images: Vec<(String, String)>,
    /// The row as written, for the failed-rows file when its images turn out unknown.
    pub raw: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line in the file, the header being line 1.
    pub line: u64,
    pub column: String,
    pub message: String,
}

/// Why a file is refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Unreadable(String),
    #[error("the file has {rows} rows; at most {max} are imported at once")]
    TooManyRows { rows: usize, max: usize },
}

#[derive(Debug)]
pub struct Parsed {
    pub encoding: TextEncoding,
    pub header: Vec<String>,
    pub rows: Vec<ProductRow>,
    /// Rows with problems, as read (for the failed-rows file), by line.
    pub failed: Vec<(u64, Vec<String>)>,
    pub errors: Vec<RowError>,
}

/// Parses `bytes`, with at most `max_rows` rows; image names are checked later, against the
/// seller's images.
pub fn parse(bytes: &[u8], max_rows: usize) -> Result<Parsed, FileError> {
    let (text, encoding) = text::decode(bytes).map_err(|e| FileError::Unreadable(e.to_string()))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| FileError::Unreadable(format!("the header cannot be read: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let position = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|c| position(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(FileError::Unreadable(format!(
            "the header must name the columns sku, name and price (description and image_1 to image_{MAX_IMAGES} are optional); missing: {}",
            missing.join(", ")
        )));
    }
    let [sku_at, name_at, price_at] = REQUIRED.map(|c| position(c).expect("checked"));
    let description_at = position(DESCRIPTION);
    let image_at: Vec<(String, usize)> = (1..=MAX_IMAGES)
        .filter_map(|n| {
            let column = format!("image_{n}");
            position(&column).map(|at| (column, at))
        })
        .collect();

    let records: Vec<_> = reader.records().collect();
    if records.len() > max_rows {
        return Err(FileError::TooManyRows {
            rows: records.len(),
            max: max_rows,
        });
    }
    let mut parsed = Parsed {
        encoding,
        header: header.clone(),
        rows: Vec::new(),
        failed: Vec::new(),
        errors: Vec::new(),
    };
    // Where each SKU was first given.
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                parsed.errors.push(RowError {
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
        let value = |at: usize| record.get(at).unwrap_or_default().to_string();
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut problem = |column: &str, message: String| problems.push((column.into(), message));
        let sku = value(sku_at);
        if sku.is_empty() {
            problem("sku", "is empty".into());
        } else if sku.chars().count() > MAX_SKU_CHARS {
            problem("sku", format!("is longer than {MAX_SKU_CHARS} characters"));
        } else if sku.chars().any(|c| c.is_control() || c == '/') {
            problem("sku", "holds a control character or a slash".into());
        } else if let Some(first) = seen.get(&sku) {
            problem("sku", format!("`{sku}` is also on line {first}"));
        }
        let name = value(name_at);
        if name.is_empty() {
            problem("name", "is empty".into());
        } else if name.chars().count() > MAX_NAME_CHARS {
            problem(
                "name",
                format!("is longer than {MAX_NAME_CHARS} characters"),
            );
        }
        let price_text = value(price_at);
        let price = match price_text.parse::<i64>() {
            Ok(price) if price >= 0 => price,
            _ => {
                problem(
                    "price",
                    format!("`{price_text}` is not a price: a whole number of yen, 0 or more"),
                );
                0
            }
        };
        let description = description_at.map(value).unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            problem(
                "description",
                format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
        let images: Vec<(String, String)> = image_at
            .iter()
            .map(|(column, at)| (column.clone(), value(*at)))
            .filter(|(_, name)| !name.is_empty())
            .collect();
        if problems.is_empty() {
            seen.insert(sku.clone(), line);
            parsed.rows.push(ProductRow {
                line,
                sku,
                name,
                price,
                description,
                images,
                raw: record.iter().map(str::to_string).collect(),
            });
        } else {
            parsed
                .failed
                .push((line, record.iter().map(str::to_string).collect()));
            parsed
                .errors
                .extend(problems.into_iter().map(|(column, message)| RowError {
                    line,
                    column,
                    message,
                }));
        }
    }
    Ok(parsed)
}

/// The failed rows as a CSV a seller opens in Excel, fixes and uploads again: UTF-8 with a
/// byte-order mark, the original columns, and `error` saying what is wrong.
pub fn failed_rows(header: &[String], rows: &[(u64, Vec<String>)], errors: &[RowError]) -> String {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let mut columns = header.to_vec();
    columns.push("error".into());
    writer.write_record(&columns).expect("writes to memory");
    for (line, record) in rows {
        let message: Vec<String> = errors
            .iter()
            .filter(|e| e.line == *line)
            .map(|e| format!("{}: {}", e.column, e.message))
            .collect();
        let mut record = record.clone();
        record.resize(header.len(), String::new());
        record.push(message.join("; "));
        writer.write_record(&record).expect("writes to memory");
    }
    let bytes = writer.into_inner().expect("writes to memory");
    format!(
        "\u{feff}{}",
        String::from_utf8(bytes).expect("written from strings")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_apply_and_each_bad_one_says_where() {
        let csv = "sku,name,price,description,image_1,image_2\n\
                   A-1,りんご,300,青森産,apple.jpg,apple2.jpg\n\
                   A-2,ぶどう,1.5,,grape.jpg,\n\
                   A-1,みかん,200,,,\n\
                   ,もも,100,,,\n\
                   A-3,,-5,,,\n\
                   \n\
                   A-4,\"梨, 大玉\",0,,,\n";
        let parsed = parse(csv.as_bytes(), 100).unwrap();
        let skus: Vec<&str> = parsed.rows.iter().map(|r| r.sku.as_str()).collect();
        assert_eq!(skus, ["A-1", "A-4"]);
        assert_eq!(
            parsed.rows[0].images,
            [
                ("image_1".to_string(), "apple.jpg".to_string()),
                ("image_2".to_string(), "apple2.jpg".to_string())
            ]
        );
        assert_eq!(parsed.rows[1].name, "梨, 大玉");
        let reported: Vec<(u64, &str)> = parsed
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(
            reported,
            [
                (3, "price"),
                (4, "sku"),
                (5, "sku"),
                (6, "name"),
                (6, "price")
            ]
        );
        assert_eq!(parsed.errors[1].message, "`A-1` is also on line 2");
        let failed = failed_rows(&parsed.header, &parsed.failed, &parsed.errors);
        assert!(failed.starts_with("\u{feff}sku,name,price,description,image_1,image_2,error\n"));
        assert!(failed.contains("A-3,,-5,,,,\"name: is empty; price: `-5` is not a price"));
    }

    #[test]
    fn whole_file_problems_refuse_it() {
        assert!(matches!(
            parse(b"sku,title,price\nA,b,1\n", 10),
            Err(FileError::Unreadable(m)) if m.contains("missing: name")
        ));
        assert!(matches!(
            parse(&[0x82, 0xff, 0x00, 0xfe], 10),
            Err(FileError::Unreadable(_))
        ));
        let rows = |n: usize| {
            let mut csv = "sku,name,price\n".to_string();
            for i in 0..n {
                csv.push_str(&format!("S{i},n,1\n"));
            }
            csv
        };
        assert_eq!(parse(rows(10).as_bytes(), 10).unwrap().rows.len(), 10);
        assert_eq!(
            parse(rows(11).as_bytes(), 10).unwrap_err(),
            FileError::TooManyRows { rows: 11, max: 10 }
        );
    }

    #[test]
    fn excel_files_in_cp932_read_as_utf8_ones() {
        let csv = "sku,name,price\nA-1,りんご,300\n";
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
        let parsed = parse(&cp932, 10).unwrap();
        assert_eq!(parsed.encoding, TextEncoding::Cp932);
        assert_eq!(parsed.rows[0].name, "りんご");
    }
}
