//! The PostgreSQL ledger's own rules: migrations (numbered, applied once even by processes
//! starting together, a newer schema refused), history enforced by triggers against any client,
//! conflicts as conflicts, and a password in the URL never shown. Needs `GDRP_TEST_POSTGRES`
//! (see `support/postgres.rs`), except the redaction test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/postgres.rs"]
mod pg;

use std::path::Path;
use std::process::Command;

use permit_issuer::ledger::open::{AnyLedger, Mode};
use permit_issuer::ledger::postgres::PgLedger;
use permit_issuer::ledger::{Ledger as _, LedgerError};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

fn fresh(tag: &str) -> Option<String> {
    let server = pg::server(tag)?;
    Some(pg::fresh_database(&server, tag))
}

#[test]
fn password_in_the_url_is_never_printed() {
    // Nothing listens on port 1: the connection fails, and the error names the ledger.
    for url in [
        "postgres://gdrp:Sekr1t-pw@127.0.0.1:1/ledger",
        "postgresql://gdrp@127.0.0.1:1/ledger?password=Sekr1t-pw&connect_timeout=2",
    ] {
        let o = Command::new(BIN)
            .args([
                "--ledger",
                url,
                "cancel",
                "100000000001",
                "--reason",
                "x",
                "--reporter",
                "police",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("LEDGER_ERROR"), "{err}");
        assert!(err.contains("127.0.0.1:1/ledger"), "{err}");
        assert!(!err.contains("Sekr1t"), "password printed: {err}");
        assert!(err.contains("***"), "{err}");
        let e = PgLedger::open(url).err().unwrap().to_string();
        assert!(!e.contains("Sekr1t") && e.contains("***"), "{e}");
    }
    // Nor is it in `--help` when it comes from the environment.
    let o = Command::new(BIN)
        .env(
            "ISSUER_LEDGER",
            "postgres://gdrp:Sekr1t-pw@127.0.0.1:1/ledger",
        )
        .arg("--help")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains("Sekr1t"));
}

