//! The worked example of `docs/FORMAT.md` §9, recomputed from the code. The ignored test
//! `regenerate_format_worked_example` writes it; `format_worked_example` fails when the document
//! and the code disagree.

use ciborium::value::Value;

use permit_issuer::render::{Ecc, QrMatrix};
use permit_shared::credential::{self, Envelope};

use crate::common::repo_dir;

const START: &str = "<!-- worked-example:start -->\n";
const END: &str = "<!-- worked-example:end -->\n";

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
    let protected = {
        let v: Value = ciborium::de::from_reader(cose.as_slice()).unwrap();
        let Value::Tag(_, a) = v else { unreachable!() };
        let Value::Array(items) = *a else {
            unreachable!()
        };
        let Value::Bytes(p) = &items[0] else {
            unreachable!()
        };
        p.clone()
    };
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

fn doc_with(example: &str) -> (String, String) {
    let path = repo_dir().join("docs/FORMAT.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = doc.split_once(START).unwrap();
    let (_, tail) = rest.split_once(END).unwrap();
    (doc.clone(), format!("{head}{START}{example}{END}{tail}"))
}

#[test]
#[ignore = "rewrites docs/FORMAT.md §9; run with --ignored to regenerate"]
fn regenerate_format_worked_example() {
    let (_, new) = doc_with(&generate());
    std::fs::write(repo_dir().join("docs/FORMAT.md"), new).unwrap();
}

#[test]
fn format_worked_example() {
    let (doc, expected) = doc_with(&generate());
    assert!(
        doc == expected,
        "docs/FORMAT.md §9 is out of date: run `cargo test -p permit-e2e --test e2e regenerate_format_worked_example -- --ignored`"
    );
}
