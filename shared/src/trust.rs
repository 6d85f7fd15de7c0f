//! The trust list: which issuer keys a verifier accepts, for what, and when. JSON (keys as JWK,
//! RFC 8037), signed by a root key as a JWS in flattened JSON serialization (RFC 7515 §7.2.2)
//! with `alg` `EdDSA`. The verifier pins the root public key.
//!
//! Loading checks, in order: size cap → JWS shape → root key id → root signature
//! (`verify_strict` over the exact received `protected.payload` text) → payload JSON (typed,
//! unknown fields refused) → every key (weak and non-canonical keys refused, kid = derived id).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::keys::{Jwk, KeyError, KeyId, PublicKey, SecretKey};
use crate::text::{self, TextError};

/// Largest trust list accepted, bytes.
pub const MAX_TRUST_LIST_BYTES: usize = 1024 * 1024;
/// Most keys in one trust list.
pub const MAX_KEYS: usize = 1000;
/// The `format` value of version 1.
pub const FORMAT: &str = "gdrp-trust-list/1";
/// The JWS `typ` header value.
pub const JWS_TYP: &str = "gdrp-trust-list+json";
/// Longest publisher or issuer display name, characters.
pub const MAX_NAME_CHARS: usize = 200;

/// What a key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// Permit credentials.
    Permit,
    /// Status lists.
    StatusList,
}

/// One key entry as written in the trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Key id: 16 hex digits, the first 8 bytes of SHA-256 of the raw public key.
    pub kid: KeyId,
    /// The issuing authority that holds the key.
    pub issuer: String,
    /// The public key.
    pub jwk: Jwk,
    /// What the key may sign.
    pub may_sign: Vec<Usage>,
    /// Start of the signing window (RFC 3339): credentials with an earlier `iat` are refused.
    pub signing_from: String,
    /// End of the signing window (RFC 3339): credentials with a later `iat` are refused.
    pub signing_until: String,
    /// After this instant nothing signed by the key is accepted (optional; RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_until: Option<String>,
    /// When the key was reported compromised (RFC 3339). Whoever holds a stolen key can write
    /// any `iat`, so once this is set nothing signed by the key is accepted, whatever its `iat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compromised_since: Option<String>,
    /// A TEST-ONLY key: everything it signs is reported as a test credential.
    #[serde(default)]
    pub test: bool,
}

/// The signed content of a trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustListBody {
    /// Always [`FORMAT`].
    pub format: String,
    /// Strictly increasing with every publication; a lower one than already seen is a rollback.
    pub sequence: u64,
    /// When the list was signed (RFC 3339).
    pub issued_at: String,
    /// After this instant the list must be replaced (RFC 3339).
    pub expires_at: String,
    /// Who publishes the list.
    pub publisher: String,
    /// A TEST-ONLY list.
    #[serde(default)]
    pub test: bool,
    /// The keys.
    pub keys: Vec<KeyEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Jws {
    protected: String,
    payload: String,
    signature: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwsHeader {
    alg: String,
    kid: KeyId,
    typ: String,
}

/// Why a trust list was refused. Nothing in it is used when any check fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Larger than [`MAX_TRUST_LIST_BYTES`].
    #[error("trust list is {actual} bytes, more than {MAX_TRUST_LIST_BYTES}")]
    TooLarge {
        /// Size seen.
        actual: usize,
    },
    /// Not a JWS JSON object of the required shape.
    #[error("trust list is not a signed JWS JSON document: {0}")]
    Shape(String),
    /// Signed by a key other than the pinned root.
    #[error("trust list is signed by key {found}, not by the pinned root {expected}")]
    WrongRoot {
        /// kid in the header.
        found: KeyId,
        /// pinned root kid.
        expected: KeyId,
    },
    /// The root signature does not verify.
    #[error("trust list signature does not verify under the pinned root key")]
    Signature,
    /// The signed payload is not a valid trust list.
    #[error("trust list content: {0}")]
    Content(String),
    /// The same key id appears in two entries: the list is ambiguous (which entry's windows,
    /// usages and compromise apply?), so it is refused as a whole.
    #[error("trust list names key {kid} twice (entries {first} and {second})")]
    DuplicateKey {
        /// The repeated key id.
        kid: KeyId,
        /// 0-based index of the first entry.
        first: usize,
        /// 0-based index of the repeated entry.
        second: usize,
    },
    /// A display name (the publisher or a key's issuer) breaks the text rules (control, bidi or
    /// other format characters, noncharacters, …): it would be printed next to every verdict.
    #[error("trust list {field}: {error}")]
    Text {
        /// Which name (`publisher` or `key N issuer`).
        field: String,
        /// The rule broken.
        error: TextError,
    },
    /// A key entry is unusable.
    #[error("trust list key {index} ({kid}): {error}")]
    Key {
        /// 0-based entry index.
        index: usize,
        /// kid as written.
        kid: String,
        /// The problem.
        error: KeyError,
    },
}

