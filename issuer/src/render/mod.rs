//! QR rendering of issued credentials.
//!
//! Pipeline: credential text → [`QrMatrix::encode`] (segmentation, Reed–Solomon codewords, module
//! placement, mask choice) → [`to_png`], [`to_svg`] or [`to_luma_image`].
//!
//! ```
//! use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
//!
//! let text = format!("GDRP1:{}", "0123456789".repeat(64));
//! let matrix = QrMatrix::encode(&text, Ecc::M)?;
//! assert_eq!((matrix.version(), matrix.width()), (12, 65));
//!
//! let opts = RenderOptions::default(); // 8 px per module, 4-module quiet zone
//! let png = render::to_png(&matrix, &opts)?;
//! assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
//! assert!(render::to_svg(&matrix, &opts)?.starts_with("<svg"));
//! assert_eq!(render::to_luma_image(&matrix, &opts)?.width(), opts.side_px(&matrix)?);
//! # Ok::<(), render::RenderError>(())
//! ```
//!
//! # How the symbol is built
//!
//! The `qrcode` crate's public building blocks do the encoding: `optimize::{Parser, Optimizer}`
//! and `bits::Bits` choose the segments and the smallest version (its greedy segment merge; for a
//! credential that is the optimum, the `GDRP1:` prefix in one alphanumeric segment and the digits
//! in one numeric segment), `ec::construct_codewords` adds Reed–Solomon codewords, and
//! `canvas::Canvas::{draw_all_functional_patterns, draw_data}` places the modules.
//!
//! `qrcode` then picks the mask in `Canvas::apply_best_mask`, which builds all eight masked
//! symbols and scores them module by module; that is nearly all of its encoding time, and its
//! penalty functions are private. This module's `mask` submodule instead reads the unmasked
//! canvas once into bit rows, applies each mask with precomputed row patterns, draws the format
//! information, and scores the eight candidates on whole 64-bit words (ISO/IEC 18004 §7.8.3,
//! rules N1–N4 on the whole symbol with its format information, as `qrcode` does). The winner is
//! kept as bit rows; the tests check that every masked candidate equals `Canvas::apply_mask`'s
//! output, for every version, level and mask.
//!
//! # Differences from `qrcode::QrCode::with_error_correction_level`
//!
//! The symbol is bit-for-bit the one `qrcode` produces, except in two documented cases:
//!
//! * **N4, dark-module balance.** `qrcode` charges 2 points per whole percent of deviation from
//!   50 % dark (`|⌊200·dark/total⌋ − 100|`, its source notes that this departs from the standard).
//!   ISO/IEC 18004 charges 10 points per full 5 % step of deviation; this module follows the
//!   standard (`10·⌊10·|2·dark − total| / total⌋`, the formula ZXing uses). When the two rules pick
//!   different masks, the symbol differs from `qrcode`'s in its mask and format information only;
//!   both are valid symbols of the same data. N1–N3 are computed exactly as `qrcode` does
//!   (a 1:1:3:1:1 pattern counts once, 40 points, when either side has four light modules, the
//!   area outside the symbol counting as light).
//! * **No Kanji mode.** `qrcode`'s segmenter puts any byte pair in the Shift JIS Kanji range into a
//!   Kanji segment, which mangles UTF-8 text such as Chinese (`"广东"` becomes two Kanji
//!   characters). Here such segments stay in byte mode, so UTF-8 text scans back as itself. Texts
//!   without bytes ≥ 0x80, such as every credential, are segmented exactly as `qrcode` does.

mod mask;

use std::fmt;
use std::str::FromStr;

use image::GrayImage;
use qrcode::bits::Bits;
use qrcode::canvas::Canvas;
use qrcode::optimize::{Optimizer, Parser, Segment, total_encoded_len};
use qrcode::types::{EcLevel, Mode, QrError, Version};

use mask::{Penalty, Unmasked};

/// Largest accepted module size in pixels (the smallest is 1).
pub const MAX_MODULE_PX: u32 = 64;

/// Smallest accepted quiet zone in modules (ISO/IEC 18004 requires four).
pub const MIN_QUIET_ZONE: u32 = 4;

/// Largest accepted image side in pixels, quiet zone included.
pub const MAX_SIDE_PX: u32 = 10_000;

/// Error correction level of a QR symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecc {
    /// Low: recovers about 7 % of codewords.
    L,
    /// Medium: recovers about 15 % of codewords.
    M,
    /// Quartile: recovers about 25 % of codewords.
    Q,
    /// High: recovers about 30 % of codewords.
    H,
}

impl Ecc {
    /// All levels, from the least to the most redundant.
    pub const ALL: [Ecc; 4] = [Ecc::L, Ecc::M, Ecc::Q, Ecc::H];

