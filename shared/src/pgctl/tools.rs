//! The client programs run against an instance as its superuser (`pg_dump`, `pg_restore`: backup and
//! restore) and the hung-database drill (SIGSTOP/SIGCONT to its processes). Used by the cross-service
//! tests (e2e: a node restored from backup, a hung node or central).

use std::process::Command;

use anyhow::{Context, bail};

use super::{PgInstance, SUPERUSER, create_database, drop_database};

impl PgInstance {
    /// A client program (`pg_dump`, `pg_restore`) logged in to this instance as the superuser over TCP.
    fn superuser_tool(&self, program: &str) -> Command {
        let mut command = self.command(program);
        command
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .env("PGPASSWORD", &self.superuser_password)
            .current_dir("/");
        command
    }

    /// A backup of one database as an operator takes it: `pg_dump` in the custom format.
    pub fn dump(&self, dbname: &str) -> anyhow::Result<Vec<u8>> {
        let output = self
            .superuser_tool("pg_dump")
            .args(["-Fc", dbname])
            .output()
            .context("running pg_dump")?;
        if !output.status.success() {
            bail!(
                "pg_dump failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(output.stdout)
    }

    /// Puts `dbname` back as `dump` left it, as a restore from backup does: drops the database
    /// (closing every connection to it), creates it anew and runs `pg_restore`.
    pub async fn restore(&self, dbname: &str, dump: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        let admin = self.superuser_client("postgres").await?;
        drop_database(&admin, dbname).await?;
        create_database(self, &admin, dbname, None).await?;
        let mut child = self
            .superuser_tool("pg_restore")
            .args(["--exit-on-error", "-d", dbname])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("running pg_restore")?;
        child
            .stdin
            .take()
            .context("pg_restore's input")?
            .write_all(dump)
            .context("feeding pg_restore")?;
        let output = child.wait_with_output().context("waiting for pg_restore")?;
        if !output.status.success() {
            bail!(
                "pg_restore failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The fault drill of a hung database: SIGSTOP to the postmaster and every process it started.
    /// Its processes stop, but the kernel still accepts connections on its port and keeps established
    /// ones open, so clients wait rather than fail.
    pub fn hang(&self) -> anyhow::Result<()> {
        self.signal_processes(nix::sys::signal::Signal::SIGSTOP)
    }

    /// Ends [`Self::hang`].
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal_processes(nix::sys::signal::Signal::SIGCONT)
    }

    fn signal_processes(&self, signal: nix::sys::signal::Signal) -> anyhow::Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?;
        let postmaster: i32 = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .with_context(|| format!("{} names no process", pid_file.display()))?;
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc")
            .context("listing /proc")?
            .flatten()
        {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its ')'.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<i32>().ok());
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in pids {
            // A backend may have exited meanwhile.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
        Ok(())
    }
}
