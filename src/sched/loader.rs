//! Opening, configuring, attaching and running the BPF scheduler.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
#[cfg(feature = "debug-torn")]
use std::time::Instant;

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapHandle, OpenObject};
use log::{info, warn};
use scx_utils::{compat, scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use crate::bpf_skel::{BpfSkel, BpfSkelBuilder};
use crate::sched::actions::{action_table, fill_actions};
use crate::sched::control::handlers::Control;
use crate::sched::control::Server;
use crate::sched::guard;
use crate::sched::kernel::{explain_open_error, refuse_if_attached, require_sched_ext};
use crate::sched::learning::{lower_priority, start_model, Carried, LearningThread, LiveModel};
use crate::sched::model_slot::ModelSlot;
use crate::sched::record::dir::{DirConfig, DirRecorder};
use crate::sched::record::{CsvRecorder, RecordCounters, Recorder};
use crate::sched::samples;
use crate::sched::stats::{self, GuardStats, Sources};
use crate::sched::stats_server;
#[cfg(feature = "debug-torn")]
use crate::sched::supervisor::inject::FailPlan;
use crate::sched::supervisor::{lock, Part, Supervisor};
use crate::sched::topology::LlcMap;
use crate::sched::watch;
use arbor_intf::schema::{action_name, CLASS_FALLBACK};
use arbor_learn::generations::Store;
use arbor_learn::online::{LearnConfig, LearnMode, LearnStats, Learner};
use arbor_proto::status::Status;

/// Outcome samples per second per CPU when --learn is on and nothing is
/// recorded: a few times what a learning window needs, a small fraction of
/// what the ring and the consumer can take.
const DEFAULT_SAMPLE_BUDGET: u32 = 128;
use crate::sched::SchedOpts;

/// Bytes of the ONNX model the scheduler starts with, if any.
fn startup_model(opts: &SchedOpts) -> Result<Option<(String, Vec<u8>)>> {
    if opts.no_model {
        return Ok(None);
    }
    if opts.heuristic {
        let bytes = arbor_model::heuristic::onnx_bytes().context("building the heuristic model")?;
        return Ok(Some(("built-in heuristic".into(), bytes)));
    }
    match &opts.model {
        Some(path) => {
            let bytes = crate::sched::model_file::read_model_file(path)?;
            Ok(Some((path.display().to_string(), bytes)))
        }
        None => Ok(crate::sched::EMBEDDED_MODEL.map(|b| ("embedded default".into(), b.to_vec()))),
    }
}

struct Scheduler<'a> {
    skel: BpfSkel<'a>,
    link: Option<libbpf_rs::Link>,
    /// The oracle map's pin, while this instance runs.
    #[cfg(feature = "oracle")]
    _oracle: Option<super::oracle::OraclePin>,
}