    fn level(self) -> EcLevel {
        match self {
            Ecc::L => EcLevel::L,
            Ecc::M => EcLevel::M,
            Ecc::Q => EcLevel::Q,
            Ecc::H => EcLevel::H,
        }
    }

    /// The two error-correction bits of the format information (ISO/IEC 18004 Table 12).
    fn format_bits(self) -> u32 {
        match self {
            Ecc::L => 0b01,
            Ecc::M => 0b00,
            Ecc::Q => 0b11,
            Ecc::H => 0b10,
        }
    }
}

impl fmt::Display for Ecc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecc::L => "L",
            Ecc::M => "M",
            Ecc::Q => "Q",
            Ecc::H => "H",
        })
    }
}

impl FromStr for Ecc {
    type Err = ParseEccError;

    /// Parses `L`, `M`, `Q` or `H`, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "L" | "l" => Ok(Ecc::L),
            "M" | "m" => Ok(Ecc::M),
            "Q" | "q" => Ok(Ecc::Q),
            "H" | "h" => Ok(Ecc::H),
            _ => Err(ParseEccError {
                input: s.to_owned(),
            }),
        }
    }
}

/// A string that names no error correction level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error correction level {input:?}: expected L, M, Q or H")]
pub struct ParseEccError {
    /// The rejected input.
    pub input: String,
}

/// Why a QR symbol could not be encoded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The text does not fit the largest QR symbol (version 40) at this error correction level.
    #[error(
        "text of {bytes} bytes needs {needed_bits} data bits; a version 40 QR code holds {capacity_bits} at level {ecc}"
    )]
    TooLong {
        /// Length of the text in bytes.
        bytes: usize,
        /// Requested error correction level.
        ecc: Ecc,
        /// Data bits needed with optimal segmentation at versions 27–40.
        needed_bits: usize,
        /// Data bits available at version 40 and this level.
        capacity_bits: usize,
    },
    /// The QR encoder rejected the segmented data (not expected for any text).
    #[error("the QR encoder failed: {0}")]
    Encode(#[source] QrError),
    /// The module size is outside `1..=MAX_MODULE_PX`.
    #[error("module size {module_px} px is outside 1..={max} px")]
    InvalidModuleSize {
        /// Requested module size.
        module_px: u32,
        /// [`MAX_MODULE_PX`].
        max: u32,
    },
    /// The quiet zone is narrower than the four modules the standard requires.
    #[error("quiet zone of {quiet_zone} modules is narrower than the required {min}")]
    QuietZoneTooSmall {
        /// Requested quiet zone in modules.
        quiet_zone: u32,
        /// [`MIN_QUIET_ZONE`].
        min: u32,
    },
    /// The image would be larger than [`MAX_SIDE_PX`] on a side.
    #[error("a {side_px} px image is larger than the {max} px limit")]
    ImageTooLarge {
        /// Side the image would have, quiet zone included.
        side_px: u64,
        /// [`MAX_SIDE_PX`].
        max: u32,
    },
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

// ---------------------------------------------------------------------------------------------
// The matrix

/// Words per stored row: version 40 is 177 modules wide.
const ROW_WORDS: usize = 3;

/// One row of modules: bit `x % 64` of word `x / 64` is module `x`, 1 = dark; bits past the
/// symbol's width are 0.
type Row = [u64; ROW_WORDS];

/// A finished QR symbol: modules without the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    version: u8,
    ecc: Ecc,
    mask: u8,
    width: usize,
    rows: Vec<Row>,
}

impl QrMatrix {
    /// Encodes `text` in the smallest QR version that holds it at level `ecc`, with optimal
    /// segments and the mask of lowest ISO/IEC 18004 penalty (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`RenderError::TooLong`] when the text does not fit version 40.
    pub fn encode(text: &str, ecc: Ecc) -> Result<Self, RenderError> {
        Self::encode_scored(text.as_bytes(), ecc, Penalty::iso_total)
    }

    fn encode_scored(
        data: &[u8],
        ecc: Ecc,
        score: fn(&Penalty) -> u32,
    ) -> Result<Self, RenderError> {
        let (bits, version) = segment(data, ecc)?;
        let canvas = draw_unmasked(bits, version, ecc)?;
        let symbol = Unmasked::new(&canvas, version, ecc);
        let penalties = symbol.penalties();
        let mut best = 0;
        for (mask, penalty) in penalties.iter().enumerate() {
            // Strictly lower: ties go to the lower mask number, as in `qrcode`.
            if score(penalty) < score(&penalties[best]) {
                best = mask;
            }
        }
        Ok(symbol.finish(best))
    }

