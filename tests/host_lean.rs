//! The scheduler's binary does not link tract, which registers its
//! operators with constructors and so keeps all of them alive in any binary
//! that links it: tract is scx_arbor_tools' (`model verify`). Checked on
//! the binaries the tests run, by the crates' names in their symbols and
//! panic locations; the tools binary has them, so the check can see them.
//! (The A/B harness's plotting is left out of the release binary by the
//! linker, not here: a debug build keeps the whole of arbor-ab, whose
//! options the scheduler parses.)

fn names_in(path: &str) -> Vec<&'static str> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    ["tract_core", "tract_onnx", "tract_linalg"]
        .into_iter()
        .filter(|name| bytes.windows(name.len()).any(|w| w == name.as_bytes()))
        .collect()
}

#[test]
fn the_scheduler_does_not_link_tract() {
    let tools = names_in(env!("CARGO_BIN_EXE_scx_arbor_tools"));
    assert_eq!(
        tools,
        ["tract_core", "tract_onnx", "tract_linalg"],
        "the check sees nothing"
    );
    let daemon = names_in(env!("CARGO_BIN_EXE_scx_arbor"));
    assert!(daemon.is_empty(), "scx_arbor links {daemon:?}");
}
