//! Ed25519 keys: key ids, checked public keys (no weak or non-canonical encodings), secret keys
//! that never print, JWK (RFC 8037) and PEM forms.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 8;

/// A key id: the first 8 bytes of SHA-256 over the 32-byte raw public key. Shown as 16 lower-case
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The key id of a raw public key.
    pub fn of(public_key: &[u8; 32]) -> KeyId {
        let h = Sha256::digest(public_key);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&h[..KEY_ID_LEN]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<KeyId, KeyError> {
        let b = s.as_bytes();
        if b.len() != 2 * KEY_ID_LEN {
            return Err(KeyError::BadKeyId);
        }
        let mut id = [0u8; KEY_ID_LEN];
        for (i, out) in id.iter_mut().enumerate() {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            *out = hex(b[2 * i])
                .zip(hex(b[2 * i + 1]))
                .map(|(h, l)| h << 4 | l)
                .ok_or(KeyError::BadKeyId)?;
        }
        Ok(KeyId(id))
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a valid point encoding.
    #[error("not a valid Ed25519 public key encoding")]
    Invalid,
    /// A small-order ("weak") point: signatures under it prove nothing.
    #[error("weak (small-order) Ed25519 public key refused")]
    Weak,
    /// A non-canonical encoding of a point (y not reduced modulo p).
    #[error("non-canonical Ed25519 public key encoding refused")]
    NonCanonical,
    /// A key id that is not 16 lower-case hex digits.
    #[error("key id must be 16 lower-case hexadecimal digits")]
    BadKeyId,
    /// A JWK with the wrong type, curve or length.
    #[error("JWK is not an Ed25519 OKP key: {0}")]
    BadJwk(String),
    /// A JWK whose `kid` is not the id of its key.
    #[error("JWK kid {found} is not the key's id {expected}")]
    KidMismatch {
        /// kid in the JWK.
        found: String,
        /// kid computed from the key.
        expected: KeyId,
    },
    /// A key file that looks like a JWK (a JSON object) but is not valid JSON of a JWK; the
    /// text is the JSON parser's message.
    #[error("JWK is not an Ed25519 OKP key: {0}")]
    JwkJson(String),
    /// A PEM/PKCS#8 document that could not be read (the content is never echoed).
    #[error("not a PKCS#8 Ed25519 key in PEM form")]
    BadPem,
}

/// Whether a point encoding's y coordinate (little-endian, bit 255 is the sign of x) is below
/// p = 2^255 − 19.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    y[31] &= 0x7f;
    // p in little-endian: ed ff … ff 7f. y < p unless y ≥ p, i.e. unless every byte from the top
    // equals p's down to the lowest, where y[0] ≥ 0xed.
    !(y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed)
}

