//! Issuer keys in an HSM (issue #15 item 3), through SoftHSM2: `keys generate --pkcs11` makes
//! the key in the token, `--key pkcs11:…` signs permits, status lists and batches with it, every
//! signature the token returns is verified before use, and the signing rate is measured beside
//! a key file's.
//!
//! Each test makes its own token in a temporary directory (`SOFTHSM2_CONF`). SoftHSM2 reads that
//! variable once per process, so the tests that load the module in-process run in a child test
//! process that has it set. Without SoftHSM2 the tests say why and pass, unless
//! `GDRP_REQUIRE_TOOLS=1` (CI), where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use permit_issuer::issue::{Backend, SignError, Signer, SignerError};
use permit_issuer::pkcs11::{self, AuthPin, KeyUri, Pkcs11Error, Pkcs11Key, Sessions};
use permit_shared::keys::{PublicKey, SecretKey};
use permit_shared::trust::{self, KeyEntry, TrustList, TrustListBody, Usage};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const CHILD: &str = "GDRP_HSM_TEST_CHILD";
const PIN: &str = "1234";

/// A SoftHSM2 configuration with one initialised token labelled `test` (user PIN 1234), or
/// `None` with the reason printed when SoftHSM2 is not installed (a failure in CI).
fn token_dir() -> Option<tempfile::TempDir> {
    let missing = if !Path::new(MODULE).exists() {
        Some(format!("{MODULE} is missing"))
    } else {
        Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .err()
            .map(|e| format!("softhsm2-util cannot be run ({e})"))
    };
    if let Some(why) = missing {
        assert!(
            std::env::var("GDRP_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "GDRP_REQUIRE_TOOLS=1 but {why}"
        );
        eprintln!("SKIPPED: {why}; install softhsm2 (Debian) to run this test");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    std::fs::write(
        conf(dir.path()),
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    let o = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf(dir.path()))
        .args(["--init-token", "--free", "--label", "test"])
        .args(["--pin", PIN, "--so-pin", "5678"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(dir)
}

fn conf(dir: &Path) -> PathBuf {
    dir.join("softhsm2.conf")
}

/// In the parent: makes a token and runs test `name` again in a child process that has
/// `SOFTHSM2_CONF` set, and returns false. In that child: returns true (run the body).
fn in_child(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let Some(dir) = token_dir() else {
        return false;
    };
    let o = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", conf(dir.path()))
        .env(CHILD, "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    println!("{out}");
    assert!(o.status.success(), "child test {name} failed");
    assert!(out.contains("1 passed"), "child ran no test: {out}");
    false
}

fn uri(object: &str) -> KeyUri {
    KeyUri::parse(&format!("pkcs11:token=test;object={object}")).unwrap()
}

fn pin() -> AuthPin {
    AuthPin::from(PIN)
}

fn at() -> DateTime<Utc> {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

fn entry(public: &PublicKey) -> KeyEntry {
    KeyEntry {
        kid: public.id(),
        issuer: "test".into(),
        jwk: public.to_jwk(),
        may_sign: vec![Usage::Permit, Usage::StatusList],
        signing_from: "2026-01-01T00:00:00Z".into(),
        signing_until: "2036-01-01T00:00:00Z".into(),
        verify_until: None,
        compromised_since: None,
        test: true,
    }
}

/// A verified trust list publishing `keys`.
fn trust_list(keys: &[&PublicKey]) -> TrustList {
    let root = SecretKey::from_seed(&[31; 32]).unwrap();
    let doc = trust::sign(
        &TrustListBody {
            format: trust::FORMAT.into(),
            sequence: 1,
            issued_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2036-01-01T00:00:00Z".into(),
            publisher: "test".into(),
            test: true,
            keys: keys.iter().map(|k| entry(k)).collect(),
        },
        &root,
    )
    .unwrap();
    TrustList::verify(doc.as_bytes(), root.public()).unwrap()
}

fn module() -> PathBuf {
    PathBuf::from(MODULE)
}

#[test]
#[cfg_attr(
    any(missing_softhsm, missing_softhsm_util),
    ignore = "SoftHSM2 not installed (apt-get install softhsm2)"
)]
fn token_signatures_are_verified_before_use_and_keys_match_the_trust_list() {
    if !in_child("token_signatures_are_verified_before_use_and_keys_match_the_trust_list") {
        return;
    }
    let a = pkcs11::generate(&module(), &uri("a"), &pin()).unwrap();
    let b = pkcs11::generate(&module(), &uri("b"), &pin()).unwrap();
    assert_ne!(a, b);
    // A second key of the same name is refused.
    assert!(matches!(
        pkcs11::generate(&module(), &uri("a"), &pin()),
        Err(Pkcs11Error::Exists(_))
    ));

    // The key the token reports must be the one the trust list publishes.
    let key = Pkcs11Key::open(&module(), &uri("a"), &pin()).unwrap();
    assert_eq!(key.public(), &a);
    let e = Signer::with_backend(Backend::Pkcs11(key), trust_list(&[&b]), Usage::Permit, at())
        .err()
        .unwrap();
    assert!(matches!(e, SignerError::NotInTrustList { .. }), "{e}");

    // A good token: its signatures verify.
    let key = Pkcs11Key::open(&module(), &uri("a"), &pin()).unwrap();
    let s =
        Signer::with_backend(Backend::Pkcs11(key), trust_list(&[&a]), Usage::Permit, at()).unwrap();
    let sig = s.sign(b"message").unwrap();
    assert!(a.verify_strict(b"message", &sig));

    // A token whose public object for `a` is b's (labels swapped): the private key of a signs,
    // the signature does not verify with the public key read, and nothing is returned.
    swap_public_labels("a", "b");
    let key = Pkcs11Key::open(&module(), &uri("a"), &pin()).unwrap();
    assert_eq!(key.public(), &b);
    let s =
        Signer::with_backend(Backend::Pkcs11(key), trust_list(&[&b]), Usage::Permit, at()).unwrap();
    let e = s.sign(b"message").unwrap_err();
    assert!(
        matches!(e, SignError::Invalid { kid } if kid == b.id()),
        "{e}"
    );
}

/// Relabels the public-key objects of `x` and `y` in the `test` token, each to the other's.
fn swap_public_labels(x: &str, y: &str) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    let p = Pkcs11::new(MODULE).unwrap();
    // The issuer's context initialised the module in this process already.
    let _ = p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    let _ = s.login(UserType::User, Some(&pin()));
    let find = |label: &str| {
        s.find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .unwrap()[0]
    };
    let (hx, hy) = (find(x), find(y));
    s.update_attributes(hx, &[Attribute::Label(y.as_bytes().to_vec())])
        .unwrap();
    s.update_attributes(hy, &[Attribute::Label(x.as_bytes().to_vec())])
        .unwrap();
    // Keep the module initialised for the issuer's context: do not finalize.
    std::mem::forget(s);
    std::mem::forget(p);
}

#[test]
#[cfg_attr(
    any(missing_softhsm, missing_softhsm_util),
    ignore = "SoftHSM2 not installed (apt-get install softhsm2)"
)]
fn a_key_that_can_leave_the_token_is_refused() {
    if !in_child("a_key_that_can_leave_the_token_is_refused") {
        return;
    }
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::Attribute;
    use cryptoki::session::UserType;
    let p = Pkcs11::new(MODULE).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p.get_slots_with_token().unwrap()[0];
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin())).unwrap();
    let label = Attribute::Label(b"soft".to_vec());
    s.generate_key_pair(
        &Mechanism::EccEdwardsKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::EcParams(vec![0x06, 0x03, 0x2b, 0x65, 0x70]),
            label.clone(),
        ],
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Sign(true),
            label,
        ],
    )
    .unwrap();
    std::mem::forget(s);
    std::mem::forget(p);
    let e = Pkcs11Key::open(&module(), &uri("soft"), &pin()).unwrap_err();
    assert!(matches!(e, Pkcs11Error::Exportable(_)), "{e}");
}

