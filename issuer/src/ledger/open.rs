//! Opening "the ledger" a `--ledger` value names: a SQLite file, or a PostgreSQL database
//! (`postgres://…`, `postgresql://…`) shared by several offices.

use std::path::Path;

use super::postgres::{PgLedger, is_postgres_url};
use super::sqlite::SqliteLedger;
use super::{Ledger, LedgerError, Tx};

/// How a ledger is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One command: SQLite commits at its default durability (`synchronous = NORMAL`).
    Command,
    /// A long-running writer whose later steps depend on its commits (a batch job): SQLite
    /// fsyncs every commit ([`SqliteLedger::durable`]). PostgreSQL commits are durable as the
    /// server is configured (`synchronous_commit`, on by default) either way.
    Durable,
}

/// Either ledger backend, chosen by the location.
pub enum AnyLedger {
    /// An embedded SQLite file.
    Sqlite(SqliteLedger),
    /// A PostgreSQL database (boxed: its client and statement cache are larger).
    Postgres(Box<PgLedger>),
}

impl AnyLedger {
    /// Opens (and migrates) the ledger at `location`: a PostgreSQL URL, else a SQLite file path.
    pub fn open(location: &Path, mode: Mode) -> Result<AnyLedger, LedgerError> {
        if let Some(url) = location.to_str().filter(|s| is_postgres_url(s)) {
            return PgLedger::open(url).map(|l| AnyLedger::Postgres(Box::new(l)));
        }
        match mode {
            Mode::Command => SqliteLedger::open(location),
            Mode::Durable => SqliteLedger::durable(location),
        }
        .map(AnyLedger::Sqlite)
    }

    /// Where the ledger is, as shown to people (a PostgreSQL URL without its password).
    pub fn describe(location: &Path) -> String {
        match location.to_str().filter(|s| is_postgres_url(s)) {
            Some(url) => super::postgres::redact(url),
            None => location.display().to_string(),
        }
    }

    /// Whether `location` names a PostgreSQL database.
    pub fn is_postgres(location: &Path) -> bool {
        location.to_str().is_some_and(is_postgres_url)
    }

    /// The schema version (the number of migrations applied).
    pub fn schema_version(&mut self) -> Result<i64, LedgerError> {
        match self {
            AnyLedger::Sqlite(l) => l.schema_version(),
            AnyLedger::Postgres(l) => l.schema_version(),
        }
    }
}

impl Ledger for AnyLedger {
    fn transaction<T, E: From<LedgerError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            AnyLedger::Sqlite(l) => l.transaction(f),
            AnyLedger::Postgres(l) => l.transaction(f),
        }
    }
}
