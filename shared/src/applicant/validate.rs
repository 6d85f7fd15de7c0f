//! The field checks of [`RawApplicant::validate`]: one function per field or field group, each
//! adding its [`FieldError`]s in a fixed order.

use chrono::NaiveDate;

use super::{
    Applicant, Basis, FieldError, MAX_ADDRESS_CHARS, MAX_NAME_CHARS, MAX_REF_CHARS, RawApplicant,
    ethnicity_name,
};
use crate::citizen_id::{CitizenId, Sex};
use crate::{civil, division, text};

impl RawApplicant {
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
        let holder_key = self.check_holder_key(&mut errs);
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
                holder_key,
            }),
            _ => Err(errs),
        }
    }

    /// `holder_key`: an Ed25519 public key as a JWK `x`, canonical, not of small order.
    fn check_holder_key(&self, errs: &mut Vec<FieldError>) -> Option<crate::keys::PublicKey> {
        let x = self.holder_key.as_deref()?;
        match crate::credential::holder::holder_key_from_x(x) {
            Ok(k) => Some(k),
            Err(e) => {
                errs.push(FieldError::new(
                    "holder_key",
                    "INVALID_HOLDER_KEY",
                    format!("not a usable Ed25519 public key (JWK x): {e}"),
                ));
                None
            }
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

fn six_digits(s: &str) -> Option<u32> {
    (s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{REFERENCE, today};
    use super::*;

    fn with(f: impl FnOnce(&mut RawApplicant)) -> Vec<FieldError> {
        let mut r = RawApplicant::from_json(REFERENCE.as_bytes()).unwrap();
        f(&mut r);
        r.validate(today()).unwrap_err()
    }

    fn codes(errs: &[FieldError]) -> Vec<(&str, &str)> {
        errs.iter().map(|e| (e.field.as_str(), e.code)).collect()
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
}