/// A checked key from a verified trust list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The public key (checked: canonical, not weak).
    pub key: PublicKey,
    /// Holder of the key.
    pub issuer: String,
    /// What it may sign.
    pub may_sign: Vec<Usage>,
    /// Signing window start.
    pub signing_from: DateTime<Utc>,
    /// Signing window end.
    pub signing_until: DateTime<Utc>,
    /// End of verification, if set.
    pub verify_until: Option<DateTime<Utc>>,
    /// Compromise time, if reported.
    pub compromised_since: Option<DateTime<Utc>>,
    /// TEST-ONLY key.
    pub test: bool,
}

impl Usage {
    /// What a key with this usage signs, as a plural noun for messages.
    fn noun(self) -> &'static str {
        match self {
            Usage::Permit => "permits",
            Usage::StatusList => "status lists",
        }
    }
}

/// Why a trusted key may not be used for an object signed at a given instant: the key-use policy
/// of the trust list, which the issuer applies before signing and the verifier after checking a
/// signature. One variant per rule, in the order [`TrustedKey::use_errors`] checks them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyUseError {
    /// The key's `may_sign` does not include `usage`.
    #[error("the key may not sign {}", .usage.noun())]
    NotAllowed {
        /// What it was used for.
        usage: Usage,
    },
    /// `at` is outside the key's signing window `from..=until`.
    #[error("{} is outside the key's signing window {} – {}", rfc3339(*.at), rfc3339(*.from), rfc3339(*.until))]
    OutsideSigningWindow {
        /// Start of the signing window.
        from: DateTime<Utc>,
        /// End of the signing window.
        until: DateTime<Utc>,
        /// When the object was (or would be) signed.
        at: DateTime<Utc>,
    },
    /// The key was reported compromised (at any time: a thief can backdate `iat`).
    #[error("the key was reported compromised on {}", rfc3339(*.since))]
    Compromised {
        /// When the compromise began, as the trust list says.
        since: DateTime<Utc>,
    },
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl TrustedKey {
    /// Whether the key may sign this kind of object.
    pub fn may(&self, usage: Usage) -> bool {
        self.may_sign.contains(&usage)
    }

    /// Whether the key may sign an object of `usage` at `at` (the object's signing time: `iat`
    /// for a verifier, the current time for an issuer): its usages include `usage`, `at` lies in
    /// `signing_from..=signing_until`, and the key was never reported compromised. A compromised
    /// key is refused whatever `at` says: `at` comes from the signed object, and whoever stole
    /// the key can sign any `iat`, including one before `compromised_since`.
    /// The first rule broken is the error; [`TrustedKey::use_errors`] gives them all.
    ///
    /// The key's `verify_until` (no longer accepted at verification time) is not a signing rule
    /// and is not checked here.
    pub fn check_use(&self, usage: Usage, at: DateTime<Utc>) -> Result<(), KeyUseError> {
        match self.use_errors(usage, at).into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Every rule of [`TrustedKey::check_use`] that using the key for `usage` at `at` breaks, in
    /// the order of [`KeyUseError`]'s variants; empty when the use is allowed.
    pub fn use_errors(&self, usage: Usage, at: DateTime<Utc>) -> Vec<KeyUseError> {
        let mut errors = Vec::new();
        if !self.may(usage) {
            errors.push(KeyUseError::NotAllowed { usage });
        }
        if at < self.signing_from || at > self.signing_until {
            errors.push(KeyUseError::OutsideSigningWindow {
                from: self.signing_from,
                until: self.signing_until,
                at,
            });
        }
        if let Some(since) = self.compromised_since {
            errors.push(KeyUseError::Compromised { since });
        }
        errors
    }
}

/// A verified trust list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustList {
    /// Sequence number.
    pub sequence: u64,
    /// Signing time.
    pub issued_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Publisher.
    pub publisher: String,
    /// TEST-ONLY list.
    pub test: bool,
    /// The root key that signed it.
    pub root: KeyId,
    /// The keys.
    pub keys: Vec<TrustedKey>,
    /// SHA-256 of the signed payload (its base64url text as signed): two lists with the same
    /// sequence and different digests are two different publications.
    pub digest: [u8; 32],
}

