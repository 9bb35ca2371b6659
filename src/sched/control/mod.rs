//! The server of the control channel of a running scx_arbor: a root-only
//! Unix socket speaking arbor-proto's control protocol. The socket is
//! created 0600 and every peer's credentials are checked: only uid 0 is
//! served.

use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use arbor_proto::control::{read_request, Request, REQUEST_DEADLINE};

pub mod handlers;

/// A client that sends nothing for this long is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed to hand a reply to a client.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at the same time.
pub const WORKERS: usize = 4;

/// Accepted connections waiting for a worker; beyond this, new clients get
/// an immediate "busy" refusal.
pub const BACKLOG: usize = 32;

/// How often an idle server checks whether it should stop (its only
/// wakeups while nobody connects).
pub const STOP_CHECK: Duration = Duration::from_millis(250);

/// uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> Result<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("SO_PEERCRED");
    }
    Ok(cred.uid)
}

/// Reads from a client within the idle timeout and the request deadline
/// (both counted from the moment the connection was accepted, so clients
/// that waited in the backlog are not given extra time), giving up early
/// when the server stops.
struct Deadlined<'a> {
    stream: &'a UnixStream,
    deadline: Instant,
    /// When the client last sent something (or was accepted).
    active: Instant,
    stop: &'a AtomicBool,
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::{Error, ErrorKind};
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Error::other("the scheduler is stopping"));
            }
            let idle_until = self.active + IDLE_TIMEOUT;
            let wait = self
                .deadline
                .min(idle_until)
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(200));
            self.stream.set_read_timeout(Some(wait))?;
            match (&mut &*self.stream).read(buf) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Ok(n) => {
                    self.active = Instant::now();
                    return Ok(n);
                }
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "timed out: the request did not arrive within {} s",
                        REQUEST_DEADLINE.as_secs()
                    ),
                ));
            }
            if now >= idle_until {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "timed out: the client sent nothing for {} s",
                        IDLE_TIMEOUT.as_secs()
                    ),
                ));
            }
        }
    }
}

/// A bound control socket.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
}

