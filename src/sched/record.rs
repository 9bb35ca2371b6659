//! The recorder: outcome samples as CSV, to one file (`--record FILE`) or
//! to rotated, bounded, gzip-compressed files in a directory
//! (`--record-dir DIR`, dir.rs). Neither ever blocks scheduling: a write
//! that fails is logged and the sample is lost, counted by no one else.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use log::{info, warn};

use arbor_intf::sample::Sample;
use arbor_intf::schema::FEATURES;

pub mod dir;

use dir::DirRecorder;

/// What the recorder did, for the statistics (`record_*`).
#[derive(Debug, Default)]
pub struct RecordCounters {
    /// Rows written, in either mode.
    pub rows: AtomicU64,
    /// `--record-dir`: files closed and renamed to `.csv.gz`.
    pub files_written: AtomicU64,
    /// `--record-dir`: closed files deleted to stay within `--record-keep`
    /// and `--record-max-mib`.
    pub files_deleted: AtomicU64,
}

/// The CSV header `--record` writes (and `model train` reads).
pub fn csv_header() -> String {
    let mut cols = vec!["ts_ns", "pid", "generation"];
    cols.extend(FEATURES.iter().map(|f| f.name));
    cols.extend([
        "predicted",
        "actual",
        "burst_us",
        "truncated",
        "point",
        "oracle",
    ]);
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
        ",{},{},{},{},{},{}",
        s.predicted, s.actual, s.burst_us, s.truncated as u8, s.point, s.oracle as u8
    ));
    row
}

/// Writes samples as CSV, flushing periodically so a killed run loses little.
pub struct CsvRecorder {
    out: BufWriter<File>,
}

impl CsvRecorder {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("creating the record file {}", path.display()))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", csv_header())?;
        Ok(Self { out })
    }

    /// Go on writing an existing record file (after a restart of the
    /// consumer or of the scheduler): rows are appended below what it holds.
    pub fn append(path: &Path) -> Result<Self> {
        let file = File::options()
            .append(true)
            .open(path)
            .with_context(|| format!("reopening the record file {}", path.display()))?;
        Ok(Self {
            out: BufWriter::new(file),
        })
    }

    pub fn write(&mut self, s: &Sample) -> Result<()> {
        writeln!(self.out, "{}", csv_row(s))?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().context("flushing the record file")
    }
}

/// Where the samples go: one CSV file, or a directory of rotated files.
pub enum Recorder {
    File {
        csv: CsvRecorder,
        path: PathBuf,
        counters: Arc<RecordCounters>,
    },
    Dir(Box<DirRecorder>),
}

impl Recorder {
    pub fn write(&mut self, s: &Sample) {
        let r = match self {
            Recorder::File { csv, counters, .. } => csv.write(s).map(|()| {
                counters.rows.fetch_add(1, Ordering::Relaxed);
            }),
            Recorder::Dir(d) => d.write(s),
        };
        if let Err(e) = r {
            warn!("{}: {e:#}", self.name());
        }
    }

    /// After each batch: the file mode flushes when `flush` (about once a
    /// second), the directory mode rotates when its interval is over.
    pub fn end_batch(&mut self, flush: bool) {
        let r = match self {
            Recorder::File { csv, .. } if flush => csv.flush(),
            Recorder::File { .. } => Ok(()),
            Recorder::Dir(d) => d.tick(),
        };
        if let Err(e) = r {
            warn!("{}: {e:#}", self.name());
        }
    }

    /// Flush or close, and say what was written.
    pub fn finish(self) {
        match self {
            Recorder::File {
                mut csv,
                path,
                counters,
            } => {
                if let Err(e) = csv.flush() {
                    warn!("recording to {}: {e:#}", path.display());
                }
                info!(
                    "recorded {} samples to {} since the scheduler attached",
                    counters.rows.load(Ordering::Relaxed),
                    path.display()
                );
            }
            Recorder::Dir(d) => {
                // Dropping it closes the open file (and says so if it fails).
                let dir = d.dir().to_path_buf();
                drop(d);
                info!("record directory {}: file closed", dir.display());
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Recorder::File { path, .. } => format!("recording to {}", path.display()),
            Recorder::Dir(d) => format!("record directory {}", d.dir().display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_intf::schema::CLASS_FALLBACK;

    #[test]
    fn header_and_row_have_matching_columns() {
        let s = Sample {
            ts_ns: 7,
            pid: 42,
            generation: 3,
            features: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            predicted: CLASS_FALLBACK as u8,
            actual: 2,
            burst_us: 3000,
            truncated: false,
            shadow: None,
            point: 2,
            oracle: false,
        };
        let header = csv_header();
        assert_eq!(
            header,
            "ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,wake_rate_hz,\
             voluntary_permille,weight,nr_cpus_allowed,runnable_load,elapsed_us,wakes_in_burst,\
             burst_absdev_us,predicted,actual,burst_us,truncated,point,oracle"
        );
        let row = csv_row(&s);
        assert_eq!(row, "7,42,3,1,2,3,4,5,6,7,8,9,10,11,4,2,3000,0,2,0");
        assert_eq!(header.split(',').count(), row.split(',').count());
    }
}
