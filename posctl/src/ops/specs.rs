//! What each service runs with: its binary and its whole `POS_` environment (the operator's settings,
//! then who it is, its database and its credentials). Used by `up`.

use anyhow::Context;

use crate::cluster::{self, CityState, InstanceState, Paths, State};
use crate::services::{self, Binaries, ServiceSpec};

/// The operator's `POS_*` settings, then those that say which service this is.
fn common_env(instance: &InstanceState, paths: &Paths) -> anyhow::Result<Vec<(String, String)>> {
    let mut env = services::operator_settings(std::env::vars());
    if !env.iter().any(|(key, _)| key == "POS_LOG_FORMAT") {
        env.push(("POS_LOG_FORMAT".into(), "human".into()));
    }
    env.extend([
        ("POS_HTTP_HOST".into(), "127.0.0.1".into()),
        ("POS_HTTP_PORT".into(), instance.http_port.to_string()),
        ("POS_DATABASE_URL".into(), instance.app_url(paths)?),
        (
            "POS_MIGRATION_DATABASE_URL".into(),
            instance.owner_url(paths)?,
        ),
    ]);
    Ok(env)
}

/// `POS_ADMIN_TOKEN_FILE`, the file holding head office's token (written from the state unless it holds
/// it already, with the token a rotation is moving to: see `posctl token rotate-admin`).
fn admin_token_setting(state: &State, paths: &Paths) -> anyhow::Result<(String, String)> {
    let file = paths.admin_token_file();
    let held = std::fs::read_to_string(&file).unwrap_or_default();
    if !held
        .split(',')
        .any(|token| token.trim() == state.admin_token)
    {
        cluster::write_private(&file, state.admin_token.as_bytes())?;
    }
    Ok(("POS_ADMIN_TOKEN_FILE".into(), file.display().to_string()))
}

pub(super) fn central_spec(
    state: &State,
    paths: &Paths,
    binaries: &Binaries,
) -> anyhow::Result<ServiceSpec> {
    let mut env = common_env(&state.central, paths)?;
    env.push(admin_token_setting(state, paths)?);
    Ok(ServiceSpec {
        name: cluster::CENTRAL.to_owned(),
        binary: binaries.central.clone(),
        http_port: state.central.http_port,
        env,
    })
}

pub(super) fn node_spec(
    state: &State,
    city: &CityState,
    paths: &Paths,
    binaries: &Binaries,
) -> anyhow::Result<ServiceSpec> {
    let city_id = city
        .city_id
        .with_context(|| format!("{} has no id at central", city.name))?;
    let mut env = common_env(&city.instance, paths)?;
    env.push(("POS_CITY_ID".into(), city_id.to_string()));
    env.push(admin_token_setting(state, paths)?);
    // Its own login at central: it may report only its own city's sales.
    env.push((
        "POS_CENTRAL_DATABASE_URL".into(),
        state.central.pg(paths)?.url(
            &pos_shared::pgctl::node_login(city_id),
            &city.central_login_password,
            &state.central.dbname,
        ),
    ));
    Ok(ServiceSpec {
        name: city.service_name(),
        binary: binaries.store_node.clone(),
        http_port: city.instance.http_port,
        env,
    })
}
