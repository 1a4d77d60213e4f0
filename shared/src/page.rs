//! Keyset pagination, for every list of both services (DESIGN §11).
//!
//! A list is read in its key's order (the id, ascending; the replication log newest first):
//! `?limit=` items at most (1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] by default) past the key `?after=`.
//! The answer is `{"items": […], "next": K}`: `next` is the `after` of the following page, `null` on the
//! last one; nothing is ever cut silently. A page is one range scan of the key's index
//! (`WHERE id > $after ORDER BY id LIMIT $limit + 1`), so it costs the same however deep it is, and rows
//! written meanwhile neither repeat nor shift what is still to come (a new row has a higher id, so it
//! shows on a later page). One caveat: a row whose id was drawn before a page was read, but committed
//! after, is not seen by a reader already past that id.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Items per page unless `?limit=` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most items a page holds.
pub const MAX_LIMIT: i64 = 1000;

/// `?limit=` and `?after=` of a list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (1 to 1000; 100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// The `next` of the page before; absent for the first page.
    #[param(minimum = 0)]
    after: Option<i64>,
}

impl PageQuery {
    /// The page asked for, or 422 naming what is out of range.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if self.after.is_some_and(|after| after < 0) {
            return Err(ApiError::validation("after", "must not be negative"));
        }
        Ok(PageRequest {
            after: self.after,
            limit,
        })
    }
}

/// A page to read: past `after`, `limit` items.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    after: Option<i64>,
    limit: i64,
}

impl PageRequest {
    /// The first `limit` items.
    pub fn first(limit: i64) -> Self {
        Self { after: None, limit }
    }

    /// Every row: for the services' own reads of small tables (the nodes, the cities), never for an
    /// answer of the API.
    pub fn all() -> Self {
        Self {
            after: None,
            limit: i64::MAX - 1,
        }
    }

    /// The key to read past in ascending order (ids start at 1).
    pub fn after_ascending(&self) -> i64 {
        self.after.unwrap_or(0)
    }

    /// The key to read past in descending order (newest first).
    pub fn after_descending(&self) -> i64 {
        self.after.unwrap_or(i64::MAX)
    }

    /// How many rows to ask the database for: one more than the page holds, to know whether another
    /// page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The page of `rows` read with their keys beside them, (key, item).
    pub fn page_keyed<T>(&self, rows: Vec<(i64, T)>) -> Page<T> {
        let page = self.page(rows, |(key, _)| *key);
        Page {
            items: page.items.into_iter().map(|(_, item)| item).collect(),
            next: page.next,
        }
    }

    /// The page of `rows` (read with [`Self::fetch`], in key order); `key` gives an item's key.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> i64) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(key)
        } else {
            None
        };
        Page { items: rows, next }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `?after=` for the next page; `null` when this is the last.
    pub next: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::{PageQuery, PageRequest};

    #[test]
    fn a_page_says_where_the_next_starts_and_the_last_says_none() {
        let page = PageRequest::first(2).page(vec![10, 11, 12], |id| *id);
        assert_eq!((page.items, page.next), (vec![10, 11], Some(11)));
        let last = PageRequest::first(2).page(vec![12], |id| *id);
        assert_eq!((last.items, last.next), (vec![12], None));
    }

    #[test]
    fn limits_and_keys_out_of_range_are_refused() {
        let ask = |query: &str| crate::extract::parse_query::<PageQuery>(query)?.request();
        assert!(ask("limit=1000&after=5").is_ok());
        for query in ["limit=0", "limit=1001", "after=-1"] {
            assert!(ask(query).is_err(), "{query}");
        }
    }
}
