//! The control socket under hostile clients, on the host (no BPF): the real
//! `control::Server` serves a stand-in scheduler whose swap runs the real
//! ONNX importer and integer compiler and counts generations. Each abuse must
//! get a refusal or a timeout, the socket must keep serving, and the running
//! model (generation and bytes) must stay as it was.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use arbor_proto::control::{self, Request};
use scx_arbor::sched::control::{self as server, Server};
use serde_json::{json, Value};

const MODEL_1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/models/const_class_1.onnx"
);
const MODEL_2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/models/const_class_2.onnx"
);

/// The stand-in scheduler's running model.
#[derive(Default)]
struct Running {
    generation: u64,
    bytes: Vec<u8>,
}

struct Harness {
    dir: PathBuf,
    sock: PathBuf,
    stop: Arc<AtomicBool>,
    running: Arc<Mutex<Running>>,
    thread: Option<JoinHandle<()>>,
}

impl Harness {
    fn start(name: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("arbor-hostile-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("ctl.sock");
        let server = Server::bind(&sock).expect("binding the control socket");
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(Mutex::new(Running {
            generation: 1,
            bytes: std::fs::read(MODEL_1).unwrap(),
        }));
        let (s, r) = (stop.clone(), running.clone());
        let thread = std::thread::spawn(move || {
            server.serve(s, |req| match req {
                Request::Status => {
                    let r = r.lock().unwrap();
                    Ok(json!({"installed_generation": r.generation, "model_len": r.bytes.len()}))
                }
                Request::Swap(bytes) => {
                    let imported = arbor_model::onnx_import::import_bytes(&bytes)
                        .context("model refused; the running model is unchanged")?;
                    let mut r = r.lock().unwrap();
                    let g = r.generation + 1;
                    arbor_model::flat::flatten(&imported.ensemble, g)
                        .context("model refused; the running model is unchanged")?;
                    r.generation = g;
                    r.bytes = bytes;
                    Ok(json!({"generation": g}))
                }
                #[allow(unreachable_patterns)]
                _ => anyhow::bail!("not served by this stand-in"),
            })
            .expect("the control server failed")
        });
        Harness {
            dir,
            sock,
            stop,
            running,
            thread: Some(thread),
        }
    }

    fn status(&self) -> Value {
        control::request(&self.sock, &Request::Status).expect("status after the abuse")
    }

    /// The running model is still generation `g` with `model`'s bytes.
    fn assert_model(&self, g: u64, model: &str) {
        let r = self.running.lock().unwrap();
        assert_eq!(r.generation, g, "the running model's generation changed");
        assert!(
            r.bytes == std::fs::read(model).unwrap(),
            "the running model's bytes changed"
        );
        drop(r);
        assert_eq!(self.status()["installed_generation"], g);
    }

    /// A swap of a real model still works, and is generation `g`.
    fn assert_swap_works(&self, g: u64) {
        let bytes = std::fs::read(MODEL_2).unwrap();
        let v = control::request(&self.sock, &Request::Swap(bytes)).expect("swap after the abuse");
        assert_eq!(v["generation"], g);
        self.assert_model(g, MODEL_2);
    }

    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.sock).expect("connecting");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The one reply line a connection gets, parsed.
fn reply(s: &UnixStream) -> Value {
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .expect("reading the reply");
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("reply {line:?}: {e}"))
}

fn refusal(v: &Value) -> String {
    assert_eq!(v["ok"], json!(false), "expected a refusal, got {v}");
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("refusal without a reason: {v}"))
        .to_string()
}

#[test]
fn garbage_bytes_are_refused() {
    let h = Harness::start("garbage");
    let cases: &[&[u8]] = &[
        b"\xff\xfe\x00\x01garbage\n",
        b"\n",
        b"reboot now\n",
        b"status extra words\n",
        b"swap -1\n",
        b"swap 12abc\n",
        b"swap 3 4\nabc",
        b"swap\n",
        b"\x00\x00\x00\x00\x00\n",
    ];
    for bytes in cases {
        let mut s = h.connect();
        s.write_all(bytes).unwrap();
        let err = refusal(&reply(&s));
        assert!(!err.is_empty());
    }
    // The payload of a well-formed swap that is not ONNX: the importer refuses.
    let mut s = h.connect();
    s.write_all(b"swap 15\n\x08\x07garbage-bytes").unwrap();
    let err = refusal(&reply(&s));
    assert!(err.contains("running model is unchanged"), "{err}");
    h.assert_model(1, MODEL_1);
    h.assert_swap_works(2);
}

