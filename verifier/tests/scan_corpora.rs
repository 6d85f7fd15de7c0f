//! Image decoding against the public QR corpora in `shared/corpora/qr-credentials` (EU DCC, SMART
//! Health Cards, NZ COVID Pass). Skipped, with a note on stderr, when the corpora are absent.
//!
//! Slow in debug builds; run with `cargo test --release -p permit-verifier --test scan_corpora`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use permit_verifier::scan::{ScanError, ScanLimits, ScanReport, scan_image_bytes_with_report};

const CORPORA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/corpora/qr-credentials"
);

/// Limits for the corpus runs: the defaults, with time enough for debug builds (about 20 times
/// slower than release) to run every attempt; what is under test is the outcome.
fn limits() -> ScanLimits {
    ScanLimits {
        time_budget: Duration::from_secs(120),
        ..ScanLimits::default()
    }
}

/// The SHC image whose code is damaged on purpose (white blots beyond error correction): a valid
/// PNG in which no code can be read.
const SHC_CORRUPTED: &str = "test-example-00-g-qr-code-0-corrupted.png";

/// One row of `dcc/qr_corpus/manifest.json`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestEntry {
    png: String,
    expected_text: String,
    #[serde(rename = "EXPECTEDPICTUREDECODE")]
    _expected_picture_decode: Option<bool>,
    #[serde(rename = "src")]
    _src: String,
    /// Why the PNG disagrees with its own source data, when it does.
    exclude: Option<String>,
}

/// Scan results and timings of one corpus run.
#[derive(Default)]
struct Tally {
    decoded: usize,
    total: usize,
    times: Vec<Duration>,
    /// How many images each strategy decoded, for tuning the attempt ladder.
    strategies: Vec<(String, usize)>,
    failures: Vec<String>,
}

impl Tally {
    fn scan(&mut self, path: &Path) -> Result<ScanReport, ScanError> {
        let bytes = fs::read(path).unwrap();
        let started = Instant::now();
        let result = scan_image_bytes_with_report(&bytes, &limits());
        self.times.push(started.elapsed());
        if let Ok(report) = &result {
            match self
                .strategies
                .iter_mut()
                .find(|(s, _)| *s == report.strategy)
            {
                Some((_, n)) => *n += 1,
                None => self.strategies.push((report.strategy.clone(), 1)),
            }
        }
        result
    }

    /// Scans an image that must give a code whose text is `expected` (or any text when `None`).
    fn expect_text(&mut self, path: &Path, expected: Option<&str>) {
        self.total += 1;
        match self.scan(path) {
            Ok(report) => {
                let texts: Vec<&str> = report.codes.iter().map(|c| c.text.as_str()).collect();
                let ok = match expected {
                    Some(expected) => texts.contains(&expected),
                    None => texts.iter().all(|t| !t.is_empty()),
                };
                if ok {
                    self.decoded += 1;
                } else {
                    self.failures.push(format!(
                        "{}: wrong text {:?}",
                        path.display(),
                        texts.iter().map(|t| short(t)).collect::<Vec<_>>()
                    ));
                }
            }
            Err(e) => self
                .failures
                .push(format!("{}: {} ({e})", path.display(), e.code())),
        }
    }
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The expected text of a `.txt` file: its content, less one trailing newline if it has one.
fn expected_text(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    match text.strip_suffix('\n') {
        Some(stripped) => stripped.strip_suffix('\r').unwrap_or(stripped).to_owned(),
        None => text,
    }
}

fn corpora() -> Option<PathBuf> {
    let root = PathBuf::from(CORPORA);
    if root.is_dir() {
        Some(root)
    } else {
        eprintln!(
            "skipping: QR corpora not found at {} (see shared/corpora/README.md)",
            root.display()
        );
        None
    }
}

fn images_in(dir: &Path) -> Vec<PathBuf> {
    let mut images: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png") || e.eq_ignore_ascii_case("jpg"))
        })
        .collect();
    images.sort();
    images
}

