//! Key files other tools read and write (issue #15 item 4), key files of another account
//! (issue #17 item 10), and trust-list and status-list sequences that are never reused
//! (issue #17 item 4, the issuer's half).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use chrono::Utc;
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::State;
use permit_verifier::verify::{self, ClockSource, Verdict};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

/// Runs `issuer --ledger DIR/l.sqlite3 --json ARGS…` in `dir`; (exit code, stdout JSON, stderr).
fn issuer(dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    issuer_with(dir, "l.sqlite3", args)
}

/// [`issuer`] with another ledger file.
fn issuer_with(dir: &Path, ledger: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let o = Command::new(BIN)
        .current_dir(dir)
        .args(["--ledger", ledger, "--json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap(), v, stderr)
}

fn ok(run: (i32, serde_json::Value, String)) -> serde_json::Value {
    assert_eq!(run.0, 0, "{} {}", run.1, run.2);
    run.1
}

/// `openssl ARGS…`, or `None` (with the reason printed) when OpenSSL is not installed.
fn openssl(dir: &Path, args: &[&str]) -> Option<Output> {
    match Command::new("openssl").current_dir(dir).args(args).output() {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!("SKIPPED: `openssl` cannot be run ({e}); install OpenSSL to run this test");
            None
        }
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
#[cfg_attr(
    missing_openssl,
    ignore = "openssl not installed (apt-get install openssl)"
)]
fn generated_private_keys_are_pkcs8_v1_that_openssl_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let g = ok(issuer(dir, &["keys", "generate", "--out", "k", "--test"]));
    let key = g["private_key"].as_str().unwrap();
    assert_eq!(mode(&dir.join(key)), 0o600);
    let pem = std::fs::read_to_string(dir.join(key)).unwrap();
    // PKCS#8 v1 (RFC 8410 §7): SEQUENCE of 46 bytes, version 0, no public key.
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    assert!(body.starts_with("MC4CAQAw"), "not PKCS#8 v1: {body:.8}");
    let Some(o) = openssl(dir, &["pkey", "-in", key, "-noout"]) else {
        return;
    };
    assert!(o.status.success(), "openssl pkey: {o:?}");
    // OpenSSL derives the same public key as the one written beside it.
    let o = openssl(dir, &["pkey", "-in", key, "-pubout"]).unwrap();
    let public = std::fs::read_to_string(dir.join(g["public_pem"].as_str().unwrap())).unwrap();
    assert!(
        public.ends_with(&*String::from_utf8_lossy(&o.stdout)),
        "{public} vs {o:?}"
    );
}

