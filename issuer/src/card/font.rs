//! The fonts of PNG cards: [`Font`] (one face of a TrueType/OpenType file or collection, checked
//! when loaded for the Latin letters and digits and the Chinese characters every card shows),
//! the font embedded in the crate ([`Font::embedded`], WenQuanYi Micro Hei), and well-known
//! locations of CJK fonts installed on a machine ([`SYSTEM_FONTS`], [`find_system_font`]).

use std::path::Path;

use ab_glyph::{Font as _, FontArc, FontRef, FontVec, PxScale};

use super::{CardError, MAX_FONT_BYTES};

/// WenQuanYi Micro Hei 0.2.0-beta as Debian's `fonts-wqy-microhei` ships it (Apache-2.0; see
/// `issuer/fonts/README.md`).
const EMBEDDED: &[u8] = include_bytes!("../../fonts/wqy-microhei.ttc");

/// Face of [`EMBEDDED`] that cards use: 0 is WenQuanYi Micro Hei, 1 its monospaced Latin variant.
const EMBEDDED_FACE: u32 = 0;

/// [`Font::origin`] of the embedded font.
pub const EMBEDDED_FONT_NAME: &str = "WenQuanYi Micro Hei 0.2.0-beta (embedded)";

/// Latin characters every card font must have: the English labels, dates, numbers and the
/// TEST-ONLY stamp.
const LATIN_PROBE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.";

/// Chinese characters every card font must have (title and labels).
const CJK_PROBE: &str = "广东省居住证姓名公民身份号码";

/// A well-known location of a CJK-capable font.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemFont {
    /// Absolute path of the file.
    pub path: &'static str,
    /// Face within a collection (`.ttc`); 0 for a single font.
    pub face: u32,
    /// Package that installs it (Debian unless the path says otherwise).
    pub package: &'static str,
}

/// Where [`find_system_font`] looks, in order: Debian and Ubuntu paths first, then common
/// Fedora, macOS and Windows locations. Cards no longer need any of them ([`Font::embedded`]);
/// they name fonts a caller may choose instead.
pub const SYSTEM_FONTS: &[SystemFont] = &[
    SystemFont {
        path: "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        face: 0,
        package: "fonts-wqy-microhei",
    },
    SystemFont {
        path: "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        face: 0,
        package: "fonts-wqy-zenhei",
    },
    // Faces of the collection: 0 JP, 1 KR, 2 SC, 3 TC (Android's fonts.xml uses 2 for zh-Hans).
    SystemFont {
        path: "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        face: 2,
        package: "fonts-noto-cjk",
    },
    SystemFont {
        path: "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        face: 0,
        package: "fonts-droid-fallback",
    },
    SystemFont {
        path: "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
        face: 0,
        package: "wqy-microhei-fonts (Fedora)",
    },
    SystemFont {
        path: "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        face: 2,
        package: "google-noto-sans-cjk-ttc-fonts (Fedora)",
    },
    SystemFont {
        path: "/System/Library/Fonts/Hiragino Sans GB.ttc",
        face: 0,
        package: "macOS",
    },
    SystemFont {
        path: "C:\\Windows\\Fonts\\msyh.ttc",
        face: 0,
        package: "Windows",
    },
];

/// The Debian package of the embedded font, to suggest when a system copy is wanted.
pub const SUGGESTED_FONT_PACKAGE: &str = "fonts-wqy-microhei";

/// The first of [`SYSTEM_FONTS`] that exists on this machine.
pub fn find_system_font() -> Option<&'static SystemFont> {
    SYSTEM_FONTS.iter().find(|f| Path::new(f.path).is_file())
}

/// A font for PNG cards, with Latin and Chinese glyphs (TrueType/OpenType, or one face of a
/// collection).
pub struct Font {
    /// The face.
    pub(super) inner: FontArc,
    origin: String,
    /// Font units per em.
    pub(super) units_per_em: f32,
    height_per_em: f32,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("origin", &self.origin)
            .finish()
    }
}

impl Font {
    /// The font embedded in the crate, WenQuanYi Micro Hei ([`EMBEDDED_FONT_NAME`]): the default
    /// of PNG cards, the same on every machine. Parsing it copies nothing.
    ///
    /// # Errors
    ///
    /// None in practice (the unit tests load it); [`CardError::FontInvalid`] or
    /// [`CardError::FontLacksGlyphs`] if the embedded file were damaged.
    pub fn embedded() -> Result<Font, CardError> {
        let face = FontRef::try_from_slice_and_index(EMBEDDED, EMBEDDED_FACE).map_err(|_| {
            CardError::FontInvalid {
                font: EMBEDDED_FONT_NAME.to_owned(),
                face: EMBEDDED_FACE,
            }
        })?;
        Font::checked(FontArc::from(face), EMBEDDED_FONT_NAME.to_owned())
    }

    /// Reads a font file (at most [`MAX_FONT_BYTES`]); `face` chooses within a `.ttc`
    /// collection (0 for a single font).
    ///
    /// # Errors
    ///
    /// [`CardError::FontFile`] when the file cannot be read or is too large, otherwise as
    /// [`Font::from_bytes`].
    pub fn from_file(path: &Path, face: u32) -> Result<Font, CardError> {
        let io = |detail: String| CardError::FontFile {
            path: path.to_owned(),
            detail,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| io(e.to_string()))?
            .len();
        if len > MAX_FONT_BYTES {
            return Err(io(format!(
                "{len} bytes, more than the limit of {MAX_FONT_BYTES}"
            )));
        }
        let data = std::fs::read(path).map_err(|e| io(e.to_string()))?;
        Font::load(data, face, path.display().to_string())
    }

