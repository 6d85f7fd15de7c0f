//! Commands on an issued permit: `endorse`, `change`, `cancel`, `show` and `qr`.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use permit_issuer::error_code::ErrorCode;
use permit_issuer::issue::{Office, Signer};
use permit_issuer::ledger::{Ledger as _, PermitState, Tx};
use permit_issuer::lifecycle::{self, Change, Issued, LifecycleError};
use permit_issuer::report::Cancelled;
use permit_shared::trust::Usage;

use crate::cli::{CancelArgs, ChangeArgs, Cli, EndorseArgs, QrOutArgs, SignedCodeArgs};
use crate::context::{self, Acting};
use crate::error::{Failure, Result};
use crate::output::{
    CodeOut, check_output, finish_issued, print_issued, print_json, render_checked, rfc3339,
    write_code, write_wallet,
};

/// `issuer endorse`
pub fn endorse(cli: &Cli, a: &EndorseArgs) -> Result<ExitCode> {
    let serial = context::serial(&a.serial)?;
    reissue(&a.output, cli, "endorsed", |tx, office, signer| {
        lifecycle::endorse(tx, office, signer, serial, a.channel.into())
    })
}

/// `issuer change`
pub fn change(cli: &Cli, a: &ChangeArgs) -> Result<ExitCode> {
    let serial = context::serial(&a.serial)?;
    let ch = Change {
        hukou_division: a.hukou_division.clone(),
        hukou_address: a.hukou_address.clone(),
        photo: a.photo.clone(),
        residence_district: a.residence_district.clone(),
        residence_address: a.residence_address.clone(),
        holder_key: a
            .holder_key
            .as_deref()
            .map(context::holder_key)
            .transpose()?,
    };
    reissue(&a.output, cli, "changed", |tx, office, signer| {
        lifecycle::change(tx, office, signer, serial, &ch, a.channel.into())
    })
}

