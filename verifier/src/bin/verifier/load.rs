//! The session options `verify` and `serve` share: the pinned root, the trust list, the status
//! list, the verification time and the state file, loaded into a [`Session`].

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

use permit_shared::keys::{KeyError, PublicKey};
use permit_verifier::demo;
use permit_verifier::report::Report;
use permit_verifier::session::{Session, SessionInput};
use permit_verifier::state::State;
use permit_verifier::verify::ClockSource;

use crate::cli::SessionArgs;
use crate::{Failure, fail, fail_with, read_capped};

/// An opened session and where its state is kept.
pub(crate) struct Opened {
    /// Trust list, status list, time, clock floor.
    pub session: Session,
    /// The state file, unless `--no-state`.
    pub state_file: Option<PathBuf>,
}

impl Opened {
    /// Ends the session and saves its state (a failure to save is a warning).
    pub fn finish(self, reports: &[Report]) {
        let state = self.session.finish(reports);
        if let Some(p) = &self.state_file
            && let Err(e) = state.save(p)
        {
            eprintln!("warning: {e}");
        }
    }
}

/// Loads the root, trust list, state and status list named by the options.
pub(crate) fn open(a: &SessionArgs) -> Result<Opened, Failure> {
    let (at, clock_source) = verification_time(a)?;
    let root = load_root(a)?;
    let trust_doc = match &a.trust {
        Some(p) => read_capped(p, permit_shared::trust::MAX_TRUST_LIST_BYTES as u64)?,
        None => {
            eprintln!(
                "warning: using the embedded TEST-ONLY demo trust list (pass --trust and --root for real permits)"
            );
            demo::TRUST_LIST.as_bytes().to_vec()
        }
    };
    let state_file = state_path(a);
    let state = match &state_file {
        Some(p) => State::load(p).map_err(|e| fail_with("STATE_UNREADABLE", e.to_string()))?,
        None => State::default(),
    };
    let status_doc = match &a.status {
        Some(p) => Some((
            p.display().to_string(),
            read_capped(p, permit_shared::status::MAX_TOKEN_BYTES as u64)?,
        )),
        None => None,
    };
    let session = Session::open(SessionInput {
        root: &root,
        trust_document: &trust_doc,
        status: status_doc.as_ref().map(|(n, b)| (n.as_str(), b.as_slice())),
        at,
        clock_source,
        state,
        status_grace: Duration::hours(i64::from(a.status_grace_hours)),
    })
    .map_err(|e| Failure {
        code: "TRUST_LIST_REFUSED",
        message: format!("trust list refused: {e}"),
        hint: Some(
            "pass the trust list signed by the root you pin (--trust FILE --root KEY)".into(),
        ),
    })?
    .with_role(a.role)
    .with_presentation_window(
        Duration::seconds(i64::from(a.presentation_window)),
        Duration::seconds(i64::from(a.presentation_skew)),
    );
    Ok(Opened {
        session,
        state_file,
    })
}

/// The `--at` time, or the device clock.
fn verification_time(a: &SessionArgs) -> Result<(DateTime<Utc>, ClockSource), Failure> {
    Ok(match &a.at {
        None => (Utc::now(), ClockSource::System),
        Some(s) => (
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    fail(format!(
                        "--at `{s}` is not an RFC 3339 time (e.g. 2027-01-31T09:00:00+08:00)"
                    ))
                })?,
            ClockSource::Given,
        ),
    })
}

fn load_root(a: &SessionArgs) -> Result<PublicKey, Failure> {
    match &a.root {
        None => demo::root()
            .map_err(|e| fail_with("ROOT_KEY_INVALID", format!("embedded demo root: {e}"))),
        Some(p) => {
            let bytes = read_capped(p, 64 * 1024)?;
            PublicKey::from_pem_or_jwk(&bytes).map_err(|e| {
                // A file that is not JSON is named by the parser's message alone (as before
                // the sniffing moved to `permit_shared`), so that the output stays the same.
                let detail = match e {
                    KeyError::JwkJson(detail) => detail,
                    other => other.to_string(),
                };
                fail_with("ROOT_KEY_INVALID", format!("{}: {detail}", p.display()))
            })
        }
    }
}

fn state_path(a: &SessionArgs) -> Option<PathBuf> {
    if a.no_state {
        return None;
    }
    if let Some(p) = &a.state {
        return Some(p.clone());
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("gdrp-verifier").join("state.json"))
}
