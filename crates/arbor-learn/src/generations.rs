//! Generations on disk: `gen-NNNNNN.onnx` with a `gen-NNNNNN.json` lineage
//! sidecar, numbered on from what the model directory already holds. A saved
//! generation is never overwritten: files are created exclusively, and a
//! name that is taken is skipped. The live score of a generation, known only
//! while it runs, goes into `gen-NNNNNN.live.json`, replaced atomically.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Lineage of one generation, written beside its ONNX file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// Number in the model directory (the `NNNNNN` of the file name).
    pub generation: u64,
    /// The stored generation it replaced (None: the startup model, an
    /// unsaved swap or no model).
    pub parent: Option<u64>,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// Samples it was trained on.
    pub samples: usize,
    /// Held-out samples it was scored on.
    pub holdout_rows: usize,
    /// Cost-weighted score (points) on the held-out samples.
    pub holdout_score: Option<f64>,
    /// Balanced accuracy (points) on the same samples.
    pub holdout_balanced_accuracy: Option<f64>,
    /// The parent's score on the same held-out samples (None: no model).
    pub parent_holdout_score: Option<f64>,
    /// The parent's live score (BPF counters) while it ran.
    pub parent_live_score: Option<f64>,
    /// The candidate's score walked in shadow, when it was, and the
    /// parent's over the same bursts.
    pub shadow_score: Option<f64>,
    #[serde(default)]
    pub parent_shadow_score: Option<f64>,
    /// Whether it was installed as the live model.
    pub promoted: bool,
    /// Scheduler generation (`status`'s `generation`) it was installed as.
    pub installed_as: u64,
    /// Where it came from when not from the learner: `model-watch` (a
    /// file of the watched directory, kept after its canary window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// sha256 of the file it was installed from (`model-watch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Live score of a generation while it ran (`gen-NNNNNN.live.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LiveRecord {
    pub live_score: f64,
    pub live_balanced_accuracy: Option<f64>,
    /// Bursts the score is over.
    pub bursts: u64,
    pub time: u64,
}

/// One generation found in the directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub generation: u64,
    pub onnx: PathBuf,
    pub lineage: Option<Lineage>,
    pub live: Option<LiveRecord>,
}

/// The model directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// The number of a `gen-<digits>...` name.
fn number_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("gen-")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

fn stem(generation: u64) -> String {
    format!("gen-{generation:06}")
}

