//! Harness for the VM integration tests: boot the pinned sched_ext kernel in
//! QEMU with the freshly built `scx_arbor`, run one guest scenario
//! (`tests/vm/scenarios/NAME.sh`) and hand back its serial console.
//!
//! Use from a test crate with `#[path = "common/vm.rs"] mod vm;`. Adding a
//! scenario is one guest script plus one `#[test]`:
//!
//! ```ignore
//! #[test]
//! fn attach() {
//!     let c = vm::run_scenario("attach", &[], Duration::from_secs(120));
//!     c.assert_exit_ok();
//!     assert_eq!(c.mark("attach").str("state"), "enabled");
//! }
//! ```
//!
//! Guest protocol (see `tests/vm/scenarios/_lib.sh`):
//! - `ARBOR-MARK [tag] key=value ...`: values contain no whitespace;
//! - `ARBOR-BEGIN name` ... `ARBOR-END name rc=R lines=N bytes=M`: a verbatim
//!   block, checked against its line and byte counts;
//! - `ARBOR-ERROR message`: the scenario could not do its job;
//! - `ARBOR-SCENARIO-EXIT rc=N`: printed by /init when the scenario ends.
//!
//! A VM test that cannot run (no QEMU, no kernel, boot failure, timeout,
//! missing exit marker) panics with the reason: it never passes silently.
//! While a [`Console`] is alive, any panic (a failed `assert!` included)
//! prints the console's tail and the log's path.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The scheduler binary under test (`$ARBOR_VM_BIN` overrides it, e.g. to
/// run the VM tests against a release build; it must be named scx_arbor).
pub const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

fn bin() -> String {
    std::env::var("ARBOR_VM_BIN").unwrap_or_else(|_| BIN.to_string())
}
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TARGET_TMPDIR: &str = env!("CARGO_TARGET_TMPDIR");
/// Lines of console shown when a test fails.
const TAIL_LINES: usize = 60;

/// Run scenario `name` with `arbor.KEY=VALUE` kernel arguments `args` and a
/// guest-side budget of `timeout`, and return its console. Panics if the VM
/// could not run the scenario to its end.
pub fn run_scenario(name: &str, args: &[(&str, &str)], timeout: Duration) -> Console {
    let mut s = Scenario::new(name).timeout(timeout);
    for (k, v) in args {
        s = s.arg(k, v);
    }
    s.run()
}

/// A scenario run with more options than [`run_scenario`] takes.
#[derive(Debug, Clone)]
pub struct Scenario {
    name: String,
    args: Vec<(String, String)>,
    files: Vec<(PathBuf, String)>,
    timeout: Duration,
    shape: Shape,
}

/// The guest machine's CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 2 vCPUs, one LLC (the default; fast under TCG).
    Small,
    /// 8 vCPUs on 2 sockets of 4 cores: two LLCs, CPUs 0-3 and 4-7. Slow
    /// under TCG on 2 host cores: keep such scenarios short.
    TwoSockets,
    /// 4 vCPUs on 2 cores of 2 SMT threads each (CPUs 0-1 and 2-3).
    Smt,
    /// 4 vCPUs on 4 sockets of one core: four LLCs of one CPU, on 2 NUMA
    /// nodes (CPUs 0 and 2 on node 0, 1 and 3 on node 1; distances 10
    /// within a node, 20 across): the cheap many-LLC shape under TCG.
    FourLlcsTwoNodes,
}

impl Scenario {
    pub fn new(name: &str) -> Self {
        Scenario {
            name: name.to_string(),
            args: Vec::new(),
            files: Vec::new(),
            timeout: Duration::from_secs(300),
            shape: Shape::Small,
        }
    }

    /// The guest's CPU shape.
    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// `arbor.KEY=VALUE` on the kernel command line, `$ARBOR_KEY` in the guest.
    pub fn arg(mut self, key: &str, value: impl ToString) -> Self {
        let value = value.to_string();
        assert!(
            !value.chars().any(char::is_whitespace) && !key.contains(char::is_whitespace),
            "VM argument {key}={value:?} must not contain whitespace"
        );
        self.args.push((key.to_string(), value));
        self
    }

    /// Copy host file `src` into the initramfs at absolute path `dest`.
    pub fn file(mut self, src: impl Into<PathBuf>, dest: &str) -> Self {
        assert!(dest.starts_with('/'), "guest path {dest} must be absolute");
        self.files.push((src.into(), dest.to_string()));
        self
    }

