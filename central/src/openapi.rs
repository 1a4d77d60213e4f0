//! Central's OpenAPI document, derived from the handlers' `#[utoipa::path]` annotations and served at
//! `GET /openapi.json` (rendered once at start-up; see `pos_shared::openapi`).

use pos_shared::openapi::{BearerAuth, OpenApiJson};
use utoipa::OpenApi;

use crate::routes::{cities, dashboard, master, nodes, orders, replication, reports};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "POS central",
        version = env!("CARGO_PKG_VERSION"),
        description = "Head office: master data, replication to the store nodes, the chain's orders and \
                       reports. JSON; money as decimal strings such as \"150.00\"; errors as \
                       `{\"error\": code, \"message\": text}`.",
    ),
    paths(
        pos_shared::http::health,
        pos_shared::openapi::serve,
        cities::list,
        cities::create,
        cities::update,
        nodes::list_nodes,
        nodes::register_node,
        nodes::update,
        nodes::resync,
        master::list_categories,
        master::create_category,
        master::list_products,
        master::create_product,
        master::get_product,
        master::update_product,
        master::list_stores,
        master::create_store,
        master::update_store,
        master::list_customers,
        master::create_customer,
        master::get_customer,
        master::update_customer,
        master::delete_customer,
        replication::metrics,
        replication::status,
        replication::log,
        replication::retry,
        replication::requeue,
        orders::get,
        reports::sales,
        reports::inventory,
        dashboard::show,
        dashboard::login,
        dashboard::logout,
        dashboard::issue_link,
        dashboard::redeem_link,
        dashboard::requeue,
    ),
    components(schemas(
        pos_shared::error::ErrorBody,
        pos_shared::http::Health,
        pos_shared::money::Money,
        cities::NewCity,
        cities::CityPatch,
        crate::db::cities::City,
        master::NewCategory,
        master::NewProduct,
        master::ProductPatch,
        master::NewStore,
        master::StorePatch,
        master::NewCustomer,
        master::CustomerPatch,
        crate::db::master::Category,
        crate::db::master::Product,
        crate::db::master::Store,
        crate::db::master::Customer,
        nodes::NewNode,
        nodes::RegisteredNode,
        nodes::NodePatch,
        nodes::NodeUpdated,
        crate::db::nodes::Resync,
        replication::NodeStatus,
        replication::ReplicationStatus,
        replication::RetryRequest,
        replication::RetryResult,
        replication::RequeueRequest,
        replication::RequeueResult,
        crate::db::nodes::Node,
        crate::db::replication::NodeBacklog,
        crate::db::replication::LogEntry,
        orders::OrderView,
        crate::db::orders::OrderMapping,
        reports::SalesFigures,
        reports::SalesReportRow,
        reports::SalesReport,
        reports::InventoryReport,
        crate::db::reports::StockRow,
        crate::fanout::NodeAnswer,
        dashboard::LoginForm,
        dashboard::RequeueForm,
        dashboard::LoginLink,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "master data", description = "Cities, categories, products, stores and customers; writes replicate to the nodes"),
        (name = "nodes", description = "The store nodes: registration, enabling, resync"),
        (name = "replication", description = "The replication log: status, retries, re-queues"),
        (name = "orders", description = "The chain's sales by global order id"),
        (name = "reports", description = "Reports across every store, by parallel fan-out to the nodes"),
        (name = "dashboard", description = "The server-rendered head office dashboard and its session"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// The document as served, rendered once.
pub fn document() -> anyhow::Result<OpenApiJson> {
    OpenApiJson::new(&ApiDoc::openapi())
}
