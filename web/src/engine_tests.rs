#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use permit_shared::credential;
use permit_shared::keys::SecretKey;

/// A time inside the reference permit's validity and the demo trust list's.
const AT_MS: f64 = 1_795_600_000_000.0;
const DAY_MS: f64 = 86_400_000.0;

fn permit_text() -> String {
    let pem = include_str!("../../keys/TEST-ONLY-demo-issuer.key.pem");
    let key = SecretKey::from_pkcs8_pem(&pem[pem.find("-----BEGIN").unwrap()..]).unwrap();
    let claims = permit_shared::fixtures::example_claims();
    credential::to_text(&credential::sign(&claims, &key))
}

fn engine() -> Engine {
    Engine::new(
        permit_verifier::demo::ROOT_JWK.as_bytes(),
        permit_verifier::demo::TRUST_LIST.as_bytes(),
        "",
        AT_MS,
    )
    .unwrap()
}

fn codes(report: &Value) -> Vec<String> {
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn valid_permit_text_is_valid_and_sets_the_clock_floor() {
    let mut e = engine();
    let report = e
        .check("text", Input::Text(&permit_text()), 100, AT_MS)
        .unwrap();
    assert_eq!(report["verdict"], "VALID", "{report}");
    assert_eq!(report["schema"], "gdrp-verify/1");
    assert!(report["permit"]["name"].is_string(), "{report}");
    assert!(
        report["permit"].get("id_number").is_none(),
        "ID number masked"
    );
    let state: Value = serde_json::from_str(&e.state_json()).unwrap();
    assert_eq!(state["clock_floor"], "2026-11-25T09:46:40Z", "{state}");
}

#[test]
fn a_hotel_sees_only_its_fields_and_unknown_roles_are_refused() {
    let mut e = engine();
    e.set_role("hotel").unwrap();
    let report = e
        .check("text", Input::Text(&permit_text()), 100, AT_MS)
        .unwrap();
    assert_eq!(report["verdict"], "VALID", "{report}");
    let p = &report["permit"];
    assert_eq!(p["role"], "hotel");
    assert_eq!(p["name_masked"], "欧**燕");
    for absent in [
        "name",
        "residence_address",
        "id_number_masked",
        "hukou_place",
    ] {
        assert!(p.get(absent).is_none(), "{absent}: {p}");
    }
    assert!(e.set_role("bank").unwrap_err().text().starts_with("USAGE"));
}

#[test]
fn altered_permit_is_invalid() {
    let mut text = permit_text();
    let last = text.pop().unwrap();
    text.push(if last == 'A' { 'B' } else { 'A' });
    let report = engine()
        .check("text", Input::Text(&text), 100, AT_MS)
        .unwrap();
    assert_eq!(report["verdict"], "INVALID", "{report}");
}

#[test]
fn clock_behind_the_saved_floor_is_reported_in_verdicts_and_lists() {
    let mut e = engine();
    e.check("text", Input::Text(&permit_text()), 100, AT_MS)
        .unwrap();
    // The page reloads with the saved state, on a device whose clock was set back a day.
    let e = Engine::new(
        permit_verifier::demo::ROOT_JWK.as_bytes(),
        permit_verifier::demo::TRUST_LIST.as_bytes(),
        &e.state_json(),
        AT_MS - DAY_MS,
    )
    .unwrap();
    let mut e = e;
    let report = e
        .check("text", Input::Text(&permit_text()), 100, AT_MS - DAY_MS)
        .unwrap();
    assert!(
        codes(&report).contains(&"CLOCK_BEHIND".to_owned()),
        "{report}"
    );
    assert_ne!(report["verdict"], "VALID");
    let lists = e.lists(AT_MS - DAY_MS).unwrap();
    let warnings: Vec<&str> = lists["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(warnings, ["CLOCK_BEHIND"], "{lists}");
    assert!(
        lists["provenance"]["trust_list"]["age_seconds"].is_i64(),
        "{lists}"
    );
}

#[test]
fn camera_frame_is_scanned_and_verified() {
    let code = qrcode::QrCode::new(permit_text().as_bytes()).unwrap();
    let modules = code.to_colors();
    let n = code.width() as u32;
    let frame = image::RgbaImage::from_fn(1280, 720, |x, y| {
        let (mx, my) = ((x / 6).wrapping_sub(60), (y / 6).wrapping_sub(20));
        let dark = mx < n && my < n && modules[(my * n + mx) as usize] == qrcode::Color::Dark;
        image::Rgba(if dark {
            [20, 20, 30, 255]
        } else {
            [230, 230, 220, 255]
        })
    });
    let mut e = engine();
    let input = Input::Rgba {
        width: 1280,
        height: 720,
        pixels: frame.as_raw(),
    };
    let report = e.check("camera", input, FRAME_BUDGET_MS, AT_MS).unwrap();
    assert_eq!(report["verdict"], "VALID", "{report}");

    let blank = vec![255u8; 64 * 48 * 4];
    let input = Input::Rgba {
        width: 64,
        height: 48,
        pixels: &blank,
    };
    let report = e.check("camera", input, FRAME_BUDGET_MS, AT_MS).unwrap();
    assert_eq!(report["exit_code"], 2, "{report}");
    assert_eq!(codes(&report), ["NO_CODE_FOUND"]);
}

#[test]
fn lists_and_state_that_do_not_verify_are_refused_with_their_code() {
    let other_root = include_str!("../../keys/TEST-ONLY-demo-issuer.pub.jwk.json");
    let err = Engine::new(
        other_root.as_bytes(),
        permit_verifier::demo::TRUST_LIST.as_bytes(),
        "",
        AT_MS,
    )
    .unwrap_err();
    assert_eq!(err.code, "TRUST_LIST_REFUSED", "{err:?}");
    let err = Engine::new(b"not a key", b"{}", "", AT_MS).unwrap_err();
    assert_eq!(err.code, "ROOT_KEY_INVALID");
    let err = Engine::new(
        permit_verifier::demo::ROOT_JWK.as_bytes(),
        permit_verifier::demo::TRUST_LIST.as_bytes(),
        "{\"format\": 3",
        AT_MS,
    )
    .unwrap_err();
    assert_eq!(err.code, "STATE_UNREADABLE");

    let mut e = engine();
    let err = e.load_status("status.cwt", b"garbage", AT_MS).unwrap_err();
    assert_eq!(err.code, "STATUS_LIST_INVALID", "{err:?}");
    assert!(err.message.contains("status.cwt"), "{err:?}");
    assert_eq!(e.lists(AT_MS).unwrap()["status_loaded"], Value::Null);
    let err = e.load_trust(b"{\"not\": \"a list\"}", AT_MS).unwrap_err();
    assert_eq!(err.code, "TRUST_LIST_REFUSED");
    // The previous trust list is still in use.
    let report = e
        .check("text", Input::Text(&permit_text()), 100, AT_MS)
        .unwrap();
    assert_eq!(report["verdict"], "VALID", "{report}");
}

#[test]
fn page_times_that_are_not_times_are_refused() {
    for bad in [f64::NAN, f64::INFINITY, 1e300] {
        assert_eq!(time_from_ms(bad).unwrap_err().code, "CLOCK_INVALID");
    }
    assert_eq!(
        time_from_ms(AT_MS).unwrap().to_rfc3339(),
        "2026-11-25T09:46:40+00:00"
    );
    assert_eq!(engine().lists(f64::NAN).unwrap_err().code, "CLOCK_INVALID");
}
