//! The cluster's directory and state: ports, passwords and tokens (`DIR/state.json`, mode 0600). The
//! PostgreSQL instances under `DIR/pg/<name>` are made, started and stopped by `instances`. Used by every
//! command (`ops`, `node`) and by `services` (paths, ports) and `demo`.

mod instances;

pub use instances::{
    ensure_instance, ensure_node_login, is_running, prepare_database, stop_instance,
};

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pos_shared::auth::generate_token;
use pos_shared::pgctl::{APP_ROLE, OWNER_ROLE, PgInstance};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PORT_BASE: u16 = 15400;
pub const DEFAULT_CITIES: &[&str] = &["Karachi", "Lahore"];
/// HTTP ports are the PostgreSQL ports plus this offset.
pub const HTTP_OFFSET: u16 = 100;
pub const CENTRAL: &str = "central";
/// The head-office account (role admin) `up` makes, to sign in to the dashboard with.
pub const HEAD_OFFICE_ACCOUNT: &str = "headoffice";
const CENTRAL_DB: &str = "pos_central";

/// Where everything of one cluster lives.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
}

impl Paths {
    /// Creates `dir` when missing; the path is made absolute (`pg_ctl` runs from `/`).
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir =
            std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
        std::fs::create_dir_all(dir.join("logs")).context("creating the logs directory")?;
        Ok(Self { dir })
    }

    /// An existing cluster directory, or `None` when `dir` does not exist.
    pub fn existing(dir: &Path) -> anyhow::Result<Option<Self>> {
        if !dir.exists() {
            return Ok(None);
        }
        let dir =
            std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
        Ok(Some(Self { dir }))
    }

    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn cluster_file(&self) -> PathBuf {
        self.dir.join("cluster.json")
    }

    /// Head office's token, as the services read it (`POS_ADMIN_TOKEN_FILE`, read again every 2 s):
    /// `posctl token rotate-admin` rewrites it.
    pub fn admin_token_file(&self) -> PathBuf {
        self.dir.join("admin_token")
    }

    pub fn pids_file(&self) -> PathBuf {
        self.dir.join("pids.json")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn log_file(&self, service: &str) -> PathBuf {
        self.logs_dir().join(format!("{service}.log"))
    }

    pub fn pg_dir(&self, instance: &str) -> PathBuf {
        self.dir.join("pg").join(instance)
    }
}

/// One PostgreSQL instance and the service in front of it.
#[derive(Clone, Serialize, Deserialize)]
pub struct InstanceState {
    /// `central` or the city's slug (`karachi`): the directory under `DIR/pg`.
    pub name: String,
    pub pg_port: u16,
    pub http_port: u16,
    pub dbname: String,
    pub superuser_password: String,
    /// The schema owner's (the services migrate as it); made for clusters of earlier releases too.
    #[serde(default = "generate_token")]
    pub owner_password: String,
    pub app_password: String,
    pub replicator_password: String,
}

impl InstanceState {
    fn new(name: String, pg_port: u16, http_port: u16, dbname: String) -> Self {
        Self {
            name,
            pg_port,
            http_port,
            dbname,
            superuser_password: generate_token(),
            owner_password: generate_token(),
            app_password: generate_token(),
            replicator_password: generate_token(),
        }
    }

    pub fn pg(&self, paths: &Paths) -> anyhow::Result<PgInstance> {
        PgInstance::existing(
            paths.pg_dir(&self.name),
            self.pg_port,
            self.superuser_password.clone(),
        )
    }

    /// The service role's URL of this instance's database (a secret).
    pub fn app_url(&self, paths: &Paths) -> anyhow::Result<String> {
        Ok(self
            .pg(paths)?
            .url(APP_ROLE, &self.app_password, &self.dbname))
    }

