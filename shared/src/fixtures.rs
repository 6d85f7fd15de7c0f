//! Test fixtures, behind the `test-fixtures` feature (off by default, so not in the product API
//! nor in `cargo doc`): the reference applicant, a fixed valid claims set and a deterministic
//! random number generator, shared by the workspace's unit tests, integration tests, benches
//! and fuzzing harnesses so that each is written once.
//!
//! All data here is synthetic test data.

use chrono::NaiveDate;

use crate::citizen_id::CitizenId;
use crate::credential::{Claims, PermitClaim};

/// The reference applicant record (JSON, valid on 2026-11-25; synthetic test data): a mainland
/// resident of Guangzhou, Tianhe District, with employment as the basis.
pub const REFERENCE_APPLICANT: &str = r#"{
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

/// The status-list URI of the example claims (the issuer's default `status_list.uri`).
pub const EXAMPLE_STATUS_URI: &str = "https://permits.gd.example.invalid/status/1";

/// A fixed, valid claims set for the reference applicant (test data), for examples and tests.
#[allow(
    clippy::expect_used,
    reason = "fixed literals known to be valid; a failure is a bug in this fixture"
)]
pub fn example_claims() -> Claims {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a real date");
    Claims {
        holder: None,
        issued_at: 1_795_536_000,
        expires_at: 1_890_230_400,
        permit: PermitClaim {
            serial: 482_913_077_415,
            version: 1,
            name: "欧阳晓燕".into(),
            id_number: CitizenId::parse("430524199107199021").expect("a valid ID number"),
            ethnicity: Some(1),
            hukou_division: Some(430524),
            residence_district: 440106,
            residence_address: "石牌街道天河北路233号中信广场36栋1203房".into(),
            authority: 440106,
            issued_on: date(2026, 11, 25),
            endorsed_until: date(2027, 11, 25),
            status_index: 1_234_567,
            photo: None,
            test: true,
            status_list: Some(crate::status::list_id(EXAMPLE_STATUS_URI)),
        },
    }
}

/// A seeded random number generator for tests and benches (SplitMix64, the algorithm of the
/// photo benchmark's generator): the same numbers on every platform and in every build, so a
/// seed names one sequence. Not for secrets.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    /// A generator for `seed` (any value, including 0).
    pub fn new(seed: u64) -> TestRng {
        TestRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is `0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// `n` random decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    /// One of `items`, uniformly.
    ///
    /// # Panics
    /// If `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applicant::RawApplicant;

    #[test]
    fn reference_applicant_matches_example_claims() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let a = RawApplicant::from_json(REFERENCE_APPLICANT.as_bytes())
            .unwrap()
            .validate(today)
            .unwrap();
        let p = example_claims().permit;
        assert_eq!(a.name, p.name);
        assert_eq!(a.id_number, p.id_number);
        assert_eq!(a.residence_district, p.residence_district);
        assert_eq!(a.residence_address_detail(), p.residence_address);
        example_claims().permit.check().unwrap();
    }

    #[test]
    fn splitmix64_sequence() {
        // The first outputs of SplitMix64 from seed 0 (Vigna's reference implementation).
        let mut r = TestRng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut a = TestRng::new(7);
        let mut b = TestRng::new(7);
        assert_eq!(a.digits(50), b.digits(50));
        assert_eq!(a.below(0), 0);
    }
}
