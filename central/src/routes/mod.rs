//! Central's HTTP routes.

use actix_web::web;

pub mod cities;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/cities")
            .route(web::get().to(cities::list))
            .route(web::post().to(cities::create)),
    );
}
