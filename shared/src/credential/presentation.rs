//! Live presentations: a COSE_Sign1 signed by the holder's device key whose protected header
//! carries the credential (COSE header `kcwt`, 13, as in SD-CWT's key-binding token) and whose
//! payload is `{6: iat}`, the moment the holder's app drew the code. The verifier checks the
//! credential as usual, then this signature under the credential's `cnf` key, then the time
//! window. A screenshot stops working when the window ends.

use ciborium::value::Value;

use super::{ALG_EDDSA, CLAIM_IAT, DecodeError, HEADER_ALG, MAX_ENVELOPE_BYTES, TAG_COSE_SIGN1};
use super::{SignatureInvalid, sig_structure};
use crate::cbor;
use crate::keys::{PublicKey, SecretKey};

/// The COSE header label that carries the credential (`kcwt`, RFC 9528 §10.6).
pub const HEADER_KCWT: i64 = 13;

/// A parsed presentation whose holder signature has not been checked yet: the credential
/// inside is readable (it has its own issuer signature); the presentation time is readable only
/// through [`Presentation::verify_holder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    protected: Vec<u8>,
    credential: Vec<u8>,
    payload: Vec<u8>,
    presented_at: i64,
    signature: [u8; 64],
}

fn err(detail: impl Into<String>) -> DecodeError {
    DecodeError::Envelope {
        detail: format!("presentation: {}", detail.into()),
    }
}

fn protected_header(credential: &[u8]) -> Vec<u8> {
    cbor::encode(&Value::Map(vec![
        (cbor::int(HEADER_ALG), cbor::int(ALG_EDDSA)),
        (cbor::int(HEADER_KCWT), Value::Bytes(credential.to_vec())),
    ]))
}

fn payload(presented_at: i64) -> Vec<u8> {
    cbor::encode(&Value::Map(vec![(
        cbor::int(CLAIM_IAT),
        cbor::int(presented_at),
    )]))
}

fn encode(protected: &[u8], payload: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    cbor::encode(&Value::Tag(
        TAG_COSE_SIGN1,
        Box::new(Value::Array(vec![
            Value::Bytes(protected.to_vec()),
            Value::Map(Vec::new()),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signature.to_vec()),
        ])),
    ))
}

/// Whether COSE_Sign1 bytes are a presentation (their protected header carries `kcwt`) rather
/// than a credential. Looks only at the structure; [`Presentation::decode`] checks it.
pub fn is_presentation(bytes: &[u8]) -> bool {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return false;
    }
    let Ok(Value::Tag(TAG_COSE_SIGN1, inner)) = cbor::decode_one(bytes) else {
        return false;
    };
    let Value::Array(items) = *inner else {
        return false;
    };
    let Some(Value::Bytes(protected)) = items.first() else {
        return false;
    };
    match cbor::decode_one(protected) {
        Ok(Value::Map(m)) => m
            .iter()
            .any(|(k, _)| cbor::as_i128(k) == Some(HEADER_KCWT.into())),
        _ => false,
    }
}

