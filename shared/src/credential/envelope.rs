//! The envelope and signature stages: the COSE_Sign1 [`Envelope`] (canonical encoding, protected
//! header `{alg: EdDSA, kid}`), its Sig_structure, [`sign`], and [`Verified`], the only way to the
//! payload.

use ciborium::value::Value;

use super::claims::claim_err;
use super::{
    ALG_EDDSA, Claims, DecodeError, HEADER_ALG, HEADER_KID, HEADER_TYP, MAX_ENVELOPE_BYTES,
    TAG_COSE_SIGN1,
};
use crate::cbor;
use crate::keys::{KEY_ID_LEN, KeyId, PublicKey, SecretKey};

/// A parsed COSE_Sign1 envelope whose signature has not been checked yet. Only the key id is
/// readable; the payload is reachable through [`Envelope::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    protected: Vec<u8>,
    kid: KeyId,
    typ: Option<&'static str>,
    payload: Vec<u8>,
    signature: [u8; 64],
}

pub(crate) fn protected_header(kid: &KeyId, typ: Option<&str>) -> Vec<u8> {
    let mut m = vec![
        (cbor::int(HEADER_ALG), cbor::int(ALG_EDDSA)),
        (cbor::int(HEADER_KID), Value::Bytes(kid.0.to_vec())),
    ];
    if let Some(t) = typ {
        m.push((cbor::int(HEADER_TYP), Value::Text(t.to_owned())));
    }
    cbor::encode(&Value::Map(m))
}

fn envelope_err(detail: impl Into<String>) -> DecodeError {
    DecodeError::Envelope {
        detail: detail.into(),
    }
}

