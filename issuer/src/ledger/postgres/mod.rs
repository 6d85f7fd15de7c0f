//! The PostgreSQL ledger: one register shared by the issuing offices of many cities.
//!
//! Why it repeats the SQLite ledger's shape: both implement the whole `Ledger`
//! and `Tx` traits, so the method signatures and the trait-to-`*_impl` forwarding
//! appear once per backend, and each writes its own SQL (`$1` against `?1`, `BIGINT` against
//! `INTEGER`, its own error mapping). What must not differ (rows, digests, rules, row readers)
//! is shared: the row readers of `sqlite/rows.rs`, `ledger::digest` and the lifecycle.
//!
//! Same schema versions, rows, digests and rules as the SQLite ledger
//! ([`sqlite`](super::sqlite)); what differs is how several writers on several machines are kept
//! apart, by the database alone:
//!
//! * every transaction first takes one transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`), so writers run one at a time as they do on SQLite (whose
//!   transactions are `IMMEDIATE`): the checks the domain makes before it writes (an unused
//!   serial, no active permit, a reference not yet seen, a pending intent) hold until the
//!   commit, and the event history stays one gap-free hash chain. The lock is the server's: it
//!   holds across processes and machines and is released by the commit, the rollback, or the
//!   server noticing that the client died;
//! * the keys are the database's own besides: unique serials, status indices, references, row
//!   keys, one active permit and one pending intent per person; `INSERT … ON CONFLICT` for batch
//!   rows; conditional updates for intents (`WHERE state = 'pending'`);
//! * triggers refuse updates and deletes of history, credentials and publications (and
//!   `TRUNCATE`), whatever client writes.
//!
//! Statements are prepared once per connection and cached. The URL's password never appears in
//! an error: the location shown is [`redact`]ed.

mod rows;
mod scan;
mod schema;
mod url;

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

pub use url::{is_postgres_url, redact};

use super::digest::{self, EventRow};
use super::sqlite::rows::{
    self as shared_rows, APP_COLS, CREDENTIAL_SELECT, PERMIT_SELECT, app_from, checked_credential,
    i64_of, u64_of,
};
use super::{
    AppState, ApplicationRecord, CardRecord, CredentialRecord, CredentialScan, CredentialStatusRow,
    Event, IntentRecord, IntentState, Ledger, LedgerError, PermitRecord, Publication,
    TrustPublication, Tx,
};
use rows::{app_row, col, col_u32, event_row, raw_credential, raw_permit};
use schema::MIGRATIONS;

/// The key of the advisory lock every ledger transaction takes (`gdrp` in ASCII).
const WRITER_LOCK: i64 = 0x6764_7270;
/// The key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6764_7271;

/// The columns a permit write sets, in the order of its values `$1`…`$14`.
const PERMIT_WRITE: &str = "serial, application_id, state, details_json, issued_on, valid_until, endorsed_until, residence_counted_since, authority, current_version, created_at, updated_at, id_number, digest";
const PERMIT_VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14";

/// A parameter list.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The PostgreSQL ledger: one connection, its prepared statements.
pub struct PgLedger {
    client: Client,
    /// The URL, redacted.
    path: String,
    statements: HashMap<String, Statement>,
}

fn db_err(path: &str) -> impl Fn(postgres::Error) -> LedgerError + '_ {
    move |e| {
        if let Some(db) = e.as_db_error() {
            // Class 23: integrity constraint violations (unique, check, foreign key, and the
            // triggers' `restrict_violation`), as SQLite's constraint errors.
            let msg = match db.detail() {
                Some(d) => format!("{}: {d}", db.message()),
                None => db.message().to_owned(),
            };
            if db.code().code().starts_with("23") {
                return LedgerError::Conflict(msg);
            }
            return LedgerError::Db {
                path: path.to_owned(),
                detail: msg,
            };
        }
        LedgerError::Db {
            path: path.to_owned(),
            detail: explain(&e),
        }
    }
}

/// The driver's error with its causes (its own message is often only "db error" or "error
/// connecting to server").
fn explain(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}

