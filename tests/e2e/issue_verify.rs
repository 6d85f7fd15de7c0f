//! Issue → render → decode → verify, with the verdicts of time, tampering and several codes.

use chrono::{DateTime, Duration, Utc};
use image::GenericImage as _;

use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_shared::reason::Code;
use permit_verifier::check::{self, Input};
use permit_verifier::scan::{self, ScanLimits};
use permit_verifier::verify::{self, Verdict};

use crate::common::{self, ctx, demo_trust, fixed_now};

fn codes(o: &verify::Outcome) -> Vec<&'static str> {
    o.reasons.iter().map(|r| r.code.as_str()).collect()
}

fn png(text: &str, ecc: Ecc) -> (Vec<u8>, u8) {
    let m = QrMatrix::encode(text, ecc).unwrap();
    (
        render::to_png(&m, &RenderOptions::default()).unwrap(),
        m.version(),
    )
}

#[test]
fn example_applicant_round_trip_through_png() {
    let text = common::issue_at(&common::example_applicant(), fixed_now());
    let trust = demo_trust();
    let (png, _) = png(&text, Ecc::M);
    let codes_found = scan::scan_image_bytes(&png, &ScanLimits::default()).unwrap();
    assert_eq!(codes_found.len(), 1);
    assert_eq!(codes_found[0].text, text);
    let o = verify::verify_text(&codes_found[0].text, &ctx(&trust, fixed_now()));
    assert_eq!(o.verdict, Verdict::Valid, "{:?}", o.reasons);
    assert_eq!(codes(&o), ["STATUS_UNKNOWN", "TEST_CREDENTIAL"]);
    let v = o.permit.unwrap().view(false);
    assert_eq!(v.name.as_deref(), Some("陈思琪"));
    assert_eq!(v.id_number_masked.as_deref(), Some("360***********9625"));
    assert_eq!(v.residence_city_name.as_deref(), Some("惠州市 Huizhou"));
}

#[test]
#[cfg_attr(
    missing_shared,
    ignore = "../shared (public test vectors, corpora and reference applicants) is not beside the checkout"
)]
fn reference_permit_meets_the_qr_version_targets() {
    let shared = permit_e2e::require_shared!();
    let json = std::fs::read_to_string(shared.join("applicants/reference.json")).unwrap();
    let text = common::issue_at(&json, fixed_now());
    let (_, m) = png(&text, Ecc::M);
    let (_, q) = png(&text, Ecc::Q);
    eprintln!(
        "reference permit: {} characters, QR version {m} at M, {q} at Q",
        text.len()
    );
    assert!(m <= 12, "version {m} at M");
    assert!(q <= 15, "version {q} at Q");
}

#[test]
fn time_verdicts() {
    let text = common::issue_at(&common::example_applicant(), fixed_now());
    let trust = demo_trust();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let v = |t: DateTime<Utc>| verify::verify_text(&text, &ctx(&trust, t));
    // Valid through the last day (2029-11-24), expired from 2029-11-25 00:00 +08:00.
    assert_eq!(v(at("2027-11-25T23:59:59+08:00")).verdict, Verdict::Valid);
    let o = v(at("2027-11-26T00:00:00+08:00"));
    assert_eq!(o.verdict, Verdict::Invalid);
    assert!(codes(&o).contains(&"SUSPENDED") && codes(&o).contains(&"ENDORSEMENT_OVERDUE"));
    let o = v(at("2029-11-25T00:00:00+08:00"));
    assert!(codes(&o).contains(&"EXPIRED"), "{:?}", codes(&o));
    let o = v(at("2026-11-24T23:59:59+08:00"));
    assert!(codes(&o).contains(&"NOT_YET_VALID") && codes(&o).contains(&"ISSUED_IN_FUTURE"));
    // Within the clock skew (5 minutes) is fine.
    assert_eq!(
        v(fixed_now() - Duration::minutes(4)).verdict,
        Verdict::Valid
    );
}

