//! The one path from a signed credential to the bytes written: the QR matrix is encoded once,
//! rendered as PNG, decoded again with the verifier's own reader and verified against the trust
//! list (the self-check), and only then are the bytes of the chosen format handed out.
//!
//! ```
//! use permit_issuer::issue::output::Format;
//! use std::path::Path;
//! assert_eq!(Format::from_path(Path::new("permit.PNG")), Some(Format::Png));
//! assert_eq!(Format::from_path(Path::new("-")), Some(Format::Text));
//! assert_eq!(Format::from_path(Path::new("permit.pdf")), None);
//! ```

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use permit_shared::trust::TrustList;

use crate::render::{self, Ecc, QrMatrix, RenderError, RenderOptions};
use crate::selfcheck::{self, SelfCheckError};

/// What a credential is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A PNG image of the QR code.
    Png,
    /// An SVG image of the QR code.
    Svg,
    /// The QR text and a newline (what a scanner gun types).
    Text,
}

impl Format {
    /// The format an output path asks for: `-` (standard output) and `.txt` are text, `.png`
    /// and `.svg` images (any case); anything else is `None`.
    pub fn from_path(path: &Path) -> Option<Format> {
        if path.as_os_str() == "-" {
            return Some(Format::Text);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            "txt" => Some(Format::Text),
            _ => None,
        }
    }

    /// The name used in reports (`png`, `svg`, `text`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Text => "text",
        }
    }
}

/// Why no output was produced.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The code could not be encoded or drawn (too long, a size out of range).
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The rendered code does not decode to the credential, or the credential does not verify.
    #[error(transparent)]
    SelfCheck(#[from] SelfCheckError),
}

/// A credential's QR code, encoded once; every format is drawn from the same matrix.
pub struct Code<'a> {
    text: &'a str,
    matrix: QrMatrix,
    opts: RenderOptions,
}

impl<'a> Code<'a> {
    /// Encodes `text` at `ecc` (segments, version, mask).
    pub fn encode(text: &'a str, ecc: Ecc, opts: RenderOptions) -> Result<Code<'a>, RenderError> {
        Ok(Code::from_matrix(text, QrMatrix::encode(text, ecc)?, opts))
    }

    /// A code whose matrix was encoded already (the printable card encodes its own).
    pub fn from_matrix(text: &'a str, matrix: QrMatrix, opts: RenderOptions) -> Code<'a> {
        Code { text, matrix, opts }
    }

    /// The credential text the code holds.
    pub fn text(&self) -> &str {
        self.text
    }

    /// The QR matrix.
    pub fn matrix(&self) -> &QrMatrix {
        &self.matrix
    }

    /// The PNG, without the self-check (batch jobs check a sample; see [`Code::checked_png`]).
    pub fn png(&self) -> Result<Vec<u8>, RenderError> {
        render::to_png(&self.matrix, &self.opts)
    }

    /// The PNG after the self-check: decoded again, it must hold exactly the credential's text,
    /// and the text must verify against `trust` at `at`.
    pub fn checked_png(
        &self,
        trust: &TrustList,
        at: DateTime<Utc>,
    ) -> Result<Vec<u8>, OutputError> {
        let png = self.png()?;
        selfcheck::check_image(&png, self.text, trust, at)?;
        Ok(png)
    }

    /// The SVG.
    pub fn svg(&self) -> Result<String, RenderError> {
        render::to_svg(&self.matrix, &self.opts)
    }

    /// The text file: the QR text and a newline.
    pub fn text_file(&self) -> Vec<u8> {
        format!("{}\n", self.text).into_bytes()
    }

    /// Runs the self-check on the PNG and returns the bytes of `format` with what was drawn.
    pub fn checked(
        &self,
        format: Format,
        trust: &TrustList,
        at: DateTime<Utc>,
    ) -> Result<Rendered, OutputError> {
        let png = self.checked_png(trust, at)?;
        let side = self.opts.side_px(&self.matrix)?;
        let (bytes, size_px) = match format {
            Format::Png => (png, Some(side)),
            Format::Svg => (self.svg()?.into_bytes(), Some(side)),
            Format::Text => (self.text_file(), None),
        };
        Ok(Rendered {
            bytes,
            info: RenderedInfo {
                format: format.as_str(),
                version: self.matrix.version(),
                ecc: self.matrix.ecc().to_string(),
                modules: self.matrix.width(),
                module_px: self.opts.module_px,
                size_px,
            },
        })
    }
}

/// Checked output, ready to be written.
pub struct Rendered {
    /// The bytes of the file (or of standard output).
    pub bytes: Vec<u8>,
    /// What was drawn.
    pub info: RenderedInfo,
}

/// What was drawn: part of the `--json` reports of the commands that write a code.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedInfo {
    /// `png`, `svg` or `text`.
    pub format: &'static str,
    /// QR version (1–40).
    pub version: u8,
    /// Error-correction level (`L`, `M`, `Q`, `H`).
    pub ecc: String,
    /// Modules a side, without the quiet zone.
    pub modules: usize,
    /// Pixels (PNG) or user units (SVG) a module.
    pub module_px: u32,
    /// Side of the image in pixels, quiet zone included; absent for text.
    pub size_px: Option<u32>,
}

/// Renders `text` at `ecc` for `format` through the self-check: the one-call form of
/// [`Code::encode`] and [`Code::checked`].
pub fn render_checked(
    text: &str,
    format: Format,
    ecc: Ecc,
    opts: RenderOptions,
    trust: &TrustList,
    at: DateTime<Utc>,
) -> Result<Rendered, OutputError> {
    Code::encode(text, ecc, opts)?.checked(format, trust, at)
}
