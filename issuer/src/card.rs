//! The printable physical card (居住证实体证件): an ID-1 card (85.6 × 54 mm) with the holder's
//! fields, the validity, a photo placeholder and the QR code of the permit's current credential
//! at print error correction (ECC Q), as PNG or SVG.
//!
//! Pipeline: [`CardData::new`] (permit row + current credential text + card row; the QR matrix is
//! encoded once, at ECC Q) → `layout` (every field placed in millimetres, long values shrunk and
//! wrapped to their box, measured with the font that will draw them) → [`to_png`] (raster at
//! [`PngOptions::dpi`], then the QR is decoded back from the finished image) or [`to_svg`]
//! (text as `<text>` with a CJK `font-family` fallback list, the QR as one `<path>`).
//!
//! ```
//! use std::path::Path;
//! use permit_issuer::card::{self, Font, PngOptions};
//!
//! // A PNG needs a CJK font: the caller's file, or the first well-known one installed.
//! if let Some(f) = card::find_system_font() {
//!     let font = Font::from_file(Path::new(f.path), f.face)?;
//!     assert_eq!(font.origin(), f.path);
//! }
//! assert!(Font::from_bytes(b"not a font".to_vec(), 0).is_err());
//! // 600 dpi: 2022 × 1276 px, modules of 12 px = 0.508 mm.
//! assert_eq!(PngOptions::default().size_px(), (2022, 1276));
//! assert!(card::module_mm(600) >= card::MIN_MODULE_MM);
//! # Ok::<(), card::CardError>(())
//! ```
//!
//! # Fonts
//!
//! The repository ships no font. [`to_svg`] needs none: the viewer or printer picks one from
//! [`SVG_FONT_FAMILY`] and line breaks are computed with a conservative width estimate (every
//! Han character one em, Latin letters and digits 0.62 em). [`to_png`] needs a [`Font`] with
//! CJK glyphs: the caller passes a file, or takes the first of [`SYSTEM_FONTS`] that exists
//! ([`find_system_font`]; on Debian `apt-get install fonts-wqy-microhei`). A character the font
//! lacks is an error ([`CardError::MissingGlyph`]), never a blank box on a printed card.
//!
//! # Size of the code
//!
//! One module is the smallest whole number of pixels at 600 dpi that is at least 0.5 mm
//! (12 px = 0.508 mm, and 6 px at 300 dpi), so that the code scans from print; the four-module
//! quiet zone is kept white. Typical credentials need version 14 or 15 (residence addresses of
//! up to about 40 characters): the code sits at the bottom right under a title band, with the
//! serial and card number above it. Up to version 16 it still does; versions 17–20 (addresses
//! of about 50–100 characters) take the card's whole height and the rest moves into a compact
//! left column. A code larger than the card ([`CardError::QrTooLarge`]), or a value that does
//! not fit at the smallest type size ([`CardError::TextTooLong`]), is refused rather than
//! printed with smaller modules or clipped text.
//!
//! The library never prints and never reads the clock.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ab_glyph::{Font as _, FontVec, Glyph, GlyphId, PxScale, point};
use chrono::NaiveDate;

use permit_shared::applicant::ethnicity_name;
use permit_shared::citizen_id::{CitizenId, IdError, Sex};
use permit_shared::division;
use permit_verifier::scan::{self, ScanLimits};

use crate::ledger::{CardRecord, PermitRecord};
use crate::render::{Ecc, QrMatrix, RenderError};

/// Card width, millimetres (ISO/IEC 7810 ID-1).
pub const CARD_WIDTH_MM: f32 = 85.6;
/// Card height, millimetres (ISO/IEC 7810 ID-1).
pub const CARD_HEIGHT_MM: f32 = 54.0;
/// Error correction of the code on a card: Q (~25 % recovery) for print, scratches and wear.
pub const CARD_ECC: Ecc = Ecc::Q;
/// Smallest module side on the card, millimetres.
pub const MIN_MODULE_MM: f32 = 0.5;
/// Quiet zone around the code, modules.
pub const QUIET_ZONE: usize = 4;
/// Resolution of PNG cards unless chosen otherwise.
pub const DEFAULT_DPI: u32 = 600;
/// Lowest accepted PNG resolution.
pub const MIN_DPI: u32 = 300;
/// Highest accepted PNG resolution.
pub const MAX_DPI: u32 = 1200;
/// Largest font file read by [`Font::from_file`] (the CJK collections are 5–30 MB).
pub const MAX_FONT_BYTES: u64 = 64 * 1024 * 1024;
/// Resolution that the SVG layout is computed for (module size 0.508 mm, as on a 600 dpi PNG).
const SVG_LAYOUT_DPI: u32 = 600;

/// `font-family` of every text in an SVG card: CJK fonts of Linux, macOS and Windows, then any
/// sans-serif.
pub const SVG_FONT_FAMILY: &str = "'WenQuanYi Micro Hei','WenQuanYi Zen Hei','Noto Sans CJK SC',\
'Source Han Sans SC','PingFang SC','Hiragino Sans GB','Microsoft YaHei',SimHei,\
'Droid Sans Fallback',sans-serif";

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

/// Characters every card font must have (title and labels).
const FONT_PROBE: &str = "广东省居住证姓名公民身份号码";

