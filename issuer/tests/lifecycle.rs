//! The permit lifecycle on a real ledger (in-memory SQLite here; `lifecycle_postgres.rs` runs
//! the same tests on PostgreSQL), checked the way a verifier sees it:
//! application and eligibility, review, endorsement windows and suspension, registration changes
//! and supersession, cancellation and status lists (with rollback and staleness), cards and
//! fees, illegal transitions, and signed trust lists with key rotation and compromise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};

use permit_issuer::issue::Signer;
use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::open::AnyLedger;
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::lifecycle::{
    self, CardKind, Change, Decision, Direct, Issued, LifecycleError, Office, Reporter,
};
use permit_issuer::settings::{Channel, Settings};
use permit_shared::applicant::RawApplicant;
use permit_shared::civil::CST;
use permit_shared::fixtures::REFERENCE_APPLICANT as REFERENCE;
use permit_shared::keys::SecretKey;
use permit_shared::reason::Code;
use permit_shared::trust::{self, KeyEntry, TrustList, TrustListBody, Usage};
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::State;
use permit_verifier::verify::{self, ClockSource, Verdict};

const HUIZHOU: &str = r#"{
  "ref": "LC-1", "name": "陈思琪", "sex": "female", "ethnicity": "01", "birth_date": "1995-03-08",
  "id_number": "360730199503089625", "hukou_division": "360730",
  "hukou_address": "江西省赣州市宁都县梅江镇和平社区4组18号",
  "residence_city": "441300", "residence_district": "441302",
  "residence_address": "广东省惠州市惠城区江北街道文昌一路9号华贸大厦2栋1806房",
  "residence_registered_on": "2023-09-01", "basis": ["employment"], "test": true
}"#;

/// 10:00 China Standard Time on a date.
fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    CST.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap().to_utc()
}

/// The ledger of one test world (`crate::fresh_ledger`: this one when this file is the test
/// binary, PostgreSQL's when `lifecycle_postgres.rs` includes it).
#[allow(dead_code)]
fn fresh_ledger() -> AnyLedger {
    AnyLedger::Sqlite(SqliteLedger::in_memory().unwrap())
}

struct World {
    ledger: AnyLedger,
    settings: Settings,
    signer: Signer,
    now: DateTime<Utc>,
}

impl World {
    fn new(now: DateTime<Utc>) -> World {
        World {
            ledger: crate::fresh_ledger(),
            settings: Settings::default(),
            // Checked once, inside the demo key's signing window: the lifecycle tests move the
            // clock freely (some to 2025, before the window), and the library signs with the
            // signer it is given.
            signer: permit_issuer::demo::signer(Usage::Permit, day(2026, 1, 2)).unwrap(),
            now,
        }
    }

    fn run<T>(
        &mut self,
        f: impl FnOnce(
            &mut dyn permit_issuer::ledger::Tx,
            &Office<'_>,
            &Signer,
        ) -> Result<T, LifecycleError>,
    ) -> Result<T, LifecycleError> {
        let World {
            ledger,
            settings,
            signer,
            now,
        } = self;
        let office = Office {
            settings,
            now: *now,
            actor: "test-officer",
        };
        ledger.transaction(|tx| f(tx, &office, signer))
    }

    fn apply(
        &mut self,
        json: &str,
        channel: Channel,
    ) -> Result<lifecycle::Applied, LifecycleError> {
        let raw = RawApplicant::from_json(json.as_bytes()).unwrap();
        self.run(|tx, o, _| lifecycle::apply(tx, o, &raw, channel))
    }

    fn issue(&mut self, json: &str) -> Issued {
        let a = self.apply(json, Channel::Online).unwrap();
        assert!(a.eligibility.eligible, "{:?}", a.eligibility);
        let id = a.application;
        self.run(|tx, o, k| {
            lifecycle::review(tx, o, k, &id, Decision::Approve, "materials checked")
        })
        .unwrap()
        .unwrap()
    }

    fn publish(&mut self) -> Vec<u8> {
        self.run(|tx, o, k| lifecycle::publish_status(tx, o, k, None))
            .unwrap()
            .0
    }
}

fn serial(i: &Issued) -> u64 {
    i.serial.parse().unwrap()
}

