//! The permit lifecycle: application and qualification check, review and issuance, yearly
//! endorsement (签注), registration changes, cancellation (注销), physical cards, and status-list
//! publication. Every function works inside one ledger transaction ([`Tx`]) and takes the time
//! and actor from an [`Office`]; nothing here reads the clock.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use permit_shared::applicant::{Applicant, FieldError, RawApplicant};
use permit_shared::citizen_id::CitizenId;
use permit_shared::credential::{self, Claims, PermitClaim};
use permit_shared::keys::SecretKey;
use permit_shared::status::{Status, StatusList, StatusListToken};
use permit_shared::{civil, division, text};

use crate::eligibility::{self, Eligibility};
use crate::ledger::{
    AppState, ApplicationRecord, CardRecord, CredentialRecord, Event, LedgerError, PermitDetails,
    PermitRecord, PermitState, Publication, Tx,
};
use crate::settings::{Channel, Service, Settings};

/// The issuing office acting: settings, signing key, time and actor.
pub struct Office<'a> {
    /// Settings.
    pub settings: &'a Settings,
    /// The permit-signing key.
    pub key: &'a SecretKey,
    /// Whether the key is TEST-ONLY (then it may sign only test data, and test data only it).
    pub key_is_test: bool,
    /// Now.
    pub now: DateTime<Utc>,
    /// Who acts (operator, reviewer, batch job).
    pub actor: &'a str,
}

impl Office<'_> {
    /// Today in China Standard Time.
    pub fn today(&self) -> NaiveDate {
        civil::date_of(self.now)
    }

    fn event(
        &self,
        kind: &str,
        app: Option<&str>,
        serial: Option<u64>,
        version: Option<u32>,
        detail: serde_json::Value,
    ) -> Event {
        Event {
            at: self.now.timestamp(),
            actor: self.actor.to_owned(),
            kind: kind.to_owned(),
            application_id: app.map(str::to_owned),
            serial,
            version,
            detail,
        }
    }
}

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
        code: &'static str,
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
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::Invalid(_) => "INVALID_APPLICANT",
            LifecycleError::NotFound { .. } => "NOT_FOUND",
            LifecycleError::IllegalTransition { .. } => "ILLEGAL_TRANSITION",
            LifecycleError::Refused { code, .. } => code,
            LifecycleError::Conflict { .. } => "REFERENCE_CONFLICT",
            LifecycleError::Ledger(_) => "LEDGER_ERROR",
            LifecycleError::Random(_) => "NO_RANDOMNESS",
        }
    }
}

type Result<T> = std::result::Result<T, LifecycleError>;

fn refused(code: &'static str, message: impl Into<String>) -> LifecycleError {
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

fn check_coverage(s: &Settings, service: Service, channel: Channel, city: u32) -> Result<()> {
    if channel == Channel::Online && !s.coverage.offered(service, city) {
        let name = division::city(city).map_or("?", |c| c.name);
        return Err(refused(
            "SERVICE_NOT_OFFERED",
            format!(
                "{} is not offered online in {name} ({city}); use a police station counter (--channel counter)",
                service.label()
            ),
        ));
    }
    Ok(())
}

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

fn issued_view(app: &str, p: &PermitRecord, c: &CredentialRecord, already: bool) -> Issued {
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

fn load_permit(tx: &mut dyn Tx, serial: u64) -> Result<PermitRecord> {
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

/// Reviews a submitted application. Approval issues the permit in the same transaction.
pub fn review(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    application: &str,
    decision: Decision,
    reason: &str,
) -> Result<Option<Issued>> {
    text::check(reason, 500).map_err(|e| refused("INVALID_REASON", format!("--reason: {e}")))?;
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
                    "DUPLICATE_PERMIT",
                    format!("the ID number already has an active permit ({serial:012})"),
                ));
            }
            let plan = plan_issue(tx, office, &app.id, &a)?;
            let signed = sign_issue(plan, office.key)?;
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
                &applied.application,
                Decision::Approve,
                "direct issuance",
            )?;
            issued
                .ok_or_else(|| refused("NOT_ISSUED", "approval issued nothing"))
                .map(Direct::Issued)
        }
    }
}

