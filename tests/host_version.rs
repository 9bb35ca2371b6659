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

fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("git (the tests run from a clone)");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn version_names_commit_and_target() {
    let v = run(&["--version"]);
    assert_eq!(v, run(&["-V"]));
    let words: Vec<&str> = v.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{v:?}");
    assert_eq!(words[0], "scx_arbor");
    let rest = words[1]
        .strip_prefix(&format!("{}-g", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{:?} is not VERSION-gSHA", words[1]));
    let sha = rest.strip_suffix("-dirty").unwrap_or(rest);
    let head = git(&["rev-parse", "--short", "HEAD"]);
    if sha != head {
        // Only acceptable if HEAD moved after this binary was built: the
        // named commit is an ancestor of HEAD, and the next commit on the
        // way to HEAD is newer than the binary.
        let full = git(&["rev-parse", "--verify", &format!("{sha}^{{commit}}")]);
        let ancestor = Command::new("git")
            .args([
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                "merge-base",
                "--is-ancestor",
                &full,
                "HEAD",
            ])
            .status()
            .expect("git merge-base");
        assert!(
            ancestor.success(),
            "{sha} is not HEAD ({head}) nor an ancestor of it"
        );
        let next = git(&["rev-list", "--reverse", &format!("{full}..HEAD")]);
        let next = next.lines().next().expect("a commit after the named one");
        let committed: u64 = git(&["show", "-s", "--format=%ct", next]).parse().unwrap();
        let built = std::fs::metadata(BIN)
            .and_then(|m| m.modified())
            .expect("binary mtime")
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            committed + 2 >= built,
            "the binary (built at {built}) names {sha}, but {next} (committed at {committed}) came before the build"
        );
        eprintln!("HEAD moved after the build: binary names {sha}, HEAD is {head}");
    }
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let want_target = if cfg!(debug_assertions) {
        format!("{target}/debug")
    } else {
        target
    };
    assert_eq!(words[2], want_target);
}
