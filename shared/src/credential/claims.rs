//! The claims stage: the CWT claims set ([`Claims`]) and the permit claim ([`PermitClaim`]), their
//! deterministic CBOR encoding, strict decoding and field checks.

use chrono::NaiveDate;
use ciborium::value::Value;

use super::holder::{CLAIM_CNF, cnf_from_value, cnf_value};
use super::{CLAIM_EXP, CLAIM_IAT, CLAIM_PERMIT, DecodeError};
use crate::cbor;
use crate::citizen_id::CitizenId;
use crate::keys::PublicKey;
use crate::{applicant, civil, division, text};

/// The CWT claims set of a permit credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iat` (6): when this credential was signed, Unix seconds.
    pub issued_at: i64,
    /// `exp` (4): when the permit stops being valid (start of the day after its last valid day,
    /// China Standard Time), Unix seconds.
    pub expires_at: i64,
    /// `cnf` (8): the holder device's key, when the credential is bound to one. A bound
    /// credential is accepted only inside a presentation signed by that key.
    pub holder: Option<PublicKey>,
    /// The permit claim (-65537).
    pub permit: PermitClaim,
}

/// The permit claim: what a verifying official needs, nothing more. Keys are small unsigned
/// integers (see `docs/FORMAT.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitClaim {
    /// 1: permit serial number (never reused; unpredictable).
    pub serial: u64,
    /// 2: credential version within the permit, from 1; every re-issue (endorsement, change)
    /// increments it.
    pub version: u32,
    /// 3: 姓名.
    pub name: String,
    /// 4: 公民身份号码 (sex and birth date are read from it).
    pub id_number: CitizenId,
    /// 5: 民族, GB 3304 code; absent for Hong Kong, Macao and Taiwan residents.
    pub ethnicity: Option<u8>,
    /// 6: 户籍所在地 division code; absent for Hong Kong, Macao and Taiwan residents.
    pub hukou_division: Option<u32>,
    /// 7: residence district code (the city is its first four digits followed by `00`).
    pub residence_district: u32,
    /// 8: residence address below the district (the full address is
    /// `广东省` + city name + district name + this).
    pub residence_address: String,
    /// 9: division code of the issuing public security bureau (签发机关).
    pub authority: u32,
    /// 10: 签发日期, the permit's first issue date (anniversaries count from it).
    pub issued_on: NaiveDate,
    /// 11: the last day the permit is usable without a new endorsement (签注).
    pub endorsed_until: NaiveDate,
    /// 12: index of this credential in the issuer's status list.
    pub status_index: u64,
    /// 13: a reference (hash prefix) of the holder's photo in the issuer's records.
    pub photo: Option<[u8; PHOTO_REF_LEN]>,
    /// 14: test data (present only as `true`).
    pub test: bool,
    /// 15: the status list this credential's `status_index` refers to, as its list id
    /// ([`crate::status::list_id`] of the list's `sub` URI). Absent in credentials issued before
    /// the claim existed; see `docs/FORMAT.md` for how a verifier matches a list to either.
    pub status_list: Option<[u8; crate::status::LIST_ID_LEN]>,
}

/// Length of the photo reference, bytes.
pub const PHOTO_REF_LEN: usize = 16;
/// Largest status-list index.
pub const MAX_STATUS_INDEX: u64 = (1 << 32) - 1;
/// Largest serial number (12 decimal digits).
pub const MAX_SERIAL: u64 = 999_999_999_999;

pub(super) fn claim_err(field: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::Claims {
        field,
        detail: detail.into(),
    }
}

impl PermitClaim {
    /// The residence city code.
    pub fn residence_city(&self) -> u32 {
        self.residence_district / 100 * 100
    }

    /// The full residence address.
    pub fn full_residence_address(&self) -> String {
        format!(
            "{}{}",
            division::residence_prefix(self.residence_district).unwrap_or_default(),
            self.residence_address
        )
    }