    /// The schema owner's URL of this instance's database (a secret).
    pub fn owner_url(&self, paths: &Paths) -> anyhow::Result<String> {
        Ok(self
            .pg(paths)?
            .url(OWNER_ROLE, &self.owner_password, &self.dbname))
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct StoreState {
    pub id: i32,
    pub code: String,
    pub cashier_token: String,
    /// The head-office credential the token belongs to; `None` for a token of an earlier release
    /// (given to the node at start), which `up` replaces with a credential.
    #[serde(default)]
    pub credential_id: Option<i32>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct CityState {
    pub name: String,
    /// The city's id at central, once created there.
    pub city_id: Option<i32>,
    pub instance: InstanceState,
    #[serde(default)]
    pub stores: Vec<StoreState>,
    /// The password of the node's own login at central (`pos_node_<city_id>`), which its outbox
    /// reports sales under.
    #[serde(default = "generate_token")]
    pub central_login_password: String,
}

impl CityState {
    /// The node's service name (processes, logs).
    pub fn service_name(&self) -> String {
        format!("store-{}", self.instance.name)
    }
}

/// Everything `up` needs again later. Holds secrets: written with mode 0600 and never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct State {
    pub port_base: u16,
    pub admin_token: String,
    /// The password of the head-office account `up` makes (`HEAD_OFFICE_ACCOUNT`, an admin).
    #[serde(default = "generate_token")]
    pub head_office_password: String,
    pub central: InstanceState,
    pub cities: Vec<CityState>,
}

/// `Karachi` → `karachi`; anything but ASCII letters and digits becomes `_`.
pub fn slug(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn port(base: u16, offset: usize) -> anyhow::Result<u16> {
    u16::try_from(offset)
        .ok()
        .and_then(|o| base.checked_add(o))
        .with_context(|| format!("port base {base} leaves no room for port offset {offset}"))
}

impl State {
    /// A new cluster: central on `port_base`, the cities on the next ports.
    pub fn create(port_base: u16, cities: &[String]) -> anyhow::Result<Self> {
        let mut state = Self {
            port_base,
            admin_token: generate_token(),
            head_office_password: generate_token(),
            central: InstanceState::new(
                CENTRAL.to_owned(),
                port_base,
                port(port_base, usize::from(HTTP_OFFSET))?,
                CENTRAL_DB.to_owned(),
            ),
            cities: Vec::new(),
        };
        state.add_cities(cities)?;
        Ok(state)
    }

    /// Adds the cities not in the cluster yet (matched case-insensitively); returns how many were new.
    pub fn add_cities(&mut self, cities: &[String]) -> anyhow::Result<usize> {
        let mut added = 0;
        for name in cities {
            let name = name.trim();
            if name.is_empty() {
                bail!("--cities: empty city name");
            }
            let slug = slug(name);
            if slug == CENTRAL {
                bail!("--cities: {name:?} clashes with the central instance's name");
            }
            if self.city(name).is_some() {
                continue;
            }
            if let Some(other) = self.cities.iter().find(|c| c.instance.name == slug) {
                bail!(
                    "--cities: {name:?} and {:?} would share the directory and database {slug}",
                    other.name
                );
            }
            let index = self.cities.len() + 1;
            self.cities.push(CityState {
                name: name.to_owned(),
                city_id: None,
                instance: InstanceState::new(
                    slug.clone(),
                    port(self.port_base, index)?,
                    port(self.port_base, usize::from(HTTP_OFFSET) + index)?,
                    format!("{slug}_db"),
                ),
                stores: Vec::new(),
                central_login_password: generate_token(),
            });
            added += 1;
        }
        Ok(added)
    }

    pub fn city(&self, name: &str) -> Option<&CityState> {
        self.city_index(name).map(|index| &self.cities[index])
    }

    /// Where `city` finds the city named `name`.
    pub fn city_index(&self, name: &str) -> Option<usize> {
        self.cities
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name.trim()) || c.instance.name == slug(name))
    }

    /// Central first, then the cities.
    pub fn instances(&self) -> impl Iterator<Item = &InstanceState> {
        std::iter::once(&self.central).chain(self.cities.iter().map(|c| &c.instance))
    }

    /// `central` or a city (case-insensitive), for `posctl db`.
    pub fn find_instance(&self, target: &str) -> anyhow::Result<&InstanceState> {
        if target.trim().eq_ignore_ascii_case(CENTRAL) {
            return Ok(&self.central);
        }
        self.city(target).map(|c| &c.instance).with_context(|| {
            let names: Vec<&str> = self.cities.iter().map(|c| c.name.as_str()).collect();
            format!(
                "no instance named {target:?}: choose central or one of {}",
                names.join(", ")
            )
        })
    }

    /// Every port the cluster uses (PostgreSQL and HTTP).
    pub fn ports(&self) -> Vec<u16> {
        self.instances()
            .flat_map(|i| [i.pg_port, i.http_port])
            .collect()
    }

    pub fn load(paths: &Paths) -> anyhow::Result<Option<Self>> {
        let path = paths.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let state =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Some(state))
    }

    pub fn save(&self, paths: &Paths) -> anyhow::Result<()> {
        let text = serde_json::to_vec_pretty(self).context("serialising the state")?;
        write_private(&paths.state_file(), &text)
    }
}

/// Writes `bytes` to `path` with mode 0600, atomically (a temporary file renamed over it).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Whether nothing listens on 127.0.0.1:`port`.
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_names_and_lookup() {
        let state = State::create(15400, &["Karachi".into(), " lahore ".into()]).unwrap();
        assert_eq!(state.central.pg_port, 15400);
        assert_eq!(state.central.http_port, 15500);
        assert_eq!(state.cities[1].name, "lahore");
        assert_eq!(state.cities[1].instance.pg_port, 15402);
        assert_eq!(state.cities[1].instance.http_port, 15502);
        assert_eq!(state.cities[0].instance.dbname, "karachi_db");
        assert_eq!(state.find_instance("LAHORE").unwrap().name, "lahore");
        assert_eq!(
            state.find_instance("Central").unwrap().dbname,
            "pos_central"
        );
        assert!(state.find_instance("Quetta").is_err());
        assert!(State::create(15400, &["Central".into()]).is_err());
        assert!(State::create(65500, &["Karachi".into()]).is_err());
    }

    #[test]
    fn adding_known_cities_changes_nothing() {
        let mut state = State::create(15400, &["Karachi".into()]).unwrap();
        assert_eq!(
            state
                .add_cities(&["karachi".into(), "Multan".into()])
                .unwrap(),
            1
        );
        assert_eq!(state.cities[1].instance.pg_port, 15402);
        assert_eq!(slug("Dera Ghazi Khan"), "dera_ghazi_khan");
    }
}
