//! Shared helpers: issuing with the demo key on a fixed clock, the demo trust list, contexts.

use chrono::{DateTime, Utc};

use permit_issuer::issue::Office;
use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::lifecycle::{self, Direct};
use permit_issuer::settings::{Channel, Settings};
use permit_shared::applicant::RawApplicant;
use permit_shared::trust::{TrustList, Usage};
use permit_verifier::verify::Context;

pub use permit_e2e::{fixed_now, repo_dir};

/// The project's own example applicant.
pub fn example_applicant() -> String {
    std::fs::read_to_string(repo_dir().join("examples/applicant.json")).unwrap()
}

/// The demo trust list, verified.
pub fn demo_trust() -> TrustList {
    TrustList::verify(
        permit_verifier::demo::TRUST_LIST.as_bytes(),
        &permit_verifier::demo::root().unwrap(),
    )
    .unwrap()
}

/// Issues a permit for an applicant JSON with the demo key at `now`; returns the QR text.
pub fn issue_at(applicant_json: &str, now: DateTime<Utc>) -> String {
    let mut ledger = SqliteLedger::in_memory().unwrap();
    let settings = Settings::default();
    let signer = permit_issuer::demo::signer(Usage::Permit, now).unwrap();
    let office = Office {
        settings: &settings,
        now,
        actor: "e2e",
    };
    let raw = RawApplicant::from_json(applicant_json.as_bytes()).unwrap();
    let d = ledger
        .transaction(|tx| lifecycle::issue_direct(tx, &office, &signer, &raw, Channel::Counter))
        .unwrap();
    match d {
        Direct::Issued(i) => i.text,
        Direct::Ineligible(a) => panic!("not eligible: {:?}", a.eligibility),
    }
}

/// A verification context at `at` (given clock, no status list).
pub fn ctx(trust: &TrustList, at: DateTime<Utc>) -> Context<'_> {
    Context::new(trust, at)
}

/// The files of a directory, sorted by path.
pub fn sorted_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Writes a test vector `dir/name.json` (pretty JSON and a newline).
pub fn write_vector(dir: &std::path::Path, name: &str, j: &serde_json::Value) {
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(j).unwrap() + "\n",
    )
    .unwrap();
}

/// This test binary's profile directory (`target/<profile>`, the parent of `deps/`).
pub fn profile_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// A workspace binary (`issuer`, `verifier`, `holder`) of this test's profile; `cargo test
/// --workspace` builds them, and when this test runs on its own they are built first.
pub fn bin(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let dir = profile_dir();
    BUILT.get_or_init(|| {
        if ["issuer", "verifier", "holder"]
            .iter()
            .all(|b| dir.join(b).exists())
        {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut c = std::process::Command::new(cargo);
        c.current_dir(repo_dir()).args([
            "build",
            "--bins",
            "-p",
            "permit-issuer",
            "-p",
            "permit-verifier",
            "-p",
            "permit-holder",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        assert!(
            c.status().unwrap().success(),
            "building the issuer, verifier and holder failed"
        );
    });
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
