//! Thin helpers over `ciborium` for the deterministic CBOR (RFC 8949 §4.2.1) used by the
//! credential and the status list: decode exactly one item from a capped slice, encode values
//! whose maps we build in canonical key order.

use ciborium::value::{Integer, Value};

/// Decodes exactly one CBOR data item from `bytes`; trailing bytes are an error.
pub(crate) fn decode_one(bytes: &[u8]) -> Result<Value, String> {
    let mut rest = bytes;
    let v: Value =
        ciborium::de::from_reader_with_recursion_limit(&mut rest, 16).map_err(|e| match e {
            ciborium::de::Error::Io(_) => "truncated CBOR".to_owned(),
            ciborium::de::Error::Syntax(off) => format!("CBOR syntax error at byte {off}"),
            ciborium::de::Error::Semantic(off, m) => match off {
                Some(o) => format!("CBOR error at byte {o}: {m}"),
                None => format!("CBOR error: {m}"),
            },
            ciborium::de::Error::RecursionLimitExceeded => "CBOR nested too deeply".to_owned(),
        })?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the CBOR item", rest.len()));
    }
    Ok(v)
}

/// Encodes a value (maps must already be in canonical order).
pub(crate) fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing to a Vec cannot fail.
    let _ = ciborium::ser::into_writer(v, &mut out);
    out
}

/// An integer value.
pub(crate) fn int(i: i64) -> Value {
    Value::Integer(Integer::from(i))
}

/// An unsigned integer value.
pub(crate) fn uint(u: u64) -> Value {
    Value::Integer(Integer::from(u))
}

/// The integer of a value, if it is one.
pub(crate) fn as_i128(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

/// The non-negative integer of a value, if it is one that fits in u64.
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    as_i128(v).and_then(|i| u64::try_from(i).ok())
}
