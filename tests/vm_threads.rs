//! A worker thread dies (tests/vm/scenarios/threads.sh): the learner, the
//! sample consumer and the control server each made to panic with the
//! test-only `--debug-fail-thread` (feature `debug-torn`, which the tests'
//! build of scx_arbor has). Each failure is one line in the log; a thread
//! that died once is restarted and does its job again (checked by what it
//! produces: the learner's samples, the CSV's rows, status replies); one
//! that died holding the live model's lock, or keeps dying, makes scx_arbor
//! detach and exit 1, and sched_ext goes back to disabled.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use vm::{Checks, Console};

fn mark_of(c: &Console, tag: &str, case: &str) -> vm::Mark {
    c.marks_tagged(tag)
        .into_iter()
        .find(|m| m.get("case") == Some(case))
        .unwrap_or_else(|| panic!("no `{tag}` mark for case {case}"))
}

/// The supervisor's lines in a case's log.
fn failure_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" thread (arbor-"))
        .collect()
}

/// A case whose thread died once: one line, restarted, clean exit 0 on SIGINT.
/// `who` is what panicked: the thread itself, or for control one of its
/// connection workers.
fn restarted(c: &Console, k: &mut Checks, case: &str, name: &str, thread: &str, who: &str) {
    k.check(mark_of(c, "line", case).str("rc") == "0", || {
        format!("{case}: no supervisor line within 10 s")
    });
    let log = c.block(&format!("log:{case}"));
    let lines = failure_lines(&log);
    let want = format!("the {name} thread ({thread}) died: {who}panicked at src/sched/");
    k.check(
        lines.len() == 1
            && lines[0].contains(&want)
            && lines[0].contains(&format!("DEBUG: injected failure of the {name} thread"))
            && lines[0].ends_with("restarting it (restart 1 of 3 allowed within 60 s)"),
        || format!("{case}: want one line \"{want}…; restarting it …\", got {lines:#?}"),
    );
    k.check(!log.contains("RUST_BACKTRACE"), || {
        format!("{case}: the default panic report was printed too:\n{log}")
    });
    let a = mark_of(c, "alive", case);
    k.check(a.str("state") == "enabled" && a.str("alive") == "1", || {
        format!("{case}: after the restart: {a:?}")
    });
    let g = mark_of(c, "gone", case);
    k.check(
        g.str("rc") == "0" && g.str("was_alive") == "0" && g.str("state") == "disabled",
        || format!("{case}: SIGINT after the restart: {g:?}\n{log}"),
    );
}

/// A case that must end in a detach: exit 1, sched_ext disabled, the
/// reason as the last line.
fn detached(c: &Console, k: &mut Checks, case: &str, want: &str) -> String {
    let g = mark_of(c, "gone", case);
    let log = c.block(&format!("log:{case}"));
    k.check(
        g.str("rc") == "1" && g.str("was_alive") == "0" && g.str("state") == "disabled",
        || format!("{case}: want exit 1 by itself and sched_ext disabled: {g:?}\n{log}"),
    );
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    k.check(
        last.starts_with("scx_arbor: ") && last.contains(want),
        || format!("{case}: the last line is {last:?}, want \"scx_arbor: …{want}…\""),
    );
    k.check(!log.contains("RUST_BACKTRACE"), || {
        format!("{case}: the default panic report was printed too:\n{log}")
    });
    log
}

#[test]
fn a_dead_worker_thread_is_restarted_or_the_scheduler_detaches() {
    let c = vm::Scenario::new("threads")
        .timeout(Duration::from_secs(180))
        .run();
    c.assert_exit_ok();
    let mut k = Checks::default();

    restarted(&c, &mut k, "learner", "learner", "arbor-learn", "");
    let seen = |b: &str| c.json(b)["learn_samples"].as_u64();
    let (s1, s2) = (seen("learner_1"), seen("learner_2"));
    k.check(s1.is_some() && s2 > s1, || {
        format!("the restarted learner took no samples: learn_samples {s1:?} then {s2:?}")
    });

    restarted(
        &c,
        &mut k,
        "samples",
        "sample consumer",
        "arbor-samples",
        "",
    );
    let r = mark_of(&c, "rows", "samples");
    k.check(r.u64("r2") > r.u64("r1"), || {
        format!("the CSV did not grow after the consumer's restart: {r:?}")
    });

    restarted(
        &c,
        &mut k,
        "control",
        "control",
        "arbor-control",
        "a control worker ",
    );
    let dies = c.block("control_dies");
    k.check(
        c.block_rc("control_dies") == Some(1) && dies.contains("without a reply"),
        || format!("the request that killed the control thread got: {dies}"),
    );
    k.check(c.block_rc("control_again") == Some(0), || {
        format!(
            "status after the control restart: {}",
            c.block("control_again")
        )
    });

    let log = detached(
        &c,
        &mut k,
        "locked",
        "the learner thread (arbor-learn) died holding the live model's lock",
    );
    k.check(failure_lines(&log).len() == 1, || {
        format!("locked: want the one exit line only:\n{log}")
    });
    let log = detached(
        &c,
        &mut k,
        "always",
        "the sample consumer thread (arbor-samples) died 4 times within 60 s",
    );
    let lines = failure_lines(&log);
    k.check(
        lines.len() == 4
            && (1..=3).all(|n| lines[n - 1].contains(&format!("(restart {n} of 3 allowed"))),
        || format!("always: want 3 restart lines then the exit line, got {lines:#?}"),
    );

    let dmesg = c.block("dmesg");
    k.0.extend(vm::sched_ext_trouble(&dmesg).map(|l| format!("kernel: {l}")));
    for case in ["locked", "always"] {
        println!(
            "{case}: exited {} ms after start of the wait",
            mark_of(&c, "gone", case).str("ms")
        );
    }
    assert!(
        k.0.is_empty(),
        "{} thread-failure checks failed:\n- {}",
        k.0.len(),
        k.0.join("\n- ")
    );
}
