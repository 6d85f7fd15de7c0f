//! Arbitrary CWT payload signed with the TEST-ONLY demo issuer key, verified in full.
//! Harness: `permit_verifier::fuzzing::signed_payload`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| permit_verifier::fuzzing::signed_payload(data));
