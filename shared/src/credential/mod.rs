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
//!
//! The module's files follow the stages: [`classify`](classify()) (prefix), `transport` (the
//! [`decimal`] codec, [`to_text`], [`from_text`]), `envelope` (COSE_Sign1, [`sign`], [`Verified`])
//! and `claims` ([`Claims`], [`PermitClaim`]).

mod claims;
mod classify;
mod envelope;
pub mod holder;
pub mod presentation;
mod transport;
mod view;
pub mod wallet;

pub use claims::{Claims, MAX_SERIAL, MAX_STATUS_INDEX, PHOTO_REF_LEN, PermitClaim};
pub use classify::{Foreign, Kind, classify};
pub use envelope::{
    Envelope, SignatureInvalid, Verified, sig_structure, sign, sign_view, sign_view_with, sign_with,
};
pub(crate) use envelope::{sign_payload, sign_payload_with};
pub use presentation::{Presentation, is_presentation, present, present_with};
pub use transport::{decimal, from_text, to_text};
pub use view::{
    BasicView, CLAIM_BASIC_VIEW, Core, CredentialClaims, ViewClaims, ViewKind, id_last4, mask_name,
};

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
/// The COSE `typ` header label (RFC 9596).
pub const HEADER_TYP: i64 = 16;

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures::example_claims;
    use crate::keys::SecretKey;

    pub(crate) fn key() -> SecretKey {
        SecretKey::from_seed(&[42u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_size() {
        let k = key();
        let claims = example_claims();
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn any_flipped_bit_never_verifies(byte in 0usize..400, bit in 0u8..8) {
            let k = key();
            let cose = sign(&example_claims(), &k);
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
            let text = to_text(&sign(&example_claims(), &k));
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

    }
}
