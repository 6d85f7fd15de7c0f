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
//! Everything except the mask choice is done by the `qrcode` crate's public building blocks:
//! `optimize::{Parser, Optimizer}` and `bits::Bits` for the segments (the `GDRP1:` prefix in one
//! alphanumeric segment, the digits in one numeric segment) and the smallest version,
//! `ec::construct_codewords`, `canvas::Canvas::{draw_all_functional_patterns, draw_data}`, and
//! finally `Canvas::apply_mask` with the chosen pattern, which also draws the format information.
//!
//! `qrcode` picks the mask in `Canvas::apply_best_mask`, which scores all eight masked symbols
//! module by module; that takes most of its encoding time. Its penalty functions are private, so
//! this module scores the eight masks itself on bit-packed rows and columns (ISO/IEC 18004 §7.8.3,
//! rules N1–N4, evaluated on the whole symbol with its format information, as `qrcode` does).
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

use std::fmt;
use std::ops::{BitAnd, BitOr, BitXor, Not};
use std::str::FromStr;

use image::{GrayImage, Luma};
use qrcode::bits::Bits;
use qrcode::canvas::{Canvas, MaskPattern, Module};
use qrcode::optimize::{Optimizer, Parser, Segment, total_encoded_len};
use qrcode::types::{Color, EcLevel, Mode, QrError, Version};

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

/// Bits per stored row: version 40 is 177 modules wide.
const ROW_WORDS: usize = 3;

/// One row (or column) of modules, bit `i` of word `i / 64` = module `i`, 1 = dark.
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
        let symbol = Unmasked::new(bits, version, ecc)?;
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

    /// Dark runs of row `y` as `(first column, length)`.
    fn dark_runs(&self, y: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut x = 0;
        std::iter::from_fn(move || {
            while x < self.width && !self.is_dark(x, y) {
                x += 1;
            }
            let start = x;
            while x < self.width && self.is_dark(x, y) {
                x += 1;
            }
            (x > start).then_some((start, x - start))
        })
    }
}

/// Segments `data` as `qrcode::bits::encode_auto` does (greedy merge of the parser's segments for
/// each group of versions with equal length-field sizes, then the smallest version of the first
/// group that fits), except that Kanji segments are kept in byte mode.
fn segment(data: &[u8], ecc: Ecc) -> Result<(Bits, u8), RenderError> {
    let level = ecc.level();
    let parsed: Vec<Segment> = Parser::new(data)
        .map(|s| {
            if s.mode == Mode::Kanji {
                Segment {
                    mode: Mode::Byte,
                    ..s
                }
            } else {
                s
            }
        })
        .collect();
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

/// Data bits a version holds at a level.
fn capacity_bits(version: u8, level: EcLevel) -> Result<usize, RenderError> {
    Bits::new(Version::Normal(i16::from(version)))
        .max_len(level)
        .map_err(RenderError::Encode)
}

// ---------------------------------------------------------------------------------------------
// Mask choice

/// The masks in pattern-number order, as `qrcode` tries them.
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// Every mask repeats with this period in both directions.
const MASK_PERIOD: usize = 12;

/// Whether mask `mask` inverts the module in column `x`, row `y` (ISO/IEC 18004 Table 10).
const fn mask_inverts(mask: usize, x: usize, y: usize) -> bool {
    match mask {
        0 => (x + y) % 2 == 0,
        1 => y % 2 == 0,
        2 => x % 3 == 0,
        3 => (x + y) % 3 == 0,
        4 => (y / 2 + x / 3) % 2 == 0,
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3) % 2 == 0,
        _ => ((x + y) % 2 + (x * y) % 3) % 2 == 0,
    }
}

/// `table[mask][r]`: the modules mask `mask` inverts in row `r` (or, transposed, column `r`),
/// valid for every row (column) congruent to `r` modulo [`MASK_PERIOD`].
const fn mask_table(transposed: bool) -> [[Row; MASK_PERIOD]; 8] {
    let mut table = [[[0; ROW_WORDS]; MASK_PERIOD]; 8];
    let mut mask = 0;
    while mask < 8 {
        let mut r = 0;
        while r < MASK_PERIOD {
            let mut i = 0;
            while i < 64 * ROW_WORDS {
                let (x, y) = if transposed { (r, i) } else { (i, r) };
                if mask_inverts(mask, x, y) {
                    table[mask][r][i / 64] |= 1 << (i % 64);
                }
                i += 1;
            }
            r += 1;
        }
        mask += 1;
    }
    table
}

