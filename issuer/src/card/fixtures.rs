//! Test fixtures shared by the card's unit tests: permits issued in an in-memory ledger for the
//! reference applicant and for one with the longest residence address, and the texts of a layout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone as _, Utc};
use permit_shared::applicant::RawApplicant;

use super::CardData;
use super::layout::{Item, Layout};
use crate::ledger::sqlite::SqliteLedger;
use crate::ledger::{CardRecord, Ledger as _, PermitRecord};
use crate::lifecycle::{self, CardKind, Direct, LifecycleError, Office};
use crate::settings::{Channel, Settings};

/// The reference applicant (synthetic test data).
pub(super) use permit_shared::fixtures::REFERENCE_APPLICANT as REFERENCE;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap()
}

/// Issues a permit for the applicant and records its first card.
pub(super) fn issued(applicant: &str) -> (PermitRecord, String, CardRecord) {
    let settings = Settings::default();
    let signer = crate::demo::signer(permit_shared::trust::Usage::Permit, now()).unwrap();
    let office = Office {
        settings: &settings,
        now: now(),
        actor: "card-test",
    };
    let raw = RawApplicant::from_json(applicant.as_bytes()).unwrap();
    let mut ledger = SqliteLedger::in_memory().unwrap();
    ledger
        .transaction(|tx| -> Result<_, LifecycleError> {
            let Direct::Issued(i) =
                lifecycle::issue_direct(tx, &office, &signer, &raw, Channel::Counter)?
            else {
                panic!("reference applicant not eligible");
            };
            let serial: u64 = i.serial.parse().unwrap();
            let card = lifecycle::card(tx, &office, serial, CardKind::First, Channel::Counter)?;
            let permit = tx.permit(serial)?.unwrap();
            let text = lifecycle::current(tx, serial)?.text;
            Ok((permit, text, card))
        })
        .unwrap()
}

/// The reference applicant's card (test data, so stamped TEST-ONLY).
pub(super) fn reference() -> CardData {
    let (permit, text, card) = issued(REFERENCE);
    CardData::new(&permit, &text, &card, false).unwrap()
}

/// The reference applicant with a residence address of the maximum length (100 characters).
pub(super) fn long_address() -> CardData {
    let prefix = "广东省广州市天河区";
    let mut address = format!("{prefix}石牌街道天河北路");
    let filler = "东风村委会新村南二巷";
    while address.chars().count() < 94 {
        address.push_str(filler);
    }
    let mut address: String = address.chars().take(94).collect();
    address.push_str("1203房");
    assert_eq!(address.chars().count(), 99);
    let json = REFERENCE.replace(
        "广东省广州市天河区石牌街道天河北路233号中信广场36栋1203房",
        &address,
    );
    let (permit, text, card) = issued(&json);
    CardData::new(&permit, &text, &card, false).unwrap()
}

/// The texts of a layout with their field names, in drawing order.
pub(super) fn texts(l: &Layout) -> Vec<(&'static str, String)> {
    l.items
        .iter()
        .filter_map(|i| match i {
            Item::Text { field, text, .. } => Some((*field, text.clone())),
            Item::Rect { .. } => None,
        })
        .collect()
}
