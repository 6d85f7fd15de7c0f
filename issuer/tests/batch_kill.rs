//! Crash safety of `issuer batch`: a 10 000-row job is killed with SIGKILL at random moments
//! several times, then run to the end. Afterwards the ledger, the directory and the manifest
//! agree exactly: 10 000 permits, 10 000 PNGs, 10 000 manifest lines, no duplicates, no
//! temporary files; a further run issues nothing.
//!
//! `cargo test --release -p permit-issuer --test batch_kill -- --nocapture`
//! (`BATCH_KILL_SEED=n` repeats a run's kill moments; `BATCH_KILL_ROWS=n` changes the size.
//! Unoptimised builds use 1 000 rows unless told otherwise.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use permit_shared::fixtures::TestRng;

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

fn batch_cmd(db: &Path, input: &Path, out: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--ledger")
        .arg(db)
        .arg("--json")
        .arg("batch")
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .arg("--chunk-rows")
        .arg("256");
    c
}

#[test]
fn killed_batch_resumes_without_loss_or_duplicates() {
    let rows: usize = std::env::var("BATCH_KILL_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 1000 } else { 10_000 });
    let seed = std::env::var("BATCH_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| getrandom::u64().unwrap_or(1) | 1);
    eprintln!("batch_kill: {rows} rows, BATCH_KILL_SEED={seed}");
    let mut rng = TestRng::new(seed); // reproducible delays from a printed seed

    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger.sqlite3");
    let input = tmp.path().join("rows.jsonl");
    let out = tmp.path().join("out");
    let st = Command::new(BIN)
        .args([
            "demo-data",
            "--count",
            &rows.to_string(),
            "--seed",
            "99",
            "--out",
        ])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());

    // How long an uninterrupted run would take, roughly: calibrate on the first attempt by
    // killing early, then spread the kills over the expected duration.
    // (A release build issues 4 000-8 000 permits/s on two idle cores, depending on the host;
    // assuming a faster rate keeps the kills early enough that at least three land before the
    // job could finish, and on a slower machine they all do, earlier in the job.)
    let expected = Duration::from_secs_f64(
        rows as f64
            / if cfg!(debug_assertions) {
                60.0
            } else {
                10_000.0
            },
    );
    let mut kills = 0;
    let mut attempts = 0;
    while kills < 5 && attempts < 12 {
        attempts += 1;
        let mut child = batch_cmd(&db, &input, &out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Early kills hit the set-up and the first chunks; later ones the middle of the run.
        let ms = 30 + rng.below(expected.as_millis() as usize / 3 + 1) as u64;
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(ms));
        match child.try_wait().unwrap() {
            Some(status) => {
                eprintln!("attempt {attempts}: finished by itself ({status}) before {ms} ms");
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                let _ = child.wait();
                kills += 1;
                eprintln!("attempt {attempts}: SIGKILL after {:?}", started.elapsed());
            }
        }
    }
    assert!(
        kills >= 3,
        "only {kills} kills landed; the machine is too fast for the delays"
    );

    // The final resume.
    let o = batch_cmd(&db, &input, &out).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!("final resume: {s}");
    assert_eq!(s["rejected"].as_u64(), Some(0));
    assert_eq!(
        s["issued"].as_u64().unwrap() + s["already_done"].as_u64().unwrap(),
        rows as u64
    );

    // Ledger: exactly one permit, credential and application per row.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM permits"), rows as i64);
    assert_eq!(
        count("SELECT COUNT(DISTINCT serial) FROM permits"),
        rows as i64
    );
    assert_eq!(count("SELECT COUNT(*) FROM credentials"), rows as i64);
    assert_eq!(
        count("SELECT COUNT(DISTINCT status_index) FROM credentials"),
        rows as i64
    );
    assert_eq!(count("SELECT COUNT(*) FROM applications"), rows as i64);
    assert_eq!(
        count("SELECT COUNT(DISTINCT reference) FROM applications WHERE state = 'approved'"),
        rows as i64
    );
    assert_eq!(
        count("SELECT COUNT(DISTINCT id_number) FROM permits"),
        rows as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM events WHERE kind = 'permit.issued'"),
        rows as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM batch_intents WHERE state = 'done'"),
        rows as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM batch_intents WHERE state <> 'done'"),
        0
    );
    let serials: HashSet<String> = {
        let mut st = conn.prepare("SELECT serial FROM permits").unwrap();
        st.query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|s| format!("{:012}", s.unwrap()))
            .collect()
    };

    // Directory: one PNG per permit, nothing else left over.
    let mut pngs = HashSet::new();
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        if let Some(serial) = name.strip_suffix(".png") {
            assert!(
                serials.contains(serial),
                "file without a ledger row: {name}"
            );
            pngs.insert(serial.to_owned());
        }
    }
    assert_eq!(pngs.len(), rows);

    // Manifest: one line per row, in input order, each naming an existing file.
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    let mut refs = HashSet::new();
    let mut listed = HashSet::new();
    let mut last = 0;
    let mut n = 0;
    for l in manifest.lines() {
        let m: serde_json::Value = serde_json::from_str(l).unwrap();
        let line = m["line"].as_u64().unwrap();
        assert!(line > last, "manifest out of order at line {line}");
        last = line;
        assert!(
            refs.insert(m["ref"].as_str().unwrap().to_owned()),
            "duplicate ref"
        );
        let serial = m["serial"].as_str().unwrap().to_owned();
        assert!(pngs.contains(&serial));
        assert!(listed.insert(serial), "duplicate serial");
        n += 1;
    }
    assert_eq!(n, rows);
    assert_eq!(
        std::fs::metadata(out.join("errors.jsonl")).unwrap().len(),
        0
    );

    // A second run issues nothing.
    let o = batch_cmd(&db, &input, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["issued"].as_u64(), Some(0));
    assert_eq!(s["already_done"].as_u64(), Some(rows as u64));
    assert_eq!(s["manifest_lines"].as_u64(), Some(0));
    assert_eq!(count("SELECT COUNT(*) FROM permits"), rows as i64);
    eprintln!(
        "batch_kill: {kills} kills, then {rows} permits, PNGs and manifest lines; second run issued 0"
    );
}
