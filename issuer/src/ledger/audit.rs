//! The ledger audit (`issuer ledger verify`): every application against its content hash, every
//! permit and credential against its digest, every credential against its signature and its
//! permit, and the event history against its hash chain. Damage is listed row by row; nothing
//! stops at the first.
//!
//! Backend-neutral: it reads through [`Tx`]'s scans and checks with [`digest`](super::digest),
//! so a PostgreSQL store is audited by the same code.

use std::collections::HashMap;

use serde::Serialize;

use permit_shared::credential::{self, Claims, Envelope};
use permit_shared::trust::TrustList;

use super::digest::{self, CHAIN_START};
use super::{CredentialRecord, CredentialScan, LedgerError, PermitRecord, Tx};

/// One damaged row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// `applications`, `permits`, `credentials` or `events`.
    pub table: &'static str,
    /// The row: application number, 12-digit serial, `serial v<version>`, or event id.
    pub row: String,
    /// What is wrong.
    pub problem: String,
}

/// The audit's result; `--json` prints it as it is (`schema: gdrp-ledger-verify/1`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// `gdrp-ledger-verify/1`.
    pub schema: &'static str,
    /// Applications read.
    pub applications: u64,
    /// Permits read.
    pub permits: u64,
    /// Credentials read.
    pub credentials: u64,
    /// Credentials whose signature verified under a key of the trust list.
    pub signatures_checked: u64,
    /// Credentials signed by a key the trust list does not name (signature not checked; the
    /// row's digest still was).
    pub signatures_unchecked: u64,
    /// Events read.
    pub events: u64,
    /// The last event's chain link: record it elsewhere to detect a later rewrite of history.
    pub chain_head: String,
    /// Every damaged row.
    pub damaged: Vec<Damage>,
}

impl AuditReport {
    /// No damage found.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }

    fn damage(&mut self, table: &'static str, row: impl Into<String>, problem: impl Into<String>) {
        self.damaged.push(Damage {
            table,
            row: row.into(),
            problem: problem.into(),
        });
    }
}

/// Audits the whole ledger. `trust` gives the keys the credentials' signatures are checked with.
pub fn audit(tx: &mut dyn Tx, trust: &TrustList) -> Result<AuditReport, LedgerError> {
    let mut rep = AuditReport {
        schema: "gdrp-ledger-verify/1",
        chain_head: CHAIN_START.to_owned(),
        ..AuditReport::default()
    };
    tx.scan_applications(&mut |id, r| {
        rep.applications += 1;
        if let Err(e) = r {
            rep.damage("applications", id, problem(&e));
        }
    })?;
    // serial → (current version, whether its current credential was seen)
    let mut current: HashMap<u64, (u32, bool)> = HashMap::new();
    tx.scan_permits(&mut |serial, r| {
        rep.permits += 1;
        match r {
            Ok(p) => {
                current.insert(serial, (p.current_version, false));
            }
            Err(e) => rep.damage("permits", format!("{serial:012}"), problem(&e)),
        }
    })?;
    tx.scan_credentials(&mut |s| {
        rep.credentials += 1;
        let row = format!("{:012} v{}", s.serial, s.version);
        if let Err(p) = check_credential(&s, trust, &mut rep) {
            rep.damage("credentials", row, p);
        } else if let Some((v, seen)) = current.get_mut(&s.serial)
            && *v == s.version
        {
            *seen = true;
        }
    })?;
    let mut missing: Vec<(u64, u32)> = current
        .iter()
        .filter(|(_, (_, seen))| !seen)
        .map(|(serial, (v, _))| (*serial, *v))
        .collect();
    missing.sort_unstable();
    for (serial, v) in missing {
        rep.damage(
            "permits",
            format!("{serial:012}"),
            format!("no intact credential of its current version v{v}"),
        );
    }
    let mut previous = CHAIN_START.to_owned();
    let mut expected_id = 1;
    tx.scan_events(&mut |e| {
        rep.events += 1;
        if e.id != expected_id {
            rep.damage(
                "events",
                e.id.to_string(),
                format!("the history jumps from event {} to {}", expected_id - 1, e.id),
            );
        }
        if digest::event_link(&previous, &e) != e.chain {
            rep.damage(
                "events",
                e.id.to_string(),
                "the event does not match its chain link (changed, or an event before it is missing)",
            );
        }
        expected_id = e.id + 1;
        previous = e.chain;
    })?;
    rep.chain_head = previous;
    Ok(rep)
}

fn problem(e: &LedgerError) -> String {
    match e {
        LedgerError::Damaged(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Checks one credential: its digest, its signature, its claims against its columns, and the
/// current version's claims against the permit. `Err` is the problem.
fn check_credential(
    s: &CredentialScan,
    trust: &TrustList,
    rep: &mut AuditReport,
) -> Result<(), String> {
    let c = s.credential.as_ref().map_err(problem)?;
    let p = match &s.permit {
        None => return Err(format!("permit {:012} does not exist", s.serial)),
        // The permit's own damage is reported with the permit.
        Some(Err(_)) => return Ok(()),
        Some(Ok(p)) => p,
    };
    if c.version > p.current_version {
        return Err(format!(
            "version is above the permit's current version v{}",
            p.current_version
        ));
    }
    let Some(claims) = signed_claims(c, trust)? else {
        rep.signatures_unchecked += 1;
        return Ok(());
    };
    rep.signatures_checked += 1;
    compare(c, p, &claims)
}

/// The claims of a credential whose signature verifies under a key of `trust`; `None` when
/// the trust list has no key with its id.
fn signed_claims(c: &CredentialRecord, trust: &TrustList) -> Result<Option<Claims>, String> {
    let bytes = credential::from_text(&c.text).map_err(|e| format!("text: {e}"))?;
    let env = Envelope::decode(&bytes).map_err(|e| format!("envelope: {e}"))?;
    if env.key_id().to_string() != c.key_id {
        return Err(format!(
            "signed by key {} but recorded as {}",
            env.key_id(),
            c.key_id
        ));
    }
    let mut keys = trust.keys_with_id(env.key_id()).peekable();
    if keys.peek().is_none() {
        return Ok(None);
    }
    for k in keys {
        if let Ok(v) = env.verify(&k.key) {
            return v.claims().map(Some).map_err(|e| format!("claims: {e}"));
        }
    }
    Err("the signature does not verify".into())
}

fn compare(c: &CredentialRecord, p: &PermitRecord, claims: &Claims) -> Result<(), String> {
    let k = &claims.permit;
    let columns = [
        ("serial", k.serial == c.serial),
        ("version", k.version == c.version),
        ("status_index", k.status_index == c.status_index),
        ("issued_at", claims.issued_at == c.issued_at),
        ("expires_at", claims.expires_at == c.expires_at),
        ("issued_on", k.issued_on == p.issued_on),
    ];
    if let Some((name, _)) = columns.iter().find(|(_, ok)| !ok) {
        return Err(format!(
            "the signed credential's {name} differs from the row"
        ));
    }
    if c.version == p.current_version {
        let expected = crate::lifecycle::credential_claims(p, c.status_index, c.issued_at)
            .map_err(|e| format!("the permit cannot be encoded: {e}"))?;
        if expected != *claims {
            return Err(
                "the current credential does not say what the permit record says (the permit or the credential was changed)"
                    .into(),
            );
        }
    }
    Ok(())
}
