//! `posctl node resync|enable|disable CITY`: central's node operations from the shell, through its API
//! with the cluster's admin token.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::api::Api;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAction {
    Resync,
    Enable,
    Disable,
}

pub async fn run(dir: &Path, city: &str, action: NodeAction) -> anyhow::Result<()> {
    let (_, state) = crate::ops::load_existing(dir)?;
    let entry = state.city(city).with_context(|| {
        let names: Vec<&str> = state.cities.iter().map(|c| c.name.as_str()).collect();
        format!("no city named {city:?}: choose one of {}", names.join(", "))
    })?;
    let city_id = entry.city_id.with_context(|| {
        format!(
            "{} is not registered at central yet: run posctl up",
            entry.name
        )
    })?;
    let api = Api::new(&state.central.http_url(), &state.admin_token)?;
    let resync: Option<Value> = match action {
        NodeAction::Resync => Some(
            api.post(&format!("/nodes/{city_id}/resync"), &json!({}))
                .await?,
        ),
        NodeAction::Enable | NodeAction::Disable => {
            let enabled = action == NodeAction::Enable;
            let answer: Value = api
                .patch(&format!("/nodes/{city_id}"), &json!({ "enabled": enabled }))
                .await?;
            println!(
                "{} node {}",
                entry.name,
                if enabled { "enabled" } else { "disabled" }
            );
            answer.get("resync").filter(|r| !r.is_null()).cloned()
        }
    };
    if let Some(resync) = resync {
        println!(
            "{}: resync queued {} rows{}",
            entry.name,
            resync["queued"],
            if resync["node_checked"] == json!(true) {
                ""
            } else {
                " (the node could not be asked what it holds: resync again once it answers)"
            }
        );
    }
    Ok(())
}