static MASK_ROWS: [[Row; MASK_PERIOD]; 8] = mask_table(false);
static MASK_COLUMNS: [[Row; MASK_PERIOD]; 8] = mask_table(true);

/// The 15-bit format information for a level and mask: BCH(15,5) with generator 0x537, XORed
/// with 0x5412 (ISO/IEC 18004 §7.9.1).
fn format_information(ecc: Ecc, mask: usize) -> u32 {
    let data = ecc.format_bits() << 3 | (mask as u32 & 0b111);
    let mut rem = data;
    for _ in 0..10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    }
    ((data << 10) | rem) ^ 0x5412
}

/// The cells of both format-information copies as `(x, y, bit)`, in the order `qrcode` draws
/// them (most significant bit first).
fn format_cells(width: usize) -> [(usize, usize, u32); 30] {
    let w = width;
    let main = [
        (0, 8),
        (1, 8),
        (2, 8),
        (3, 8),
        (4, 8),
        (5, 8),
        (7, 8),
        (8, 8),
        (8, 7),
        (8, 5),
        (8, 4),
        (8, 3),
        (8, 2),
        (8, 1),
        (8, 0),
    ];
    let side = [
        (8, w - 1),
        (8, w - 2),
        (8, w - 3),
        (8, w - 4),
        (8, w - 5),
        (8, w - 6),
        (8, w - 7),
        (w - 8, 8),
        (w - 7, 8),
        (w - 6, 8),
        (w - 5, 8),
        (w - 4, 8),
        (w - 3, 8),
        (w - 2, 8),
        (w - 1, 8),
    ];
    let mut cells = [(0, 0, 0); 30];
    for (i, (x, y)) in main.into_iter().chain(side).enumerate() {
        cells[i] = (x, y, 14 - (i % 15) as u32);
    }
    cells
}

/// A symbol with everything drawn but the mask and the format information.
struct Unmasked {
    canvas: Canvas,
    version: u8,
    ecc: Ecc,
    width: usize,
    /// Module colours before masking; the format information is reserved as light.
    base: Vec<Row>,
    /// The modules a mask applies to: data, error correction and remainder bits.
    data: Vec<Row>,
    /// `base` transposed: `base_t[x]` bit `y`.
    base_t: Vec<Row>,
    /// `data` transposed.
    data_t: Vec<Row>,
    format_cells: [(usize, usize, u32); 30],
}

impl Unmasked {
    fn new(bits: Bits, version: u8, ecc: Ecc) -> Result<Self, RenderError> {
        let qr_version = Version::Normal(i16::from(version));
        let (data_codewords, ec_codewords) =
            qrcode::ec::construct_codewords(&bits.into_bytes(), qr_version, ecc.level())
                .map_err(RenderError::Encode)?;
        let mut canvas = Canvas::new(qr_version, ecc.level());
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data_codewords, &ec_codewords);

