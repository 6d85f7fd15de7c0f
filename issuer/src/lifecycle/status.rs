//! Publication of the signed status list.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use permit_shared::status::{Status, StatusList, StatusListToken};

use super::{Office, Result, refused};
use crate::error_code::ErrorCode;
use crate::issue::Signer;
use crate::ledger::{PermitState, Publication, Tx};

/// Counts of a published list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounts {
    /// Valid.
    pub valid: u64,
    /// Revoked.
    pub revoked: u64,
    /// Suspended.
    pub suspended: u64,
    /// Superseded.
    pub superseded: u64,
}

/// Builds, signs and records the next status list. Returns the signed bytes.
///
/// Its sequence is one above the highest recorded, and at least `min_sequence`: a ledger
/// restored from an older copy does not know the lists published after that copy was made,
/// and would otherwise give a new list a sequence verifiers have already seen with other
/// content. Every sequence is recorded once (`status_publications` refuses a second row).
pub fn publish_status(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    signer: &Signer,
    min_sequence: Option<u64>,
) -> Result<(Vec<u8>, Publication, StatusCounts)> {
    let s = &office.settings.status_list;
    let sequence = tx
        .last_publication()?
        .map_or(1, |p| p.sequence + 1)
        .max(min_sequence.unwrap_or(0));
    let today = office.today();
    let mut list = StatusList::new(s.capacity);
    let mut counts = StatusCounts::default();
    let mut out_of_range = 0u64;
    tx.each_credential_status(&mut |r| {
        let st = if r.state == PermitState::Cancelled {
            counts.revoked += 1;
            Status::Revoked
        } else if r.version < r.current_version {
            counts.superseded += 1;
            Status::Superseded
        } else if today > r.endorsed_until {
            counts.suspended += 1;
            Status::Suspended
        } else {
            counts.valid += 1;
            Status::Valid
        };
        if !list.set(r.status_index, st) {
            out_of_range += 1;
        }
    })?;
    if out_of_range > 0 {
        return Err(refused(
            ErrorCode::StatusListTooSmall,
            format!(
                "{out_of_range} credentials have indices beyond status_list.capacity {}",
                s.capacity
            ),
        ));
    }
    let token = StatusListToken {
        uri: s.uri.clone(),
        issued_at: office.now.timestamp(),
        ttl: u64::from(s.ttl_hours) * 3600,
        sequence,
        list,
    };
    let bytes = token.sign(signer.key());
    let publication = Publication {
        sequence,
        published_at: token.issued_at,
        next_update: token.next_update(),
        credentials: counts.valid + counts.revoked + counts.suspended + counts.superseded,
        bytes: bytes.len() as u64,
        sha256: Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        actor: office.actor.to_owned(),
    };
    tx.insert_publication(
        &publication,
        &office.event(
            "status.published",
            None,
            None,
            None,
            serde_json::json!({ "sequence": sequence, "counts": counts, "bytes": bytes.len() }),
        ),
    )?;
    Ok((bytes, publication, counts))
}
