//! Reports: one per input (an image or a scanned text), with every code found in it, and their
//! wire format, the JSON of `verifier verify --json`.
//!
//! This module holds the report types and the JSON schema; [`crate::check`] makes reports,
//! `json` renders them as JSON ([`Report::to_json`]) and `human` as text with Chinese labels and
//! English beside them ([`Report::to_human`]).
//!
//! # JSON schema (`gdrp-verify/1`)
//!
//! ```text
//! {
//!   "schema": "gdrp-verify/1",
//!   "input": string,                       // file name, or "-" for stdin
//!   "verdict": "VALID" | "INVALID" | "INDETERMINATE",
//!   "exit_code": 0 | 1 | 2 | 3,
//!   "reasons": [ { "code": string,         // stable reason code, e.g. "SIGNATURE_INVALID"
//!                  "severity": "error" | "indeterminate" | "warning",
//!                  "stage": "input" | "format" | "structure" | "trust" | "crypto" | "time"
//!                           | "status" | "policy",
//!                  "message": string,      // what exactly was found, in English
//!                  "message_zh": string } ], // the code's message in Chinese (简体中文)
//!   "permit": null | {                     // only when the signature verified
//!       "view": "full" | "basic", "role": string, "holder_bound": bool,
//!       "presented_at" (a live presentation whose holder signature verified),
//!       // each of the following only when the role may see it and the view carries it
//!       // (police: all of a full credential; other roles: name_masked, id_last4,
//!       // residence_city(_name), issued_on, valid_until, endorsed_until, serial, version):
//!       "serial", "version", "name", "name_masked", "sex", "birth_date", "id_number_masked",
//!       "id_number" (only with --reveal-id), "id_last4", "ethnicity", "hukou_division",
//!       "hukou_place", "residence_city", "residence_city_name", "residence_district",
//!       "residence_address", "authority", "authority_name", "issued_on", "valid_until",
//!       "endorsed_until", "status_index", "photo_ref", "status_list",
//!       // always:
//!       "credential_issued_at", "test" },
//!   "provenance": {
//!       "key_id": string | null, "issuer": string | null,
//!       "trust_list": { "sequence", "publisher", "root", "issued_at", "expires_at",
//!                       "age_seconds", "test" },
//!       "status_list": null | { "uri", "sequence", "issued_at", "next_update", "age_seconds",
//!                               "key_id", "entry": null | "valid" | "revoked" | "suspended"
//!                               | "superseded" },
//!       "clock": { "at", "source": "system" | "given", "floor": string | null } },
//!   "codes": [ { "index": number,          // every QR code found, in reading order
//!                "kind": "permit" | "foreign" | "other",
//!                "format": string | null,  // the foreign format's name
//!                "text_length": number,
//!                "verdict", "reasons", "permit" } ]
//! }
//! ```
//! The top-level verdict, reasons, permit and provenance describe the decision: the one permit
//! code when there is exactly one, otherwise `MULTIPLE_CODES` (several permits) or the input
//! error. Times are RFC 3339 UTC.

//!
//! The JSON is built from [`JsonReport`] and [`JsonCode`] here and from the structs that
//! [`crate::verify`] fills in while verifying (re-exported here so that the whole schema is in one
//! place): [`Reason`], [`PermitView`], [`Provenance`], [`TrustProvenance`],
//! [`StatusProvenance`], [`ClockProvenance`].

mod human;
mod json;

use serde::Serialize;

use crate::verify::{self, Outcome};
pub use crate::verify::{
    ClockProvenance, ClockSource, PermitView, Provenance, Reason, StatusProvenance,
    TrustProvenance, Verdict,
};

/// One code found in the input.
#[derive(Debug, Clone)]
pub struct CodeReport {
    /// Position in reading order.
    pub index: usize,
    /// What the text is.
    pub kind: &'static str,
    /// A foreign format's name.
    pub format: Option<&'static str>,
    /// Length of the text in bytes.
    pub text_length: usize,
    /// The verification outcome.
    pub outcome: Outcome,
}

