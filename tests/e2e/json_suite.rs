//! JSONTestSuite against every JSON parser the product uses on outside input: applicant records,
//! trust lists and key entries, issuer settings, verifier state, JWKs. `n_` files must be refused,
//! nothing may panic.

use permit_issuer::settings::Settings;
use permit_shared::applicant::RawApplicant;
use permit_shared::keys::Jwk;
use permit_shared::trust::{KeyEntry, TrustList};

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn every_parser_refuses_invalid_json() {
    let d = permit_e2e::require_shared!().join("vectors/json/jsontestsuite/test_parsing");
    let root = permit_verifier::demo::root().unwrap();
    let mut n = 0;
    let mut files: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&f).unwrap();
        let results = [
            RawApplicant::from_json(&bytes).is_ok(),
            TrustList::verify(&bytes, &root).is_ok(),
            serde_json::from_slice::<KeyEntry>(&bytes).is_ok(),
            Settings::from_json(&bytes).is_ok(),
            serde_json::from_slice::<permit_verifier::state::State>(&bytes).is_ok(),
            serde_json::from_slice::<Jwk>(&bytes).is_ok(),
        ];
        if name.starts_with("n_") {
            assert!(results.iter().all(|ok| !ok), "{name} accepted: {results:?}");
            n += 1;
        }
    }
    assert!(n > 150, "{n} n_ files");
}
