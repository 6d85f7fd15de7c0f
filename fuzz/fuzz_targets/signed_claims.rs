//! Structured permit claims built from the input, signed with the demo issuer key, verified.
//! Harness: `permit_verifier::fuzzing::signed_claims`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| permit_verifier::fuzzing::signed_claims(data));
