//! What the handlers share: the pool, the configuration and the outbox worker's signal.

use std::sync::Arc;

use deadpool_postgres::Pool;
use pos_shared::delivery::DeliverySignal;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    /// Woken after each sale so that central hears of it at once; says whether central answers.
    pub outbox: Arc<DeliverySignal>,
}
