//! Every option `--help` lists is documented in docs/usage.md, the option
//! tables' home (README.md links there).

use std::collections::BTreeSet;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--help")
        .output()
        .expect("running scx_arbor --help");
    assert!(out.status.success(), "scx_arbor {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Long options at the start of a help line (`  -v, --verbose...`, `      --model <FILE>`).
fn long_options(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix('-')
                .filter(|r| r.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
                .map(|r| r[1..].trim_start_matches(", "))
                .unwrap_or(l);
            let name: String = l
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty() && name != "help").then(|| format!("--{name}"))
        })
        .collect()
}

#[test]
fn every_option_is_in_the_usage_doc() {
    let usage = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/usage.md"))
        .expect("docs/usage.md");
    let commands: &[&[&str]] = &[
        &[],
        &["status"],
        &["swap"],
        &["generations"],
        &["schema"],
        &["workload"],
        &["ab"],
        &["model", "verify"],
        &["model", "inspect"],
        &["model", "train"],
        &["model", "annotate"],
        &["model", "distill"],
        &["explain"],
    ];
    let mut missing = Vec::new();
    let mut seen = 0;
    for cmd in commands {
        for opt in long_options(&help(cmd)) {
            seen += 1;
            if !usage.contains(&format!("`{opt}")) && !usage.contains(&format!("{opt} ")) {
                missing.push(format!("scx_arbor {} {opt}", cmd.join(" ")));
            }
        }
    }
    assert!(seen > 40, "parsed only {seen} options from --help");
    assert!(
        missing.is_empty(),
        "options missing from docs/usage.md: {missing:#?}"
    );
}

#[test]
fn option_parser_reads_clap_lines() {
    let h =
        "  -v, --verbose...\n      --model <FILE>\n          text --not-an-option\n  -h, --help\n";
    let got: Vec<_> = long_options(h).into_iter().collect();
    assert_eq!(got, ["--model", "--verbose"]);
}
