//! What `up` does at central once it is healthy: the cities (created when missing), each city's stores
//! with their cashier credentials, and the registration of the store nodes for replication.

use anyhow::Context;
use serde_json::json;

use super::up::Report;
use crate::api::model::{City, Node, Store};
use crate::api::{Api, status_of};
use crate::cluster::{self, State, StoreState};

/// The zone of the cities `up` creates: the local cluster's cities are the chain's, in Pakistan
/// (`PATCH /cities/{id}` changes it).
const CITY_TIME_ZONE: &str = "Asia/Karachi";

/// Creates the cities central does not know yet and records every city's id.
pub(super) async fn ensure_cities(api: &Api, state: &mut State) -> anyhow::Result<()> {
    let mut known: Vec<City> = api.get_all("/cities").await.context("listing cities")?;
    for city in &mut state.cities {
        city.city_id = Some(ensure_city(api, &mut known, &city.name).await?);
    }
    Ok(())
}

/// The id of the city named `name` (case-insensitive) at central, created when `known` (central's
/// cities, kept up to date here) has none.
pub(crate) async fn ensure_city(
    api: &Api,
    known: &mut Vec<City>,
    name: &str,
) -> anyhow::Result<i32> {
    if let Some(city) = known.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
        return Ok(city.id);
    }
    let created: anyhow::Result<City> = api
        .post(
            "/cities",
            &json!({ "name": name, "time_zone": CITY_TIME_ZONE }),
        )
        .await;
    match created {
        Ok(c) => {
            crate::step!("created city {} (id {})", c.name, c.id);
            let id = c.id;
            known.push(c);
            Ok(id)
        }
        // Created meanwhile by someone else: look again.
        Err(e) if status_of(&e) == Some(409) => {
            *known = api.get_all("/cities").await.context("listing cities")?;
            known
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.id)
                .ok_or(e)
                .with_context(|| format!("creating city {name}"))
        }
        Err(e) => Err(e.context(format!("creating city {name}"))),
    }
}

/// Every store of each city at central, with a cashier credential (kept from earlier runs, else issued
/// at central: it reaches the node by replication, so the node needs no restart for it).
pub(super) async fn sync_stores(api: &Api, state: &mut State) -> anyhow::Result<()> {
    let stores: Vec<Store> = api.get_all("/stores").await.context("listing stores")?;
    for city in &mut state.cities {
        let Some(city_id) = city.city_id else {
            continue;
        };
        // The city's list is replaced only once every store has its credential.
        let mut listed = Vec::new();
        for store in stores.iter().filter(|s| s.city_id == city_id) {
            let kept = city
                .stores
                .iter()
                .find(|p| p.id == store.id && p.credential_id.is_some());
            let (credential_id, cashier_token) = match kept {
                Some(p) => (p.credential_id, p.cashier_token.clone()),
                None => {
                    let (id, token) =
                        crate::stores::issue_credential(api, store.id, crate::stores::LABEL)
                            .await?;
                    (Some(id), token)
                }
            };
            listed.push(StoreState {
                id: store.id,
                code: store.code.clone(),
                cashier_token,
                credential_id,
            });
        }
        city.stores = listed;
    }
    Ok(())
}

/// Makes the head-office account `headoffice` (an admin) with `password`, unless it exists.
pub(crate) async fn ensure_head_office_account(api: &Api, password: &str) -> anyhow::Result<()> {
    let body = json!({
        "username": cluster::HEAD_OFFICE_ACCOUNT,
        "role": "admin",
        "password": password,
    });
    match api.post::<_, serde_json::Value>("/accounts", &body).await {
        Ok(_) => Ok(()),
        Err(e) if status_of(&e) == Some(409) => Ok(()),
        Err(e) => Err(e.context("making the head-office account")),
    }
}

/// Where central's replicator reaches a node's database.
pub(crate) struct NodeDatabase {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) dbname: String,
    pub(crate) user: String,
    pub(crate) password: String,
}

/// `POST /nodes`: registers the node of `city_id` at central (which then loads its fragment); whether
/// central reached the node's database.
pub(crate) async fn register_node(
    api: &Api,
    city_id: i32,
    database: &NodeDatabase,
) -> anyhow::Result<bool> {
    let body = json!({
        "city_id": city_id,
        "host": database.host,
        "port": database.port,
        "dbname": database.dbname,
        "user": database.user,
        "password": database.password,
    });
    let registered: RegisteredNode = api.post("/nodes", &body).await?;
    Ok(registered.reachable)
}

#[derive(serde::Deserialize)]
struct RegisteredNode {
    reachable: bool,
}

/// Registers each city's node at central unless it is there already; returns the registered city ids.
/// Failures become warnings: the rest of the cluster works without replication.
pub(super) async fn register_nodes(api: &Api, state: &State, report: &mut Report) -> Vec<i32> {
    let existing: Vec<Node> = match api.get_all("/nodes").await {
        Ok(nodes) => nodes,
        Err(e) => {
            report.warnings.push(format!(
                "listing nodes at central (no node registered): {e:#}"
            ));
            return Vec::new();
        }
    };
    let mut registered: Vec<i32> = existing.iter().map(|n| n.city_id).collect();
    for city in &state.cities {
        let Some(city_id) = city.city_id else {
            continue;
        };
        if registered.contains(&city_id) {
            continue;
        }
        let database = NodeDatabase {
            host: "127.0.0.1".to_owned(),
            port: city.instance.pg_port,
            dbname: city.instance.dbname.clone(),
            user: pos_shared::pgctl::REPLICATOR_ROLE.to_owned(),
            password: city.instance.replicator_password.clone(),
        };
        match register_node(api, city_id, &database).await {
            Ok(_) => {
                crate::step!("registered the {} node at central", city.name);
                registered.push(city_id);
            }
            Err(e) => report.warnings.push(format!(
                "registering the {} node at central: {e:#}",
                city.name
            )),
        }
    }
    registered
}