/// Verifies `text` at `at` with the demo trust list, an optional status list and a state.
fn check(
    text: &str,
    at: DateTime<Utc>,
    status: Option<&[u8]>,
    state: &mut State,
) -> verify::Outcome {
    let root = permit_verifier::demo::root().unwrap();
    let session = Session::open(SessionInput {
        root: &root,
        trust_document: permit_verifier::demo::TRUST_LIST.as_bytes(),
        status: status.map(|b| ("status", b)),
        at,
        clock_source: ClockSource::Given,
        state: std::mem::take(state),
        status_grace: Duration::hours(24),
    })
    .unwrap();
    let o = verify::verify_text(text, &session.context());
    *state = session.finish(&[]);
    o
}

fn codes(o: &verify::Outcome) -> Vec<&'static str> {
    o.reasons.iter().map(|r| r.code.as_str()).collect()
}

#[test]
fn apply_review_cancel_and_status_lists() {
    let mut w = World::new(day(2026, 11, 25));
    let issued = w.issue(REFERENCE);
    let at = day(2026, 11, 25) + Duration::hours(1);
    assert_eq!(
        check(&issued.text, at, None, &mut State::default()).verdict,
        Verdict::Valid
    );
    let old_list = w.publish();
    assert_eq!(
        check(&issued.text, at, Some(&old_list), &mut State::default()).verdict,
        Verdict::Valid
    );

    w.now = day(2026, 11, 25) + Duration::hours(2);
    let s = serial(&issued);
    w.run(|tx, o, _| {
        lifecycle::cancel(
            tx,
            o,
            s,
            "left Guangdong",
            Reporter::Police,
            Channel::Counter,
        )
    })
    .unwrap();
    let new_list = w.publish();
    let at = day(2026, 11, 25) + Duration::hours(3);
    let mut state = State::default();
    let o = check(&issued.text, at, Some(&new_list), &mut state);
    assert_eq!(o.verdict, Verdict::Invalid);
    assert_eq!(codes(&o)[0], "REVOKED");
    // The old list still says valid to a verifier that never saw the new one …
    assert_eq!(
        check(&issued.text, at, Some(&old_list), &mut State::default()).verdict,
        Verdict::Valid
    );
    // … and is refused as a rollback by one that did.
    let o = check(&issued.text, at, Some(&old_list), &mut state);
    assert_eq!(o.verdict, Verdict::Indeterminate);
    assert!(codes(&o).contains(&"STATUS_ROLLBACK"));
    // Cancellation is terminal.
    let e = w
        .run(|tx, o, _| lifecycle::cancel(tx, o, s, "again", Reporter::Police, Channel::Counter))
        .unwrap_err();
    assert!(
        matches!(e, LifecycleError::IllegalTransition { ref current, .. } if current == "cancelled"),
        "{e}"
    );
    let e = w
        .run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Counter))
        .unwrap_err();
    assert!(e.to_string().contains("cancelled"), "{e}");
    // A holder's online cancellation in Guangzhou is not offered.
    let mut w2 = World::new(day(2026, 11, 25));
    let i2 = w2.issue(REFERENCE);
    let s2 = serial(&i2);
    let e = w2
        .run(|tx, o, _| lifecycle::cancel(tx, o, s2, "moving", Reporter::Holder, Channel::Online))
        .unwrap_err();
    assert_eq!(e.code().as_str(), "SERVICE_NOT_OFFERED");
}

#[test]
fn status_list_sequence_staleness_and_counts() {
    let mut w = World::new(day(2026, 11, 25));
    let issued = w.issue(HUIZHOU);
    let a = w.publish();
    let b = w.publish();
    let root = permit_verifier::demo::root().unwrap();
    let trust = permit_shared::trust::TrustList::verify(
        permit_verifier::demo::TRUST_LIST.as_bytes(),
        &root,
    )
    .unwrap();
    let sa = verify::verify_status_list(&a, &trust).unwrap();
    let sb = verify::verify_status_list(&b, &trust).unwrap();
    assert_eq!(sb.token.sequence, sa.token.sequence + 1);
    assert_eq!(sa.token.ttl, 24 * 3600);
    // Stale: past next update (24 h) plus grace (24 h) → INDETERMINATE, never plain VALID.
    let mut st = State::default();
    assert_eq!(
        check(
            &issued.text,
            day(2026, 11, 26) + Duration::hours(23),
            Some(&a),
            &mut st
        )
        .verdict,
        Verdict::Valid
    );
    let o = check(
        &issued.text,
        day(2026, 11, 27) + Duration::hours(1),
        Some(&a),
        &mut State::default(),
    );
    assert_eq!(o.verdict, Verdict::Indeterminate);
    assert!(codes(&o).contains(&"STATUS_STALE"));
    // A tampered list is refused, and the verdict says status could not be checked.
    let mut bad = a.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    let o = check(
        &issued.text,
        day(2026, 11, 25),
        Some(&bad),
        &mut State::default(),
    );
    assert_eq!(o.verdict, Verdict::Indeterminate);
    assert!(codes(&o).contains(&"STATUS_LIST_INVALID"));
}

