//! The holder stage of [`super::verify_text`]: a credential bound to the holder's device key is
//! accepted only inside a live presentation signed by that key within the presentation window
//! (`PRESENTATION_REQUIRED`, `HOLDER_SIGNATURE_INVALID`, `PRESENTATION_EXPIRED`,
//! `PRESENTATION_REPLAYED`); the view must be one the verifier's role accepts
//! (`VIEW_NOT_ACCEPTED`).

use permit_shared::credential::{self, CredentialClaims, DecodeError, Presentation};
use permit_shared::reason::Code;

use super::{Context, Reason, rfc3339};
use crate::replay;

/// Splits decoded COSE bytes into the credential and, when they are a presentation, the
/// presentation around it (its holder signature not yet checked).
pub(super) fn split(bytes: &[u8]) -> Result<(Vec<u8>, Option<Presentation>), DecodeError> {
    if credential::is_presentation(bytes) {
        let p = Presentation::decode(bytes)?;
        Ok((p.credential().to_vec(), Some(p)))
    } else {
        Ok((bytes.to_vec(), None))
    }
}

/// Checks the view against the role and the holder binding; returns the presentation time when
/// the holder signature verified.
pub(super) fn check(
    c: &CredentialClaims,
    presentation: Option<&Presentation>,
    ctx: &Context<'_>,
    reasons: &mut Vec<Reason>,
) -> Option<i64> {
    if !ctx.role.accepts(c.kind()) {
        reasons.push(Reason::new(
            Code::ViewNotAccepted,
            format!(
                "the {} view is not accepted for role {}; ask the holder to present the {} view",
                c.kind().as_str(),
                ctx.role.name,
                ctx.role.views.first().map_or("?", |v| v.as_str())
            ),
        ));
    }
    let (holder, p) = match (c.holder(), presentation) {
        (None, None) => return None,
        (None, Some(_)) => {
            reasons.push(Reason::new(
                Code::HolderSignatureInvalid,
                "a live presentation of a credential that binds no device key: the holder signature proves nothing",
            ));
            return None;
        }
        (Some(_), None) => {
            reasons.push(Reason::new(
                Code::PresentationRequired,
                "the credential is bound to the holder's phone and this is the bare code (a screenshot or a copy): ask for the live code in the holder's app",
            ));
            return None;
        }
        (Some(h), Some(p)) => (h, p),
    };
    let Ok(t) = p.verify_holder(holder) else {
        reasons.push(Reason::new(
            Code::HolderSignatureInvalid,
            format!(
                "the holder signature does not verify under the device key {} that the credential binds",
                holder.id()
            ),
        ));
        return None;
    };
    let at = ctx.at.timestamp();
    let window = ctx.policy.presentation_window.num_seconds();
    let skew = ctx.policy.presentation_skew.num_seconds();
    if at.saturating_add(skew) < t {
        reasons.push(Reason::new(
            Code::PresentationExpired,
            format!(
                "the live code is dated {}, {} s after the verification time (tolerance {skew} s): check the clocks of the phone and of this device",
                rfc3339(t),
                t - at
            ),
        ));
    } else if at > t.saturating_add(window + skew) {
        reasons.push(Reason::new(
            Code::PresentationExpired,
            format!(
                "the live code was drawn at {}, {} s before the verification time; it is accepted for {window} s (+{skew} s tolerance): ask for a fresh code",
                rfc3339(t),
                at - t
            ),
        ));
    } else if let Some(cache) = ctx.replay
        && cache.check_and_remember(
            &replay::presentation_id(p.signature()),
            t.saturating_add(window + skew),
            at,
        )
    {
        reasons.push(Reason::new(
            Code::PresentationReplayed,
            format!(
                "this live code (drawn at {}) was already scanned within its window: a rescan here, or a copy shown somewhere else",
                rfc3339(t)
            ),
        ));
    }
    Some(t)
}
