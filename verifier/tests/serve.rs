//! `verifier serve`: the API answers exactly what `verify - --json` prints, refuses what it
//! cannot read (413/415/400) and serves static files with their MIME types. Uses `curl`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn permit() -> (String, String) {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/negative/00-valid.json");
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    (
        j["text"].as_str().unwrap().to_owned(),
        j["at"].as_str().unwrap().to_owned(),
    )
}

/// The server, killed when dropped.
struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// The child is returned inside `Server`, which waits for it when dropped.
#[allow(clippy::zombie_processes)]
fn start(at: &str, web: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-state", "--at", at])
        .arg("--web")
        .arg(web)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "server ended");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            let port = rest.split_whitespace().next().unwrap().parse().unwrap();
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return Server(child, port);
        }
    }
}

/// `curl` with these arguments: (HTTP status, body).
fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let o = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl on PATH");
    let out = o.stdout;
    let cut = out.iter().rposition(|&b| b == b'\n').unwrap();
    let code = std::str::from_utf8(&out[cut + 1..])
        .unwrap()
        .parse()
        .unwrap();
    (code, out[..cut].to_vec())
}

#[test]
fn api_answers_as_verify_json_and_refuses_what_it_cannot_read() {
    let (text, at) = permit();
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("app.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let file = dir.path().join("permit.txt");
    std::fs::write(&file, format!("{text}\n")).unwrap();
    let server = start(&at, &web);
    let url = format!("http://127.0.0.1:{}/api/v1/verify", server.1);

    let mut cli = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["verify", "-", "--json", "--no-state", "--at", &at])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cli.stdin
        .take()
        .unwrap()
        .write_all(format!("{text}\n").as_bytes())
        .unwrap();
    let want = cli.wait_with_output().unwrap().stdout;
    let data = format!("@{}", file.display());
    let (code, got) = curl(&["--data-binary", &data, &url]);
    assert_eq!(code, 200);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );

    // An invalid text is a verdict too: 200.
    let (code, got) = curl(&[
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "HELLO",
        &url,
    ]);
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(v["reasons"][0]["code"], "NOT_A_PERMIT");

    let (code, _) = curl(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        "{}",
        &url,
    ]);
    assert_eq!(code, 415);
    let (code, _) = curl(&["--data-binary", "a\nb\n", &url]);
    assert_eq!(code, 400);

    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 * 1024 * 1024 + 1)
        .unwrap();
    let data = format!("@{}", big.display());
    let (code, got) = curl(&[
        "-H",
        "Content-Type: image/png",
        "--data-binary",
        &data,
        &url,
    ]);
    assert_eq!(code, 413);
    let v: serde_json::Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(v["error"]["code"], "INPUT_TOO_LARGE");

    // Garbage on the socket does not bring the server down.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.1)).unwrap();
    let _ = s.write_all(b"\x16\x03\x01 not http at all\r\n\r\n");
    drop(s);
    let (code, _) = curl(&["--data-binary", &format!("@{}", file.display()), &url]);
    assert_eq!(code, 200);

    let wasm = format!("http://127.0.0.1:{}/app.wasm", server.1);
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{content_type}", &wasm])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "application/wasm");
}