fn parse_time(s: &str, what: &str) -> Result<DateTime<Utc>, TrustError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| TrustError::Content(format!("{what} `{s}` is not an RFC 3339 time")))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, TrustError> {
    let v = URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| TrustError::Shape(format!("{what} is not base64url without padding")))?;
    if URL_SAFE_NO_PAD.encode(&v) != s {
        return Err(TrustError::Shape(format!(
            "{what} is not canonical base64url"
        )));
    }
    Ok(v)
}

impl TrustList {
    /// Verifies a trust-list document against the pinned root and parses it.
    pub fn verify(document: &[u8], root: &PublicKey) -> Result<TrustList, TrustError> {
        if document.len() > MAX_TRUST_LIST_BYTES {
            return Err(TrustError::TooLarge {
                actual: document.len(),
            });
        }
        let jws: Jws =
            serde_json::from_slice(document).map_err(|e| TrustError::Shape(e.to_string()))?;
        let header: JwsHeader = serde_json::from_slice(&b64(&jws.protected, "protected")?)
            .map_err(|e| TrustError::Shape(format!("protected header: {e}")))?;
        if header.alg != "EdDSA" || header.typ != JWS_TYP {
            return Err(TrustError::Shape(format!(
                "header must have alg EdDSA and typ {JWS_TYP}"
            )));
        }
        if header.kid != root.id() {
            return Err(TrustError::WrongRoot {
                found: header.kid,
                expected: root.id(),
            });
        }
        let sig: [u8; 64] = b64(&jws.signature, "signature")?
            .as_slice()
            .try_into()
            .map_err(|_| TrustError::Shape("signature is not 64 bytes".into()))?;
        let signing_input = format!("{}.{}", jws.protected, jws.payload);
        if !root.verify_strict(signing_input.as_bytes(), &sig) {
            return Err(TrustError::Signature);
        }
        let body: TrustListBody = serde_json::from_slice(&b64(&jws.payload, "payload")?)
            .map_err(|e| TrustError::Content(e.to_string()))?;
        let mut list = Self::from_body(&body, root.id())?;
        list.digest = sha2::Sha256::digest(jws.payload.as_bytes()).into();
        Ok(list)
    }

