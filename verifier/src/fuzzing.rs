//! Fuzzing harnesses, shared by the cargo-fuzz targets in `fuzz/` (nightly features through
//! `RUSTC_BOOTSTRAP=1`) and by the corpus replay test `tests/e2e/fuzz_corpus.rs` (stable).
//!
//! Every harness takes arbitrary bytes, returns nothing and must not panic: a panic is a bug
//! found (the replay test and libFuzzer both report it). A few harnesses also assert properties
//! the format promises (the decimal transport is one-to-one; a hand-built canonical envelope is
//! accepted; a permit is returned only for claims that decode), so a broken promise is a crash
//! too.
//!
//! The signing harnesses sign the fuzzer's bytes with the TEST-ONLY demo issuer key (which is in
//! the demo trust list) so that the code after the signature check — claims decoding,
//! canonical checks, trust, time, status and report rendering — is reached by arbitrary input.
//! The trust-list harness signs with the TEST-ONLY demo root for the same reason.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

use permit_shared::credential::{self, Envelope};
use permit_shared::keys::{PublicKey, SecretKey};
use permit_shared::reason::Code;
use permit_shared::status::{self, Status, StatusList, StatusListToken};
use permit_shared::trust::{self, TrustList};

use crate::check::{self, Input};
use crate::scan::ScanLimits;
use crate::verify::{self, ClockSource, Context, Reason, VerifiedStatusList, verify_status_list};
use crate::{demo, normalise};

/// A named harness.
pub type Harness = fn(&[u8]);

/// Every harness with the name of its cargo-fuzz target (and of its corpus directories
/// `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/`).
pub const TARGETS: &[(&str, Harness)] = &[
    ("text", text),
    ("credential", credential),
    ("signed_payload", signed_payload),
    ("signed_claims", signed_claims),
    ("trust_list", trust_list),
    ("status_list", status_list),
    ("image", image),
];

const ISSUER_KEY_PEM: &str = include_str!("../../keys/TEST-ONLY-demo-issuer.key.pem");
const ROOT_KEY_PEM: &str = include_str!("../../keys/TEST-ONLY-demo-root.key.pem");

/// The verification time of the harnesses: 2026-11-25 10:00 China Standard Time.
pub const NOW: i64 = 1_795_572_000;
/// Entries of the fixture status list (covers the example permit's index 1 234 567).
const STATUS_ENTRIES: u64 = 1 << 21;

/// Keys, the demo trust list and a status list, built once.
struct Fixture {
    issuer: SecretKey,
    root: SecretKey,
    root_public: PublicKey,
    trust: TrustList,
    trust_protected: String,
    status: VerifiedStatusList,
    /// A valid credential text (the example claims signed by the demo issuer key).
    example_text: String,
}

fn pem_body(s: &str) -> &str {
    s.find("-----BEGIN").map_or(s, |i| &s[i..])
}

fn build_fixture() -> Option<Fixture> {
    let issuer = SecretKey::from_pkcs8_pem(pem_body(ISSUER_KEY_PEM)).ok()?;
    let root = SecretKey::from_pkcs8_pem(pem_body(ROOT_KEY_PEM)).ok()?;
    let root_public = demo::root().ok()?;
    let trust = TrustList::verify(demo::TRUST_LIST.as_bytes(), &root_public).ok()?;
    let doc: serde_json::Value = serde_json::from_str(demo::TRUST_LIST).ok()?;
    let trust_protected = doc.get("protected")?.as_str()?.to_owned();
    let mut list = StatusList::new(STATUS_ENTRIES);
    for (i, s) in [
        (1, Status::Revoked),
        (2, Status::Suspended),
        (3, Status::Superseded),
    ] {
        list.set(i, s);
    }
    let token = StatusListToken {
        uri: "https://example.invalid/status/1".to_owned(),
        issued_at: NOW - 3600,
        ttl: 86_400,
        sequence: 5,
        list,
    };
    let status = verify_status_list(&token.sign(&issuer), &trust).ok()?;
    let example_text =
        credential::to_text(&credential::sign(&permit_shared::example_claims(), &issuer));
    Some(Fixture {
        issuer,
        root,
        root_public,
        trust,
        trust_protected,
        status,
        example_text,
    })
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(build_fixture).as_ref()
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default()
}

