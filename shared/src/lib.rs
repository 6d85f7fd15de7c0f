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
//! use permit_shared::{credential, keys::SecretKey};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SecretKey::from_seed(&[7; 32])?; // a test key; real keys come from OS randomness
//! # let claims = permit_shared::example_claims();
//! let text = credential::to_text(&credential::sign(&claims, &key));
//! let envelope = credential::Envelope::decode(&credential::from_text(&text)?)?;
//! assert_eq!(envelope.key_id(), key.public().id());
//! let verified = envelope.verify(key.public())?;
//! assert_eq!(verified.claims()?, claims);
//! # Ok(()) }
//! ```

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
pub mod status;
pub mod text;
pub mod trust;

/// A fixed, valid claims set (the reference applicant, test data) for examples and tests.
#[doc(hidden)]
pub fn example_claims() -> credential::Claims {
    use chrono::NaiveDate;
    credential::Claims {
        issued_at: 1_795_536_000,
        expires_at: 1_890_230_400,
        permit: credential::PermitClaim {
            serial: 482_913_077_415,
            version: 1,
            name: "欧阳晓燕".into(),
            id_number: citizen_id::CitizenId::parse("430524199107199021")
                .unwrap_or_else(|_| unreachable_id()),
            ethnicity: Some(1),
            hukou_division: Some(430524),
            residence_district: 440106,
            residence_address: "石牌街道天河北路233号中信广场36栋1203房".into(),
            authority: 440106,
            issued_on: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default(),
            endorsed_until: NaiveDate::from_ymd_opt(2027, 11, 25).unwrap_or_default(),
            status_index: 1_234_567,
            photo: None,
            test: true,
        },
    }
}

fn unreachable_id() -> citizen_id::CitizenId {
    // The literal above is a valid number; this keeps the function total without panicking.
    citizen_id::CitizenId::parse("440106199001010013").unwrap_or_else(|_| unreachable_id())
}
