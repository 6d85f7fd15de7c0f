//! `issuer issue`, `issuer apply` and `issuer review`: applications and first issuance.

use std::path::Path;
use std::process::ExitCode;

use permit_issuer::error_code::ErrorCode;
use permit_issuer::ledger::Ledger as _;
use permit_issuer::lifecycle::{self, Decision, Direct};
use permit_issuer::report::Decided;
use permit_shared::applicant::RawApplicant;
use permit_shared::trust::Usage;

use crate::cli::{ApplyArgs, Cli, IssueArgs, ReviewArgs};
use crate::context::{self, Acting};
use crate::error::{Failure, Problem, Result};
use crate::output::{
    CodeOut, check_output, finish_issued, print_applied, print_json, read_small, render_checked,
    write_wallet,
};

/// Reads an applicant record (JSON).
fn read_applicant(p: &Path) -> Result<RawApplicant> {
    let bytes = read_small(p, permit_shared::applicant::MAX_RECORD_BYTES as u64)?;
    // The same code as a record that parses but does not validate; the field's own code is in
    // `problems`.
    RawApplicant::from_json(&bytes).map_err(|e| Failure {
        hint: Some("the applicant record is one JSON object with the fields of the README".into()),
        problems: vec![Problem::from(&e)],
        ..Failure::new(ErrorCode::InvalidApplicant, format!("{}: {e}", p.display()))
    })
}

/// `issuer issue`
pub fn issue(cli: &Cli, a: &IssueArgs) -> Result<ExitCode> {
    let acting = Acting::from_cli(cli)?;
    let s = context::signer(&a.keys, Usage::Permit, acting.now)?;
    let mut raw = read_applicant(&a.applicant)?;
    if let Some(h) = &a.holder_key {
        raw.holder_key = Some(context::holder_key(h)?);
    }
    check_output(&a.out, a.force)?;
    let mut ledger = context::ledger(cli)?;
    let office = acting.office();
    // Render and self-check inside the transaction: a failure leaves nothing behind.
    let result = ledger.transaction(|tx| -> Result<_> {
        match lifecycle::issue_direct(tx, &office, &s, &raw, a.channel.into())? {
            Direct::Ineligible(applied) => Ok(Err(applied)),
            Direct::Issued(issued) => {
                let r = render_checked(&issued.text, &a.out, &a.qr, s.trust(), acting.now)?;
                Ok(Ok((issued, r)))
            }
        }
    })?;
    match result {
        Err(applied) => {
            print_applied(cli, &applied)?;
            eprintln!("error: applicant is not eligible; nothing was issued");
            Ok(ExitCode::from(1))
        }
        Ok((issued, r)) => {
            let to = CodeOut {
                out: &a.out,
                force: a.force || issued.already_issued,
                qr: &a.qr,
                trust: &a.keys.trust,
            };
            finish_issued(
                cli,
                "issued",
                &issued,
                &a.keys,
                Some((&to, &r)),
                s.is_test(),
            )?;
            write_wallet(&issued, &s, Some(&a.out), a.force)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `issuer apply`
pub fn apply(cli: &Cli, a: &ApplyArgs) -> Result<ExitCode> {
    let acting = Acting::from_cli(cli)?;
    let mut raw = read_applicant(&a.applicant)?;
    if let Some(h) = &a.holder_key {
        raw.holder_key = Some(context::holder_key(h)?);
    }
    let mut ledger = context::ledger(cli)?;
    let office = acting.office();
    let applied = ledger.transaction(|tx| lifecycle::apply(tx, &office, &raw, a.channel.into()))?;
    print_applied(cli, &applied)?;
    Ok(ExitCode::from(u8::from(!applied.eligibility.eligible)))
}

/// `issuer review`
pub fn review(cli: &Cli, a: &ReviewArgs) -> Result<ExitCode> {
    let acting = Acting::from_cli(cli)?;
    let s = context::signer(&a.output.keys, Usage::Permit, acting.now)?;
    if let Some(o) = &a.output.out {
        check_output(o, a.output.force)?;
    }
    let mut ledger = context::ledger(cli)?;
    let office = acting.office_as(&a.reviewer);
    let decision = if a.approve {
        Decision::Approve
    } else {
        Decision::Reject
    };
    let out = ledger.transaction(|tx| -> Result<_> {
        let issued = lifecycle::review(tx, &office, &s, &a.application, decision, &a.reason)?;
        let rendered = match (&issued, &a.output.out) {
            (Some(i), Some(o)) => Some(render_checked(
                &i.text,
                o,
                &a.output.qr,
                s.trust(),
                acting.now,
            )?),
            _ => None,
        };
        Ok((issued, rendered))
    })?;
    match out {
        (None, _) => {
            if cli.json {
                print_json(&Decided {
                    application: &a.application,
                    state: "rejected",
                })?;
            } else {
                println!("application {}: rejected", a.application);
            }
        }
        (Some(issued), r) => {
            let to = a.output.out.as_deref().map(|out| CodeOut {
                out,
                force: a.output.force,
                qr: &a.output.qr,
                trust: &a.output.keys.trust,
            });
            let written = to.as_ref().zip(r.as_ref());
            finish_issued(
                cli,
                "approved and issued",
                &issued,
                &a.output.keys,
                written,
                s.is_test(),
            )?;
            write_wallet(&issued, &s, a.output.out.as_deref(), a.output.force)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
