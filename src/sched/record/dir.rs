//! `--record-dir`: outcome samples as gzip-compressed CSV files in a
//! directory, one per interval, bounded in count and bytes, every row
//! naming its host, kernel and schema (docs/fleet.md, "The recorder's
//! directory mode").
//!
//! A file is written as `NAME.csv.gz.part` and renamed to `NAME.csv.gz`
//! once its gzip stream is complete, so a collector that copies `*.csv.gz`
//! never reads half a file. NAME is `arbor-HOST-STARTZ-SEQ`: the node
//! name, the UTC time of the file's first row, and a sequence number one
//! past the highest in the directory, so a restart never reuses a name.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use log::{info, warn};

use super::{csv_header, csv_row, RecordCounters};
use arbor_intf::sample::Sample;
use arbor_intf::schema::SCHEMA_VERSION;
use arbor_util::utc::Utc;

/// How the directory is rotated and bounded.
#[derive(Debug, Clone)]
pub struct DirConfig {
    pub dir: PathBuf,
    /// A new file after this long (from the file's first row).
    pub rotate_after: Duration,
    /// A new file once the compressed file reaches this many bytes.
    pub rotate_bytes: u64,
    /// At most this many closed files are kept; the oldest go first.
    pub keep: usize,
    /// At most this many bytes of closed files are kept.
    pub max_bytes: u64,
    /// The operator's name of the workload, a column of every row.
    pub workload: Option<String>,
}

/// A writer that counts the bytes it passes on.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct OpenFile {
    part: PathBuf,
    done: PathBuf,
    gz: GzEncoder<Counted<File>>,
    opened: Instant,
}

/// The directory recorder. Dropping it closes the open file.
pub struct DirRecorder {
    cfg: DirConfig,
    host: String,
    /// `,host,kernel,schema_version[,workload]`, the same for every row.
    suffix: String,
    next_seq: u64,
    open: Option<OpenFile>,
    counters: Arc<RecordCounters>,
}