/// Create `path` with `bytes`; Ok(false) if it exists (never overwritten).
fn create_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut f) => {
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

impl Store {
    /// The store in `dir`, which need not exist yet.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every number a `gen-*` name in the directory uses (any extension).
    fn taken(&self) -> Result<Vec<u64>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.with_context(|| format!("reading {}", self.dir.display()))?;
            if let Some(n) = ent.file_name().to_str().and_then(number_of) {
                out.push(n);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The number the next saved generation gets: one past the highest any
    /// `gen-*` name uses.
    pub fn next_number(&self) -> Result<u64> {
        Ok(self.taken()?.last().map_or(1, |n| n + 1))
    }

    /// Save a generation: its ONNX bytes and its lineage, under the next
    /// free number (set in `lineage.generation`, which is returned). Names
    /// already taken, also ones created meanwhile, are skipped.
    pub fn save(&self, onnx: &[u8], lineage: &mut Lineage) -> Result<u64> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating the model directory {}", self.dir.display()))?;
        let mut n = self.next_number()?;
        for _ in 0..1000 {
            let base = self.dir.join(stem(n));
            let onnx_path = base.with_extension("onnx");
            let json_path = base.with_extension("json");
            if json_path.exists() || base.with_extension("live.json").exists() {
                n += 1;
                continue;
            }
            if !create_new(&onnx_path, onnx)? {
                n += 1;
                continue;
            }
            lineage.generation = n;
            let text = serde_json::to_string_pretty(&lineage)? + "\n";
            if !create_new(&json_path, text.as_bytes())? {
                // Someone else took the sidecar's name: give the number up.
                std::fs::remove_file(&onnx_path)
                    .with_context(|| format!("removing {}", onnx_path.display()))?;
                n += 1;
                continue;
            }
            return Ok(n);
        }
        anyhow::bail!(
            "no free generation name in {} after 1000 tries",
            self.dir.display()
        )
    }

    /// Record the live score of a saved generation (replaces the previous
    /// record of that generation atomically; the ONNX file and the lineage
    /// are untouched).
    pub fn record_live(&self, generation: u64, rec: &LiveRecord) -> Result<()> {
        let path = self.dir.join(format!("{}.live.json", stem(generation)));
        let tmp = self
            .dir
            .join(format!(".{}.live.json.tmp", stem(generation)));
        std::fs::write(&tmp, serde_json::to_string_pretty(rec)? + "\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))
    }

    /// The generations (ONNX files) in the directory, oldest first, with
    /// their lineage and live record when readable.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for n in self.taken()? {
            let base = self.dir.join(stem(n));
            let onnx = base.with_extension("onnx");
            if !onnx.is_file() {
                continue;
            }
            let read = |p: PathBuf| std::fs::read_to_string(p).ok();
            out.push(Entry {
                generation: n,
                lineage: read(base.with_extension("json"))
                    .and_then(|t| serde_json::from_str(&t).ok()),
                live: read(base.with_extension("live.json"))
                    .and_then(|t| serde_json::from_str(&t).ok()),
                onnx,
            });
        }
        Ok(out)
    }

    /// The newest generation that was promoted (installed live).
    pub fn newest_promoted(&self) -> Result<Option<Entry>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|e| e.lineage.as_ref().is_some_and(|l| l.promoted)))
    }
}

/// Live score of an entry: its own record, else what its child recorded
/// about it when it was replaced.
fn live_score(e: &Entry, all: &[Entry]) -> Option<f64> {
    e.live.map(|l| l.live_score).or_else(|| {
        all.iter()
            .filter_map(|c| c.lineage.as_ref())
            .find(|l| l.parent == Some(e.generation))
            .and_then(|l| l.parent_live_score)
    })
}

