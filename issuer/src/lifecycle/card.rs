//! Physical cards (居住证实体证件): first card, replacement (补领) and exchange (换领), with fees.

use serde::Serialize;

use super::{LifecycleError, Office, Result, check_coverage, load_permit, require_active};
use crate::ledger::{CardRecord, PermitRecord, Tx};
use crate::settings::{Channel, Service};

/// Kind of physical card issuance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// The first card (free).
    First,
    /// 补领: replacement of a lost card.
    Replacement,
    /// 换领: exchange of a damaged or outdated card.
    Exchange,
}

impl CardKind {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::First => "first",
            CardKind::Replacement => "replacement",
            CardKind::Exchange => "exchange",
        }
    }
}

/// Records a physical card and its fee.
pub fn card(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    kind: CardKind,
    channel: Channel,
) -> Result<CardRecord> {
    let (p, cards) = card_service(tx, office, serial, channel, "given a card")?;
    match (kind, cards.is_empty()) {
        (CardKind::First, false) => {
            return Err(LifecycleError::IllegalTransition {
                what: format!("permit {serial:012}"),
                current: format!("holding card no. {}", cards.len()),
                detail: "the first card was issued already; use replacement or exchange".into(),
            });
        }
        (CardKind::Replacement | CardKind::Exchange, true) => {
            return Err(LifecycleError::IllegalTransition {
                what: format!("permit {serial:012}"),
                current: "without a card".into(),
                detail: "no card was issued yet; issue the first card".into(),
            });
        }
        _ => {}
    }
    let fees = &office.settings.fees;
    let fee_yuan = match kind {
        CardKind::First => fees.first_card,
        CardKind::Replacement => fees.replacement,
        CardKind::Exchange => fees.exchange,
    };
    let rec = CardRecord {
        serial,
        number: u32::try_from(cards.len()).unwrap_or(u32::MAX - 1) + 1,
        kind: kind.as_str().to_owned(),
        fee_yuan,
        issued_at: office.now.timestamp(),
        actor: office.actor.to_owned(),
    };
    tx.insert_card(
        &rec,
        &office.event(
            "card.issued",
            Some(&p.application_id),
            Some(serial),
            Some(p.current_version),
            serde_json::json!({ "number": rec.number, "kind": kind, "fee_yuan": fee_yuan, "channel": channel }),
        ),
    )?;
    Ok(rec)
}

/// Finds a card issued before so that it can be printed again (a printer jam, another format):
/// the permit's current card, or card `number` when that is the current one. No card is added
/// and no fee charged; the reprint is recorded as a `card.reprinted` event.
///
/// A card replaced or exchanged since is refused (its holder has a newer one), as is a permit
/// without a card or a cancelled permit.
pub fn reprint(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    number: Option<u32>,
    channel: Channel,
) -> Result<CardRecord> {
    let (p, cards) = card_service(tx, office, serial, channel, "given a card again")?;
    let Some(current) = cards.iter().max_by_key(|c| c.number) else {
        return Err(LifecycleError::IllegalTransition {
            what: format!("permit {serial:012}"),
            current: "without a card".into(),
            detail: "no card was issued yet, so none can be printed again; issue the first card"
                .into(),
        });
    };
    match number {
        Some(n) if n != current.number => {
            return Err(if cards.iter().any(|c| c.number == n) {
                LifecycleError::IllegalTransition {
                    what: format!("card no. {n} of permit {serial:012}"),
                    current: format!("replaced by card no. {} ({})", current.number, current.kind),
                    detail: "only the current card can be printed again".into(),
                }
            } else {
                LifecycleError::NotFound {
                    what: "card",
                    id: format!("no. {n} of permit {serial:012}"),
                }
            });
        }
        _ => {}
    }
    tx.append_event(&office.event(
        "card.reprinted",
        Some(&p.application_id),
        Some(serial),
        Some(p.current_version),
        serde_json::json!({ "number": current.number, "kind": current.kind, "channel": channel }),
    ))?;
    Ok(current.clone())
}

/// The permit a card service is asked for, with its cards: active, and the service offered in
/// its city on `channel`.
fn card_service(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    serial: u64,
    channel: Channel,
    step: &str,
) -> Result<(PermitRecord, Vec<CardRecord>)> {
    let p = load_permit(tx, serial)?;
    require_active(&p, step)?;
    check_coverage(
        office.settings,
        Service::Card,
        channel,
        p.details.residence_district / 100 * 100,
    )?;
    let cards = tx.cards(serial)?;
    Ok((p, cards))
}
