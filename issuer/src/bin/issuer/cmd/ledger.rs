//! `issuer ledger verify`: the audit of the whole ledger; `issuer ledger migrate`: its schema
//! brought up to date.

use std::process::ExitCode;

use permit_issuer::error_code::ErrorCode;
use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::audit;
use permit_issuer::ledger::open::AnyLedger;

use crate::cli::{Cli, LedgerVerifyArgs};
use crate::context;
use crate::error::{Failure, Result};
use crate::output::print_json;

/// `issuer ledger verify`: exit 0 when every row is intact, 2 (`LEDGER_DAMAGED`) naming each
/// damaged row otherwise.
pub fn verify(cli: &Cli, a: &LedgerVerifyArgs) -> Result<ExitCode> {
    if !AnyLedger::is_postgres(&cli.ledger) && !cli.ledger.exists() {
        return Err(Failure::new(
            ErrorCode::LedgerError,
            format!("ledger {}: no such file", cli.ledger.display()),
        ));
    }
    let trust = context::trust_list(&a.trust)?;
    let mut ledger = context::ledger(cli)?;
    let report = ledger.transaction(|tx| audit::audit(tx, &trust))?;
    if cli.json {
        print_json(&report)?;
    } else {
        println!(
            "ledger {}: {} applications, {} permits, {} credentials ({} signatures verified, {} by keys not in the trust list), {} events",
            AnyLedger::describe(&cli.ledger),
            report.applications,
            report.permits,
            report.credentials,
            report.signatures_checked,
            report.signatures_unchecked,
            report.events
        );
        println!("event chain head {}", report.chain_head);
        for d in &report.damaged {
            println!("DAMAGED {} {}: {}", d.table, d.row, d.problem);
        }
        if report.is_clean() {
            println!("OK: no damage found");
        }
    }
    if report.is_clean() {
        Ok(ExitCode::SUCCESS)
    } else {
        if !cli.json {
            eprintln!(
                "error: {} damaged rows [{}]",
                report.damaged.len(),
                ErrorCode::LedgerDamaged
            );
            eprintln!(
                "hint: restore the ledger from a backup taken before the damage and verify it again; sign nothing from this copy"
            );
        }
        Ok(ExitCode::from(ErrorCode::LedgerDamaged.exit_code()))
    }
}

/// `issuer ledger migrate`: applies the migrations the ledger lacks (as the first use of a
/// ledger does) and prints its schema version; refuses a schema newer than this issuer knows.
pub fn migrate(cli: &Cli) -> Result<ExitCode> {
    let mut ledger = context::ledger(cli)?;
    let version = ledger.schema_version()?;
    if cli.json {
        print_json(&serde_json::json!({
            "ledger": AnyLedger::describe(&cli.ledger),
            "schema_version": version,
        }))?;
    } else {
        println!(
            "ledger {}: schema version {version}",
            AnyLedger::describe(&cli.ledger)
        );
    }
    Ok(ExitCode::SUCCESS)
}