impl Presentation {
    /// Parses a presentation: tag 18; protected header exactly `{1: -8, 13: bstr}`; empty
    /// unprotected header; payload exactly `{6: uint ≤ 2^40}`; 64-byte signature; canonical
    /// encoding throughout; at most [`MAX_ENVELOPE_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Presentation, DecodeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(DecodeError::TooLarge {
                what: "presentation",
                limit: MAX_ENVELOPE_BYTES,
                actual: bytes.len(),
            });
        }
        let v = cbor::decode_one(bytes).map_err(err)?;
        let Value::Tag(TAG_COSE_SIGN1, inner) = v else {
            return Err(err("not a tagged COSE_Sign1 (tag 18)"));
        };
        let Value::Array(items) = *inner else {
            return Err(err("COSE_Sign1 is not an array"));
        };
        let [protected, unprotected, payload_v, signature]: [Value; 4] = items
            .try_into()
            .map_err(|_| err("COSE_Sign1 must have 4 elements"))?;
        let Value::Bytes(protected) = protected else {
            return Err(err("protected header is not a byte string"));
        };
        let credential = match cbor::decode_one(&protected).map_err(err)? {
            Value::Map(m) => match <[(Value, Value); 2]>::try_from(m) {
                Ok([(k1, alg), (k2, Value::Bytes(cred))])
                    if cbor::as_i128(&k1) == Some(HEADER_ALG.into())
                        && cbor::as_i128(&k2) == Some(HEADER_KCWT.into()) =>
                {
                    if cbor::as_i128(&alg) != Some(ALG_EDDSA.into()) {
                        return Err(err("algorithm is not EdDSA (-8)"));
                    }
                    cred
                }
                _ => {
                    return Err(err(
                        "protected header must be exactly {1: -8, 13: credential}",
                    ));
                }
            },
            _ => return Err(err("protected header is not a map")),
        };
        if !matches!(&unprotected, Value::Map(m) if m.is_empty()) {
            return Err(err("unprotected header must be an empty map"));
        }
        let Value::Bytes(payload_b) = payload_v else {
            return Err(err("payload is not a byte string"));
        };
        let presented_at = match cbor::decode_one(&payload_b).map_err(err)? {
            Value::Map(m) => match m.as_slice() {
                [(k, t)] if cbor::as_i128(k) == Some(CLAIM_IAT.into()) => cbor::as_i128(t)
                    .filter(|t| (0..=(1i128 << 40)).contains(t))
                    .map(|t| t as i64)
                    .ok_or_else(|| err("iat is not an integer time in range"))?,
                _ => return Err(err("payload must be exactly {6: iat}")),
            },
            _ => return Err(err("payload is not a map")),
        };
        let Value::Bytes(signature) = signature else {
            return Err(err("signature is not a byte string"));
        };
        let signature: [u8; 64] = signature
            .as_slice()
            .try_into()
            .map_err(|_| err(format!("signature is {} bytes, not 64", signature.len())))?;
        if protected_header(&credential) != protected
            || payload(presented_at) != payload_b
            || encode(&protected, &payload_b, &signature) != bytes
        {
            return Err(DecodeError::NonCanonical {
                part: "presentation",
            });
        }
        Ok(Presentation {
            protected,
            credential,
            payload: payload_b,
            presented_at,
            signature,
        })
    }

    /// The credential's COSE_Sign1 bytes, as received (checked by the caller like any
    /// credential).
    pub fn credential(&self) -> &[u8] {
        &self.credential
    }

    /// The holder signature (the presentation's identity for replay detection: Ed25519
    /// signatures are deterministic, and `verify_strict` refuses malleated ones).
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Checks the holder signature (`verify_strict` over the Sig_structure of the received
    /// protected header, which holds the credential, and payload) under `holder`, the key the
    /// credential binds. Returns the presentation time (Unix seconds).
    pub fn verify_holder(&self, holder: &PublicKey) -> Result<i64, SignatureInvalid> {
        let tbs = sig_structure(&self.protected, &self.payload);
        if holder.verify_strict(&tbs, &self.signature) {
            Ok(self.presented_at)
        } else {
            Err(SignatureInvalid)
        }
    }
}

/// Signs a presentation of `credential` (COSE_Sign1 bytes of a bound credential) with the
/// holder's device key at `presented_at` (Unix seconds, passed in by the caller).
pub fn present(credential: &[u8], device: &SecretKey, presented_at: i64) -> Vec<u8> {
    present_with(credential, presented_at, |tbs| {
        Ok::<_, std::convert::Infallible>(device.sign(tbs))
    })
    .unwrap_or_else(|never| match never {})
}

/// [`present`] with the signature made elsewhere (a phone's key store): `sign` gets the
/// Sig_structure bytes and returns the Ed25519 signature.
pub fn present_with<E>(
    credential: &[u8],
    presented_at: i64,
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<Vec<u8>, E> {
    let protected = protected_header(credential);
    let payload = payload(presented_at);
    let signature = sign(&sig_structure(&protected, &payload))?;
    Ok(encode(&protected, &payload, &signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{Envelope, sign};
    use crate::fixtures::example_claims;

    #[test]
    fn a_presentation_round_trips_and_binds_the_credential() {
        let issuer = SecretKey::from_seed(&[1; 32]).unwrap();
        let device = SecretKey::from_seed(&[2; 32]).unwrap();
        let mut c = example_claims();
        c.holder = Some(*device.public());
        let cred = sign(&c, &issuer);
        let p = present(&cred, &device, 1_800_000_000);
        assert!(is_presentation(&p));
        assert!(!is_presentation(&cred));
        let d = Presentation::decode(&p).unwrap();
        assert_eq!(d.credential(), cred.as_slice());
        assert!(Envelope::decode(d.credential()).is_ok());
        assert_eq!(d.verify_holder(device.public()), Ok(1_800_000_000));
        assert!(d.verify_holder(issuer.public()).is_err());
        // A trailing byte or a changed time breaks the canonical form or the signature.
        let mut long = p.clone();
        long.push(0);
        assert!(Presentation::decode(&long).is_err());
    }
}
