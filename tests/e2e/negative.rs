//! Negative vectors: one data file per malformation in `tests/vectors/negative/`, each naming
//! the stage that must fail and the reason code it must produce. The files are generated
//! deterministically (Ed25519 signatures are deterministic) by the ignored test
//! `regenerate_negative_vectors`; the normal test reads them back and checks every one. A vector
//! with a `trust` field brings its own root, trust list, status list, verifier state and clock
//! (see `negative_session.rs`) and is replayed through a verifier session.

use std::path::PathBuf;

use ciborium::value::{Integer, Value};
use serde_json::json;

use permit_shared::credential::{self, Claims};
use permit_shared::keys::SecretKey;
use permit_verifier::verify::{self, Verdict};

use crate::common;

fn dir() -> PathBuf {
    common::repo_dir().join("tests/vectors/negative")
}

fn enc(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

fn int(i: i64) -> Value {
    Value::Integer(Integer::from(i))
}

fn demo_key() -> SecretKey {
    permit_issuer::demo::issuer_key().unwrap()
}

fn kid_bytes(k: &SecretKey) -> Vec<u8> {
    k.public().id().0.to_vec()
}

fn protected(k: &SecretKey) -> Vec<u8> {
    enc(&Value::Map(vec![
        (int(1), int(-8)),
        (int(4), Value::Bytes(kid_bytes(k))),
    ]))
}

/// A COSE_Sign1 with the given parts, signed correctly over `protected` and `payload`.
fn cose(k: &SecretKey, protected: Vec<u8>, unprotected: Value, payload: Vec<u8>) -> Vec<u8> {
    let sig = k.sign(&credential::sig_structure(&protected, &payload));
    enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            unprotected,
            Value::Bytes(payload),
            Value::Bytes(sig.to_vec()),
        ])),
    ))
}

fn claims() -> Claims {
    permit_shared::fixtures::example_claims()
}

