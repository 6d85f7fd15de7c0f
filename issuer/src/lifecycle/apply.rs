//! Applications: the qualification check (资格校验), review, and direct issuance.

use permit_shared::applicant::{Applicant, RawApplicant};
use permit_shared::text;
use serde::Serialize;

use super::issuance::{commit_issue, plan_issue, sign_issue};
use super::{Issued, LifecycleError, Office, Result, content_hash, current, random_below, refused};
use crate::eligibility::{self, Eligibility};
use crate::error_code::ErrorCode;
use crate::issue::Signer;
use crate::ledger::{AppState, ApplicationRecord, LedgerError, Tx};
use crate::settings::Channel;

/// What `apply` recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Application number.
    pub application: String,
    /// State after the check.
    pub state: AppState,
    /// The qualification check.
    pub eligibility: Eligibility,
    /// True when the same reference and content were recorded before (nothing new written).
    pub already_recorded: bool,
    /// The permit, when the application was already approved.
    pub permit_serial: Option<u64>,
}

/// Records an application and runs the qualification check. An ineligible application is
/// recorded too (state `ineligible`, with its reasons).
pub fn apply(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    raw: &RawApplicant,
    channel: Channel,
) -> Result<Applied> {
    let a = raw
        .validate(office.today())
        .map_err(LifecycleError::Invalid)?;
    apply_checked(tx, office, &a, &content_hash(&a), channel)
}

/// [`apply`] for an applicant validated already, with its [`content_hash`] (batch jobs compute
/// both once per row).
pub fn apply_checked(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    a: &Applicant,
    hash: &str,
    channel: Channel,
) -> Result<Applied> {
    if let Some(r) = &a.reference
        && let Some(existing) = tx.application_by_ref(r)?
    {
        if existing.content_hash != hash {
            return Err(LifecycleError::Conflict {
                reference: r.clone(),
                application: existing.id,
            });
        }
        let eligibility = serde_json::from_str(&existing.eligibility_json)
            .map_err(|e| LedgerError::Damaged(e.to_string()))?;
        return Ok(Applied {
            application: existing.id,
            state: existing.state,
            eligibility,
            already_recorded: true,
            permit_serial: existing.permit_serial,
        });
    }
    let active = active_or_reserved(tx, a.id_number.as_str())?;
    let eligibility = eligibility::check(a, office.today(), channel, active, office.settings);
    let id = loop {
        let id = format!("A{:011}", random_below(100_000_000_000)?);
        if tx.application(&id)?.is_none() {
            break id;
        }
    };
    let state = if eligibility.eligible {
        AppState::Submitted
    } else {
        AppState::Ineligible
    };
    let elig_json = serde_json::to_string(&eligibility).unwrap_or_default();
    tx.insert_application(&ApplicationRecord {
        id: id.clone(),
        reference: a.reference.clone(),
        content_hash: hash.to_owned(),
        id_number: a.id_number.as_str().to_owned(),
        applicant_json: serde_json::to_string(&a.to_raw()).unwrap_or_default(),
        eligibility_json: elig_json,
        state,
        permit_serial: None,
        submitted_at: office.now.timestamp(),
        actor: office.actor.to_owned(),
    })?;
    tx.append_event(&office.event(
        if eligibility.eligible {
            "application.submitted"
        } else {
            "application.ineligible"
        },
        Some(&id),
        None,
        None,
        serde_json::json!({ "channel": channel, "reference": a.reference, "eligibility": eligibility }),
    ))?;
    Ok(Applied {
        application: id,
        state,
        eligibility,
        already_recorded: false,
        permit_serial: None,
    })
}

/// A review decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approve: the permit is issued at once.
    Approve,
    /// Reject.
    Reject,
}

/// Reviews a submitted application. Approval issues the permit in the same transaction.
pub fn review(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    signer: &Signer,
    application: &str,
    decision: Decision,
    reason: &str,
) -> Result<Option<Issued>> {
    text::check(reason, 500)
        .map_err(|e| refused(ErrorCode::InvalidReason, format!("--reason: {e}")))?;
    let app = tx
        .application(application)?
        .ok_or_else(|| LifecycleError::NotFound {
            what: "application",
            id: application.to_owned(),
        })?;
    if app.state != AppState::Submitted {
        return Err(LifecycleError::IllegalTransition {
            what: format!("application {application}"),
            current: app.state.as_str().to_owned(),
            detail: "only a submitted application can be reviewed, and only once".into(),
        });
    }
    match decision {
        Decision::Reject => {
            tx.set_application_state(
                application,
                AppState::Rejected,
                None,
                &office.event(
                    "application.rejected",
                    Some(application),
                    None,
                    None,
                    serde_json::json!({ "reason": reason }),
                ),
            )?;
            Ok(None)
        }
        Decision::Approve => {
            let raw: RawApplicant = serde_json::from_str(&app.applicant_json)
                .map_err(|e| LedgerError::Damaged(e.to_string()))?;
            let a = raw
                .validate(office.today())
                .map_err(LifecycleError::Invalid)?;
            if let Some(serial) = active_or_reserved(tx, a.id_number.as_str())? {
                return Err(refused(
                    ErrorCode::DuplicatePermit,
                    format!("the ID number already has an active permit ({serial:012})"),
                ));
            }
            let plan = plan_issue(tx, office, signer, &app.id, &a)?;
            let signed = sign_issue(plan, signer)?;
            commit_issue(tx, office, &signed, reason).map(Some)
        }
    }
}

/// The outcome of a direct issuance (`issuer issue`).
#[derive(Debug, Clone)]
pub enum Direct {
    /// Issued (or already issued for the same request).
    Issued(Issued),
    /// Recorded but refused at the qualification check.
    Ineligible(Applied),
}

/// Issues directly: records the application, checks it and approves it in one transaction.
/// The same reference with the same content returns the permit issued before.
pub fn issue_direct(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    signer: &Signer,
    raw: &RawApplicant,
    channel: Channel,
) -> Result<Direct> {
    let applied = apply(tx, office, raw, channel)?;
    match applied.state {
        AppState::Approved => {
            let serial = applied.permit_serial.unwrap_or(0);
            Ok(Direct::Issued(current(tx, serial)?))
        }
        AppState::Ineligible => Ok(Direct::Ineligible(applied)),
        AppState::Rejected => Err(LifecycleError::IllegalTransition {
            what: format!("application {}", applied.application),
            current: "rejected".into(),
            detail: "the same request was rejected at review".into(),
        }),
        AppState::Submitted => {
            let issued = review(
                tx,
                office,
                signer,
                &applied.application,
                Decision::Approve,
                "direct issuance",
            )?;
            issued
                .ok_or_else(|| refused(ErrorCode::NotIssued, "approval issued nothing"))
                .map(Direct::Issued)
        }
    }
}
/// The serial of the person's active permit, or of a permit reserved for them by a batch job
/// that has not committed it yet (one person, one permit).
pub(super) fn active_or_reserved(tx: &mut dyn Tx, id_number: &str) -> Result<Option<u64>> {
    if let Some(p) = tx.active_permit_for(id_number)? {
        return Ok(Some(p.serial));
    }
    Ok(tx.reserved_serial_for(id_number)?)
}
