//! The store node's OpenAPI document: its description and tags, and the parts each route module
//! documents (`pos_shared::routes!`), served at `GET /openapi.json` (rendered once at start-up).

use pos_shared::openapi::BearerAuth;
use utoipa::OpenApi;

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
    modifiers(&BearerAuth),
    tags(
        (name = "catalogue", description = "Products with this node's prices, and this city's customers"),
        (name = "inventory", description = "Stock of the city's stores"),
        (name = "transfers", description = "Stock shipped between stores, in this city or another: shipped, received, cancelled"),
        (name = "sales", description = "Sales, refunds and receipts at the till"),
        (name = "shifts", description = "Shifts at a terminal: float, cash in and out, X and Z reports"),
        (name = "reports", description = "End of day, and the backlog of sales not yet reported to central"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// The whole document.
pub fn api() -> utoipa::openapi::OpenApi {
    pos_shared::openapi::assemble(ApiDoc::openapi(), crate::routes::documented())
}