/// Endorsement and change: a new credential, optionally written out.
fn reissue(
    a: &SignedCodeArgs,
    cli: &Cli,
    what: &str,
    step: impl FnOnce(&mut dyn Tx, &Office<'_>, &Signer) -> std::result::Result<Issued, LifecycleError>,
) -> Result<ExitCode> {
    let acting = Acting::from_cli(cli)?;
    let s = context::signer(&a.keys, Usage::Permit, acting.now)?;
    if let Some(o) = a.out.as_deref() {
        check_output(o, a.force)?;
    }
    let office = acting.office();
    let mut ledger = context::ledger(cli)?;
    let (issued, r) = ledger.transaction(|tx| -> Result<_> {
        let issued = step(tx, &office, &s)?;
        let r = match a.out.as_deref() {
            Some(o) => Some(render_checked(
                &issued.text,
                o,
                &a.qr,
                s.trust(),
                acting.now,
            )?),
            None => None,
        };
        Ok((issued, r))
    })?;
    let to = a.out.as_deref().map(|out| CodeOut {
        out,
        force: a.force,
        qr: &a.qr,
        trust: &a.keys.trust,
    });
    finish_issued(
        cli,
        what,
        &issued,
        &a.keys,
        to.as_ref().zip(r.as_ref()),
        s.is_test(),
    )?;
    write_wallet(&issued, &s, a.out.as_deref(), a.force)?;
    Ok(ExitCode::SUCCESS)
}

/// `issuer cancel`
pub fn cancel(cli: &Cli, a: &CancelArgs) -> Result<ExitCode> {
    let serial = context::serial(&a.serial)?;
    let acting = Acting::from_cli(cli)?;
    let office = acting.office();
    let mut ledger = context::ledger(cli)?;
    ledger.transaction(|tx| {
        lifecycle::cancel(
            tx,
            &office,
            serial,
            &a.reason,
            a.reporter.into(),
            a.channel.into(),
        )
    })?;
    if cli.json {
        print_json(&Cancelled {
            serial: format!("{serial:012}"),
            state: "cancelled",
        })?;
    } else {
        println!(
            "permit {serial:012}: cancelled; publish a status list (`issuer status publish`) so that verifiers learn of it"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `issuer show`
pub fn show(cli: &Cli, serial: &str) -> Result<ExitCode> {
    let serial = context::serial(serial)?;
    let now = context::now(cli)?;
    let settings = context::settings(cli)?;
    let mut ledger = context::ledger(cli)?;
    let h = ledger.transaction(|tx| {
        lifecycle::history(tx, serial, permit_shared::civil::date_of(now), &settings)
    })?;
    if cli.json {
        print_json(&h)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "permit {} ({}) — application {}",
        h.serial, h.state, h.application
    );
    println!(
        "  {}  {}  {}",
        h.details.name, h.details.id_number, h.details.residence_address
    );
    println!(
        "  issued on {}  valid until {}  endorsed until {}  version {}",
        h.issued_on, h.valid_until, h.endorsed_until, h.current_version
    );
    if let Some((from, to)) = h.endorsement_window {
        println!("  next endorsement window {from} … {to}");
    }
    println!("  residence counted since {}", h.residence_counted_since);
    for c in &h.cards {
        println!("  card no. {} {} fee {} yuan", c.number, c.kind, c.fee_yuan);
    }
    println!("history:");
    for e in &h.events {
        println!(
            "  {}  {:<22} {:<12} {}",
            rfc3339(DateTime::from_timestamp(e.at, 0).unwrap_or_default()),
            e.kind,
            e.actor,
            e.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to write the code of a permit that is cancelled, expired or suspended (its
/// endorsement overdue) at `now`: the code would not verify, and saying why beats a failed
/// self-check.
fn usable(issued: &Issued, cancelled: bool, now: DateTime<Utc>) -> Result<()> {
    let serial = &issued.serial;
    let today = permit_shared::civil::date_of(now);
    if cancelled {
        return Err(Failure::new(
            ErrorCode::PermitCancelled,
            format!("permit {serial} is cancelled: its code is not written again"),
        )
        .hint(format!(
            "`issuer show {serial}` prints when and why it was cancelled"
        )));
    }
    let refused = |message: String, hint: String| {
        Err(Failure::new(ErrorCode::IllegalTransition, message).hint(hint))
    };
    if today > issued.valid_until {
        return refused(
            format!(
                "permit {serial} expired: it was valid until {}, so its code would not verify",
                issued.valid_until
            ),
            "an expired permit is not renewed: the holder applies again (`issuer apply`)".into(),
        );
    }
    if today > issued.endorsed_until {
        return refused(
            format!(
                "permit {serial} is suspended: its yearly endorsement was due by {}, so its code would not verify",
                issued.endorsed_until
            ),
            format!("endorse it (`issuer endorse {serial} --out PATH`), which writes its new code"),
        );
    }
    Ok(())
}

/// `issuer qr`: the current credential's code again. Signs nothing, so it needs no key, only
/// the trust list of the self-check. A cancelled permit's code is not written
/// (`PERMIT_CANCELLED`), nor that of an expired or suspended one, which would not verify
/// (`ILLEGAL_TRANSITION`); a superseded version never is, since the current one is written.
pub fn qr(cli: &Cli, a: &QrOutArgs) -> Result<ExitCode> {
    let serial = context::serial(&a.serial)?;
    let now = context::now(cli)?;
    let trust = context::trust_list(&a.trust)?;
    check_output(&a.out, a.force)?;
    let mut ledger = context::ledger(cli)?;
    let issued = ledger.transaction(|tx| -> Result<_> {
        let issued = lifecycle::current(tx, serial)?;
        let cancelled = tx
            .permit(serial)?
            .is_some_and(|p| p.state == PermitState::Cancelled);
        usable(&issued, cancelled, now)?;
        Ok(issued)
    })?;
    let r = render_checked(&issued.text, &a.out, &a.qr, &trust, now)?;
    let to = CodeOut {
        out: &a.out,
        force: a.force,
        qr: &a.qr,
        trust: &a.trust,
    };
    write_code(cli, &issued, &r, &to)?;
    let test = context::signed_by_test_key(&issued.text, &trust);
    print_issued(cli, "current credential", &issued, Some((&a.out, &r)), test)?;
    Ok(ExitCode::SUCCESS)
}
