use super::*;
use arbor_intf::schema::{CLASS_FALLBACK, NR_CLASSES};
use arbor_util::rng::SplitMix64;

fn cfg(mode: LearnMode) -> LearnConfig {
    LearnConfig {
        mode,
        window: 1000,
        interval: Duration::from_secs(0),
        min_new_samples: 100,
        min_samples: 200,
        holdout: 0.25,
        margin: 2.0,
        shadow_bursts: 0,
        max_train_rows: 100_000,
        cart: CartParams::default(),
    }
}

#[test]
fn rejections_back_off_and_a_live_drop_or_promotion_resets() {
    let mut c = cfg(LearnMode::On);
    c.interval = Duration::from_secs(10);
    let mut l = Learner::new(c);
    l.push_batch(&(0..1000).map(sample).collect::<Vec<_>>());
    let t0 = Instant::now();
    assert!(l.due(t0));
    l.observe_live(Some(90.0));
    l.train_candidate(None, t0).unwrap();
    let more = |l: &mut Learner| l.push_batch(&(0..200).map(sample).collect::<Vec<_>>());
    more(&mut l);
    assert!(!l.due(t0 + Duration::from_secs(9)));
    assert!(l.due(t0 + Duration::from_secs(10)));
    for k in 1..=5u32 {
        l.verdict(false, "worse".into());
        let want = 10u64 * (1 << k.min(MAX_BACKOFF));
        assert_eq!(l.current_interval(), Duration::from_secs(want), "after {k}");
    }
    assert!(!l.due(t0 + Duration::from_secs(79)));
    assert!(l.due(t0 + Duration::from_secs(80)));
    // A small dip does not reset; a drop beyond the margin does.
    l.observe_live(Some(89.0));
    assert_eq!(l.current_interval(), Duration::from_secs(80));
    l.observe_live(Some(87.0));
    assert_eq!(l.current_interval(), Duration::from_secs(10));
    // While the live score stays down, rejections do not back off ...
    for _ in 0..3 {
        l.verdict(false, "worse".into());
        l.observe_live(Some(80.0));
        assert_eq!(l.current_interval(), Duration::from_secs(10));
    }
    // ... until a whole window (1000) of samples arrived since the
    // drop: then 80 is the level to hold and rejections back off again.
    more(&mut l);
    l.observe_live(Some(80.0));
    for _ in 0..4 {
        more(&mut l);
    }
    l.observe_live(Some(80.0));
    l.verdict(false, "worse".into());
    assert_eq!(l.current_interval(), Duration::from_secs(20));
    l.observe_live(Some(79.0));
    assert_eq!(l.current_interval(), Duration::from_secs(20));
    l.observe_live(Some(77.0));
    assert_eq!(l.current_interval(), Duration::from_secs(10));
    // A promotion ends the back-off and forgets the level.
    l.verdict(true, "better".into());
    assert_eq!(l.current_interval(), Duration::from_secs(10));
    l.observe_live(Some(50.0));
    l.verdict(false, "worse".into());
    assert_eq!(l.current_interval(), Duration::from_secs(20));
}

#[test]
fn a_quarter_held_out_is_every_fourth_sample() {
    let held: Vec<u64> = (0..12).filter(|&s| is_held_out(s, 0.25)).collect();
    assert_eq!(held, [3, 7, 11]);
    assert_eq!((0..1000).filter(|&s| is_held_out(s, 0.1)).count(), 100);
    assert!(!(0..100).any(|s| is_held_out(s, 0.0)));
    // After a workload switch the newest samples are trained on: a
    // window of 900 old samples then 300 of a new rule.
    let mut l = Learner::new(LearnConfig {
        window: 1200,
        ..cfg(LearnMode::On)
    });
    l.push_batch(&(0..900).map(sample).collect::<Vec<_>>());
    let flipped: Vec<Sample> = (0..300)
        .map(|i| {
            let s = sample(i);
            Sample {
                actual: 3 - s.actual,
                ..s
            }
        })
        .collect();
    l.push_batch(&flipped);
    let (_, eval) = l.train_candidate(None, Instant::now()).unwrap();
    assert_eq!((eval.train_rows, eval.holdout_rows), (900, 300));
    let new_class =
        |r: &([u32; NR_FEATURES], u8)| r.1 != arbor_intf::schema::class_of_burst(r.0[0]) as u8;
    assert_eq!(l.training_rows().filter(|r| new_class(r)).count(), 225);
    assert_eq!(l.judged_rows().filter(|r| new_class(r)).count(), 75);
}

