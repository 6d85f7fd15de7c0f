//! The credential: a COSE_Sign1 message (RFC 9052) signed with EdDSA (Ed25519) over a CWT claims
//! set (RFC 8392), carried in QR text as `GDRP1:` followed by decimal digits.
//!
//! Decoding runs in named stages, each with its own error: size cap → prefix → transport
//! (digits to bytes) → envelope (COSE_Sign1 structure) → key lookup (by the caller, with the key
//! id) → signature (`verify_strict` over the Sig_structure built from the exact received bytes)
//! → claims. The claims are reachable only through [`Verified`], which only a successful
//! signature check produces. Every stage insists on the one canonical encoding: anything that
//! does not re-encode to the same bytes is refused.
//!
//! ```
//! use permit_shared::credential::{self, Kind};
//! assert!(matches!(credential::classify("HC1:6BF..."), Kind::Foreign(_)));
//! assert_eq!(credential::decimal::encode(&[0xff]), "255");
//! assert_eq!(credential::decimal::decode("255").unwrap(), vec![0xff]);
//! ```

use chrono::NaiveDate;
use ciborium::value::Value;

use crate::cbor;
use crate::citizen_id::CitizenId;
use crate::keys::{KEY_ID_LEN, KeyId, PublicKey, SecretKey};
use crate::{applicant, civil, division, text};

/// The scheme name that starts every permit text.
pub const SCHEME: &str = "GDRP";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// The text prefix of version 1.
pub const PREFIX_V1: &str = "GDRP1:";
/// Longest QR text accepted before any decoding (a version-40 QR holds at most 7 089 digits).
pub const MAX_TEXT_BYTES: usize = 8192;
/// Largest COSE_Sign1 accepted, in bytes, before CBOR decoding.
pub const MAX_ENVELOPE_BYTES: usize = 1024;
/// The CWT claim key of the permit claim (private-use range of RFC 8392 §9.1).
pub const CLAIM_PERMIT: i64 = -65537;
/// The CWT `exp` claim key.
pub const CLAIM_EXP: i64 = 4;
/// The CWT `iat` claim key.
pub const CLAIM_IAT: i64 = 6;
/// The COSE_Sign1 CBOR tag.
pub const TAG_COSE_SIGN1: u64 = 18;
/// The COSE `alg` header label.
pub const HEADER_ALG: i64 = 1;
/// The COSE `kid` header label.
pub const HEADER_KID: i64 = 4;
/// COSE algorithm identifier for EdDSA.
pub const ALG_EDDSA: i64 = -8;

/// A credential format of another system, recognised by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// EU Digital COVID Certificate, `HC1:`.
    EuDcc,
    /// SMART Health Card, `shc:/`.
    SmartHealthCard,
    /// NZ COVID Pass, `NZCP:/`.
    NzCovidPass,
    /// Verifiable Digital Health Certificate / DCC variants, `HC2:` … `HC9:`.
    DccVariant,
    /// SMART Health Link, `shlink:/` (alone or after a viewer URL and `#`).
    SmartHealthLink,
}

impl Foreign {
    /// The format's name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Foreign::EuDcc => "EU Digital COVID Certificate (HC1:)",
            Foreign::SmartHealthCard => "SMART Health Card (shc:/)",
            Foreign::NzCovidPass => "NZ COVID Pass (NZCP:/)",
            Foreign::DccVariant => "DCC-family health certificate (HCn:)",
            Foreign::SmartHealthLink => "SMART Health Link (shlink:/)",
        }
    }
}

/// What a QR text is, by its prefix alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Our scheme: `GDRP<version>:` followed by `body`.
    Permit {
        /// The version number in the prefix.
        version: u32,
        /// Everything after the colon.
        body: &'a str,
        /// Length of the prefix in bytes (for positions in errors).
        prefix_len: usize,
    },
    /// Our scheme name with a broken prefix (`GDRP` not followed by digits and a colon).
    BadPrefix,
    /// A recognised foreign credential.
    Foreign(Foreign),
    /// Anything else (a URL, plain text).
    Other,
}

