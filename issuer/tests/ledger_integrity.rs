//! Ledger integrity (issue #17, item 9): a row damaged on disk is refused before anything is
//! signed from it (`LEDGER_DAMAGED`, exit 2), and `issuer ledger verify` names every damaged
//! row. The damage is done with rusqlite directly, as a flipped byte on disk would be.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use rusqlite::Connection;

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

/// 欧阳晓燕; one flipped bit of the last byte makes 欧阳晓燖, still a valid name.
const NAME: &str = "欧阳晓燕";
const DAMAGED_NAME: &str = "欧阳晓燖";

fn applicant(dir: &Path, reference: &str) -> String {
    let a = serde_json::json!({
        "ref": reference,
        "name": NAME,
        "sex": "female",
        "ethnicity": "01",
        "birth_date": "1995-03-08",
        "id_number": "360730199503089625",
        "hukou_division": "360730",
        "hukou_address": "江西省赣州市宁都县梅江镇和平社区4组18号",
        "residence_city": "441300",
        "residence_district": "441302",
        "residence_address": "广东省惠州市惠城区江北街道文昌一路9号华贸大厦2栋1806房",
        "residence_registered_on": "2023-09-01",
        "basis": ["employment"],
        "test": true
    });
    let p = dir.join(format!("{reference}.json"));
    std::fs::write(&p, a.to_string()).unwrap();
    p.display().to_string()
}

/// Runs `issuer --ledger DIR/l.sqlite3 --json --now NOW ARGS…`; (exit code, stdout JSON, stderr).
fn issuer(dir: &Path, now: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = Command::new(BIN)
        .current_dir(dir)
        .args(["--ledger", "l.sqlite3", "--json", "--now", now])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap(), v, stderr)
}

const ISSUED: &str = "2026-01-10T10:00:00+08:00";
/// Inside the endorsement window of the first anniversary (2027-01-10).
const ENDORSE: &str = "2026-12-20T10:00:00+08:00";

