//! Stage 3 of a scan, first half: the copies of the grey image that the decoding attempts read
//! (an image pyramid, sharpened, reduced, enlarged and contrast-stretched copies), each made on
//! first use.

use image::{GrayImage, imageops};

/// Images whose longer side is above this are also tried reduced to [`REDUCED_SIDE`]; smaller
/// ones down to [`HALVED_ABOVE`] are also tried at half size (averaging removes sensor noise).
const REDUCE_ABOVE: u32 = 2000;
/// Longer side of the reduced copy of a large image.
const REDUCED_SIDE: u32 = 1600;
/// Images whose longer side is at least this (and at most [`REDUCE_ABOVE`]) are also tried halved.
const HALVED_ABOVE: u32 = 800;
/// Images whose longer side is at most this are also tried enlarged three times; up to
/// [`ENLARGE_TWICE_UP_TO`], twice. Codes with modules of one or two pixels need it.
const ENLARGE_THRICE_UP_TO: u32 = 1000;
/// See [`ENLARGE_THRICE_UP_TO`].
const ENLARGE_TWICE_UP_TO: u32 = 1500;
/// Images (and pyramid levels) whose longer side is above this are also tried reduced three times
/// by averaging 3 × 3 blocks, as zxing-cpp's image pyramid does: it averages away sensor noise,
/// JPEG blocks and the sub-pixel texture of a photographed screen, and brings large codes within
/// the binarizer's reach.
const PYRAMID_ABOVE: u32 = 500;
/// Grey levels between the darkest and lightest 0.5 % of pixels below which a contrast-stretched
/// copy is also tried.
const STRETCH_BELOW_RANGE: u8 = 200;

/// The copies of the image that are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ViewKind {
    /// As decoded.
    Native,
    /// Reduced (large images) or halved (medium ones): less noise, larger relative features.
    Reduced,
    /// Enlarged by an integer factor with a bicubic filter (small images): thin modules.
    Enlarged,
    /// Contrast stretched to the full range (low-contrast images).
    Stretched,
    /// 3 × 3 blocks averaged (images above [`PYRAMID_ABOVE`]).
    Third,
    /// The third's 3 × 3 blocks averaged (when the third is above [`PYRAMID_ABOVE`]).
    Ninth,
    /// 2 × 2 blocks averaged (images above [`PYRAMID_ABOVE`]).
    Half,
    /// Unsharp-masked (out-of-focus photos).
    Sharpened,
}

/// A copy of the image and its scale (copy pixels per image pixel).
struct View {
    luma: GrayImage,
    scale: f32,
}

/// The image and its copies, each made on first use (`None` inside: not useful for this image).
pub(super) struct Views {
    native: GrayImage,
    reduced: Option<Option<View>>,
    enlarged: Option<Option<View>>,
    stretched: Option<Option<View>>,
    third: Option<Option<View>>,
    ninth: Option<Option<View>>,
    half: Option<Option<View>>,
    sharpened: Option<Option<View>>,
}

impl Views {
    pub(super) fn new(native: GrayImage) -> Self {
        Self {
            native,
            reduced: None,
            enlarged: None,
            stretched: None,
            third: None,
            ninth: None,
            half: None,
            sharpened: None,
        }
    }

    /// The copy of `kind` and its scale, or `None` when it is not worth trying.
    pub(super) fn get(&mut self, kind: ViewKind) -> Option<(&GrayImage, f32)> {
        let native = &self.native;
        let view = match kind {
            ViewKind::Native => return Some((native, 1.0)),
            ViewKind::Reduced => self.reduced.get_or_insert_with(|| reduce(native)),
            ViewKind::Enlarged => self.enlarged.get_or_insert_with(|| enlarge(native)),
            ViewKind::Third => self.third.get_or_insert_with(|| box_reduce(native, 1.0, 3)),
            ViewKind::Half => self.half.get_or_insert_with(|| box_reduce(native, 1.0, 2)),
            ViewKind::Sharpened => self.sharpened.get_or_insert_with(|| sharpen(native)),
            ViewKind::Ninth => {
                if self.ninth.is_none() {
                    let ninth = match self.third.get_or_insert_with(|| box_reduce(native, 1.0, 3)) {
                        Some(third) => box_reduce(&third.luma, third.scale, 3),
                        None => None,
                    };
                    self.ninth = Some(ninth);
                }
                self.ninth.get_or_insert(None)
            }
            ViewKind::Stretched => {
                if self.stretched.is_none() {
                    // Stretch the working copy of a large image rather than its full size.
                    let large = longer_side(native) > REDUCE_ABOVE;
                    let stretched =
                        match (large, self.reduced.get_or_insert_with(|| reduce(native))) {
                            (true, Some(reduced)) => stretch(&reduced.luma, reduced.scale),
                            _ => stretch(native, 1.0),
                        };
                    self.stretched = Some(stretched);
                }
                self.stretched.get_or_insert(None)
            }
        };
        view.as_ref().map(|v| (&v.luma, v.scale))
    }
}

fn longer_side(image: &GrayImage) -> u32 {
    image.width().max(image.height())
}

