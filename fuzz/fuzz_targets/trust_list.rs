//! Trust-list documents, and payloads signed with the TEST-ONLY demo root.
//! Harness: `permit_verifier::fuzzing::trust_list`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| permit_verifier::fuzzing::trust_list(data));