#[test]
fn training_rows_are_capped_to_the_newest() {
    let mut c = cfg(LearnMode::On);
    c.max_train_rows = 300;
    let mut l = Learner::new(c);
    l.push_batch(&(0..1000).map(sample).collect::<Vec<_>>());
    let (_, eval) = l.train_candidate(None, Instant::now()).unwrap();
    assert_eq!((eval.train_rows, eval.holdout_rows), (300, 250));
    assert!(eval.candidate_score > 90.0, "{eval:?}");
}

/// Resident memory of this process in bytes (/proc/self/statm).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// The window's memory is resident once the learner exists, and filling
/// it adds nothing: the footprint does not grow while samples arrive.
/// Truth: the kernel's count of this process's resident pages.
#[test]
fn the_window_is_resident_from_the_start() {
    const N: usize = 500_000;
    let bytes = (N * std::mem::size_of::<([u32; NR_FEATURES], u8)>()) as u64;
    let chunk: Vec<Sample> = (0..10_000).map(sample).collect();
    let mut c = cfg(LearnMode::On);
    c.window = N;
    let before = resident_bytes();
    let mut l = Learner::new(c);
    let created = resident_bytes();
    assert!(
        created.saturating_sub(before) >= bytes * 9 / 10,
        "a {bytes}-byte window added only {} resident bytes",
        created.saturating_sub(before)
    );
    for _ in 0..N / chunk.len() {
        l.push_batch(&chunk);
    }
    assert_eq!(l.stats.window_len, N);
    let filled = resident_bytes();
    assert!(
        filled.saturating_sub(created) < bytes / 10,
        "filling the window added {} resident bytes",
        filled.saturating_sub(created)
    );
}

fn sample_of(features: [u32; NR_FEATURES], actual: u8) -> Sample {
    Sample {
        ts_ns: 0,
        pid: 1,
        generation: 0,
        features,
        predicted: CLASS_FALLBACK as u8,
        actual,
        burst_us: 0,
        truncated: false,
        shadow: None,
        point: 0,
        oracle: false,
    }
}

/// Bursts that follow the last burst: class by last_burst_us.
fn sample(i: u32) -> Sample {
    let last = (i * 7919) % 8000;
    let mut features = [0u32; NR_FEATURES];
    features[0] = last;
    features[5] = 100;
    sample_of(features, arbor_intf::schema::class_of_burst(last) as u8)
}

/// Mid-burst samples (point 1, 2) are trained on but never judged: the
/// held-out count is that of the wakeup samples alone, and a candidate
/// is scored on them only.
#[test]
fn only_wakeup_decisions_are_judged() {
    let mut l = Learner::new(cfg(LearnMode::On));
    let mut batch: Vec<Sample> = (0..1000).map(sample).collect();
    for (i, s) in batch.iter_mut().enumerate() {
        s.point = u8::from(i % 3 == 0);
    }
    l.push_batch(&batch);
    let (_, eval) = l.train_candidate(None, Instant::now()).unwrap();
    let held_wakeups = (0..1000u64)
        .filter(|&i| i % 3 != 0 && is_held_out(i, l.cfg.holdout))
        .count();
    let train_all = (0..1000u64)
        .filter(|&i| !is_held_out(i, l.cfg.holdout))
        .count();
    assert_eq!(eval.holdout_rows, held_wakeups);
    assert_eq!(eval.train_rows, train_all.min(l.cfg.max_train_rows));
}

