//! Arbitrary bytes as a COSE_Sign1 envelope and as its decimal text, verified in full.
//! Harness: `permit_verifier::fuzzing::credential`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| permit_verifier::fuzzing::credential(data));