/// Signatures per second of `sign` over `n` messages of a credential's size, on `threads`.
fn rate(n: usize, threads: usize, sign: &(dyn Fn(&[u8]) -> [u8; 64] + Sync)) -> f64 {
    let msgs: Vec<Vec<u8>> = (0..n).map(|i| vec![(i % 251) as u8; 300]).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let t = Instant::now();
    let sigs: Vec<[u8; 64]> = pool.install(|| msgs.par_iter().map(|m| sign(m)).collect());
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(sigs.len(), n);
    n as f64 / secs
}

#[test]
#[cfg_attr(
    any(missing_softhsm, missing_softhsm_util),
    ignore = "SoftHSM2 not installed (apt-get install softhsm2)"
)]
fn signing_rate_of_a_token_key_beside_a_key_file() {
    if !in_child("signing_rate_of_a_token_key_beside_a_key_file") {
        return;
    }
    let public = pkcs11::generate(&module(), &uri("rate"), &pin()).unwrap();
    let file = SecretKey::from_seed(&[7; 32]).unwrap();
    let file_pub = *file.public();
    let trust = || trust_list(&[&public, &file_pub]);
    let file_signer = Signer::new(file, trust(), Usage::Permit, at()).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let n = 500;
    println!("signing rate, {n} signatures of 300 bytes (signatures per second):");
    let file_1 = rate(n, 1, &|m| file_signer.sign(m).unwrap());
    let file_t = rate(n, threads, &|m| file_signer.sign(m).unwrap());
    println!(
        "  key file                    1 thread {file_1:>9.0}   {threads} threads {file_t:>9.0}"
    );
    for mode in [Sessions::One, Sessions::PerThread] {
        let key = Pkcs11Key::open(&module(), &uri("rate"), &pin())
            .unwrap()
            .with_sessions(mode);
        let s = Signer::with_backend(Backend::Pkcs11(key), trust(), Usage::Permit, at()).unwrap();
        // Every signature is checked inside `sign` (verify_strict): the rate includes it.
        let one = rate(n, 1, &|m| s.sign(m).unwrap());
        let many = rate(n, threads, &|m| s.sign(m).unwrap());
        println!(
            "  SoftHSM2, sessions {mode:<9?} 1 thread {one:>9.0}   {threads} threads {many:>9.0}"
        );
        assert!(one > 0.0 && many > 0.0);
    }
}

