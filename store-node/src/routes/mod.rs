//! The store node's HTTP routes.

use actix_web::web;

pub mod products;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/products", web::get().to(products::list));
}
