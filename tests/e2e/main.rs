//! End-to-end tests across the crates: issue → render → decode → verify, negative vectors,
//! Ed25519 edge cases, foreign-credential corpora, independent decoders and verifiers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod caps;
mod common;
mod corpora;
mod ed25519;
mod format_doc;
mod fuzz_corpus;
mod independent;
mod issue_verify;
mod json_suite;
mod lifecycle_cli;
mod negative;
mod negative_session;
mod presentation;
mod skips;
mod web_page;