/// A large image reduced to [`REDUCED_SIDE`], a medium one halved, by area averaging.
fn reduce(image: &GrayImage) -> Option<View> {
    let longer = longer_side(image);
    let factor = if longer > REDUCE_ABOVE {
        REDUCED_SIDE as f32 / longer as f32
    } else if longer >= HALVED_ABOVE {
        0.5
    } else {
        return None;
    };
    let width = ((image.width() as f32 * factor).round() as u32).max(1);
    let height = ((image.height() as f32 * factor).round() as u32).max(1);
    Some(View {
        luma: imageops::thumbnail(image, width, height),
        scale: factor,
    })
}

/// `image` (itself at `scale`) with each 3 × 3 block averaged into one pixel, if its longer side
/// is above [`PYRAMID_ABOVE`]. A copy pixel `(i, j)` covers image pixels `3i..3i + 3`, so copy
/// coordinates times 3 are image coordinates.
fn box_reduce(image: &GrayImage, scale: f32, factor: u32) -> Option<View> {
    if longer_side(image) <= PYRAMID_ABOVE || factor == 0 {
        return None;
    }
    let (width, height) = (image.width() / factor, image.height() / factor);
    if width == 0 || height == 0 {
        return None;
    }
    let source = image.as_raw();
    let stride = image.width() as usize;
    let f = factor as usize;
    let area = factor * factor;
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height as usize {
        let rows: Vec<&[u8]> = (0..f).map(|k| &source[(f * y + k) * stride..]).collect();
        out.extend((0..width as usize).map(|x| {
            let sum: u32 = rows
                .iter()
                .flat_map(|row| &row[f * x..f * x + f])
                .map(|&p| u32::from(p))
                .sum();
            u8::try_from((sum + area / 2) / area).unwrap_or(u8::MAX)
        }));
    }
    GrayImage::from_raw(width, height, out).map(|luma| View {
        luma,
        scale: scale / factor as f32,
    })
}

/// `image` sharpened (unsharp mask: twice the image minus its 5 × 5 box blur), for
/// out-of-focus photos.
fn sharpen(image: &GrayImage) -> Option<View> {
    let (width, height) = image.dimensions();
    let (w, h) = (width as usize, height as usize);
    if w < 5 || h < 5 {
        return None;
    }
    let source = image.as_raw();
    // Horizontal 5-tap sums, then vertical.
    let mut across = vec![0_u32; w * h];
    for (row, out) in source.chunks_exact(w).zip(across.chunks_exact_mut(w)) {
        for (x, o) in out.iter_mut().enumerate() {
            *o = (x.saturating_sub(2)..(x + 3).min(w))
                .map(|i| u32::from(row[i]))
                .sum::<u32>()
                * 5
                / (x + 3).min(w).saturating_sub(x.saturating_sub(2)).max(1) as u32;
        }
    }
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let (lo, hi) = (y.saturating_sub(2), (y + 3).min(h));
        for x in 0..w {
            let sum: u32 = (lo..hi).map(|j| across[j * w + x]).sum();
            let blurred = (sum * 5 / (hi - lo).max(1) as u32 + 12) / 25;
            let sharp = 2 * i32::from(source[y * w + x]) - i32::try_from(blurred).unwrap_or(0);
            out.push(u8::try_from(sharp.clamp(0, 255)).unwrap_or(u8::MAX));
        }
    }
    GrayImage::from_raw(width, height, out).map(|luma| View { luma, scale: 1.0 })
}

/// A small image enlarged three or two times with a Catmull-Rom filter, which keeps module edges
/// sharp where a bilinear filter would blur them.
fn enlarge(image: &GrayImage) -> Option<View> {
    let longer = longer_side(image);
    let factor = if longer <= ENLARGE_THRICE_UP_TO {
        3
    } else if longer <= ENLARGE_TWICE_UP_TO {
        2
    } else {
        return None;
    };
    let (width, height) = image.dimensions();
    let (new_width, new_height) = (width * factor, height * factor);
    let columns = catmull_rom_taps(width, factor);
    let rows = catmull_rom_taps(height, factor);
    let source = image.as_raw();
    let new_width_usize = new_width as usize;
    // Horizontal pass, then vertical; each clamps to 0..=255.
    let mut wide = Vec::with_capacity(new_width_usize * height as usize);
    for row in source.chunks_exact(width as usize) {
        wide.extend(columns.iter().map(|taps| taps.apply(|i| row[i])));
    }
    let mut out = Vec::with_capacity(new_width_usize * new_height as usize);
    for taps in &rows {
        out.extend((0..new_width_usize).map(|x| taps.apply(|i| wide[i * new_width_usize + x])));
    }
    GrayImage::from_raw(new_width, new_height, out).map(|luma| View {
        luma,
        scale: factor as f32,
    })
}

/// The four source samples of one output sample and their weights (fixed point, sum 4096).
struct Taps {
    index: [usize; 4],
    weight: [i32; 4],
}

