//! The self-check: before an issued code is written, its rendered image is decoded again with
//! the verifier's own decoder and verified against the trust list. A failure is an error, not a
//! file.

use chrono::{DateTime, Utc};

use permit_shared::reason::{Code, Severity};
use permit_shared::trust::TrustList;
use permit_verifier::scan::{self, ScanLimits};
use permit_verifier::verify::{self, Context, Verdict};

/// Why the self-check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelfCheckError {
    /// The rendered image could not be decoded.
    #[error("self-check: the rendered image does not decode ({0})")]
    Decode(String),
    /// It decoded to other text.
    #[error("self-check: the rendered image decodes to different text")]
    Mismatch,
    /// The text does not verify.
    #[error("self-check: the credential does not verify: {0}")]
    Verify(String),
}

/// Verifies a credential text as a verifier would (warnings allowed, e.g. `TEST_CREDENTIAL`).
/// A credential bound to a holder's device key is never valid bare (`PRESENTATION_REQUIRED`:
/// only the holder's phone can present it); that is the one error allowed for it.
pub fn verify_text(text: &str, trust: &TrustList, at: DateTime<Utc>) -> Result<(), SelfCheckError> {
    let ctx = Context::new(trust, at);
    let o = verify::verify_text(text, &ctx);
    let bound = o
        .permit
        .as_ref()
        .is_some_and(|p| p.credential().holder().is_some());
    let only_needs_presentation = bound
        && o.reasons
            .iter()
            .filter(|r| r.code.severity() != Severity::Warning)
            .all(|r| r.code == Code::PresentationRequired);
    if (o.verdict == Verdict::Valid || only_needs_presentation) && o.permit.is_some() {
        Ok(())
    } else {
        Err(SelfCheckError::Verify(
            o.reasons
                .iter()
                .map(|r| format!("{} ({})", r.code.as_str(), r.message))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

/// Decodes an encoded image (PNG) and checks it holds exactly `text`, then verifies the text.
pub fn check_image(
    image: &[u8],
    text: &str,
    trust: &TrustList,
    at: DateTime<Utc>,
) -> Result<(), SelfCheckError> {
    let codes = scan::scan_image_bytes(image, &ScanLimits::default())
        .map_err(|e| SelfCheckError::Decode(e.to_string()))?;
    match codes.as_slice() {
        [one] if one.text == text => verify_text(text, trust, at),
        [_] => Err(SelfCheckError::Mismatch),
        _ => Err(SelfCheckError::Decode(format!(
            "{} codes found",
            codes.len()
        ))),
    }
}
