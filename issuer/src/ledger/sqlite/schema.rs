//! The SQLite ledger's schema: numbered migrations, each applied once in its own transaction.
//! History is append-only and credentials immutable, enforced by triggers in the database.

use rusqlite::{Transaction, params};

use super::rows::{self, CREDENTIAL_SELECT, PERMIT_SELECT};
use crate::ledger::digest::{self, CHAIN_START};
use crate::ledger::{IntentRecord, IntentState, LedgerError};

/// A migration's step in Rust.
type Step = fn(&Transaction<'_>) -> Result<(), LedgerError>;

/// One migration: SQL, then an optional step in Rust (back-fills of digests computed in Rust).
pub(super) struct Migration {
    /// The SQL, run as one batch.
    pub(super) sql: &'static str,
    /// Run after the SQL in the same transaction.
    pub(super) then: Option<Step>,
}

/// Schema migrations, applied in order; each runs once, in its own transaction.
pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: the lifecycle tables.
    Migration {
        then: None,
        sql: r"
CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  reference TEXT UNIQUE,
  content_hash TEXT NOT NULL,
  id_number TEXT NOT NULL,
  applicant_json TEXT NOT NULL,
  eligibility_json TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('submitted','ineligible','approved','rejected')),
  permit_serial BIGINT,
  submitted_at BIGINT NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX applications_id_number ON applications(id_number);
CREATE TABLE permits (
  serial BIGINT PRIMARY KEY,
  application_id TEXT NOT NULL REFERENCES applications(id),
  id_number TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active','cancelled')),
  details_json TEXT NOT NULL,
  issued_on TEXT NOT NULL,
  valid_until TEXT NOT NULL,
  endorsed_until TEXT NOT NULL,
  residence_counted_since TEXT NOT NULL,
  authority INTEGER NOT NULL,
  current_version INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX permits_one_active_per_person ON permits(id_number) WHERE state = 'active';
CREATE TABLE credentials (
  serial BIGINT NOT NULL REFERENCES permits(serial),
  version INTEGER NOT NULL,
  status_index BIGINT NOT NULL UNIQUE,
  key_id TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  cause TEXT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (serial, version)
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  application_id TEXT,
  serial BIGINT,
  version INTEGER,
  detail_json TEXT NOT NULL
);
CREATE INDEX events_serial ON events(serial);
CREATE INDEX events_application ON events(application_id);
CREATE TABLE cards (
  serial BIGINT NOT NULL REFERENCES permits(serial),
  number INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('first','replacement','exchange')),
  fee_yuan INTEGER NOT NULL,
  issued_at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  PRIMARY KEY (serial, number)
);
CREATE TABLE status_publications (
  sequence BIGINT PRIMARY KEY,
  published_at BIGINT NOT NULL,
  next_update BIGINT NOT NULL,
  credentials BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  actor TEXT NOT NULL
);
CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_d BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER credentials_immutable_u BEFORE UPDATE ON credentials BEGIN SELECT RAISE(ABORT, 'credentials are immutable'); END;
CREATE TRIGGER credentials_immutable_d BEFORE DELETE ON credentials BEGIN SELECT RAISE(ABORT, 'credentials are immutable'); END;
CREATE TRIGGER permits_no_delete BEFORE DELETE ON permits BEGIN SELECT RAISE(ABORT, 'permits are never deleted'); END;
",
    },
    // 2: batch intents, recorded before signing (write-ahead), done when the permit commits.
    Migration {
        then: None,
        sql: r"
CREATE TABLE batch_intents (
  row_key TEXT PRIMARY KEY,
  job TEXT NOT NULL,
  line BIGINT NOT NULL,
  application_id TEXT NOT NULL REFERENCES applications(id),
  serial BIGINT NOT NULL UNIQUE,
  status_index BIGINT NOT NULL UNIQUE,
  id_number TEXT NOT NULL,
  version INTEGER NOT NULL,
  plan_json TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','done')),
  created_at BIGINT NOT NULL
);
CREATE TABLE batch_rows (
  job TEXT NOT NULL,
  row_key TEXT NOT NULL,
  line BIGINT NOT NULL,
  PRIMARY KEY (job, row_key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX batch_intents_one_pending_per_person ON batch_intents(id_number) WHERE state = 'pending';
CREATE TRIGGER batch_intents_no_delete BEFORE DELETE ON batch_intents BEGIN SELECT RAISE(ABORT, 'batch intents are never deleted'); END;
CREATE TRIGGER batch_intents_done_is_final BEFORE UPDATE ON batch_intents WHEN OLD.state = 'done' BEGIN SELECT RAISE(ABORT, 'a done batch intent is final'); END;
",
    },
    // 3: integrity: a digest on every permit and credential row, a hash chain over the events
    // (ledger::digest); existing rows are back-filled, so damage done before this migration
    // is not detected by it.
    Migration {
        then: Some(backfill_digests),
        sql: r"
ALTER TABLE permits ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE batch_intents ADD COLUMN digest TEXT NOT NULL DEFAULT '';
DROP TRIGGER batch_intents_done_is_final;
DROP TRIGGER credentials_immutable_u;
DROP TRIGGER events_append_only_u;
",
    },
    // 4: trust lists signed here, one row per sequence number: a sequence is never used for a
    // second list with other content.
    Migration {
        then: None,
        sql: r"
CREATE TABLE trust_publications (
  sequence BIGINT PRIMARY KEY,
  content_sha256 TEXT NOT NULL,
  document_sha256 TEXT NOT NULL,
  document TEXT NOT NULL,
  published_at BIGINT NOT NULL,
  actor TEXT NOT NULL
);
CREATE TRIGGER trust_publications_u BEFORE UPDATE ON trust_publications BEGIN SELECT RAISE(ABORT, 'trust-list publications are final'); END;
CREATE TRIGGER trust_publications_d BEFORE DELETE ON trust_publications BEGIN SELECT RAISE(ABORT, 'trust-list publications are final'); END;
CREATE TRIGGER status_publications_u BEFORE UPDATE ON status_publications BEGIN SELECT RAISE(ABORT, 'status-list publications are final'); END;
CREATE TRIGGER status_publications_d BEFORE DELETE ON status_publications BEGIN SELECT RAISE(ABORT, 'status-list publications are final'); END;
",
    },
];

/// Migration 3's back-fill: digests of the existing permits and credentials (a row that cannot
/// be read keeps an empty digest and is reported by `issuer ledger verify`), the chain over the
/// existing events; then the update triggers dropped for it are created again.
fn backfill_digests(tx: &Transaction<'_>) -> Result<(), LedgerError> {
    let e = |e: rusqlite::Error| LedgerError::Db {
        path: "migration 3".into(),
        detail: e.to_string(),
    };
    let mut updates: Vec<(i64, String)> = Vec::new();
    {
        let mut st = tx
            .prepare(&format!("SELECT {PERMIT_SELECT} FROM permits"))
            .map_err(e)?;
        let mut cursor = st.query([]).map_err(e)?;
        while let Some(r) = cursor.next().map_err(e)? {
            let raw = rows::raw_permit(r, 0).map_err(e)?;
            let serial = raw.serial;
            if let Ok(p) = raw.parse() {
                updates.push((serial, digest::permit(&p)));
            }
        }
    }
    for (serial, d) in updates.drain(..) {
        tx.execute(
            "UPDATE permits SET digest = ?2 WHERE serial = ?1",
            params![serial, d],
        )
        .map_err(e)?;
    }
    let mut creds: Vec<(i64, u32, String)> = Vec::new();
    {
        let mut st = tx
            .prepare(&format!("SELECT {CREDENTIAL_SELECT} FROM credentials"))
            .map_err(e)?;
        let mut cursor = st.query([]).map_err(e)?;
        while let Some(r) = cursor.next().map_err(e)? {
            let (c, _) = rows::raw_credential(r, 0).map_err(e)?;
            creds.push((rows::i64_of(c.serial), c.version, digest::credential(&c)));
        }
    }
    for (serial, version, d) in creds {
        tx.execute(
            "UPDATE credentials SET digest = ?3 WHERE serial = ?1 AND version = ?2",
            params![serial, version, d],
        )
        .map_err(e)?;
    }
    let mut links: Vec<(i64, String)> = Vec::new();
    {
        let mut st = tx
            .prepare(&format!(
                "SELECT {} FROM events ORDER BY id",
                rows::EVENT_SELECT
            ))
            .map_err(e)?;
        let mut cursor = st.query([]).map_err(e)?;
        let mut previous = CHAIN_START.to_owned();
        while let Some(r) = cursor.next().map_err(e)? {
            let row = rows::event_row(r).map_err(e)?;
            previous = digest::event_link(&previous, &row);
            links.push((row.id, previous.clone()));
        }
    }
    for (id, link) in links {
        tx.execute(
            "UPDATE events SET chain = ?2 WHERE id = ?1",
            params![id, link],
        )
        .map_err(e)?;
    }
    let mut intents: Vec<(String, String)> = Vec::new();
    {
        let mut st = tx
            .prepare("SELECT row_key, application_id, serial, status_index, id_number, version, plan_json, created_at, job, line FROM batch_intents")
            .map_err(e)?;
        let mut cursor = st.query([]).map_err(e)?;
        while let Some(r) = cursor.next().map_err(e)? {
            let rec = IntentRecord {
                row_key: r.get(0).map_err(e)?,
                application_id: r.get(1).map_err(e)?,
                serial: rows::u64_of(r.get(2).map_err(e)?),
                status_index: rows::u64_of(r.get(3).map_err(e)?),
                id_number: r.get(4).map_err(e)?,
                version: r.get(5).map_err(e)?,
                plan_json: r.get(6).map_err(e)?,
                state: IntentState::Pending,
                created_at: r.get(7).map_err(e)?,
                job: r.get(8).map_err(e)?,
                line: rows::u64_of(r.get(9).map_err(e)?),
            };
            intents.push((rec.row_key.clone(), digest::intent(&rec)));
        }
    }
    for (key, d) in intents {
        tx.execute(
            "UPDATE batch_intents SET digest = ?2 WHERE row_key = ?1",
            params![key, d],
        )
        .map_err(e)?;
    }
    tx.execute_batch(
        "CREATE TRIGGER batch_intents_done_is_final BEFORE UPDATE ON batch_intents WHEN OLD.state = 'done' BEGIN SELECT RAISE(ABORT, 'a done batch intent is final'); END;
CREATE TRIGGER credentials_immutable_u BEFORE UPDATE ON credentials BEGIN SELECT RAISE(ABORT, 'credentials are immutable'); END;
CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
    )
    .map_err(e)
}