/// Why a card could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The card row belongs to another permit.
    #[error("card of permit {card_serial:012} given with permit {permit_serial:012}")]
    WrongPermit {
        /// Serial in the card row.
        card_serial: u64,
        /// Serial of the permit row.
        permit_serial: u64,
    },
    /// The permit's ID number does not parse (a damaged ledger row).
    #[error("permit {serial:012}: ID number is not valid: {reason}")]
    IdNumber {
        /// Permit serial.
        serial: u64,
        /// Why.
        reason: IdError,
    },
    /// The card row has a kind this version does not know.
    #[error("card kind `{kind}` is not first, replacement or exchange")]
    CardKind {
        /// The stored kind.
        kind: String,
    },
    /// The credential text could not be encoded as a QR code.
    #[error("credential QR code: {0}")]
    Qr(#[from] RenderError),
    /// The code at ECC Q and at least 0.5 mm a module does not fit on the card.
    #[error(
        "the credential needs QR version {version} at ECC Q ({modules} modules); at most {max_modules} modules fit on the card at {module_mm:.3} mm a module"
    )]
    QrTooLarge {
        /// Version needed.
        version: u8,
        /// Modules a side needed.
        modules: usize,
        /// Modules a side that fit.
        max_modules: usize,
        /// Module side, millimetres.
        module_mm: f32,
    },
    /// A value does not fit its place on the card even at the smallest type size.
    #[error("{field} does not fit on the card ({chars} characters)")]
    TextTooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        chars: usize,
    },
    /// The requested resolution is outside [`MIN_DPI`]`..=`[`MAX_DPI`].
    #[error("{dpi} dpi is outside {MIN_DPI}–{MAX_DPI}")]
    Dpi {
        /// The resolution asked for.
        dpi: u32,
    },
    /// A font file could not be read.
    #[error("font {path}: {detail}")]
    FontFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The bytes are not a font (or the face index is not in the collection).
    #[error("font {font}: not a TrueType/OpenType font or collection face {face}")]
    FontInvalid {
        /// Where the font came from.
        font: String,
        /// Face asked for.
        face: u32,
    },
    /// The font has no Chinese characters.
    #[error("font {font} has no CJK characters (no glyph for `{ch}`)")]
    FontNotCjk {
        /// Where the font came from.
        font: String,
        /// The first character missing.
        ch: char,
    },
    /// A value holds a character the font cannot draw.
    #[error("font {font} has no glyph for `{ch}` (U+{code:04X}) in {field}", code = u32::from(*ch))]
    MissingGlyph {
        /// Where the font came from.
        font: String,
        /// The character.
        ch: char,
        /// Which field.
        field: &'static str,
    },
    /// The PNG encoder failed.
    #[error("PNG encoding: {0}")]
    Png(String),
    /// The finished PNG card does not give back the credential (self-check).
    #[error("self-check: the QR code on the rendered card does not decode ({detail})")]
    QrUnreadable {
        /// What the decoder reported.
        detail: String,
    },
    /// The finished PNG card decodes to something other than the credential (self-check).
    #[error(
        "self-check: the rendered card decodes to {found} code(s), none with the credential text"
    )]
    QrMismatch {
        /// Codes found.
        found: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Card data

/// Kind of card, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    First,
    Replacement,
    Exchange,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "first" => Kind::First,
            "replacement" => Kind::Replacement,
            "exchange" => Kind::Exchange,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Kind::First => "首次 First",
            Kind::Replacement => "补领 Replacement",
            Kind::Exchange => "换领 Exchange",
        }
    }
}

/// What a card shows: the holder's fields from the permit row, the card row, and the current
/// credential with its QR matrix (ECC Q). The full ID number is printed, as on real cards.
#[derive(Debug, Clone)]
pub struct CardData {
    serial: u64,
    name: String,
    sex: Sex,
    ethnicity: Option<u8>,
    birth_date: NaiveDate,
    id_number: String,
    hukou: Option<String>,
    residence_address: String,
    authority: u32,
    issued_on: NaiveDate,
    valid_until: NaiveDate,
    card_number: u32,
    kind: Kind,
    test: bool,
    text: String,
    qr: QrMatrix,
}

impl CardData {
    /// Gathers a card's content. `credential_text` is the permit's current credential (from
    /// [`crate::lifecycle::current`]); `key_is_test` says whether the key that signed it is
    /// TEST-ONLY. The card is stamped TEST-ONLY when that key is, or the permit is test data.
    ///
    /// # Errors
    ///
    /// [`CardError::WrongPermit`], [`CardError::IdNumber`], [`CardError::CardKind`] for rows
    /// that do not belong together or are damaged; [`CardError::Qr`] when the text cannot be
    /// encoded.
    pub fn new(
        permit: &PermitRecord,
        credential_text: &str,
        card: &CardRecord,
        key_is_test: bool,
    ) -> Result<CardData, CardError> {
        if card.serial != permit.serial {
            return Err(CardError::WrongPermit {
                card_serial: card.serial,
                permit_serial: permit.serial,
            });
        }
        let d = &permit.details;
        let id = CitizenId::parse(&d.id_number).map_err(|reason| CardError::IdNumber {
            serial: permit.serial,
            reason,
        })?;
        let kind = Kind::parse(&card.kind).ok_or_else(|| CardError::CardKind {
            kind: card.kind.clone(),
        })?;
        let hukou = match (&d.hukou_address, d.hukou_division) {
            (Some(a), _) if !a.trim().is_empty() => Some(a.trim().to_owned()),
            (_, Some(code)) => Some(division::hukou_place(code)),
            _ => None,
        };
        Ok(CardData {
            serial: permit.serial,
            name: d.name.clone(),
            sex: id.sex(),
            ethnicity: d.ethnicity,
            birth_date: id.birth_date(),
            id_number: id.as_str().to_owned(),
            hukou,
            residence_address: d.residence_address.clone(),
            authority: permit.authority,
            issued_on: permit.issued_on,
            valid_until: permit.valid_until,
            card_number: card.number,
            kind,
            test: d.test || key_is_test,
            qr: QrMatrix::encode(credential_text, CARD_ECC)?,
            text: credential_text.to_owned(),
        })
    }

    /// Whether the card is stamped TEST-ONLY.
    pub fn is_test(&self) -> bool {
        self.test
    }

    /// The credential text in the code.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The code printed on the card (ECC Q).
    pub fn qr(&self) -> &QrMatrix {
        &self.qr
    }

