//! The lifecycle suite (`lifecycle.rs`, every test of it) on the PostgreSQL ledger, a fresh
//! database per test on the server `GDRP_TEST_POSTGRES` names. Without a server the suite runs
//! on SQLite again and says so (with `GDRP_REQUIRE_TOOLS` set, as in CI, it fails instead).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/postgres.rs"]
mod pg;

#[path = "lifecycle.rs"]
mod lifecycle;

use permit_issuer::ledger::open::{AnyLedger, Mode};

/// The ledger of one test world: a new PostgreSQL database.
fn fresh_ledger() -> AnyLedger {
    match pg::server("the lifecycle suite") {
        Some(server) => {
            let url = pg::fresh_database(&server, "lifecycle");
            AnyLedger::open(std::path::Path::new(&url), Mode::Command).unwrap()
        }
        None => {
            AnyLedger::Sqlite(permit_issuer::ledger::sqlite::SqliteLedger::in_memory().unwrap())
        }
    }
}

/// Without a server the suite above runs on SQLite again (so it still passes); this test is
/// what the summary shows for it: ignored, with the reason, when the suite did not reach
/// PostgreSQL.
#[test]
#[cfg_attr(
    missing_postgres,
    ignore = "GDRP_TEST_POSTGRES is not set: the lifecycle suite ran on SQLite, not PostgreSQL"
)]
fn the_suite_ran_on_postgres() {
    assert!(matches!(fresh_ledger(), AnyLedger::Postgres(_)));
}
