//! What processes have used so far, from `/proc`: CPU time of this machine, of a process and of a
//! PostgreSQL instance with its backends, and a process's resident memory. Benchmarks take two
//! readings and divide the difference by the wall time between them.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::TestInstance;

/// CPU time this whole machine has spent busy so far (every process: clients, services, every PostgreSQL
/// instance), from `/proc/stat`.
pub fn machine_busy() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    // user, nice, system, irq, softirq, steal (not idle, not iowait), in clock ticks of 10 ms.
    let ticks: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    Ok(Duration::from_millis(ticks * 10))
}

/// CPU time a process has spent so far (user and system), with its children that have exited and been
/// waited for, from `/proc/PID/stat` (clock ticks of 10 ms).
fn process_cpu_ticks(pid: u32, with_reaped_children: bool) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<u64> = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or_default())
        .collect();
    let own = fields.first()? + fields.get(1)?;
    Some(if with_reaped_children {
        own + fields.get(2)? + fields.get(3)?
    } else {
        own
    })
}

/// CPU time a PostgreSQL instance has spent so far: its postmaster, the backends and workers running
/// now, and every backend that has exited (the postmaster waits for each).
pub fn instance_cpu(instance: &TestInstance) -> anyhow::Result<Duration> {
    data_dir_cpu(&instance.pg.data_dir)
}

/// [`instance_cpu`] of the instance whose data directory is `data_dir` (one `posctl` started, say).
pub fn data_dir_cpu(data_dir: &Path) -> anyhow::Result<Duration> {
    let pid_file = data_dir.join("postmaster.pid");
    let postmaster: u32 = std::fs::read_to_string(&pid_file)
        .with_context(|| format!("reading {}", pid_file.display()))?
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .parse()
        .with_context(|| format!("reading the postmaster's pid from {}", pid_file.display()))?;
    let mut ticks =
        process_cpu_ticks(postmaster, true).context("reading the postmaster's CPU time")?;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            });
        if parent == Some(postmaster) {
            ticks += process_cpu_ticks(pid, false).unwrap_or_default();
        }
    }
    Ok(Duration::from_millis(ticks * 10))
}

/// CPU time a process has spent so far, with its children that have exited and been waited for.
pub fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let ticks = process_cpu_ticks(pid, true)
        .with_context(|| format!("reading process {pid}'s CPU time"))?;
    Ok(Duration::from_millis(ticks * 10))
}

/// A process's resident memory (`VmRSS` in `/proc/PID/status`), MiB.
pub fn resident_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading process {pid}'s status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches(" kB").parse().ok())
        .with_context(|| format!("process {pid}'s status has no VmRSS"))?;
    Ok(kib / 1024.0)
}

/// CPU time this process (a benchmark, with the services it runs in-process) has spent so far.
pub fn own_cpu() -> anyhow::Result<Duration> {
    process_cpu(std::process::id())
}