    /// The values printed, in order, with their field names: what a reader of the card sees.
    fn fields(&self) -> Fields {
        let ethnicity = match self.ethnicity {
            Some(code) => ethnicity_name(code).map_or_else(|| format!("{code:02}"), str::to_owned),
            None => "-".to_owned(),
        };
        Fields {
            name: self.name.clone(),
            sex: format!(
                "{} {}",
                self.sex.label_zh(),
                title_case(self.sex.label_en())
            ),
            ethnicity,
            born: self.birth_date.format("%Y-%m-%d").to_string(),
            id_number: self.id_number.clone(),
            hukou: self.hukou.clone().unwrap_or_else(|| "-".to_owned()),
            address: self.residence_address.clone(),
            authority: division::authority_name(self.authority)
                .unwrap_or_else(|| format!("{:06}", self.authority)),
            valid: format!(
                "{}-{}",
                self.issued_on.format("%Y.%m.%d"),
                self.valid_until.format("%Y.%m.%d")
            ),
            serial: format!("{:012}", self.serial),
            card: format!("{} · {}", self.card_number, self.kind.label()),
        }
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The printed values.
struct Fields {
    name: String,
    sex: String,
    ethnicity: String,
    born: String,
    id_number: String,
    hukou: String,
    address: String,
    authority: String,
    valid: String,
    serial: String,
    card: String,
}

// ---------------------------------------------------------------------------------------------
// Fonts and measuring

/// A font with CJK glyphs for PNG cards (TrueType/OpenType, or one face of a collection).
pub struct Font {
    inner: FontVec,
    origin: String,
    units_per_em: f32,
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

    fn has_glyph(&self, c: char) -> bool {
        c.is_whitespace() || self.inner.glyph_id(c).0 != 0
    }

    /// Scale for an em of `em_px` pixels.
    fn scale(&self, em_px: f32) -> PxScale {
        PxScale::from(em_px * self.height_per_em)
    }
}

/// Text widths, in millimetres, for a type size (em) in millimetres.
trait Measure {
    fn width(&self, text: &str, size: f32) -> f32;
}

/// Width estimate for SVG cards, whose font the viewer chooses: generous for every CJK font.
struct Estimate;

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
fn wrap(text: &str, size: f32, width: f32, m: &dyn Measure) -> Vec<String> {
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
fn fit(
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

// ---------------------------------------------------------------------------------------------
// Layout, in millimetres from the card's top left corner

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

const BACKGROUND: Rgb = Rgb(0xe9, 0xf1, 0xfa);
const BORDER: Rgb = Rgb(0x9a, 0xae, 0xc8);
const TITLE: Rgb = Rgb(0x17, 0x36, 0x6b);
const LABEL: Rgb = Rgb(0x2f, 0x4d, 0x7c);
const LABEL_EN: Rgb = Rgb(0x5f, 0x6f, 0x88);
const VALUE: Rgb = Rgb(0x10, 0x14, 0x1c);
const STAMP: Rgb = Rgb(0xc6, 0x1f, 0x1f);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const PHOTO: Rgb = Rgb(0xf6, 0xf9, 0xfd);
const BLACK: Rgb = Rgb(0, 0, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Start,
    Middle,
}

#[derive(Debug, Clone)]
enum Item {
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        radius: f32,
        fill: Option<Rgb>,
        /// Colour and width of the outline.
        stroke: Option<(Rgb, f32)>,
    },
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        color: Rgb,
        bold: bool,
        anchor: Anchor,
        text: String,
        field: &'static str,
        /// Right edge the text must not pass (for anchor `Start`).
        right: f32,
    },
}

/// Where the code goes: top left of its quiet zone, and the module side.
#[derive(Debug, Clone, Copy)]
struct QrPlace {
    x: f32,
    y: f32,
    module: f32,
}

struct Layout {
    items: Vec<Item>,
    qr: QrPlace,
}

const LINE: f32 = 1.22;
/// Ascent used to place a first baseline below a row's top, as a fraction of the em.
const ASCENT: f32 = 0.88;
/// Left margin of the text column.
const MARGIN: f32 = 2.8;
/// White margin between the card edge and the code's quiet zone.
const QR_EDGE: f32 = 0.6;
/// Corner radius of an ID-1 card.
const CORNER: f32 = 3.18;
/// Lowest edge of any text.
const BOTTOM: f32 = CARD_HEIGHT_MM - 1.2;
/// Smallest type size a value may be shrunk to, millimetres.
const VALUE_MIN: f32 = 1.2;

/// Type sizes (em) and boxes, millimetres. [`NORMAL`] when the title band above the code is
/// high enough, [`COMPACT`] when the code takes the card's whole height (versions 17–20, from
/// residence addresses of about 50 characters on) and everything else shares the left column.
struct Style {
    /// Title band above the code needed at least.
    band: f32,
    title_zh: f32,
    title_en: f32,
    title_zh_base: f32,
    title_en_base: f32,
    label_zh: f32,
    label_en: f32,
    name: f32,
    value: f32,
    small: f32,
    photo_w: f32,
    photo_h: f32,
    photo_y: f32,
    row_gap: f32,
    address_lines: usize,
}

const NORMAL: Style = Style {
    band: 8.2,
    title_zh: 3.5,
    title_en: 1.5,
    title_zh_base: 4.6,
    title_en_base: 7.1,
    label_zh: 1.4,
    label_en: 0.95,
    name: 2.7,
    value: 2.0,
    small: 1.8,
    photo_w: 12.0,
    photo_h: 16.0,
    photo_y: 10.6,
    row_gap: 0.45,
    address_lines: 5,
};

const COMPACT: Style = Style {
    band: 0.0,
    title_zh: 3.0,
    title_en: 1.3,
    title_zh_base: 4.1,
    title_en_base: 6.3,
    label_zh: 1.25,
    label_en: 0.85,
    name: 2.4,
    value: 1.8,
    small: 1.7,
    photo_w: 9.0,
    photo_h: 12.0,
    photo_y: 7.6,
    row_gap: 0.3,
    address_lines: 9,
};

/// Module side in millimetres at `dpi`: the smallest whole number of pixels ≥ 0.5 mm.
pub fn module_mm(dpi: u32) -> f32 {
    module_px(dpi) as f32 * 25.4 / dpi as f32
}

fn module_px(dpi: u32) -> u32 {
    ((MIN_MODULE_MM * dpi as f32 / 25.4) - 1e-3).ceil().max(1.0) as u32
}

/// One labelled row: Chinese label, English label beneath it, value to the right.
struct Row<'a> {
    zh: &'static str,
    en: &'static str,
    value: &'a str,
    field: &'static str,
    size: f32,
    max_lines: usize,
    bold: bool,
}

/// Rows placed in a column: where labels and values start, where the values end.
struct Column<'a> {
    items: &'a mut Vec<Item>,
    style: &'a Style,
    m: &'a dyn Measure,
    label_x: f32,
    value_x: f32,
    right: f32,
}

impl Column<'_> {
    /// Places one row with its top at `y`; returns the top of the next row.
    fn row(&mut self, row: &Row<'_>, y: f32) -> Result<f32, CardError> {
        let st = self.style;
        let (size, lines) = fit(
            row.value,
            row.size,
            VALUE_MIN.min(row.size),
            self.right - self.value_x,
            row.max_lines,
            self.m,
        )
        .ok_or_else(|| too_long(row.field, row.value))?;
        let baseline = y + row.size.max(st.label_zh + 0.4) * ASCENT;
        let en_dy = st.label_en + 0.3;
        for (text, dy, sz, color) in [
            (row.zh, 0.0, st.label_zh, LABEL),
            (row.en, en_dy, st.label_en, LABEL_EN),
        ] {
            self.items.push(Item::Text {
                x: self.label_x,
                baseline: baseline + dy,
                size: sz,
                color,
                bold: false,
                anchor: Anchor::Start,
                text: text.to_owned(),
                field: "label",
                right: self.value_x - 0.3,
            });
        }
        let pitch = size * LINE;
        for (i, line) in lines.iter().enumerate() {
            self.items.push(Item::Text {
                x: self.value_x,
                baseline: baseline + i as f32 * pitch,
                size,
                color: VALUE,
                bold: row.bold,
                anchor: Anchor::Start,
                text: line.clone(),
                field: row.field,
                right: self.right,
            });
        }
        let label_bottom = baseline + en_dy + st.label_en * 0.25;
        let value_bottom = baseline + (lines.len() - 1) as f32 * pitch + size * 0.22;
        let next = label_bottom.max(value_bottom) + st.row_gap;
        if next - st.row_gap > BOTTOM {
            return Err(too_long(row.field, row.value));
        }
        Ok(next)
    }
}