impl<'a> Scheduler<'a> {
    fn init(opts: &SchedOpts, open_object: &'a mut MaybeUninit<OpenObject>) -> Result<Self> {
        scx_utils::try_set_rlimit_infinity();
        let nr_cpus = *scx_utils::NR_CPU_IDS;

        let mut builder = BpfSkelBuilder::default();
        builder.obj_builder.debug(opts.verbose > 1);
        let mut skel =
            scx_ops_open!(builder, open_object, arbor_ops, None).map_err(explain_open_error)?;
        skel.struct_ops.arbor_ops_mut().exit_dump_len = opts.exit_dump_len;

        // ENQ_MIGRATION_DISABLED: migration-disabled tasks come through
        // enqueue() too, so they wait in their CPU's DSQ by deadline instead
        // of jumping the local queue with the default slice.
        // ALLOW_QUEUED_WAKEUP: a wakeup aimed at another LLC is queued to that
        // CPU (the kernel's ttwu_queue) rather than taking its runqueue lock
        // from here. Both are 0 on a kernel that lacks them.
        // ENQ_LAST, on SMT machines only: a task whose slice ends with
        // nothing else to run comes to enqueue() when dispatch declines to
        // keep it, to move off a busy core (bpf/main.bpf.c).
        let llcs = LlcMap::of_system(nr_cpus)?;
        info!("topology: {}", llcs.describe());
        if llcs.by_distance() {
            info!(
                "topology: other LLCs by node distance: {}",
                llcs.describe_order()
            );
        }
        let ops = skel.struct_ops.arbor_ops_mut();
        ops.flags = *compat::SCX_OPS_ENQ_MIGRATION_DISABLED | *compat::SCX_OPS_ALLOW_QUEUED_WAKEUP;
        if llcs.smt() {
            ops.flags |= *compat::SCX_OPS_ENQ_LAST;
        }
        info!("scheduler flags: {:#x}", ops.flags);
        crate::sched::features::log_kernel_features(&|name| match name {
            "SCX_OPS_ENQ_MIGRATION_DISABLED" => *compat::SCX_OPS_ENQ_MIGRATION_DISABLED,
            "SCX_OPS_ALLOW_QUEUED_WAKEUP" => *compat::SCX_OPS_ALLOW_QUEUED_WAKEUP,
            _ => 0,
        });

        // The sample ring's size, and the fill mark (a quarter) at which the
        // BPF side wakes the consumer, follow --sample-ring-kib.
        let ring = samples::ring_bytes(opts.sample_ring_kib, page_size())?;
        skel.maps
            .samples
            .set_max_entries(ring)
            .context("sizing the samples ring buffer")?;
        info!(
            "samples ring: {} KiB, {} samples; the consumer is woken at a quarter full",
            ring / 1024,
            ring as usize / samples::RECORD_BYTES
        );
        let rodata = skel.maps.rodata_data.as_mut().context("no rodata")?;
        rodata.samples_wake_bytes = u64::from(ring / 4);
        rodata.wakeup_preempt = !opts.no_wakeup_preempt;
        rodata.arbor_tgid = std::process::id();
        rodata.nr_cpu_ids = nr_cpus as u32;
        rodata.nr_llcs = llcs.nr_llcs() as u32;
        rodata.cpu_llc[..llcs.cpu_llc.len()].copy_from_slice(&llcs.cpu_llc);
        rodata.llc_cpus[..llcs.llc_cpus.len()].copy_from_slice(&llcs.llc_cpus);
        rodata.llc_first[..llcs.nr_llcs()].copy_from_slice(&llcs.llc_first);
        rodata.llc_nr_cpus[..llcs.nr_llcs()].copy_from_slice(&llcs.llc_nr_cpus);
        let others = llcs.nr_llcs().saturating_sub(1);
        for (l, order) in llcs.llc_order.iter().enumerate() {
            for (i, &o) in order.iter().enumerate() {
                rodata.llc_order[l * others + i] = o as u8;
            }
        }
        rodata.smt_enabled = llcs.smt();
        rodata.cpu_sibling[..llcs.cpu_sibling.len()].copy_from_slice(&llcs.cpu_sibling);
        #[cfg(feature = "oracle")]
        {
            rodata.oracle_enabled = opts.oracle;
        }

        let skel = scx_ops_load!(skel, arbor_ops, uei)?;
        #[cfg(feature = "oracle")]
        let oracle = if opts.oracle {
            Some(super::oracle::OraclePin::pin(MapHandle::try_from(
                &skel.maps.oracle,
            )?)?)
        } else {
            None
        };
        Ok(Self {
            skel,
            link: None,
            #[cfg(feature = "oracle")]
            _oracle: oracle,
        })
    }

