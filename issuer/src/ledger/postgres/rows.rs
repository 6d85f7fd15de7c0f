//! Reading PostgreSQL rows into the ledger's records: typed columns (a type mismatch is damage),
//! then the same checks as the SQLite backend (`RawPermit::checked`, `checked_credential`).

use postgres::Row;

use crate::ledger::digest::EventRow;
use crate::ledger::sqlite::rows::{AppRow, RawPermit, u64_of};
use crate::ledger::{CredentialRecord, Event, LedgerError};

/// A column as `T`, a type mismatch being damage.
pub(super) fn col<'r, T: postgres::types::FromSql<'r>>(
    r: &'r Row,
    i: usize,
) -> Result<T, LedgerError> {
    r.try_get(i)
        .map_err(|e| LedgerError::Damaged(format!("column {i}: {e}")))
}

/// A `BIGINT` column that holds a `u32`.
pub(super) fn col_u32(r: &Row, i: usize) -> Result<u32, LedgerError> {
    let v: i64 = col(r, i)?;
    u32::try_from(v).map_err(|_| LedgerError::Damaged(format!("column {i}: {v} out of range")))
}

pub(super) fn app_row(r: &Row) -> Result<AppRow, LedgerError> {
    Ok((
        col(r, 0)?,
        col(r, 1)?,
        col(r, 2)?,
        col(r, 3)?,
        col(r, 4)?,
        col(r, 5)?,
        col(r, 6)?,
        col(r, 7)?,
        col(r, 8)?,
        col(r, 9)?,
    ))
}

/// The [`PERMIT_SELECT`] columns from `o` on, as stored.
pub(super) fn raw_permit(r: &Row, o: usize) -> Result<RawPermit, LedgerError> {
    Ok(RawPermit {
        serial: col(r, o)?,
        application_id: col(r, o + 1)?,
        state: col(r, o + 2)?,
        details: col(r, o + 3)?,
        dates: [
            col(r, o + 4)?,
            col(r, o + 5)?,
            col(r, o + 6)?,
            col(r, o + 7)?,
        ],
        authority: col(r, o + 8)?,
        current_version: col(r, o + 9)?,
        created_at: col(r, o + 10)?,
        updated_at: col(r, o + 11)?,
        id_number: col(r, o + 12)?,
        digest: col(r, o + 13)?,
    })
}

/// The [`CREDENTIAL_SELECT`] columns from `o` on, with the stored digest.
pub(super) fn raw_credential(r: &Row, o: usize) -> Result<(CredentialRecord, String), LedgerError> {
    let serial: i64 = col(r, o)?;
    let index: i64 = col(r, o + 2)?;
    Ok((
        CredentialRecord {
            serial: u64_of(serial),
            version: col_u32(r, o + 1)?,
            status_index: u64_of(index),
            key_id: col(r, o + 3)?,
            issued_at: col(r, o + 4)?,
            expires_at: col(r, o + 5)?,
            cause: col(r, o + 6)?,
            text: col(r, o + 7)?,
        },
        col(r, o + 8)?,
    ))
}

/// An event row as stored (`EVENT_SELECT`).
pub(super) fn event_row(r: &Row) -> Result<EventRow, LedgerError> {
    let serial: Option<i64> = col(r, 5)?;
    let version: Option<i64> = col(r, 6)?;
    Ok(EventRow {
        id: col(r, 0)?,
        event: Event {
            at: col(r, 1)?,
            actor: col(r, 2)?,
            kind: col(r, 3)?,
            application_id: col(r, 4)?,
            serial: serial.map(u64_of),
            version: version.and_then(|v| u32::try_from(v).ok()),
            detail: col(r, 7)?,
        },
        chain: col(r, 8)?,
    })
}
