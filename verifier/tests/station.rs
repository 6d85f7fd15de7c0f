//! `verifier verify -`: the scan station on a terminal (driven through a pseudo-terminal) and the
//! piped stream (every line a result, in order, nothing cut or dropped; images from memory).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// The valid permit text of the negative vectors and the time it verifies at.
fn permit() -> (String, String) {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/negative/00-valid.json");
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    (
        j["text"].as_str().unwrap().to_owned(),
        j["at"].as_str().unwrap().to_owned(),
    )
}

/// Runs the verifier with `stdin` piped in (written from a thread, so large inputs cannot
/// dead-lock against a full stdout pipe).
fn run_piped(args: &[&str], stdin: Vec<u8>, tmp: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(args)
        .env("TMPDIR", tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// What the pseudo-terminal has shown so far, read on a thread.
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits until the screen shows `needle` `count` times; the time it took.
    fn wait_for(&self, needle: &str, count: usize, start: Instant) -> Duration {
        while self.text().matches(needle).count() < count {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "`{needle}` ×{count} not shown; screen:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        start.elapsed()
    }
}

#[test]
fn scan_station_shows_each_verdict_before_the_next_scan() {
    let (text, at) = permit();
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_verifier"));
    cmd.args(["verify", "-", "--no-state", "--at", &at]);
    cmd.env("TERM", "xterm");
    cmd.env_remove("NO_COLOR");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let shown = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&shown);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let screen = Screen(shown);
    let mut keys = pty.master.take_writer().unwrap();
    screen.wait_for("scan station", 1, Instant::now());

    // A valid permit, as a scanner gun sends it: the code, then Enter.
    let start = Instant::now();
    keys.write_all(format!("{text}\r").as_bytes()).unwrap();
    let banner = screen.wait_for("VALID 有效", 1, start);
    screen.wait_for("scans 1 · valid 1", 1, start);
    let s = screen.text();
    assert!(
        s.contains("\x1b[1;97;42m"),
        "green banner on a terminal:\n{s}"
    );
    assert!(s.contains("欧阳晓燕"), "holder's name shown:\n{s}");
    assert!(!s.contains('\x07'), "no bell for VALID");
    eprintln!("verdict shown {banner:?} after Enter (debug or release build as tested)");

    // Not a permit: its own verdict, the bell, the tally, before anything else is sent.
    let start = Instant::now();
    keys.write_all(b"HELLO WORLD\r").unwrap();
    screen.wait_for("INVALID 无效", 1, start);
    screen.wait_for("scans 2 · valid 1 · invalid 1 · check manually 0", 1, start);
    let s = screen.text();
    assert!(s.contains('\x07'), "bell on anything but VALID");
    assert!(s.contains("NOT_A_PERMIT"), "reason shown:\n{s}");

    // Ctrl-D ends the session with the summary; exit code of the worst verdict (1).
    keys.write_all(b"\x04").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "did not end at Ctrl-D"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.exit_code(), 1);
    screen.wait_for("\"inputs\":2", 1, Instant::now());
}

#[test]
fn scan_station_without_colour_under_no_color() {
    let (text, at) = permit();
    let pty = native_pty_system().openpty(PtySize::default()).unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_verifier"));
    cmd.args(["verify", "-", "--no-state", "--at", &at]);
    cmd.env("NO_COLOR", "1");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut keys = pty.master.take_writer().unwrap();
    keys.write_all(format!("{text}\r\x04").as_bytes()).unwrap();
    let mut shown = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        shown.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&shown).contains("\"inputs\":1") {
            break;
        }
    }
    let s = String::from_utf8_lossy(&shown);
    assert!(s.contains("VALID 有效"), "{s}");
    assert!(
        s.contains(&"=".repeat(52)),
        "framed banner without colour:\n{s}"
    );
    assert!(!s.contains("\x1b["), "no colour under NO_COLOR:\n{s}");
    child.wait().unwrap();
}

#[test]
fn piped_100000_lines_give_100000_json_results_in_order() {
    let (text, at) = permit();
    let tmp = tempfile::tempdir().unwrap();
    let n = 100_000;
    let mut input = String::new();
    for i in 0..n {
        if i % 100 == 0 {
            input.push_str(&text);
            input.push_str("\r\n");
        } else {
            // Long enough that the whole input is far over the old 4 MiB cut.
            input.push_str(&format!("NOT-A-PERMIT-{i:08}-{}\n", "x".repeat(40)));
        }
    }
    assert!(input.len() > 6 * 1024 * 1024);
    let o = run_piped(
        &["verify", "-", "--json", "--no-state", "--at", &at],
        input.into_bytes(),
        tmp.path(),
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), n, "one JSON line per scan, nothing else");
    for (i, l) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["input"], format!("-:{}", i + 1), "in input order");
        let want = if i % 100 == 0 { "VALID" } else { "INVALID" };
        assert_eq!(v["verdict"], want, "line {}", i + 1);
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    let summary: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(summary["inputs"], n);
    assert_eq!(summary["valid"], n / 100);
    assert_eq!(summary["invalid"], n - n / 100);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_line_over_the_text_cap_is_reported_and_the_stream_goes_on() {
    let (text, at) = permit();
    let tmp = tempfile::tempdir().unwrap();
    let input = format!("{text}\n{}\n\n{text}\n", "G".repeat(1_000_000));
    let o = run_piped(
        &["verify", "-", "--json", "--no-state", "--at", &at],
        input.into_bytes(),
        tmp.path(),
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let v: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 3, "blank lines are not scans: {stdout}");
    assert_eq!(v[0]["verdict"], "VALID");
    assert_eq!(v[1]["input"], "-:2");
    assert_eq!(v[1]["reasons"][0]["code"], "INPUT_TOO_LARGE");
    assert!(
        v[1]["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1000000 bytes")
    );
    assert_eq!(v[2]["verdict"], "VALID");
    assert_eq!(
        v[1]["verdict"], "INVALID",
        "as the library judges any text over the limit"
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_single_piped_line_is_reported_as_one_input() {
    let (text, at) = permit();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_piped(
        &["verify", "-", "--json", "--no-state", "--at", &at],
        format!("\n{text}\n\n").into_bytes(),
        tmp.path(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["input"], "-");
    assert_eq!(v["verdict"], "VALID");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("\"inputs\""));
    assert_eq!(o.status.code(), Some(0));
}

/// A PNG of `text` as a QR code (4 px a module, 4 modules of quiet zone).
fn qr_png(text: &str) -> Vec<u8> {
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let w = code.width();
    let colors = code.to_colors();
    let (scale, quiet) = (4, 4);
    let side = u32::try_from((w + 2 * quiet) * scale).unwrap();
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x as usize / scale, y as usize / scale);
        let dark = mx >= quiet
            && my >= quiet
            && mx < w + quiet
            && my < w + quiet
            && colors[(my - quiet) * w + (mx - quiet)] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

#[test]
fn an_image_on_stdin_is_read_from_memory_and_leaves_no_file() {
    let (text, at) = permit();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_piped(
        &["verify", "-", "--json", "--no-state", "--at", &at],
        qr_png(&text),
        tmp.path(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(v["input"], "-");
    assert_eq!(v["verdict"], "VALID");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "no file written for stdin: {left:?}");
}

#[test]
fn stdin_with_other_inputs_is_a_usage_error() {
    let (text, at) = permit();
    let tmp = tempfile::tempdir().unwrap();
    let o = run_piped(
        &[
            "verify",
            "-",
            "Cargo.toml",
            "--json",
            "--no-state",
            "--at",
            &at,
        ],
        text.into_bytes(),
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "USAGE");
}
