//! Reading rows back into records, each checked against its digest (permits, credentials) or
//! content hash (applications): a damaged row is [`LedgerError::Damaged`] naming the row, never
//! a record.

use chrono::NaiveDate;

use crate::ledger::digest::{self, EventRow};
use crate::ledger::{
    AppState, ApplicationRecord, CredentialRecord, CredentialScan, Event, LedgerError,
    PermitDetails, PermitRecord, PermitState,
};

pub(in crate::ledger) fn date(s: &str) -> Result<NaiveDate, LedgerError> {
    permit_shared::civil::parse_date(s).ok_or_else(|| LedgerError::Damaged(format!("date `{s}`")))
}

pub(in crate::ledger) fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(in crate::ledger) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(in crate::ledger) type AppRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    i64,
    String,
);

pub(in crate::ledger) const APP_COLS: &str = "id, reference, content_hash, id_number, applicant_json, eligibility_json, state, permit_serial, submitted_at, actor";

pub(in crate::ledger) fn app_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

/// An application row, its applicant JSON checked against its content hash (the SHA-256 of
/// exactly that JSON, computed when it was recorded).
pub(in crate::ledger) fn app_from(r: AppRow) -> Result<ApplicationRecord, LedgerError> {
    let damaged = |what: String| LedgerError::Damaged(format!("application {}: {what}", r.0));
    if digest::sha256_hex(r.4.as_bytes()) != r.2 {
        return Err(damaged(
            "the applicant record does not match its content hash".into(),
        ));
    }
    let state = AppState::parse(&r.6).ok_or_else(|| damaged(format!("state `{}`", r.6)))?;
    Ok(ApplicationRecord {
        id: r.0,
        reference: r.1,
        content_hash: r.2,
        id_number: r.3,
        applicant_json: r.4,
        eligibility_json: r.5,
        state,
        permit_serial: r.7.map(u64_of),
        submitted_at: r.8,
        actor: r.9,
    })
}

/// Columns written for a permit; reads add `id_number` and `digest`.
/// A permit row's values, bound as `?1`…`?14`: `PERMIT_COLS` in order, then `id_number` and
/// `digest`. The INSERT binds them all; the UPDATE names its columns by the same numbers (and
/// leaves `application_id` ?2 and `created_at` ?11, which never change, unused), so the two
/// statements cannot drift apart.
pub(in crate::ledger) fn permit_values(
    r: &PermitRecord,
) -> Result<[rusqlite::types::Value; 14], LedgerError> {
    use rusqlite::types::Value;
    let details =
        serde_json::to_string(&r.details).map_err(|e| LedgerError::Damaged(e.to_string()))?;
    Ok([
        Value::Integer(i64_of(r.serial)),
        Value::Text(r.application_id.clone()),
        Value::Text(r.state.as_str().to_owned()),
        Value::Text(details),
        Value::Text(r.issued_on.to_string()),
        Value::Text(r.valid_until.to_string()),
        Value::Text(r.endorsed_until.to_string()),
        Value::Text(r.residence_counted_since.to_string()),
        Value::Integer(i64::from(r.authority)),
        Value::Integer(i64::from(r.current_version)),
        Value::Integer(r.created_at),
        Value::Integer(r.updated_at),
        Value::Text(r.details.id_number.clone()),
        Value::Text(digest::permit(r)),
    ])
}

pub(in crate::ledger) const PERMIT_COLS: &str = "serial, application_id, state, details_json, issued_on, valid_until, endorsed_until, residence_counted_since, authority, current_version, created_at, updated_at";
/// What a permit read selects.
pub(in crate::ledger) const PERMIT_SELECT: &str = "serial, application_id, state, details_json, issued_on, valid_until, endorsed_until, residence_counted_since, authority, current_version, created_at, updated_at, id_number, digest";

/// A permit row as stored, before any check.
pub(in crate::ledger) struct RawPermit {
    pub(in crate::ledger) serial: i64,
    pub(in crate::ledger) application_id: String,
    pub(in crate::ledger) state: String,
    pub(in crate::ledger) details: String,
    pub(in crate::ledger) dates: [String; 4],
    pub(in crate::ledger) authority: i64,
    pub(in crate::ledger) current_version: i64,
    pub(in crate::ledger) created_at: i64,
    pub(in crate::ledger) updated_at: i64,
    pub(in crate::ledger) id_number: String,
    pub(in crate::ledger) digest: String,
}

/// Reads the [`PERMIT_SELECT`] columns from `offset` on.
pub(in crate::ledger) fn raw_permit(
    r: &rusqlite::Row<'_>,
    offset: usize,
) -> rusqlite::Result<RawPermit> {
    let g = |i: usize| offset + i;
    Ok(RawPermit {
        serial: r.get(g(0))?,
        application_id: r.get(g(1))?,
        state: r.get(g(2))?,
        details: r.get(g(3))?,
        dates: [r.get(g(4))?, r.get(g(5))?, r.get(g(6))?, r.get(g(7))?],
        authority: r.get(g(8))?,
        current_version: r.get(g(9))?,
        created_at: r.get(g(10))?,
        updated_at: r.get(g(11))?,
        id_number: r.get(g(12))?,
        digest: r.get(g(13))?,
    })
}