fn next_serial(tx: &mut dyn Tx) -> Result<u64> {
    for _ in 0..100 {
        let s = 100_000_000_000 + random_below(900_000_000_000)?;
        if !tx.serial_used(s)? {
            return Ok(s);
        }
    }
    Err(refused(
        "SERIALS_EXHAUSTED",
        "could not draw an unused serial number",
    ))
}

fn next_status_index(tx: &mut dyn Tx, capacity: u64) -> Result<u64> {
    for _ in 0..1000 {
        let i = random_below(capacity)?;
        if !tx.status_index_used(i)? {
            return Ok(i);
        }
    }
    Err(refused(
        "STATUS_LIST_FULL",
        format!("no free status-list index among {capacity}; raise status_list.capacity"),
    ))
}

/// Refuses test data with a real key and real data with a TEST-ONLY key.
pub fn check_key_policy(office: &Office<'_>, test_data: bool) -> Result<()> {
    match (test_data, office.key_is_test) {
        (true, false) => Err(refused(
            "TEST_DATA_NEEDS_TEST_KEY",
            "the applicant is marked as test data and may be signed only with a TEST-ONLY key",
        )),
        (false, true) => Err(refused(
            "TEST_KEY_REAL_DATA",
            "a TEST-ONLY key may sign only applicants marked \"test\": true",
        )),
        _ => Ok(()),
    }
}

/// A first issuance decided in the ledger but not yet signed: the permit row to be, its
/// status-list index and the signing time. Serialisable, so that a batch job can record it as
/// its intent before signing and, after a crash, sign exactly the same credential again
/// (Ed25519 signatures are deterministic: same plan and key, same text).
///
/// Issuance is three steps so that signing can run outside the ledger transaction:
/// [`plan_issue`] (in a transaction: serial, status index, dates) → [`sign_issue`] (pure) →
/// [`commit_issue`] (in a transaction: permit, credential, events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuePlan {
    /// The application it comes from.
    pub application: String,
    /// Permit serial (reserved, not yet in `permits`).
    pub serial: u64,
    /// Holder details.
    pub details: PermitDetails,
    /// 签发日期.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub valid_until: NaiveDate,
    /// Endorsed until.
    pub endorsed_until: NaiveDate,
    /// Issuing authority division code.
    pub authority: u32,
    /// Status-list index (reserved).
    pub status_index: u64,
    /// Signing time, Unix seconds (`iat`, and the permit's creation time).
    pub issued_at: i64,
}

impl IssuePlan {
    /// The permit row this plan creates.
    pub fn permit(&self) -> PermitRecord {
        PermitRecord {
            serial: self.serial,
            application_id: self.application.clone(),
            state: PermitState::Active,
            details: self.details.clone(),
            issued_on: self.issued_on,
            valid_until: self.valid_until,
            endorsed_until: self.endorsed_until,
            residence_counted_since: self.issued_on,
            authority: self.authority,
            current_version: 1,
            created_at: self.issued_at,
            updated_at: self.issued_at,
        }
    }
}

/// A signed [`IssuePlan`], ready for [`commit_issue`].
#[derive(Debug, Clone)]
pub struct SignedIssue {
    /// The plan.
    pub plan: IssuePlan,
    /// The credential (version 1).
    pub credential: CredentialRecord,
}

/// Step 1 of issuance, in a transaction: checks the key policy, draws an unused serial and
/// status index (unused also by other jobs' reservations) and fixes the dates. Writes nothing.
pub fn plan_issue(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    application: &str,
    a: &Applicant,
) -> Result<IssuePlan> {
    check_key_policy(office, a.test)?;
    let s = office.settings;
    let serial = next_serial(tx)?;
    let status_index = next_status_index(tx, s.status_list.capacity)?;
    let today = office.today();
    let years = if a.id_number.is_hk_mo_tw() {
        s.hk_mo_tw_validity_years
    } else {
        s.validity_years
    };
    let valid_until = civil::add_years(today, i32::try_from(years).unwrap_or(3)) - Days::new(1);
    let endorsed_until = civil::add_years(today, 1).min(valid_until);
    Ok(IssuePlan {
        application: application.to_owned(),
        serial,
        details: PermitDetails {
            name: a.name.clone(),
            id_number: a.id_number.as_str().to_owned(),
            ethnicity: a.ethnicity,
            hukou_division: a.hukou_division,
            hukou_address: a.hukou_address.clone(),
            residence_district: a.residence_district,
            residence_address: a.residence_address.clone(),
            photo: None,
            test: a.test,
        },
        issued_on: today,
        valid_until,
        endorsed_until,
        authority: a.residence_district,
        status_index,
        issued_at: office.now.timestamp(),
    })
}

