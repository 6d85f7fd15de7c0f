//! The worked example of `docs/FORMAT.md` §9, recomputed from the code. The ignored test
//! `regenerate_format_worked_example` writes it; `format_worked_example` fails when the document
//! and the code disagree.

use ciborium::value::Value;

use permit_issuer::render::{Ecc, QrMatrix};
use permit_shared::credential::{self, Envelope};

use crate::common::repo_dir;

const START: &str = "<!-- worked-example:start -->\n";
const END: &str = "<!-- worked-example:end -->\n";
const P_START: &str = "<!-- presentation-example:start -->\n";
const P_END: &str = "<!-- presentation-example:end -->\n";

fn diag(v: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match v {
        Value::Integer(i) => out.push_str(&i128::from(*i).to_string()),
        Value::Text(t) => out.push_str(&format!("\"{t}\"")),
        Value::Bytes(b) => out.push_str(&format!("h'{}'", hex(b))),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Map(m) => {
            out.push_str("{\n");
            for (i, (k, val)) in m.iter().enumerate() {
                out.push_str(&pad);
                out.push_str("  ");
                diag(k, indent + 1, out);
                out.push_str(": ");
                diag(val, indent + 1, out);
                out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad);
            out.push('}');
        }
        other => out.push_str(&format!("{other:?}")),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn wrap(s: &str, w: usize) -> String {
    s.as_bytes()
        .chunks(w)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn generate() -> String {
    let key = permit_issuer::demo::issuer_key().unwrap();
    let claims = permit_shared::fixtures::example_claims();
    let payload = claims.encode();
    let cose = credential::sign(&claims, &key);
    let env = Envelope::decode(&cose).unwrap();
    let protected = cose_bytes(&cose, 0);
    let tbs = credential::sig_structure(&protected, &payload);
    let sig = &cose[cose.len() - 64..];
    let text = credential::to_text(&cose);
    let mut d = String::new();
    diag(
        &ciborium::de::from_reader(payload.as_slice()).unwrap(),
        0,
        &mut d,
    );
    let vm = QrMatrix::encode(&text, Ecc::M).unwrap().version();
    let vq = QrMatrix::encode(&text, Ecc::Q).unwrap().version();
    let pk = key.public();
    format!(
        "**Key.** `keys/TEST-ONLY-demo-issuer.key.pem`; public key (raw, hex) `{}`; JWK `x` `{}`; key id =
first 8 bytes of SHA-256(public key) = `{}`.

**Claims** (CBOR diagnostic notation; `exp` 1890230400 = 2029-11-25T00:00+08:00, so valid until 2029-11-24;
`iat` 1795536000 = 2026-11-25T00:00+08:00):

```
{d}
```

**Payload** ({} bytes, deterministic CBOR of the claims):

```
{}
```

**Protected header** `{}` = `{{1: -8, 4: h'{}'}}`.

**Sig_structure** (`[\"Signature1\", protected, h'', payload]`, {} bytes) — the message Ed25519 signs:

```
{}
```

**Signature** (Ed25519 is deterministic, so this is reproducible):

```
{}
```

**COSE_Sign1** ({} bytes, `d2 84 4d …` = tag 18, array of 4, protected bstr of 13 bytes):

```
{}
```

**Text** ({} characters; QR version {vm} at ECC M, {vq} at ECC Q):

```
{}
```

Check it with the independent verifier: `python3 scripts/verify_pycose.py --jwk keys/TEST-ONLY-demo-issuer.pub.jwk.json '<text>'`.
",
        hex(&pk.to_bytes()),
        pk.to_jwk().x,
        env.key_id(),
        payload.len(),
        wrap(&hex(&payload), 64),
        hex(&protected),
        env.key_id(),
        tbs.len(),
        wrap(&hex(&tbs), 64),
        wrap(&hex(sig), 64),
        cose.len(),
        wrap(&hex(&cose), 64),
        text.len(),
        wrap(&text, 64),
    )
}

/// Byte-string member `i` of a COSE_Sign1 (0: protected header, 2: payload).
fn cose_bytes(cose: &[u8], i: usize) -> Vec<u8> {
    let v: Value = ciborium::de::from_reader(cose).unwrap();
    let Value::Tag(_, a) = v else { unreachable!() };
    let Value::Array(items) = *a else {
        unreachable!()
    };
    let Value::Bytes(p) = &items[i] else {
        unreachable!()
    };
    p.clone()
}

fn diag_of(bytes: &[u8]) -> String {
    let mut d = String::new();
    diag(&ciborium::de::from_reader(bytes).unwrap(), 0, &mut d);
    d
}

/// The worked example of §10: the example claims bound to a fixed device key, their basic
/// view, and a presentation of each.
pub fn generate_presentation() -> String {
    let issuer = permit_issuer::demo::issuer_key().unwrap();
    let device = permit_shared::keys::SecretKey::from_seed(&[0xa1; 32]).unwrap();
    let mut claims = permit_shared::fixtures::example_claims();
    claims.holder = Some(*device.public());
    let view = claims.basic_view().unwrap();
    let full = credential::sign(&claims, &issuer);
    let basic = credential::sign_view(&view, &issuer);
    // 2026-11-26T09:00:00+08:00
    let t = 1_795_654_800;
    let p_basic = credential::present(&basic, &device, t);
    let p_full = credential::present(&full, &device, t);
    let protected = cose_bytes(&p_basic, 0);
    let payload = cose_bytes(&p_basic, 2);
    let tbs = credential::sig_structure(&protected, &payload);
    let text = credential::to_text(&p_basic);
    let full_text = credential::to_text(&p_full);
    let version = |t: &str| QrMatrix::encode(t, Ecc::M).unwrap().version();
    let dk = device.public();
    format!(
        "**Device key.** Ed25519 from the seed `a1a1…a1` (32 bytes of `a1`, for this example only); public key
(raw, hex) `{}`; JWK `x` `{}`.

**Basic view claims** (the §9 claims bound to the device key; `cnf` is the same in the full credential,
whose payload grows from {} to {} bytes):

```
{}
```

**Basic view credential** (COSE_Sign1 by the demo issuer key, exactly as §3; {} bytes):

```
{}
```

**Presentation** at `iat` {t} = 2026-11-26T09:00:00+08:00 by the device key. Protected header ({} bytes) =
`{{1: -8, 13: h'<the {} bytes above>'}}`; payload `{}` = `{{6: {t}}}`; Sig_structure
`[\"Signature1\", protected, h'', payload]` ({} bytes); signature:

```
{}
```

**Presentation COSE_Sign1** ({} bytes):

```
{}
```

**Text** ({} characters, QR version {} at ECC M; the presentation of the full credential at the same time is
{} characters, version {} at ECC M):

```
{}
```

Check it with the independent verifier, which verifies the credential inside under the issuer key and the
presentation under the `cnf` key: `python3 scripts/verify_pycose.py --jwk keys/TEST-ONLY-demo-issuer.pub.jwk.json '<text>'`.
",
        hex(&dk.to_bytes()),
        dk.to_jwk().x,
        permit_shared::fixtures::example_claims().encode().len(),
        claims.encode().len(),
        diag_of(&view.encode()),
        basic.len(),
        wrap(&hex(&basic), 64),
        protected.len(),
        basic.len(),
        hex(&payload),
        tbs.len(),
        wrap(&hex(&p_basic[p_basic.len() - 64..]), 64),
        p_basic.len(),
        wrap(&hex(&p_basic), 64),
        text.len(),
        version(&text),
        full_text.len(),
        version(&full_text),
        wrap(&text, 64),
    )
}

fn doc_with(example: &str, (start, end): (&str, &str)) -> (String, String) {
    let path = repo_dir().join("docs/FORMAT.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = doc.split_once(start).unwrap();
    let (_, tail) = rest.split_once(end).unwrap();
    (doc.clone(), format!("{head}{start}{example}{end}{tail}"))
}

#[test]
#[ignore = "rewrites docs/FORMAT.md §9 and §10.6; run with --ignored to regenerate"]
fn regenerate_format_worked_example() {
    let (_, new) = doc_with(&generate(), (START, END));
    std::fs::write(repo_dir().join("docs/FORMAT.md"), new).unwrap();
    let (_, new) = doc_with(&generate_presentation(), (P_START, P_END));
    std::fs::write(repo_dir().join("docs/FORMAT.md"), new).unwrap();
}

#[test]
fn format_worked_example() {
    for (example, markers, section) in [
        (generate(), (START, END), "§9"),
        (generate_presentation(), (P_START, P_END), "§10.6"),
    ] {
        let (doc, expected) = doc_with(&example, markers);
        assert!(
            doc == expected,
            "docs/FORMAT.md {section} is out of date: run `cargo test -p permit-e2e --test e2e regenerate_format_worked_example -- --ignored`"
        );
    }
}
