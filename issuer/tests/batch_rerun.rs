//! Re-runs of `issuer batch` over an input the office changed: rejected rows fixed in place, bad
//! rows deleted (every later row moves up), a row edited, rows added. After every run the
//! manifest lists every permit the job issued, once; `errors.jsonl` lists exactly the rows that
//! run rejected; the ledger's permits, the PNGs and the manifest lines agree, and the counts
//! printed are the lines written. Also Ctrl-C (SIGINT), once and twice, and the resume after it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

fn issuer(db: &Path, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--ledger")
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `n` demo rows (refs `APP-0000000` on), one string per line.
fn demo_rows(dir: &Path, n: usize) -> Vec<String> {
    let p = dir.join("demo.jsonl");
    let out = issuer(
        &dir.join("demo.db"),
        &[
            "demo-data",
            "--count",
            &n.to_string(),
            "--seed",
            "5",
            "--out",
            p.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The row with a wrong check character in its ID number: a field error, rejected before any
/// application is recorded, so the row can be fixed in place.
fn spoil(row: &str) -> String {
    let at = row.find("\"id_number\": \"").unwrap() + "\"id_number\": \"".len() + 17;
    let wrong = if &row[at..=at] == "0" { "1" } else { "0" };
    format!("{}{wrong}{}", &row[..at], &row[at + 1..])
}

/// The ledger, the input and the output directory in `dir`.
fn paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("ledger.db"),
        dir.join("rows.jsonl"),
        dir.join("out"),
    )
}

fn write_rows(p: &Path, rows: &[String]) {
    let mut s = rows.join("\n");
    s.push('\n');
    std::fs::write(p, s).unwrap();
}

/// Runs the batch job (`--json`, 256-row chunks) and returns its exit code, report and stderr.
fn batch(db: &Path, input: &Path, out: &Path) -> (i32, serde_json::Value, String) {
    let o = issuer(
        db,
        &[
            "--json",
            "batch",
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--chunk-rows",
            "256",
        ],
    );
    let v = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!("report: {v}");
    (
        o.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Manifest lines = the ledger's permits = PNGs, each permit listed once with its file; returns
/// their number.
fn agree(db: &Path, out: &Path) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    let serials: HashSet<String> = {
        let mut st = conn.prepare("SELECT serial FROM permits").unwrap();
        st.query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|s| format!("{:012}", s.unwrap()))
            .collect()
    };
    let mut pngs = HashSet::new();
    for e in std::fs::read_dir(out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
        if let Some(serial) = name.strip_suffix(".png") {
            pngs.insert(serial.to_owned());
        }
    }
    let manifest = lines(&out.join("manifest.jsonl"));
    let mut listed = HashSet::new();
    for m in &manifest {
        let serial = m["serial"].as_str().unwrap().to_owned();
        assert!(
            out.join(m["file"].as_str().unwrap()).exists(),
            "{m}: no file"
        );
        assert!(listed.insert(serial), "{m}: listed twice");
    }
    assert_eq!(listed, serials, "manifest vs ledger");
    assert_eq!(pngs, serials, "PNGs vs ledger");
    serials.len()
}

fn error_lines(out: &Path) -> Vec<(u64, String, String)> {
    lines(&out.join("errors.jsonl"))
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["ref"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn counts(v: &serde_json::Value) -> [u64; 4] {
    ["rows", "issued", "rejected", "already_done"].map(|k| v[k].as_u64().unwrap())
}

/// Issue #16, item 1: two rejected rows corrected in place, then the same command again.
#[test]
fn rows_fixed_in_place_are_issued_listed_and_no_longer_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, input, out) = paths(tmp.path());
    let good = demo_rows(tmp.path(), 10);
    let mut rows = good.clone();
    rows[2] = spoil(&rows[2]);
    rows[6] = spoil(&rows[6]);
    write_rows(&input, &rows);

    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 1);
    assert_eq!(counts(&v), [10, 8, 2, 0]);
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 2);
    assert_eq!((errors[0].0, errors[1].0), (3, 7));
    assert_eq!(agree(&db, &out), 8);

    // The office corrects both rows in the file and runs the same command again.
    write_rows(&input, &good);
    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 0, "{v}");
    assert_eq!(counts(&v), [10, 2, 0, 8]);
    let errors = error_lines(&out);
    assert!(
        errors.is_empty(),
        "errors.jsonl still lists fixed rows: {errors:?}"
    );
    assert_eq!(agree(&db, &out), 10);
    assert_eq!(v["manifest_lines"].as_u64(), Some(2));
    assert_eq!(v["manifest_total"].as_u64(), Some(10));
    assert_eq!(v["error_lines"].as_u64(), Some(0));

    // And again: nothing new, nothing listed twice.
    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 0);
    assert_eq!(counts(&v), [10, 0, 0, 10]);
    assert_eq!(v["manifest_lines"].as_u64(), Some(0));
    assert_eq!(agree(&db, &out), 10);
}