/// Step 2 of issuance: signs the plan's credential. Pure (no ledger), so it can run in parallel.
pub fn sign_issue(plan: IssuePlan, key: &SecretKey) -> Result<SignedIssue> {
    let credential = sign_credential(
        &plan.permit(),
        plan.status_index,
        plan.issued_at,
        "issued",
        key,
    )?;
    Ok(SignedIssue { plan, credential })
}

/// Step 3 of issuance, in a transaction: records the permit, its credential and the approval
/// of the application, each with its event, as a direct approval does.
pub fn commit_issue(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    signed: &SignedIssue,
    reason: &str,
) -> Result<Issued> {
    let plan = &signed.plan;
    let permit = plan.permit();
    let serial = plan.serial;
    tx.insert_permit(
        &permit,
        &office.event(
            "permit.issued",
            Some(&plan.application),
            Some(serial),
            Some(1),
            serde_json::json!({ "valid_until": plan.valid_until, "endorsed_until": plan.endorsed_until }),
        ),
    )?;
    tx.insert_credential(&signed.credential)?;
    tx.set_application_state(
        &plan.application,
        AppState::Approved,
        Some(serial),
        &office.event(
            "application.approved",
            Some(&plan.application),
            Some(serial),
            None,
            serde_json::json!({ "reason": reason }),
        ),
    )?;
    Ok(issued_view(
        &plan.application,
        &permit,
        &signed.credential,
        false,
    ))
}

/// Signs the permit's current version into a new credential and records it.
fn mint(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    p: &PermitRecord,
    cause: &str,
) -> Result<CredentialRecord> {
    let status_index = next_status_index(tx, office.settings.status_list.capacity)?;
    let rec = sign_credential(p, status_index, office.now.timestamp(), cause, office.key)?;
    tx.insert_credential(&rec)?;
    Ok(rec)
}

