//! Status lists: a signed, compressed list of 2-bit statuses, one entry per credential, in the
//! shape of the IETF Token Status List (draft-ietf-oauth-status-list) CWT form:
//! COSE_Sign1 with `typ` `application/statuslist+cwt`, claims `sub` (2, the list's URI), `iat`
//! (6), `ttl` (65534: seconds until the next update), `status_list` (65533:
//! `{"lst": zlib(bytes), "bits": 2}`), plus our `sequence` (-65538: strictly increasing).
//!
//! Status values: 0 valid, 1 revoked (the draft's INVALID), 2 suspended (SUSPENDED), 3
//! superseded (the draft's application-specific value). Entry `i` is bits `2(i mod 4)` and up of
//! byte `i / 4` (least significant bits first), as in the draft.

use ciborium::value::Value;
use std::io::Read as _;

use crate::cbor;
use crate::credential::{self, DecodeError, Envelope, Verified};
use crate::keys::{KeyId, SecretKey};

/// The `typ` header of a status list token.
pub const TYP: &str = "application/statuslist+cwt";
/// CWT `sub`.
pub const CLAIM_SUB: i64 = 2;
/// CWT `iat`.
pub const CLAIM_IAT: i64 = 6;
/// Token Status List `status_list` claim.
pub const CLAIM_STATUS_LIST: i64 = 65533;
/// Token Status List `ttl` claim.
pub const CLAIM_TTL: i64 = 65534;
/// Our sequence number claim (private use).
pub const CLAIM_SEQUENCE: i64 = -65538;
/// Largest signed status list accepted, bytes (before any decoding).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024 * 1024;
/// Most entries accepted (limits the decompressed size to 64 MiB).
pub const MAX_ENTRIES: u64 = 1 << 28;
/// Longest `sub` URI accepted, characters.
pub const MAX_URI_CHARS: usize = 2048;
/// Length of a list id, bytes.
pub const LIST_ID_LEN: usize = 8;

/// SHA-256 of a signed status list token's bytes: a verifier remembers it with the sequence, so
/// that a different list under a sequence already seen is noticed. (Tokens are canonical CBOR
/// with deterministic signatures: the same list always has the same bytes.)
pub fn token_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// The short id by which a permit credential names its status list (permit field 15): the first
/// [`LIST_ID_LEN`] bytes of SHA-256 of the list's `sub` URI (its UTF-8 bytes). Short, to keep
/// the QR code small; a verifier recomputes it from the `sub` of the list it was given.
pub fn list_id(uri: &str) -> [u8; LIST_ID_LEN] {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(uri.as_bytes());
    let mut id = [0u8; LIST_ID_LEN];
    id.copy_from_slice(&h[..LIST_ID_LEN]);
    id
}

/// The status of one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// 0: valid.
    Valid = 0,
    /// 1: revoked (cancelled, 注销).
    Revoked = 1,
    /// 2: suspended (endorsement overdue or other suspension).
    Suspended = 2,
    /// 3: superseded by a newer credential of the same permit.
    Superseded = 3,
}

impl Status {
    fn from_bits(b: u8) -> Status {
        match b & 3 {
            0 => Status::Valid,
            1 => Status::Revoked,
            2 => Status::Suspended,
            _ => Status::Superseded,
        }
    }
}

/// A list of 2-bit statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of `len` entries, all valid. `len` is rounded up to a multiple of 4.
    pub fn new(len: u64) -> StatusList {
        let n = usize::try_from(len.min(MAX_ENTRIES).div_ceil(4)).unwrap_or(0);
        StatusList { bytes: vec![0; n] }
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * 4
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Sets an entry; returns false when out of range.
    pub fn set(&mut self, index: u64, status: Status) -> bool {
        let Some(b) = usize::try_from(index / 4)
            .ok()
            .and_then(|i| self.bytes.get_mut(i))
        else {
            return false;
        };
        let shift = (index % 4) * 2;
        *b = (*b & !(3 << shift)) | ((status as u8) << shift);
        true
    }

    /// Reads an entry.
    pub fn get(&self, index: u64) -> Option<Status> {
        let b = *self.bytes.get(usize::try_from(index / 4).ok()?)?;
        Some(Status::from_bits(b >> ((index % 4) * 2)))
    }

    /// zlib (DEFLATE with the ZLIB format, RFC 1950), best compression, as the draft requires.
    pub fn compress(&self) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = e.write_all(&self.bytes);
        e.finish().unwrap_or_default()
    }

    /// Decompresses with a cap: never more than `MAX_ENTRIES / 4` bytes are produced.
    pub fn decompress(lst: &[u8]) -> Result<StatusList, DecodeError> {
        let cap = MAX_ENTRIES / 4;
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(lst)
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|_| err("lst", "not valid zlib data"))?;
        if out.len() as u64 > cap {
            return Err(err("lst", "more entries than the limit"));
        }
        Ok(StatusList { bytes: out })
    }
}

