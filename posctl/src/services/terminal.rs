//! The terminal's Ctrl-C for the foreground `up` alone. A terminal sends SIGINT to its whole foreground
//! process group: under `make run` that is make too, which then reports "Interrupt" and fails however
//! cleanly posctl stops. So `up` moves into a process group of its own and makes it the terminal's
//! foreground, as a shell does for a job, and gives the terminal back when it ends. Used by `up`.

use std::io::IsTerminal;

use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{Pid, getpgrp, getpid, setpgid, tcgetpgrp, tcsetpgrp};

/// Holds the terminal's foreground for posctl's own process group; dropping it gives it back.
pub struct Foreground {
    previous: Pid,
}

/// A process outside the terminal's foreground group may set it only with SIGTTOU blocked (POSIX
/// `tcsetpgrp`); blocked in this thread only, for the call.
fn set_foreground(group: Pid) -> nix::Result<()> {
    let ttou = SigSet::from_iter([Signal::SIGTTOU]);
    ttou.thread_block()?;
    let result = tcsetpgrp(std::io::stdin(), group);
    ttou.thread_unblock()?;
    result
}

impl Foreground {
    /// `None` when there is nothing to do: no terminal, posctl in the background, or already the
    /// leader of the foreground group (started by a shell itself).
    pub fn take() -> Option<Self> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let previous = tcgetpgrp(&stdin).ok()?;
        if previous != getpgrp() || previous == getpid() {
            return None;
        }
        setpgid(Pid::from_raw(0), Pid::from_raw(0)).ok()?;
        if set_foreground(getpid()).is_err() {
            // Back into the group it came from, so the terminal's Ctrl-C still reaches it.
            let _ = setpgid(Pid::from_raw(0), previous);
            return None;
        }
        Some(Self { previous })
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = set_foreground(self.previous);
    }
}