#[test]
fn clock_floor_only_applies_to_the_device_clock() {
    let text = common::issue_at(&common::example_applicant(), fixed_now());
    let trust = demo_trust();
    let mut c = ctx(&trust, fixed_now());
    c.clock_floor = Some(fixed_now() + Duration::days(2));
    assert_eq!(verify::verify_text(&text, &c).verdict, Verdict::Valid);
    c.clock_source = verify::ClockSource::System;
    let o = verify::verify_text(&text, &c);
    assert_eq!(o.verdict, Verdict::Indeterminate);
    assert!(codes(&o).contains(&"CLOCK_BEHIND"));
}

#[test]
fn two_codes_in_one_image_are_both_reported() {
    let trust = demo_trust();
    let a = common::issue_at(&common::example_applicant(), fixed_now());
    let (pa, _) = png(&a, Ecc::M);
    let (pu, _) = png("https://example.com/not-a-permit", Ecc::M);
    let ia = image::load_from_memory(&pa).unwrap().to_luma8();
    let iu = image::load_from_memory(&pu).unwrap().to_luma8();
    let mut both = image::GrayImage::from_pixel(
        ia.width() + iu.width() + 40,
        ia.height().max(iu.height()),
        image::Luma([255]),
    );
    both.copy_from(&ia, 0, 0).unwrap();
    both.copy_from(&iu, ia.width() + 40, 0).unwrap();
    let mut bytes = Vec::new();
    both.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    let r = check::check(
        "two.png",
        Input::Image(&bytes),
        &ctx(&trust, fixed_now()),
        &ScanLimits::default(),
    );
    assert_eq!(r.codes.len(), 2);
    assert_eq!(r.verdict, Verdict::Valid);
    assert!(r.reasons.iter().any(|x| x.code == Code::OtherCodesPresent));
    // Two permits side by side: never one chosen silently.
    let mut two =
        image::GrayImage::from_pixel(ia.width() * 2 + 40, ia.height(), image::Luma([255]));
    two.copy_from(&ia, 0, 0).unwrap();
    two.copy_from(&ia, ia.width() + 40, 0).unwrap();
    let mut bytes = Vec::new();
    two.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    let r = check::check(
        "two.png",
        Input::Image(&bytes),
        &ctx(&trust, fixed_now()),
        &ScanLimits::default(),
    );
    assert_eq!(r.verdict, Verdict::Indeterminate);
    assert!(r.reasons.iter().any(|x| x.code == Code::MultipleCodes));
    assert!(r.permit().is_none());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    #[test]
    fn no_single_character_change_verifies(pos in 0usize..2000, c in proptest::char::range('!', '~')) {
        let text = common::issue_at(&common::example_applicant(), fixed_now());
        let trust = demo_trust();
        let i = pos % text.len();
        let mut b = text.clone().into_bytes();
        proptest::prop_assume!(b[i] != c as u8);
        b[i] = c as u8;
        let t = String::from_utf8(b).unwrap();
        let o = verify::verify_text(&t, &ctx(&trust, fixed_now()));
        // Only a change of the prefix's case can be undone by normalisation.
        if t.eq_ignore_ascii_case(&text) && o.verdict == Verdict::Valid {
            proptest::prop_assert!(o.reasons.iter().any(|r| r.code == Code::InputNormalised));
        } else {
            proptest::prop_assert_ne!(o.verdict, Verdict::Valid, "changed {} at {}", c, i);
            proptest::prop_assert!(o.permit.is_none());
        }
    }

    #[test]
    fn verifier_never_panics_on_text(s in "\\PC{0,700}") {
        let trust = demo_trust();
        let _ = verify::verify_text(&s, &ctx(&trust, fixed_now()));
        let _ = verify::verify_text(&format!("GDRP1:{s}"), &ctx(&trust, fixed_now()));
    }

    #[test]
    fn verifier_never_panics_on_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
        let trust = demo_trust();
        let r = check::check("x", Input::Image(&b), &ctx(&trust, fixed_now()), &ScanLimits::default());
        proptest::prop_assert!(r.verdict != Verdict::Valid);
    }
}
