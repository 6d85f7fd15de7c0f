//! The TEST-ONLY demo keys from `keys/`, embedded at build time so that the quick start works
//! without key set-up. Everything signed with them is test data.

use chrono::{DateTime, Utc};

use permit_shared::keys::{Jwk, KeyError, PublicKey, SecretKey};
use permit_shared::trust::{TrustError, TrustList, Usage};

use crate::issue::{Signer, SignerError};
use crate::keyfile::pem_body;

/// The demo issuer private key (TEST-ONLY, public in the repository).
const ISSUER_KEY: &str = include_str!("../../keys/TEST-ONLY-demo-issuer.key.pem");
/// The demo root public key.
const ROOT_JWK: &str = include_str!("../../keys/TEST-ONLY-demo-root.pub.jwk.json");
/// The demo trust list.
pub const TRUST_LIST: &str = include_str!("../../keys/TEST-ONLY-demo-trust-list.json");

/// The demo issuer key.
pub fn issuer_key() -> Result<SecretKey, KeyError> {
    SecretKey::from_pkcs8_pem(pem_body(ISSUER_KEY))
}

/// The demo root public key.
pub fn root() -> Result<PublicKey, KeyError> {
    let jwk: Jwk = serde_json::from_str(ROOT_JWK).map_err(|e| KeyError::BadJwk(e.to_string()))?;
    PublicKey::from_jwk(&jwk)
}

/// The demo trust list, verified against the demo root.
pub fn trust_list() -> Result<TrustList, DemoError> {
    Ok(TrustList::verify(TRUST_LIST.as_bytes(), &root()?)?)
}

/// The demo issuer key with the demo trust list, checked for signing `usage` at `at`.
pub fn signer(usage: Usage, at: DateTime<Utc>) -> Result<Signer, DemoError> {
    Ok(Signer::new(issuer_key()?, trust_list()?, usage, at)?)
}

/// Why the embedded demo material is unusable (a build from a damaged checkout, or a time
/// outside the demo key's signing window).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A demo key does not parse.
    #[error("demo key: {0}")]
    Key(#[from] KeyError),
    /// The demo trust list does not verify.
    #[error("demo trust list: {0}")]
    Trust(#[from] TrustError),
    /// The demo key may not sign here and now.
    #[error("demo key: {0}")]
    Signer(#[from] SignerError),
}