/// Builds the claims of a permit's current version and signs them. Pure.
fn sign_credential(
    p: &PermitRecord,
    status_index: u64,
    issued_at: i64,
    cause: &str,
    key: &SecretKey,
) -> Result<CredentialRecord> {
    let d = &p.details;
    let id_number = CitizenId::parse(&d.id_number)
        .map_err(|e| LedgerError::Damaged(format!("id_number: {e}")))?;
    let detail = division::residence_prefix(d.residence_district)
        .and_then(|pre| {
            d.residence_address
                .strip_prefix(pre.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| d.residence_address.clone());
    let photo = match &d.photo {
        None => None,
        Some(h) => {
            Some(parse_photo_ref(h).ok_or_else(|| LedgerError::Damaged("photo reference".into()))?)
        }
    };
    let claims = Claims {
        issued_at,
        expires_at: civil::start_of_day(p.valid_until + Days::new(1)),
        permit: PermitClaim {
            serial: p.serial,
            version: p.current_version,
            name: d.name.clone(),
            id_number,
            ethnicity: d.ethnicity,
            hukou_division: d.hukou_division,
            residence_district: d.residence_district,
            residence_address: detail,
            authority: p.authority,
            issued_on: p.issued_on,
            endorsed_until: p.endorsed_until,
            status_index,
            photo,
            test: d.test,
        },
    };
    claims.permit.check().map_err(|e| {
        refused(
            "CLAIMS_INVALID",
            format!("the permit cannot be encoded: {e}"),
        )
    })?;
    let text = credential::to_text(&credential::sign(&claims, key));
    Ok(CredentialRecord {
        serial: p.serial,
        version: p.current_version,
        status_index,
        key_id: key.public().id().to_string(),
        issued_at: claims.issued_at,
        expires_at: claims.expires_at,
        cause: cause.to_owned(),
        text,
    })
}

/// The serial of the person's active permit, or of a permit reserved for them by a batch job
/// that has not committed it yet (one person, one permit).
fn active_or_reserved(tx: &mut dyn Tx, id_number: &str) -> Result<Option<u64>> {
    if let Some(p) = tx.active_permit_for(id_number)? {
        return Ok(Some(p.serial));
    }
    Ok(tx.reserved_serial_for(id_number)?)
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

fn require_active(p: &PermitRecord, step: &str) -> Result<()> {
    if p.state == PermitState::Cancelled {
        return Err(LifecycleError::IllegalTransition {
            what: format!("permit {:012}", p.serial),
            current: "cancelled".into(),
            detail: format!("a cancelled permit cannot be {step}"),
        });
    }
    Ok(())
}

/// The endorsement window for the anniversary a permit is due at: (first day, anniversary).
pub fn endorsement_window(p: &PermitRecord, s: &Settings) -> (NaiveDate, NaiveDate) {
    let a = p.endorsed_until;
    (
        civil::add_months(a, -i32::try_from(s.endorsement_window_months).unwrap_or(1)),
        a,
    )
}

/// Endorses (签注) a permit: allowed from the month before the anniversary it is due at; late
/// endorsement restores a suspended permit. Re-issues the credential with the new endorsed-until
/// date.
pub fn endorse(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    channel: Channel,
) -> Result<Issued> {
    let mut p = load_permit(tx, serial)?;
    require_active(&p, "endorsed")?;
    let today = office.today();
    if today > p.valid_until {
        return Err(LifecycleError::IllegalTransition {
            what: format!("permit {serial:012}"),
            current: format!("expired on {}", p.valid_until),
            detail: "an expired permit cannot be endorsed; apply for a new one".into(),
        });
    }
    if p.endorsed_until >= p.valid_until {
        return Err(refused(
            "NO_ENDORSEMENT_DUE",
            format!(
                "no further endorsement is due: the permit is valid until {}",
                p.valid_until
            ),
        ));
    }
    check_coverage(
        office.settings,
        Service::Endorse,
        channel,
        p.details.residence_district / 100 * 100,
    )?;
    let (opens, anniversary) = endorsement_window(&p, office.settings);
    if today < opens {
        return Err(refused(
            "ENDORSEMENT_WINDOW",
            format!(
                "endorsement for the anniversary {anniversary} is possible from {opens} to {anniversary} (and late after it); today is {today}"
            ),
        ));
    }
    let late = today > anniversary;
    let mut k = 1;
    let next = loop {
        let a = civil::add_years(p.issued_on, k);
        if a > anniversary && (!late || a > today) {
            break a;
        }
        k += 1;
        if k > 100 {
            break p.valid_until;
        }
    };
    let new_until = next.min(p.valid_until);
    let restarted = late
        && office
            .settings
            .restart_residence_years_after_late_endorsement;
    if restarted {
        p.residence_counted_since = today;
    }
    let old = p.endorsed_until;
    p.endorsed_until = new_until;
    p.current_version += 1;
    p.updated_at = office.now.timestamp();
    tx.update_permit(
        &p,
        &office.event(
            "permit.endorsed",
            Some(&p.application_id),
            Some(serial),
            Some(p.current_version),
            serde_json::json!({
                "anniversary": anniversary, "late": late, "previous_endorsed_until": old,
                "endorsed_until": new_until, "residence_years_restarted": restarted, "channel": channel
            }),
        ),
    )?;
    let c = mint(tx, office, &p, "endorsed")?;
    Ok(issued_view(&p.application_id, &p, &c, false))
}

/// A registration change (居住登记项目变更). Absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// New 户籍所在地.
    pub hukou_division: Option<String>,
    /// New 常住户口所在地住址.
    pub hukou_address: Option<String>,
    /// New photo reference (32 hex digits).
    pub photo: Option<String>,
    /// New residence district (same city).
    pub residence_district: Option<String>,
    /// New full residence address (same city).
    pub residence_address: Option<String>,
}

/// Applies a registration change: a new credential version; the old one becomes superseded.
pub fn change(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    ch: &Change,
    channel: Channel,
) -> Result<Issued> {
    let mut p = load_permit(tx, serial)?;
    require_active(&p, "changed")?;
    let city = p.details.residence_district / 100 * 100;
    check_coverage(office.settings, Service::Change, channel, city)?;
    let mut d = p.details.clone();
    let mut changed: Vec<&str> = Vec::new();
    let bad = |field: &'static str, m: String| refused("INVALID_CHANGE", format!("{field}: {m}"));
    if let Some(h) = &ch.hukou_division {
        if p.details.hukou_division.is_none() {
            return Err(bad(
                "hukou_division",
                "Hong Kong, Macao and Taiwan residents have no household registration".into(),
            ));
        }
        let v = (h.len() == 6)
            .then(|| h.parse::<u32>().ok())
            .flatten()
            .filter(|v| division::is_plausible_hukou_division(*v))
            .ok_or_else(|| {
                bad(
                    "hukou_division",
                    format!("`{h}` is not a mainland division code"),
                )
            })?;
        if v / 10000 == 44 && v / 100 == city / 100 {
            return Err(refused(
                "SAME_CITY_HUKOU",
                format!(
                    "household registration {v} is in the residence city: the permit would no longer be needed"
                ),
            ));
        }
        d.hukou_division = Some(v);
        changed.push("hukou_division");
    }
    if let Some(h) = &ch.hukou_address {
        if p.details.hukou_address.is_none() {
            return Err(bad(
                "hukou_address",
                "Hong Kong, Macao and Taiwan residents have no household registration".into(),
            ));
        }
        text::check(h, permit_shared::applicant::MAX_ADDRESS_CHARS)
            .map_err(|e| bad("hukou_address", e.to_string()))?;
        d.hukou_address = Some(h.clone());
        changed.push("hukou_address");
    }
    if let Some(ph) = &ch.photo {
        parse_photo_ref(ph).ok_or_else(|| bad("photo", "must be 32 hex digits".into()))?;
        d.photo = Some(ph.to_ascii_lowercase());
        changed.push("photo");
    }
    if ch.residence_district.is_some() || ch.residence_address.is_some() {
        let district = match &ch.residence_district {
            None => d.residence_district,
            Some(s) => (s.len() == 6)
                .then(|| s.parse::<u32>().ok())
                .flatten()
                .filter(|v| division::city_of_district(*v).is_some())
                .ok_or_else(|| {
                    bad(
                        "residence_district",
                        format!("`{s}` is not a Guangdong district code"),
                    )
                })?,
        };
        if district / 100 != city / 100 {
            return Err(LifecycleError::IllegalTransition {
                what: format!("permit {serial:012}"),
                current: format!(
                    "registered in {} ({city})",
                    division::city(city).map_or("?", |c| c.name)
                ),
                detail: format!(
                    "a move to another city ({}) needs a new residence registration and application there",
                    district / 100 * 100
                ),
            });
        }
        let address = ch
            .residence_address
            .clone()
            .unwrap_or_else(|| d.residence_address.clone());
        text::check(&address, permit_shared::applicant::MAX_ADDRESS_CHARS)
            .map_err(|e| bad("residence_address", e.to_string()))?;
        let prefix = division::residence_prefix(district).unwrap_or_default();
        if !address.starts_with(&prefix) || address.len() == prefix.len() {
            return Err(bad(
                "residence_address",
                format!("must begin with `{prefix}` followed by the street address"),
            ));
        }
        if district != d.residence_district {
            changed.push("residence_district");
        }
        if address != d.residence_address {
            changed.push("residence_address");
        }
        d.residence_district = district;
        d.residence_address = address;
    }
    if d == p.details {
        return Err(refused("NO_CHANGE", "nothing would change"));
    }
    let old = p.details.clone();
    p.details = d;
    p.current_version += 1;
    p.updated_at = office.now.timestamp();
    tx.update_permit(
        &p,
        &office.event(
            "permit.changed",
            Some(&p.application_id),
            Some(serial),
            Some(p.current_version),
            serde_json::json!({ "fields": changed, "before": old, "channel": channel }),
        ),
    )?;
    let c = mint(tx, office, &p, "changed")?;
    Ok(issued_view(&p.application_id, &p, &c, false))
}

/// Who reported a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reporter {
    /// The holder (online or at a counter).
    Holder,
    /// The police (e.g. the holder left, obtained local hukou, fraud).
    Police,
    /// A relative (death of the holder).
    Relative,
    /// An employer, landlord or school.
    Institution,
}

/// Cancels (注销) a permit: terminal; every credential of it is revoked in the next status list.
pub fn cancel(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    reason: &str,
    reporter: Reporter,
    channel: Channel,
) -> Result<()> {
    text::check(reason, 500).map_err(|e| refused("INVALID_REASON", format!("--reason: {e}")))?;
    let mut p = load_permit(tx, serial)?;
    if p.state == PermitState::Cancelled {
        return Err(LifecycleError::IllegalTransition {
            what: format!("permit {serial:012}"),
            current: "cancelled".into(),
            detail: "cancellation is terminal".into(),
        });
    }
    if reporter == Reporter::Holder {
        check_coverage(
            office.settings,
            Service::Cancel,
            channel,
            p.details.residence_district / 100 * 100,
        )?;
    }
    p.state = PermitState::Cancelled;
    p.updated_at = office.now.timestamp();
    tx.update_permit(
        &p,
        &office.event(
            "permit.cancelled",
            Some(&p.application_id),
            Some(serial),
            Some(p.current_version),
            serde_json::json!({ "reason": reason, "reporter": reporter, "channel": channel }),
        ),
    )?;
    Ok(())
}

/// Kind of physical card issuance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// The first card (free).
    First,
    /// 补领: replacement of a lost card.
    Replacement,
    /// 换领: exchange of a damaged or outdated card.
    Exchange,
}

