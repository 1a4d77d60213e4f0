//! What the handlers share: the pool, the configuration, the replicator (to wake a node's worker), the
//! sessions that ask the nodes, and the dashboard's login links.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use crate::config::Config;
use crate::fanout::NodeSessions;
use crate::replicator::Replicator;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub replicator: Replicator,
    /// Sessions that ask the nodes for reports, per node.
    pub node_sessions: NodeSessions,
    /// The dashboard's one-time login links (in memory: a link works on the replica that made it).
    pub login_links: LoginLinks,
}

/// How long a one-time login link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(60);

/// One-time login links: nonce → expiry and the account it signs in (`None`: the admin token). In
/// memory: a link works on the replica that made it.
#[derive(Clone, Default)]
pub struct LoginLinks(Arc<Mutex<HashMap<String, LoginLink>>>);

/// A link's expiry and the account it signs in (`None`: the admin token).
type LoginLink = (Instant, Option<i32>);

impl LoginLinks {
    /// A new link's nonce for `account_id`, valid for [`LINK_LIFETIME`].
    pub fn issue(&self, account_id: Option<i32>) -> String {
        let nonce = pos_shared::auth::generate_token();
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        links.retain(|_, (expiry, _)| *expiry > now);
        links.insert(nonce.clone(), (now + LINK_LIFETIME, account_id));
        nonce
    }

    /// The account of a live link (`Some(None)`: the admin token's); it is used up either way.
    pub fn redeem(&self, nonce: &str) -> Option<Option<i32>> {
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links
            .remove(nonce)
            .filter(|(expiry, _)| *expiry > Instant::now())
            .map(|(_, account)| account)
    }
}
