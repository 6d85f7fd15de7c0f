//! A first issuance in three steps, so that signing can run outside the ledger transaction:
//! plan (serial, status index, dates) → sign (pure) → commit (permit, credential, events).

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use permit_shared::applicant::Applicant;
use permit_shared::citizen_id::CitizenId;
use permit_shared::credential::{self, Claims, PermitClaim};
use permit_shared::status::{self, LIST_ID_LEN};
use permit_shared::{civil, division};

use super::{Issued, Office, Result, issued_view, parse_photo_ref, random_below, refused};
use crate::error_code::ErrorCode;
use crate::issue::Signer;
use crate::ledger::{
    AppState, CredentialRecord, LedgerError, PermitDetails, PermitRecord, PermitState, Tx,
};

fn next_serial(tx: &mut dyn Tx) -> Result<u64> {
    for _ in 0..100 {
        let s = 100_000_000_000 + random_below(900_000_000_000)?;
        if !tx.serial_used(s)? {
            return Ok(s);
        }
    }
    Err(refused(
        ErrorCode::SerialsExhausted,
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
        ErrorCode::StatusListFull,
        format!("no free status-list index among {capacity}; raise status_list.capacity"),
    ))
}

/// Refuses test data with a real key and real data with a TEST-ONLY key.
pub fn check_key_policy(signer: &Signer, test_data: bool) -> Result<()> {
    match (test_data, signer.is_test()) {
        (true, false) => Err(refused(
            ErrorCode::TestDataNeedsTestKey,
            "the applicant is marked as test data and may be signed only with a TEST-ONLY key",
        )),
        (false, true) => Err(refused(
            ErrorCode::TestKeyRealData,
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
    /// The status list the credential names (permit field 15: the list id of
    /// `status_list.uri`). Absent in plans recorded before the claim existed, which sign
    /// without it, as they did then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_list: Option<[u8; LIST_ID_LEN]>,
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
    signer: &Signer,
    application: &str,
    a: &Applicant,
) -> Result<IssuePlan> {
    check_key_policy(signer, a.test)?;
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
            holder_key: a
                .holder_key
                .as_ref()
                .map(permit_shared::credential::holder::holder_key_to_x),
        },
        issued_on: today,
        valid_until,
        endorsed_until,
        authority: a.residence_district,
        status_index,
        issued_at: office.now.timestamp(),
        status_list: Some(status::list_id(&s.status_list.uri)),
    })
}

/// Step 2 of issuance: signs the plan's credential. Pure (no ledger), so it can run in parallel.
pub fn sign_issue(plan: IssuePlan, signer: &Signer) -> Result<SignedIssue> {
    let credential = sign_credential(
        &plan.permit(),
        (plan.status_index, plan.status_list),
        plan.issued_at,
        "issued",
        signer,
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
pub(super) fn mint(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    signer: &Signer,
    p: &PermitRecord,
    cause: &str,
) -> Result<CredentialRecord> {
    let status_index = next_status_index(tx, office.settings.status_list.capacity)?;
    let list = Some(status::list_id(&office.settings.status_list.uri));
    let rec = sign_credential(
        p,
        (status_index, list),
        office.now.timestamp(),
        cause,
        signer,
    )?;
    tx.insert_credential(&rec)?;
    Ok(rec)
}

/// The claims of a permit's current version, as its credential signs them (also what the
/// ledger audit expects the current credential to hold), with its status-list index and the
/// id of the list that index refers to (permit field 15, absent in older credentials). Pure.
pub fn credential_claims(
    p: &PermitRecord,
    (status_index, status_list): (u64, Option<[u8; LIST_ID_LEN]>),
    issued_at: i64,
) -> Result<Claims> {
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
    let holder = match &d.holder_key {
        None => None,
        Some(x) => Some(
            permit_shared::credential::holder::holder_key_from_x(x)
                .map_err(|e| LedgerError::Damaged(format!("holder_key: {e}")))?,
        ),
    };
    let claims = Claims {
        holder,
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
            status_list,
        },
    };
    claims.permit.check().map_err(|e| {
        refused(
            ErrorCode::ClaimsInvalid,
            format!("the permit cannot be encoded: {e}"),
        )
    })?;
    Ok(claims)
}

/// Builds the claims of a permit's current version and signs them. Pure.
fn sign_credential(
    p: &PermitRecord,
    (status_index, status_list): (u64, Option<[u8; LIST_ID_LEN]>),
    issued_at: i64,
    cause: &str,
    signer: &Signer,
) -> Result<CredentialRecord> {
    let claims = credential_claims(p, (status_index, status_list), issued_at)?;
    let kid = signer.key_id();
    let cose = credential::sign_with(&claims, kid, |tbs| signer.sign(tbs))?;
    let text = credential::to_text(&cose);
    Ok(CredentialRecord {
        serial: p.serial,
        version: p.current_version,
        status_index,
        key_id: kid.to_string(),
        issued_at: claims.issued_at,
        expires_at: claims.expires_at,
        cause: cause.to_owned(),
        text,
    })
}
