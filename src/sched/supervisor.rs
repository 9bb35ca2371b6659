//! Watching the scheduler's worker threads (the learner, the sample
//! consumer, the control server): a thread that ends or panics while the
//! scheduler runs is reported in one line and restarted, or, when it died
//! holding the live model's lock or keeps dying, the scheduler is detached
//! and scx_arbor exits non-zero. Never a silently dead part.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use log::error;

/// Restarts allowed per thread within [`RESTART_WINDOW`]; one more failure
/// detaches the scheduler.
pub const MAX_RESTARTS: usize = 3;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// A supervised worker thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Learner,
    Samples,
    Control,
    Guard,
    Watch,
}

impl Part {
    /// What the operator reads.
    pub fn name(self) -> &'static str {
        match self {
            Part::Learner => "learner",
            Part::Samples => "sample consumer",
            Part::Control => "control",
            Part::Guard => "guard",
            Part::Watch => "model watcher",
        }
    }

    /// The thread's name (`ps -T`, the panic hook).
    pub fn thread(self) -> &'static str {
        match self {
            Part::Learner => "arbor-learn",
            Part::Samples => "arbor-samples",
            Part::Control => "arbor-control",
            Part::Guard => "arbor-guard",
            Part::Watch => "arbor-watch",
        }
    }
}

/// Lock `m` even if a thread panicked while holding it. Whether the data is
/// still trustworthy is the supervisor's call ([`Supervisor::check`] looks
/// at the live model's lock after every failure); the other threads must
/// not die of the poison in the meantime.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Panic messages of supervised threads ("panicked at FILE:LINE: MSG"), by
/// thread name, until the supervisor reads them.
static PANICS: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// Route the panics of scx_arbor's worker threads (named `arbor-…`) to the
/// supervisor's one line instead of the default two-line report; other
/// threads keep the default hook. Idempotent.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().map(str::to_string);
            match name {
                Some(n) if n.starts_with("arbor-") && n != "arbor-stats" => {
                    let at = info
                        .location()
                        .map(|l| format!(" at {}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    let msg = format!("panicked{at}: {}", payload_text(info.payload()));
                    lock(&PANICS)
                        .get_or_insert_with(HashMap::new)
                        .entry(n)
                        .or_insert(msg);
                }
                _ => default(info),
            }
        }));
    });
}

fn payload_text(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// Why thread `thread` panicked: the hook's record (with the location) if
/// it has one, else the payload.
pub fn panic_reason(thread: &str, payload: &(dyn Any + Send)) -> String {
    lock(&PANICS)
        .as_mut()
        .and_then(|m| m.remove(thread))
        .unwrap_or_else(|| format!("panicked: {}", payload_text(payload)))
}

/// Starts (and restarts) one thread.
pub type Spawn = Box<dyn FnMut() -> Result<JoinHandle<Result<()>>>>;

struct Watched {
    part: Part,
    spawn: Spawn,
    handle: Option<JoinHandle<Result<()>>>,
    failures: VecDeque<Instant>,
}

/// The worker threads of one scheduler instance and the locks they share.
pub struct Supervisor<L> {
    stop: Arc<AtomicBool>,
    watched: Vec<Watched>,
    /// The live model: a thread that died holding it may have left its
    /// bookkeeping half-changed.
    live: Arc<Mutex<L>>,
}

impl<L> Supervisor<L> {
    pub fn new(stop: Arc<AtomicBool>, live: Arc<Mutex<L>>) -> Self {
        install_panic_hook();
        Self {
            stop,
            watched: Vec::new(),
            live,
        }
    }

    /// Start `part` with `spawn`, which [`Supervisor::check`] calls again
    /// to restart it.
    pub fn start(&mut self, part: Part, mut spawn: Spawn) -> Result<()> {
        let handle = spawn().with_context(|| format!("starting the {} thread", part.name()))?;
        self.watched.push(Watched {
            part,
            spawn,
            handle: Some(handle),
            failures: VecDeque::new(),
        });
        Ok(())
    }

    /// Look at every thread: one that ended while the scheduler runs is
    /// reported in one line and restarted. An error (the caller detaches
    /// the scheduler and exits non-zero) when it died holding the live
    /// model's lock, died more than [`MAX_RESTARTS`] times within
    /// [`RESTART_WINDOW`], or cannot be started again.
    pub fn check(&mut self) -> Result<()> {
        for w in &mut self.watched {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if !w.handle.as_ref().is_some_and(|h| h.is_finished()) {
                continue;
            }
            let Some(handle) = w.handle.take() else {
                continue;
            };
            let why = match handle.join() {
                Ok(Ok(())) => "it returned while the scheduler runs".to_string(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(p) => panic_reason(w.part.thread(), p.as_ref()),
            };
            let (name, thread) = (w.part.name(), w.part.thread());
            if self.live.is_poisoned() {
                bail!(
                    "the {name} thread ({thread}) died holding the live model's lock ({why}); \
                     the model's bookkeeping may be half-changed, so the scheduler was detached"
                );
            }
            let now = Instant::now();
            while w
                .failures
                .front()
                .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
            {
                w.failures.pop_front();
            }
            w.failures.push_back(now);
            if w.failures.len() > MAX_RESTARTS {
                bail!(
                    "the {name} thread ({thread}) died {} times within {} s, last: {why}; \
                     the scheduler was detached",
                    w.failures.len(),
                    RESTART_WINDOW.as_secs()
                );
            }
            error!(
                "the {name} thread ({thread}) died: {why}; restarting it (restart {} of {MAX_RESTARTS} allowed within {} s)",
                w.failures.len(),
                RESTART_WINDOW.as_secs()
            );
            w.handle = Some(
                (w.spawn)().with_context(|| format!("restarting the {name} thread ({thread})"))?,
            );
        }
        Ok(())
    }

    /// Stop every thread and wait for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.watched {
            if let Some(h) = w.handle {
                let _ = h.join();
            }
        }
    }
}

