//! The workload families feed a pinned oracle map: a HASH of u32 thread id
//! → u64 end_exec_ns, as an `--oracle` scx_arbor pins it, made here on a
//! private bpffs mount (needs root, as CI runs). Every family writes one
//! entry per thread it predicts; a map of the wrong shape, or one that
//! refuses an update, is a clear error, never a silent no-op.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use arbor_ab::oracle::Oracle;
use arbor_ab::{fanout, phases, requests};
use libbpf_rs::{libbpf_sys, MapCore, MapHandle, MapType};

/// A bpffs mounted on a fresh directory, unmounted when dropped.
struct BpfFs(PathBuf);

impl BpfFs {
    fn mount(tag: &str) -> BpfFs {
        // SAFETY: geteuid cannot fail.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "tests/host_oracle.rs mounts a bpffs and creates BPF maps: run it as root"
        );
        let dir = std::env::temp_dir().join(format!("arbor-oracle-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(&dir)
            .status()
            .expect("running mount");
        assert!(st.success(), "mount -t bpf bpf {} failed", dir.display());
        BpfFs(dir)
    }

    /// A HASH map pinned at NAME in this mount.
    fn map(&self, name: &str, value_size: u32, entries: u32) -> PathBuf {
        let opts = libbpf_sys::bpf_map_create_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
            ..Default::default()
        };
        let mut m = MapHandle::create(MapType::Hash, Some("oracle"), 4, value_size, entries, &opts)
            .expect("creating a BPF hash map");
        let p = self.0.join(name);
        m.pin(&p).expect("pinning the map");
        p
    }
}

impl Drop for BpfFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// (thread id, end_exec_ns) of every entry.
fn entries(path: &Path) -> Vec<(u32, u64)> {
    let m = MapHandle::from_pinned_path(path).unwrap();
    m.keys()
        .map(|k| {
            let v = m.lookup(&k, libbpf_rs::MapFlags::ANY).unwrap().unwrap();
            (
                u32::from_ne_bytes(k[..4].try_into().unwrap()),
                u64::from_ne_bytes(v[..8].try_into().unwrap()),
            )
        })
        .collect()
}

const WARM: Duration = Duration::from_millis(100);
const RUN: Duration = Duration::from_millis(700);

fn requests_cfg() -> requests::RequestsConfig {
    requests::RequestsConfig {
        workers: 3,
        load: 0.2,
        cpus: 2,
        short_us: 100,
        long_us: 1000,
        long_share: 0.2,
        long_runs: 0,
        long_runs_p: 0.8,
        hogs: 0,
        seed: 1,
    }
}

/// Entries are plausible CPU clocks: past the allowance, under a minute.
fn plausible(what: &str, e: &[(u32, u64)]) {
    for (tid, end) in e {
        assert!(
            *tid > 0 && (10_000..60_000_000_000).contains(end),
            "{what}: thread {tid} ends at {end} ns"
        );
    }
}

#[test]
fn every_family_feeds_one_entry_per_predicted_thread() {
    let fs = BpfFs::mount("feed");
    let stop = AtomicBool::new(false);

    let p = fs.map("requests", 8, 1024);
    let o = Oracle::open_at(&p).unwrap();
    assert!(o.fed());
    let c = requests_cfg();
    let r = requests::run(&c, WARM, RUN, &o, &stop, &mut |_| {}).unwrap();
    let e = entries(&p);
    // The workers (the generator predicts none of its own).
    assert_eq!(e.len(), c.workers, "{e:?}");
    plausible("requests", &e);
    assert!(
        r.oracle.fed && r.oracle.updates >= r.served.len() as u64,
        "{:?}",
        r.oracle
    );

    let p = fs.map("fanout", 8, 1024);
    let o = Oracle::open_at(&p).unwrap();
    let c = fanout::FanoutConfig {
        period_us: 10007,
        batch: vec![1, 3],
        batch_p: vec![],
        post_us: 100,
        work_us: 100,
        hogs: 0,
        seed: 1,
    };
    let r = fanout::run(&c, WARM, RUN, &o, &stop, &mut |_| {}).unwrap();
    let e = entries(&p);
    // Three workers and the dispatcher.
    assert_eq!(e.len(), 4, "{e:?}");
    plausible("fanout", &e);
    // Per round: the dispatcher twice, each woken worker once.
    let woken: usize = r.rounds.iter().map(|x| x.batch).sum();
    assert!(
        r.oracle.updates as usize >= woken + 2 * r.rounds.len(),
        "{:?}",
        r.oracle
    );

    let p = fs.map("phases", 8, 1024);
    let o = Oracle::open_at(&p).unwrap();
    let c = phases::PhasesConfig {
        tasks: 2,
        phase_ms: 200,
        period_us: vec![2017],
        burst_us: 50,
        batch_burst_us: 2000,
        batch_sleep_us: 500,
        switch_window_ms: 50,
        hogs: 0,
    };
    let r = phases::run(&c, WARM, RUN, &o, &stop, &mut |_| {}).unwrap();
    let e = entries(&p);
    assert_eq!(e.len(), 2, "{e:?}");
    plausible("phases", &e);
    // Before each sleep and at each burst's start.
    let wakeups: usize = r.tasks.iter().map(|t| t.wakeups.len()).sum();
    assert!(r.oracle.updates as usize >= 2 * wakeups, "{:?}", r.oracle);
}

#[test]
fn a_map_of_the_wrong_shape_or_a_full_one_is_an_error() {
    let fs = BpfFs::mount("errors");
    let p = fs.map("wide", 16, 64);
    let e = format!("{:#}", Oracle::open_at(&p).unwrap_err());
    assert!(
        e.contains("16-byte values") && e.contains("expected a Hash map"),
        "{e}"
    );

    // Room for one thread: the second worker's entry is refused (E2BIG).
    let p = fs.map("tiny", 8, 1);
    let o = Oracle::open_at(&p).unwrap();
    let stop = AtomicBool::new(false);
    let e = requests::run(&requests_cfg(), WARM, RUN, &o, &stop, &mut |_| {}).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("updating the oracle map") && e.contains("tiny"),
        "{e}"
    );
}
