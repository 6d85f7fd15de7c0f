//! The holder's wallet for a bound permit: the full credential and its basic view, signed with
//! the same key, the same signing time and the same status-list index (one cancellation
//! revokes both). Ed25519 is deterministic, so signing the view again gives the same bytes.

use permit_shared::credential::{self, Envelope, wallet::WALLET_FORMAT, wallet::Wallet};

use super::Signer;
use crate::error_code::ErrorCode;
use crate::lifecycle::{LifecycleError, refused};

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
