//! Signed status-list tokens, and status-list claims signed with the demo issuer key.
//! Harness: `permit_verifier::fuzzing::status_list`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| permit_verifier::fuzzing::status_list(data));
