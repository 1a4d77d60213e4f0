//! The store node's HTTP routes.

pub mod customers;
pub mod inventory;
pub mod orders;
pub mod products;
pub mod reports;

pos_shared::routes! {
    "/products" => { GET => products::list },
    "/customers" => { GET => customers::list },
    "/customers/{id}" => { GET => customers::get },
    "/inventory" => { GET => inventory::list },
    "/inventory/receipts" => { POST => inventory::receive },
    "/orders" => { POST => orders::create },
    "/orders/{global_order_id}" => { GET => orders::get },
    "/orders/{global_order_id}/refunds" => { POST => orders::refund },
    "/reports/daily" => { GET => reports::daily },
    "/sync/status" => { GET => reports::sync_status },
    "/metrics" => { GET => reports::metrics },
    "/openapi.json" => { GET => pos_shared::openapi::serve },
}
