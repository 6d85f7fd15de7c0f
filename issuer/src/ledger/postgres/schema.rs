//! The PostgreSQL ledger's schema: the same numbered migrations as the SQLite ledger's (same
//! version numbers, same tables, keys and rules), written for PostgreSQL. Integers are all
//! `BIGINT`; dates stay ISO 8601 text, so that rows read back exactly as in SQLite and the
//! digests of [`digest`](crate::ledger::digest) are the same.
//! The table definitions repeat the SQLite ones line for line where the two dialects agree: a
//! migration is a frozen text per dialect (its hash is recorded), so it is not assembled from
//! shared pieces that a later edit could change under an existing database.
//!
//! History is append-only, credentials and publications immutable, permits and intents never
//! deleted: enforced by triggers (also against `TRUNCATE`), whatever client writes.

/// Schema migrations, applied in order; each runs once, in its own transaction.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the lifecycle tables.
    r"
CREATE FUNCTION gdrp_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = TG_ARGV[0];
END
$$;
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
  authority BIGINT NOT NULL,
  current_version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX permits_one_active_per_person ON permits(id_number) WHERE state = 'active';
CREATE TABLE credentials (
  serial BIGINT NOT NULL REFERENCES permits(serial),
  version BIGINT NOT NULL,
  status_index BIGINT NOT NULL UNIQUE,
  key_id TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  cause TEXT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (serial, version)
);
CREATE TABLE events (
  id BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  application_id TEXT,
  serial BIGINT,
  version BIGINT,
  detail_json TEXT NOT NULL
);
CREATE INDEX events_serial ON events(serial);
CREATE INDEX events_application ON events(application_id);
CREATE TABLE cards (
  serial BIGINT NOT NULL REFERENCES permits(serial),
  number BIGINT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('first','replacement','exchange')),
  fee_yuan BIGINT NOT NULL,
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
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION gdrp_refuse('events are append-only');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION gdrp_refuse('events are append-only');
CREATE TRIGGER credentials_immutable BEFORE UPDATE OR DELETE ON credentials
  FOR EACH ROW EXECUTE FUNCTION gdrp_refuse('credentials are immutable');
CREATE TRIGGER credentials_no_truncate BEFORE TRUNCATE ON credentials
  FOR EACH STATEMENT EXECUTE FUNCTION gdrp_refuse('credentials are immutable');
CREATE TRIGGER permits_no_delete BEFORE DELETE ON permits
  FOR EACH ROW EXECUTE FUNCTION gdrp_refuse('permits are never deleted');
CREATE TRIGGER permits_no_truncate BEFORE TRUNCATE ON permits
  FOR EACH STATEMENT EXECUTE FUNCTION gdrp_refuse('permits are never deleted');
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
  version BIGINT NOT NULL,
  plan_json TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','done')),
  created_at BIGINT NOT NULL
);
CREATE TABLE batch_rows (
  job TEXT NOT NULL,
  row_key TEXT NOT NULL,
  line BIGINT NOT NULL,
  PRIMARY KEY (job, row_key)
);
CREATE UNIQUE INDEX batch_intents_one_pending_per_person ON batch_intents(id_number) WHERE state = 'pending';
CREATE TRIGGER batch_intents_no_delete BEFORE DELETE ON batch_intents
  FOR EACH ROW EXECUTE FUNCTION gdrp_refuse('batch intents are never deleted');
CREATE TRIGGER batch_intents_no_truncate BEFORE TRUNCATE ON batch_intents
  FOR EACH STATEMENT EXECUTE FUNCTION gdrp_refuse('batch intents are never deleted');
CREATE TRIGGER batch_intents_done_is_final BEFORE UPDATE ON batch_intents
  FOR EACH ROW WHEN (OLD.state = 'done') EXECUTE FUNCTION gdrp_refuse('a done batch intent is final');
",
    // 3: integrity: a digest on every permit, credential and batch intent row, a hash chain
    // over the events (ledger::digest). PostgreSQL ledgers start at this release, so no row can
    // predate it; the migration refuses rather than leave rows without digests.
    r"
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM credentials) OR EXISTS (SELECT 1 FROM batch_intents) THEN
    RAISE EXCEPTION 'migration 3 needs a back-fill of digests, which the PostgreSQL ledger does not implement';
  END IF;
END
$$;
ALTER TABLE permits ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN chain TEXT NOT NULL DEFAULT '';
ALTER TABLE batch_intents ADD COLUMN digest TEXT NOT NULL DEFAULT '';
",
    // 4: trust lists signed here, one row per sequence number; publications are final.
    r"
CREATE TABLE trust_publications (
  sequence BIGINT PRIMARY KEY,
  content_sha256 TEXT NOT NULL,
  document_sha256 TEXT NOT NULL,
  document TEXT NOT NULL,
  published_at BIGINT NOT NULL,
  actor TEXT NOT NULL
);
CREATE TRIGGER trust_publications_final BEFORE UPDATE OR DELETE ON trust_publications
  FOR EACH ROW EXECUTE FUNCTION gdrp_refuse('trust-list publications are final');
CREATE TRIGGER status_publications_final BEFORE UPDATE OR DELETE ON status_publications
  FOR EACH ROW EXECUTE FUNCTION gdrp_refuse('status-list publications are final');
",
];
