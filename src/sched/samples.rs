//! Outcome samples from the BPF ring buffer: the consumer, which hands
//! them to the recorder (record.rs) and in batches to the learner.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{MapHandle, RingBufferBuilder};

pub use arbor_intf::sample::Sample;

use super::record::Recorder;

/// Where the ring buffer consumer puts samples.
pub trait Sink {
    fn sample(&mut self, s: &Sample);
    /// After each poll of the ring buffer: the end of a batch.
    fn end_batch(&mut self) {}
}

/// Batch hand-off from the sample consumer to the learner: one lock per
/// batch, no allocation (both sides keep vectors of `cap` samples and swap
/// them). What the learner has not taken when the queue is full is dropped
/// and counted, never waited for.
pub struct HandOff {
    queued: Mutex<Vec<Sample>>,
    cap: usize,
    dropped: Arc<AtomicU64>,
}

impl HandOff {
    pub fn new(cap: usize, dropped: Arc<AtomicU64>) -> Arc<Self> {
        Arc::new(Self {
            queued: Mutex::new(Vec::with_capacity(cap)),
            cap,
            dropped,
        })
    }

    /// A vector for either side of the hand-off.
    pub fn buffer(&self) -> Vec<Sample> {
        Vec::with_capacity(self.cap)
    }

    /// Queue `batch` (leaving it empty); what does not fit is dropped.
    pub fn put(&self, batch: &mut Vec<Sample>) {
        let mut q = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.cap.saturating_sub(q.len());
        if batch.len() > room {
            self.dropped
                .fetch_add((batch.len() - room) as u64, Ordering::Relaxed);
            batch.truncate(room);
        }
        q.extend_from_slice(batch);
        batch.clear();
    }

    /// Swap the queued samples into `out`, which must be empty.
    pub fn take(&self, out: &mut Vec<Sample>) {
        debug_assert!(out.is_empty());
        out.clear();
        let mut q = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *q, out);
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The consumer's sink: the recorder (`--record`, `--record-dir`) and the
/// learner's hand-off.
pub struct Consumer {
    pub recorder: Option<Recorder>,
    last_flush: Instant,
    learner: Option<(Arc<HandOff>, Vec<Sample>)>,
    /// TESTS ONLY (`--debug-fail-thread samples`): panic at the end of the
    /// first batch after this time.
    #[cfg(feature = "debug-torn")]
    pub fail_at: Option<Instant>,
}

impl Consumer {
    pub fn new(recorder: Option<Recorder>, learner: Option<Arc<HandOff>>) -> Self {
        Self {
            recorder,
            last_flush: Instant::now(),
            learner: learner.map(|h| {
                let buf = h.buffer();
                (h, buf)
            }),
            #[cfg(feature = "debug-torn")]
            fail_at: None,
        }
    }

    /// Close the recorder and say what it wrote.
    pub fn finish(mut self) {
        self.end_batch();
        if let Some(rec) = self.recorder.take() {
            rec.finish();
        }
    }
}

impl Sink for Consumer {
    fn sample(&mut self, s: &Sample) {
        if let Some(rec) = self.recorder.as_mut() {
            rec.write(s);
        }
        if let Some((hand_off, batch)) = self.learner.as_mut() {
            if batch.len() == batch.capacity() {
                hand_off.put(batch);
            }
            batch.push(*s);
        }
    }

    fn end_batch(&mut self) {
        #[cfg(feature = "debug-torn")]
        if self.fail_at.is_some_and(|t| Instant::now() >= t) {
            panic!("DEBUG: injected failure of the sample consumer thread");
        }
        if let Some((hand_off, batch)) = self.learner.as_mut() {
            if !batch.is_empty() {
                hand_off.put(batch);
            }
        }
        if let Some(rec) = self.recorder.as_mut() {
            let flush = self.last_flush.elapsed() >= Duration::from_secs(1);
            if flush {
                self.last_flush = Instant::now();
            }
            rec.end_batch(flush);
        }
    }
}

/// How long the consumer waits for the ring to fill before it drains it
/// anyway. The BPF side submits without a wakeup until the ring is ¼ full
/// (about 3,640 samples in the default 1 MiB ring, which holds 14,563), so at the
/// budgeted rates the consumer wakes about 4 times a second, whatever the
/// sample rate: several seconds of samples fit at the rates seen in the VM.
pub const DRAIN_EVERY: Duration = Duration::from_millis(250);

/// Bytes one sample takes in the ring: the kernel's 8-byte record header
/// and the sample, rounded up to 8 bytes.
pub const RECORD_BYTES: usize =
    (8 + std::mem::size_of::<arbor_intf::bpf_intf::arbor_sample>() + 7) & !7;

/// Largest ring `--sample-ring-kib` takes.
pub const MAX_RING_KIB: u32 = 1 << 20;

/// The ring's size in bytes for `--sample-ring-kib KIB`: a power of two of
/// at least one page (`page` bytes) and at most [`MAX_RING_KIB`], as the
/// kernel's BPF ring buffer requires.
pub fn ring_bytes(kib: u32, page: u64) -> Result<u32> {
    let bytes = u64::from(kib) * 1024;
    if !kib.is_power_of_two() || bytes < page || kib > MAX_RING_KIB {
        anyhow::bail!(
            "--sample-ring-kib {kib}: the sample ring must be a power of two of at least \
             one page ({} KiB) and at most {MAX_RING_KIB} KiB (1 GiB)",
            page / 1024
        );
    }
    Ok(bytes as u32)
}

/// Samples drained from the ring between two ends of a batch: under a
/// flood the consumer still ends a batch (hands samples to the learner,
/// rotates and flushes the recorder) every this many.
pub const DRAIN_CHUNK: usize = 4096;

/// Wait up to `timeout` for the ring's epoll fd to be readable (the BPF
/// side's wakeup at ¼ full); Ok either way, or when a signal interrupted.
fn wait_readable(epoll_fd: i32, timeout: Duration) -> Result<()> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one event into a valid epoll_event; the fd is the ring's.
    let n = unsafe { libc::epoll_wait(epoll_fd, &mut ev, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("waiting on the samples ring buffer");
        }
    }
    Ok(())
}

