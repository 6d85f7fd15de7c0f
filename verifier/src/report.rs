//! Reports: one per input (an image or a scanned text), with every code found in it, as JSON or
//! as human-readable text with Chinese labels and English beside them.
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
//!                  "message": string } ],
//!   "permit": null | {                     // only when the signature verified
//!       "serial", "version", "name", "sex", "birth_date", "id_number_masked",
//!       "id_number" (only with --reveal-id), "ethnicity", "hukou_division", "hukou_place",
//!       "residence_city", "residence_city_name", "residence_district", "residence_address",
//!       "authority", "authority_name", "issued_on", "valid_until", "endorsed_until",
//!       "credential_issued_at", "status_index", "photo_ref" (optional), "test" },
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

use serde::Serialize;

use permit_shared::credential::{self, Kind};
use permit_shared::reason::{Code, Stage};

use crate::scan::{self, ScanLimits};
use crate::verify::{self, Context, Outcome, PermitView, Provenance, Reason, Verdict};

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

/// What to read.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Scanner text.
    Text(&'a str),
    /// Image file bytes.
    Image(&'a [u8]),
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
        Input::Image(bytes) => match scan::scan_image_bytes(bytes, limits) {
            Ok(codes) => codes.into_iter().map(|c| c.text).collect(),
            Err(e) => {
                let code = Code::parse(e.code()).unwrap_or(Code::ImageUnreadable);
                let reasons = vec![Reason::new(code, e.to_string())];
                let outcome = verify::verify_text("", ctx);
                return Report {
                    input: name.to_owned(),
                    verdict: Verdict::Indeterminate,
                    reasons,
                    chosen: None,
                    provenance: Provenance {
                        key_id: None,
                        issuer: None,
                        ..outcome.provenance
                    },
                    codes: Vec::new(),
                    input_error: true,
                };
            }
        },
    };
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

impl Report {
    /// The process exit code for this report.
    pub fn exit_code(&self) -> u8 {
        exit_code(self.verdict, self.input_error)
    }

    /// The permit the decision is about, when its signature verified.
    pub fn permit(&self) -> Option<&verify::VerifiedPermit> {
        self.chosen
            .and_then(|i| self.codes[i].outcome.permit.as_ref())
    }

    /// The JSON value (schema above).
    pub fn to_json(&self, reveal_id: bool) -> serde_json::Value {
        #[derive(Serialize)]
        struct Code<'a> {
            index: usize,
            kind: &'a str,
            format: Option<&'a str>,
            text_length: usize,
            verdict: Verdict,
            reasons: &'a [Reason],
            permit: Option<PermitView>,
        }
        #[derive(Serialize)]
        struct Top<'a> {
            schema: &'a str,
            input: &'a str,
            verdict: Verdict,
            exit_code: u8,
            reasons: &'a [Reason],
            permit: Option<PermitView>,
            provenance: &'a Provenance,
            codes: Vec<Code<'a>>,
        }
        let top = Top {
            schema: "gdrp-verify/1",
            input: &self.input,
            verdict: self.verdict,
            exit_code: self.exit_code(),
            reasons: &self.reasons,
            permit: self.permit().map(|p| p.view(reveal_id)),
            provenance: &self.provenance,
            codes: self
                .codes
                .iter()
                .map(|c| Code {
                    index: c.index,
                    kind: c.kind,
                    format: c.format,
                    text_length: c.text_length,
                    verdict: c.outcome.verdict,
                    reasons: &c.outcome.reasons,
                    permit: c.outcome.permit.as_ref().map(|p| p.view(reveal_id)),
                })
                .collect(),
        };
        serde_json::to_value(&top).unwrap_or(serde_json::Value::Null)
    }

    /// Human-readable text (Chinese labels with English beside them).
    pub fn to_human(&self, reveal_id: bool) -> String {
        let mut s = String::new();
        let banner = match self.verdict {
            Verdict::Valid => "VALID 有效",
            Verdict::Invalid => "INVALID 无效",
            Verdict::Indeterminate if self.input_error => "NOT READ 未能识读 — scan again",
            Verdict::Indeterminate => "INDETERMINATE 无法判定 — check manually",
        };
        s.push_str(&format!("{banner}    ({})\n", self.input));
        if let Some(p) = self.permit() {
            let v = p.view(reveal_id);
            let row = |s: &mut String, zh: &str, en: &str, val: &str| {
                s.push_str(&format!("  {zh} {en:<16} {val}\n"));
            };
            row(&mut s, "姓名", "Name", &v.name);
            let id = v
                .id_number
                .clone()
                .unwrap_or_else(|| v.id_number_masked.clone());
            row(&mut s, "公民身份号码", "ID number", &id);
            let sex = if v.sex == "male" {
                "男 male"
            } else {
                "女 female"
            };
            row(&mut s, "性别", "Sex", sex);
            row(&mut s, "出生", "Born", &v.birth_date);
            if let Some(e) = &v.ethnicity {
                row(&mut s, "民族", "Ethnicity", e);
            }
            row(
                &mut s,
                "居住地",
                "City",
                v.residence_city_name
                    .as_deref()
                    .unwrap_or(&v.residence_city),
            );
            row(&mut s, "居住地址", "Address", &v.residence_address);
            if let Some(h) = &v.hukou_place {
                row(&mut s, "户籍所在地", "Hukou", h);
            }
            row(&mut s, "有效期限", "Valid until", &v.valid_until);
            row(&mut s, "签注至", "Endorsed until", &v.endorsed_until);
            row(&mut s, "签发日期", "Issued on", &v.issued_on);
            row(
                &mut s,
                "签发机关",
                "Authority",
                v.authority_name.as_deref().unwrap_or(&v.authority),
            );
            row(
                &mut s,
                "证件编号",
                "Serial",
                &format!("{} (version {})", v.serial, v.version),
            );
        }
        let (problems, warnings): (Vec<&Reason>, Vec<&Reason>) = self
            .reasons
            .iter()
            .partition(|r| r.code.severity() != permit_shared::reason::Severity::Warning);
        if !problems.is_empty() {
            s.push_str("reasons:\n");
            for r in problems {
                s.push_str(&format!("  {:<26} {}\n", r.code.as_str(), r.message));
            }
        }
        if !warnings.is_empty() {
            s.push_str("warnings:\n");
            for r in warnings {
                s.push_str(&format!("  {:<26} {}\n", r.code.as_str(), r.message));
            }
        }
        if self.codes.len() > 1 {
            s.push_str(&format!("codes in image: {}\n", self.codes.len()));
            for c in &self.codes {
                let what = c.format.unwrap_or(c.kind);
                let codes: Vec<&str> = c
                    .outcome
                    .reasons
                    .iter()
                    .filter(|r| r.code.stage() != Stage::Policy)
                    .map(|r| r.code.as_str())
                    .collect();
                s.push_str(&format!(
                    "  #{} {:<13} {} {}\n",
                    c.index,
                    c.outcome.verdict.as_str(),
                    what,
                    codes.join(" ")
                ));
            }
        }
        let p = &self.provenance;
        let mut trust = format!(
            "trust: trust list #{} ({}{})",
            p.trust_list.sequence,
            p.trust_list.publisher,
            if p.trust_list.test { ", TEST-ONLY" } else { "" }
        );
        if let Some(k) = &p.key_id {
            trust.push_str(&format!("; key {k}"));
            if let Some(i) = &p.issuer {
                trust.push_str(&format!(" ({i})"));
            }
        }
        s.push_str(&trust);
        s.push('\n');
        match &p.status_list {
            Some(sl) => s.push_str(&format!(
                "status: list #{} issued {}, next update {}\n",
                sl.sequence, sl.issued_at, sl.next_update
            )),
            None => s.push_str("status: no status list consulted\n"),
        }
        s.push_str(&format!(
            "clock: {} ({})\n",
            p.clock.at,
            match p.clock.source {
                verify::ClockSource::System => "device clock",
                verify::ClockSource::Given => "given with --at",
            }
        ));
        s
    }
}

/// The report for an input file that could not even be read (missing, too large).
pub fn unreadable(name: &str, message: &str, ctx: &Context<'_>) -> Report {
    let outcome = verify::verify_text("", ctx);
    Report {
        input: name.to_owned(),
        verdict: Verdict::Indeterminate,
        reasons: vec![Reason::new(Code::ImageUnreadable, message.to_owned())],
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
