//! `issuer status publish`: the next signed status list.

use std::process::ExitCode;

use chrono::DateTime;

use permit_issuer::ledger::Ledger as _;
use permit_issuer::lifecycle;
use permit_issuer::report::Published;
use permit_shared::trust::Usage;

use crate::cli::{Cli, PublishArgs};
use crate::context::{self, Acting};
use crate::error::Result;
use crate::output::{check_output, print_json, rfc3339, write_output};

/// `issuer status publish`
pub fn publish(cli: &Cli, a: &PublishArgs) -> Result<ExitCode> {
    let acting = Acting::from_cli(cli)?;
    // Verifiers accept a status list only from a key the trust list allows to sign them.
    let s = context::signer(&a.keys, Usage::StatusList, acting.now)?;
    check_output(&a.out, a.force)?;
    let office = acting.office();
    let mut ledger = context::ledger(cli)?;
    let (publication, counts) = ledger.transaction(|tx| -> Result<_> {
        let (bytes, publication, counts) =
            lifecycle::publish_status(tx, &office, &s, a.min_sequence)?;
        write_output(&a.out, &bytes, a.force)?;
        Ok((publication, counts))
    })?;
    crate::output::warn_demo_key(&a.keys);
    if cli.json {
        print_json(&Published {
            counts,
            out: a.out.clone(),
            publication,
        })?;
    } else {
        println!(
            "status list {} : sequence {}, {} credentials (valid {}, revoked {}, suspended {}, superseded {}), {} bytes, next update {}",
            a.out.display(),
            publication.sequence,
            publication.credentials,
            counts.valid,
            counts.revoked,
            counts.suspended,
            counts.superseded,
            publication.bytes,
            rfc3339(DateTime::from_timestamp(publication.next_update, 0).unwrap_or_default())
        );
    }
    Ok(ExitCode::SUCCESS)
}
