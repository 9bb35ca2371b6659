//! What the control socket's requests do in a running scheduler: `status`,
//! `explain`, `swap` (and the test-only `swap-torn`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(feature = "debug-torn")]
use anyhow::bail;
use anyhow::{Context, Result};
use libbpf_rs::MapHandle;
use log::info;
#[cfg(feature = "debug-torn")]
use log::warn;
use serde_json::json;

use crate::sched::learning::LiveModel;
use crate::sched::model_slot::Installed;
use crate::sched::stats::{self, Sources};
#[cfg(feature = "debug-torn")]
use crate::sched::supervisor::inject::FailPlan;
use crate::sched::supervisor::lock;
#[cfg(feature = "debug-torn")]
use crate::sched::supervisor::Part;
use arbor_proto::control::Request;

/// Everything the control thread needs.
pub struct Control {
    pub live: Arc<Mutex<LiveModel>>,
    pub cpu_stats: MapHandle,
    /// The learner's and the guard's figures.
    pub sources: Sources,
    /// For `explain`: the task storage and the action table.
    pub task_ctxs: MapHandle,
    pub actions: MapHandle,
    #[cfg(feature = "debug-torn")]
    pub allow_torn: bool,
    #[cfg(feature = "debug-torn")]
    pub fail: Option<Arc<FailPlan>>,
}

impl Control {
    /// Time from `t0` until some CPU decided with `generation` (polled every
    /// 50 µs, up to 1 s; None if no decision was made with it by then).
    fn wait_visible(&self, generation: u64, t0: Instant) -> Option<Duration> {
        while t0.elapsed() < Duration::from_secs(1) {
            match stats::read(&self.cpu_stats) {
                Ok(st) if st.metrics.generation >= generation => return Some(t0.elapsed()),
                Ok(_) => std::thread::sleep(Duration::from_micros(50)),
                Err(_) => return None,
            }
        }
        None
    }

    /// Answer one request.
    pub fn handle(&self, req: Request) -> Result<serde_json::Value> {
        #[cfg(feature = "debug-torn")]
        if let Some(p) = self.fail.as_deref() {
            if req == Request::Status && p.fires(Part::Control) {
                p.fail(&self.live);
            }
        }
        match req {
            Request::Status => {
                let st = stats::read(&self.cpu_stats)?;
                let installed = lock(&self.live).slot.generation();
                let status = self.sources.collect(st, installed);
                serde_json::to_value(&status).context("encoding the status reply")
            }
            Request::Explain(pid) => {
                let live = lock(&self.live);
                crate::sched::explain::answer(
                    pid,
                    &self.task_ctxs,
                    &self.actions,
                    live.ensemble.as_ref(),
                    live.slot.generation(),
                )
            }
            Request::Swap(bytes) => {
                let t0 = Instant::now();
                let done = install_onnx(&mut lock(&self.live), &bytes)
                    .context("model refused; the running model is unchanged")?;
                let visible = self.wait_visible(done.generation, t0);
                info!(
                    "installed model generation {} in {:?} (in use after {:?})",
                    done.generation, done.latency, visible
                );
                Ok(json!({
                    "generation": done.generation,
                    "install_us": done.latency.as_micros() as u64,
                    "visible_us": visible.map(|d| d.as_micros() as u64),
                }))
            }
            #[cfg(feature = "debug-torn")]
            Request::SwapTorn(bytes) => {
                if !self.allow_torn {
                    bail!("swap-torn is a test-only negative control; start scx_arbor with --debug-allow-torn-install to allow it");
                }
                let imported = arbor_model::onnx_import::import_bytes(&bytes)?;
                let done = lock(&self.live).slot.debug_torn_overwrite(
                    |g| arbor_model::flat::flatten(&imported.ensemble, g),
                    Duration::from_millis(200),
                )?;
                warn!(
                    "DEBUG: overwrote the live model in place as generation {}",
                    done.generation
                );
                Ok(json!({ "generation": done.generation }))
            }
        }
    }
}

/// Install ONNX bytes as the live model; the running model stays as it was
/// if they are refused.
pub fn install_onnx(live: &mut LiveModel, bytes: &[u8]) -> Result<Installed> {
    let imported = arbor_model::onnx_import::import_bytes(bytes)?;
    let done = live
        .slot
        .install(|g| arbor_model::flat::flatten(&imported.ensemble, g))?;
    live.ensemble = Some(imported.ensemble);
    // Which saved generation it is, if any, the learner finds out.
    live.stored = None;
    Ok(done)
}
