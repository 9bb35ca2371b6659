//! The files of a watched directory: which `*.onnx` is a new candidate,
//! the checks it passes before anything is installed (ownership, size, the
//! report's sha256, import under the loader's limits, the integer walk
//! against tract), and its `NAME.status.json`, where each stage is written
//! for the publisher to read.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use arbor_model::ensemble::Ensemble;

/// A model file larger than this is refused unread.
const MAX_BYTES: u64 = 64 << 20;
/// ONNX metadata keys arbor_fleet writes its provenance under.
const PROVENANCE_PREFIX: &str = "arbor.fleet.";
/// Random rows `model verify` walks beside its threshold probes (every
/// threshold and its neighbours: the rows that tell a wrong comparison).
const VERIFY_RANDOM_ROWS: &str = "500";
/// A verification that takes longer than this is a refusal.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(600);

/// The stages a file ends in.
pub const FINAL: [&str; 4] = ["kept", "rolled-back", "rejected", "superseded"];

/// `NAME.status.json`: where a file's rollout stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileStatus {
    pub file: String,
    pub sha256: String,
    /// verifying, shadow, canary, kept, rolled-back, rejected, superseded.
    pub stage: String,
    /// Why it is where it is, with the figures.
    pub reason: String,
    /// The scheduler generation it was installed as (0: not installed).
    pub generation: u64,
    /// The generation it replaced (0: no model).
    pub previous_generation: u64,
    /// Its number in --model-dir once kept.
    pub saved_as: Option<u64>,
    /// arbor_fleet's provenance from the ONNX metadata, when present.
    pub provenance: BTreeMap<String, String>,
    /// Unix time (s) each stage was entered.
    pub times: BTreeMap<String, u64>,
}

impl FileStatus {
    pub fn is_final(&self) -> bool {
        FINAL.contains(&self.stage.as_str())
    }

    /// Enter `stage` for `reason`, stamped now.
    pub fn enter(&mut self, stage: &str, reason: impl Into<String>) {
        self.stage = stage.into();
        self.reason = reason.into();
        self.times.insert(stage.into(), arbor_util::utc::unix_now());
    }
}

/// A model file of the directory.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub status: FileStatus,
}

impl Candidate {
    /// `NAME.status.json` beside `NAME.onnx`.
    pub fn status_path(&self) -> PathBuf {
        status_path(&self.path)
    }

    /// Write the status file (atomically: a reader sees the old or the new).
    pub fn write_status(&self) -> Result<()> {
        let path = self.status_path();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.status)? + "\n";
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))
    }
}

fn status_path(onnx: &Path) -> PathBuf {
    onnx.with_extension("status.json")
}

fn report_path(onnx: &Path) -> PathBuf {
    onnx.with_extension("report.json")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The directory must be a directory no other user can write into:
/// whoever can create files there can install models.
pub fn check_dir(dir: &Path) -> Result<()> {
    let md = std::fs::metadata(dir)
        .with_context(|| format!("--model-watch {}: cannot read it", dir.display()))?;
    if !md.is_dir() {
        bail!("--model-watch {}: not a directory", dir.display());
    }
    check_owner(dir, &md)
}

/// Owned by the user the scheduler runs as, and not group- or
/// world-writable.
fn check_owner(path: &Path, md: &std::fs::Metadata) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if md.uid() != me {
        bail!(
            "{} is owned by uid {}, not by the scheduler's user (uid {me})",
            path.display(),
            md.uid()
        );
    }
    if md.mode() & 0o022 != 0 {
        bail!(
            "{} is group- or world-writable (mode {:o})",
            path.display(),
            md.mode() & 0o7777
        );
    }
    Ok(())
}

/// What identifies a file's contents without reading it: its inode, size
/// and modification time, and its status file's modification time (a
/// status file removed or rewritten makes the file undecided again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    modified: SystemTime,
    status_modified: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path, md: &std::fs::Metadata) -> Self {
        Self {
            ino: md.ino(),
            len: md.len(),
            modified: md.modified().unwrap_or(UNIX_EPOCH),
            status_modified: std::fs::metadata(status_path(path))
                .and_then(|m| m.modified())
                .ok(),
        }
    }
}

/// Finds the next candidate in a watched directory. Files found decided
/// are remembered by their [`Stamp`], so a poll reads and hashes only
/// files that are new or changed.
#[derive(Debug, Default)]
pub struct Scanner {
    decided: HashMap<PathBuf, Stamp>,
    /// Files read and hashed so far.
    pub hashed: u64,
}