// ---- the CLI ----

/// Runs `issuer --json ARGS…` in `dir` with the token's configuration and the PIN in the
/// environment; (exit code, stdout JSON, stderr).
fn issuer(dir: &Path, hsm: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    issuer_env(dir, hsm, Some(PIN), args)
}

fn issuer_env(
    dir: &Path,
    hsm: &Path,
    pin: Option<&str>,
    args: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("SOFTHSM2_CONF", conf(hsm))
        .env_remove("GDRP_PKCS11_PIN")
        .args([
            "--ledger",
            "l.sqlite3",
            "--json",
            "--now",
            "2026-12-01T08:00:00Z",
        ])
        .args(args);
    if let Some(p) = pin {
        c.env("GDRP_PKCS11_PIN", p);
    }
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code().unwrap(), v, stderr)
}

fn ok(run: (i32, serde_json::Value, String)) -> serde_json::Value {
    assert_eq!(run.0, 0, "{} {}", run.1, run.2);
    run.1
}

fn failed(run: (i32, serde_json::Value, String), code: &str) -> String {
    assert_eq!(run.0, 2, "{} {}", run.1, run.2);
    assert!(run.2.contains(code), "{}", run.2);
    run.2
}

const KEY: &str = "pkcs11:token=test;object=issuer-2026";

/// Root, token key, trust list: the key arguments for signing with the token key.
fn set_up(dir: &Path, hsm: &Path) -> serde_json::Value {
    ok(issuer(
        dir,
        hsm,
        &[
            "keys", "generate", "--role", "root", "--out", "root", "--test",
        ],
    ));
    let g = ok(issuer(
        dir,
        hsm,
        &["keys", "generate", "--test", "--pkcs11", KEY, "--out", "k"],
    ));
    ok(issuer(
        dir,
        hsm,
        &[
            "trust",
            "build",
            "--root",
            "root/root.key.pem",
            "--entry",
            "k/issuer.trust-entry.json",
            "--sequence",
            "1",
            "--test",
            "--out",
            "trust.json",
        ],
    ));
    g
}

const WITH_KEY: [&str; 6] = [
    "--key",
    KEY,
    "--trust",
    "trust.json",
    "--root",
    "root/root.pub.pem",
];

