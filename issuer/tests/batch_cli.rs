//! `issuer batch` and `issuer demo-data` from the command line: the reference file with bad rows,
//! its CSV form, conflicts and duplicates, idempotent re-runs, and demo-data against the
//! reference generator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

fn shared_applicants() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/applicants");
    if p.join("with-bad-rows.jsonl").exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} not found (the shared reference data sits beside the repository)",
            p.display()
        );
        None
    }
}

fn issuer(ledger: &Path, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn line_refs(v: &[serde_json::Value]) -> BTreeSet<(u64, String)> {
    v.iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["ref"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn summary(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn with_bad_rows_jsonl() {
    let Some(shared) = shared_applicants() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let out_dir = tmp.path().join("out");
    let input = shared.join("with-bad-rows.jsonl");
    let args = [
        "--json",
        "batch",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
    ];
    let out = issuer(&db, &args);
    assert_eq!(out.status.code(), Some(1), "some rows are rejected");
    let s = summary(&out);
    assert_eq!(
        (s["issued"].as_u64(), s["rejected"].as_u64()),
        (Some(975), Some(25))
    );

    let labels = lines(&shared.join("with-bad-rows.labels.jsonl"));
    let errors = lines(&out_dir.join("errors.jsonl"));
    assert_eq!(errors.len(), 25);
    assert_eq!(line_refs(&errors), line_refs(&labels));
    for e in &errors {
        assert!(e["field"].is_string() && e["code"].is_string());
    }
    let manifest = lines(&out_dir.join("manifest.jsonl"));
    assert_eq!(manifest.len(), 975);
    let pngs = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".png")
        })
        .count();
    assert_eq!(pngs, 975);
    for m in &manifest {
        assert!(out_dir.join(m["file"].as_str().unwrap()).exists());
    }

    // Again: nothing new, the same files; errors.jsonl lists this run's rejected rows again.
    let out = issuer(&db, &args);
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&out);
    assert_eq!(
        (
            s["issued"].as_u64(),
            s["already_done"].as_u64(),
            s["rejected"].as_u64(),
            s["manifest_lines"].as_u64(),
            s["error_lines"].as_u64()
        ),
        (Some(0), Some(975), Some(25), Some(0), Some(25))
    );
    assert_eq!(lines(&out_dir.join("manifest.jsonl")).len(), 975);
    assert_eq!(lines(&out_dir.join("errors.jsonl")).len(), 25);
}

