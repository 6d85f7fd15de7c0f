//! The prefix stage: what a QR text is ([`Kind`]: ours, a [`Foreign`] credential, or
//! something else), by its prefix alone.

use super::SCHEME;

/// A credential format of another system, recognised by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// EU Digital COVID Certificate, `HC1:`.
    EuDcc,
    /// SMART Health Card, `shc:/`.
    SmartHealthCard,
    /// NZ COVID Pass, `NZCP:/`.
    NzCovidPass,
    /// Verifiable Digital Health Certificate / DCC variants, `HC2:` … `HC9:`.
    DccVariant,
    /// SMART Health Link, `shlink:/` (alone or after a viewer URL and `#`).
    SmartHealthLink,
}

impl Foreign {
    /// The format's name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Foreign::EuDcc => "EU Digital COVID Certificate (HC1:)",
            Foreign::SmartHealthCard => "SMART Health Card (shc:/)",
            Foreign::NzCovidPass => "NZ COVID Pass (NZCP:/)",
            Foreign::DccVariant => "DCC-family health certificate (HCn:)",
            Foreign::SmartHealthLink => "SMART Health Link (shlink:/)",
        }
    }
}

/// What a QR text is, by its prefix alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Our scheme: `GDRP<version>:` followed by `body`.
    Permit {
        /// The version number in the prefix.
        version: u32,
        /// Everything after the colon.
        body: &'a str,
        /// Length of the prefix in bytes (for positions in errors).
        prefix_len: usize,
    },
    /// Our scheme name with a broken prefix (`GDRP` not followed by digits and a colon).
    BadPrefix,
    /// A recognised foreign credential.
    Foreign(Foreign),
    /// Anything else (a URL, plain text).
    Other,
}

/// Classifies a text by its prefix (exact, case-sensitive; scanner quirks are normalised by the
/// verifier before this).
pub fn classify(text: &str) -> Kind<'_> {
    if let Some(rest) = text.strip_prefix(SCHEME) {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 4 || rest.as_bytes().get(digits) != Some(&b':') {
            return Kind::BadPrefix;
        }
        let version = rest[..digits].parse().unwrap_or(u32::MAX);
        let prefix_len = SCHEME.len() + digits + 1;
        return Kind::Permit {
            version,
            body: &text[prefix_len..],
            prefix_len,
        };
    }
    if text.starts_with("HC1:") {
        Kind::Foreign(Foreign::EuDcc)
    } else if text.starts_with("shc:/") {
        Kind::Foreign(Foreign::SmartHealthCard)
    } else if text.starts_with("NZCP:/") {
        Kind::Foreign(Foreign::NzCovidPass)
    } else if text.starts_with("shlink:/") || text.contains("#shlink:/") {
        Kind::Foreign(Foreign::SmartHealthLink)
    } else if text.len() >= 4
        && text.starts_with("HC")
        && text.as_bytes()[2].is_ascii_digit()
        && text.as_bytes()[3] == b':'
    {
        Kind::Foreign(Foreign::DccVariant)
    } else {
        Kind::Other
    }
}
