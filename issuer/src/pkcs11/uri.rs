//! PKCS#11 URIs (RFC 7512) naming an issuer key in a token:
//! `pkcs11:token=office;object=issuer-2026?pin-source=file:/etc/issuer/pin`.

use std::path::PathBuf;

/// Why a PKCS#11 URI is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not a `pkcs11:` URI.
    #[error("`{0}` is not a PKCS#11 URI (it must start with `pkcs11:`)")]
    Scheme(String),
    /// An attribute is malformed (no `=`, bad percent-encoding, not UTF-8).
    #[error("PKCS#11 URI attribute `{attribute}`: {detail}")]
    Malformed {
        /// The attribute as written.
        attribute: String,
        /// What is wrong.
        detail: String,
    },
    /// An attribute this issuer does not understand (matching on it silently would pick a
    /// key other than the one meant).
    #[error("PKCS#11 URI attribute `{0}` is not supported here")]
    Unsupported(String),
    /// The same attribute twice.
    #[error("PKCS#11 URI attribute `{0}` is given twice")]
    Duplicate(String),
    /// A PIN written into the URI (it would show in shell history and process lists).
    #[error(
        "the PKCS#11 URI carries pin-value; a PIN is never given on the command line: use pin-source=file:… or the environment variable"
    )]
    PinValue,
    /// The URI names no key object.
    #[error("the PKCS#11 URI names no key: add object=LABEL (or id=…)")]
    NoObject,
    /// `type=` names something other than a key pair's private half.
    #[error("PKCS#11 URI type={0}: an issuer key is type=private")]
    Type(String),
}

/// A parsed PKCS#11 URI naming one Ed25519 key: which token (any of the token attributes), which
/// object (label and/or id), and optionally where the PIN is and which module to load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `manufacturer`: the token manufacturer.
    pub manufacturer: Option<String>,
    /// `serial`: the token serial number.
    pub serial: Option<String>,
    /// `model`: the token model.
    pub model: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// `object`: the key's label (CKA_LABEL).
    pub object: Option<String>,
    /// `id`: the key's id (CKA_ID), raw bytes.
    pub id: Option<Vec<u8>>,
    /// `pin-source`: a file holding the user PIN (`file:/path` or an absolute path).
    pub pin_source: Option<PathBuf>,
    /// `module-path`: the PKCS#11 module to load.
    pub module_path: Option<PathBuf>,
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), UriError> {
    if slot.is_some() {
        return Err(UriError::Duplicate(name.to_owned()));
    }
    *slot = Some(value);
    Ok(())
}

