//! The offline web verifier page (issue #13) in headless Chromium, driven over WebDriver by
//! `chromedriver`: the site built by `scripts/build-web.sh`, served by `verifier serve --web`,
//! a fake camera playing a Y4M video of an issued code, and the verdict read from the page's
//! `#verdict[data-verdict]`. Cases: a valid permit (VALID), a revoked one with its status list
//! fetched from the URL set in Settings and again loaded through the settings' file input, an
//! expired one and a forged one (INVALID, each with
//! its reason code on screen), a photographed one (the photo benchmark's model of a card shot at
//! an angle, blurred, noisy, JPEG; VALID); a screenshot uploaded through the photo input; and the page again
//! with the server stopped (the service worker serves it); frames without a code give no
//! verdict. A second test drives the holder page (`holder.html`). Screenshots of each state go
//! to `target/<profile>/screenshots/`, or with `GDRP_SCREENSHOTS=docs/screenshots` to the ones
//! the README links (so that a test run leaves the checkout unchanged); the page's own timings (`window.__gdrpTimings`) are
//! printed (run with `--nocapture`).
//!
//! The WebDriver client is a few lines of HTTP/1.1 over `TcpStream` (one request per
//! connection, `Connection: close`): the workspace has no HTTP client, and the dozen commands
//! used here do not justify one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use image::{GrayImage, Luma};
use serde_json::{Value, json};

use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};

use crate::common::{bin, profile_dir, repo_dir};

const TOOLS: &str =
    "needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)";

