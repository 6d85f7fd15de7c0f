//! The signing key together with the trust list that publishes it.

use chrono::{DateTime, Utc};

use permit_shared::keys::{KeyId, SecretKey};
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

/// A signing key checked against the trust list it is published in: listed, allowed to sign
/// what it is used for, inside its signing window, not compromised. The trust list is kept for
/// the self-check of everything the key signs.
pub struct Signer {
    key: SecretKey,
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
        let kid = key.public().id();
        let Some(entry) = trust
            .keys_with_id(kid)
            .find(|e| e.key == *key.public())
            .cloned()
        else {
            return Err(SignerError::NotInTrustList {
                kid,
                sequence: trust.sequence,
            });
        };
        check_use(&entry, usage, at).map_err(|reason| SignerError::KeyUse { kid, reason })?;
        Ok(Signer { key, trust, entry })
    }

    /// The secret key.
    pub fn key(&self) -> &SecretKey {
        &self.key
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
        self.key.public().id()
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