/// Consume the ring buffer until `stop`: wait in epoll for the BPF side's
/// wakeup (ring ¼ full) or [`DRAIN_EVERY`], then drain what is there in
/// chunks of [`DRAIN_CHUNK`]; every sample goes to `sink`, and each chunk
/// ends a batch. Returns the number of samples consumed.
pub fn consume<S: Sink>(samples: &MapHandle, stop: Arc<AtomicBool>, sink: &mut S) -> Result<u64> {
    let mut count = 0u64;
    let sink = RefCell::new(sink);
    {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(samples, |bytes: &[u8]| {
                if let Some(s) = Sample::from_bytes(bytes) {
                    count += 1;
                    sink.borrow_mut().sample(&s);
                }
                0
            })
            .context("attaching to the samples ring buffer")?;
        let rb = builder.build().context("building the ring buffer")?;
        while !stop.load(Ordering::Relaxed) {
            wait_readable(rb.epoll_fd(), DRAIN_EVERY)?;
            loop {
                let n = rb.consume_raw_n(DRAIN_CHUNK);
                if n < 0 && n != -libc::EINTR {
                    return Err(std::io::Error::from_raw_os_error(-n))
                        .context("draining the samples ring buffer");
                }
                sink.borrow_mut().end_batch();
                if n < DRAIN_CHUNK as i32 || stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        // What came after the last wait.
        let n = rb.consume_raw();
        if n < 0 && n != -libc::EINTR {
            return Err(std::io::Error::from_raw_os_error(-n))
                .context("draining the samples ring buffer");
        }
        sink.borrow_mut().end_batch();
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_are_powers_of_two_of_a_page_or_more() {
        assert_eq!(ring_bytes(4, 4096).unwrap(), 4096);
        assert_eq!(ring_bytes(1024, 4096).unwrap(), 1 << 20);
        assert_eq!(ring_bytes(MAX_RING_KIB, 4096).unwrap(), 1 << 30);
        for bad in [0, 2, 3, 6, 1000, MAX_RING_KIB * 2] {
            let e = ring_bytes(bad, 4096).unwrap_err().to_string();
            assert!(
                e.contains("power of two of at least one page (4 KiB)"),
                "{bad}: {e}"
            );
        }
        // A 64 KiB page (arm64, ppc64) raises the minimum.
        assert!(ring_bytes(16, 65536).is_err());
        assert!(ring_bytes(64, 65536).is_ok());
        // The kernel's record: 8-byte header + the 76-byte sample padded to 80.
        assert_eq!(RECORD_BYTES, 88);
    }

    fn numbered(i: u32) -> Sample {
        Sample {
            ts_ns: u64::from(i),
            pid: i,
            generation: 0,
            features: [i; arbor_intf::schema::NR_FEATURES],
            predicted: 0,
            actual: 0,
            burst_us: 0,
            truncated: false,
            shadow: None,
            point: 0,
            oracle: false,
        }
    }

    #[test]
    fn hand_off_keeps_order_counts_drops_and_never_grows() {
        let dropped = Arc::new(AtomicU64::new(0));
        let h = HandOff::new(8, dropped.clone());
        let mut c = Consumer::new(None, Some(h.clone()));
        let mut taken = h.buffer();
        let mut seen = Vec::new();
        let (p0, p1) = (taken.as_ptr(), c.learner.as_ref().unwrap().1.as_ptr());
        let mut ptrs = std::collections::BTreeSet::new();
        for round in 0..50u32 {
            for i in 0..5 {
                c.sample(&numbered(round * 5 + i));
            }
            c.end_batch();
            h.take(&mut taken);
            ptrs.insert(taken.as_ptr());
            assert_eq!(taken.capacity(), 8, "the learner's buffer grew");
            seen.extend(taken.iter().map(|s| s.pid));
            taken.clear();
        }
        assert_eq!(seen, (0..250).collect::<Vec<_>>());
        assert_eq!(h.dropped(), 0);
        // Only the three vectors made up front ever hold samples.
        assert!(ptrs.len() <= 3 && (ptrs.contains(&p0) || ptrs.contains(&p1)));

        // The learner stalls: 20 samples into 8 slots; 12 dropped, the
        // consumer never blocks.
        for i in 0..20 {
            c.sample(&numbered(1000 + i));
        }
        c.end_batch();
        assert_eq!(dropped.load(Ordering::Relaxed), 12);
        h.take(&mut taken);
        assert_eq!(taken.len(), 8);
        assert_eq!(taken[0].pid, 1000);
    }
}