    fn from_body(body: &TrustListBody, root: KeyId) -> Result<TrustList, TrustError> {
        if body.format != FORMAT {
            return Err(TrustError::Content(format!(
                "format `{}` is not {FORMAT}",
                body.format
            )));
        }
        if body.keys.len() > MAX_KEYS {
            return Err(TrustError::Content(format!("more than {MAX_KEYS} keys")));
        }
        let name = |field: String, s: &str| {
            text::check(s, MAX_NAME_CHARS).map_err(|error| TrustError::Text { field, error })
        };
        name("publisher".into(), &body.publisher)?;
        let mut seen = std::collections::BTreeMap::new();
        let mut keys: Vec<TrustedKey> = Vec::with_capacity(body.keys.len());
        for (index, e) in body.keys.iter().enumerate() {
            if let Some(first) = seen.insert(e.kid, index) {
                return Err(TrustError::DuplicateKey {
                    kid: e.kid,
                    first,
                    second: index,
                });
            }
            name(format!("key {index} issuer"), &e.issuer)?;
            let key_err = |error| TrustError::Key {
                index,
                kid: e.kid.to_string(),
                error,
            };
            let key = PublicKey::from_jwk(&e.jwk).map_err(key_err)?;
            if key.id() != e.kid {
                return Err(key_err(KeyError::KidMismatch {
                    found: e.kid.to_string(),
                    expected: key.id(),
                }));
            }
            let signing_from = parse_time(&e.signing_from, "signing_from")?;
            let signing_until = parse_time(&e.signing_until, "signing_until")?;
            if signing_until < signing_from {
                return Err(TrustError::Content(format!(
                    "key {}: signing window ends before it starts",
                    e.kid
                )));
            }
            keys.push(TrustedKey {
                key,
                issuer: e.issuer.clone(),
                may_sign: e.may_sign.clone(),
                signing_from,
                signing_until,
                verify_until: e
                    .verify_until
                    .as_deref()
                    .map(|s| parse_time(s, "verify_until"))
                    .transpose()?,
                compromised_since: e
                    .compromised_since
                    .as_deref()
                    .map(|s| parse_time(s, "compromised_since"))
                    .transpose()?,
                test: e.test || body.test,
            });
        }
        Ok(TrustList {
            sequence: body.sequence,
            issued_at: parse_time(&body.issued_at, "issued_at")?,
            expires_at: parse_time(&body.expires_at, "expires_at")?,
            publisher: body.publisher.clone(),
            test: body.test,
            root,
            keys,
            digest: [0; 32],
        })
    }

    /// Every key with this id (ids are 64-bit, so collisions are possible: try each).
    pub fn keys_with_id(&self, id: KeyId) -> impl Iterator<Item = &TrustedKey> {
        self.keys.iter().filter(move |k| k.key.id() == id)
    }
}