impl RawPermit {
    /// The record, without the digest check (the back-fill of migration 3 uses it).
    pub(in crate::ledger) fn parse(self) -> Result<PermitRecord, LedgerError> {
        let serial = u64_of(self.serial);
        let damaged = |what: String| LedgerError::Damaged(format!("permit {serial:012}: {what}"));
        let details = serde_json::from_str::<PermitDetails>(&self.details)
            .map_err(|e| damaged(format!("details: {e}")))?;
        if details.id_number != self.id_number {
            return Err(damaged(
                "the ID number column does not match the details".into(),
            ));
        }
        let d = |s: &str| date(s).map_err(|e| damaged(e.to_string()));
        Ok(PermitRecord {
            serial,
            application_id: self.application_id,
            state: match self.state.as_str() {
                "active" => PermitState::Active,
                "cancelled" => PermitState::Cancelled,
                other => return Err(damaged(format!("state `{other}`"))),
            },
            details,
            issued_on: d(&self.dates[0])?,
            valid_until: d(&self.dates[1])?,
            endorsed_until: d(&self.dates[2])?,
            residence_counted_since: d(&self.dates[3])?,
            authority: u32::try_from(self.authority).unwrap_or(0),
            current_version: u32::try_from(self.current_version).unwrap_or(0),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The record, checked against its digest.
    pub(in crate::ledger) fn checked(self) -> Result<PermitRecord, LedgerError> {
        let stored = self.digest.clone();
        let p = self.parse()?;
        let computed = digest::permit(&p);
        if computed != stored {
            return Err(LedgerError::Damaged(format!(
                "permit {:012}: the record does not match its digest (stored {}, computed {})",
                p.serial,
                short(&stored),
                short(&computed)
            )));
        }
        Ok(p)
    }
}

fn short(d: &str) -> &str {
    if d.is_empty() {
        "none"
    } else {
        d.get(..16).unwrap_or(d)
    }
}

/// A permit row, checked (the `rusqlite` row mapper of permit reads).
pub(in crate::ledger) fn permit_from(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<PermitRecord, LedgerError>> {
    Ok(raw_permit(r, 0)?.checked())
}

/// What a credential read selects.
pub(in crate::ledger) const CREDENTIAL_SELECT: &str =
    "serial, version, status_index, key_id, issued_at, expires_at, cause, text, digest";

/// A credential row and its stored digest, from `offset` on.
pub(in crate::ledger) fn raw_credential(
    r: &rusqlite::Row<'_>,
    offset: usize,
) -> rusqlite::Result<(CredentialRecord, String)> {
    let g = |i: usize| offset + i;
    Ok((
        CredentialRecord {
            serial: u64_of(r.get(g(0))?),
            version: r.get(g(1))?,
            status_index: u64_of(r.get(g(2))?),
            key_id: r.get(g(3))?,
            issued_at: r.get(g(4))?,
            expires_at: r.get(g(5))?,
            cause: r.get(g(6))?,
            text: r.get(g(7))?,
        },
        r.get(g(8))?,
    ))
}

/// A credential checked against its digest.
pub(in crate::ledger) fn checked_credential(
    (c, stored): (CredentialRecord, String),
) -> Result<CredentialRecord, LedgerError> {
    let computed = digest::credential(&c);
    if computed != stored {
        return Err(LedgerError::Damaged(format!(
            "credential {:012} v{}: the record does not match its digest (stored {}, computed {})",
            c.serial,
            c.version,
            short(&stored),
            short(&computed)
        )));
    }
    Ok(c)
}

/// The audit's view of a credential row and its permit row (`None`: no such permit), both
/// checked against their digests.
pub(in crate::ledger) fn credential_scan(
    raw: (CredentialRecord, String),
    permit: Option<RawPermit>,
) -> CredentialScan {
    CredentialScan {
        serial: raw.0.serial,
        version: raw.0.version,
        permit: permit.map(RawPermit::checked),
        credential: checked_credential(raw),
    }
}

/// What an event read selects.
pub(in crate::ledger) const EVENT_SELECT: &str =
    "id, at, actor, kind, application_id, serial, version, detail_json, chain";

/// An event row as stored.
pub(in crate::ledger) fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    let serial: Option<i64> = r.get(5)?;
    Ok(EventRow {
        id: r.get(0)?,
        event: Event {
            at: r.get(1)?,
            actor: r.get(2)?,
            kind: r.get(3)?,
            application_id: r.get(4)?,
            serial: serial.map(u64_of),
            version: r.get(6)?,
            detail: r.get(7)?,
        },
        chain: r.get(8)?,
    })
}

/// A column list with each column prefixed by a table alias (`c.` …).
pub(in crate::ledger) fn prefixed(alias: &str, cols: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
