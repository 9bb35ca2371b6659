use std::io::Read;

use flate2::read::GzDecoder;

use super::*;
use arbor_intf::schema::NR_FEATURES;

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "arbor-record-dir-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn cfg(dir: &Path) -> DirConfig {
    DirConfig {
        dir: dir.to_path_buf(),
        rotate_after: Duration::from_secs(3600),
        rotate_bytes: 1 << 30,
        keep: 100,
        max_bytes: 1 << 40,
        workload: None,
    }
}

fn sample(i: u32) -> Sample {
    // Features that vary as recorded ones do, so the rows do not compress
    // to nothing.
    let mut rng = arbor_util::rng::SplitMix64::new(u64::from(i));
    let mut features = [0u32; NR_FEATURES];
    for f in &mut features {
        *f = (rng.next_u64() % 100_000) as u32;
    }
    Sample {
        ts_ns: u64::from(i) * 1000,
        pid: i,
        generation: 3,
        features,
        predicted: (i % 4) as u8,
        actual: (i % 3) as u8,
        burst_us: i,
        truncated: false,
        shadow: None,
        point: 0,
        oracle: false,
    }
}

/// Every closed file's name and text (gunzipped), by name.
fn closed(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let mut text = String::new();
        if name.ends_with(".csv.gz") {
            GzDecoder::new(File::open(e.path()).unwrap())
                .read_to_string(&mut text)
                .unwrap_or_else(|err| panic!("{name}: not a whole gzip stream: {err}"));
        }
        out.push((name, text));
    }
    out.sort();
    out
}

/// `date -u -d @SECS +%Y%m%dT%H%M%SZ` (GNU coreutils) for these instants,
/// leap days and a century year that is not a leap year included.
#[test]
fn stamps_are_gnu_dates() {
    for (secs, date) in [
        (0, "19700101T000000Z"),
        (951_782_400, "20000229T000000Z"),
        (1_709_164_800, "20240229T000000Z"),
        (1_765_065_600, "20251207T000000Z"),
        (4_107_542_399, "21000228T235959Z"),
    ] {
        assert_eq!(utc_stamp(secs), date, "{secs}");
    }
}

#[test]
fn names_keep_only_safe_characters_and_sequence_numbers_parse() {
    assert_eq!(file_safe("web-17.prod"), "web-17.prod");
    assert_eq!(file_safe("a b/c:d"), "a_b_c_d");
    assert_eq!(seq_of("arbor-h-20251207T000000Z-000042.csv.gz"), Some(42));
    assert_eq!(
        seq_of("arbor-a-b-20251207T000000Z-1234567.csv.gz.part"),
        Some(1_234_567)
    );
    assert_eq!(seq_of("arbor-h-20251207T000000Z-42.csv.gz"), None);
    assert_eq!(seq_of("other-h-20251207T000000Z-000042.csv.gz"), None);
    assert_eq!(seq_of("arbor-h-20251207T000000Z-000042.csv"), None);
}

/// Rotation by size: every file is a whole gzip stream with its own
/// header, every row is in exactly one file, in order, with the host,
/// kernel and schema columns; nothing is left as `.part` once dropped.
#[test]
fn files_rotate_by_size_and_every_row_lands_once() {
    let t = TempDir::new("size");
    let counters = Arc::new(RecordCounters::default());
    let mut c = cfg(&t.0);
    // The compressor hands its output on in blocks of tens of KiB: the
    // size bound holds to within one block.
    c.rotate_bytes = 64 << 10;
    c.workload = Some("checkout, eu".into());
    let mut r = DirRecorder::open_as(c, counters.clone(), "web 17", "7.3.4+deb13").unwrap();
    for i in 0..20_000 {
        r.write(&sample(i)).unwrap();
    }
    let header = r.header();
    drop(r);
    let files = closed(&t.0);
    assert!(files.len() >= 3, "{} files", files.len());
    assert_eq!(
        counters.files_written.load(Ordering::Relaxed),
        files.len() as u64
    );
    assert_eq!(counters.rows.load(Ordering::Relaxed), 20_000);
    assert_eq!(
        header,
        format!("{},host,kernel,schema_version,workload", csv_header())
    );
    let mut pids = Vec::new();
    for (k, (name, text)) in files.iter().enumerate() {
        assert!(name.starts_with("arbor-web_17-"), "{name}");
        assert!(name.ends_with(&format!("-{:06}.csv.gz", k + 1)), "{name}");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header.as_str()), "{name}");
        for line in lines {
            let cols: Vec<&str> = line.split(',').collect();
            // The quoted workload holds a comma: one more split.
            assert_eq!(cols.len(), header.split(',').count() + 1, "{line}");
            assert!(
                line.ends_with(&format!(
                    ",web_17,7.3.4+deb13,{SCHEMA_VERSION},\"checkout, eu\""
                )),
                "{line}"
            );
            pids.push(cols[1].parse::<u32>().unwrap());
        }
    }
    assert_eq!(pids, (0..20_000).collect::<Vec<_>>());
    // Every file but the last reached the size bound, none ran far past it.
    for (name, _) in &files[..files.len() - 1] {
        let len = fs::metadata(t.0.join(name)).unwrap().len();
        assert!((64 << 10..=160 << 10).contains(&len), "{name}: {len} B");
    }
}

