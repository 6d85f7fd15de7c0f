//! Views: a credential of its own, signed by the issuer beside the full credential, that carries
//! only what a non-police verifier (hotel, hospital, employer, school) needs. The basic view is
//! the claim −65538 in place of the permit claim −65537; it is always bound to the holder's
//! device key (`cnf`), has the same `exp`, `iat` and status index as the full credential it was
//! derived from, so one status-list entry cancels both.

use chrono::NaiveDate;
use ciborium::value::Value;

use super::claims::{Cwt, claim_err, encode_cwt};
use super::{CLAIM_PERMIT, Claims, DecodeError, MAX_STATUS_INDEX};
use crate::keys::PublicKey;
use crate::{applicant, cbor, civil, division, status, text};

/// The CWT claim key of the basic view (private-use range of RFC 8392 §9.1).
pub const CLAIM_BASIC_VIEW: i64 = -65538;

/// Which view of a permit a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewKind {
    /// Every field (claim −65537): police and the issuer's own staff.
    Full,
    /// Masked name, last 4 ID characters, residence city, dates, status (claim −65538).
    Basic,
}

impl ViewKind {
    /// The name in reports and settings.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::Full => "full",
            ViewKind::Basic => "basic",
        }
    }

    /// Parses a view name.
    pub fn parse(s: &str) -> Option<ViewKind> {
        match s {
            "full" => Some(ViewKind::Full),
            "basic" => Some(ViewKind::Basic),
            _ => None,
        }
    }
}

/// The basic view's claim: the fields keep the permit claim's keys and meanings where they
/// share them (11, 12, 14, 15); 3 is the masked name, 4 the last four characters of the ID
/// number, 7 the residence city (not the district, never the address). It carries no serial,
/// version or issue date: a hotel does not need them, and each costs room in the QR code (the
/// basic presentation has to fit version 12 at ECC M).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicView {
    /// 3: the name with every character but the first and (from 3 characters) the last
    /// replaced by `*` ([`mask_name`]).
    pub name_masked: String,
    /// 4: the last 4 characters of the ID number.
    pub id_last4: String,
    /// 7: residence city code (one of the 21 Guangdong cities).
    pub residence_city: u32,
    /// 11: endorsed until.
    pub endorsed_until: NaiveDate,
    /// 12: status-list index (the full credential's).
    pub status_index: u64,
    /// 14: test data.
    pub test: bool,
    /// 15: status-list id.
    pub status_list: Option<[u8; status::LIST_ID_LEN]>,
}

/// The claims set of a basic view: `{4: exp, 6: iat, 8: cnf, -65538: BasicView}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewClaims {
    /// `iat`, the full credential's.
    pub issued_at: i64,
    /// `exp`, the full credential's.
    pub expires_at: i64,
    /// `cnf`: the holder's device key (required in a view).
    pub holder: PublicKey,
    /// The view claim.
    pub view: BasicView,
}

/// Masks a name the way the 粤居码 app shows it: first character kept, last kept from 3
/// characters on, the rest `*` (张伟 → 张*, 张小伟 → 张*伟, 欧阳晓燕 → 欧**燕).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// The last 4 characters of an ID number (the whole of a shorter one).
pub fn id_last4(id: &str) -> String {
    let n = id.chars().count();
    id.chars().skip(n.saturating_sub(4)).collect()
}

impl Claims {
    /// The basic view of this credential, when it is bound to a holder key (views are issued
    /// only for bound credentials: an unbound view could be replayed from a screenshot).
    pub fn basic_view(&self) -> Option<ViewClaims> {
        let holder = self.holder?;
        let p = &self.permit;
        Some(ViewClaims {
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            holder,
            view: BasicView {
                name_masked: mask_name(&p.name),
                id_last4: id_last4(p.id_number.as_str()),
                residence_city: p.residence_city(),
                endorsed_until: p.endorsed_until,
                status_index: p.status_index,
                test: p.test,
                status_list: p.status_list,
            },
        })
    }
}

impl ViewClaims {
    /// The last day the permit is valid.
    pub fn valid_until(&self) -> NaiveDate {
        civil::date_of_unix(self.expires_at - 1)
    }