fn rect(x: f32, y: f32, w: f32, h: f32, fill: Option<Rgb>, stroke: Option<(Rgb, f32)>) -> Item {
    Item::Rect {
        x,
        y,
        w,
        h,
        radius: 0.0,
        fill,
        stroke,
    }
}

/// Lays the card out, the residence address on as many lines as the column has room for: the
/// most lines (largest type) first, fewer and smaller ones while the rows below it overflow.
fn layout(data: &CardData, module: f32, m: &dyn Measure) -> Result<Layout, CardError> {
    let mut lines = COMPACT.address_lines;
    loop {
        match layout_with(data, module, m, lines) {
            Err(CardError::TextTooLong { .. }) if lines > 2 => lines -= 1,
            done => return done,
        }
    }
}

fn layout_with(
    data: &CardData,
    module: f32,
    m: &dyn Measure,
    address_lines: usize,
) -> Result<Layout, CardError> {
    let f = data.fields();
    let (w, h) = (CARD_WIDTH_MM, CARD_HEIGHT_MM);

    // The code: at the bottom right under a title band, or, when that band would be too low,
    // on the whole right-hand side; its quiet zone always white.
    let modules = data.qr.width() + 2 * QUIET_ZONE;
    let side = modules as f32 * module;
    let qx = w - QR_EDGE - side;
    let (st, qy) = if h - QR_EDGE - side >= NORMAL.band {
        (&NORMAL, h - QR_EDGE - side)
    } else if side <= h {
        (&COMPACT, (h - side) / 2.0)
    } else {
        return Err(CardError::QrTooLarge {
            version: data.qr.version(),
            modules: data.qr.width(),
            max_modules: ((h / module) as usize).saturating_sub(2 * QUIET_ZONE),
            module_mm: module,
        });
    };
    let compact = std::ptr::eq(st, &COMPACT);
    let right = qx - 0.3;

    let mut items = vec![
        Item::Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
            radius: CORNER,
            fill: Some(BACKGROUND),
            stroke: None,
        },
        rect(qx, qy, side, side, Some(WHITE), None),
    ];

    // Title: across the band, or atop the left column.
    let title_zh = "广东省居住证";
    let title_en = "Guangdong Residence Permit";
    for (size, base, bold, text) in [
        (st.title_zh, st.title_zh_base, true, title_zh),
        (st.title_en, st.title_en_base, false, title_en),
    ] {
        items.push(Item::Text {
            x: MARGIN,
            baseline: base,
            size,
            color: TITLE,
            bold,
            anchor: Anchor::Start,
            text: text.to_owned(),
            field: "title",
            right: if compact { right } else { w - MARGIN },
        });
    }
    let title_right = MARGIN
        + m.width(title_zh, st.title_zh)
            .max(m.width(title_en, st.title_en));

    // Serial and card number: above the code when they fit there, else at the column's end.
    let serial_rows = [
        Row {
            zh: "证件编号",
            en: "Serial",
            value: &f.serial,
            field: "serial",
            size: st.value,
            max_lines: 1,
            bold: true,
        },
        Row {
            zh: "卡号",
            en: "Card no.",
            value: &f.card,
            field: "card number",
            size: st.small.min(1.6),
            max_lines: 2,
            bold: false,
        },
    ];
    let serial_x = qx + QUIET_ZONE as f32 * module;
    let mut serial_above = false;
    if !compact {
        let mut above = Vec::new();
        let mut col = Column {
            items: &mut above,
            style: st,
            m,
            label_x: serial_x,
            value_x: serial_x + 7.2,
            right: w - MARGIN,
        };
        let mut y = 1.2;
        let mut fits = true;
        for row in &serial_rows {
            match col.row(row, y) {
                Ok(next) => y = next,
                Err(_) => fits = false,
            }
        }
        if fits && y - st.row_gap <= qy + 0.2 {
            items.extend(above);
            serial_above = true;
        }
    }

    // Photo placeholder, with the TEST-ONLY stamp in the band or, on a compact card, on it.
    let (px, py, pw, ph) = (MARGIN, st.photo_y, st.photo_w, st.photo_h);
    items.push(Item::Rect {
        x: px,
        y: py,
        w: pw,
        h: ph,
        radius: 0.4,
        fill: Some(PHOTO),
        stroke: Some((BORDER, 0.2)),
    });
    let label_dy = if compact && data.test { 0.32 } else { 0.42 } * ph;
    for (dy, size, color, s) in [
        (label_dy, 1.6, LABEL, "照片"),
        (label_dy + 1.9, 1.1, LABEL_EN, "Photo"),
    ] {
        items.push(centred(px + pw / 2.0, py + dy, size, color, s, "photo"));
    }
    if data.test {
        // One line in the band; two (测试 over TEST-ONLY) on the photo of a compact card.
        let (lines, left, room, mid): (&[&str], f32, f32, f32) = if compact {
            (&["测试", "TEST-ONLY"], px, pw, py + ph * 0.76)
        } else {
            let left = title_right + 1.2;
            let mid = (st.title_en_base + 0.3) / 2.0;
            (&["TEST-ONLY 测试"], left, serial_x - 1.0 - left, mid)
        };
        let widest = lines
            .iter()
            .copied()
            .max_by(|a, b| m.width(a, 1.0).total_cmp(&m.width(b, 1.0)))
            .unwrap_or_default();
        let (size, _) = fit(widest, 2.2, 1.0, room - 1.2, 1, m)
            .ok_or_else(|| too_long("TEST-ONLY stamp", widest))?;
        let pitch = size * LINE;
        let (sw, sh) = (
            m.width(widest, size) + 1.2,
            size * 0.55 + pitch * lines.len() as f32,
        );
        let (sx, sy) = (left + (room - sw) / 2.0, mid - sh / 2.0);
        items.push(Item::Rect {
            x: sx,
            y: sy,
            w: sw,
            h: sh,
            radius: 0.5,
            fill: compact.then_some(WHITE),
            stroke: Some((STAMP, 0.3)),
        });
        for (i, line) in lines.iter().enumerate() {
            let base = sy + 0.3 + size * 0.9 + i as f32 * pitch;
            let mut t = centred(sx + sw / 2.0, base, size, STAMP, line, "TEST-ONLY stamp");
            if let Item::Text { bold, .. } = &mut t {
                *bold = true;
            }
            items.push(t);
        }
    }

    // Holder fields: four beside the photo, the rest across under it.
    let beside = [
        Row {
            zh: "姓名",
            en: "Name",
            value: &f.name,
            field: "name",
            size: st.name,
            max_lines: 2,
            bold: true,
        },
        Row {
            zh: "性别",
            en: "Sex",
            value: &f.sex,
            field: "sex",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
        Row {
            zh: "民族",
            en: "Ethnicity",
            value: &f.ethnicity,
            field: "ethnicity",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
        Row {
            zh: "出生",
            en: "Born",
            value: &f.born,
            field: "birth date",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
    ];
    let bx = px + pw + 1.2;
    let mut col = Column {
        items: &mut items,
        style: st,
        m,
        label_x: bx,
        value_x: bx + 5.6 * st.label_zh / NORMAL.label_zh,
        right,
    };
    let mut y = py - 0.3;
    for row in &beside {
        y = col.row(row, y)?;
    }
    let across = [
        Row {
            zh: "公民身份号码",
            en: "ID number",
            value: &f.id_number,
            field: "ID number",
            size: st.value,
            max_lines: 1,
            bold: true,
        },
        Row {
            zh: "户籍所在地",
            en: "Hukou",
            value: &f.hukou,
            field: "hukou",
            size: st.small,
            max_lines: 3,
            bold: false,
        },
        Row {
            zh: "居住地址",
            en: "Address",
            value: &f.address,
            field: "residence address",
            size: st.small,
            max_lines: address_lines.min(st.address_lines),
            bold: false,
        },
        Row {
            zh: "签发机关",
            en: "Authority",
            value: &f.authority,
            field: "authority",
            size: st.small,
            max_lines: 2,
            bold: false,
        },
        Row {
            zh: "有效期限",
            en: "Valid",
            value: &f.valid,
            field: "validity",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
    ];
    col.label_x = MARGIN;
    col.value_x = MARGIN + 8.9 * st.label_zh / NORMAL.label_zh;
    let mut y = y.max(py + ph + 0.5);
    for row in &across {
        y = col.row(row, y)?;
    }
    if !serial_above {
        for row in &serial_rows {
            y = col.row(row, y)?;
        }
    }

    // The card's outline last, over the corner of a code that takes the whole height.
    items.push(Item::Rect {
        x: 0.0,
        y: 0.0,
        w,
        h,
        radius: CORNER,
        fill: None,
        stroke: Some((BORDER, 0.2)),
    });

    // Nothing may pass its right edge, as measured with the font that will draw it.
    for item in &items {
        if let Item::Text {
            x,
            size,
            anchor: Anchor::Start,
            text,
            field,
            right,
            ..
        } = item
            && x + m.width(text, *size) > right + 1e-3
        {
            return Err(too_long(field, text));
        }
    }
    Ok(Layout {
        items,
        qr: QrPlace {
            x: qx,
            y: qy,
            module,
        },
    })
}

fn centred(x: f32, baseline: f32, size: f32, color: Rgb, text: &str, field: &'static str) -> Item {
    Item::Text {
        x,
        baseline,
        size,
        color,
        bold: false,
        anchor: Anchor::Middle,
        text: text.to_owned(),
        field,
        right: f32::INFINITY,
    }
}

fn too_long(field: &'static str, value: &str) -> CardError {
    CardError::TextTooLong {
        field,
        chars: value.chars().count(),
    }
}

// ---------------------------------------------------------------------------------------------
// SVG

/// Renders the card as SVG (85.6 × 54 mm; text as `<text>` elements in [`SVG_FONT_FAMILY`], the
/// code as one `<path>` of 0.508 mm modules). Needs no font.
///
/// # Errors
///
/// [`CardError::QrTooLarge`] or [`CardError::TextTooLong`] when the card's content does not fit.
pub fn to_svg(data: &CardData) -> Result<String, CardError> {
    let layout = layout(data, module_mm(SVG_LAYOUT_DPI), &Estimate)?;
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}"><g font-family="{SVG_FONT_FAMILY}">"#,
        w = num(CARD_WIDTH_MM),
        h = num(CARD_HEIGHT_MM),
    );
    for item in &layout.items {
        match item {
            Item::Rect {
                x,
                y,
                w,
                h,
                radius,
                fill,
                stroke,
            } => {
                let _ = write!(
                    s,
                    r#"<rect x="{}" y="{}" width="{}" height="{}""#,
                    num(*x),
                    num(*y),
                    num(*w),
                    num(*h)
                );
                if *radius > 0.0 {
                    let _ = write!(s, r#" rx="{}""#, num(*radius));
                }
                let _ = write!(
                    s,
                    r#" fill="{}""#,
                    fill.map_or_else(|| "none".to_owned(), Rgb::hex)
                );
                if let Some((c, sw)) = stroke {
                    let _ = write!(s, r#" stroke="{}" stroke-width="{}""#, c.hex(), num(*sw));
                }
                s.push_str("/>");
            }
            Item::Text {
                x,
                baseline,
                size,
                color,
                bold,
                anchor,
                text,
                ..
            } => {
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" font-size="{}" fill="{}""#,
                    num(*x),
                    num(*baseline),
                    num(*size),
                    color.hex()
                );
                if *bold {
                    s.push_str(r#" font-weight="bold""#);
                }
                if *anchor == Anchor::Middle {
                    s.push_str(r#" text-anchor="middle""#);
                }
                s.push('>');
                escape_into(&mut s, text);
                s.push_str("</text>");
            }
        }
    }
    let q = layout.qr;
    let n = data.qr.width() + 2 * QUIET_ZONE;
    let _ = write!(
        s,
        r##"</g><g transform="translate({} {}) scale({})"><rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" shape-rendering="crispEdges" d=""##,
        num(q.x),
        num(q.y),
        num(q.module)
    );
    for y in 0..data.qr.width() {
        for (x, len) in dark_runs(&data.qr, y) {
            let _ = write!(s, "M{} {}h{len}v1h-{len}z", x + QUIET_ZONE, y + QUIET_ZONE);
        }
    }
    s.push_str(r#""/></g></svg>"#);
    Ok(s)
}

/// Horizontal runs `(x, len)` of dark modules in row `y`.
fn dark_runs(m: &QrMatrix, y: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut x = 0;
    while x < m.width() {
        if m.is_dark(x, y) {
            let start = x;
            while x < m.width() && m.is_dark(x, y) {
                x += 1;
            }
            runs.push((start, x - start));
        } else {
            x += 1;
        }
    }
    runs
}

/// A length in millimetres with at most three decimals.
fn num(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PNG

/// Options of a PNG card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngOptions {
    /// Resolution, [`MIN_DPI`]`..=`[`MAX_DPI`] (default [`DEFAULT_DPI`]); also written in the
    /// PNG's `pHYs` chunk so that the card prints at its real size.
    pub dpi: u32,
}

impl Default for PngOptions {
    fn default() -> Self {
        PngOptions { dpi: DEFAULT_DPI }
    }
}

impl PngOptions {
    /// Width and height of the image, pixels.
    pub fn size_px(&self) -> (u32, u32) {
        (
            mm_to_px(CARD_WIDTH_MM, self.dpi),
            mm_to_px(CARD_HEIGHT_MM, self.dpi),
        )
    }
}

fn mm_to_px(mm: f32, dpi: u32) -> u32 {
    (mm * dpi as f32 / 25.4).round() as u32
}

/// Renders the card as an RGB PNG, then decodes the finished image with the verifier's scanner
/// and checks that it holds exactly the credential text.
///
/// # Errors
///
/// [`CardError::Dpi`]; [`CardError::MissingGlyph`] when the font cannot draw a value;
/// [`CardError::QrTooLarge`] or [`CardError::TextTooLong`] when the content does not fit;
/// [`CardError::Png`]; [`CardError::QrUnreadable`] or [`CardError::QrMismatch`] when the
/// self-check fails (nothing should then be written).
pub fn to_png(data: &CardData, font: &Font, opts: &PngOptions) -> Result<Vec<u8>, CardError> {
    if !(MIN_DPI..=MAX_DPI).contains(&opts.dpi) {
        return Err(CardError::Dpi { dpi: opts.dpi });
    }
    let png = render_png(data, font, opts)?;
    let codes = scan::scan_image_bytes(&png, &ScanLimits::default()).map_err(|e| {
        CardError::QrUnreadable {
            detail: e.to_string(),
        }
    })?;
    match codes.as_slice() {
        [one] if one.text == data.text => Ok(png),
        other => Err(CardError::QrMismatch { found: other.len() }),
    }
}

fn render_png(data: &CardData, font: &Font, opts: &PngOptions) -> Result<Vec<u8>, CardError> {
    let layout = layout(data, module_mm(opts.dpi), font)?;
    for item in &layout.items {
        if let Item::Text { text, field, .. } = item
            && let Some(ch) = text.chars().find(|&c| !font.has_glyph(c))
        {
            return Err(CardError::MissingGlyph {
                font: font.origin.clone(),
                ch,
                field,
            });
        }
    }
    let (wpx, hpx) = opts.size_px();
    let mut c = Canvas::new(wpx, hpx, opts.dpi);
    for item in &layout.items {
        match item {
            Item::Rect {
                x,
                y,
                w,
                h,
                radius,
                fill,
                stroke,
            } => {
                if let Some(fill) = fill {
                    c.fill_rect(*x, *y, *w, *h, *radius, *fill);
                }
                if let Some((color, sw)) = stroke {
                    c.stroke_rect(*x, *y, *w, *h, *radius, *sw, *color);
                }
            }
            Item::Text {
                x,
                baseline,
                size,
                color,
                bold,
                anchor,
                text,
                ..
            } => {
                let x = match anchor {
                    Anchor::Start => *x,
                    Anchor::Middle => x - font.width(text, *size) / 2.0,
                };
                c.text(font, x, *baseline, *size, *color, *bold, text);
            }
        }
    }
    // The code on whole pixels: module side and origin rounded once.
    let mpx = module_px(opts.dpi) as usize;
    let ox = c.px(layout.qr.x) as usize + QUIET_ZONE * mpx;
    let oy = c.px(layout.qr.y) as usize + QUIET_ZONE * mpx;
    for y in 0..data.qr.width() {
        for (x, len) in dark_runs(&data.qr, y) {
            c.fill_px(ox + x * mpx, oy + y * mpx, len * mpx, mpx, BLACK);
        }
    }
    c.encode()
}

/// An RGB raster with drawing in millimetres.
struct Canvas {
    w: usize,
    h: usize,
    dpi: u32,
    px_per_mm: f32,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32, dpi: u32) -> Canvas {
        Canvas {
            w: w as usize,
            h: h as usize,
            dpi,
            px_per_mm: dpi as f32 / 25.4,
            rgb: vec![0xff; w as usize * h as usize * 3],
        }
    }

    fn px(&self, mm: f32) -> f32 {
        (mm * self.px_per_mm).round()
    }

    fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h || alpha <= 0.0 {
            return;
        }
        let i = (y as usize * self.w + x as usize) * 3;
        let a = alpha.min(1.0);
        for (k, v) in [color.0, color.1, color.2].into_iter().enumerate() {
            let old = f32::from(self.rgb[i + k]);
            self.rgb[i + k] = (old + (f32::from(v) - old) * a).round() as u8;
        }
    }

    fn fill_px(&mut self, x: usize, y: usize, w: usize, h: usize, color: Rgb) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                let i = (yy * self.w + xx) * 3;
                self.rgb[i..i + 3].copy_from_slice(&[color.0, color.1, color.2]);
            }
        }
    }

    /// Fills a rectangle with rounded corners (anti-aliased corners).
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, radius: f32, color: Rgb) {
        let b = self.bounds(x, y, w, h);
        let r = radius * self.px_per_mm;
        self.paint(b, r.ceil() + 1.0, color, |cx, cy| {
            corner_coverage(cx, cy, b, r)
        });
    }

    /// Outlines a rectangle: the ring between the outer edge and the edge `sw` inside.
    #[allow(clippy::too_many_arguments)]
    fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, radius: f32, sw: f32, color: Rgb) {
        let b = self.bounds(x, y, w, h);
        let t = (sw * self.px_per_mm).max(1.0);
        let r = radius * self.px_per_mm;
        let inner = [b[0] + t, b[1] + t, b[2] - t, b[3] - t];
        let r_in = (r - t).max(0.0);
        let edge = r.max(t).ceil() + 1.0;
        self.paint_edges(b, edge, color, |cx, cy| {
            corner_coverage(cx, cy, b, r) - corner_coverage(cx, cy, inner, r_in)
        });
    }

    /// `[x0, y0, x1, y1]` in whole pixels.
    fn bounds(&self, x: f32, y: f32, w: f32, h: f32) -> [f32; 4] {
        [self.px(x), self.px(y), self.px(x + w), self.px(y + h)]
    }

    /// Paints `b`: coverage computed within `edge` pixels of a corner, full inside.
    fn paint(&mut self, b: [f32; 4], edge: f32, color: Rgb, cov: impl Fn(f32, f32) -> f32) {
        let [x0, y0, x1, y1] = b.map(|v| v.max(0.0) as usize);
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        let edge = edge as usize;
        for py in y0..y1 {
            let near = py < y0 + edge || py + edge >= y1;
            let (inner_from, inner_to) = if near {
                (
                    (x0 + edge).min(x1),
                    x1.saturating_sub(edge).max(x0 + edge).min(x1),
                )
            } else {
                (x0, x1)
            };
            for px in (x0..inner_from).chain(inner_to..x1) {
                let c = cov(px as f32 + 0.5, py as f32 + 0.5);
                self.blend(px as i64, py as i64, color, c);
            }
            if inner_from < inner_to {
                let row =
                    &mut self.rgb[(py * self.w + inner_from) * 3..(py * self.w + inner_to) * 3];
                for p in row.chunks_exact_mut(3) {
                    p.copy_from_slice(&[color.0, color.1, color.2]);
                }
            }
        }
    }

    /// Paints only the pixels within `edge` of the border of `b`, with the given coverage.
    fn paint_edges(&mut self, b: [f32; 4], edge: f32, color: Rgb, cov: impl Fn(f32, f32) -> f32) {
        let [x0, y0, x1, y1] = b.map(|v| v.max(0.0) as usize);
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        let edge = edge as usize;
        for py in y0..y1 {
            let near = py < y0 + edge || py + edge >= y1;
            let left_to = if near { x1 } else { (x0 + edge).min(x1) };
            let right_from = if near {
                x1
            } else {
                x1.saturating_sub(edge).max(left_to)
            };
            for px in (x0..left_to).chain(right_from..x1) {
                let c = cov(px as f32 + 0.5, py as f32 + 0.5);
                self.blend(px as i64, py as i64, color, c);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        font: &Font,
        x: f32,
        baseline: f32,
        size: f32,
        color: Rgb,
        bold: bool,
        text: &str,
    ) {
        let em = size * self.px_per_mm;
        let scale = font.scale(em);
        let per_unit = em / font.units_per_em;
        let base = baseline * self.px_per_mm;
        // Faux bold: the glyphs drawn again a little to the right.
        let offsets: &[f32] = if bold {
            &[0.0, (em / 28.0).max(0.6)]
        } else {
            &[0.0]
        };
        let mut pen = x * self.px_per_mm;
        let mut prev: Option<GlyphId> = None;
        for ch in text.chars() {
            let id = font.inner.glyph_id(ch);
            if let Some(p) = prev {
                pen += font.inner.kern_unscaled(p, id) * per_unit;
            }
            for dx in offsets {
                let glyph = Glyph {
                    id,
                    scale,
                    position: point(pen + dx, base),
                };
                if let Some(outlined) = font.inner.outline_glyph(glyph) {
                    let b = outlined.px_bounds();
                    outlined.draw(|gx, gy, cov| {
                        self.blend(
                            b.min.x as i64 + i64::from(gx),
                            b.min.y as i64 + i64::from(gy),
                            color,
                            cov,
                        );
                    });
                }
            }
            pen += font.inner.h_advance_unscaled(id) * per_unit;
            prev = Some(id);
        }
    }

    fn encode(&self) -> Result<Vec<u8>, CardError> {
        let png_err = |e: png::EncodingError| CardError::Png(e.to_string());
        let mut out = Vec::with_capacity(self.rgb.len() / 8);
        let mut enc = png::Encoder::new(&mut out, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        // Up filter: adaptive filtering halves the file but takes four times as long.
        enc.set_filter(png::Filter::Up);
        let per_metre = (self.dpi as f32 / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(&self.rgb).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
        Ok(out)
    }
}

/// Coverage (0–1) of the pixel centred at `(x, y)` by the rectangle `[x0, y0, x1, y1]` with
/// corner radius `r`, all in pixels.
fn corner_coverage(x: f32, y: f32, b: [f32; 4], r: f32) -> f32 {
    let [x0, y0, x1, y1] = b;
    if x < x0 || x > x1 || y < y0 || y > y1 {
        return 0.0;
    }
    if r <= 0.0 {
        return 1.0;
    }
    let cx = if x < x0 + r {
        x0 + r
    } else if x > x1 - r {
        x1 - r
    } else {
        return 1.0;
    };
    let cy = if y < y0 + r {
        y0 + r
    } else if y > y1 - r {
        y1 - r
    } else {
        return 1.0;
    };
    let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
    (r - d + 0.5).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use chrono::{DateTime, TimeZone as _, Utc};

    use super::*;
    use crate::ledger::Ledger as _;
    use crate::ledger::sqlite::SqliteLedger;
    use crate::lifecycle::{self, CardKind, Direct, LifecycleError, Office};
    use crate::settings::{Channel, Settings};
    use permit_shared::applicant::RawApplicant;

    use permit_shared::fixtures::REFERENCE_APPLICANT as REFERENCE;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap()
    }

    /// Issues a permit for the applicant and records its first card.
    fn issued(applicant: &str) -> (PermitRecord, String, CardRecord) {
        let settings = Settings::default();
        let key = crate::demo::issuer_key().unwrap();
        let office = Office {
            settings: &settings,
            key: &key,
            key_is_test: true,
            now: now(),
            actor: "card-test",
        };
        let raw = RawApplicant::from_json(applicant.as_bytes()).unwrap();
        let mut ledger = SqliteLedger::in_memory().unwrap();
        ledger
            .transaction(|tx| -> Result<_, LifecycleError> {
                let Direct::Issued(i) =
                    lifecycle::issue_direct(tx, &office, &raw, Channel::Counter)?
                else {
                    panic!("reference applicant not eligible");
                };
                let serial: u64 = i.serial.parse().unwrap();
                let card = lifecycle::card(tx, &office, serial, CardKind::First, Channel::Counter)?;
                let permit = tx.permit(serial)?.unwrap();
                let text = lifecycle::current(tx, serial)?.text;
                Ok((permit, text, card))
            })
            .unwrap()
    }

    fn reference() -> CardData {
        let (permit, text, card) = issued(REFERENCE);
        CardData::new(&permit, &text, &card, false).unwrap()
    }

    /// The reference applicant with a residence address of the maximum length (100 characters).
    fn long_address() -> CardData {
        let prefix = "广东省广州市天河区";
        let mut address = format!("{prefix}石牌街道天河北路");
        let filler = "东风村委会新村南二巷";
        while address.chars().count() < 94 {
            address.push_str(filler);
        }
        let mut address: String = address.chars().take(94).collect();
        address.push_str("1203房");
        assert_eq!(address.chars().count(), 99);
        let json = REFERENCE.replace(
            "广东省广州市天河区石牌街道天河北路233号中信广场36栋1203房",
            &address,
        );
        let (permit, text, card) = issued(&json);
        CardData::new(&permit, &text, &card, false).unwrap()
    }

    fn system_font() -> Option<Font> {
        match find_system_font() {
            Some(f) => Some(Font::from_file(Path::new(f.path), f.face).unwrap()),
            None => {
                eprintln!(
                    "skipped: no CJK font found (install {SUGGESTED_FONT_PACKAGE}); looked in {:?}",
                    SYSTEM_FONTS.iter().map(|f| f.path).collect::<Vec<_>>()
                );
                None
            }
        }
    }

    #[test]
    fn qr_is_ecc_q_at_half_a_millimetre() {
        let data = reference();
        assert_eq!(data.qr().ecc(), Ecc::Q);
        let v = data.qr().version();
        assert!((13..=15).contains(&v), "version {v}");
        assert_eq!(module_px(600), 12);
        assert_eq!(module_px(300), 6);
        assert!(module_mm(600) >= MIN_MODULE_MM && module_mm(300) >= MIN_MODULE_MM);
        assert_eq!(PngOptions::default().size_px(), (2022, 1276));
    }

    #[test]
    fn svg_shows_the_full_fields_and_the_code() {
        let data = reference();
        let svg = to_svg(&data).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"width="85.6mm" height="54mm""#));
        for s in [
            "广东省居住证",
            "Guangdong Residence Permit",
            "欧阳晓燕",
            "430524199107199021",
            &format!("{:012}", data.serial),
            "女 Female",
            ">汉<",
            "1991-07-19",
            "广州市公安局天河区分局",
            "湖南省邵阳市隆回县",
            "首次 First",
            "姓名",
            ">Name<",
            "公民身份号码",
        ] {
            assert!(svg.contains(s), "SVG lacks {s}");
        }
        assert!(!svg.contains('*'), "nothing is masked on the card");
        assert!(svg.contains(r##"<path fill="#000" shape-rendering="crispEdges" d="M"##));
        // The address is split over lines; joined again it is whole.
        let address: String = texts(&layout(&data, module_mm(600), &Estimate).unwrap())
            .into_iter()
            .filter(|(f, _)| *f == "residence address")
            .map(|(_, t)| t)
            .collect();
        assert_eq!(address, data.residence_address);
    }

    #[test]
    fn test_data_is_stamped() {
        let data = reference();
        assert!(data.is_test());
        assert!(to_svg(&data).unwrap().contains("TEST-ONLY 测试"));
        // Not test data, but signed by a TEST-ONLY key: stamped too.
        let (mut permit, text, card) = issued(REFERENCE);
        permit.details.test = false;
        let by_test_key = CardData::new(&permit, &text, &card, true).unwrap();
        assert!(to_svg(&by_test_key).unwrap().contains("TEST-ONLY"));
        let real = CardData::new(&permit, &text, &card, false).unwrap();
        assert!(!real.is_test());
        assert!(!to_svg(&real).unwrap().contains("TEST-ONLY"));
    }

    fn texts(l: &Layout) -> Vec<(&'static str, String)> {
        l.items
            .iter()
            .filter_map(|i| match i {
                Item::Text { field, text, .. } => Some((*field, text.clone())),
                Item::Rect { .. } => None,
            })
            .collect()
    }

    /// Every text stays inside its box and on the card, measured as it will be drawn.
    fn assert_fits(l: &Layout, m: &dyn Measure) {
        for item in &l.items {
            if let Item::Text {
                x,
                baseline,
                size,
                anchor: Anchor::Start,
                text,
                field,
                right,
                ..
            } = item
            {
                let end = x + m.width(text, *size);
                assert!(
                    end <= right + 1e-3,
                    "{field} `{text}` ends at {end} > {right}"
                );
                assert!(
                    *right <= l.qr.x || *baseline < l.qr.y,
                    "{field} runs into the code"
                );
                assert!(
                    *baseline + size * 0.25 <= CARD_HEIGHT_MM,
                    "{field} below the card"
                );
            }
        }
    }

    #[test]
    fn long_addresses_wrap_inside_their_box() {
        let data = long_address();
        let l = layout(&data, module_mm(600), &Estimate).unwrap();
        assert_fits(&l, &Estimate);
        let lines: Vec<String> = texts(&l)
            .into_iter()
            .filter(|(f, _)| *f == "residence address")
            .map(|(_, t)| t)
            .collect();
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.concat(), data.residence_address);
        assert!(
            lines.iter().all(|l| !l.ends_with("120")),
            "digits kept together"
        );
        if let Some(font) = system_font() {
            let l = layout(&data, module_mm(600), &font).unwrap();
            assert_fits(&l, &font);
            assert_fits(&layout(&reference(), module_mm(300), &font).unwrap(), &font);
        }
        assert_fits(
            &layout(&reference(), module_mm(600), &Estimate).unwrap(),
            &Estimate,
        );
    }

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

    #[test]
    fn png_card_scans_back_to_the_credential() {
        let Some(font) = system_font() else { return };
        let data = reference();
        let t = std::time::Instant::now();
        let png = to_png(&data, &font, &PngOptions::default()).unwrap();
        eprintln!(
            "card PNG: {} bytes, QR v{}, {:?}",
            png.len(),
            data.qr().version(),
            t.elapsed()
        );
        let codes = scan::scan_image_bytes(&png, &ScanLimits::default()).unwrap();
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].text, data.text());
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (2022, 1276));
        // 300 dpi works too, and the long address still renders.
        let small = to_png(&long_address(), &font, &PngOptions { dpi: 300 }).unwrap();
        assert_eq!(image::load_from_memory(&small).unwrap().width(), 1011);
        assert!(matches!(
            to_png(&data, &font, &PngOptions { dpi: 72 }),
            Err(CardError::Dpi { dpi: 72 })
        ));
    }

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

    #[test]
    fn rows_of_another_permit_are_refused() {
        let (permit, text, mut card) = issued(REFERENCE);
        card.serial += 1;
        assert!(matches!(
            CardData::new(&permit, &text, &card, false),
            Err(CardError::WrongPermit { .. })
        ));
    }
}
