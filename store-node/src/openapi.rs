//! The store node's OpenAPI document, derived from the handlers' `#[utoipa::path]` annotations and
//! served at `GET /openapi.json` (rendered once at start-up; see `pos_shared::openapi`).

use pos_shared::openapi::{BearerAuth, OpenApiJson};
use utoipa::OpenApi;

use crate::routes::{customers, inventory, orders, products, reports};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "POS store node",
        version = env!("CARGO_PKG_VERSION"),
        description = "A city's store node: sales, refunds and inventory of the city's stores, selling \
                       whether or not head office answers. JSON; money as decimal strings such as \
                       \"150.00\"; errors as `{\"error\": code, \"message\": text}`. The store of a sale \
                       is the cashier token's store.",
    ),
    paths(
        pos_shared::http::health,
        pos_shared::openapi::serve,
        products::list,
        customers::list,
        customers::get,
        inventory::list,
        inventory::receive,
        orders::create,
        orders::get,
        orders::refund,
        reports::daily,
        reports::sync_status,
        reports::metrics,
    ),
    components(schemas(
        pos_shared::error::ErrorBody,
        pos_shared::http::Health,
        pos_shared::money::Money,
        crate::db::products::Product,
        crate::db::customers::Customer,
        crate::db::inventory::StockLine,
        inventory::NewReceipt,
        inventory::ReceiptLine,
        inventory::ReceiptResult,
        orders::NewOrder,
        orders::NewOrderLine,
        orders::NewPayment,
        orders::NewRefund,
        orders::RefundLine,
        crate::db::orders::Order,
        crate::db::orders::OrderLine,
        crate::db::orders::Payment,
        crate::db::refunds::Refund,
        crate::db::refunds::RefundLine,
        crate::db::reports::DailyReport,
        crate::db::reports::MethodTotals,
        pos_shared::outbox::OutboxBacklog,
        reports::SyncStatusView,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "catalogue", description = "Products with this node's prices, and this city's customers"),
        (name = "inventory", description = "Stock of the city's stores"),
        (name = "sales", description = "Sales and refunds at the till"),
        (name = "reports", description = "End of day, and the backlog of sales not yet reported to central"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// The document as served, rendered once.
pub fn document() -> anyhow::Result<OpenApiJson> {
    OpenApiJson::new(&ApiDoc::openapi())
}
