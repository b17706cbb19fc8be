//! Lists: one query shape, one cursor, one page, for every list endpoint.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ApiError;

/// Page size of every list endpoint: `limit`, 1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`].
pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 500;

/// Where a page starts: the id of the last item of the previous page. Ids are UUIDs (v7, so
/// their order is the order of creation); anything that is not a UUID is refused when the
/// query is parsed, before a database sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct Cursor(Uuid);

impl Cursor {
    /// The id it stands for, as the tables store ids.
    pub fn as_id(&self) -> String {
        self.0.to_string()
    }
}

impl TryFrom<String> for Cursor {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Uuid::parse_str(&value)
            .map(Cursor)
            .map_err(|_| format!("`{value}` is not a cursor: pass the `next` of a previous page"))
    }
}

impl From<Cursor> for String {
    fn from(cursor: Cursor) -> String {
        cursor.as_id()
    }
}

/// The query of every owner-scoped list endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Cursor: the `next` of the previous page.
    #[param(value_type = Option<String>)]
    pub after: Option<Cursor>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// Admins only: one owner's items (default: everyone's). Others always see their own.
    pub owner: Option<String>,
}

impl ListQuery {
    /// The cursor as the tables store ids.
    pub fn after_id(&self) -> Option<String> {
        self.after.as_ref().map(Cursor::as_id)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items` fetched with `limit`: a full page has a next one (which may turn out
    /// empty), a short one is the last.
    pub fn new(items: Vec<T>, limit: u64, id: impl Fn(&T) -> String) -> Page<T> {
        let next = (items.len() as u64 == limit)
            .then(|| items.last().map(id))
            .flatten();
        Page { items, next }
    }

    /// The same page with each item turned into what the API shows.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// The page size a list request asked for, or a 400 naming `limit`.
pub fn page_limit(limit: Option<u64>) -> Result<u64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(
            ApiError::bad_request(format!("limit {limit} is out of range"))
                .with_field("limit", format!("between 1 and {MAX_PAGE}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::http::Code;

    #[test]
    fn page_limits_are_checked_at_and_past_the_bounds() {
        assert_eq!(page_limit(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_limit(Some(1)).unwrap(), 1);
        assert_eq!(page_limit(Some(MAX_PAGE)).unwrap(), MAX_PAGE);
        assert_eq!(
            page_limit(Some(0)).unwrap_err().code(),
            Code::InvalidRequest
        );
        assert!(page_limit(Some(MAX_PAGE + 1)).is_err());
    }

    #[test]
    fn a_full_page_points_at_the_next_and_a_short_one_ends_the_list() {
        let full = Page::new(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(full.next.as_deref(), Some("2"));
        assert_eq!(Page::new(vec![1], 2, |n| n.to_string()).next, None);
        assert_eq!(full.map(|n| n * 10).items, vec![10, 20]);
    }

    #[test]
    fn cursors_are_parsed_not_trusted() {
        let id = Uuid::now_v7();
        let cursor: Cursor = serde_json::from_value(serde_json::json!(id.to_string())).unwrap();
        assert_eq!(cursor.as_id(), id.to_string());
        let error = serde_json::from_value::<Cursor>(serde_json::json!("' OR 1=1 --"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a cursor"), "{error}");
    }
}