    fn attach(&mut self) -> Result<()> {
        self.link = Some(scx_ops_attach!(self.skel, arbor_ops)?);
        Ok(())
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// Handles to the scheduler's maps that threads can own.
struct Maps {
    cpu_stats: MapHandle,
    samples: MapHandle,
    actions: MapHandle,
    shadow_slot: MapHandle,
    task_ctxs: MapHandle,
    guard: MapHandle,
}

impl Maps {
    fn from_skel(skel: &BpfSkel<'_>) -> Result<Self> {
        Ok(Self {
            cpu_stats: MapHandle::try_from(&skel.maps.cpu_stats)?,
            samples: MapHandle::try_from(&skel.maps.samples)?,
            actions: MapHandle::try_from(&skel.maps.actions)?,
            shadow_slot: MapHandle::try_from(&skel.maps.shadow_slot)?,
            task_ctxs: MapHandle::try_from(&skel.maps.task_ctxs)?,
            guard: MapHandle::try_from(&skel.maps.guard)?,
        })
    }
}

/// Threads of one scheduler instance, under their supervisor.
struct Workers {
    supervisor: Supervisor<LiveModel>,
    /// The learner's and the guard's figures.
    sources: Sources,
}

/// Another handle to the same map, for a thread (re)started on it.
fn dup(m: &MapHandle) -> Result<MapHandle> {
    MapHandle::try_from(m).context("duplicating a map handle")
}

fn learn_config(opts: &SchedOpts) -> Result<LearnConfig> {
    if opts.learn_max_depth > arbor_intf::schema::MAX_DEPTH {
        bail!(
            "--learn-max-depth {} exceeds the BPF walk's depth limit {}",
            opts.learn_max_depth,
            arbor_intf::schema::MAX_DEPTH
        );
    }
    if !(0.0..=100.0).contains(&opts.learn_margin) {
        bail!("--learn-margin is in score points, 0 to 100");
    }
    Ok(LearnConfig {
        mode: opts.learn,
        window: opts.learn_window.max(2 * opts.learn_min_samples.max(1)),
        interval: Duration::from_secs_f64(opts.learn_interval.max(0.0)),
        min_new_samples: (opts.learn_min_samples / 4).max(1),
        min_samples: opts.learn_min_samples.max(16),
        holdout: 0.25,
        margin: opts.learn_margin,
        shadow_bursts: opts.promote_after_shadow,
        max_train_rows: opts.learn_max_train.max(16),
        cart: arbor_learn::CartParams {
            max_depth: opts.learn_max_depth,
            ..Default::default()
        },
    })
}

/// Start the control server, the learner (when learning) and the sample
/// consumer (when recording or learning) under a supervisor that restarts
/// each of them if it dies (see [`Supervisor::check`]).
fn start_workers(
    opts: &SchedOpts,
    maps: Maps,
    live: Arc<Mutex<LiveModel>>,
    generations: Arc<AtomicU64>,
    watch_shared: Option<Arc<Mutex<watch::Shared>>>,
) -> Result<Workers> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut supervisor = Supervisor::new(stop.clone(), live.clone());
    #[cfg(feature = "debug-torn")]
    let fail = opts
        .debug_fail_thread
        .as_deref()
        .map(FailPlan::parse)
        .transpose()?
        .map(Arc::new);

    let learning = opts.learn != LearnMode::Off;
    let learn_stats = learning.then(|| Arc::new(Mutex::new(LearnStats::default())));
    let learn_dropped = Arc::new(AtomicU64::new(0));
    let guard_stats = opts
        .guard
        .then(|| Arc::new(Mutex::new(GuardStats::default())));
    let record_counters = Arc::new(RecordCounters::default());
    let sources = Sources {
        learn_mode: opts.learn,
        learn: learn_stats.clone(),
        learn_dropped: learn_dropped.clone(),
        guard: guard_stats.clone(),
        record: record_counters.clone(),
        watch: watch_shared.as_ref().map(|w| lock(w).stats.clone()),
    };

    // The control server: a new socket and handler on each (re)start.
    {
        let path = opts.control_socket.clone();
        let sources = sources.clone();
        let (live, s) = (live.clone(), stop.clone());
        let (cpu_stats, task_ctxs, actions) = (
            dup(&maps.cpu_stats)?,
            dup(&maps.task_ctxs)?,
            dup(&maps.actions)?,
        );
        #[cfg(feature = "debug-torn")]
        let (allow_torn, fail) = (opts.debug_allow_torn_install, fail.clone());
        supervisor.start(
            Part::Control,
            Box::new(move || {
                let server = Server::bind(&path)?;
                let control = Control {
                    live: live.clone(),
                    cpu_stats: dup(&cpu_stats)?,
                    sources: sources.clone(),
                    task_ctxs: dup(&task_ctxs)?,
                    actions: dup(&actions)?,
                    #[cfg(feature = "debug-torn")]
                    allow_torn,
                    #[cfg(feature = "debug-torn")]
                    fail: fail.clone(),
                };
                let s = s.clone();
                Ok(std::thread::Builder::new()
                    .name(Part::Control.thread().into())
                    .spawn(move || server.serve(s, |req| control.handle(req)))?)
            }),
        )?;
    }

    // The learner trains on its own thread, at idle priority, so the ring
    // buffer keeps being drained while it works. The consumer hands samples
    // over in batches; a full queue drops (and counts) them rather than
    // stalling the consumer. A restarted learner starts from an empty
    // window.
    let hand_off = match &learn_stats {
        Some(stats) => {
            let hand_off = samples::HandOff::new(1 << 16, learn_dropped.clone());
            let cfg = learn_config(opts)?;
            let (live, stats, h, s) = (live.clone(), stats.clone(), hand_off.clone(), stop.clone());
            let (shadow, cpu_stats) = (dup(&maps.shadow_slot)?, dup(&maps.cpu_stats)?);
            let (dir, generations) = (opts.model_dir.clone(), generations.clone());
            #[cfg(feature = "debug-torn")]
            let fail = fail.clone();
            supervisor.start(
                Part::Learner,
                Box::new(move || {
                    let mut l = LearningThread::new(
                        Learner::new(cfg.clone()),
                        live.clone(),
                        ModelSlot::new(dup(&shadow)?, generations.clone()),
                        dup(&cpu_stats)?,
                        Store::new(dir.clone()),
                        stats.clone(),
                    )?;
                    let (h, s) = (h.clone(), s.clone());
                    #[cfg(feature = "debug-torn")]
                    let (fail, live, mut fail_at) = (
                        fail.clone(),
                        live.clone(),
                        Some(Instant::now() + Duration::from_secs(1)),
                    );
                    Ok(std::thread::Builder::new()
                        .name(Part::Learner.thread().into())
                        .spawn(move || {
                            info!("learning thread priority: {}", lower_priority());
                            let mut batch = h.buffer();
                            while !s.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_millis(100));
                                #[cfg(feature = "debug-torn")]
                                if fail_at.is_some_and(|t| Instant::now() >= t) {
                                    fail_at = None;
                                    if let Some(p) = fail.as_deref() {
                                        if p.fires(Part::Learner) {
                                            p.fail(&live);
                                        }
                                    }
                                }
                                h.take(&mut batch);
                                if !batch.is_empty() {
                                    l.push_batch(&batch);
                                    batch.clear();
                                }
                                l.tick();
                            }
                            Ok(())
                        })?)
                }),
            )?;
            Some(hand_off)
        }
        None => None,
    };

    // The sample consumer: a restart reattaches to the same ring (what
    // arrived meanwhile waits there, or was dropped and counted) and goes
    // on appending to the --record file (created once, by run()), or starts
    // the next file of the --record-dir directory.
    if opts.record.is_some() || opts.record_dir.is_some() || hand_off.is_some() {
        let ring = maps.samples;
        let (record, s) = (opts.record.clone(), stop.clone());
        let record_dir = opts.record_dir.as_ref().map(|_| dir_config(opts));
        let counters = record_counters.clone();
        #[cfg(feature = "debug-torn")]
        let fail = fail.clone();
        supervisor.start(
            Part::Samples,
            Box::new(move || {
                let recorder = match (&record, &record_dir) {
                    (Some(path), _) => Some(Recorder::File {
                        csv: CsvRecorder::append(path)?,
                        path: path.clone(),
                        counters: counters.clone(),
                    }),
                    (None, Some(cfg)) => Some(Recorder::Dir(Box::new(DirRecorder::open(
                        cfg.clone(),
                        counters.clone(),
                    )?))),
                    (None, None) => None,
                };
                let (ring, s, h) = (dup(&ring)?, s.clone(), hand_off.clone());
                #[cfg(feature = "debug-torn")]
                let fail_at = fail
                    .as_deref()
                    .filter(|p| p.fires(Part::Samples))
                    .map(|_| Instant::now() + Duration::from_secs(1));
                Ok(std::thread::Builder::new()
                    .name(Part::Samples.thread().into())
                    .spawn(move || {
                        let mut consumer = samples::Consumer::new(recorder, h);
                        #[cfg(feature = "debug-torn")]
                        {
                            consumer.fail_at = fail_at;
                        }
                        let r = samples::consume(&ring, s, &mut consumer);
                        consumer.finish();
                        r.map(|_| ())
                    })?)
            }),
        )?;
    }
    // The guard: a restart starts it over, the model on.
    if let Some(shared) = &guard_stats {
        if opts.guard_window_ms < 20 {
            bail!("--guard-window-ms must be at least 20");
        }
        let window = Duration::from_millis(opts.guard_window_ms);
        let pairs = opts.guard_pairs.max(1);
        let (switch, cpu_stats) = (dup(&maps.guard)?, dup(&maps.cpu_stats)?);
        let (shared, s, live) = (shared.clone(), stop.clone(), live.clone());
        supervisor.start(
            Part::Guard,
            Box::new(move || {
                let (switch, cpu_stats) = (guard::Switch(dup(&switch)?), dup(&cpu_stats)?);
                let (shared, s, live) = (shared.clone(), s.clone(), live.clone());
                let installed = move || lock(&live).slot.generation();
                Ok(std::thread::Builder::new()
                    .name(Part::Guard.thread().into())
                    .spawn(move || {
                        guard::run(switch, installed, cpu_stats, window, pairs, shared, s)
                    })?)
            }),
        )?;
    }
    // The model watcher: a restart goes on with a canary in progress.
    if let Some(shared) = &watch_shared {
        let cfg = watch_config(opts)?;
        let (shadow, cpu_stats) = (dup(&maps.shadow_slot)?, dup(&maps.cpu_stats)?);
        let (shared, s, live) = (shared.clone(), stop.clone(), live.clone());
        let (dir, generations) = (opts.model_dir.clone(), generations.clone());
        supervisor.start(
            Part::Watch,
            Box::new(move || {
                let watcher = watch::Watcher::new(
                    cfg.clone(),
                    live.clone(),
                    ModelSlot::new(dup(&shadow)?, generations.clone()),
                    dup(&cpu_stats)?,
                    Store::new(dir.clone()),
                    shared.clone(),
                )?;
                let s = s.clone();
                Ok(std::thread::Builder::new()
                    .name(Part::Watch.thread().into())
                    .spawn(move || watcher.run(s))?)
            }),
        )?;
    }
    Ok(Workers {
        supervisor,
        sources,
    })
}