impl CardKind {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::First => "first",
            CardKind::Replacement => "replacement",
            CardKind::Exchange => "exchange",
        }
    }
}

/// Records a physical card and its fee.
pub fn card(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    kind: CardKind,
    channel: Channel,
) -> Result<CardRecord> {
    let p = load_permit(tx, serial)?;
    require_active(&p, "given a card")?;
    check_coverage(
        office.settings,
        Service::Card,
        channel,
        p.details.residence_district / 100 * 100,
    )?;
    let cards = tx.cards(serial)?;
    match (kind, cards.is_empty()) {
        (CardKind::First, false) => {
            return Err(LifecycleError::IllegalTransition {
                what: format!("permit {serial:012}"),
                current: format!("holding card no. {}", cards.len()),
                detail: "the first card was issued already; use replacement or exchange".into(),
            });
        }
        (CardKind::Replacement | CardKind::Exchange, true) => {
            return Err(LifecycleError::IllegalTransition {
                what: format!("permit {serial:012}"),
                current: "without a card".into(),
                detail: "no card was issued yet; issue the first card".into(),
            });
        }
        _ => {}
    }
    let fees = &office.settings.fees;
    let fee_yuan = match kind {
        CardKind::First => fees.first_card,
        CardKind::Replacement => fees.replacement,
        CardKind::Exchange => fees.exchange,
    };
    let rec = CardRecord {
        serial,
        number: u32::try_from(cards.len()).unwrap_or(u32::MAX - 1) + 1,
        kind: kind.as_str().to_owned(),
        fee_yuan,
        issued_at: office.now.timestamp(),
        actor: office.actor.to_owned(),
    };
    tx.insert_card(
        &rec,
        &office.event(
            "card.issued",
            Some(&p.application_id),
            Some(serial),
            Some(p.current_version),
            serde_json::json!({ "number": rec.number, "kind": kind, "fee_yuan": fee_yuan, "channel": channel }),
        ),
    )?;
    Ok(rec)
}

