//! Issuer keys inside a PKCS#11 token (an HSM; SoftHSM2 in tests): the Ed25519 private key is
//! generated in the token as sensitive and not extractable, and signs there (CKM_EDDSA); its
//! secret never enters the issuer's memory. What the token returns is not trusted: the
//! [`Signer`](crate::issue::Signer) verifies every signature with the public key before use,
//! and that public key must be the one the trust list publishes.
//!
//! Loading a PKCS#11 module runs the vendor's code inside the issuer: the module path is the
//! operator's choice (`--pkcs11-module`), never taken from input.

mod uri;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
pub use cryptoki::types::AuthPin;

use permit_shared::keys::{KeyError, PublicKey};

pub use uri::{KeyUri, UriError};

/// DER of the Ed25519 curve OID 1.3.101.112 (RFC 8410), the CKA_EC_PARAMS of an Ed25519 key.
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];

/// Why a token key could not be opened, made or used.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The module could not be loaded or initialised.
    #[error("PKCS#11 module {path}: {source}")]
    Module {
        /// The module file.
        path: PathBuf,
        /// What the loader or C_Initialize said.
        source: CkError,
    },
    /// No token, or more than one, matches the URI.
    #[error("{found} tokens match {what}; {hint}")]
    Token {
        /// How the URI names the key.
        what: String,
        /// How many matched.
        found: usize,
        /// What to do.
        hint: &'static str,
    },
    /// No key, or more than one, matches the URI.
    #[error("{found} Ed25519 {class} keys match {what} in the token")]
    Object {
        /// How the URI names the key.
        what: String,
        /// `private` or `public`.
        class: &'static str,
        /// How many matched.
        found: usize,
    },
    /// The key exists already (`keys generate --pkcs11` never makes a second one).
    #[error("the token already holds a key named {0}; choose another object=")]
    Exists(String),
    /// The private key could leave the token.
    #[error(
        "{0}: the private key is extractable or not sensitive; the issuer signs only with keys that cannot leave the token"
    )]
    Exportable(String),
    /// The token's public key is not a valid Ed25519 key.
    #[error("{what}: the token's public key: {detail}")]
    PublicKey {
        /// How the URI names the key.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// The PIN was refused.
    #[error("the token refused the PIN ({0})")]
    Login(CkError),
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {step}: {source}")]
    Call {
        /// The step (e.g. `C_Sign`).
        step: &'static str,
        /// The module's error.
        source: CkError,
    },
    /// The signature has a wrong length.
    #[error("the token returned a {0}-byte signature, not 64")]
    SignatureLength(usize),
    /// The PIN file could not be read or is unsafe.
    #[error("PIN file {path}: {detail}")]
    PinFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never its content).
        detail: String,
    },
}

fn call(step: &'static str) -> impl FnOnce(CkError) -> Pkcs11Error {
    move |source| Pkcs11Error::Call { step, source }
}

/// Loaded modules, one context each for the life of the process: C_Initialize may run once per
/// process, and finalizing one context would end every other on the same module.
fn module(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = lock(MODULES.get_or_init(Mutex::default));
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let err = |source| Pkcs11Error::Module {
        path: path.to_owned(),
        source,
    };
    let m = Pkcs11::new(path).map_err(err)?;
    match m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(err(e)),
    }
    modules.insert(path.to_owned(), m.clone());
    Ok(m)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads a PIN file: owned by the account running the issuer (or root), not readable by group
/// or others, one line. Its content never appears in an error.
pub fn read_pin_file(path: &Path) -> Result<AuthPin, Pkcs11Error> {
    let bad = |detail: String| Pkcs11Error::PinFile {
        path: path.to_owned(),
        detail,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(bad(format!(
                "accessible by group or others (mode {:04o}); run `chmod 600 {}`",
                meta.mode() & 0o7777,
                path.display()
            )));
        }
    }
    let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let text = zeroize::Zeroizing::new(text);
    if text.len() > 256 {
        return Err(bad("larger than a PIN".into()));
    }
    let pin = std::str::from_utf8(&text).map_err(|_| bad("not UTF-8".into()))?;
    let pin = pin.strip_suffix('\n').unwrap_or(pin);
    if pin.is_empty() || pin.contains('\n') {
        return Err(bad("must hold the PIN on one line".into()));
    }
    Ok(AuthPin::from(pin))
}