fn issue(dir: &Path) -> String {
    let a = applicant(dir, "LEDGER-1");
    let (code, v, err) = issuer(dir, ISSUED, &["issue", "--applicant", &a, "--out", "p.txt"]);
    assert_eq!(code, 0, "{v} {err}");
    v["serial"].as_str().unwrap().to_owned()
}

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("l.sqlite3")).unwrap()
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Flips the last byte of the name inside `details_json` (燕 E7 87 95 → 燖 E7 87 96).
fn flip_name(c: &Connection, serial: &str) {
    let details: String = c
        .query_row(
            "SELECT details_json FROM permits WHERE serial = ?1",
            [serial.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = details.into_bytes();
    let at = bytes
        .windows(NAME.len())
        .position(|w| w == NAME.as_bytes())
        .unwrap()
        + NAME.len()
        - 1;
    bytes[at] ^= 0x03;
    let damaged = String::from_utf8(bytes).unwrap();
    assert!(damaged.contains(DAMAGED_NAME));
    c.execute(
        "UPDATE permits SET details_json = ?2 WHERE serial = ?1",
        rusqlite::params![serial.parse::<i64>().unwrap(), damaged],
    )
    .unwrap();
}

fn verify_ledger(dir: &Path) -> (i32, serde_json::Value, String) {
    issuer(dir, ENDORSE, &["ledger", "verify"])
}

fn damaged_rows(v: &serde_json::Value) -> Vec<(String, String)> {
    v["damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["table"].as_str().unwrap().to_owned(),
                d["row"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_flipped_byte_in_a_permit_signs_nothing_and_verify_names_the_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let serial = issue(dir);
    let (code, v, err) = verify_ledger(dir);
    assert_eq!(code, 0, "an intact ledger verifies: {v} {err}");
    assert_eq!(v["permits"], 1);
    assert_eq!(v["credentials"], 1);
    assert_eq!(v["signatures_checked"], 1);

    let c = db(dir);
    flip_name(&c, &serial);
    let credentials = count(&c, "SELECT COUNT(*) FROM credentials");
    let events = count(&c, "SELECT COUNT(*) FROM events");

    let (code, v, err) = issuer(dir, ENDORSE, &["endorse", &serial, "--out", "e.txt"]);
    assert_eq!(code, 2, "endorsement of a damaged permit: {v} {err}");
    assert_eq!(v["error"]["code"], "LEDGER_DAMAGED", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&serial),
        "{v}"
    );
    assert!(err.contains("[LEDGER_DAMAGED]"), "{err}");
    assert!(!dir.join("e.txt").exists(), "nothing written");
    assert_eq!(
        count(&c, "SELECT COUNT(*) FROM credentials"),
        credentials,
        "nothing signed"
    );
    assert_eq!(count(&c, "SELECT COUNT(*) FROM events"), events);

    // Nor is a status list published from it, nor is its code written again.
    let (code, v, _) = issuer(dir, ENDORSE, &["status", "publish", "--out", "s.cwt"]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("LEDGER_DAMAGED"))
    );
    let (code, v, _) = issuer(dir, ENDORSE, &["qr", &serial, "--out", "q.txt"]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("LEDGER_DAMAGED"))
    );

    let (code, v, err) = verify_ledger(dir);
    assert_eq!(code, 2, "{v} {err}");
    assert_eq!(
        damaged_rows(&v),
        vec![("permits".to_owned(), serial.clone())],
        "{v}"
    );
    assert!(
        v["damaged"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("does not match its digest"),
        "{v}"
    );
    // Human output names the row too, and says what to do.
    let o = Command::new(BIN)
        .current_dir(dir)
        .args(["--ledger", "l.sqlite3", "ledger", "verify"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2));
    assert!(out.contains(&format!("DAMAGED permits {serial}")), "{out}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[LEDGER_DAMAGED]"),
        "{o:?}"
    );
}

#[test]
fn damaged_credentials_applications_and_events_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let serial = issue(dir);
    // A submitted application, to be reviewed after its record is damaged.
    let a = applicant(dir, "LEDGER-2");
    let (code, v, err) = issuer(
        dir,
        ISSUED,
        &["apply", "--applicant", &a, "--channel", "counter"],
    );
    // The same person has a permit already: the application is recorded as ineligible or
    // submitted; either way its record is in the ledger.
    assert!(code == 0 || code == 1, "{v} {err}");
    let c = db(dir);
    let app: String = c
        .query_row(
            "SELECT id FROM applications WHERE reference = 'LEDGER-2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE applications SET applicant_json = replace(applicant_json, ?1, ?2) WHERE id = ?3",
        rusqlite::params![NAME, DAMAGED_NAME, app],
    )
    .unwrap();
    // Credentials and events are protected by triggers; a byte flipped on disk is not.
    c.execute_batch(
        "DROP TRIGGER credentials_immutable_u; DROP TRIGGER events_append_only_u;
         UPDATE credentials SET status_index = status_index + 1;
         UPDATE events SET actor = 'someone else' WHERE id = 2;",
    )
    .unwrap();

    let (code, v, err) = verify_ledger(dir);
    assert_eq!(code, 2, "{v} {err}");
    let rows = damaged_rows(&v);
    assert!(rows.contains(&("applications".into(), app.clone())), "{v}");
    assert!(
        rows.contains(&("credentials".into(), format!("{serial} v1"))),
        "{v}"
    );
    // Only the changed event: the chain goes on from its stored link.
    let events: Vec<&str> = rows
        .iter()
        .filter(|(t, _)| t == "events")
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(events, ["2"], "{v}");

    // The damaged credential stops the status list (its index would mark another slot).
    let (code, v, _) = issuer(dir, ENDORSE, &["status", "publish", "--out", "s.cwt"]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("LEDGER_DAMAGED")),
        "{v}"
    );
}

#[test]
fn a_reviewed_application_is_checked_against_its_content_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let a = applicant(dir, "LEDGER-3");
    let (code, v, err) = issuer(
        dir,
        ISSUED,
        &["apply", "--applicant", &a, "--channel", "counter"],
    );
    assert_eq!(code, 0, "{v} {err}");
    let app = v["application"].as_str().unwrap().to_owned();
    let c = db(dir);
    c.execute(
        "UPDATE applications SET applicant_json = replace(applicant_json, ?1, ?2) WHERE id = ?3",
        rusqlite::params![NAME, DAMAGED_NAME, app],
    )
    .unwrap();
    let (code, v, err) = issuer(
        dir,
        ISSUED,
        &[
            "review",
            &app,
            "--approve",
            "--reason",
            "ok",
            "--reviewer",
            "王警官",
            "--out",
            "p.txt",
        ],
    );
    assert_eq!(code, 2, "{v} {err}");
    assert_eq!(v["error"]["code"], "LEDGER_DAMAGED", "{v}");
    assert_eq!(
        count(&c, "SELECT COUNT(*) FROM credentials"),
        0,
        "nothing signed"
    );
}

