//! Command-line interface (clap derive).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::node::{self, NodeAction};
use crate::{backup, bootstrap, ops, stores};

/// Runs a local POS cluster: central and one store node per city, each on its own PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "posctl", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create (first time) and start the cluster; writes DIR/cluster.json.
    Up(UpArgs),
    /// Stop the services and the PostgreSQL instances.
    Down(DownArgs),
    /// Fault drills: stop or start one PostgreSQL instance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Each PostgreSQL instance and each service's /health; exits non-zero when something is down.
    Status(DirArgs),
    /// A city's node at central: reload its fragment, or enable (and resync) or disable it.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Stores at central, with no restart: add one with a cashier credential.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Cashier credentials, with no restart: give a store a new one and revoke its others.
    #[command(subcommand)]
    Token(TokenCommand),
    /// A pg_dump of central's and every node's database into a new directory, with a manifest.
    Backup(BackupArgs),
    /// Restore databases from a backup (services stopped: posctl down first), and queue what makes the
    /// chain whole again: the nodes send central what it lost, restored nodes are resynced at the next up.
    Restore(RestoreArgs),
    /// Make a chain whose services run elsewhere (docker-compose.yml's) ready to sell: wait until they
    /// are healthy, create the cities, register each node at central, and seed the demo data. A second
    /// run changes nothing. Head office's token comes from POS_ADMIN_TOKEN, each node's database (as
    /// central reaches it) from POS_NODE_DATABASE_URL_<CITY>, e.g. POS_NODE_DATABASE_URL_KARACHI; with
    /// POS_HEAD_OFFICE_PASSWORD set, the account `headoffice` is made with it. Each may be given as a
    /// file instead, named by the variable with _FILE added. Plain http:// only.
    Bootstrap(BootstrapArgs),
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Central's URL.
    #[arg(long, env = "POS_CENTRAL_URL")]
    pub central: String,
    /// A city's node as NAME=CITY_ID=URL, e.g. Karachi=1=http://store-karachi:8080, where CITY_ID is
    /// the node's POS_CITY_ID. Once per city; new cities are created in this order.
    #[arg(long = "node", required = true)]
    pub nodes: Vec<crate::bootstrap::NodeTarget>,
    /// Seed categories, products, one store per city, customers and opening stock (once).
    #[arg(long)]
    pub demo_data: bool,
    /// How long to wait for central and the nodes to be healthy, in seconds.
    #[arg(long, default_value_t = 120)]
    pub wait_seconds: u64,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// A directory that does not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// A directory `posctl backup` made.
    #[arg(long)]
    pub from: PathBuf,
    /// Only `central` or one city [default: every database in the backup].
    #[arg(long)]
    pub only: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create the store at central and issue its cashier credential (in DIR/cluster.json); the city's
    /// node takes it up by replication.
    Add(StoreAddArgs),
}

#[derive(Debug, Args)]
pub struct StoreAddArgs {
    /// The city (case-insensitive).
    pub city: String,
    /// The store's code, e.g. LHR002.
    pub code: String,
    /// Its name [default: the city and the code].
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new cashier credential for the store (in DIR/cluster.json) and revoke every other one.
    Rotate(TokenRotateArgs),
    /// Give head office a new admin token (in DIR/cluster.json) and refuse the old one, with no restart:
    /// the services read it from DIR/admin_token every 2 s.
    RotateAdmin(DirArgs),
}

#[derive(Debug, Args)]
pub struct TokenRotateArgs {
    /// The store's code.
    pub store: String,
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Reload the node's fragment from central, online.
    Resync(NodeArgs),
    /// Enable the node (it is resynced).
    Enable(NodeArgs),
    /// Disable the node: central ships it nothing until it is enabled again.
    Disable(NodeArgs),
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// The city (case-insensitive).
    pub city: String,
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The cluster's directory (state, PostgreSQL data, logs).
    #[arg(long)]
    pub dir: PathBuf,
    /// Comma-separated city names [default: Karachi,Lahore]. On a later `up`, new names are added.
    #[arg(long, value_delimiter = ',')]
    pub cities: Option<Vec<String>>,
    /// First port: PostgreSQL on BASE, BASE+1, …; HTTP on BASE+100, BASE+101, … [default: 15400].
    /// Fixed when the directory is created.
    #[arg(long)]
    pub port_base: Option<u16>,
    /// Seed categories, products, one store per city, customers and opening stock (once).
    #[arg(long)]
    pub demo_data: bool,
    /// Run the services in the background (logs in DIR/logs) and exit 0 once all are healthy; exit 2
    /// when they are but a secondary step (node registration, demo data) failed.
    #[arg(long)]
    pub detach: bool,
    /// Print each step (instances, services, registration, demo data), not only the summary.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// Also delete DIR (data, logs, secrets).
    #[arg(long)]
    pub purge: bool,
}

