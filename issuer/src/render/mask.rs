//! The mask choice: the eight masks, the format information that names them, and the
//! ISO/IEC 18004 §7.8.3 penalty scores (N1–N4) computed on whole 64-bit words.
//!
//! [`Unmasked`] reads the canvas from [`draw_unmasked`](super::draw_unmasked) once into bit rows;
//! [`Unmasked::penalties`] scores the eight masked candidates, and [`Unmasked::finish`] keeps the
//! chosen one as a [`QrMatrix`]. See the [module docs](super) for how this differs from `qrcode`.

use std::ops::{BitAnd, BitOr, BitXor, Not};

use qrcode::canvas::{Canvas, MaskPattern, Module};
use qrcode::types::Color;

use super::{Ecc, QrMatrix, ROW_WORDS, Row};

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

/// Every mask repeats down the rows with this period.
const MASK_PERIOD: usize = 12;

/// Whether mask `mask` inverts the module in column `x`, row `y` (ISO/IEC 18004 Table 10).
const fn mask_inverts(mask: usize, x: usize, y: usize) -> bool {
    match mask {
        0 => (x + y).is_multiple_of(2),
        1 => y.is_multiple_of(2),
        2 => x.is_multiple_of(3),
        3 => (x + y).is_multiple_of(3),
        4 => (y / 2 + x / 3).is_multiple_of(2),
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3).is_multiple_of(2),
        _ => ((x + y) % 2 + (x * y) % 3).is_multiple_of(2),
    }
}

/// `MASK_ROWS[mask][y % MASK_PERIOD]`: the modules of row `y` that mask `mask` inverts.
static MASK_ROWS: [[Row; MASK_PERIOD]; 8] = {
    let mut table = [[[0; ROW_WORDS]; MASK_PERIOD]; 8];
    let mut mask = 0;
    while mask < 8 {
        let mut y = 0;
        while y < MASK_PERIOD {
            let mut x = 0;
            while x < 64 * ROW_WORDS {
                if mask_inverts(mask, x, y) {
                    table[mask][y][x / 64] |= 1 << (x % 64);
                }
                x += 1;
            }
            y += 1;
        }
        mask += 1;
    }
    table
};

/// The 15-bit format information for a level and mask: BCH(15,5) with generator 0x537, XORed
/// with 0x5412 (ISO/IEC 18004 §7.9.1).
fn format_information(ecc: Ecc, mask: usize) -> u32 {
    let data = (ecc.format_bits() << 3) | (mask as u32 & 0b111);
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
    for (cell, (bit, (x, y))) in cells
        .iter_mut()
        .zip((0..15).rev().cycle().zip(main.into_iter().chain(side)))
    {
        *cell = (x, y, bit);
    }
    cells
}

/// An unmasked symbol as bit rows.
pub(super) struct Unmasked {
    version: u8,
    ecc: Ecc,
    width: usize,
    /// Module colours before masking; the format information is reserved as light.
    base: Vec<Row>,
    /// The modules a mask applies to: data, error correction and remainder bits.
    data: Vec<Row>,
    format_cells: [(usize, usize, u32); 30],
}

impl Unmasked {
    /// Reads a canvas from [`draw_unmasked`].
    pub(super) fn new(canvas: &Canvas, version: u8, ecc: Ecc) -> Self {
        let width = usize::from(version) * 4 + 17;
        let mut base = vec![[0; ROW_WORDS]; width];
        let mut data = vec![[0; ROW_WORDS]; width];
        for ((base_row, data_row), qy) in base.iter_mut().zip(&mut data).zip(0_i16..) {
            for (x, qx) in (0..width).zip(0_i16..) {
                let (dark, maskable) = match canvas.get(qx, qy) {
                    Module::Masked(color) => (color == Color::Dark, false),
                    Module::Unmasked(color) => (color == Color::Dark, true),
                    // Remainder bits: light before masking.
                    Module::Empty => (false, true),
                };
                base_row[x / 64] |= u64::from(dark) << (x % 64);
                data_row[x / 64] |= u64::from(maskable) << (x % 64);
            }
        }
        Self {
            version,
            ecc,
            width,
            base,
            data,
            format_cells: format_cells(width),
        }
    }

    /// Penalties of the eight masked symbols, on the narrowest word count that holds a row.
    pub(super) fn penalties(&self) -> [Penalty; 8] {
        match self.width {
            0..=64 => self.penalties_in::<1>(),
            65..=128 => self.penalties_in::<2>(),
            _ => self.penalties_in::<3>(),
        }
    }

    fn penalties_in<const N: usize>(&self) -> [Penalty; 8] {
        // Light rows around the symbol let the column rules look past its edges.
        let mut padded = vec![Line::<N>::ZERO; self.width + 2 * Penalty::PAD];
        let mut penalties = [Penalty::default(); 8];
        for (mask, penalty) in penalties.iter_mut().enumerate() {
            let rows = &mut padded[Penalty::PAD..Penalty::PAD + self.width];
            self.draw_masked(mask, rows);
            *penalty = Penalty::of(&padded, self.width);
        }
        penalties
    }