#[test]
fn endorsement_window_suspension_and_late_endorsement() {
    // Issued 2026-11-25: first anniversary 2027-11-25, window from 2027-10-25.
    let mut w = World::new(day(2026, 11, 25));
    let issued = w.issue(HUIZHOU);
    let s = serial(&issued);
    assert_eq!(
        issued.endorsed_until,
        NaiveDate::from_ymd_opt(2027, 11, 25).unwrap()
    );
    // Two months before: refused, with the window named.
    w.now = day(2027, 9, 25);
    let e = w
        .run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
        .unwrap_err();
    assert_eq!(e.code().as_str(), "ENDORSEMENT_WINDOW");
    assert!(
        e.to_string().contains("2027-10-25") && e.to_string().contains("2027-11-25"),
        "{e}"
    );
    // The day before the window opens: refused; the first day: allowed.
    w.now = day(2027, 10, 24);
    assert_eq!(
        w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "ENDORSEMENT_WINDOW"
    );
    // Un-endorsed: usable through the anniversary, suspended from the day after.
    let mut st = State::default();
    assert_eq!(
        check(&issued.text, day(2027, 11, 25), None, &mut st).verdict,
        Verdict::Valid
    );
    let o = check(&issued.text, day(2027, 11, 26), None, &mut st);
    assert_eq!(o.verdict, Verdict::Invalid);
    assert!(codes(&o).contains(&"SUSPENDED") && codes(&o).contains(&"ENDORSEMENT_OVERDUE"));
    // The status list published after the anniversary says suspended too.
    w.now = day(2027, 11, 26);
    let list = w.publish();
    let o = check(
        &issued.text,
        day(2027, 11, 26),
        Some(&list),
        &mut State::default(),
    );
    assert_eq!(
        o.provenance.status_list.as_ref().unwrap().entry,
        Some(permit_shared::status::Status::Suspended)
    );
    // A late endorsement restores it: a new credential, endorsed until the next anniversary.
    w.now = day(2027, 12, 10);
    let e2 = w
        .run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
        .unwrap();
    assert_eq!(e2.version, 2);
    assert_eq!(
        e2.endorsed_until,
        NaiveDate::from_ymd_opt(2028, 11, 25).unwrap()
    );
    let list = w.publish();
    let o = check(
        &e2.text,
        day(2027, 12, 10),
        Some(&list),
        &mut State::default(),
    );
    assert_eq!(o.verdict, Verdict::Valid, "{:?}", codes(&o));
    let o = check(
        &issued.text,
        day(2027, 12, 10),
        Some(&list),
        &mut State::default(),
    );
    assert!(codes(&o).contains(&"SUPERSEDED"), "{:?}", codes(&o));
    // Endorsing again before the next window: refused.
    assert_eq!(
        w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "ENDORSEMENT_WINDOW"
    );
    // In time for the second anniversary (inside the window), then nothing more is due:
    // the third anniversary is the end of validity (valid until 2029-11-24).
    w.now = day(2028, 11, 1);
    let e3 = w
        .run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
        .unwrap();
    assert_eq!(
        e3.endorsed_until,
        NaiveDate::from_ymd_opt(2029, 11, 24).unwrap()
    );
    w.now = day(2029, 11, 1);
    assert_eq!(
        w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "NO_ENDORSEMENT_DUE"
    );
    let h = w
        .run(|tx, _, _| {
            lifecycle::history(
                tx,
                s,
                NaiveDate::from_ymd_opt(2029, 11, 1).unwrap(),
                &Settings::default(),
            )
        })
        .unwrap();
    assert_eq!(h.current_version, 3);
    assert_eq!(
        h.residence_counted_since,
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    );
    assert!(
        h.events
            .iter()
            .filter(|e| e.kind == "permit.endorsed")
            .count()
            == 2
    );
}