    /// QR version, 1–40.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Error correction level.
    pub fn ecc(&self) -> Ecc {
        self.ecc
    }

    /// Mask pattern number (ISO/IEC 18004 Table 10), 0–7.
    pub fn mask(&self) -> u8 {
        self.mask
    }

    /// Modules per side, without the quiet zone: `4 * version + 17`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module in column `x`, row `y` is dark. Coordinates outside the symbol are
    /// light (quiet zone).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width
            && self
                .rows
                .get(y)
                .is_some_and(|row| row[x / 64] >> (x % 64) & 1 == 1)
    }

    /// The horizontal runs of dark modules in row `y`, left to right, as `(first column,
    /// length)`; none for rows outside the symbol. The renderers draw from these.
    pub fn dark_runs(&self, y: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let row = self.rows.get(y).copied().unwrap_or_default();
        let mut from = 0;
        std::iter::from_fn(move || {
            // Bits past the width are light, so a run always ends by `64 * ROW_WORDS`.
            let start = next_bit(&row, from, true)?;
            let end = next_bit(&row, start, false).unwrap_or(64 * ROW_WORDS);
            from = end;
            Some((start, end - start))
        })
    }
}

/// The first position at or after `from` whose bit equals `dark`.
fn next_bit(row: &Row, from: usize, dark: bool) -> Option<usize> {
    let word = |i: usize| row.get(i).map(|&w| if dark { w } else { !w });
    let mut i = from / 64;
    let mut bits = word(i)? & (u64::MAX << (from % 64));
    while bits == 0 {
        i += 1;
        bits = word(i)?;
    }
    Some(i * 64 + bits.trailing_zeros() as usize)
}

/// Segments `data` as `qrcode::bits::encode_auto` does (greedy merge of the parser's segments for
/// each group of versions with equal length-field sizes, then the smallest version of the first
/// group that fits), except that Kanji segments are kept in byte mode.
fn segment(data: &[u8], ecc: Ecc) -> Result<(Bits, u8), RenderError> {
    let level = ecc.level();
    let parsed: Vec<Segment> = Parser::new(data).map(kanji_as_bytes).collect();
    let mut needed_bits = 0;
    for group_last in [9, 26, 40] {
        let group_version = Version::Normal(i16::from(group_last));
        let segments: Vec<Segment> =
            Optimizer::new(parsed.iter().copied(), group_version).collect();
        needed_bits = total_encoded_len(&segments, group_version);
        if needed_bits <= capacity_bits(group_last, level)? {
            let mut version = 1;
            while capacity_bits(version, level)? < needed_bits {
                version += 1;
            }
            let mut bits = Bits::new(Version::Normal(i16::from(version)));
            bits.push_segments(data, segments.into_iter())
                .map_err(RenderError::Encode)?;
            bits.push_terminator(level).map_err(RenderError::Encode)?;
            return Ok((bits, version));
        }
    }
    Err(RenderError::TooLong {
        bytes: data.len(),
        ecc,
        needed_bits,
        capacity_bits: capacity_bits(40, level)?,
    })
}

/// A Kanji segment of `qrcode`'s parser as a byte segment (the same bytes): the parser takes any
/// byte pair in the Shift JIS Kanji range for Kanji, which would mangle UTF-8 text.
fn kanji_as_bytes(s: Segment) -> Segment {
    if s.mode == Mode::Kanji {
        Segment {
            mode: Mode::Byte,
            ..s
        }
    } else {
        s
    }
}

/// Data bits a version holds at a level.
fn capacity_bits(version: u8, level: EcLevel) -> Result<usize, RenderError> {
    Bits::new(Version::Normal(i16::from(version)))
        .max_len(level)
        .map_err(RenderError::Encode)
}

/// Draws everything but the mask and the format information on `qrcode`'s canvas: Reed–Solomon
/// codewords, function patterns (format information reserved as light), data placement.
fn draw_unmasked(bits: Bits, version: u8, ecc: Ecc) -> Result<Canvas, RenderError> {
    let qr_version = Version::Normal(i16::from(version));
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), qr_version, ecc.level())
        .map_err(RenderError::Encode)?;
    let mut canvas = Canvas::new(qr_version, ecc.level());
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    Ok(canvas)
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Size of rendered images. All renderers validate it the same way, so one `(matrix, options)`
/// pair renders in every format or in none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Pixels per module side, `1..=MAX_MODULE_PX` (default 8). In SVG it only sets the
    /// `width`/`height` attributes.
    pub module_px: u32,
    /// Light border in modules, at least [`MIN_QUIET_ZONE`] (default 4).
    pub quiet_zone: u32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            module_px: 8,
            quiet_zone: MIN_QUIET_ZONE,
        }
    }
}

