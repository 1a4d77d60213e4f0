//! Tracing set-up: human-readable or JSON lines on stderr, filtered by `POS_LOG` (`RUST_LOG` syntax).

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "human" | "text" | "pretty" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format {other:?} (human or json)")),
        }
    }
}

/// `POS_LOG` when unset: warnings and errors only (a refused request is a warning). `POS_LOG=info` adds a
/// line per request and the services' start-up and delivery events.
pub const DEFAULT_LOG_FILTER: &str = "warn";

/// Installs the global subscriber once; later calls (tests start many apps in one process) are no-ops.
/// PostgreSQL's notices (`extension "dblink" already exists, skipping`, …) reach tokio-postgres at INFO;
/// they are for debugging, so they show only when the filter asks for debug (or names tokio_postgres).
pub fn init(format: LogFormat, filter: &str) {
    let wants_notices = ["debug", "trace", "tokio_postgres"]
        .iter()
        .any(|word| filter.contains(word));
    let filter = if wants_notices {
        filter.to_owned()
    } else {
        format!("{filter},tokio_postgres::connection=warn")
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// For tests: silent unless `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init(
            LogFormat::Human,
            "info,pos_shared=debug,central=debug,store_node=debug",
        );
    }
}