    /// Checks every field's rules (the same rules as applicant validation).
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.serial == 0 || self.serial > MAX_SERIAL {
            return Err(claim_err("serial", "must be 1 … 999999999999"));
        }
        if self.version == 0 {
            return Err(claim_err("version", "must be at least 1"));
        }
        text::check(&self.name, applicant::MAX_NAME_CHARS)
            .map_err(|e| claim_err("name", e.to_string()))?;
        let hk = self.id_number.is_hk_mo_tw();
        match (self.ethnicity, hk) {
            (Some(_), true) => return Err(claim_err("ethnicity", "not applicable to HK/MO/TW")),
            (None, false) => return Err(claim_err("ethnicity", "missing")),
            (Some(e), false) if applicant::ethnicity_name(e).is_none() => {
                return Err(claim_err("ethnicity", format!("unknown code {e}")));
            }
            _ => {}
        }
        match (self.hukou_division, hk) {
            (Some(_), true) => {
                return Err(claim_err("hukou_division", "not applicable to HK/MO/TW"));
            }
            (None, false) => return Err(claim_err("hukou_division", "missing")),
            (Some(d), false) if !division::is_plausible_hukou_division(d) => {
                return Err(claim_err("hukou_division", format!("implausible code {d}")));
            }
            _ => {}
        }
        if division::city_of_district(self.residence_district).is_none() {
            return Err(claim_err(
                "residence_district",
                format!("{} is not a Guangdong district", self.residence_district),
            ));
        }
        text::check(&self.residence_address, applicant::MAX_ADDRESS_CHARS)
            .map_err(|e| claim_err("residence_address", e.to_string()))?;
        if division::authority_name(self.authority).is_none() {
            return Err(claim_err(
                "authority",
                format!("{} is not a Guangdong division", self.authority),
            ));
        }
        if self.endorsed_until < self.issued_on {
            return Err(claim_err("endorsed_until", "before the issue date"));
        }
        if self.issued_on < self.id_number.birth_date() {
            return Err(claim_err(
                "issued_on",
                format!(
                    "{} is before the holder's birth date {}",
                    self.issued_on,
                    self.id_number.birth_date()
                ),
            ));
        }
        if self.status_index > MAX_STATUS_INDEX {
            return Err(claim_err("status_index", "larger than 2^32 - 1"));
        }
        Ok(())
    }

    fn to_value(&self) -> Value {
        let mut m: Vec<(Value, Value)> = Vec::with_capacity(15);
        let mut put = |k: u64, v: Value| m.push((cbor::uint(k), v));
        put(1, cbor::uint(self.serial));
        put(2, cbor::uint(u64::from(self.version)));
        put(3, Value::Text(self.name.clone()));
        put(4, Value::Text(self.id_number.as_str().to_owned()));
        if let Some(e) = self.ethnicity {
            put(5, cbor::uint(u64::from(e)));
        }
        if let Some(h) = self.hukou_division {
            put(6, cbor::uint(u64::from(h)));
        }
        put(7, cbor::uint(u64::from(self.residence_district)));
        put(8, Value::Text(self.residence_address.clone()));
        put(9, cbor::uint(u64::from(self.authority)));
        put(
            10,
            cbor::uint(u64::from(civil::date_to_int(self.issued_on))),
        );
        put(
            11,
            cbor::uint(u64::from(civil::date_to_int(self.endorsed_until))),
        );
        put(12, cbor::uint(self.status_index));
        if let Some(p) = self.photo {
            put(13, Value::Bytes(p.to_vec()));
        }
        if self.test {
            put(14, Value::Bool(true));
        }
        if let Some(id) = self.status_list {
            put(15, Value::Bytes(id.to_vec()));
        }
        Value::Map(m)
    }

    fn from_value(v: Value) -> Result<PermitClaim, DecodeError> {
        let Value::Map(m) = v else {
            return Err(claim_err("permit", "not a map"));
        };
        let mut fields: [Option<Value>; 16] = Default::default();
        let mut last = 0u64;
        for (k, val) in m {
            let k = cbor::as_u64(&k)
                .filter(|k| (1..=15).contains(k))
                .ok_or_else(|| claim_err("permit", "unknown or non-integer field key"))?;
            if k <= last {
                return Err(claim_err("permit", "field keys out of order or repeated"));
            }
            last = k;
            fields[k as usize] = Some(val);
        }
        let take = |fields: &mut [Option<Value>; 16], k: usize| fields[k].take();
        fn text_of(v: Option<Value>, f: &'static str) -> Result<String, DecodeError> {
            match v {
                Some(Value::Text(s)) => Ok(s),
                Some(_) => Err(claim_err(f, "not a text string")),
                None => Err(claim_err(f, "missing")),
            }
        }
        fn uint_of(v: Option<Value>, f: &'static str, max: u64) -> Result<u64, DecodeError> {
            match v {
                Some(v) => cbor::as_u64(&v)
                    .filter(|u| *u <= max)
                    .ok_or_else(|| claim_err(f, "not an unsigned integer in range")),
                None => Err(claim_err(f, "missing")),
            }
        }
        fn date_of(v: Option<Value>, f: &'static str) -> Result<NaiveDate, DecodeError> {
            let n = uint_of(v, f, u64::MAX)?;
            civil::date_from_int(n)
                .ok_or_else(|| claim_err(f, format!("{n} is not a YYYYMMDD date")))
        }
        let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let serial = uint_of(take(&mut fields, 1), "serial", MAX_SERIAL)?;
        let version = to_u32(uint_of(
            take(&mut fields, 2),
            "version",
            u64::from(u32::MAX),
        )?);
        let name = text_of(take(&mut fields, 3), "name")?;
        let id_text = text_of(take(&mut fields, 4), "id_number")?;
        let id_number =
            CitizenId::parse(&id_text).map_err(|e| claim_err("id_number", e.to_string()))?;
        let ethnicity = match take(&mut fields, 5) {
            None => None,
            v => Some(uint_of(v, "ethnicity", 99)? as u8),
        };
        let hukou_division = match take(&mut fields, 6) {
            None => None,
            v => Some(to_u32(uint_of(v, "hukou_division", 999_999)?)),
        };
        let residence_district = to_u32(uint_of(
            take(&mut fields, 7),
            "residence_district",
            999_999,
        )?);
        let residence_address = text_of(take(&mut fields, 8), "residence_address")?;
        let authority = to_u32(uint_of(take(&mut fields, 9), "authority", 999_999)?);
        let issued_on = date_of(take(&mut fields, 10), "issued_on")?;
        let endorsed_until = date_of(take(&mut fields, 11), "endorsed_until")?;
        let status_index = uint_of(take(&mut fields, 12), "status_index", MAX_STATUS_INDEX)?;
        let photo = match take(&mut fields, 13) {
            None => None,
            Some(Value::Bytes(b)) => Some(
                b.as_slice()
                    .try_into()
                    .map_err(|_| claim_err("photo", "must be 16 bytes"))?,
            ),
            Some(_) => return Err(claim_err("photo", "not a byte string")),
        };
        let test = match take(&mut fields, 14) {
            None => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(claim_err("test", "must be true when present")),
        };
        let status_list = match take(&mut fields, 15) {
            None => None,
            Some(Value::Bytes(b)) => Some(b.as_slice().try_into().map_err(|_| {
                claim_err(
                    "status_list",
                    format!("must be {} bytes", crate::status::LIST_ID_LEN),
                )
            })?),
            Some(_) => return Err(claim_err("status_list", "not a byte string")),
        };
        let p = PermitClaim {
            serial,
            version,
            name,
            id_number,
            ethnicity,
            hukou_division,
            residence_district,
            residence_address,
            authority,
            issued_on,
            endorsed_until,
            status_index,
            photo,
            test,
            status_list,
        };
        if p.id_number.as_str() != id_text {
            return Err(DecodeError::NonCanonical {
                part: "permit claim",
            });
        }
        p.check()?;
        Ok(p)
    }
}

