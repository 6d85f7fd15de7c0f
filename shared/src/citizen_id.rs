//! Citizen identity numbers (GB 11643-1999): 18 characters, address code, birth date,
//! sequence (odd = male), ISO 7064 MOD 11-2 check character.

use chrono::NaiveDate;
use std::fmt;

use crate::division;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// Sex as encoded by the ID number's sequence parity and by GB/T 2261.1 (1 male, 2 female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// 男, GB/T 2261.1 code 1.
    Male,
    /// 女, GB/T 2261.1 code 2.
    Female,
}

impl Sex {
    /// Chinese label.
    pub fn label_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// Why a string is not a valid citizen ID number. Each variant has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 18 characters of 17 digits and a digit or `X`.
    #[error("must be 17 digits followed by a digit or X (got {len} characters)")]
    Format {
        /// Number of characters seen.
        len: usize,
    },
    /// The first two digits are not a province-level prefix (11–65, 71, 81–83).
    #[error("unknown province prefix {prefix:02}")]
    Province {
        /// The prefix seen.
        prefix: u32,
    },
    /// Positions 7–14 are not a real calendar date.
    #[error("birth date {digits} in the number is not a real date")]
    BirthDate {
        /// The eight digits.
        digits: String,
    },
    /// The check character does not match.
    #[error("check character is {found}, expected {expected}")]
    Checksum {
        /// Character found.
        found: char,
        /// Character computed.
        expected: char,
    },
}

impl IdError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Format { .. } => "ID_FORMAT",
            IdError::Province { .. } => "ID_PROVINCE",
            IdError::BirthDate { .. } => "ID_BIRTH_DATE",
            IdError::Checksum { .. } => "ID_CHECKSUM",
        }
    }
}

/// A syntactically valid citizen ID number, stored with an upper-case `X`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CitizenId(String);

/// The check character for the first 17 digits.
fn check_char(body: &[u8]) -> char {
    let s: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(CHECK[(s % 11) as usize])
}

impl CitizenId {
    /// Parses and checks a number: format, province prefix, birth date, check character.
    /// A lower-case `x` is accepted and stored as `X`.
    pub fn parse(s: &str) -> Result<CitizenId, IdError> {
        let b = s.as_bytes();
        let len = s.chars().count();
        if b.len() != 18
            || !b[..17].iter().all(u8::is_ascii_digit)
            || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
        {
            return Err(IdError::Format { len });
        }
        let prefix = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
        if division::province_name(prefix).is_none() {
            return Err(IdError::Province { prefix });
        }
        let digits = &s[6..14];
        if birth_from_digits(digits).is_none() {
            return Err(IdError::BirthDate {
                digits: digits.to_owned(),
            });
        }
        let expected = check_char(&b[..17]);
        let found = char::from(b[17]).to_ascii_uppercase();
        if found != expected {
            return Err(IdError::Checksum { found, expected });
        }
        let mut v = s[..17].to_owned();
        v.push(expected);
        Ok(CitizenId(v))
    }

    /// The number as 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date encoded in the number.
    pub fn birth_date(&self) -> NaiveDate {
        // parse() checked it; the fallback is unreachable but keeps this total.
        birth_from_digits(&self.0[6..14]).unwrap_or(NaiveDate::MIN)
    }

    /// The sex encoded by the sequence parity (odd male, even female).
    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The six-digit address code.
    pub fn address_code(&self) -> u32 {
        self.0[..6].parse().unwrap_or(0)
    }

    /// Whether this is the number of a Hong Kong, Macao or Taiwan resident (810000, 820000,
    /// 830000), whose residence permit has no ethnicity and no household registration.
    pub fn is_hk_mo_tw(&self) -> bool {
        matches!(&self.0[..6], "810000" | "820000" | "830000")
    }

    /// Masked for display: the first 3 and last 4 characters (`430***********9021`).
    pub fn masked(&self) -> String {
        format!("{}{}{}", &self.0[..3], "*".repeat(11), &self.0[14..])
    }
}

fn birth_from_digits(d: &str) -> Option<NaiveDate> {
    let y: i32 = d.get(0..4)?.parse().ok()?;
    let m: u32 = d.get(4..6)?.parse().ok()?;
    let day: u32 = d.get(6..8)?.parse().ok()?;
    if y < 1850 {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, day)
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sensitive personal information: never printed whole in logs.
        write!(f, "CitizenId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_vectors() {
        let a = CitizenId::parse("440106199001010013").unwrap();
        assert_eq!(a.sex(), Sex::Male);
        assert_eq!(a.birth_date(), NaiveDate::from_ymd_opt(1990, 1, 1).unwrap());
        let b = CitizenId::parse("440305198512310026").unwrap();
        assert_eq!(b.sex(), Sex::Female);
        let c = CitizenId::parse("430524200002292460").unwrap();
        assert_eq!(
            c.birth_date(),
            NaiveDate::from_ymd_opt(2000, 2, 29).unwrap()
        );
        let t = CitizenId::parse("830000199203150283").unwrap();
        assert!(t.is_hk_mo_tw());
        assert_eq!(
            CitizenId::parse("440106199001010012"),
            Err(IdError::Checksum {
                found: '2',
                expected: '3'
            })
        );
        assert_eq!(
            CitizenId::parse("430524199107199021").unwrap().masked(),
            "430***********9021"
        );
    }

    #[test]
    fn lower_x_is_stored_upper() {
        // Find a body whose check character is X.
        let body = "11010519491231002";
        assert_eq!(check_char(body.as_bytes()), 'X');
        let id = CitizenId::parse(&format!("{body}x")).unwrap();
        assert_eq!(id.as_str(), format!("{body}X"));
    }

    #[test]
    fn rejects() {
        assert_eq!(
            CitizenId::parse("4401061990010100").unwrap_err().code(),
            "ID_FORMAT"
        );
        assert_eq!(
            CitizenId::parse("44010619900101001Y").unwrap_err().code(),
            "ID_FORMAT"
        );
        assert_eq!(
            CitizenId::parse("９40106199001010013").unwrap_err().code(),
            "ID_FORMAT"
        );
        assert_eq!(
            CitizenId::parse("990106199001010013").unwrap_err().code(),
            "ID_PROVINCE"
        );
        assert_eq!(
            CitizenId::parse("440106199002300013").unwrap_err().code(),
            "ID_BIRTH_DATE"
        );
        assert!(format!("{:?}", CitizenId::parse("440106199001010013").unwrap()).contains('*'));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = CitizenId::parse(&s);
        }
        #[test]
        fn single_digit_change_is_caught(pos in 0usize..17, delta in 1u8..10) {
            let good = b"430524199107199021";
            let mut v = good.to_vec();
            v[pos] = b'0' + (v[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(v).unwrap();
            proptest::prop_assert!(CitizenId::parse(&s).is_err());
        }
    }
}
