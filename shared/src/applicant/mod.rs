//! Applicant records (the issuer's input) and their validation.
//!
//! A record arrives as JSON (one object, or one line of JSONL) or as a CSV row with the same
//! columns (`basis` separated by `|`). [`RawApplicant`] is the untrusted shape: every field is
//! optional so that a missing field is reported by name; unknown fields are refused.
//! [`RawApplicant::validate`] checks every field and returns an [`Applicant`] or the list of
//! every [`FieldError`].
//!
//! This file holds the record types and the field tables; `raw` parses a record from JSON or
//! CSV cells, `validate` holds the field checks.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::citizen_id::{CitizenId, Sex};
use crate::division;

mod raw;
mod validate;

/// Longest accepted name, in characters (long minority names with `·` fit).
pub const MAX_NAME_CHARS: usize = 30;
/// Longest accepted address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 100;
/// Longest accepted applicant reference.
pub const MAX_REF_CHARS: usize = 64;
/// Largest accepted JSON record, in bytes.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// One eligibility condition (at least one is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// 合法稳定就业: legal stable employment.
    Employment,
    /// 合法稳定住所: legal stable residence.
    Housing,
    /// 连续就读: continuous schooling.
    Study,
}

impl Basis {
    /// Parses the input spelling.
    pub fn parse(s: &str) -> Option<Basis> {
        match s {
            "employment" => Some(Basis::Employment),
            "housing" => Some(Basis::Housing),
            "study" => Some(Basis::Study),
            _ => None,
        }
    }
    /// The input spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Employment => "employment",
            Basis::Housing => "housing",
            Basis::Study => "study",
        }
    }
}

/// Ethnic group names by GB 3304 code.
pub const ETHNICITIES: &[(u8, &str)] = &[
    (1, "汉"),
    (2, "蒙古"),
    (3, "回"),
    (4, "藏"),
    (5, "维吾尔"),
    (6, "苗"),
    (7, "彝"),
    (8, "壮"),
    (9, "布依"),
    (10, "朝鲜"),
    (11, "满"),
    (12, "侗"),
    (13, "瑶"),
    (14, "白"),
    (15, "土家"),
    (16, "哈尼"),
    (17, "哈萨克"),
    (18, "傣"),
    (19, "黎"),
    (20, "傈僳"),
    (21, "佤"),
    (22, "畲"),
    (23, "高山"),
    (24, "拉祜"),
    (25, "水"),
    (26, "东乡"),
    (27, "纳西"),
    (28, "景颇"),
    (29, "柯尔克孜"),
    (30, "土"),
    (31, "达斡尔"),
    (32, "仫佬"),
    (33, "羌"),
    (34, "布朗"),
    (35, "撒拉"),
    (36, "毛南"),
    (37, "仡佬"),
    (38, "锡伯"),
    (39, "阿昌"),
    (40, "普米"),
    (41, "塔吉克"),
    (42, "怒"),
    (43, "乌孜别克"),
    (44, "俄罗斯"),
    (45, "鄂温克"),
    (46, "德昂"),
    (47, "保安"),
    (48, "裕固"),
    (49, "京"),
    (50, "塔塔尔"),
    (51, "独龙"),
    (52, "鄂伦春"),
    (53, "赫哲"),
    (54, "门巴"),
    (55, "珞巴"),
    (56, "基诺"),
    (97, "其他"),
    (98, "外国血统中国籍人士"),
];

/// The name of an ethnic group code, if known.
pub fn ethnicity_name(code: u8) -> Option<&'static str> {
    ETHNICITIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// An applicant record as received: untrusted, every field optional, unknown fields refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApplicant {
    /// The caller's reference for the application (idempotency key in batch jobs).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// 姓名.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `male` or `female`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// GB 3304 two-digit code, e.g. `01`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// 18-character citizen ID number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// Six-digit division code of the household registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hukou_division: Option<String>,
    /// Household-registration address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hukou_address: Option<String>,
    /// Guangdong city code of the residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_city: Option<String>,
    /// District code of the residence (the city code for Dongguan and Zhongshan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_district: Option<String>,
    /// Full residence address, starting with 广东省, the city and the district.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_address: Option<String>,
    /// Residence registration (居住登记) date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residence_registered_on: Option<String>,
    /// Eligibility conditions met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Vec<String>>,
    /// Whether this is test data (may only be signed with TEST-ONLY keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<bool>,
    /// Whether the government already holds verified data for this applicant (免材料对象).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_verified: Option<bool>,
    /// The holder's device key (Ed25519), as the JWK `x` (43 base64url characters): the
    /// issued credential is bound to it and accepted only in a live presentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_key: Option<String>,
}

