//! What the handlers share: the pool, the configuration, the replicator (to wake a node's worker) and
//! the sessions that ask the nodes.

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
}
