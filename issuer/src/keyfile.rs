//! Key files: generation and import, PKCS#8 v1 PEM private keys (as OpenSSL writes them) with
//! mode 0600 that are never overwritten, and refusal of private key files that group or others
//! can read or that another account owns (as OpenSSH refuses them). PKCS#8 v1 and v2 (with the
//! public key attached) are both read.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use permit_shared::keys::{KeyError, PublicKey, SecretKey};
use permit_shared::trust::{KeyEntry, Usage};
use sha2::Digest as _;
use zeroize::Zeroizing;

/// Largest key file read, bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Why a key file could not be read or written. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be opened, read or created.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Group or others may read the private key.
    #[error(
        "{path}: private key is accessible by group or others (mode {mode:04o}); run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another account owns the private key: it can read it (and change its mode).
    #[error(
        "{path}: private key is owned by uid {owner}, not by the account running the issuer (uid {user}) or root; that account can read the key: `chown` it to this account"
    )]
    NotOwned {
        /// The file.
        path: PathBuf,
        /// The owner's uid.
        owner: u32,
        /// The uid running the issuer.
        user: u32,
    },
    /// The file exists already.
    #[error("{path}: exists already; refusing to overwrite a key file")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Larger than a key file can be.
    #[error("{path}: larger than {MAX_KEY_FILE_BYTES} bytes, not a key file")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Not a usable key.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: KeyError,
    },
    /// The operating system's random number generator failed.
    #[error("no secure randomness available: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// PEM text from the first `-----BEGIN` line on: explanatory text before it (RFC 7468 §5.2),
/// such as the TEST-ONLY warning of the demo keys, is skipped.
pub fn pem_body(text: &str) -> &str {
    text.find("-----BEGIN").map_or(text, |i| &text[i..])
}

/// The effective uid of this process (`None` where there is none to compare with).
fn running_uid() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        Some(rustix::process::geteuid().as_raw())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Reads a private key, refusing files that another account owns (root excepted) or that
/// group or others may read.
pub fn read_secret_key(path: &Path) -> Result<SecretKey, KeyFileError> {
    let mut f = fs::File::open(path).map_err(io(path))?;
    let meta = f.metadata().map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        if let Some(user) = running_uid()
            && meta.uid() != user
            && meta.uid() != 0
        {
            return Err(KeyFileError::NotOwned {
                path: path.to_owned(),
                owner: meta.uid(),
                user,
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let mut text = Zeroizing::new(String::new());
    std::io::Read::by_ref(&mut f)
        .take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(io(path))?;
    SecretKey::from_pkcs8_pem(pem_body(&text)).map_err(|source| KeyFileError::Key {
        path: path.to_owned(),
        source,
    })
}

/// Reads a public key from a PEM (SPKI) or JWK file.
pub fn read_public_key(path: &Path) -> Result<PublicKey, KeyFileError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    let key_err = |source| KeyFileError::Key {
        path: path.to_owned(),
        source,
    };
    if text.trim_start().starts_with('{') {
        let jwk =
            serde_json::from_str(&text).map_err(|e| key_err(KeyError::BadJwk(e.to_string())))?;
        PublicKey::from_jwk(&jwk).map_err(key_err)
    } else {
        PublicKey::from_pem(pem_body(&text)).map_err(key_err)
    }
}

/// The private key as PKCS#8 v1 PEM (RFC 8410 §7: the seed only, no public key), the form
/// OpenSSL writes and other tools (OpenSSL 1.1, Python `cryptography`) read; zeroized when
/// dropped.
pub fn pkcs8_v1_pem(key: &SecretKey) -> Result<Zeroizing<String>, KeyError> {
    use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, KeypairBytes};
    // `SecretKey` writes v2 (with the public key); the seed is taken from it and written alone.
    let v2 = key.to_pkcs8_pem()?;
    let mut pair = KeypairBytes::from_pkcs8_pem(&v2).map_err(|_| KeyError::BadPem)?;
    pair.public_key = None;
    pair.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| KeyError::BadPem)
}

/// Creates a new file with the given mode; never replaces an existing one.
pub fn create_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists {
                path: path.to_owned(),
            }
        } else {
            io(path)(e)
        }
    })?;
    f.write_all(contents).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// What a key will be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Signs permits and status lists.
    Issuer,
    /// Signs trust lists.
    Root,
}

/// Parameters of `keys generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Role of the key.
    pub role: Role,
    /// File name stem, e.g. `issuer` → `issuer.key.pem`.
    pub stem: String,
    /// Holder named in the trust-list entry.
    pub issuer_name: String,
    /// Mark as TEST-ONLY (warning line in the PEM files, `test` in the entry).
    pub test: bool,
    /// Start of the signing window.
    pub signing_from: DateTime<Utc>,
    /// End of the signing window.
    pub signing_until: DateTime<Utc>,
}