fn context<'a>(trust: &'a TrustList, status: Option<&'a VerifiedStatusList>) -> Context<'a> {
    Context::new(trust, at(NOW)).with_status(status)
}

/// Verifies a text through the report layer and renders both report forms.
fn check_and_render(text: &str, ctx: &Context<'_>) {
    let r = check::check("fuzz", Input::Text(text), ctx, &ScanLimits::default());
    let _ = r.to_json(false);
    let _ = r.to_human(true);
    let _ = r.exit_code();
}

// ---------------------------------------------------------------------------------------------
// Reading the fuzzer's bytes.

/// Reads control values from the front of the input; past the end it yields zeros.
struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

/// The verification context chosen by a 5-byte header: a time offset (in minutes, ±4 years
/// around [`NOW`]) and flags: bit 0 status list, bit 1 device clock, bit 2 clock floor, bit 3 a
/// caller note (refused status list).
fn fuzzed_context<'a>(f: &'a Fixture, b: &mut Bytes<'_>) -> Context<'a> {
    let offset = i64::from(b.u32() as i32) * 60;
    let flags = b.u8();
    let mut ctx = context(&f.trust, (flags & 1 != 0).then_some(&f.status));
    ctx.at = at(NOW.saturating_add(offset));
    if flags & 2 != 0 {
        ctx.clock_source = ClockSource::System;
    }
    if flags & 4 != 0 {
        ctx.clock_floor = Some(at(NOW));
    }
    if flags & 8 != 0 {
        ctx.notes.push(Reason::new(
            Code::StatusListInvalid,
            "the given status list was refused",
        ));
    }
    ctx
}

// ---------------------------------------------------------------------------------------------
// A minimal CBOR writer (for envelopes and claims built around the fuzzer's bytes).

/// Writes a CBOR head; `wide` uses a longer form than needed (non-canonical on purpose).
fn head(out: &mut Vec<u8>, major: u8, v: u64, wide: bool) {
    let m = major << 5;
    let mut width = match v {
        0..=23 => 0,
        24..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 3,
        _ => 4,
    };
    if wide && width < 4 {
        width += 1;
    }
    match width {
        0 => out.push(m | v as u8),
        1 => out.extend([m | 24, v as u8]),
        2 => {
            out.push(m | 25);
            out.extend((v as u16).to_be_bytes());
        }
        3 => {
            out.push(m | 26);
            out.extend((v as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(v.to_be_bytes());
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64, false);
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &[u8]) {
    head(out, 3, s.len() as u64, false);
    out.extend_from_slice(s);
}

fn cbor_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i as u64, false);
    } else {
        head(out, 1, !(i as u64), false);
    }
}

/// A COSE_Sign1 around `payload`, signed by `key`, with an optional `typ` header, in the
/// canonical encoding the decoder requires.
fn sign_cose(payload: &[u8], typ: Option<&str>, key: &SecretKey) -> Vec<u8> {
    let mut protected = Vec::with_capacity(48);
    head(&mut protected, 5, if typ.is_some() { 3 } else { 2 }, false);
    cbor_int(&mut protected, credential::HEADER_ALG);
    cbor_int(&mut protected, credential::ALG_EDDSA);
    cbor_int(&mut protected, credential::HEADER_KID);
    cbor_bytes(&mut protected, &key.public().id().0);
    if let Some(t) = typ {
        cbor_int(&mut protected, credential::HEADER_TYP);
        cbor_text(&mut protected, t.as_bytes());
    }
    let signature = key.sign(&credential::sig_structure(&protected, payload));
    let mut out = Vec::with_capacity(payload.len() + 128);
    head(&mut out, 6, credential::TAG_COSE_SIGN1, false);
    head(&mut out, 4, 4, false);
    cbor_bytes(&mut out, &protected);
    head(&mut out, 5, 0, false);
    cbor_bytes(&mut out, payload);
    cbor_bytes(&mut out, &signature);
    out
}