    /// Budget of the scenario inside the guest (the host kills the VM 90 s later).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Boot the VM and run the scenario to its end.
    pub fn run(self) -> Console {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let out = Path::new(TARGET_TMPDIR).join("vm").join(format!(
            "{}-{}-{}",
            self.name,
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out).unwrap_or_else(|e| panic!("creating {}: {e}", out.display()));

        // One VM at a time, across test threads and test processes: two TCG
        // guests on two host cores would only make both time out.
        let _lock = VmLock::acquire(&Path::new(TARGET_TMPDIR).join("vm.lock"));

        let run_sh = Path::new(MANIFEST_DIR).join("tests/vm/run.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&run_sh)
            .arg(&self.name)
            .arg("--bin")
            .arg(bin())
            .arg("--timeout")
            .arg(self.timeout.as_secs().max(1).to_string())
            .arg("--out")
            .arg(&out)
            .arg("--quiet");
        match self.shape {
            Shape::Small => {}
            Shape::TwoSockets => {
                cmd.arg("--smp").arg("8,sockets=2,cores=4");
            }
            Shape::Smt => {
                cmd.arg("--smp").arg("4,sockets=1,cores=2,threads=2");
            }
            Shape::FourLlcsTwoNodes => {
                cmd.arg("--smp").arg("4,sockets=4,cores=1");
                cmd.arg("--nodes").arg("2");
            }
        }
        for (k, v) in &self.args {
            cmd.arg("--arg").arg(format!("{k}={v}"));
        }
        for (src, dest) in &self.files {
            cmd.arg("--file").arg(format!("{}:{dest}", src.display()));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let output = cmd.output().unwrap_or_else(|e| {
            panic!(
                "VM test `{}` cannot run: spawning {}: {e}",
                self.name,
                run_sh.display()
            )
        });
        let wall = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let path = out.join("console.log");
        let text = fs::read(&path)
            .map(|b| String::from_utf8_lossy(&b).replace('\r', ""))
            .unwrap_or_default();
        eprintln!(
            "vm: scenario `{}` took {:.1} s; console: {}",
            self.name,
            wall.as_secs_f64(),
            path.display()
        );
        for l in stderr.lines().filter(|l| l.starts_with("run.sh:")) {
            eprintln!("vm: {l}");
        }

        match output.status.code() {
            Some(0) | Some(1) => {}
            code => panic!(
                "VM test `{}` could not run the scenario (run.sh exit {code:?}):\n{}\n--- console tail ({}) ---\n{}",
                self.name,
                stderr.trim_end(),
                path.display(),
                tail(&text, TAIL_LINES)
            ),
        }
        let rc = exit_code(&text).unwrap_or_else(|| {
            panic!(
                "VM test `{}`: no ARBOR-SCENARIO-EXIT marker in {}:\n{}",
                self.name,
                path.display(),
                tail(&text, TAIL_LINES)
            )
        });
        Console {
            scenario: self.name,
            text,
            path,
            rc,
            wall,
        }
    }
}

/// The serial console of one finished scenario.
pub struct Console {
    scenario: String,
    text: String,
    path: PathBuf,
    rc: i32,
    wall: Duration,
}

impl Drop for Console {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n--- console tail of scenario `{}` (exit rc={}, full log: {}) ---\n{}\n--- end of console ---",
                self.scenario,
                self.rc,
                self.path.display(),
                self.tail(TAIL_LINES)
            );
        }
    }
}

impl Console {
    /// The whole console text, `\r` removed.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Host wall time of the whole run (initramfs, boot, scenario).
    pub fn wall(&self) -> Duration {
        self.wall
    }

    /// The scenario script's exit code (124: it timed out in the guest).
    pub fn exit_code(&self) -> i32 {
        self.rc
    }

    /// Panic unless the scenario ran to its end with exit code 0.
    pub fn assert_exit_ok(&self) {
        assert!(
            self.rc == 0,
            "scenario `{}` exited rc={}; its errors: {:?}",
            self.scenario,
            self.rc,
            self.errors()
        );
    }

    /// The last `n` lines of the console.
    pub fn tail(&self, n: usize) -> String {
        tail(&self.text, n)
    }

