//! One function per query; statements are prepared once per connection (`prepare_cached`).

pub mod accounts;
pub mod cities;
pub mod idempotency;
pub mod master;
pub mod nodes;
pub mod orders;
pub mod promotions;
pub mod replication;
pub mod reports;
pub mod tokens;
pub mod transfers;

use pos_shared::error::ApiError;
use tokio_postgres::error::SqlState;

pub fn is_unique_violation(err: &anyhow::Error) -> bool {
    pos_shared::db::sqlstate(err) == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Maps a failed master-data write to the answer the client can act on: a duplicate key is 409, a
/// reference to a row that does not exist is 422 naming the field; anything else is unexpected.
pub fn write_error(err: anyhow::Error) -> ApiError {
    let Some(db) = pos_shared::db::db_error(&err) else {
        return err.into();
    };
    let constraint = db.constraint().unwrap_or_default();
    let field = constraint
        .strip_suffix("_fkey")
        .or_else(|| constraint.strip_suffix("_key"))
        .or_else(|| constraint.strip_suffix("_check"))
        .and_then(|name| name.split_once('_').map(|(_, column)| column.to_owned()))
        .unwrap_or_else(|| "body".to_owned());
    match *db.code() {
        // A primary key taken: the thing exists already (a second node for a city, say).
        SqlState::UNIQUE_VIOLATION if constraint.ends_with("_pkey") => ApiError::conflict(format!(
            "it exists already ({})",
            constraint.trim_end_matches("_pkey")
        )),
        SqlState::UNIQUE_VIOLATION => ApiError::conflict(format!("{field} is already taken")),
        SqlState::FOREIGN_KEY_VIOLATION => {
            ApiError::validation(field, "refers to a row that does not exist")
        }
        SqlState::CHECK_VIOLATION => ApiError::validation(field, "is out of range"),
        _ => err.into(),
    }
}