impl Scanner {
    /// Pass over `path` until it or its status file changes (a file whose
    /// status cannot be written).
    pub fn skip(&mut self, path: &Path) {
        if let Ok(md) = std::fs::metadata(path) {
            self.decided
                .insert(path.to_path_buf(), Stamp::of(path, &md));
        }
    }

    /// The next file to try: the oldest `*.onnx` (by modification time)
    /// whose status file does not already hold a final stage for the same
    /// contents. Hidden files are skipped (a publisher writes `.NAME.onnx`
    /// and renames it).
    pub fn next(&mut self, dir: &Path) -> Result<Option<Candidate>> {
        let mut found = Vec::new();
        for ent in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let ent = ent.with_context(|| format!("reading {}", dir.display()))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".onnx") {
                continue;
            }
            let md = match ent.metadata() {
                Ok(md) if md.is_file() => md,
                _ => continue,
            };
            found.push((md.modified().unwrap_or(UNIX_EPOCH), ent.path(), md));
        }
        found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.decided
            .retain(|p, _| found.iter().any(|(_, f, _)| f == p));
        for (_, path, md) in found {
            let stamp = Stamp::of(&path, &md);
            if self.decided.get(&path) == Some(&stamp) {
                continue;
            }
            let old: Option<FileStatus> = std::fs::read_to_string(status_path(&path))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            let mut status = FileStatus {
                file: path.display().to_string(),
                ..Default::default()
            };
            // Too large to read: refused on size alone, once per size.
            if md.len() > MAX_BYTES {
                let why = format!("{} bytes, more than the {MAX_BYTES} allowed", md.len());
                if old
                    .as_ref()
                    .is_some_and(|o| o.is_final() && o.reason == why)
                {
                    self.decided.insert(path, stamp);
                    continue;
                }
                status.enter("rejected", why);
                return Ok(Some(Candidate {
                    path,
                    bytes: Vec::new(),
                    status,
                }));
            }
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            self.hashed += 1;
            let sha = sha256_hex(&bytes);
            if old
                .as_ref()
                .is_some_and(|o| o.sha256 == sha && o.is_final())
            {
                self.decided.insert(path, stamp);
                continue;
            }
            status.sha256 = sha;
            status.enter("verifying", "");
            return Ok(Some(Candidate {
                path,
                bytes,
                status,
            }));
        }
        Ok(None)
    }
}

/// Why [`check`] gave up without a verdict.
#[derive(Debug)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the scheduler is stopping")
    }
}

impl std::error::Error for Stopped {}

/// The checks before install, in order; the first that fails is the
/// reason the file is refused. Returns the imported ensemble. `stop` ends
/// a verification in progress with [`Stopped`] (no verdict).
pub fn check(c: &mut Candidate, stop: &AtomicBool) -> Result<Ensemble> {
    let md = std::fs::metadata(&c.path).with_context(|| format!("reading {}", c.path.display()))?;
    check_owner(&c.path, &md)?;
    if let Ok(text) = std::fs::read_to_string(report_path(&c.path)) {
        let report: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", report_path(&c.path).display()))?;
        let want = report
            .pointer("/model/sha256")
            .and_then(|v| v.as_str())
            .with_context(|| format!("{} has no model.sha256", report_path(&c.path).display()))?;
        if want != c.status.sha256 {
            bail!(
                "its sha256 {} is not the report's {want}: the file is not the model the report describes",
                c.status.sha256
            );
        }
    }
    let proto = arbor_model::onnx_import::decode(&c.bytes)?;
    for p in &proto.metadata_props {
        if let Some(k) = p.key.strip_prefix(PROVENANCE_PREFIX) {
            c.status.provenance.insert(k.into(), p.value.clone());
        }
    }
    let imported = arbor_model::onnx_import::import_bytes(&c.bytes)?;
    verify_with_tract(&c.path, stop)?;
    Ok(imported.ensemble)
}