#[derive(Debug, Args)]
pub struct DirArgs {
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Stop one instance (fast shutdown): `central` or a city name.
    Stop(DbArgs),
    /// Start one instance again.
    Start(DbArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// `central` or a city (case-insensitive).
    pub target: String,
    #[arg(long)]
    pub dir: PathBuf,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) => {
            crate::progress::set_verbose(args.verbose);
            ops::up(ops::UpOptions {
                dir: args.dir,
                cities: args.cities,
                port_base: args.port_base,
                demo_data: args.demo_data,
                detach: args.detach,
            })
            .await
        }
        Command::Down(args) => ops::down(&args.dir, args.purge)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Db(DbCommand::Stop(args)) => ops::db(&args.dir, &args.target, false)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Db(DbCommand::Start(args)) => ops::db(&args.dir, &args.target, true)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Status(args) => ops::status(&args.dir).await,
        Command::Node(command) => {
            let (args, action) = match command {
                NodeCommand::Resync(args) => (args, NodeAction::Resync),
                NodeCommand::Enable(args) => (args, NodeAction::Enable),
                NodeCommand::Disable(args) => (args, NodeAction::Disable),
            };
            node::run(&args.dir, &args.city, action)
                .await
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Store(StoreCommand::Add(args)) => {
            let name = args
                .name
                .unwrap_or_else(|| format!("{} {}", args.city.trim(), args.code.trim()));
            stores::add(&args.dir, &args.city, &args.code, &name)
                .await
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Rotate(args)) => stores::rotate(&args.dir, &args.store)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Token(TokenCommand::RotateAdmin(args)) => stores::rotate_admin(&args.dir)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Backup(args) => backup::backup(&args.dir, &args.to)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Restore(args) => backup::restore(&args.dir, &args.from, args.only.as_deref())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bootstrap(args) => bootstrap::bootstrap(bootstrap::BootstrapOptions {
            central: args.central.trim_end_matches('/').to_owned(),
            nodes: args.nodes,
            demo_data: args.demo_data,
            wait: std::time::Duration::from_secs(args.wait_seconds),
        })
        .await
        .map(|()| ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_commands() {
        let cli = Cli::try_parse_from([
            "posctl",
            "up",
            "--dir",
            "d",
            "--cities",
            "Karachi,Lahore",
            "--port-base",
            "20000",
            "--demo-data",
            "--detach",
            "--verbose",
        ])
        .unwrap();
        let Command::Up(up) = cli.command else {
            panic!("not up");
        };
        assert_eq!(up.cities.unwrap(), ["Karachi", "Lahore"]);
        assert_eq!(up.port_base, Some(20000));
        assert!(up.demo_data && up.detach && up.verbose);
        let cli = Cli::try_parse_from(["posctl", "db", "stop", "lahore", "--dir", "d"]).unwrap();
        assert!(matches!(cli.command, Command::Db(DbCommand::Stop(ref a)) if a.target == "lahore"));
        assert!(Cli::try_parse_from(["posctl", "status"]).is_err());
        let cli =
            Cli::try_parse_from(["posctl", "node", "resync", "Lahore", "--dir", "d"]).unwrap();
        assert!(
            matches!(cli.command, Command::Node(NodeCommand::Resync(ref a)) if a.city == "Lahore")
        );
        let cli = Cli::try_parse_from(["posctl", "store", "add", "Lahore", "LHR002", "--dir", "d"])
            .unwrap();
        assert!(
            matches!(cli.command, Command::Store(StoreCommand::Add(ref a)) if a.code == "LHR002" && a.name.is_none())
        );
        let cli =
            Cli::try_parse_from(["posctl", "token", "rotate", "LHR001", "--dir", "d"]).unwrap();
        assert!(
            matches!(cli.command, Command::Token(TokenCommand::Rotate(ref a)) if a.store == "LHR001")
        );
        let cli = Cli::try_parse_from([
            "posctl",
            "bootstrap",
            "--central",
            "http://central:8080",
            "--node",
            "Karachi=1=http://store-karachi:8080",
            "--node",
            "Lahore=2=http://store-lahore:8080",
            "--demo-data",
        ])
        .unwrap();
        let Command::Bootstrap(bootstrap) = cli.command else {
            panic!("not bootstrap");
        };
        assert_eq!(bootstrap.nodes.len(), 2);
        assert_eq!(bootstrap.nodes[1].city_id, 2);
        assert!(bootstrap.demo_data && bootstrap.wait_seconds == 120);
        assert!(
            Cli::try_parse_from([
                "posctl",
                "bootstrap",
                "--central",
                "http://c",
                "--node",
                "Karachi"
            ])
            .is_err()
        );
    }
}