/// A ledger made before migration 3 (no digests, no chain) is back-filled when opened: it
/// verifies clean, and its permits can be endorsed.
#[test]
fn an_older_ledger_is_back_filled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let serial = issue(dir);
    batch(dir, "b");
    let c = db(dir);
    // Undo migrations 3 and 4 as an issuer of schema 2 would have left the file.
    c.execute_batch(
        "DROP TRIGGER trust_publications_u; DROP TRIGGER trust_publications_d;
         DROP TRIGGER status_publications_u; DROP TRIGGER status_publications_d;
         DROP TABLE trust_publications;
         ALTER TABLE permits DROP COLUMN digest;
         ALTER TABLE credentials DROP COLUMN digest;
         ALTER TABLE events DROP COLUMN chain;
         ALTER TABLE batch_intents DROP COLUMN digest;
         DELETE FROM schema_migrations WHERE version > 2;",
    )
    .unwrap();
    drop(c);
    let (code, v, err) = verify_ledger(dir);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["events"], count(&db(dir), "SELECT COUNT(*) FROM events"));
    let c = db(dir);
    assert_eq!(count(&c, "SELECT MAX(version) FROM schema_migrations"), 4);
    assert_eq!(
        count(&c, "SELECT COUNT(*) FROM permits WHERE length(digest) = 64"),
        3
    );
    assert_eq!(
        count(
            &c,
            "SELECT COUNT(*) FROM batch_intents WHERE length(digest) = 64 AND state = 'done'"
        ),
        2
    );
    // The triggers dropped for the back-fill are back.
    assert!(
        c.execute("UPDATE credentials SET cause = 'x'", []).is_err(),
        "credentials immutable again"
    );
    assert!(c.execute("UPDATE events SET actor = 'x'", []).is_err());
    let (code, v, err) = issuer(dir, ENDORSE, &["endorse", &serial, "--out", "e.txt"]);
    assert_eq!(code, 0, "{v} {err}");
    let (code, v, err) = verify_ledger(dir);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["credentials"], 4);
    // The same batch again reads its intents: intact, nothing new.
    batch(dir, "b");
    assert_eq!(count(&c, "SELECT COUNT(*) FROM credentials"), 4);
}

/// Runs a batch of two other applicants into `out`.
fn batch(dir: &Path, out: &str) {
    let mut lines = String::new();
    for (i, (id, birth)) in [
        ("440305198512310026", "1985-12-31"),
        ("430524200002292460", "2000-02-29"),
    ]
    .iter()
    .enumerate()
    {
        let mut a: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(applicant(dir, "x")).unwrap()).unwrap();
        a["ref"] = format!("BATCH-{i}").into();
        a["id_number"] = (*id).into();
        a["birth_date"] = (*birth).into();
        a["hukou_division"] = "430524".into();
        lines.push_str(&format!("{a}\n"));
    }
    std::fs::write(dir.join("batch.jsonl"), lines).unwrap();
    let (code, v, err) = issuer(
        dir,
        ISSUED,
        &[
            "batch",
            "--input",
            "batch.jsonl",
            "--out",
            out,
            "--text",
            "--quiet",
        ],
    );
    assert_eq!(code, 0, "{v} {err}");
}

#[test]
fn a_damaged_batch_intent_is_not_signed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    batch(dir, "b");
    let c = db(dir);
    let credentials = count(&c, "SELECT COUNT(*) FROM credentials");
    // A crash after the intents were recorded leaves them pending; one of them is damaged.
    c.execute_batch(
        "DROP TRIGGER batch_intents_done_is_final;
         UPDATE batch_intents SET state = 'pending', plan_json = replace(plan_json, '\"test\":true', '\"test\":false') WHERE line = 1;",
    )
    .unwrap();
    let (code, v, err) = issuer(
        dir,
        ISSUED,
        &[
            "batch",
            "--input",
            "batch.jsonl",
            "--out",
            "b",
            "--text",
            "--quiet",
        ],
    );
    assert_eq!(code, 2, "{v} {err}");
    assert_eq!(v["error"]["code"], "LEDGER_DAMAGED", "{v} {err}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("batch intent BATCH-0: the record does not match its digest"),
        "{v}"
    );
    assert_eq!(count(&c, "SELECT COUNT(*) FROM credentials"), credentials);
}
