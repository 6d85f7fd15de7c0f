//! Replays the fuzzing corpus and every crasher found so far (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) through the harnesses of `permit_verifier::fuzzing`, on stable
//! Rust without libFuzzer. A directory whose name has no harness is an error, and so is a target
//! without corpus.
//!
//! `write_seed_corpus` (ignored) writes the seed inputs the corpus started from:
//! `cargo test --release -p permit-e2e --test e2e fuzz_corpus::write_seed_corpus -- --ignored`.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use image::{DynamicImage, ImageFormat};
use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_shared::credential;
use permit_shared::status::{Status, StatusList, StatusListToken};
use permit_verifier::fuzzing::{self, Harness, TARGETS};
use sha2::{Digest, Sha256};

use crate::common::{example_applicant, fixed_now, issue_at, repo_dir};

fn fuzz_dir() -> PathBuf {
    repo_dir().join("fuzz")
}

fn harness(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
}

/// The files of `fuzz/<kind>/<target>/`, by target; an error for a directory without harness.
fn inputs(kind: &str) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    let Ok(dirs) = std::fs::read_dir(fuzz_dir().join(kind)) else {
        return out;
    };
    for d in dirs {
        let d = d.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            harness(&name).is_some(),
            "fuzz/{kind}/{name}: no harness of that name in permit_verifier::fuzzing::TARGETS"
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        out.insert(name, files);
    }
    out
}

/// Runs every file through its harness; returns the files whose harness panicked.
fn replay(kind: &str, by_target: &BTreeMap<String, Vec<PathBuf>>) -> Vec<String> {
    let mut failed = Vec::new();
    for (name, files) in by_target {
        let h = harness(name).unwrap();
        let bytes: usize = files
            .iter()
            .map(|f| {
                let data = std::fs::read(f).unwrap();
                if catch_unwind(AssertUnwindSafe(|| h(&data))).is_err() {
                    failed.push(format!("{}", f.display()));
                }
                data.len()
            })
            .sum();
        println!(
            "fuzz/{kind}/{name}: {} inputs, {bytes} bytes replayed",
            files.len()
        );
    }
    failed
}

#[test]
fn corpus_and_regressions_replay_without_panic() {
    let corpus = inputs("corpus");
    for (name, _) in TARGETS {
        assert!(
            corpus.get(*name).is_some_and(|f| !f.is_empty()),
            "fuzz/corpus/{name}/ is missing or empty"
        );
    }
    let regressions = inputs("regressions");
    let mut failed = replay("corpus", &corpus);
    failed.extend(replay("regressions", &regressions));
    let total: usize = corpus
        .values()
        .chain(regressions.values())
        .map(Vec::len)
        .sum();
    println!("{total} fuzz inputs replayed, {} failed", failed.len());
    assert!(failed.is_empty(), "harness panicked on: {failed:#?}");
}

#[test]
fn a_directory_without_harness_is_detected() {
    assert!(harness("text").is_some());
    assert!(harness("no_such_target").is_none());
}

// ---------------------------------------------------------------------------------------------
// Seeds.

fn write(target: &str, data: &[u8]) {
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let hash: String = Sha256::digest(data)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("seed-{hash}");
    std::fs::write(dir.join(name), data).unwrap();
}

fn image_bytes(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Writes the seed inputs into `fuzz/corpus/<target>/` (names `seed-<sha256 prefix>`).
#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    let issuer = permit_issuer::demo::issuer_key().unwrap();
    let issued = issue_at(&example_applicant(), fixed_now());
    let example = credential::to_text(&credential::sign(
        &permit_shared::fixtures::example_claims(),
        &issuer,
    ));
    let texts = [issued.clone(), example.clone()];

    // Scanner text: as scanned, with a line end, in lower case with surrounding white space.
    for t in &texts {
        write("text", t.as_bytes());
        write("text", format!("{t}\r\n").as_bytes());
        write("text", format!(" {}\t", t.to_lowercase()).as_bytes());
    }
    write("text", b"GDRP1:");
    write("text", b"GDRP1:0001");

    // Credential bytes, and the texts themselves.
    for t in &texts {
        let cose = credential::from_text(t).unwrap();
        write("credential", &cose);
        write("credential", t.as_bytes());
        // Signed payload and claims harnesses: a 5-byte context header (offset 0, flags).
        let payload = fuzzing::cose_payload(&cose).unwrap();
        for flags in [0u8, 1, 7] {
            let mut d = vec![0, 0, 0, 0, flags];
            d.extend_from_slice(payload);
            write("signed_payload", &d);
        }
    }
    for d in [
        vec![0u8; 40],
        [vec![0, 0, 0, 0, 1, 0, 0, 0, 0], vec![1u8; 40]].concat(),
        (0u8..=255).collect(),
    ] {
        write("signed_claims", &d);
    }

    // Status lists: small and fixture-sized, as signed tokens and as their claims.
    for (len, sequence) in [(16u64, 1u64), (1 << 10, 2), (1 << 16, 3)] {
        let mut list = StatusList::new(len);
        list.set(1, Status::Revoked);
        list.set(len / 2, Status::Suspended);
        list.set(len - 1, Status::Superseded);
        let token = StatusListToken {
            uri: "https://example.invalid/status/1".to_owned(),
            issued_at: fuzzing::NOW - 3600,
            ttl: 86_400,
            sequence,
            list,
        };
        let signed = token.sign(&issuer);
        write("status_list", &signed);
        write("status_list", fuzzing::cose_payload(&signed).unwrap());
    }

    // Trust list: the demo documents, and the signed body (the harness signs the input).
    let keys = repo_dir().join("keys");
    for f in [
        "TEST-ONLY-demo-trust-list.json",
        "TEST-ONLY-demo-issuer.trust-entry.json",
        "TEST-ONLY-demo-issuer.pub.jwk.json",
    ] {
        write("trust_list", &std::fs::read(keys.join(f)).unwrap());
    }
    let body = permit_shared::trust::dangerous_read_unverified_body(
        permit_verifier::demo::TRUST_LIST.as_bytes(),
    )
    .unwrap();
    write("trust_list", &serde_json::to_vec(&body).unwrap());

    // Images: small renderings of both codes (the harness caps images at 400 × 400 pixels).
    for (i, t) in texts.iter().enumerate() {
        let m = QrMatrix::encode(t, Ecc::M).unwrap();
        let opts = RenderOptions {
            module_px: 2 + i as u32,
            quiet_zone: 4,
        };
        let png = render::to_png(&m, &opts).unwrap();
        write("image", &png);
        let img = image::load_from_memory(&png).unwrap();
        write(
            "image",
            &image_bytes(&img.to_luma8().into(), ImageFormat::Jpeg),
        );
        if i == 0 {
            write(
                "image",
                &image_bytes(&img.to_rgba8().into(), ImageFormat::Gif),
            );
            write(
                "image",
                &image_bytes(&img.to_rgb8().into(), ImageFormat::Bmp),
            );
            write(
                "image",
                &image_bytes(&img.to_rgba8().into(), ImageFormat::WebP),
            );
            write(
                "image",
                &image_bytes(&img.to_luma8().into(), ImageFormat::Tiff),
            );
        }
    }
    // A code that is not a permit.
    let m = QrMatrix::encode("HELLO", Ecc::L).unwrap();
    write(
        "image",
        &render::to_png(
            &m,
            &RenderOptions {
                module_px: 2,
                quiet_zone: 4,
            },
        )
        .unwrap(),
    );
}
