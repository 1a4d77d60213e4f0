//! The store node's HTTP routes.

use actix_web::web;

pub mod customers;
pub mod inventory;
pub mod orders;
pub mod products;
pub mod reports;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/products", web::get().to(products::list))
        .route("/customers", web::get().to(customers::list))
        .route("/customers/{id}", web::get().to(customers::get))
        .route("/inventory", web::get().to(inventory::list))
        .route("/inventory/receipts", web::post().to(inventory::receive))
        .route("/orders", web::post().to(orders::create))
        .route("/orders/{id}", web::get().to(orders::get))
        .route("/orders/{id}/refunds", web::post().to(orders::refund))
        .route("/reports/daily", web::get().to(reports::daily))
        .route("/sync/status", web::get().to(reports::sync_status))
        .route("/metrics", web::get().to(reports::metrics));
}
