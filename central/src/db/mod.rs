//! One function per query; statements are prepared once per connection (`prepare_cached`).

pub mod cities;

use tokio_postgres::error::SqlState;

pub fn is_unique_violation(err: &anyhow::Error) -> bool {
    pos_shared::db::sqlstate(err) == Some(&SqlState::UNIQUE_VIOLATION)
}