fn err(field: &'static str, detail: &str) -> DecodeError {
    DecodeError::Claims {
        field,
        detail: detail.to_owned(),
    }
}

/// The content of a signed status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    /// `sub`: the URI this list is published at.
    pub uri: String,
    /// `iat`: signing time, Unix seconds.
    pub issued_at: i64,
    /// `ttl`: seconds after `iat` at which the next list is due.
    pub ttl: u64,
    /// Strictly increasing publication number.
    pub sequence: u64,
    /// The statuses.
    pub list: StatusList,
}

impl StatusListToken {
    /// This list's id ([`list_id`] of its `sub`), as a credential names it.
    pub fn list_id(&self) -> [u8; LIST_ID_LEN] {
        list_id(&self.uri)
    }

    /// When the next list is due, Unix seconds.
    pub fn next_update(&self) -> i64 {
        self.issued_at
            .saturating_add(i64::try_from(self.ttl).unwrap_or(i64::MAX))
    }

    fn payload(&self) -> Vec<u8> {
        self.payload_with(self.list.compress())
    }

    fn payload_with(&self, lst: Vec<u8>) -> Vec<u8> {
        cbor::encode(&Value::Map(vec![
            (cbor::int(CLAIM_SUB), Value::Text(self.uri.clone())),
            (cbor::int(CLAIM_IAT), cbor::int(self.issued_at)),
            (
                cbor::int(CLAIM_STATUS_LIST),
                Value::Map(vec![
                    (Value::Text("lst".into()), Value::Bytes(lst)),
                    (Value::Text("bits".into()), cbor::uint(2)),
                ]),
            ),
            (cbor::int(CLAIM_TTL), cbor::uint(self.ttl)),
            (cbor::int(CLAIM_SEQUENCE), cbor::uint(self.sequence)),
        ]))
    }

    /// Signs the list: COSE_Sign1 bytes.
    pub fn sign(&self, key: &SecretKey) -> Vec<u8> {
        credential::sign_payload(self.payload(), Some(TYP), key)
    }

    /// Signs the list with a key held elsewhere (an HSM): `sign` gets the Sig_structure bytes
    /// and returns the Ed25519 signature of the key `kid`, or its own error, which is passed
    /// on. The same bytes as [`StatusListToken::sign`] with that key.
    pub fn sign_with<E>(
        &self,
        kid: KeyId,
        sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
    ) -> Result<Vec<u8>, E> {
        credential::sign_payload_with(self.payload(), Some(TYP), kid, sign)
    }

    /// Envelope stage for a status list token (size cap, shape, `typ`).
    pub fn envelope(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        Envelope::decode_typed(bytes, MAX_TOKEN_BYTES, Some(TYP), "status list")
    }