/// Issue #16, item 2: bad rows deleted (the rows after them move up), then the input edited and
/// extended. Rows are known by `ref`, not by line.
#[test]
fn deleted_edited_and_added_rows_are_matched_by_ref() {
    let n = if cfg!(debug_assertions) { 300 } else { 2000 };
    let every = if cfg!(debug_assertions) { 10 } else { 50 };
    let tmp = tempfile::tempdir().unwrap();
    let (db, input, out) = paths(tmp.path());
    let all = demo_rows(tmp.path(), n + 3);
    let (good, extra) = all.split_at(n);
    let mut rows: Vec<String> = good.to_vec();
    let mut bad = 0;
    for (i, r) in rows.iter_mut().enumerate() {
        if (i + 1) % every == 0 {
            *r = spoil(r);
            bad += 1;
        }
    }
    write_rows(&input, &rows);
    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 1);
    assert_eq!(counts(&v), [n as u64, (n - bad) as u64, bad as u64, 0]);
    assert_eq!(error_lines(&out).len(), bad);
    assert_eq!(agree(&db, &out), n - bad);

    // The office deletes the bad rows: every row after the first moves up.
    let kept: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 1) % every != 0)
        .map(|(_, r)| r.clone())
        .collect();
    write_rows(&input, &kept);
    let (code, v, stderr) = batch(&db, &input, &out);
    assert_eq!(code, 0, "{v}");
    let k = kept.len() as u64;
    assert_eq!(counts(&v), [k, 0, 0, k]);
    assert_eq!(v["input_changed"], true, "{v}");
    assert!(
        stderr.contains("the input changed since the last run"),
        "{stderr}"
    );
    let errors = error_lines(&out);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(agree(&db, &out), kept.len());
    assert_eq!(v["manifest_total"].as_u64(), Some(k));

    // The same file again: not a change.
    let (code, v, stderr) = batch(&db, &input, &out);
    assert_eq!((code, &v["input_changed"]), (0, &serde_json::json!(false)));
    assert!(!stderr.contains("changed"), "{stderr}");

    // Edited and extended: a row's content changed under its ref (a conflict: the permit issued
    // for it stays, and listed), three new rows at the end.
    let mut edited = kept.clone();
    edited[4] = edited[4].replace("\"test\": true", "\"test\": true, \"data_verified\": true");
    assert_ne!(edited[4], kept[4]);
    edited.extend(extra.iter().cloned());
    write_rows(&input, &edited);
    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 1);
    assert_eq!(counts(&v), [k + 3, 3, 1, k - 1]);
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 5);
    assert_eq!(errors[0].2, "REFERENCE_CONFLICT");
    assert_eq!(v["error_lines"].as_u64(), Some(1));
    assert_eq!(agree(&db, &out), kept.len() + 3);
    assert_eq!(v["manifest_total"].as_u64(), Some(k + 3));
}

