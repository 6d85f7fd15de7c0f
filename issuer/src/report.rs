//! The wire types of `issuer --json`: what each command prints on stdout, one JSON document,
//! for the scripts and systems that drive the issuer. Field names and meanings are stable;
//! new fields may be added.
//!
//! | command | type |
//! |---|---|
//! | `issue`, `review --approve`, `endorse`, `change`, `qr` | [`IssuedReport`] |
//! | `apply` (and `issue` when ineligible) | [`Applied`](crate::lifecycle::Applied) |
//! | `review --reject` | [`Decided`] |
//! | `cancel` | [`Cancelled`] |
//! | `card` | [`CardReport`] |
//! | `status publish` | [`Published`] |
//! | `show` | [`PermitHistory`](crate::lifecycle::PermitHistory) |
//! | `keys generate` | [`Generated`](crate::keyfile::Generated) |
//! | `trust build` | [`TrustListBuilt`] |
//! | `batch` | [`BatchReport`] |
//!
//! An error that stops a command prints `{"error": {"code", "message", "hint"[, "problems"]
//! [, "details"]}, "exit_code"}` instead (`permit_shared::reason::command_error_json`; the
//! codes are [`ErrorCode`](crate::error_code::ErrorCode)s).

use std::path::PathBuf;

use serde::Serialize;

use crate::batch::Summary;
use crate::issue::output::RenderedInfo;
use crate::ledger::{CardRecord, Publication};
use crate::lifecycle::{Issued, StatusCounts};

/// A credential signed (or, with `already_issued`, found) and where its code was written.
#[derive(Debug, Serialize)]
pub struct IssuedReport<'a> {
    /// The credential.
    #[serde(flatten)]
    pub issued: &'a Issued,
    /// Signed with a TEST-ONLY key.
    pub test: bool,
    /// The code written, when one was.
    pub qr: Option<Written<'a>>,
}

/// A code written to a file (or `-`, standard output).
#[derive(Debug, Serialize)]
pub struct Written<'a> {
    /// The path as given.
    pub out: String,
    /// What was drawn.
    #[serde(flatten)]
    pub info: &'a RenderedInfo,
}

/// An application decided without issuing (`review --reject`).
#[derive(Debug, Serialize)]
pub struct Decided<'a> {
    /// Application number.
    pub application: &'a str,
    /// `rejected`.
    pub state: &'static str,
}

/// A permit cancelled.
#[derive(Debug, Serialize)]
pub struct Cancelled {
    /// Permit serial (12 digits).
    pub serial: String,
    /// `cancelled`.
    pub state: &'static str,
}

/// A status list signed and written.
#[derive(Debug, Serialize)]
pub struct Published {
    /// Credentials by status.
    pub counts: StatusCounts,
    /// Where the list was written.
    pub out: PathBuf,
    /// The ledger's record of the publication.
    pub publication: Publication,
}

/// A trust list signed and written.
#[derive(Debug, Serialize)]
pub struct TrustListBuilt {
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// Key ids listed, in order.
    pub keys: Vec<String>,
    /// Where the list was written.
    pub out: PathBuf,
    /// Key id of the root that signed it.
    pub root: String,
    /// Sequence number.
    pub sequence: u64,
    /// True when the ledger held this sequence with the same content already: the list
    /// recorded then was written again, nothing new was signed.
    pub already_recorded: bool,
}

/// A physical card recorded, and the printable card when one was written.
#[derive(Debug, Serialize)]
pub struct CardReport<'a> {
    /// The card row.
    #[serde(flatten)]
    pub card: &'a CardRecord,
    /// The printable card, when `--out` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<CardImage>,
}

/// The printable card written.
#[derive(Debug, Serialize)]
pub struct CardImage {
    /// The path as given.
    pub out: String,
    /// `png` or `svg`.
    pub format: &'static str,
    /// Card width (ID-1: 85.6).
    pub width_mm: f32,
    /// Card height (ID-1: 54).
    pub height_mm: f32,
    /// Pixels of a PNG; absent for SVG.
    pub width_px: Option<u32>,
    /// Pixels of a PNG; absent for SVG.
    pub height_px: Option<u32>,
    /// Resolution of a PNG; absent for SVG.
    pub dpi: Option<u32>,
    /// QR version of the card's code.
    pub qr_version: u8,
    /// Its error-correction level (`Q`).
    pub qr_ecc: String,
    /// Its modules a side.
    pub qr_modules: usize,
    /// One module's side in millimetres (three decimals).
    pub module_mm: f32,
    /// Stamped TEST-ONLY.
    pub test: bool,
    /// The font a PNG was drawn with.
    pub font: Option<String>,
}

/// A batch run: the job's counts plus time, rates and paths.
#[derive(Debug, Serialize)]
pub struct BatchReport<'a> {
    /// Counts of this run.
    #[serde(flatten)]
    pub summary: &'a Summary,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Input rows a second.
    pub rows_per_second: f64,
    /// Permits issued a second.
    pub permits_per_second: f64,
    /// `DIR/manifest.jsonl`.
    pub manifest: String,
    /// `DIR/errors.jsonl`.
    pub errors: String,
    /// The ledger used.
    pub ledger: String,
}
