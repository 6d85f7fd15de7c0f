//! Trust lists signed by this office's root key, recorded in the ledger so that a sequence
//! number is never used for two different lists.

use chrono::{DateTime, Utc};

use super::{Office, Result, refused};
use crate::error_code::ErrorCode;
use crate::ledger::digest::sha256_hex;
use crate::ledger::{TrustPublication, Tx};

/// The outcome of [`publish_trust_list`].
#[derive(Debug, Clone)]
pub struct TrustOutcome {
    /// The recorded publication (the one made now, or the one made before with this content).
    pub publication: TrustPublication,
    /// True when the same content was recorded under this sequence before: its document is
    /// returned again and nothing new is signed.
    pub already_recorded: bool,
}

/// Records trust list `sequence` whose content (everything it says apart from its signing
/// time) hashes to `content_sha256`: refused when the sequence was used for other content
/// (`TRUST_SEQUENCE_USED`) or is below the highest recorded (`TRUST_SEQUENCE_BEHIND`); the same
/// content again returns the document recorded then. `sign` signs the list; it runs only when
/// a new list is recorded.
pub fn publish_trust_list(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    sequence: u64,
    content_sha256: &str,
    sign: impl FnOnce() -> Result<String>,
) -> Result<TrustOutcome> {
    if let Some(p) = tx.trust_publication(sequence)? {
        if p.content_sha256 == content_sha256 {
            return Ok(TrustOutcome {
                publication: p,
                already_recorded: true,
            });
        }
        let at = DateTime::<Utc>::from_timestamp(p.published_at, 0).unwrap_or_default();
        return Err(refused(
            ErrorCode::TrustSequenceUsed,
            format!(
                "trust-list sequence {sequence} was used on {} by {} for a list with other content (document sha256 {}); give the new list a higher sequence",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                p.actor,
                p.document_sha256
            ),
        ));
    }
    if let Some(last) = tx.last_trust_sequence()?
        && sequence < last
    {
        return Err(refused(
            ErrorCode::TrustSequenceBehind,
            format!(
                "trust-list sequence {sequence} is below {last}, the highest recorded; verifiers that saw {last} would take it for a rollback: use {}",
                last + 1
            ),
        ));
    }
    let document = sign()?;
    let publication = TrustPublication {
        sequence,
        content_sha256: content_sha256.to_owned(),
        document_sha256: sha256_hex(document.as_bytes()),
        document,
        published_at: office.now.timestamp(),
        actor: office.actor.to_owned(),
    };
    tx.insert_trust_publication(
        &publication,
        &office.event(
            "trust.published",
            None,
            None,
            None,
            serde_json::json!({
                "sequence": sequence,
                "content_sha256": content_sha256,
                "document_sha256": publication.document_sha256,
            }),
        ),
    )?;
    Ok(TrustOutcome {
        publication,
        already_recorded: false,
    })
}