/// The files written by [`generate`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generated {
    /// Key id.
    pub kid: String,
    /// Private key (mode 0600).
    pub private_key: PathBuf,
    /// Public key, SPKI PEM.
    pub public_pem: PathBuf,
    /// Public key, JWK.
    pub public_jwk: PathBuf,
    /// Trust-list entry (issuer keys only).
    pub trust_entry: Option<PathBuf>,
}

const TEST_BANNER: &str = "TEST-ONLY key: for demos and tests, never for real permits.\n";

/// Generates a key pair from OS randomness and writes it into `dir` (created if missing).
/// No file is overwritten: if any target exists, nothing is written.
pub fn generate(dir: &Path, opts: &GenerateOptions) -> Result<Generated, KeyFileError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| KeyFileError::Random(e.to_string()))?;
    let key = SecretKey::from_seed(&seed).map_err(|source| KeyFileError::Key {
        path: dir.to_owned(),
        source,
    })?;
    write_key_files(dir, &key, opts)
}

/// Writes the files for an existing key (used by `generate` and by tests with fixed seeds).
pub fn write_key_files(
    dir: &Path,
    key: &SecretKey,
    opts: &GenerateOptions,
) -> Result<Generated, KeyFileError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let stem = &opts.stem;
    let private_key = dir.join(format!("{stem}.key.pem"));
    let public_pem = dir.join(format!("{stem}.pub.pem"));
    let public_jwk = dir.join(format!("{stem}.pub.jwk.json"));
    let trust_entry =
        (opts.role == Role::Issuer).then(|| dir.join(format!("{stem}.trust-entry.json")));
    for p in [&private_key, &public_pem, &public_jwk]
        .into_iter()
        .chain(trust_entry.as_ref())
    {
        if p.exists() {
            return Err(KeyFileError::Exists { path: p.clone() });
        }
    }
    let banner = if opts.test { TEST_BANNER } else { "" };
    let pem = pkcs8_v1_pem(key).map_err(|source| KeyFileError::Key {
        path: private_key.clone(),
        source,
    })?;
    let mut private = Zeroizing::new(String::with_capacity(banner.len() + pem.len()));
    private.push_str(banner);
    private.push_str(&pem);
    create_new(&private_key, private.as_bytes(), 0o600)?;
    let public = key.public();
    create_new(
        &public_pem,
        format!("{banner}{}", public.to_pem()).as_bytes(),
        0o644,
    )?;
    let jwk = serde_json::to_string_pretty(&public.to_jwk()).unwrap_or_default() + "\n";
    create_new(&public_jwk, jwk.as_bytes(), 0o644)?;
    if let Some(path) = &trust_entry {
        let entry = KeyEntry {
            kid: public.id(),
            issuer: opts.issuer_name.clone(),
            jwk: public.to_jwk(),
            may_sign: vec![Usage::Permit, Usage::StatusList],
            signing_from: opts
                .signing_from
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            signing_until: opts
                .signing_until
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            verify_until: None,
            compromised_since: None,
            test: opts.test,
        };
        let text = serde_json::to_string_pretty(&entry).unwrap_or_default() + "\n";
        create_new(path, text.as_bytes(), 0o644)?;
    }
    Ok(Generated {
        kid: public.id().to_string(),
        private_key,
        public_pem,
        public_jwk,
        trust_entry,
    })
}

/// Imports a private key made elsewhere (PKCS#8 PEM, v1 or v2, e.g. from `openssl genpkey
/// -algorithm ed25519`) under the same checks as any key file (owner, mode, size), and writes
/// the same files as [`generate`] into `dir`: the private key again as PKCS#8 v1 with mode 0600,
/// the public key as PEM and JWK, and for issuer keys the trust-list entry.
pub fn import(input: &Path, dir: &Path, opts: &GenerateOptions) -> Result<Generated, KeyFileError> {
    let key = read_secret_key(input)?;
    write_key_files(dir, &key, opts)
}