/// `scx_arbor model verify FILE`: the integer walk, the BPF semantics,
/// against tract's inference of the ONNX graph on threshold probes and
/// random rows (in the tools binary, where tract is). It runs at the
/// scheduler's own priority (at nice 19 beside two CPU hogs it took 108 s
/// instead of a few in the VM: a verification is short, and it gates the
/// rollout) and is killed when the scheduler stops.
fn verify_with_tract(path: &Path, stop: &AtomicBool) -> Result<()> {
    let tools = arbor_util::sibling::sibling_binary(crate::tools::TOOLS)
        .context("cannot verify the model against tract")?;
    let err_path = path.with_extension("verify.stderr.tmp");
    let err_file = std::fs::File::create(&err_path)
        .with_context(|| format!("creating {}", err_path.display()))?;
    let mut cmd = std::process::Command::new(&tools);
    cmd.args(["model", "verify", "--random", VERIFY_RANDOM_ROWS])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", tools.display()))?;
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().context("waiting for model verify")? {
            break st;
        }
        let stopping = stop.load(Ordering::Relaxed);
        if stopping || t0.elapsed() > VERIFY_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&err_path);
            if stopping {
                return Err(Stopped.into());
            }
            bail!("model verify did not finish in {VERIFY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    if !status.success() {
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        bail!("model verify failed ({status}): {last}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("arbor-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn next_takes_the_oldest_undecided_file_and_skips_decided_ones() {
        let d = tmpdir("next");
        std::fs::write(d.join("a.onnx"), b"first").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("b.onnx"), b"second").unwrap();
        std::fs::write(d.join(".c.onnx"), b"being written").unwrap();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        let mut scan = Scanner::default();
        let c = scan.next(&d).unwrap().unwrap();
        assert!(c.path.ends_with("a.onnx"));
        assert_eq!(c.status.sha256, sha256_hex(b"first"));
        assert_eq!(c.status.stage, "verifying");

        // Decided: skipped while its contents are the same, and read once
        // to find that out, not at every poll.
        let mut done = c.clone();
        done.status.enter("rejected", "test");
        done.write_status().unwrap();
        let mut decided_b = scan.next(&d).unwrap().unwrap();
        assert!(decided_b.path.ends_with("b.onnx"));
        decided_b.status.enter("kept", "test");
        decided_b.write_status().unwrap();
        let hashed = scan.hashed;
        assert!(scan.next(&d).unwrap().is_none());
        // b is read once more to find it decided; a was found so above.
        assert_eq!(scan.hashed, hashed + 1);
        for _ in 0..3 {
            assert!(scan.next(&d).unwrap().is_none());
        }
        assert_eq!(scan.hashed, hashed + 1, "decided files are not read again");

        // New contents under the same name: a new candidate.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("a.onnx"), b"first, again").unwrap();
        let again = scan.next(&d).unwrap().unwrap();
        assert!(again.path.ends_with("a.onnx"));
        // A status file removed: the file is tried again.
        std::fs::remove_file(status_path(&d.join("b.onnx"))).unwrap();
        std::fs::remove_file(d.join("a.onnx")).unwrap();
        assert!(scan.next(&d).unwrap().unwrap().path.ends_with("b.onnx"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_skipped_file_waits_until_it_changes() {
        let d = tmpdir("skip");
        let p = d.join("m.onnx");
        std::fs::write(&p, b"model").unwrap();
        let mut scan = Scanner::default();
        scan.skip(&p);
        assert!(scan.next(&d).unwrap().is_none());
        assert_eq!(scan.hashed, 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, b"model, changed").unwrap();
        assert!(scan.next(&d).unwrap().unwrap().path.ends_with("m.onnx"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn check_refuses_writable_files_and_a_report_that_disagrees() {
        let d = tmpdir("check");
        let model =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.onnx")).unwrap();
        let p = d.join("m.onnx");
        std::fs::write(&p, &model).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut c = Scanner::default().next(&d).unwrap().unwrap();
        let err = check(&mut c, &AtomicBool::new(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("group- or world-writable"), "{err}");

        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(d.join("m.report.json"), r#"{"model": {"sha256": "0000"}}"#).unwrap();
        let err = check(&mut c, &AtomicBool::new(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not the report's 0000"), "{err}");

        // The report's sha256 matches: on to import (and verify, which needs
        // the tools binary and runs in the VM test).
        std::fs::write(
            d.join("m.report.json"),
            format!(r#"{{"model": {{"sha256": "{}"}}}}"#, sha256_hex(&model)),
        )
        .unwrap();
        std::fs::write(&p, b"not onnx").unwrap();
        let mut c = Scanner::default().next(&d).unwrap().unwrap();
        let err = format!("{:#}", check(&mut c, &AtomicBool::new(false)).unwrap_err());
        assert!(err.contains("is not the report's"), "{err}");
        std::fs::remove_file(d.join("m.report.json")).unwrap();
        let err = format!("{:#}", check(&mut c, &AtomicBool::new(false)).unwrap_err());
        assert!(!err.contains("report"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn check_dir_refuses_a_world_writable_directory() {
        let d = tmpdir("dir");
        check_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_dir(&d).unwrap_err().to_string();
        assert!(err.contains("world-writable"), "{err}");
        assert!(check_dir(&d.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
