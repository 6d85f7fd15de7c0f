//! The TEST-ONLY demo keys from `keys/`, embedded at build time so that the quick start works
//! without key set-up. Everything signed with them is test data.

use permit_shared::keys::{Jwk, KeyError, PublicKey, SecretKey};

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
