//! The lifecycle acceptance checks of the ledger issue, run through the two command-line tools
//! exactly as an operator would: a fresh ledger, `issuer apply` → `issuer review --approve` →
//! `verifier verify`; cancellation and status lists (with rollback refusal from the verifier's
//! state file); the endorsement window and suspension; an address change superseding the old
//! credential; and the eligibility refusals.
//!
//! The binaries are the ones Cargo built for this workspace (`cargo test --workspace` builds
//! them); when this test is run on its own they are built first.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{bin, example_applicant};

struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

fn run(name: &str, dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(bin(name))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}

/// `issuer --ledger l.sqlite3 --json --now NOW ARGS…`
fn issuer(dir: &Path, now: &str, args: &[&str]) -> Run {
    let mut all = vec!["--ledger", "l.sqlite3", "--json", "--now", now];
    all.extend_from_slice(args);
    run("issuer", dir, &all)
}

/// `verifier verify FILE --json --at AT ARGS…`; returns (exit code, verdict, reason codes).
fn verify(dir: &Path, file: &str, at: &str, args: &[&str]) -> (i32, String, Vec<String>) {
    let mut all = vec!["verify", file, "--json", "--at", at];
    all.extend_from_slice(args);
    let r = run("verifier", dir, &all);
    let verdict = r.json["verdict"].as_str().unwrap_or("").to_owned();
    let codes = r.json["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (r.code, verdict, codes)
}

fn has(codes: &[String], c: &str) -> bool {
    codes.iter().any(|x| x == c)
}

/// Applies with the given applicant JSON and approves; returns the permit serial.
fn apply_and_approve(dir: &Path, applicant: &str, now: &str, out: &str) -> String {
    std::fs::write(dir.join("applicant.json"), applicant).unwrap();
    let a = issuer(dir, now, &["apply", "--applicant", "applicant.json"]);
    assert_eq!(a.code, 0, "apply: {}", a.stderr);
    assert_eq!(a.json["state"], "submitted", "{}", a.json);
    let app = a.json["application"].as_str().unwrap().to_owned();
    let r = issuer(
        dir,
        now,
        &[
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
    );
    assert_eq!(r.code, 0, "review: {}", r.stderr);
    assert!(dir.join(out).is_file());
    r.json["serial"].as_str().unwrap().to_owned()
}

const ISSUED: &str = "2026-11-25T10:00:00+08:00";

#[test]
fn apply_review_cancel_status_lists_and_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let serial = apply_and_approve(d, &example_applicant(), ISSUED, "permit.png");

    let at = "2026-11-26T09:00:00+08:00";
    let (code, verdict, codes) = verify(d, "permit.png", at, &["--no-state"]);
    assert_eq!((code, verdict.as_str()), (0, "VALID"), "{codes:?}");

    let p1 = issuer(d, ISSUED, &["status", "publish", "--out", "status-1.cwt"]);
    assert_eq!(p1.code, 0, "{}", p1.stderr);
    let c = issuer(
        d,
        "2026-11-25T12:00:00+08:00",
        &[
            "cancel",
            &serial,
            "--reason",
            "left Guangdong",
            "--reporter",
            "police",
        ],
    );
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert_eq!(c.json["state"], "cancelled");
    let p2 = issuer(
        d,
        "2026-11-25T13:00:00+08:00",
        &["status", "publish", "--out", "status-2.cwt"],
    );
    assert_eq!(p2.code, 0, "{}", p2.stderr);
    assert_eq!(p2.json["publication"]["sequence"], 2);
    assert_eq!(p2.json["counts"]["revoked"], 1);

    // The new list: REVOKED. The old one, to a verifier that has not seen the new: still VALID.
    let (code, verdict, codes) = verify(
        d,
        "permit.png",
        at,
        &["--status", "status-2.cwt", "--no-state"],
    );
    assert_eq!((code, verdict.as_str()), (1, "INVALID"));
    assert!(has(&codes, "REVOKED"), "{codes:?}");
    let (code, verdict, codes) = verify(
        d,
        "permit.png",
        at,
        &["--status", "status-1.cwt", "--no-state"],
    );
    assert_eq!((code, verdict.as_str()), (0, "VALID"), "{codes:?}");

    // A verifier that has seen sequence 2 refuses sequence 1 as a rollback, never VALID.
    let state = ["--state", "verifier-state.json"];
    let (_, verdict, codes) = verify(
        d,
        "permit.png",
        at,
        &["--status", "status-2.cwt", state[0], state[1]],
    );
    assert_eq!(verdict, "INVALID");
    assert!(has(&codes, "REVOKED"), "{codes:?}");
    let (code, verdict, codes) = verify(
        d,
        "permit.png",
        at,
        &["--status", "status-1.cwt", state[0], state[1]],
    );
    assert!(has(&codes, "STATUS_ROLLBACK"), "{codes:?}");
    assert_ne!(verdict, "VALID");
    assert_ne!(code, 0);

    // Cancellation is terminal: endorsing afterwards is refused with the state named.
    let e = issuer(d, "2027-11-01T10:00:00+08:00", &["endorse", &serial]);
    assert_eq!(e.code, 1, "{}", e.stderr);
    assert!(e.stderr.contains("cancelled"), "{}", e.stderr);
}

#[test]
fn endorsement_window_suspension_and_change() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let serial = apply_and_approve(d, &example_applicant(), ISSUED, "permit.png");

    // Two months before the first anniversary (2027-11-25): refused, the window named.
    let early = issuer(d, "2027-09-25T10:00:00+08:00", &["endorse", &serial]);
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(
        early.stderr.contains("2027-10-25") && early.stderr.contains("2027-11-25"),
        "{}",
        early.stderr
    );
    // A day after the un-endorsed anniversary the permit verifies SUSPENDED.
    let after = "2027-11-26T10:00:00+08:00";
    let (code, verdict, codes) = verify(d, "permit.png", after, &["--no-state"]);
    assert_eq!((code, verdict.as_str()), (1, "INVALID"));
    assert!(
        has(&codes, "SUSPENDED") && has(&codes, "ENDORSEMENT_OVERDUE"),
        "{codes:?}"
    );
    // Inside the window: endorsed; the new credential is VALID past the anniversary.
    let ok = issuer(
        d,
        "2027-11-01T10:00:00+08:00",
        &["endorse", &serial, "--out", "endorsed.png"],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json["endorsed_until"], "2028-11-25", "{}", ok.json);
    let (code, verdict, codes) = verify(d, "endorsed.png", after, &["--no-state"]);
    assert_eq!((code, verdict.as_str()), (0, "VALID"), "{codes:?}");

    // An address change in the same city: a new credential that verifies; the old one is
    // SUPERSEDED by the next status list.
    let ch = issuer(
        d,
        "2027-11-02T10:00:00+08:00",
        &[
            "change",
            &serial,
            "--residence-address",
            "广东省惠州市惠城区江北街道云山西路8号3栋502房",
            "--out",
            "changed.png",
        ],
    );
    assert_eq!(ch.code, 0, "{}", ch.stderr);
    let p = issuer(
        d,
        "2027-11-02T11:00:00+08:00",
        &["status", "publish", "--out", "status.cwt"],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    let at = "2027-11-02T12:00:00+08:00";
    let with_list = ["--status", "status.cwt", "--no-state"];
    let (code, verdict, codes) = verify(d, "changed.png", at, &with_list);
    assert_eq!((code, verdict.as_str()), (0, "VALID"), "{codes:?}");
    let (_, verdict, codes) = verify(d, "endorsed.png", at, &with_list);
    assert_eq!(verdict, "INVALID");
    assert!(has(&codes, "SUPERSEDED"), "{codes:?}");

    // Changing to another city is refused with the reason.
    let other = issuer(
        d,
        "2027-11-03T10:00:00+08:00",
        &["change", &serial, "--residence-district", "440106"],
    );
    assert_eq!(other.code, 1, "{}", other.stderr);
}

/// A refusal case: a tag, the fields changed in the example applicant, the expected code.
type Case<'a> = (&'a str, &'a [(&'a str, Value)], &'a str);