fn pct_decode(attribute: &str, value: &str) -> Result<Vec<u8>, UriError> {
    let bad = |detail: &str| UriError::Malformed {
        attribute: attribute.to_owned(),
        detail: detail.to_owned(),
    };
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("`%` must be followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn text(attribute: &str, value: &str) -> Result<String, UriError> {
    String::from_utf8(pct_decode(attribute, value)?).map_err(|_| UriError::Malformed {
        attribute: attribute.to_owned(),
        detail: "not UTF-8 after percent-decoding".into(),
    })
}

impl KeyUri {
    /// Parses `pkcs11:` path attributes (`;`-separated) and query attributes (`&`-separated).
    /// Unknown attributes, duplicates and `pin-value` are refused; a key object is required.
    pub fn parse(s: &str) -> Result<KeyUri, UriError> {
        let rest = s
            .strip_prefix("pkcs11:")
            .ok_or_else(|| UriError::Scheme(s.chars().take(40).collect()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut u = KeyUri::default();
        let mut typ = None;
        let pairs = path
            .split(';')
            .map(|a| (a, false))
            .chain(query.split('&').map(|a| (a, true)))
            .filter(|(a, _)| !a.is_empty());
        for (attr, in_query) in pairs {
            let (name, value) = attr.split_once('=').ok_or_else(|| UriError::Malformed {
                attribute: attr.to_owned(),
                detail: "no `=`".into(),
            })?;
            match (name, in_query) {
                ("token", false) => set(&mut u.token, name, text(name, value)?)?,
                ("manufacturer", false) => set(&mut u.manufacturer, name, text(name, value)?)?,
                ("serial", false) => set(&mut u.serial, name, text(name, value)?)?,
                ("model", false) => set(&mut u.model, name, text(name, value)?)?,
                ("slot-id", false) => {
                    let n = text(name, value)?
                        .parse()
                        .map_err(|_| UriError::Malformed {
                            attribute: name.to_owned(),
                            detail: "not a decimal number".into(),
                        })?;
                    set(&mut u.slot_id, name, n)?;
                }
                ("object", false) => set(&mut u.object, name, text(name, value)?)?,
                ("id", false) => set(&mut u.id, name, pct_decode(name, value)?)?,
                ("type", false) => set(&mut typ, name, text(name, value)?)?,
                ("pin-value", true) => return Err(UriError::PinValue),
                ("pin-source", true) => {
                    let v = text(name, value)?;
                    let path = v.strip_prefix("file:").unwrap_or(&v);
                    let path = path.strip_prefix("//").unwrap_or(path);
                    if !path.starts_with('/') {
                        return Err(UriError::Malformed {
                            attribute: name.to_owned(),
                            detail: "must be file:/ABSOLUTE/PATH".into(),
                        });
                    }
                    set(&mut u.pin_source, name, PathBuf::from(path))?;
                }
                ("module-path", true) => {
                    set(&mut u.module_path, name, PathBuf::from(text(name, value)?))?;
                }
                _ => return Err(UriError::Unsupported(name.to_owned())),
            }
        }
        if let Some(t) = typ.filter(|t| t != "private") {
            return Err(UriError::Type(t));
        }
        if u.object.is_none() && u.id.is_none() {
            return Err(UriError::NoObject);
        }
        Ok(u)
    }

    /// How the key is named in messages: token and object, never the PIN source's content.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.token {
            s.push_str(&format!("token `{t}` "));
        }
        match (&self.object, &self.id) {
            (Some(o), _) => s.push_str(&format!("object `{o}`")),
            (None, Some(id)) => {
                s.push_str("object id ");
                for b in id {
                    s.push_str(&format!("{b:02x}"));
                }
            }
            (None, None) => s.push_str("no object"),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_attributes_it_knows() {
        let u = KeyUri::parse(
            "pkcs11:token=Office%20A;object=issuer-2026;id=%01%ff;type=private?pin-source=file:/run/pin&module-path=/usr/lib/softhsm/libsofthsm2.so",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("Office A"));
        assert_eq!(u.object.as_deref(), Some("issuer-2026"));
        assert_eq!(u.id, Some(vec![1, 0xff]));
        assert_eq!(u.pin_source, Some(PathBuf::from("/run/pin")));
        assert_eq!(
            u.module_path,
            Some(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(u.describe(), "token `Office A` object `issuer-2026`");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        assert!(matches!(KeyUri::parse("file:/x"), Err(UriError::Scheme(_))));
        assert_eq!(
            KeyUri::parse("pkcs11:object=k?pin-value=1234"),
            Err(UriError::PinValue)
        );
        assert_eq!(KeyUri::parse("pkcs11:token=t"), Err(UriError::NoObject));
        assert_eq!(
            KeyUri::parse("pkcs11:object=a;object=b"),
            Err(UriError::Duplicate("object".into()))
        );
        assert_eq!(
            KeyUri::parse("pkcs11:object=a;library-version=2"),
            Err(UriError::Unsupported("library-version".into()))
        );
        assert_eq!(
            KeyUri::parse("pkcs11:object=a;type=public"),
            Err(UriError::Type("public".into()))
        );
        assert!(matches!(
            KeyUri::parse("pkcs11:object=%4"),
            Err(UriError::Malformed { .. })
        ));
        assert!(matches!(
            KeyUri::parse("pkcs11:object=a?pin-source=relative"),
            Err(UriError::Malformed { .. })
        ));
        // A query attribute in the path is not honoured silently.
        assert_eq!(
            KeyUri::parse("pkcs11:object=a;pin-source=/x"),
            Err(UriError::Unsupported("pin-source".into()))
        );
    }
}