/// Classifies a text by its prefix (exact, case-sensitive; scanner quirks are normalised by the
/// verifier before this).
pub fn classify(text: &str) -> Kind<'_> {
    if let Some(rest) = text.strip_prefix(SCHEME) {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 4 || rest.as_bytes().get(digits) != Some(&b':') {
            return Kind::BadPrefix;
        }
        let version = rest[..digits].parse().unwrap_or(u32::MAX);
        let prefix_len = SCHEME.len() + digits + 1;
        return Kind::Permit {
            version,
            body: &text[prefix_len..],
            prefix_len,
        };
    }
    if text.starts_with("HC1:") {
        Kind::Foreign(Foreign::EuDcc)
    } else if text.starts_with("shc:/") {
        Kind::Foreign(Foreign::SmartHealthCard)
    } else if text.starts_with("NZCP:/") {
        Kind::Foreign(Foreign::NzCovidPass)
    } else if text.starts_with("shlink:/") || text.contains("#shlink:/") {
        Kind::Foreign(Foreign::SmartHealthLink)
    } else if text.len() >= 4
        && text.starts_with("HC")
        && text.as_bytes()[2].is_ascii_digit()
        && text.as_bytes()[3] == b':'
    {
        Kind::Foreign(Foreign::DccVariant)
    } else {
        Kind::Other
    }
}

/// Why a text or byte string is not a well-formed credential. Each variant is one stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Size cap (before any decoding).
    #[error("{what} is {actual} bytes, more than the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The size seen.
        actual: usize,
    },
    /// Prefix stage: not our scheme.
    #[error("not a residence-permit code")]
    NotAPermit,
    /// Prefix stage: a recognised foreign credential.
    #[error("a {} , not a residence permit", .0.name())]
    Foreign(Foreign),
    /// Prefix stage: our scheme, another version.
    #[error("format version {version} is not supported (this verifier reads version {VERSION})")]
    UnsupportedVersion {
        /// The version in the prefix.
        version: String,
    },
    /// Prefix stage: `GDRP` without a valid version and colon.
    #[error("malformed prefix: expected {PREFIX_V1}")]
    Prefix,
    /// Transport stage: the digits do not decode to bytes.
    #[error("bad transport encoding at character {position}: {detail}")]
    Transport {
        /// 1-based character position in the whole text.
        position: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// Envelope stage: not a COSE_Sign1 of the required shape.
    #[error("bad COSE_Sign1 envelope: {detail}")]
    Envelope {
        /// What is wrong.
        detail: String,
    },
    /// A part that decodes but is not in the one canonical encoding.
    #[error("non-canonical encoding of the {part}")]
    NonCanonical {
        /// Which part.
        part: &'static str,
    },
    /// Claims stage (after the signature verified): a missing, unknown or invalid claim.
    #[error("bad claim `{field}`: {detail}")]
    Claims {
        /// Claim or permit field name.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl DecodeError {
    /// The stage that failed: `input`, `prefix`, `transport`, `envelope`, `claims`.
    pub fn stage(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "input",
            DecodeError::NotAPermit
            | DecodeError::Foreign(_)
            | DecodeError::UnsupportedVersion { .. }
            | DecodeError::Prefix => "prefix",
            DecodeError::Transport { .. } => "transport",
            DecodeError::Envelope { .. } => "envelope",
            DecodeError::NonCanonical { part } => match *part {
                "claims" | "permit claim" => "claims",
                _ => "envelope",
            },
            DecodeError::Claims { .. } => "claims",
        }
    }

    /// The stable reason code for reports.
    pub fn code(&self) -> crate::reason::Code {
        use crate::reason::Code;
        match self {
            DecodeError::TooLarge { .. } => Code::InputTooLarge,
            DecodeError::NotAPermit => Code::NotAPermit,
            DecodeError::Foreign(_) => Code::UnsupportedFormat,
            DecodeError::UnsupportedVersion { .. } => Code::UnsupportedVersion,
            _ => Code::Malformed,
        }
    }
}

