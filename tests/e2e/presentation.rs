//! Live presentations: the negative vectors in `tests/vectors/presentation/` (expired, from the
//! future beyond the skew, wrong device key, credential swapped under a valid holder signature,
//! view swapped, holder signature over other bytes, replay, bare bound credentials), each with
//! its role, verification time and expected verdict and codes. The files are generated
//! deterministically by the ignored test `regenerate_presentation_vectors`; the normal test reads
//! them back and replays every one through the verifier, a replay vector twice with one replay
//! cache.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use ciborium::value::{Integer, Value};
use serde_json::json;

use permit_shared::credential::{self, Claims};
use permit_shared::keys::SecretKey;
use permit_shared::role::Role;
use permit_verifier::replay::ReplayCache;
use permit_verifier::verify::{self, Context};

use crate::common;

fn dir() -> PathBuf {
    common::repo_dir().join("tests/vectors/presentation")
}

/// The verification time of every vector but the time ones.
const AT: &str = "2026-12-01T10:00:00+08:00";

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(AT).unwrap().to_utc()
}

fn enc(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

fn int(i: i64) -> Value {
    Value::Integer(Integer::from(i))
}

fn device(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32]).unwrap()
}

/// The example claims bound to `device`.
fn bound(device: &SecretKey) -> Claims {
    let mut c = permit_shared::fixtures::example_claims();
    c.holder = Some(*device.public());
    c
}

/// A presentation built by hand: protected `{1: -8, 13: credential}`, payload `{6: iat}`, and
/// the signature given (so that it can be made over other bytes).
fn presentation(credential: &[u8], iat: i64, signature: &[u8; 64]) -> Vec<u8> {
    let protected = enc(&Value::Map(vec![
        (int(1), int(-8)),
        (int(13), Value::Bytes(credential.to_vec())),
    ]));
    let payload = enc(&Value::Map(vec![(int(6), int(iat))]));
    enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(vec![]),
            Value::Bytes(payload),
            Value::Bytes(signature.to_vec()),
        ])),
    ))
}

/// The Sig_structure a holder signs for `credential` at `iat`.
fn tbs(credential: &[u8], iat: i64) -> Vec<u8> {
    let protected = enc(&Value::Map(vec![
        (int(1), int(-8)),
        (int(13), Value::Bytes(credential.to_vec())),
    ]));
    let payload = enc(&Value::Map(vec![(int(6), int(iat))]));
    credential::sig_structure(&protected, &payload)
}