        let width = usize::from(version) * 4 + 17;
        let mut base = vec![[0; ROW_WORDS]; width];
        let mut data = vec![[0; ROW_WORDS]; width];
        let mut base_t = vec![[0; ROW_WORDS]; width];
        let mut data_t = vec![[0; ROW_WORDS]; width];
        for (y, qy) in (0..width).zip(0_i16..) {
            for (x, qx) in (0..width).zip(0_i16..) {
                let (dark, maskable) = match canvas.get(qx, qy) {
                    Module::Masked(color) => (color == Color::Dark, false),
                    Module::Unmasked(color) => (color == Color::Dark, true),
                    // Remainder bits: light before masking.
                    Module::Empty => (false, true),
                };
                if dark {
                    base[y][x / 64] |= 1 << (x % 64);
                    base_t[x][y / 64] |= 1 << (y % 64);
                }
                if maskable {
                    data[y][x / 64] |= 1 << (x % 64);
                    data_t[x][y / 64] |= 1 << (y % 64);
                }
            }
        }
        Ok(Self {
            canvas,
            version,
            ecc,
            width,
            base,
            data,
            base_t,
            data_t,
            format_cells: format_cells(width),
        })
    }

    /// Penalties of the eight masked symbols, on the narrowest word count that holds a row.
    fn penalties(&self) -> [Penalty; 8] {
        match self.width {
            0..=64 => self.penalties_in::<1>(),
            65..=128 => self.penalties_in::<2>(),
            _ => self.penalties_in::<3>(),
        }
    }

    fn penalties_in<const N: usize>(&self) -> [Penalty; 8] {
        let mut rows = vec![Line::<N>::ZERO; self.width];
        let mut columns = vec![Line::<N>::ZERO; self.width];
        let mut penalties = [Penalty::default(); 8];
        for (mask, penalty) in penalties.iter_mut().enumerate() {
            self.draw_masked(mask, &mut rows, &mut columns);
            *penalty = Penalty::of(&rows, &columns, self.width);
        }
        penalties
    }

    /// The symbol with mask `mask` and its format information, as rows and as columns.
    fn draw_masked<const N: usize>(
        &self,
        mask: usize,
        rows: &mut [Line<N>],
        columns: &mut [Line<N>],
    ) {
        let masks = &MASK_ROWS[mask];
        for (y, row) in rows.iter_mut().enumerate() {
            *row = Line::from_row(&self.base[y])
                ^ (Line::from_row(&masks[y % MASK_PERIOD]) & Line::from_row(&self.data[y]));
        }
        let masks = &MASK_COLUMNS[mask];
        for (x, column) in columns.iter_mut().enumerate() {
            *column = Line::from_row(&self.base_t[x])
                ^ (Line::from_row(&masks[x % MASK_PERIOD]) & Line::from_row(&self.data_t[x]));
        }
        let format = format_information(self.ecc, mask);
        for &(x, y, bit) in &self.format_cells {
            let dark = format >> bit & 1 == 1;
            rows[y].set(x, dark);
            columns[x].set(y, dark);
        }
    }

    /// Applies mask `mask` with `qrcode`'s own `apply_mask` (which also draws the format
    /// information) and packs the result.
    fn finish(mut self, mask: usize) -> QrMatrix {
        self.canvas.apply_mask(MASKS[mask]);
        let mut rows = vec![[0; ROW_WORDS]; self.width];
        for (i, color) in self.canvas.into_colors().into_iter().enumerate() {
            if color == Color::Dark {
                let (y, x) = (i / self.width, i % self.width);
                rows[y][x / 64] |= 1 << (x % 64);
            }
        }
        QrMatrix {
            version: self.version,
            ecc: self.ecc,
            mask: MASKS[mask] as u8,
            width: self.width,
            rows,
        }
    }
}

/// Penalty points of one masked symbol (ISO/IEC 18004 §7.8.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Penalty {
    /// N1: 3 + i points per run of 5 + i modules of one colour, rows and columns.
    n1: u32,
    /// N2: 3 points per 2×2 block of one colour (overlapping blocks all count).
    n2: u32,
    /// N3: 40 points per 1:1:3:1:1 pattern with four light modules on at least one side, rows
    /// and columns, the finder patterns included (`qrcode` subtracts their constant 720).
    n3: u32,
    /// Dark modules.
    dark: u32,
    /// All modules.
    modules: u32,
}

impl Penalty {
    fn of<const N: usize>(rows: &[Line<N>], columns: &[Line<N>], width: usize) -> Self {
        // Positions 0..width-1: "module i equals module i + 1" exists only there.
        let pairs = Line::<N>::low_bits(width - 1);
        let (mut runs, mut blocks, mut finders, mut dark) = (0, 0, 0, 0);
        let mut above: Option<(Line<N>, Line<N>)> = None;
        for &row in rows {
            let same = !(row ^ row.shr(1)) & pairs;
            runs += run_points(same);
            finders += finder_patterns(row);
            dark += row.count();
            if let Some((above_row, above_same)) = above {
                blocks += (same & above_same & !(row ^ above_row)).count();
            }
            above = Some((row, same));
        }
        for &column in columns {
            runs += run_points(!(column ^ column.shr(1)) & pairs);
            finders += finder_patterns(column);
        }
        let width = rows.len() as u32;
        Penalty {
            n1: runs,
            n2: 3 * blocks,
            n3: 40 * finders,
            dark,
            modules: width * width,
        }
    }

