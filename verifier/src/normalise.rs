//! Scanner-text normalisation. Keyboard-wedge scanners and camera apps add line endings, byte
//! order marks, spaces, percent-encoding or change the case of the prefix. What is unambiguous
//! is undone and reported; everything else is left for the decoder to refuse.
//!
//! [`read_failure`] tells a scan that did not read the whole code (nothing, or a cut-off text)
//! from a complete text that is wrong: the first is "scan again", the second a verdict.
//! [`scanner_lines`] splits a file of scanner text into its codes, one per line.

use permit_shared::credential::{MAX_TEXT_BYTES, PREFIX_V1, decimal};

/// The result of normalising scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// The text to decode.
    pub text: String,
    /// What was changed (empty when only a trailing CR/LF was removed, which every scanner adds).
    pub changes: Vec<&'static str>,
}

/// Normalises one scanned text.
pub fn normalise(input: &str) -> Normalised {
    let mut changes = Vec::new();
    let mut t = input.trim_end_matches(['\r', '\n']);
    if let Some(rest) = t.strip_prefix('\u{feff}') {
        t = rest;
        changes.push("removed a byte order mark");
    }
    let trimmed = t.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
    if trimmed.len() != t.len() {
        changes.push("removed surrounding white space");
    }
    let mut text = trimmed.to_owned();
    // Percent-encoding added by camera apps (`GDRP1%3A…`): only when the result is entirely
    // decimal after our prefix, so nothing else can be created this way.
    if let Some(head) = text.get(..8)
        && head.eq_ignore_ascii_case("GDRP1%3A")
        && text[8..].bytes().all(|b| b.is_ascii_digit())
    {
        text = format!("GDRP1:{}", &text[8..]);
        changes.push("decoded percent-encoding of the prefix");
    }
    // A lower-case prefix (`gdrp1:`) from scanners with caps-lock or case conversion.
    if let Some(head) = text.get(..6)
        && head.eq_ignore_ascii_case("GDRP1:")
        && head != "GDRP1:"
    {
        text.replace_range(..6, "GDRP1:");
        changes.push("upper-cased the prefix");
    }
    Normalised { text, changes }
}

/// Why a scanned text is not a whole code: the scan has to be repeated, no verdict is possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailure {
    /// The text is empty (or only white space and line ends).
    NoText,
    /// The text is cut off: what is there is the start of a permit code, the rest is missing.
    Truncated {
        /// What shows that the code is incomplete.
        detail: String,
    },
}

/// Whether a normalised text ([`normalise`]) is a failed read rather than a code to verify.
///
/// Truncated means one of: a non-empty start of the prefix `GDRP1:` (`GDRP`); the prefix with
/// nothing after it; or the prefix followed only by digits whose bytes end before the first
/// CBOR data item (the COSE_Sign1 structure) does, where a final digit group that does not
/// decode (an impossible length, or out of range as the start of a longer group) counts as cut
/// off as well. Everything else that fails to decode (a non-digit, a
/// digit group out of range before the last, bytes left over after the COSE structure, a
/// non-canonical encoding) is a complete but wrong text: `MALFORMED`.
pub fn read_failure(text: &str) -> Option<ReadFailure> {
    if text.is_empty() {
        return Some(ReadFailure::NoText);
    }
    if text.len() < PREFIX_V1.len() && PREFIX_V1.starts_with(text) {
        return Some(ReadFailure::Truncated {
            detail: format!("only `{text}` of the prefix {PREFIX_V1}"),
        });
    }
    let digits = text.strip_prefix(PREFIX_V1)?;
    if text.len() > MAX_TEXT_BYTES || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = digits.len() / 17 * 17;
    // A whole group out of range is damage, not a cut.
    let mut bytes = decimal::decode(&digits[..whole]).ok()?;
    let tail = decimal::decode(&digits[whole..]);
    if let Ok(t) = &tail {
        bytes.extend_from_slice(t);
    }
    let ends_early = matches!(
        ciborium::from_reader::<ciborium::Value, _>(bytes.as_slice()),
        Err(ciborium::de::Error::Io(_))
    );
    ends_early.then(|| ReadFailure::Truncated {
        detail: format!(
            "{} digits{}, {} bytes: the COSE structure ends early",
            digits.len(),
            if tail.is_err() {
                ", the last group cut short"
            } else {
                ""
            },
            bytes.len()
        ),
    })
}

/// The codes in a file of scanner text: one per line (LF or CR LF), blank lines skipped.
pub fn scanner_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks() {
        assert_eq!(normalise("GDRP1:123\r\n").changes, Vec::<&str>::new());
        assert_eq!(normalise("GDRP1:123\r\n").text, "GDRP1:123");
        let n = normalise("\u{feff} gdrp1:123 \n");
        assert_eq!(n.text, "GDRP1:123");
        assert_eq!(n.changes.len(), 3);
        assert_eq!(normalise("GDRP1%3A0123").text, "GDRP1:0123");
        assert_eq!(normalise("GDRP1%3a01x3").text, "GDRP1%3a01x3");
        assert_eq!(normalise("https://x").text, "https://x");
        assert_eq!(normalise("é").text, "é");
        assert_eq!(normalise("GDRP\u{11de6}ਸ਼").text, "GDRP\u{11de6}ਸ਼");
        assert_eq!(normalise("gDrP1:12").text, "GDRP1:12");
    }

    #[test]
    fn read_failures() {
        assert_eq!(read_failure(""), Some(ReadFailure::NoText));
        for cut in ["G", "GDRP", "GDRP1", "GDRP1:", "GDRP1:1", "GDRP1:210"] {
            assert!(
                matches!(read_failure(cut), Some(ReadFailure::Truncated { .. })),
                "{cut}"
            );
        }
        // 0xd2 = tag 18, then nothing: the COSE structure is missing.
        assert!(read_failure("GDRP1:210").is_some());
        // A whole CBOR item (the integer 1) is complete, whatever else is wrong with it.
        assert_eq!(read_failure("GDRP1:001"), None);
        // A cut 17-digit group may read as an out-of-range short one: cut off, too.
        assert!(read_failure("GDRP1:999").is_some());
        // An out-of-range whole group is damage, not a cut.
        assert_eq!(read_failure(&format!("GDRP1:{}", "9".repeat(17))), None);
        for wrong in ["GDRP1:12a", "https://x", "GDRP2:123", "GDRP1 123"] {
            assert_eq!(read_failure(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn scanner_lines_skip_blank_lines() {
        assert_eq!(
            scanner_lines("GDRP1:1\r\n\r\n  \nGDRP1:2\n"),
            ["GDRP1:1", "GDRP1:2"]
        );
        assert!(scanner_lines("\n\r\n").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") { let _ = normalise(&s); }

        #[test]
        fn read_failure_never_panics(s in "GDRP1:[0-9]{0,80}") { let _ = read_failure(&s); }
    }
}
