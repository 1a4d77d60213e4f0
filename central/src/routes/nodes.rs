//! The store nodes (admin only): registration, enabling and disabling, resync.

use crate::auth::AdminAccess;
use actix_web::{HttpResponse, web};
use pos_shared::domain::{CityId, DbName, DbUser, Host, Password, Port};
use pos_shared::error::{ApiError, ErrorBody};
use pos_shared::extract::{Body, Id, Query};
use pos_shared::page::{Page, PageQuery};
use serde::{Deserialize, Serialize};

use super::{Reply, client, written};
use crate::db::nodes::{self, Node, NodeConnection, Resync};
use crate::db::write_error;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    pub city_id: CityId,
    pub host: Host,
    pub port: Port,
    pub dbname: DbName,
    /// The node's replication role (it may only call the node's apply function).
    pub user: DbUser,
    pub password: Password,
    /// The login the node's outbox reports its sales under at central: a member of `pos_replicator`
    /// that the operator creates; `pos_node_<city_id>` when absent. The node may report only its own
    /// city's stores under it.
    pub central_login: Option<DbUser>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisteredNode {
    pub city_id: i32,
    pub server_name: String,
    pub central_login: String,
    pub reachable: bool,
}

/// The registered store nodes.
#[utoipa::path(
    get,
    path = "/nodes",
    tag = "nodes",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Nodes by city, a page", body = Page<Node>),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        pos_shared::openapi::BadPage,
        pos_shared::openapi::ServerErrors,
    ),
)]
pub async fn list_nodes(
    _: AdminAccess,
    state: web::Data<AppState>,
    page: Query<PageQuery>,
) -> Reply {
    let page = page.request()?;
    let nodes = nodes::list_nodes(&client(&state).await?, page).await?;
    Ok(HttpResponse::Ok().json(page.page(nodes, |n| i64::from(n.city_id))))
}

/// Registers a city's node: central's replicator connects to it with the given role.
#[utoipa::path(
    post,
    path = "/nodes",
    tag = "nodes",
    security(("bearer" = [])),
    request_body = NewNode,
    responses(
        (status = 201, description = "The node registered, with a first reachability probe", body = RegisteredNode),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 409, description = "The city has a node already, or the login is another node's (`conflict`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, an invalid field, or no such city (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn register_node(
    AdminAccess(actor): AdminAccess,
    state: web::Data<AppState>,
    Body(node): Body<NewNode>,
) -> Reply {
    let city_id = node.city_id.get();
    let mut db = client(&state).await?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    crate::db::accounts::set_actor(&tx, &actor.name).await?;
    let connection = NodeConnection {
        host: node.host.as_str(),
        port: node.port.get(),
        dbname: node.dbname.as_str(),
        user: node.user.as_str(),
        password: node.password.expose(),
        central_login: node.central_login.as_ref().map(DbUser::as_str),
    };
    let (server_name, central_login) = match nodes::register_node(&tx, city_id, &connection).await {
        Ok(registered) => registered,
        Err(e)
            if pos_shared::db::sqlstate(&e)
                == Some(&tokio_postgres::error::SqlState::NO_DATA_FOUND) =>
        {
            return Err(ApiError::validation("city_id", "no such city"));
        }
        Err(e)
            if pos_shared::db::sqlstate(&e)
                == Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT) =>
        {
            return Err(ApiError::conflict(format!(
                "city {city_id} has a node already"
            )));
        }
        Err(e) => return Err(write_error(e)),
    };
    tx.commit().await.map_err(anyhow::Error::from)?;
    state.replicator.sync_nodes().await?;
    let reachable = nodes::probe_node(&db, city_id).await.unwrap_or(false);
    Ok(HttpResponse::Created().json(RegisteredNode {
        city_id,
        server_name,
        central_login,
        reachable,
    }))
}

/// A node operation's failure as an answer: the SQL functions name an unknown node (PS404) and a
/// disabled one (PS409) with SQLSTATEs of their own.
fn node_error(err: anyhow::Error) -> ApiError {
    let code = pos_shared::db::sqlstate(&err).map(|c| c.code().to_owned());
    let message = || {
        pos_shared::db::db_error(&err)
            .map(|db| db.message().to_owned())
            .unwrap_or_default()
    };
    match code.as_deref() {
        Some("PS404") => ApiError::not_found(message()),
        Some("PS409") => ApiError::conflict(message()),
        _ => err.into(),
    }
}

