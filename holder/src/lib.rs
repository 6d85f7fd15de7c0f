//! Holder side: the device key that a bound permit's credentials name (`cnf`), and the live
//! presentations the holder's phone shows instead of the bare credential: the chosen view
//! inside a COSE_Sign1 signed by the device key at the current time (see `docs/FORMAT.md`,
//! "Live presentation"). A screenshot of a presentation stops being accepted when its window
//! ends (60 s by default at the verifier).
//!
//! ```text
//! holder keys generate ─► holder.key.pem (0600), holder.pub.jwk.json ─► issuer issue --holder-key
//! issuer ─► <code>.wallet.json (full credential + basic view) ─► holder present ─► p.png
//! ```
//!
//! The library never reads the clock: the presentation time is passed in.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use permit_issuer::keyfile::{self, KeyFileError};
use permit_shared::credential::wallet::Wallet;
use permit_shared::credential::{self, DecodeError, ViewKind};
use permit_shared::keys::{PublicKey, SecretKey};
use permit_shared::role::Role;

/// Largest credential file read (a wallet, or a text file with one credential), bytes.
pub const MAX_CREDENTIAL_FILE_BYTES: u64 = 64 * 1024;

/// Why a holder operation failed. Each has a stable code ([`HolderError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    /// A key file could not be read or written.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The credential file is neither a wallet nor a credential text.
    #[error("{path}: {detail}")]
    NotACredential {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The view asked for is not in the file.
    #[error(
        "{path} holds only the full credential; the {view} view is in the wallet file the issuer wrote (`<code>.wallet.json`)"
    )]
    ViewMissing {
        /// The file.
        path: String,
        /// The view.
        view: &'static str,
    },
    /// The device key is not the one the credential binds.
    #[error(
        "the device key {key} is not the key {bound} that the credential binds: present with the key given to the issuer (`--holder-key`)"
    )]
    KeyMismatch {
        /// The key given.
        key: String,
        /// The key bound.
        bound: String,
    },
    /// The credential does not decode.
    #[error("credential: {0}")]
    Decode(#[from] DecodeError),
    /// No secure randomness for a new key.
    #[error("no secure randomness: {0}")]
    Random(String),
}

impl HolderError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            HolderError::KeyFile(e) => match e {
                KeyFileError::TooOpen { .. } => "KEY_FILE_TOO_OPEN",
                KeyFileError::Exists { .. } => "KEY_FILE_EXISTS",
                KeyFileError::Key { .. } => "KEY_INVALID",
                _ => "KEY_FILE_IO",
            },
            HolderError::Io { .. } => "IO",
            HolderError::NotACredential { .. } => "NOT_A_CREDENTIAL",
            HolderError::ViewMissing { .. } => "VIEW_MISSING",
            HolderError::KeyMismatch { .. } => "KEY_MISMATCH",
            HolderError::Decode(_) => "MALFORMED",
            HolderError::Random(_) => "NO_RANDOMNESS",
        }
    }
}

/// The files of a new device key.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The private key (PKCS#8 PEM, mode 0600).
    pub key: PathBuf,
    /// The public key as a JWK (for `issuer issue --holder-key`).
    pub jwk: PathBuf,
    /// The public key.
    pub public: PublicKey,
}

/// Generates a device key into `dir` as `<name>.key.pem` (0600) and `<name>.pub.jwk.json`;
/// existing files are never replaced.
pub fn generate_key(dir: &Path, name: &str) -> Result<GeneratedKey, HolderError> {
    std::fs::create_dir_all(dir).map_err(|source| HolderError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| HolderError::Random(e.to_string()))?;
    let secret = SecretKey::from_seed(&seed).map_err(|source| KeyFileError::Key {
        path: dir.to_owned(),
        source,
    })?;
    let key = dir.join(format!("{name}.key.pem"));
    let jwk = dir.join(format!("{name}.pub.jwk.json"));
    let pem = keyfile::pkcs8_v1_pem(&secret).map_err(|source| KeyFileError::Key {
        path: key.clone(),
        source,
    })?;
    let jwk_json = serde_json::to_string_pretty(&secret.public().to_jwk()).unwrap_or_default();
    // Check both paths first, so that a refusal leaves no half-written pair.
    for p in [&key, &jwk] {
        if p.exists() {
            return Err(KeyFileError::Exists { path: p.clone() }.into());
        }
    }
    keyfile::create_new(&key, pem.as_bytes(), 0o600)?;
    keyfile::create_new(&jwk, format!("{jwk_json}\n").as_bytes(), 0o644)?;
    Ok(GeneratedKey {
        key,
        jwk,
        public: *secret.public(),
    })
}