#[test]
fn eligibility_refusals_name_their_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let base: Value = serde_json::from_str(&example_applicant()).unwrap();
    let cases: [Case<'_>; 3] = [
        (
            "SZ",
            &[
                ("residence_city", "440300".into()),
                ("residence_district", "440305".into()),
                (
                    "residence_address",
                    "广东省深圳市南山区粤海街道科技园路1号".into(),
                ),
            ],
            "SERVICE_NOT_OFFERED",
        ),
        // 100 days before 2026-11-25.
        (
            "SHORT",
            &[("residence_registered_on", "2026-08-17".into())],
            "RESIDENCE_TOO_SHORT",
        ),
        ("NOBASIS", &[("basis", Value::Array(vec![]))], "NO_BASIS"),
    ];
    for (tag, changes, expected) in cases {
        let mut a = base.clone();
        a["ref"] = format!("REFUSED-{tag}").into();
        for (k, v) in changes {
            a[*k] = v.clone();
        }
        std::fs::write(d.join("a.json"), a.to_string()).unwrap();
        let r = issuer(d, ISSUED, &["apply", "--applicant", "a.json"]);
        assert_eq!(r.code, 1, "{tag}: {}", r.stderr);
        if r.json.get("error").is_some() {
            // Refused by the applicant validation before the eligibility check (an empty basis
            // is not a valid record): no application is recorded; the field and its reason
            // code are in the error, on stdout (--json) and stderr.
            assert_eq!(
                r.json["error"]["code"], "INVALID_APPLICANT",
                "{tag}: {}",
                r.json
            );
            assert_eq!(
                r.json["error"]["problems"][0]["code"], expected,
                "{tag}: {}",
                r.json
            );
            assert_eq!(r.json["error"]["problems"][0]["field"], "basis", "{tag}");
            assert_eq!(r.json["exit_code"], 1, "{tag}: {}", r.json);
            assert!(
                r.stderr.contains(expected) && r.stderr.contains("`basis`"),
                "{tag}: {}",
                r.stderr
            );
            continue;
        }
        assert_eq!(r.json["state"], "ineligible", "{tag}: {}", r.json);
        let codes: Vec<&str> = r.json["eligibility"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["code"].as_str())
            .collect();
        assert_eq!(codes, [expected], "{tag}");
    }
}