/// The demo keys are PKCS#8 v2 and must still be read (v1 and v2 are both accepted).
#[test]
fn pkcs8_v2_keys_are_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys/TEST-ONLY-demo-issuer.key.pem");
    let copy = dir.join("demo.key.pem");
    std::fs::copy(&demo, &copy).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let v = ok(issuer(dir, &["keys", "show", copy.to_str().unwrap()]));
    let entry: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(demo.with_file_name("TEST-ONLY-demo-issuer.trust-entry.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["kid"], entry["kid"]);
    assert_eq!(v["kind"], "private key");
}

#[test]
#[cfg_attr(
    missing_openssl,
    ignore = "openssl not installed (apt-get install openssl)"
)]
fn an_openssl_key_imports_and_signs_a_permit_the_verifier_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(o) = openssl(
        dir,
        &["genpkey", "-algorithm", "ed25519", "-out", "openssl.pem"],
    ) else {
        return;
    };
    assert!(o.status.success(), "{o:?}");
    std::fs::set_permissions(
        dir.join("openssl.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let g = ok(issuer(
        dir,
        &[
            "keys",
            "import",
            "--in",
            "openssl.pem",
            "--out",
            "k",
            "--name",
            "office-2027",
        ],
    ));
    assert_eq!(mode(&dir.join("k/office-2027.key.pem")), 0o600);
    // The same key: OpenSSL's public key is the one written.
    let o = openssl(dir, &["pkey", "-in", "openssl.pem", "-pubout"]).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("k/office-2027.pub.pem")).unwrap(),
        String::from_utf8_lossy(&o.stdout)
    );
    let o = openssl(dir, &["pkey", "-in", "k/office-2027.key.pem", "-noout"]).unwrap();
    assert!(o.status.success(), "{o:?}");

    // `keys show`: id, role from the trust entry beside it, fingerprint; no secret.
    let show = ok(issuer(dir, &["keys", "show", "k/office-2027.key.pem"]));
    assert_eq!(show["kid"], g["kid"]);
    assert_eq!(show["role"], "issuer");
    let fingerprint = show["fingerprint_sha256"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 64);
    assert!(fingerprint.starts_with(g["kid"].as_str().unwrap()));
    let secret: String = std::fs::read_to_string(dir.join("openssl.pem"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let o = Command::new(BIN)
        .current_dir(dir)
        .args(["keys", "show", "k/office-2027.key.pem"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(g["kid"].as_str().unwrap()) && text.contains("issuer"),
        "{text}"
    );
    assert!(!text.contains(&secret[16..]) && !show.to_string().contains(&secret[16..]));

    // A root of its own, a trust list with the imported key, a real (not test) permit.
    ok(issuer(
        dir,
        &["keys", "generate", "--role", "root", "--out", "root"],
    ));
    ok(issuer(
        dir,
        &[
            "trust",
            "build",
            "--root",
            "root/root.key.pem",
            "--entry",
            "k/office-2027.trust-entry.json",
            "--sequence",
            "1",
            "--out",
            "trust.json",
        ],
    ));
    let mut a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(applicant_example()).unwrap()).unwrap();
    a["test"] = serde_json::Value::Bool(false);
    std::fs::write(dir.join("a.json"), a.to_string()).unwrap();
    let issued = ok(issuer(
        dir,
        &[
            "issue",
            "--applicant",
            "a.json",
            "--out",
            "permit.txt",
            "--key",
            "k/office-2027.key.pem",
            "--trust",
            "trust.json",
            "--root",
            "root/root.pub.pem",
        ],
    ));
    assert_eq!(issued["key_id"], g["kid"]);
    let text = std::fs::read_to_string(dir.join("permit.txt")).unwrap();

    // What `verifier verify permit.txt --trust trust.json --root root/root.pub.pem` runs.
    let root = permit_issuer::keyfile::read_public_key(&dir.join("root/root.pub.pem")).unwrap();
    let trust = std::fs::read(dir.join("trust.json")).unwrap();
    let session = Session::open(SessionInput {
        root: &root,
        trust_document: &trust,
        status: None,
        at: Utc::now(),
        clock_source: ClockSource::Given,
        state: State::default(),
        status_grace: chrono::Duration::hours(24),
    })
    .unwrap();
    let o = verify::verify_text(text.trim(), &session.context());
    assert_eq!(o.verdict, Verdict::Valid, "{:?}", o.reasons);
    assert!(
        !o.reasons
            .iter()
            .any(|r| r.code.as_str() == "TEST_CREDENTIAL")
    );
}

fn applicant_example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json")
}

#[test]
#[cfg_attr(
    missing_root,
    ignore = "the tests do not run as root: only root can give a key file to another user"
)]
fn a_key_file_owned_by_another_account_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(issuer(dir, &["keys", "generate", "--out", "k", "--test"]));
    let key = dir.join("k/issuer.key.pem");
    // `nobody`; only root may give a file away.
    if let Err(e) = std::os::unix::fs::chown(&key, Some(65_534), None) {
        eprintln!(
            "SKIPPED: cannot chown the key file to uid 65534 ({e}); run the tests as root to check KEY_FILE_NOT_OWNED"
        );
        return;
    }
    assert_eq!(mode(&key), 0o600);
    let (code, v, err) = issuer(dir, &["keys", "show", "k/issuer.key.pem"]);
    assert_eq!(code, 2, "{v} {err}");
    assert_eq!(v["error"]["code"], "KEY_FILE_NOT_OWNED", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("uid 65534") && message.contains("issuer.key.pem"),
        "{message}"
    );
    assert!(err.contains("[KEY_FILE_NOT_OWNED]"), "{err}");
    // Signing with it is refused the same way.
    let (code, v, _) = issuer(
        dir,
        &[
            "issue",
            "--applicant",
            applicant_example().to_str().unwrap(),
            "--out",
            "p.txt",
            "--key",
            "k/issuer.key.pem",
        ],
    );
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("KEY_FILE_NOT_OWNED"))
    );
    // Owned by root is accepted (root can read every file anyway).
    std::os::unix::fs::chown(&key, Some(0), None).unwrap();
    ok(issuer(dir, &["keys", "show", "k/issuer.key.pem"]));
}

