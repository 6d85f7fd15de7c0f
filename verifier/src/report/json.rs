//! The JSON rendering of a [`Report`] (`verifier verify --json`).

use super::{JsonCode, JsonReason, JsonReport, Report};

impl Report {
    /// The JSON value (schema in [the module docs](super)).
    pub fn to_json(&self, reveal_id: bool) -> serde_json::Value {
        let top = JsonReport {
            schema: "gdrp-verify/1",
            input: &self.input,
            verdict: self.verdict,
            exit_code: self.exit_code(),
            reasons: JsonReason::all(&self.reasons),
            permit: self.permit().map(|p| p.view(reveal_id)),
            provenance: &self.provenance,
            codes: self
                .codes
                .iter()
                .map(|c| JsonCode {
                    index: c.index,
                    kind: c.kind,
                    format: c.format,
                    text_length: c.text_length,
                    verdict: c.outcome.verdict,
                    reasons: JsonReason::all(&c.outcome.reasons),
                    permit: c.outcome.permit.as_ref().map(|p| p.view(reveal_id)),
                })
                .collect(),
        };
        serde_json::to_value(&top).unwrap_or(serde_json::Value::Null)
    }
}
