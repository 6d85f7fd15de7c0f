//! Scanner-text normalisation. Keyboard-wedge scanners and camera apps add line endings, byte
//! order marks, spaces, percent-encoding or change the case of the prefix. What is unambiguous
//! is undone and reported; everything else is left for the decoder to refuse.

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

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") { let _ = normalise(&s); }
    }
}
