//! What a started cluster leaves to read: `DIR/cluster.json` (URLs, database URLs and tokens, for
//! programs and tests) and the summary `up` prints for the operator.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::cluster::{self, Paths, State};
use crate::table;

pub(super) fn write_cluster_file(state: &State, paths: &Paths) -> anyhow::Result<()> {
    let nodes = state
        .cities
        .iter()
        .map(|city| {
            Ok(json!({
                "city": city.name,
                "city_id": city.city_id,
                "url": city.instance.http_url(),
                "database_url": city.instance.app_url(paths)?,
                "stores": city.stores.iter().map(|s| json!({
                    "id": s.id, "code": s.code, "cashier_token": s.cashier_token,
                })).collect::<Vec<_>>(),
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let document = json!({
        "central": {
            "url": state.central.http_url(),
            "database_url": state.central.app_url(paths)?,
            "admin_token": state.admin_token,
            "account": {
                "username": cluster::HEAD_OFFICE_ACCOUNT,
                "password": state.head_office_password,
            },
        },
        "nodes": nodes,
    });
    let text = serde_json::to_vec_pretty(&document).context("serialising cluster.json")?;
    cluster::write_private(&paths.cluster_file(), &text)
}

pub(super) fn print_summary(state: &State, paths: &Paths, detach: bool) {
    let central = &state.central;
    let mut rows = vec![vec![
        cluster::CENTRAL.to_owned(),
        central.http_url(),
        format!("127.0.0.1:{} {}", central.pg_port, central.dbname),
        format!(
            "dashboard {}/dashboard (sign in as {})",
            central.http_url(),
            cluster::HEAD_OFFICE_ACCOUNT
        ),
    ]];
    for city in &state.cities {
        let stores: Vec<&str> = city.stores.iter().map(|s| s.code.as_str()).collect();
        rows.push(vec![
            city.name.clone(),
            city.instance.http_url(),
            format!(
                "127.0.0.1:{} {}",
                city.instance.pg_port, city.instance.dbname
            ),
            format!(
                "city_id {}, stores: {}",
                city.city_id.map_or("?".to_owned(), |id| id.to_string()),
                if stores.is_empty() {
                    "none".to_owned()
                } else {
                    stores.join(", ")
                }
            ),
        ]);
    }
    println!();
    print!(
        "{}",
        table::render(&["SERVICE", "URL", "POSTGRESQL", "DETAIL"], &rows)
    );
    println!();
    println!(
        "Tokens and passwords: {} (admin token, cashier tokens, the {} account, database URLs)",
        paths.cluster_file().display(),
        cluster::HEAD_OFFICE_ACCOUNT
    );
    println!(
        "Logs: {} (warnings also here; POS_LOG=info for each request)",
        paths.logs_dir().display()
    );
    let dir = shell_word(&paths.dir);
    if detach {
        println!("Stop: posctl down --dir {dir}   (add --purge to delete everything)");
    } else {
        println!("Stop: Ctrl-C, or posctl down --dir {dir} from another terminal");
    }
}

fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
