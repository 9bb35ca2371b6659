//! `scx_arbor --version` names the version, the commit and the target the
//! way scx's schedulers do (scx_utils' build_id: VERSION-gSHA[-dirty]
//! TRIPLE[/debug]), with this repository's commit.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("running scx_arbor");
    assert!(out.status.success(), "scx_arbor {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_names_commit_and_target() {
    let git = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .expect("git (the tests run from a clone)");
    assert!(git.status.success(), "not a git checkout");
    let head = String::from_utf8(git.stdout).unwrap().trim().to_string();

    let v = run(&["--version"]);
    assert_eq!(v, run(&["-V"]));
    let words: Vec<&str> = v.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{v:?}");
    assert_eq!(words[0], "scx_arbor");
    let want = format!("{}-g{head}", env!("CARGO_PKG_VERSION"));
    assert!(
        words[1] == want || words[1] == format!("{want}-dirty"),
        "{:?} is not {want}[-dirty] (HEAD moved since the build?)",
        words[1]
    );
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let want_target = if cfg!(debug_assertions) {
        format!("{target}/debug")
    } else {
        target
    };
    assert_eq!(words[2], want_target);
}