/// Run one scheduler instance until shutdown or a kernel-side exit.
/// Returns whether the kernel asked for a restart.
/// `carried` is the model live before a restart (then installed instead of
/// the startup model) and is set to the model live at the end.
fn run_once(
    opts: &SchedOpts,
    shutdown: &Arc<AtomicBool>,
    open_object: &mut MaybeUninit<OpenObject>,
    carried: &mut Option<Carried>,
    generations: &Arc<std::sync::atomic::AtomicU64>,
    watch_shared: Option<&Arc<Mutex<watch::Shared>>>,
) -> Result<bool> {
    let watch_shared = watch_shared.cloned();
    let nr_cpus = *scx_utils::NR_CPU_IDS;
    let table = action_table(opts, nr_cpus)?;
    let configured = match carried {
        Some(_) => None,
        None => startup_model(opts)?,
    };
    let start = start_model(
        carried.as_ref(),
        opts.resume,
        &Store::new(&opts.model_dir),
        configured,
    )?;

    let mut sched = Scheduler::init(opts, open_object)?;
    let maps = Maps::from_skel(&sched.skel)?;
    fill_actions(&maps.actions, &table)?;

    let bss = sched.skel.maps.bss_data.as_mut().context("no bss")?;
    bss.sample_every = match opts.sample_every {
        Some(n) => n,
        None if opts.recording() || opts.learn != LearnMode::Off => 1,
        None => 0,
    };
    bss.sample_budget = match opts.sample_budget {
        Some(n) => n,
        None if opts.recording() => 0,
        None => DEFAULT_SAMPLE_BUDGET,
    };

    let mut live = LiveModel {
        slot: ModelSlot::new(
            MapHandle::try_from(&sched.skel.maps.model_slot)?,
            generations.clone(),
        ),
        ensemble: None,
        stored: None,
    };
    let carried_generation = carried.as_ref().map_or(0, |c| c.generation);
    match &start.ensemble {
        Some(e) => {
            let flatten = |g| arbor_model::flat::flatten(e, g);
            let done = if carried_generation != 0 {
                live.slot.reinstall(carried_generation, flatten)
            } else {
                live.slot.install(flatten)
            }
            .with_context(|| format!("installing the model {}", start.name))?;
            info!("model {}: generation {}", start.name, done.generation);
        }
        None => info!("no model: every task gets the fallback class"),
    }
    live.ensemble = start.ensemble;
    live.stored = start.stored;
    for (row, a) in table.iter().enumerate() {
        info!(
            "action {:<8} slice {:>6} µs request {:>6} µs",
            action_name(row),
            a.slice_ns / 1000,
            a.request_ns / 1000
        );
    }

    sched.attach()?;
    info!(
        "scx_arbor attached ({} CPUs, fallback slice {} µs)",
        nr_cpus,
        table[CLASS_FALLBACK].slice_ns / 1000
    );
    info!(
        "verified insns: {}",
        super::verifier::describe(&super::verifier::verified_insns("arbor_"))
    );

    let cpu_stats = MapHandle::try_from(&sched.skel.maps.cpu_stats)?;
    let live = Arc::new(Mutex::new(live));
    let mut workers = start_workers(
        opts,
        maps,
        live.clone(),
        generations.clone(),
        watch_shared.clone(),
    )?;

    // scx_stats: the server thread asks, this loop answers with the totals
    // since attach (the server keeps each client's previous reading).
    let stats_server = stats_server::launch()?;
    let (res_ch, req_ch) = stats_server.channels();
    // A worker thread that died and cannot be restarted: detach and exit
    // non-zero rather than schedule with a dead part.
    let mut failed = None;
    // The statistics since attach, from a reading of the counters.
    let totals = |st: Status| workers.sources.collect(st, lock(&live).slot.generation());
    while !shutdown.load(Ordering::Relaxed) && !uei_exited!(&sched.skel, uei) {
        if let Err(e) = workers.supervisor.check() {
            failed = Some(e);
            break;
        }
        match req_ch.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => {
                res_ch
                    .send(totals(stats::read(&cpu_stats)?))
                    .context("answering the stats server")?;
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => bail!("the stats server went away: {e}"),
        }
    }

    workers.supervisor.stop();
    *carried = Some(lock(&live).carry());
    info!(
        "totals: {}",
        totals(stats::read(&cpu_stats)?).metrics.line()
    );
    sched.link.take();
    let uei = uei_report!(&sched.skel, uei)?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(uei.should_restart())
}

