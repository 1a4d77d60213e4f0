//! Central's HTTP routes.

use actix_web::HttpResponse;
use anyhow::Context;
use pos_shared::error::ApiError;

use crate::startup::AppState;

pub mod cities;
pub mod dashboard;
pub mod master;
pub mod nodes;
pub mod orders;
pub mod replication;
pub mod reports;
pub mod tokens;

pub type Reply = Result<HttpResponse, ApiError>;

pub async fn client(state: &AppState) -> Result<deadpool_postgres::Object, ApiError> {
    Ok(state.pool.get().await.context("getting a connection")?)
}

pos_shared::routes! {
    "/cities" => { GET => cities::list, POST => cities::create },
    "/cities/{id}" => { PATCH => cities::update },
    "/nodes" => { GET => nodes::list_nodes, POST => nodes::register_node },
    "/nodes/{city_id}" => { PATCH => nodes::update },
    "/nodes/{city_id}/resync" => { POST => nodes::resync },
    "/categories" => { GET => master::list_categories, POST => master::create_category },
    "/products" => { GET => master::list_products, POST => master::create_product },
    "/products/{id}" => { GET => master::get_product, PATCH => master::update_product },
    "/stores" => { GET => master::list_stores, POST => master::create_store },
    "/stores/{id}" => { PATCH => master::update_store },
    "/stores/{id}/cashier-tokens" => { GET => tokens::list, POST => tokens::issue },
    "/cashier-tokens/{id}" => { DELETE => tokens::revoke },
    "/customers" => { GET => master::list_customers, POST => master::create_customer },
    "/customers/{id}" => {
        GET => master::get_customer,
        PATCH => master::update_customer,
        DELETE => master::delete_customer,
    },
    "/metrics" => { GET => replication::metrics },
    "/replication/status" => { GET => replication::status },
    "/replication/log" => { GET => replication::log },
    "/replication/retry" => { POST => replication::retry },
    "/replication/requeue" => { POST => replication::requeue },
    "/orders/{global_order_id}" => { GET => orders::get },
    "/reports/sales" => { GET => reports::sales },
    "/reports/inventory" => { GET => reports::inventory },
    "/dashboard" => { GET => dashboard::show },
    "/dashboard/login" => { POST => dashboard::login },
    "/dashboard/logout" => { POST => dashboard::logout },
    "/dashboard/links" => { POST => dashboard::issue_link },
    "/dashboard/session/{nonce}" => { GET => dashboard::redeem_link },
    "/dashboard/requeue" => { POST => dashboard::requeue },
    "/openapi.json" => { GET => pos_shared::openapi::serve },
}