    /// N4 as ISO/IEC 18004 defines it: 10 points per full 5 % step away from 50 % dark.
    fn n4_iso(&self) -> u32 {
        10 * ((2 * self.dark).abs_diff(self.modules) * 10 / self.modules)
    }

    /// Total with the standard's N4: the score this module minimises.
    fn iso_total(&self) -> u32 {
        self.n1 + self.n2 + self.n3 + self.n4_iso()
    }
}

/// N1 points of one line, given `same` = "module i equals module i + 1".
fn run_points<const N: usize>(same: Line<N>) -> u32 {
    // Bit i: modules i..=i+4 share one colour. A run of 5 + k modules sets k + 1 consecutive bits;
    // runs are separated by at least four clear bits.
    let fives = same & same.shr(1) & same.shr(2) & same.shr(3);
    if fives.is_zero() {
        return 0;
    }
    let firsts = fives & !fives.shl(1);
    fives.count() + 2 * firsts.count()
}

/// N3 occurrences in one line: dark-light-dark-dark-dark-light-dark starting at i, with modules
/// i-4..i or i+7..i+11 all light (outside the line counts as light).
fn finder_patterns<const N: usize>(m: Line<N>) -> u32 {
    let core = m & !m.shr(1) & m.shr(2) & m.shr(3) & m.shr(4) & !m.shr(5) & m.shr(6);
    if core.is_zero() {
        return 0;
    }
    let light_before = !(m.shl(1) | m.shl(2) | m.shl(3) | m.shl(4));
    let light_after = !(m.shr(7) | m.shr(8) | m.shr(9) | m.shr(10));
    (core & (light_before | light_after)).count()
}

/// A row or column of up to `64 * N` modules; bits past the symbol's width are zero (light).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line<const N: usize>([u64; N]);

impl<const N: usize> Line<N> {
    const ZERO: Self = Self([0; N]);

    fn from_row(row: &Row) -> Self {
        Self(std::array::from_fn(|i| row[i]))
    }

    /// Bits `0..n` set.
    fn low_bits(n: usize) -> Self {
        Self(std::array::from_fn(|i| match n.saturating_sub(64 * i) {
            0 => 0,
            k if k >= 64 => u64::MAX,
            k => (1 << k) - 1,
        }))
    }

    /// Bit `i` of the result is bit `i + k` of `self`; `0 < k < 64`.
    fn shr(self, k: u32) -> Self {
        let w = self.0;
        Self(std::array::from_fn(|i| {
            (w[i] >> k) | if i + 1 < N { w[i + 1] << (64 - k) } else { 0 }
        }))
    }

    /// Bit `i` of the result is bit `i - k` of `self` (zero below `k`); `0 < k < 64`.
    fn shl(self, k: u32) -> Self {
        let w = self.0;
        Self(std::array::from_fn(|i| {
            (w[i] << k) | if i > 0 { w[i - 1] >> (64 - k) } else { 0 }
        }))
    }

    fn count(self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    fn is_zero(self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        let bit = 1 << (i % 64);
        if on {
            self.0[i / 64] |= bit;
        } else {
            self.0[i / 64] &= !bit;
        }
    }
}

impl<const N: usize> BitAnd for Line<N> {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] & rhs.0[i]))
    }
}

impl<const N: usize> BitOr for Line<N> {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] | rhs.0[i]))
    }
}

impl<const N: usize> BitXor for Line<N> {
    type Output = Self;
    fn bitxor(self, rhs: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] ^ rhs.0[i]))
    }
}

