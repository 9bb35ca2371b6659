//! `cargo package` ships everything the build reads, and scx_arbor builds
//! from the packaged .crates of the workspace alone (offline), as `cargo
//! install` from a registry would build it once they are published. The
//! workspace's own crates (arbor-*) are not on crates.io, so the build
//! patches them in from their packages; every other dependency must resolve
//! exactly as the packaged Cargo.lock says (what --locked would check).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(MANIFEST_DIR);
    c
}

fn packaged_files() -> BTreeSet<String> {
    let out = cargo()
        .args([
            "package",
            "--allow-dirty",
            "--no-verify",
            "--offline",
            "--list",
        ])
        .output()
        .expect("running cargo package --list");
    assert!(
        out.status.success(),
        "cargo package --list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// What the build reads, found from the sources themselves: build.rs, the
/// manifest and lock file, every file under bpf/ and what it #includes,
/// every include_bytes!/include_str! under src/, and every Rust source.
fn build_inputs() -> BTreeSet<String> {
    let root = Path::new(MANIFEST_DIR);
    let mut need: BTreeSet<String> = ["Cargo.toml", "Cargo.lock", "build.rs", "README.md"]
        .map(String::from)
        .into();
    let mut stack = vec![root.join("bpf"), root.join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if rel.starts_with("bpf/") {
                need.insert(rel.clone());
                for l in text.lines() {
                    if let Some(inc) = l.trim().strip_prefix("#include \"") {
                        let inc = inc.trim_end_matches('"');
                        need.insert(format!("bpf/{inc}"));
                    }
                }
            } else if rel.ends_with(".rs") {
                need.insert(rel.clone());
                for macro_ in ["include_bytes!(\"", "include_str!(\""] {
                    for (i, _) in text.match_indices(macro_) {
                        let arg = &text[i + macro_.len()..];
                        let arg = &arg[..arg.find('"').unwrap()];
                        let target = p.parent().unwrap().join(arg);
                        let target = normalize(&target);
                        need.insert(target.strip_prefix(root).unwrap().display().to_string());
                    }
                }
            }
        }
    }
    need
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[test]
fn package_lists_every_build_input() {
    let files = packaged_files();
    let need = build_inputs();
    assert!(need.contains("models/default.onnx"), "{need:?}");
    assert!(need.contains("bpf/intf.h"), "{need:?}");
    let missing: Vec<_> = need.difference(&files).collect();
    assert!(missing.is_empty(), "cargo package leaves out {missing:?}");
    for f in [
        "dist/scx_arbor.service",
        "dist/scx_arbor.default",
        "dist/scx_loader.toml",
    ] {
        assert!(files.contains(f), "{f} is not packaged");
    }
}

#[test]
fn builds_from_the_packaged_crate() {
    let out = cargo()
        .args([
            "package",
            "--workspace",
            "--allow-dirty",
            "--no-verify",
            "--offline",
        ])
        .output()
        .expect("running cargo package");
    assert!(
        out.status.success(),
        "cargo package: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(MANIFEST_DIR).join("target"));
    let name = format!("scx_arbor-{}", env!("CARGO_PKG_VERSION"));
    let krate = target.join("package").join(format!("{name}.crate"));
    assert!(krate.exists(), "{} missing", krate.display());

    // Unpacked outside the repository, so nothing of the checkout leaks in.
    let work = std::env::temp_dir().join(format!("arbor-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let mut patches = String::from("[patch.crates-io]\n");
    for entry in std::fs::read_dir(target.join("package")).expect("target/package") {
        let path = entry.expect("target/package").path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(stem) = file.strip_suffix(".crate") else {
            continue;
        };
        let st = Command::new("tar")
            .arg("xzf")
            .arg(&path)
            .arg("-C")
            .arg(&work)
            .status()
            .expect("tar");
        assert!(st.success(), "unpacking {}", path.display());
        if let Some(krate) = stem
            .strip_suffix(&format!("-{}", env!("CARGO_PKG_VERSION")))
            .filter(|k| k.starts_with("arbor-"))
        {
            patches += &format!("{krate} = {{ path = \"{}\" }}\n", work.join(stem).display());
        }
    }
    // cargo package stamps every file with one fixed old time, and the
    // packaged crates build in the shared target directory under the same
    // names each run: with those times a changed build.rs would not be
    // compiled again there. Today's time makes cargo look at them afresh.
    let st = Command::new("find")
        .arg(&work)
        .args(["-type", "f", "-exec", "touch", "{}", "+"])
        .status()
        .expect("find");
    assert!(st.success(), "touching the unpacked files");
    let src = work.join(&name);
    std::fs::create_dir_all(src.join(".cargo")).unwrap();
    std::fs::write(src.join(".cargo/config.toml"), patches).unwrap();
    let packaged_lock = std::fs::read_to_string(src.join("Cargo.lock")).unwrap();

    // In the shared target directory, so that the dependencies are built
    // already (a separate one would compile all of them: far more than
    // this test's 5 minutes on a 2-core CI machine). The packaged crate is
    // another package there (its path differs): the library, build.rs with
    // the BPF object and the embedded model are compiled from the package
    // alone. The binary is only checked, not linked: linking would write
    // target/debug/scx_arbor, which other tests are running.
    let cargo_in_pkg = |args: &[&str]| {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&src)
            .env("CARGO_TARGET_DIR", &target)
            .env(
                "BPF_CLANG",
                std::env::var("BPF_CLANG").unwrap_or("clang-19".into()),
            )
            .args(args)
            .output()
            .expect("running cargo");
        assert!(
            out.status.success(),
            "cargo {args:?} on the packaged crate failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let log = cargo_in_pkg(&["build", "--offline", "--lib", "--message-format=short"]);
    // Only the patched arbor-* crates may have moved in the lock file.
    let others = |lock: &str| -> Vec<String> {
        lock.split("[[package]]")
            .filter(|p| !p.contains("name = \"arbor-") && !p.contains("name = \"scx_arbor\""))
            .map(|p| p.trim().to_string())
            .collect()
    };
    let built_lock = std::fs::read_to_string(src.join("Cargo.lock")).unwrap();
    assert_eq!(
        others(&built_lock),
        others(&packaged_lock),
        "the packaged crate's dependencies resolved differently from its Cargo.lock"
    );
    assert!(
        log.contains(&format!(
            "Compiling scx_arbor v{} ({})",
            env!("CARGO_PKG_VERSION"),
            src.display()
        )),
        "the packaged crate was not the one compiled:\n{log}"
    );
    cargo_in_pkg(&["check", "--offline", "--locked", "--bins"]);

    // build.rs took the commit from .cargo_vcs_info.json (no checkout there).
    let vcs_info = src.join(".cargo_vcs_info.json").display().to_string();
    let output = std::fs::read_dir(target.join("debug/build"))
        .expect("target/debug/build")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("output")).ok())
        .find(|o| o.contains(&vcs_info))
        .expect("no build script output of the packaged crate");
    let git = Command::new("git")
        .args(["-C", MANIFEST_DIR, "rev-parse", "--short=7", "HEAD"])
        .output()
        .expect("git");
    let head = String::from_utf8_lossy(&git.stdout).trim().to_string();
    assert!(
        output.contains(&format!("cargo:rustc-env=ARBOR_GIT_SHA={head}\n")),
        "the packaged build does not name commit {head}:\n{output}"
    );
    std::fs::remove_dir_all(&work).ok();
}
