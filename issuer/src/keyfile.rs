//! Key files: generation, PKCS#8 PEM private keys with mode 0600 that are never overwritten, and
//! refusal of private key files that group or others can read (as OpenSSH refuses them).

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use permit_shared::keys::{KeyError, PublicKey, SecretKey};
use permit_shared::trust::{KeyEntry, Usage};
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

/// Reads a private key, refusing files readable by group or others.
pub fn read_secret_key(path: &Path) -> Result<SecretKey, KeyFileError> {
    let mut f = fs::File::open(path).map_err(io(path))?;
    let meta = f.metadata().map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
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
    PublicKey::from_pem_or_jwk(text.as_bytes()).map_err(|source| KeyFileError::Key {
        path: path.to_owned(),
        source,
    })
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
    let pem = key.to_pkcs8_pem().map_err(|source| KeyFileError::Key {
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
