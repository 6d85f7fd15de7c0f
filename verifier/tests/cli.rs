//! CLI tests of `verifier`: exact exit codes and reason codes. Credential texts come from the
//! negative-vector files in `tests/vectors/negative/` (signed with the TEST-ONLY demo key).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vector(name: &str) -> (String, String) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/negative")
        .join(format!("{name}.json"));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    (
        j["text"].as_str().unwrap().to_owned(),
        j["at"].as_str().unwrap().to_owned(),
    )
}

fn verifier(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_verifier"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        // The verifier may exit before reading its input (a usage error): a broken pipe here is
        // its exit racing our write, not a failure; the exit status says what happened.
        match child.stdin.take().unwrap().write_all(s.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => panic!("writing the verifier's stdin: {e}"),
        }
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn codes(v: &serde_json::Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies a text from stdin at the vector's time; returns (exit code, JSON).
fn verify_text(text: &str, at: &str) -> (i32, serde_json::Value) {
    let o = verifier(
        &["verify", "-", "--json", "--no-state", "--at", at],
        Some(&format!("{text}\r\n")),
    );
    (o.status.code().unwrap(), json(&o))
}

#[test]
fn valid_permit_exit_0_with_test_warning() {
    let (text, at) = vector("00-valid");
    let (code, v) = verify_text(&text, &at);
    assert_eq!(code, 0);
    assert_eq!(v["verdict"], "VALID");
    assert_eq!(v["exit_code"], 0);
    assert!(codes(&v).contains(&"TEST_CREDENTIAL".to_owned()));
    assert_eq!(v["permit"]["name"], "欧阳晓燕");
    assert_eq!(v["permit"]["id_number_masked"], "430***********9021");
    assert!(
        v["permit"].get("id_number").is_none(),
        "full ID only with --reveal-id"
    );
    assert_eq!(v["provenance"]["key_id"], "6f4d0b6ed549029b");
    assert_eq!(v["provenance"]["clock"]["source"], "given");
    assert_eq!(v["schema"], "gdrp-verify/1");
}

#[test]
fn each_reason_code_and_exit_code() {
    for (name, code, exit) in [
        ("01-url", "NOT_A_PERMIT", 1),
        ("02-eu-dcc", "UNSUPPORTED_FORMAT", 1),
        ("05-version-2", "UNSUPPORTED_VERSION", 1),
        ("10-non-digit", "MALFORMED", 1),
        ("30-trailing-byte", "MALFORMED", 1),
        ("40-unknown-key", "KEY_UNKNOWN", 3),
        ("41-signature-bit-flipped", "SIGNATURE_INVALID", 1),
        ("70-expired", "EXPIRED", 1),
        ("71-not-yet-valid", "NOT_YET_VALID", 1),
        ("72-endorsement-overdue", "SUSPENDED", 1),
        ("13-too-long", "INPUT_TOO_LARGE", 1),
    ] {
        let (text, at) = vector(name);
        let (c, v) = verify_text(&text, &at);
        assert_eq!(c, exit, "{name}: {v}");
        assert!(
            codes(&v).contains(&code.to_owned()),
            "{name}: {:?}",
            codes(&v)
        );
        assert!(
            v["permit"].is_null() || matches!(code, "EXPIRED" | "NOT_YET_VALID" | "SUSPENDED"),
            "{name}"
        );
    }
}

#[test]
fn unreadable_inputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.png");
    std::fs::write(
        &random,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let o = verifier(
        &["verify", random.to_str().unwrap(), "--json", "--no-state"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(codes(&json(&o)), ["IMAGE_UNREADABLE"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));

    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(200, 200, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let o = verifier(
        &["verify", blank.to_str().unwrap(), "--json", "--no-state"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(codes(&json(&o)), ["NO_CODE_FOUND"]);

    let o = verifier(&["verify", "/nonexistent/permit.png", "--no-state"], None);
    assert_eq!(o.status.code(), Some(2));

    let o = verifier(
        &["verify", "-", "--at", "yesterday", "--no-state"],
        Some("x"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--at"));
}

#[test]
fn decode_prints_every_code_or_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (text, _) = vector("00-valid");
    let img = qr_png(&text);
    let p = dir.path().join("p.png");
    std::fs::write(&p, img).unwrap();
    let o = verifier(&["decode", p.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), format!("{text}\n"));
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(100, 100, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let o = verifier(&["decode", blank.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

/// A QR PNG for `text`, rendered with the `qrcode` crate (the verifier does not depend on the
/// issuer).
fn qr_png(text: &str) -> Vec<u8> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).unwrap();
    let w = code.width();
    let scale = 6;
    let quiet = 4;
    let side = (w + 2 * quiet) * scale;
    let mut img = image::GrayImage::from_pixel(side as u32, side as u32, image::Luma([255]));
    for y in 0..w {
        for x in 0..w {
            if code[(x, y)] == qrcode::Color::Dark {
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel(
                            ((x + quiet) * scale + dx) as u32,
                            ((y + quiet) * scale + dy) as u32,
                            image::Luma([0]),
                        );
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn image_input_and_human_output() {
    let dir = tempfile::tempdir().unwrap();
    let (text, at) = vector("00-valid");
    let p = dir.path().join("permit.jpg.png");
    std::fs::write(&p, qr_png(&text)).unwrap();
    let o = verifier(
        &["verify", p.to_str().unwrap(), "--no-state", "--at", &at],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("VALID 有效"), "{out}");
    assert!(
        out.contains("姓名 Name") && out.contains("欧阳晓燕") && out.contains("430***********9021")
    );
    assert!(out.contains("TEST_CREDENTIAL"));
    // The same bytes under a misleading extension are read by content.
    let q = dir.path().join("permit.txt");
    std::fs::write(&q, qr_png(&text)).unwrap();
    let o = verifier(
        &["verify", q.to_str().unwrap(), "--no-state", "--at", &at],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn clock_floor_from_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(
        &state,
        r#"{"format":"gdrp-verifier-state/1","clock_floor":"2099-01-01T00:00:00Z","trust_sequences":{},"status_sequences":{}}"#,
    )
    .unwrap();
    let (text, _) = vector("00-valid");
    let o = verifier(
        &["verify", "-", "--json", "--state", state.to_str().unwrap()],
        Some(&text),
    );
    assert_eq!(o.status.code(), Some(3));
    let v = json(&o);
    assert_eq!(v["verdict"], "INDETERMINATE");
    assert!(codes(&v).contains(&"CLOCK_BEHIND".to_owned()));
    // A damaged state file is an error naming the file, not a silent reset.
    std::fs::write(&state, "{").unwrap();
    let o = verifier(
        &["verify", "-", "--state", state.to_str().unwrap()],
        Some(&text),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("state.json"));
}

#[test]
fn several_inputs_give_json_lines_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (text, at) = vector("00-valid");
    std::fs::write(dir.path().join("a.png"), qr_png(&text)).unwrap();
    std::fs::write(dir.path().join("b.png"), qr_png("https://example.com")).unwrap();
    std::fs::write(dir.path().join("c.png"), b"not an image").unwrap();
    let o = verifier(
        &[
            "verify",
            dir.path().to_str().unwrap(),
            "--json",
            "--no-state",
            "--at",
            &at,
        ],
        None,
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["verdict"], "VALID");
    assert_eq!(codes(&lines[1]), ["NOT_A_PERMIT"]);
    assert_eq!(codes(&lines[2]), ["IMAGE_UNREADABLE"]);
    assert_eq!(lines[3]["summary"]["inputs"], 3);
    assert_eq!(lines[3]["summary"]["valid"], 1);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the worst verdict sets the exit code"
    );
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn foreign_corpus_image_is_unsupported_format() {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/qr-credentials/dcc/qr_corpus/AT_1.png");
    if !d.exists() {
        eprintln!("skipped: ../shared corpora not beside the checkout");
        return;
    }
    let o = verifier(
        &["verify", d.to_str().unwrap(), "--json", "--no-state"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(codes(&v), ["UNSUPPORTED_FORMAT"]);
    assert_eq!(
        v["codes"][0]["format"],
        "EU Digital COVID Certificate (HC1:)"
    );
}

/// Errors that stop the whole run (not one input's verdict) exit 2 with a stable reason code:
/// on stderr, and with `--json` as `{"error": {"code", "message", "hint"}, "exit_code": 2}`.
#[test]
fn run_level_errors_have_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (text, at) = vector("00-valid");
    std::fs::write(d.join("garbage.json"), "{\"not\": \"a trust list\"}").unwrap();
    std::fs::write(d.join("garbage.pem"), "not a key").unwrap();
    std::fs::write(d.join("state.json"), "[1, 2").unwrap();
    let p = |name: &str| d.join(name).to_str().unwrap().to_owned();
    let cases: [(Vec<String>, &str, String); 5] = [
        (
            vec!["--at".into(), "yesterday".into()],
            "USAGE",
            "--at".into(),
        ),
        (
            vec!["--trust".into(), p("missing.json")],
            "IO_ERROR",
            p("missing.json"),
        ),
        (
            vec!["--trust".into(), p("garbage.json")],
            "TRUST_LIST_REFUSED",
            "trust list".into(),
        ),
        (
            vec!["--root".into(), p("garbage.pem")],
            "ROOT_KEY_INVALID",
            p("garbage.pem"),
        ),
        (
            vec!["--state".into(), p("state.json")],
            "STATE_UNREADABLE",
            p("state.json"),
        ),
    ];
    for (extra, code, names) in cases {
        let mut args = vec!["verify", "-", "--json"];
        if !extra.iter().any(|a| a == "--state") {
            args.push("--no-state");
        }
        if !extra.iter().any(|a| a == "--at") {
            args.extend(["--at", &at]);
        }
        args.extend(extra.iter().map(String::as_str));
        let o = verifier(&args, Some(&text));
        assert_eq!(o.status.code(), Some(2), "{code}");
        let v = json(&o);
        assert_eq!(v["error"]["code"], code, "{v}");
        assert_eq!(v["exit_code"], 2, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(&names), "{code}: {message}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(&format!("[{code}]")), "{stderr}");
    }
    // A command line that does not parse: clap's message, and the JSON object with --json.
    let o = verifier(&["verify", "-", "--json", "--no-such-flag"], Some(&text));
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["error"]["code"], "USAGE", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--no-such-flag"),
        "{v}"
    );
    // The control: the same text with none of those verifies.
    let o = verifier(
        &["verify", "-", "--json", "--no-state", "--at", &at],
        Some(&text),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Display width of a string as a terminal shows it (CJK two columns), computed here by hand so
/// that the test does not share the implementation's crate.
fn columns(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFF60 => 2,
            _ => 1,
        })
        .sum()
}

/// Issue #16 item 4: an unknown key is a trust-list question, not a forgery.
#[test]
fn unknown_key_is_indeterminate_never_forged() {
    let (text, at) = vector("40-unknown-key");
    let (c, v) = verify_text(&text, &at);
    assert_eq!(c, 3, "{v}");
    assert_eq!(v["verdict"], "INDETERMINATE");
    assert!(!codes(&v).contains(&"SIGNATURE_INVALID".to_owned()), "{v}");
    let r = &v["reasons"][0];
    assert_eq!(r["code"], "KEY_UNKNOWN");
    assert_eq!(r["severity"], "indeterminate");
    let m = r["message"].as_str().unwrap();
    assert!(m.contains("update the trust list"), "{m}");
    assert!(m.contains("days old"), "the trust list's age: {m}");
    assert!(!m.contains("forged") && !m.contains("altered"), "{m}");
    let o = verifier(&["verify", "-", "--no-state", "--at", &at], Some(&text));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("INDETERMINATE"), "{out}");
    assert!(!out.contains("forged"), "{out}");
}

/// Issue #16 item 5: an empty or cut-off scan is a read failure (scan again, exit 2); a text that
/// is complete but wrong stays `MALFORMED` (exit 1).
#[test]
fn empty_or_truncated_scan_is_not_read() {
    let (text, at) = vector("00-valid");
    let digits = text.len() - "GDRP1:".len();
    let cuts = [
        String::new(),
        "\r\n".to_owned(),
        "GDRP".to_owned(),
        "GDRP1:".to_owned(),
        text[..text.len() - 1].to_owned(),
        // Whole 7-byte groups: the digits decode, the CBOR ends early.
        text[..6 + (digits / 17 - 2) * 17].to_owned(),
        text[..6 + 17].to_owned(),
    ];
    for (i, cut) in cuts.iter().enumerate() {
        let (c, v) = verify_text(cut, &at);
        let want = if i < 2 { "NO_TEXT" } else { "TRUNCATED" };
        assert_eq!(c, 2, "cut {i}: {v}");
        assert_eq!(codes(&v), [want], "cut {i}");
        assert_eq!(v["exit_code"], 2);
        let m = v["reasons"][0]["message"].as_str().unwrap();
        assert!(m.contains("scan again"), "{m}");
    }
    let o = verifier(
        &["verify", "-", "--no-state", "--at", &at],
        Some(&text[..text.len() - 20]),
    );
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("NOT READ"), "{out}");
    // Complete but wrong: still MALFORMED, exit 1.
    for name in ["10-non-digit", "30-trailing-byte", "29-non-shortest-length"] {
        let (t, at) = vector(name);
        let (c, v) = verify_text(&t, &at);
        assert_eq!((c, codes(&v)[0].as_str()), (1, "MALFORMED"), "{name}: {v}");
    }
}

/// Issue #16 item 6: every reason in Chinese as well as English; the permit's values aligned by
/// display width.
#[test]
fn reasons_in_chinese_and_english_and_aligned_values() {
    let (text, at) = vector("00-valid");
    let (_, v) = verify_text(&text, &at);
    for r in v["reasons"].as_array().unwrap() {
        let zh = r["message_zh"].as_str().unwrap_or_else(|| panic!("{r}"));
        assert!(zh.chars().any(|c| columns(&c.to_string()) == 2), "{zh}");
        assert!(!r["message"].as_str().unwrap().is_empty());
    }
    let (bad, at2) = vector("41-signature-bit-flipped");
    let o = verifier(&["verify", "-", "--no-state", "--at", &at2], Some(&bad));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("SIGNATURE_INVALID") && out.contains("签名核验失败"),
        "{out}"
    );
    let o = verifier(&["verify", "-", "--no-state", "--at", &at], Some(&text));
    let out = String::from_utf8(o.stdout).unwrap();
    let value_column = |label: &str, value: &str| {
        let line = out
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("{label}: {out}"));
        columns(&line[..line.find(value).unwrap_or_else(|| panic!("{line}"))])
    };
    let name = value_column(" Name", "欧阳晓燕");
    assert_eq!(value_column("ID number", "430*"), name, "{out}");
    assert_eq!(value_column("Hukou", "湖南"), name, "{out}");
    assert_eq!(value_column("Serial", "4829"), name, "{out}");
    assert!(out.contains("仅供测试"), "{out}");
}

/// Issue #16 item 7: an empty directory, a `.txt` of scanner text and an SVG in a directory.
#[test]
fn directories_empty_text_files_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = verifier(&["verify", empty.to_str().unwrap(), "--no-state"], None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("holds no images") && err.contains("[NO_IMAGES]"),
        "{err}"
    );
    let o = verifier(
        &["verify", empty.to_str().unwrap(), "--no-state", "--json"],
        None,
    );
    assert_eq!(json(&o)["error"]["code"], "NO_IMAGES");

    let (text, at) = vector("00-valid");
    let (unknown, _) = vector("40-unknown-key");
    let scans = dir.path().join("scans");
    std::fs::create_dir(&scans).unwrap();
    std::fs::write(
        scans.join("codes.txt"),
        format!("{text}\r\n\r\n{unknown}\n"),
    )
    .unwrap();
    std::fs::write(scans.join("one.txt"), format!("{text}\n")).unwrap();
    std::fs::write(
        scans.join("permit.svg"),
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300" viewBox="0 0 41 41" shape-rendering="crispEdges"><rect width="41" height="41" fill="#fff"/><path fill="#000" d="M4 4h7v1H4z"/></svg>"##,
    )
    .unwrap();
    let o = verifier(
        &[
            "verify",
            scans.to_str().unwrap(),
            "--no-state",
            "--json",
            "--at",
            &at,
        ],
        None,
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_input = |suffix: &str| {
        lines
            .iter()
            .find(|l| l["input"].as_str().is_some_and(|i| i.ends_with(suffix)))
            .unwrap_or_else(|| panic!("{suffix}: {lines:?}"))
    };
    assert_eq!(by_input("codes.txt:1")["verdict"], "VALID");
    assert_eq!(codes(by_input("codes.txt:2"))[0], "KEY_UNKNOWN");
    assert_eq!(by_input("one.txt")["verdict"], "VALID");
    let svg = by_input("permit.svg");
    assert_eq!(codes(svg), ["SVG_NOT_SUPPORTED"]);
    assert_eq!(svg["exit_code"], 2);
    assert!(
        svg["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SVG is not supported, use the PNG")
    );
    assert_eq!(lines.len(), 5, "four reports and the summary: {lines:?}");
}
