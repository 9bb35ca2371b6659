//! What a scheduler arm's process did during a round, read through public
//! interfaces only: its CPU time from /proc, scx_arbor's statistics from
//! its scx_stats server, and the generations its learn arm promoted from
//! the lineage files of its model directory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::report;

/// Promoted generations in a model directory, oldest first, from their
/// lineage files (`gen-NNNNNN.json`, whose format docs/learning.md
/// documents): what the learn arm's scheduler promoted.
pub(crate) fn promoted_generations(dir: &std::path::Path) -> Result<Vec<u64>> {
    #[derive(serde::Deserialize)]
    struct Lineage {
        generation: u64,
        promoted: bool,
    }
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(number) = name
            .strip_prefix("gen-")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            continue; // gen-NNNNNN.live.json: the live score, not a lineage
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let lineage: Lineage = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a lineage record", path.display()))?;
        if lineage.promoted {
            out.push(lineage.generation);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The scheduler process's CPU time, and for scx_arbor its statistics,
/// from the start of a round's workloads to their end.
pub(crate) struct SchedWatch {
    pid: u32,
    cpu: Option<arbor_util::proc_cpu::CpuReading>,
    /// A connection to scx_arbor's scx_stats server, which has answered
    /// once (the totals): its next answer is what happened since. None for
    /// another scheduler, or when the server did not answer in time.
    stats: Option<scx_stats::prelude::StatsClient>,
}

/// Connect to the scx_stats server at `path` and take its first reading.
fn stats_connection(path: &std::path::Path) -> Option<scx_stats::prelude::StatsClient> {
    let mut client = scx_stats::prelude::StatsClient::new()
        .set_path(path)
        .connect(Some(2000))
        .ok()?;
    client
        .request::<arbor_proto::metrics::Metrics>("stats", vec![])
        .ok()?;
    Some(client)
}

impl SchedWatch {
    /// The scheduler serves its statistics a moment after sched_ext
    /// reports it attached: wait up to `wait` for them.
    pub(crate) fn start(
        pid: u32,
        stats: Option<&std::path::Path>,
        wait: Duration,
        stop: &AtomicBool,
    ) -> SchedWatch {
        let t0 = Instant::now();
        let stats = stats.and_then(|path| loop {
            match stats_connection(path) {
                Some(c) => break Some(c),
                None if t0.elapsed() < wait && !stop.load(Ordering::SeqCst) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                None => break None,
            }
        });
        SchedWatch {
            cpu: arbor_util::proc_cpu::read(&pid.to_string()).ok(),
            stats,
            pid,
        }
    }

    pub(crate) fn finish(self) -> report::SchedulerJson {
        let cpu_pct = match (self.cpu, arbor_util::proc_cpu::read(&self.pid.to_string())) {
            (Some(a), Ok(b)) => b.percent_since(&a),
            _ => f64::NAN,
        };
        let mut j = report::SchedulerJson {
            cpu_pct,
            ..Default::default()
        };
        let reading = self.stats.and_then(|mut c| {
            c.request::<arbor_proto::metrics::Metrics>("stats", vec![])
                .ok()
        });
        if let Some(d) = reading {
            let scored = d.model_outcomes > 0;
            j.model_score = scored.then_some(d.model_score);
            j.model_balanced_accuracy = scored.then_some(d.model_balanced_accuracy_pct);
            j.model_outcomes = d.model_outcomes;
            j.decisions = d.decisions;
            j.samples_sent = d.samples_sent;
            j.samples_throttled = d.samples_throttled;
            j.installed_generation = (d.installed_generation > 0).then_some(d.installed_generation);
        }
        j
    }
}
