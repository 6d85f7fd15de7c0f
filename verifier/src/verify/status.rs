//! The status stage of [`super::verify_text`]: whether the given status list is the one the
//! credential names (`STATUS_LIST_MISMATCH`), then its entry (`REVOKED`, `SUSPENDED`,
//! `SUPERSEDED`, `STATUS_STALE`, `STATUS_INDEX_OUT_OF_RANGE`).

use permit_shared::credential::Core;
use permit_shared::reason::Code;
use permit_shared::status::Status;
use permit_shared::text::display_safe;
use permit_shared::trust::TrustedKey;

use super::{Context, Reason, VerifiedStatusList, rfc3339};

/// Whether the status list may be consulted for this credential: a list is used only for the
/// credentials it was published for, or an index would be read in another issuer's (or another)
/// list. A credential that names its list (permit field 15) needs a list with that id, signed by
/// a key of the same issuer as the credential; one that does not (issued before the claim
/// existed) needs a list signed by the very key that signed the credential.
pub(super) fn status_list_mismatch(
    s: &VerifiedStatusList,
    key: &TrustedKey,
    c: &Core,
) -> Option<Reason> {
    let t = &s.token;
    let problem = match c.status_list {
        Some(id) if id != t.list_id() => format!(
            "the credential names status list {}, the list given ({}) is {}",
            hex(&id),
            display_safe(&t.uri),
            hex(&t.list_id())
        ),
        Some(_) if s.issuer != key.issuer => format!(
            "status list {} is signed by {} ({}), the credential by {} ({})",
            display_safe(&t.uri),
            display_safe(&s.issuer),
            s.key_id,
            display_safe(&key.issuer),
            key.key.id()
        ),
        None if s.key_id != key.key.id() => format!(
            "the credential names no status list and status list {} is signed by key {}, not by its key {}",
            display_safe(&t.uri),
            s.key_id,
            key.key.id()
        ),
        _ => return None,
    };
    Some(Reason::new(
        Code::StatusListMismatch,
        format!("{problem}: not consulted; get this credential's issuer's status list"),
    ))
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) fn check_status(
    s: &VerifiedStatusList,
    c: &Core,
    ctx: &Context<'_>,
    reasons: &mut Vec<Reason>,
) -> Option<Status> {
    let t = &s.token;
    let stale_at = t.next_update() + ctx.policy.status_grace.num_seconds();
    if ctx.at.timestamp() > stale_at {
        reasons.push(Reason::new(
            Code::StatusStale,
            format!(
                "status list {} was due for update at {} (grace {} h); get a current list",
                t.sequence,
                rfc3339(t.next_update()),
                ctx.policy.status_grace.num_hours()
            ),
        ));
    }
    let idx = c.status_index;
    let Some(st) = t.list.get(idx) else {
        reasons.push(Reason::new(
            Code::StatusIndexOutOfRange,
            format!(
                "status list {} has {} entries, no entry {idx}",
                t.sequence,
                t.list.len()
            ),
        ));
        return None;
    };
    match st {
        Status::Valid => {}
        Status::Revoked => reasons.push(Reason::new(
            Code::Revoked,
            format!("cancelled (注销) according to status list {}", t.sequence),
        )),
        Status::Suspended => {
            if !reasons.iter().any(|r| r.code == Code::Suspended) {
                reasons.push(Reason::new(
                    Code::Suspended,
                    format!("suspended according to status list {}", t.sequence),
                ));
            }
        }
        Status::Superseded => reasons.push(Reason::new(
            Code::Superseded,
            format!(
                "credential version {} was replaced by a newer one (status list {}); ask the holder to refresh the code",
                c.version.map_or_else(|| "of this view".to_owned(), |v| v.to_string()),
                t.sequence
            ),
        )),
    }
    Some(st)
}
