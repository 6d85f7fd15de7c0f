//! The TEST-ONLY demo trust material from `keys/`, embedded at build time so that the verifier
//! works out of the box for demos. Everything it accepts is reported as `TEST_CREDENTIAL`.

use permit_shared::keys::{Jwk, KeyError, PublicKey};

/// The demo root public key (JWK), pinned by default.
pub const ROOT_JWK: &str = include_str!("../../keys/TEST-ONLY-demo-root.pub.jwk.json");
/// The demo trust list, signed by the demo root.
pub const TRUST_LIST: &str = include_str!("../../keys/TEST-ONLY-demo-trust-list.json");

/// The demo root key.
pub fn root() -> Result<PublicKey, KeyError> {
    let jwk: Jwk = serde_json::from_str(ROOT_JWK).map_err(|e| KeyError::BadJwk(e.to_string()))?;
    PublicKey::from_jwk(&jwk)
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_trust_list_verifies() {
        let root = super::root().unwrap();
        let tl =
            permit_shared::trust::TrustList::verify(super::TRUST_LIST.as_bytes(), &root).unwrap();
        assert!(tl.test);
        assert!(tl.keys.iter().all(|k| k.test));
    }
}
