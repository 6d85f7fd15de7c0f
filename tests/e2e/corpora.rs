//! The QR corpora of other credential systems in `../shared/corpora/qr-credentials/`: every
//! usable image decodes to its expected text and is reported as a foreign format, never as
//! valid; corrupt files are reported unreadable; nothing panics.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use permit_shared::reason::Code;
use permit_shared::trust::TrustList;
use permit_verifier::check::{self, Input};
use permit_verifier::report::Report;
use permit_verifier::scan::ScanLimits;
use permit_verifier::verify::Verdict;

use crate::common::{ctx, demo_trust, fixed_now};

fn check(trust: &TrustList, name: &str, bytes: &[u8]) -> Report {
    check::check(
        name,
        Input::Image(bytes),
        &ctx(trust, fixed_now()),
        &ScanLimits::default(),
    )
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.reasons.iter().map(|x| x.code.as_str()).collect()
}

/// Runs `f` over `items` on all cores.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = items.len().div_ceil(n).max(1);
    std::thread::scope(|s| {
        let hs: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<_>>()))
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn eu_dcc_qr_corpus_is_unsupported_format() {
    let d = permit_e2e::require_shared!().join("corpora/qr-credentials/dcc/qr_corpus");
    let trust = demo_trust();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    let usable: Vec<&serde_json::Value> = manifest
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("exclude").is_none())
        .collect();
    let results = parallel(&usable, |e| {
        let png = e["png"].as_str().unwrap();
        let expected =
            std::fs::read_to_string(d.join(e["expected_text"].as_str().unwrap())).unwrap();
        let r = check(&trust, png, &std::fs::read(d.join(png)).unwrap());
        (png.to_owned(), expected, r)
    });
    let mut decoded = 0;
    for (png, expected, r) in &results {
        assert_ne!(r.verdict, Verdict::Valid, "{png}");
        assert!(!r.input_error, "{png}: {:?}", codes(r));
        assert_eq!(r.codes.len(), 1, "{png}");
        assert_eq!(
            r.codes[0].format,
            Some("EU Digital COVID Certificate (HC1:)"),
            "{png}"
        );
        assert_eq!(codes(r), ["UNSUPPORTED_FORMAT"], "{png}");
        assert_eq!(
            r.codes[0].text_length,
            expected.trim_end_matches('\n').len(),
            "{png}"
        );
        decoded += 1;
    }
    eprintln!(
        "EU DCC corpus: {decoded} of {} usable images reported as UNSUPPORTED_FORMAT",
        usable.len()
    );
    assert_eq!(decoded, usable.len());
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn eu_dcc_common_test_files() {
    let d = permit_e2e::require_shared!().join("corpora/qr-credentials/dcc");
    let trust = demo_trust();
    let mut n = 0;
    for f in crate::common::sorted_files(&d.join("common")) {
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let Some(b64) = j["2DCODE"].as_str() else {
            continue;
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let r = check(&trust, &f.display().to_string(), &png);
        let expect_decode = j["EXPECTEDRESULTS"]["EXPECTEDPICTUREDECODE"].as_bool();
        assert_ne!(r.verdict, Verdict::Valid);
        if expect_decode == Some(false) {
            assert!(r.input_error, "{}: {:?}", f.display(), codes(&r));
        } else if expect_decode == Some(true) {
            assert_eq!(codes(&r), ["UNSUPPORTED_FORMAT"], "{}", f.display());
        }
        n += 1;
    }
    assert_eq!(n, 2, "CO28 and Q1 carry images");
    let bin = d.join("png/Q1_not_an_image.bin");
    let r = check(&trust, "Q1", &std::fs::read(bin).unwrap());
    assert!(r.input_error);
    assert_eq!(codes(&r), ["IMAGE_UNREADABLE"]);
}

fn images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .collect();
    v.sort();
    v
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn smart_health_cards_and_links() {
    let d = permit_e2e::require_shared!().join("corpora/qr-credentials/shc/testdata");
    let trust = demo_trust();
    for p in images(&d) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let r = check(&trust, &name, &std::fs::read(&p).unwrap());
        assert_ne!(r.verdict, Verdict::Valid, "{name}");
        if name.contains("corrupted") {
            assert!(r.input_error, "{name}: {:?}", codes(&r));
            continue;
        }
        assert!(!r.input_error, "{name}: {:?}", codes(&r));
        for c in &r.codes {
            assert!(
                c.outcome
                    .reasons
                    .iter()
                    .any(|x| x.code == Code::UnsupportedFormat),
                "{name}"
            );
            assert!(
                c.format.is_some_and(|f| f.starts_with("SMART Health")),
                "{name}: {:?}",
                c.format
            );
        }
    }
    // The texts themselves (numeric shc:/ chunks).
    for p in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.starts_with("test-example-00-f-qr-code") && n.ends_with(".txt") {
            let t = std::fs::read_to_string(&p).unwrap();
            for line in t.lines().filter(|l| !l.is_empty()) {
                let r = check::check(
                    &n,
                    Input::Text(line),
                    &ctx(&trust, fixed_now()),
                    &ScanLimits::default(),
                );
                assert_ne!(r.verdict, Verdict::Valid, "{n}");
            }
        }
    }
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn nz_covid_passes() {
    let d = permit_e2e::require_shared!().join("corpora/qr-credentials/nzcp/spec/examples");
    let trust = demo_trust();
    let mut n = 0;
    for sub in ["valid", "invalid"] {
        for p in images(&d.join(sub)) {
            let r = check(
                &trust,
                &p.display().to_string(),
                &std::fs::read(&p).unwrap(),
            );
            assert_eq!(codes(&r), ["UNSUPPORTED_FORMAT"], "{}", p.display());
            assert_eq!(r.codes[0].format, Some("NZ COVID Pass (NZCP:/)"));
            let txt = p.with_extension("txt");
            if txt.exists() {
                assert_eq!(
                    r.codes[0].text_length,
                    std::fs::read_to_string(txt).unwrap().trim_end().len()
                );
            }
            n += 1;
        }
    }
    assert_eq!(n, 8);
}
