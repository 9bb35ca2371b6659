//! Installing models into the BPF side's `model_slot` atomically.
//!
//! Each model lives alone in a fresh inner array map. Installing fills the
//! new map completely, then swaps it into slot 0 of the `model_slot`
//! ARRAY_OF_MAPS with one map update: a decision walks either the old model or
//! the new one, never a mix. The kernel frees the old inner map once no
//! program can still be using it.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use arbor_intf::bpf_intf::arbor_model;

/// The view of the model slot from userspace.
pub struct ModelSlot {
    slot: MapHandle,
    /// Inner map of the installed model (kept for the torn-write control).
    live: Option<MapHandle>,
    /// Generation of the installed model (0: none).
    generation: u64,
    /// Source of generation numbers, shared by the live and shadow slots so
    /// a generation names one model only.
    counter: Arc<AtomicU64>,
}

/// What an install did.
#[derive(Debug, Clone, Copy)]
pub struct Installed {
    pub generation: u64,
    /// Time from the start of the install to the slot swap returning.
    pub latency: Duration,
}

impl ModelSlot {
    /// Wrap a model slot map (`model_slot` or `shadow_slot`); `counter`
    /// hands out generation numbers.
    pub fn new(slot: MapHandle, counter: Arc<AtomicU64>) -> Self {
        Self {
            slot,
            live: None,
            generation: 0,
            counter,
        }
    }

    fn next_generation(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Generation of the installed model (0: none).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn new_inner_map() -> Result<MapHandle> {
        let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
            sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
            map_flags: libbpf_rs::libbpf_sys::BPF_F_MMAPABLE,
            ..Default::default()
        };
        MapHandle::create(
            MapType::Array,
            Some("arbor_model"),
            4,
            std::mem::size_of::<arbor_model>() as u32,
            1,
            &opts,
        )
        .context("creating a model map")
    }

    /// Install a model. `build` gets the new generation and returns the flat
    /// model stamped with it (gen_head, gen_tail and every node's gen_tag).
    pub fn install<F>(&mut self, build: F) -> Result<Installed>
    where
        F: FnOnce(u64) -> Result<Box<arbor_model>>,
    {
        let generation = self.next_generation();
        self.install_as(generation, build)
    }

    /// Install a model under a generation it already has: the model that
    /// was live when the scheduler restarted (a generation names one
    /// model, whichever instance installed it).
    pub fn reinstall<F>(&mut self, generation: u64, build: F) -> Result<Installed>
    where
        F: FnOnce(u64) -> Result<Box<arbor_model>>,
    {
        if generation == 0 || generation > self.counter.load(Ordering::Relaxed) {
            bail!("internal error: generation {generation} was never handed out");
        }
        self.install_as(generation, build)
    }

    fn install_as<F>(&mut self, generation: u64, build: F) -> Result<Installed>
    where
        F: FnOnce(u64) -> Result<Box<arbor_model>>,
    {
        let start = Instant::now();
        let model = build(generation)?;
        if model.gen_head != generation || model.gen_tail != generation {
            bail!("internal error: model not stamped with generation {generation}");
        }
        let inner = Self::new_inner_map()?;
        inner
            .update(
                &0u32.to_ne_bytes(),
                zerocopy::IntoBytes::as_bytes(&*model),
                MapFlags::ANY,
            )
            .context("writing the model into its map")?;
        let fd = inner.as_fd().as_raw_fd();
        self.slot
            .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
            .context("swapping the model into model_slot")?;
        let latency = start.elapsed();
        self.generation = generation;
        self.live = Some(inner);
        Ok(Installed {
            generation,
            latency,
        })
    }

    /// Remove the model: decisions fall back to the constant class.
    pub fn clear(&mut self) -> Result<()> {
        match self.slot.delete(&0u32.to_ne_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("clearing model_slot"),
        }
        self.live = None;
        self.generation = 0;
        Ok(())
    }

    /// NEGATIVE CONTROL FOR TESTS ONLY: overwrite the live model in place
    /// through an mmap of its map, header first and nodes slowly afterwards,
    /// exactly the torn write the slot swap exists to prevent. The BPF side
    /// must see and count it (torn_reads). Never used by normal installs.
    #[cfg(feature = "debug-torn")]
    pub fn debug_torn_overwrite<F>(&mut self, build: F, hold: Duration) -> Result<Installed>
    where
        F: FnOnce(u64) -> Result<Box<arbor_model>>,
    {
        let start = Instant::now();
        let generation = self.next_generation();
        let model = build(generation)?;
        let live = self
            .live
            .as_ref()
            .context("no model is installed to overwrite in place")?;
        let size = std::mem::size_of::<arbor_model>();
        let page = 4096;
        let map_len = size.div_ceil(page) * page;
        // SAFETY: the map is BPF_F_MMAPABLE with one element of `size` bytes;
        // mapping its pages shared and writing within `size` is what the
        // kernel allows for such maps.
        unsafe {
            let ptr = libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                live.as_fd().as_raw_fd(),
                0,
            );
            if ptr == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error()).context("mmap of the live model");
            }
            let dst = ptr as *mut arbor_model;
            // Header first: the model claims the new generation while its
            // nodes are still the old tree's.
            (*dst).gen_tail = generation;
            (*dst).gen_head = generation;
            (*dst).nr_trees = model.nr_trees;
            (*dst).nr_classes = model.nr_classes;
            (*dst).nr_nodes = model.nr_nodes;
            (*dst).nr_leaves = model.nr_leaves;
            (*dst).roots = model.roots;
            (*dst).base_scores = model.base_scores;
            std::thread::sleep(hold);
            for i in 0..model.nr_nodes as usize {
                std::ptr::write_volatile(&mut (*dst).nodes[i], model.nodes[i]);
                if i % 8 == 7 {
                    std::thread::sleep(hold / 16);
                }
            }
            (*dst).leaves = model.leaves;
            libc::munmap(ptr, map_len);
        }
        self.generation = generation;
        Ok(Installed {
            generation,
            latency: start.elapsed(),
        })
    }
}
