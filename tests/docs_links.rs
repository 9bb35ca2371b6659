//! Every relative link in README.md and docs/*.md resolves: the file (or
//! directory) exists, and a `#anchor` names a heading of the Markdown file it
//! points into, as GitHub derives heading anchors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Pages other work adds; a link to one is checked once it exists.
const PENDING: &[&str] = &["docs/kernels.md", "docs/heuristic.md"];

/// The Markdown files whose links are checked.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The lines of `text` outside fenced code blocks, with their numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        // Indented code blocks are read like prose: they hold commands,
        // which have no `](`, and telling them from indented list text
        // would need a Markdown parser.
        if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// `line` without its inline code spans.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// The targets of the inline links `[text](target)` on a line.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut out = Vec::new();
    let mut rest = line.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                out.push(after[..j].trim().to_string());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped (but `-`
/// and `_`), spaces to `-`; a repeated anchor gets `-1`, `-2`, ….
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base: String = title
            .trim()
            .chars()
            .flat_map(char::to_lowercase)
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .collect();
        let mut slug = base.clone();
        let mut n = 0;
        while seen.contains(&slug) {
            n += 1;
            slug = format!("{base}-{n}");
        }
        seen.insert(slug);
    }
    seen
}

fn relative(p: &Path) -> String {
    p.strip_prefix(ROOT).unwrap_or(p).display().to_string()
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for (n, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let file = if path.is_empty() {
                    page.clone()
                } else {
                    dir.join(path)
                };
                let at = format!("{}:{n}: ({target})", relative(&page));
                // Normalise docs/../x to x for the pending list.
                let name = relative(&file.canonicalize().unwrap_or_else(|_| {
                    let mut p = PathBuf::new();
                    for c in file.components() {
                        match c {
                            std::path::Component::ParentDir => {
                                p.pop();
                            }
                            c => p.push(c),
                        }
                    }
                    p
                }));
                checked += 1;
                if !file.exists() {
                    if !PENDING.contains(&name.as_str()) {
                        broken.push(format!("{at}: no file {name}"));
                    }
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if file.extension().is_none_or(|x| x != "md") {
                    broken.push(format!("{at}: an anchor into a file that is not Markdown"));
                    continue;
                }
                let heads = anchors(&std::fs::read_to_string(&file).unwrap());
                if !heads.contains(anchor) {
                    broken.push(format!("{at}: {name} has no heading #{anchor}"));
                }
            }
        }
    }
    assert!(checked > 50, "found only {checked} links");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_follow_github() {
    let a = anchors(
        "# Top\n## Outcome samples and `--record`\n## A/B against EEVDF: `scx_arbor ab`\n\
         ```\n# not a heading\n```\n## Top\n",
    );
    let want: BTreeSet<String> = [
        "top",
        "outcome-samples-and---record",
        "ab-against-eevdf-scx_arbor-ab",
        "top-1",
    ]
    .map(String::from)
    .into();
    assert_eq!(a, want);
}

#[test]
fn links_in_code_are_not_links() {
    assert_eq!(
        link_targets("see [a](x.md#b) and `[c](d)` and [e](https://f)"),
        ["x.md#b", "https://f"]
    );
}