/// Signs a trust-list body with the root key: a JWS JSON document (pretty-printed, newline at
/// the end).
pub fn sign(body: &TrustListBody, root: &SecretKey) -> Result<String, TrustError> {
    // Check it parses back before signing anything.
    TrustList::from_body(body, root.public().id())?;
    let header = JwsHeader {
        alg: "EdDSA".into(),
        kid: root.public().id(),
        typ: JWS_TYP.into(),
    };
    let protected = URL_SAFE_NO_PAD.encode(to_json(&header)?);
    let payload = URL_SAFE_NO_PAD.encode(to_json(body)?);
    let sig = root.sign(format!("{protected}.{payload}").as_bytes());
    let jws = Jws {
        protected,
        payload,
        signature: URL_SAFE_NO_PAD.encode(sig),
    };
    let mut s = serde_json::to_string_pretty(&jws).map_err(|e| TrustError::Shape(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, TrustError> {
    serde_json::to_vec(v).map_err(|e| TrustError::Shape(e.to_string()))
}

/// Reads the signed body of a trust list without checking the signature: for the issuer's own
/// tooling (adding a key to a list it will sign again), never for verification.
pub fn dangerous_read_unverified_body(document: &[u8]) -> Result<TrustListBody, TrustError> {
    if document.len() > MAX_TRUST_LIST_BYTES {
        return Err(TrustError::TooLarge {
            actual: document.len(),
        });
    }
    let jws: Jws =
        serde_json::from_slice(document).map_err(|e| TrustError::Shape(e.to_string()))?;
    serde_json::from_slice(&b64(&jws.payload, "payload")?)
        .map_err(|e| TrustError::Content(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(k: &SecretKey) -> KeyEntry {
        KeyEntry {
            kid: k.public().id(),
            issuer: "test issuer".into(),
            jwk: k.public().to_jwk(),
            may_sign: vec![Usage::Permit, Usage::StatusList],
            signing_from: "2026-01-01T00:00:00Z".into(),
            signing_until: "2030-01-01T00:00:00Z".into(),
            verify_until: None,
            compromised_since: None,
            test: true,
        }
    }

    fn body(keys: Vec<KeyEntry>) -> TrustListBody {
        TrustListBody {
            format: FORMAT.into(),
            sequence: 3,
            issued_at: "2026-11-01T00:00:00Z".into(),
            expires_at: "2036-11-01T00:00:00Z".into(),
            publisher: "test".into(),
            test: true,
            keys,
        }
    }

    #[test]
    fn sign_and_verify() {
        let root = SecretKey::from_seed(&[1; 32]).unwrap();
        let issuer = SecretKey::from_seed(&[2; 32]).unwrap();
        let doc = sign(&body(vec![entry(&issuer)]), &root).unwrap();
        let tl = TrustList::verify(doc.as_bytes(), root.public()).unwrap();
        assert_eq!(tl.sequence, 3);
        assert_eq!(tl.keys_with_id(issuer.public().id()).count(), 1);
        // Another root is refused.
        let other = SecretKey::from_seed(&[3; 32]).unwrap();
        assert!(matches!(
            TrustList::verify(doc.as_bytes(), other.public()),
            Err(TrustError::WrongRoot { .. })
        ));
        // A changed payload is refused.
        let mut jws: Jws = serde_json::from_str(&doc).unwrap();
        let mut b = body(vec![entry(&issuer)]);
        b.sequence = 4;
        jws.payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&b).unwrap());
        let tampered = serde_json::to_vec(&jws).unwrap();
        assert_eq!(
            TrustList::verify(&tampered, root.public()),
            Err(TrustError::Signature)
        );
        assert_eq!(
            dangerous_read_unverified_body(&tampered).unwrap().sequence,
            4
        );
    }

    #[test]
    fn refuses_weak_keys_and_unknown_fields() {
        let root = SecretKey::from_seed(&[1; 32]).unwrap();
        let issuer = SecretKey::from_seed(&[2; 32]).unwrap();
        let mut e = entry(&issuer);
        let mut weak = [0u8; 32];
        weak[0] = 1;
        e.jwk.x = URL_SAFE_NO_PAD.encode(weak);
        e.jwk.kid = None;
        e.kid = KeyId::of(&weak);
        assert!(matches!(
            sign(&body(vec![e]), &root),
            Err(TrustError::Key {
                error: KeyError::Weak,
                ..
            })
        ));
        let doc = r#"{"protected":"e30","payload":"e30","signature":"","extra":1}"#;
        assert!(matches!(
            TrustList::verify(doc.as_bytes(), root.public()),
            Err(TrustError::Shape(_))
        ));
    }

    fn trusted(may_sign: Vec<Usage>, compromised_since: Option<&str>) -> TrustedKey {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        TrustedKey {
            key: *SecretKey::from_seed(&[2; 32]).unwrap().public(),
            issuer: "test issuer".into(),
            may_sign,
            signing_from: t("2026-01-01T00:00:00Z"),
            signing_until: t("2030-01-01T00:00:00Z"),
            verify_until: None,
            compromised_since: compromised_since.map(t),
            test: true,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn key_use_inside_the_window_is_allowed() {
        let key = trusted(vec![Usage::Permit], None);
        for t in [
            "2026-01-01T00:00:00Z",
            "2028-06-01T12:00:00Z",
            "2030-01-01T00:00:00Z",
        ] {
            assert_eq!(key.check_use(Usage::Permit, at(t)), Ok(()), "{t}");
            assert!(key.use_errors(Usage::Permit, at(t)).is_empty());
        }
    }

    #[test]
    fn key_use_for_another_usage_is_not_allowed() {
        let key = trusted(vec![Usage::Permit], None);
        let err = key
            .check_use(Usage::StatusList, at("2027-01-01T00:00:00Z"))
            .unwrap_err();
        assert_eq!(
            err,
            KeyUseError::NotAllowed {
                usage: Usage::StatusList
            }
        );
        assert_eq!(err.to_string(), "the key may not sign status lists");
    }

    #[test]
    fn key_use_outside_the_window_is_refused() {
        let key = trusted(vec![Usage::Permit], None);
        for t in ["2025-12-31T23:59:59Z", "2030-01-01T00:00:01Z"] {
            let err = key.check_use(Usage::Permit, at(t)).unwrap_err();
            assert_eq!(
                err,
                KeyUseError::OutsideSigningWindow {
                    from: key.signing_from,
                    until: key.signing_until,
                    at: at(t)
                }
            );
        }
        assert_eq!(
            key.check_use(Usage::Permit, at("2031-01-01T00:00:00Z"))
                .unwrap_err()
                .to_string(),
            "2031-01-01T00:00:00Z is outside the key's signing window \
             2026-01-01T00:00:00Z – 2030-01-01T00:00:00Z"
        );
    }

    #[test]
    fn key_use_of_a_compromised_key_is_refused_whatever_the_time() {
        let key = trusted(vec![Usage::Permit], Some("2027-01-01T00:00:00Z"));
        // A thief can sign with an iat before the compromise: it is refused too.
        for t in ["2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"] {
            let err = key.check_use(Usage::Permit, at(t)).unwrap_err();
            assert_eq!(
                err,
                KeyUseError::Compromised {
                    since: at("2027-01-01T00:00:00Z")
                }
            );
        }
        assert_eq!(
            key.check_use(Usage::Permit, at("2026-06-01T00:00:00Z"))
                .unwrap_err()
                .to_string(),
            "the key was reported compromised on 2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_key_listed_twice_refuses_the_list() {
        let root = SecretKey::from_seed(&[1; 32]).unwrap();
        let issuer = SecretKey::from_seed(&[2; 32]).unwrap();
        let clean = entry(&issuer);
        let mut compromised = entry(&issuer);
        compromised.compromised_since = Some("2026-06-01T00:00:00Z".into());
        let doc = sign_unchecked(&body(vec![clean, compromised]), &root);
        assert_eq!(
            TrustList::verify(doc.as_bytes(), root.public()),
            Err(TrustError::DuplicateKey {
                kid: issuer.public().id(),
                first: 0,
                second: 1
            })
        );
    }

    #[test]
    fn names_with_control_bidi_or_noncharacters_refuse_the_list() {
        let root = SecretKey::from_seed(&[1; 32]).unwrap();
        let issuer = SecretKey::from_seed(&[2; 32]).unwrap();
        for bad in [
            "GD\u{1b}[2J\u{1b}]0;x\u{7}",
            "GD \u{202e}DILAV",
            "GD\u{FFFF}",
            "GD\u{9b}31m",
        ] {
            let mut e = entry(&issuer);
            e.issuer = bad.into();
            let doc = sign_unchecked(&body(vec![e]), &root);
            assert!(
                matches!(
                    TrustList::verify(doc.as_bytes(), root.public()),
                    Err(TrustError::Text { ref field, .. }) if field == "key 0 issuer"
                ),
                "{bad:?}"
            );
            let mut b = body(vec![entry(&issuer)]);
            b.publisher = bad.into();
            let doc = sign_unchecked(&b, &root);
            assert!(
                matches!(
                    TrustList::verify(doc.as_bytes(), root.public()),
                    Err(TrustError::Text { ref field, .. }) if field == "publisher"
                ),
                "{bad:?}"
            );
        }
    }

    /// Signs a body without the checks of [`sign`], as an attacker holding the root would.
    fn sign_unchecked(body: &TrustListBody, root: &SecretKey) -> String {
        let header = JwsHeader {
            alg: "EdDSA".into(),
            kid: root.public().id(),
            typ: JWS_TYP.into(),
        };
        let protected = URL_SAFE_NO_PAD.encode(to_json(&header).unwrap());
        let payload = URL_SAFE_NO_PAD.encode(to_json(body).unwrap());
        let sig = root.sign(format!("{protected}.{payload}").as_bytes());
        serde_json::to_string(&Jws {
            protected,
            payload,
            signature: URL_SAFE_NO_PAD.encode(sig),
        })
        .unwrap()
    }

    #[test]
    fn every_broken_rule_is_listed_in_order() {
        let key = trusted(vec![Usage::StatusList], Some("2027-01-01T00:00:00Z"));
        let errors = key.use_errors(Usage::Permit, at("2031-01-01T00:00:00Z"));
        assert!(
            matches!(
                errors.as_slice(),
                [
                    KeyUseError::NotAllowed {
                        usage: Usage::Permit
                    },
                    KeyUseError::OutsideSigningWindow { .. },
                    KeyUseError::Compromised { .. },
                ]
            ),
            "{errors:?}"
        );
        assert_eq!(
            key.check_use(Usage::Permit, at("2031-01-01T00:00:00Z")),
            Err(errors[0].clone())
        );
    }
}