    /// The rows of the symbol with mask `mask` and its format information.
    fn draw_masked<const N: usize>(&self, mask: usize, rows: &mut [Line<N>]) {
        let masks = &MASK_ROWS[mask];
        for (y, (row, (base, data))) in rows
            .iter_mut()
            .zip(self.base.iter().zip(&self.data))
            .enumerate()
        {
            *row = Line::from_row(base)
                ^ (Line::from_row(&masks[y % MASK_PERIOD]) & Line::from_row(data));
        }
        let format = format_information(self.ecc, mask);
        for &(x, y, bit) in &self.format_cells {
            rows[y].set(x, format >> bit & 1 == 1);
        }
    }

    /// The finished symbol with mask `mask`. The tests check, for every version, level and mask,
    /// that it equals `qrcode`'s `Canvas::apply_mask`, which would take longer than choosing.
    pub(super) fn finish(&self, mask: usize) -> QrMatrix {
        let mut rows = vec![Line::<ROW_WORDS>::ZERO; self.width];
        self.draw_masked(mask, &mut rows);
        QrMatrix {
            version: self.version,
            ecc: self.ecc,
            mask: MASKS[mask] as u8,
            width: self.width,
            rows: rows.into_iter().map(|line| line.0).collect(),
        }
    }
}

/// Penalty points of one masked symbol (ISO/IEC 18004 §7.8.3.1), rows and columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Penalty {
    /// N1: 3 + i points per run of 5 + i modules of one colour.
    pub(super) n1: u32,
    /// N2: 3 points per 2×2 block of one colour (overlapping blocks all count).
    pub(super) n2: u32,
    /// N3: 40 points per dark-light-dark-dark-dark-light-dark pattern with four light modules on
    /// at least one side, the finder patterns included (`qrcode` subtracts their constant 720).
    pub(super) n3: u32,
    /// Dark modules.
    pub(super) dark: u32,
    /// All modules.
    pub(super) modules: u32,
}

impl Penalty {
    /// Light rows [`Penalty::of`] expects above and below the symbol.
    const PAD: usize = 4;

    /// Scores the rows `padded[PAD..PAD + width]`; the `PAD` rows on either side must be light.
    /// Row rules shift bits along a row; column rules combine whole neighbouring rows, which
    /// scores every column at once.
    fn of<const N: usize>(padded: &[Line<N>], width: usize) -> Self {
        const PAD: usize = Penalty::PAD;
        let columns = Line::<N>::low_bits(width);
        // Bit x: modules x and x + 1 exist (row rules).
        let pairs = Line::<N>::low_bits(width - 1);
        let mut p = Penalty {
            modules: (width * width) as u32,
            ..Penalty::default()
        };
        let (mut runs, mut blocks, mut finders) = (0, 0, 0);
        // Column state: equal[k] = "row y - 4 + k equals the row below it", fives = the previous
        // "five equal rows" set.
        let mut equal = [Line::<N>::ZERO; 4];
        let mut fives = Line::<N>::ZERO;
        let mut above: Option<(Line<N>, Line<N>)> = None;
        for &row in &padded[PAD..PAD + width] {
            let next = row.shr(1);
            let same = !(row ^ next) & pairs;
            runs += run_points(same);
            finders += finder_patterns(row, next);
            p.dark += row.count();
            if let Some((above_row, above_same)) = above {
                let vertical = !(row ^ above_row) & columns;
                blocks += (same & above_same & vertical).count();
                equal = [equal[1], equal[2], equal[3], vertical];
                let five = equal[0] & equal[1] & equal[2] & equal[3];
                runs += five.count() + 2 * (five & !fives).count();
                fives = five;
            }
            above = Some((row, same));
        }
        for window in padded.windows(2 * PAD + 7).take(width - 6) {
            let [b0, b1, b2, b3, m0, m1, m2, m3, m4, m5, m6, a0, a1, a2, a3] = window else {
                continue;
            };
            let core = *m0 & !*m1 & *m2 & *m3 & *m4 & !*m5 & *m6;
            if !core.is_zero() {
                let light = !(*b0 | *b1 | *b2 | *b3) | !(*a0 | *a1 | *a2 | *a3);
                finders += (core & light).count();
            }
        }
        p.n1 = runs;
        p.n2 = 3 * blocks;
        p.n3 = 40 * finders;
        p
    }

    /// N4 as ISO/IEC 18004 defines it: 10 points per full 5 % step away from 50 % dark.
    fn n4_iso(&self) -> u32 {
        10 * ((2 * self.dark).abs_diff(self.modules) * 10 / self.modules)
    }