    /// Deterministic CBOR encoding (the COSE payload).
    pub fn encode(&self) -> Vec<u8> {
        let v = &self.view;
        let mut m: Vec<(Value, Value)> = Vec::with_capacity(10);
        let mut put = |k: u64, val: Value| m.push((cbor::uint(k), val));
        put(3, Value::Text(v.name_masked.clone()));
        put(4, Value::Text(v.id_last4.clone()));
        put(7, cbor::uint(u64::from(v.residence_city)));
        put(
            11,
            cbor::uint(u64::from(civil::date_to_int(v.endorsed_until))),
        );
        put(12, cbor::uint(v.status_index));
        if v.test {
            put(14, Value::Bool(true));
        }
        if let Some(id) = v.status_list {
            put(15, Value::Bytes(id.to_vec()));
        }
        encode_cwt(
            self.expires_at,
            self.issued_at,
            Some(&self.holder),
            (CLAIM_BASIC_VIEW, Value::Map(m)),
        )
    }

    /// Decodes and checks a basic view's claims; the bytes must be their canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<ViewClaims, DecodeError> {
        ViewClaims::from_cwt(Cwt::decode(bytes)?, bytes)
    }

    /// The claims of a decoded CWT whose encoding is `bytes`.
    fn from_cwt(cwt: Cwt, bytes: &[u8]) -> Result<ViewClaims, DecodeError> {
        if cwt.body_key != CLAIM_BASIC_VIEW {
            return Err(claim_err("claims", "not a view credential"));
        }
        let holder = cwt
            .holder
            .ok_or_else(|| claim_err("cnf", "a view must be bound to a holder key"))?;
        let view = BasicView::from_value(cwt.body)?;
        let claims = ViewClaims {
            issued_at: cwt.issued_at,
            expires_at: cwt.expires_at,
            holder,
            view,
        };
        if claims.encode() != bytes {
            return Err(DecodeError::NonCanonical { part: "claims" });
        }
        Ok(claims)
    }
}

impl BasicView {
    fn from_value(v: Value) -> Result<BasicView, DecodeError> {
        let Value::Map(m) = v else {
            return Err(claim_err("view", "not a map"));
        };
        let mut fields: [Option<Value>; 16] = Default::default();
        let mut last = 0u64;
        for (k, val) in m {
            let k = cbor::as_u64(&k)
                .filter(|k| matches!(k, 3 | 4 | 7 | 11 | 12 | 14 | 15))
                .ok_or_else(|| claim_err("view", "unknown or non-integer field key"))?;
            if k <= last {
                return Err(claim_err("view", "field keys out of order or repeated"));
            }
            last = k;
            fields[k as usize] = Some(val);
        }
        let mut take = |k: usize| fields[k].take();
        let uint = |v: Option<Value>, f: &'static str, max: u64| match v {
            Some(v) => cbor::as_u64(&v)
                .filter(|u| *u <= max)
                .ok_or_else(|| claim_err(f, "not an unsigned integer in range")),
            None => Err(claim_err(f, "missing")),
        };
        let text_of = |v: Option<Value>, f: &'static str| match v {
            Some(Value::Text(s)) => Ok(s),
            Some(_) => Err(claim_err(f, "not a text string")),
            None => Err(claim_err(f, "missing")),
        };
        let date = |v: Option<Value>, f: &'static str| {
            let n = uint(v, f, u64::MAX)?;
            civil::date_from_int(n)
                .ok_or_else(|| claim_err(f, format!("{n} is not a YYYYMMDD date")))
        };
        let name_masked = text_of(take(3), "name")?;
        text::check(&name_masked, applicant::MAX_NAME_CHARS)
            .map_err(|e| claim_err("name", e.to_string()))?;
        let id_last4 = text_of(take(4), "id_last4")?;
        let b = id_last4.as_bytes();
        if b.len() != 4
            || !b[..3].iter().all(u8::is_ascii_digit)
            || !(b[3].is_ascii_digit() || b[3] == b'X')
        {
            return Err(claim_err(
                "id_last4",
                "must be the last 4 characters of an ID number (3 digits and a digit or X)",
            ));
        }
        let residence_city = uint(take(7), "residence_city", 999_999)? as u32;
        if !residence_city.is_multiple_of(100) || division::city(residence_city).is_none() {
            return Err(claim_err(
                "residence_city",
                format!("{residence_city} is not a Guangdong city"),
            ));
        }
        let endorsed_until = date(take(11), "endorsed_until")?;
        let status_index = uint(take(12), "status_index", MAX_STATUS_INDEX)?;
        let test = match take(14) {
            None => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(claim_err("test", "must be true when present")),
        };
        let status_list = match take(15) {
            None => None,
            Some(Value::Bytes(b)) => Some(b.as_slice().try_into().map_err(|_| {
                claim_err(
                    "status_list",
                    format!("must be {} bytes", status::LIST_ID_LEN),
                )
            })?),
            Some(_) => return Err(claim_err("status_list", "not a byte string")),
        };
        Ok(BasicView {
            name_masked,
            id_last4,
            residence_city,
            endorsed_until,
            status_index,
            test,
            status_list,
        })
    }
}

