//! What officials and operators trip over when an `issuer` command writes a code (issue #16):
//! the output location is checked before anything is signed, a code that could not be written
//! after signing says which permit exists and how to write it, `--json` keeps stdout one JSON
//! document, `qr` refuses a cancelled permit, the demo-key warning appears only when something
//! is signed, and usage errors name what is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");
const NOW: &str = "2026-11-25T10:00:00+08:00";
const DEMO_WARNING: &str = "embedded TEST-ONLY demo key";

/// One run of `issuer --ledger l.sqlite3 --now NOW ARGS…` in `dir`.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Stdout as one JSON document (panics when it is not).
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, the error code on stderr and in the JSON error object.
    fn failed(&self, exit: i32, code: &str) -> serde_json::Value {
        assert!(
            self.stderr.contains(&format!("[{code}]")),
            "{}",
            self.stderr
        );
        self.usage_like(exit, code)
    }

    /// Asserts the exit code and the code of the JSON error object (a command line the parser
    /// refuses has clap's message on stderr, without the code).
    fn usage_like(&self, exit: i32, code: &str) -> serde_json::Value {
        assert_eq!(self.status, exit, "{}\n{}", self.stdout, self.stderr);
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        v
    }

    fn ok(&self) -> serde_json::Value {
        assert_eq!(self.status, 0, "{}\n{}", self.stdout, self.stderr);
        self.json()
    }
}

fn output(o: Output) -> Run {
    Run {
        status: o.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(["--ledger", "l.sqlite3", "--now", NOW])
        .args(args);
    c
}

fn issuer(dir: &Path, args: &[&str]) -> Run {
    output(command(dir, args).output().unwrap())
}

/// The example applicant, without its `ref` unless `reference` is given, written to
/// `dir/NAME.json`; returns the file name.
fn applicant(dir: &Path, name: &str, reference: Option<&str>) -> String {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json");
    let mut a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
    match reference {
        Some(r) => a["ref"] = r.into(),
        None => {
            a.as_object_mut().unwrap().remove("ref");
        }
    }
    let file = format!("{name}.json");
    std::fs::write(dir.join(&file), serde_json::to_vec(&a).unwrap()).unwrap();
    file
}

/// Another applicant (another ID number), with `reference`, written to `dir/NAME.json`.
fn other_person(dir: &Path, name: &str, reference: &str) -> String {
    let file = applicant(dir, name, Some(reference));
    let text = std::fs::read_to_string(dir.join(&file))
        .unwrap()
        .replace("360730199503089625", "440106199001010013")
        .replace("\"female\"", "\"male\"")
        .replace("1995-03-08", "1990-01-01");
    std::fs::write(dir.join(&file), text).unwrap();
    file
}

/// Issues the example applicant (with `reference`) to `p.txt`; returns the serial.
fn issue_one(dir: &Path, reference: &str) -> String {
    let file = applicant(dir, reference, Some(reference));
    let v = issuer(
        dir,
        &[
            "--json",
            "issue",
            "--applicant",
            &file,
            "--out",
            "p.txt",
            "--force",
        ],
    )
    .ok();
    v["serial"].as_str().unwrap().to_owned()
}

#[test]
fn the_output_location_is_checked_before_anything_is_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = applicant(d, "a", None);

    // A folder that does not exist: refused before the permit is recorded or signed.
    let run = issuer(
        d,
        &[
            "--json",
            "issue",
            "--applicant",
            &a,
            "--out",
            "missing/x.png",
        ],
    );
    let v = run.failed(2, "IO_ERROR");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("missing"), "{message}");
    assert!(!run.stderr.contains(DEMO_WARNING), "{}", run.stderr);
    // An output that is a directory, even with --force.
    std::fs::create_dir(d.join("dir.png")).unwrap();
    issuer(
        d,
        &[
            "--json",
            "issue",
            "--applicant",
            &a,
            "--out",
            "dir.png",
            "--force",
        ],
    )
    .failed(2, "IO_ERROR");
    // A folder nobody can create files in (even root cannot in /proc).
    #[cfg(target_os = "linux")]
    issuer(
        d,
        &["--json", "issue", "--applicant", &a, "--out", "/proc/x.png"],
    )
    .failed(2, "IO_ERROR");

    // Nothing was issued: the same applicant is issued now, as a new permit.
    let v = issuer(d, &["--json", "issue", "--applicant", &a, "--out", "x.png"]).ok();
    assert_eq!(v["already_issued"], false, "{v}");
    assert!(d.join("x.png").is_file());

    // review: the application stays undecided when its output folder is missing.
    let b = other_person(d, "b", "REVIEW-1");
    let app = issuer(d, &["--json", "apply", "--applicant", &b]).ok();
    let app = app["application"].as_str().unwrap().to_owned();
    let review = |out: &str| {
        issuer(
            d,
            &[
                "--json",
                "review",
                &app,
                "--approve",
                "--reason",
                "materials checked",
                "--reviewer",
                "王警官",
                "--out",
                out,
            ],
        )
    };
    review("missing/b.png").failed(2, "IO_ERROR");
    let v = review("b.png").ok();
    assert_eq!(v["version"], 1, "{v}");
}

