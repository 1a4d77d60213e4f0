//! What the benchmark programs measured, for `make bench`'s one table (`BENCHMARKS.md`). Each program
//! records its figures, each with the goal it is held to when it has one, and writes them to
//! `target/bench-results/PROGRAM.json`; `benchmarks-md` (src/bin) turns every file there into the table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// How a figure reads.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum Unit {
    /// One rate against another, measured side by side (`0.85×`).
    Ratio,
    Milliseconds,
    Seconds,
    RowsPerSecond,
    SalesPerSecond,
    MiB,
    /// CPU time over wall time: the share of one core a process uses.
    Cores,
    /// A measured amount that may have a fraction (sessions per node).
    Number,
    /// A count of things that must not happen (oversold units, deadlocks, dead entries).
    Count,
}

impl Unit {
    pub fn show(self, value: f64) -> String {
        match self {
            Unit::Ratio => format!("{value:.2}×"),
            Unit::Milliseconds if value < 10.0 => format!("{value:.2} ms"),
            Unit::Milliseconds => format!("{value:.1} ms"),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::RowsPerSecond => format!("{} rows/s", thousands(value)),
            Unit::SalesPerSecond => format!("{} sales/s", thousands(value)),
            Unit::MiB => format!("{value:.0} MiB"),
            Unit::Cores => format!("{value:.4} of a core"),
            Unit::Number => format!("{value:.1}"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The bound a figure is held to.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

impl Goal {
    fn met(self, value: f64) -> bool {
        match self {
            Goal::AtLeast(bound) => value >= bound,
            Goal::AtMost(bound) => value <= bound,
        }
    }

    fn show(self, unit: Unit) -> String {
        match self {
            Goal::AtLeast(bound) => format!("≥ {}", unit.show(bound)),
            Goal::AtMost(bound) => format!("≤ {}", unit.show(bound)),
        }
    }
}

/// One measured figure.
#[derive(Debug, Serialize, Deserialize)]
pub struct Figure {
    /// The table it belongs in ("Checkout", "Capture", …).
    pub area: String,
    /// What was measured, with its conditions.
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    pub goal: Option<Goal>,
}

/// One program's figures, in the order measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct Results {
    pub program: String,
    pub seconds: f64,
    pub figures: Vec<Figure>,
    #[serde(skip)]
    started: Option<std::time::Instant>,
}

impl Results {
    /// Starts the program's clock: made first thing in `main`, so that the run time BENCHMARKS.md shows
    /// is the whole program's, setup included.
    pub fn new(program: &str) -> Self {
        Self {
            program: program.into(),
            seconds: 0.0,
            figures: Vec::new(),
            started: Some(std::time::Instant::now()),
        }
    }

    pub fn record(&mut self, area: &str, name: &str, value: f64, unit: Unit, goal: Option<Goal>) {
        self.figures.push(Figure {
            area: area.into(),
            name: name.into(),
            value,
            unit,
            goal,
        });
    }

    /// Writes `DIR/PROGRAM.json` (see [`results_dir`]) and says where.
    pub fn save(mut self) -> anyhow::Result<()> {
        self.seconds = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let dir = results_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.json", self.program));
        std::fs::write(&path, serde_json::to_vec_pretty(&self)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("{}: figures written to {}", self.program, path.display());
        Ok(())
    }
}

/// `POS_BENCH_RESULTS`, or `bench-results` in the workspace's target directory.
pub fn results_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("POS_BENCH_RESULTS") {
        return dir.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("bench-results")
}

/// The programs in the order their tables appear.
pub const PROGRAMS: &[&str] = &[
    "checkout",
    "till_lookup",
    "outbox",
    "replication",
    "catch_up",
    "reports",
    "scale",
];

/// `BENCHMARKS.md`: the machine and the date on top, then each area's figures beside their goals.
pub fn render(results: &[Results], machine: &str, date: &str) -> String {
    let mut md = format!(
        "# Benchmarks\n\nGenerated by `make bench` on {date}, on {machine}. Do not edit: run `make bench`.\n\n\
         Ratios are measured side by side in one run (this machine is shared: absolute rates drift, ratios \
         hold). Each program's own output explains its method; `README.md` lists what each measures.\n"
    );
    let met = results
        .iter()
        .flat_map(|r| &r.figures)
        .filter_map(|f| f.goal.map(|g| g.met(f.value)))
        .fold((0, 0), |(yes, all), m| (yes + usize::from(m), all + 1));
    let _ = writeln!(
        md,
        "\n{} of {} figures with a goal meet it.\n",
        met.0, met.1
    );
    let mut areas: Vec<&str> = Vec::new();
    for figure in results.iter().flat_map(|r| &r.figures) {
        if !areas.contains(&figure.area.as_str()) {
            areas.push(&figure.area);
        }
    }
    for area in areas {
        let _ = writeln!(
            md,
            "## {area}\n\n| figure | measured | goal | |\n|---|---|---|---|"
        );
        for f in results
            .iter()
            .flat_map(|r| &r.figures)
            .filter(|f| f.area == area)
        {
            let (goal, verdict) = match f.goal {
                Some(goal) if goal.met(f.value) => (goal.show(f.unit), "met"),
                Some(goal) => (goal.show(f.unit), "**not met**"),
                None => (String::new(), ""),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {goal} | {verdict} |",
                f.name,
                f.unit.show(f.value)
            );
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Run time\n\n| program | seconds |\n|---|---|");
    for r in results {
        let _ = writeln!(md, "| `{}` | {:.0} |", r.program, r.seconds);
    }
    let total: f64 = results.iter().map(|r| r.seconds).sum();
    let _ = writeln!(md, "| all (building them not counted) | {total:.0} |");
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_figure_stands_beside_its_goal_and_whether_it_is_met() {
        let mut results = Results::new("checkout");
        results.record(
            "Checkout",
            "HTTP against SQL",
            0.72,
            Unit::Ratio,
            Some(Goal::AtLeast(0.8)),
        );
        results.record(
            "Checkout",
            "lag p99",
            59.4,
            Unit::Milliseconds,
            Some(Goal::AtMost(100.0)),
        );
        results.record("Checkout", "drain", 22272.4, Unit::RowsPerSecond, None);
        let md = render(&[results], "2 cores", "2026-12-04");
        assert!(md.contains("on 2026-12-04, on 2 cores"), "{md}");
        assert!(md.contains("1 of 2 figures with a goal meet it"), "{md}");
        assert!(
            md.contains("| HTTP against SQL | 0.72× | ≥ 0.80× | **not met** |"),
            "{md}"
        );
        assert!(
            md.contains("| lag p99 | 59.4 ms | ≤ 100.0 ms | met |"),
            "{md}"
        );
        assert!(md.contains("| drain | 22,272 rows/s |  |  |"), "{md}");
    }
}