    /// Total with the standard's N4: the score this module minimises.
    pub(super) fn iso_total(&self) -> u32 {
        self.n1 + self.n2 + self.n3 + self.n4_iso()
    }
}

/// N1 points of one row, given `same` = "module x equals module x + 1".
fn run_points<const N: usize>(same: Line<N>) -> u32 {
    // Bit x: modules x..=x+4 share one colour. A run of 5 + k modules sets k + 1 consecutive bits;
    // runs are separated by at least four clear bits.
    let pairs = same & same.shr(1);
    let fives = pairs & pairs.shr(2);
    if fives.is_zero() {
        return 0;
    }
    let firsts = fives & !fives.shl(1);
    fives.count() + 2 * firsts.count()
}

/// N3 occurrences in one row `m` (`next` = `m.shr(1)`): dark-light-dark-dark-dark-light-dark
/// starting at x, with modules x-4..x or x+7..x+11 all light (outside the row counts as light).
fn finder_patterns<const N: usize>(m: Line<N>, next: Line<N>) -> u32 {
    let dark_light = m & !next;
    let dark_dark = m & next;
    let core = dark_light & dark_light.shr(4) & dark_dark.shr(2) & m.shr(6);
    if core.is_zero() {
        return 0;
    }
    // Bit x: a dark module in x-3..=x.
    let near = m | m.shl(1);
    let near = near | near.shl(2);
    let light = !near.shl(1) | !near.shr(10);
    (core & light).count()
}

/// A row of up to `64 * N` modules, laid out as [`Row`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line<const N: usize>([u64; N]);

impl<const N: usize> Line<N> {
    const ZERO: Self = Self([0; N]);

    /// The first `N` words of `row` (the rest must be zero).
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

    /// Bit `x` of the result is bit `x + k` of `self`; `0 < k < 64`.
    fn shr(self, k: u32) -> Self {
        let w = self.0;
        Self(std::array::from_fn(|i| {
            (w[i] >> k) | if i + 1 < N { w[i + 1] << (64 - k) } else { 0 }
        }))
    }

    /// Bit `x` of the result is bit `x - k` of `self` (zero below `k`); `0 < k < 64`.
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

    fn set(&mut self, x: usize, dark: bool) {
        let bit = 1 << (x % 64);
        if dark {
            self.0[x / 64] |= bit;
        } else {
            self.0[x / 64] &= !bit;
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::render::tests::{Rng, modules, qrcode_total};
    use crate::render::{capacity_bits, draw_unmasked};
    use qrcode::bits::Bits;
    use qrcode::types::Version;

    /// `qrcode`'s canvas for a symbol of exactly `version`, about half filled with random bytes.
    fn canvas_of_version(version: u8, ecc: Ecc, rng: &mut Rng) -> Canvas {
        let capacity = capacity_bits(version, ecc.level()).unwrap();
        let bytes: Vec<u8> = (0..capacity / 16).map(|_| rng.next_u64() as u8).collect();
        let mut bits = Bits::new(Version::Normal(i16::from(version)));
        bits.push_byte_data(&bytes).unwrap();
        bits.push_terminator(ecc.level()).unwrap();
        draw_unmasked(bits, version, ecc).unwrap()
    }

    fn colors_with_mask(canvas: &Canvas, mask: usize) -> Vec<bool> {
        let mut canvas = canvas.clone();
        canvas.apply_mask(MASKS[mask]);
        canvas
            .into_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect()
    }

    #[test]
    fn every_masked_symbol_matches_qrcode_apply_mask() {
        let mut rng = Rng::new(0x5eed_0003);
        for version in 1..=40 {
            for ecc in Ecc::ALL {
                let canvas = canvas_of_version(version, ecc, &mut rng);
                let symbol = Unmasked::new(&canvas, version, ecc);
                assert_eq!(symbol.penalties(), symbol.penalties_in::<3>(), "v{version}");
                for mask in 0..8 {
                    let expected = colors_with_mask(&canvas, mask);
                    let ours = symbol.finish(mask);
                    assert_eq!(usize::from(ours.mask()), mask);
                    assert!(modules(&ours) == expected, "v{version} {ecc} mask {mask}");
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
        let mut rng = Rng::new(0x5eed_0004);
        for version in [1, 2, 6, 7, 11, 12, 15, 16, 27, 28, 40] {
            let ecc = Ecc::ALL[rng.below(4)];
            let canvas = canvas_of_version(version, ecc, &mut rng);
            let symbol = Unmasked::new(&canvas, version, ecc);
            let w = symbol.width;
            for (mask, penalty) in symbol.penalties().into_iter().enumerate() {
                let colors = colors_with_mask(&canvas, mask);
                let grid: Vec<Vec<bool>> = colors.chunks(w).map(<[bool]>::to_vec).collect();
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
}