/// The claims map with one permit-claim entry edited.
fn claims_value(edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Value {
    let mut v: Value = ciborium::de::from_reader(claims().encode().as_slice()).unwrap();
    if let Value::Map(m) = &mut v
        && let Value::Map(p) = &mut m[2].1
    {
        edit(p);
    }
    v
}

fn text(bytes: &[u8]) -> String {
    credential::to_text(bytes)
}

const AT: &str = "2026-12-01T10:00:00+08:00";

#[test]
#[ignore = "writes tests/vectors/negative; run with --ignored to regenerate"]
fn regenerate_negative_vectors() {
    let k = demo_key();
    let good = credential::sign(&claims(), &k);
    let good_text = text(&good);
    let p = protected(&k);
    let payload = claims().encode();
    #[allow(clippy::type_complexity)]
    let mut v: Vec<(String, &str, String, Verdict, Vec<&str>, String)> = Vec::new();
    let mut add = |name: &str,
                   stage: &'static str,
                   t: String,
                   verdict: Verdict,
                   codes: &[&'static str],
                   desc: &str| {
        v.push((
            name.to_owned(),
            stage,
            t,
            verdict,
            codes.to_vec(),
            desc.to_owned(),
        ));
    };
    add(
        "00-valid",
        "none",
        good_text.clone(),
        Verdict::Valid,
        &["TEST_CREDENTIAL"],
        "positive control: the example claims signed with the demo key",
    );
    // prefix
    add(
        "01-url",
        "prefix",
        "https://example.com/permit/123".into(),
        Verdict::Invalid,
        &["NOT_A_PERMIT"],
        "a URL",
    );
    add(
        "02-eu-dcc",
        "prefix",
        "HC1:NCFOXN%TS3DHMSCEQVSU9$BJD$45NL-AH-R6IOOW%IHOT$E08WAWN0%W0AT4V22F".into(),
        Verdict::Invalid,
        &["UNSUPPORTED_FORMAT"],
        "EU DCC prefix",
    );
    add("03-smart-health-card", "prefix", "shc:/56762909524320603460292437404460312229595326546034602925407728043360287028647167452228092861333145643765".into(), Verdict::Invalid, &["UNSUPPORTED_FORMAT"], "SMART Health Card prefix");
    add("04-nz-covid-pass", "prefix", "NZCP:/1/2KCEVIQEIVVWK6JNGEASNICZAEP2KALYDZSGSZB2O5SWEOTOPJRXALTDN53GSZBRHEXGQZLBNR2GQLTOPICRUYMBTIFAIGTUKBAAUYTWMOSGQQDDN5XHIZLYOSBHQJTIOR2HA4Z2F4XXO53XFZ3TGLTPOJTS6MRQGE4C6Y3SMVSGK3TUNFQWY4ZPOYYXQKTIOR2HA4Z2F4XW46TDOAXGG33WNFSDCOJONBSWC3DUNAXG46RPMNXW45DFPB2HGL3WGFTXMZLSONUW63TFGEXDALRQMR2HS4DFQJ2FMZLSNFTGSYLCNRSUG4TFMRSW45DJMFWG6UDVMJWGSY2DN53GSZCQMFZXG4LDOJSWIZLOORUWC3CTOVRGUZLDOSRWSZ3JOZSW4TTBNVSWISTBMNVWUZTBNVUWY6KOMFWWKZ2TOBQXE4TPO5RWI33CNIYTSNRQFUYDILJRGYDVAYFE6VGU4MCDGK7DHLLYWHVPUS2YIDJOA6Y524TD3AZRM263WTY2BE4DPKIF27WKF3UDNNVSVWRDYIYVJ65IRJJJ6Z25M2DO4YZLBHWFQGVQR5ZLIWEQJOZTS3IQ7JTNCFDX".into(), Verdict::Invalid, &["UNSUPPORTED_FORMAT"], "NZ COVID Pass prefix");
    add(
        "05-version-2",
        "prefix",
        good_text.replacen("GDRP1:", "GDRP2:", 1),
        Verdict::Invalid,
        &["UNSUPPORTED_VERSION"],
        "a future format version",
    );
    add(
        "06-version-leading-zero",
        "prefix",
        good_text.replacen("GDRP1:", "GDRP01:", 1),
        Verdict::Invalid,
        &["MALFORMED"],
        "version written with a leading zero",
    );
    add(
        "07-prefix-without-colon",
        "prefix",
        good_text.replacen("GDRP1:", "GDRP1", 1),
        Verdict::Invalid,
        &["MALFORMED"],
        "colon missing after the version",
    );
    // transport
    let mut t = good_text.clone();
    t.replace_range(20..21, "A");
    add(
        "10-non-digit",
        "transport",
        t,
        Verdict::Invalid,
        &["MALFORMED"],
        "a letter among the digits",
    );
    add(
        "11-bad-length",
        "transport",
        good_text[..good_text.len() - 1].to_owned(),
        Verdict::Invalid,
        &["MALFORMED"],
        "one digit missing: the last group has an impossible length",
    );
    let mut t = good_text.clone();
    t.replace_range(6..23, "99999999999999999");
    add(
        "12-group-overflow",
        "transport",
        t,
        Verdict::Invalid,
        &["MALFORMED"],
        "a 17-digit group above 2^56 - 1",
    );
    add(
        "13-too-long",
        "input",
        format!("GDRP1:{}", "1".repeat(9000)),
        Verdict::Invalid,
        &["INPUT_TOO_LARGE"],
        "text longer than the cap, refused before decoding",
    );
    // envelope
    let untagged = enc(&Value::Array(vec![
        Value::Bytes(p.clone()),
        Value::Map(vec![]),
        Value::Bytes(payload.clone()),
        Value::Bytes(vec![0; 64]),
    ]));
    add(
        "20-untagged",
        "envelope",
        text(&untagged),
        Verdict::Invalid,
        &["MALFORMED"],
        "COSE_Sign1 without tag 18",
    );
    let mut wrong_tag = good.clone();
    wrong_tag[0] = 0xd8;
    wrong_tag.insert(1, 98);
    add(
        "21-wrong-tag",
        "envelope",
        text(&wrong_tag),
        Verdict::Invalid,
        &["MALFORMED"],
        "tag 98 (COSE_Sign) instead of 18",
    );
    let three = enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(p.clone()),
            Value::Map(vec![]),
            Value::Bytes(payload.clone()),
        ])),
    ));
    add(
        "22-three-elements",
        "envelope",
        text(&three),
        Verdict::Invalid,
        &["MALFORMED"],
        "COSE_Sign1 array of 3 elements",
    );
    let es256 = enc(&Value::Map(vec![
        (int(1), int(-7)),
        (int(4), Value::Bytes(kid_bytes(&k))),
    ]));
    add(
        "23-alg-es256",
        "envelope",
        text(&cose(&k, es256, Value::Map(vec![]), payload.clone())),
        Verdict::Invalid,
        &["MALFORMED"],
        "algorithm -7 (ES256) in the protected header",
    );
    let no_kid = enc(&Value::Map(vec![(int(1), int(-8))]));
    add(
        "24-no-kid",
        "envelope",
        text(&cose(
            &k,
            no_kid.clone(),
            Value::Map(vec![]),
            payload.clone(),
        )),
        Verdict::Invalid,
        &["MALFORMED"],
        "no key id",
    );
    let short_kid = enc(&Value::Map(vec![
        (int(1), int(-8)),
        (int(4), Value::Bytes(kid_bytes(&k)[..4].to_vec())),
    ]));
    add(
        "25-short-kid",
        "envelope",
        text(&cose(&k, short_kid, Value::Map(vec![]), payload.clone())),
        Verdict::Invalid,
        &["MALFORMED"],
        "a 4-byte key id",
    );
    add(
        "26-kid-unprotected",
        "envelope",
        text(&cose(
            &k,
            no_kid,
            Value::Map(vec![(int(4), Value::Bytes(kid_bytes(&k)))]),
            payload.clone(),
        )),
        Verdict::Invalid,
        &["MALFORMED"],
        "the key id in the unprotected header",
    );
    let detached = enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(p.clone()),
            Value::Map(vec![]),
            Value::Null,
            Value::Bytes(vec![0; 64]),
        ])),
    ));
    add(
        "27-detached-payload",
        "envelope",
        text(&detached),
        Verdict::Invalid,
        &["MALFORMED"],
        "nil payload (detached content)",
    );
    let mut short_sig = good.clone();
    let n = short_sig.len();
    short_sig[n - 65] = 0x3f;
    short_sig.pop();
    add(
        "28-short-signature",
        "envelope",
        text(&short_sig),
        Verdict::Invalid,
        &["MALFORMED"],
        "a 63-byte signature",
    );
    let mut long_len = vec![good[0], 0x98, 0x04];
    long_len.extend_from_slice(&good[2..]);
    add(
        "29-non-shortest-length",
        "envelope",
        text(&long_len),
        Verdict::Invalid,
        &["MALFORMED"],
        "array length in a 1-byte argument (0x98 0x04): not the canonical encoding",
    );
    let mut trailing = good.clone();
    trailing.push(0x00);
    add(
        "30-trailing-byte",
        "envelope",
        text(&trailing),
        Verdict::Invalid,
        &["MALFORMED"],
        "a byte after the COSE_Sign1",
    );
    let mut indefinite = vec![good[0], 0x9f];
    indefinite.extend_from_slice(&good[2..]);
    indefinite.push(0xff);
    add(
        "31-indefinite-array",
        "envelope",
        text(&indefinite),
        Verdict::Invalid,
        &["MALFORMED"],
        "indefinite-length array",
    );
    let extra = enc(&Value::Map(vec![
        (int(1), int(-8)),
        (int(3), int(60)),
        (int(4), Value::Bytes(kid_bytes(&k))),
    ]));
    add(
        "32-extra-protected-header",
        "envelope",
        text(&cose(&k, extra, Value::Map(vec![]), payload.clone())),
        Verdict::Invalid,
        &["MALFORMED"],
        "a content-type header (3) besides alg and kid",
    );
    let swapped = enc(&Value::Map(vec![
        (int(4), Value::Bytes(kid_bytes(&k))),
        (int(1), int(-8)),
    ]));
    add(
        "33-protected-out-of-order",
        "envelope",
        text(&cose(&k, swapped, Value::Map(vec![]), payload.clone())),
        Verdict::Invalid,
        &["MALFORMED"],
        "protected header keys not in canonical order",
    );
    let typed = enc(&Value::Map(vec![
        (int(1), int(-8)),
        (int(4), Value::Bytes(kid_bytes(&k))),
        (int(16), Value::Text("application/statuslist+cwt".into())),
    ]));
    add(
        "34-status-list-typ",
        "envelope",
        text(&cose(&k, typed, Value::Map(vec![]), payload.clone())),
        Verdict::Invalid,
        &["MALFORMED"],
        "a permit payload under the status-list typ header",
    );
    // key and signature
    let other = SecretKey::from_seed(&[9u8; 32]).unwrap();
    add(
        "40-unknown-key",
        "key",
        text(&credential::sign(&claims(), &other)),
        Verdict::Indeterminate,
        &["KEY_UNKNOWN"],
        "signed by a key that is not in the trust list",
    );
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 10] ^= 0x01;
    add(
        "41-signature-bit-flipped",
        "signature",
        text(&flipped),
        Verdict::Invalid,
        &["SIGNATURE_INVALID"],
        "one bit of the signature flipped",
    );
    let mut c2 = claims();
    c2.permit.name = "欧阳晓华".into();
    let changed = enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(p.clone()),
            Value::Map(vec![]),
            Value::Bytes(c2.encode()),
            Value::Bytes(good[good.len() - 64..].to_vec()),
        ])),
    ));
    add(
        "42-payload-changed",
        "signature",
        text(&changed),
        Verdict::Invalid,
        &["SIGNATURE_INVALID"],
        "the name changed, the original signature kept",
    );
    // s + L: the same signature with a non-canonical scalar (verify_strict refuses it).
    let mut high_s = good.clone();
    let n = high_s.len();
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(high_s[n - 32 + i]) + u16::from(l[i]) + carry;
        high_s[n - 32 + i] = s as u8;
        carry = s >> 8;
    }
    add(
        "43-signature-s-plus-l",
        "signature",
        text(&high_s),
        Verdict::Invalid,
        &["SIGNATURE_INVALID"],
        "S replaced by S + L (malleated, non-canonical scalar)",
    );
    // claims, validly signed
    let signed = |v: Value| text(&cose(&k, p.clone(), Value::Map(vec![]), enc(&v)));
    let base: Value = ciborium::de::from_reader(payload.as_slice()).unwrap();
    let Value::Map(bm) = base.clone() else {
        unreachable!()
    };
    let mut with_iss = vec![(int(1), Value::Text("GD".into()))];
    with_iss.extend(bm.clone());
    add(
        "50-extra-claim-iss",
        "claims",
        signed(Value::Map(with_iss)),
        Verdict::Invalid,
        &["MALFORMED"],
        "an iss claim besides exp, iat and the permit",
    );
    add(
        "51-missing-iat",
        "claims",
        signed(Value::Map(vec![bm[0].clone(), bm[2].clone()])),
        Verdict::Invalid,
        &["MALFORMED"],
        "no iat claim",
    );
    add(
        "52-exp-before-iat",
        "claims",
        signed(Value::Map(vec![
            (int(4), int(1_700_000_000)),
            bm[1].clone(),
            bm[2].clone(),
        ])),
        Verdict::Invalid,
        &["MALFORMED"],
        "exp earlier than iat",
    );
    add(
        "53-unknown-permit-field",
        "claims",
        signed(claims_value(|p| p.push((int(16), Value::Text("x".into()))))),
        Verdict::Invalid,
        &["MALFORMED"],
        "permit field key 16 (unknown)",
    );
    add(
        "54-name-bidi-override",
        "claims",
        signed(claims_value(|p| {
            p[2].1 = Value::Text("欧阳\u{202e}晓燕".into())
        })),
        Verdict::Invalid,
        &["MALFORMED"],
        "U+202E in the name",
    );
    add(
        "55-id-checksum",
        "claims",
        signed(claims_value(|p| {
            p[3].1 = Value::Text("430524199107199022".into())
        })),
        Verdict::Invalid,
        &["MALFORMED"],
        "ID number with a wrong check digit",
    );
    add(
        "56-unknown-district",
        "claims",
        signed(claims_value(|p| p[6].1 = int(440199))),
        Verdict::Invalid,
        &["MALFORMED"],
        "residence district 440199 (not a Guangdong district)",
    );
    add(
        "57-lowercase-x",
        "claims",
        signed(claims_value(|p| {
            p[3].1 = Value::Text("11010519491231002x".into());
            p[5].1 = int(110105);
        })),
        Verdict::Invalid,
        &["MALFORMED"],
        "ID number with a lower-case x check character",
    );
    let non_shortest = {
        let mut b = payload.clone();
        // permit map field 2 (version) is encoded `02 01`; re-encode the value as `18 01`.
        let start = b
            .windows(5)
            .position(|w| w == [0x3a, 0x00, 0x01, 0x00, 0x00])
            .unwrap();
        let pos = start
            + b[start..]
                .windows(2)
                .position(|w| w == [0x02, 0x01])
                .unwrap();
        b.splice(pos + 1..pos + 2, [0x18, 0x01]);
        b
    };
    add(
        "58-non-shortest-integer",
        "claims",
        text(&cose(&k, p.clone(), Value::Map(vec![]), non_shortest)),
        Verdict::Invalid,
        &["MALFORMED"],
        "version encoded as 0x18 0x01 instead of 0x01",
    );
    add(
        "59-float-date",
        "claims",
        signed(claims_value(|p| p[9].1 = Value::Float(20_261_125.0))),
        Verdict::Invalid,
        &["MALFORMED"],
        "issue date as a float",
    );
    add(
        "60-duplicate-permit-field",
        "claims",
        signed(claims_value(|p| {
            let d = p[2].clone();
            p.insert(3, d);
        })),
        Verdict::Invalid,
        &["MALFORMED"],
        "the name field twice",
    );
    add(
        "61-test-false-present",
        "claims",
        signed(claims_value(|p| {
            p.last_mut().unwrap().1 = Value::Bool(false)
        })),
        Verdict::Invalid,
        &["MALFORMED"],
        "test: false written out (must be omitted)",
    );
    add(
        "62-claims-out-of-order",
        "claims",
        signed(Value::Map(vec![
            bm[1].clone(),
            bm[0].clone(),
            bm[2].clone(),
        ])),
        Verdict::Invalid,
        &["MALFORMED"],
        "iat before exp in the claims map",
    );
    add(
        "63-issued-before-birth",
        "claims",
        signed(claims_value(|p| {
            p[3].1 = Value::Text("430524202701019024".into());
        })),
        Verdict::Invalid,
        &["MALFORMED"],
        "holder born 2027-01-01, permit issued 2026-11-25",
    );
    add(
        "64-iat-before-issue-date",
        "claims",
        signed(Value::Map(vec![
            bm[0].clone(),
            (int(6), int(claims().issued_at - 1)),
            bm[2].clone(),
        ])),
        Verdict::Invalid,
        &["MALFORMED"],
        "credential signed one second before the start (CST) of the permit's issue date",
    );
    for (name, c, desc) in [
        (
            "65-name-noncharacter-ffff",
            '\u{FFFF}',
            "U+FFFF in the name",
        ),
        (
            "66-name-noncharacter-fdd0",
            '\u{FDD0}',
            "U+FDD0 in the name",
        ),
        (
            "67-name-noncharacter-10ffff",
            '\u{10FFFF}',
            "U+10FFFF in the name",
        ),
    ] {
        add(
            name,
            "claims",
            signed(claims_value(|p| {
                p[2].1 = Value::Text(format!("欧阳{c}晓燕"))
            })),
            Verdict::Invalid,
            &["MALFORMED"],
            desc,
        );
    }
    // time
    let at = |s: &str| s.to_owned();
    let mut time_vectors = vec![
        (
            "70-expired",
            "time",
            good_text.clone(),
            Verdict::Invalid,
            vec!["EXPIRED"],
            "verified after the permit's last valid day",
            at("2029-12-01T10:00:00+08:00"),
        ),
        (
            "71-not-yet-valid",
            "time",
            good_text.clone(),
            Verdict::Invalid,
            vec!["NOT_YET_VALID"],
            "verified before the issue date",
            at("2026-11-20T10:00:00+08:00"),
        ),
        (
            "72-endorsement-overdue",
            "time",
            good_text.clone(),
            Verdict::Invalid,
            vec!["SUSPENDED", "ENDORSEMENT_OVERDUE"],
            "verified the day after the un-endorsed anniversary",
            at("2027-11-26T10:00:00+08:00"),
        ),
    ];
    std::fs::create_dir_all(dir()).unwrap();
    for f in std::fs::read_dir(dir()).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let write = |name: &str,
                 stage: &str,
                 t: &str,
                 verdict: Verdict,
                 codes: &[&str],
                 desc: &str,
                 at: &str| {
        let j = json!({
            "description": desc, "stage": stage, "at": at,
            "expect": { "verdict": verdict.as_str(), "codes": codes }, "text": t,
        });
        std::fs::write(
            dir().join(format!("{name}.json")),
            serde_json::to_string_pretty(&j).unwrap() + "\n",
        )
        .unwrap();
    };
    for (name, stage, t, verdict, codes, desc) in &v {
        write(name, stage, t, *verdict, codes, desc, AT);
    }
    for (name, stage, t, verdict, codes, desc, at) in time_vectors.drain(..) {
        write(name, stage, &t, verdict, &codes, desc, &at);
    }
    for (name, j) in crate::negative_session::vectors() {
        common::write_vector(&dir(), &name, &j);
    }
}