fn skip(reason: &str) {
    assert!(
        std::env::var("GDRP_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "required tool missing: {reason}"
    );
    eprintln!("skipped: {reason}");
}

fn tools_present() -> bool {
    ["chromium", "chromedriver"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

// --- the workspace's binaries and the site ------------------------------------------------------

/// `scripts/build-web.sh OUT` into the same target directory as this test (its wasm build and
/// wasm-bindgen-cli cache are reused between runs).
fn build_site(out: &Path) {
    let target = profile_dir().parent().unwrap().to_path_buf();
    let started = Instant::now();
    let status = Command::new("bash")
        .arg(repo_dir().join("scripts/build-web.sh"))
        .arg(out)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "scripts/build-web.sh failed");
    eprintln!("site built in {:.1} s", started.elapsed().as_secs_f64());
}

/// `issuer --ledger l.sqlite3 --json [--now NOW] ARGS…` in `dir`; the JSON it prints.
fn issuer(dir: &Path, now: Option<&str>, args: &[&str]) -> Value {
    let mut c = Command::new(bin("issuer"));
    c.current_dir(dir).args(["--ledger", "l.sqlite3", "--json"]);
    if let Some(now) = now {
        c.args(["--now", now]);
    }
    let out = c.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "issuer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Issues the example applicant in a fresh ledger in `dir` (its own ledger, so that each case
/// has its own permit): the PNG the issuer wrote, the text, the serial.
fn issue(dir: &Path, now: Option<&str>) -> (PathBuf, String, String) {
    issue_with(dir, now, &[])
}

/// [`issue`] with more arguments for `issuer issue` (e.g. `--holder-key`).
fn issue_with(dir: &Path, now: Option<&str>, extra: &[&str]) -> (PathBuf, String, String) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("applicant.json"),
        crate::common::example_applicant(),
    )
    .unwrap();
    let mut args = vec![
        "issue",
        "--applicant",
        "applicant.json",
        "--out",
        "permit.png",
    ];
    args.extend_from_slice(extra);
    let j = issuer(dir, now, &args);
    let serial = j["serial"].as_str().unwrap_or_default().to_owned();
    assert_eq!(serial.len(), 12, "issue: {j}");
    let text = j["text"].as_str().unwrap_or_default().to_owned();
    (dir.join("permit.png"), text, serial)
}

/// `verifier verify FILE --json --no-state [ARGS…]`: (verdict, reason codes).
fn cli_verify(file: &Path, args: &[&str]) -> (String, Vec<String>) {
    let out = Command::new(bin("verifier"))
        .arg("verify")
        .arg(file)
        .args(["--json", "--no-state"])
        .args(args)
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (j["verdict"].as_str().unwrap_or("").to_owned(), codes(&j))
}

fn codes(report: &Value) -> Vec<String> {
    report["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The text with one character of its signature changed, such that the CLI finds
/// `SIGNATURE_INVALID` (not a damaged encoding), rendered as a QR PNG.
fn forge(text: &str, dir: &Path) -> PathBuf {
    const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let chars: Vec<char> = text.chars().collect();
    let png = dir.join("forged.png");
    std::fs::create_dir_all(dir).unwrap();
    // The signature is the last field of the COSE_Sign1 array: the text's last characters.
    for pos in (chars.len().saturating_sub(40)..chars.len().saturating_sub(3)).rev() {
        let Some(next) = ALPHABET
            .chars()
            .cycle()
            .skip_while(|c| *c != chars[pos])
            .nth(1)
        else {
            continue;
        };
        let mut forged = chars.clone();
        forged[pos] = next;
        let forged: String = forged.into_iter().collect();
        let m = QrMatrix::encode(&forged, Ecc::M).unwrap();
        std::fs::write(&png, render::to_png(&m, &RenderOptions::default()).unwrap()).unwrap();
        let (verdict, c) = cli_verify(&png, &[]);
        if verdict == "INVALID" && c.iter().any(|c| c == "SIGNATURE_INVALID") {
            return png;
        }
    }
    panic!("no one-character change of the signature gave SIGNATURE_INVALID");
}

/// A Y4M video (4:2:0, 10 frames at 10 fps, looped by Chromium) of `code` centred on grey,
/// scaled to fill at most 85 % of the frame's height: what Chromium's fake camera plays.
fn y4m(code: &GrayImage, width: u32, height: u32, path: &Path) {
    let side = (f64::from(height) * 0.85) as u32;
    let side = side.min(code.width().max(code.height()));
    let code = image::imageops::resize(code, side, side, image::imageops::FilterType::Triangle);
    let mut y = GrayImage::from_pixel(width, height, Luma([128]));
    image::imageops::overlay(
        &mut y,
        &code,
        i64::from((width - side) / 2),
        i64::from((height - side) / 2),
    );
    let chroma = vec![128u8; (width as usize / 2) * (height as usize / 2)];
    let mut out = format!("YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..10 {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(y.as_raw());
        out.extend_from_slice(&chroma);
        out.extend_from_slice(&chroma);
    }
    std::fs::write(path, out).unwrap();
}

/// A photo of the permit `text` as a phone takes it (the photo benchmark's model: a printed card
/// on a desk, tilted 15°, blurred, noisy, JPEG 60, a shadow edge; `combined` level 1), its
/// centre square, as the fake camera's picture.
fn photographed(text: &str) -> GrayImage {
    use permit_photo_bench::conditions::{Condition, make_photo};
    let photo = make_photo(text, Condition::Combined, 1, 0, 20_261_206).unwrap();
    let img = image::load_from_memory(&photo.bytes).unwrap().to_luma8();
    let side = img.width().min(img.height());
    image::imageops::crop_imm(
        &img,
        (img.width() - side) / 2,
        (img.height() - side) / 2,
        side,
        side,
    )
    .to_image()
}

fn luma(png: &Path) -> GrayImage {
    image::open(png).unwrap().to_luma8()
}

// --- the server ---------------------------------------------------------------------------------

/// `verifier serve --listen 127.0.0.1:0 --web SITE --no-state`, stopped on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(site: &Path) -> Server {
        let mut child = Command::new(bin("verifier"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-state", "--web"])
            .arg(site)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // "listening on http://127.0.0.1:PORT  (POST /api/v1/verify)", after the warnings.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("listening") {
            line.clear();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("verifier serve stopped before listening");
            }
        }
        // Drained, so that the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let port = line
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

// --- a minimal WebDriver client -----------------------------------------------------------------

/// `chromedriver` on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

/// One HTTP/1.1 request to `127.0.0.1:port`; the JSON body of the answer.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    if std::env::var_os("GDRP_WEBDRIVER_LOG").is_some() {
        eprintln!(
            "webdriver: {method} {path} {}",
            body.chars().take(200).collect::<String>()
        );
    }
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver may keep the connection open: the answer ends at its Content-Length (or
    // the last chunk), not at end of stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let complete = |raw: &[u8]| -> Option<Vec<u8>> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
        let body = &raw[split + 4..];
        if let Some(len) = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            return (body.len() >= len).then(|| body[..len].to_vec());
        }
        if head.contains("transfer-encoding: chunked") {
            return body.ends_with(b"0\r\n\r\n").then(|| dechunk(body));
        }
        None
    };
    let payload = loop {
        if let Some(p) = complete(&raw) {
            break p;
        }
        match s.read(&mut buf) {
            Ok(0) => {
                let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
                break split.map(|i| raw[i + 4..].to_vec()).unwrap_or_default();
            }
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{method} {path}: no answer from chromedriver: {e}"),
        }
    };
    serde_json::from_slice(&payload).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: {e}: {}",
            String::from_utf8_lossy(&payload)
        )
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/status", None)["value"]["ready"] == true
            {
                return d;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new headless Chromium whose camera plays `video` (Y4M), in a phone-sized window.
    fn session(&self, video: &Path) -> Session {
        let args = vec![
            "--headless=new".to_owned(),
            // Containers and CI run as root, where Chromium's sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=412,915".to_owned(),
            "--use-fake-device-for-media-stream".to_owned(),
            "--use-fake-ui-for-media-stream".to_owned(),
            format!("--use-file-for-fake-video-capture={}", video.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium_binary(), "args": args},
        }}});
        let v = http(self.port, "POST", "/session", Some(&caps));
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Session {
            port: self.port,
            id,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real Chromium binary: Debian's `/usr/bin/chromium` is a shell wrapper that chromedriver
/// can start too, so that is the fallback.
fn chromium_binary() -> String {
    for p in ["/usr/lib/chromium/chromium", "/usr/bin/chromium"] {
        if Path::new(p).exists() {
            return p.to_owned();
        }
    }
    "chromium".to_owned()
}

struct Session {
    port: u16,
    id: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Session {
    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let v = http(
            self.port,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        );
        assert!(
            v["value"]["error"].is_null(),
            "{method} {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    /// Sets the page's clock (`Date.now()`, `new Date()`) to `rfc3339` for every document this
    /// session loads from now on, through the DevTools protocol: a phone whose clock says so.
    fn set_clock(&self, rfc3339: &str) {
        let at = chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis();
        let source = format!(
            "(() => {{ const shift = {at} - Date.now(); const RealDate = Date; \
             const now = () => RealDate.now() + shift; \
             globalThis.Date = class extends RealDate {{ \
               constructor(...a) {{ if (a.length) super(...a); else super(now()); }} \
               static now() {{ return now(); }} }}; }})();"
        );
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": source}})),
        );
    }

    fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(&json!({ "url": url })));
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    /// Polls `script` (which returns a value or null) until it is not null.
    fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(script);
            if !v.is_null() && v != false {
                return v;
            }
            if Instant::now() > deadline {
                let boot = self.js("return document.getElementById('boot').textContent");
                let msg = self.js("return document.getElementById('camera-msg').textContent");
                panic!("timed out waiting for {what} (boot: {boot}, camera: {msg})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(&json!({})));
    }

    /// Chooses `file` in the file input `css` (chromedriver reads the local path).
    fn upload(&self, css: &str, file: &Path) {
        let e = self.element(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(&json!({"text": file.display().to_string()})),
        );
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let dir = std::env::var_os("GDRP_SCREENSHOTS")
            .map_or_else(|| profile_dir().join("screenshots"), |d| repo_dir().join(d));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    fn wait_ready(&self) {
        self.wait_for(
            "the page to start",
            "const b = document.getElementById('boot'); \
             if (b && b.dataset.state === 'error') return 'error: ' + b.textContent; \
             return b && b.dataset.state === 'ready' ? 'ready' : null",
            Duration::from_secs(60),
        );
        let state = self.js("return document.getElementById('boot').dataset.state");
        assert_eq!(
            state,
            "ready",
            "{}",
            self.js("return document.getElementById('boot').textContent")
        );
    }

    /// Waits for the verdict; (verdict, reason codes shown, permit fields shown).
    fn verdict(&self) -> (String, Vec<String>, Vec<String>) {
        let v = self.wait_for(
            "a verdict",
            "const v = document.querySelector('#verdict[data-verdict]'); \
             if (!v || v.hidden) return null; \
             return {verdict: v.dataset.verdict, \
                     codes: [...v.querySelectorAll('#verdict-reasons li')].map(li => li.dataset.code), \
                     fields: [...v.querySelectorAll('#verdict-fields dd')].map(dd => dd.dataset.field)}",
            Duration::from_secs(60),
        );
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        (
            v["verdict"].as_str().unwrap_or("").to_owned(),
            list("codes"),
            list("fields"),
        )
    }

    fn dismiss(&self) {
        self.click("#dismiss");
        let left = self.js("const v = document.getElementById('verdict'); \
             const text = (id) => document.getElementById(id).textContent; \
             return [v.hidden, v.dataset.verdict || null, text('verdict-title'), \
                     text('verdict-fields'), text('verdict-reasons'), \
                     document.getElementById('text').value]");
        assert_eq!(
            left,
            json!([true, null, "", "", "", ""]),
            "dismiss kept something"
        );
    }

    fn timings(&self) -> Value {
        self.js("return window.__gdrpTimings")
    }

    /// Quits the browser (see `Drop`).
    fn close(self) {}
}

/// Quits the session's browser also when a test fails: chromedriver leaves a browser running
/// when it is stopped with the session open. Best effort, and without panicking (a panic while
/// unwinding would abort the test binary).
impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.id, self.port
            );
            // The answer comes once the browser has quit.
            let _ = s.read(&mut [0u8; 1024]);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Starts the camera (the fake one playing `video`) and returns the verdict.
fn camera_verdict(s: &Session, url: &str) -> (String, Vec<String>, Vec<String>) {
    s.open(url);
    s.wait_ready();
    s.click("#camera-start");
    s.verdict()
}

// --- the test -----------------------------------------------------------------------------------

#[test]
#[cfg_attr(
    any(missing_chromium, missing_chromedriver),
    ignore = "needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)"
)]
fn the_web_page_verifies_from_the_camera_a_photo_and_offline() {
    if !tools_present() {
        skip(TOOLS);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let site = t.join("site");
    build_site(&site);

    // The permits: valid (now), revoked (cancelled, with a status list), expired (the earliest
    // the demo key can sign, seen by a page whose clock is past its end; see EXPIRED_ISSUED) and
    // forged (one character of the signature changed).
    let (valid_png, valid_text, _) = issue(&t.join("valid"), None);
    let (revoked_png, _, serial) = issue(&t.join("revoked"), None);
    issuer(
        &t.join("revoked"),
        None,
        &[
            "cancel",
            &serial,
            "--reason",
            "test",
            "--reporter",
            "police",
        ],
    );
    issuer(
        &t.join("revoked"),
        None,
        &["status", "publish", "--out", "status.json"],
    );
    let status = t.join("revoked/status.json");
    let (expired_png, _, _) = issue(&t.join("expired"), Some(EXPIRED_ISSUED));
    let forged_png = forge(&valid_text, &t.join("forged"));
    // The CLI's verdicts, which the page must repeat.
    assert_eq!(cli_verify(&valid_png, &[]).0, "VALID");
    let expired_cli = cli_verify(&expired_png, &["--at", EXPIRED_SEEN]);
    assert_eq!(expired_cli.0, "INVALID", "{expired_cli:?}");
    assert!(
        expired_cli.1.iter().any(|c| c == "EXPIRED"),
        "{expired_cli:?}"
    );

    let server = Server::start(&site);
    let url = server.url();
    let driver = Driver::start();

    // Valid, from the camera (640×480).
    let video = t.join("valid.y4m");
    y4m(&luma(&valid_png), 640, 480, &video);
    let s = driver.session(&video);
    let (verdict, codes, fields) = camera_verdict(&s, &url);
    assert_eq!(verdict, "VALID", "{codes:?}");
    for f in ["name", "serial", "valid_until"] {
        assert!(fields.iter().any(|x| x == f), "{f} not shown: {fields:?}");
    }
    s.screenshot("verifier-valid.png");
    let timings = s.timings();
    eprintln!(
        "camera 640×480: video playing → verdict {:.0} ms, button → verdict {:.0} ms; scans {}",
        timings["cameraToVerdictMs"].as_f64().unwrap_or(f64::NAN),
        timings["clickToVerdictMs"].as_f64().unwrap_or(f64::NAN),
        timings["scan"]
    );
    s.dismiss();
    s.click("#camera-stop");
    s.screenshot("verifier-start.png");

    // A screenshot chosen through the photo input.
    s.upload("#photo", &valid_png);
    let (verdict, codes, _) = s.verdict();
    assert_eq!(verdict, "VALID", "{codes:?}");
    s.dismiss();

    // Offline: the service worker has cached the site; stop the server and load the page again.
    s.wait_for(
        "the service worker",
        "return document.body.dataset.offlineReady || null",
        Duration::from_secs(60),
    );
    // Installable as an app: Chromium finds nothing missing (manifest, icons, service worker).
    let installability = s.cmd(
        "POST",
        "/goog/cdp/execute",
        Some(&json!({"cmd": "Page.getInstallabilityErrors", "params": {}})),
    );
    assert_eq!(
        installability["installabilityErrors"],
        json!([]),
        "{installability}"
    );
    drop(server);
    assert!(TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/')).is_err());
    s.open(&url);
    s.wait_ready();
    s.click("#camera-start");
    let (verdict, codes, _) = s.verdict();
    assert_eq!(verdict, "VALID", "offline: {codes:?}");
    s.screenshot("verifier-offline-valid.png");
    s.dismiss();
    s.upload("#photo", &forged_png);
    let (verdict, codes, _) = s.verdict();
    assert_eq!(verdict, "INVALID", "offline forged: {codes:?}");
    s.close();

    let server = Server::start(&site);
    let url = server.url();

    // Revoked, with the status list fetched from the URL set in Settings (as a page kept
    // current by the issuer's publication point would be).
    std::fs::create_dir_all(site.join("published")).unwrap();
    std::fs::copy(&status, site.join("published/status.json")).unwrap();
    let video = t.join("revoked-url.y4m");
    y4m(&luma(&revoked_png), 640, 480, &video);
    let s = driver.session(&video);
    s.open(&url);
    s.wait_ready();
    s.js(&format!(
        "document.getElementById('settings').open = true; \
         document.getElementById('status-url').value = '{url}published/status.json'"
    ));
    s.click("#fetch-lists");
    s.wait_for(
        "the status list from its URL",
        "return document.getElementById('lists').dataset.statusSequence || null",
        Duration::from_secs(30),
    );
    s.click("#camera-start");
    let (verdict, codes, _) = s.verdict();
    assert_eq!(verdict, "INVALID", "revoked (list by URL): {codes:?}");
    assert!(codes.iter().any(|c| c == "REVOKED"), "{codes:?}");
    s.close();

    // Revoked: the status list loaded through the settings' file input first.
    let video = t.join("revoked.y4m");
    y4m(&luma(&revoked_png), 640, 480, &video);
    let s = driver.session(&video);
    s.open(&url);
    s.wait_ready();
    s.js("document.getElementById('settings').open = true");
    s.upload("#status-file", &status);
    s.wait_for(
        "the status list",
        "return document.getElementById('lists').dataset.statusSequence || null",
        Duration::from_secs(30),
    );
    s.js("document.getElementById('lists-title').scrollIntoView()");
    s.screenshot("verifier-lists.png");
    s.click("#camera-start");
    let (verdict, codes, _) = s.verdict();
    assert_eq!(verdict, "INVALID", "revoked: {codes:?}");
    assert!(codes.iter().any(|c| c == "REVOKED"), "{codes:?}");
    s.screenshot("verifier-revoked.png");
    s.close();

    // A photographed permit (a printed card at an angle, blurred, noisy, in JPEG) in a
    // 1280×720 camera picture.
    let video = t.join("photographed.y4m");
    y4m(&photographed(&valid_text), 1280, 720, &video);
    let s = driver.session(&video);
    let (verdict, codes, _) = camera_verdict(&s, &url);
    assert_eq!(verdict, "VALID", "photographed: {codes:?}");
    s.screenshot("verifier-photographed.png");
    s.close();

    // Expired (the phone's clock at EXPIRED_SEEN) and forged, from the camera.
    for (name, png, code, clock) in [
        ("expired", &expired_png, "EXPIRED", Some(EXPIRED_SEEN)),
        ("forged", &forged_png, "SIGNATURE_INVALID", None),
    ] {
        let video = t.join(format!("{name}.y4m"));
        y4m(&luma(png), 640, 480, &video);
        let s = driver.session(&video);
        if let Some(clock) = clock {
            s.set_clock(clock);
        }
        let (verdict, codes, _) = camera_verdict(&s, &url);
        assert_eq!(verdict, "INVALID", "{name}: {codes:?}");
        assert!(
            codes.iter().any(|c| c == code),
            "{name}: {code} not in {codes:?}"
        );
        s.screenshot(&format!("verifier-{name}.png"));
        s.close();
    }

    // Timing: scan_rgba on 1280×720 frames with a code, measured by the page (rescanning after
    // each dismiss), and camera start → verdict.
    let video = t.join("valid-720p.y4m");
    y4m(&luma(&valid_png), 1280, 720, &video);
    let s = driver.session(&video);
    let (verdict, _, _) = camera_verdict(&s, &url);
    assert_eq!(verdict, "VALID");
    let start = s.timings();
    let first = start["cameraToVerdictMs"].as_f64().unwrap_or(f64::NAN);
    let click = start["clickToVerdictMs"].as_f64().unwrap_or(f64::NAN);
    for _ in 0..10 {
        s.dismiss();
        assert_eq!(s.verdict().0, "VALID");
    }
    let t720 = s.timings();
    let scans: Vec<f64> = t720["scan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["found"] == true && x["width"] == 1280)
        .filter_map(|x| x["ms"].as_f64())
        .collect();
    eprintln!(
        "camera 1280×720: video playing → verdict {first:.0} ms, button → verdict {click:.0} ms; scan_rgba with a code: median {:.1} ms over {} frames (min {:.1}, max {:.1})",
        median(scans.clone()),
        scans.len(),
        scans.iter().copied().fold(f64::INFINITY, f64::min),
        scans.iter().copied().fold(0.0, f64::max),
    );
    assert!(scans.len() >= 10, "{t720}");
    s.close();

    // Timing: 1280×720 frames without a code (the camera pointed elsewhere), for 5 s.
    let video = t.join("grey-720p.y4m");
    y4m(&GrayImage::from_pixel(8, 8, Luma([160])), 1280, 720, &video);
    let s = driver.session(&video);
    s.open(&url);
    s.wait_ready();
    s.click("#camera-start");
    std::thread::sleep(Duration::from_secs(5));
    let idle = s.timings();
    let scans: Vec<f64> = idle["scan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["width"] == 1280)
        .filter_map(|x| x["ms"].as_f64())
        .collect();
    assert!(!scans.is_empty(), "{idle}");
    let shown = s.js(
        "const v = document.getElementById('verdict'); return v.hidden ? null : v.dataset.codes",
    );
    assert!(shown.is_null(), "a verdict without a code: {shown}");
    eprintln!(
        "camera 1280×720 without a code: scan_rgba median {:.1} ms over {} frames in 5 s (max {:.1})",
        median(scans.clone()),
        scans.len(),
        scans.iter().copied().fold(0.0, f64::max),
    );
    s.close();
}

/// The expired permit: the demo key signs only from 2026-01-01 and a permit is valid for three
/// years, so no permit it signs has expired yet; the earliest one is issued (`--now`) and the
/// page's clock is set after its end (the page passes `Date.now()` to the library).
const EXPIRED_ISSUED: &str = "2026-01-02T10:00:00+08:00";
/// The time the expired permit is checked at (its validity ended on 2029-01-01).
const EXPIRED_SEEN: &str = "2029-06-01T10:00:00+08:00";

/// The holder page: a WebCrypto device key, the wallet the issuer wrote for it, and the live
/// code it draws, read back from the canvas and verified by the `verifier` CLI as a hotel: VALID
/// 5 s after it was drawn, PRESENTATION_EXPIRED 120 s after.
#[test]
#[cfg_attr(
    any(missing_chromium, missing_chromedriver),
    ignore = "needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)"
)]
fn the_holder_page_draws_a_live_code_the_verifier_accepts_for_a_minute() {
    if !tools_present() {
        skip(TOOLS);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let site = t.join("site");
    build_site(&site);
    let server = Server::start(&site);
    let driver = Driver::start();
    // No camera is used; the fake one plays a grey frame.
    let video = t.join("grey.y4m");
    y4m(
        &GrayImage::from_pixel(64, 64, Luma([128])),
        640,
        480,
        &video,
    );
    let s = driver.session(&video);
    s.open(&format!("{}holder.html", server.url()));
    s.wait_ready();
    s.click("#key-generate");
    let x = s.wait_for(
        "the device key",
        "return document.getElementById('public-jwk').dataset.x || null",
        Duration::from_secs(30),
    );
    let jwk = s.js("return document.getElementById('public-jwk').textContent");
    let dir = t.join("holder");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("H.pub.jwk.json"), jwk.as_str().unwrap()).unwrap();
    // The private key cannot be read out of the browser.
    let extractable = s.js(
        "return new Promise((ok) => { const r = indexedDB.open('gdrp-holder'); \
         r.onsuccess = () => { const g = r.result.transaction('items').objectStore('items').get('device'); \
         g.onsuccess = () => ok(g.result.privateKey.extractable); }; })",
    );
    assert_eq!(extractable, false);

    issue_with(&dir, None, &["--holder-key", "H.pub.jwk.json"]);
    let wallet = dir.join("permit.wallet.json");
    let w: Value = serde_json::from_slice(&std::fs::read(&wallet).unwrap()).unwrap();
    assert_eq!(w["holder_key"], x);
    s.upload("#wallet-file", &wallet);
    s.wait_for(
        "the live code",
        "return document.getElementById('live-code').dataset.presentedAt || null",
        Duration::from_secs(30),
    );
    // The render time (sign with WebCrypto, encode, draw): the first draw and 10 more, one
    // after the other (each view change draws again), ending on the basic view.
    for (i, view) in ["full", "basic"].iter().cycle().take(10).enumerate() {
        s.js(&format!(
            "document.querySelector('input[name=view][value={view}]').click()"
        ));
        s.wait_for(
            "the next draw",
            &format!(
                "const r = (window.__gdrpTimings || {{}}).render || []; \
                 const c = document.getElementById('live-code'); \
                 return r.length >= {} && c.dataset.view === '{view}' ? true : null",
                i + 2
            ),
            Duration::from_secs(30),
        );
    }
    let render = s.js("return window.__gdrpTimings.render");
    let mut ms: Vec<f64> = render
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    ms.sort_by(f64::total_cmp);
    eprintln!(
        "holder page: presentation render (sign, encode, draw) median {:.1} ms over {} draws (min {:.1}, max {:.1})",
        ms[ms.len() / 2],
        ms.len(),
        ms[0],
        ms[ms.len() - 1]
    );
    let at = s.js("return document.getElementById('live-code').dataset.presentedAt");
    let at: i64 = at.as_str().unwrap().parse().unwrap();
    s.js("window.scrollTo(0, 0)");
    s.screenshot("holder-live.png");
    let data_url = s.js("return document.getElementById('live-code').toDataURL('image/png')");
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            data_url
                .as_str()
                .unwrap()
                .trim_start_matches("data:image/png;base64,"),
        )
        .unwrap();
    let code = dir.join("live.png");
    std::fs::write(&code, png).unwrap();
    s.close();

    let when = |secs: i64| {
        chrono::DateTime::from_timestamp(at + secs, 0)
            .unwrap()
            .to_rfc3339()
    };
    let (verdict, codes) = cli_verify(&code, &["--role", "hotel", "--at", &when(5)]);
    assert_eq!(verdict, "VALID", "{codes:?}");
    let (verdict, codes) = cli_verify(&code, &["--role", "hotel", "--at", &when(120)]);
    assert_eq!(verdict, "INVALID", "{codes:?}");
    assert!(
        codes.iter().any(|c| c == "PRESENTATION_EXPIRED"),
        "{codes:?}"
    );
    // The bare credential is not accepted without its presentation.
    let (verdict, codes) = cli_verify(&dir.join("permit.png"), &["--role", "hotel"]);
    assert_eq!(verdict, "INVALID", "{codes:?}");
    assert!(
        codes.iter().any(|c| c == "PRESENTATION_REQUIRED"),
        "{codes:?}"
    );
}
