//! The embedded SQLite ledger (bundled SQLite, WAL, numbered migrations).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, params};

mod audit;
pub(in crate::ledger) mod rows;
mod schema;

use rows::{
    APP_COLS, AppRow, CREDENTIAL_SELECT, PERMIT_COLS, PERMIT_SELECT, app_from, app_row,
    checked_credential, i64_of, permit_from, permit_values, raw_credential, u64_of,
};
use schema::MIGRATIONS;

use super::digest::{self, EventRow};
use super::{
    AppState, ApplicationRecord, CardRecord, CredentialRecord, CredentialScan, CredentialStatusRow,
    Event, IntentRecord, IntentState, Ledger, LedgerError, PermitRecord, Publication,
    TrustPublication, Tx,
};

/// Page size of a new ledger file: 16 KiB rather than SQLite's 4 KiB.
///
/// Batch chunks insert thousands of rows in one transaction, scattered over the indexes on random
/// keys (serials, status indices, application numbers); every commit writes each changed page to
/// the WAL. Measured on 100 000 rows with 4 096-row chunks (docs/PERFORMANCE.md): commit time
/// (WAL writes and fsync) 12.6 s with 4 KiB pages, 6.9 s with 16 KiB, 5.7 s with 64 KiB, where
/// larger pages made each statement slower; 1 KiB pages doubled it.
pub const PAGE_SIZE: i64 = 16_384;

/// The SQLite ledger.
pub struct SqliteLedger {
    conn: Connection,
    path: String,
}

fn db_err(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |e| {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return LedgerError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()));
        }
        LedgerError::Db {
            path: path.to_owned(),
            detail: e.to_string(),
        }
    }
}

impl SqliteLedger {
    /// Opens (creating if needed) and migrates a ledger file.
    pub fn open(path: &Path) -> Result<SqliteLedger, LedgerError> {
        let p = path.display().to_string();
        // SQLite says only "unable to open database file"; name the usual cause.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(LedgerError::Db {
                path: p,
                detail: format!(
                    "the directory {} does not exist (the ledger file is created, its directory is not)",
                    dir.display()
                ),
            });
        }
        let conn = Connection::open(path).map_err(db_err(&p))?;
        Self::setup(conn, p)
    }

    /// Opens a ledger for a long-running writer whose commits other work depends on, such as a
    /// batch job, which writes a chunk's files only after its intents are on disk and lists
    /// permits only after their commit:
    ///
    /// * `synchronous = FULL`: every commit fsyncs the WAL before it returns (with one
    ///   transaction per chunk that is one fsync per chunk, not per row); `NORMAL`, the default
    ///   of [`SqliteLedger::open`], would leave a commit's durability to the next checkpoint;
    /// * `cache_size` 64 MiB: the indexes on random keys (serials, status indices, application
    ///   numbers, row keys) outgrow the default 2 MiB after a few tens of thousands of rows, and
    ///   every miss is a read from the OS;
    /// * `wal_autocheckpoint` 8192 pages (128 MiB with the 16 KiB pages of a new ledger; default
    ///   1000): a checkpoint copies every page changed since the last one into the database
    ///   file; as each chunk changes pages all over the indexes, fewer, larger checkpoints copy
    ///   each page fewer times.
    pub fn durable(path: &Path) -> Result<SqliteLedger, LedgerError> {
        let ledger = SqliteLedger::open(path)?;
        let c = &ledger.conn;
        c.pragma_update(None, "synchronous", "FULL")
            .and_then(|()| c.pragma_update(None, "cache_size", -65_536))
            .and_then(|()| c.pragma_update(None, "wal_autocheckpoint", 8192))
            .map_err(db_err(&ledger.path))?;
        Ok(ledger)
    }

    /// An in-memory ledger (tests).
    pub fn in_memory() -> Result<SqliteLedger, LedgerError> {
        let conn = Connection::open_in_memory().map_err(db_err(":memory:"))?;
        Self::setup(conn, ":memory:".into())
    }

    fn setup(mut conn: Connection, path: String) -> Result<SqliteLedger, LedgerError> {
        let p = path.clone();
        let e = db_err(&p);
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(&e)?;
        // Takes effect only while the file is new (before its first table and before WAL mode);
        // an existing ledger keeps its page size.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(&e)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&e)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&e)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(&e)?;
        // Batch jobs use about twenty distinct statements per row; keep them all prepared.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )
        .map_err(&e)?;
        let applied: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(&e)?;
        if applied > MIGRATIONS.len() as i64 {
            return Err(LedgerError::Db {
                path: path.clone(),
                detail: format!(
                    "schema version {applied} is newer than this issuer knows ({}); upgrade the issuer",
                    MIGRATIONS.len()
                ),
            });
        }
        for (i, m) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(applied).unwrap_or(0))
        {
            let tx = conn.transaction().map_err(&e)?;
            tx.execute_batch(m.sql).map_err(&e)?;
            if let Some(then) = m.then {
                then(&tx)?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES (?1)",
                [i as i64 + 1],
            )
            .map_err(&e)?;
            tx.commit().map_err(&e)?;
        }
        Ok(SqliteLedger { conn, path })
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<i64, LedgerError> {
        self.conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get(0)
            })
            .map_err(db_err(&self.path))
    }
}