#[test]
fn a_trust_list_sequence_is_never_reused_for_other_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(issuer(
        dir,
        &["keys", "generate", "--role", "root", "--out", "k"],
    ));
    ok(issuer(
        dir,
        &["keys", "generate", "--out", "k", "--name", "a"],
    ));
    ok(issuer(
        dir,
        &["keys", "generate", "--out", "k", "--name", "b"],
    ));
    let build = |seq: &str, entries: &[&str], out: &str| {
        let mut args = vec![
            "trust",
            "build",
            "--root",
            "k/root.key.pem",
            "--sequence",
            seq,
        ];
        for e in entries {
            args.extend(["--entry", e]);
        }
        args.extend(["--out", out]);
        issuer(dir, &args)
    };
    let first = ok(build("1", &["k/a.trust-entry.json"], "t1.json"));
    assert_eq!(first["already_recorded"], false);
    // The same content again: the recorded list, byte for byte, nothing new signed.
    let again = ok(build("1", &["k/a.trust-entry.json"], "t1-again.json"));
    assert_eq!(again["already_recorded"], true);
    assert_eq!(
        std::fs::read(dir.join("t1.json")).unwrap(),
        std::fs::read(dir.join("t1-again.json")).unwrap()
    );
    // Other content under the same sequence.
    let (code, v, err) = build(
        "1",
        &["k/a.trust-entry.json", "k/b.trust-entry.json"],
        "x.json",
    );
    assert_eq!(code, 2, "{v} {err}");
    assert_eq!(v["error"]["code"], "TRUST_SEQUENCE_USED", "{v}");
    assert!(!dir.join("x.json").exists());
    ok(build(
        "3",
        &["k/a.trust-entry.json", "k/b.trust-entry.json"],
        "t3.json",
    ));
    let (code, v, _) = build("2", &["k/b.trust-entry.json"], "x.json");
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("TRUST_SEQUENCE_BEHIND")),
        "{v}"
    );
    assert!(!dir.join("x.json").exists());
}

#[test]
fn status_list_sequences_are_never_reused_even_after_a_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let seq = |v: &serde_json::Value| v["publication"]["sequence"].as_u64().unwrap();
    let publish = |ledger: &str, out: &str, extra: &[&str]| {
        let mut args = vec!["status", "publish", "--out", out];
        args.extend(extra);
        issuer_with(dir, ledger, &args)
    };
    assert_eq!(seq(&ok(publish("l.sqlite3", "s1.cwt", &[]))), 1);
    // A backup taken now, restored after list 2 was published.
    std::fs::copy(dir.join("l.sqlite3"), dir.join("backup.sqlite3")).unwrap();
    assert_eq!(seq(&ok(publish("l.sqlite3", "s2.cwt", &[]))), 2);
    // The restored copy cannot know list 2: the operator gives the floor.
    let restored = ok(publish(
        "backup.sqlite3",
        "s3.cwt",
        &["--min-sequence", "3"],
    ));
    assert_eq!(seq(&restored), 3);
    assert_eq!(
        seq(&ok(publish(
            "backup.sqlite3",
            "s4.cwt",
            &["--min-sequence", "2"]
        ))),
        4
    );
    // A publication row is final and its sequence unique.
    let c = rusqlite::Connection::open(dir.join("l.sqlite3")).unwrap();
    assert!(c.execute("DELETE FROM status_publications", []).is_err());
    assert!(
        c.execute(
            "INSERT INTO status_publications SELECT * FROM status_publications WHERE sequence = 1",
            []
        )
        .is_err()
    );
}
