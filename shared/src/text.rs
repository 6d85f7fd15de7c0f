//! Rules for free-text fields (names, addresses, and the names in signed lists): length limits
//! in characters and bytes, no control characters, no bidirectional overrides or other invisible
//! formatting characters, no Unicode noncharacters, no surrounding white space. The same
//! [`check`] runs when the issuer accepts an application and when a verifier decodes signed
//! data; [`display_safe`] is the one sanitiser for showing signed text to a person.

/// Why a text field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty or only white space.
    #[error("must not be empty")]
    Empty,
    /// Longer than the limit.
    #[error("too long: {chars} characters, at most {max}")]
    TooLong {
        /// Characters seen.
        chars: usize,
        /// Limit.
        max: usize,
    },
    /// A control character (C0, DEL, C1).
    #[error("control character U+{code:04X} at character {position}")]
    Control {
        /// Code point.
        code: u32,
        /// 1-based character position.
        position: usize,
    },
    /// A bidirectional override/isolate or other invisible format character (Unicode Cf).
    #[error("invisible or bidirectional formatting character U+{code:04X} at character {position}")]
    Format {
        /// Code point.
        code: u32,
        /// 1-based character position.
        position: usize,
    },
    /// A Unicode noncharacter (U+FDD0–U+FDEF, or U+xxFFFE/U+xxFFFF in any plane): never
    /// interchanged text, so never in a name or address.
    #[error("noncharacter U+{code:04X} at character {position}")]
    Noncharacter {
        /// Code point.
        code: u32,
        /// 1-based character position.
        position: usize,
    },
    /// Leading or trailing white space.
    #[error("leading or trailing white space")]
    Untrimmed,
}

impl TextError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Empty => "EMPTY",
            TextError::TooLong { .. } => "TOO_LONG",
            TextError::Control { .. } => "CONTROL_CHARACTER",
            TextError::Format { .. } => "FORMAT_CHARACTER",
            TextError::Noncharacter { .. } => "NONCHARACTER",
            TextError::Untrimmed => "UNTRIMMED",
        }
    }
}

/// Code points of Unicode general category Cf (format) that matter in identity text: bidi
/// embeddings, overrides and isolates, zero-width characters, BOM, soft hyphen, and others.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// Unicode noncharacters: U+FDD0–U+FDEF and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    let u = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE
}

/// Whether `c` may not appear in text shown to a person: a control, format (bidi, zero-width)
/// or noncharacter code point.
fn is_unsafe(c: char) -> bool {
    c.is_control() || is_format_char(c) || is_noncharacter(c)
}

/// The one sanitiser for text from signed data shown to a person (a name, an issuer's display
/// name, a list URI): every control, format or bidirectional character and every noncharacter is
/// replaced by its escape `\u{XXXX}`, so nothing in it can move the cursor, change colours or
/// reorder the verdict printed next to it. Text that passed [`check`] comes back unchanged.
pub fn display_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks a text field against the rules, with `max_chars` characters at most.
pub fn check(s: &str, max_chars: usize) -> Result<(), TextError> {
    if s.trim().is_empty() {
        return Err(TextError::Empty);
    }
    for (i, c) in s.chars().enumerate() {
        if c.is_control() {
            return Err(TextError::Control {
                code: u32::from(c),
                position: i + 1,
            });
        }
        if is_format_char(c) {
            return Err(TextError::Format {
                code: u32::from(c),
                position: i + 1,
            });
        }
        if is_noncharacter(c) {
            return Err(TextError::Noncharacter {
                code: u32::from(c),
                position: i + 1,
            });
        }
    }
    let chars = s.chars().count();
    if chars > max_chars {
        return Err(TextError::TooLong {
            chars,
            max: max_chars,
        });
    }
    if s.trim() != s {
        return Err(TextError::Untrimmed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check("欧阳晓燕", 20), Ok(()));
        assert_eq!(check("", 20), Err(TextError::Empty));
        assert_eq!(check("  ", 20), Err(TextError::Empty));
        assert_eq!(
            check("王\u{202e}\u{0}", 20),
            Err(TextError::Format {
                code: 0x202E,
                position: 2
            })
        );
        assert_eq!(
            check("王\u{0}", 20),
            Err(TextError::Control {
                code: 0,
                position: 2
            })
        );
        assert_eq!(
            check("a\u{85}", 20).unwrap_err().code(),
            "CONTROL_CHARACTER"
        );
        assert_eq!(
            check("a\u{200b}b", 20).unwrap_err().code(),
            "FORMAT_CHARACTER"
        );
        assert_eq!(check(&"王".repeat(200), 20).unwrap_err().code(), "TOO_LONG");
        assert_eq!(check(" 王", 20), Err(TextError::Untrimmed));
        assert_eq!(check("阿卜杜·热西提", 20), Ok(()));
    }

    #[test]
    fn noncharacters_are_refused() {
        for c in [
            '\u{FFFF}',
            '\u{FFFE}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{10FFFF}',
            '\u{1FFFE}',
        ] {
            let s = format!("王{c}明");
            assert_eq!(
                check(&s, 20),
                Err(TextError::Noncharacter {
                    code: u32::from(c),
                    position: 2
                }),
                "{c:?}"
            );
        }
        assert_eq!(check("王\u{FDCF}\u{FFFD}", 20), Ok(()));
    }

    #[test]
    fn display_safe_escapes_what_check_refuses() {
        assert_eq!(display_safe("欧阳晓燕"), "欧阳晓燕");
        assert_eq!(
            display_safe("A\u{1b}]0;x\u{7}\u{202e}B\u{FFFF}"),
            "A\\u{001B}]0;x\\u{0007}\\u{202E}B\\u{FFFF}"
        );
    }
}
