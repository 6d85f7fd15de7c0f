//! What every command takes from the global options: the time, the settings, the actor, the
//! office they make, the signing key with its trust list, and permit serials.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use permit_issuer::error_code::ErrorCode;
use permit_issuer::issue::{Backend, Office, Signer};
use permit_issuer::ledger::open::{AnyLedger, Mode};
use permit_issuer::pkcs11::{self, AuthPin, KeyUri, Pkcs11Error, Pkcs11Key};
use permit_issuer::settings::Settings;
use permit_issuer::{demo, keyfile};
use permit_shared::credential::{self, Envelope};
use permit_shared::trust::{self, TrustList, Usage};

use crate::cli::{Cli, KeyArgs, Pkcs11Args, TrustArgs};
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
    let backend = match &k.key {
        Some(p) => match p.to_str().filter(|s| s.starts_with("pkcs11:")) {
            Some(uri) => {
                let t = token(uri, &k.module)?;
                Backend::Pkcs11(Pkcs11Key::open(&t.module, &t.uri, &t.pin).map_err(pkcs11_failure)?)
            }
            None => Backend::File(keyfile::read_secret_key(p)?),
        },
        None => {
            Backend::File(demo::issuer_key().map_err(|e| Failure::usage(format!("demo key: {e}")))?)
        }
    };
    let trust = trust_list(&k.trust)?;
    Signer::with_backend(backend, trust, usage, now).map_err(|e| {
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

/// Environment variable holding the token PIN when the URI has no `pin-source`.
pub const PIN_ENV: &str = "GDRP_PKCS11_PIN";
/// Environment variable naming the PKCS#11 module when neither the flag nor the URI does.
pub const MODULE_ENV: &str = "GDRP_PKCS11_MODULE";
/// Debian's SoftHSM2 module (package `softhsm2`).
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A `pkcs11:` key resolved: its URI, the module to load and the PIN.
pub struct Token {
    pub uri: KeyUri,
    pub module: PathBuf,
    pub pin: AuthPin,
}

/// Parses a `pkcs11:` URI and finds its module (`--pkcs11-module`, the URI's `module-path`,
/// `$GDRP_PKCS11_MODULE`, Debian's SoftHSM2) and PIN (`pin-source=file:…`, else
/// `$GDRP_PKCS11_PIN`).
pub fn token(text: &str, m: &Pkcs11Args) -> Result<Token> {
    let uri = KeyUri::parse(text).map_err(|e| {
        Failure::usage(e.to_string()).hint(
            "e.g. --key 'pkcs11:token=office;object=issuer-2026?pin-source=file:/etc/issuer/pin'",
        )
    })?;
    let module = m
        .pkcs11_module
        .clone()
        .or_else(|| uri.module_path.clone())
        .or_else(|| std::env::var_os(MODULE_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE));
    let pin = match &uri.pin_source {
        Some(p) => pkcs11::read_pin_file(p).map_err(pkcs11_failure)?,
        None => match std::env::var(PIN_ENV) {
            Ok(pin) if !pin.is_empty() => AuthPin::from(pin),
            _ => {
                return Err(Failure::new(
                    ErrorCode::HsmFailed,
                    format!("no PIN for {}", uri.describe()),
                )
                .hint(format!(
                    "add ?pin-source=file:/PATH (mode 0600) to the URI or set {PIN_ENV}"
                )));
            }
        },
    };
    Ok(Token { uri, module, pin })
}

/// The failure of a token operation.
pub fn pkcs11_failure(e: Pkcs11Error) -> Failure {
    let hint = match &e {
        Pkcs11Error::Module { .. } => Some(format!(
            "install the token's PKCS#11 module (Debian: softhsm2) or pass --pkcs11-module FILE / set {MODULE_ENV}"
        )),
        Pkcs11Error::Login(_) => Some(format!("check the PIN in the pin-source file or {PIN_ENV}")),
        _ => None,
    };
    let f = Failure::new(ErrorCode::HsmFailed, e.to_string());
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
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

/// The ledger `--ledger` names (a SQLite file, or a `postgres://…` URL), opened for one command.
pub fn ledger(cli: &Cli) -> Result<AnyLedger> {
    Ok(AnyLedger::open(&cli.ledger, Mode::Command)?)
}

/// The ledger `--ledger` names, opened for a batch job (every commit durable).
pub fn durable_ledger(cli: &Cli) -> Result<AnyLedger> {
    Ok(AnyLedger::open(&cli.ledger, Mode::Durable)?)
}

/// Reads a holder's device public key (Ed25519 JWK or PEM) and returns its JWK `x`, the form
/// the applicant record and the ledger keep. Weak (small-order) and non-canonical keys are
/// refused.
pub fn holder_key(path: &std::path::Path) -> Result<String> {
    let bytes = crate::output::read_small(path, 64 * 1024)?;
    let key = permit_shared::keys::PublicKey::from_pem_or_jwk(&bytes).map_err(|e| {
        Failure::new(
            permit_issuer::error_code::ErrorCode::KeyInvalid,
            format!("--holder-key {}: {e}", path.display()),
        )
    })?;
    let x = permit_shared::credential::holder::holder_key_to_x(&key);
    // The same check as the applicant record's field (small order, canonical encoding).
    permit_shared::credential::holder::holder_key_from_x(&x).map_err(|e| {
        Failure::new(
            permit_issuer::error_code::ErrorCode::KeyInvalid,
            format!("--holder-key {}: {e}", path.display()),
        )
    })?;
    Ok(x)
}