#[test]
fn window_is_bounded_and_schedule_respected() {
    let mut l = Learner::new(cfg(LearnMode::On));
    let first: Vec<Sample> = (0..150).map(sample).collect();
    l.push_batch(&first);
    assert!(!l.due(Instant::now()), "below min_samples");
    let rest: Vec<Sample> = (150..5000).map(sample).collect();
    l.push_batch(&rest);
    assert_eq!(l.stats.window_len, 1000);
    assert_eq!(l.stats.samples_seen, 5000);
    assert_eq!(l.stats.batches, 2);
    assert!(l.due(Instant::now()));
    l.train_candidate(None, Instant::now()).unwrap();
    assert!(!l.due(Instant::now()), "needs new samples after training");

    let off = Learner::new(cfg(LearnMode::Off));
    assert!(!off.due(Instant::now()));
}

#[test]
fn learns_the_rule_and_beats_a_wrong_running_tree() {
    let mut l = Learner::new(cfg(LearnMode::On));
    l.push_batch(&(0..1000).map(sample).collect::<Vec<_>>());
    // A running tree that always says "long".
    let (wrong, _) = {
        let mut w = Learner::new(cfg(LearnMode::On));
        let all_long: Vec<Sample> = (0..1000)
            .map(|i| Sample {
                actual: 3,
                ..sample(i)
            })
            .collect();
        w.push_batch(&all_long);
        w.train_candidate(None, Instant::now()).unwrap()
    };
    let (_, eval) = l.train_candidate(Some(&wrong), Instant::now()).unwrap();
    assert_eq!(eval.holdout_rows, 250);
    assert_eq!(eval.train_rows, 750);
    assert!(eval.candidate_score > 95.0, "{eval:?}");
    assert!(eval.candidate_balanced_accuracy > 90.0, "{eval:?}");
    // Always "long" on bursts uniform over 0..8000 µs: tiny 1/32 costs 6,
    // short 3/32 costs 4, medium 3/8 costs 2: mean 1.31, score about 78.
    assert!(
        (70.0..82.0).contains(&eval.parent_score.unwrap()),
        "{eval:?}"
    );
    assert!(
        (24.0..26.0).contains(&eval.parent_balanced_accuracy.unwrap()),
        "{eval:?}"
    );
    assert!(eval.beats_parent(2.0));
    assert_eq!(next_step(&cfg(LearnMode::On), &eval), Next::Promote);
    let gated = LearnConfig {
        shadow_bursts: 10,
        ..cfg(LearnMode::On)
    };
    assert_eq!(next_step(&gated, &eval), Next::Shadow);
    assert_eq!(next_step(&cfg(LearnMode::Shadow), &eval), Next::ShadowOnly);
    // The same tree is no better than itself.
    let again = Evaluation {
        parent_score: Some(eval.candidate_score),
        ..eval
    };
    assert!(!again.beats_parent(2.0));
    assert!(
        matches!(next_step(&cfg(LearnMode::On), &again), Next::Reject(r) if r.contains("held-out"))
    );
    l.verdict(true, "better".into());
    l.verdict(false, "worse".into());
    assert_eq!((l.stats.promoted, l.stats.rejected), (1, 1));
    assert_eq!(l.stats.last_verdict, "worse");
}

#[test]
fn shadow_record_needs_the_margin() {
    let mut cand = Confusion::default();
    let mut par = Confusion::default();
    for _ in 0..90 {
        cand.add(1, 1);
        par.add(1, 1);
    }
    for _ in 0..10 {
        cand.add(0, 1); // cost 1 each: score 100 * (1 - 0.1/6)
        par.add(3, 1); // cost 4 each: score 100 * (1 - 0.4/6)
    }
    let r = ShadowRecord {
        candidate: cand,
        parent: par,
    };
    assert!(r.candidate_wins(2.0));
    assert!(!r.candidate_wins(6.0));
    let swapped = ShadowRecord {
        candidate: par,
        parent: cand,
    };
    assert!(!swapped.candidate_wins(0.0));
    assert!(r.describe().contains("100 bursts"));
}