/// Decimal transport: every 7 bytes become 17 digits (big-endian, zero-padded); a final group of
/// k < 7 bytes becomes 3, 5, 8, 10, 13 or 15 digits (k = 1 … 6). Only the shortest digit count per
/// group and only values below 256^k are accepted, so the encoding is one-to-one.
pub mod decimal {
    /// Digits for a group of `k` bytes, k = 0 … 7.
    pub const DIGITS: [usize; 8] = [0, 3, 5, 8, 10, 13, 15, 17];

    /// Encodes bytes as digits.
    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 17 / 7 + 17);
        for chunk in bytes.chunks(7) {
            let mut v: u64 = 0;
            for b in chunk {
                v = v << 8 | u64::from(*b);
            }
            let width = DIGITS[chunk.len()];
            out.push_str(&format!("{v:0width$}"));
        }
        out
    }

    /// Why digits do not decode; `offset` is 0-based within the digits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Error {
        /// 0-based offset of the first offending character.
        pub offset: usize,
        /// What is wrong.
        pub detail: &'static str,
    }

    /// Decodes digits to bytes.
    pub fn decode(digits: &str) -> Result<Vec<u8>, Error> {
        let b = digits.as_bytes();
        if let Some(i) = b.iter().position(|c| !c.is_ascii_digit()) {
            return Err(Error {
                offset: i,
                detail: "not a decimal digit",
            });
        }
        let tail = b.len() % 17;
        let Some(tail_bytes) = DIGITS[..7].iter().position(|d| *d == tail) else {
            return Err(Error {
                offset: b.len() - tail,
                detail: "digit count is not a valid length",
            });
        };
        let mut out = Vec::with_capacity(b.len() / 17 * 7 + tail_bytes);
        let mut start = 0;
        while start < b.len() {
            let (len, k) = if b.len() - start >= 17 {
                (17, 7)
            } else {
                (tail, tail_bytes)
            };
            let mut v: u64 = 0;
            for c in &b[start..start + len] {
                v = v * 10 + u64::from(c - b'0');
            }
            if k < 8 && v >> (8 * k) != 0 {
                return Err(Error {
                    offset: start,
                    detail: "digit group exceeds its byte range",
                });
            }
            for i in (0..k).rev() {
                out.push((v >> (8 * i)) as u8);
            }
            start += len;
        }
        Ok(out)
    }
}

/// Turns COSE bytes into the QR text: `GDRP1:` + decimal digits.
pub fn to_text(envelope: &[u8]) -> String {
    let mut s = String::with_capacity(PREFIX_V1.len() + envelope.len() * 17 / 7 + 17);
    s.push_str(PREFIX_V1);
    s.push_str(&decimal::encode(envelope));
    s
}

/// Prefix and transport stages: the text (exactly as scanned, after any normalisation by the
/// caller) to the COSE bytes.
pub fn from_text(text: &str) -> Result<Vec<u8>, DecodeError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(DecodeError::TooLarge {
            what: "text",
            limit: MAX_TEXT_BYTES,
            actual: text.len(),
        });
    }
    match classify(text) {
        Kind::Other => Err(DecodeError::NotAPermit),
        Kind::Foreign(f) => Err(DecodeError::Foreign(f)),
        Kind::BadPrefix => Err(DecodeError::Prefix),
        Kind::Permit {
            version, body: _, ..
        } if version != VERSION => Err(DecodeError::UnsupportedVersion {
            version: text[SCHEME.len()..]
                .split(':')
                .next()
                .unwrap_or("")
                .to_owned(),
        }),
        Kind::Permit {
            body, prefix_len, ..
        } => {
            if prefix_len != PREFIX_V1.len() {
                // `GDRP01:` and the like: the version must be written without leading zeros.
                return Err(DecodeError::Prefix);
            }
            if body.len() * 7 / 17 > MAX_ENVELOPE_BYTES + 7 {
                return Err(DecodeError::TooLarge {
                    what: "credential",
                    limit: MAX_ENVELOPE_BYTES,
                    actual: body.len() * 7 / 17,
                });
            }
            decimal::decode(body).map_err(|e| DecodeError::Transport {
                position: text[..prefix_len].chars().count() + body[..e.offset].chars().count() + 1,
                detail: e.detail,
            })
        }
    }
}

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

