//! Changes to an issued permit: yearly endorsement (签注), registration changes (居住登记项目变更)
//! and cancellation (注销).

use chrono::NaiveDate;
use serde::Serialize;

use permit_shared::{civil, division, text};

use super::issuance::mint;
use super::{
    Issued, LifecycleError, Office, Result, check_coverage, issued_view, load_permit,
    parse_photo_ref, refused, require_active,
};
use crate::error_code::ErrorCode;
use crate::issue::Signer;
use crate::ledger::{PermitRecord, PermitState, Tx};
use crate::settings::{Channel, Service, Settings};

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
    signer: &Signer,
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
            ErrorCode::NoEndorsementDue,
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
            ErrorCode::EndorsementWindow,
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
    let c = mint(tx, office, signer, &p, "endorsed")?;
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
    /// New device key (JWK `x`) the credentials bind: a lost or replaced phone.
    pub holder_key: Option<String>,
}

/// Applies a registration change: a new credential version; the old one becomes superseded.
pub fn change(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    signer: &Signer,
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
    let bad =
        |field: &'static str, m: String| refused(ErrorCode::InvalidChange, format!("{field}: {m}"));
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
                ErrorCode::SameCityHukou,
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
    if let Some(x) = &ch.holder_key {
        let key = permit_shared::credential::holder::holder_key_from_x(x)
            .map_err(|e| bad("holder_key", e.to_string()))?;
        d.holder_key = Some(permit_shared::credential::holder::holder_key_to_x(&key));
        changed.push("holder_key");
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
        return Err(refused(ErrorCode::NoChange, "nothing would change"));
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
    let c = mint(tx, office, signer, &p, "changed")?;
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
    text::check(reason, 500)
        .map_err(|e| refused(ErrorCode::InvalidReason, format!("--reason: {e}")))?;
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
