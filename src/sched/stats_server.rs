//! The scx_stats side of a running scx_arbor: the server every scx
//! scheduler runs (at scx_stats' default path, `/var/run/scx/root/stats`),
//! and the client behind `--stats` and `--monitor`.
//!
//! The scheduler's main loop answers each request on the server's channel
//! with a [`Status`]: the totals since attach ([`stats::collect`]) with the
//! live model's confusion matrix; the server turns them into per-connection
//! deltas, scored over the delta's own outcomes, so any number of clients
//! can read at their own pace.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use scx_stats::prelude::*;

use arbor_proto::metrics::Metrics;
use arbor_proto::status::Status;

use crate::sched::stats;

/// Where scx_stats serves by default; what scxtop and
/// `scxstats_to_openmetrics.py` connect to.
pub const DEFAULT_PATH: &str = "/var/run/scx/root/stats";

/// The server's data: the metadata of [`Metrics`] and its `top` target.
/// The first `stats` request on a connection answers with the totals since
/// attach, each later one with the change since the previous request.
pub fn server_data() -> StatsServerData<(), Status> {
    let open: Box<dyn StatsOpener<(), Status>> = Box::new(move |_| {
        let mut prev = Status::default();
        let read: Box<dyn StatsReader<(), Status>> = Box::new(move |_args, (req, res)| {
            req.send(())?;
            let now = res.recv()?;
            let mut delta = now.delta(&prev);
            stats::score(&mut delta.metrics, &delta.confusion);
            prev = now;
            delta.metrics.to_json()
        });
        Ok(read)
    });
    StatsServerData::new()
        .add_meta(Metrics::meta())
        .add_ops("top", StatsOps { open, close: None })
}

/// Launch the server at the default path.
pub fn launch() -> Result<StatsServer<(), Status>> {
    StatsServer::new(server_data())
        .set_path(DEFAULT_PATH)
        .launch()
}

/// Print every field's description (`--help-stats`).
pub fn describe(w: &mut impl std::io::Write) -> Result<()> {
    server_data().describe_meta(w, None)
}

/// Wait until a server answers at the default path (or `shutdown`): for
/// `--stats`, whose client starts before its own instance has attached.
pub fn wait_for_server(shutdown: &AtomicBool) {
    while !shutdown.load(Ordering::Relaxed)
        && std::os::unix::net::UnixStream::connect(DEFAULT_PATH).is_err()
    {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Read the running instance's statistics every `interval` and print them
/// one line each, until `shutdown`. The first reading (totals since attach)
/// is skipped: every line printed covers one interval. Waits, retrying
/// every second, while no instance serves.
pub fn monitor(interval: Duration, shutdown: Arc<AtomicBool>) -> Result<()> {
    let mut first = true;
    scx_utils::monitor_stats::<Metrics>(
        &[],
        interval,
        || shutdown.load(Ordering::Relaxed),
        |m| {
            if !std::mem::take(&mut first) {
                println!("{}", m.line());
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    /// A client that knows nothing of scx_arbor: JSON lines on the socket.
    fn ask(r: &mut BufReader<UnixStream>, req: &str) -> serde_json::Value {
        let mut w = r.get_ref().try_clone().unwrap();
        w.write_all(format!("{{\"req\":\"{req}\",\"args\":{{}}}}\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["errno"], 0, "{req}: {v}");
        v["args"]["resp"].clone()
    }

    #[test]
    fn plain_json_client_gets_meta_then_totals_then_deltas() {
        let dir = std::env::temp_dir().join(format!("arbor-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stats");
        let server = StatsServer::new(server_data())
            .set_path(&path)
            .launch()
            .unwrap();
        // The scheduler's side: each request gets the totals so far, which
        // grow by 10 decisions per reading; the generation is a gauge.
        let (res, req) = server.channels();
        let answer = std::thread::spawn(move || {
            let mut n = 0u64;
            while req.recv().is_ok() {
                n += 1;
                let m = Status {
                    metrics: Metrics {
                        generation: n,
                        decisions: 10 * n,
                        decisions_tiny: 10 * n,
                        ..Default::default()
                    },
                    // One more right tiny decision and one wrong per reading.
                    confusion: vec![vec![n, n, 0, 0], vec![0; 4], vec![0; 4], vec![0; 4]],
                    ..Default::default()
                };
                if res.send(m).is_err() {
                    break;
                }
            }
        });

        let mut c = BufReader::new(UnixStream::connect(&path).unwrap());
        let meta = ask(&mut c, "stats_meta");
        assert_eq!(meta["Metrics"]["top"], "true");
        assert!(meta["Metrics"]["fields"]["decisions"]["desc"].is_string());
        let first = ask(&mut c, "stats");
        assert_eq!(first["decisions"], 10, "first reading: the totals");
        let second = ask(&mut c, "stats");
        assert_eq!(second["decisions"], 10, "then the change since the last");
        assert_eq!(second["generation"], 2, "gauges as they are");
        // Scored over the reading's own outcomes: one hit, one tiny predicted
        // for a short burst (cost 1 of 6), recall 1/2 of tiny... of the
        // classes that occurred: tiny 1/1, short 0/1.
        assert_eq!(second["model_balanced_accuracy_pct"], 50.0);
        let want = 100.0 * (1.0 - 0.5 / 6.0);
        assert!((second["model_score"].as_f64().unwrap() - want).abs() < 1e-9);
        // Another client has its own previous reading.
        let mut c2 = BufReader::new(UnixStream::connect(&path).unwrap());
        assert_eq!(ask(&mut c2, "stats")["decisions"], 30);
        assert_eq!(ask(&mut c, "stats")["decisions"], 20);

        drop(c);
        drop(c2);
        drop(server);
        let _ = answer.join();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn help_stats_describes_every_field() {
        let mut out = Vec::new();
        describe(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for (name, f) in Metrics::meta().fields {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("{name} missing from --help-stats:\n{text}"));
            assert!(line.ends_with(f.attrs.desc.as_deref().unwrap()), "{line}");
        }
    }
}