#[test]
fn generated_csv_with_bad_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let csv = tmp.path().join("rows.csv");
    let labels_path = tmp.path().join("l.jsonl");
    let out = issuer(
        &db,
        &[
            "demo-data",
            "--count",
            "1000",
            "--bad",
            "25",
            "--format",
            "csv",
            "--labels",
            labels_path.to_str().unwrap(),
            "--out",
            csv.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let out_dir = tmp.path().join("out");
    let out = issuer(
        &db,
        &[
            "--json",
            "batch",
            "--input",
            csv.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let labels = lines(&labels_path);
    assert_eq!(labels.len(), 25);
    // The CSV writer keeps only the known columns (generate.py: `extrasaction="ignore"`), so an
    // `unknown_field` row has no unknown field in CSV: it is a valid row and is issued.
    let (dropped, spoiled): (Vec<_>, Vec<_>) = labels
        .iter()
        .cloned()
        .partition(|l| l["defect"] == "unknown_field");
    let errors = lines(&out_dir.join("errors.jsonl"));
    assert_eq!(line_refs(&errors), line_refs(&spoiled));
    let manifest = lines(&out_dir.join("manifest.jsonl"));
    assert_eq!(manifest.len(), 1000 - spoiled.len());
    let listed = line_refs(&manifest);
    for d in &dropped {
        assert!(listed.contains(&(
            d["line"].as_u64().unwrap(),
            d["ref"].as_str().unwrap().to_owned()
        )));
    }
    // CSV line numbers count the header as line 1.
    assert_eq!(manifest[0]["line"].as_u64(), Some(2));
}

#[test]
fn conflicts_duplicates_and_rows_without_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let rows = tmp.path().join("rows.jsonl");
    let out = issuer(
        &db,
        &["demo-data", "--count", "5", "--out", rows.to_str().unwrap()],
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(&rows).unwrap();
    let v: Vec<&str> = text.lines().collect();
    // 5: line 1 again (duplicate); 6: line 2's ref with other content (conflict); 7 and 8: a
    // row without ref (keyed by its content), twice; 9: line 4's person again without ref (one
    // person, one permit, even while line 4's permit is only reserved).
    let changed = v[1].replace("\"test\": true", "\"test\": true, \"data_verified\": true");
    let no_ref = v[4].replace("\"ref\": \"APP-0000004\", ", "");
    let same_person = v[3].replace("\"ref\": \"APP-0000003\", ", "");
    let input = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        v[0], v[1], v[2], v[3], v[0], changed, no_ref, no_ref, same_person
    );
    let path = tmp.path().join("mixed.jsonl");
    std::fs::write(&path, input).unwrap();
    let out_dir = tmp.path().join("out");
    let args = [
        "--json",
        "batch",
        "--input",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
    ];
    let out = issuer(&db, &args);
    assert_eq!(out.status.code(), Some(1));
    let errors = lines(&out_dir.join("errors.jsonl"));
    let codes: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (5, "DUPLICATE_ROW"),
            (6, "REFERENCE_CONFLICT"),
            (8, "DUPLICATE_ROW"),
            (9, "DUPLICATE_PERMIT")
        ]
    );
    let manifest = lines(&out_dir.join("manifest.jsonl"));
    let listed: Vec<u64> = manifest
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [1, 2, 3, 4, 7]);
    assert!(manifest[4]["key"].as_str().unwrap().starts_with("sha256:"));
    assert!(manifest[4]["ref"].is_null());

    // Again: the same decisions, nothing new.
    let out = issuer(&db, &args);
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&out);
    assert_eq!(
        (s["issued"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(lines(&out_dir.join("errors.jsonl")).len(), 4);
    assert_eq!(lines(&out_dir.join("manifest.jsonl")).len(), 5);

    // The same rows into another directory: nothing issued, files and manifest written there.
    let other = tmp.path().join("other");
    let out = issuer(
        &db,
        &[
            "--json",
            "batch",
            "--input",
            path.to_str().unwrap(),
            "--out",
            other.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&out);
    assert_eq!(s["issued"].as_u64(), Some(0));
    assert_eq!(s["files_restored"].as_u64(), Some(5));
    assert_eq!(lines(&other.join("manifest.jsonl")), manifest);

    // A directory holds one input: a job-level error, with its code on stderr and, with
    // --json, as a JSON object on stdout.
    let out = issuer(
        &db,
        &[
            "--json",
            "batch",
            "--input",
            rows.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a directory takes one input [JOB_MISMATCH]"),
        "{stderr}"
    );
    let e = summary(&out);
    assert_eq!(e["error"]["code"], "JOB_MISMATCH", "{e}");
    assert_eq!(e["exit_code"], 2, "{e}");
    // Nothing was committed by this run before the error.
    assert_eq!(
        e["error"]["details"]["committed_before_the_error"]["issued"], 0,
        "{e}"
    );
}

/// Errors that stop the job (not a row) exit 2 with a stable reason code, on stderr and, with
/// `--json`, as `{"error": {"code", "message", "hint"}, "exit_code"}` on stdout.
#[test]
fn job_level_errors_have_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("ledger.sqlite3");
    let rows = d.join("rows.jsonl");
    std::fs::write(&rows, "").unwrap();
    let out_dir = d.join("out");
    let out_s = out_dir.to_str().unwrap();
    let cases: [(&Path, &str, &str, &str); 4] = [
        (&db, "missing.jsonl", "IO_ERROR", "missing.jsonl"),
        (&db, "rows.txt", "USAGE", "cannot tell the format"),
        (
            &d.join("no-such-dir").join("ledger.sqlite3"),
            "rows.jsonl",
            "LEDGER_ERROR",
            "no-such-dir does not exist",
        ),
        (&db, "rows.jsonl", "", ""),
    ];
    std::fs::write(d.join("rows.txt"), "").unwrap();
    for (ledger, input, code, names) in cases {
        let input = d.join(input);
        let out = issuer(
            ledger,
            &[
                "--json",
                "batch",
                "--input",
                input.to_str().unwrap(),
                "--out",
                out_s,
                "--quiet",
            ],
        );
        let v = summary(&out);
        if code.is_empty() {
            // The control: an empty input is a finished job with nothing to do.
            assert_eq!(out.status.code(), Some(0), "{v}");
            assert_eq!(v["rows"], 0, "{v}");
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{code}: {v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        assert_eq!(v["exit_code"], 2, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{code}: {message}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("[{code}]")), "{stderr}");
    }
}

#[test]
fn missing_files_are_rendered_again() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let rows = tmp.path().join("rows.jsonl");
    assert!(
        issuer(
            &db,
            &[
                "demo-data",
                "--count",
                "20",
                "--out",
                rows.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let out_dir = tmp.path().join("out");
    let args = [
        "--json",
        "batch",
        "--input",
        rows.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
        "--svg",
        "--text",
    ];
    assert_eq!(issuer(&db, &args).status.code(), Some(0));
    let manifest = lines(&out_dir.join("manifest.jsonl"));
    let png = out_dir.join(manifest[3]["file"].as_str().unwrap());
    let before = std::fs::read(&png).unwrap();
    std::fs::remove_file(&png).unwrap();
    let out = issuer(&db, &args);
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&out);
    assert_eq!(
        (s["issued"].as_u64(), s["files_restored"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(std::fs::read(&png).unwrap(), before);
    assert_eq!(manifest[3]["also"].as_array().unwrap().len(), 2);
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
#[cfg_attr(missing_python3, ignore = "python3 not installed")]
fn demo_data_is_generate_py() {
    let Some(shared) = shared_applicants() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (format, extra) in [("jsonl", "--all-cities"), ("csv", "--bad")] {
        let ours = tmp.path().join(format!("ours.{format}"));
        let our_labels = tmp.path().join(format!("ours-{format}.labels"));
        let mut args = vec![
            "demo-data",
            "--count",
            "3000",
            "--seed",
            "7",
            "--format",
            format,
            "--labels",
            our_labels.to_str().unwrap(),
            "--out",
            ours.to_str().unwrap(),
            extra,
        ];
        if extra == "--bad" {
            args.push("40");
        }
        assert!(issuer(&tmp.path().join("x.db"), &args).status.success());
        let their_labels = tmp.path().join(format!("theirs-{format}.labels"));
        let mut py = Command::new("python3");
        py.arg(shared.join("generate.py"))
            .args([
                "--count", "3000", "--seed", "7", "--format", format, "--labels",
            ])
            .arg(&their_labels)
            .arg(extra);
        if extra == "--bad" {
            py.arg("40");
        }
        let Ok(theirs) = py.output() else {
            eprintln!("skipped: python3 not found");
            return;
        };
        assert!(theirs.status.success());
        assert!(
            std::fs::read(&ours).unwrap() == theirs.stdout,
            "{format}: demo-data differs from generate.py"
        );
        assert_eq!(
            std::fs::read_to_string(&our_labels).unwrap(),
            std::fs::read_to_string(&their_labels).unwrap()
        );
    }
}

/// Rows with a `holder_key` (the device key's JWK `x`) are bound: each gets its wallet
/// (`SERIAL.wallet.json`, mode 0600) beside its code, with a basic view bound to that key; rows
/// without one get none; a weak key is refused as that row's `INVALID_HOLDER_KEY`.
#[test]
fn bound_rows_get_a_wallet() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.db");
    let rows = tmp.path().join("rows.jsonl");
    let out = issuer(
        &db,
        &["demo-data", "--count", "3", "--out", rows.to_str().unwrap()],
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(&rows).unwrap();
    let v: Vec<&str> = text.lines().collect();
    let x = "p-j03Dhq7jcULeh5C7YqjxZVLR0Q17OflOcN3OTq5IU";
    // The all-zero point (small order): refused.
    let weak = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let bind =
        |row: &str, key: &str| row.replacen('{', &format!("{{\"holder_key\": \"{key}\", "), 1);
    let input = format!("{}\n{}\n{}\n", bind(v[0], x), v[1], bind(v[2], weak));
    let path = tmp.path().join("bound.jsonl");
    std::fs::write(&path, input).unwrap();
    let out_dir = tmp.path().join("out");
    let out = issuer(
        &db,
        &[
            "--json",
            "batch",
            "--input",
            path.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "one row refused");
    let errors = lines(&out_dir.join("errors.jsonl"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 3);
    assert!(
        errors[0].to_string().contains("INVALID_HOLDER_KEY"),
        "{errors:?}"
    );
    let manifest = lines(&out_dir.join("manifest.jsonl"));
    assert_eq!(manifest.len(), 2);
    let serial = |line: u64| {
        manifest.iter().find(|m| m["line"] == line).unwrap()["serial"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let wallet = out_dir.join(format!("{}.wallet.json", serial(1)));
    let w: serde_json::Value = serde_json::from_slice(&std::fs::read(&wallet).unwrap()).unwrap();
    assert_eq!(w["format"], "gdrp-wallet/1");
    assert_eq!(w["holder_key"], x);
    assert!(w["basic"].as_str().unwrap().starts_with("GDRP1:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&wallet).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!out_dir.join(format!("{}.wallet.json", serial(2))).exists());
}