/// The --record-dir options as the recorder takes them.
fn dir_config(opts: &SchedOpts) -> DirConfig {
    const MIB: u64 = 1 << 20;
    DirConfig {
        dir: opts.record_dir.clone().unwrap_or_default(),
        rotate_after: Duration::from_secs(opts.record_rotate_secs),
        rotate_bytes: opts.record_rotate_mib.saturating_mul(MIB),
        keep: opts.record_keep,
        max_bytes: opts.record_max_mib.saturating_mul(MIB),
        workload: opts.record_workload.clone(),
    }
}

/// The --model-watch options as the watcher takes them.
fn watch_config(opts: &SchedOpts) -> Result<watch::Config> {
    let secs = |v: f64, name: &str| {
        if v.is_finite() && v >= 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(anyhow::anyhow!("{name} is a number of seconds, at least 0"))
        }
    };
    let canary = secs(opts.canary_secs, "--canary-secs")?;
    if canary.is_zero() {
        bail!("--canary-secs must be more than 0: a model is kept only after its canary window");
    }
    if !(opts.canary_max_rise_pct.is_finite() && opts.canary_max_rise_pct >= 0.0) {
        bail!("--canary-max-rise-pct is a percentage, at least 0");
    }
    if !(0.0..=100.0).contains(&opts.canary_margin) {
        bail!("--canary-margin is in score points, 0 to 100");
    }
    Ok(watch::Config {
        dir: opts.model_watch.clone().unwrap_or_default(),
        shadow: secs(opts.canary_shadow_secs, "--canary-shadow-secs")?,
        canary,
        limits: watch::verdict::Limits {
            margin: opts.canary_margin,
            min_bursts: opts.canary_min_bursts.max(1),
            max_rise: opts.canary_max_rise_pct / 100.0,
        },
    })
}

