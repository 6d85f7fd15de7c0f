//! Holder binding: the CWT confirmation claim `cnf` (RFC 8747, claim key 8) carrying the holder
//! device's Ed25519 public key as a COSE_Key (RFC 9053 §7.2: `{1: 1 (OKP), -1: 6 (Ed25519),
//! -2: x}`), and the text form of that key in applicant records (the JWK `x`, base64url).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::value::Value;

use super::DecodeError;
use super::claims::claim_err;
use crate::cbor;
use crate::keys::{KeyError, PublicKey};

/// The CWT `cnf` claim key (RFC 8747).
pub const CLAIM_CNF: i64 = 8;
/// The `COSE_Key` member of a `cnf` claim (RFC 8747 §3.2).
const CNF_COSE_KEY: i64 = 1;

/// The `cnf` claim's value for a holder key.
pub(crate) fn cnf_value(key: &PublicKey) -> Value {
    Value::Map(vec![(
        cbor::int(CNF_COSE_KEY),
        Value::Map(vec![
            (cbor::int(1), cbor::int(1)),                           // kty: OKP
            (cbor::int(-1), cbor::int(6)),                          // crv: Ed25519
            (cbor::int(-2), Value::Bytes(key.to_bytes().to_vec())), // x
        ]),
    )])
}

/// Reads a `cnf` claim: exactly the shape [`cnf_value`] writes, with a usable key (canonical,
/// not of small order). The caller compares the re-encoding for canonical form.
pub(crate) fn cnf_from_value(v: &Value) -> Result<PublicKey, DecodeError> {
    let bad = |d: &str| claim_err("cnf", d.to_owned());
    let Value::Map(outer) = v else {
        return Err(bad("not a map"));
    };
    let [(k, inner)] = outer.as_slice() else {
        return Err(bad("must hold exactly one COSE_Key (1)"));
    };
    if cbor::as_i128(k) != Some(1) {
        return Err(bad("must hold exactly one COSE_Key (1)"));
    }
    let Value::Map(members) = inner else {
        return Err(bad("COSE_Key is not a map"));
    };
    let [(k1, kty), (k2, crv), (k3, x)] = members.as_slice() else {
        return Err(bad("COSE_Key must hold exactly kty, crv and x"));
    };
    if cbor::as_i128(k1) != Some(1)
        || cbor::as_i128(k2) != Some(-1)
        || cbor::as_i128(k3) != Some(-2)
    {
        return Err(bad(
            "COSE_Key must hold exactly kty (1), crv (-1) and x (-2)",
        ));
    }
    if cbor::as_i128(kty) != Some(1) || cbor::as_i128(crv) != Some(6) {
        return Err(bad("COSE_Key is not an OKP Ed25519 key"));
    }
    let Value::Bytes(x) = x else {
        return Err(bad("x is not a byte string"));
    };
    let x: [u8; 32] = x
        .as_slice()
        .try_into()
        .map_err(|_| bad("x must be 32 bytes"))?;
    PublicKey::from_bytes(&x).map_err(|e| claim_err("cnf", format!("holder key: {e}")))
}

/// Reads a holder key as written in applicant records: the JWK `x` of an Ed25519 key, 43
/// base64url characters without padding, canonical, a valid key not of small order.
pub fn holder_key_from_x(x: &str) -> Result<PublicKey, KeyError> {
    let raw = URL_SAFE_NO_PAD
        .decode(x.as_bytes())
        .map_err(|_| KeyError::BadJwk("x is not base64url without padding".into()))?;
    let bytes: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::BadJwk(format!("x is {} bytes, not 32", raw.len())))?;
    if URL_SAFE_NO_PAD.encode(bytes) != x {
        return Err(KeyError::BadJwk("x is not canonical base64url".into()));
    }
    PublicKey::from_bytes(&bytes)
}

/// The text form of a holder key ([`holder_key_from_x`] reads it back).
pub fn holder_key_to_x(key: &PublicKey) -> String {
    URL_SAFE_NO_PAD.encode(key.to_bytes())
}