#[test]
#[cfg_attr(
    any(missing_softhsm, missing_softhsm_util),
    ignore = "SoftHSM2 not installed (apt-get install softhsm2)"
)]
fn a_token_key_issues_permits_publishes_status_lists_and_runs_a_batch() {
    let Some(hsm) = token_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let g = set_up(dir, hsm.path());
    assert!(g["private_key"].is_null(), "{g}");
    assert_eq!(g["pkcs11"], KEY);
    // Only public files: the private key stayed in the token.
    let mut names: Vec<String> = std::fs::read_dir(dir.join("k"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "issuer.pub.jwk.json",
            "issuer.pub.pem",
            "issuer.trust-entry.json"
        ]
    );
    // The same files again are refused, before the token is touched.
    failed(
        issuer(
            dir,
            hsm.path(),
            &["keys", "generate", "--test", "--pkcs11", KEY, "--out", "k"],
        ),
        "KEY_FILE_EXISTS",
    );
    // The same key name again is refused by the token.
    failed(
        issuer(
            dir,
            hsm.path(),
            &["keys", "generate", "--test", "--pkcs11", KEY, "--out", "k2"],
        ),
        "HSM_FAILED",
    );

    let applicant = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json");
    let mut args = vec![
        "issue",
        "--applicant",
        applicant.to_str().unwrap(),
        "--out",
        "p.txt",
    ];
    args.extend(WITH_KEY);
    let issued = ok(issuer(dir, hsm.path(), &args));
    assert_eq!(issued["key_id"], g["kid"]);
    let text = std::fs::read_to_string(dir.join("p.txt")).unwrap();
    let root = permit_issuer::keyfile::read_public_key(&dir.join("root/root.pub.pem")).unwrap();
    let trust = TrustList::verify(&std::fs::read(dir.join("trust.json")).unwrap(), &root).unwrap();
    let env = permit_shared::credential::Envelope::decode(
        &permit_shared::credential::from_text(text.trim()).unwrap(),
    )
    .unwrap();
    let key = &trust.keys_with_id(env.key_id()).next().unwrap().key;
    assert!(env.verify(key).is_ok());

    let mut args = vec!["status", "publish", "--out", "status.cwt"];
    args.extend(WITH_KEY);
    ok(issuer(dir, hsm.path(), &args));
    let bytes = std::fs::read(dir.join("status.cwt")).unwrap();
    let token = permit_shared::status::StatusListToken::envelope(&bytes).unwrap();
    assert_eq!(token.key_id(), env.key_id());
    assert!(token.verify(key).is_ok());

    // A batch signs on the rayon workers through the token.
    let n = 200;
    ok(issuer(
        dir,
        hsm.path(),
        &[
            "demo-data",
            "--count",
            &n.to_string(),
            "--seed",
            "3",
            "--out",
            "rows.jsonl",
        ],
    ));
    let mut args = vec!["batch", "--input", "rows.jsonl", "--out", "job", "--quiet"];
    args.extend(WITH_KEY);
    let t = Instant::now();
    let report = ok(issuer(dir, hsm.path(), &args));
    let secs = t.elapsed().as_secs_f64();
    let issued = report["issued"].as_u64().unwrap_or(0);
    println!(
        "batch through SoftHSM2: {issued} of {n} rows issued in {secs:.2} s ({:.0} rows/s, PNG rendering included)",
        issued as f64 / secs
    );
    assert!(issued > n as u64 / 2, "{report}");
    let manifest = std::fs::read_to_string(dir.join("job/manifest.jsonl")).unwrap();
    assert_eq!(manifest.lines().count() as u64, issued);
    assert!(manifest.contains(g["kid"].as_str().unwrap()) || !manifest.contains("key_id"));
}

#[test]
#[cfg_attr(
    any(missing_softhsm, missing_softhsm_util),
    ignore = "SoftHSM2 not installed (apt-get install softhsm2)"
)]
fn the_pin_is_never_an_argument_and_token_failures_have_codes() {
    let Some(hsm) = token_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    set_up(dir, hsm.path());
    let applicant = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/applicant.json");
    let issue = |key: &str, pin: Option<&str>| {
        issuer_env(
            dir,
            hsm.path(),
            pin,
            &[
                "issue",
                "--applicant",
                applicant.to_str().unwrap(),
                "--out",
                "p.txt",
                "--key",
                key,
                "--trust",
                "trust.json",
                "--root",
                "root/root.pub.pem",
            ],
        )
    };
    // pin-value in the URI: refused before anything is loaded.
    let e = failed(issue(&format!("{KEY}?pin-value=1234"), None), "USAGE");
    assert!(e.contains("pin-value"), "{e}");
    // No PIN at all.
    let e = failed(issue(KEY, None), "HSM_FAILED");
    assert!(e.contains("GDRP_PKCS11_PIN"), "{e}");
    // A wrong PIN: the token refuses it; the PIN is not echoed.
    let e = failed(issue(KEY, Some("98765")), "HSM_FAILED");
    assert!(!e.contains("98765"), "{e}");
    // A PIN file readable by others is refused; mode 0600 works.
    let pin_file = dir.join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let with_file = format!("{KEY}?pin-source=file:{}", pin_file.display());
    let e = failed(issue(&with_file, None), "HSM_FAILED");
    assert!(e.contains("chmod 600") && !e.contains(PIN), "{e}");
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(issue(&with_file, None));
    // No such key; no such module.
    failed(
        issue("pkcs11:token=test;object=nope", Some(PIN)),
        "HSM_FAILED",
    );
    let e = failed(
        issue(
            &format!("{KEY}?module-path=/nonexistent/libnone.so"),
            Some(PIN),
        ),
        "HSM_FAILED",
    );
    assert!(e.contains("--pkcs11-module"), "{e}");
    // A token key the trust list does not publish signs nothing.
    ok(issuer(
        dir,
        hsm.path(),
        &[
            "keys",
            "generate",
            "--test",
            "--pkcs11",
            "pkcs11:token=test;object=other",
            "--out",
            "o",
        ],
    ));
    let e = failed(issue("pkcs11:token=test;object=other", Some(PIN)), "USAGE");
    assert!(e.contains("not in trust list"), "{e}");
}
