//! The permit lifecycle: application and qualification check, review and issuance, yearly
//! endorsement (签注), registration changes, cancellation (注销), physical cards, and status-list
//! publication. Every function works inside one ledger transaction ([`Tx`]) and takes the time
//! and actor from an [`Office`]; the steps that sign take a [`Signer`](crate::issue::Signer).
//! Nothing here reads the clock.
//!
//! | module | steps |
//! |---|---|
//! | [`apply`](self::apply()) and review | `apply`, `apply_checked`, `review`, `issue_direct` |
//! | issuance | `plan_issue` → `sign_issue` → `commit_issue` (first credential) |
//! | changes | `endorse`, `change`, `cancel` (new credential versions, cancellation) |
//! | cards | `card` (physical cards and their fees) |
//! | status | `publish_status` |
//! | trust | `publish_trust_list` (a sequence is never used for two lists) |
//! | history | `history` (`issuer show`) |

mod apply;
mod card;
mod change;
mod history;
mod issuance;
mod status;
mod trust;

pub use apply::{Applied, Decision, Direct, apply, apply_checked, issue_direct, review};
pub use card::{CardKind, card};
pub use change::{Change, Reporter, cancel, change, endorse, endorsement_window};
pub use history::{PermitHistory, history};
pub use issuance::{
    IssuePlan, SignedIssue, check_key_policy, commit_issue, credential_claims, plan_issue,
    sign_issue,
};
pub use status::{StatusCounts, publish_status};
pub use trust::{TrustOutcome, publish_trust_list};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use permit_shared::applicant::{Applicant, FieldError};
use permit_shared::credential;
use permit_shared::division;

use crate::error_code::ErrorCode;
pub use crate::issue::Office;
use crate::ledger::{CredentialRecord, LedgerError, PermitRecord, PermitState, Tx};
use crate::settings::{Channel, Service, Settings};

/// Why a lifecycle step was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The applicant record has invalid fields.
    #[error("invalid applicant: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such application or permit.
    #[error("{what} {id} not found")]
    NotFound {
        /// `application` or `permit`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The step is not allowed in the current state.
    #[error("{what} is {current}: {detail}")]
    IllegalTransition {
        /// The object.
        what: String,
        /// Its current state.
        current: String,
        /// Why the step is not allowed.
        detail: String,
    },
    /// A rule refuses the step.
    #[error("{message} ({code})")]
    Refused {
        /// Stable code.
        code: ErrorCode,
        /// Explanation.
        message: String,
    },
    /// The same reference was used with different content.
    #[error(
        "reference {reference} was recorded with different content (application {application}); use a new reference"
    )]
    Conflict {
        /// The reference.
        reference: String,
        /// The application holding it.
        application: String,
    },
    /// Storage failure.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// No secure randomness.
    #[error("no secure randomness: {0}")]
    Random(String),
}

impl LifecycleError {
    /// Stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            LifecycleError::Invalid(_) => ErrorCode::InvalidApplicant,
            LifecycleError::NotFound { .. } => ErrorCode::NotFound,
            LifecycleError::IllegalTransition { .. } => ErrorCode::IllegalTransition,
            LifecycleError::Refused { code, .. } => *code,
            LifecycleError::Conflict { .. } => ErrorCode::ReferenceConflict,
            LifecycleError::Ledger(_) => ErrorCode::LedgerError,
            LifecycleError::Random(_) => ErrorCode::NoRandomness,
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, LifecycleError>;

pub(crate) fn refused(code: ErrorCode, message: impl Into<String>) -> LifecycleError {
    LifecycleError::Refused {
        code,
        message: message.into(),
    }
}

/// A uniformly random number below `n` (rejection sampling over OS randomness).
pub fn random_below(n: u64) -> Result<u64> {
    let zone = u64::MAX - u64::MAX % n.max(1);
    loop {
        let v = getrandom::u64().map_err(|e| LifecycleError::Random(e.to_string()))?;
        if v < zone {
            return Ok(v % n.max(1));
        }
    }
}

/// SHA-256 (hex) of the canonical JSON of an applicant: the idempotency fingerprint.
pub fn content_hash(a: &Applicant) -> String {
    let json = serde_json::to_vec(&a.to_raw()).unwrap_or_default();
    Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn check_coverage(
    s: &Settings,
    service: Service,
    channel: Channel,
    city: u32,
) -> Result<()> {
    if channel == Channel::Online && !s.coverage.offered(service, city) {
        let name = division::city(city).map_or("?", |c| c.name);
        return Err(refused(
            ErrorCode::ServiceNotOffered,
            format!(
                "{} is not offered online in {name} ({city}); use a police station counter (--channel counter)",
                service.label()
            ),
        ));
    }
    Ok(())
}

/// A signed credential as issued.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    /// Application number.
    pub application: String,
    /// Permit serial (12 digits).
    pub serial: String,
    /// Credential version.
    pub version: u32,
    /// Key id.
    pub key_id: String,
    /// Status-list index.
    pub status_index: u64,
    /// Credential signing time.
    pub issued_at: String,
    /// Permit issue date.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub valid_until: NaiveDate,
    /// Endorsed until.
    pub endorsed_until: NaiveDate,
    /// The QR text.
    pub text: String,
    /// True when nothing new was issued (the same request seen before).
    pub already_issued: bool,
}

pub(crate) fn issued_view(
    app: &str,
    p: &PermitRecord,
    c: &CredentialRecord,
    already: bool,
) -> Issued {
    Issued {
        application: app.to_owned(),
        serial: format!("{:012}", p.serial),
        version: c.version,
        key_id: c.key_id.clone(),
        status_index: c.status_index,
        issued_at: DateTime::<Utc>::from_timestamp(c.issued_at, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        issued_on: p.issued_on,
        valid_until: p.valid_until,
        endorsed_until: p.endorsed_until,
        text: c.text.clone(),
        already_issued: already,
    }
}

pub(crate) fn load_permit(tx: &mut dyn Tx, serial: u64) -> Result<PermitRecord> {
    tx.permit(serial)?.ok_or_else(|| LifecycleError::NotFound {
        what: "permit",
        id: format!("{serial:012}"),
    })
}

/// The current credential of a permit.
pub fn current(tx: &mut dyn Tx, serial: u64) -> Result<Issued> {
    let p = load_permit(tx, serial)?;
    let c = tx.credential(serial, p.current_version)?.ok_or_else(|| {
        LedgerError::Damaged(format!(
            "permit {serial:012} has no credential v{}",
            p.current_version
        ))
    })?;
    Ok(issued_view(&p.application_id, &p, &c, true))
}

/// Parses a photo reference: 32 hex digits.
pub fn parse_photo_ref(s: &str) -> Option<[u8; credential::PHOTO_REF_LEN]> {
    if s.len() != 2 * credential::PHOTO_REF_LEN {
        return None;
    }
    let mut out = [0u8; credential::PHOTO_REF_LEN];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub(crate) fn require_active(p: &PermitRecord, step: &str) -> Result<()> {
    if p.state == PermitState::Cancelled {
        return Err(LifecycleError::IllegalTransition {
            what: format!("permit {:012}", p.serial),
            current: "cancelled".into(),
            detail: format!("a cancelled permit cannot be {step}"),
        });
    }
    Ok(())
}
