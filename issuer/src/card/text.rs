//! Measuring and breaking text: widths in millimetres with a [`Font`] or, for SVG cards, a
//! conservative estimate ([`Estimate`]), line breaking by the Chinese rules ([`wrap`]), and the
//! largest type size at which a value fits its box ([`fit`]).

use ab_glyph::{Font as _, GlyphId};

use super::font::Font;

/// Text widths, in millimetres, for a type size (em) in millimetres.
pub(super) trait Measure {
    /// Width of `text` at type size `size`, millimetres.
    fn width(&self, text: &str, size: f32) -> f32;
}

/// Width estimate for SVG cards, whose font the viewer chooses: generous for every CJK font.
pub(super) struct Estimate;

impl Measure for Estimate {
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| match c {
                ' ' => 0.36,
                'i' | 'l' | 'j' | '.' | ',' | ':' | '·' | '-' | '(' | ')' | '\'' => 0.42,
                'M' | 'W' | 'm' | 'w' => 0.9,
                c if c.is_ascii_uppercase() => 0.72,
                c if c.is_ascii() => 0.62,
                _ => 1.0,
            })
            .sum::<f32>()
            * size
    }
}

impl Measure for Font {
    fn width(&self, text: &str, size: f32) -> f32 {
        let mut units = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = self.inner.glyph_id(c);
            if let Some(p) = prev {
                units += self.inner.kern_unscaled(p, id);
            }
            units += self.inner.h_advance_unscaled(id);
            prev = Some(id);
        }
        units / self.units_per_em * size
    }
}

/// Characters that never begin a line (Chinese line-breaking rules, 禁则).
const NO_LINE_START: &str = "·・，。、；：？！）》」』】〕,.;:?!)";

/// Breaks `text` into lines no wider than `width`: between any two Han characters, but never
/// inside a run of ASCII letters and digits nor between it and the character after it (`1203房`,
/// `3组`), unless that token alone is too wide for a line.
pub(super) fn wrap(text: &str, size: f32, width: f32, m: &dyn Measure) -> Vec<String> {
    // Tokens, and whether the last one is an open run of ASCII letters and digits.
    let mut tokens: Vec<String> = Vec::new();
    let mut open_run = false;
    for c in text.chars() {
        match tokens.last_mut() {
            Some(t) if open_run && c.is_ascii_alphanumeric() => t.push(c),
            Some(t) if open_run && !c.is_whitespace() && !c.is_ascii() => {
                t.push(c);
                open_run = false;
            }
            // Punctuation that may not start a line (the name dot, commas, closing brackets)
            // stays with what comes before it.
            Some(t) if NO_LINE_START.contains(c) => {
                t.push(c);
                open_run = false;
            }
            _ => {
                tokens.push(c.to_string());
                open_run = c.is_ascii_alphanumeric();
            }
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for token in tokens {
        let candidate = format!("{line}{token}");
        if m.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line).trim_end().to_owned());
        }
        let token = if token == " " { String::new() } else { token };
        // A token too wide for a line of its own is broken character by character.
        for c in token.chars() {
            let candidate = format!("{line}{c}");
            if line.is_empty() || m.width(&candidate, size) <= width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The largest size from `nominal` down to `min` (0.05 mm steps) at which `text` wraps into at
/// most `max_lines` lines of `width`, each line checked against `width`.
pub(super) fn fit(
    text: &str,
    nominal: f32,
    min: f32,
    width: f32,
    max_lines: usize,
    m: &dyn Measure,
) -> Option<(f32, Vec<String>)> {
    let mut size = nominal;
    while size >= min - 1e-4 {
        let lines = wrap(text, size, width, m);
        if lines.len() <= max_lines && lines.iter().all(|l| m.width(l, size) <= width + 1e-3) {
            return Some((size, balance(text, size, width, lines, m)));
        }
        size -= 0.05;
    }
    None
}

/// Evens out wrapped lines: the narrowest width (in 0.5 mm steps) that still gives as many
/// lines, so that a value does not end in a lone character.
fn balance(text: &str, size: f32, width: f32, lines: Vec<String>, m: &dyn Measure) -> Vec<String> {
    let mut best = lines;
    if best.len() < 2 {
        return best;
    }
    let mut w = width - 0.5;
    while w > width / 2.0 {
        let narrower = wrap(text, size, w, m);
        if narrower.len() != best.len() {
            break;
        }
        best = narrower;
        w -= 0.5;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_characters_and_keeps_numbers() {
        let lines = wrap("天河北路233号中信广场", 2.0, 10.0, &Estimate);
        assert!(lines.iter().all(|l| Estimate.width(l, 2.0) <= 10.0));
        assert_eq!(lines.concat(), "天河北路233号中信广场");
        assert!(lines.iter().any(|l| l.contains("233号")), "{lines:?}");
        let lines = wrap("新民村3组12号", 2.0, 10.0, &Estimate);
        assert_eq!(lines, ["新民村3组", "12号"]);
        let lines = wrap("阿卜杜热合曼·买买提依明", 2.0, 13.0, &Estimate);
        assert!(lines.iter().all(|l| !l.starts_with('·')), "{lines:?}");
        assert_eq!(wrap("", 2.0, 10.0, &Estimate), vec![String::new()]);
        assert!(fit(&"广".repeat(200), 2.0, 1.2, 20.0, 3, &Estimate).is_none());
    }
}