#[test]
#[ignore = "writes tests/vectors/presentation; run with --ignored to regenerate"]
fn regenerate_presentation_vectors() {
    let issuer = permit_issuer::demo::issuer_key().unwrap();
    let alice = device(0xa1);
    let mallory = device(0xb2);
    let full = credential::sign(&bound(&alice), &issuer);
    let basic = credential::sign_view(&bound(&alice).basic_view().unwrap(), &issuer);
    let mallory_full = credential::sign(&bound(&mallory), &issuer);
    let unbound = credential::sign(&permit_shared::fixtures::example_claims(), &issuer);
    let t = at().timestamp() - 10;
    let txt = |b: &[u8]| credential::to_text(b);
    let mut v = Vec::new();
    let mut add = |name: &str,
                   desc: &str,
                   role: &str,
                   at: DateTime<Utc>,
                   text: String,
                   verdict: &str,
                   codes: &[&str],
                   scans: u32| {
        v.push((
            name.to_owned(),
            json!({
                "description": desc,
                "role": role,
                "at": at.to_rfc3339(),
                "scans": scans,
                "expect": { "verdict": verdict, "codes": codes },
                "text": text,
            }),
        ));
    };
    let hotel = txt(&credential::present(&basic, &alice, t));
    let police = txt(&credential::present(&full, &alice, t));
    add(
        "00-valid-hotel",
        "positive control: the basic view presented by the bound device 10 s ago, verified by a hotel",
        "hotel",
        at(),
        hotel.clone(),
        "VALID",
        &["TEST_CREDENTIAL"],
        1,
    );
    add(
        "01-valid-police",
        "positive control: the full credential presented by the bound device 10 s ago, verified by the police",
        "police",
        at(),
        police.clone(),
        "VALID",
        &["TEST_CREDENTIAL"],
        1,
    );
    add(
        "02-expired",
        "the same hotel presentation verified 130 s after it was drawn (window 60 s + skew 30 s)",
        "hotel",
        at() + Duration::seconds(120),
        hotel.clone(),
        "INVALID",
        &["PRESENTATION_EXPIRED"],
        1,
    );
    add(
        "03-from-the-future",
        "a presentation dated 60 s after the verification time (skew 30 s)",
        "hotel",
        at(),
        txt(&credential::present(&basic, &alice, at().timestamp() + 60)),
        "INVALID",
        &["PRESENTATION_EXPIRED"],
        1,
    );
    add(
        "04-wrong-device-key",
        "Alice's credential presented with Mallory's device key",
        "hotel",
        at(),
        txt(&credential::present(&basic, &mallory, t)),
        "INVALID",
        &["HOLDER_SIGNATURE_INVALID"],
        1,
    );
    let alice_sig = alice.sign(&tbs(&full, t));
    add(
        "05-credential-swapped",
        "Alice's valid holder signature over her presentation, with Mallory's (issuer-valid) credential put in its place",
        "police",
        at(),
        txt(&presentation(&mallory_full, t, &alice_sig)),
        "INVALID",
        &["HOLDER_SIGNATURE_INVALID"],
        1,
    );
    let basic_sig = alice.sign(&tbs(&basic, t));
    add(
        "06-view-swapped",
        "Alice's holder signature over her basic-view presentation, with her full credential put in its place",
        "police",
        at(),
        txt(&presentation(&full, t, &basic_sig)),
        "INVALID",
        &["HOLDER_SIGNATURE_INVALID"],
        1,
    );
    let other = alice.sign(&tbs(&basic, t - 3600));
    add(
        "07-signature-over-other-bytes",
        "a holder signature made for another presentation time, put under this one's",
        "hotel",
        at(),
        txt(&presentation(&basic, t, &other)),
        "INVALID",
        &["HOLDER_SIGNATURE_INVALID"],
        1,
    );
    let raw = alice.sign(&basic);
    add(
        "08-signature-over-credential",
        "a holder signature over the credential bytes instead of the Sig_structure",
        "hotel",
        at(),
        txt(&presentation(&basic, t, &raw)),
        "INVALID",
        &["HOLDER_SIGNATURE_INVALID"],
        1,
    );
    add(
        "09-replay",
        "the same presentation scanned twice within its window: the second scan is flagged",
        "hotel",
        at(),
        hotel.clone(),
        "VALID",
        &["PRESENTATION_REPLAYED"],
        2,
    );
    add(
        "10-bare-view",
        "the basic view without a presentation (a screenshot of the bare code)",
        "hotel",
        at(),
        txt(&basic),
        "INVALID",
        &["PRESENTATION_REQUIRED"],
        1,
    );
    add(
        "11-bare-bound-full",
        "the bound full credential without a presentation",
        "police",
        at(),
        txt(&full),
        "INVALID",
        &["PRESENTATION_REQUIRED"],
        1,
    );
    add(
        "12-unbound-presented",
        "a presentation of a credential that binds no device key",
        "police",
        at(),
        txt(&credential::present(&unbound, &alice, t)),
        "INVALID",
        &["HOLDER_SIGNATURE_INVALID"],
        1,
    );
    let mut extra = Value::Map(vec![(int(4), Value::Bytes(vec![1; 8]))]);
    let bad = {
        let mut p: Value =
            ciborium::de::from_reader(credential::present(&basic, &alice, t).as_slice()).unwrap();
        if let Value::Tag(_, inner) = &mut p
            && let Value::Array(items) = inner.as_mut()
        {
            std::mem::swap(&mut items[1], &mut extra);
        }
        enc(&p)
    };
    add(
        "13-unprotected-header",
        "a presentation with a non-empty unprotected header",
        "hotel",
        at(),
        txt(&bad),
        "INVALID",
        &["MALFORMED"],
        1,
    );
    add(
        "14-unbound-card-at-hotel",
        "an unbound full credential (printed card) at a hotel: valid, shown with the hotel's fields only",
        "hotel",
        at(),
        txt(&unbound),
        "VALID",
        &["TEST_CREDENTIAL"],
        1,
    );
    std::fs::create_dir_all(dir()).unwrap();
    for (name, j) in v {
        common::write_vector(&dir(), &name, &j);
    }
}

#[test]
fn presentation_vectors() {
    let trust = common::demo_trust();
    let mut n = 0;
    for f in common::sorted_files(&dir()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let at = DateTime::parse_from_rfc3339(j["at"].as_str().unwrap())
            .unwrap()
            .to_utc();
        let role = Role::parse(j["role"].as_str().unwrap()).unwrap();
        let cache = ReplayCache::default();
        let ctx = Context::new(&trust, at)
            .with_role(role)
            .with_replay(Some(&cache));
        let text = j["text"].as_str().unwrap();
        let mut o = verify::verify_text(text, &ctx);
        for _ in 1..j["scans"].as_u64().unwrap() {
            assert!(
                !o.reasons
                    .iter()
                    .any(|r| r.code.as_str() == "PRESENTATION_REPLAYED"),
                "{name}: the first scan is no replay"
            );
            o = verify::verify_text(text, &ctx);
        }
        assert_eq!(
            o.verdict.as_str(),
            j["expect"]["verdict"],
            "{name}: {:?}",
            o.reasons
        );
        for code in j["expect"]["codes"].as_array().unwrap() {
            assert!(
                o.reasons.iter().any(|r| r.code.as_str() == code),
                "{name}: no {code} in {:?}",
                o.reasons
            );
        }
        // Whatever the verdict, a hotel never sees the address or the full ID number.
        if let Some(p) = &o.permit {
            let v = p.view(true);
            if role.name != "police" {
                assert!(
                    v.residence_address.is_none() && v.id_number.is_none() && v.name.is_none(),
                    "{name}: {v:?}"
                );
            }
        }
        n += 1;
    }
    assert!(n >= 15, "only {n} presentation vectors");
}
