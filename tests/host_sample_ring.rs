//! `--sample-ring-kib` is checked before anything touches the kernel: a size
//! the kernel's BPF ring buffer cannot have is refused in one sentence. The
//! binary is shown a kernel without sched_ext (ARBOR_DEBUG_SCHED_EXT_SYSFS,
//! a test-build path), so that a good size stops at that check and never
//! attaches, on any host.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

fn run(kib: &str) -> (i32, String) {
    let no_sched_ext = std::env::temp_dir().join("arbor-no-sched_ext-here");
    let out = Command::new(BIN)
        .env("ARBOR_DEBUG_SCHED_EXT_SYSFS", no_sched_ext)
        .args(["--no-model", "--sample-ring-kib", kib])
        .output()
        .expect("running scx_arbor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_ring_that_is_not_a_power_of_two_of_a_page_or_more_is_refused() {
    // SAFETY: sysconf has no preconditions.
    let page_kib = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64 / 1024;
    for bad in ["0", "3", "1000", &(page_kib / 2).to_string(), "2097152"] {
        let (rc, err) = run(bad);
        assert_eq!(rc, 1, "--sample-ring-kib {bad}: exit {rc}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with(&format!("scx_arbor: --sample-ring-kib {bad}: "))
                && err.contains(&format!("at least one page ({page_kib} KiB)")),
            "{err}"
        );
    }
    // A good size gets past the check, to the next one: sched_ext.
    let (rc, err) = run(&page_kib.to_string());
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("has no sched_ext support"), "{err}");
    // Not a number at all: clap's own refusal.
    let (rc, err) = run("big");
    assert_eq!(rc, 2, "{err}");
}