    /// Messages of `ARBOR-ERROR` lines.
    pub fn errors(&self) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|l| l.find("ARBOR-ERROR ").map(|i| l[i + 12..].to_string()))
            .collect()
    }

    /// Every `ARBOR-MARK` line, in order.
    pub fn marks(&self) -> Vec<Mark> {
        self.text.lines().filter_map(Mark::from_line).collect()
    }

    /// Every `ARBOR-MARK TAG ...` line, in order.
    pub fn marks_tagged(&self, tag: &str) -> Vec<Mark> {
        self.marks()
            .into_iter()
            .filter(|m| m.tag.as_deref() == Some(tag))
            .collect()
    }

    /// The last `ARBOR-MARK TAG ...` line; panics if there is none.
    pub fn mark(&self, tag: &str) -> Mark {
        self.marks_tagged(tag).pop().unwrap_or_else(|| {
            panic!(
                "scenario `{}` printed no `ARBOR-MARK {tag} ...` line",
                self.scenario
            )
        })
    }

    /// Value of the last `key=value` field of any mark, whatever its tag.
    pub fn marker(&self, key: &str) -> Option<String> {
        self.marks()
            .into_iter()
            .rev()
            .find_map(|m| m.get(key).map(str::to_string))
    }

    /// [`Console::marker`] that must be present and parse as `T`.
    pub fn marker_as<T: std::str::FromStr>(&self, key: &str) -> T {
        let v = self
            .marker(key)
            .unwrap_or_else(|| panic!("scenario `{}` printed no marker {key}=", self.scenario));
        v.parse()
            .unwrap_or_else(|_| panic!("marker {key}={v:?} does not parse"))
    }

    /// Whether a block `name` was printed.
    pub fn has_block(&self, name: &str) -> bool {
        self.find_block(name).is_some()
    }

    /// The text of the last block `name`, checked against the line and byte
    /// counts on its END line; panics if it is missing or mangled.
    pub fn block(&self, name: &str) -> String {
        let (body, end) = self.find_block(name).unwrap_or_else(|| {
            panic!(
                "scenario `{}` printed no block `ARBOR-BEGIN {name}` .. `ARBOR-END {name}`",
                self.scenario
            )
        });
        let want_lines: Option<usize> = end.get("lines").and_then(|v| v.parse().ok());
        let want_bytes: Option<usize> = end.get("bytes").and_then(|v| v.parse().ok());
        let got_lines = body.len();
        let got_bytes: usize = body.iter().map(|l| l.len() + 1).sum();
        // The guest adds a newline after a last line that lacks one.
        let ok = |lines: usize, bytes: usize| {
            want_lines.is_none_or(|w| w == lines) && want_bytes.is_none_or(|w| w == bytes)
        };
        assert!(
            ok(got_lines, got_bytes) || (got_lines > 0 && ok(got_lines - 1, got_bytes - 1)),
            "block `{name}` is mangled (other console output interleaved?): got {got_lines} lines / {got_bytes} bytes, the guest sent {want_lines:?} / {want_bytes:?}"
        );
        let mut s = body.join("\n");
        if !s.is_empty() {
            s.push('\n');
        }
        s
    }

    /// Exit code of the command that produced block `name` (its END line's rc=).
    pub fn block_rc(&self, name: &str) -> Option<i32> {
        self.find_block(name)
            .and_then(|(_, end)| end.get("rc").and_then(|v| v.parse().ok()))
    }

    /// Block `name` parsed as one JSON value.
    pub fn json(&self, name: &str) -> serde_json::Value {
        let text = self.block(name);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "block `{name}` (rc={:?}) is not JSON: {e}\n{text}",
                self.block_rc(name)
            )
        })
    }

    fn find_block(&self, name: &str) -> Option<(Vec<&str>, HashMap<String, String>)> {
        let begin = format!("ARBOR-BEGIN {name}");
        let end = format!("ARBOR-END {name}");
        let lines: Vec<&str> = self.text.lines().collect();
        let start = lines.iter().rposition(|l| {
            l.find(&begin)
                .is_some_and(|i| l[i + begin.len()..].trim().is_empty())
        })?;
        let mut body = Vec::new();
        for l in &lines[start + 1..] {
            if let Some(rest) = l.strip_prefix(&end) {
                if rest.is_empty() || rest.starts_with(' ') {
                    return Some((body, fields(rest)));
                }
            }
            body.push(*l);
        }
        None
    }
}

