//! Central's HTTP routes.

use actix_web::{HttpResponse, web};
use anyhow::Context;
use pos_shared::error::ApiError;

use crate::startup::AppState;

pub mod cities;
pub mod dashboard;
pub mod master;
pub mod orders;
pub mod replication;
pub mod reports;

pub type Reply = Result<HttpResponse, ApiError>;

pub async fn client(state: &AppState) -> Result<deadpool_postgres::Object, ApiError> {
    Ok(state.pool.get().await.context("getting a connection")?)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/cities")
            .route(web::get().to(cities::list))
            .route(web::post().to(cities::create)),
    )
    .service(
        web::resource("/nodes")
            .route(web::get().to(replication::list_nodes))
            .route(web::post().to(replication::register_node)),
    )
    .service(
        web::resource("/categories")
            .route(web::get().to(master::list_categories))
            .route(web::post().to(master::create_category)),
    )
    .service(
        web::resource("/products")
            .route(web::get().to(master::list_products))
            .route(web::post().to(master::create_product)),
    )
    .service(
        web::resource("/products/{id}")
            .route(web::get().to(master::get_product))
            .route(web::patch().to(master::update_product)),
    )
    .service(
        web::resource("/stores")
            .route(web::get().to(master::list_stores))
            .route(web::post().to(master::create_store)),
    )
    .route("/stores/{id}", web::patch().to(master::update_store))
    .service(
        web::resource("/customers")
            .route(web::get().to(master::list_customers))
            .route(web::post().to(master::create_customer)),
    )
    .service(
        web::resource("/customers/{id}")
            .route(web::get().to(master::get_customer))
            .route(web::patch().to(master::update_customer))
            .route(web::delete().to(master::delete_customer)),
    )
    .route("/metrics", web::get().to(replication::metrics))
    .route("/replication/status", web::get().to(replication::status))
    .route("/replication/log", web::get().to(replication::log))
    .route("/replication/retry", web::post().to(replication::retry))
    .route("/orders/{id}", web::get().to(orders::get))
    .route("/reports/sales", web::get().to(reports::sales))
    .route("/reports/inventory", web::get().to(reports::inventory))
    .route("/dashboard", web::get().to(dashboard::show))
    .route("/dashboard/login", web::post().to(dashboard::login))
    .route("/dashboard/logout", web::post().to(dashboard::logout))
    .route("/dashboard/links", web::post().to(dashboard::issue_link))
    .route(
        "/dashboard/session/{nonce}",
        web::get().to(dashboard::redeem_link),
    )
    .route("/dashboard/requeue", web::post().to(dashboard::requeue));
}
