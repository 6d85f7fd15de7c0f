//! The qualification check (资格校验): residence of at least `min_residence_days` since
//! registration, at least one basis, a Guangdong hukou only in another prefecture city, the
//! service offered in the city (online channel), no other active permit for the same person.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use permit_shared::applicant::{Applicant, Basis};

use crate::error_code::ErrorCode;
use crate::settings::{Channel, Service, Settings};

/// One finding of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code: `RESIDENCE_TOO_SHORT`, `NO_BASIS`, `SAME_CITY_HUKOU`, `SERVICE_NOT_OFFERED`,
    /// `DUPLICATE_PERMIT`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

/// The result of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// True when no finding refuses the application.
    pub eligible: bool,
    /// Every refusal reason.
    pub reasons: Vec<Finding>,
    /// 免材料对象: the government already holds verified data.
    pub no_materials_needed: bool,
    /// Materials to upload otherwise.
    pub materials: Vec<String>,
}

/// Runs the check. `active_permit` is the serial of an active permit for the same ID number.
pub fn check(
    a: &Applicant,
    today: NaiveDate,
    channel: Channel,
    active_permit: Option<u64>,
    s: &Settings,
) -> Eligibility {
    let mut reasons = Vec::new();
    let days = (today - a.residence_registered_on).num_days();
    if days < i64::from(s.min_residence_days) {
        reasons.push(Finding {
            code: ErrorCode::ResidenceTooShort.as_str().into(),
            message: format!(
                "registered on {} ({days} days ago); at least {} days of residence are required (eligible from {})",
                a.residence_registered_on,
                s.min_residence_days,
                a.residence_registered_on + chrono::Days::new(u64::from(s.min_residence_days))
            ),
        });
    }
    if a.basis.is_empty() {
        reasons.push(Finding {
            code: ErrorCode::NoBasis.as_str().into(),
            message: "at least one of legal stable employment, legal stable residence or continuous schooling is required".into(),
        });
    }
    if let Some(h) = a.hukou_division
        && h / 10000 == 44
        && h / 100 == a.residence_city / 100
    {
        reasons.push(Finding {
                code: ErrorCode::SameCityHukou.as_str().into(),
                message: format!(
                    "household registration {h} is in the residence city {}: a Guangdong hukou counts only in another prefecture city",
                    a.residence_city
                ),
            });
    }
    if channel == Channel::Online && !s.coverage.offered(Service::Apply, a.residence_city) {
        let name = permit_shared::division::city(a.residence_city).map_or("?", |c| c.name);
        reasons.push(Finding {
            code: ErrorCode::ServiceNotOffered.as_str().into(),
            message: format!(
                "{} is not offered online in {name} ({}); apply at a police station counter or through the city's own service",
                Service::Apply.label(),
                a.residence_city
            ),
        });
    }
    if let Some(serial) = active_permit {
        reasons.push(Finding {
            code: ErrorCode::DuplicatePermit.as_str().into(),
            message: format!(
                "the ID number already has an active permit ({serial:012}); cancel or change it instead"
            ),
        });
    }
    let materials = if a.data_verified {
        Vec::new()
    } else {
        let mut m = vec![
            "居住登记凭证 residence registration certificate",
            "本人近期彩色证件照 recent colour photo",
        ];
        for b in &a.basis {
            m.push(match b {
                Basis::Employment => "劳动合同或营业执照 employment contract or business licence",
                Basis::Housing => {
                    "房屋所有权证明或登记备案的租赁合同 property certificate or registered lease"
                }
                Basis::Study => "学籍证明 proof of enrolment",
            });
        }
        m.into_iter().map(str::to_owned).collect()
    };
    Eligibility {
        eligible: reasons.is_empty(),
        reasons,
        no_materials_needed: a.data_verified,
        materials,
    }
}