    /// Parses font bytes; `face` chooses within a collection.
    ///
    /// # Errors
    ///
    /// [`CardError::FontInvalid`] for bytes that are not a font, [`CardError::FontLacksGlyphs`]
    /// for a font without Latin letters and digits or without Chinese characters.
    pub fn from_bytes(data: Vec<u8>, face: u32) -> Result<Font, CardError> {
        Font::load(data, face, "(in memory)".to_owned())
    }

    fn load(data: Vec<u8>, face: u32, origin: String) -> Result<Font, CardError> {
        let inner =
            FontVec::try_from_vec_and_index(data, face).map_err(|_| CardError::FontInvalid {
                font: origin.clone(),
                face,
            })?;
        Font::checked(FontArc::from(inner), origin)
    }

    /// Refuses a face that lacks a character of [`LATIN_PROBE`] or [`CJK_PROBE`]: with such a
    /// font every label would be drawn with the missing-glyph box and measured by its width.
    fn checked(inner: FontArc, origin: String) -> Result<Font, CardError> {
        let units_per_em = inner.units_per_em().unwrap_or(1000.0);
        let height_per_em = inner.height_unscaled() / units_per_em;
        let font = Font {
            inner,
            origin,
            units_per_em,
            height_per_em,
        };
        for (missing, probe) in [("Latin", LATIN_PROBE), ("CJK", CJK_PROBE)] {
            if let Some(ch) = probe.chars().find(|&c| !font.has_glyph(c)) {
                return Err(CardError::FontLacksGlyphs {
                    font: font.origin,
                    missing,
                    ch,
                });
            }
        }
        Ok(font)
    }

    /// Where the font came from: a path, `(in memory)`, or [`EMBEDDED_FONT_NAME`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the font can draw `c` (white space needs no glyph).
    pub(super) fn has_glyph(&self, c: char) -> bool {
        c.is_whitespace() || self.inner.glyph_id(c).0 != 0
    }

    /// Scale for an em of `em_px` pixels.
    pub(super) fn scale(&self, em_px: f32) -> PxScale {
        PxScale::from(em_px * self.height_per_em)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::text::Measure as _;
    use super::*;

    /// Face 0 of the embedded font reduced to printable ASCII (`pyftsubset --unicodes=U+0020-007E`).
    const LATIN_ONLY: &[u8] = include_bytes!("../../fonts/test/latin-only.ttf");
    /// Face 0 of the embedded font reduced to the characters of [`CJK_PROBE`]: a CJK font
    /// without Latin letters, which used to fail as "TEST-ONLY stamp does not fit".
    const CJK_ONLY: &[u8] = include_bytes!("../../fonts/test/cjk-only.ttf");

    #[test]
    fn the_embedded_font_has_latin_and_cjk_in_its_proportional_face() {
        let font = Font::embedded().unwrap();
        assert_eq!(font.origin(), EMBEDDED_FONT_NAME);
        for c in "A0z-居住证欧阳晓燕·".chars() {
            assert!(font.has_glyph(c), "{c}");
        }
        // Face 0 is proportional; face 1 (Mono) would give `i` and `M` the same advance.
        assert!(font.width("i", 1.0) < font.width("M", 1.0));
        let mono = Font::from_bytes(EMBEDDED.to_vec(), 1).unwrap();
        assert_eq!(mono.width("i", 1.0), mono.width("M", 1.0));
    }

    /// Whether `r` is a refusal for lack of `script`.
    fn lacks(r: Result<Font, CardError>, script: &str) -> bool {
        matches!(r, Err(CardError::FontLacksGlyphs { missing, .. }) if missing == script)
    }

    #[test]
    fn fonts_lacking_latin_or_cjk_are_refused_when_loaded() {
        assert!(matches!(
            Font::from_bytes(b"not a font".to_vec(), 0),
            Err(CardError::FontInvalid { .. })
        ));
        assert!(matches!(
            Font::from_bytes(EMBEDDED.to_vec(), 2),
            Err(CardError::FontInvalid { face: 2, .. })
        ));
        assert!(lacks(Font::from_bytes(CJK_ONLY.to_vec(), 0), "Latin"));
        assert!(lacks(Font::from_bytes(LATIN_ONLY.to_vec(), 0), "CJK"));
        let err = Font::from_bytes(CJK_ONLY.to_vec(), 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("font (in memory) has no Latin glyphs"),
            "{err}"
        );
        assert!(!err.contains("does not fit"), "{err}");
        // A Latin-only system font, where the machine has one.
        let dejavu = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
        if dejavu.is_file() {
            assert!(lacks(Font::from_file(dejavu, 0), "CJK"));
        } else {
            eprintln!("DejaVuSans.ttf not installed: the Latin-only subset above stands in for it");
        }
        assert!(matches!(
            Font::from_file(Path::new("/nonexistent/font.ttc"), 0),
            Err(CardError::FontFile { .. })
        ));
    }
}