impl RenderOptions {
    /// Side in pixels of the image of `m`, quiet zone included.
    ///
    /// # Errors
    ///
    /// [`RenderError::InvalidModuleSize`], [`RenderError::QuietZoneTooSmall`] or
    /// [`RenderError::ImageTooLarge`] when the options are out of range for `m`.
    pub fn side_px(&self, m: &QrMatrix) -> Result<u32, RenderError> {
        Ok(self.geometry(m)?.side_px_u32)
    }

    fn geometry(&self, m: &QrMatrix) -> Result<Geometry, RenderError> {
        if !(1..=MAX_MODULE_PX).contains(&self.module_px) {
            return Err(RenderError::InvalidModuleSize {
                module_px: self.module_px,
                max: MAX_MODULE_PX,
            });
        }
        if self.quiet_zone < MIN_QUIET_ZONE {
            return Err(RenderError::QuietZoneTooSmall {
                quiet_zone: self.quiet_zone,
                min: MIN_QUIET_ZONE,
            });
        }
        let side_modules = m.width as u64 + 2 * u64::from(self.quiet_zone);
        let side_px = side_modules * u64::from(self.module_px);
        let too_large = RenderError::ImageTooLarge {
            side_px,
            max: MAX_SIDE_PX,
        };
        let side_px_u32 = u32::try_from(side_px)
            .ok()
            .filter(|&s| s <= MAX_SIDE_PX)
            .ok_or(too_large)?;
        // Both fit in u32 now, hence in usize.
        Ok(Geometry {
            module_px: self.module_px as usize,
            quiet: self.quiet_zone as usize,
            side_modules: side_modules as usize,
            side_px: side_px_u32 as usize,
            side_px_u32,
        })
    }
}

/// Validated [`RenderOptions`] for one matrix.
struct Geometry {
    module_px: usize,
    quiet: usize,
    side_modules: usize,
    side_px: usize,
    side_px_u32: u32,
}

/// Renders `m` as a 1-bit grayscale PNG (black modules on white).
///
/// Rows are written with the PNG "Up" filter, which turns every repeated pixel row into zeros,
/// and compressed with `fdeflate`'s fastest mode (`png::Compression::Fastest`).
///
/// # Errors
///
/// As [`RenderOptions::side_px`], or [`RenderError::Png`] if the PNG encoder fails.
pub fn to_png(m: &QrMatrix, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
    let g = opts.geometry(m)?;
    let stride = g.side_px.div_ceil(8);
    // 1 = white in 1-bit grayscale.
    let mut raw = vec![0xff_u8; stride * g.side_px];
    let quiet_px = g.quiet * g.module_px;
    let module_rows = raw[quiet_px * stride..].chunks_exact_mut(stride * g.module_px);
    for (y, band) in module_rows.take(m.width).enumerate() {
        let (first, copies) = band.split_at_mut(stride);
        for (x, len) in m.dark_runs(y) {
            clear_bits(first, quiet_px + x * g.module_px, len * g.module_px);
        }
        for copy in copies.chunks_exact_mut(stride) {
            copy.copy_from_slice(first);
        }
    }
    encode_png(&raw, g.side_px_u32, png::Compression::Fastest)
}

fn encode_png(
    raw: &[u8],
    side: u32,
    compression: png::Compression,
) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::with_capacity(raw.len() / 8 + 1024);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(compression);
    encoder.set_filter(png::Filter::Up);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(raw)?;
    writer.finish()?;
    Ok(out)
}

/// Clears bits `start..start + len` of a 1-bit row, most significant bit first.
fn clear_bits(row: &mut [u8], start: usize, len: usize) {
    let end = start + len;
    let mut i = start;
    while i < end && !i.is_multiple_of(8) {
        row[i / 8] &= !(0x80 >> (i % 8));
        i += 1;
    }
    while i + 8 <= end {
        row[i / 8] = 0;
        i += 8;
    }
    while i < end {
        row[i / 8] &= !(0x80 >> (i % 8));
        i += 1;
    }
}

