//! The PostgreSQL side of whole-table reads (the audit's scans, the status list's credential
//! walk), streamed row by row, and the trust-list publications.
//! The scans have the SQLite ones' shape (`sqlite/audit.rs`) over another client API (its row
//! and error types differ); the row decoding itself is shared.

use postgres::Row;
use postgres::fallible_iterator::FallibleIterator as _;

use super::rows::{app_row, col, event_row, raw_credential, raw_permit};
use super::{PgTx, db_err};
use crate::ledger::digest::EventRow;
use crate::ledger::sqlite::rows::{
    self as shared_rows, APP_COLS, CREDENTIAL_SELECT, PERMIT_SELECT, app_from, i64_of, u64_of,
};
use crate::ledger::{
    ApplicationRecord, CredentialScan, Event, LedgerError, PermitRecord, TrustPublication, Tx as _,
};

impl PgTx<'_> {
    /// Runs `sql` (no parameters) and calls `f` for every row as it arrives.
    pub(super) fn each_row(
        &mut self,
        sql: &str,
        f: &mut dyn FnMut(&Row) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let st = self.st(sql)?;
        let e = db_err(&self.path);
        let none: [&str; 0] = [];
        let mut rows = self.tx.query_raw(&st, none).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            f(&r)?;
        }
        Ok(())
    }

    pub(super) fn scan_applications_impl(
        &mut self,
        f: &mut dyn FnMut(&str, Result<ApplicationRecord, LedgerError>),
    ) -> Result<(), LedgerError> {
        self.each_row(
            &format!("SELECT {APP_COLS} FROM applications ORDER BY id"),
            &mut |r| {
                let row = app_row(r)?;
                let id = row.0.clone();
                f(&id, app_from(row));
                Ok(())
            },
        )
    }

    pub(super) fn scan_permits_impl(
        &mut self,
        f: &mut dyn FnMut(u64, Result<PermitRecord, LedgerError>),
    ) -> Result<(), LedgerError> {
        self.each_row(
            &format!("SELECT {PERMIT_SELECT} FROM permits ORDER BY serial"),
            &mut |r| {
                let raw = raw_permit(r, 0)?;
                f(u64_of(raw.serial), raw.checked());
                Ok(())
            },
        )
    }

    pub(super) fn scan_credentials_impl(
        &mut self,
        f: &mut dyn FnMut(CredentialScan),
    ) -> Result<(), LedgerError> {
        let sql = format!(
            "SELECT {}, p.serial IS NOT NULL, {} FROM credentials c LEFT JOIN permits p ON p.serial = c.serial ORDER BY c.serial, c.version",
            shared_rows::prefixed("c.", CREDENTIAL_SELECT),
            shared_rows::prefixed("p.", PERMIT_SELECT)
        );
        self.each_row(&sql, &mut |r| {
            let raw = raw_credential(r, 0)?;
            let has_permit: bool = col(r, 9)?;
            let permit = if has_permit {
                Some(raw_permit(r, 10)?)
            } else {
                None
            };
            f(shared_rows::credential_scan(raw, permit));
            Ok(())
        })
    }

    pub(super) fn scan_events_impl(
        &mut self,
        f: &mut dyn FnMut(EventRow),
    ) -> Result<(), LedgerError> {
        self.each_row(
            &format!(
                "SELECT {} FROM events ORDER BY id",
                shared_rows::EVENT_SELECT
            ),
            &mut |r| {
                f(event_row(r)?);
                Ok(())
            },
        )
    }

    pub(super) fn trust_publication_impl(
        &mut self,
        sequence: u64,
    ) -> Result<Option<TrustPublication>, LedgerError> {
        self.opt(
            "SELECT sequence, content_sha256, document_sha256, document, published_at, actor FROM trust_publications WHERE sequence = $1",
            &[&i64_of(sequence)],
        )?
        .map(|r| {
            let sequence: i64 = col(&r, 0)?;
            Ok(TrustPublication {
                sequence: u64_of(sequence),
                content_sha256: col(&r, 1)?,
                document_sha256: col(&r, 2)?,
                document: col(&r, 3)?,
                published_at: col(&r, 4)?,
                actor: col(&r, 5)?,
            })
        })
        .transpose()
    }

    pub(super) fn last_trust_sequence_impl(&mut self) -> Result<Option<u64>, LedgerError> {
        let r = self.opt("SELECT MAX(sequence) FROM trust_publications", &[])?;
        let max: Option<i64> = match r {
            Some(r) => col(&r, 0)?,
            None => None,
        };
        Ok(max.map(u64_of))
    }

    pub(super) fn insert_trust_publication_impl(
        &mut self,
        p: &TrustPublication,
        event: &Event,
    ) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO trust_publications (sequence, content_sha256, document_sha256, document, published_at, actor) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &i64_of(p.sequence),
                &p.content_sha256,
                &p.document_sha256,
                &p.document,
                &p.published_at,
                &p.actor,
            ],
        )?;
        self.append_event(event)
    }
}
