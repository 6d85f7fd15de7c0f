//! Digests that protect ledger rows against silent damage (a flipped byte on disk, a restore
//! that mixed pages, a hand edit): every permit and credential row carries the SHA-256 of a
//! canonical serialisation of its fields, and every event the link of a hash chain over the
//! history. Rows are checked when they are read, so nothing is signed from a damaged row
//! (`LEDGER_DAMAGED`); `issuer ledger verify` checks them all.
//!
//! The serialisation is defined here, not by the database, so that another store (PostgreSQL)
//! computes the same digests: a domain tag, then each field in a fixed order as a 4-byte
//! big-endian length followed by the field's UTF-8 text (integers in decimal without leading
//! zeros, dates `YYYY-MM-DD`, booleans `true`/`false`); an absent optional field is the length
//! `FFFFFFFF` alone. The digest is the lower-case hex SHA-256 of the whole.
//!
//! ```
//! use permit_issuer::ledger::digest::Canonical;
//! let mut c = Canonical::new("example/1");
//! c.text("欧阳晓燕");
//! c.absent();
//! let a = c.finish();
//! let mut c = Canonical::new("example/1");
//! c.text("欧阳晓燖");
//! c.absent();
//! assert_ne!(a, c.finish());
//! ```
//!
//! These digests detect damage; they are no defence against someone who can write the ledger
//! file and recompute them (docs/SECURITY.md, "Ledger integrity").

use sha2::{Digest as _, Sha256};

use super::{CredentialRecord, Event, IntentRecord, PermitRecord};

/// Domain tag of a permit row's digest.
pub const PERMIT_TAG: &str = "gdrp-ledger/permit/1";
/// Domain tag of a credential row's digest.
pub const CREDENTIAL_TAG: &str = "gdrp-ledger/credential/1";
/// Domain tag of an event's chain link.
pub const EVENT_TAG: &str = "gdrp-ledger/event/1";
/// The link before the first event.
pub const CHAIN_START: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A canonical serialisation being hashed.
pub struct Canonical(Sha256);

impl Canonical {
    /// Starts with the domain tag (itself a field).
    pub fn new(tag: &str) -> Canonical {
        let mut c = Canonical(Sha256::new());
        c.text(tag);
        c
    }

    /// A text field.
    pub fn text(&mut self, s: &str) {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX - 1);
        self.0.update(len.to_be_bytes());
        self.0.update(s.as_bytes());
    }

    /// An integer field, in decimal.
    pub fn int(&mut self, v: impl Into<i128>) {
        self.text(&v.into().to_string());
    }

    /// An absent optional field.
    pub fn absent(&mut self) {
        self.0.update(u32::MAX.to_be_bytes());
    }

    /// An optional text field.
    pub fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.absent(),
        }
    }

    /// An optional integer field.
    pub fn opt_int<T: Into<i128>>(&mut self, v: Option<T>) {
        match v {
            Some(v) => self.int(v),
            None => self.absent(),
        }
    }

    /// The lower-case hex SHA-256.
    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of a permit row: every field of [`PermitRecord`], holder details included.
pub fn permit(p: &PermitRecord) -> String {
    let d = &p.details;
    let mut c = Canonical::new(PERMIT_TAG);
    c.int(p.serial);
    c.text(&p.application_id);
    c.text(p.state.as_str());
    c.text(&d.name);
    c.text(&d.id_number);
    c.opt_int(d.ethnicity);
    c.opt_int(d.hukou_division);
    c.opt_text(d.hukou_address.as_deref());
    c.int(d.residence_district);
    c.text(&d.residence_address);
    c.opt_text(d.photo.as_deref());
    c.text(if d.test { "true" } else { "false" });
    for date in [
        p.issued_on,
        p.valid_until,
        p.endorsed_until,
        p.residence_counted_since,
    ] {
        c.text(&date.to_string());
    }
    c.int(p.authority);
    c.int(p.current_version);
    c.int(p.created_at);
    c.int(p.updated_at);
    c.finish()
}

/// The digest of a credential row: every field of [`CredentialRecord`].
pub fn credential(r: &CredentialRecord) -> String {
    let mut c = Canonical::new(CREDENTIAL_TAG);
    c.int(r.serial);
    c.int(r.version);
    c.int(r.status_index);
    c.text(&r.key_id);
    c.int(r.issued_at);
    c.int(r.expires_at);
    c.text(&r.cause);
    c.text(&r.text);
    c.finish()
}

/// Domain tag of a batch intent's digest.
pub const INTENT_TAG: &str = "gdrp-ledger/intent/1";

/// The digest of a batch intent: every field but its state (which a commit changes from
/// `pending` to `done`, and a trigger keeps final).
pub fn intent(r: &IntentRecord) -> String {
    let mut c = Canonical::new(INTENT_TAG);
    c.text(&r.row_key);
    c.text(&r.job);
    c.int(r.line);
    c.text(&r.application_id);
    c.int(r.serial);
    c.int(r.status_index);
    c.text(&r.id_number);
    c.int(r.version);
    c.text(&r.plan_json);
    c.int(r.created_at);
    c.finish()
}

/// An event as stored, with its position in the history and its chain link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Position in the history, from 1, without gaps.
    pub id: i64,
    /// The event, its details as the stored JSON text (hashed as text, never re-serialised).
    pub event: Event<String>,
    /// The stored chain link.
    pub chain: String,
}

/// The chain link of an event: the digest of the previous link and the event's fields.
pub fn event_link(previous: &str, e: &EventRow) -> String {
    let mut c = Canonical::new(EVENT_TAG);
    c.text(previous);
    c.int(e.id);
    let e = &e.event;
    c.int(e.at);
    c.text(&e.actor);
    c.text(&e.kind);
    c.opt_text(e.application_id.as_deref());
    c.opt_int(e.serial);
    c.opt_int(e.version);
    c.text(&e.detail);
    c.finish()
}

/// Hex SHA-256 of bytes (the content hash of an application's applicant JSON).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{PermitDetails, PermitState};
    use chrono::NaiveDate;

    fn sample() -> PermitRecord {
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        PermitRecord {
            serial: 123_456_789_012,
            application_id: "A1".into(),
            state: PermitState::Active,
            details: PermitDetails {
                name: "欧阳晓燕".into(),
                id_number: "440106199001010013".into(),
                ethnicity: Some(1),
                hukou_division: Some(430_524),
                hukou_address: Some("湖南省".into()),
                residence_district: 440_106,
                residence_address: "广东省广州市天河区x".into(),
                photo: None,
                test: true,
                holder_key: None,
            },
            issued_on: d,
            valid_until: d,
            endorsed_until: d,
            residence_counted_since: d,
            authority: 440_106,
            current_version: 1,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn every_field_counts_and_absent_differs_from_empty() {
        let p = sample();
        let base = permit(&p);
        assert_eq!(base.len(), 64);
        let mut q = p.clone();
        q.details.name = "欧阳晓燖".into();
        assert_ne!(permit(&q), base);
        let mut q = p.clone();
        q.details.hukou_address = Some(String::new());
        let mut r = p.clone();
        r.details.hukou_address = None;
        assert_ne!(permit(&q), permit(&r));
        let mut q = p.clone();
        q.updated_at = 2;
        assert_ne!(permit(&q), base);
        let mut q = p;
        q.state = PermitState::Cancelled;
        assert_ne!(permit(&q), base);
    }

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let mut a = Canonical::new("t");
        a.text("ab");
        a.text("c");
        let mut b = Canonical::new("t");
        b.text("a");
        b.text("bc");
        assert_ne!(a.finish(), b.finish());
    }
}