/// Reloads the node's fragment from central, online: its city's customers and stores and the whole
/// catalogue are queued and shipped in batches while central's writes and the node's sales go on.
/// Afterwards the node's replicas equal central's fragment, and rows it listed that central does not
/// have for its city are retired there; its order counters are raised to what central has received.
#[utoipa::path(
    post,
    path = "/nodes/{city_id}/resync",
    operation_id = "resync_node",
    tag = "nodes",
    security(("bearer" = [])),
    params(("city_id" = i32, Path, description = "The node's city", minimum = 1)),
    responses(
        (status = 202, description = "Queued; `node_checked` is false when the node could not be asked what it holds", body = Resync),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No node is registered for the city (`not_found`)", body = ErrorBody),
        (status = 409, description = "The node is disabled (`conflict`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn resync(_: AdminAccess, state: web::Data<AppState>, city_id: Id) -> Reply {
    let resync = nodes::resync(&client(&state).await?, *city_id)
        .await
        .map_err(node_error)?;
    state.replicator.wake(Some(*city_id));
    Ok(HttpResponse::Accepted().json(resync))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// Everything the node delivered from this moment on is sent again: the start of the backup central
    /// was restored from, less a few minutes for the machines' clocks.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// After central is restored from a backup: asks the node to send again what its outbox delivered since
/// `since` (sales, refunds, transfer steps, customers signed up at the till). Central keeps each once, so
/// what it still had is not doubled. The node answers at once; the entries go up with its outbox.
#[utoipa::path(
    post,
    path = "/nodes/{city_id}/resend",
    operation_id = "resend_from_node",
    tag = "nodes",
    security(("bearer" = [])),
    params(("city_id" = i32, Path, description = "The node's city", minimum = 1)),
    request_body = ResendRequest,
    responses(
        (status = 202, description = "Queued at the node: how many entries, and how many sales and refunds since then the node can no longer send", body = nodes::Resend),
        pos_shared::openapi::BadJson,
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No node is registered for the city (`not_found`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape, or `since` not a time (`validation_failed`)", body = ErrorBody),
        (status = 503, description = "The node did not answer (`unavailable`): try again when it is back", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn resend(
    _: AdminAccess,
    state: web::Data<AppState>,
    city_id: Id,
    Body(request): Body<ResendRequest>,
) -> Reply {
    if !nodes::is_registered(&client(&state).await?, *city_id).await? {
        return Err(ApiError::not_found(format!(
            "no node is registered for city {city_id}"
        )));
    }
    let since = request.since;
    let resend = state
        .node_sessions
        .ask_node(*city_id, |session, city| async move {
            nodes::resend_from_node(&session, city, since).await
        })
        .await
        .map_err(|why| ApiError::Unavailable(anyhow::anyhow!("the node did not answer: {why}")))?;
    Ok(HttpResponse::Accepted().json(resend))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePatch {
    /// A disabled node gets nothing (its open entries wait); enabling it resyncs it.
    pub enabled: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NodeUpdated {
    pub city_id: i32,
    pub enabled: bool,
    /// The resync that enabling started.
    pub resync: Option<Resync>,
}

/// Enables or disables a node.
#[utoipa::path(
    patch,
    path = "/nodes/{city_id}",
    operation_id = "update_node",
    tag = "nodes",
    security(("bearer" = [])),
    params(("city_id" = i32, Path, description = "The node's city", minimum = 1)),
    request_body = NodePatch,
    responses(
        (status = 200, description = "The node's new state", body = NodeUpdated),
        (status = 400, description = "Malformed JSON (`bad_request`)", body = ErrorBody),
        pos_shared::openapi::Unauthorized,
        pos_shared::openapi::NotAdmin,
        (status = 404, description = "No node is registered for the city (`not_found`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape (`validation_failed`)", body = ErrorBody),
        pos_shared::openapi::ServerErrors,
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn update(
    AdminAccess(actor): AdminAccess,
    state: web::Data<AppState>,
    city_id: Id,
    Body(patch): Body<NodePatch>,
) -> Reply {
    let resync = written(&state, &actor, async |tx| {
        nodes::set_enabled(tx, *city_id, patch.enabled)
            .await
            .map_err(node_error)
    })
    .await?;
    if patch.enabled {
        state.replicator.sync_nodes().await?;
        state.replicator.wake(Some(*city_id));
    }
    Ok(HttpResponse::Ok().json(NodeUpdated {
        city_id: *city_id,
        enabled: patch.enabled,
        resync,
    }))
}

pos_shared::routes! {
    schemas(NewNode, RegisteredNode, NodePatch, NodeUpdated, ResendRequest, crate::db::nodes::Resync, crate::db::nodes::Resend, crate::db::nodes::Node),
    "/nodes" => { GET => list_nodes, POST => register_node },
    "/nodes/{city_id}" => { PATCH => update },
    "/nodes/{city_id}/resync" => { POST => resync },
    "/nodes/{city_id}/resend" => { POST => resend },
}