/// The payload of a COSE_Sign1 as written by `sign_cose` or the issuer (for seeds).
pub fn cose_payload(cose: &[u8]) -> Option<&[u8]> {
    fn bstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&first, rest) = b.split_first()?;
        if first >> 5 != 2 {
            return None;
        }
        let (len, rest) = match first & 31 {
            n @ 0..=23 => (usize::from(n), rest),
            24 => (usize::from(*rest.first()?), rest.get(1..)?),
            25 => (
                usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
                rest.get(2..)?,
            ),
            _ => return None,
        };
        Some((rest.get(..len)?, rest.get(len..)?))
    }
    let rest = cose.strip_prefix(&[0xd2, 0x84])?;
    let (_, rest) = bstr(rest)?;
    let rest = rest.strip_prefix(&[0xa0])?;
    bstr(rest).map(|(p, _)| p)
}

// ---------------------------------------------------------------------------------------------
// 1. Scanner text → credential bytes.

/// Normaliser, prefix classification and decimal transport on arbitrary text. Asserts that the
/// transport is one-to-one: whatever decodes re-encodes to the same text.
pub fn text(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let n = normalise::normalise(&s);
    let _ = credential::classify(&n.text);
    if let Ok(bytes) = credential::from_text(&n.text) {
        assert_eq!(
            credential::to_text(&bytes),
            n.text,
            "transport not one-to-one"
        );
    }
    let _ = credential::from_text(&s);
    if let Ok(bytes) = credential::decimal::decode(&s) {
        assert_eq!(
            credential::decimal::encode(&bytes),
            s,
            "decimal not one-to-one"
        );
    }
    let digits = credential::decimal::encode(data);
    assert_eq!(
        credential::decimal::decode(&digits).ok().as_deref(),
        Some(data),
        "decimal round trip"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Credential parser and full verification of arbitrary bytes or text.

/// The bytes as a COSE_Sign1 envelope (parsed, tried against every trusted key) and as the
/// decimal text of that envelope, verified in full; valid UTF-8 is also verified as scanner
/// text. Both go through the report layer.
pub fn credential(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let ctx = context(&f.trust, Some(&f.status));
    if let Ok(env) = Envelope::decode(data) {
        assert_eq!(
            env.to_bytes(),
            data,
            "envelope accepted in a non-canonical form"
        );
        for k in f.trust.keys_with_id(env.key_id()) {
            if let Ok(v) = env.verify(&k.key) {
                let _ = v.claims();
            }
        }
    }
    let as_text = credential::to_text(data);
    let _ = verify::verify_text(&as_text, &ctx);
    check_and_render(&as_text, &ctx);
    if let Ok(s) = std::str::from_utf8(data) {
        check_and_render(s, &ctx);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Signed by a trusted key: what follows the signature check.

fn verify_signed_permit(f: &Fixture, payload: &[u8], ctx: &Context<'_>) {
    let cose = sign_cose(payload, None, &f.issuer);
    let decoded = Envelope::decode(&cose);
    if cose.len() <= credential::MAX_ENVELOPE_BYTES {
        assert!(decoded.is_ok(), "canonical envelope refused: {decoded:?}");
    }
    let text = credential::to_text(&cose);
    let outcome = verify::verify_text(&text, ctx);
    if let Some(p) = &outcome.permit {
        assert_eq!(
            credential::Claims::decode(payload).ok().as_ref(),
            p.claims(),
            "a permit was returned for claims that do not decode"
        );
        let _ = p.view(true);
        let _ = (p.serial(), p.valid_until(), p.credential().core());
    }
    check_and_render(&text, ctx);
}

/// A 5-byte context header (time offset, flags; see `fuzzed_context`), then the COSE payload,
/// signed with the demo issuer key and verified in full.
pub fn signed_payload(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let mut b = Bytes { data };
    let ctx = fuzzed_context(f, &mut b);
    verify_signed_permit(f, b.data, &ctx);
}

/// Valid values of the permit fields 1 … 14, for the claims builder.
fn good_field(k: u8, out: &mut Vec<u8>) {
    let c = permit_shared::example_claims();
    let p = &c.permit;
    match k {
        1 => cbor_int(out, p.serial as i64),
        2 => cbor_int(out, i64::from(p.version)),
        3 => cbor_text(out, p.name.as_bytes()),
        4 => cbor_text(out, p.id_number.as_str().as_bytes()),
        5 => cbor_int(out, i64::from(p.ethnicity.unwrap_or(1))),
        6 => cbor_int(out, i64::from(p.hukou_division.unwrap_or(430_524))),
        7 => cbor_int(out, i64::from(p.residence_district)),
        8 => cbor_text(out, p.residence_address.as_bytes()),
        9 => cbor_int(out, i64::from(p.authority)),
        10 => cbor_int(out, 20_261_125),
        11 => cbor_int(out, 20_271_125),
        12 => cbor_int(out, p.status_index as i64),
        13 => cbor_bytes(out, &[0x5a; credential::PHOTO_REF_LEN]),
        _ => out.push(0xf5),
    }
}

/// Texts worth trying in text fields.
const TEXTS: &[&str] = &[
    "",
    "欧阳晓燕",
    "A",
    "\u{202e}abc",
    "a\u{200b}b",
    "a\u{0}b",
    "\t",
    " 张三 ",
    "王\u{fe0f}",
    "𠀀𠀁",
    "石牌街道天河北路233号",
    "广东省广州市天河区石牌街道",
    "ab\r\ncd",
    "\u{feff}",
    "ÀÁÂ",
    "0123456789012345678901234567890123456789",
];

/// An ID number with the given 17 digits and its correct GB 11643 check character.
fn id_with_check(digits: &[u8; 17]) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let mut s: String = digits.iter().map(|d| char::from(b'0' + d % 10)).collect();
    let sum: u32 = digits
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d % 10) * w)
        .sum();
    s.push(char::from(C[(sum % 11) as usize]));
    s
}

/// A fuzzed value for permit field `k`, chosen by the next input byte.
fn fuzzed_field(k: u8, b: &mut Bytes<'_>, out: &mut Vec<u8>) {
    let sel = b.u8();
    match sel % 12 {
        0 | 1 => good_field(k, out),
        2 => {
            // A valid value nudged: integers by a small delta, texts with a fuzzed character.
            let mut g = Vec::new();
            good_field(k, &mut g);
            match g.first().map(|x| x >> 5) {
                Some(0) => {
                    let mut v = Vec::new();
                    let good = good_int(k);
                    let delta = i64::from(b.u16() as i16);
                    cbor_int(&mut v, good.saturating_add(delta));
                    out.extend(v);
                }
                Some(3) => {
                    let p = permit_shared::example_claims().permit;
                    let mut s = match k {
                        3 => p.name,
                        4 => p.id_number.as_str().to_owned(),
                        _ => p.residence_address,
                    };
                    let c = char::from_u32(u32::from(b.u16())).unwrap_or('\u{fffd}');
                    let pos = usize::from(b.u8());
                    let idx = s
                        .char_indices()
                        .map(|(i, _)| i)
                        .nth(pos % (s.chars().count() + 1))
                        .unwrap_or(s.len());
                    s.insert(idx, c);
                    cbor_text(out, s.as_bytes());
                }
                _ => out.extend(g),
            }
        }
        3 => cbor_int(out, b.u64() as i64 & i64::MAX),
        4 => {
            let n = usize::from(b.u8() % 48);
            cbor_text(out, String::from_utf8_lossy(b.take(n)).as_bytes());
        }
        5 => {
            let t = TEXTS[usize::from(b.u8()) % TEXTS.len()];
            cbor_text(out, t.as_bytes());
        }
        6 => {
            let n = usize::from(b.u8() % 24);
            cbor_bytes(out, b.take(n));
        }
        7 => match b.u8() % 6 {
            0 => out.push(0xf4),
            1 => out.push(0xf6),
            2 => cbor_int(out, -1 - i64::from(b.u16())),
            3 => out.extend([0xf9, 0x3c, 0x00]),
            4 => out.extend([0x80]),
            _ => out.extend([0xc1, 0x00]),
        },
        8 => {
            // An ID number with a correct check digit (reaches the birth-date and region
            // checks).
            let mut d = [0u8; 17];
            for x in &mut d {
                *x = b.u8();
            }
            if b.u8() & 1 == 0 {
                // Keep the example's region or a HK/MO/TW prefix, fuzz the rest.
                let pre: &[u8; 6] = match b.u8() % 4 {
                    0 => b"430524",
                    1 => b"810000",
                    2 => b"820000",
                    _ => b"830000",
                };
                for (x, p) in d.iter_mut().zip(pre) {
                    *x = p - b'0';
                }
            }
            cbor_text(out, id_with_check(&d).as_bytes());
        }
        9 => {
            // A date-like integer YYYYMMDD.
            let y = 1900 + i64::from(b.u8()) + i64::from(b.u8() % 2) * 100;
            let m = i64::from(b.u8() % 14);
            let d = i64::from(b.u8() % 33);
            cbor_int(out, y * 10_000 + m * 100 + d);
        }
        10 => {
            // The good value, encoded with a longer head than needed.
            let v = good_int(k);
            if v >= 0 {
                head(out, 0, v as u64, true);
            } else {
                good_field(k, out);
            }
        }
        _ => {
            // A division-like code.
            let v = [
                440_106, 440_100, 441_900, 442_000, 440_300, 810_000, 110_101, 440_000, 0,
            ];
            let i = usize::from(b.u8()) % v.len();
            cbor_int(out, v[i] + i64::from(b.u8() % 8));
        }
    }
}

fn good_int(k: u8) -> i64 {
    let mut g = Vec::new();
    good_field(k, &mut g);
    let Some((&first, rest)) = g.split_first() else {
        return 0;
    };
    if first >> 5 != 0 {
        return -1;
    }
    match first & 31 {
        n @ 0..=23 => i64::from(n),
        w => {
            let n = match w {
                24 => 1,
                25 => 2,
                26 => 4,
                _ => 8,
            };
            rest.iter()
                .take(n)
                .fold(0i64, |a, x| a << 8 | i64::from(*x))
        }
    }
}

/// A permit claims set built from the input: a 5-byte context header, then one control byte per
/// field (which top-level claims and permit fields are present, in which order, with which
/// kind of value: valid, nudged, random integer, random or tricky text, bytes, other types, an
/// ID number with a correct check digit, a date-like integer, a non-canonical head, a
/// division-like code). The claims are signed with the demo issuer key and verified in full.
pub fn signed_claims(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let mut b = Bytes { data };
    let ctx = fuzzed_context(f, &mut b);
    let payload = claims_payload(&mut b);
    verify_signed_permit(f, &payload, &ctx);
}

/// The claims payload of [`signed_claims`], built from the control bytes after the header.
fn claims_payload(b: &mut Bytes<'_>) -> Vec<u8> {
    let c = permit_shared::example_claims();
    let shape = b.u8();
    let mut top: Vec<Vec<u8>> = Vec::new();
    // exp (4)
    if shape & 1 == 0 {
        let mut e = Vec::new();
        cbor_int(&mut e, credential::CLAIM_EXP);
        match b.u8() % 4 {
            0 => cbor_int(&mut e, c.expires_at),
            1 => cbor_int(&mut e, c.expires_at + i64::from(b.u16() as i16) * 86_400),
            2 => cbor_int(&mut e, b.u64() as i64),
            _ => cbor_int(
                &mut e,
                (c.issued_at + i64::from(b.u32())) / 86_400 * 86_400 - 28_800,
            ),
        }
        top.push(e);
    }
    // iat (6)
    if shape & 2 == 0 {
        let mut e = Vec::new();
        cbor_int(&mut e, credential::CLAIM_IAT);
        match b.u8() % 3 {
            0 => cbor_int(&mut e, c.issued_at),
            1 => cbor_int(&mut e, c.issued_at + i64::from(b.u32() as i32)),
            _ => cbor_int(&mut e, b.u64() as i64),
        }
        top.push(e);
    }
    // permit (-65537)
    if shape & 4 == 0 {
        let mut e = Vec::new();
        cbor_int(&mut e, credential::CLAIM_PERMIT);
        let mask = b.u16();
        let fields: Vec<u8> = (1..=14u8)
            .filter(|k| mask & (1 << (k - 1)) == 0 || (*k == 14 && mask & 0x8000 != 0))
            .collect();
        head(&mut e, 5, fields.len() as u64, false);
        let mut entries: Vec<Vec<u8>> = fields
            .iter()
            .map(|&k| {
                let mut v = Vec::new();
                cbor_int(&mut v, i64::from(k));
                fuzzed_field(k, b, &mut v);
                v
            })
            .collect();
        if shape & 0x40 != 0 && entries.len() >= 2 {
            let i = usize::from(b.u8()) % (entries.len() - 1);
            entries.swap(i, i + 1);
        }
        e.extend(entries.concat());
        top.push(e);
    }
    if shape & 8 != 0 {
        // An extra claim.
        let mut e = Vec::new();
        cbor_int(&mut e, i64::from(b.u8()) - 128);
        cbor_int(&mut e, 0);
        top.push(e);
    }
    if shape & 0x10 != 0 && top.len() >= 2 {
        top.swap(0, 1);
    }
    let mut payload = Vec::with_capacity(256);
    head(&mut payload, 5, top.len() as u64, shape & 0x20 != 0);
    payload.extend(top.concat());
    if shape & 0x80 != 0 {
        // Trailing bytes after the claims map.
        payload.extend(b.take(4));
    }
    payload
}

// ---------------------------------------------------------------------------------------------
// 4. Trust list.

fn base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, x)| a | u32::from(*x) << (16 - 8 * i));
        for i in 0..=c.len() {
            s.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    s
}