/// `s` with every character outside `[A-Za-z0-9._-]` replaced by `_`.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A CSV field as written: the value, or the value quoted when it holds a
/// comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Seconds since the epoch as `YYYYMMDDTHHMMSSZ` (UTC).
pub fn utc_stamp(secs: u64) -> String {
    let u = Utc::from_unix(secs);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

/// The sequence number of a recorder file name (`arbor-…-SEQ.csv.gz`,
/// or `.csv.gz.part`).
fn seq_of(name: &str) -> Option<u64> {
    let stem = name
        .strip_suffix(".csv.gz.part")
        .or_else(|| name.strip_suffix(".csv.gz"))?;
    if !stem.starts_with("arbor-") {
        return None;
    }
    let (_, seq) = stem.rsplit_once('-')?;
    (seq.len() >= 6 && seq.bytes().all(|b| b.is_ascii_digit()))
        .then(|| seq.parse().ok())
        .flatten()
}

/// The node name and kernel release (`uname -n`, `uname -r`).
fn uname() -> Result<(String, String)> {
    // SAFETY: uname fills the struct it is given; a zeroed utsname is a
    // valid argument.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(io::Error::last_os_error()).context("uname");
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok((field(&u.nodename), field(&u.release)))
}

/// The bounds are usable and the directory exists (created if missing);
/// the recorder's files in it, each name with its sequence number.
fn prepare(cfg: &DirConfig) -> Result<Vec<(String, u64)>> {
    if cfg.keep == 0 || cfg.rotate_bytes == 0 || cfg.max_bytes == 0 {
        bail!("--record-keep, --record-rotate-mib and --record-max-mib must be at least 1");
    }
    fs::create_dir_all(&cfg.dir)
        .with_context(|| format!("creating the record directory {}", cfg.dir.display()))?;
    let mut names = Vec::new();
    for entry in fs::read_dir(&cfg.dir)
        .with_context(|| format!("reading the record directory {}", cfg.dir.display()))?
    {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(seq) = seq_of(&name) {
            names.push((name, seq));
        }
    }
    Ok(names)
}

impl DirRecorder {
    /// Check the options and the directory before the scheduler attaches
    /// (the directory is created if missing), and say once which files a
    /// run that did not close them left behind. The recorder itself is
    /// opened by the sample consumer, again at each of its restarts.
    pub fn check(cfg: &DirConfig) -> Result<()> {
        for (name, _) in prepare(cfg)? {
            if name.ends_with(".part") {
                warn!(
                    "record directory: {name} was left by a run that did not close it \
                     (its gzip stream is cut short); left as it is"
                );
            }
        }
        Ok(())
    }

    /// Open the directory (created if missing) for this host.
    pub fn open(cfg: DirConfig, counters: Arc<RecordCounters>) -> Result<Self> {
        let (host, kernel) = uname()?;
        Self::open_as(cfg, counters, &host, &kernel)
    }

    /// [`DirRecorder::open`] with the host and kernel given: its files
    /// number on from the highest number in the directory.
    pub fn open_as(
        cfg: DirConfig,
        counters: Arc<RecordCounters>,
        host: &str,
        kernel: &str,
    ) -> Result<Self> {
        let highest = prepare(&cfg)?
            .iter()
            .map(|&(_, seq)| seq)
            .max()
            .unwrap_or(0);
        let host = file_safe(host);
        let mut suffix = format!(
            ",{},{},{SCHEMA_VERSION}",
            csv_field(&host),
            csv_field(kernel)
        );
        if let Some(w) = &cfg.workload {
            suffix.push(',');
            suffix.push_str(&csv_field(w));
        }
        Ok(Self {
            cfg,
            host,
            suffix,
            next_seq: highest + 1,
            open: None,
            counters,
        })
    }

    /// The header of every file: the `--record` columns, then host,
    /// kernel, schema_version (and workload).
    pub fn header(&self) -> String {
        let mut h = format!("{},host,kernel,schema_version", csv_header());
        if self.cfg.workload.is_some() {
            h.push_str(",workload");
        }
        h
    }

    fn start_file(&mut self, now: SystemTime) -> Result<()> {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let name = format!(
            "arbor-{}-{}-{:06}",
            self.host,
            utc_stamp(secs),
            self.next_seq
        );
        self.next_seq += 1;
        let done = self.cfg.dir.join(format!("{name}.csv.gz"));
        let part = self.cfg.dir.join(format!("{name}.csv.gz.part"));
        let file = File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        // The fastest level: the consumer must keep up with the ring, and
        // the rows (small integers, repeated columns) compress well anyway.
        let mut gz = GzEncoder::new(
            Counted {
                inner: file,
                bytes: 0,
            },
            Compression::fast(),
        );
        writeln!(gz, "{}", self.header()).with_context(|| format!("writing {}", part.display()))?;
        self.open = Some(OpenFile {
            part,
            done,
            gz,
            opened: Instant::now(),
        });
        Ok(())
    }

    /// Write one sample (a new file first if none is open), and rotate if
    /// the file is full.
    pub fn write(&mut self, s: &Sample) -> Result<()> {
        if self.open.is_none() {
            self.start_file(SystemTime::now())?;
        }
        let Some(f) = self.open.as_mut() else {
            return Ok(());
        };
        writeln!(f.gz, "{}{}", csv_row(s), self.suffix)
            .with_context(|| format!("writing {}", f.part.display()))?;
        self.counters.rows.fetch_add(1, Ordering::Relaxed);
        // The interval is checked by tick(), at the end of every batch (at
        // most samples::DRAIN_CHUNK rows, however fast they come).
        if f.gz.get_ref().bytes >= self.cfg.rotate_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    /// Rotate when the open file has been open for the interval (called
    /// after every batch, rows or not).
    pub fn tick(&mut self) -> Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|f| f.opened.elapsed() >= self.cfg.rotate_after)
        {
            self.rotate()?;
        }
        Ok(())
    }

    /// Close the open file (if any) under its final name, then delete the
    /// oldest closed files beyond the bounds.
    pub fn rotate(&mut self) -> Result<()> {
        self.close()?;
        self.enforce_bounds()
    }

    fn close(&mut self) -> Result<()> {
        let Some(f) = self.open.take() else {
            return Ok(());
        };
        let counted =
            f.gz.finish()
                .with_context(|| format!("finishing {}", f.part.display()))?;
        counted
            .inner
            .sync_all()
            .with_context(|| format!("syncing {}", f.part.display()))?;
        fs::rename(&f.part, &f.done)
            .with_context(|| format!("renaming {} to {}", f.part.display(), f.done.display()))?;
        self.counters.files_written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The closed files of this directory, oldest (lowest SEQ) first, with
    /// their sizes.
    fn closed_files(&self) -> Result<Vec<(u64, PathBuf, u64)>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.cfg.dir)
            .with_context(|| format!("reading the record directory {}", self.cfg.dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".part") {
                continue;
            }
            if let Some(seq) = seq_of(&name) {
                files.push((seq, entry.path(), entry.metadata()?.len()));
            }
        }
        files.sort();
        Ok(files)
    }

    fn enforce_bounds(&mut self) -> Result<()> {
        let files = self.closed_files()?;
        let mut count = files.len();
        let mut bytes: u64 = files.iter().map(|f| f.2).sum();
        for (_, path, len) in files {
            if count <= self.cfg.keep && bytes <= self.cfg.max_bytes {
                break;
            }
            fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
            info!(
                "record directory: deleted {} ({} B) to keep at most {} files and {} B",
                path.display(),
                len,
                self.cfg.keep,
                self.cfg.max_bytes
            );
            self.counters.files_deleted.fetch_add(1, Ordering::Relaxed);
            count -= 1;
            bytes -= len;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }
}

impl Drop for DirRecorder {
    fn drop(&mut self) {
        if let Err(e) = self.rotate() {
            warn!("record directory {}: {e:#}", self.cfg.dir.display());
        }
    }
}

#[cfg(test)]
mod tests;
