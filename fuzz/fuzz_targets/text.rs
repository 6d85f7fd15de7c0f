//! Scanner text: normaliser, prefix classification, decimal transport (one-to-one).
//! Harness: `permit_verifier::fuzzing::text`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| permit_verifier::fuzzing::text(data));