impl Server {
    /// Bind `path` with mode 0600. A stale socket file is replaced; a live
    /// one (another instance answers) is an error.
    pub fn bind(path: &Path) -> Result<Server> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                bail!(
                    "{} exists and is not a socket; refusing to replace it",
                    path.display()
                );
            }
            match UnixStream::connect(path) {
                Ok(_) => bail!(
                    "another scx_arbor instance is listening on {}",
                    path.display()
                ),
                // Only a socket nobody listens on is stale; anything else
                // (a full backlog, no permission) may be a live instance.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => bail!(
                    "{} may belong to a running scx_arbor ({e}); not replacing it",
                    path.display()
                ),
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        // Create it owner-only from the start: no window where others can connect.
        // SAFETY: umask only changes this process's file creation mask.
        let old = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(old) };
        let listener =
            bound.with_context(|| format!("binding the control socket {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Serve requests until `stop`: [`WORKERS`] connections at a time, up to
    /// [`BACKLOG`] more waiting, any further client refused as busy. Each
    /// client has [`IDLE_TIMEOUT`] between bytes and [`REQUEST_DEADLINE`]
    /// for its whole request. A worker that dies (a panic in a handler)
    /// ends the server with the reason, so that its supervisor sees it
    /// instead of a server that silently serves with fewer workers.
    pub fn serve<H>(&self, stop: Arc<AtomicBool>, handle: H) -> Result<()>
    where
        H: Fn(Request) -> Result<Value> + Sync,
    {
        let (tx, rx) = sync_channel::<(UnixStream, Instant)>(BACKLOG);
        let rx = Mutex::new(rx);
        let thread = std::thread::current()
            .name()
            .unwrap_or("control")
            .to_string();
        std::thread::scope(|scope| {
            let mut workers = Vec::new();
            for _ in 0..WORKERS {
                workers.push(
                    std::thread::Builder::new()
                        .name(thread.clone())
                        .spawn_scoped(scope, || Self::worker(&rx, &stop, &handle))
                        .context("starting a control worker")?,
                );
            }
            while !stop.load(Ordering::Relaxed) && !workers.iter().any(|w| w.is_finished()) {
                // Sleep in poll(2) until a client connects (or the stop
                // check is due): an idle server costs a few wakeups a second.
                if !self.readable(STOP_CHECK) {
                    continue;
                }
                match self.listener.accept() {
                    Ok((stream, _)) => match tx.try_send((stream, Instant::now())) {
                        Ok(()) => {}
                        Err(TrySendError::Full((stream, _)))
                        | Err(TrySendError::Disconnected((stream, _))) => {
                            let reply = json!({
                                "ok": false,
                                "error": format!(
                                    "busy: {WORKERS} requests are being served and {BACKLOG} wait; try again"
                                ),
                            });
                            Self::reply(&stream, &reply).ok();
                        }
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        log::warn!("control socket accept: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
            drop(tx);
            let mut died = None;
            for w in workers {
                if let Err(p) = w.join() {
                    died.get_or_insert_with(|| {
                        crate::sched::supervisor::panic_reason(&thread, p.as_ref())
                    });
                }
            }
            match died {
                Some(why) => bail!("a control worker {why}"),
                None => Ok(()),
            }
        })
    }

    fn worker<H>(rx: &Mutex<Receiver<(UnixStream, Instant)>>, stop: &AtomicBool, handle: &H)
    where
        H: Fn(Request) -> Result<Value>,
    {
        loop {
            // A poisoned lock only means another worker panicked while
            // waiting; the receiver itself is intact. Workers block here
            // (no timed wakeups) until a connection comes or the accept
            // loop ends and drops the sender.
            let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            match next {
                Ok((stream, accepted)) => {
                    if let Err(e) = Self::one(stream, accepted, stop, handle) {
                        log::warn!("control request failed: {e:#}");
                    }
                }
                Err(std::sync::mpsc::RecvError) => return,
            }
        }
    }

    /// Wait up to `timeout` for a connection to accept.
    fn readable(&self, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
        n > 0
    }

    fn reply(stream: &UnixStream, reply: &Value) -> Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        (&mut &*stream)
            .write_all(format!("{reply}\n").as_bytes())
            .context("writing the reply")
    }

    fn one<H>(stream: UnixStream, accepted: Instant, stop: &AtomicBool, handle: &H) -> Result<()>
    where
        H: Fn(Request) -> Result<Value>,
    {
        stream.set_nonblocking(false)?;
        let deadline = accepted + REQUEST_DEADLINE;
        let reply = match peer_uid(&stream) {
            Ok(0) => {
                let mut reader = BufReader::new(Deadlined {
                    stream: &stream,
                    deadline,
                    active: accepted,
                    stop,
                });
                match read_request(&mut reader).and_then(handle) {
                    Ok(mut v) => {
                        v["ok"] = json!(true);
                        v
                    }
                    Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
                }
            }
            Ok(uid) => json!({
                "ok": false,
                "error": format!("permission denied: the scx_arbor control socket serves root only (peer uid {uid})")
            }),
            Err(e) => json!({"ok": false, "error": format!("{e:#}")}),
        };
        if reply["ok"] != json!(true) {
            log::warn!(
                "control request refused: {}",
                reply["error"].as_str().unwrap_or("")
            );
        }
        Self::reply(&stream, &reply)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_proto::control::request;

    /// Voluntary context switches of every thread of this process.
    fn wakeups() -> u64 {
        let mut n = 0;
        for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let Ok(s) = std::fs::read_to_string(t.path().join("status")) else {
                continue;
            };
            n += s
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        n
    }

    #[test]
    fn an_idle_server_sleeps() {
        let dir = std::env::temp_dir().join(format!("arbor-ctl-idle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctl.sock");
        let server = Server::bind(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let t = std::thread::spawn(move || server.serve(stop2, |_| Ok(json!({}))).unwrap());
        std::thread::sleep(Duration::from_millis(300));
        let (w0, t0) = (wakeups(), Instant::now());
        std::thread::sleep(Duration::from_secs(2));
        let (w1, secs) = (wakeups(), t0.elapsed().as_secs_f64());
        // The accept loop wakes once per STOP_CHECK, the test thread once;
        // the workers not at all (polling every 20 ms and 200 ms made ~140).
        let per_s = (w1 - w0) as f64 / secs;
        let allowed = 1.0 / STOP_CHECK.as_secs_f64() + 3.0;
        assert!(per_s <= allowed, "{per_s:.1} wakeups/s > {allowed:.1}");
        let t_stop = Instant::now();
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        assert!(
            t_stop.elapsed() < STOP_CHECK * 2 + Duration::from_millis(200),
            "stopping took {:?}",
            t_stop.elapsed()
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_worker_that_dies_ends_the_server_with_the_reason() {
        let dir = std::env::temp_dir().join(format!("arbor-ctl-die-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctl.sock");
        let server = Server::bind(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let t = std::thread::Builder::new()
            .name("ctl-test".into())
            .spawn(move || {
                server.serve(stop2, |req| match req {
                    Request::Status => panic!("a bug in the handler"),
                    _ => Ok(json!({})),
                })
            })
            .unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let err = format!("{:#}", request(&path, &Request::Status).unwrap_err());
        if !root {
            // Refused before any handler runs: nothing dies.
            assert!(err.contains("root only"), "{err}");
            stop.store(true, Ordering::Relaxed);
            t.join().unwrap().unwrap();
            return;
        }
        assert!(err.contains("without a reply"), "{err}");
        // The server notices within a stop check, without being stopped.
        let t0 = Instant::now();
        while !t.is_finished() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(t.is_finished(), "the server went on with a dead worker");
        let err = format!("{:#}", t.join().unwrap().unwrap_err());
        assert!(
            err.contains("a control worker panicked") && err.contains("a bug in the handler"),
            "{err}"
        );
        assert!(!path.exists(), "the socket is removed when the server goes");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn socket_round_trip_is_owner_only() {
        let dir = std::env::temp_dir().join(format!("arbor-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctl.sock");
        let server = Server::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second instance must not steal a live socket.
        assert!(Server::bind(&path).is_err());

        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let t = std::thread::spawn(move || {
            server
                .serve(stop2, |req| match req {
                    Request::Status => Ok(json!({"generation": 7})),
                    Request::Swap(b) if b == b"bad" => bail!("not an ONNX model"),
                    Request::Swap(_) => Ok(json!({"generation": 8})),
                    Request::Explain(_) => bail!("not served here"),
                    #[cfg(feature = "debug-torn")]
                    Request::SwapTorn(_) => bail!("refused"),
                })
                .unwrap()
        });
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let status = request(&path, &Request::Status);
        if root {
            assert_eq!(status.unwrap()["generation"], 7);
            let err = request(&path, &Request::Swap(b"bad".to_vec())).unwrap_err();
            assert!(format!("{err:#}").contains("not an ONNX model"));
            let ok = request(&path, &Request::Swap(b"good".to_vec())).unwrap();
            assert_eq!(ok["generation"], 8);
        } else {
            let err = status.unwrap_err();
            assert!(format!("{err:#}").contains("root only"));
        }
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        assert!(!path.exists(), "the socket is removed when the server goes");
        std::fs::remove_dir_all(&dir).ok();
    }
}