/// A public key checked for use in verification: canonical, not of small order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// Checks a 32-byte encoding: a valid point, canonical, not weak.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        // Canonical: the encoded y (bit 255 cleared) below p = 2^255 − 19. The only other
        // non-canonical encodings, x = 0 with the sign bit set, are y = ±1: small order, refused
        // as weak below. Checked on the bytes, not by compressing the point again, which costs a
        // field inversion (a fifth of a signature check) per holder key read from a credential.
        if !canonical_y(bytes) {
            return Err(KeyError::NonCanonical);
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::Invalid)?;
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        debug_assert_eq!(key.to_edwards().compress().to_bytes(), *bytes);
        Ok(PublicKey {
            key,
            id: KeyId::of(bytes),
        })
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verifies with `verify_strict` (rejects non-canonical signatures and small-order R).
    pub fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = Signature::from_bytes(signature);
        self.key.verify_strict(message, &sig).is_ok()
    }

    /// The key as a JWK (RFC 8037) with its key id.
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(self.to_bytes()),
            kid: Some(self.id.to_string()),
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
        }
    }

    /// Reads a JWK; a `kid`, when present, must be this key's id.
    pub fn from_jwk(jwk: &Jwk) -> Result<PublicKey, KeyError> {
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(KeyError::BadJwk(format!(
                "kty {:?} crv {:?}",
                jwk.kty, jwk.crv
            )));
        }
        if jwk
            .alg
            .as_deref()
            .is_some_and(|a| a != "EdDSA" && a != "Ed25519")
        {
            return Err(KeyError::BadJwk("alg is not EdDSA".into()));
        }
        if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::BadJwk("use is not sig".into()));
        }
        let raw = URL_SAFE_NO_PAD
            .decode(jwk.x.as_bytes())
            .map_err(|_| KeyError::BadJwk("x is not base64url without padding".into()))?;
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::BadJwk(format!("x is {} bytes, not 32", raw.len())))?;
        if URL_SAFE_NO_PAD.encode(bytes) != jwk.x {
            return Err(KeyError::BadJwk("x is not canonical base64url".into()));
        }
        let key = PublicKey::from_bytes(&bytes)?;
        if let Some(kid) = &jwk.kid
            && *kid != key.id.to_string()
        {
            return Err(KeyError::KidMismatch {
                found: kid.clone(),
                expected: key.id,
            });
        }
        Ok(key)
    }

    /// SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap_or_default()
    }

    /// Reads a SubjectPublicKeyInfo PEM and checks the key.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let key = VerifyingKey::from_public_key_pem(pem).map_err(|_| KeyError::BadPem)?;
        PublicKey::from_bytes(&key.to_bytes())
    }

    /// Reads the content of a public-key file, PEM or JWK, told apart by content: text that
    /// starts with `{` (after white space) is a JWK ([`PublicKey::from_jwk`]), anything else a
    /// SubjectPublicKeyInfo PEM ([`PublicKey::from_pem`]) with any text before its
    /// `-----BEGIN` line skipped. Bytes that are not UTF-8 are replaced (and then fail to parse).
    /// The caller caps the size of what it reads.
    pub fn from_pem_or_jwk(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let text = String::from_utf8_lossy(bytes);
        if text.trim_start().starts_with('{') {
            let jwk: Jwk =
                serde_json::from_str(&text).map_err(|e| KeyError::JwkJson(e.to_string()))?;
            PublicKey::from_jwk(&jwk)
        } else {
            let pem = text.find("-----BEGIN").map_or(&*text, |i| &text[i..]);
            PublicKey::from_pem(pem)
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

/// A JSON Web Key for Ed25519 (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// Key id (16 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `EdDSA` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig` when present.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

/// A secret signing key. Zeroized on drop (ed25519-dalek), never cloned, serialized or printed.
pub struct SecretKey {
    key: SigningKey,
    public: PublicKey,
}

impl SecretKey {
    /// From 32 bytes of seed (the caller provides fresh OS randomness).
    pub fn from_seed(seed: &[u8; 32]) -> Result<SecretKey, KeyError> {
        let key = SigningKey::from_bytes(seed);
        let public = PublicKey::from_bytes(&key.verifying_key().to_bytes())?;
        Ok(SecretKey { key, public })
    }

    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Errors never contain key material.
    pub fn from_pkcs8_pem(pem: &str) -> Result<SecretKey, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|_| KeyError::BadPem)?;
        let public = PublicKey::from_bytes(&key.verifying_key().to_bytes())?;
        Ok(SecretKey { key, public })
    }

    /// PKCS#8 v1 PEM, zeroized when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, KeyError> {
        self.key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|_| KeyError::BadPem)
    }

    /// The matching public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs a message (deterministic Ed25519).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {}, secret redacted)", self.public.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let sk = SecretKey::from_seed(&[7u8; 32]).unwrap();
        let pk = *sk.public();
        let pem = sk.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SecretKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public(), &pk);
        assert_eq!(PublicKey::from_jwk(&pk.to_jwk()).unwrap(), pk);
        assert_eq!(PublicKey::from_pem(&pk.to_pem()).unwrap(), pk);
        assert_eq!(pk.id().to_string().parse::<KeyId>().unwrap(), pk.id());
        let sig = sk.sign(b"m");
        assert!(pk.verify_strict(b"m", &sig));
        assert!(!pk.verify_strict(b"n", &sig));
        let dbg = format!("{sk:?}");
        assert!(dbg.contains("redacted") && !dbg.contains(&*pem));
    }

    #[test]
    fn the_byte_check_of_canonical_y_agrees_with_compression() {
        // Edge values around p, and pseudo-random encodings (a fixed xorshift sequence).
        let mut cases: Vec<[u8; 32]> = Vec::new();
        for low in [0xeb, 0xec, 0xed, 0xee, 0xff] {
            for sign in [0x7f, 0xff] {
                let mut b = [0xffu8; 32];
                b[0] = low;
                b[31] = sign;
                cases.push(b);
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            cases.push(b);
        }
        for b in cases {
            if let Ok(k) = VerifyingKey::from_bytes(&b)
                && !k.is_weak()
            {
                assert_eq!(
                    canonical_y(&b),
                    k.to_edwards().compress().to_bytes() == b,
                    "{b:02x?}"
                );
            }
        }
    }

    #[test]
    fn refuses_weak_and_non_canonical() {
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        // y = p + 1 (non-canonical encoding of y = 1, also small order)
        let mut nc = [0xffu8; 32];
        nc[0] = 0xee;
        nc[31] = 0x7f;
        assert!(PublicKey::from_bytes(&nc).is_err());
        let mut jwk =
            PublicKey::from_bytes(&SecretKey::from_seed(&[1; 32]).unwrap().public().to_bytes())
                .unwrap()
                .to_jwk();
        jwk.kid = Some("0000000000000000".into());
        assert!(matches!(
            PublicKey::from_jwk(&jwk),
            Err(KeyError::KidMismatch { .. })
        ));
        assert_eq!("00".parse::<KeyId>(), Err(KeyError::BadKeyId));
        assert_eq!("ABCDEF0123456789".parse::<KeyId>(), Err(KeyError::BadKeyId));
    }

    #[test]
    fn key_files_are_read_as_pem_or_jwk_by_content() {
        let pk = *SecretKey::from_seed(&[7u8; 32]).unwrap().public();
        let jwk = serde_json::to_string_pretty(&pk.to_jwk()).unwrap();
        let pem = pk.to_pem();
        for file in [
            format!("  \n{jwk}\n"),
            pem.clone(),
            format!("a comment line\n{pem}"),
        ] {
            assert_eq!(
                PublicKey::from_pem_or_jwk(file.as_bytes()),
                Ok(pk),
                "{file}"
            );
        }
        assert!(matches!(
            PublicKey::from_pem_or_jwk(b"{\"kty\": "),
            Err(KeyError::JwkJson(_))
        ));
        assert_eq!(
            PublicKey::from_pem_or_jwk(b"not a key"),
            Err(KeyError::BadPem)
        );
        assert_eq!(
            PublicKey::from_pem_or_jwk(&[0xff, 0xfe, 0x00]),
            Err(KeyError::BadPem)
        );
    }
}