/// The bytes as a trust-list document (verified against the demo root; also read unverified),
/// then as the payload of a document signed by the demo root; a list that verifies is used to
/// verify the example credential and the fixture status list.
pub fn trust_list(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let _ = TrustList::verify(data, &f.root_public);
    if let Ok(body) = trust::dangerous_read_unverified_body(data) {
        let _ = trust::sign(&body, &f.root);
    }
    let payload = base64url(data);
    let input = format!("{}.{payload}", f.trust_protected);
    let doc = format!(
        "{{\"protected\":\"{}\",\"payload\":\"{payload}\",\"signature\":\"{}\"}}",
        f.trust_protected,
        base64url(&f.root.sign(input.as_bytes()))
    );
    match TrustList::verify(doc.as_bytes(), &f.root_public) {
        Ok(tl) => {
            let ctx = context(&tl, None);
            check_and_render(&f.example_text, &ctx);
            if let Ok(s) = verify_status_list(&status_fixture_bytes(f), &tl) {
                let ctx = context(&tl, Some(&s));
                let _ = verify::verify_text(&f.example_text, &ctx);
            }
        }
        Err(e) => {
            assert!(
                !matches!(
                    e,
                    trust::TrustError::Signature
                        | trust::TrustError::WrongRoot { .. }
                        | trust::TrustError::Shape(_)
                ),
                "a document signed by the root was refused before its content: {e}"
            );
        }
    }
}