/// Counts of a published list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounts {
    /// Valid.
    pub valid: u64,
    /// Revoked.
    pub revoked: u64,
    /// Suspended.
    pub suspended: u64,
    /// Superseded.
    pub superseded: u64,
}

/// Builds, signs and records the next status list. Returns the signed bytes.
pub fn publish_status(
    tx: &mut dyn Tx,
    office: &Office<'_>,
) -> Result<(Vec<u8>, Publication, StatusCounts)> {
    let s = &office.settings.status_list;
    let sequence = tx.last_publication()?.map_or(1, |p| p.sequence + 1);
    let today = office.today();
    let mut list = StatusList::new(s.capacity);
    let mut counts = StatusCounts::default();
    let mut out_of_range = 0u64;
    tx.each_credential_status(&mut |r| {
        let st = if r.state == PermitState::Cancelled {
            counts.revoked += 1;
            Status::Revoked
        } else if r.version < r.current_version {
            counts.superseded += 1;
            Status::Superseded
        } else if today > r.endorsed_until {
            counts.suspended += 1;
            Status::Suspended
        } else {
            counts.valid += 1;
            Status::Valid
        };
        if !list.set(r.status_index, st) {
            out_of_range += 1;
        }
    })?;
    if out_of_range > 0 {
        return Err(refused(
            "STATUS_LIST_TOO_SMALL",
            format!(
                "{out_of_range} credentials have indices beyond status_list.capacity {}",
                s.capacity
            ),
        ));
    }
    let token = StatusListToken {
        uri: s.uri.clone(),
        issued_at: office.now.timestamp(),
        ttl: u64::from(s.ttl_hours) * 3600,
        sequence,
        list,
    };
    let bytes = token.sign(office.key);
    let publication = Publication {
        sequence,
        published_at: token.issued_at,
        next_update: token.next_update(),
        credentials: counts.valid + counts.revoked + counts.suspended + counts.superseded,
        bytes: bytes.len() as u64,
        sha256: Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        actor: office.actor.to_owned(),
    };
    tx.insert_publication(
        &publication,
        &office.event(
            "status.published",
            None,
            None,
            None,
            serde_json::json!({ "sequence": sequence, "counts": counts, "bytes": bytes.len() }),
        ),
    )?;
    Ok((bytes, publication, counts))
}

