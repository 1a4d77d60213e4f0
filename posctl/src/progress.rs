//! Progress lines ("PostgreSQL karachi started", "registered the Lahore node"): shown by the short
//! commands, and by `up` only with `--verbose`, so that `make run` prints its summary table and the
//! services' warnings, not every step.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(true);

pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

pub fn is_verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Prints a progress line when progress is shown (see [`set_verbose`]).
#[macro_export]
macro_rules! step {
    ($($arg:tt)*) => {
        if $crate::progress::is_verbose() {
            println!($($arg)*);
        }
    };
}