/// One `ARBOR-MARK [tag] key=value ...` line.
#[derive(Debug, Clone)]
pub struct Mark {
    pub tag: Option<String>,
    pub fields: HashMap<String, String>,
    pub line: String,
}

impl Mark {
    fn from_line(line: &str) -> Option<Mark> {
        // SeaBIOS escape codes may precede the first guest line.
        let i = line.find("ARBOR-MARK ")?;
        let rest = &line[i + 11..];
        let first = rest.split_whitespace().next();
        let tag = first.filter(|t| !t.contains('=')).map(str::to_string);
        Some(Mark {
            tag,
            fields: fields(rest),
            line: rest.to_string(),
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The value of `key`; panics if absent.
    pub fn str(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("no {key}= in mark `{}`", self.line))
    }

    /// The value of `key` as `T`; panics if absent or unparsable.
    pub fn parse<T: std::str::FromStr>(&self, key: &str) -> T {
        let v = self.str(key);
        v.parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} in mark `{}` does not parse", self.line))
    }

    pub fn u64(&self, key: &str) -> u64 {
        self.parse(key)
    }

    pub fn i64(&self, key: &str) -> i64 {
        self.parse(key)
    }

    pub fn f64(&self, key: &str) -> f64 {
        self.parse(key)
    }
}

fn fields(s: &str) -> HashMap<String, String> {
    s.split_whitespace()
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn exit_code(text: &str) -> Option<i32> {
    text.lines().rev().find_map(|l| {
        let i = l.find("ARBOR-SCENARIO-EXIT rc=")?;
        l[i + 23..].split_whitespace().next()?.parse().ok()
    })
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// An exclusive flock(2) on a file, held while the guard lives.
struct VmLock(File);

impl VmLock {
    fn acquire(path: &Path) -> VmLock {
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        VmLock(f)
    }
}

/// Read a whole file to a string (helper for tests that inspect host files).
pub fn read_to_string(p: &Path) -> String {
    let mut s = String::new();
    File::open(p)
        .and_then(|mut f| f.read_to_string(&mut s))
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    s
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    fn console(text: &str) -> Console {
        Console {
            scenario: "unit".into(),
            text: text.into(),
            path: PathBuf::from("/dev/null"),
            rc: exit_code(text).unwrap_or(-1),
            wall: Duration::ZERO,
        }
    }

    #[test]
    fn marks_blocks_and_exit() {
        let c = console(
            "\x1b[2JARBOR-MARK init uptime_s=1.5 kernel=7.3\n\
             noise\n\
             ARBOR-MARK attach ms=120 state=enabled\n\
             ARBOR-BEGIN status\n{\"a\": 1}\nARBOR-END status rc=0 lines=1 bytes=9\n\
             ARBOR-MARK attach ms=130 state=disabled\n\
             ARBOR-SCENARIO-EXIT rc=3\n",
        );
        assert_eq!(c.mark("init").f64("uptime_s"), 1.5);
        assert_eq!(c.mark("attach").u64("ms"), 130);
        assert_eq!(c.marks_tagged("attach").len(), 2);
        assert_eq!(c.marker("kernel").as_deref(), Some("7.3"));
        assert_eq!(c.json("status")["a"], 1);
        assert_eq!(c.block_rc("status"), Some(0));
        assert_eq!(c.exit_code(), 3);
    }

    #[test]
    #[should_panic(expected = "mangled")]
    fn interleaved_block_is_detected() {
        let c = console("ARBOR-BEGIN b\nx\n[ 1.0] kernel says\nARBOR-END b rc=0 lines=1 bytes=2\n");
        c.block("b");
    }
}

/// Failed checks of one VM run, reported together at the end.
#[derive(Default)]
pub struct Checks(pub Vec<String>);

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

/// sched_ext's kernel lines that mean trouble: an error, a stall, the
/// watchdog, or a disable other than the scheduler unregistering itself.
pub fn sched_ext_trouble(dmesg: &str) -> impl Iterator<Item = &str> {
    dmesg
        .lines()
        .filter(|l| l.contains("sched_ext"))
        .filter(|line| {
            ["error", "stall", "watchdog"]
                .iter()
                .any(|w| line.to_lowercase().contains(w))
                || (line.contains("disabled (") && !line.contains("unregistered from user space"))
        })
}