/// Rotation by time happens at a tick, rows or not; a tick with no file
/// open makes none.
#[test]
fn files_rotate_by_time_at_a_tick() {
    let t = TempDir::new("time");
    let counters = Arc::new(RecordCounters::default());
    let mut c = cfg(&t.0);
    c.rotate_after = Duration::ZERO;
    let mut r = DirRecorder::open_as(c, counters.clone(), "h", "k").unwrap();
    r.tick().unwrap();
    assert!(closed(&t.0).is_empty());
    r.write(&sample(1)).unwrap();
    r.write(&sample(2)).unwrap();
    // Open: only the .part exists.
    let names: Vec<String> = closed(&t.0).into_iter().map(|f| f.0).collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with("-000001.csv.gz.part"), "{names:?}");
    r.tick().unwrap();
    r.write(&sample(3)).unwrap();
    r.tick().unwrap();
    let files = closed(&t.0);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0].1.lines().count(), 3);
    assert_eq!(files[1].1.lines().count(), 2);
    assert_eq!(counters.files_written.load(Ordering::Relaxed), 2);
}

/// The bounds: the oldest closed files go first, by count and by bytes,
/// and every deletion is counted; a new recorder in the same directory
/// goes on from the highest sequence number.
#[test]
fn the_oldest_files_go_and_a_restart_never_reuses_a_name() {
    let t = TempDir::new("bounds");
    let counters = Arc::new(RecordCounters::default());
    let mut c = cfg(&t.0);
    c.keep = 3;
    let mut r = DirRecorder::open_as(c.clone(), counters.clone(), "h", "k").unwrap();
    for i in 0..5 {
        r.write(&sample(i)).unwrap();
        r.rotate().unwrap();
    }
    drop(r);
    let seqs =
        |dir: &Path| -> Vec<u64> { closed(dir).iter().filter_map(|f| seq_of(&f.0)).collect() };
    assert_eq!(seqs(&t.0), [3, 4, 5]);
    assert_eq!(counters.files_deleted.load(Ordering::Relaxed), 2);

    // Restart, and a byte bound that holds about two files.
    let one = fs::metadata(closed_path(&t.0, 5)).unwrap().len();
    c.keep = 100;
    c.max_bytes = 2 * one + one / 2;
    let mut r = DirRecorder::open_as(c, counters.clone(), "h", "k").unwrap();
    r.write(&sample(9)).unwrap();
    r.rotate().unwrap();
    drop(r);
    assert_eq!(seqs(&t.0), [5, 6]);
    assert_eq!(counters.files_deleted.load(Ordering::Relaxed), 4);
}

fn closed_path(dir: &Path, seq: u64) -> PathBuf {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().and_then(|n| seq_of(&n.to_string_lossy())) == Some(seq))
        .unwrap()
}

#[test]
fn zero_bounds_are_refused() {
    let t = TempDir::new("zero");
    let mut c = cfg(&t.0);
    c.keep = 0;
    let e = DirRecorder::open_as(c, Arc::default(), "h", "k")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("at least 1"), "{e}");
}

/// The check before attaching creates a missing directory, refuses zero
/// bounds as the recorder does, and leaves every file in place (a `.part`
/// left by a crashed run included); the recorder opened after it numbers
/// on past that file.
#[test]
fn check_creates_the_directory_and_keeps_what_it_finds() {
    let t = TempDir::new("check");
    let mut c = cfg(&t.0.join("sub"));
    DirRecorder::check(&c).unwrap();
    assert!(c.dir.is_dir());
    let left = c.dir.join("arbor-h-20261207T000000Z-000007.csv.gz.part");
    fs::write(&left, b"cut short").unwrap();
    DirRecorder::check(&c).unwrap();
    assert!(left.exists());
    let mut r = DirRecorder::open_as(c.clone(), Arc::default(), "h", "k").unwrap();
    r.write(&sample(1)).unwrap();
    drop(r);
    assert!(closed_path(&c.dir, 8).exists());
    c.max_bytes = 0;
    let e = DirRecorder::check(&c).unwrap_err().to_string();
    assert!(e.contains("at least 1"), "{e}");
}
