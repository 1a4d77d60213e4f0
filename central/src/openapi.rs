//! Central's OpenAPI document: its description and tags, and the parts each route module documents
//! (`pos_shared::routes!`), served at `GET /openapi.json` (rendered once at start-up).

use pos_shared::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "POS central",
        version = env!("CARGO_PKG_VERSION"),
        description = "Head office: master data, replication to the store nodes, the chain's orders and \
                       reports. JSON; money as decimal strings such as \"150.00\"; errors as \
                       `{\"error\": code, \"message\": text}`. The bearer is the admin token or a \
                       session's token (`POST /sessions`); a `viewer` may read reports and orders, a \
                       `manager` master data too, an `admin` everything.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "master data", description = "Cities, categories, products, promotions, stores and customers; writes replicate to the nodes"),
        (name = "cashiers", description = "Cashier credentials: issued and revoked by head office, replicated to every node"),
        (name = "nodes", description = "The store nodes: registration, enabling, resync"),
        (name = "replication", description = "The replication log: status, retries, re-queues"),
        (name = "orders", description = "The chain's sales by global order id"),
        (name = "transfers", description = "Stock moved between stores: every transfer's state, as the nodes of its stores report it"),
        (name = "reports", description = "Reports across every store, by parallel fan-out to the nodes"),
        (name = "dashboard", description = "The server-rendered head office dashboard and its session"),
        (name = "accounts", description = "Head office's named accounts (admin, manager, viewer), their sessions, and the audit trail"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// The whole document.
pub fn api() -> utoipa::openapi::OpenApi {
    pos_shared::openapi::assemble(ApiDoc::openapi(), crate::routes::documented())
}
