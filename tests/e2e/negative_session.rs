//! Negative vectors that need more than the demo trust list (issue #17): each brings its own
//! root public key (`root`, hex), signed trust list (`trust`), optional signed status list
//! (`status`, hex), optional verifier state (`state`) and clock source (`clock`: `system` or
//! `given`), and is replayed through a [`Session`] as the `verifier` binary opens one. A vector
//! whose trust list must be refused at load expects verdict `REFUSED` and a part of the error
//! (`expect.error`). Keys are fixed seeds, signatures deterministic: regenerating gives the same
//! files.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value as J, json};
use sha2::Digest as _;

use permit_shared::credential::{self, Claims};
use permit_shared::fixtures::{EXAMPLE_STATUS_URI, example_claims};
use permit_shared::keys::{PublicKey, SecretKey};
use permit_shared::status::{self, Status, StatusList, StatusListToken};
use permit_shared::trust::{FORMAT, JWS_TYP, KeyEntry, TrustListBody, Usage};
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::State;
use permit_verifier::verify::{self, ClockSource, Outcome};

/// The device or audit time of every vector here.
const AT: &str = "2026-12-01T10:00:00+08:00";
/// Another issuer's status list.
const URI_B: &str = "https://permits.sz.example.invalid/status/7";
const ISSUER_A: &str = "广州市公安局 (TEST)";
const ISSUER_B: &str = "深圳市公安局 (TEST)";

fn seed(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32]).unwrap()
}
fn root() -> SecretKey {
    seed(41)
}
fn key_a() -> SecretKey {
    seed(42)
}
fn key_b() -> SecretKey {
    seed(43)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(AT).unwrap().to_utc()
}

fn entry(k: &SecretKey, issuer: &str, compromised_since: Option<&str>) -> KeyEntry {
    KeyEntry {
        kid: k.public().id(),
        issuer: issuer.into(),
        jwk: k.public().to_jwk(),
        may_sign: vec![Usage::Permit, Usage::StatusList],
        signing_from: "2026-01-01T00:00:00Z".into(),
        signing_until: "2036-01-01T00:00:00Z".into(),
        verify_until: None,
        compromised_since: compromised_since.map(str::to_owned),
        test: true,
    }
}

fn body(sequence: u64, issued_at: &str, keys: Vec<KeyEntry>) -> TrustListBody {
    TrustListBody {
        format: FORMAT.into(),
        sequence,
        issued_at: issued_at.into(),
        expires_at: "2036-11-01T00:00:00Z".into(),
        publisher: "issue #17 vectors (TEST)".into(),
        test: true,
        keys,
    }
}

/// Signs a trust list as a root key holder would, without the checks of `trust::sign` (which
/// refuses the ambiguous and unprintable lists these vectors need).
fn sign_list(body: &TrustListBody) -> String {
    let header = json!({"alg": "EdDSA", "kid": root().public().id().to_string(), "typ": JWS_TYP});
    let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(body).unwrap());
    let sig = root().sign(format!("{protected}.{payload}").as_bytes());
    let jws = json!({"protected": protected, "payload": payload, "signature": URL_SAFE_NO_PAD.encode(sig)});
    serde_json::to_string_pretty(&jws).unwrap() + "\n"
}

/// The usual trust list: issuers A and B, both clean.
fn two_issuers() -> String {
    sign_list(&body(
        3,
        "2026-11-01T00:00:00Z",
        vec![
            entry(&key_a(), ISSUER_A, None),
            entry(&key_b(), ISSUER_B, None),
        ],
    ))
}

fn status_token(uri: &str, sequence: u64, issued_at: i64, revoked: bool, k: &SecretKey) -> Vec<u8> {
    let mut list = StatusList::new(2_000_000);
    if revoked {
        list.set(example_claims().permit.status_index, Status::Revoked);
    }
    StatusListToken {
        uri: uri.into(),
        issued_at,
        ttl: 86_400,
        sequence,
        list,
    }
    .sign(k)
}

/// The example permit signed by `k`, naming status list `list` (none: an older credential).
fn permit(k: &SecretKey, list: Option<&str>) -> String {
    let mut c: Claims = example_claims();
    c.permit.status_list = list.map(status::list_id);
    credential::to_text(&credential::sign(&c, k))
}

struct V<'a> {
    name: &'a str,
    description: &'a str,
    stage: &'a str,
    text: String,
    trust: String,
    status: Option<Vec<u8>>,
    state: Option<State>,
    system_clock: bool,
    expect: J,
}

fn expect(verdict: &str, codes: &[&str]) -> J {
    json!({"verdict": verdict, "codes": codes})
}

