//! Finding scx_arbor's other binary: `scx_arbor` runs `scx_arbor_tools` for
//! `ab`, `workload` and `model verify`, and the A/B harness starts
//! `scx_arbor` as the scheduler of its arms. `cargo install --path .`
//! installs both side by side.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The executable `name` next to the running one, else the first on PATH.
pub fn sibling_binary(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("locating the running executable")?;
    find(name, me.parent(), std::env::var_os("PATH").as_deref())
}

fn find(name: &str, dir: Option<&Path>, path: Option<&std::ffi::OsStr>) -> Result<PathBuf> {
    let beside = dir.map(|d| d.join(name));
    let on_path = path
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name));
    if let Some(found) = beside.into_iter().chain(on_path).find(|p| is_executable(p)) {
        return Ok(found);
    }
    bail!(
        "{name} is not installed: it is neither beside this program{} nor on PATH. \
         It is part of scx_arbor: install both with \
         `BPF_CLANG=clang-19 cargo install --path .` from the source tree \
         (or `cargo build --release` and run target/release/scx_arbor)",
        dir.map(|d| format!(" (in {})", d.display()))
            .unwrap_or_default()
    )
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn beside_first_then_path_else_how_to_install() {
        let root = std::env::temp_dir().join(format!("arbor-sibling-{}", std::process::id()));
        let (here, on_path) = (root.join("here"), root.join("bin"));
        for d in [&here, &on_path] {
            std::fs::create_dir_all(d).unwrap();
        }
        let make = |p: &Path, mode: u32| {
            std::fs::write(p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        make(&on_path.join("tool"), 0o755);
        let path = std::env::join_paths([&on_path]).unwrap();
        assert_eq!(
            find("tool", Some(&here), Some(&path)).unwrap(),
            on_path.join("tool")
        );
        make(&here.join("tool"), 0o755);
        assert_eq!(
            find("tool", Some(&here), Some(&path)).unwrap(),
            here.join("tool")
        );
        // Not executable: not a candidate.
        make(&here.join("data"), 0o644);
        let e = format!("{:#}", find("data", Some(&here), Some(&path)).unwrap_err());
        assert!(
            e.contains("data is not installed") && e.contains("cargo install --path ."),
            "{e}"
        );
        std::fs::remove_dir_all(&root).ok();
    }
}
