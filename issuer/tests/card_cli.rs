//! `issuer card` through the binary: printing an existing card again (another format, same
//! number, no new card, no fee) and fonts that cannot draw a card.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_issuer");
const NOW: &str = "2026-11-25T10:00:00+08:00";

/// Runs `issuer --ledger l.sqlite3 --json --now NOW ARGS…` in `dir`: (exit code, stdout JSON,
/// stderr).
fn issuer(dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = Command::new(BIN)
        .current_dir(dir)
        .env_remove("ISSUER_CARD_FONT")
        .args(["--ledger", "l.sqlite3", "--json", "--now", NOW])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr: {stderr}"));
    (o.status.code().unwrap(), v, stderr)
}

fn ok(run: (i32, serde_json::Value, String)) -> serde_json::Value {
    assert_eq!(run.0, 0, "{} {}", run.1, run.2);
    run.1
}

fn failed(run: (i32, serde_json::Value, String), exit: i32, code: &str) -> serde_json::Value {
    assert_eq!(run.0, exit, "{} {}", run.1, run.2);
    assert_eq!(run.1["error"]["code"], code, "{}", run.1);
    assert!(run.2.contains(&format!("[{code}]")), "{}", run.2);
    run.1
}

/// Issues the example applicant; returns the serial.
fn issue(dir: &Path) -> String {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json");
    let v = ok(issuer(
        dir,
        &[
            "issue",
            "--applicant",
            example.to_str().unwrap(),
            "--out",
            "p.txt",
        ],
    ));
    v["serial"].as_str().unwrap().to_owned()
}

/// The cards recorded for `serial` (from `issuer show`).
fn cards(dir: &Path, serial: &str) -> Vec<serde_json::Value> {
    let v = ok(issuer(dir, &["show", serial]));
    v["cards"].as_array().unwrap().clone()
}

#[test]
fn a_card_is_printed_again_without_a_new_card_or_fee() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let serial = issue(d);

    // Nothing to print again before the first card.
    failed(
        issuer(d, &["card", &serial, "--reprint", "--out", "none.svg"]),
        1,
        "ILLEGAL_TRANSITION",
    );
    assert!(!d.join("none.svg").exists());

    let first = ok(issuer(
        d,
        &["card", &serial, "--kind", "first", "--out", "card.svg"],
    ));
    assert_eq!(first["number"], 1, "{first}");
    // The same card as PNG: same number, same kind, no fee, no new card.
    let again = ok(issuer(
        d,
        &["card", &serial, "--reprint", "--out", "card.png"],
    ));
    assert_eq!(again["number"], 1, "{again}");
    assert_eq!(again["kind"], "first", "{again}");
    assert_eq!(again["reprint"], true, "{again}");
    assert_eq!(again["image"]["format"], "png", "{again}");
    let png = std::fs::read(d.join("card.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert_eq!(cards(d, &serial).len(), 1);
    // The reprint is in the permit's history.
    let history = ok(issuer(d, &["show", &serial]));
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"card.reprinted"), "{kinds:?}");

    // A card number that was never issued.
    failed(
        issuer(
            d,
            &[
                "card",
                &serial,
                "--reprint",
                "--number",
                "2",
                "--out",
                "two.svg",
            ],
        ),
        2,
        "NOT_FOUND",
    );
    // After a replacement, the replaced card is not printed again; the current one is.
    let replacement = ok(issuer(d, &["card", &serial, "--kind", "replacement"]));
    assert_eq!(replacement["number"], 2, "{replacement}");
    let v = failed(
        issuer(
            d,
            &[
                "card",
                &serial,
                "--reprint",
                "--number",
                "1",
                "--out",
                "old.svg",
            ],
        ),
        1,
        "ILLEGAL_TRANSITION",
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("card no. 2"),
        "{v}"
    );
    assert!(!d.join("old.svg").exists());
    let v = ok(issuer(
        d,
        &[
            "card",
            &serial,
            "--reprint",
            "--number",
            "2",
            "--out",
            "two.svg",
        ],
    ));
    assert_eq!(v["kind"], "replacement", "{v}");
    assert_eq!(
        v["fee_yuan"], 20,
        "the card's fee as recorded, not a new one: {v}"
    );
    assert_eq!(cards(d, &serial).len(), 2);
    // --number without --reprint, --reprint with --kind, --reprint without --out: usage.
    for args in [
        &["card", &serial, "--kind", "exchange", "--number", "2"][..],
        &[
            "card",
            &serial,
            "--kind",
            "exchange",
            "--reprint",
            "--out",
            "x.svg",
        ][..],
        &["card", &serial, "--reprint"][..],
    ] {
        let (status, v, stderr) = issuer(d, args);
        assert_eq!(
            (status, &v["error"]["code"]),
            (2, &"USAGE".into()),
            "{v} {stderr}"
        );
    }
    assert_eq!(cards(d, &serial).len(), 2);
}

#[test]
fn fonts_that_cannot_draw_a_card_are_refused_with_their_own_code() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let serial = issue(d);

    // A font file that does not exist is a file error, naming the file.
    let v = failed(
        issuer(
            d,
            &[
                "card",
                &serial,
                "--kind",
                "first",
                "--out",
                "card.png",
                "--font",
                "no-such-font.ttf",
            ],
        ),
        2,
        "IO_ERROR",
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-font.ttf"),
        "{v}"
    );

    // A Latin-only font: refused when loaded, naming the font and the missing script.
    let latin = Path::new(env!("CARGO_MANIFEST_DIR")).join("fonts/test/latin-only.ttf");
    let v = failed(
        issuer(
            d,
            &[
                "card",
                &serial,
                "--kind",
                "first",
                "--out",
                "card.png",
                "--font",
                latin.to_str().unwrap(),
            ],
        ),
        2,
        "FONT_UNUSABLE",
    );
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("latin-only.ttf") && message.contains("CJK"),
        "{message}"
    );
    assert!(
        v["error"]["hint"].as_str().unwrap().contains("--font"),
        "{v}"
    );
    // Not a font at all.
    std::fs::write(d.join("text.ttf"), b"not a font").unwrap();
    failed(
        issuer(
            d,
            &[
                "card", &serial, "--kind", "first", "--out", "card.png", "--font", "text.ttf",
            ],
        ),
        2,
        "FONT_UNUSABLE",
    );
    // Nothing was recorded or written.
    assert!(cards(d, &serial).is_empty());
    assert!(!d.join("card.png").exists());

    // A name with a character the embedded font lacks (CJK Extension B): refused, not a box.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json");
    let mut rare: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
    rare["ref"] = "RARE-1".into();
    rare["name"] = "陈\u{20000}琪".into();
    rare["id_number"] = "360730199503089609".into();
    std::fs::write(d.join("rare.json"), serde_json::to_vec(&rare).unwrap()).unwrap();
    let v = ok(issuer(
        d,
        &["issue", "--applicant", "rare.json", "--out", "rare.txt"],
    ));
    let rare_serial = v["serial"].as_str().unwrap();
    let v = failed(
        issuer(
            d,
            &["card", rare_serial, "--kind", "first", "--out", "rare.png"],
        ),
        2,
        "FONT_UNUSABLE",
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("U+20000"),
        "{v}"
    );
    assert!(cards(d, rare_serial).is_empty());
    // The SVG card needs no font of ours.
    ok(issuer(
        d,
        &["card", rare_serial, "--kind", "first", "--out", "rare.svg"],
    ));
}
