//! The fonts of PNG cards: [`Font`] (one face of a TrueType/OpenType file or collection, checked
//! when loaded for the Chinese characters every card shows) and well-known locations of CJK
//! fonts installed on a machine ([`SYSTEM_FONTS`], [`find_system_font`]).

use std::path::Path;

use ab_glyph::{Font as _, FontVec, PxScale};

use super::{CardError, MAX_FONT_BYTES};

/// Characters every card font must have (title and labels).
const FONT_PROBE: &str = "广东省居住证姓名公民身份号码";

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

/// Where [`find_system_font`] looks, in order. Debian and Ubuntu paths first (CI installs
/// `fonts-wqy-microhei`), then common Fedora, macOS and Windows locations.
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

/// The Debian package to suggest when no CJK font is found.
pub const SUGGESTED_FONT_PACKAGE: &str = "fonts-wqy-microhei";

/// The first of [`SYSTEM_FONTS`] that exists on this machine.
pub fn find_system_font() -> Option<&'static SystemFont> {
    SYSTEM_FONTS.iter().find(|f| Path::new(f.path).is_file())
}

/// A font with CJK glyphs for PNG cards (TrueType/OpenType, or one face of a collection).
pub struct Font {
    /// The face.
    pub(super) inner: FontVec,
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
    /// [`CardError::FontInvalid`] for bytes that are not a font, [`CardError::FontNotCjk`] for
    /// a font without Chinese characters.
    pub fn from_bytes(data: Vec<u8>, face: u32) -> Result<Font, CardError> {
        Font::load(data, face, "(in memory)".to_owned())
    }

    fn load(data: Vec<u8>, face: u32, origin: String) -> Result<Font, CardError> {
        let inner =
            FontVec::try_from_vec_and_index(data, face).map_err(|_| CardError::FontInvalid {
                font: origin.clone(),
                face,
            })?;
        let units_per_em = inner.units_per_em().unwrap_or(1000.0);
        let height_per_em = inner.height_unscaled() / units_per_em;
        let font = Font {
            inner,
            origin,
            units_per_em,
            height_per_em,
        };
        if let Some(ch) = FONT_PROBE.chars().find(|&c| !font.has_glyph(c)) {
            return Err(CardError::FontNotCjk {
                font: font.origin,
                ch,
            });
        }
        Ok(font)
    }

    /// Where the font came from (a path, or `(in memory)`).
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

    use super::*;

    #[test]
    fn fonts_without_cjk_or_glyphs_are_refused() {
        assert!(matches!(
            Font::from_bytes(b"not a font".to_vec(), 0),
            Err(CardError::FontInvalid { .. })
        ));
        let dejavu = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
        if dejavu.is_file() {
            assert!(matches!(
                Font::from_file(dejavu, 0),
                Err(CardError::FontNotCjk { .. })
            ));
        }
        assert!(matches!(
            Font::from_file(Path::new("/nonexistent/font.ttc"), 0),
            Err(CardError::FontFile { .. })
        ));
    }
}