impl Claims {
    /// The last day the permit is valid (the day before `exp`, China Standard Time).
    pub fn valid_until(&self) -> NaiveDate {
        civil::date_of_unix(self.expires_at - 1)
    }

    /// Deterministic CBOR encoding of the claims set (the COSE payload).
    pub fn encode(&self) -> Vec<u8> {
        encode_cwt(
            self.expires_at,
            self.issued_at,
            self.holder.as_ref(),
            (CLAIM_PERMIT, self.permit.to_value()),
        )
    }

    /// Decodes and checks a claims set; the bytes must be its canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Claims, DecodeError> {
        Claims::from_cwt(Cwt::decode(bytes)?, bytes)
    }

    /// The claims of a decoded CWT whose encoding is `bytes`.
    pub(super) fn from_cwt(cwt: Cwt, bytes: &[u8]) -> Result<Claims, DecodeError> {
        if cwt.body_key != CLAIM_PERMIT {
            return Err(claim_err(
                "claims",
                "not a full permit credential (it holds a view claim)",
            ));
        }
        let permit = PermitClaim::from_value(cwt.body)?;
        check_iat(cwt.issued_at, permit.issued_on)?;
        let claims = Claims {
            issued_at: cwt.issued_at,
            expires_at: cwt.expires_at,
            holder: cwt.holder,
            permit,
        };
        if claims.encode() != bytes {
            return Err(DecodeError::NonCanonical { part: "claims" });
        }
        Ok(claims)
    }
}

/// A credential is signed when or after the permit is first issued: an `iat` before the start
/// of the issue date (China Standard Time) is a date no issuance can produce.
pub(super) fn check_iat(issued_at: i64, issued_on: NaiveDate) -> Result<(), DecodeError> {
    if issued_at < civil::start_of_day(issued_on) {
        return Err(claim_err(
            "iat",
            format!(
                "{} is before the permit's issue date {}",
                civil::date_of_unix(issued_at),
                issued_on
            ),
        ));
    }
    Ok(())
}