/// TESTS ONLY (`--debug-fail-thread`, feature `debug-torn`): which thread
/// to make fail, and how.
#[cfg(feature = "debug-torn")]
pub mod inject {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// Once, about a second after it started (control: its next request).
        Once,
        /// Every time it is started.
        Always,
        /// Once, while holding the live model's lock.
        Locked,
    }

    #[derive(Debug)]
    pub struct FailPlan {
        pub part: Part,
        pub mode: Mode,
        fired: AtomicBool,
    }

    impl FailPlan {
        /// `KIND[:MODE]`: KIND learner, samples or control; MODE once
        /// (default), always or locked (not for samples, which holds no
        /// model lock).
        pub fn parse(spec: &str) -> Result<Self> {
            let (kind, mode) = spec.split_once(':').unwrap_or((spec, "once"));
            let part = match kind {
                "learner" => Part::Learner,
                "samples" => Part::Samples,
                "control" => Part::Control,
                _ => {
                    bail!("--debug-fail-thread: KIND is learner, samples or control, not {kind:?}")
                }
            };
            let mode = match mode {
                "once" => Mode::Once,
                "always" => Mode::Always,
                "locked" if part != Part::Samples => Mode::Locked,
                _ => bail!(
                    "--debug-fail-thread: MODE is once, always or locked (learner, control), not {mode:?}"
                ),
            };
            Ok(Self {
                part,
                mode,
                fired: AtomicBool::new(false),
            })
        }

        /// Whether `part` fails now (only the first time unless `always`).
        pub fn fires(&self, part: Part) -> bool {
            part == self.part
                && (self.mode == Mode::Always || !self.fired.swap(true, Ordering::Relaxed))
        }

        /// Fail as planned: panic, holding `live`'s lock in `locked` mode.
        pub fn fail<L>(&self, live: &Mutex<L>) -> ! {
            let what = format!("DEBUG: injected failure of the {} thread", self.part.name());
            if self.mode == Mode::Locked {
                let _held = lock(live);
                panic!("{what} (holding the live model's lock)");
            }
            panic!("{what}");
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn plans_parse_and_fire_as_asked() {
            let p = FailPlan::parse("learner").unwrap();
            assert!(!p.fires(Part::Control));
            assert!(p.fires(Part::Learner));
            assert!(!p.fires(Part::Learner), "once fires once");
            let p = FailPlan::parse("control:always").unwrap();
            assert!(p.fires(Part::Control) && p.fires(Part::Control));
            assert_eq!(
                FailPlan::parse("control:locked").unwrap().mode,
                Mode::Locked
            );
            for bad in ["disk", "samples:locked", "learner:sometimes", ""] {
                assert!(FailPlan::parse(bad).is_err(), "{bad}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawner(
        name: &'static str,
        runs: Arc<std::sync::atomic::AtomicUsize>,
        fail_first: usize,
        stop: Arc<AtomicBool>,
    ) -> Spawn {
        Box::new(move || {
            let n = runs.fetch_add(1, Ordering::SeqCst);
            let stop = stop.clone();
            Ok(std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    if n < fail_first {
                        panic!("boom {n}");
                    }
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Ok(())
                })?)
        })
    }

    fn settle(s: &mut Supervisor<u32>) -> Result<()> {
        for _ in 0..100 {
            s.check()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    #[test]
    fn a_dead_thread_is_restarted_then_given_up_on() {
        use std::sync::atomic::AtomicUsize;
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(0u32));
        let mut s = Supervisor::new(stop.clone(), live);
        let runs = Arc::new(AtomicUsize::new(0));
        // Dies twice, then runs: restarted twice, no error.
        s.start(
            Part::Learner,
            spawner("arbor-learn", runs.clone(), 2, stop.clone()),
        )
        .unwrap();
        settle(&mut s).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // Dies every time: the fourth failure within the window is an error
        // that names the thread and the panic's location.
        let runs_b = Arc::new(AtomicUsize::new(0));
        s.start(
            Part::Samples,
            spawner("arbor-samples", runs_b.clone(), usize::MAX, stop.clone()),
        )
        .unwrap();
        let err = format!("{:#}", settle(&mut s).unwrap_err());
        assert_eq!(runs_b.load(Ordering::SeqCst), MAX_RESTARTS + 1);
        assert!(
            err.contains("sample consumer thread (arbor-samples) died 4 times"),
            "{err}"
        );
        assert!(
            err.contains("supervisor.rs") && err.contains("boom 3"),
            "{err}"
        );
        s.stop();
    }

    #[test]
    fn a_thread_that_dies_holding_the_live_lock_is_not_restarted() {
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(0u32));
        let mut s = Supervisor::new(stop.clone(), live.clone());
        let l = live.clone();
        s.start(
            Part::Control,
            Box::new(move || {
                let l = l.clone();
                Ok(std::thread::Builder::new()
                    .name("arbor-control".into())
                    .spawn(move || {
                        let _g = l.lock();
                        panic!("while holding it");
                    })?)
            }),
        )
        .unwrap();
        let err = format!("{:#}", settle(&mut s).unwrap_err());
        assert!(err.contains("died holding the live model's lock"), "{err}");
        // The others still get the data.
        assert_eq!(*lock(&live), 0);
        s.stop();
    }
}
