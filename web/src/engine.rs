//! The web verifier's logic in plain Rust (tested natively): the pinned root, the trust list and
//! status list the official loaded, and the verifier state the page keeps in `localStorage`.
//!
//! Every check opens a [`Session`] at the time the page passes in, exactly as one run of
//! `verifier verify` does: the lists are verified against the root, rollbacks and a clock behind
//! the clock floor are found, and the state is updated after a verdict.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use permit_shared::keys::PublicKey;
use permit_shared::reason::{Code, Stage};
use permit_shared::role::Role;
use permit_shared::status::MAX_TOKEN_BYTES;
use permit_shared::trust::MAX_TRUST_LIST_BYTES;
use permit_verifier::check::{self, Input};
use permit_verifier::report::Report;
use permit_verifier::scan::ScanLimits;
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::{MAX_STATE_BYTES, State};
use permit_verifier::verify::{self, ClockSource, Policy, Reason};

/// Time budget for one camera frame: the first decoding attempt always runs, later ones only
/// within this budget, so that the page keeps up with the video.
pub const FRAME_BUDGET_MS: u64 = 150;
/// Time budget for a photo or screenshot chosen from the device (as `verifier verify`).
pub const PHOTO_BUDGET_MS: u64 = 3000;

/// An error for the page: a stable code and a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebError {
    /// Stable code, e.g. `TRUST_LIST_REFUSED`.
    pub code: &'static str,
    /// What exactly is wrong.
    pub message: String,
}