#[test]
fn a_code_not_written_after_signing_names_the_permit_and_how_to_write_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The ledger exists; the test holds its write lock while the issuer starts, so that the
    // output folder can disappear after the issuer checked it and before it writes.
    issue_one(d, "FIRST");
    let a = other_person(d, "a", "SECOND");
    std::fs::create_dir(d.join("out")).unwrap();
    let db = rusqlite::Connection::open(d.join("l.sqlite3")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let child = command(
        d,
        &["--json", "issue", "--applicant", &a, "--out", "out/x.png"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // The issuer checks the folder at once and then waits for the lock (up to 30 s).
    std::thread::sleep(std::time::Duration::from_secs(3));
    std::fs::remove_dir(d.join("out")).unwrap();
    db.execute_batch("ROLLBACK").unwrap();
    let run = output(child.wait_with_output().unwrap());
    let v = run.failed(2, "IO_ERROR");
    let serial = v["error"]["details"]["serial"]
        .as_str()
        .unwrap_or_else(|| panic!("the error names no serial: {v}"))
        .to_owned();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(&serial), "{message}");
    assert!(message.contains("out/x.png"), "{message}");
    let hint = v["error"]["hint"].as_str().unwrap();
    let recover = format!("issuer --ledger l.sqlite3 qr {serial} --out out/x.png");
    assert!(hint.contains(&recover), "{hint}");
    // A signature was made: the demo-key warning says so.
    assert!(run.stderr.contains(DEMO_WARNING), "{}", run.stderr);

    // The recovery command works as given.
    std::fs::create_dir(d.join("out")).unwrap();
    let args: Vec<&str> = recover.split(' ').skip(1).collect();
    let mut all = vec!["--json"];
    all.extend(&args);
    let v = output(
        Command::new(BIN)
            .current_dir(d)
            .args(["--now", NOW])
            .args(&all)
            .output()
            .unwrap(),
    )
    .ok();
    assert_eq!(v["serial"], serial.as_str(), "{v}");
    assert!(d.join("out/x.png").is_file());
    // And issuing again finds the permit: it exists.
    let v = issuer(
        d,
        &["--json", "issue", "--applicant", &a, "--out", "again.png"],
    )
    .ok();
    assert_eq!(v["already_issued"], true, "{v}");
    assert_eq!(v["serial"], serial.as_str(), "{v}");
}

#[test]
fn with_json_the_code_text_goes_inside_the_one_json_document() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = applicant(d, "a", Some("JSON-1"));
    let run = issuer(d, &["--json", "issue", "--applicant", &a, "--out", "-"]);
    let v = run.ok();
    assert!(v["text"].as_str().unwrap().starts_with("GDRP1:"), "{v}");
    assert_eq!(v["qr"]["out"], "-", "{v}");
    assert_eq!(v["qr"]["format"], "text", "{v}");
    let serial = v["serial"].as_str().unwrap().to_owned();
    let v = issuer(d, &["--json", "qr", &serial, "--out", "-"]).ok();
    assert!(v["text"].as_str().unwrap().starts_with("GDRP1:"), "{v}");
    // Without --json, stdout is the text alone.
    let run = issuer(d, &["qr", &serial, "--out", "-"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("GDRP1:") && run.stdout.lines().count() == 1,
        "{}",
        run.stdout
    );
}

#[test]
fn qr_refuses_a_cancelled_permit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let serial = issue_one(d, "CANCEL-1");
    issuer(
        d,
        &[
            "--json",
            "cancel",
            &serial,
            "--reason",
            "left Guangdong",
            "--reporter",
            "police",
        ],
    )
    .ok();
    let v = issuer(d, &["--json", "qr", &serial, "--out", "c.png"]).failed(1, "PERMIT_CANCELLED");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&serial),
        "{v}"
    );
    assert!(!d.join("c.png").exists());
}

