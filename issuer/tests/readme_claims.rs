//! What the README says about running the tools holds: the QR sizes it states are measured
//! again through the `issuer` binary (the example applicant, and the longest permit the rules
//! allow), the files its quick start and walkthrough write in the checkout are ignored by git,
//! the walkthrough says where `issuer` and `verifier` come from, and the verifier's state file is
//! named where the quick start first writes it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_issuer");
const NOW: &str = "2026-11-25T10:00:00+08:00";

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)).unwrap()
}

/// The README with its lines joined, so that a phrase broken across lines is found.
fn readme_text() -> String {
    repo_file("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shell code blocks of the README, each as its lines.
fn sh_blocks() -> Vec<Vec<String>> {
    let readme = repo_file("README.md");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), l) => b.push(l.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// Runs `issuer --json --now NOW ARGS…` in `dir`; the JSON report of a successful run.
fn issuer(dir: &Path, now: &str, args: &[&str]) -> serde_json::Value {
    let o = Command::new(BIN)
        .current_dir(dir)
        .args(["--ledger", "l.sqlite3", "--json", "--now", now])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Issues `applicant` and then gives the permit a photo reference; returns (QR version, modules)
/// of the issued code and of the changed one.
fn measure(dir: &Path, applicant: &serde_json::Value) -> ((u64, u64), (u64, u64)) {
    std::fs::write(dir.join("a.json"), serde_json::to_vec(applicant).unwrap()).unwrap();
    let issued = issuer(
        dir,
        NOW,
        &[
            "issue",
            "--applicant",
            "a.json",
            "--out",
            "a.txt",
            "--force",
        ],
    );
    let serial = issued["serial"].as_str().unwrap();
    let changed = issuer(
        dir,
        "2026-11-26T10:00:00+08:00",
        &[
            "change",
            serial,
            "--photo",
            "ffffffffffffffffffffffffffffffff",
            "--out",
            "b.txt",
            "--force",
        ],
    );
    let size = |v: &serde_json::Value| {
        (
            v["qr"]["version"].as_u64().unwrap(),
            v["qr"]["modules"].as_u64().unwrap(),
        )
    };
    (size(&issued), size(&changed))
}

#[test]
fn the_qr_sizes_the_readme_states_are_measured() {
    let readme = readme_text();
    let example: serde_json::Value =
        serde_json::from_str(&repo_file("examples/applicant.json")).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let ((v, m), _) = measure(tmp.path(), &example);
    let claim =
        format!("example applicant's permit is a QR code of version {v} at ECC M ({m} modules");
    assert!(readme.contains(&claim), "README does not say: {claim}");

    // The longest permit: a 30-character name, a 100-character address with the shortest
    // prefix (Dongguan has no district), every character three bytes of UTF-8, and a photo.
    let longest = |han: char| {
        let mut a = example.clone();
        a["ref"] = format!("LONGEST-{}", han.len_utf8()).into();
        a["name"] = std::iter::repeat_n(han, 30).collect::<String>().into();
        a["residence_city"] = "441900".into();
        a["residence_district"] = "441900".into();
        let prefix = "广东省东莞市";
        let rest: String = std::iter::repeat_n(han, 100 - prefix.chars().count()).collect();
        a["residence_address"] = format!("{prefix}{rest}").into();
        a
    };
    let tmp = tempfile::tempdir().unwrap();
    let (issued, (v, m)) = measure(tmp.path(), &longest('龘'));
    assert!(issued.0 <= v);
    let claim = format!("plus a photo reference, needs version {v} at ECC M ({m} modules");
    assert!(readme.contains(&claim), "README does not say: {claim}");
    // Characters outside the Basic Multilingual Plane: four bytes each.
    let tmp = tempfile::tempdir().unwrap();
    let (_, (v, m)) = measure(tmp.path(), &longest('𠀀'));
    let claim =
        format!("and version {v} ({m} modules) if every character is one outside the Basic");
    assert!(readme.contains(&claim), "README does not say: {claim}");
}

#[test]
fn the_files_the_readme_writes_in_the_checkout_are_ignored_by_git() {
    let ignored: Vec<String> = repo_file(".gitignore").lines().map(str::to_owned).collect();
    let mut outputs = Vec::new();
    for block in sh_blocks() {
        for line in block {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                if pair[0] == "--out" && !pair[1].contains('/') && pair[1] != "-" {
                    outputs.push(pair[1].to_owned());
                }
            }
        }
    }
    assert!(outputs.contains(&"permit.png".to_owned()), "{outputs:?}");
    for out in outputs {
        assert!(
            ignored.contains(&format!("/{out}")),
            "{out} is written in the checkout by a README command but not in .gitignore"
        );
    }
}

#[test]
fn the_walkthrough_says_where_the_binaries_are() {
    let blocks = sh_blocks();
    let walkthrough = blocks
        .iter()
        .find(|b| b.iter().any(|l| l.contains(" review ")))
        .expect("the walkthrough's code block");
    let path = walkthrough
        .iter()
        .position(|l| l.starts_with("export PATH=\"$PWD/target/release:$PATH\""));
    for (i, line) in walkthrough.iter().enumerate() {
        if line.starts_with("issuer ") || line.starts_with("verifier ") {
            assert!(
                path.is_some_and(|p| p < i),
                "`{line}` runs a binary the block has not put on PATH"
            );
        }
    }
}

#[test]
fn the_state_file_is_named_where_the_verifier_first_writes_it() {
    let readme = readme_text();
    let first_verify = readme
        .find("target/release/verifier verify")
        .expect("the quick start runs the verifier");
    let named = readme
        .find("$XDG_STATE_HOME/gdrp-verifier/state.json")
        .expect("the state file is named");
    let walkthrough = readme.find("## A permit's life").unwrap();
    assert!(
        first_verify < named && named < walkthrough,
        "the state file must be named after the quick start's first `verifier verify` and before the walkthrough"
    );
}