#[test]
fn a_ten_megabyte_line_is_refused_quickly() {
    let h = Harness::start("longline");
    let s = h.connect();
    let mut w = s.try_clone().unwrap();
    // The server stops reading after MAX_LINE bytes: the writer then sees
    // a closed socket, which is fine.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..10 {
            if w.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let t0 = Instant::now();
    let err = refusal(&reply(&s));
    assert!(
        err.contains(&format!("longer than {} bytes", control::MAX_LINE)),
        "{err}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
    drop(s);
    writer.join().unwrap();
    h.assert_model(1, MODEL_1);
    h.assert_swap_works(2);
}

#[test]
fn a_half_written_request_then_hang_up_is_refused() {
    let h = Harness::start("half");
    // Half a request line, then the write side closes.
    let mut s = h.connect();
    s.write_all(b"swa").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let err = refusal(&reply(&s));
    assert!(
        err.contains("hung up before the end of the request line"),
        "{err}"
    );
    // A full line announcing 1000 bytes, 300 of them real ONNX, then hang-up.
    let mut s = h.connect();
    let model = std::fs::read(MODEL_2).unwrap();
    s.write_all(format!("swap {}\n", model.len()).as_bytes())
        .unwrap();
    s.write_all(&model[..model.len() / 2]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let err = refusal(&reply(&s));
    assert!(err.contains("payload"), "{err}");
    // The same, then a full close without reading anything.
    for _ in 0..20 {
        let mut s = h.connect();
        s.write_all(format!("swap {}\n", model.len()).as_bytes())
            .unwrap();
        s.write_all(&model[..10]).unwrap();
        drop(s);
    }
    h.assert_model(1, MODEL_1);
    h.assert_swap_works(2);
}

#[test]
fn an_oversized_payload_is_refused_before_it_is_sent() {
    let h = Harness::start("oversize");
    let mut s = h.connect();
    s.write_all(format!("swap {}\n", control::MAX_PAYLOAD + 1).as_bytes())
        .unwrap();
    let err = refusal(&reply(&s));
    assert!(err.contains("exceeds"), "{err}");
    h.assert_model(1, MODEL_1);
}

#[test]
fn a_silent_client_times_out_and_does_not_block_others() {
    let h = Harness::start("silent");
    let t0 = Instant::now();
    let silent = h.connect();
    // While it holds a worker, others are served at once.
    std::thread::sleep(Duration::from_millis(300));
    let t1 = Instant::now();
    h.status();
    assert!(
        t1.elapsed() < Duration::from_secs(2),
        "status waited {:?}",
        t1.elapsed()
    );
    let err = refusal(&reply(&silent));
    let waited = t0.elapsed();
    assert!(err.contains("timed out"), "{err}");
    assert!(
        waited >= server::IDLE_TIMEOUT && waited < server::IDLE_TIMEOUT + Duration::from_secs(3),
        "the silent client was dropped after {waited:?}, not about {:?}",
        server::IDLE_TIMEOUT
    );
    h.assert_model(1, MODEL_1);
}

#[test]
fn a_trickling_client_is_cut_at_the_request_deadline() {
    let h = Harness::start("trickle");
    let mut s = h.connect();
    s.write_all(b"swap 1000\n").unwrap();
    let t0 = Instant::now();
    let mut w = s.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    // One byte a second: never idle for IDLE_TIMEOUT, never done.
    let trickle = std::thread::spawn(move || {
        while !st.load(Ordering::Relaxed) && w.write_all(b"x").is_ok() {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let err = refusal(&reply(&s));
    let waited = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    trickle.join().unwrap();
    assert!(err.contains("timed out"), "{err}");
    assert!(
        waited >= control::REQUEST_DEADLINE - Duration::from_secs(1)
            && waited < control::REQUEST_DEADLINE + Duration::from_secs(3),
        "cut after {waited:?}"
    );
    h.assert_model(1, MODEL_1);
    h.assert_swap_works(2);
}

#[test]
fn a_hundred_concurrent_clients_are_answered_or_refused_as_busy() {
    let h = Harness::start("hundred");
    let sock = h.sock.clone();
    let model = Arc::new(std::fs::read(MODEL_2).unwrap());
    let results: Vec<_> = (0..100)
        .map(|i| {
            let sock = sock.clone();
            let model = model.clone();
            std::thread::spawn(move || {
                let req = if i % 4 == 0 {
                    Request::Swap(model.to_vec())
                } else {
                    Request::Status
                };
                control::request(&sock, &req).map_err(|e| format!("{e:#}"))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let answered = results.iter().filter(|r| r.is_ok()).count();
    let swaps = results
        .iter()
        .filter(|r| matches!(r, Ok(v) if v.get("generation").is_some()))
        .count() as u64;
    for r in &results {
        if let Err(e) = r {
            assert!(e.starts_with("busy:"), "unexpected failure: {e}");
        }
    }
    assert!(
        answered >= server::WORKERS,
        "only {answered} of 100 answered"
    );
    // Every answered swap is one generation; nothing else moved it.
    h.assert_model(1 + swaps, if swaps > 0 { MODEL_2 } else { MODEL_1 });

    // 100 clients that connect and say nothing: a real request during the
    // flood gets an answer, or a busy refusal once the client stops
    // retrying, never a hang.
    let silent: Vec<_> = (0..100).map(|_| h.connect()).collect();
    let t0 = Instant::now();
    match control::request(&sock, &Request::Status) {
        Ok(v) => assert_eq!(v["installed_generation"], 1 + swaps),
        Err(e) => assert!(format!("{e:#}").starts_with("busy:"), "{e:#}"),
    }
    assert!(
        t0.elapsed() < control::BUSY_RETRY + Duration::from_secs(2),
        "{:?}",
        t0.elapsed()
    );
    // Each silent client gets a reply: a timeout or busy.
    for s in &silent {
        let err = refusal(&reply(s));
        assert!(
            err.contains("timed out") || err.starts_with("busy:"),
            "{err}"
        );
    }
    drop(silent);
    h.assert_swap_works(2 + swaps);
}

#[test]
fn a_client_that_never_reads_does_not_block_the_server() {
    let h = Harness::start("noread");
    // Many requests whose replies are never read, connections left open.
    let held: Vec<_> = (0..50)
        .map(|_| {
            let mut s = h.connect();
            // Past the workers and the backlog the server answers "busy"
            // and closes at once, without reading: writing to it then
            // fails with EPIPE (or ECONNRESET), a refusal, not a hang.
            match s.write_all(b"status\n") {
                Ok(()) => {}
                Err(e)
                    if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
                Err(e) => panic!("writing a request: {e}"),
            }
            s
        })
        .collect();
    let t0 = Instant::now();
    h.assert_model(1, MODEL_1);
    h.assert_swap_works(2);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    drop(held);
    // A client that sends a large swap but stops reading its socket while
    // the server is still answering: the server must not wait on it.
    let mut s = h.connect();
    s.write_all(b"status\n").unwrap();
    let mut buf = [0u8; 1];
    // Read nothing; just check the server has moved on.
    h.status();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 1, "the reply was queued for it");
}

#[test]
fn a_second_server_does_not_take_or_delete_a_live_socket() {
    let h = Harness::start("second");
    let err = Server::bind(&h.sock)
        .err()
        .expect("a second bind must fail");
    assert!(format!("{err:#}").contains("another scx_arbor"), "{err:#}");
    assert!(Path::new(&h.sock).exists(), "the live socket was deleted");
    h.status();
    // A path that is not a socket is never deleted.
    let file = h.dir.join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let err = Server::bind(&file)
        .err()
        .expect("binding over a file must fail");
    assert!(format!("{err:#}").contains("not a socket"), "{err:#}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}
