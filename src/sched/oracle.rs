//! The oracle map pinned for workloads (builds with the `oracle` feature,
//! `--oracle`): see arbor_intf::oracle.

use std::path::Path;

use anyhow::{Context, Result};
use libbpf_rs::MapHandle;
use log::{info, warn};

use arbor_intf::oracle::{PIN_DIR, PIN_PATH};

/// The pin, removed when dropped (the scheduler stops or restarts).
pub struct OraclePin;

impl OraclePin {
    /// Pin `map` where workloads look for it.
    pub fn pin(mut map: MapHandle) -> Result<Self> {
        std::fs::create_dir_all(PIN_DIR)
            .with_context(|| format!("creating {PIN_DIR} (is the BPF filesystem mounted?)"))?;
        if Path::new(PIN_PATH).exists() {
            std::fs::remove_file(PIN_PATH)
                .with_context(|| format!("removing a stale {PIN_PATH}"))?;
        }
        map.pin(PIN_PATH)
            .with_context(|| format!("pinning the oracle map at {PIN_PATH}"))?;
        info!("oracle: decisions follow what workloads publish in {PIN_PATH}");
        Ok(OraclePin)
    }
}

impl Drop for OraclePin {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(PIN_PATH) {
            warn!("removing {PIN_PATH}: {e}");
        }
        let _ = std::fs::remove_dir(PIN_DIR);
    }
}
