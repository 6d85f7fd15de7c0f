//! A verification session: the pinned root, the verified trust list, an optional status list and
//! the local state, combined into a [`Context`] for every credential verified in it. Rollbacks of
//! either list and a device clock behind the clock floor are found here; the state is updated
//! when the session ends.

use chrono::{DateTime, Duration, Utc};

use permit_shared::keys::PublicKey;
use permit_shared::reason::Code;
use permit_shared::role::Role;
use permit_shared::trust::{TrustError, TrustList};

use crate::replay::ReplayCache;
use crate::report::Report;
use crate::state::{Seen, State};
use crate::verify::{self, ClockSource, Context, Policy, Reason, VerifiedStatusList};

/// What a session starts from.
#[derive(Debug)]
pub struct SessionInput<'a> {
    /// The pinned root key.
    pub root: &'a PublicKey,
    /// The signed trust list document.
    pub trust_document: &'a [u8],
    /// The signed status list, with a name for messages.
    pub status: Option<(&'a str, &'a [u8])>,
    /// The verification time.
    pub at: DateTime<Utc>,
    /// Where `at` came from.
    pub clock_source: ClockSource,
    /// The state kept between sessions (an empty one when none is kept).
    pub state: State,
    /// Hours a status list is used after its next-update time.
    pub status_grace: Duration,
}

/// An open session.
#[derive(Debug)]
pub struct Session {
    trust: TrustList,
    status: Option<VerifiedStatusList>,
    notes: Vec<Reason>,
    floor: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    clock_source: ClockSource,
    policy: Policy,
    role: Role,
    replay: ReplayCache,
    state: State,
}

impl Session {
    /// Verifies the trust list against the root (an error: nothing can be verified without it)
    /// and the status list against the trust list (a problem there becomes a reason on every
    /// verdict), and checks both against the state for rollbacks.
    pub fn open(input: SessionInput<'_>) -> Result<Session, TrustError> {
        let trust = TrustList::verify(input.trust_document, input.root)?;
        let mut state = input.state;
        let mut notes = Vec::new();
        let root = trust.root.to_string();
        let seen = state.trust_sequences.get(&root).copied().unwrap_or(0);
        match state.observe_trust_list(&root, trust.sequence, &trust.digest) {
            Seen::Newer | Seen::Same => {}
            Seen::Rollback => notes.push(Reason::new(
                Code::TrustListRollback,
                format!(
                    "trust list sequence {} is lower than {seen} already seen",
                    trust.sequence
                ),
            )),
            Seen::Conflict => notes.push(Reason::new(
                Code::TrustListConflict,
                format!(
                    "ALARM: trust list sequence {} differs from the list with that sequence already \
                     seen: the root signed two different lists as one publication; report this",
                    trust.sequence
                ),
            )),
        }
        state.observe_time(trust.issued_at);
        let status = match input.status {
            None => None,
            Some((name, bytes)) => match verify::verify_status_list(bytes, &trust) {
                Err(e) => {
                    notes.push(Reason::new(Code::StatusListInvalid, format!("{name}: {e}")));
                    None
                }
                Ok(s) => {
                    let t = &s.token;
                    let seen = state.status_sequences.get(&t.uri).copied().unwrap_or(0);
                    let digest = permit_shared::status::token_digest(bytes);
                    match state.observe_status_list(&t.uri, t.sequence, &digest) {
                        Seen::Newer | Seen::Same => {
                            if let Some(at) = DateTime::from_timestamp(t.issued_at, 0) {
                                state.observe_time(at);
                            }
                            Some(s)
                        }
                        Seen::Rollback => {
                            notes.push(Reason::new(
                                Code::StatusRollback,
                                format!(
                                    "{name}: status list sequence {} is older than {seen} already seen; not used",
                                    t.sequence
                                ),
                            ));
                            None
                        }
                        Seen::Conflict => {
                            notes.push(Reason::new(
                                Code::StatusListConflict,
                                format!(
                                    "{name}: ALARM: status list sequence {} differs from the list with that \
                                     sequence already seen (it may drop a cancellation); not used; report this",
                                    t.sequence
                                ),
                            ));
                            None
                        }
                    }
                }
            },
        };
        // The signed times of the lists just verified are times already trusted: a device clock
        // earlier than them is wrong now, not only from the next session on.
        let floor = state.clock_floor;
        let replay = ReplayCache::from_entries(std::mem::take(&mut state.presentations));
        Ok(Session {
            trust,
            status,
            notes,
            floor,
            at: input.at,
            clock_source: input.clock_source,
            policy: Policy {
                status_grace: input.status_grace,
                ..Policy::default()
            },
            role: Role::police(),
            replay,
            state,
        })
    }

    /// Verify for `role` (default: police, every field).
    #[must_use]
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Accept live presentations for `window` after they were drawn, with `skew` of clock
    /// difference on either side (defaults: 60 s and 30 s).
    #[must_use]
    pub fn with_presentation_window(mut self, window: Duration, skew: Duration) -> Self {
        self.policy.presentation_window = window;
        self.policy.presentation_skew = skew;
        self
    }

    /// The context for verifying credentials in this session: live presentations are
    /// remembered for replay detection across every credential verified in it.
    pub fn context(&self) -> Context<'_> {
        Context::new(&self.trust, self.at)
            .with_status(self.status.as_ref())
            .with_clock_source(self.clock_source)
            .with_clock_floor(self.floor)
            .with_policy(self.policy)
            .with_notes(self.notes.clone())
            .with_role(self.role)
            .with_replay(Some(&self.replay))
    }

    /// The verified trust list.
    pub fn trust(&self) -> &TrustList {
        &self.trust
    }

    /// Ends the session: the device clock becomes the new clock floor unless it was found behind.
    /// Returns the state to keep.
    pub fn finish(mut self, reports: &[Report]) -> State {
        let behind = reports
            .iter()
            .any(|r| r.reasons.iter().any(|x| x.code == Code::ClockBehind));
        if self.clock_source == ClockSource::System && !behind {
            self.state.observe_time(self.at);
        }
        self.state.presentations = self.replay.entries(self.at.timestamp());
        self.state
    }
}