impl Taps {
    fn apply(&self, sample: impl Fn(usize) -> u8) -> u8 {
        let sum: i32 = (0..4)
            .map(|k| i32::from(sample(self.index[k])) * self.weight[k])
            .sum();
        u8::try_from(((sum + 2048) >> 12).clamp(0, 255)).unwrap_or(u8::MAX)
    }
}

/// Catmull-Rom taps for enlarging `len` samples `factor` times.
fn catmull_rom_taps(len: u32, factor: u32) -> Vec<Taps> {
    let last = i64::from(len.max(1) - 1);
    (0..len * factor)
        .map(|out| {
            let position = (out as f32 + 0.5) / factor as f32 - 0.5;
            let base = position.floor();
            let t = position - base;
            let mut index = [0; 4];
            let mut weight = [0; 4];
            for k in 0..4 {
                let source = (base as i64 + k as i64 - 1).clamp(0, last);
                index[k] = usize::try_from(source).unwrap_or(0);
                weight[k] = (catmull_rom(t - (k as f32 - 1.0)) * 4096.0).round() as i32;
            }
            // Rounding must not change the overall brightness.
            weight[1] += 4096 - weight.iter().sum::<i32>();
            Taps { index, weight }
        })
        .collect()
}

fn catmull_rom(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        (1.5 * x - 2.5) * x * x + 1.0
    } else if x < 2.0 {
        ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    } else {
        0.0
    }
}

/// `image` with its darkest 0.5 % of pixels mapped to black and its lightest 0.5 % to white, if
/// that widens its range noticeably.
fn stretch(image: &GrayImage, scale: f32) -> Option<View> {
    let mut histogram = [0_u64; 256];
    for pixel in image.as_raw() {
        histogram[usize::from(*pixel)] += 1;
    }
    let cut = image.as_raw().len() as u64 / 200;
    let percentile = |levels: &mut dyn Iterator<Item = usize>| -> u8 {
        let mut seen = 0;
        for level in levels {
            seen += histogram[level];
            if seen > cut {
                return u8::try_from(level).unwrap_or(u8::MAX);
            }
        }
        0
    };
    let low = percentile(&mut (0..256));
    let high = percentile(&mut (0..256).rev());
    if high <= low || high - low >= STRETCH_BELOW_RANGE {
        return None;
    }
    let range = u32::from(high - low);
    let table: Vec<u8> = (0..=255_u8)
        .map(|level| {
            let level = u32::from(level.clamp(low, high) - low);
            u8::try_from((level * 255 + range / 2) / range).unwrap_or(u8::MAX)
        })
        .collect();
    let mut luma = image.clone();
    for pixel in luma.iter_mut() {
        *pixel = table[usize::from(*pixel)];
    }
    Some(View { luma, scale })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use image::Luma;

    #[test]
    fn enlarging_keeps_flat_areas_and_edges() {
        let image = GrayImage::from_fn(4, 2, |x, _| Luma([if x < 2 { 0 } else { 255 }]));
        let view = enlarge(&image).unwrap();
        assert_eq!(view.scale, 3.0);
        assert_eq!(view.luma.dimensions(), (12, 6));
        let row: Vec<u8> = (0..12).map(|x| view.luma.get_pixel(x, 3).0[0]).collect();
        assert_eq!(&row[..4], [0, 0, 0, 0]);
        assert_eq!(&row[8..], [255, 255, 255, 255]);
        assert!(
            row[4] < row[5] && row[5] < row[6] && row[6] < row[7],
            "{row:?}"
        );
    }

    #[test]
    fn pyramid_levels_average_blocks() {
        // 600 × 3: three columns of 3 × 3 blocks per 9 pixels, with levels 0, 90 and 255.
        let image = GrayImage::from_fn(600, 3, |x, _| Luma([[0, 90, 255][(x as usize / 3) % 3]]));
        let third = box_reduce(&image, 1.0, 3).unwrap();
        assert_eq!(third.luma.dimensions(), (200, 1));
        assert_eq!(third.scale, 1.0 / 3.0);
        assert_eq!(&third.luma.as_raw()[..4], [0, 90, 255, 0]);
        let half = box_reduce(&image, 1.0, 2).unwrap();
        assert_eq!(half.luma.dimensions(), (300, 1));
        assert_eq!(half.luma.get_pixel(1, 0).0[0], 45); // (0 + 0 + 90 + 90) / 4
        // Small images and the last pyramid level are not reduced further.
        assert!(box_reduce(&GrayImage::new(500, 400), 1.0, 3).is_none());
        assert!(box_reduce(&third.luma, third.scale, 3).is_none());
    }

    #[test]
    fn sharpening_keeps_flat_areas_and_steepens_edges() {
        let image = GrayImage::from_fn(20, 9, |x, _| Luma([if x < 10 { 60 } else { 200 }]));
        let view = sharpen(&image).unwrap();
        let row: Vec<u8> = (0..20).map(|x| view.luma.get_pixel(x, 4).0[0]).collect();
        assert_eq!((row[0], row[19]), (60, 200), "{row:?}");
        assert!(row[9] < 60 && row[10] > 200, "{row:?}");
        assert!(sharpen(&GrayImage::new(4, 4)).is_none());
    }
}