/// Encodes a CWT claims set `{4: exp, 6: iat, [8: cnf,] body_key: body}` (canonical order:
/// the body keys are negative, so they sort last).
pub(super) fn encode_cwt(
    expires_at: i64,
    issued_at: i64,
    holder: Option<&PublicKey>,
    (body_key, body): (i64, Value),
) -> Vec<u8> {
    let mut m = vec![
        (cbor::int(CLAIM_EXP), cbor::int(expires_at)),
        (cbor::int(CLAIM_IAT), cbor::int(issued_at)),
    ];
    if let Some(k) = holder {
        m.push((cbor::int(CLAIM_CNF), cnf_value(k)));
    }
    m.push((cbor::int(body_key), body));
    cbor::encode(&Value::Map(m))
}

/// The parts every credential's claims set shares, read in order: `exp`, `iat`, optional
/// `cnf`, then exactly one body claim (the permit claim or a view claim), nothing else.
pub(super) struct Cwt {
    pub(super) expires_at: i64,
    pub(super) issued_at: i64,
    pub(super) holder: Option<PublicKey>,
    pub(super) body_key: i64,
    pub(super) body: Value,
}

impl Cwt {
    pub(super) fn decode(bytes: &[u8]) -> Result<Cwt, DecodeError> {
        let v = cbor::decode_one(bytes).map_err(|e| claim_err("claims", e))?;
        let Value::Map(m) = v else {
            return Err(claim_err("claims", "not a map"));
        };
        let shape = || {
            claim_err(
                "claims",
                "must hold exactly exp (4), iat (6), optionally cnf (8), and one permit or view claim, in that order",
            )
        };
        let mut it = m.into_iter();
        let (Some((k1, exp)), Some((k2, iat))) = (it.next(), it.next()) else {
            return Err(shape());
        };
        let mut third = it.next().ok_or_else(shape)?;
        let mut holder = None;
        if cbor::as_i128(&third.0) == Some(CLAIM_CNF.into()) {
            holder = Some(cnf_from_value(&third.1)?);
            third = it.next().ok_or_else(shape)?;
        }
        if it.next().is_some()
            || cbor::as_i128(&k1) != Some(CLAIM_EXP.into())
            || cbor::as_i128(&k2) != Some(CLAIM_IAT.into())
        {
            return Err(shape());
        }
        let body_key = match cbor::as_i128(&third.0) {
            Some(k) if k == i128::from(CLAIM_PERMIT) => CLAIM_PERMIT,
            Some(k) if k == i128::from(super::view::CLAIM_BASIC_VIEW) => {
                super::view::CLAIM_BASIC_VIEW
            }
            _ => return Err(shape()),
        };
        let time = |v: &Value, f: &'static str| {
            cbor::as_i128(v)
                .filter(|t| (0..=(1i128 << 40)).contains(t))
                .map(|t| t as i64)
                .ok_or_else(|| claim_err(f, "not an integer time in range"))
        };
        let expires_at = time(&exp, "exp")?;
        let issued_at = time(&iat, "iat")?;
        if expires_at <= issued_at {
            return Err(claim_err("exp", "not after iat"));
        }
        Ok(Cwt {
            expires_at,
            issued_at,
            holder,
            body_key,
            body: third.1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::example_claims;

    #[test]
    fn claims_reject_extras_and_order() {
        let c = example_claims();
        let good = c.encode();
        assert_eq!(Claims::decode(&good).unwrap(), c);
        // An extra claim (iss).
        let extra = cbor::encode(&Value::Map(vec![
            (cbor::int(1), Value::Text("x".into())),
            (cbor::int(CLAIM_EXP), cbor::int(c.expires_at)),
            (cbor::int(CLAIM_IAT), cbor::int(c.issued_at)),
            (cbor::int(CLAIM_PERMIT), c.permit.to_value()),
        ]));
        assert!(matches!(
            Claims::decode(&extra),
            Err(DecodeError::Claims { .. })
        ));
        // Lower-case x in the ID would be a second encoding of the same number.
        let mut p = c.permit.clone();
        p.id_number = CitizenId::parse("11010519491231002X").unwrap();
        p.hukou_division = Some(110105);
        let mut v = p.to_value();
        if let Value::Map(m) = &mut v {
            m[3].1 = Value::Text("11010519491231002x".into());
        }
        let lower = cbor::encode(&Value::Map(vec![
            (cbor::int(CLAIM_EXP), cbor::int(c.expires_at)),
            (cbor::int(CLAIM_IAT), cbor::int(c.issued_at)),
            (cbor::int(CLAIM_PERMIT), v),
        ]));
        assert_eq!(
            Claims::decode(&lower),
            Err(DecodeError::NonCanonical {
                part: "permit claim"
            })
        );
    }
}
