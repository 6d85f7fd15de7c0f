//! Applicant records (the issuer's input) and their validation.
//!
//! A record arrives as JSON (one object, or one line of JSONL) or as a CSV row with the same
//! columns (`basis` separated by `|`). [`RawApplicant`] is the untrusted shape: every field is
//! optional so that a missing field is reported by name; unknown fields are refused.
//! [`RawApplicant::validate`] checks every field and returns an [`Applicant`] or the list of
//! every [`FieldError`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::citizen_id::{CitizenId, Sex};
use crate::{civil, division, text};

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
];

impl RawApplicant {
    /// Parses one JSON object. Errors name the offending field where possible.
    pub fn from_json(bytes: &[u8]) -> Result<RawApplicant, FieldError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(FieldError::new(
                "record",
                "RECORD_TOO_LARGE",
                format!(
                    "record is {} bytes, at most {MAX_RECORD_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed: Result<RawApplicant, _> = serde_path_to_error::deserialize(&mut de);
        let raw = match parsed {
            Ok(r) => r,
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                return Err(json_error(&path, &inner));
            }
        };
        de.end()
            .map_err(|e| FieldError::new("record", "BAD_JSON", format!("trailing data: {e}")))?;
        Ok(raw)
    }

    /// Builds a record from CSV cells keyed by column name (`basis` split on `|`, `test` and
    /// `data_verified` as `true`/`false`; empty cells are absent).
    pub fn from_cells<'a>(
        cells: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RawApplicant, FieldError> {
        let mut r = RawApplicant::default();
        for (k, v) in cells {
            if v.is_empty() {
                continue;
            }
            let s = Some(v.to_owned());
            match k {
                "ref" => r.reference = s,
                "name" => r.name = s,
                "sex" => r.sex = s,
                "ethnicity" => r.ethnicity = s,
                "birth_date" => r.birth_date = s,
                "id_number" => r.id_number = s,
                "hukou_division" => r.hukou_division = s,
                "hukou_address" => r.hukou_address = s,
                "residence_city" => r.residence_city = s,
                "residence_district" => r.residence_district = s,
                "residence_address" => r.residence_address = s,
                "residence_registered_on" => r.residence_registered_on = s,
                "basis" => r.basis = Some(v.split('|').map(str::to_owned).collect()),
                "test" => r.test = Some(parse_bool(k, v)?),
                "data_verified" => r.data_verified = Some(parse_bool(k, v)?),
                other => {
                    return Err(FieldError::new(
                        other,
                        "UNKNOWN_FIELD",
                        format!("unknown field `{other}`"),
                    ));
                }
            }
        }
        Ok(r)
    }

    /// Checks every field; `today` is the issuing office's current date (for "not in the future").
    ///
    /// The errors come in a fixed order: first every missing required field, then the checks
    /// below, one field group after the other (batch error files and tests rely on the order).
    pub fn validate(&self, today: NaiveDate) -> Result<Applicant, Vec<FieldError>> {
        let mut errs = self.missing_required();
        self.check_reference(&mut errs);
        let name = self.check_name(&mut errs);
        let id = self.check_id_number(&mut errs);
        let sex = self.check_sex(id.as_ref(), &mut errs);
        let birth = self.check_birth_date(id.as_ref(), today, &mut errs);
        let hk_mo_tw = id.as_ref().is_some_and(CitizenId::is_hk_mo_tw);
        let ethnicity = self.check_ethnicity(hk_mo_tw, &mut errs);
        let (hukou_division, hukou_address) = self.check_hukou(hk_mo_tw, &mut errs);
        let city = self.check_residence_city(&mut errs);
        let district = self.check_residence_district(city, &mut errs);
        let address = self.check_residence_address(district, &mut errs);
        let registered = self.check_registered_on(today, birth, &mut errs);
        let basis = self.check_basis(&mut errs);
        match (
            name, sex, birth, id, city, district, address, registered, basis,
        ) {
            (
                Some(name),
                Some(sex),
                Some(birth_date),
                Some(id_number),
                Some(residence_city),
                Some(residence_district),
                Some(residence_address),
                Some(residence_registered_on),
                Some(basis),
            ) if errs.is_empty() => Ok(Applicant {
                reference: self.reference.clone(),
                name,
                sex,
                ethnicity,
                birth_date,
                id_number,
                hukou_division,
                hukou_address,
                residence_city,
                residence_district,
                residence_address,
                residence_registered_on,
                basis,
                test: self.test.unwrap_or(false),
                data_verified: self.data_verified.unwrap_or(false),
            }),
            _ => Err(errs),
        }
    }

    /// `MISSING_FIELD` for each absent field that every applicant must have (ethnicity, the
    /// household registration and the basis are reported by their own checks).
    fn missing_required(&self) -> Vec<FieldError> {
        [
            ("name", &self.name),
            ("sex", &self.sex),
            ("birth_date", &self.birth_date),
            ("id_number", &self.id_number),
            ("residence_city", &self.residence_city),
            ("residence_district", &self.residence_district),
            ("residence_address", &self.residence_address),
            ("residence_registered_on", &self.residence_registered_on),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(field, _)| {
            FieldError::new(
                field,
                "MISSING_FIELD",
                format!("required field `{field}` is missing"),
            )
        })
        .collect()
    }

    /// `ref`: optional; 1 … 64 characters of a URL-safe set.
    fn check_reference(&self, errs: &mut Vec<FieldError>) {
        if let Some(r) = &self.reference {
            let ok = !r.is_empty()
                && r.len() <= MAX_REF_CHARS
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b));
            if !ok {
                errs.push(FieldError::new(
                    "ref",
                    "INVALID_VALUE",
                    format!("must be 1–{MAX_REF_CHARS} characters of A–Z, a–z, 0–9 and - _ . : /"),
                ));
            }
        }
    }

    /// `name`: printable text of at most [`MAX_NAME_CHARS`] characters.
    fn check_name(&self, errs: &mut Vec<FieldError>) -> Option<String> {
        let n = self.name.as_ref()?;
        match text::check(n, MAX_NAME_CHARS) {
            Ok(()) => Some(n.clone()),
            Err(e) => {
                errs.push(FieldError::new("name", e.code(), e.to_string()));
                None
            }
        }
    }

    /// `id_number`: a valid citizen ID number (format, birth date, checksum).
    fn check_id_number(&self, errs: &mut Vec<FieldError>) -> Option<CitizenId> {
        match CitizenId::parse(self.id_number.as_ref()?) {
            Ok(id) => Some(id),
            Err(e) => {
                errs.push(FieldError::new("id_number", e.code(), e.to_string()));
                None
            }
        }
    }

    /// `sex`: `male` or `female`, agreeing with the ID number.
    fn check_sex(&self, id: Option<&CitizenId>, errs: &mut Vec<FieldError>) -> Option<Sex> {
        let sex = match self.sex.as_ref()?.as_str() {
            "male" => Sex::Male,
            "female" => Sex::Female,
            _ => {
                errs.push(FieldError::new(
                    "sex",
                    "INVALID_VALUE",
                    "must be `male` or `female`",
                ));
                return None;
            }
        };
        if let Some(id) = id
            && id.sex() != sex
        {
            errs.push(FieldError::new(
                "sex",
                "SEX_MISMATCH",
                format!(
                    "`{}` disagrees with the ID number's sequence digit, which means {}",
                    sex.label_en(),
                    id.sex().label_en()
                ),
            ));
        }
        Some(sex)
    }

    /// `birth_date`: a real date, not after today, agreeing with the ID number.
    fn check_birth_date(
        &self,
        id: Option<&CitizenId>,
        today: NaiveDate,
        errs: &mut Vec<FieldError>,
    ) -> Option<NaiveDate> {
        let text = self.birth_date.as_ref()?;
        let Some(b) = civil::parse_date(text) else {
            errs.push(FieldError::new(
                "birth_date",
                "INVALID_DATE",
                format!("`{text}` is not a real YYYY-MM-DD date"),
            ));
            return None;
        };
        if b > today {
            errs.push(FieldError::new(
                "birth_date",
                "DATE_IN_FUTURE",
                format!("{b} is after today ({today})"),
            ));
        }
        if let Some(id) = id
            && id.birth_date() != b
        {
            errs.push(FieldError::new(
                "birth_date",
                "BIRTH_DATE_MISMATCH",
                format!("{b} disagrees with the ID number ({})", id.birth_date()),
            ));
        }
        Some(b)
    }

    /// `ethnicity`: a GB 3304 code, required except for Hong Kong, Macao and Taiwan residents,
    /// whose permits carry none.
    fn check_ethnicity(&self, hk_mo_tw: bool, errs: &mut Vec<FieldError>) -> Option<u8> {
        match (&self.ethnicity, hk_mo_tw) {
            (None, true) => None,
            (Some(_), true) => {
                errs.push(FieldError::new(
                    "ethnicity",
                    "NOT_APPLICABLE",
                    "Hong Kong, Macao and Taiwan residents' permits carry no ethnicity",
                ));
                None
            }
            (None, false) => {
                errs.push(FieldError::new(
                    "ethnicity",
                    "MISSING_FIELD",
                    "required field `ethnicity` is missing",
                ));
                None
            }
            (Some(e), false) => {
                let code = (e.len() == 2 && e.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| e.parse::<u8>().ok())
                    .flatten()
                    .filter(|c| ethnicity_name(*c).is_some());
                if code.is_none() {
                    errs.push(FieldError::new(
                        "ethnicity",
                        "INVALID_VALUE",
                        format!("`{e}` is not a GB 3304 two-digit code"),
                    ));
                }
                code
            }
        }
    }

    /// `hukou_division` and `hukou_address`: required for mainland residents, absent for Hong
    /// Kong, Macao and Taiwan residents (who have no household registration).
    fn check_hukou(
        &self,
        hk_mo_tw: bool,
        errs: &mut Vec<FieldError>,
    ) -> (Option<u32>, Option<String>) {
        if hk_mo_tw {
            for (f, v) in [
                ("hukou_division", &self.hukou_division),
                ("hukou_address", &self.hukou_address),
            ] {
                if v.is_some() {
                    errs.push(FieldError::new(
                        f,
                        "NOT_APPLICABLE",
                        "Hong Kong, Macao and Taiwan residents have no household registration",
                    ));
                }
            }
            return (None, None);
        }
        let div = match &self.hukou_division {
            None => {
                errs.push(FieldError::new(
                    "hukou_division",
                    "MISSING_FIELD",
                    "required field `hukou_division` is missing",
                ));
                None
            }
            Some(s) => {
                let v = six_digits(s).filter(|v| division::is_plausible_hukou_division(*v));
                if v.is_none() {
                    errs.push(FieldError::new(
                        "hukou_division",
                        "UNKNOWN_DIVISION",
                        format!("`{s}` is not a six-digit division code of a mainland province"),
                    ));
                }
                v
            }
        };
        let addr = match &self.hukou_address {
            None => {
                errs.push(FieldError::new(
                    "hukou_address",
                    "MISSING_FIELD",
                    "required field `hukou_address` is missing",
                ));
                None
            }
            Some(a) => match text::check(a, MAX_ADDRESS_CHARS) {
                Ok(()) => Some(a.clone()),
                Err(e) => {
                    errs.push(FieldError::new("hukou_address", e.code(), e.to_string()));
                    None
                }
            },
        };
        (div, addr)
    }

    /// `residence_city`: a Guangdong prefecture-level city code.
    fn check_residence_city(&self, errs: &mut Vec<FieldError>) -> Option<u32> {
        let c = self.residence_city.as_ref()?;
        match six_digits(c).and_then(division::city) {
            Some(city) => Some(city.code),
            None => {
                errs.push(FieldError::new(
                    "residence_city",
                    "UNKNOWN_CITY",
                    format!("`{c}` is not a Guangdong prefecture-level city code"),
                ));
                None
            }
        }
    }

    /// `residence_district`: a Guangdong county-level division of the residence city (`city`,
    /// when that one is valid).
    fn check_residence_district(
        &self,
        city: Option<u32>,
        errs: &mut Vec<FieldError>,
    ) -> Option<u32> {
        let d = self.residence_district.as_ref()?;
        let Some(v) = six_digits(d) else {
            errs.push(FieldError::new(
                "residence_district",
                "UNKNOWN_DISTRICT",
                format!("`{d}` is not a six-digit district code"),
            ));
            return None;
        };
        match division::city_of_district(v) {
            None => {
                errs.push(FieldError::new(
                    "residence_district",
                    "UNKNOWN_DISTRICT",
                    format!("`{d}` is not a Guangdong county-level division code"),
                ));
                None
            }
            Some(c) if city.is_some_and(|city| city != c.code) => {
                errs.push(FieldError::new(
                    "residence_district",
                    "DISTRICT_NOT_IN_CITY",
                    format!(
                        "{d} belongs to {} ({}), not to the residence city",
                        c.name, c.code
                    ),
                ));
                None
            }
            Some(_) => Some(v),
        }
    }

    /// `residence_address`: printable text starting with the prefix of the (valid) `district`
    /// and followed by the street address.
    fn check_residence_address(
        &self,
        district: Option<u32>,
        errs: &mut Vec<FieldError>,
    ) -> Option<String> {
        let a = self.residence_address.as_ref()?;
        if let Err(e) = text::check(a, MAX_ADDRESS_CHARS) {
            errs.push(FieldError::new(
                "residence_address",
                e.code(),
                e.to_string(),
            ));
            return None;
        }
        let prefix = district.and_then(division::residence_prefix)?;
        match a.strip_prefix(&prefix) {
            Some(rest) if !rest.trim().is_empty() => Some(a.clone()),
            _ => {
                errs.push(FieldError::new(
                    "residence_address",
                    "ADDRESS_MISMATCH",
                    format!(
                        "must begin with `{prefix}` (the residence city and district) followed by the street address"
                    ),
                ));
                None
            }
        }
    }

    /// `residence_registered_on`: a real date, not after today and not before the (valid)
    /// birth date.
    fn check_registered_on(
        &self,
        today: NaiveDate,
        birth: Option<NaiveDate>,
        errs: &mut Vec<FieldError>,
    ) -> Option<NaiveDate> {
        let r = self.residence_registered_on.as_ref()?;
        match civil::parse_date(r) {
            Some(d) if d > today => {
                errs.push(FieldError::new(
                    "residence_registered_on",
                    "DATE_IN_FUTURE",
                    format!("{d} is after today ({today})"),
                ));
                None
            }
            Some(d) if birth.is_some_and(|b| d < b) => {
                errs.push(FieldError::new(
                    "residence_registered_on",
                    "INVALID_DATE",
                    format!("{d} is before the birth date"),
                ));
                None
            }
            Some(d) => Some(d),
            None => {
                errs.push(FieldError::new(
                    "residence_registered_on",
                    "INVALID_DATE",
                    format!("`{r}` is not a real YYYY-MM-DD date"),
                ));
                None
            }
        }
    }

    /// `basis`: a non-empty list of distinct eligibility conditions.
    fn check_basis(&self, errs: &mut Vec<FieldError>) -> Option<Vec<Basis>> {
        let list = match &self.basis {
            None => {
                errs.push(FieldError::new(
                    "basis",
                    "MISSING_FIELD",
                    "required field `basis` is missing",
                ));
                return None;
            }
            Some(list) if list.is_empty() => {
                errs.push(FieldError::new(
                    "basis",
                    "NO_BASIS",
                    "at least one of employment, housing, study is required",
                ));
                return None;
            }
            Some(list) => list,
        };
        let mut out: Vec<Basis> = Vec::new();
        let mut ok = true;
        for b in list {
            match Basis::parse(b) {
                Some(v) if out.contains(&v) => {
                    errs.push(FieldError::new(
                        "basis",
                        "DUPLICATE_VALUE",
                        format!("`{b}` is listed twice"),
                    ));
                    ok = false;
                }
                Some(v) => out.push(v),
                None => {
                    errs.push(FieldError::new(
                        "basis",
                        "INVALID_VALUE",
                        format!("`{b}` is not one of employment, housing, study"),
                    ));
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

fn parse_bool(field: &str, v: &str) -> Result<bool, FieldError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(FieldError::new(
            field,
            "INVALID_VALUE",
            format!("`{v}` is not true or false"),
        )),
    }
}

fn six_digits(s: &str) -> Option<u32> {
    (s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Turns a serde error while reading a record into a field error.
fn json_error(path: &str, e: &serde_json::Error) -> FieldError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("?");
        return FieldError::new(field, "UNKNOWN_FIELD", format!("unknown field `{field}`"));
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        let field = rest.split('`').next().unwrap_or("?");
        return FieldError::new(
            field,
            "DUPLICATE_FIELD",
            format!("field `{field}` appears twice"),
        );
    }
    let field = path.split(['.', '[']).next().unwrap_or(path);
    if e.is_data() && COLUMNS.contains(&field) {
        return FieldError::new(field, "INVALID_TYPE", msg);
    }
    FieldError::new("record", "BAD_JSON", msg)
}

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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const REFERENCE: &str = r#"{
  "ref": "APP-REFERENCE",
  "name": "欧阳晓燕",
  "sex": "female",
  "ethnicity": "01",
  "birth_date": "1991-07-19",
  "id_number": "430524199107199021",
  "hukou_division": "430524",
  "hukou_address": "湖南省邵阳市隆回县桃洪镇新民村3组12号",
  "residence_city": "440100",
  "residence_district": "440106",
  "residence_address": "广东省广州市天河区石牌街道天河北路233号中信广场36栋1203房",
  "residence_registered_on": "2024-03-18",
  "basis": ["employment"],
  "test": true
}"#;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn with(f: impl FnOnce(&mut RawApplicant)) -> Vec<FieldError> {
        let mut r = RawApplicant::from_json(REFERENCE.as_bytes()).unwrap();
        f(&mut r);
        r.validate(today()).unwrap_err()
    }

    fn codes(errs: &[FieldError]) -> Vec<(&str, &str)> {
        errs.iter().map(|e| (e.field.as_str(), e.code)).collect()
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

    #[test]
    fn each_defect_is_named() {
        assert_eq!(
            codes(&with(|r| r.id_number = Some("430524199107199022".into()))),
            [("id_number", "ID_CHECKSUM")]
        );
        assert_eq!(
            codes(&with(|r| r.sex = Some("male".into()))),
            [("sex", "SEX_MISMATCH")]
        );
        assert_eq!(
            codes(&with(|r| r.birth_date = Some("1999-02-28".into()))),
            [("birth_date", "BIRTH_DATE_MISMATCH")]
        );
        assert_eq!(codes(&with(|r| r.name = None)), [("name", "MISSING_FIELD")]);
        assert_eq!(
            codes(&with(|r| r.name = Some("王\u{202e}\u{0}".into()))),
            [("name", "FORMAT_CHARACTER")]
        );
        assert_eq!(
            codes(&with(|r| r.name = Some("王".repeat(200)))),
            [("name", "TOO_LONG")]
        );
        assert_eq!(
            codes(&with(|r| r.residence_city = Some("110100".into()))),
            [("residence_city", "UNKNOWN_CITY")]
        );
        assert_eq!(
            codes(&with(
                |r| r.residence_registered_on = Some("2099-01-01".into())
            )),
            [("residence_registered_on", "DATE_IN_FUTURE")]
        );
        assert_eq!(
            codes(&with(|r| r.basis = Some(vec![]))),
            [("basis", "NO_BASIS")]
        );
        assert_eq!(
            codes(&with(
                |r| r.residence_registered_on = Some("2024-02-30".into())
            )),
            [("residence_registered_on", "INVALID_DATE")]
        );
        assert_eq!(
            codes(&with(|r| r.residence_district = Some("440305".into()))),
            [("residence_district", "DISTRICT_NOT_IN_CITY")]
        );
        assert_eq!(
            codes(&with(
                |r| r.residence_address = Some("广东省广州市白云区京溪街道1号".into())
            )),
            [("residence_address", "ADDRESS_MISMATCH")]
        );
        assert_eq!(
            codes(&with(|r| r.ethnicity = Some("1".into()))),
            [("ethnicity", "INVALID_VALUE")]
        );
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = RawApplicant::from_json(br#"{"name":"a","is_admin":true}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("is_admin", "UNKNOWN_FIELD"));
        let e = RawApplicant::from_json(br#"{"name":"a","name":"b"}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("name", "DUPLICATE_FIELD"));
        let e = RawApplicant::from_json(br#"{"name":5}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("name", "INVALID_TYPE"));
        let e = RawApplicant::from_json(br#"{"basis":["a",3]}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("basis", "INVALID_TYPE"));
        let e = RawApplicant::from_json(br#"{"name":"a"} x"#).unwrap_err();
        assert_eq!(e.code, "BAD_JSON");
        let e = RawApplicant::from_json(b"[1]").unwrap_err();
        assert_eq!(e.code, "BAD_JSON");
    }

    #[test]
    fn hk_mo_tw_resident() {
        let mut r = RawApplicant::from_json(REFERENCE.as_bytes()).unwrap();
        r.id_number = Some("830000199203150283".into());
        r.birth_date = Some("1992-03-15".into());
        r.ethnicity = None;
        r.hukou_division = None;
        r.hukou_address = None;
        let a = r.validate(today()).unwrap();
        assert!(a.id_number.is_hk_mo_tw());
        assert_eq!(a.ethnicity, None);
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