/// Run the scheduler until SIGINT/SIGTERM, restarting when the kernel asks
/// (e.g. on CPU hotplug).
pub fn run(opts: &SchedOpts) -> Result<()> {
    // Options that need no kernel are checked first.
    samples::ring_bytes(opts.sample_ring_kib, page_size())?;
    #[cfg(feature = "debug-torn")]
    if let Some(spec) = &opts.debug_fail_thread {
        FailPlan::parse(spec)?;
    }
    require_sched_ext()?;
    refuse_if_attached()?;
    // The record file is made once: a restart (CPU hotplug) appends to it.
    // The record directory is checked (created, readable) before attaching.
    if let Some(path) = &opts.record {
        CsvRecorder::create(path)?.flush()?;
    }
    if opts.record_dir.is_some() {
        DirRecorder::check(&dir_config(opts))?;
    }
    let watch_shared = match &opts.model_watch {
        Some(dir) => {
            if opts.learn != LearnMode::Off {
                bail!(
                    "--model-watch and --learn (shadow or on) both install models through the shadow slot; use one"
                );
            }
            watch_config(opts)?;
            watch::candidate::check_dir(dir)?;
            Some(Arc::new(Mutex::new(watch::Shared::default())))
        }
        None => None,
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    let s = shutdown.clone();
    ctrlc::set_handler(move || s.store(true, Ordering::Relaxed))
        .context("installing the SIGINT/SIGTERM handler")?;

    // --stats reads this instance through its own scx_stats server, as
    // --monitor and any other client would. The thread ends with the process.
    let _monitor = match opts.stats {
        Some(secs) => {
            let interval = stats_interval(secs)?;
            let s = shutdown.clone();
            Some(
                std::thread::Builder::new()
                    .name("arbor-stats".into())
                    .spawn(move || {
                        stats_server::wait_for_server(&s);
                        if let Err(e) = stats_server::monitor(interval, s) {
                            warn!("--stats: {e:#}");
                        }
                    })?,
            )
        }
        None => None,
    };

    let mut open_object = MaybeUninit::uninit();
    // A restart re-installs the model live before it, and generation
    // numbers go on from where they were.
    let mut carried = None;
    let generations = Arc::new(std::sync::atomic::AtomicU64::new(0));
    loop {
        let ended = run_once(
            opts,
            &shutdown,
            &mut open_object,
            &mut carried,
            &generations,
            watch_shared.as_ref(),
        );
        if shutdown.load(Ordering::Relaxed) {
            ended?;
            break;
        }
        // A model in its canary window when the kernel ejected or
        // restarted the scheduler is rolled back: attach again with the
        // generation before it (once: the canary is over).
        let why = match &ended {
            Ok(true) => "restarted",
            _ => "was ejected",
        };
        if let Some(previous) = watch_shared.as_ref().and_then(|w| watch::restarted(w, why)) {
            if let Err(e) = &ended {
                warn!("{e:#}");
            }
            warn!(
                "model-watch: the scheduler {why} during a canary window; attaching again with generation {}",
                previous.generation
            );
            carried = Some(previous);
            continue;
        }
        if !ended? {
            break;
        }
        info!("the kernel asked scx_arbor to restart");
    }
    Ok(())
}

/// `--monitor`: print the running instance's statistics every `secs`
/// seconds, read through its scx_stats server; no scheduling.
pub fn monitor(secs: f64) -> Result<()> {
    let interval = stats_interval(secs)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    let s = shutdown.clone();
    ctrlc::set_handler(move || s.store(true, Ordering::Relaxed))
        .context("installing the SIGINT/SIGTERM handler")?;
    stats_server::monitor(interval, shutdown)
}

/// A `--stats`/`--monitor` interval.
fn stats_interval(secs: f64) -> Result<Duration> {
    if !(secs.is_finite() && secs > 0.0) {
        bail!("a statistics interval must be a positive number of seconds, not {secs}");
    }
    Ok(Duration::from_secs_f64(secs))
}