/// A verified credential's claims, whichever view it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialClaims {
    /// The full credential (claim −65537).
    Full(Claims),
    /// The basic view (claim −65538).
    Basic(ViewClaims),
}

impl CredentialClaims {
    /// Decodes either kind by its body claim.
    pub fn decode(bytes: &[u8]) -> Result<CredentialClaims, DecodeError> {
        // Decoded once: the holder key's checks (point decompression) cost as much as a
        // quarter of a signature check.
        let cwt = Cwt::decode(bytes)?;
        match cwt.body_key {
            CLAIM_PERMIT => Claims::from_cwt(cwt, bytes).map(CredentialClaims::Full),
            _ => ViewClaims::from_cwt(cwt, bytes).map(CredentialClaims::Basic),
        }
    }

    /// Which view this is.
    pub fn kind(&self) -> ViewKind {
        match self {
            CredentialClaims::Full(_) => ViewKind::Full,
            CredentialClaims::Basic(_) => ViewKind::Basic,
        }
    }

    /// The holder key it is bound to, if any.
    pub fn holder(&self) -> Option<&PublicKey> {
        match self {
            CredentialClaims::Full(c) => c.holder.as_ref(),
            CredentialClaims::Basic(v) => Some(&v.holder),
        }
    }

    /// What every view carries: times, serial, version, dates, status, test flag.
    pub fn core(&self) -> Core {
        match self {
            CredentialClaims::Full(c) => Core {
                issued_at: c.issued_at,
                expires_at: c.expires_at,
                serial: Some(c.permit.serial),
                version: Some(c.permit.version),
                issued_on: Some(c.permit.issued_on),
                endorsed_until: c.permit.endorsed_until,
                status_index: c.permit.status_index,
                status_list: c.permit.status_list,
                test: c.permit.test,
            },
            CredentialClaims::Basic(v) => Core {
                issued_at: v.issued_at,
                expires_at: v.expires_at,
                serial: None,
                version: None,
                issued_on: None,
                endorsed_until: v.view.endorsed_until,
                status_index: v.view.status_index,
                status_list: v.view.status_list,
                test: v.view.test,
            },
        }
    }
}

/// The fields every view of a credential carries, for the time, status and policy checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Core {
    /// `iat`.
    pub issued_at: i64,
    /// `exp`.
    pub expires_at: i64,
    /// Permit serial (not in a basic view).
    pub serial: Option<u64>,
    /// Credential version (not in a basic view).
    pub version: Option<u32>,
    /// First issue date (not in a basic view).
    pub issued_on: Option<NaiveDate>,
    /// Endorsed until.
    pub endorsed_until: NaiveDate,
    /// Status-list index.
    pub status_index: u64,
    /// Status-list id.
    pub status_list: Option<[u8; status::LIST_ID_LEN]>,
    /// Test data.
    pub test: bool,
}

impl Core {
    /// The last day the permit is valid.
    pub fn valid_until(&self) -> NaiveDate {
        civil::date_of_unix(self.expires_at - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::example_claims;
    use crate::keys::SecretKey;

    #[test]
    fn names_are_masked_as_the_app_shows_them() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("张小伟"), "张*伟");
        assert_eq!(mask_name("欧阳晓燕"), "欧**燕");
        assert_eq!(mask_name("王"), "*");
    }

    #[test]
    fn a_view_round_trips_and_holds_no_address_or_full_id() {
        let mut c = example_claims();
        assert!(c.basic_view().is_none(), "unbound credentials get no view");
        let device = SecretKey::from_seed(&[9; 32]).unwrap();
        c.holder = Some(*device.public());
        let v = c.basic_view().unwrap();
        let bytes = v.encode();
        assert_eq!(ViewClaims::decode(&bytes).unwrap(), v);
        assert_eq!(
            CredentialClaims::decode(&bytes).unwrap().kind(),
            ViewKind::Basic
        );
        assert_eq!(v.view.id_last4, "9021");
        assert_eq!(v.view.residence_city, 440100);
        let raw = String::from_utf8_lossy(&bytes);
        assert!(!raw.contains("石牌") && !raw.contains("430524199107199021"));
        // The full credential's decoder refuses a view and vice versa.
        assert!(Claims::decode(&bytes).is_err());
        assert!(ViewClaims::decode(&c.encode()).is_err());
        assert_eq!(Claims::decode(&c.encode()).unwrap(), c);
    }
}
