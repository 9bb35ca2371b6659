//! dist/: the systemd unit, its EnvironmentFile and the scx_loader modes,
//! read the way systemd and scx_loader read them, and their flags checked
//! against scx_arbor's own parser. (tests/vm_service.rs runs them.)

#[path = "common/dist.rs"]
mod dist;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

#[test]
fn unit_restarts_on_failure_and_reads_the_default_file() {
    let unit = dist::unit_keys(&dist::read("scx_arbor.service"));
    assert_eq!(unit["Restart"], "on-failure");
    assert_eq!(unit["EnvironmentFile"], "/etc/default/scx_arbor");
    assert_eq!(
        unit["KillSignal"], "SIGINT",
        "scx_arbor detaches cleanly on SIGINT"
    );
    assert_eq!(unit["ConditionPathIsDirectory"], "/sys/kernel/sched_ext");
    let exec: Vec<&str> = unit["ExecStart"].split_whitespace().collect();
    assert!(
        exec[0].starts_with('/') && exec[0].ends_with("/scx_arbor"),
        "{exec:?}"
    );
    assert_eq!(&exec[1..], ["$SCX_ARBOR_FLAGS"]);

    let default = dist::read("scx_arbor.default");
    let flags = default
        .lines()
        .find_map(|l| l.strip_prefix("SCX_ARBOR_FLAGS="))
        .expect("dist/scx_arbor.default sets SCX_ARBOR_FLAGS");
    assert_eq!(flags, "\"\"", "shipped empty: the defaults");
}

#[test]
fn five_loader_modes_that_really_differ_and_parse() {
    let modes = dist::loader_modes(&dist::read("scx_loader.toml"));
    let names: Vec<_> = modes.keys().map(String::as_str).collect();
    let mut want = dist::MODES.to_vec();
    want.sort();
    assert_eq!(names, want);
    assert!(modes["auto"].is_empty(), "auto is the defaults");

    let mut seen = Vec::new();
    for (mode, flags) in &modes {
        // What the flags mean (table and preemption) differs between modes.
        let meaning = dist::expected(flags, 2);
        assert!(
            !seen.iter().any(|(_, m)| *m == meaning),
            "{mode} means the same as {:?}",
            seen.iter().find(|(_, m)| *m == meaning).map(|(n, _)| n)
        );
        seen.push((mode.clone(), meaning));
        // scx_arbor's parser takes them (--help-stats exits after parsing).
        let out = Command::new(BIN)
            .args(flags)
            .arg("--help-stats")
            .output()
            .expect("running scx_arbor");
        assert!(
            out.status.success(),
            "{mode}: scx_arbor refuses {flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for w in flags.iter() {
            assert!(
                !w.contains(char::is_whitespace),
                "{mode}: {w:?} would split"
            );
        }
    }
}

#[test]
fn readme_documents_the_service_and_each_mode() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for s in [
        "## Running as a service",
        "dist/scx_arbor.service",
        "/etc/default/scx_arbor",
        "dist/scx_loader.toml",
        "SCX_SCHEDULER=scx_arbor",
    ] {
        assert!(readme.contains(s), "README lacks {s:?}");
    }
    for mode in dist::MODES {
        assert!(
            readme.contains(&format!("`{mode}`")),
            "README does not explain the {mode} mode"
        );
    }
}