#[test]
#[cfg_attr(
    missing_postgres,
    ignore = "GDRP_TEST_POSTGRES is not set (a PostgreSQL server URL, e.g. postgres://gdrp@127.0.0.1:5432/postgres)"
)]
fn migrations_once_and_newer_schema_refused() {
    let Some(url) = fresh("migrations") else {
        return;
    };
    // Eight processes' worth of connections opening a new database at once: one migrates.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgLedger::open(&url).map(|mut l| l.schema_version()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().unwrap(), 4);
    }
    let o = Command::new(BIN)
        .env("ISSUER_LEDGER", &url)
        .args(["--json", "ledger", "migrate"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 4);
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = db
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
    db.execute("INSERT INTO schema_migrations (version) VALUES (5)", &[])
        .unwrap();
    let e = PgLedger::open(&url).err().unwrap().to_string();
    assert!(e.contains("schema version 5 is newer"), "{e}");
    let o = Command::new(BIN)
        .env("ISSUER_LEDGER", &url)
        .args(["ledger", "migrate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("newer than this issuer knows"));
}

#[test]
#[cfg_attr(
    missing_postgres,
    ignore = "GDRP_TEST_POSTGRES is not set (a PostgreSQL server URL, e.g. postgres://gdrp@127.0.0.1:5432/postgres)"
)]
fn history_is_enforced_by_the_database() {
    let Some(url) = fresh("triggers") else {
        return;
    };
    // A permit issued through the binary, then a direct client tries to rewrite history.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("a.jsonl");
    let st = Command::new(BIN)
        .args(["demo-data", "--count", "3", "--out"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let o = Command::new(BIN)
        .env("ISSUER_LEDGER", &url)
        .args(["--json", "batch", "--quiet", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for sql in [
        "UPDATE events SET actor = 'x'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
        "UPDATE credentials SET text = 'x'",
        "DELETE FROM credentials",
        "TRUNCATE credentials CASCADE",
        "DELETE FROM permits",
        "TRUNCATE permits CASCADE",
        "DELETE FROM batch_intents",
        "UPDATE batch_intents SET state = 'pending'",
    ] {
        let e = db
            .batch_execute(sql)
            .err()
            .unwrap_or_else(|| panic!("{sql} was allowed"));
        let code = e.code().map(|c| c.code().to_owned());
        assert_eq!(code.as_deref(), Some("23001"), "{sql}: {e}");
    }
    let n: i64 = db
        .query_one("SELECT COUNT(*) FROM permits", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}

#[test]
#[cfg_attr(
    missing_postgres,
    ignore = "GDRP_TEST_POSTGRES is not set (a PostgreSQL server URL, e.g. postgres://gdrp@127.0.0.1:5432/postgres)"
)]
fn a_constraint_violation_is_a_conflict() {
    let Some(url) = fresh("conflict") else {
        return;
    };
    let mut l = AnyLedger::open(Path::new(&url), Mode::Command).unwrap();
    let app = permit_issuer::ledger::ApplicationRecord {
        id: "A1".into(),
        reference: Some("R1".into()),
        content_hash: permit_issuer::ledger::digest::sha256_hex(b"{}"),
        id_number: "1".into(),
        applicant_json: "{}".into(),
        eligibility_json: "{}".into(),
        state: permit_issuer::ledger::AppState::Submitted,
        permit_serial: None,
        submitted_at: 0,
        actor: "t".into(),
    };
    l.transaction(|tx| tx.insert_application(&app)).unwrap();
    let mut again = app.clone();
    again.id = "A2".into();
    let e = l
        .transaction(|tx| tx.insert_application(&again))
        .err()
        .unwrap();
    assert!(matches!(e, LedgerError::Conflict(_)), "{e}");
    // The failed transaction left nothing, and the ledger is usable after it.
    let back = l.transaction(|tx| tx.application_by_ref("R1")).unwrap();
    assert_eq!(back, Some(app));
}

/// Runs `issuer --json --now NOW ARGS…` on the ledger at `url`, in `dir`.
fn run(url: &str, dir: &Path, now: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = Command::new(BIN)
        .current_dir(dir)
        .env("ISSUER_LEDGER", url)
        .args(["--json", "--now", now])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (
        o.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The integrity rules of `ledger_integrity.rs` on PostgreSQL: digests checked on read (nothing
/// signed from a damaged row), and `issuer ledger verify` naming every damaged row. The damage is
/// done by a direct client with the triggers disabled, as a damaged page would be.
#[test]
#[cfg_attr(
    missing_postgres,
    ignore = "GDRP_TEST_POSTGRES is not set (a PostgreSQL server URL, e.g. postgres://gdrp@127.0.0.1:5432/postgres)"
)]
fn damage_is_refused_and_named_on_postgres() {
    let Some(url) = fresh("integrity") else {
        return;
    };
    const ISSUED: &str = "2026-01-10T10:00:00+08:00";
    const ENDORSE: &str = "2026-12-20T10:00:00+08:00";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("a.jsonl");
    let st = Command::new(BIN)
        .args(["demo-data", "--count", "2", "--seed", "5", "--out"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&input).unwrap();
    let mut serials = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let a = dir.join(format!("a{i}.json"));
        std::fs::write(&a, line).unwrap();
        let (code, v, err) = run(
            &url,
            dir,
            ISSUED,
            &[
                "issue",
                "--applicant",
                a.to_str().unwrap(),
                "--out",
                "p.txt",
                "--force",
            ],
        );
        assert_eq!(code, 0, "{v} {err}");
        serials.push(v["serial"].as_str().unwrap().to_owned());
    }
    let (code, v, err) = run(&url, dir, ENDORSE, &["ledger", "verify"]);
    assert_eq!(code, 0, "an intact ledger verifies: {v} {err}");
    assert_eq!(
        (v["permits"].as_u64(), v["signatures_checked"].as_u64()),
        (Some(2), Some(2))
    );

    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let first: i64 = serials[0].parse().unwrap();
    let second: i64 = serials[1].parse().unwrap();
    db.execute(
        "UPDATE permits SET details_json = replace(details_json, '\"name\":\"', '\"name\":\"X') WHERE serial = $1",
        &[&first],
    )
    .unwrap();
    db.batch_execute(&format!(
        "ALTER TABLE credentials DISABLE TRIGGER USER; ALTER TABLE events DISABLE TRIGGER USER;
         UPDATE credentials SET status_index = status_index + 1 WHERE serial = {second};
         UPDATE events SET actor = 'someone else' WHERE id = 2;
         ALTER TABLE credentials ENABLE TRIGGER USER; ALTER TABLE events ENABLE TRIGGER USER;"
    ))
    .unwrap();
    let events: i64 = db
        .query_one("SELECT COUNT(*) FROM events", &[])
        .unwrap()
        .get(0);

    let (code, v, err) = run(
        &url,
        dir,
        ENDORSE,
        &["endorse", &serials[0], "--out", "e.txt"],
    );
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("LEDGER_DAMAGED")),
        "{v} {err}"
    );
    assert!(!dir.join("e.txt").exists(), "nothing written");
    let after: i64 = db
        .query_one("SELECT COUNT(*) FROM events", &[])
        .unwrap()
        .get(0);
    assert_eq!(after, events, "nothing recorded");
    let (code, v, _) = run(&url, dir, ENDORSE, &["status", "publish", "--out", "s.cwt"]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("LEDGER_DAMAGED")),
        "{v}"
    );

    let (code, v, err) = run(&url, dir, ENDORSE, &["ledger", "verify"]);
    assert_eq!(code, 2, "{v} {err}");
    let mut rows: Vec<(String, String)> = v["damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["table"].as_str().unwrap().into(),
                d["row"].as_str().unwrap().into(),
            )
        })
        .collect();
    rows.sort();
    let mut expected = vec![
        ("credentials".to_owned(), format!("{} v1", serials[1])),
        ("events".to_owned(), "2".to_owned()),
        ("permits".to_owned(), serials[0].clone()),
        // Its credential is damaged, so it has no intact current credential.
        ("permits".to_owned(), serials[1].clone()),
    ];
    expected.sort();
    assert_eq!(rows, expected, "{v}");
}