/// The COSE `typ` header label (RFC 9596).
pub const HEADER_TYP: i64 = 16;

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

/// Signs a payload into a COSE_Sign1 with an optional `typ` header.
pub(crate) fn sign_payload(
    payload: Vec<u8>,
    typ: Option<&'static str>,
    key: &SecretKey,
) -> Vec<u8> {
    let kid = key.public().id();
    let protected = protected_header(&kid, typ);
    let signature = key.sign(&sig_structure(&protected, &payload));
    Envelope {
        protected,
        kid,
        typ,
        payload,
        signature,
    }
    .to_bytes()
}

/// The CWT claims set of a permit credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iat` (6): when this credential was signed, Unix seconds.
    pub issued_at: i64,
    /// `exp` (4): when the permit stops being valid (start of the day after its last valid day,
    /// China Standard Time), Unix seconds.
    pub expires_at: i64,
    /// The permit claim (-65537).
    pub permit: PermitClaim,
}

/// The permit claim: what a verifying official needs, nothing more. Keys are small unsigned
/// integers (see `docs/FORMAT.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitClaim {
    /// 1: permit serial number (never reused; unpredictable).
    pub serial: u64,
    /// 2: credential version within the permit, from 1; every re-issue (endorsement, change)
    /// increments it.
    pub version: u32,
    /// 3: 姓名.
    pub name: String,
    /// 4: 公民身份号码 (sex and birth date are read from it).
    pub id_number: CitizenId,
    /// 5: 民族, GB 3304 code; absent for Hong Kong, Macao and Taiwan residents.
    pub ethnicity: Option<u8>,
    /// 6: 户籍所在地 division code; absent for Hong Kong, Macao and Taiwan residents.
    pub hukou_division: Option<u32>,
    /// 7: residence district code (the city is its first four digits followed by `00`).
    pub residence_district: u32,
    /// 8: residence address below the district (the full address is
    /// `广东省` + city name + district name + this).
    pub residence_address: String,
    /// 9: division code of the issuing public security bureau (签发机关).
    pub authority: u32,
    /// 10: 签发日期, the permit's first issue date (anniversaries count from it).
    pub issued_on: NaiveDate,
    /// 11: the last day the permit is usable without a new endorsement (签注).
    pub endorsed_until: NaiveDate,
    /// 12: index of this credential in the issuer's status list.
    pub status_index: u64,
    /// 13: a reference (hash prefix) of the holder's photo in the issuer's records.
    pub photo: Option<[u8; PHOTO_REF_LEN]>,
    /// 14: test data (present only as `true`).
    pub test: bool,
}

/// Length of the photo reference, bytes.
pub const PHOTO_REF_LEN: usize = 16;
/// Largest status-list index.
pub const MAX_STATUS_INDEX: u64 = (1 << 32) - 1;
/// Largest serial number (12 decimal digits).
pub const MAX_SERIAL: u64 = 999_999_999_999;

fn claim_err(field: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::Claims {
        field,
        detail: detail.into(),
    }
}

impl PermitClaim {
    /// The residence city code.
    pub fn residence_city(&self) -> u32 {
        self.residence_district / 100 * 100
    }

    /// The full residence address.
    pub fn full_residence_address(&self) -> String {
        format!(
            "{}{}",
            division::residence_prefix(self.residence_district).unwrap_or_default(),
            self.residence_address
        )
    }