/// The token slot the URI names: exactly one.
fn find_slot(p: &Pkcs11, uri: &KeyUri) -> Result<Slot, Pkcs11Error> {
    let mut found = Vec::new();
    for slot in p.get_slots_with_token().map_err(call("C_GetSlotList"))? {
        if uri.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        let info = p.get_token_info(slot).map_err(call("C_GetTokenInfo"))?;
        let matches = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w == have.trim_end())
        };
        if matches(&uri.token, info.label())
            && matches(&uri.manufacturer, info.manufacturer_id())
            && matches(&uri.serial, info.serial_number())
            && matches(&uri.model, info.model())
        {
            found.push(slot);
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(Pkcs11Error::Token {
            what: uri.describe(),
            found: found.len(),
            hint: "name exactly one token with token= (see `softhsm2-util --show-slots` or `pkcs11-tool -L`)",
        }),
    }
}

fn template(uri: &KeyUri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(class),
        Attribute::KeyType(KeyType::EC_EDWARDS),
    ];
    if let Some(o) = &uri.object {
        t.push(Attribute::Label(o.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

fn find_one(
    s: &Session,
    uri: &KeyUri,
    class: ObjectClass,
    name: &'static str,
) -> Result<ObjectHandle, Pkcs11Error> {
    let found = s
        .find_objects(&template(uri, class))
        .map_err(call("C_FindObjects"))?;
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(Pkcs11Error::Object {
            what: uri.describe(),
            class: name,
            found: found.len(),
        }),
    }
}

fn login(s: &Session, pin: &AuthPin) -> Result<(), Pkcs11Error> {
    match s.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(Pkcs11Error::Login(e)),
    }
}

/// The Ed25519 public key of a CKA_EC_POINT: the DER OCTET STRING of the 32 bytes (PKCS#11
/// 3.0), or the 32 bytes alone (some modules).
fn ec_point(what: &str, v: &[u8]) -> Result<PublicKey, Pkcs11Error> {
    let raw = match v {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        _ if v.len() == 32 => v,
        _ => {
            return Err(Pkcs11Error::PublicKey {
                what: what.to_owned(),
                detail: format!("CKA_EC_POINT of {} bytes is not an Ed25519 point", v.len()),
            });
        }
    };
    let mut b = [0u8; 32];
    b.copy_from_slice(raw);
    PublicKey::from_bytes(&b).map_err(|e: KeyError| Pkcs11Error::PublicKey {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

fn read_public(s: &Session, uri: &KeyUri) -> Result<PublicKey, Pkcs11Error> {
    let h = find_one(s, uri, ObjectClass::PUBLIC_KEY, "public")?;
    let attrs = s
        .get_attributes(h, &[AttributeType::EcPoint])
        .map_err(call("C_GetAttributeValue"))?;
    match attrs.as_slice() {
        [Attribute::EcPoint(p)] => ec_point(&uri.describe(), p),
        _ => Err(Pkcs11Error::PublicKey {
            what: uri.describe(),
            detail: "no CKA_EC_POINT".into(),
        }),
    }
}

/// How the signing threads share the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions {
    /// One session; each signature holds it (a mutex).
    One,
    /// A pool: a thread takes an idle session or opens one (a session per concurrent signer).
    PerThread,
}

/// An Ed25519 private key in a token, with its public key as the token reports it. Signing is
/// `C_Sign` with CKM_EDDSA; nothing here checks the result: the `Signer` does.
pub struct Pkcs11Key {
    module: Pkcs11,
    slot: Slot,
    uri: KeyUri,
    public: PublicKey,
    mode: Sessions,
    idle: Mutex<Vec<(Session, ObjectHandle)>>,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pkcs11Key({}, {})",
            self.uri.describe(),
            self.public.id()
        )
    }
}

impl Pkcs11Key {
    /// Loads `module`, finds the one token and key `uri` names, logs in with `pin`, refuses a
    /// key that could leave the token, and reads its public key.
    pub fn open(module_path: &Path, uri: &KeyUri, pin: &AuthPin) -> Result<Pkcs11Key, Pkcs11Error> {
        let module = module(module_path)?;
        let slot = find_slot(&module, uri)?;
        let s = module
            .open_ro_session(slot)
            .map_err(call("C_OpenSession"))?;
        login(&s, pin)?;
        let private = find_one(&s, uri, ObjectClass::PRIVATE_KEY, "private")?;
        let custody = s
            .get_attributes(
                private,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .map_err(call("C_GetAttributeValue"))?;
        let exportable = custody.iter().any(|a| {
            matches!(
                a,
                Attribute::Sensitive(false) | Attribute::Extractable(true)
            )
        });
        if exportable || custody.len() != 2 {
            return Err(Pkcs11Error::Exportable(uri.describe()));
        }
        let public = read_public(&s, uri)?;
        Ok(Pkcs11Key {
            module,
            slot,
            uri: uri.clone(),
            public,
            mode: Sessions::PerThread,
            idle: Mutex::new(vec![(s, private)]),
        })
    }

    /// Chooses how signing threads share the token (default: a session per thread).
    pub fn with_sessions(mut self, mode: Sessions) -> Pkcs11Key {
        self.mode = mode;
        self
    }

    /// The public key the token reports for the key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// How the URI names the key (for messages).
    pub fn describe(&self) -> String {
        self.uri.describe()
    }

    /// Signs `message` in the token (CKM_EDDSA, pure Ed25519). Unchecked: verify before use.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], Pkcs11Error> {
        if self.mode == Sessions::One {
            let idle = lock(&self.idle);
            let (s, key) = idle.first().ok_or_else(|| Pkcs11Error::Object {
                what: self.describe(),
                class: "private",
                found: 0,
            })?;
            return c_sign(s, *key, message);
        }
        let taken = lock(&self.idle).pop();
        let (s, key) = match taken {
            Some(sk) => sk,
            None => {
                // Sessions of one application share its login state.
                let s = self
                    .module
                    .open_ro_session(self.slot)
                    .map_err(call("C_OpenSession"))?;
                let key = find_one(&s, &self.uri, ObjectClass::PRIVATE_KEY, "private")?;
                (s, key)
            }
        };
        let sig = c_sign(&s, key, message);
        lock(&self.idle).push((s, key));
        sig
    }
}

fn c_sign(s: &Session, key: ObjectHandle, message: &[u8]) -> Result<[u8; 64], Pkcs11Error> {
    let mech = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    let sig = s.sign(&mech, key, message).map_err(call("C_Sign"))?;
    <[u8; 64]>::try_from(sig.as_slice()).map_err(|_| Pkcs11Error::SignatureLength(sig.len()))
}

/// Generates an Ed25519 key pair inside the token `uri` names (CKM_EC_EDWARDS_KEY_PAIR_GEN),
/// labelled with `object=` (and `id=` when given); the private key is a token object, private,
/// sensitive and not extractable. Refuses when the token already holds a key of that name.
/// Returns the public key.
pub fn generate(module_path: &Path, uri: &KeyUri, pin: &AuthPin) -> Result<PublicKey, Pkcs11Error> {
    let module = module(module_path)?;
    let slot = find_slot(&module, uri)?;
    let s = module
        .open_rw_session(slot)
        .map_err(call("C_OpenSession"))?;
    login(&s, pin)?;
    for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
        let found = s
            .find_objects(&template(uri, class))
            .map_err(call("C_FindObjects"))?;
        if !found.is_empty() {
            return Err(Pkcs11Error::Exists(uri.describe()));
        }
    }
    let mut named = Vec::new();
    if let Some(o) = &uri.object {
        named.push(Attribute::Label(o.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        named.push(Attribute::Id(id.clone()));
    }
    let mut public_t = vec![
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::EcParams(ED25519_OID.to_vec()),
    ];
    public_t.extend(named.iter().cloned());
    let mut private_t = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
    ];
    private_t.extend(named);
    s.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public_t, &private_t)
        .map_err(call("C_GenerateKeyPair"))?;
    read_public(&s, uri)
}
