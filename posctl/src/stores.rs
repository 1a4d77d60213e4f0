//! Stores and their cashier credentials, from the shell and with no restart: `posctl store add` creates a
//! store at central with a credential, `posctl token rotate` gives a store a new credential and revokes
//! the others. Credentials are head office's (`/stores/{id}/cashier-tokens`): central keeps their digests
//! and replicates them to every node, which takes them up within a second. `up` issues the stores' first
//! credentials the same way (`issue_credential`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;

use crate::api::model::Store;
use crate::api::{Api, status_of};
use crate::cluster::{CityState, Paths, State, StoreState};

/// The label of the credentials posctl issues for a till, as `GET /stores/{id}/cashier-tokens` shows
/// them.
pub const LABEL: &str = "posctl";
/// The terminal its credentials sell at, and who sells there (as receipts print it).
const TERMINAL: &str = "T1";
const CASHIER: &str = "Store manager";
/// How long a command waits for the node to take up a new credential.
const UPTAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a node reloads its credentials once they change (store-node's `cashiers`).
const RELOAD: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
struct IssuedCredential {
    id: i32,
    token: String,
}

#[derive(Deserialize)]
struct Credential {
    id: i32,
    label: Option<String>,
    revoked_at: Option<String>,
}

/// A new credential labelled `label` for the store at central: its id and its token (shown this once).
pub async fn issue_credential(
    api: &Api,
    store_id: i32,
    label: &str,
) -> anyhow::Result<(i32, String)> {
    let issued: IssuedCredential = api
        .post(
            &format!("/stores/{store_id}/cashier-tokens"),
            // The store's one till of the local cluster, with a manager's rights so that every till
            // operation (shifts with cash out among them) can be tried with it.
            &json!({ "label": label, "cashier": CASHIER, "terminal": TERMINAL, "role": "manager" }),
        )
        .await
        .with_context(|| format!("issuing a cashier credential for store {store_id}"))?;
    Ok((issued.id, issued.token))
}

/// Revokes the store's live credentials that `revoke` picks; how many it revoked.
pub async fn revoke_credentials(
    api: &Api,
    store_id: i32,
    revoke: impl Fn(i32, Option<&str>) -> bool,
) -> anyhow::Result<usize> {
    let credentials: Vec<Credential> = api
        .get_all(&format!("/stores/{store_id}/cashier-tokens"))
        .await
        .context("listing the store's credentials")?;
    let mut revoked = 0;
    for credential in credentials
        .iter()
        .filter(|c| c.revoked_at.is_none() && revoke(c.id, c.label.as_deref()))
    {
        api.delete(&format!("/cashier-tokens/{}", credential.id))
            .await
            .with_context(|| format!("revoking credential {}", credential.id))?;
        revoked += 1;
    }
    Ok(revoked)
}

/// `posctl store add CITY CODE --name NAME`.
pub async fn add(dir: &Path, city: &str, code: &str, name: &str) -> anyhow::Result<()> {
    let (paths, mut state) = crate::ops::load_existing(dir)?;
    let (index, city_id) = registered_city(&state, city)?;
    let api = central(&state)?;
    let store: Store = api
        .post(
            "/stores",
            &json!({ "code": code, "name": name, "city_id": city_id }),
        )
        .await
        .with_context(|| format!("creating store {code}"))?;
    let (credential_id, token) = issue_credential(&api, store.id, LABEL).await?;
    state.cities[index].stores.push(StoreState {
        id: store.id,
        code: store.code.clone(),
        cashier_token: token,
        credential_id: Some(credential_id),
    });
    crate::ops::save_cluster(&state, &paths)?;
    println!(
        "store {} (id {}) added in {}; its cashier token is in {}",
        store.code,
        store.id,
        state.cities[index].name,
        paths.cluster_file().display()
    );
    wait_for_uptake(&paths, &state.cities[index], store.id).await
}

/// `posctl token rotate STORE_CODE`: a new credential, then every other one of the store revoked.
pub async fn rotate(dir: &Path, code: &str) -> anyhow::Result<()> {
    let (paths, mut state) = crate::ops::load_existing(dir)?;
    let (city_index, store_index) = find_store(&state, code)?;
    let store_id = state.cities[city_index].stores[store_index].id;
    let api = central(&state)?;
    let (credential_id, token) = issue_credential(&api, store_id, LABEL).await?;
    {
        let store = &mut state.cities[city_index].stores[store_index];
        store.cashier_token = token;
        store.credential_id = Some(credential_id);
    }
    // Saved before revoking: the new token is never lost, whatever happens next.
    crate::ops::save_cluster(&state, &paths)?;
    let revoked = revoke_credentials(&api, store_id, |id, _| id != credential_id).await?;
    println!(
        "store {code}: new cashier token in {}; {revoked} older credential(s) revoked",
        paths.cluster_file().display()
    );
    wait_for_uptake(&paths, &state.cities[city_index], store_id).await
}

/// Rotates head office's token with no restart: the services' token file holds the new token and the
/// old one until every running service takes the new one, then the new one alone; the old one is
/// refused once central has read that.
pub async fn rotate_admin(dir: &Path) -> anyhow::Result<()> {
    let (paths, mut state) = crate::ops::load_existing(dir)?;
    let old = state.admin_token.clone();
    let new = pos_shared::auth::generate_token();
    let file = paths.admin_token_file();
    crate::cluster::write_private(&file, format!("{new},{old}").as_bytes())?;
    let mut services = vec![("central".to_owned(), state.central.http_url(), "/nodes")];
    services.extend(
        state
            .cities
            .iter()
            .map(|c| (c.name.clone(), c.instance.http_url(), "/products?limit=1")),
    );
    for (name, url, path) in &services {
        if crate::api::health(url).await.is_none() {
            println!("{name} does not answer; it reads the new token when it starts");
            continue;
        }
        let took = wait_for_status(url, &new, path, true).await?;
        println!("{name} accepts the new token ({} ms)", took.as_millis());
    }
    // Saved before the old token goes: the new one is never lost, whatever happens next.
    state.admin_token = new.clone();
    crate::ops::save_cluster(&state, &paths)?;
    crate::cluster::write_private(&file, new.as_bytes())?;
    if crate::api::health(&state.central.http_url())
        .await
        .is_some()
    {
        let took = wait_for_status(&state.central.http_url(), &old, "/nodes", false).await?;
        println!("central refuses the old token ({} ms)", took.as_millis());
    }
    println!(
        "head office's new token is in {}",
        paths.cluster_file().display()
    );
    Ok(())
}

/// Waits until `GET path` at `url` with `token` is let in (`admitted`) or refused (401); how long that took.
async fn wait_for_status(
    url: &str,
    token: &str,
    path: &str,
    admitted: bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .context("building an HTTP client")?;
    loop {
        let status = http
            .get(format!("{url}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status());
        let done = match status {
            Ok(status) if admitted => status.is_success(),
            Ok(status) => status == reqwest::StatusCode::UNAUTHORIZED,
            Err(_) => false,
        };
        if done {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < UPTAKE_TIMEOUT,
            "{url} did not {} the token within {} s",
            if admitted { "take" } else { "refuse" },
            UPTAKE_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn central(state: &State) -> anyhow::Result<Api> {
    Api::new(&state.central.http_url(), &state.admin_token)
}

fn registered_city(state: &State, name: &str) -> anyhow::Result<(usize, i32)> {
    let index = state.city_index(name).with_context(|| {
        let names: Vec<&str> = state.cities.iter().map(|c| c.name.as_str()).collect();
        format!("no city named {name:?}: choose one of {}", names.join(", "))
    })?;
    let city = &state.cities[index];
    let city_id = city
        .city_id
        .with_context(|| format!("{} is not at central yet: run posctl up", city.name))?;
    Ok((index, city_id))
}

fn find_store(state: &State, code: &str) -> anyhow::Result<(usize, usize)> {
    for (city_index, city) in state.cities.iter().enumerate() {
        if let Some(store_index) = city
            .stores
            .iter()
            .position(|s| s.code.eq_ignore_ascii_case(code.trim()))
        {
            return Ok((city_index, store_index));
        }
    }
    bail!("no store with code {code:?} in this cluster (posctl store add makes one)")
}

/// Waits until the city's node accepts the store's new token (it arrives by replication), so that the
/// operator knows the till can use it. A node that does not run is not waited for.
async fn wait_for_uptake(paths: &Paths, city: &CityState, store_id: i32) -> anyhow::Result<()> {
    let Some(store) = city.stores.iter().find(|s| s.id == store_id) else {
        return Ok(());
    };
    if crate::api::health(&city.instance.http_url())
        .await
        .is_none()
    {
        println!(
            "the {} node does not answer; it takes the token up once it runs",
            city.name
        );
        return Ok(());
    }
    let took = wait_for_credential(paths, city, store, UPTAKE_TIMEOUT).await?;
    println!(
        "the {} node accepts it ({} ms)",
        city.name,
        took.as_millis()
    );
    Ok(())
}

/// Waits until the city's node accepts the store's token; how long that took. The credential is looked
/// for in the node's replica first (its database, so that no refused request is logged while it travels),
/// then the service takes it up within [`RELOAD`].
pub async fn wait_for_credential(
    paths: &Paths,
    city: &CityState,
    store: &StoreState,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let credential_id = store
        .credential_id
        .with_context(|| format!("store {} has no head-office credential", store.code))?;
    let db = city
        .instance
        .pg(paths)?
        .superuser_client(&city.instance.dbname)
        .await
        .with_context(|| format!("connecting to the {} node's database", city.name))?;
    let stmt = db
        .prepare(
            "SELECT EXISTS (SELECT 1 FROM cashier_tokens WHERE id = $1 AND revoked_at IS NULL)",
        )
        .await
        .context("reading the node's cashier credentials")?;
    while !db
        .query_one(&stmt, &[&credential_id])
        .await
        .context("reading the node's cashier credentials")?
        .get::<_, bool>(0)
    {
        if started.elapsed() >= timeout {
            bail!(
                "the credential of store {} has not reached the {} node within {} s: see central's GET \
                 /replication/status",
                store.code,
                city.name,
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let node = Api::new(&city.instance.http_url(), &store.cashier_token)?;
    wait_until_accepted(&node, started, timeout)
        .await
        .with_context(|| {
            format!(
                "the {} node does not accept store {}'s token",
                city.name, store.code
            )
        })?;
    Ok(started.elapsed())
}

/// Waits until `node` (a node's API with a store's new credential) takes the credential up: it answers
/// 401 until then, for at most `timeout` from `started`.
pub async fn wait_until_accepted(
    node: &Api,
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(RELOAD).await;
        match node.get::<serde_json::Value>("/products?limit=1").await {
            Ok(_) => return Ok(()),
            Err(e) if status_of(&e) == Some(401) && started.elapsed() < timeout => {}
            Err(e) => return Err(e),
        }
    }
}
