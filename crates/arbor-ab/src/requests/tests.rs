use super::*;

fn cfg() -> RequestsConfig {
    RequestsConfig {
        workers: 4,
        load: 0.5,
        cpus: 2,
        short_us: 100,
        long_us: 4000,
        long_share: 0.1,
        long_runs: 0,
        long_runs_p: 0.8,
        hogs: 1,
        seed: 7,
    }
}

#[test]
fn the_rate_gives_the_load() {
    let c = cfg();
    // 0.9 × 100 + 0.1 × 4000 = 490 µs; 0.5 × 2 CPUs = 1 CPU-s/s.
    assert!((c.mean_service_us() - 490.0).abs() < 1e-9);
    assert!((c.arrivals_per_s() - 1e6 / 490.0).abs() < 1e-6);
    c.validate().unwrap();
    for bad in [
        RequestsConfig {
            workers: 0,
            ..cfg()
        },
        RequestsConfig { load: 0.0, ..cfg() },
        RequestsConfig {
            short_us: 0,
            ..cfg()
        },
        RequestsConfig {
            long_share: 1.0,
            ..cfg()
        },
        RequestsConfig {
            long_runs_p: 1.0,
            ..cfg()
        },
        // runs of 1 (each long followed by a short) cannot give 60% long
        RequestsConfig {
            long_share: 0.6,
            long_runs: 1,
            ..cfg()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

/// Draw `n` requests for one worker: (long share, P(long | long), longest run).
fn draw(c: &RequestsConfig, n: usize) -> (f64, f64, u32) {
    let mut rng = SplitMix64::new(c.seed);
    let mut m = Mix::default();
    let (mut long, mut after_long, mut long_after_long, mut run, mut max_run) = (0, 0, 0, 0, 0);
    let mut prev = false;
    for _ in 0..n {
        let l = m.next_is_long(c, &mut rng);
        long += usize::from(l);
        if prev {
            after_long += 1;
            long_after_long += usize::from(l);
        }
        run = if l { run + 1 } else { 0 };
        max_run = max_run.max(run);
        prev = l;
    }
    (
        long as f64 / n as f64,
        long_after_long as f64 / after_long.max(1) as f64,
        max_run,
    )
}

#[test]
fn independent_requests_are_long_at_the_share() {
    let (share, p_ll, _) = draw(&cfg(), 200_000);
    assert!((share - 0.1).abs() < 0.005, "{share}");
    assert!((p_ll - 0.1).abs() < 0.02, "{p_ll}");
}

#[test]
fn runs_keep_the_share_continue_with_p_and_stop_at_k() {
    let c = RequestsConfig {
        long_runs: 4,
        long_runs_p: 0.8,
        ..cfg()
    };
    // E[R] = (1 - 0.8^4) / 0.2 = 2.952; q = 0.1 / (2.952 × 0.9).
    assert!((c.mean_long_run() - 2.952).abs() < 1e-9);
    assert!((c.long_after_short_p() - 0.1 / (2.952 * 0.9)).abs() < 1e-12);
    c.validate().unwrap();
    let (share, p_ll, max_run) = draw(&c, 400_000);
    assert!((share - 0.1).abs() < 0.006, "{share}");
    // After a long request: p while the run is below K, 0 at K.
    // P(at K | long) = P(R = K) / E[R] = 0.8^3 / 2.952.
    let expect = 0.8 * (1.0 - 0.8f64.powi(3) / 2.952);
    assert!((p_ll - expect).abs() < 0.02, "{p_ll} vs {expect}");
    assert_eq!(max_run, 4);
}

#[test]
fn poisson_gaps_have_the_mean_of_the_rate() {
    let mut rng = SplitMix64::new(3);
    let rate = 2000.0 / 1e9;
    let n = 100_000;
    let sum: u64 = (0..n).map(|_| exp_gap_ns(&mut rng, rate)).sum();
    let mean_us = sum as f64 / n as f64 / 1e3;
    assert!((mean_us - 500.0).abs() < 10.0, "{mean_us}");
}

#[test]
fn summaries_split_short_and_long() {
    let s = |long, lat_us: u64, wake: Option<u64>| Served {
        long,
        handed: wake.is_some(),
        arrival_ns: 1_000,
        picked_ns: 1_000 + 10_000,
        done_ns: 1_000 + lat_us * 1000,
        wakeup_ns: wake,
        service_cpu_ns: if long { 4_000_000 } else { 100_000 },
    };
    let r = RequestsResult {
        served: vec![
            s(false, 200, Some(5_000)),
            s(false, 400, None),
            s(true, 5000, Some(7_000)),
        ],
        measured_s: 2.0,
        ..Default::default()
    };
    assert_eq!(r.latency(Some(false)).samples, 2);
    assert!((r.latency(Some(false)).max_us - 400.0).abs() < 1e-9);
    assert!((r.latency(Some(true)).p50_us - 5000.0).abs() < 1e-9);
    assert_eq!(r.latency(None).samples, 3);
    assert_eq!(r.wakeup().samples, 2);
    assert!((r.queue_wait().p50_us - 10.0).abs() < 1e-9);
    assert!((r.service_cpu(true).p50_us - 4000.0).abs() < 1e-9);
    assert!((r.requests_per_s() - 1.5).abs() < 1e-9);
    assert!((r.long_share() - 1.0 / 3.0).abs() < 1e-9);
    let m = r.metrics();
    assert_eq!(m[0].0, "req_short_p99_us");
}

#[test]
fn a_short_run_serves_both_classes_at_their_cpu_time() {
    let c = RequestsConfig {
        short_us: 200,
        long_us: 2000,
        long_share: 0.2,
        load: 0.3,
        hogs: 0,
        ..cfg()
    };
    let stop = AtomicBool::new(false);
    let r = run(
        &c,
        Duration::from_millis(100),
        Duration::from_millis(800),
        &Oracle::none(),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert!(r.served.len() > 50, "{} served", r.served.len());
    assert!(r.arrivals >= r.served.len() as u64 - 4);
    for s in &r.served {
        let want = c.service_ns(s.long);
        assert!(s.service_cpu_ns >= want, "{s:?}");
        assert!(
            s.done_ns >= s.picked_ns && s.picked_ns >= s.arrival_ns,
            "{s:?}"
        );
        assert_eq!(s.handed, s.wakeup_ns.is_some());
    }
    assert!(r.served.iter().any(|s| s.long) && r.served.iter().any(|s| !s.long));
    assert!(!r.oracle.fed || r.oracle.updates > 0);
    let j = RequestsJson::new(&c, &r);
    assert!(j.service_cpu_long.p50_us >= 2000.0 && j.service_cpu_long.p50_us < 2600.0);
    assert!(j.service_cpu_short.p50_us >= 200.0 && j.service_cpu_short.p50_us < 500.0);
    assert!(j.oracle.wake_path_cpu.samples > 0);
}
