//! The offline web verifier: `permit-verifier` compiled to WebAssembly for the page in `web/www/`.
//!
//! The page creates one [`WebVerifier`] with the pinned root, a trust list and the state it keeps
//! in `localStorage`, then passes it camera frames ([`WebVerifier::scan_rgba`]), photos
//! ([`WebVerifier::check_image`]) or scanner text ([`WebVerifier::verify_text`]). Every call
//! takes the current time from the page (`Date.now()`): the library never reads the clock.
//! Reports are the JSON of `verifier verify --json` (`gdrp-verify/1`), as a string.
//!
//! Nothing about a person is kept here between calls: each report is returned and forgotten.
//!
//! The holder page (`www/holder.html`) uses [`presentation_tbs`], [`presentation_text`] and
//! [`qr_matrix`] to draw live presentation codes signed by a WebCrypto key.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod engine;
pub mod holder;

use permit_verifier::check::Input;
use wasm_bindgen::prelude::*;

use engine::{Engine, FRAME_BUDGET_MS, PHOTO_BUDGET_MS, WebError};

fn js(e: WebError) -> JsError {
    JsError::new(&e.text())
}

/// The verifier of one page (see the crate documentation).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WebVerifier {
    engine: Engine,
}

#[wasm_bindgen]
impl WebVerifier {
    /// Pins `root` (PEM or JWK text), verifies `trust` (the signed trust list) against it at
    /// `now_ms` and takes the saved state (`""` for none). Errors are `CODE: message`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        root: &[u8],
        trust: &[u8],
        state_json: &str,
        now_ms: f64,
    ) -> Result<WebVerifier, JsError> {
        Engine::new(root, trust, state_json, now_ms)
            .map(|engine| WebVerifier { engine })
            .map_err(js)
    }

    /// Replaces the trust list (verified against the root; a rollback is refused).
    pub fn load_trust(&mut self, trust: &[u8], now_ms: f64) -> Result<(), JsError> {
        self.engine.load_trust(trust, now_ms).map_err(js)
    }

    /// Replaces the status list (verified against the trust list; a rollback is refused).
    pub fn load_status(&mut self, name: &str, bytes: &[u8], now_ms: f64) -> Result<(), JsError> {
        self.engine.load_status(name, bytes, now_ms).map_err(js)
    }

    /// Verifies for the role named `name` (`police`, the default: every field; `hotel`,
    /// `hospital`, `employer`, `school`: the masked name, the last 4 of the ID number, the city
    /// and the dates).
    pub fn set_role(&mut self, name: &str) -> Result<(), JsError> {
        self.engine.set_role(name).map_err(js)
    }

    /// Forgets the status list.
    pub fn clear_status(&mut self) {
        self.engine.clear_status();
    }

    /// The state to save in `localStorage` after each call that may change it.
    pub fn state_json(&self) -> String {
        self.engine.state_json()
    }

    /// The lists' provenance and warnings at `now_ms`, as JSON.
    pub fn lists(&self, now_ms: f64) -> Result<String, JsError> {
        self.engine.lists(now_ms).map(|v| v.to_string()).map_err(js)
    }

    /// The report for scanner text.
    pub fn verify_text(&mut self, text: &str, now_ms: f64) -> Result<String, JsError> {
        self.report("text", Input::Text(text), PHOTO_BUDGET_MS, now_ms)
    }

    /// The report for a photo or screenshot file (PNG, JPEG, WebP, BMP, GIF, TIFF).
    pub fn check_image(
        &mut self,
        name: &str,
        bytes: &[u8],
        now_ms: f64,
    ) -> Result<String, JsError> {
        self.report(name, Input::Image(bytes), PHOTO_BUDGET_MS, now_ms)
    }

    /// The report for one camera frame: `data` is the RGBA `ImageData` of a canvas, `width` ×
    /// `height` pixels. A frame without a code gives a report with `exit_code` 2 (`NO_CODE_FOUND`
    /// among its reasons); the page then tries the next frame.
    pub fn scan_rgba(
        &mut self,
        width: u32,
        height: u32,
        data: &[u8],
        now_ms: f64,
    ) -> Result<String, JsError> {
        let input = Input::Rgba {
            width,
            height,
            pixels: data,
        };
        self.report("camera", input, FRAME_BUDGET_MS, now_ms)
    }

    fn report(
        &mut self,
        name: &str,
        input: Input<'_>,
        budget_ms: u64,
        now_ms: f64,
    ) -> Result<String, JsError> {
        self.engine
            .check(name, input, budget_ms, now_ms)
            .map(|v| v.to_string())
            .map_err(js)
    }
}

/// The bytes the holder's device key signs for a live presentation of `credential_text` (a
/// bound credential, `GDRP1:…`) drawn at `iat_secs` (Unix seconds, from the page's clock).
#[wasm_bindgen]
pub fn presentation_tbs(credential_text: &str, iat_secs: f64) -> Result<Vec<u8>, JsError> {
    holder::presentation_tbs(credential_text, iat_secs).map_err(js)
}

/// The QR text of that presentation, given the device's 64-byte Ed25519 `signature` over
/// [`presentation_tbs`] of the same credential and time.
#[wasm_bindgen]
pub fn presentation_text(
    credential_text: &str,
    iat_secs: f64,
    signature: &[u8],
) -> Result<String, JsError> {
    holder::presentation_text(credential_text, iat_secs, signature).map_err(js)
}

/// The QR code of `text` (ECC M): its width `w`, then `w × w` modules row by row (1 dark).
#[wasm_bindgen]
pub fn qr_matrix(text: &str) -> Result<Vec<u8>, JsError> {
    holder::qr_matrix(text).map_err(js)
}
