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
//! use permit_issuer::card::{self, Font, PngOptions};
//!
//! // PNG cards are drawn with the font embedded in the crate, the same on every machine.
//! let font = Font::embedded()?;
//! assert_eq!(font.origin(), card::EMBEDDED_FONT_NAME);
//! assert!(Font::from_bytes(b"not a font".to_vec(), 0).is_err());
//! // 600 dpi: 2022 × 1276 px, modules of 12 px = 0.508 mm.
//! assert_eq!(PngOptions::default().size_px(), (2022, 1276));
//! assert!(card::module_mm(600) >= card::MIN_MODULE_MM);
//! # Ok::<(), card::CardError>(())
//! ```
//!
//! The code is split by concern: `font` (where a [`Font`] comes from and what it must hold),
//! `text` (measuring, wrapping and fitting values), `layout` (placing every field), `svg` and
//! `raster` (the two renderers). This module holds the card's content, its limits and errors.
//!
//! # Fonts
//!
//! The crate embeds one font, WenQuanYi Micro Hei 0.2.0-beta (face 0 of
//! `issuer/fonts/wqy-microhei.ttc`, from Debian's `fonts-wqy-microhei`, used under Apache-2.0;
//! see `issuer/fonts/README.md`), and [`to_png`] is meant to be given it ([`Font::embedded`]):
//! a card then looks the same whatever fonts the machine has. A caller may pass another file
//! instead ([`Font::from_file`]; [`SYSTEM_FONTS`] and [`find_system_font`] name well-known
//! locations of installed CJK fonts). A font must have Latin letters and digits and Chinese
//! characters, else it is refused when loaded ([`CardError::FontLacksGlyphs`]) rather than
//! drawing labels as boxes that no longer fit. [`to_svg`] needs no font: the viewer or printer
//! picks one from [`SVG_FONT_FAMILY`] and line breaks are computed with a conservative width
//! estimate (every Han character one em, Latin letters and digits 0.62 em). A character of a
//! value that the font lacks is an error ([`CardError::MissingGlyph`]), never a blank box on a
//! printed card.
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

use std::path::PathBuf;

use chrono::NaiveDate;

use permit_shared::applicant::ethnicity_name;
use permit_shared::citizen_id::{CitizenId, IdError, Sex};
use permit_shared::division;

use crate::ledger::{CardRecord, PermitRecord};
use crate::render::{Ecc, QrMatrix, RenderError};

mod font;
mod layout;
mod raster;
mod svg;
mod text;

#[cfg(test)]
mod fixtures;

pub use font::{
    EMBEDDED_FONT_NAME, Font, SUGGESTED_FONT_PACKAGE, SYSTEM_FONTS, SystemFont, find_system_font,
};
pub use layout::module_mm;
pub use raster::{PngOptions, to_png};
pub use svg::{SVG_FONT_FAMILY, to_svg};

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
    /// The font lacks the Latin letters and digits, or the Chinese characters, that every card
    /// shows (checked when a [`Font`] is loaded).
    #[error(
        "font {font} has no {missing} glyphs (none for `{ch}`); a card font needs both Latin letters and Chinese characters"
    )]
    FontLacksGlyphs {
        /// Where the font came from.
        font: String,
        /// The script it lacks: `"Latin"` or `"CJK"`.
        missing: &'static str,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::fixtures::{REFERENCE, issued, reference};
    use super::layout::module_px;
    use super::*;

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
    fn rows_of_another_permit_are_refused() {
        let (permit, text, mut card) = issued(REFERENCE);
        card.serial += 1;
        assert!(matches!(
            CardData::new(&permit, &text, &card, false),
            Err(CardError::WrongPermit { .. })
        ));
    }
}
