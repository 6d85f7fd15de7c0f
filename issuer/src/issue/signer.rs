//! The signing key (a key file in memory, or a key in a PKCS#11 token) together with the trust
//! list that publishes it.

use chrono::{DateTime, Utc};

use crate::pkcs11::{Pkcs11Error, Pkcs11Key};
use permit_shared::keys::{KeyId, PublicKey, SecretKey};
use permit_shared::trust::{TrustList, TrustedKey, Usage};

/// Why a key may not sign here and now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The trust list does not name the key: verifiers would reject what it signs.
    #[error("signing key {kid} is not in trust list sequence {sequence}")]
    NotInTrustList {
        /// The key's id.
        kid: KeyId,
        /// The trust list's sequence number.
        sequence: u64,
    },
    /// The trust list names the key but its use policy refuses this signature.
    #[error("key {kid}: {reason}")]
    KeyUse {
        /// The key's id.
        kid: KeyId,
        /// What the policy says.
        reason: String,
    },
}

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The token failed to sign.
    #[error("{0}")]
    Token(#[from] Pkcs11Error),
    /// The token returned a signature that does not verify with the key's public key.
    #[error(
        "the token returned a signature that does not verify with key {kid}; nothing was signed"
    )]
    Invalid {
        /// The key's id.
        kid: KeyId,
    },
}

/// Where the private key is.
#[derive(Debug)]
pub enum Backend {
    /// In memory, read from a key file (zeroized on drop).
    File(SecretKey),
    /// In a PKCS#11 token; only its public key is in memory.
    Pkcs11(Pkcs11Key),
}

impl Backend {
    /// The public key (for a token key, as the token reports it).
    pub fn public(&self) -> &PublicKey {
        match self {
            Backend::File(k) => k.public(),
            Backend::Pkcs11(k) => k.public(),
        }
    }
}

/// A signing key checked against the trust list it is published in: listed, allowed to sign
/// what it is used for, inside its signing window, not compromised. The trust list is kept for
/// the self-check of everything the key signs.
pub struct Signer {
    backend: Backend,
    trust: TrustList,
    entry: TrustedKey,
}

impl Signer {
    /// Checks `key` against `trust` for signing `usage` at `at`.
    pub fn new(
        key: SecretKey,
        trust: TrustList,
        usage: Usage,
        at: DateTime<Utc>,
    ) -> Result<Signer, SignerError> {
        Signer::with_backend(Backend::File(key), trust, usage, at)
    }

    /// Checks the key of `backend` against `trust` for signing `usage` at `at`: a token key's
    /// public key, as the token reports it, must be the one the trust list publishes.
    pub fn with_backend(
        backend: Backend,
        trust: TrustList,
        usage: Usage,
        at: DateTime<Utc>,
    ) -> Result<Signer, SignerError> {
        let public = backend.public();
        let kid = public.id();
        let Some(entry) = trust.keys_with_id(kid).find(|e| e.key == *public).cloned() else {
            return Err(SignerError::NotInTrustList {
                kid,
                sequence: trust.sequence,
            });
        };
        check_use(&entry, usage, at).map_err(|reason| SignerError::KeyUse { kid, reason })?;
        Ok(Signer {
            backend,
            trust,
            entry,
        })
    }

    /// Signs `message` (Ed25519). A token's signature is verified (`verify_strict`) with the
    /// public key before it is returned: a faulty or substituted token signs nothing.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        match &self.backend {
            Backend::File(k) => Ok(k.sign(message)),
            Backend::Pkcs11(k) => {
                let sig = k.sign(message)?;
                if k.public().verify_strict(message, &sig) {
                    Ok(sig)
                } else {
                    Err(SignError::Invalid {
                        kid: k.public().id(),
                    })
                }
            }
        }
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        self.backend.public()
    }

    /// Whether the key is in a PKCS#11 token.
    pub fn in_token(&self) -> bool {
        matches!(self.backend, Backend::Pkcs11(_))
    }

    /// The verified trust list the key is published in (for the self-check).
    pub fn trust(&self) -> &TrustList {
        &self.trust
    }

    /// Whether the key is TEST-ONLY (then it signs only test data, and test data only it).
    pub fn is_test(&self) -> bool {
        self.entry.test
    }

    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.public().id()
    }
}

// TEMPORARY until the shared key-use policy lands (shared::trust).
fn check_use(entry: &TrustedKey, usage: Usage, at: DateTime<Utc>) -> Result<(), String> {
    let t = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if !entry.may(usage) {
        return Err(format!(
            "may not sign {usage:?} according to the trust list"
        ));
    }
    if at < entry.signing_from || at > entry.signing_until {
        return Err(format!(
            "may sign only from {} to {}; now is {}",
            t(entry.signing_from),
            t(entry.signing_until),
            t(at)
        ));
    }
    if entry.compromised_since.is_some() {
        return Err("is marked compromised in the trust list".into());
    }
    Ok(())
}