/// Renders `m` as SVG: a white background square and one black `<path>` made of one rectangle
/// per horizontal run of dark modules. The `viewBox` is in modules (quiet zone included);
/// `width` and `height` are in pixels.
///
/// # Errors
///
/// As [`RenderOptions::side_px`].
pub fn to_svg(m: &QrMatrix, opts: &RenderOptions) -> Result<String, RenderError> {
    let g = opts.geometry(m)?;
    let (n, px) = (g.side_modules, g.side_px);
    let header = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {n} {n}" shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d=""##
    );
    // Built as ASCII bytes: pushing chars one by one into a String costs more than the rest.
    let mut svg = Vec::with_capacity(header.len() + m.width * m.width * 3);
    svg.extend_from_slice(header.as_bytes());
    // After `z` the current point is the start of the closed rectangle; move relative to it.
    let mut at: Option<(usize, usize)> = None;
    for y in 0..m.width {
        for (x, len) in m.dark_runs(y) {
            let (ax, ay) = (x + g.quiet, y + g.quiet);
            match at {
                None => {
                    svg.push(b'M');
                    push_num(&mut svg, ax, false);
                    svg.push(b' ');
                    push_num(&mut svg, ay, false);
                }
                Some((last_x, last_y)) => {
                    svg.push(b'm');
                    push_num(&mut svg, ax.abs_diff(last_x), ax < last_x);
                    svg.push(b' ');
                    push_num(&mut svg, ay - last_y, false);
                }
            }
            svg.push(b'h');
            push_num(&mut svg, len, false);
            svg.extend_from_slice(b"v1h-");
            push_num(&mut svg, len, false);
            svg.push(b'z');
            at = Some((ax, ay));
        }
    }
    svg.extend_from_slice(br#""/></svg>"#);
    // Only ASCII was written, so the lossy branch is never taken.
    Ok(String::from_utf8(svg)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Appends `n` in decimal, with a minus sign when `negative` (and `n` ≠ 0).
fn push_num(out: &mut Vec<u8>, n: usize, negative: bool) {
    if negative && n != 0 {
        out.push(b'-');
    }
    let mut digits = [0_u8; 20];
    let mut i = digits.len();
    let mut rest = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Renders `m` as an 8-bit grayscale image: 0 for dark modules, 255 for light ones and the quiet
/// zone.
///
/// # Errors
///
/// As [`RenderOptions::side_px`].
pub fn to_luma_image(m: &QrMatrix, opts: &RenderOptions) -> Result<GrayImage, RenderError> {
    let g = opts.geometry(m)?;
    let mut image = GrayImage::new(g.side_px_u32, g.side_px_u32);
    let pixels: &mut [u8] = &mut image;
    pixels.fill(255);
    let stride = g.side_px;
    let quiet_px = g.quiet * g.module_px;
    let module_rows = pixels[quiet_px * stride..].chunks_exact_mut(stride * g.module_px);
    for (y, band) in module_rows.take(m.width).enumerate() {
        let (first, copies) = band.split_at_mut(stride);
        for (x, len) in m.dark_runs(y) {
            let start = quiet_px + x * g.module_px;
            first[start..start + len * g.module_px].fill(0);
        }
        for copy in copies.chunks_exact_mut(stride) {
            copy.copy_from_slice(first);
        }
    }
    Ok(image)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    // Deterministic test inputs: the workspace's shared test RNG.
    pub(super) use permit_shared::fixtures::TestRng as Rng;
    use qrcode::QrCode;
    use qrcode::types::Color;

    fn credential_text(rng: &mut Rng) -> String {
        let n = 100 + rng.below(651);
        format!("GDRP1:{}", rng.digits(n))
    }

    fn url_text(rng: &mut Rng) -> String {
        const CHARS: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%/?=&+ :";
        let hosts = [
            "https://gd.example.cn/",
            "http://a.b/",
            "HTTPS://PERMIT.GD.GOV.CN/V/",
        ];
        let n = rng.below(400);
        let tail: String = (0..n)
            .map(|_| char::from(CHARS[rng.below(CHARS.len())]))
            .collect();
        format!("{}{tail}", rng.pick(&hosts))
    }

    fn chinese_text(rng: &mut Rng) -> String {
        let words = [
            "广东省",
            "居住证",
            "深圳市",
            "广州",
            "姓名：",
            "张三",
            "有效期至",
            "2031-12-31",
            " ",
            "№",
            "ｱ",
            "é",
        ];
        let n = 1 + rng.below(60);
        (0..n).map(|_| *rng.pick(&words)).collect()
    }

    /// `qrcode`'s total with its own N4; its N3 offset of −720 is constant and omitted.
    pub(super) fn qrcode_total(p: &Penalty) -> u32 {
        let ratio = p.dark * 200 / p.modules;
        p.n1 + p.n2 + p.n3 + ratio.abs_diff(100)
    }

    fn modules_of(code: &QrCode) -> Vec<bool> {
        code.to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect()
    }

    pub(super) fn modules(m: &QrMatrix) -> Vec<bool> {
        (0..m.width)
            .flat_map(|y| (0..m.width).map(move |x| m.is_dark(x, y)))
            .collect()
    }

    fn assert_same_as_qrcode(m: &QrMatrix, code: &QrCode, what: &str) {
        assert_eq!(
            Version::Normal(i16::from(m.version())),
            code.version(),
            "{what}: version"
        );
        assert_eq!(m.width(), code.width(), "{what}: width");
        assert!(
            modules(m) == modules_of(code),
            "{what}: modules differ from qrcode's"
        );
    }

    fn decode(m: &QrMatrix) -> String {
        let image = to_luma_image(
            m,
            &RenderOptions {
                module_px: 3,
                quiet_zone: 4,
            },
        )
        .unwrap();
        let (w, h) = image.dimensions();
        let found = rxing::helpers::detect_in_luma(
            image.into_raw(),
            w,
            h,
            Some(rxing::BarcodeFormat::QR_CODE),
        )
        .unwrap();
        found.getText().to_owned()
    }

    /// Encodes with both mask rules: `qrcode`'s rule must reproduce `qrcode`'s symbol (`reference`),
    /// and the ISO rule must give the same symbol whenever it picks the same mask and a symbol that
    /// decodes to `text` otherwise. Returns whether the masks differed.
    fn check_both_rules(text: &str, ecc: Ecc, reference: &QrCode) -> bool {
        let compatible = QrMatrix::encode_scored(text.as_bytes(), ecc, qrcode_total).unwrap();
        assert_same_as_qrcode(&compatible, reference, text);
        let iso = QrMatrix::encode(text, ecc).unwrap();
        if iso.mask() == compatible.mask() {
            assert_eq!(iso, compatible, "{text}");
            false
        } else {
            assert_eq!(iso.version(), compatible.version());
            assert_eq!(decode(&iso), text, "ISO mask {} at {ecc}", iso.mask());
            true
        }
    }

    #[test]
    fn credential_texts_match_qrcode() {
        let mut rng = Rng::new(0x5eed_0001);
        let (mut cases, mut differing) = (0, 0);
        for _ in 0..200 {
            let text = credential_text(&mut rng);
            for ecc in Ecc::ALL {
                let reference = QrCode::with_error_correction_level(&text, ecc.level()).unwrap();
                differing += usize::from(check_both_rules(&text, ecc, &reference));
                cases += 1;
            }
        }
        eprintln!(
            "credential texts: ISO N4 picked another mask than qrcode in {differing} of {cases} symbols"
        );
    }

    #[test]
    fn byte_mode_texts_match_qrcode() {
        let mut rng = Rng::new(0x5eed_0002);
        let (mut cases, mut differing) = (0, 0);
        for _ in 0..60 {
            let text = url_text(&mut rng);
            for ecc in Ecc::ALL {
                let reference = QrCode::with_error_correction_level(&text, ecc.level()).unwrap();
                differing += usize::from(check_both_rules(&text, ecc, &reference));
                cases += 1;
            }
        }
        for _ in 0..40 {
            // qrcode would use Kanji mode here; compare against qrcode fed our segments instead.
            let text = chinese_text(&mut rng);
            let ecc = Ecc::ALL[rng.below(4)];
            let (bits, _) = segment(text.as_bytes(), ecc).unwrap();
            let reference = QrCode::with_bits(bits, ecc.level()).unwrap();
            differing += usize::from(check_both_rules(&text, ecc, &reference));
            cases += 1;
            assert_eq!(decode(&QrMatrix::encode(&text, ecc).unwrap()), text);
        }
        eprintln!(
            "byte-mode texts: ISO N4 picked another mask than qrcode in {differing} of {cases} symbols"
        );
    }

    #[test]
    fn qrcode_segmenter_puts_utf8_chinese_in_kanji_mode() {
        // Why `segment` maps Kanji segments to byte mode.
        let text = "广东省居住证";
        assert!(Parser::new(text.as_bytes()).any(|s| s.mode == Mode::Kanji));
        let ours: Vec<Segment> = Parser::new(text.as_bytes()).map(kanji_as_bytes).collect();
        assert!(ours.iter().all(|s| s.mode == Mode::Byte));
    }

    #[test]
    fn credential_versions() {
        let mut rng = Rng::new(0x5eed_0005);
        for (digits, at_m, at_q) in [
            (550, 11, 13),
            (590, 11, 14),
            (591, 12, 14),
            (600, 12, 14),
            (640, 12, 15),
            (676, 12, 15),
            (677, 13, 15),
            (688, 13, 15),
            (689, 13, 16),
            (700, 13, 16),
        ] {
            let text = format!("GDRP1:{}", rng.digits(digits));
            let m = QrMatrix::encode(&text, Ecc::M).unwrap();
            let q = QrMatrix::encode(&text, Ecc::Q).unwrap();
            assert_eq!((m.version(), q.version()), (at_m, at_q), "{digits} digits");
            for (ours, ecc) in [(&m, Ecc::M), (&q, Ecc::Q)] {
                let theirs = QrCode::with_error_correction_level(&text, ecc.level()).unwrap();
                assert_eq!(theirs.version(), Version::Normal(i16::from(ours.version())));
            }
        }
    }

    #[test]
    fn credential_segments_are_alphanumeric_then_numeric() {
        let text = format!("GDRP1:{}", "9".repeat(600));
        let segments: Vec<Segment> =
            Optimizer::new(Parser::new(text.as_bytes()), Version::Normal(26)).collect();
        assert_eq!(
            segments,
            [
                Segment {
                    mode: Mode::Alphanumeric,
                    begin: 0,
                    end: 6
                },
                Segment {
                    mode: Mode::Numeric,
                    begin: 6,
                    end: 606
                }
            ]
        );
    }

    #[test]
    fn ecc_parses_and_displays() {
        for (s, ecc) in [("L", Ecc::L), ("m", Ecc::M), ("Q", Ecc::Q), ("h", Ecc::H)] {
            assert_eq!(s.parse::<Ecc>(), Ok(ecc));
            assert_eq!(ecc.to_string(), s.to_uppercase());
        }
        assert_eq!(
            "X".parse::<Ecc>(),
            Err(ParseEccError {
                input: "X".to_owned()
            })
        );
        assert!("".parse::<Ecc>().is_err());
        assert!("MM".parse::<Ecc>().is_err());
    }

    fn sample() -> QrMatrix {
        let mut rng = Rng::new(0x5eed_0006);
        QrMatrix::encode(&format!("GDRP1:{}", rng.digits(640)), Ecc::M).unwrap()
    }

    #[test]
    fn png_decodes_to_the_matrix() {
        let m = sample();
        for opts in [
            RenderOptions::default(),
            RenderOptions {
                module_px: 3,
                quiet_zone: 5,
            },
            RenderOptions {
                module_px: 1,
                quiet_zone: 4,
            },
        ] {
            let png = to_png(&m, &opts).unwrap();
            let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
                .unwrap()
                .into_luma8();
            let side = (m.width() + 2 * opts.quiet_zone as usize) * opts.module_px as usize;
            assert_eq!(image.dimensions(), (side as u32, side as u32));
            assert_eq!(opts.side_px(&m).unwrap(), side as u32);
            let (px, q) = (opts.module_px as usize, opts.quiet_zone as usize);
            for (x, y, pixel) in image.enumerate_pixels() {
                let (mx, my) = (x as usize / px, y as usize / px);
                let dark = mx >= q && my >= q && m.is_dark(mx - q, my - q);
                assert_eq!(pixel.0[0], if dark { 0 } else { 255 }, "pixel ({x},{y})");
            }
            // Module centres, stated separately for the record.
            let c = |i: usize| ((q + i) * px + px / 2) as u32;
            assert_eq!(image.get_pixel(c(0), c(0)).0[0], 0, "finder corner");
            assert_eq!(image.get_pixel(c(1), c(1)).0[0], 255, "finder ring");
            assert_eq!(image, to_luma_image(&m, &opts).unwrap());
        }
    }

    #[test]
    fn luma_image_decodes_with_the_verifier_decoder() {
        let m = sample();
        let mut rng = Rng::new(0x5eed_0006);
        assert_eq!(decode(&m), format!("GDRP1:{}", rng.digits(640)));
    }

    /// Rasterises the dark path of an SVG written by `to_svg` back to modules.
    fn parse_svg(svg: &str) -> (usize, Vec<Vec<bool>>) {
        let view = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
        let n: usize = view.split(' ').next().unwrap().parse().unwrap();
        let d = svg
            .split("<path fill=\"#000\" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut grid = vec![vec![false; n]; n];
        let (mut x, mut y) = (0_i64, 0_i64);
        let mut chars = d.chars().peekable();
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> i64 {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == '-' || c.is_ascii_digit() {
                    s.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            s.parse().unwrap()
        };
        while let Some(command) = chars.next() {
            match command {
                'M' | 'm' => {
                    let dx = number(&mut chars);
                    assert_eq!(chars.next(), Some(' '));
                    let dy = number(&mut chars);
                    (x, y) = if command == 'M' {
                        (dx, dy)
                    } else {
                        (x + dx, y + dy)
                    };
                    assert_eq!(chars.next(), Some('h'));
                    let len = number(&mut chars);
                    assert!(len > 0);
                    let rest: String = chars.by_ref().take(3).collect();
                    assert_eq!(rest, "v1h");
                    assert_eq!(number(&mut chars), -len);
                    assert_eq!(chars.next(), Some('z'));
                    for i in x..x + len {
                        assert!(!grid[y as usize][i as usize], "overlapping runs");
                        grid[y as usize][i as usize] = true;
                    }
                }
                other => panic!("unexpected path command {other:?}"),
            }
        }
        (n, grid)
    }

    #[test]
    fn svg_has_one_path_that_draws_the_matrix() {
        let m = sample();
        let opts = RenderOptions {
            module_px: 5,
            quiet_zone: 4,
        };
        let svg = to_svg(&m, &opts).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 1);
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        let side = (m.width() + 8) * 5;
        assert!(svg.contains(&format!(r#"width="{side}" height="{side}""#)));
        let (n, grid) = parse_svg(&svg);
        assert_eq!(n, m.width() + 8);
        let drawn = grid.iter().flatten().filter(|&&d| d).count();
        assert_eq!(drawn, modules(&m).into_iter().filter(|&d| d).count());
        for (y, row) in grid.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let inside = (4..4 + m.width()).contains(&x) && (4..4 + m.width()).contains(&y);
                assert_eq!(dark, inside && m.is_dark(x - 4, y - 4), "({x},{y})");
            }
        }
    }

    #[test]
    fn invalid_options_are_rejected_by_every_renderer() {
        let m = sample();
        let cases = [
            (
                RenderOptions {
                    module_px: 0,
                    quiet_zone: 4,
                },
                "InvalidModuleSize",
            ),
            (
                RenderOptions {
                    module_px: 65,
                    quiet_zone: 4,
                },
                "InvalidModuleSize",
            ),
            (
                RenderOptions {
                    module_px: 8,
                    quiet_zone: 3,
                },
                "QuietZoneTooSmall",
            ),
            (
                RenderOptions {
                    module_px: 64,
                    quiet_zone: 100,
                },
                "ImageTooLarge",
            ),
            (
                RenderOptions {
                    module_px: 1,
                    quiet_zone: u32::MAX,
                },
                "ImageTooLarge",
            ),
        ];
        for (opts, expected) in cases {
            for err in [
                to_png(&m, &opts).unwrap_err(),
                to_svg(&m, &opts).unwrap_err(),
                to_luma_image(&m, &opts).unwrap_err(),
                opts.side_px(&m).unwrap_err(),
            ] {
                assert!(
                    format!("{err:?}").starts_with(expected),
                    "{opts:?}: {err:?}"
                );
            }
        }
        assert!(matches!(
            to_png(
                &m,
                &RenderOptions {
                    module_px: 0,
                    quiet_zone: 4
                }
            ),
            Err(RenderError::InvalidModuleSize {
                module_px: 0,
                max: MAX_MODULE_PX
            })
        ));
        // Version 40 (177 modules + 8) fits at 54 px, not at 55.
        let v40 = QrMatrix::encode(&"7".repeat(7000), Ecc::L).unwrap();
        assert_eq!(v40.version(), 40);
        assert_eq!(
            RenderOptions {
                module_px: 54,
                quiet_zone: 4
            }
            .side_px(&v40)
            .unwrap(),
            9990
        );
        assert!(matches!(
            RenderOptions {
                module_px: 55,
                quiet_zone: 4
            }
            .side_px(&v40),
            Err(RenderError::ImageTooLarge {
                side_px: 10175,
                max: MAX_SIDE_PX
            })
        ));
    }

    #[test]
    fn too_long_for_version_40() {
        let err = QrMatrix::encode(&"7".repeat(7090), Ecc::L).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::TooLong {
                    bytes: 7090,
                    ecc: Ecc::L,
                    needed_bits: 23_652,
                    capacity_bits: 23_648
                }
            ),
            "{err:?}"
        );
        assert!(QrMatrix::encode(&"7".repeat(7089), Ecc::L).is_ok());
        let err = QrMatrix::encode(&"字".repeat(1000), Ecc::H).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::TooLong {
                    bytes: 3000,
                    ecc: Ecc::H,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn matrix_accessors() {
        let m = QrMatrix::encode("", Ecc::H).unwrap();
        assert_eq!((m.version(), m.width(), m.ecc()), (1, 21, Ecc::H));
        assert!(m.mask() < 8);
        // Finder corners dark; outside the symbol light.
        assert!(m.is_dark(0, 0) && m.is_dark(20, 0) && m.is_dark(0, 20));
        assert!(!m.is_dark(21, 0) && !m.is_dark(0, 21) && !m.is_dark(usize::MAX, usize::MAX));
        // The dark module next to the bottom-left finder.
        assert!(m.is_dark(8, 13));
    }
}
