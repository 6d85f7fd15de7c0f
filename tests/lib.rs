//! Helpers for the end-to-end tests: paths to the shared test material (which only exists beside
//! the checkout, in development and CI), the demo trust list, and a fixed-clock issuer.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// `../shared` beside the checkout, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    d.is_dir().then_some(d)
}

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Returns the shared directory or skips the test with a printed reason.
#[macro_export]
macro_rules! require_shared {
    () => {
        match $crate::shared_dir() {
            Some(d) => d,
            None => {
                eprintln!("skipped: ../shared (public test vectors and corpora) is not beside the checkout");
                return;
            }
        }
    };
}

/// The fixed "now" of the tests: 2026-11-25 10:00 China Standard Time.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_572_000, 0).unwrap_or_default()
}