/// A problem with one field of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field name as in the input (`id_number`), or `record` for the whole record.
    pub field: String,
    /// Stable reason code, e.g. `ID_CHECKSUM`.
    pub code: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "field `{}`: {} ({})",
            self.field, self.message, self.code
        )
    }
}

/// The CSV/JSON column names, in the reference order.
pub const COLUMNS: &[&str] = &[
    "ref",
    "name",
    "sex",
    "ethnicity",
    "birth_date",
    "id_number",
    "hukou_division",
    "hukou_address",
    "residence_city",
    "residence_district",
    "residence_address",
    "residence_registered_on",
    "basis",
    "test",
    "data_verified",
    "holder_key",
];

/// A checked applicant: every field valid and consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    /// The caller's reference, if given.
    pub reference: Option<String>,
    /// 姓名.
    pub name: String,
    /// 性别 (agrees with the ID number).
    pub sex: Sex,
    /// GB 3304 code; `None` for Hong Kong, Macao and Taiwan residents.
    pub ethnicity: Option<u8>,
    /// 出生日期 (agrees with the ID number).
    pub birth_date: NaiveDate,
    /// 公民身份号码.
    pub id_number: CitizenId,
    /// 户籍所在地 division; `None` for Hong Kong, Macao and Taiwan residents.
    pub hukou_division: Option<u32>,
    /// 常住户口所在地住址; `None` for Hong Kong, Macao and Taiwan residents.
    pub hukou_address: Option<String>,
    /// Guangdong city code.
    pub residence_city: u32,
    /// District code within the city (the city code for Dongguan and Zhongshan).
    pub residence_district: u32,
    /// Full residence address (starts with the city/district prefix).
    pub residence_address: String,
    /// 居住登记 date.
    pub residence_registered_on: NaiveDate,
    /// Eligibility conditions met.
    pub basis: Vec<Basis>,
    /// Test data (only TEST-ONLY keys may sign it).
    pub test: bool,
    /// The government already holds verified data (免材料对象).
    pub data_verified: bool,
    /// The holder's device key, if the credential is to be bound to one.
    pub holder_key: Option<crate::keys::PublicKey>,
}

impl Applicant {
    /// The residence address below the district: the full address without `广东省{city}{district}`.
    pub fn residence_address_detail(&self) -> &str {
        division::residence_prefix(self.residence_district)
            .and_then(|p| self.residence_address.strip_prefix(p.as_str()))
            .unwrap_or(&self.residence_address)
    }

    /// The record back in input form (for the ledger and for re-validation).
    pub fn to_raw(&self) -> RawApplicant {
        RawApplicant {
            reference: self.reference.clone(),
            name: Some(self.name.clone()),
            sex: Some(self.sex.label_en().to_owned()),
            ethnicity: self.ethnicity.map(|e| format!("{e:02}")),
            birth_date: Some(self.birth_date.to_string()),
            id_number: Some(self.id_number.as_str().to_owned()),
            hukou_division: self.hukou_division.map(|d| d.to_string()),
            hukou_address: self.hukou_address.clone(),
            residence_city: Some(self.residence_city.to_string()),
            residence_district: Some(self.residence_district.to_string()),
            residence_address: Some(self.residence_address.clone()),
            residence_registered_on: Some(self.residence_registered_on.to_string()),
            basis: Some(self.basis.iter().map(|b| b.as_str().to_owned()).collect()),
            test: Some(self.test),
            data_verified: Some(self.data_verified),
            holder_key: self
                .holder_key
                .as_ref()
                .map(crate::credential::holder::holder_key_to_x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) use crate::fixtures::REFERENCE_APPLICANT as REFERENCE;

    pub(super) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn reference_is_valid() {
        let a = RawApplicant::from_json(REFERENCE.as_bytes())
            .unwrap()
            .validate(today())
            .unwrap();
        assert_eq!(
            a.residence_address_detail(),
            "石牌街道天河北路233号中信广场36栋1203房"
        );
        assert!(a.test);
        assert_eq!(a.to_raw().validate(today()).unwrap(), a);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(r) = RawApplicant::from_json(&b) { let _ = r.validate(today()); }
        }
        #[test]
        fn never_panics_on_fields(name in "\\PC{0,40}", id in "[0-9Xx]{0,20}", d in "[0-9-]{0,12}") {
            let mut r = RawApplicant::from_json(REFERENCE.as_bytes()).unwrap();
            r.name = Some(name); r.id_number = Some(id); r.birth_date = Some(d.clone());
            r.residence_registered_on = Some(d);
            let _ = r.validate(today());
        }
    }
}