impl<const N: usize> Not for Line<N> {
    type Output = Self;
    fn not(self) -> Self {
        Self(self.0.map(|w| !w))
    }
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
    while i < end && i % 8 != 0 {
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
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {n} {n}" shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d=""##
    );
    svg.reserve(m.width * m.width * 2);
    // After `z` the current point is the start of the closed rectangle; move relative to it.
    let mut at: Option<(usize, usize)> = None;
    for y in 0..m.width {
        for (x, len) in m.dark_runs(y) {
            let (ax, ay) = (x + g.quiet, y + g.quiet);
            match at {
                None => {
                    svg.push('M');
                    push_num(&mut svg, ax, false);
                    svg.push(' ');
                    push_num(&mut svg, ay, false);
                }
                Some((last_x, last_y)) => {
                    svg.push('m');
                    push_num(&mut svg, ax.abs_diff(last_x), ax < last_x);
                    svg.push(' ');
                    push_num(&mut svg, ay - last_y, false);
                }
            }
            svg.push('h');
            push_num(&mut svg, len, false);
            svg.push_str("v1h-");
            push_num(&mut svg, len, false);
            svg.push('z');
            at = Some((ax, ay));
        }
    }
    svg.push_str(r#""/></svg>"#);
    Ok(svg)
}

/// Appends `n` in decimal, with a minus sign when `negative` (and `n` ≠ 0).
fn push_num(out: &mut String, n: usize, negative: bool) {
    if negative && n != 0 {
        out.push('-');
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
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Renders `m` as an 8-bit grayscale image: 0 for dark modules, 255 for light ones and the quiet
/// zone.
///
/// # Errors
///
/// As [`RenderOptions::side_px`].
pub fn to_luma_image(m: &QrMatrix, opts: &RenderOptions) -> Result<GrayImage, RenderError> {
    let g = opts.geometry(m)?;
    let mut image = GrayImage::from_pixel(g.side_px_u32, g.side_px_u32, Luma([255]));
    let pixels: &mut [u8] = &mut image;
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
    use qrcode::QrCode;

    /// xorshift64*: deterministic test inputs without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn digits(&mut self, n: usize) -> String {
            (0..n)
                .map(|_| char::from(b'0' + self.below(10) as u8))
                .collect()
        }

        fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

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
        (0..n).map(|_| rng.pick(&words)).collect()
    }

    /// `qrcode`'s total with its own N4; its N3 offset of −720 is constant and omitted.
    fn qrcode_total(p: &Penalty) -> u32 {
        let ratio = p.dark * 200 / p.modules;
        p.n1 + p.n2 + p.n3 + ratio.abs_diff(100)
    }

    fn modules_of(code: &QrCode) -> Vec<bool> {
        code.to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect()
    }

    fn modules(m: &QrMatrix) -> Vec<bool> {
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
        let mut rng = Rng(0x5eed_0001);
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
        let mut rng = Rng(0x5eed_0002);
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
        let ours: Vec<Segment> = Parser::new(text.as_bytes())
            .map(|s| {
                if s.mode == Mode::Kanji {
                    Segment {
                        mode: Mode::Byte,
                        ..s
                    }
                } else {
                    s
                }
            })
            .collect();
        assert!(ours.iter().all(|s| s.mode == Mode::Byte));
    }

    #[test]
    fn every_masked_symbol_matches_qrcode_apply_mask() {
        let mut rng = Rng(0x5eed_0003);
        let mut texts = vec![String::new(), "01234567".to_owned(), rng.digits(7000)];
        texts.extend((0..6).map(|_| credential_text(&mut rng)));
        texts.extend((0..4).map(|_| url_text(&mut rng)));
        for text in &texts {
            for ecc in Ecc::ALL {
                let Ok((bits, version)) = segment(text.as_bytes(), ecc) else {
                    continue;
                };
                let symbol = Unmasked::new(bits, version, ecc).unwrap();
                let w = symbol.width;
                for (mask, &pattern) in MASKS.iter().enumerate() {
                    let mut rows = vec![Line::<3>::ZERO; w];
                    let mut columns = vec![Line::<3>::ZERO; w];
                    symbol.draw_masked(mask, &mut rows, &mut columns);
                    let mut canvas = symbol.canvas.clone();
                    canvas.apply_mask(pattern);
                    let expected: Vec<bool> = canvas
                        .into_colors()
                        .into_iter()
                        .map(|c| c == Color::Dark)
                        .collect();
                    for y in 0..w {
                        for x in 0..w {
                            let e = expected[y * w + x];
                            assert_eq!(
                                rows[y].0[x / 64] >> (x % 64) & 1 == 1,
                                e,
                                "v{version} mask {mask} ({x},{y})"
                            );
                            assert_eq!(
                                columns[x].0[y / 64] >> (y % 64) & 1 == 1,
                                e,
                                "v{version} mask {mask} ({x},{y})"
                            );
                        }
                    }
                }
            }
        }
    }

    /// `qrcode` 0.14.1's private penalty functions (canvas.rs), transcribed onto a bool grid.
    fn reference_penalty(grid: &[Vec<bool>]) -> (u32, u32, u32, u32) {
        let w = grid.len();
        let at =
            |horizontal: bool, i: usize, j: usize| if horizontal { grid[i][j] } else { grid[j][i] };
        let mut n1 = 0;
        for horizontal in [true, false] {
            for i in 0..w {
                let mut len = 1;
                for j in 1..=w {
                    if j < w && at(horizontal, i, j) == at(horizontal, i, j - 1) {
                        len += 1;
                    } else {
                        if len >= 5 {
                            n1 += len - 2;
                        }
                        len = 1;
                    }
                }
            }
        }
        let mut n2 = 0;
        for y in 0..w - 1 {
            for x in 0..w - 1 {
                let c = grid[y][x];
                if grid[y][x + 1] == c && grid[y + 1][x] == c && grid[y + 1][x + 1] == c {
                    n2 += 3;
                }
            }
        }
        let pattern = [true, false, true, true, true, false, true];
        let mut n3 = 0;
        for horizontal in [true, false] {
            for i in 0..w {
                for j in 0..w - 6 {
                    if (0..7).any(|k| at(horizontal, i, j + k) != pattern[k]) {
                        continue;
                    }
                    let dark =
                        |k: isize| k >= 0 && (k as usize) < w && at(horizontal, i, k as usize);
                    let j = j as isize;
                    if !(j - 4..j).any(dark) || !(j + 7..j + 11).any(dark) {
                        n3 += 40;
                    }
                }
            }
        }
        let dark = grid.iter().flatten().filter(|&&d| d).count() as u32;
        (n1, n2, n3, dark)
    }

    #[test]
    fn penalties_match_transcribed_reference() {
        let mut rng = Rng(0x5eed_0004);
        let mut texts: Vec<String> = (0..5).map(|_| credential_text(&mut rng)).collect();
        texts.push(rng.digits(3000));
        texts.push(url_text(&mut rng));
        for text in &texts {
            let ecc = Ecc::ALL[rng.below(4)];
            let (bits, version) = segment(text.as_bytes(), ecc).unwrap();
            let symbol = Unmasked::new(bits, version, ecc).unwrap();
            let w = symbol.width;
            for (mask, penalty) in symbol.penalties().into_iter().enumerate() {
                let mut canvas = symbol.canvas.clone();
                canvas.apply_mask(MASKS[mask]);
                let colors = canvas.into_colors();
                let grid: Vec<Vec<bool>> = colors
                    .chunks(w)
                    .map(|row| row.iter().map(|&c| c == Color::Dark).collect())
                    .collect();
                let (n1, n2, n3, dark) = reference_penalty(&grid);
                assert_eq!(
                    (penalty.n1, penalty.n2, penalty.n3, penalty.dark),
                    (n1, n2, n3, dark),
                    "v{version} mask {mask}"
                );
                assert_eq!(penalty.modules as usize, w * w);
            }
        }
    }

    #[test]
    fn iso_n4_steps_of_five_percent() {
        let p = |dark| Penalty {
            dark,
            modules: 1000,
            ..Penalty::default()
        };
        assert_eq!(p(500).n4_iso(), 0);
        assert_eq!(p(549).n4_iso(), 0);
        assert_eq!(p(550).n4_iso(), 10);
        assert_eq!(p(451).n4_iso(), 0);
        assert_eq!(p(450).n4_iso(), 10);
        assert_eq!(p(399).n4_iso(), 20);
        assert_eq!(p(0).n4_iso(), 100);
        // qrcode: 2 points per percent.
        assert_eq!(qrcode_total(&p(549)), 9);
    }

    #[test]
    fn format_information_matches_standard_table() {
        // ISO/IEC 18004 Table C.1: level M (00), mask 0..7, and level L mask 0.
        let m = [
            0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97, 0x4aa0,
        ];
        for (mask, &expected) in m.iter().enumerate() {
            assert_eq!(format_information(Ecc::M, mask), expected);
        }
        assert_eq!(format_information(Ecc::L, 0), 0x77c4);
        assert_eq!(format_information(Ecc::H, 7), 0x083b);
    }

    #[test]
    fn credential_versions() {
        let mut rng = Rng(0x5eed_0005);
        for (digits, at_m, at_q) in [
            (550, 11, 14),
            (600, 11, 15),
            (640, 12, 15),
            (676, 12, 16),
            (677, 13, 16),
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
        let mut rng = Rng(0x5eed_0006);
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
    fn png_and_luma_image_decode_with_the_verifier_decoder() {
        let m = sample();
        let mut rng = Rng(0x5eed_0006);
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
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod scratch {
    use super::*;
    use std::time::Instant;
    fn time<T>(name: &str, n: u32, mut f: impl FnMut() -> T) {
        for _ in 0..n / 10 {
            std::hint::black_box(f());
        }
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(f());
        }
        eprintln!(
            "{name}: {:.1} us",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
    #[test]
    #[ignore]
    fn perf() {
        let text = format!("GDRP1:{}", "8172635490".repeat(64));
        let m = QrMatrix::encode(&text, Ecc::M).unwrap();
        time("qrcode", 300, || {
            qrcode::QrCode::with_error_correction_level(&text, EcLevel::M).unwrap()
        });
        time("encode", 3000, || QrMatrix::encode(&text, Ecc::M).unwrap());
        time("segment", 3000, || {
            segment(text.as_bytes(), Ecc::M).unwrap()
        });
        time("segment+unmasked", 3000, || {
            let (b, v) = segment(text.as_bytes(), Ecc::M).unwrap();
            Unmasked::new(b, v, Ecc::M).unwrap()
        });
        let (b, v) = segment(text.as_bytes(), Ecc::M).unwrap();
        let u = Unmasked::new(b, v, Ecc::M).unwrap();
        time("penalties", 3000, || u.penalties());
        time("canvas clone+apply_mask+into_colors", 3000, || {
            let mut c = u.canvas.clone();
            c.apply_mask(MaskPattern::Fields);
            c.into_colors()
        });
        let opts = RenderOptions::default();
        time("png", 3000, || to_png(&m, &opts).unwrap());
        time("svg", 3000, || to_svg(&m, &opts).unwrap());
        time("luma", 3000, || to_luma_image(&m, &opts).unwrap());
        let g = opts.geometry(&m).unwrap();
        let png = to_png(&m, &opts).unwrap();
        eprintln!("png size {} bytes, side {}", png.len(), g.side_px);
        // raw for variants
        let stride = g.side_px.div_ceil(8);
        let mut raw = vec![0xff_u8; stride * g.side_px];
        let quiet_px = g.quiet * g.module_px;
        for (y, band) in raw[quiet_px * stride..]
            .chunks_exact_mut(stride * g.module_px)
            .take(m.width)
            .enumerate()
        {
            let (first, copies) = band.split_at_mut(stride);
            for (x, len) in m.dark_runs(y) {
                clear_bits(first, quiet_px + x * g.module_px, len * g.module_px);
            }
            for copy in copies.chunks_exact_mut(stride) {
                copy.copy_from_slice(first);
            }
        }
        for (name, c, f) in [
            ("fastest/up", png::Compression::Fastest, png::Filter::Up),
            ("fast/up", png::Compression::Fast, png::Filter::Up),
            (
                "fast/adaptive",
                png::Compression::Fast,
                png::Filter::Adaptive,
            ),
            ("balanced/up", png::Compression::Balanced, png::Filter::Up),
            (
                "none",
                png::Compression::NoCompression,
                png::Filter::NoFilter,
            ),
            (
                "fastest/none",
                png::Compression::Fastest,
                png::Filter::NoFilter,
            ),
        ] {
            let enc = |depth: png::BitDepth, data: &[u8]| {
                let mut out = Vec::new();
                let mut e = png::Encoder::new(&mut out, g.side_px_u32, g.side_px_u32);
                e.set_color(png::ColorType::Grayscale);
                e.set_depth(depth);
                e.set_compression(c);
                e.set_filter(f);
                let mut w = e.write_header().unwrap();
                w.write_image_data(data).unwrap();
                w.finish().unwrap();
                out
            };
            let size = enc(png::BitDepth::One, &raw).len();
            time(&format!("png1 {name} ({size} B)"), 2000, || {
                enc(png::BitDepth::One, &raw)
            });
            let luma = to_luma_image(&m, &opts).unwrap().into_raw();
            let size8 = enc(png::BitDepth::Eight, &luma).len();
            time(&format!("png8 {name} ({size8} B)"), 300, || {
                enc(png::BitDepth::Eight, &luma)
            });
        }
    }
}