impl Ledger for SqliteLedger {
    fn transaction<T, E: From<LedgerError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err(&path))?;
        let mut t = SqliteTx {
            tx,
            path,
            chain_head: None,
        };
        let out = f(&mut t)?;
        let p = t.path.clone();
        t.tx.commit().map_err(db_err(&p))?;
        Ok(out)
    }
}

struct SqliteTx<'c> {
    tx: rusqlite::Transaction<'c>,
    path: String,
    /// The last event's id and chain link, once read or written in this transaction.
    chain_head: Option<(i64, String)>,
}

impl SqliteTx<'_> {
    fn e(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        db_err(&self.path)
    }

    /// Executes a statement from the connection's statement cache.
    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.tx.prepare_cached(sql)?.execute(p)
    }

    /// Reads one row with a statement from the connection's statement cache.
    fn qrow<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.tx.prepare_cached(sql)?.query_row(p, f)
    }

    fn one_permit(
        &mut self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Option<PermitRecord>, LedgerError> {
        let r = self
            .qrow(sql, p, permit_from)
            .optional()
            .map_err(self.e())?;
        r.transpose()
    }

    fn one_app(
        &mut self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Option<ApplicationRecord>, LedgerError> {
        let r: Option<AppRow> = self.qrow(sql, p, app_row).optional().map_err(self.e())?;
        r.map(app_from).transpose()
    }
}

impl Tx for SqliteTx<'_> {
    fn insert_application(&mut self, r: &ApplicationRecord) -> Result<(), LedgerError> {
        self.exec(
                &format!("INSERT INTO applications ({APP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    r.id,
                    r.reference,
                    r.content_hash,
                    r.id_number,
                    r.applicant_json,
                    r.eligibility_json,
                    r.state.as_str(),
                    r.permit_serial.map(i64_of),
                    r.submitted_at,
                    r.actor
                ],
            )
            .map_err(self.e())?;
        Ok(())
    }

    fn application(&mut self, id: &str) -> Result<Option<ApplicationRecord>, LedgerError> {
        self.one_app(
            &format!("SELECT {APP_COLS} FROM applications WHERE id = ?1"),
            [id],
        )
    }

    fn application_by_ref(
        &mut self,
        reference: &str,
    ) -> Result<Option<ApplicationRecord>, LedgerError> {
        self.one_app(
            &format!("SELECT {APP_COLS} FROM applications WHERE reference = ?1"),
            [reference],
        )
    }

    fn set_application_state(
        &mut self,
        id: &str,
        state: AppState,
        permit_serial: Option<u64>,
        event: &Event,
    ) -> Result<(), LedgerError> {
        let n = self
            .exec(
                "UPDATE applications SET state = ?2, permit_serial = ?3 WHERE id = ?1",
                params![id, state.as_str(), permit_serial.map(i64_of)],
            )
            .map_err(self.e())?;
        if n != 1 {
            return Err(LedgerError::Damaged(format!("application {id} not found")));
        }
        self.append_event(event)
    }

    fn active_permit_for(&mut self, id_number: &str) -> Result<Option<PermitRecord>, LedgerError> {
        self.one_permit(
            &format!(
                "SELECT {PERMIT_SELECT} FROM permits WHERE id_number = ?1 AND state = 'active'"
            ),
            [id_number],
        )
    }

    fn permit(&mut self, serial: u64) -> Result<Option<PermitRecord>, LedgerError> {
        self.one_permit(
            &format!("SELECT {PERMIT_SELECT} FROM permits WHERE serial = ?1"),
            [i64_of(serial)],
        )
    }

    fn serial_used(&mut self, serial: u64) -> Result<bool, LedgerError> {
        self.qrow(
                "SELECT EXISTS (SELECT 1 FROM permits WHERE serial = ?1) OR EXISTS (SELECT 1 FROM batch_intents WHERE serial = ?1)",
                [i64_of(serial)],
                |r| r.get(0),
            )
            .map_err(self.e())
    }

    fn status_index_used(&mut self, index: u64) -> Result<bool, LedgerError> {
        self.qrow(
                "SELECT EXISTS (SELECT 1 FROM credentials WHERE status_index = ?1) OR EXISTS (SELECT 1 FROM batch_intents WHERE status_index = ?1)",
                [i64_of(index)],
                |r| r.get(0),
            )
            .map_err(self.e())
    }

    fn insert_permit(&mut self, r: &PermitRecord, event: &Event) -> Result<(), LedgerError> {
        let values = permit_values(r)?;
        self.exec(
            &format!("INSERT INTO permits ({PERMIT_COLS}, id_number, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            rusqlite::params_from_iter(&values),
        )
        .map_err(self.e())?;
        self.append_event(event)
    }

    fn update_permit(&mut self, r: &PermitRecord, event: &Event) -> Result<(), LedgerError> {
        let values = permit_values(r)?;
        let n = self
            .exec(
                "UPDATE permits SET state = ?3, details_json = ?4, issued_on = ?5, valid_until = ?6, endorsed_until = ?7, residence_counted_since = ?8, authority = ?9, current_version = ?10, updated_at = ?12, id_number = ?13, digest = ?14 WHERE serial = ?1",
                rusqlite::params_from_iter(&values),
            )
            .map_err(self.e())?;
        if n != 1 {
            return Err(LedgerError::Damaged(format!(
                "permit {} not found",
                r.serial
            )));
        }
        self.append_event(event)
    }

    fn insert_credential(&mut self, r: &CredentialRecord) -> Result<(), LedgerError> {
        self.exec(
                &format!("INSERT INTO credentials ({CREDENTIAL_SELECT}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    i64_of(r.serial),
                    r.version,
                    i64_of(r.status_index),
                    r.key_id,
                    r.issued_at,
                    r.expires_at,
                    r.cause,
                    r.text,
                    digest::credential(r)
                ],
            )
            .map_err(self.e())?;
        Ok(())
    }

    fn credential(
        &mut self,
        serial: u64,
        version: u32,
    ) -> Result<Option<CredentialRecord>, LedgerError> {
        let r = self
            .qrow(
                &format!(
                    "SELECT {CREDENTIAL_SELECT} FROM credentials WHERE serial = ?1 AND version = ?2"
                ),
                params![i64_of(serial), version],
                |r| raw_credential(r, 0),
            )
            .optional()
            .map_err(self.e())?;
        r.map(checked_credential).transpose()
    }

    fn append_event(&mut self, e: &Event) -> Result<(), LedgerError> {
        let (last_id, previous) = match self.chain_head.take() {
            Some(h) => h,
            None => self
                .qrow(
                    "SELECT id, chain FROM events ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(self.e())?
                .unwrap_or((0, digest::CHAIN_START.to_owned())),
        };
        let mut row = EventRow {
            id: last_id + 1,
            event: Event {
                at: e.at,
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                application_id: e.application_id.clone(),
                serial: e.serial,
                version: e.version,
                detail: e.detail.to_string(),
            },
            chain: String::new(),
        };
        row.chain = digest::event_link(&previous, &row);
        self.exec(
                "INSERT INTO events (id, at, actor, kind, application_id, serial, version, detail_json, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    row.id,
                    row.event.at,
                    row.event.actor,
                    row.event.kind,
                    row.event.application_id,
                    row.event.serial.map(i64_of),
                    row.event.version,
                    row.event.detail,
                    row.chain
                ],
            )
            .map_err(self.e())?;
        self.chain_head = Some((row.id, row.chain));
        Ok(())
    }

    fn events_for(&mut self, serial: u64, application_id: &str) -> Result<Vec<Event>, LedgerError> {
        let mut st = self
            .tx
            .prepare_cached(&format!(
                "SELECT {} FROM events WHERE serial = ?1 OR application_id = ?2 ORDER BY id",
                rows::EVENT_SELECT
            ))
            .map_err(db_err(&self.path))?;
        let rows = st
            .query_map(params![i64_of(serial), application_id], |r| {
                rows::event_row(r).map(|e| e.event.parsed())
            })
            .map_err(db_err(&self.path))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err(&self.path))
    }

    fn insert_card(&mut self, r: &CardRecord, event: &Event) -> Result<(), LedgerError> {
        self.exec(
                "INSERT INTO cards (serial, number, kind, fee_yuan, issued_at, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![i64_of(r.serial), r.number, r.kind, r.fee_yuan, r.issued_at, r.actor],
            )
            .map_err(self.e())?;
        self.append_event(event)
    }

    fn cards(&mut self, serial: u64) -> Result<Vec<CardRecord>, LedgerError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT serial, number, kind, fee_yuan, issued_at, actor FROM cards WHERE serial = ?1 ORDER BY number")
            .map_err(db_err(&self.path))?;
        let rows = st
            .query_map([i64_of(serial)], |r| {
                Ok(CardRecord {
                    serial: u64_of(r.get(0)?),
                    number: r.get(1)?,
                    kind: r.get(2)?,
                    fee_yuan: r.get(3)?,
                    issued_at: r.get(4)?,
                    actor: r.get(5)?,
                })
            })
            .map_err(db_err(&self.path))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(db_err(&self.path))
    }

    fn last_publication(&mut self) -> Result<Option<Publication>, LedgerError> {
        self.qrow(
                "SELECT sequence, published_at, next_update, credentials, bytes, sha256, actor FROM status_publications ORDER BY sequence DESC LIMIT 1",
                [],
                |r| {
                    Ok(Publication {
                        sequence: u64_of(r.get(0)?),
                        published_at: r.get(1)?,
                        next_update: r.get(2)?,
                        credentials: u64_of(r.get(3)?),
                        bytes: u64_of(r.get(4)?),
                        sha256: r.get(5)?,
                        actor: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(self.e())
    }

    fn insert_publication(&mut self, p: &Publication, event: &Event) -> Result<(), LedgerError> {
        self.exec(
                "INSERT INTO status_publications (sequence, published_at, next_update, credentials, bytes, sha256, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    i64_of(p.sequence),
                    p.published_at,
                    p.next_update,
                    i64_of(p.credentials),
                    i64_of(p.bytes),
                    p.sha256,
                    p.actor
                ],
            )
            .map_err(self.e())?;
        self.append_event(event)
    }

    fn each_credential_status(
        &mut self,
        f: &mut dyn FnMut(CredentialStatusRow),
    ) -> Result<(), LedgerError> {
        let mut st = self
            .tx
            .prepare_cached(&format!(
                "SELECT {}, {} FROM credentials c JOIN permits p ON p.serial = c.serial",
                rows::prefixed("c.", CREDENTIAL_SELECT),
                rows::prefixed("p.", PERMIT_SELECT)
            ))
            .map_err(db_err(&self.path))?;
        let mut cursor = st.query([]).map_err(db_err(&self.path))?;
        while let Some(r) = cursor.next().map_err(db_err(&self.path))? {
            // Both rows are checked: a damaged state, version or date would publish a wrong
            // status, a damaged index would put it in another credential's slot.
            let c = checked_credential(raw_credential(r, 0).map_err(db_err(&self.path))?)?;
            let p = rows::raw_permit(r, 9)
                .map_err(db_err(&self.path))?
                .checked()?;
            f(CredentialStatusRow {
                status_index: c.status_index,
                version: c.version,
                current_version: p.current_version,
                state: p.state,
                endorsed_until: p.endorsed_until,
            });
        }
        Ok(())
    }

    fn reserved_serial_for(&mut self, id_number: &str) -> Result<Option<u64>, LedgerError> {
        let r: Option<i64> = self
            .qrow(
                "SELECT serial FROM batch_intents WHERE id_number = ?1 AND state = 'pending'",
                [id_number],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.e())?;
        Ok(r.map(u64_of))
    }

    fn insert_intent(&mut self, r: &IntentRecord) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO batch_intents (row_key, application_id, serial, status_index, id_number, version, plan_json, state, created_at, job, line, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                r.row_key,
                r.application_id,
                i64_of(r.serial),
                i64_of(r.status_index),
                r.id_number,
                r.version,
                r.plan_json,
                r.state.as_str(),
                r.created_at,
                r.job,
                i64_of(r.line),
                digest::intent(r)
            ],
        )
        .map_err(self.e())?;
        Ok(())
    }

    fn intent(&mut self, row_key: &str) -> Result<Option<IntentRecord>, LedgerError> {
        let r = self
            .qrow(
                "SELECT row_key, application_id, serial, status_index, id_number, version, plan_json, state, created_at, job, line, digest FROM batch_intents WHERE row_key = ?1",
                [row_key],
                |r| {
                    let state: String = r.get(7)?;
                    Ok((
                        IntentRecord {
                            row_key: r.get(0)?,
                            job: r.get(9)?,
                            line: u64_of(r.get(10)?),
                            application_id: r.get(1)?,
                            serial: u64_of(r.get(2)?),
                            status_index: u64_of(r.get(3)?),
                            id_number: r.get(4)?,
                            version: r.get(5)?,
                            plan_json: r.get(6)?,
                            state: IntentState::Pending,
                            created_at: r.get(8)?,
                        },
                        state,
                        r.get::<_, String>(11)?,
                    ))
                },
            )
            .optional()
            .map_err(self.e())?;
        r.map(|(mut rec, state, stored)| {
            // The plan is signed again after a crash: never from a damaged one.
            if digest::intent(&rec) != stored {
                return Err(LedgerError::Damaged(format!(
                    "batch intent {}: the record does not match its digest",
                    rec.row_key
                )));
            }
            rec.state = match state.as_str() {
                "pending" => IntentState::Pending,
                "done" => IntentState::Done,
                _ => return Err(LedgerError::Damaged(format!("intent state `{state}`"))),
            };
            Ok(rec)
        })
        .transpose()
    }

    fn finish_intent(&mut self, row_key: &str) -> Result<bool, LedgerError> {
        let n = self
            .exec(
                "UPDATE batch_intents SET state = 'done' WHERE row_key = ?1 AND state = 'pending'",
                [row_key],
            )
            .map_err(self.e())?;
        Ok(n == 1)
    }

    fn claim_row(&mut self, job: &str, row_key: &str, line: u64) -> Result<u64, LedgerError> {
        let first: i64 = self
            .qrow(
                "INSERT INTO batch_rows (job, row_key, line) VALUES (?1, ?2, ?3) ON CONFLICT (job, row_key) DO UPDATE SET line = line RETURNING line",
                params![job, row_key, i64_of(line)],
                |r| r.get(0),
            )
            .map_err(self.e())?;
        Ok(u64_of(first))
    }

    fn trust_publication(
        &mut self,
        sequence: u64,
    ) -> Result<Option<TrustPublication>, LedgerError> {
        self.trust_publication_impl(sequence)
    }

    fn last_trust_sequence(&mut self) -> Result<Option<u64>, LedgerError> {
        self.last_trust_sequence_impl()
    }

    fn insert_trust_publication(
        &mut self,
        p: &TrustPublication,
        event: &Event,
    ) -> Result<(), LedgerError> {
        self.insert_trust_publication_impl(p, event)
    }

    fn scan_applications(
        &mut self,
        f: &mut dyn FnMut(&str, Result<ApplicationRecord, LedgerError>),
    ) -> Result<(), LedgerError> {
        self.scan_applications_impl(f)
    }

    fn scan_permits(
        &mut self,
        f: &mut dyn FnMut(u64, Result<PermitRecord, LedgerError>),
    ) -> Result<(), LedgerError> {
        self.scan_permits_impl(f)
    }

    fn scan_credentials(&mut self, f: &mut dyn FnMut(CredentialScan)) -> Result<(), LedgerError> {
        self.scan_credentials_impl(f)
    }

    fn scan_events(&mut self, f: &mut dyn FnMut(EventRow)) -> Result<(), LedgerError> {
        self.scan_events_impl(f)
    }

    fn forget_row_claims(&mut self, job: &str) -> Result<u64, LedgerError> {
        let n = self
            .exec("DELETE FROM batch_rows WHERE job = ?1", [job])
            .map_err(self.e())?;
        Ok(n as u64)
    }

    fn pending_intent_serials(&mut self) -> Result<Vec<u64>, LedgerError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT serial FROM batch_intents WHERE state = 'pending'")
            .map_err(db_err(&self.path))?;
        let rows = st
            .query_map([], |r| r.get::<_, i64>(0))
            .map_err(db_err(&self.path))?;
        rows.map(|r| r.map(u64_of))
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_directory_is_named() {
        let dir = std::env::temp_dir().join(format!("ledger-missing-{}", std::process::id()));
        let err = SqliteLedger::open(&dir.join("sub").join("ledger.sqlite3"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("does not exist") && err.contains("sub"),
            "{err}"
        );
    }

    #[test]
    fn row_claims_are_forgotten_per_job() {
        let mut l = SqliteLedger::in_memory().unwrap();
        l.transaction(|tx| -> Result<(), LedgerError> {
            assert_eq!(tx.claim_row("J1", "APP-1", 5)?, 5);
            assert_eq!(tx.claim_row("J1", "APP-1", 3)?, 5);
            assert_eq!(tx.claim_row("J2", "APP-1", 9)?, 9);
            assert_eq!(tx.forget_row_claims("J1")?, 1);
            assert_eq!(tx.claim_row("J1", "APP-1", 3)?, 3);
            assert_eq!(tx.claim_row("J2", "APP-1", 1)?, 9);
            Ok(())
        })
        .unwrap();
    }
}