    /// Claims stage, after the signature verified.
    pub fn from_verified(v: &Verified<'_>) -> Result<StatusListToken, DecodeError> {
        let payload = v
            .typed_payload(TYP)
            .ok_or_else(|| err("typ", "not a status list"))?;
        let Value::Map(m) = cbor::decode_one(payload).map_err(|e| err("claims", &e))? else {
            return Err(err("claims", "not a map"));
        };
        let [(k1, sub), (k2, iat), (k3, sl), (k4, ttl), (k5, seq)]: [(Value, Value); 5] =
            m.try_into().map_err(|_| {
                err(
                    "claims",
                    "must hold exactly sub, iat, status_list, ttl, sequence",
                )
            })?;
        let keys = [k1, k2, k3, k4, k5].map(|k| cbor::as_i128(&k));
        if keys
            != [
                CLAIM_SUB,
                CLAIM_IAT,
                CLAIM_STATUS_LIST,
                CLAIM_TTL,
                CLAIM_SEQUENCE,
            ]
            .map(|k| Some(i128::from(k)))
        {
            return Err(err("claims", "unexpected claim keys or order"));
        }
        let Value::Text(uri) = sub else {
            return Err(err("sub", "not a text string"));
        };
        // The URI is shown to a person next to verdicts: the text rules apply to it.
        crate::text::check(&uri, MAX_URI_CHARS).map_err(|e| err("sub", &e.to_string()))?;
        let issued_at = cbor::as_i128(&iat)
            .filter(|t| (0..=(1i128 << 40)).contains(t))
            .map(|t| t as i64)
            .ok_or_else(|| err("iat", "not a time in range"))?;
        let ttl = cbor::as_u64(&ttl)
            .filter(|t| *t <= 366 * 86400)
            .ok_or_else(|| err("ttl", "not a duration up to a year"))?;
        let sequence =
            cbor::as_u64(&seq).ok_or_else(|| err("sequence", "not an unsigned integer"))?;
        let Value::Map(slm) = sl else {
            return Err(err("status_list", "not a map"));
        };
        let [(lk, lst), (bk, bits)]: [(Value, Value); 2] = slm
            .try_into()
            .map_err(|_| err("status_list", "must hold exactly lst and bits"))?;
        if lk != Value::Text("lst".into()) || bk != Value::Text("bits".into()) {
            return Err(err("status_list", "keys must be lst, bits"));
        }
        if cbor::as_u64(&bits) != Some(2) {
            return Err(err("bits", "only 2-bit lists are supported"));
        }
        let Value::Bytes(lst) = lst else {
            return Err(err("lst", "not a byte string"));
        };
        let token = StatusListToken {
            uri,
            issued_at,
            ttl,
            sequence,
            list: StatusList::decompress(&lst)?,
        };
        // Canonical CBOR around the (opaque) compressed bytes.
        if token.payload_with(lst) != payload {
            return Err(DecodeError::NonCanonical { part: "claims" });
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_layout_and_round_trip() {
        let mut l = StatusList::new(10);
        assert_eq!(l.len(), 12);
        assert!(l.set(0, Status::Revoked));
        assert!(l.set(5, Status::Superseded));
        assert!(l.set(6, Status::Suspended));
        assert!(!l.set(12, Status::Revoked));
        assert_eq!(l.bytes, vec![0b0000_0001, 0b0010_1100, 0]);
        assert_eq!(l.get(5), Some(Status::Superseded));
        assert_eq!(l.get(12), None);
        let key = SecretKey::from_seed(&[9; 32]).unwrap();
        let t = StatusListToken {
            uri: "https://example.invalid/status/1".into(),
            issued_at: 1_795_536_000,
            ttl: 86400,
            sequence: 7,
            list: l,
        };
        let bytes = t.sign(&key);
        let env = StatusListToken::envelope(&bytes).unwrap();
        let v = env.verify(key.public()).unwrap();
        assert_eq!(StatusListToken::from_verified(&v).unwrap(), t);
        // A status list is not a permit, and a permit envelope is not a status list.
        assert!(v.claims().is_err());
        assert!(Envelope::decode(&bytes).is_err());
        // Through a signing function: the same bytes; its error is passed on.
        let kid = key.public().id();
        assert_eq!(t.sign_with(kid, |m| Ok::<_, ()>(key.sign(m))), Ok(bytes));
        assert_eq!(t.sign_with(kid, |_| Err::<[u8; 64], _>(7)), Err(7));
    }

    #[test]
    fn decompression_is_capped() {
        use std::io::Write as _;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..65 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 200_000);
        assert!(StatusList::decompress(&bomb).is_err());
        assert!(StatusList::decompress(b"not zlib").is_err());
    }
}