#[test]
fn residence_years_restart_after_late_endorsement_when_configured() {
    let mut w = World::new(day(2026, 11, 25));
    w.settings.restart_residence_years_after_late_endorsement = true;
    let s = serial(&w.issue(HUIZHOU));
    w.now = day(2027, 12, 1);
    w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
        .unwrap();
    let h = w
        .run(|tx, _, _| {
            lifecycle::history(
                tx,
                s,
                NaiveDate::from_ymd_opt(2027, 12, 1).unwrap(),
                &Settings::default(),
            )
        })
        .unwrap();
    assert_eq!(
        h.residence_counted_since,
        NaiveDate::from_ymd_opt(2027, 12, 1).unwrap()
    );
}

#[test]
fn month_end_anniversaries_clamp() {
    // Issued on 29 February: the anniversary is 28 February, the window opens 28 January.
    let mut w = World::new(day(2028, 2, 29));
    let i = w.issue(HUIZHOU);
    assert_eq!(
        i.endorsed_until,
        NaiveDate::from_ymd_opt(2029, 2, 28).unwrap()
    );
    assert_eq!(i.valid_until, NaiveDate::from_ymd_opt(2031, 2, 27).unwrap());
    let s = serial(&i);
    w.now = day(2029, 1, 27);
    assert_eq!(
        w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "ENDORSEMENT_WINDOW"
    );
    w.now = day(2029, 1, 28);
    let e = w
        .run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
        .unwrap();
    assert_eq!(
        e.endorsed_until,
        NaiveDate::from_ymd_opt(2030, 2, 28).unwrap()
    );
    // Issued on 31 March: window for 31 March opens on 28 (or 29) February.
    let mut w = World::new(day(2025, 3, 31));
    let s = serial(&w.issue(HUIZHOU));
    w.now = day(2026, 2, 27);
    assert_eq!(
        w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "ENDORSEMENT_WINDOW"
    );
    w.now = day(2026, 2, 28);
    assert!(
        w.run(|tx, o, k| lifecycle::endorse(tx, o, k, s, Channel::Online))
            .is_ok()
    );
}