/// Reads the device key (owner and mode checked: 0600).
pub fn read_key(path: &Path) -> Result<SecretKey, HolderError> {
    Ok(keyfile::read_secret_key(path)?)
}

/// The view a holder chooses: `full` or `basic`, or a verifier role (the view the role wants
/// first: `police` → full, `hotel` → basic).
pub fn parse_view(s: &str) -> Option<ViewKind> {
    ViewKind::parse(s).or_else(|| Role::parse(s).and_then(|r| r.views.first().copied()))
}

/// What a credential file holds: a wallet (every view), or one credential text (the view it
/// is).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A wallet written by the issuer.
    Wallet(Wallet),
    /// One credential text (e.g. the `.txt` code of a bound permit).
    Text(String),
}

impl Credentials {
    /// Reads a credential file: a wallet (JSON), or a text file whose first non-empty line is
    /// a credential.
    pub fn read(path: &Path) -> Result<Credentials, HolderError> {
        let name = path.display().to_string();
        let io = |source| HolderError::Io {
            path: name.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_CREDENTIAL_FILE_BYTES {
            return Err(HolderError::NotACredential {
                path: name,
                detail: format!(
                    "{} bytes, more than any credential file ({MAX_CREDENTIAL_FILE_BYTES})",
                    meta.len()
                ),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Credentials::parse(&name, &bytes)
    }

    /// Parses the bytes of a credential file named `name` (for messages).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Credentials, HolderError> {
        let not = |detail: String| HolderError::NotACredential {
            path: name.to_owned(),
            detail,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| not("not UTF-8 text".into()))?;
        let t = text.trim_start_matches('\u{feff}').trim();
        if t.starts_with('{') {
            return Wallet::from_json(t.as_bytes())
                .map(Credentials::Wallet)
                .map_err(|e| not(format!("not a wallet: {e}")));
        }
        let line = t
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        credential::from_text(line)?;
        Ok(Credentials::Text(line.to_owned()))
    }

    /// The credential text of `view`, checking that it binds `device`.
    pub fn text_for(
        &self,
        name: &str,
        view: ViewKind,
        device: &PublicKey,
    ) -> Result<&str, HolderError> {
        match self {
            Credentials::Wallet(w) => {
                let bound = credential::holder::holder_key_from_x(&w.holder_key).map_err(|e| {
                    HolderError::NotACredential {
                        path: name.to_owned(),
                        detail: format!("holder_key: {e}"),
                    }
                })?;
                if bound != *device {
                    return Err(HolderError::KeyMismatch {
                        key: device.id().to_string(),
                        bound: bound.id().to_string(),
                    });
                }
                Ok(w.text(view))
            }
            Credentials::Text(t) if view == ViewKind::Full => Ok(t),
            Credentials::Text(_) => Err(HolderError::ViewMissing {
                path: name.to_owned(),
                view: view.as_str(),
            }),
        }
    }
}

/// A live presentation of the credential `text` signed by `device` at `presented_at` (Unix
/// seconds), as QR text (`GDRP1:` and decimal digits).
pub fn present_text(
    text: &str,
    device: &SecretKey,
    presented_at: i64,
) -> Result<String, HolderError> {
    let credential = credential::from_text(text)?;
    let presentation = credential::present(&credential, device, presented_at);
    Ok(credential::to_text(&presentation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_by_name_and_role() {
        assert_eq!(parse_view("hotel"), Some(ViewKind::Basic));
        assert_eq!(parse_view("police"), Some(ViewKind::Full));
        assert_eq!(parse_view("basic"), Some(ViewKind::Basic));
        assert_eq!(parse_view("bank"), None);
    }

    #[test]
    fn key_files_are_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate_key(dir.path(), "phone").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&g.key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(read_key(&g.key).unwrap().public(), &g.public);
        assert!(matches!(
            generate_key(dir.path(), "phone"),
            Err(HolderError::KeyFile(KeyFileError::Exists { .. }))
        ));
    }

    #[test]
    fn garbage_is_not_a_credential() {
        for bytes in [&b"\xff\xfe"[..], b"{\"format\": 1}", b"hello", b""] {
            assert!(Credentials::parse("x", bytes).is_err(), "{bytes:?}");
        }
    }
}
