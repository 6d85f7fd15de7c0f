//! The issuing office acting in a lifecycle step.

use chrono::{DateTime, NaiveDate, Utc};

use permit_shared::civil;

use crate::ledger::Event;
use crate::settings::Settings;

/// The issuing office acting: its settings, the time of the step and who acts. Signing steps
/// take a [`Signer`](super::Signer) besides; steps that sign nothing (apply, cancel, card) need
/// no key.
pub struct Office<'a> {
    /// Settings.
    pub settings: &'a Settings,
    /// The time of the step (the library never reads the clock).
    pub now: DateTime<Utc>,
    /// Who acts (operator, reviewer, batch job), recorded with every row.
    pub actor: &'a str,
}

impl Office<'_> {
    /// Today in China Standard Time.
    pub fn today(&self) -> NaiveDate {
        civil::date_of(self.now)
    }

    /// A ledger event of this office at this time.
    pub(crate) fn event(
        &self,
        kind: &str,
        app: Option<&str>,
        serial: Option<u64>,
        version: Option<u32>,
        detail: serde_json::Value,
    ) -> Event {
        Event {
            at: self.now.timestamp(),
            actor: self.actor.to_owned(),
            kind: kind.to_owned(),
            application_id: app.map(str::to_owned),
            serial,
            version,
            detail,
        }
    }
}
