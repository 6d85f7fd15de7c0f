//! Checking inputs: every code of an image or a scanned text verified, then one decision for
//! the input (the one permit code, or why there is none), as a [`Report`].
//!
//! An input that gives no whole code is not read (exit code 2, "scan again"), with no verdict
//! on the credential: an unreadable or SVG file, an image without a code, and a single text that
//! is empty (`NO_TEXT`) or cut off (`TRUNCATED`, see [`crate::normalise::read_failure`]).

use permit_shared::credential::{self, Kind};
use permit_shared::reason::Code;

use crate::normalise::{self, ReadFailure};
use crate::report::{CodeReport, Report};
use crate::scan::{self, ScanLimits};
use crate::verify::{self, Context, Provenance, Reason, Verdict};

/// What to read.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Scanner text.
    Text(&'a str),
    /// Image file bytes.
    Image(&'a [u8]),
    /// Decoded pixels (a camera frame), as [`scan::scan_rgba`] takes them.
    Rgba {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// RGBA bytes, row by row.
        pixels: &'a [u8],
    },
}

fn kind_of(text: &str) -> (&'static str, Option<&'static str>) {
    let n = crate::normalise::normalise(text);
    match credential::classify(&n.text) {
        Kind::Permit { .. } | Kind::BadPrefix => ("permit", None),
        Kind::Foreign(f) => ("foreign", Some(f.name())),
        Kind::Other => ("other", None),
    }
}

/// Reads an input, verifies every code in it, and decides.
pub fn check(name: &str, input: Input<'_>, ctx: &Context<'_>, limits: &ScanLimits) -> Report {
    let texts: Vec<String> = match input {
        Input::Text(t) => vec![t.to_owned()],
        Input::Image(bytes) if is_svg(bytes) => {
            return input_error(
                name,
                Reason::new(
                    Code::SvgNotSupported,
                    "SVG is not supported, use the PNG of the same code (PNG, JPEG, WebP, BMP, GIF and TIFF are read)",
                ),
                ctx,
            );
        }
        Input::Image(_) | Input::Rgba { .. } => match scan_input(input, limits) {
            Ok(report) => report.codes.into_iter().map(|c| c.text).collect(),
            Err(e) => {
                let code = Code::parse(e.code()).unwrap_or(Code::ImageUnreadable);
                return input_error(name, Reason::new(code, e.to_string()), ctx);
            }
        },
    };
    if let [text] = texts.as_slice()
        && let Some(failure) = normalise::read_failure(&normalise::normalise(text).text)
    {
        let reason = match failure {
            ReadFailure::NoText => Reason::new(Code::NoText, "no text was read: scan again"),
            ReadFailure::Truncated { detail } => Reason::new(
                Code::Truncated,
                format!("the text stops before the code is complete ({detail}): scan again"),
            ),
        };
        return input_error(name, reason, ctx);
    }
    let codes: Vec<CodeReport> = texts
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let (kind, format) = kind_of(t);
            CodeReport {
                index,
                kind,
                format,
                text_length: t.len(),
                outcome: verify::verify_text(t, ctx),
            }
        })
        .collect();
    decide(name, codes)
}

/// The codes of an image input (a text input is no image: no code).
fn scan_input(input: Input<'_>, limits: &ScanLimits) -> Result<scan::ScanReport, scan::ScanError> {
    match input {
        Input::Text(_) => Err(scan::ScanError::NoCodeFound),
        Input::Image(bytes) => scan::scan_image_bytes_with_report(bytes, limits),
        Input::Rgba {
            width,
            height,
            pixels,
        } => scan::scan_rgba(width, height, pixels, limits),
    }
}

fn decide(name: &str, codes: Vec<CodeReport>) -> Report {
    let permits: Vec<usize> = codes
        .iter()
        .filter(|c| c.kind == "permit")
        .map(|c| c.index)
        .collect();
    let chosen = match (codes.len(), permits.as_slice()) {
        (1, _) => Some(0),
        (_, [one]) => Some(*one),
        _ => None,
    };
    if let Some(i) = chosen {
        let o = &codes[i].outcome;
        let mut reasons = o.reasons.clone();
        if codes.len() > 1 {
            reasons.push(Reason::new(
                Code::OtherCodesPresent,
                format!(
                    "{} other QR code(s) in the image are not permits and were not used",
                    codes.len() - 1
                ),
            ));
        }
        return Report {
            input: name.to_owned(),
            verdict: o.verdict,
            reasons,
            chosen: Some(i),
            provenance: o.provenance.clone(),
            codes,
            input_error: false,
        };
    }
    let mut reasons = Vec::new();
    if permits.len() > 1 {
        reasons.push(Reason::new(
            Code::MultipleCodes,
            format!(
                "{} permit codes in one image (codes {}); scan the holder's code alone",
                permits.len(),
                permits
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    } else {
        // Several codes, none of them a permit: report each code's reasons once.
        for c in &codes {
            for r in &c.outcome.reasons {
                if !reasons.iter().any(|x: &Reason| x.code == r.code) {
                    reasons.push(r.clone());
                }
            }
        }
    }
    let provenance = codes[0].outcome.provenance.clone();
    Report {
        input: name.to_owned(),
        verdict: if permits.len() > 1 {
            Verdict::Indeterminate
        } else {
            Verdict::from_reasons(&reasons)
        },
        reasons,
        chosen: None,
        provenance: Provenance {
            key_id: None,
            issuer: None,
            ..provenance
        },
        codes,
        input_error: false,
    }
}

/// Whether the bytes are an SVG document (after an optional byte order mark, white space and an
/// XML declaration or comments): the issuer writes SVG codes for print, which this verifier does
/// not rasterise.
fn is_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("<svg")
        || (t.starts_with('<')
            && (t.starts_with("<?xml") || t.starts_with("<!"))
            && t.contains("<svg"))
}

/// The report for an input file that could not even be read (missing, too large).
pub fn unreadable(name: &str, message: &str, ctx: &Context<'_>) -> Report {
    input_error(
        name,
        Reason::new(Code::ImageUnreadable, message.to_owned()),
        ctx,
    )
}

/// The report for an input that gave no code to verify: indeterminate, exit code 2, with the
/// provenance of the context (no key, no issuer).
pub fn input_error(name: &str, reason: Reason, ctx: &Context<'_>) -> Report {
    let outcome = verify::verify_text("", ctx);
    Report {
        input: name.to_owned(),
        verdict: Verdict::Indeterminate,
        reasons: vec![reason],
        chosen: None,
        provenance: Provenance {
            key_id: None,
            issuer: None,
            ..outcome.provenance
        },
        codes: Vec::new(),
        input_error: true,
    }
}