/// The Sig_structure (RFC 9052 §4.4) for a COSE_Sign1 with empty external AAD.
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    cbor::encode(&Value::Array(vec![
        Value::Text("Signature1".to_owned()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

impl Envelope {
    /// Envelope stage: parses and checks a COSE_Sign1: tag 18; protected header exactly
    /// `{1: -8, 4: h'<8 bytes>'}`; empty unprotected header; a byte-string payload; a 64-byte
    /// signature; canonical encoding throughout.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        Self::decode_typed(bytes, MAX_ENVELOPE_BYTES, None, "credential")
    }

    /// Parses a COSE_Sign1 whose protected header must carry `typ` (e.g. a status list), with
    /// its own size cap.
    pub(crate) fn decode_typed(
        bytes: &[u8],
        cap: usize,
        typ: Option<&'static str>,
        what: &'static str,
    ) -> Result<Envelope, DecodeError> {
        if bytes.len() > cap {
            return Err(DecodeError::TooLarge {
                what,
                limit: cap,
                actual: bytes.len(),
            });
        }
        let v = cbor::decode_one(bytes).map_err(envelope_err)?;
        let Value::Tag(TAG_COSE_SIGN1, inner) = v else {
            return Err(envelope_err("not a tagged COSE_Sign1 (tag 18)"));
        };
        let Value::Array(items) = *inner else {
            return Err(envelope_err("COSE_Sign1 is not an array"));
        };
        let [protected, unprotected, payload, signature]: [Value; 4] = items
            .try_into()
            .map_err(|_| envelope_err("COSE_Sign1 must have 4 elements"))?;
        let Value::Bytes(protected) = protected else {
            return Err(envelope_err("protected header is not a byte string"));
        };
        let kid = Self::parse_protected(&protected, typ)?;
        match unprotected {
            Value::Map(m) if m.is_empty() => {}
            Value::Map(_) => return Err(envelope_err("unprotected header must be empty")),
            _ => return Err(envelope_err("unprotected header is not a map")),
        }
        let Value::Bytes(payload) = payload else {
            return Err(envelope_err(
                "payload is not a byte string (detached or nil)",
            ));
        };
        let Value::Bytes(signature) = signature else {
            return Err(envelope_err("signature is not a byte string"));
        };
        let signature: [u8; 64] = signature
            .as_slice()
            .try_into()
            .map_err(|_| envelope_err(format!("signature is {} bytes, not 64", signature.len())))?;
        let env = Envelope {
            protected,
            kid,
            typ,
            payload,
            signature,
        };
        if env.to_bytes() != bytes {
            return Err(DecodeError::NonCanonical { part: "envelope" });
        }
        Ok(env)
    }

    fn parse_protected(bytes: &[u8], typ: Option<&str>) -> Result<KeyId, DecodeError> {
        let v =
            cbor::decode_one(bytes).map_err(|e| envelope_err(format!("protected header: {e}")))?;
        let Value::Map(m) = v else {
            return Err(envelope_err("protected header is not a map"));
        };
        let mut alg = None;
        let mut kid = None;
        let mut found_typ = None;
        for (k, val) in &m {
            match cbor::as_i128(k) {
                Some(1) if alg.is_none() => alg = cbor::as_i128(val),
                Some(16) if found_typ.is_none() => match val {
                    Value::Text(t) => found_typ = Some(t.clone()),
                    _ => return Err(envelope_err("typ must be a text string")),
                },
                Some(4) if kid.is_none() => match val {
                    Value::Bytes(b) if b.len() == KEY_ID_LEN => {
                        let mut id = [0u8; KEY_ID_LEN];
                        id.copy_from_slice(b);
                        kid = Some(KeyId(id));
                    }
                    _ => return Err(envelope_err("kid must be an 8-byte byte string")),
                },
                Some(1 | 4 | 16) => {
                    return Err(envelope_err("duplicate protected header label"));
                }
                _ => return Err(envelope_err("unexpected protected header label")),
            }
        }
        match alg {
            Some(a) if a == i128::from(ALG_EDDSA) => {}
            Some(a) => {
                return Err(envelope_err(format!("algorithm {a} is not EdDSA (-8)")));
            }
            None => return Err(envelope_err("protected header has no algorithm")),
        }
        let kid = kid.ok_or_else(|| envelope_err("protected header has no kid"))?;
        if found_typ.as_deref() != typ {
            return Err(envelope_err(match typ {
                None => "unexpected typ header: this is not a permit credential".to_owned(),
                Some(t) => format!("typ header must be {t}"),
            }));
        }
        if protected_header(&kid, typ) != bytes {
            return Err(DecodeError::NonCanonical {
                part: "protected header",
            });
        }
        Ok(kid)
    }

    /// The key id from the protected header.
    pub fn key_id(&self) -> KeyId {
        self.kid
    }

    /// The canonical bytes of this envelope.
    pub fn to_bytes(&self) -> Vec<u8> {
        cbor::encode(&Value::Tag(
            TAG_COSE_SIGN1,
            Box::new(Value::Array(vec![
                Value::Bytes(self.protected.clone()),
                Value::Map(Vec::new()),
                Value::Bytes(self.payload.clone()),
                Value::Bytes(self.signature.to_vec()),
            ])),
        ))
    }

    /// Signature stage: `verify_strict` over the Sig_structure of the received protected header
    /// and payload bytes. On success the claims become readable.
    pub fn verify(&self, key: &PublicKey) -> Result<Verified<'_>, SignatureInvalid> {
        let tbs = sig_structure(&self.protected, &self.payload);
        if key.verify_strict(&tbs, &self.signature) {
            Ok(Verified {
                payload: &self.payload,
                key_id: key.id(),
                typ: self.typ,
            })
        } else {
            Err(SignatureInvalid)
        }
    }
}

/// The signature did not verify under the key tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct SignatureInvalid;

/// A payload whose signature verified. Only [`Envelope::verify`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    payload: &'a [u8],
    key_id: KeyId,
    typ: Option<&'static str>,
}

impl<'a> Verified<'a> {
    /// Claims stage: decodes and checks the claims (canonical encoding, every field valid).
    pub fn claims(&self) -> Result<Claims, DecodeError> {
        if self.typ.is_some() {
            return Err(claim_err("claims", "not a permit credential"));
        }
        Claims::decode(self.payload)
    }

    /// Claims stage for any view: decodes the full credential or a view by its body claim.
    pub fn credential(&self) -> Result<super::CredentialClaims, DecodeError> {
        if self.typ.is_some() {
            return Err(claim_err("claims", "not a permit credential"));
        }
        super::CredentialClaims::decode(self.payload)
    }

    /// The verified payload bytes of a typed envelope (e.g. a status list), for its own decoder.
    pub(crate) fn typed_payload(&self, typ: &str) -> Option<&'a [u8]> {
        (self.typ == Some(typ)).then_some(self.payload)
    }

    /// The id of the key that verified.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
}

