//! Writes `BENCHMARKS.md` (or the path given) from the figures the benchmark programs wrote to
//! `target/bench-results/` (see `pos_e2e::benchmarks`). Run by `make bench` after the programs.

use anyhow::Context as _;
use pos_e2e::benchmarks::{PROGRAMS, Results, render, results_dir};

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md").to_owned());
    let dir = results_dir();
    let mut results = Vec::new();
    for program in PROGRAMS {
        let path = dir.join(format!("{program}.json"));
        match std::fs::read(&path) {
            Ok(bytes) => results.push(
                serde_json::from_slice::<Results>(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("benchmarks-md: no figures from {program} (not run)");
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    anyhow::ensure!(
        !results.is_empty(),
        "no figures in {}: run the benchmarks first (make bench)",
        dir.display()
    );
    let md = render(
        &results,
        &machine()?,
        &chrono::Utc::now().format("%Y-%m-%d").to_string(),
    );
    std::fs::write(&out, md).with_context(|| format!("writing {out}"))?;
    eprintln!("benchmarks-md: wrote {out}");
    Ok(())
}

/// "2 cores (model), 24 GiB, PostgreSQL 15.x", from /proc and `postgres --version`.
fn machine() -> anyhow::Result<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?;
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|kb| kb.trim().trim_end_matches(" kB").parse::<f64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb / 1024.0 / 1024.0)
        });
    let postgres = std::process::Command::new("postgres")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .map_or_else(String::new, |v| format!(", {v}"));
    Ok(format!("{cores} cores ({model}){memory_gib}{postgres}"))
}