impl WebError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> WebError {
        WebError {
            code,
            message: message.into(),
        }
    }

    /// `CODE: message`, as the page shows it.
    pub fn text(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// The verifier of one page.
#[derive(Debug)]
pub struct Engine {
    root: PublicKey,
    trust: Vec<u8>,
    status: Option<(String, Vec<u8>)>,
    state: State,
    role: Role,
}

/// The verification time from the page's clock (milliseconds since the Unix epoch).
pub fn time_from_ms(now_ms: f64) -> Result<DateTime<Utc>, WebError> {
    let bad = || {
        WebError::new(
            "CLOCK_INVALID",
            format!("{now_ms} is not a time in milliseconds"),
        )
    };
    if !now_ms.is_finite() || now_ms.abs() > 1e15 {
        return Err(bad());
    }
    DateTime::from_timestamp_millis(now_ms as i64).ok_or_else(bad)
}

fn check_size(what: &str, len: usize, max: u64) -> Result<(), WebError> {
    if len as u64 > max {
        return Err(WebError::new(
            "INPUT_TOO_LARGE",
            format!("the {what} is {len} bytes, the limit is {max}"),
        ));
    }
    Ok(())
}

impl Engine {
    /// A verifier pinning `root` (PEM or JWK text), using the signed trust list `trust`, with
    /// the state kept by the page (`state_json`, empty for none). The trust list is verified
    /// against the root at `now_ms`.
    pub fn new(
        root: &[u8],
        trust: &[u8],
        state_json: &str,
        now_ms: f64,
    ) -> Result<Engine, WebError> {
        let root = PublicKey::from_pem_or_jwk(root)
            .map_err(|e| WebError::new("ROOT_KEY_INVALID", format!("root key: {e}")))?;
        let state = if state_json.trim().is_empty() {
            State::default()
        } else {
            check_size("saved state", state_json.len(), MAX_STATE_BYTES)?;
            serde_json::from_str(state_json).map_err(|e| {
                WebError::new(
                    "STATE_UNREADABLE",
                    format!("the saved verifier state is damaged: {e}; reset it to start afresh"),
                )
            })?
        };
        let mut engine = Engine {
            root,
            trust: Vec::new(),
            status: None,
            state,
            role: Role::police(),
        };
        engine.load_trust(trust, now_ms)?;
        Ok(engine)
    }

    /// Replaces the trust list after verifying it against the pinned root; a list with a lower
    /// sequence than one already seen is refused (`TRUST_LIST_ROLLBACK`). The status list is
    /// kept only if the new trust list still verifies it.
    pub fn load_trust(&mut self, trust: &[u8], now_ms: f64) -> Result<(), WebError> {
        check_size("trust list", trust.len(), MAX_TRUST_LIST_BYTES as u64)?;
        let previous = std::mem::replace(&mut self.trust, trust.to_vec());
        let session = match self.open(now_ms, None) {
            Ok(s) => s,
            Err(e) => {
                self.trust = previous;
                return Err(e);
            }
        };
        if let Some(r) = session
            .context()
            .notes
            .iter()
            .find(|r| r.code == Code::TrustListRollback)
        {
            self.trust = previous;
            return Err(WebError::new(r.code.as_str(), r.message.clone()));
        }
        self.state = session.finish(&[]);
        if let Some((name, bytes)) = self.status.take()
            && let Err(e) = self.load_status(&name, &bytes, now_ms)
        {
            self.status = None;
            return Err(WebError::new(
                e.code,
                format!(
                    "trust list loaded; the status list was dropped: {}",
                    e.message
                ),
            ));
        }
        Ok(())
    }

    /// Replaces the status list after verifying it against the trust list (`STATUS_LIST_INVALID`)
    /// and the state (`STATUS_ROLLBACK`).
    pub fn load_status(&mut self, name: &str, bytes: &[u8], now_ms: f64) -> Result<(), WebError> {
        check_size("status list", bytes.len(), MAX_TOKEN_BYTES as u64)?;
        let candidate = (name.to_owned(), bytes.to_vec());
        let session = self.open(now_ms, Some(&candidate))?;
        if let Some(r) = session
            .context()
            .notes
            .iter()
            .find(|r| matches!(r.code, Code::StatusListInvalid | Code::StatusRollback))
        {
            return Err(WebError::new(r.code.as_str(), r.message.clone()));
        }
        self.state = session.finish(&[]);
        self.status = Some(candidate);
        Ok(())
    }

    /// Forgets the status list.
    pub fn clear_status(&mut self) {
        self.status = None;
    }

    /// The state to keep in `localStorage`.
    pub fn state_json(&self) -> String {
        serde_json::to_string(&self.state).unwrap_or_default()
    }

    /// The trust list, the status list and the clock as of `now_ms`: their provenance (ages,
    /// sequences) and the warnings a verdict would carry about them (`TRUST_LIST_EXPIRED`,
    /// `STATUS_STALE`, `CLOCK_BEHIND`, rollbacks), with the same codes and rules as the CLI.
    pub fn lists(&self, now_ms: f64) -> Result<Value, WebError> {
        let session = self.open(now_ms, self.status.as_ref())?;
        let ctx = session.context();
        let outcome = verify::verify_text("", &ctx);
        let mut warnings: Vec<Reason> = outcome
            .reasons
            .into_iter()
            .filter(|r| !matches!(r.code.stage(), Stage::Input | Stage::Format))
            .collect();
        if let Some((_, bytes)) = &self.status
            && let Ok(list) = verify::verify_status_list(bytes, session.trust())
        {
            let grace = Policy::default().status_grace;
            if stale(list.token.next_update(), grace, ctx.at) {
                warnings.push(Reason::new(
                    Code::StatusStale,
                    format!(
                        "status list {} was due for update {} h ago or more (grace {} h); get a current list",
                        list.token.sequence,
                        (ctx.at.timestamp() - list.token.next_update()) / 3600,
                        grace.num_hours()
                    ),
                ));
            }
        }
        Ok(json!({
            "provenance": outcome.provenance,
            "status_loaded": self.status.as_ref().map(|(name, _)| name),
            "warnings": warnings,
        }))
    }

    /// Verifies for the role named `name` (`police`, `hotel`, `hospital`, `employer`, `school`):
    /// the views it accepts and the fields its reports hold.
    pub fn set_role(&mut self, name: &str) -> Result<(), WebError> {
        self.role = Role::parse(name).ok_or_else(|| {
            WebError::new(
                "USAGE",
                format!("unknown role `{name}`; roles: {}", Role::names().join(", ")),
            )
        })?;
        Ok(())
    }

    /// Checks one input at `now_ms` and returns its `gdrp-verify/1` report (the JSON of
    /// `verifier verify --json`). After a verdict on a code (not an unreadable input) the state
    /// is updated as at the end of a CLI run.
    pub fn check(
        &mut self,
        name: &str,
        input: Input<'_>,
        budget_ms: u64,
        now_ms: f64,
    ) -> Result<Value, WebError> {
        let session = self.open(now_ms, self.status.as_ref())?;
        let limits = ScanLimits {
            time_budget: std::time::Duration::from_millis(budget_ms),
            ..ScanLimits::default()
        };
        let session = session.with_role(self.role);
        let report: Report = check::check(name, input, &session.context(), &limits);
        let json = report.to_json(false);
        if !report.input_error {
            self.state = session.finish(std::slice::from_ref(&report));
        }
        Ok(json)
    }

    fn open(&self, now_ms: f64, status: Option<&(String, Vec<u8>)>) -> Result<Session, WebError> {
        Session::open(SessionInput {
            root: &self.root,
            trust_document: &self.trust,
            status: status.map(|(n, b)| (n.as_str(), b.as_slice())),
            at: time_from_ms(now_ms)?,
            clock_source: ClockSource::System,
            state: self.state.clone(),
            status_grace: Policy::default().status_grace,
        })
        .map_err(|e| WebError::new("TRUST_LIST_REFUSED", format!("trust list refused: {e}")))
    }
}

/// The CLI's rule (`STATUS_STALE`): a status list is stale once `grace` has passed after its
/// next-update time.
fn stale(next_update: i64, grace: Duration, at: DateTime<Utc>) -> bool {
    at.timestamp() > next_update + grace.num_seconds()
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
