//! The control socket's protocol: what a client sends a running scx_arbor
//! and what it answers. The socket is root-only; requests are one line,
//! optionally followed by a payload: `status`, `swap <nbytes>` + the ONNX
//! bytes, `explain <pid>`. Every request gets exactly one JSON line back:
//! `{"ok":true,...}` or `{"ok":false,"error":"..."}`. The server is the
//! scheduler's (its `sched::control`); the parser is here because it defines
//! the protocol.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/scx_arbor.sock";

/// Largest model payload accepted (a full ensemble in ONNX is far smaller).
pub const MAX_PAYLOAD: usize = 64 << 20;

/// Longest request line accepted, newline included (`swap 67108864\n` is 14).
pub const MAX_LINE: usize = 256;

/// A whole request (line and payload) must arrive within this time.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Status,
    Swap(Vec<u8>),
    /// A task's features, the live model's path for them and its last decision.
    Explain(u32),
    /// Test-only negative control (builds with the `debug-torn` feature);
    /// refused unless the scheduler was started to allow it.
    #[cfg(feature = "debug-torn")]
    SwapTorn(Vec<u8>),
}

/// Read and parse one request: a line of at most [`MAX_LINE`] bytes, then
/// the payload it announces (at most [`MAX_PAYLOAD`] bytes).
pub fn read_request(reader: &mut impl BufRead) -> Result<Request> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .context("reading the request line")?;
    if line.last() != Some(&b'\n') {
        if line.len() >= MAX_LINE {
            bail!("request line longer than {MAX_LINE} bytes");
        }
        bail!("the client hung up before the end of the request line");
    }
    let line = std::str::from_utf8(&line).context("the request line is not UTF-8 text")?;
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
        if let Some(extra) = words.next() {
            bail!("unexpected {extra:?} after the payload length");
        }
        let mut buf = vec![0u8; n];
        reader
            .read_exact(&mut buf)
            .with_context(|| format!("reading the {n}-byte payload"))?;
        Ok(buf)
    };
    match verb {
        "status" => match words.next() {
            None => Ok(Request::Status),
            Some(extra) => bail!("unexpected {extra:?} after status"),
        },
        "swap" => Ok(Request::Swap(payload(&mut words, reader)?)),
        "explain" => {
            let pid = words
                .next()
                .context("missing pid")?
                .parse()
                .context("bad pid")?;
            match words.next() {
                None => Ok(Request::Explain(pid)),
                Some(extra) => bail!("unexpected {extra:?} after the pid"),
            }
        }
        #[cfg(feature = "debug-torn")]
        "swap-torn" => Ok(Request::SwapTorn(payload(&mut words, reader)?)),
        other => bail!("unknown request {other:?} (known: status, swap, explain)"),
    }
}

/// How long [`request`] retries a server that answers "busy".
pub const BUSY_RETRY: Duration = Duration::from_secs(5);

/// Send one request to the running instance and return its JSON reply.
/// A refusal (`ok: false`) becomes an error carrying the instance's reason.
/// A "busy" refusal is retried for up to [`BUSY_RETRY`].
pub fn request(socket: &Path, req: &Request) -> Result<Value> {
    let t0 = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match request_once(socket, req) {
            Err(e) if format!("{e}").starts_with("busy:") && t0.elapsed() < BUSY_RETRY => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            r => return r,
        }
    }
}

fn request_once(socket: &Path, req: &Request) -> Result<Value> {
    let mut stream = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach a running scx_arbor at {} (is it running, and are you root?)",
            socket.display()
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(REQUEST_DEADLINE))?;
    let sent = match req {
        Request::Status => stream.write_all(b"status\n"),
        Request::Explain(pid) => stream.write_all(format!("explain {pid}\n").as_bytes()),
        Request::Swap(b) => stream
            .write_all(format!("swap {}\n", b.len()).as_bytes())
            .and_then(|_| stream.write_all(b)),
        #[cfg(feature = "debug-torn")]
        Request::SwapTorn(b) => stream
            .write_all(format!("swap-torn {}\n", b.len()).as_bytes())
            .and_then(|_| stream.write_all(b)),
    };
    // A server that refuses early (busy, too large) closes before taking
    // the whole payload: its reply says why, so read it before failing.
    let mut line = String::new();
    let got = BufReader::new(stream.take(1 << 20)).read_line(&mut line);
    if line.trim().is_empty() {
        sent.context("sending the request")?;
        got.context("reading the reply")?;
        bail!("the running scx_arbor closed the connection without a reply");
    }
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
        let mut r = BufReader::new(&b"explain 42\n"[..]);
        assert_eq!(read_request(&mut r).unwrap(), Request::Explain(42));
        for bad in [&b"explain\n"[..], b"explain -1\n", b"explain 1 2\n"] {
            assert!(read_request(&mut BufReader::new(bad)).is_err());
        }
    }
}
