//! The progress line on stderr.

use std::io::Write as _;
use std::time::{Duration, Instant};

/// Progress line on stderr (rewritten in place on a terminal, milestones only otherwise).
pub(crate) struct Progress {
    enabled: bool,
    tty: bool,
    last: Instant,
    pub(crate) prefix: String,
}

impl Progress {
    pub(crate) fn new(enabled: bool) -> Self {
        // SAFETY: isatty on a plain fd.
        let tty = unsafe { libc::isatty(2) } == 1;
        Progress {
            enabled,
            tty,
            last: Instant::now() - Duration::from_secs(1),
            prefix: String::new(),
        }
    }

    pub(crate) fn update(&mut self, msg: &str) {
        if !self.enabled || !self.tty || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{} {}", self.prefix, msg);
        let _ = e.flush();
    }

    pub(crate) fn line(&mut self, msg: &str) {
        if !self.enabled {
            return;
        }
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[K");
        }
        let _ = writeln!(e, "{msg}");
    }
}
