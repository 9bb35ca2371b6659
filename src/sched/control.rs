//! The control channel of a running scx_arbor: a root-only Unix socket.
//!
//! Requests are one line, optionally followed by a payload:
//! `status`, `swap <nbytes>` + the ONNX bytes. Every request gets exactly
//! one JSON line back: `{"ok":true,...}` or `{"ok":false,"error":"..."}`.
//! The socket is created 0600 and every peer's credentials are checked:
//! only uid 0 is served.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/scx_arbor.sock";

/// Largest model payload accepted (a full ensemble in ONNX is far smaller).
pub const MAX_PAYLOAD: usize = 64 << 20;

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Status,
    Swap(Vec<u8>),
    /// Test-only negative control; refused unless the scheduler allows it.
    SwapTorn(Vec<u8>),
}

fn read_request(reader: &mut impl BufRead) -> Result<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).context("reading the request")?;
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let payload = |words: &mut std::str::SplitWhitespace, reader: &mut dyn Read| {
        let n: usize = words
            .next()
            .context("missing payload length")?
            .parse()
            .context("bad payload length")?;
        if n > MAX_PAYLOAD {
            bail!("payload of {n} bytes exceeds the {MAX_PAYLOAD}-byte limit");
        }
        let mut buf = vec![0u8; n];
        reader.read_exact(&mut buf).context("reading the payload")?;
        Ok(buf)
    };
    match verb {
        "status" => Ok(Request::Status),
        "swap" => Ok(Request::Swap(payload(&mut words, reader)?)),
        "swap-torn" => Ok(Request::SwapTorn(payload(&mut words, reader)?)),
        other => bail!("unknown request {other:?}"),
    }
}

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

/// A bound control socket.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
}

impl Server {
    /// Bind `path` with mode 0600. A stale socket file is replaced; a live
    /// one (another instance answers) is an error.
    pub fn bind(path: &Path) -> Result<Server> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                bail!(
                    "another scx_arbor instance is listening on {}",
                    path.display()
                );
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

    /// Serve requests until `stop`, one connection at a time.
    pub fn serve<H>(&self, stop: Arc<AtomicBool>, mut handle: H)
    where
        H: FnMut(Request) -> Result<Value>,
    {
        while !stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = Self::one(stream, &mut handle) {
                        log::warn!("control request failed: {e:#}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    log::warn!("control socket accept: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn one<H>(stream: UnixStream, handle: &mut H) -> Result<()>
    where
        H: FnMut(Request) -> Result<Value>,
    {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut writer = stream.try_clone()?;
        let reply = match peer_uid(&stream) {
            Ok(0) => {
                let mut reader = BufReader::new(stream);
                match read_request(&mut reader).and_then(&mut *handle) {
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
        writeln!(writer, "{reply}")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Send one request to the running instance and return its JSON reply.
/// A refusal (`ok: false`) becomes an error carrying the instance's reason.
pub fn request(socket: &Path, req: &Request) -> Result<Value> {
    let mut stream = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach a running scx_arbor at {} (is it running, and are you root?)",
            socket.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    match req {
        Request::Status => stream.write_all(b"status\n")?,
        Request::Swap(b) => {
            stream.write_all(format!("swap {}\n", b.len()).as_bytes())?;
            stream.write_all(b)?;
        }
        Request::SwapTorn(b) => {
            stream.write_all(format!("swap-torn {}\n", b.len()).as_bytes())?;
            stream.write_all(b)?;
        }
    }
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .context("reading the reply")?;
    let v: Value = serde_json::from_str(line.trim())
        .with_context(|| format!("malformed reply {:?}", line.trim()))?;
    if v["ok"] != json!(true) {
        bail!(
            "{}",
            v["error"]
                .as_str()
                .unwrap_or("the running scx_arbor refused the request")
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        let mut r = BufReader::new(&b"status\n"[..]);
        assert_eq!(read_request(&mut r).unwrap(), Request::Status);
        let mut r = BufReader::new(&b"swap 3\nabc"[..]);
        assert_eq!(
            read_request(&mut r).unwrap(),
            Request::Swap(b"abc".to_vec())
        );
        let mut r = BufReader::new(&b"swap 5\nabc"[..]);
        assert!(read_request(&mut r).is_err(), "truncated payload");
        let mut r = BufReader::new(&b"swap 999999999999\n"[..]);
        assert!(read_request(&mut r).is_err(), "oversized payload");
        let mut r = BufReader::new(&b"reboot\n"[..]);
        assert!(read_request(&mut r).is_err());
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
            server.serve(stop2, |req| match req {
                Request::Status => Ok(json!({"generation": 7})),
                Request::Swap(b) if b == b"bad" => bail!("not an ONNX model"),
                Request::Swap(_) => Ok(json!({"generation": 8})),
                Request::SwapTorn(_) => bail!("refused"),
            })
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
