//! Outcome samples from the BPF ring buffer: parsing and the `--record` CSV.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::{MapHandle, RingBufferBuilder};

use crate::bpf_intf::arbor_sample;
use crate::schema::{FEATURES, NR_FEATURES};

unsafe impl plain::Plain for arbor_sample {}

/// One outcome: the features a decision saw, the decision, the actual burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub ts_ns: u64,
    pub pid: u32,
    pub generation: u64,
    pub features: [u32; NR_FEATURES],
    /// Action row used: a class, or `schema::CLASS_FALLBACK`.
    pub predicted: u8,
    /// Class of the actual burst.
    pub actual: u8,
    pub burst_us: u32,
    pub truncated: bool,
    /// The shadow model's class, if one was walked.
    pub shadow: Option<u8>,
}

impl Sample {
    /// Parse a ring buffer record.
    pub fn from_bytes(bytes: &[u8]) -> Option<Sample> {
        // SAFETY: plain integers; all-zero is valid.
        let mut raw: arbor_sample = unsafe { std::mem::zeroed() };
        plain::copy_from_bytes(&mut raw, bytes).ok()?;
        Some(Sample {
            ts_ns: raw.ts_ns,
            pid: raw.pid,
            generation: raw.generation,
            features: raw.features,
            predicted: raw.predicted,
            actual: raw.actual,
            burst_us: raw.burst_us,
            truncated: raw.truncated != 0,
            shadow: (u32::from(raw.shadow) != crate::bpf_intf::arbor_limits_ARBOR_NO_SHADOW)
                .then_some(raw.shadow),
        })
    }
}

/// The CSV header `--record` writes (and `model train` reads).
pub fn csv_header() -> String {
    let mut cols = vec!["ts_ns", "pid", "generation"];
    cols.extend(FEATURES.iter().map(|f| f.name));
    cols.extend(["predicted", "actual", "burst_us", "truncated"]);
    cols.join(",")
}

/// One CSV row, in [`csv_header`] order.
pub fn csv_row(s: &Sample) -> String {
    let mut row = format!("{},{},{}", s.ts_ns, s.pid, s.generation);
    for f in s.features {
        row.push(',');
        row.push_str(&f.to_string());
    }
    row.push_str(&format!(
        ",{},{},{},{}",
        s.predicted, s.actual, s.burst_us, s.truncated as u8
    ));
    row
}

/// Writes samples as CSV, flushing periodically so a killed run loses little.
pub struct CsvRecorder {
    out: BufWriter<File>,
    rows: u64,
}

impl CsvRecorder {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("creating the record file {}", path.display()))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", csv_header())?;
        Ok(Self { out, rows: 0 })
    }

    pub fn write(&mut self, s: &Sample) -> Result<()> {
        writeln!(self.out, "{}", csv_row(s))?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().context("flushing the record file")
    }
}

/// Consume the ring buffer until `stop` (checked at least every 100 ms),
/// handing every sample to `sink`. Returns the number of samples consumed.
/// BPF submits samples without waking this thread (it wakes it only when
/// the ring is a quarter full), so the ring is drained every 100 ms.
pub fn consume<F>(samples: &MapHandle, stop: Arc<AtomicBool>, mut sink: F) -> Result<u64>
where
    F: FnMut(&Sample),
{
    let mut count = 0u64;
    {
        let mut builder = RingBufferBuilder::new();
        builder
            .add(samples, |bytes: &[u8]| {
                if let Some(s) = Sample::from_bytes(bytes) {
                    count += 1;
                    sink(&s);
                }
                0
            })
            .context("attaching to the samples ring buffer")?;
        let rb = builder.build().context("building the ring buffer")?;
        while !stop.load(Ordering::Relaxed) {
            match rb.poll(Duration::from_millis(100)) {
                Ok(()) => {}
                Err(e) if e.kind() == libbpf_rs::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("polling the samples ring buffer"),
            }
            // The poll returns on its timeout without reading what was
            // submitted silently.
            rb.consume().context("draining the samples ring buffer")?;
        }
        // Drain what is left.
        let _ = rb.consume();
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CLASS_FALLBACK;

    #[test]
    fn header_and_row_have_matching_columns() {
        let s = Sample {
            ts_ns: 7,
            pid: 42,
            generation: 3,
            features: [1, 2, 3, 4, 5, 6, 7, 8],
            predicted: CLASS_FALLBACK as u8,
            actual: 2,
            burst_us: 3000,
            truncated: false,
            shadow: None,
        };
        let header = csv_header();
        assert_eq!(
            header,
            "ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,wake_rate_hz,\
             voluntary_permille,weight,nr_cpus_allowed,runnable_load,predicted,actual,burst_us,truncated"
        );
        let row = csv_row(&s);
        assert_eq!(row, "7,42,3,1,2,3,4,5,6,7,8,4,2,3000,0");
        assert_eq!(header.split(',').count(), row.split(',').count());
    }

    #[test]
    fn parses_a_ring_buffer_record() {
        // SAFETY: plain integers.
        let mut raw: arbor_sample = unsafe { std::mem::zeroed() };
        raw.pid = 9;
        raw.features[7] = 11;
        raw.burst_us = 17000;
        raw.actual = 3;
        raw.truncated = 1;
        raw.shadow = 0xff;
        let s = Sample::from_bytes(crate::sched::bytes_of(&raw)).unwrap();
        assert_eq!(
            (s.pid, s.features[7], s.burst_us, s.actual),
            (9, 11, 17000, 3)
        );
        assert!(s.truncated);
        assert_eq!(s.shadow, None);
        assert!(Sample::from_bytes(&[0u8; 3]).is_none());
    }
}
