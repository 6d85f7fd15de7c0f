//! Verifying side: reads permit QR codes from images or scanner text, verifies them against a
//! pinned trust list, an optional status list and a clock, and reports a verdict with stable
//! reason codes.
//!
//! ```text
//! image bytes ─► scan::scan_image_bytes ─► texts ─┐
//! scanner text ──────────────────────────────────┴► normalise ─► verify::verify_text ─► Outcome
//!                              check::check(…) collects them into a report::Report (JSON/human)
//! ```
//!
//! Libraries never read the clock: the caller passes the verification time in [`verify::Context`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod demo;
// Compiled for its own unit tests too; `cargo doc` never shows it.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod normalise;
pub mod replay;
pub mod report;
pub mod scan;
pub mod session;
pub mod state;
pub mod verify;
