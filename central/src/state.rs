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

/// One-time login links: nonce → expiry. In memory: a link works on the replica that made it.
#[derive(Clone, Default)]
pub struct LoginLinks(Arc<Mutex<HashMap<String, Instant>>>);

impl LoginLinks {
    /// A new link's nonce, valid for [`LINK_LIFETIME`].
    pub fn issue(&self) -> String {
        let nonce = pos_shared::auth::generate_token();
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        links.retain(|_, expiry| *expiry > now);
        links.insert(nonce.clone(), now + LINK_LIFETIME);
        nonce
    }

    /// Whether `nonce` is a live link; it is used up either way.
    pub fn redeem(&self, nonce: &str) -> bool {
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links
            .remove(nonce)
            .is_some_and(|expiry| expiry > Instant::now())
    }
}