#[test]
fn negative_vectors() {
    let trust = common::demo_trust();
    let mut n = 0;
    for f in common::sorted_files(&dir()) {
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(j["at"].as_str().unwrap())
            .unwrap()
            .to_utc();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let o = if j.get("trust").is_some() {
            // A vector with its own trust list, status list, state and clock.
            match crate::negative_session::replay(&j, at) {
                Ok(o) => o,
                Err(refused) => {
                    assert_eq!(j["expect"]["verdict"], "REFUSED", "{name}: {refused}");
                    assert!(
                        refused.contains(j["expect"]["error"].as_str().unwrap()),
                        "{name}: {refused}"
                    );
                    n += 1;
                    continue;
                }
            }
        } else {
            verify::verify_text(j["text"].as_str().unwrap(), &common::ctx(&trust, at))
        };
        assert_eq!(
            o.verdict.as_str(),
            j["expect"]["verdict"],
            "{name}: {:?}",
            o.reasons
        );
        let stage = j["stage"].as_str().unwrap();
        for code in j["expect"]["codes"].as_array().unwrap() {
            let r = o
                .reasons
                .iter()
                .find(|r| r.code.as_str() == code)
                .unwrap_or_else(|| panic!("{name}: no {code} in {:?}", o.reasons));
            if ["prefix", "transport", "envelope", "claims"].contains(&stage)
                && code != "UNSUPPORTED_FORMAT"
                && code != "NOT_A_PERMIT"
            {
                assert!(
                    r.message.starts_with(&format!("{stage} stage")),
                    "{name}: stage {stage} expected, got {}",
                    r.message
                );
            }
        }
        match stage {
            "claims" | "time" | "none" | "status" | "trust" => assert!(
                o.permit.is_some() == (stage != "claims"),
                "{name}: permit visibility"
            ),
            _ => assert!(o.permit.is_none(), "{name}: a permit must not be readable"),
        }
        n += 1;
    }
    assert!(n >= 65, "only {n} vectors");
}
