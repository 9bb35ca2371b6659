//! Model paths that are not model files (`swap FILE`, `--model FILE`): a
//! device that never ends, a FIFO with no writer, a directory, a 1 GB sparse
//! file, a symlink loop, a file only another user may read. Each must be
//! refused in one sentence, at once, without reading it (no hang, no memory
//! blow-up). Checked through the library and through `scx_arbor swap`.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arbor_proto::control::MAX_PAYLOAD;
use scx_arbor::sched::model_file::read_model_file;

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");
const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/models/const_class_1.onnx"
);

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d =
            std::env::temp_dir().join(format!("arbor-modelfiles-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        // Other users must be able to reach files in it (the other-user case).
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// The hostile paths, each with a word its refusal must contain.
fn hostile(d: &Dir) -> Vec<(PathBuf, &'static str)> {
    let fifo = d.0.join("fifo");
    mkfifo(&fifo);
    let sparse = d.0.join("sparse-1g.onnx");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (a, b) = (d.0.join("loop-a"), d.0.join("loop-b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let subdir = d.0.join("dir.onnx");
    std::fs::create_dir(&subdir).unwrap();
    vec![
        ("/dev/zero".into(), "character device"),
        ("/dev/null".into(), "character device"),
        (fifo, "FIFO"),
        (subdir, "directory"),
        (sparse, "byte model limit"),
        (a, "symbolic links"),
        (d.0.join("missing.onnx"), "No such file"),
    ]
}

#[test]
fn the_library_refuses_what_is_not_a_model_file() {
    let d = Dir::new("lib");
    for (path, why) in hostile(&d) {
        let t0 = Instant::now();
        let err = read_model_file(&path)
            .err()
            .unwrap_or_else(|| panic!("{} was read as a model", path.display()));
        let msg = format!("{err:#}");
        assert!(msg.contains(why), "{}: {msg}", path.display());
        assert!(
            msg.contains(&*path.to_string_lossy()),
            "names no path: {msg}"
        );
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    }
    // A symlink to a real model, and the model itself, are read whole.
    let link = d.0.join("link.onnx");
    std::os::unix::fs::symlink(MODEL, &link).unwrap();
    assert_eq!(
        read_model_file(&link).unwrap(),
        std::fs::read(MODEL).unwrap()
    );
    // Exactly at the limit is accepted; one byte over is not.
    let big = d.0.join("limit.onnx");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_PAYLOAD as u64).unwrap();
    assert_eq!(read_model_file(&big).unwrap().len(), MAX_PAYLOAD);
    f.set_len(MAX_PAYLOAD as u64 + 1).unwrap();
    assert!(read_model_file(&big).is_err());
}

/// Run `scx_arbor ARGS` with a 10 s limit; its exit code and stderr.
fn run(args: &[&str], as_uid: Option<u32>) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(uid) = as_uid {
        // SAFETY: setgid/setuid are async-signal-safe; run between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("spawning scx_arbor");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            child.kill().ok();
            panic!("scx_arbor {args:?} hung for 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let _ = status;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn swap_refuses_what_is_not_a_model_file_before_connecting() {
    let d = Dir::new("cli");
    // No instance listens there: the file must be refused before that matters.
    let sock = d.0.join("none.sock");
    for (path, why) in hostile(&d) {
        let (rc, err) = run(
            &[
                "swap",
                path.to_str().unwrap(),
                "--socket",
                sock.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(rc, 1, "{}: {err}", path.display());
        assert!(err.contains(why), "{}: {err}", path.display());
        assert_eq!(err.trim().lines().count(), 1, "one sentence, got: {err}");
    }
}

#[test]
fn a_file_only_another_user_may_read_is_refused() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root to create a file owned by another user"
    );
    let d = Dir::new("perm");
    let secret = d.0.join("theirs.onnx");
    std::fs::copy(MODEL, &secret).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Owned by uid 4242; read by `swap` running as uid 4343.
    let c = std::ffi::CString::new(secret.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 4242, 4242) }, 0);
    let sock = d.0.join("none.sock");
    let (rc, err) = run(
        &[
            "swap",
            secret.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ],
        Some(4343),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains("theirs.onnx"), "{err}");
    // The owner itself gets past the file and fails only at the socket.
    let (rc, err) = run(
        &[
            "swap",
            secret.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ],
        Some(4242),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("cannot reach a running scx_arbor"), "{err}");
}