/// The job started in the background (`--json`, stdout and stderr piped), and its stderr lines
/// as they come.
fn spawn_batch(
    db: &Path,
    input: &Path,
    out: &Path,
    chunk_rows: usize,
) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("--ledger")
        .arg(db)
        .args(["--json", "batch", "--quiet", "--chunk-rows"])
        .arg(chunk_rows.to_string())
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr).lines() {
            let Ok(l) = l else { break };
            eprintln!("child: {l}");
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits up to `timeout` for a stderr line containing `what`.
fn wait_for(rx: &mpsc::Receiver<String>, what: &str, timeout: Duration) -> Option<String> {
    let until = Instant::now() + timeout;
    loop {
        let left = until.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(what) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn sigint(child: &Child) {
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Starts the job and lets it run for `after`; it must still be running.
fn running_job(
    db: &Path,
    input: &Path,
    out: &Path,
    chunk_rows: usize,
    after: Duration,
) -> (Child, mpsc::Receiver<String>) {
    let (mut child, rx) = spawn_batch(db, input, out, chunk_rows);
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the job finished before the signal: make the input larger"
    );
    (child, rx)
}

/// Issue #16, item 3: one Ctrl-C is acknowledged at once; the job stops after the chunk in
/// progress and its summary counts the input's rows; the manifest, the PNGs and the ledger agree.
#[test]
fn one_sigint_is_acknowledged_and_stops_after_the_chunk() {
    let (n, chunk, wait) = if cfg!(debug_assertions) {
        (800, 32, 2500)
    } else {
        (10_000, 256, 700)
    };
    let tmp = tempfile::tempdir().unwrap();
    let (db, input, out) = paths(tmp.path());
    write_rows(&input, &demo_rows(tmp.path(), n));
    let (mut child, rx) = running_job(&db, &input, &out, chunk, Duration::from_millis(wait));
    sigint(&child);
    let ack = wait_for(
        &rx,
        "stopping after the chunks in progress",
        Duration::from_secs(2),
    );
    assert!(
        ack.is_some(),
        "the first SIGINT was not acknowledged at once"
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    eprintln!("report: {v}");
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["input_rows"].as_u64(), Some(n as u64), "{v}");
    let [rows, issued, rejected, done] = counts(&v);
    assert!(rows > 0 && rows < n as u64, "{v}");
    assert_eq!(rows, issued + rejected + done, "{v}");
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.contains(&format!("after {rows} of {n} rows"))),
        "{rest:?}"
    );
    assert_eq!(agree(&db, &out), issued as usize);
    assert_eq!(v["manifest_total"].as_u64(), Some(issued));

    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 0);
    assert_eq!(counts(&v), [n as u64, n as u64 - issued, 0, issued]);
    assert_eq!(agree(&db, &out), n);
}

/// Issue #16, item 3: a second Ctrl-C stops at once and says so, dropping the chunk in progress
/// and its files; the job resumes to the same end.
#[test]
fn second_sigint_stops_at_once_and_the_job_resumes() {
    let (n, wait) = if cfg!(debug_assertions) {
        (300, 1500)
    } else {
        (8000, 500)
    };
    let tmp = tempfile::tempdir().unwrap();
    let (db, input, out) = paths(tmp.path());
    write_rows(&input, &demo_rows(tmp.path(), n));
    // One chunk: the chunk in progress is the whole job.
    let (mut child, rx) = running_job(&db, &input, &out, n, Duration::from_millis(wait));
    sigint(&child);
    assert!(
        wait_for(
            &rx,
            "stopping after the chunks in progress",
            Duration::from_secs(2)
        )
        .is_some()
    );
    sigint(&child);
    let now = wait_for(&rx, "stopping now", Duration::from_secs(2));
    assert!(
        now.is_some_and(|l| l.contains("safe")),
        "no answer to the second SIGINT"
    );
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    eprintln!("report: {v}");
    assert_eq!(
        (&v["interrupted"], &v["aborted"]),
        (&true.into(), &true.into())
    );
    // The chunk in progress was dropped, its files removed: the directory still agrees.
    assert_eq!(agree(&db, &out) as u64, v["issued"].as_u64().unwrap());

    let (code, v, _) = batch(&db, &input, &out);
    assert_eq!(code, 0);
    assert_eq!(v["rows"].as_u64(), Some(n as u64));
    assert_eq!(agree(&db, &out), n);
}