/// The report for one input.
#[derive(Debug, Clone)]
pub struct Report {
    /// Input name.
    pub input: String,
    /// Decision.
    pub verdict: Verdict,
    /// Decision's reasons.
    pub reasons: Vec<Reason>,
    /// Index into `codes` of the permit the decision is about, if one.
    pub chosen: Option<usize>,
    /// Provenance of the decision.
    pub provenance: Provenance,
    /// Every code found.
    pub codes: Vec<CodeReport>,
    /// Whether the input itself could not be read (exit code 2).
    pub input_error: bool,
}

impl Report {
    /// The process exit code for this report.
    pub fn exit_code(&self) -> u8 {
        exit_code(self.verdict, self.input_error)
    }

    /// The permit the decision is about, when its signature verified.
    pub fn permit(&self) -> Option<&verify::AuthenticPermit> {
        self.chosen
            .and_then(|i| self.codes[i].outcome.permit.as_ref())
    }
}

/// The JSON object of one report (`gdrp-verify/1`, schema above); keys are written in
/// alphabetical order.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// Always `gdrp-verify/1`.
    pub schema: &'a str,
    /// The file name, or `-` for stdin (`-:N` for its line N when there are several).
    pub input: &'a str,
    /// The decision: `VALID`, `INVALID` or `INDETERMINATE`.
    pub verdict: Verdict,
    /// The process exit code for this report: 0 valid, 1 invalid, 2 input error, 3 indeterminate.
    pub exit_code: u8,
    /// Why: the decision's reasons, errors first.
    pub reasons: Vec<JsonReason<'a>>,
    /// The permit the decision is about, only when its signature verified.
    pub permit: Option<PermitView>,
    /// Which keys, lists and clock the decision rests on.
    pub provenance: &'a Provenance,
    /// Every QR code found, in reading order.
    pub codes: Vec<JsonCode<'a>>,
}

/// One code of a [`JsonReport`].
#[derive(Debug, Serialize)]
pub struct JsonCode<'a> {
    /// Position in reading order, from 0.
    pub index: usize,
    /// `permit`, `foreign` (another country's or scheme's credential) or `other`.
    pub kind: &'a str,
    /// The foreign format's name, else `null`.
    pub format: Option<&'a str>,
    /// Length of the code's text, in bytes.
    pub text_length: usize,
    /// This code's own verdict.
    pub verdict: Verdict,
    /// This code's own reasons.
    pub reasons: Vec<JsonReason<'a>>,
    /// This code's permit, when its signature verified.
    pub permit: Option<PermitView>,
}

/// One reason of a [`JsonReport`]: `code`, `severity`, `stage` and `message` (English, specific to
/// this input) as [`Reason`] writes them, and `message_zh`, the code's Chinese message.
#[derive(Debug, Serialize)]
pub struct JsonReason<'a> {
    /// The reason.
    #[serde(flatten)]
    pub reason: &'a Reason,
    /// [`Code::description_zh`](permit_shared::reason::Code::description_zh) of its code.
    pub message_zh: &'static str,
}

impl<'a> JsonReason<'a> {
    /// Every reason of a list, with its Chinese message.
    pub fn all(reasons: &'a [Reason]) -> Vec<JsonReason<'a>> {
        reasons
            .iter()
            .map(|reason| JsonReason {
                reason,
                message_zh: reason.code.description_zh(),
            })
            .collect()
    }
}

/// Exit code for a verdict: 0 valid, 1 invalid, 3 indeterminate (2 is for usage and input
/// errors).
pub fn exit_code(verdict: Verdict, input_error: bool) -> u8 {
    if input_error {
        return 2;
    }
    match verdict {
        Verdict::Valid => 0,
        Verdict::Invalid => 1,
        Verdict::Indeterminate => 3,
    }
}