fn refused(error: &str) -> J {
    json!({"verdict": "REFUSED", "codes": [], "error": error})
}

fn state() -> State {
    State {
        format: "gdrp-verifier-state/1".into(),
        ..State::default()
    }
}

/// The vectors, by file name.
pub fn vectors() -> Vec<(String, J)> {
    let now = at().timestamp();
    let day = 86_400;
    let mut v: Vec<V<'_>> = Vec::new();
    let base = |name, description, stage, text, trust, expect| V {
        name,
        description,
        stage,
        text,
        trust,
        status: None,
        state: None,
        system_clock: false,
        expect,
    };
    // 1. Binding a status list to the credential.
    v.push(V {
        status: Some(status_token(URI_B, 9, now - 3600, false, &key_b())),
        ..base(
            "80-status-list-of-another-issuer",
            "issuer A's revoked permit checked against issuer B's current list (B trusted)",
            "status",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INDETERMINATE", &["STATUS_LIST_MISMATCH"]),
        )
    });
    v.push(V {
        status: Some(status_token(EXAMPLE_STATUS_URI, 9, now - 3600, false, &key_b())),
        ..base(
            "81-status-list-of-another-issuer-same-uri",
            "issuer B signs a list whose sub is issuer A's URI: the id matches, the issuer does not",
            "status",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INDETERMINATE", &["STATUS_LIST_MISMATCH"]),
        )
    });
    v.push(V {
        status: Some(status_token(URI_B, 9, now - 3600, false, &key_b())),
        ..base(
            "82-old-credential-list-of-another-key",
            "a credential without field 15, checked against a list signed by another key",
            "status",
            permit(&key_a(), None),
            two_issuers(),
            expect("INDETERMINATE", &["STATUS_LIST_MISMATCH"]),
        )
    });
    v.push(V {
        status: Some(status_token(
            EXAMPLE_STATUS_URI,
            9,
            now - 3600,
            true,
            &key_a(),
        )),
        ..base(
            "83-own-status-list-revoked",
            "control: the list the credential names, signed by its issuer, says revoked",
            "status",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INVALID", &["REVOKED"]),
        )
    });
    v.push(V {
        status: Some(status_token(
            EXAMPLE_STATUS_URI,
            9,
            now - 3600,
            true,
            &key_a(),
        )),
        ..base(
            "84-old-credential-own-key-list-revoked",
            "control: a credential without field 15 and a list signed by its own key: used",
            "status",
            permit(&key_a(), None),
            two_issuers(),
            expect("INVALID", &["REVOKED"]),
        )
    });
    // 2. A compromised key cannot backdate.
    v.push(base(
        "85-compromised-key-backdated",
        "key compromised since 2026-11-30; the permit's iat (2026-11-25) is before that",
        "trust",
        permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
        sign_list(&body(
            3,
            "2026-11-01T00:00:00Z",
            vec![entry(&key_a(), ISSUER_A, Some("2026-11-30T00:00:00Z"))],
        )),
        expect("INVALID", &["KEY_COMPROMISED"]),
    ));
    // 3. The same key twice.
    v.push(base(
        "86-trust-list-key-twice",
        "the same key listed twice, the clean entry first, the compromised one second",
        "trust-list",
        permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
        sign_list(&body(
            3,
            "2026-11-01T00:00:00Z",
            vec![
                entry(&key_a(), ISSUER_A, None),
                entry(&key_a(), ISSUER_A, Some("2026-11-01T00:00:00Z")),
            ],
        )),
        refused("twice"),
    ));
    // 7. Unprintable names in signed lists.
    for (name, issuer, description) in [
        (
            "87-trust-list-issuer-escape",
            "广州市公安局\u{1b}[2J\u{1b}]0;VALID\u{7}",
            "ESC and OSC sequences in an issuer's display name",
        ),
        (
            "88-trust-list-issuer-bidi",
            "广州市公安局 \u{202e}DILAV",
            "a right-to-left override in an issuer's display name",
        ),
    ] {
        v.push(base(
            name,
            description,
            "trust-list",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            sign_list(&body(
                3,
                "2026-11-01T00:00:00Z",
                vec![entry(&key_a(), issuer, None)],
            )),
            refused("issuer"),
        ));
    }
    v.push(V {
        status: Some(status_token(
            "https://x.invalid/\u{1b}]0;VALID\u{7}",
            9,
            now - 3600,
            false,
            &key_a(),
        )),
        ..base(
            "89-status-list-uri-escape",
            "an OSC sequence in a status list's sub URI",
            "status",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INDETERMINATE", &["STATUS_LIST_INVALID"]),
        )
    });
    // 4. Equal sequence, different content.
    let seen_list = status_token(EXAMPLE_STATUS_URI, 9, now - 7200, true, &key_a());
    let mut st = state();
    st.status_sequences.insert(EXAMPLE_STATUS_URI.into(), 9);
    st.status_digests.insert(
        EXAMPLE_STATUS_URI.into(),
        hex(&status::token_digest(&seen_list)),
    );
    v.push(V {
        status: Some(status_token(
            EXAMPLE_STATUS_URI,
            9,
            now - 3600,
            false,
            &key_a(),
        )),
        state: Some(st),
        ..base(
            "90-status-list-same-sequence-other-content",
            "a list with the sequence already seen, without the cancellation the seen one has",
            "status",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INDETERMINATE", &["STATUS_LIST_CONFLICT"]),
        )
    });
    let seen_trust = sign_list(&body(
        3,
        "2026-11-01T00:00:00Z",
        vec![entry(&key_a(), ISSUER_A, Some("2026-11-20T00:00:00Z"))],
    ));
    let payload: J = serde_json::from_str(&seen_trust).unwrap();
    let mut st = state();
    let root_id = root().public().id().to_string();
    st.trust_sequences.insert(root_id.clone(), 3);
    st.trust_digests.insert(
        root_id,
        hex(&sha2::Sha256::digest(
            payload["payload"].as_str().unwrap().as_bytes(),
        )),
    );
    v.push(V {
        state: Some(st),
        ..base(
            "91-trust-list-same-sequence-other-content",
            "a trust list with the sequence already seen, without the compromise the seen one has",
            "trust",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INDETERMINATE", &["TRUST_LIST_CONFLICT"]),
        )
    });
    // 5. A signed time later than the device clock proves the clock wrong at once.
    v.push(V {
        status: Some(status_token(
            EXAMPLE_STATUS_URI,
            9,
            now + 400 * day,
            false,
            &key_a(),
        )),
        state: Some(state()),
        system_clock: true,
        ..base(
            "92-status-list-signed-after-device-clock",
            "device clock 400 days behind the status list loaded in the same session",
            "status",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            two_issuers(),
            expect("INDETERMINATE", &["CLOCK_BEHIND"]),
        )
    });
    v.push(V {
        state: Some(state()),
        system_clock: true,
        ..base(
            "93-trust-list-signed-after-device-clock",
            "device clock 400 days behind the trust list loaded in the same session",
            "trust",
            permit(&key_a(), Some(EXAMPLE_STATUS_URI)),
            sign_list(&body(
                4,
                "2028-01-05T00:00:00Z",
                vec![entry(&key_a(), ISSUER_A, None)],
            )),
            expect("INDETERMINATE", &["CLOCK_BEHIND"]),
        )
    });
    v.into_iter()
        .map(|v| {
            let mut j = json!({
                "description": v.description,
                "stage": v.stage,
                "at": AT,
                "clock": if v.system_clock { "system" } else { "given" },
                "expect": v.expect,
                "text": v.text,
                "root": hex(&root().public().to_bytes()),
                "trust": v.trust,
            });
            if let Some(s) = v.status {
                j["status"] = J::String(hex(&s));
            }
            if let Some(s) = v.state {
                j["state"] = serde_json::to_value(s).unwrap();
            }
            (v.name.to_owned(), j)
        })
        .collect()
}

/// Replays a vector with its own lists: the outcome, or why the session could not open.
pub fn replay(j: &J, at: DateTime<Utc>) -> Result<Outcome, String> {
    let root: [u8; 32] = unhex(j["root"].as_str().unwrap()).try_into().unwrap();
    let root = PublicKey::from_bytes(&root).unwrap();
    let status = j.get("status").map(|s| unhex(s.as_str().unwrap()));
    let state: State = match j.get("state") {
        Some(s) => serde_json::from_value(s.clone()).unwrap(),
        None => State::default(),
    };
    let session = Session::open(SessionInput {
        root: &root,
        trust_document: j["trust"].as_str().unwrap().as_bytes(),
        status: status.as_deref().map(|b| ("status list", b)),
        at,
        clock_source: if j["clock"] == "system" {
            ClockSource::System
        } else {
            ClockSource::Given
        },
        state,
        status_grace: chrono::Duration::hours(24),
    })
    .map_err(|e| e.to_string())?;
    Ok(verify::verify_text(
        j["text"].as_str().unwrap(),
        &session.context(),
    ))
}
