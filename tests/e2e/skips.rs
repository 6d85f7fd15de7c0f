//! Skipped tests are visible (issue #16 item 14): a test that does nothing when an outside tool or
//! `../shared` is missing must say so in `cargo test`'s summary, as `ignored, <reason>`, not as a
//! silent `ok`. `tests/probe/tools.rs` (the build scripts' probe) sets `missing_<name>` for what
//! is absent; this test reads every test file of the workspace and checks that each test that
//! can skip at run time carries `#[cfg_attr(missing_…, ignore = "…")]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::repo_dir;

mod probe {
    #![allow(dead_code, clippy::all)]
    include!("../probe/tools.rs");
}

/// One function of a test file: its attributes (the lines above it) and its body.
struct Function {
    attrs: String,
    body: String,
}

/// The top-level and nested `fn`s of a Rust file, split naively at `fn name(` lines (enough
/// for our own test files, which rustfmt keeps in one shape).
fn functions(src: &str) -> BTreeMap<String, Function> {
    let lines: Vec<&str> = src.lines().collect();
    let starts: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            let name = t.strip_prefix("fn ")?.split(['(', '<']).next()?;
            Some((i, name.to_owned()))
        })
        .collect();
    let mut out = BTreeMap::new();
    for (k, (i, name)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(lines.len(), |(j, _)| *j);
        // The attributes and doc comments right above (rustfmt splits a long `cfg_attr` over
        // lines that start with `missing_`, `any(`, `ignore =` and `)]`).
        let mut a = *i;
        while a > 0 {
            let l = lines[a - 1].trim_start();
            let attr = ["#", "///", ")]", "missing_", "any(", "all(", "ignore ="];
            if !attr.iter().any(|p| l.starts_with(p)) {
                break;
            }
            a -= 1;
        }
        out.insert(
            name.clone(),
            Function {
                attrs: lines[a..*i].join("\n"),
                body: lines[*i..end].join("\n"),
            },
        );
    }
    out
}

/// Whether a body skips by itself: prints that it skips, or uses `require_shared!`.
fn skips_itself(body: &str) -> bool {
    let b = body.to_lowercase();
    b.contains("require_shared!")
        || b.contains("eprintln!(\"skip")
        || b.contains("\"skipped:")
        || b.contains("skipped: {")
        || b.contains("\"skipping")
}

#[test]
fn every_test_that_can_skip_is_ignored_with_its_reason_when_its_tool_is_missing() {
    let root = repo_dir();
    let mut files = Vec::new();
    for dir in [
        "tests/e2e",
        "issuer/tests",
        "issuer/tests/support",
        "verifier/tests",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            // This file names the skip markers it looks for.
            if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("skips.rs") {
                files.push(p);
            }
        }
    }
    let parsed: Vec<(std::path::PathBuf, BTreeMap<String, Function>)> = files
        .iter()
        .map(|p| (p.clone(), functions(&std::fs::read_to_string(p).unwrap())))
        .collect();
    // Functions that skip, per file; a function that calls one of its own file's skipping
    // functions, or a skipping helper of `support/` by its module path (`pg::server(`), skips too.
    let mut skippers: Vec<BTreeSet<String>> = parsed
        .iter()
        .map(|(_, fs)| {
            fs.iter()
                .filter(|(_, f)| skips_itself(&f.body))
                .map(|(n, _)| n.clone())
                .collect()
        })
        .collect();
    loop {
        let support: BTreeSet<String> = parsed
            .iter()
            .zip(&skippers)
            .filter(|((p, _), _)| p.parent().is_some_and(|d| d.ends_with("support")))
            .flat_map(|(_, s)| s.iter().cloned())
            .collect();
        let mut grew = false;
        for ((_, fs), own) in parsed.iter().zip(skippers.iter_mut()) {
            for (name, f) in fs {
                let local = own.iter().any(|s| {
                    s != name
                        && (f.body.contains(&format!(" {s}("))
                            || f.body.contains(&format!("({s}("))
                            || f.body.contains(&format!("!{s}(")))
                });
                let helper = support.iter().any(|s| f.body.contains(&format!("::{s}(")));
                if (local || helper) && own.insert(name.clone()) {
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    let mut tests = 0;
    let mut silent = Vec::new();
    for ((path, fs), own) in parsed.iter().zip(&skippers) {
        for (name, f) in fs {
            if !f.attrs.contains("#[test]") || !own.contains(name) {
                continue;
            }
            tests += 1;
            let marked = f.attrs.contains("cfg_attr(") && f.attrs.contains("missing_")
                || f.attrs.contains("#[ignore");
            if !marked {
                silent.push(format!(
                    "{}: {name}",
                    path.strip_prefix(&root).unwrap_or(path).display()
                ));
            }
        }
    }
    assert!(
        tests >= 30,
        "only {tests} skipping tests found: the scan is broken"
    );
    assert!(
        silent.is_empty(),
        "these tests can skip as a silent `ok`: {silent:#?}"
    );
}

#[test]
fn the_probe_tells_present_from_missing() {
    use probe::{Need, present};
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(!present(&Need::Command("gdrp-no-such-tool-xyz", &[]), here));
    assert!(present(&Need::Command("cargo", &["--version"]), here));
    assert!(!present(
        &Need::File("/nonexistent/gdrp/libsofthsm2.so"),
        here
    ));
    assert!(!present(&Need::Env("GDRP_SURELY_UNSET_VARIABLE"), here));
    assert!(!present(&Need::Python("gdrp_no_such_module"), here));
    assert_eq!(
        present(&Need::Shared, here),
        here.join("../../shared").is_dir()
    );
}