fn report(name: &str, tally: &mut Tally, elapsed: Duration) {
    tally.times.sort();
    let median = tally
        .times
        .get(tally.times.len() / 2)
        .copied()
        .unwrap_or_default();
    let max = tally.times.last().copied().unwrap_or_default();
    eprintln!(
        "{name}: decoded {} of {} in {elapsed:.2?} (median {median:.2?}, max {max:.2?} an image)",
        tally.decoded, tally.total
    );
    tally.strategies.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (strategy, count) in &tally.strategies {
        eprintln!("  {count:4} by {strategy}");
    }
    for failure in &tally.failures {
        eprintln!("  FAILED {failure}");
    }
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn dcc_corpus_decodes_to_the_expected_text() {
    let Some(root) = corpora() else { return };
    let dir = root.join("dcc/qr_corpus");
    let manifest: Vec<ManifestEntry> =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut excluded = Tally::default();
    for entry in &manifest {
        let png = dir.join(&entry.png);
        if entry.exclude.is_some() {
            // These PNGs disagree with their source's text: they must still decode to something.
            excluded.expect_text(&png, None);
        } else {
            let expected = expected_text(&dir.join(&entry.expected_text));
            tally.expect_text(&png, Some(&expected));
        }
    }
    report("DCC", &mut tally, started.elapsed());
    report("DCC (excluded)", &mut excluded, started.elapsed());
    assert_eq!(manifest.len(), 516);
    assert_eq!(tally.total, 513);
    assert!(
        tally.failures.is_empty(),
        "{} DCC images failed",
        tally.failures.len()
    );
    assert!(excluded.failures.is_empty());
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn dcc_not_an_image_is_unreadable() {
    let Some(root) = corpora() else { return };
    let bytes = fs::read(root.join("dcc/png/Q1_not_an_image.bin")).unwrap();
    let err = scan_image_bytes_with_report(&bytes, &limits()).unwrap_err();
    assert!(matches!(err, ScanError::ImageUnreadable { .. }), "{err:?}");

    let mut tally = Tally::default();
    tally.expect_text(&root.join("dcc/png/CO28.png"), None);
    assert!(tally.failures.is_empty(), "{:?}", tally.failures);
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn shc_images_decode_and_the_corrupted_one_is_reported() {
    let Some(root) = corpora() else { return };
    let dir = root.join("shc/testdata");
    let started = Instant::now();
    let mut tally = Tally::default();
    for image in images_in(&dir) {
        if image.file_name().is_some_and(|n| n == SHC_CORRUPTED) {
            continue;
        }
        tally.expect_text(&image, None);
    }
    report("SHC", &mut tally, started.elapsed());
    assert_eq!(tally.total, 10);
    assert!(
        tally.failures.is_empty(),
        "{} SHC images failed",
        tally.failures.len()
    );

    let bytes = fs::read(dir.join(SHC_CORRUPTED)).unwrap();
    let started = Instant::now();
    let err = scan_image_bytes_with_report(&bytes, &limits()).unwrap_err();
    eprintln!(
        "SHC {SHC_CORRUPTED}: {} after {:.2?}",
        err.code(),
        started.elapsed()
    );
    assert!(matches!(err, ScanError::NoCodeFound), "{err:?}");
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn nzcp_images_decode_to_their_text() {
    let Some(root) = corpora() else { return };
    let started = Instant::now();
    let mut tally = Tally::default();
    for sub in ["valid", "invalid"] {
        for image in images_in(&root.join("nzcp/spec/examples").join(sub)) {
            let txt = image.with_extension("txt");
            let expected = txt.is_file().then(|| expected_text(&txt));
            tally.expect_text(&image, expected.as_deref());
        }
    }
    report("NZCP", &mut tally, started.elapsed());
    assert_eq!(tally.total, 8);
    assert!(
        tally.failures.is_empty(),
        "{} NZCP images failed",
        tally.failures.len()
    );
}
