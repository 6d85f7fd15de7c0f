//! Residence-permit model, validation and credential format, shared by the issuer and the
//! verifier. No printing, no clock, no files: time is always a parameter.
//!
//! The pipeline:
//!
//! ```text
//! applicant JSON/CSV ─► applicant::RawApplicant::validate ─► applicant::Applicant
//!        (issuer) ─► credential::Claims ─► credential::sign ─► COSE_Sign1 bytes
//!        ─► credential::to_text ─► "GDRP1:0123…" (QR text)
//! QR text ─► credential::from_text ─► credential::Envelope::decode ─► (key lookup in a
//!        trust::TrustList) ─► Envelope::verify ─► credential::Verified::claims
//! ```
//!
//! ```
//! use chrono::NaiveDate;
//! use permit_shared::citizen_id::CitizenId;
//! use permit_shared::credential::{self, Claims, PermitClaim};
//! use permit_shared::keys::SecretKey;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SecretKey::from_seed(&[7; 32])?; // a test key; real keys come from OS randomness
//! let claims = Claims {
//!     issued_at: 1_795_536_000,  // 2026-11-25, Unix seconds
//!     expires_at: 1_890_230_400, // the start of the day after the last valid day
//!     holder: None,              // or the holder device's key (see docs/FORMAT.md)
//!     permit: PermitClaim {
//!         serial: 482_913_077_415,
//!         version: 1,
//!         name: "欧阳晓燕".into(),
//!         id_number: CitizenId::parse("430524199107199021")?,
//!         ethnicity: Some(1),
//!         hukou_division: Some(430524),
//!         residence_district: 440106,
//!         residence_address: "石牌街道天河北路233号中信广场36栋1203房".into(),
//!         authority: 440106,
//!         issued_on: NaiveDate::from_ymd_opt(2026, 11, 25).ok_or("date")?,
//!         endorsed_until: NaiveDate::from_ymd_opt(2027, 11, 25).ok_or("date")?,
//!         status_index: 1_234_567,
//!         photo: None,
//!         test: true,
//!         // The status list the credential's index refers to (optional; see docs/FORMAT.md).
//!         status_list: Some(permit_shared::status::list_id("https://permits.gd.example.invalid/status/1")),
//!     },
//! };
//! let text = credential::to_text(&credential::sign(&claims, &key));
//! let envelope = credential::Envelope::decode(&credential::from_text(&text)?)?;
//! assert_eq!(envelope.key_id(), key.public().id());
//! let verified = envelope.verify(key.public())?;
//! assert_eq!(verified.claims()?, claims);
//! # Ok(()) }
//! ```
//!
//! The cargo feature `test-fixtures` adds the module `fixtures` (the reference applicant, this
//! claims set, a deterministic RNG) for the workspace's tests; it is not part of the product API.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod applicant;
mod cbor;
pub mod citizen_id;
pub mod civil;
pub mod credential;
pub mod division;
pub mod keys;
pub mod reason;
pub mod role;
pub mod status;
pub mod text;
pub mod trust;

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
/// The fixed claims set of [`fixtures::example_claims`], at the path the verifier's fuzzing
/// harnesses use.
#[cfg(feature = "test-fixtures")]
#[doc(hidden)]
pub use fixtures::example_claims;
