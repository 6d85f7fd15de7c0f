//! Everything the ledger knows about a permit (`issuer show`).

use chrono::NaiveDate;
use serde::Serialize;

use super::{Result, endorsement_window, load_permit};
use crate::ledger::{CardRecord, Event, PermitDetails, PermitState, Tx};
use crate::settings::Settings;

/// Everything the ledger knows about a permit.
#[derive(Debug, Clone, Serialize)]
pub struct PermitHistory {
    /// Serial.
    pub serial: String,
    /// Application.
    pub application: String,
    /// State (`active`, `cancelled`; `suspended` when the endorsement is overdue today).
    pub state: String,
    /// Holder details.
    pub details: PermitDetails,
    /// Issue date.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub valid_until: NaiveDate,
    /// Endorsed until.
    pub endorsed_until: NaiveDate,
    /// Next endorsement window (first day, anniversary), if one is due.
    pub endorsement_window: Option<(NaiveDate, NaiveDate)>,
    /// Counted residence since.
    pub residence_counted_since: NaiveDate,
    /// Current version.
    pub current_version: u32,
    /// Cards.
    pub cards: Vec<CardRecord>,
    /// History, oldest first.
    pub events: Vec<Event>,
}

/// The permit's record and history.
pub fn history(
    tx: &mut dyn Tx,
    serial: u64,
    today: NaiveDate,
    s: &Settings,
) -> Result<PermitHistory> {
    let p = load_permit(tx, serial)?;
    let events = tx.events_for(serial, &p.application_id)?;
    let cards = tx.cards(serial)?;
    let state = match p.state {
        PermitState::Cancelled => "cancelled",
        PermitState::Active if today > p.valid_until => "expired",
        PermitState::Active if today > p.endorsed_until => "suspended",
        PermitState::Active => "active",
    };
    Ok(PermitHistory {
        serial: format!("{serial:012}"),
        application: p.application_id.clone(),
        state: state.into(),
        endorsement_window: (p.endorsed_until < p.valid_until && p.state == PermitState::Active)
            .then(|| endorsement_window(&p, s)),
        details: p.details,
        issued_on: p.issued_on,
        valid_until: p.valid_until,
        endorsed_until: p.endorsed_until,
        residence_counted_since: p.residence_counted_since,
        current_version: p.current_version,
        cards,
        events,
    })
}
