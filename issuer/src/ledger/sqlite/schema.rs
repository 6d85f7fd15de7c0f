//! The SQLite ledger's schema: numbered migrations, each applied once in its own transaction.
//! History is append-only and credentials immutable, enforced by triggers in the database.

/// Schema migrations, applied in order; each runs once, in its own transaction.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the lifecycle tables.
    r"
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
    // 2: batch intents, recorded before signing (write-ahead), done when the permit commits.
    r"
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
];
