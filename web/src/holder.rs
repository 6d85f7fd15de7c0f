//! The holder page's helpers (`www/holder.html`): the bytes a live presentation signs, the
//! presentation's QR text once the phone's key store has signed them, and the QR matrix to draw.
//!
//! The device key never enters this module: the page signs with a non-extractable WebCrypto
//! Ed25519 key, so the private key stays in the browser's key store (docs/FORMAT.md §10.3).

use permit_shared::credential::{self, Envelope, is_presentation, present_with};
use qrcode::{Color, EcLevel, QrCode};

use crate::engine::WebError;

/// Largest presentation time accepted (year 9999), so that an absurd clock is an error.
const MAX_SECS: f64 = 253_402_300_799.0;

/// A bound credential's COSE bytes from its QR text (`GDRP1:…`).
fn credential_bytes(text: &str) -> Result<Vec<u8>, WebError> {
    let bytes = credential::from_text(text.trim()).map_err(|e| {
        WebError::new(
            "CREDENTIAL_INVALID",
            format!("not a permit credential: {e}"),
        )
    })?;
    if is_presentation(&bytes) {
        return Err(WebError::new(
            "CREDENTIAL_INVALID",
            "this is already a live presentation, not the wallet's credential",
        ));
    }
    Envelope::decode(&bytes).map_err(|e| {
        WebError::new(
            "CREDENTIAL_INVALID",
            format!("the credential is damaged: {e}"),
        )
    })?;
    Ok(bytes)
}

/// The presentation time in whole seconds, from the page's clock (`Date.now() / 1000`).
fn seconds(iat_secs: f64) -> Result<i64, WebError> {
    if !iat_secs.is_finite() || !(0.0..=MAX_SECS).contains(&iat_secs) {
        return Err(WebError::new(
            "CLOCK_INVALID",
            format!("{iat_secs} is not a time in seconds"),
        ));
    }
    Ok(iat_secs.floor() as i64)
}

/// The Sig_structure of a presentation of `credential_text` at `iat_secs`: the bytes the
/// holder's device key signs.
pub fn presentation_tbs(credential_text: &str, iat_secs: f64) -> Result<Vec<u8>, WebError> {
    let credential = credential_bytes(credential_text)?;
    let mut tbs = Vec::new();
    // present_with hands the signer the exact bytes; keeping them here (and a throw-away
    // signature) reuses the one encoder of the format instead of a copy of it.
    present_with(&credential, seconds(iat_secs)?, |bytes| {
        tbs = bytes.to_vec();
        Ok::<_, std::convert::Infallible>([0; 64])
    })
    .unwrap_or_else(|never| match never {});
    Ok(tbs)
}

/// The QR text (`GDRP1:` and digits) of the presentation of `credential_text` at `iat_secs`
/// with the device's `signature` over [`presentation_tbs`] of the same inputs.
pub fn presentation_text(
    credential_text: &str,
    iat_secs: f64,
    signature: &[u8],
) -> Result<String, WebError> {
    let signature: [u8; 64] = signature.try_into().map_err(|_| {
        WebError::new(
            "SIGNATURE_INVALID",
            format!("an Ed25519 signature is 64 bytes, not {}", signature.len()),
        )
    })?;
    let credential = credential_bytes(credential_text)?;
    let presentation = present_with(&credential, seconds(iat_secs)?, |_| {
        Ok::<_, std::convert::Infallible>(signature)
    })
    .unwrap_or_else(|never| match never {});
    Ok(credential::to_text(&presentation))
}

/// The QR code of `text` at error correction M (as the issuer renders credentials): the width
/// `w` in modules, then `w × w` bytes row by row, 1 for a dark module and 0 for a light one.
/// The quiet zone is not included (the page draws it).
pub fn qr_matrix(text: &str) -> Result<Vec<u8>, WebError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| WebError::new("QR_TOO_LARGE", format!("cannot encode as a QR code: {e}")))?;
    let width = code.width();
    let width_byte = u8::try_from(width)
        .map_err(|_| WebError::new("QR_TOO_LARGE", format!("QR width {width} over 255")))?;
    let mut out = Vec::with_capacity(1 + width * width);
    out.push(width_byte);
    out.extend(
        code.to_colors()
            .into_iter()
            .map(|c| u8::from(c == Color::Dark)),
    );
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use permit_shared::credential::{Presentation, sign, to_text};
    use permit_shared::fixtures::example_claims;
    use permit_shared::keys::SecretKey;

    fn bound() -> (String, SecretKey) {
        let issuer = SecretKey::from_seed(&[7; 32]).unwrap();
        let device = SecretKey::from_seed(&[9; 32]).unwrap();
        let mut claims = example_claims();
        claims.holder = Some(*device.public());
        (to_text(&sign(&claims, &issuer)), device)
    }

    #[test]
    fn a_signature_over_the_tbs_makes_a_presentation_the_verifier_reads() {
        let (text, device) = bound();
        let at = 1_800_000_000.4;
        let tbs = presentation_tbs(&text, at).unwrap();
        let sig = device.sign(&tbs);
        let live = presentation_text(&text, at, &sig).unwrap();
        // The same bytes as the holder CLI's presentation with the key itself.
        let cred = credential::from_text(&text).unwrap();
        assert_eq!(
            live,
            to_text(&credential::present(&cred, &device, 1_800_000_000))
        );
        let p = Presentation::decode(&credential::from_text(&live).unwrap()).unwrap();
        assert_eq!(p.verify_holder(device.public()), Ok(1_800_000_000));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let (text, _) = bound();
        assert_eq!(
            presentation_tbs("hello", 1.0).unwrap_err().code,
            "CREDENTIAL_INVALID"
        );
        assert_eq!(
            presentation_tbs("GDRP1:1234", 1.0).unwrap_err().code,
            "CREDENTIAL_INVALID"
        );
        for t in [f64::NAN, f64::INFINITY, -1.0, 1e300] {
            assert_eq!(
                presentation_tbs(&text, t).unwrap_err().code,
                "CLOCK_INVALID"
            );
        }
        assert_eq!(
            presentation_text(&text, 1.0, &[0; 63]).unwrap_err().code,
            "SIGNATURE_INVALID"
        );
        // A presentation is not a credential to present again.
        let device = SecretKey::from_seed(&[9; 32]).unwrap();
        let tbs = presentation_tbs(&text, 5.0).unwrap();
        let live = presentation_text(&text, 5.0, &device.sign(&tbs)).unwrap();
        assert_eq!(
            presentation_tbs(&live, 6.0).unwrap_err().code,
            "CREDENTIAL_INVALID"
        );
        assert!(qr_matrix(&"9".repeat(20_000)).is_err());
    }

    #[test]
    fn the_matrix_is_the_width_then_its_modules() {
        let m = qr_matrix("GDRP1:0123456789").unwrap();
        let w = usize::from(m[0]);
        assert_eq!(w, 21);
        assert_eq!(m.len(), 1 + w * w);
        // The top-left finder pattern: a dark 7-module row, then dark, 5 light, dark.
        assert_eq!(&m[1..8], &[1; 7]);
        assert_eq!(&m[1 + w..1 + w + 7], &[1, 0, 0, 0, 0, 0, 1]);
    }
}
