//! The holder's wallet for a bound permit: the full credential and its basic view, signed with
//! the same key, the same signing time and the same status-list index (one cancellation
//! revokes both). Ed25519 is deterministic, so signing the view again gives the same bytes.

use std::io::Write as _;
use std::path::Path;

use permit_shared::credential::{self, Envelope, wallet::WALLET_FORMAT, wallet::Wallet};

use super::Signer;
use crate::error_code::ErrorCode;
use crate::lifecycle::{LifecycleError, refused};

/// Writes a wallet to `path` (created or truncated) with mode 0600: it holds the full
/// credential, for the holder's eyes only. Callers that must not leave a partial file write to
/// a temporary name and rename it; none fsyncs here (a batch syncs its chunk's files at once).
pub fn write_wallet_file(path: &Path, w: &Wallet) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(w).map_err(std::io::Error::other)?;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(&json)
}

/// The wallet of a credential text this signer signed, or `None` for a credential not bound to
/// a device key (no view is issued for it: an unbound view could be replayed).
pub fn wallet(text: &str, signer: &Signer) -> Result<Option<Wallet>, LifecycleError> {
    let bad = |e: String| {
        refused(
            ErrorCode::ClaimsInvalid,
            format!("the credential to make a wallet of does not read back: {e}"),
        )
    };
    let bytes = credential::from_text(text).map_err(|e| bad(e.to_string()))?;
    let env = Envelope::decode(&bytes).map_err(|e| bad(e.to_string()))?;
    let verified = env
        .verify(signer.public())
        .map_err(|_| bad("not signed by this key".into()))?;
    let claims = verified.claims().map_err(|e| bad(e.to_string()))?;
    let Some(view) = claims.basic_view() else {
        return Ok(None);
    };
    let basic = credential::sign_view_with(&view, signer.key_id(), |tbs| signer.sign(tbs))?;
    Ok(Some(Wallet {
        format: WALLET_FORMAT.to_owned(),
        serial: format!("{:012}", claims.permit.serial),
        version: claims.permit.version,
        holder_key: credential::holder::holder_key_to_x(&view.holder),
        full: text.to_owned(),
        basic: credential::to_text(&basic),
    }))
}