#[test]
fn qr_on_a_suspended_or_expired_permit_says_why_instead_of_a_failed_self_check() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let serial = issue_one(d, "LATE-1");
    let at = |now: &str| {
        output(
            Command::new(BIN)
                .current_dir(d)
                .args(["--ledger", "l.sqlite3", "--json", "--now", now])
                .args(["qr", &serial, "--out", "late.png"])
                .output()
                .unwrap(),
        )
    };
    // The endorsement was due by the first anniversary.
    let v = at("2027-12-01T10:00:00+08:00").failed(1, "ILLEGAL_TRANSITION");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("suspended") && message.contains("2027-11-25"),
        "{message}"
    );
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("issuer endorse {serial}")),
        "{v}"
    );
    let v = at("2030-01-01T10:00:00+08:00").failed(1, "ILLEGAL_TRANSITION");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("expired"), "{message}");
    assert!(!d.join("late.png").exists());
    // On the last day before the deadline it is written.
    at("2027-11-25T23:00:00+08:00").ok();
}

#[test]
fn the_demo_key_warning_appears_only_when_something_is_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = applicant(d, "a", Some("WARN-1"));
    let warned = |run: &Run| run.stderr.contains(DEMO_WARNING);

    let first = issuer(d, &["issue", "--applicant", &a, "--out", "p.png"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert!(warned(&first), "a new permit was signed: {}", first.stderr);
    // The same ref again: nothing new signed.
    let again = issuer(
        d,
        &["--json", "issue", "--applicant", &a, "--out", "p2.png"],
    );
    assert_eq!(again.json()["already_issued"], true);
    assert!(!warned(&again), "{}", again.stderr);
    let serial = again.json()["serial"].as_str().unwrap().to_owned();
    // qr signs nothing.
    let qr = issuer(d, &["qr", &serial, "--out", "q.png"]);
    assert_eq!(qr.status, 0, "{}", qr.stderr);
    assert!(!warned(&qr), "{}", qr.stderr);
    // A refused endorsement signs nothing.
    let early = issuer(d, &["--json", "endorse", &serial]);
    early.failed(1, "ENDORSEMENT_WINDOW");
    assert!(!warned(&early), "{}", early.stderr);
    // A rejection signs nothing.
    let b = other_person(d, "b", "WARN-2");
    let app = issuer(d, &["--json", "apply", "--applicant", &b]).json();
    let reject = issuer(
        d,
        &[
            "review",
            app["application"].as_str().unwrap(),
            "--reject",
            "--reason",
            "duplicate",
            "--reviewer",
            "王警官",
        ],
    );
    assert_eq!(reject.status, 0, "{}", reject.stderr);
    assert!(!warned(&reject), "{}", reject.stderr);
    // A change and a status list are signed.
    let change = issuer(
        d,
        &[
            "change",
            &serial,
            "--residence-address",
            "广东省惠州市惠城区江北街道云山西路8号3栋502房",
        ],
    );
    assert_eq!(change.status, 0, "{}", change.stderr);
    assert!(warned(&change), "{}", change.stderr);
    let publish = issuer(d, &["status", "publish", "--out", "s.cwt"]);
    assert_eq!(publish.status, 0, "{}", publish.stderr);
    assert!(warned(&publish), "{}", publish.stderr);
}

#[test]
fn usage_errors_name_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // clap's message names the missing argument; the JSON message does too.
    let v = issuer(d, &["--json", "issue", "--applicant", "a.json"]).usage_like(2, "USAGE");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("--out"), "{message}");
    // review without a decision names both.
    let v = issuer(
        d,
        &[
            "--json",
            "review",
            "A000000000001",
            "--reason",
            "x",
            "--reviewer",
            "y",
        ],
    )
    .usage_like(2, "USAGE");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("--approve") && message.contains("--reject"),
        "{message}"
    );

    // Reviewing a decided application: the hint does not send the operator to `show`, which
    // takes permit serials only.
    let a = applicant(d, "a", Some("USAGE-1"));
    let app = issuer(d, &["--json", "apply", "--applicant", &a]).json();
    let app = app["application"].as_str().unwrap().to_owned();
    let review = |decision: &str| {
        issuer(
            d,
            &[
                "--json",
                "review",
                &app,
                decision,
                "--reason",
                "r",
                "--reviewer",
                "y",
            ],
        )
    };
    review("--reject").ok();
    let v = review("--approve").failed(1, "ILLEGAL_TRANSITION");
    let hint = v["error"]["hint"].as_str().unwrap_or("");
    assert!(!hint.contains("issuer show"), "{hint}");
    assert!(!hint.is_empty(), "{v}");
}
