//! The SQLite side of the audit (`issuer ledger verify`): every row read and checked, damage
//! reported per row instead of stopping at the first; and the trust-list publications.

use rusqlite::{OptionalExtension as _, params};

use super::rows::{
    self, APP_COLS, CREDENTIAL_SELECT, PERMIT_SELECT, app_from, app_row, i64_of, u64_of,
};
use super::{SqliteTx, db_err};
use crate::ledger::digest::EventRow;
use crate::ledger::{
    ApplicationRecord, CredentialScan, Event, LedgerError, PermitRecord, TrustPublication,
};

impl SqliteTx<'_> {
    /// Runs `sql` and calls `f` for every row.
    fn each_row(
        &self,
        sql: &str,
        f: &mut dyn FnMut(&rusqlite::Row<'_>) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let e = db_err(&self.path);
        let mut st = self.tx.prepare(sql).map_err(&e)?;
        let mut cursor = st.query([]).map_err(&e)?;
        while let Some(r) = cursor.next().map_err(&e)? {
            f(r)?;
        }
        Ok(())
    }

    pub(super) fn scan_applications_impl(
        &mut self,
        f: &mut dyn FnMut(&str, Result<ApplicationRecord, LedgerError>),
    ) -> Result<(), LedgerError> {
        let e = db_err(&self.path);
        self.each_row(
            &format!("SELECT {APP_COLS} FROM applications ORDER BY id"),
            &mut |r| {
                let row = app_row(r).map_err(&e)?;
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
        let e = db_err(&self.path);
        self.each_row(
            &format!("SELECT {PERMIT_SELECT} FROM permits ORDER BY serial"),
            &mut |r| {
                let raw = rows::raw_permit(r, 0).map_err(&e)?;
                f(u64_of(raw.serial), raw.checked());
                Ok(())
            },
        )
    }

    pub(super) fn scan_credentials_impl(
        &mut self,
        f: &mut dyn FnMut(CredentialScan),
    ) -> Result<(), LedgerError> {
        let e = db_err(&self.path);
        let sql = format!(
            "SELECT {}, p.serial IS NOT NULL, {} FROM credentials c LEFT JOIN permits p ON p.serial = c.serial ORDER BY c.serial, c.version",
            rows::prefixed("c.", CREDENTIAL_SELECT),
            rows::prefixed("p.", PERMIT_SELECT)
        );
        self.each_row(&sql, &mut |r| {
            let raw = rows::raw_credential(r, 0).map_err(&e)?;
            let has_permit: bool = r.get(9).map_err(&e)?;
            let permit = if has_permit {
                Some(rows::raw_permit(r, 10).map_err(&e)?)
            } else {
                None
            };
            f(rows::credential_scan(raw, permit));
            Ok(())
        })
    }

    pub(super) fn scan_events_impl(
        &mut self,
        f: &mut dyn FnMut(EventRow),
    ) -> Result<(), LedgerError> {
        let e = db_err(&self.path);
        self.each_row(
            &format!("SELECT {} FROM events ORDER BY id", rows::EVENT_SELECT),
            &mut |r| {
                f(rows::event_row(r).map_err(&e)?);
                Ok(())
            },
        )
    }

    pub(super) fn trust_publication_impl(
        &mut self,
        sequence: u64,
    ) -> Result<Option<TrustPublication>, LedgerError> {
        self.qrow(
            "SELECT sequence, content_sha256, document_sha256, document, published_at, actor FROM trust_publications WHERE sequence = ?1",
            [i64_of(sequence)],
            |r| {
                Ok(TrustPublication {
                    sequence: u64_of(r.get(0)?),
                    content_sha256: r.get(1)?,
                    document_sha256: r.get(2)?,
                    document: r.get(3)?,
                    published_at: r.get(4)?,
                    actor: r.get(5)?,
                })
            },
        )
        .optional()
        .map_err(self.e())
    }

    pub(super) fn last_trust_sequence_impl(&mut self) -> Result<Option<u64>, LedgerError> {
        let r: Option<i64> = self
            .qrow("SELECT MAX(sequence) FROM trust_publications", [], |r| {
                r.get(0)
            })
            .map_err(self.e())?;
        Ok(r.map(u64_of))
    }

    pub(super) fn insert_trust_publication_impl(
        &mut self,
        p: &TrustPublication,
        event: &Event,
    ) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO trust_publications (sequence, content_sha256, document_sha256, document, published_at, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                i64_of(p.sequence),
                p.content_sha256,
                p.document_sha256,
                p.document,
                p.published_at,
                p.actor
            ],
        )
        .map_err(self.e())?;
        crate::ledger::Tx::append_event(self, event)
    }
}
