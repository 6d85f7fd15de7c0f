//! Issuing side: keys, applications and eligibility, review, issuance, endorsement, changes,
//! cancellation, cards, status lists, batch jobs, the ledger, rendering.
//!
//! ```text
//! applicant ─► lifecycle::apply ─► eligibility ─► lifecycle::review ─► lifecycle::mint
//!   (ledger::Tx: applications, permits, credentials, events) ─► render (PNG/SVG/text)
//!   ─► selfcheck (decode the image again, verify) ─► file
//! ```
//!
//! The library never prints and never reads the clock: time and actor come in an
//! [`lifecycle::Office`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
pub mod card;
pub mod demo;
pub mod demo_data;
pub mod eligibility;
pub mod error_code;
pub mod issue;
pub mod keyfile;
pub mod ledger;
pub mod lifecycle;
pub mod pkcs11;
pub mod render;
pub mod report;
pub mod selfcheck;
pub mod settings;