fn status_fixture_bytes(f: &Fixture) -> Vec<u8> {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| f.status.token.sign(&f.issuer)).clone()
}

// ---------------------------------------------------------------------------------------------
// 5. Status list.

/// The bytes as a signed status-list token (envelope and full check against the demo trust
/// list), then as the claims of a status list signed by the demo issuer key; a list that
/// verifies is used to verify the example credential.
pub fn status_list(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let _ = StatusListToken::envelope(data);
    if let Ok(s) = verify_status_list(data, &f.trust) {
        let ctx = context(&f.trust, Some(&s));
        let _ = verify::verify_text(&f.example_text, &ctx);
    }
    let cose = sign_cose(data, Some(status::TYP), &f.issuer);
    match verify_status_list(&cose, &f.trust) {
        Ok(s) => {
            let n = s.token.list.len();
            for i in [0, 1, n / 2, n.saturating_sub(1), n, u64::MAX] {
                let _ = s.token.list.get(i);
            }
            let _ = s.token.next_update();
            let ctx = context(&f.trust, Some(&s));
            check_and_render(&f.example_text, &ctx);
        }
        Err(e) => assert!(
            !matches!(
                e,
                verify::StatusListError::Signature | verify::StatusListError::KeyUnknown(_)
            ),
            "a status list signed by a trusted key was refused before its content: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Image decoding.

/// Low caps, so that executions stay fast.
pub fn image_limits() -> ScanLimits {
    ScanLimits {
        max_file_bytes: 256 * 1024,
        max_width: 1024,
        max_height: 1024,
        max_pixels: 160_000,
        max_alloc_bytes: 8 * 1024 * 1024,
        max_codes: 4,
        max_text_bytes: 8 * 1024,
        time_budget: Duration::from_millis(20),
    }
}

/// The bytes as an image file, scanned with low caps; every code found is verified and the
/// report rendered.
///
/// The scanner contains panics of the QR decoder crate (reported as `DECODER_PANICKED`); the
/// cargo-fuzz target therefore restores the default panic hook, so that only a panic that
/// escapes the product code aborts.
pub fn image(data: &[u8]) {
    let Some(f) = fixture() else { return };
    let ctx = context(&f.trust, Some(&f.status));
    let r = check::check("fuzz", Input::Image(data), &ctx, &image_limits());
    let _ = r.to_json(false);
    let _ = r.to_human(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_builds_and_harnesses_accept_empty_input() {
        assert!(fixture().is_some());
        for (_, h) in TARGETS {
            h(&[]);
        }
    }

    #[test]
    fn base64url_matches_the_alphabet() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn hand_built_envelope_matches_the_library() {
        let f = fixture().unwrap();
        let c = permit_shared::example_claims();
        let lib = credential::sign(&c, &f.issuer);
        let ours = sign_cose(&c.encode(), None, &f.issuer);
        assert_eq!(lib, ours);
        assert_eq!(cose_payload(&ours), Some(c.encode().as_slice()));
        let st = f.status.token.sign(&f.issuer);
        let p = cose_payload(&st).unwrap();
        assert_eq!(sign_cose(p, Some(status::TYP), &f.issuer), st);
    }

    #[test]
    fn signed_claims_with_good_values_verify() {
        // All-zero control bytes select the valid value of every field: the claims decode and
        // the permit verifies (the harness reaches past the signature and the claims checks).
        let f = fixture().unwrap();
        let data = vec![0u8; 69];
        let mut b = Bytes { data: &data };
        let ctx = fuzzed_context(f, &mut b);
        assert!(ctx.status.is_none());
        let payload = claims_payload(&mut b);
        assert!(credential::Claims::decode(&payload).is_ok());
        let text = credential::to_text(&sign_cose(&payload, None, &f.issuer));
        let outcome = verify::verify_text(&text, &ctx);
        assert!(outcome.permit.is_some(), "{outcome:?}");
        signed_claims(&data);
    }

    #[test]
    fn signed_payload_reaches_the_permit() {
        let f = fixture().unwrap();
        let mut data = vec![0u8; 5];
        data.extend(permit_shared::example_claims().encode());
        let mut b = Bytes { data: &data };
        let ctx = fuzzed_context(f, &mut b);
        let text = credential::to_text(&sign_cose(b.data, None, &f.issuer));
        assert!(verify::verify_text(&text, &ctx).permit.is_some());
        signed_payload(&data);
    }
}