impl PgLedger {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or with
    /// `?host=/socket/dir`) and applies the migrations the database lacks.
    pub fn open(url: &str) -> Result<PgLedger, LedgerError> {
        let path = redact(url);
        let fail = |detail: String| LedgerError::Db {
            path: path.clone(),
            detail: url::scrub(&detail, url),
        };
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| fail(format!("not a PostgreSQL connection URL: {e}")))?;
        let mut client = config
            .connect(NoTls)
            .map_err(|e| fail(format!("cannot connect: {}", explain(&e))))?;
        migrate(&mut client, &path)?;
        Ok(PgLedger {
            client,
            path,
            statements: HashMap::new(),
        })
    }

    /// The schema version.
    pub fn schema_version(&mut self) -> Result<i64, LedgerError> {
        let row = self
            .client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .map_err(db_err(&self.path))?;
        row.try_get(0).map_err(db_err(&self.path))
    }

    /// The location as shown (the URL without its password).
    pub fn location(&self) -> &str {
        &self.path
    }
}

/// Applies the missing migrations, one transaction each, under an advisory lock so that
/// processes starting together migrate once; refuses a schema newer than this binary knows.
fn migrate(client: &mut Client, path: &str) -> Result<(), LedgerError> {
    let e = db_err(path);
    loop {
        let mut tx = client.transaction().map_err(&e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(&e)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .map_err(&e)?;
        let applied: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .and_then(|r| r.try_get(0))
            .map_err(&e)?;
        let known = MIGRATIONS.len() as i64;
        if applied > known {
            return Err(LedgerError::Db {
                path: path.to_owned(),
                detail: format!(
                    "schema version {applied} is newer than this issuer knows ({known}); upgrade the issuer"
                ),
            });
        }
        let Some(sql) = MIGRATIONS.get(usize::try_from(applied).unwrap_or(usize::MAX)) else {
            return tx.commit().map_err(&e);
        };
        tx.batch_execute(sql).map_err(|err| LedgerError::Db {
            path: path.to_owned(),
            detail: format!("migration {}: {}", applied + 1, e(err)),
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(applied + 1)],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
    }
}

impl Ledger for PgLedger {
    fn transaction<T, E: From<LedgerError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        let mut tx = self.client.transaction().map_err(db_err(&path))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])
            .map_err(db_err(&path))?;
        let mut t = PgTx {
            tx,
            path,
            statements: &mut self.statements,
            chain_head: None,
        };
        let out = f(&mut t)?;
        let PgTx { tx, path, .. } = t;
        tx.commit().map_err(db_err(&path))?;
        Ok(out)
    }
}

struct PgTx<'c> {
    tx: postgres::Transaction<'c>,
    path: String,
    statements: &'c mut HashMap<String, Statement>,
    /// The last event's id and chain link, once read or written in this transaction.
    chain_head: Option<(i64, String)>,
}

impl PgTx<'_> {
    /// The prepared statement of `sql` (prepared once per connection).
    fn st(&mut self, sql: &str) -> Result<Statement, LedgerError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(db_err(&self.path))?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn exec(&mut self, sql: &str, p: Params<'_>) -> Result<u64, LedgerError> {
        let s = self.st(sql)?;
        self.tx.execute(&s, p).map_err(db_err(&self.path))
    }

    fn opt(&mut self, sql: &str, p: Params<'_>) -> Result<Option<Row>, LedgerError> {
        let s = self.st(sql)?;
        self.tx.query_opt(&s, p).map_err(db_err(&self.path))
    }

    fn all(&mut self, sql: &str, p: Params<'_>) -> Result<Vec<Row>, LedgerError> {
        let s = self.st(sql)?;
        self.tx.query(&s, p).map_err(db_err(&self.path))
    }

    fn one_permit(
        &mut self,
        sql: &str,
        p: Params<'_>,
    ) -> Result<Option<PermitRecord>, LedgerError> {
        self.opt(sql, p)?
            .map(|r| raw_permit(&r, 0)?.checked())
            .transpose()
    }

    fn one_app(
        &mut self,
        sql: &str,
        p: Params<'_>,
    ) -> Result<Option<ApplicationRecord>, LedgerError> {
        self.opt(sql, p)?
            .map(|r| app_from(app_row(&r)?))
            .transpose()
    }

    /// Runs `sql` (an insert or update of [`PERMIT_WRITE`]) with the permit's values.
    fn write_permit(&mut self, sql: &str, r: &PermitRecord) -> Result<u64, LedgerError> {
        let details =
            serde_json::to_string(&r.details).map_err(|e| LedgerError::Damaged(e.to_string()))?;
        let dates = [
            r.issued_on,
            r.valid_until,
            r.endorsed_until,
            r.residence_counted_since,
        ]
        .map(|d| d.to_string());
        self.exec(
            sql,
            &[
                &i64_of(r.serial),
                &r.application_id,
                &r.state.as_str(),
                &details,
                &dates[0],
                &dates[1],
                &dates[2],
                &dates[3],
                &i64::from(r.authority),
                &i64::from(r.current_version),
                &r.created_at,
                &r.updated_at,
                &r.details.id_number,
                &digest::permit(r),
            ],
        )
    }

    fn exists(&mut self, sql: &str, p: Params<'_>) -> Result<bool, LedgerError> {
        match self.opt(sql, p)? {
            Some(r) => col(&r, 0),
            None => Ok(false),
        }
    }
}