/// Everything the ledger knows about a permit.
#[derive(Debug, Clone, Serialize)]
pub struct PermitHistory {
    /// Serial.
    pub serial: String,
    /// Application.
    pub application: String,
    /// State (`active`, `cancelled`; `suspended` when the endorsement is overdue today).
    pub state: String,
    /// Holder details.
    pub details: PermitDetails,
    /// Issue date.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub valid_until: NaiveDate,
    /// Endorsed until.
    pub endorsed_until: NaiveDate,
    /// Next endorsement window (first day, anniversary), if one is due.
    pub endorsement_window: Option<(NaiveDate, NaiveDate)>,
    /// Counted residence since.
    pub residence_counted_since: NaiveDate,
    /// Current version.
    pub current_version: u32,
    /// Cards.
    pub cards: Vec<CardRecord>,
    /// History, oldest first.
    pub events: Vec<Event>,
}

/// The permit's record and history.
pub fn history(
    tx: &mut dyn Tx,
    serial: u64,
    today: NaiveDate,
    s: &Settings,
) -> Result<PermitHistory> {
    let p = load_permit(tx, serial)?;
    let events = tx.events_for(serial, &p.application_id)?;
    let cards = tx.cards(serial)?;
    let state = match p.state {
        PermitState::Cancelled => "cancelled",
        PermitState::Active if today > p.valid_until => "expired",
        PermitState::Active if today > p.endorsed_until => "suspended",
        PermitState::Active => "active",
    };
    Ok(PermitHistory {
        serial: format!("{serial:012}"),
        application: p.application_id.clone(),
        state: state.into(),
        endorsement_window: (p.endorsed_until < p.valid_until && p.state == PermitState::Active)
            .then(|| endorsement_window(&p, s)),
        details: p.details,
        issued_on: p.issued_on,
        valid_until: p.valid_until,
        endorsed_until: p.endorsed_until,
        residence_counted_since: p.residence_counted_since,
        current_version: p.current_version,
        cards,
        events,
    })
}