#[test]
fn address_change_supersedes_the_old_credential() {
    let mut w = World::new(day(2026, 11, 25));
    let old = w.issue(HUIZHOU);
    let s = serial(&old);
    w.now = day(2027, 1, 5);
    let ch = Change {
        residence_address: Some("广东省惠州市惠城区江北街道云山西路8号3栋502房".into()),
        ..Change::default()
    };
    let new = w
        .run(|tx, o, k| lifecycle::change(tx, o, k, s, &ch, Channel::Online))
        .unwrap();
    assert_eq!(new.version, 2);
    assert_eq!(new.serial, old.serial);
    let list = w.publish();
    let o = check(
        &new.text,
        day(2027, 1, 5),
        Some(&list),
        &mut State::default(),
    );
    assert_eq!(o.verdict, Verdict::Valid, "{:?}", codes(&o));
    assert!(
        o.permit
            .unwrap()
            .view(false)
            .residence_address
            .is_some_and(|a| a.contains("云山西路8号"))
    );
    let o = check(
        &old.text,
        day(2027, 1, 5),
        Some(&list),
        &mut State::default(),
    );
    assert_eq!(o.verdict, Verdict::Invalid);
    assert_eq!(codes(&o)[0], "SUPERSEDED");
    // Within the city, another district is fine; another city is not.
    let to_huiyang = Change {
        residence_district: Some("441303".into()),
        residence_address: Some("广东省惠州市惠阳区淡水街道开城大道1号".into()),
        ..Change::default()
    };
    assert!(
        w.run(|tx, o, k| lifecycle::change(tx, o, k, s, &to_huiyang, Channel::Online))
            .is_ok()
    );
    let to_dongguan = Change {
        residence_district: Some("441900".into()),
        residence_address: Some("广东省东莞市虎门镇人民南路1号".into()),
        ..Change::default()
    };
    let e = w
        .run(|tx, o, k| lifecycle::change(tx, o, k, s, &to_dongguan, Channel::Counter))
        .unwrap_err();
    assert!(matches!(e, LifecycleError::IllegalTransition { .. }), "{e}");
    assert!(e.to_string().contains("惠州市"), "{e}");
    // Hukou and photo changes; nothing-to-change is refused.
    let hk = Change {
        hukou_division: Some("360731".into()),
        hukou_address: Some("江西省赣州市于都县贡江镇1号".into()),
        photo: Some("00112233445566778899aabbccddeeff".into()),
        ..Change::default()
    };
    let v4 = w
        .run(|tx, o, k| lifecycle::change(tx, o, k, s, &hk, Channel::Online))
        .unwrap();
    let o = check(&v4.text, day(2027, 1, 5), None, &mut State::default());
    assert_eq!(
        o.permit.unwrap().view(false).photo_ref.as_deref(),
        Some("00112233445566778899aabbccddeeff")
    );
    assert_eq!(
        w.run(|tx, o, k| lifecycle::change(tx, o, k, s, &hk, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "NO_CHANGE"
    );
    // Guangzhou does not offer registration changes online; a counter does.
    let mut g = World::new(day(2026, 11, 25));
    let gs = serial(&g.issue(REFERENCE));
    let ch = Change {
        residence_address: Some("广东省广州市天河区五山街道五山路1号".into()),
        ..Change::default()
    };
    assert_eq!(
        g.run(|tx, o, k| lifecycle::change(tx, o, k, gs, &ch, Channel::Online))
            .unwrap_err()
            .code()
            .as_str(),
        "SERVICE_NOT_OFFERED"
    );
    assert!(
        g.run(|tx, o, k| lifecycle::change(tx, o, k, gs, &ch, Channel::Counter))
            .is_ok()
    );
}

#[test]
fn eligibility_refusals() {
    let mut w = World::new(day(2026, 11, 25));
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
        f(&mut v);
        v.to_string()
    };
    // Moved to Shenzhen: the e-permit is not offered there.
    let sz = with(&|v| {
        v["ref"] = "SZ".into();
        v["residence_city"] = "440300".into();
        v["residence_district"] = "440305".into();
        v["residence_address"] = "广东省深圳市南山区粤海街道科苑路15号".into();
    });
    let a = w.apply(&sz, Channel::Online).unwrap();
    assert!(!a.eligibility.eligible);
    assert_eq!(a.eligibility.reasons[0].code, "SERVICE_NOT_OFFERED");
    assert!(a.eligibility.reasons[0].message.contains("深圳市"));
    // Registered 100 days ago.
    let recent = with(&|v| {
        v["ref"] = "RECENT".into();
        v["residence_registered_on"] = "2026-08-17".into();
    });
    let a = w.apply(&recent, Channel::Online).unwrap();
    assert_eq!(
        a.eligibility
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["RESIDENCE_TOO_SHORT"]
    );
    assert!(
        a.eligibility.reasons[0].message.contains("100 days"),
        "{}",
        a.eligibility.reasons[0].message
    );
    // 183 days exactly is enough.
    let enough = with(&|v| {
        v["ref"] = "ENOUGH".into();
        v["residence_registered_on"] = "2026-05-26".into();
    });
    assert!(
        w.apply(&enough, Channel::Online)
            .unwrap()
            .eligibility
            .eligible
    );
    // An empty basis.
    let nobasis = with(&|v| {
        v["ref"] = "NOBASIS".into();
        v["basis"] = serde_json::json!([]);
    });
    let e = w.apply(&nobasis, Channel::Online).unwrap_err();
    assert!(
        matches!(&e, LifecycleError::Invalid(f) if f[0].field == "basis" && f[0].code == "NO_BASIS"),
        "{e}"
    );
    // A Guangzhou hukou living in Guangzhou.
    let local = with(&|v| {
        v["ref"] = "LOCAL".into();
        v["hukou_division"] = "440105".into();
    });
    assert_eq!(
        w.apply(&local, Channel::Online)
            .unwrap()
            .eligibility
            .reasons[0]
            .code,
        "SAME_CITY_HUKOU"
    );
    // A Guangdong hukou from another city is fine.
    let puning = with(&|v| {
        v["ref"] = "PUNING".into();
        v["hukou_division"] = "445281".into();
    });
    assert!(
        w.apply(&puning, Channel::Online)
            .unwrap()
            .eligibility
            .eligible
    );
    // Ineligible applications are recorded (state ineligible), eligible ones list materials.
    assert!(w.apply(&sz, Channel::Online).unwrap().already_recorded);
    let m = w.apply(&puning, Channel::Online).unwrap().eligibility;
    assert!(!m.no_materials_needed && m.materials.iter().any(|x| x.contains("劳动合同")));
    let verified = with(&|v| {
        v["ref"] = "VERIFIED".into();
        v["data_verified"] = true.into();
    });
    let m = w.apply(&verified, Channel::Online).unwrap().eligibility;
    assert!(m.no_materials_needed && m.materials.is_empty());
    // Same reference, different content: a conflict.
    let conflict = with(&|v| {
        v["ref"] = "PUNING".into();
        v["name"] = "欧阳晓华".into();
    });
    assert_eq!(
        w.apply(&conflict, Channel::Online)
            .unwrap_err()
            .code()
            .as_str(),
        "REFERENCE_CONFLICT"
    );
}

#[test]
fn duplicate_permits_and_review_transitions() {
    let mut w = World::new(day(2026, 11, 25));
    let first = w.apply(REFERENCE, Channel::Online).unwrap();
    let id = first.application.clone();
    let issued = w
        .run(|tx, o, k| lifecycle::review(tx, o, k, &id, Decision::Approve, "ok"))
        .unwrap()
        .unwrap();
    // Reviewing twice is refused with the current state named.
    let e = w
        .run(|tx, o, k| lifecycle::review(tx, o, k, &id, Decision::Reject, "again"))
        .unwrap_err();
    assert!(
        matches!(&e, LifecycleError::IllegalTransition { current, .. } if current == "approved"),
        "{e}"
    );
    // Another application for the same person: refused while the permit is active.
    let again: String = REFERENCE.replace("APP-REFERENCE", "APP-AGAIN");
    let a = w.apply(&again, Channel::Online).unwrap();
    assert_eq!(a.eligibility.reasons[0].code, "DUPLICATE_PERMIT");
    assert!(a.eligibility.reasons[0].message.contains(&issued.serial));
    // After cancellation a new application is possible.
    let s = serial(&issued);
    w.run(|tx, o, _| {
        lifecycle::cancel(
            tx,
            o,
            s,
            "holder request",
            Reporter::Police,
            Channel::Counter,
        )
    })
    .unwrap();
    let third: String = REFERENCE.replace("APP-REFERENCE", "APP-THIRD");
    let a = w.apply(&third, Channel::Online).unwrap();
    assert!(a.eligibility.eligible);
    let id3 = a.application;
    // Rejection.
    w.run(|tx, o, k| lifecycle::review(tx, o, k, &id3, Decision::Reject, "documents forged"))
        .unwrap();
    assert!(
        w.run(|tx, o, k| lifecycle::review(tx, o, k, &id3, Decision::Approve, ""))
            .is_err()
    );
    assert_eq!(
        w.run(|tx, o, k| lifecycle::review(tx, o, k, "A00000000000", Decision::Approve, "x"))
            .unwrap_err()
            .code()
            .as_str(),
        "NOT_FOUND"
    );
    // Idempotent direct issuance: the same request returns the same permit.
    let mut w = World::new(day(2026, 11, 25));
    let raw = RawApplicant::from_json(HUIZHOU.as_bytes()).unwrap();
    let Direct::Issued(a) = w
        .run(|tx, o, k| lifecycle::issue_direct(tx, o, k, &raw, Channel::Counter))
        .unwrap()
    else {
        panic!()
    };
    let Direct::Issued(b) = w
        .run(|tx, o, k| lifecycle::issue_direct(tx, o, k, &raw, Channel::Counter))
        .unwrap()
    else {
        panic!()
    };
    assert!(!a.already_issued && b.already_issued);
    assert_eq!(a.serial, b.serial);
    assert_eq!(a.text, b.text);
}

#[test]
fn cards_and_fees() {
    let mut w = World::new(day(2026, 11, 25));
    let s = serial(&w.issue(HUIZHOU));
    let e = w
        .run(|tx, o, _| lifecycle::card(tx, o, s, CardKind::Replacement, Channel::Counter))
        .unwrap_err();
    assert!(matches!(e, LifecycleError::IllegalTransition { .. }));
    let c1 = w
        .run(|tx, o, _| lifecycle::card(tx, o, s, CardKind::First, Channel::Counter))
        .unwrap();
    assert_eq!((c1.number, c1.fee_yuan), (1, 0));
    assert!(
        w.run(|tx, o, _| lifecycle::card(tx, o, s, CardKind::First, Channel::Counter))
            .is_err()
    );
    let c2 = w
        .run(|tx, o, _| lifecycle::card(tx, o, s, CardKind::Replacement, Channel::Counter))
        .unwrap();
    assert_eq!((c2.number, c2.fee_yuan), (2, 20));
    w.settings.fees.exchange = 15;
    let c3 = w
        .run(|tx, o, _| lifecycle::card(tx, o, s, CardKind::Exchange, Channel::Counter))
        .unwrap();
    assert_eq!(
        (c3.number, c3.kind.as_str(), c3.fee_yuan),
        (3, "exchange", 15)
    );
    let h = w
        .run(|tx, _, _| {
            lifecycle::history(
                tx,
                s,
                NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
                &Settings::default(),
            )
        })
        .unwrap();
    assert_eq!(h.cards.len(), 3);
}

#[test]
fn failures_leave_nothing_half_written() {
    // A ledger file, so that a second connection can look at it directly.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite3");
    let mut w = World::new(day(2026, 11, 25));
    w.ledger = AnyLedger::Sqlite(SqliteLedger::open(&db).unwrap());
    let raw = RawApplicant::from_json(HUIZHOU.as_bytes()).unwrap();
    // A step that fails after writing rows: the transaction rolls everything back.
    let r: Result<(), LifecycleError> = w.run(|tx, o, k| {
        lifecycle::issue_direct(tx, o, k, &raw, Channel::Counter)?;
        Err(LifecycleError::Refused {
            code: permit_issuer::error_code::ErrorCode::NotIssued,
            message: "simulated failure after issuance".into(),
        })
    });
    assert!(r.is_err());
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c.query_row("SELECT (SELECT COUNT(*) FROM applications) + (SELECT COUNT(*) FROM permits) + (SELECT COUNT(*) FROM credentials) + (SELECT COUNT(*) FROM events)", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
    // History rows are append-only.
    let s = serial(&w.issue(HUIZHOU));
    assert!(c.execute("UPDATE events SET actor = 'x'", []).is_err());
    assert!(c.execute("DELETE FROM events", []).is_err());
    assert!(c.execute("UPDATE credentials SET text = 'x'", []).is_err());
    assert!(c.execute("DELETE FROM permits", []).is_err());
    let events: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM events WHERE serial = ?1",
            [s as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert!(events >= 2);
}

#[test]
fn test_data_and_test_keys_do_not_mix() {
    let mut w = World::new(day(2026, 11, 25));
    let real = HUIZHOU.replace("\"test\": true", "\"test\": false");
    let a = w.apply(&real, Channel::Online).unwrap();
    let id = a.application;
    let e = w
        .run(|tx, o, k| lifecycle::review(tx, o, k, &id, Decision::Approve, "ok"))
        .unwrap_err();
    assert_eq!(e.code().as_str(), "TEST_KEY_REAL_DATA");
}

/// A trust list signed by `root` with the given entries.
fn trust_list(root: &SecretKey, sequence: u64, keys: Vec<KeyEntry>) -> String {
    trust::sign(
        &TrustListBody {
            format: trust::FORMAT.into(),
            sequence,
            issued_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2036-01-01T00:00:00Z".into(),
            publisher: "test".into(),
            test: true,
            keys,
        },
        root,
    )
    .unwrap()
}

fn entry(k: &SecretKey, from: &str, until: &str, compromised: Option<&str>) -> KeyEntry {
    KeyEntry {
        kid: k.public().id(),
        issuer: "test".into(),
        jwk: k.public().to_jwk(),
        may_sign: vec![Usage::Permit, Usage::StatusList],
        signing_from: from.into(),
        signing_until: until.into(),
        verify_until: None,
        compromised_since: compromised.map(str::to_owned),
        test: true,
    }
}

fn verify_with(
    trust_doc: &str,
    root: &SecretKey,
    text: &str,
    at: DateTime<Utc>,
) -> verify::Outcome {
    let session = Session::open(SessionInput {
        root: root.public(),
        trust_document: trust_doc.as_bytes(),
        status: None,
        at,
        clock_source: ClockSource::Given,
        state: State::default(),
        status_grace: Duration::hours(24),
    })
    .unwrap();
    verify::verify_text(text, &session.context())
}

#[test]
fn key_rotation_windows_and_compromise() {
    let root = SecretKey::from_seed(&[21; 32]).unwrap();
    let old = SecretKey::from_seed(&[22; 32]).unwrap();
    let new = SecretKey::from_seed(&[23; 32]).unwrap();
    // SecretKey is deliberately not Clone: each signer is rebuilt from its seed.
    let sign_with = |seed: u8, now: DateTime<Utc>| {
        let mut w = World::new(now);
        // The signing side's own trust list: the key may sign now (what the verifier's list
        // says is what is tested).
        let key = SecretKey::from_seed(&[seed; 32]).unwrap();
        let mine = trust_list(
            &root,
            1,
            vec![entry(
                &key,
                "2026-01-01T00:00:00Z",
                "2036-01-01T00:00:00Z",
                None,
            )],
        );
        let mine = TrustList::verify(mine.as_bytes(), root.public()).unwrap();
        w.signer = Signer::new(key, mine, Usage::Permit, now).unwrap();
        w.issue(HUIZHOU).text
    };
    // Rotation with overlap: old key signs until 2027-06-30, new key from 2027-06-01.
    let tl = trust_list(
        &root,
        2,
        vec![
            entry(&old, "2026-01-01T00:00:00Z", "2027-06-30T23:59:59Z", None),
            entry(&new, "2027-06-01T00:00:00Z", "2030-01-01T00:00:00Z", None),
        ],
    );
    let by_old = sign_with(22, day(2026, 11, 25));
    let by_new = sign_with(23, day(2027, 7, 1));
    // Old permits stay valid until they expire; new ones verify too.
    assert_eq!(
        verify_with(&tl, &root, &by_old, day(2027, 7, 2)).verdict,
        Verdict::Valid
    );
    assert_eq!(
        verify_with(&tl, &root, &by_new, day(2027, 7, 2)).verdict,
        Verdict::Valid
    );
    // Issued outside the signing window.
    let late_old = sign_with(22, day(2027, 7, 1));
    let o = verify_with(&tl, &root, &late_old, day(2027, 7, 2));
    assert!(
        codes(&o).contains(&"KEY_NOT_VALID_AT_ISSUANCE"),
        "{:?}",
        codes(&o)
    );
    // Compromised since 2027-01-01: nothing the key signed is accepted any more, whatever its
    // iat (a thief can backdate), earlier permits included.
    let tl = trust_list(
        &root,
        3,
        vec![entry(
            &old,
            "2026-01-01T00:00:00Z",
            "2027-06-30T23:59:59Z",
            Some("2027-01-01T00:00:00Z"),
        )],
    );
    let o = verify_with(&tl, &root, &by_old, day(2027, 3, 1));
    assert_eq!(o.verdict, Verdict::Invalid);
    assert!(codes(&o).contains(&"KEY_COMPROMISED"));
    let after = sign_with(22, day(2027, 2, 1));
    let o = verify_with(&tl, &root, &after, day(2027, 3, 1));
    assert_eq!(o.verdict, Verdict::Invalid);
    assert!(codes(&o).contains(&"KEY_COMPROMISED"));
    // A trust list signed by another root is refused outright.
    let other_root = SecretKey::from_seed(&[24; 32]).unwrap();
    let foreign = trust_list(
        &other_root,
        1,
        vec![entry(
            &old,
            "2026-01-01T00:00:00Z",
            "2030-01-01T00:00:00Z",
            None,
        )],
    );
    let r = Session::open(SessionInput {
        root: root.public(),
        trust_document: foreign.as_bytes(),
        status: None,
        at: day(2027, 1, 1),
        clock_source: ClockSource::Given,
        state: State::default(),
        status_grace: Duration::hours(24),
    });
    assert!(r.is_err());
    // A lower trust-list sequence than seen is a rollback (a list where the old key is clean).
    let tl = trust_list(
        &root,
        3,
        vec![entry(
            &old,
            "2026-01-01T00:00:00Z",
            "2027-06-30T23:59:59Z",
            None,
        )],
    );
    let mut state = State::default();
    state.observe_trust(&root.public().id().to_string(), 5);
    let s = Session::open(SessionInput {
        root: root.public(),
        trust_document: tl.as_bytes(),
        status: None,
        at: day(2027, 3, 1),
        clock_source: ClockSource::Given,
        state,
        status_grace: Duration::hours(24),
    })
    .unwrap();
    let o = verify::verify_text(&by_old, &s.context());
    assert!(o.reasons.iter().any(|r| r.code == Code::TrustListRollback));
    assert_eq!(o.verdict, Verdict::Indeterminate);
}
