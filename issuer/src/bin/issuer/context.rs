//! What every command takes from the global options: the time, the settings, the actor, the
//! office they make, the signing key with its trust list, and permit serials.

use std::path::Path;

use chrono::{DateTime, Utc};

use permit_issuer::issue::{Office, Signer};
use permit_issuer::settings::Settings;
use permit_issuer::{demo, keyfile};
use permit_shared::credential::{self, Envelope};
use permit_shared::trust::{self, TrustList, Usage};

use crate::cli::{Cli, KeyArgs, TrustArgs};
use crate::error::{Failure, Result};
use crate::output::read_small;

/// The current time: `--now` when given, otherwise the system clock.
pub fn now(cli: &Cli) -> Result<DateTime<Utc>> {
    match &cli.now {
        None => Ok(Utc::now()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| Failure::usage(format!("--now `{s}` is not an RFC 3339 time"))),
    }
}

/// Who acts: `--actor`, else `$USER`, else `operator`.
pub fn actor(cli: &Cli) -> String {
    cli.actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

/// The settings: `--config FILE`, else the defaults.
pub fn settings(cli: &Cli) -> Result<Settings> {
    match &cli.config {
        None => Ok(Settings::default()),
        Some(p) => Settings::from_json(&read_small(p, 1024 * 1024)?).map_err(|e| {
            Failure::new(
                permit_issuer::error_code::ErrorCode::ConfigInvalid,
                format!("{}: {e}", p.display()),
            )
        }),
    }
}

/// The global options a command acts with: settings, time and actor, read once.
pub struct Acting {
    pub settings: Settings,
    pub now: DateTime<Utc>,
    pub actor: String,
}

impl Acting {
    /// Reads `--config`, `--now` and `--actor` (or `$USER`).
    pub fn from_cli(cli: &Cli) -> Result<Acting> {
        Ok(Acting {
            settings: settings(cli)?,
            now: now(cli)?,
            actor: actor(cli),
        })
    }

    /// The office acting now.
    pub fn office(&self) -> Office<'_> {
        self.office_as(&self.actor)
    }

    /// The office acting now, as someone else (a reviewer).
    pub fn office_as<'a>(&'a self, actor: &'a str) -> Office<'a> {
        Office {
            settings: &self.settings,
            now: self.now,
            actor,
        }
    }
}

/// The verified trust list for the self-check: `--trust`/`--root`, or the demo list.
pub fn trust_list(k: &TrustArgs) -> Result<TrustList> {
    let root = match &k.root {
        Some(p) => keyfile::read_public_key(p)?,
        None => demo::root().map_err(|e| Failure::usage(format!("demo root: {e}")))?,
    };
    let doc = match &k.trust {
        Some(p) => read_small(p, trust::MAX_TRUST_LIST_BYTES as u64)?,
        None => demo::TRUST_LIST.as_bytes().to_vec(),
    };
    TrustList::verify(&doc, &root).map_err(|e| {
        Failure::new(
            permit_issuer::error_code::ErrorCode::TrustListRefused,
            format!("trust list refused: {e}"),
        )
        .hint("pass --trust FILE signed by the root given with --root KEY")
    })
}

/// The signing key (`--key`, else the embedded TEST-ONLY demo key), checked against the trust
/// list for signing `usage` at `now`. Says nothing: a command that signs something with the
/// demo key says so with `output::warn_demo_key` once the signature is made.
pub fn signer(k: &KeyArgs, usage: Usage, now: DateTime<Utc>) -> Result<Signer> {
    let key = match &k.key {
        Some(p) => keyfile::read_secret_key(p)?,
        None => demo::issuer_key().map_err(|e| Failure::usage(format!("demo key: {e}")))?,
    };
    let trust = trust_list(&k.trust)?;
    Signer::new(key, trust, usage, now).map_err(|e| {
        let trust = k
            .trust
            .trust
            .as_deref()
            .map_or_else(|| "(demo)".into(), |p: &Path| p.display().to_string());
        let mut f = Failure::from(e);
        f.message = format!("{} ({trust})", f.message);
        f
    })
}

/// Whether the key that signed the credential `text` is TEST-ONLY in `trust` (or the whole list
/// is). A text whose key id cannot be read counts as test: it verified already wherever this
/// decides a stamp or a report's `test`, so that does not happen.
pub fn signed_by_test_key(text: &str, trust: &TrustList) -> bool {
    let kid = credential::from_text(text)
        .ok()
        .and_then(|bytes| Envelope::decode(&bytes).ok())
        .map(|e| e.key_id());
    trust.test || kid.is_none_or(|kid| trust.keys_with_id(kid).any(|k| k.test))
}

/// A permit serial: exactly 12 digits.
pub fn serial(s: &str) -> Result<u64> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map_err(|_| Failure::usage("bad serial"))
    } else {
        Err(Failure::usage(format!(
            "`{s}` is not a permit serial (12 digits)"
        )))
    }
}