impl Tx for PgTx<'_> {
    fn insert_application(&mut self, r: &ApplicationRecord) -> Result<(), LedgerError> {
        self.exec(
            &format!("INSERT INTO applications ({APP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            &[
                &r.id,
                &r.reference,
                &r.content_hash,
                &r.id_number,
                &r.applicant_json,
                &r.eligibility_json,
                &r.state.as_str(),
                &r.permit_serial.map(i64_of),
                &r.submitted_at,
                &r.actor,
            ],
        )?;
        Ok(())
    }

    fn application(&mut self, id: &str) -> Result<Option<ApplicationRecord>, LedgerError> {
        self.one_app(
            &format!("SELECT {APP_COLS} FROM applications WHERE id = $1"),
            &[&id],
        )
    }

    fn application_by_ref(
        &mut self,
        reference: &str,
    ) -> Result<Option<ApplicationRecord>, LedgerError> {
        self.one_app(
            &format!("SELECT {APP_COLS} FROM applications WHERE reference = $1"),
            &[&reference],
        )
    }

    fn set_application_state(
        &mut self,
        id: &str,
        state: AppState,
        permit_serial: Option<u64>,
        event: &Event,
    ) -> Result<(), LedgerError> {
        let n = self.exec(
            "UPDATE applications SET state = $2, permit_serial = $3 WHERE id = $1",
            &[&id, &state.as_str(), &permit_serial.map(i64_of)],
        )?;
        if n != 1 {
            return Err(LedgerError::Damaged(format!("application {id} not found")));
        }
        self.append_event(event)
    }

    fn active_permit_for(&mut self, id_number: &str) -> Result<Option<PermitRecord>, LedgerError> {
        self.one_permit(
            &format!(
                "SELECT {PERMIT_SELECT} FROM permits WHERE id_number = $1 AND state = 'active'"
            ),
            &[&id_number],
        )
    }

    fn permit(&mut self, serial: u64) -> Result<Option<PermitRecord>, LedgerError> {
        self.one_permit(
            &format!("SELECT {PERMIT_SELECT} FROM permits WHERE serial = $1"),
            &[&i64_of(serial)],
        )
    }

    fn serial_used(&mut self, serial: u64) -> Result<bool, LedgerError> {
        self.exists(
            "SELECT EXISTS (SELECT 1 FROM permits WHERE serial = $1) OR EXISTS (SELECT 1 FROM batch_intents WHERE serial = $1)",
            &[&i64_of(serial)],
        )
    }

    fn status_index_used(&mut self, index: u64) -> Result<bool, LedgerError> {
        self.exists(
            "SELECT EXISTS (SELECT 1 FROM credentials WHERE status_index = $1) OR EXISTS (SELECT 1 FROM batch_intents WHERE status_index = $1)",
            &[&i64_of(index)],
        )
    }

    fn insert_permit(&mut self, r: &PermitRecord, event: &Event) -> Result<(), LedgerError> {
        self.write_permit(
            &format!("INSERT INTO permits ({PERMIT_WRITE}) VALUES ({PERMIT_VALUES})"),
            r,
        )?;
        self.append_event(event)
    }

    fn update_permit(&mut self, r: &PermitRecord, event: &Event) -> Result<(), LedgerError> {
        let n = self.write_permit(
            &format!("UPDATE permits SET ({PERMIT_WRITE}) = ({PERMIT_VALUES}) WHERE serial = $1"),
            r,
        )?;
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
            &format!("INSERT INTO credentials ({CREDENTIAL_SELECT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            &[
                &i64_of(r.serial),
                &i64::from(r.version),
                &i64_of(r.status_index),
                &r.key_id,
                &r.issued_at,
                &r.expires_at,
                &r.cause,
                &r.text,
                &digest::credential(r),
            ],
        )?;
        Ok(())
    }

    fn credential(
        &mut self,
        serial: u64,
        version: u32,
    ) -> Result<Option<CredentialRecord>, LedgerError> {
        self.opt(
            &format!(
                "SELECT {CREDENTIAL_SELECT} FROM credentials WHERE serial = $1 AND version = $2"
            ),
            &[&i64_of(serial), &i64::from(version)],
        )?
        .map(|r| checked_credential(raw_credential(&r, 0)?))
        .transpose()
    }

    fn append_event(&mut self, e: &Event) -> Result<(), LedgerError> {
        let (last_id, previous) = match self.chain_head.take() {
            Some(h) => h,
            None => match self.opt("SELECT id, chain FROM events ORDER BY id DESC LIMIT 1", &[])? {
                Some(r) => (col(&r, 0)?, col(&r, 1)?),
                None => (0, digest::CHAIN_START.to_owned()),
            },
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
        let ev = &row.event;
        self.exec(
            "INSERT INTO events (id, at, actor, kind, application_id, serial, version, detail_json, chain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &row.id,
                &ev.at,
                &ev.actor,
                &ev.kind,
                &ev.application_id,
                &ev.serial.map(i64_of),
                &ev.version.map(i64::from),
                &ev.detail,
                &row.chain,
            ],
        )?;
        self.chain_head = Some((row.id, row.chain));
        Ok(())
    }

    fn events_for(&mut self, serial: u64, application_id: &str) -> Result<Vec<Event>, LedgerError> {
        let sql = format!(
            "SELECT {} FROM events WHERE serial = $1 OR application_id = $2 ORDER BY id",
            shared_rows::EVENT_SELECT
        );
        self.all(&sql, &[&i64_of(serial), &application_id])?
            .iter()
            .map(|r| event_row(r).map(|e| e.event.parsed()))
            .collect()
    }

    fn insert_card(&mut self, r: &CardRecord, event: &Event) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO cards (serial, number, kind, fee_yuan, issued_at, actor) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &i64_of(r.serial),
                &i64::from(r.number),
                &r.kind,
                &i64::from(r.fee_yuan),
                &r.issued_at,
                &r.actor,
            ],
        )?;
        self.append_event(event)
    }

    fn cards(&mut self, serial: u64) -> Result<Vec<CardRecord>, LedgerError> {
        self.all(
            "SELECT serial, number, kind, fee_yuan, issued_at, actor FROM cards WHERE serial = $1 ORDER BY number",
            &[&i64_of(serial)],
        )?
        .iter()
        .map(|r| {
            let serial: i64 = col(r, 0)?;
            Ok(CardRecord {
                serial: u64_of(serial),
                number: col_u32(r, 1)?,
                kind: col(r, 2)?,
                fee_yuan: col_u32(r, 3)?,
                issued_at: col(r, 4)?,
                actor: col(r, 5)?,
            })
        })
        .collect()
    }

    fn last_publication(&mut self) -> Result<Option<Publication>, LedgerError> {
        self.opt(
            "SELECT sequence, published_at, next_update, credentials, bytes, sha256, actor FROM status_publications ORDER BY sequence DESC LIMIT 1",
            &[],
        )?
        .map(|r| {
            let [sequence, credentials, bytes]: [i64; 3] = [col(&r, 0)?, col(&r, 3)?, col(&r, 4)?];
            Ok(Publication {
                sequence: u64_of(sequence),
                published_at: col(&r, 1)?,
                next_update: col(&r, 2)?,
                credentials: u64_of(credentials),
                bytes: u64_of(bytes),
                sha256: col(&r, 5)?,
                actor: col(&r, 6)?,
            })
        })
        .transpose()
    }

    fn insert_publication(&mut self, p: &Publication, event: &Event) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO status_publications (sequence, published_at, next_update, credentials, bytes, sha256, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &i64_of(p.sequence),
                &p.published_at,
                &p.next_update,
                &i64_of(p.credentials),
                &i64_of(p.bytes),
                &p.sha256,
                &p.actor,
            ],
        )?;
        self.append_event(event)
    }

    fn each_credential_status(
        &mut self,
        f: &mut dyn FnMut(CredentialStatusRow),
    ) -> Result<(), LedgerError> {
        let sql = format!(
            "SELECT {}, {} FROM credentials c JOIN permits p ON p.serial = c.serial",
            shared_rows::prefixed("c.", CREDENTIAL_SELECT),
            shared_rows::prefixed("p.", PERMIT_SELECT)
        );
        self.each_row(&sql, &mut |r| {
            // Both rows are checked, as on SQLite.
            let c = checked_credential(raw_credential(r, 0)?)?;
            let p = raw_permit(r, 9)?.checked()?;
            f(CredentialStatusRow {
                status_index: c.status_index,
                version: c.version,
                current_version: p.current_version,
                state: p.state,
                endorsed_until: p.endorsed_until,
            });
            Ok(())
        })
    }

    fn reserved_serial_for(&mut self, id_number: &str) -> Result<Option<u64>, LedgerError> {
        self.opt(
            "SELECT serial FROM batch_intents WHERE id_number = $1 AND state = 'pending'",
            &[&id_number],
        )?
        .map(|r| col::<i64>(&r, 0).map(u64_of))
        .transpose()
    }

    fn insert_intent(&mut self, r: &IntentRecord) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO batch_intents (row_key, application_id, serial, status_index, id_number, version, plan_json, state, created_at, job, line, digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &r.row_key,
                &r.application_id,
                &i64_of(r.serial),
                &i64_of(r.status_index),
                &r.id_number,
                &i64::from(r.version),
                &r.plan_json,
                &r.state.as_str(),
                &r.created_at,
                &r.job,
                &i64_of(r.line),
                &digest::intent(r),
            ],
        )?;
        Ok(())
    }

    fn intent(&mut self, row_key: &str) -> Result<Option<IntentRecord>, LedgerError> {
        let Some(r) = self.opt(
            "SELECT row_key, application_id, serial, status_index, id_number, version, plan_json, state, created_at, job, line, digest FROM batch_intents WHERE row_key = $1",
            &[&row_key],
        )?
        else {
            return Ok(None);
        };
        let [serial, index, line]: [i64; 3] = [col(&r, 2)?, col(&r, 3)?, col(&r, 10)?];
        let state: String = col(&r, 7)?;
        let stored: String = col(&r, 11)?;
        let rec = IntentRecord {
            row_key: col(&r, 0)?,
            job: col(&r, 9)?,
            line: u64_of(line),
            application_id: col(&r, 1)?,
            serial: u64_of(serial),
            status_index: u64_of(index),
            id_number: col(&r, 4)?,
            version: col_u32(&r, 5)?,
            plan_json: col(&r, 6)?,
            state: match state.as_str() {
                "pending" => IntentState::Pending,
                "done" => IntentState::Done,
                _ => return Err(LedgerError::Damaged(format!("intent state `{state}`"))),
            },
            created_at: col(&r, 8)?,
        };
        // The plan is signed again after a crash: never from a damaged one.
        if digest::intent(&rec) != stored {
            return Err(LedgerError::Damaged(format!(
                "batch intent {}: the record does not match its digest",
                rec.row_key
            )));
        }
        Ok(Some(rec))
    }

    fn finish_intent(&mut self, row_key: &str) -> Result<bool, LedgerError> {
        let n = self.exec(
            "UPDATE batch_intents SET state = 'done' WHERE row_key = $1 AND state = 'pending'",
            &[&row_key],
        )?;
        Ok(n == 1)
    }

    fn pending_intent_serials(&mut self) -> Result<Vec<u64>, LedgerError> {
        self.all(
            "SELECT serial FROM batch_intents WHERE state = 'pending'",
            &[],
        )?
        .iter()
        .map(|r| col::<i64>(r, 0).map(u64_of))
        .collect()
    }

    fn claim_row(&mut self, job: &str, row_key: &str, line: u64) -> Result<u64, LedgerError> {
        let r = self.opt(
            "INSERT INTO batch_rows (job, row_key, line) VALUES ($1, $2, $3) ON CONFLICT (job, row_key) DO UPDATE SET line = batch_rows.line RETURNING line",
            &[&job, &row_key, &i64_of(line)],
        )?;
        let first: i64 = match r {
            Some(r) => col(&r, 0)?,
            None => {
                return Err(LedgerError::Damaged(format!(
                    "batch row {row_key}: no line"
                )));
            }
        };
        Ok(u64_of(first))
    }

    fn forget_row_claims(&mut self, job: &str) -> Result<u64, LedgerError> {
        self.exec("DELETE FROM batch_rows WHERE job = $1", &[&job])
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
}