/// The `generations` listing.
pub fn render(entries: &[Entry]) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let mut out = format!(
        "{:<10} {:<8} {:<20} {:>8} {:>9} {:>9} {:>9} {:>7}  file\n",
        "generation", "parent", "time (UTC)", "samples", "held-out", "parent@ho", "live", "bal.acc"
    );
    for e in entries {
        let l = e.lineage.as_ref();
        out += &format!(
            "{:<10} {:<8} {:<20} {:>8} {:>9} {:>9} {:>9} {:>7}  {}\n",
            e.generation,
            l.and_then(|l| l.parent)
                .map_or("-".into(), |p| p.to_string()),
            l.map_or("-".into(), |l| utc(l.time)),
            l.map_or("-".into(), |l| l.samples.to_string()),
            opt(l.and_then(|l| l.holdout_score)),
            opt(l.and_then(|l| l.parent_holdout_score)),
            opt(live_score(e, entries)),
            opt(l.and_then(|l| l.holdout_balanced_accuracy)),
            e.onnx.display()
        );
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` of Unix seconds (UTC, proleptic Gregorian).
pub fn utc(secs: u64) -> String {
    let u = arbor_util::utc::Utc::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "arbor-gen-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn lineage(parent: Option<u64>) -> Lineage {
        Lineage {
            generation: 0,
            parent,
            time: 1_700_000_000,
            samples: 100,
            holdout_rows: 25,
            holdout_score: Some(90.0),
            holdout_balanced_accuracy: Some(80.0),
            parent_holdout_score: Some(85.0),
            parent_live_score: None,
            shadow_score: None,
            parent_shadow_score: None,
            promoted: true,
            installed_as: 2,
            source: None,
            sha256: None,
        }
    }

    #[test]
    fn numbering_continues_after_what_the_directory_holds() {
        let d = tmpdir("next");
        for n in 1..=3 {
            std::fs::write(d.join(format!("gen-{n:06}.onnx")), format!("old {n}")).unwrap();
        }
        std::fs::write(d.join("unrelated.onnx"), "x").unwrap();
        let s = Store::new(&d);
        assert_eq!(s.next_number().unwrap(), 4);
        let mut l = lineage(Some(3));
        assert_eq!(s.save(b"new model", &mut l).unwrap(), 4);
        assert_eq!(l.generation, 4);
        assert_eq!(
            std::fs::read(d.join("gen-000004.onnx")).unwrap(),
            b"new model"
        );
        for n in 1..=3 {
            assert_eq!(
                std::fs::read_to_string(d.join(format!("gen-{n:06}.onnx"))).unwrap(),
                format!("old {n}"),
                "gen {n} was touched"
            );
        }
        let back: Lineage =
            serde_json::from_str(&std::fs::read_to_string(d.join("gen-000004.json")).unwrap())
                .unwrap();
        assert_eq!(back, l);
        // A second save in the same directory takes 5, not 4 again.
        let mut l2 = lineage(Some(4));
        assert_eq!(s.save(b"newer", &mut l2).unwrap(), 5);
        assert_eq!(
            std::fs::read(d.join("gen-000004.onnx")).unwrap(),
            b"new model"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn crafted_collisions_are_skipped_never_overwritten() {
        let d = tmpdir("collide");
        // A lone sidecar, and a name with more digits than the format:
        // both take their numbers.
        std::fs::write(d.join("gen-000007.json"), "crafted").unwrap();
        std::fs::write(d.join("gen-0000009.live.json"), "crafted").unwrap();
        let s = Store::new(&d);
        assert_eq!(s.next_number().unwrap(), 10);
        let mut l = lineage(None);
        assert_eq!(s.save(b"m", &mut l).unwrap(), 10);
        assert_eq!(
            std::fs::read_to_string(d.join("gen-000007.json")).unwrap(),
            "crafted"
        );

        // The exclusive create under save() refuses an existing name.
        std::fs::write(d.join("gen-000011.onnx"), "raced").unwrap();
        assert!(!create_new(&d.join("gen-000011.onnx"), b"mine").unwrap());
        assert_eq!(
            std::fs::read_to_string(d.join("gen-000011.onnx")).unwrap(),
            "raced"
        );
        let mut l = lineage(None);
        assert_eq!(s.save(b"m2", &mut l).unwrap(), 12);
        assert_eq!(
            std::fs::read_to_string(d.join("gen-000011.onnx")).unwrap(),
            "raced"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn listing_lineage_live_scores_and_newest_promoted() {
        let d = tmpdir("list");
        let s = Store::new(&d);
        assert!(s.list().unwrap().is_empty());
        assert!(s.newest_promoted().unwrap().is_none());
        let mut a = lineage(None);
        s.save(b"a", &mut a).unwrap();
        let mut b = lineage(Some(1));
        b.parent_live_score = Some(71.5);
        s.save(b"b", &mut b).unwrap();
        let mut c = lineage(Some(2));
        c.promoted = false;
        s.save(b"c", &mut c).unwrap();
        s.record_live(
            2,
            &LiveRecord {
                live_score: 88.25,
                live_balanced_accuracy: Some(60.0),
                bursts: 1000,
                time: 1_700_000_100,
            },
        )
        .unwrap();
        let all = s.list().unwrap();
        assert_eq!(
            all.iter().map(|e| e.generation).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(s.newest_promoted().unwrap().unwrap().generation, 2);
        let text = render(&all);
        let row = |g: &str| {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(g))
                .unwrap()
                .to_string()
        };
        // gen 1's live score comes from gen 2's record of its parent.
        assert!(row("1").contains("71.5"), "{text}");
        assert!(
            row("2").contains("88.2") || row("2").contains("88.3"),
            "{text}"
        );
        assert!(row("2").contains("2023-11-14 22:13:20"), "{text}");
        assert_eq!(all[1].live.unwrap().bursts, 1000);
    }

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