/// Ground truth for the property test, written out independently of
/// `cost`: over-predicting costs 2 per class, under-predicting 1.
fn truth_score(model: &Ensemble, rows: &[([u32; NR_FEATURES], u8)]) -> f64 {
    let mut total = 0.0;
    for (x, y) in rows {
        let p = model.predict(x).unwrap() as i64;
        let a = i64::from(*y);
        total += if p > a { 2 * (p - a) } else { a - p } as f64;
    }
    100.0 * (1.0 - total / rows.len() as f64 / 6.0)
}

/// Synthetic bursts with a known class structure: the class follows
/// thresholds on one or two features (which ones depends on `phase`),
/// with `noise_pct` of labels redrawn at random.
fn synthetic(rng: &mut SplitMix64, phase: u32, noise_pct: u64) -> Sample {
    let f: [u32; NR_FEATURES] = std::array::from_fn(|_| rng.below(10_000) as u32);
    let class = match phase % 3 {
        0 => arbor_intf::schema::class_of_burst(f[0] / 2),
        1 => {
            // Two features, skewed towards tiny like real systems.
            match (f[2] < 7000, f[4] < 5000) {
                (true, _) => 0,
                (false, true) => 1,
                (false, false) => 3,
            }
        }
        _ => (f[1] * NR_CLASSES as u32 / 10_000) as usize,
    };
    let actual = if rng.below(100) < noise_pct {
        rng.below(NR_CLASSES as u64) as usize
    } else {
        class
    };
    sample_of(f, actual as u8)
}

/// A promoted tree never scores below its parent on the same held-out
/// samples: over many seeds, noise levels, margins and workload
/// switches, every promotion is re-scored with the ground-truth costs.
#[test]
fn a_promoted_tree_never_scores_below_its_parent() {
    let (mut promotions, mut rejections, mut checked) = (0, 0, 0);
    for seed in 0..6u64 {
        for (noise, margin) in [(0, 0.0), (20, 0.5), (45, 2.0)] {
            let mut rng = SplitMix64::new(seed * 101 + noise);
            let mut c = cfg(LearnMode::On);
            c.margin = margin;
            c.cart.max_depth = 1 + (seed as usize % 4);
            c.cart.min_samples_leaf = 5;
            let mut l = Learner::new(c.clone());
            let mut parent: Option<Ensemble> = None;
            for round in 0..12u32 {
                // Switch the workload every 4 rounds.
                let batch: Vec<Sample> = (0..400)
                    .map(|_| synthetic(&mut rng, round / 4 + seed as u32, noise))
                    .collect();
                l.push_batch(&batch);
                let (cand, eval) = l.train_candidate(parent.as_ref(), Instant::now()).unwrap();
                // A quarter held out: every fourth sample to arrive.
                let first = l.stats.samples_seen as usize - l.window.len();
                let held: Vec<_> = (l.window.iter().enumerate())
                    .filter(|(i, _)| (first + i) % 4 == 3)
                    .map(|(_, r)| *r)
                    .collect();
                assert_eq!(held.len(), eval.holdout_rows);
                let cand_truth = truth_score(&cand, &held);
                assert!((cand_truth - eval.candidate_score).abs() < 1e-9);
                match next_step(&c, &eval) {
                    Next::Promote => {
                        if let Some(p) = &parent {
                            let parent_truth = truth_score(p, &held);
                            checked += 1;
                            assert!(
                                cand_truth >= parent_truth + margin - 1e-9,
                                "seed {seed} noise {noise} round {round}: promoted {cand_truth:.2} over parent {parent_truth:.2}"
                            );
                        }
                        promotions += 1;
                        parent = Some(cand);
                    }
                    Next::Reject(_) => {
                        rejections += 1;
                        let p = parent.as_ref().expect("nothing to lose to");
                        assert!(cand_truth < truth_score(p, &held) + margin);
                    }
                    other => panic!("mode on gave {other:?}"),
                }
            }
        }
    }
    eprintln!("{promotions} promotions ({checked} over a parent tree), {rejections} rejections");
    assert!(
        checked >= 20,
        "too few promotions over a parent to test: {checked}"
    );
    assert!(rejections >= 20, "too few rejections: {rejections}");
}
