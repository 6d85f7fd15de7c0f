//! Errors that stop an `issuer` command: exit code, stable reason code on stderr and, with
//! `--json`, the JSON error object on stdout (README, "Errors that stop a command").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

/// Runs `issuer --ledger DIR/l.sqlite3 --json ARGS…` in `dir`; returns (exit code, stdout JSON,
/// stderr).
fn issuer(dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = Command::new(BIN)
        .current_dir(dir)
        .args([
            "--ledger",
            "l.sqlite3",
            "--json",
            "--now",
            "2026-11-25T10:00:00+08:00",
        ])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap(), v, stderr)
}

/// Asserts a failed run: its exit code, its code in the JSON object and on stderr, and that the
/// message names `names`.
fn assert_error(run: &(i32, serde_json::Value, String), exit: i32, code: &str, names: &str) {
    let (status, v, stderr) = run;
    assert_eq!(*status, exit, "{code}: {v} {stderr}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["exit_code"], exit, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(names), "{code}: {message}");
    assert!(stderr.contains(&format!("[{code}]")), "{stderr}");
}

#[test]
fn command_errors_have_stable_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json");
    let example = example.to_str().unwrap();

    // Key files: never overwritten; a private key readable by others is refused.
    let gen_args = ["keys", "generate", "--out", "keys", "--name", "k", "--test"];
    std::fs::create_dir(d.join("keys")).unwrap();
    let (status, v, stderr) = issuer(d, &gen_args);
    assert_eq!(status, 0, "{v} {stderr}");
    assert_error(&issuer(d, &gen_args), 2, "KEY_FILE_EXISTS", "k.key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = d.join("keys/k.key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_error(
            &issuer(
                d,
                &[
                    "issue",
                    "--applicant",
                    example,
                    "--out",
                    "p.png",
                    "--key",
                    "keys/k.key.pem",
                ],
            ),
            2,
            "KEY_FILE_TOO_OPEN",
            "k.key.pem",
        );
    }

    // Outputs are not replaced without --force.
    std::fs::write(d.join("taken.png"), b"x").unwrap();
    assert_error(
        &issuer(d, &["issue", "--applicant", example, "--out", "taken.png"]),
        2,
        "OUTPUT_EXISTS",
        "taken.png",
    );

    // Inputs: missing, not JSON.
    assert_error(
        &issuer(
            d,
            &["issue", "--applicant", "missing.json", "--out", "p.png"],
        ),
        2,
        "IO_ERROR",
        "missing.json",
    );
    std::fs::write(d.join("bad.json"), b"{not json").unwrap();
    let run = issuer(d, &["issue", "--applicant", "bad.json", "--out", "p.png"]);
    assert_error(&run, 1, "INVALID_APPLICANT", "bad.json");
    assert_eq!(
        run.1["error"]["problems"][0]["code"], "BAD_JSON",
        "{}",
        run.1
    );

    // A command line that does not parse: clap's message, and the JSON object with --json.
    let (status, v, stderr) = issuer(d, &["issue", "--applicant", example, "--ecc", "Z"]);
    assert_eq!(status, 2, "{v} {stderr}");
    assert_eq!(v["error"]["code"], "USAGE", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("--ecc"),
        "{v}"
    );
    assert!(stderr.contains("possible values"), "{stderr}");

    // Settings: an unknown key in --config.
    std::fs::write(d.join("settings.json"), br#"{"validity_yeers": 3}"#).unwrap();
    assert_error(
        &issuer(
            d,
            &[
                "--config",
                "settings.json",
                "issue",
                "--applicant",
                example,
                "--out",
                "p.png",
            ],
        ),
        2,
        "CONFIG_INVALID",
        "validity_yeers",
    );

    // The ledger: an unknown serial.
    assert_error(
        &issuer(d, &["show", "440100000001"]),
        2,
        "NOT_FOUND",
        "440100000001",
    );

    // The control: the same issue with nothing wrong succeeds.
    let (status, v, stderr) = issuer(d, &["issue", "--applicant", example, "--out", "p.png"]);
    assert_eq!(status, 0, "{v} {stderr}");
    assert!(v.get("error").is_none(), "{v}");
}