    /// Checks every field's rules (the same rules as applicant validation).
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.serial == 0 || self.serial > MAX_SERIAL {
            return Err(claim_err("serial", "must be 1 … 999999999999"));
        }
        if self.version == 0 {
            return Err(claim_err("version", "must be at least 1"));
        }
        text::check(&self.name, applicant::MAX_NAME_CHARS)
            .map_err(|e| claim_err("name", e.to_string()))?;
        let hk = self.id_number.is_hk_mo_tw();
        match (self.ethnicity, hk) {
            (Some(_), true) => return Err(claim_err("ethnicity", "not applicable to HK/MO/TW")),
            (None, false) => return Err(claim_err("ethnicity", "missing")),
            (Some(e), false) if applicant::ethnicity_name(e).is_none() => {
                return Err(claim_err("ethnicity", format!("unknown code {e}")));
            }
            _ => {}
        }
        match (self.hukou_division, hk) {
            (Some(_), true) => {
                return Err(claim_err("hukou_division", "not applicable to HK/MO/TW"));
            }
            (None, false) => return Err(claim_err("hukou_division", "missing")),
            (Some(d), false) if !division::is_plausible_hukou_division(d) => {
                return Err(claim_err("hukou_division", format!("implausible code {d}")));
            }
            _ => {}
        }
        if division::city_of_district(self.residence_district).is_none() {
            return Err(claim_err(
                "residence_district",
                format!("{} is not a Guangdong district", self.residence_district),
            ));
        }
        text::check(&self.residence_address, applicant::MAX_ADDRESS_CHARS)
            .map_err(|e| claim_err("residence_address", e.to_string()))?;
        if division::authority_name(self.authority).is_none() {
            return Err(claim_err(
                "authority",
                format!("{} is not a Guangdong division", self.authority),
            ));
        }
        if self.endorsed_until < self.issued_on {
            return Err(claim_err("endorsed_until", "before the issue date"));
        }
        if self.status_index > MAX_STATUS_INDEX {
            return Err(claim_err("status_index", "larger than 2^32 - 1"));
        }
        Ok(())
    }

    fn to_value(&self) -> Value {
        let mut m: Vec<(Value, Value)> = Vec::with_capacity(14);
        let mut put = |k: u64, v: Value| m.push((cbor::uint(k), v));
        put(1, cbor::uint(self.serial));
        put(2, cbor::uint(u64::from(self.version)));
        put(3, Value::Text(self.name.clone()));
        put(4, Value::Text(self.id_number.as_str().to_owned()));
        if let Some(e) = self.ethnicity {
            put(5, cbor::uint(u64::from(e)));
        }
        if let Some(h) = self.hukou_division {
            put(6, cbor::uint(u64::from(h)));
        }
        put(7, cbor::uint(u64::from(self.residence_district)));
        put(8, Value::Text(self.residence_address.clone()));
        put(9, cbor::uint(u64::from(self.authority)));
        put(
            10,
            cbor::uint(u64::from(civil::date_to_int(self.issued_on))),
        );
        put(
            11,
            cbor::uint(u64::from(civil::date_to_int(self.endorsed_until))),
        );
        put(12, cbor::uint(self.status_index));
        if let Some(p) = self.photo {
            put(13, Value::Bytes(p.to_vec()));
        }
        if self.test {
            put(14, Value::Bool(true));
        }
        Value::Map(m)
    }

    fn from_value(v: Value) -> Result<PermitClaim, DecodeError> {
        let Value::Map(m) = v else {
            return Err(claim_err("permit", "not a map"));
        };
        let mut fields: [Option<Value>; 15] = Default::default();
        let mut last = 0u64;
        for (k, val) in m {
            let k = cbor::as_u64(&k)
                .filter(|k| (1..=14).contains(k))
                .ok_or_else(|| claim_err("permit", "unknown or non-integer field key"))?;
            if k <= last {
                return Err(claim_err("permit", "field keys out of order or repeated"));
            }
            last = k;
            fields[k as usize] = Some(val);
        }
        let take = |fields: &mut [Option<Value>; 15], k: usize| fields[k].take();
        fn text_of(v: Option<Value>, f: &'static str) -> Result<String, DecodeError> {
            match v {
                Some(Value::Text(s)) => Ok(s),
                Some(_) => Err(claim_err(f, "not a text string")),
                None => Err(claim_err(f, "missing")),
            }
        }
        fn uint_of(v: Option<Value>, f: &'static str, max: u64) -> Result<u64, DecodeError> {
            match v {
                Some(v) => cbor::as_u64(&v)
                    .filter(|u| *u <= max)
                    .ok_or_else(|| claim_err(f, "not an unsigned integer in range")),
                None => Err(claim_err(f, "missing")),
            }
        }
        fn date_of(v: Option<Value>, f: &'static str) -> Result<NaiveDate, DecodeError> {
            let n = uint_of(v, f, u64::MAX)?;
            civil::date_from_int(n)
                .ok_or_else(|| claim_err(f, format!("{n} is not a YYYYMMDD date")))
        }
        let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let serial = uint_of(take(&mut fields, 1), "serial", MAX_SERIAL)?;
        let version = to_u32(uint_of(
            take(&mut fields, 2),
            "version",
            u64::from(u32::MAX),
        )?);
        let name = text_of(take(&mut fields, 3), "name")?;
        let id_text = text_of(take(&mut fields, 4), "id_number")?;
        let id_number =
            CitizenId::parse(&id_text).map_err(|e| claim_err("id_number", e.to_string()))?;
        let ethnicity = match take(&mut fields, 5) {
            None => None,
            v => Some(uint_of(v, "ethnicity", 99)? as u8),
        };
        let hukou_division = match take(&mut fields, 6) {
            None => None,
            v => Some(to_u32(uint_of(v, "hukou_division", 999_999)?)),
        };
        let residence_district = to_u32(uint_of(
            take(&mut fields, 7),
            "residence_district",
            999_999,
        )?);
        let residence_address = text_of(take(&mut fields, 8), "residence_address")?;
        let authority = to_u32(uint_of(take(&mut fields, 9), "authority", 999_999)?);
        let issued_on = date_of(take(&mut fields, 10), "issued_on")?;
        let endorsed_until = date_of(take(&mut fields, 11), "endorsed_until")?;
        let status_index = uint_of(take(&mut fields, 12), "status_index", MAX_STATUS_INDEX)?;
        let photo = match take(&mut fields, 13) {
            None => None,
            Some(Value::Bytes(b)) => Some(
                b.as_slice()
                    .try_into()
                    .map_err(|_| claim_err("photo", "must be 16 bytes"))?,
            ),
            Some(_) => return Err(claim_err("photo", "not a byte string")),
        };
        let test = match take(&mut fields, 14) {
            None => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(claim_err("test", "must be true when present")),
        };
        let p = PermitClaim {
            serial,
            version,
            name,
            id_number,
            ethnicity,
            hukou_division,
            residence_district,
            residence_address,
            authority,
            issued_on,
            endorsed_until,
            status_index,
            photo,
            test,
        };
        if p.id_number.as_str() != id_text {
            return Err(DecodeError::NonCanonical {
                part: "permit claim",
            });
        }
        p.check()?;
        Ok(p)
    }
}

