// Builds the BPF policy (bpf/main.bpf.c) into a libbpf-rs skeleton, and the
// floor scheduler `scx_arbor_tools floor` runs (bpf/floor.bpf.c) into
// another, and records the version details `scx_arbor --version` prints.
// The Rust bindings of bpf/intf.h are crates/arbor-intf's.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    scx_cargo::BpfBuilder::new()
        .expect("scx_cargo BpfBuilder (is BPF_CLANG set to clang >= 18?)")
        .enable_skel("bpf/main.bpf.c", "bpf")
        .build()
        .expect("building the BPF scheduler");
    scx_cargo::BpfBuilder::new()
        .expect("scx_cargo BpfBuilder (is BPF_CLANG set to clang >= 18?)")
        .enable_skel("bpf/floor.bpf.c", "floor")
        .build()
        .expect("building the floor scheduler");
    println!("cargo:rerun-if-changed=bpf");
    version_info();
}

/// Export ARBOR_GIT_SHA (short commit hash, empty if unknown),
/// ARBOR_GIT_DIRTY ("1" if tracked files differed from the commit when this
/// ran) and ARBOR_TARGET (the target triple), as scx's build_id does.
fn version_info() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let (sha, dirty) = git_commit(&manifest)
        .or_else(|| packaged_commit(&manifest))
        .unwrap_or_default();
    println!("cargo:rustc-env=ARBOR_GIT_SHA={sha}");
    println!(
        "cargo:rustc-env=ARBOR_GIT_DIRTY={}",
        if dirty { "1" } else { "" }
    );
    println!(
        "cargo:rustc-env=ARBOR_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit of the git work tree this crate is the top of (not of an
/// enclosing repository: an unpacked .crate under target/ is no checkout).
fn git_commit(manifest: &Path) -> Option<(String, bool)> {
    let top = git(manifest, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != manifest.canonicalize().ok()? {
        return None;
    }
    let sha = git(manifest, &["rev-parse", "--short", "HEAD"])?;
    let dirty = git(manifest, &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    // A new commit or branch reruns this script.
    if let Some(dir) = git(manifest, &["rev-parse", "--absolute-git-dir"]) {
        let dir = PathBuf::from(dir);
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        if let Some(r) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={}", dir.join(r).display());
        }
    }
    Some((sha, dirty))
}

/// The commit `cargo package` recorded in .cargo_vcs_info.json.
fn packaged_commit(manifest: &Path) -> Option<(String, bool)> {
    let path = manifest.join(".cargo_vcs_info.json");
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).ok()?;
    let field = |key: &str| -> Option<String> {
        let rest = &text[text.find(&format!("\"{key}\""))? + key.len() + 2..];
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        Some(
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '"')
                .collect::<String>()
                .trim_matches('"')
                .to_string(),
        )
    };
    let sha = field("sha1")?;
    let short = sha.get(..7)?.to_string();
    Some((short, field("dirty").as_deref() == Some("true")))
}
