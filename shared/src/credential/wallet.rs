//! The holder's wallet file (`gdrp-wallet/1`): the credentials of one bound permit version that
//! the holder's app keeps and presents, one per view. The issuer writes it beside the code of
//! a bound permit; `holder present` reads it.
//!
//! ```json
//! {"format": "gdrp-wallet/1", "serial": "440100123456", "version": 1,
//!  "holder_key": "<JWK x>", "full": "GDRP1:…", "basic": "GDRP1:…"}
//! ```

use serde::{Deserialize, Serialize};

use super::ViewKind;

/// The wallet format tag.
pub const WALLET_FORMAT: &str = "gdrp-wallet/1";
/// Largest wallet file read, bytes (two credentials of at most 1024 bytes as decimal text).
pub const MAX_WALLET_BYTES: usize = 16 * 1024;

/// A wallet: the credential texts of one permit version, by view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wallet {
    /// Always [`WALLET_FORMAT`].
    pub format: String,
    /// Permit serial (12 digits).
    pub serial: String,
    /// Credential version.
    pub version: u32,
    /// The device key the credentials bind (JWK `x`).
    pub holder_key: String,
    /// The full credential (police).
    pub full: String,
    /// The basic view (hotels, hospitals, employers, schools).
    pub basic: String,
}

impl Wallet {
    /// Parses a wallet file.
    pub fn from_json(bytes: &[u8]) -> Result<Wallet, String> {
        if bytes.len() > MAX_WALLET_BYTES {
            return Err(format!(
                "wallet is {} bytes, more than {MAX_WALLET_BYTES}",
                bytes.len()
            ));
        }
        let w: Wallet = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if w.format != WALLET_FORMAT {
            return Err(format!("format `{}`, not `{WALLET_FORMAT}`", w.format));
        }
        Ok(w)
    }

    /// The credential text of a view.
    pub fn text(&self, view: ViewKind) -> &str {
        match view {
            ViewKind::Full => &self.full,
            ViewKind::Basic => &self.basic,
        }
    }
}