/// What `keys show` prints about a key file: never secret bytes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    /// The file shown.
    pub file: PathBuf,
    /// `private key`, `public key`, `JWK` or `trust entry`.
    pub kind: &'static str,
    /// Key id (first 8 bytes of the SHA-256 of the public key, hex).
    pub kid: String,
    /// SHA-256 of the 32-byte public key, hex (the key id is its first 16 digits).
    pub fingerprint_sha256: String,
    /// `issuer` when a trust entry names the key (the file itself or `STEM.trust-entry.json`
    /// beside it); `None` when the role is not recorded next to the key.
    pub role: Option<&'static str>,
    /// The trust entry the role comes from.
    pub trust_entry: Option<PathBuf>,
    /// Whether the key is marked TEST-ONLY (file banner or trust entry).
    pub test: bool,
    /// The trust entry's signing window, when there is one.
    pub signing_window: Option<(String, String)>,
}

/// Reads any key file (private key, public PEM, JWK or trust entry) and describes its key. A
/// private key file is read under the same checks as for signing.
pub fn show(path: &Path) -> Result<KeyInfo, KeyFileError> {
    let key_err = |source| KeyFileError::Key {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io(path))?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let mut entry: Option<(KeyEntry, PathBuf)> = None;
    let (kind, public, banner) = if fs::read(path)
        .map_err(io(path))?
        .windows(b"PRIVATE KEY".len())
        .any(|w| w == b"PRIVATE KEY")
    {
        let key = read_secret_key(path)?;
        let banner = fs::read_to_string(path).map_err(io(path))?;
        (
            "private key",
            *key.public(),
            banner.starts_with("TEST-ONLY"),
        )
    } else {
        let text = fs::read_to_string(path).map_err(io(path))?;
        let banner = text.starts_with("TEST-ONLY");
        if text.contains("\"jwk\"") {
            let e: KeyEntry = serde_json::from_str(&text)
                .map_err(|e| key_err(KeyError::BadJwk(e.to_string())))?;
            let public = PublicKey::from_jwk(&e.jwk).map_err(key_err)?;
            entry = Some((e, path.to_owned()));
            ("trust entry", public, banner)
        } else {
            let kind = if text.trim_start().starts_with('{') {
                "JWK"
            } else {
                "public key"
            };
            (kind, read_public_key(path)?, banner)
        }
    };
    if entry.is_none() {
        entry = entry_beside(path).filter(|(e, _)| e.kid == public.id());
    }
    let fingerprint_sha256 = sha2::Sha256::digest(public.to_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(KeyInfo {
        file: path.to_owned(),
        kind,
        kid: public.id().to_string(),
        fingerprint_sha256,
        role: entry.as_ref().map(|_| "issuer"),
        test: banner || entry.as_ref().is_some_and(|(e, _)| e.test),
        signing_window: entry
            .as_ref()
            .map(|(e, _)| (e.signing_from.clone(), e.signing_until.clone())),
        trust_entry: entry.map(|(_, p)| p),
    })
}

/// The trust entry `STEM.trust-entry.json` beside `STEM.key.pem`, `STEM.pub.pem` or
/// `STEM.pub.jwk.json`, if it exists and parses.
fn entry_beside(path: &Path) -> Option<(KeyEntry, PathBuf)> {
    let name = path.file_name()?.to_str()?;
    let stem = [".key.pem", ".pub.pem", ".pub.jwk.json"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))?;
    let beside = path.with_file_name(format!("{stem}.trust-entry.json"));
    if fs::metadata(&beside).ok()?.len() > MAX_KEY_FILE_BYTES {
        return None;
    }
    let e = serde_json::from_slice(&fs::read(&beside).ok()?).ok()?;
    Some((e, beside))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> GenerateOptions {
        GenerateOptions {
            role: Role::Issuer,
            stem: "issuer".into(),
            issuer_name: "test".into(),
            test: true,
            signing_from: DateTime::from_timestamp(0, 0).unwrap(),
            signing_until: DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn generate_read_and_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), &opts()).unwrap();
        let key = read_secret_key(&g.private_key).unwrap();
        assert_eq!(key.public().id().to_string(), g.kid);
        assert_eq!(read_public_key(&g.public_pem).unwrap(), *key.public());
        assert_eq!(read_public_key(&g.public_jwk).unwrap(), *key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&g.private_key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let copy = dir.path().join("copy.pem");
            fs::copy(&g.private_key, &copy).unwrap();
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o644)).unwrap();
            let err = read_secret_key(&copy).unwrap_err();
            assert!(matches!(err, KeyFileError::TooOpen { mode: 0o644, .. }));
            assert!(err.to_string().contains("chmod 600"));
        }
        // Never overwritten.
        assert!(matches!(
            generate(dir.path(), &opts()),
            Err(KeyFileError::Exists { .. })
        ));
    }

    #[test]
    fn errors_never_echo_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.pem");
        create_new(
            &p,
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
            0o600,
        )
        .unwrap();
        let e = read_secret_key(&p).unwrap_err().to_string();
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }
}