/// Signs claims into a COSE_Sign1 envelope (bytes).
pub fn sign(claims: &Claims, key: &SecretKey) -> Vec<u8> {
    sign_payload(claims.encode(), None, key)
}

/// Signs claims into a COSE_Sign1 envelope (bytes) with a key held elsewhere (an HSM): `sign`
/// gets the Sig_structure bytes and returns the Ed25519 signature of the key `kid`, or its own
/// error, which is passed on. The caller checks what `sign` returned (see the issuer's
/// `Signer`); the envelope is built exactly as by [`sign`].
pub fn sign_with<E>(
    claims: &Claims,
    kid: KeyId,
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<Vec<u8>, E> {
    sign_payload_with(claims.encode(), None, kid, sign)
}

/// Signs a view into a COSE_Sign1 envelope (bytes), exactly as [`sign`] signs a credential.
pub fn sign_view(view: &super::ViewClaims, key: &SecretKey) -> Vec<u8> {
    sign_payload(view.encode(), None, key)
}

/// [`sign_view`] with a key held elsewhere, as [`sign_with`].
pub fn sign_view_with<E>(
    view: &super::ViewClaims,
    kid: KeyId,
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<Vec<u8>, E> {
    sign_payload_with(view.encode(), None, kid, sign)
}

/// Signs a payload into a COSE_Sign1 with an optional `typ` header.
pub(crate) fn sign_payload(
    payload: Vec<u8>,
    typ: Option<&'static str>,
    key: &SecretKey,
) -> Vec<u8> {
    let signed = sign_payload_with(payload, typ, key.public().id(), |tbs| {
        Ok::<_, std::convert::Infallible>(key.sign(tbs))
    });
    match signed {
        Ok(bytes) => bytes,
        Err(never) => match never {},
    }
}

/// Signs a payload into a COSE_Sign1 with an optional `typ` header, through `sign`.
pub(crate) fn sign_payload_with<E>(
    payload: Vec<u8>,
    typ: Option<&'static str>,
    kid: KeyId,
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<Vec<u8>, E> {
    let protected = protected_header(&kid, typ);
    let signature = sign(&sig_structure(&protected, &payload))?;
    Ok(Envelope {
        protected,
        kid,
        typ,
        payload,
        signature,
    }
    .to_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::tests::key;
    use super::*;
    use crate::fixtures::example_claims;

    #[test]
    fn non_canonical_forms_are_refused() {
        let k = key();
        let cose = sign(&example_claims(), &k);
        // Re-encode the array header in the 1-byte-length form (0x98 0x04 instead of 0x84).
        assert_eq!(cose[1], 0x84);
        let mut long = vec![cose[0], 0x98, 0x04];
        long.extend_from_slice(&cose[2..]);
        assert_eq!(
            Envelope::decode(&long),
            Err(DecodeError::NonCanonical { part: "envelope" })
        );
        // Trailing byte.
        let mut trailing = cose.clone();
        trailing.push(0);
        assert!(matches!(
            Envelope::decode(&trailing),
            Err(DecodeError::Envelope { .. })
        ));
        // Untagged.
        assert!(matches!(
            Envelope::decode(&cose[1..]),
            Err(DecodeError::Envelope { .. })
        ));
    }

    #[test]
    fn sign_with_makes_the_same_envelope_and_passes_errors_on() {
        let k = key();
        let claims = example_claims();
        let through = sign_with(&claims, k.public().id(), |tbs| Ok::<_, ()>(k.sign(tbs)));
        assert_eq!(through, Ok(sign(&claims, &k)));
        assert_eq!(
            sign_with(&claims, k.public().id(), |_| Err::<[u8; 64], _>(
                "token gone"
            )),
            Err("token gone")
        );
    }
}