/// The done-when of the live-presentation issue, through the three tools: a device key, a
/// bound permit and its wallet, a hotel presentation verified as a hotel (no address, no full
/// ID number, even with `--reveal-id`), the same code 120 s later (`PRESENTATION_EXPIRED`) and
/// scanned again (`PRESENTATION_REPLAYED`), the bare code (`PRESENTATION_REQUIRED`), the police
/// presentation verified as police (every field), and a lost phone rebound with `change`.
#[test]
fn live_presentations_bound_to_the_holder_device() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let g = run("holder", d, &["--json", "keys", "generate", "--name", "H"]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert!(d.join("H.key.pem").is_file() && d.join("H.pub.jwk.json").is_file());
    std::fs::write(d.join("applicant.json"), example_applicant()).unwrap();
    let i = issuer(
        d,
        ISSUED,
        &[
            "issue",
            "--applicant",
            "applicant.json",
            "--holder-key",
            "H.pub.jwk.json",
            "--out",
            "c.png",
        ],
    );
    assert_eq!(i.code, 0, "{}", i.stderr);
    assert!(d.join("c.wallet.json").is_file(), "{}", i.stderr);
    let t = "2026-11-26T09:00:00+08:00";
    let present = |view: &str, key: &str, wallet: &str, out: &str| {
        run(
            "holder",
            d,
            &[
                "--json",
                "present",
                "--credential",
                wallet,
                "--key",
                key,
                "--view",
                view,
                "--out",
                out,
                "--at",
                t,
                "--force",
            ],
        )
    };
    let p = present("hotel", "H.key.pem", "c.wallet.json", "p.png");
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(p.json["qr_version"].as_u64().unwrap() <= 12, "{}", p.json);
    let state = ["--state", "state.json"];
    let hotel = |at: &str, extra: &[&str]| {
        let mut args = vec!["verify", "p.png", "--json", "--at", at, "--role", "hotel"];
        args.extend_from_slice(&state);
        args.extend_from_slice(extra);
        run("verifier", d, &args)
    };
    let codes = |r: &Run| -> Vec<String> {
        r.json["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let v = hotel("2026-11-26T09:00:05+08:00", &["--reveal-id"]);
    assert_eq!(v.json["verdict"], "VALID", "{}", v.json);
    let permit = &v.json["permit"];
    for absent in [
        "residence_address",
        "residence_district",
        "id_number",
        "id_number_masked",
        "name",
        "hukou_place",
    ] {
        assert!(
            permit.get(absent).is_none(),
            "hotel sees {absent}: {permit}"
        );
    }
    assert_eq!(permit["view"], "basic");
    assert_eq!(permit["id_last4"], "9625");
    assert_eq!(permit["name_masked"], "陈*琪");
    // The scanned text never holds the address or the full ID; the human report shows neither.
    let text = String::from_utf8_lossy(
        &Command::new(bin("verifier"))
            .current_dir(d)
            .args([
                "verify",
                "p.png",
                "--no-state",
                "--at",
                "2026-11-26T09:00:05+08:00",
                "--role",
                "hotel",
                "--reveal-id",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(text.starts_with("VALID"), "{text}");
    assert!(
        !text.contains("文昌一路") && !text.contains("360730199503089625"),
        "{text}"
    );
    let again = hotel("2026-11-26T09:00:20+08:00", &[]);
    assert_eq!(again.json["verdict"], "VALID");
    assert!(
        codes(&again).contains(&"PRESENTATION_REPLAYED".to_owned()),
        "{}",
        again.json
    );
    let late = hotel("2026-11-26T09:02:00+08:00", &[]);
    assert_eq!(late.code, 1);
    assert_eq!(late.json["verdict"], "INVALID");
    assert!(
        codes(&late).contains(&"PRESENTATION_EXPIRED".to_owned()),
        "{}",
        late.json
    );
    // The bare code of a bound permit is a screenshot, whoever scans it.
    let (code, verdict, c) = verify(d, "c.png", "2026-11-26T09:00:05+08:00", &["--no-state"]);
    assert_eq!((code, verdict.as_str()), (1, "INVALID"));
    assert!(has(&c, "PRESENTATION_REQUIRED"), "{c:?}");
    // Police: the full view, every field.
    let pp = present("police", "H.key.pem", "c.wallet.json", "pp.png");
    assert_eq!(pp.code, 0, "{}", pp.stderr);
    assert!(pp.json["qr_version"].as_u64().unwrap() <= 15, "{}", pp.json);
    let police = run(
        "verifier",
        d,
        &[
            "verify",
            "pp.png",
            "--json",
            "--no-state",
            "--at",
            "2026-11-26T09:00:05+08:00",
            "--role",
            "police",
            "--reveal-id",
        ],
    );
    assert_eq!(police.json["verdict"], "VALID", "{}", police.json);
    let permit = &police.json["permit"];
    assert_eq!(permit["view"], "full");
    assert_eq!(permit["id_number"], "360730199503089625");
    assert!(
        permit["residence_address"]
            .as_str()
            .unwrap()
            .contains("文昌一路"),
        "{permit}"
    );
    // A lost phone: a new device key rebinds the permit; the old wallet does not fit it.
    let g2 = run("holder", d, &["keys", "generate", "--name", "H2"]);
    assert_eq!(g2.code, 0, "{}", g2.stderr);
    let serial = i.json["serial"].as_str().unwrap();
    let ch = issuer(
        d,
        "2026-11-26T08:30:00+08:00",
        &[
            "change",
            serial,
            "--holder-key",
            "H2.pub.jwk.json",
            "--channel",
            "counter",
            "--out",
            "c2.png",
        ],
    );
    assert_eq!(ch.code, 0, "{}", ch.stderr);
    let wrong = present("hotel", "H2.key.pem", "c.wallet.json", "x.png");
    assert_eq!(wrong.code, 1);
    assert_eq!(
        wrong.json["error"]["code"], "KEY_MISMATCH",
        "{}",
        wrong.json
    );
    let p2 = present("hotel", "H2.key.pem", "c2.wallet.json", "p2.png");
    assert_eq!(p2.code, 0, "{}", p2.stderr);
    let (_, verdict, c) = verify(
        d,
        "p2.png",
        "2026-11-26T09:00:05+08:00",
        &["--no-state", "--role", "hotel"],
    );
    assert_eq!(verdict, "VALID", "{c:?}");
}