impl Claims {
    /// The last day the permit is valid (the day before `exp`, China Standard Time).
    pub fn valid_until(&self) -> NaiveDate {
        civil::date_of_unix(self.expires_at - 1)
    }

    /// Deterministic CBOR encoding of the claims set (the COSE payload).
    pub fn encode(&self) -> Vec<u8> {
        cbor::encode(&Value::Map(vec![
            (cbor::int(CLAIM_EXP), cbor::int(self.expires_at)),
            (cbor::int(CLAIM_IAT), cbor::int(self.issued_at)),
            (cbor::int(CLAIM_PERMIT), self.permit.to_value()),
        ]))
    }

    /// Decodes and checks a claims set; the bytes must be its canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Claims, DecodeError> {
        let v = cbor::decode_one(bytes).map_err(|e| claim_err("claims", e))?;
        let Value::Map(m) = v else {
            return Err(claim_err("claims", "not a map"));
        };
        let [(k1, exp), (k2, iat), (k3, permit)]: [(Value, Value); 3] = m
            .try_into()
            .map_err(|_| claim_err("claims", "must hold exactly exp, iat and the permit claim"))?;
        if cbor::as_i128(&k1) != Some(CLAIM_EXP.into())
            || cbor::as_i128(&k2) != Some(CLAIM_IAT.into())
            || cbor::as_i128(&k3) != Some(CLAIM_PERMIT.into())
        {
            return Err(claim_err(
                "claims",
                "must hold exactly exp (4), iat (6) and permit (-65537), in that order",
            ));
        }
        let time = |v: &Value, f: &'static str| {
            cbor::as_i128(v)
                .filter(|t| (0..=(1i128 << 40)).contains(t))
                .map(|t| t as i64)
                .ok_or_else(|| claim_err(f, "not an integer time in range"))
        };
        let expires_at = time(&exp, "exp")?;
        let issued_at = time(&iat, "iat")?;
        if expires_at <= issued_at {
            return Err(claim_err("exp", "not after iat"));
        }
        let permit = PermitClaim::from_value(permit)?;
        let claims = Claims {
            issued_at,
            expires_at,
            permit,
        };
        if claims.encode() != bytes {
            return Err(DecodeError::NonCanonical { part: "claims" });
        }
        Ok(claims)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_claims() -> Claims {
        Claims {
            issued_at: 1_795_536_000,
            expires_at: 1_890_230_400,
            permit: PermitClaim {
                serial: 482_913_077_415,
                version: 1,
                name: "欧阳晓燕".into(),
                id_number: CitizenId::parse("430524199107199021").unwrap(),
                ethnicity: Some(1),
                hukou_division: Some(430524),
                residence_district: 440106,
                residence_address: "石牌街道天河北路233号中信广场36栋1203房".into(),
                authority: 440106,
                issued_on: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
                endorsed_until: NaiveDate::from_ymd_opt(2027, 11, 25).unwrap(),
                status_index: 1_234_567,
                photo: None,
                test: true,
            },
        }
    }

    pub(crate) fn key() -> SecretKey {
        SecretKey::from_seed(&[42u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_size() {
        let k = key();
        let claims = sample_claims();
        let cose = sign(&claims, &k);
        assert!(cose.len() < 272, "COSE is {} bytes", cose.len());
        let text = to_text(&cose);
        assert!(text.starts_with("GDRP1:"));
        let back = from_text(&text).unwrap();
        assert_eq!(back, cose);
        let env = Envelope::decode(&back).unwrap();
        assert_eq!(env.key_id(), k.public().id());
        let v = env.verify(k.public()).unwrap();
        assert_eq!(v.claims().unwrap(), claims);
        let other = SecretKey::from_seed(&[43u8; 32]).unwrap();
        assert!(env.verify(other.public()).is_err());
    }

    #[test]
    fn decimal_edges() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 255) as u8).collect();
            let d = decimal::encode(&bytes);
            assert_eq!(decimal::decode(&d).unwrap(), bytes);
            let all_ff = vec![0xffu8; n];
            assert_eq!(decimal::decode(&decimal::encode(&all_ff)).unwrap(), all_ff);
        }
        assert_eq!(
            decimal::decode("256").unwrap_err().detail,
            "digit group exceeds its byte range"
        );
        assert_eq!(
            decimal::decode("1234").unwrap_err().detail,
            "digit count is not a valid length"
        );
        assert_eq!(decimal::decode("12a").unwrap_err().offset, 2);
        // 2^56 does not fit in 7 bytes
        assert!(decimal::decode("72057594037927936").is_err());
        assert!(decimal::decode("72057594037927935").is_ok());
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            from_text("HC1:NCF"),
            Err(DecodeError::Foreign(Foreign::EuDcc))
        );
        assert_eq!(
            from_text("shc:/5676"),
            Err(DecodeError::Foreign(Foreign::SmartHealthCard))
        );
        assert_eq!(
            from_text("NZCP:/1/2KC"),
            Err(DecodeError::Foreign(Foreign::NzCovidPass))
        );
        assert_eq!(
            from_text("https://example.com"),
            Err(DecodeError::NotAPermit)
        );
        assert_eq!(
            from_text("GDRP2:123"),
            Err(DecodeError::UnsupportedVersion {
                version: "2".into()
            })
        );
        assert_eq!(from_text("GDRP01:123"), Err(DecodeError::Prefix));
        assert_eq!(from_text("GDRPX:123"), Err(DecodeError::Prefix));
        assert!(matches!(
            from_text("GDRP1:12a"),
            Err(DecodeError::Transport { position: 9, .. })
        ));
        let big = format!("GDRP1:{}", "1".repeat(MAX_TEXT_BYTES));
        assert!(matches!(from_text(&big), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        let k = key();
        let cose = sign(&sample_claims(), &k);
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
    fn claims_reject_extras_and_order() {
        let c = sample_claims();
        let good = c.encode();
        assert_eq!(Claims::decode(&good).unwrap(), c);
        // An extra claim (iss).
        let extra = cbor::encode(&Value::Map(vec![
            (cbor::int(1), Value::Text("x".into())),
            (cbor::int(CLAIM_EXP), cbor::int(c.expires_at)),
            (cbor::int(CLAIM_IAT), cbor::int(c.issued_at)),
            (cbor::int(CLAIM_PERMIT), c.permit.to_value()),
        ]));
        assert!(matches!(
            Claims::decode(&extra),
            Err(DecodeError::Claims { .. })
        ));
        // Lower-case x in the ID would be a second encoding of the same number.
        let mut p = c.permit.clone();
        p.id_number = CitizenId::parse("11010519491231002X").unwrap();
        p.hukou_division = Some(110105);
        let mut v = p.to_value();
        if let Value::Map(m) = &mut v {
            m[3].1 = Value::Text("11010519491231002x".into());
        }
        let lower = cbor::encode(&Value::Map(vec![
            (cbor::int(CLAIM_EXP), cbor::int(c.expires_at)),
            (cbor::int(CLAIM_IAT), cbor::int(c.issued_at)),
            (cbor::int(CLAIM_PERMIT), v),
        ]));
        assert_eq!(
            Claims::decode(&lower),
            Err(DecodeError::NonCanonical {
                part: "permit claim"
            })
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn any_flipped_bit_never_verifies(byte in 0usize..400, bit in 0u8..8) {
            let k = key();
            let cose = sign(&sample_claims(), &k);
            let i = byte % cose.len();
            let mut bad = cose.clone();
            bad[i] ^= 1 << bit;
            let ok = Envelope::decode(&bad)
                .ok()
                .and_then(|e| e.verify(k.public()).ok().map(|v| v.claims().is_ok()))
                .unwrap_or(false);
            proptest::prop_assert!(!ok, "flipping bit {} of byte {} still verified", bit, i);
        }

        #[test]
        fn any_changed_digit_never_verifies(pos in 0usize..800, delta in 1u8..10) {
            let k = key();
            let text = to_text(&sign(&sample_claims(), &k));
            let mut b = text.into_bytes();
            let i = PREFIX_V1.len() + pos % (b.len() - PREFIX_V1.len());
            b[i] = b'0' + (b[i] - b'0' + delta) % 10;
            let t = String::from_utf8(b).unwrap();
            let ok = from_text(&t)
                .ok()
                .and_then(|c| Envelope::decode(&c).ok())
                .and_then(|e| e.verify(k.public()).ok().map(|v| v.claims().is_ok()))
                .unwrap_or(false);
            proptest::prop_assert!(!ok);
        }

        #[test]
        fn decoding_never_panics(s in "\\PC{0,300}", b in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = from_text(&s);
            let _ = from_text(&format!("GDRP1:{s}"));
            let _ = Envelope::decode(&b);
            let _ = Claims::decode(&b);
        }

        #[test]
        fn decimal_round_trip(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            proptest::prop_assert_eq!(decimal::decode(&decimal::encode(&b)).unwrap(), b);
        }
    }
}
