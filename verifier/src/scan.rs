//! The verifier's input stage: the text of every QR code in an image file.
//!
//! The image may be a clean rendered PNG, a phone photo, a webcam shot or a hostile file. It goes
//! through four stages, one function each:
//!
//! 1. `read_pixels`: size caps before any pixel is decoded (file size, then the header's width,
//!    height, pixel count and decoded size), the format detected from the content (never from a
//!    file name), then the pixels decoded under an allocation cap (animations: first frame);
//! 2. `to_luma_over_white`: transparency composited over white, then grey levels; EXIF
//!    orientation applied;
//! 3. `find_codes`: decoding attempts, cheapest first, until one finds codes or the time budget
//!    runs out;
//! 4. `check_results`: duplicates removed (same text at the same place), caps on the number of
//!    codes and on the length of their text, reading order.
//!
//! The attempts: the image as decoded with local thresholds (rxing's `HybridBinarizer`), which
//! reads clean images at once; then an image pyramid as zxing-cpp builds one (copies with 3 × 3,
//! then 9 × 9 blocks averaged, down to about 500 pixels a side, and one with 2 × 2 blocks
//! averaged), which averages away sensor noise, JPEG blocks and the sub-pixel texture of a
//! photographed screen; a sharpened copy (out-of-focus photos); a reduced copy (large images), a
//! copy enlarged three or two times with a bicubic filter (small images, modules of one or two
//! pixels), a contrast-stretched copy (low-contrast images); then a global-histogram binarizer;
//! then exhaustive row scans ("try harder"); last, rxing's port of the Java reader. Each attempt
//! reads the image, then its inverse (light-on-dark codes); the detectors handle mirrored codes
//! and any rotation. `bench-photos` measures what each step is worth on synthetic photos.
//!
//! Every attempt uses a reader that reports all the codes it finds, so the codes of an image all
//! come from the first attempt that finds any; a second code that only a later attempt could read
//! is missed, never replaced by a guess.
//!
//! Panics in the decoding libraries are caught and become errors (the process's panic hook still
//! prints them).
//!
//! ```
//! use permit_verifier::scan::{ScanError, ScanLimits, scan_image_bytes};
//!
//! let err = scan_image_bytes(b"not an image", &ScanLimits::default()).unwrap_err();
//! assert!(matches!(err, ScanError::ImageUnreadable { .. }));
//! assert_eq!(err.code(), "IMAGE_UNREADABLE");
//! ```

use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use image::error::LimitErrorKind;
use image::imageops;
use image::{DynamicImage, GenericImageView, GrayImage, ImageDecoder, ImageError, ImageReader};
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::qrcode::QRCodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, RXingResult};

/// Caps against hostile images: every one is checked before the work it bounds is done.
///
/// The defaults admit any real photo (a 64 Mpx phone sensor at full resolution). The peak memory
/// of one scan is about `max_alloc_bytes` (the decoded image) plus `max_pixels` bytes (its grey
/// copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLimits {
    /// Largest accepted file, in bytes (checked first, on the raw input).
    pub max_file_bytes: u64,
    /// Largest accepted width in pixels, read from the header before decoding.
    pub max_width: u32,
    /// Largest accepted height in pixels, read from the header before decoding.
    pub max_height: u32,
    /// Largest accepted width × height, read from the header before decoding.
    pub max_pixels: u64,
    /// Largest buffer the image decoder may allocate (the decoded pixels included).
    pub max_alloc_bytes: u64,
    /// Most QR codes accepted in one image; more is [`ScanError::TooManyCodes`].
    pub max_codes: usize,
    /// Longest accepted text of one code, in UTF-8 bytes; longer is [`ScanError::TextTooLong`].
    pub max_text_bytes: usize,
    /// Time, from the start of the scan, after which no new decoding attempt is started (the first
    /// one always runs). An attempt is not interrupted, so a scan can overrun the budget by the
    /// length of one attempt (about 0.5 s for a 64 Mpx image in a release build).
    pub time_budget: Duration,
}

impl Default for ScanLimits {
    /// 64 MiB file; 20 000 px a side; 64 Mpx (an 8000 × 8000 image, or a 48–64 Mpx phone photo at
    /// full resolution); 512 MiB for the decoder (a 64 Mpx RGBA image with 16 bits a channel
    /// just fits); 16 codes; 8 KiB of text a code (a version 40 QR code holds at most 7089
    /// digits); 3 s.
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_width: 20_000,
            max_height: 20_000,
            max_pixels: 64_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            max_codes: 16,
            max_text_bytes: 8 * 1024,
            time_budget: Duration::from_secs(3),
        }
    }
}

/// One QR code found in an image.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedCode {
    /// The text exactly as encoded in the code (nothing trimmed or normalised).
    pub text: String,
    /// Where the code is, as `(x, y)` pixel coordinates in the image after its EXIF orientation is
    /// applied: its four corners, or, when only the last-resort reader found it, the centres of
    /// its finder (and alignment) patterns; empty when the decoder gave none.
    pub points: Vec<(f32, f32)>,
}

/// The codes of one image together with how they were found (for diagnostics and tuning).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    /// Every code found, in reading order (top to bottom, then left to right).
    pub codes: Vec<DecodedCode>,
    /// How many decoding attempts were run, the successful one included.
    pub attempts: usize,
    /// The attempt that found the codes, e.g. `native hybrid` or
    /// `enlarged x3 global-histogram try-harder inverted`.
    pub strategy: String,
}

/// Why an image gave no codes.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The bytes are not an image in a supported format (PNG, JPEG, WebP, BMP, GIF, TIFF), or the
    /// image data is corrupt.
    #[error("the file is not a readable image: {detail}")]
    ImageUnreadable {
        /// What the image decoder reported.
        detail: String,
    },
    /// A size cap was exceeded before decoding.
    #[error("the image is too large: its {what} is {actual}, the limit is {limit}")]
    TooLarge {
        /// Which quantity: `file size in bytes`, `width in pixels`, `height in pixels`,
        /// `pixel count` or `decoded size in bytes`.
        what: &'static str,
        /// The cap.
        limit: u64,
        /// The value of the input.
        actual: u64,
    },
    /// The image decoder needed more working memory than `max_alloc_bytes`.
    #[error("the image needs more than {limit} bytes of decoder memory")]
    DecoderMemoryLimit {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The image was read but no QR code was found in it.
    #[error("no QR code was found in the image")]
    NoCodeFound,
    /// No QR code was found before the time budget ran out.
    #[error("no QR code was found within the time budget of {budget_ms} ms")]
    TimedOut {
        /// The budget, in milliseconds.
        budget_ms: u64,
    },
    /// The image holds more QR codes than `max_codes`.
    #[error("the image holds more than {limit} QR codes")]
    TooManyCodes {
        /// The cap.
        limit: usize,
    },
    /// A code's text is longer than `max_text_bytes`.
    #[error("a QR code holds {actual} bytes of text, more than the limit of {limit}")]
    TextTooLong {
        /// The cap, in bytes.
        limit: usize,
        /// The length of the text, in bytes.
        actual: usize,
    },
    /// The QR decoding library panicked on this image; the panic was contained.
    #[error("the QR decoder failed unexpectedly on this image")]
    DecoderPanicked,
}

impl ScanError {
    /// A stable reason code for reports and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ImageUnreadable { .. } => "IMAGE_UNREADABLE",
            Self::TooLarge { .. } | Self::DecoderMemoryLimit { .. } => "IMAGE_TOO_LARGE",
            Self::NoCodeFound => "NO_CODE_FOUND",
            Self::TimedOut { .. } => "SCAN_TIMED_OUT",
            Self::TooManyCodes { .. } => "TOO_MANY_CODES",
            Self::TextTooLong { .. } => "CODE_TEXT_TOO_LONG",
            Self::DecoderPanicked => "DECODER_PANICKED",
        }
    }

    /// One line telling the user what to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::ImageUnreadable { .. } => {
                "give a PNG, JPEG, WebP, BMP, GIF or TIFF image of the permit's QR code"
            }
            Self::TooLarge { .. } | Self::DecoderMemoryLimit { .. } => {
                "give a smaller image, for example a crop around the QR code"
            }
            Self::NoCodeFound | Self::TimedOut { .. } | Self::DecoderPanicked => {
                "retake the photo with the whole code in the frame, in focus and without glare"
            }
            Self::TooManyCodes { .. } => "crop the image to the codes to verify",
            Self::TextTooLong { .. } => {
                "the code holds more text than a residence permit can; it is not one"
            }
        }
    }
}

/// Every QR code in an image file (PNG, JPEG, WebP, BMP, GIF or TIFF, detected by content).
///
/// All the codes of the image are returned, in reading order; never one chosen among several.
pub fn scan_image_bytes(bytes: &[u8], limits: &ScanLimits) -> Result<Vec<DecodedCode>, ScanError> {
    scan_image_bytes_with_report(bytes, limits).map(|report| report.codes)
}

/// [`scan_image_bytes`], also telling how the codes were found.
pub fn scan_image_bytes_with_report(
    bytes: &[u8],
    limits: &ScanLimits,
) -> Result<ScanReport, ScanError> {
    let start = Instant::now();
    let image = read_pixels(bytes, limits)?;
    let luma = to_luma_over_white(image.pixels, image.orientation);
    let found = find_codes(luma, start, limits)?;
    let codes = check_results(found.codes, limits)?;
    Ok(ScanReport {
        codes,
        attempts: found.attempts,
        strategy: found.strategy,
    })
}

/// Decoded pixels and the EXIF orientation still to apply.
struct Pixels {
    pixels: DynamicImage,
    orientation: image::metadata::Orientation,
}

/// Stage 1: caps, format sniffing and pixel decoding.
fn read_pixels(bytes: &[u8], limits: &ScanLimits) -> Result<Pixels, ScanError> {
    check_cap(
        "file size in bytes",
        limits.max_file_bytes,
        bytes.len() as u64,
    )?;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(&e))?;
    if reader.format().is_none() {
        return Err(ScanError::ImageUnreadable {
            detail: "unknown format (not PNG, JPEG, WebP, BMP, GIF or TIFF)".to_owned(),
        });
    }
    // Dimensions are checked below against our own caps so that the error names them; the
    // allocation cap is set now because the PNG decoder takes its limits when it is built.
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits.clone());

    contain(move || {
        let mut decoder = reader.into_decoder().map_err(|e| image_error(&e, limits))?;
        let (width, height) = decoder.dimensions();
        check_cap(
            "width in pixels",
            u64::from(limits.max_width),
            u64::from(width),
        )?;
        check_cap(
            "height in pixels",
            u64::from(limits.max_height),
            u64::from(height),
        )?;
        check_cap(
            "pixel count",
            limits.max_pixels,
            u64::from(width) * u64::from(height),
        )?;
        let total = decoder.total_bytes();
        check_cap("decoded size in bytes", limits.max_alloc_bytes, total)?;
        decoder_limits.max_image_width = Some(limits.max_width);
        decoder_limits.max_image_height = Some(limits.max_height);
        decoder_limits
            .reserve(total)
            .and_then(|()| decoder.set_limits(decoder_limits))
            .map_err(|e| image_error(&e, limits))?;
        // A damaged EXIF block loses only the orientation, not the image.
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let pixels = DynamicImage::from_decoder(decoder).map_err(|e| image_error(&e, limits))?;
        Ok(Pixels {
            pixels,
            orientation,
        })
    })
    .unwrap_or_else(|| {
        Err(ScanError::ImageUnreadable {
            detail: "the image decoder failed unexpectedly".to_owned(),
        })
    })
}

fn check_cap(what: &'static str, limit: u64, actual: u64) -> Result<(), ScanError> {
    if actual > limit {
        Err(ScanError::TooLarge {
            what,
            limit,
            actual,
        })
    } else {
        Ok(())
    }
}

fn unreadable(error: &dyn std::fmt::Display) -> ScanError {
    ScanError::ImageUnreadable {
        detail: error.to_string(),
    }
}

fn image_error(error: &ImageError, limits: &ScanLimits) -> ScanError {
    match error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::InsufficientMemory => ScanError::DecoderMemoryLimit {
                limit: limits.max_alloc_bytes,
            },
            _ => unreadable(error),
        },
        _ => unreadable(error),
    }
}

/// Runs `work`, turning a panic into `None`.
fn contain<T>(work: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(work)).ok()
}

/// Stage 2: grey levels, transparency composited over white, EXIF orientation applied.
///
/// Consumes the decoded image so that it is freed before the grey copy is rotated.
fn to_luma_over_white(image: DynamicImage, orientation: image::metadata::Orientation) -> GrayImage {
    let (width, height) = image.dimensions();
    let luma = match image {
        DynamicImage::ImageLuma8(gray) => gray,
        DynamicImage::ImageRgb8(rgb) => {
            let mut luma = GrayImage::new(width, height);
            for (out, p) in luma.iter_mut().zip(rgb.as_raw().chunks_exact(3)) {
                *out = luma_over_white(p[0], p[1], p[2], u8::MAX);
            }
            luma
        }
        DynamicImage::ImageRgba8(rgba) => {
            let mut luma = GrayImage::new(width, height);
            for (out, p) in luma.iter_mut().zip(rgba.as_raw().chunks_exact(4)) {
                *out = luma_over_white(p[0], p[1], p[2], p[3]);
            }
            luma
        }
        // Other layouts (grey with alpha, 16 bits, floats) pixel by pixel, through 8-bit RGBA.
        other => {
            let mut luma = GrayImage::new(width, height);
            for (x, y, out) in luma.enumerate_pixels_mut() {
                let [r, g, b, a] = other.get_pixel(x, y).0;
                out.0 = [luma_over_white(r, g, b, a)];
            }
            luma
        }
    };
    let mut oriented = DynamicImage::ImageLuma8(luma);
    oriented.apply_orientation(orientation);
    oriented.into_luma8()
}

/// Rec. 601 luma of a pixel, composited over a white background.
fn luma_over_white(r: u8, g: u8, b: u8, alpha: u8) -> u8 {
    let luma = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000;
    let alpha = u32::from(alpha);
    let composited = (luma * alpha + 255 * (255 - alpha) + 127) / 255;
    u8::try_from(composited).unwrap_or(u8::MAX)
}

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
/// Views of more pixels than this are not given to the (slow) Java-port reader.
const JAVA_READER_MAX_PIXELS: u64 = 4_000_000;
/// Grey levels between the darkest and lightest 0.5 % of pixels below which a contrast-stretched
/// copy is also tried.
const STRETCH_BELOW_RANGE: u8 = 200;

/// The copies of the image that are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViewKind {
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
struct Views {
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
    fn new(native: GrayImage) -> Self {
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
    fn get(&mut self, kind: ViewKind) -> Option<(&GrayImage, f32)> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinarizerKind {
    /// Local thresholds (8 × 8 blocks): photos with uneven light.
    Hybrid,
    /// One threshold per row from a histogram: blurred or low-contrast codes.
    GlobalHistogram,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReaderKind {
    /// The zxing-cpp port: finds every code in one pass, handles mirrored codes.
    Cpp,
    /// The zxing (Java) port, applied recursively around each found code.
    Java,
}

/// One decoding attempt: a view, a binarizer, a reader; plain then inverted.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    view: ViewKind,
    binarizer: BinarizerKind,
    try_harder: bool,
    reader: ReaderKind,
}

/// The attempts in order: cheap first, then other views, binarizers, exhaustive row scans, and
/// the second reader.
const PLAN: &[Attempt] = {
    use BinarizerKind::{GlobalHistogram as Global, Hybrid};
    use ReaderKind::{Cpp, Java};
    use ViewKind::{Enlarged, Half, Native, Ninth, Reduced, Sharpened, Stretched, Third};
    const fn a(
        view: ViewKind,
        binarizer: BinarizerKind,
        try_harder: bool,
        reader: ReaderKind,
    ) -> Attempt {
        Attempt {
            view,
            binarizer,
            try_harder,
            reader,
        }
    }
    &[
        a(Native, Hybrid, false, Cpp),
        a(Third, Hybrid, false, Cpp),
        a(Ninth, Hybrid, false, Cpp),
        a(Half, Hybrid, false, Cpp),
        a(Sharpened, Hybrid, false, Cpp),
        a(Reduced, Hybrid, false, Cpp),
        a(Enlarged, Hybrid, false, Cpp),
        a(Stretched, Hybrid, false, Cpp),
        a(Native, Global, true, Cpp),
        a(Reduced, Global, true, Cpp),
        a(Enlarged, Global, true, Cpp),
        a(Native, Hybrid, true, Cpp),
        a(Reduced, Hybrid, true, Cpp),
        a(Enlarged, Hybrid, true, Cpp),
        a(Native, Hybrid, true, Java),
        a(Reduced, Hybrid, true, Java),
        a(Enlarged, Hybrid, true, Java),
        a(Stretched, Hybrid, true, Java),
        a(Native, Global, true, Java),
    ]
};

/// Whether the zxing-cpp port's "try harder" (scan every third row) would scan the same rows as
/// its default (every `3 × height / 388`th row, at least every third).
fn try_harder_changes_nothing(attempt: &Attempt, height: u32) -> bool {
    attempt.try_harder && attempt.reader == ReaderKind::Cpp && 3 * height / (4 * 97) <= 3
}

/// What [`find_codes`] found.
struct Found {
    codes: Vec<DecodedCode>,
    attempts: usize,
    strategy: String,
}

/// Stage 3: escalating attempts until one finds codes or the budget runs out.
fn find_codes(luma: GrayImage, start: Instant, limits: &ScanLimits) -> Result<Found, ScanError> {
    if luma.width() == 0 || luma.height() == 0 {
        return Err(ScanError::NoCodeFound);
    }
    let mut views = Views::new(luma);
    let mut panicked = false;
    let mut attempts = 0;
    for attempt in PLAN {
        if attempts > 0 && start.elapsed() >= limits.time_budget {
            return Err(if panicked {
                ScanError::DecoderPanicked
            } else {
                ScanError::TimedOut {
                    budget_ms: u64::try_from(limits.time_budget.as_millis()).unwrap_or(u64::MAX),
                }
            });
        }
        // Making a view runs our own code only, but is contained too.
        let Some(view) = contain(|| views.get(attempt.view)) else {
            panicked = true;
            continue;
        };
        let Some((image, scale)) = view else { continue };
        if try_harder_changes_nothing(attempt, image.height())
            || (attempt.reader == ReaderKind::Java
                && u64::from(image.width()) * u64::from(image.height()) > JAVA_READER_MAX_PIXELS)
        {
            continue;
        }
        attempts += 1;
        match run_attempt(image, attempt) {
            None => panicked = true,
            Some((results, inverted)) if !results.is_empty() => {
                let codes = results
                    .iter()
                    .map(|result| DecodedCode {
                        text: result.getText().to_owned(),
                        points: result
                            .getPoints()
                            .iter()
                            .map(|p| (p.x / scale, p.y / scale))
                            .collect(),
                    })
                    .collect();
                return Ok(Found {
                    codes,
                    attempts,
                    strategy: describe(attempt, scale, inverted),
                });
            }
            Some(_) => {}
        }
    }
    Err(if panicked {
        ScanError::DecoderPanicked
    } else {
        ScanError::NoCodeFound
    })
}

fn describe(attempt: &Attempt, scale: f32, inverted: bool) -> String {
    let mut text = match attempt.view {
        ViewKind::Native => "native".to_owned(),
        ViewKind::Reduced => format!("reduced x{scale:.2}"),
        ViewKind::Enlarged => format!("enlarged x{scale:.0}"),
        ViewKind::Stretched => format!("stretched x{scale:.2}"),
        ViewKind::Third | ViewKind::Ninth | ViewKind::Half => format!("pyramid x{scale:.2}"),
        ViewKind::Sharpened => "sharpened".to_owned(),
    };
    text.push_str(match attempt.binarizer {
        BinarizerKind::Hybrid => " hybrid",
        BinarizerKind::GlobalHistogram => " global-histogram",
    });
    if attempt.try_harder {
        text.push_str(" try-harder");
    }
    if attempt.reader == ReaderKind::Java {
        text.push_str(" java-reader");
    }
    if inverted {
        text.push_str(" inverted");
    }
    text
}

/// Runs one attempt, plain then inverted; `None` if the decoder panicked.
fn run_attempt(image: &GrayImage, attempt: &Attempt) -> Option<(Vec<RXingResult>, bool)> {
    let (width, height) = image.dimensions();
    let Ok(source) = Luma8Source::new_with_slice(image.as_raw(), width, height) else {
        return Some((Vec::new(), false));
    };
    let hints = DecodeHints {
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
        TryHarder: Some(attempt.try_harder),
        ..DecodeHints::default()
    };
    contain(|| match attempt.binarizer {
        BinarizerKind::Hybrid => decode_both_ways(
            BinaryBitmap::new(HybridBinarizer::new(source)),
            &hints,
            attempt,
        ),
        BinarizerKind::GlobalHistogram => decode_both_ways(
            BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
            &hints,
            attempt,
        ),
    })
}

fn decode_both_ways<B: Binarizer>(
    mut bitmap: BinaryBitmap<B>,
    hints: &DecodeHints,
    attempt: &Attempt,
) -> (Vec<RXingResult>, bool) {
    let plain = decode_multiple(&mut bitmap, hints, attempt.reader);
    if !plain.is_empty() {
        return (plain, false);
    }
    bitmap.invert();
    (decode_multiple(&mut bitmap, hints, attempt.reader), true)
}

fn decode_multiple<B: Binarizer>(
    bitmap: &mut BinaryBitmap<B>,
    hints: &DecodeHints,
    reader: ReaderKind,
) -> Vec<RXingResult> {
    let results = match reader {
        ReaderKind::Cpp => QrReader.decode_multiple_with_hints(bitmap, hints),
        ReaderKind::Java => GenericMultipleBarcodeReader::new(QRCodeReader)
            .decode_multiple_with_hints(bitmap, hints),
    };
    results.unwrap_or_default()
}

/// Stage 4: duplicates removed, caps checked, reading order.
fn check_results(
    found: Vec<DecodedCode>,
    limits: &ScanLimits,
) -> Result<Vec<DecodedCode>, ScanError> {
    let mut codes: Vec<DecodedCode> = Vec::new();
    for code in found {
        if !codes.iter().any(|kept| same_code(kept, &code)) {
            codes.push(code);
        }
    }
    if codes.len() > limits.max_codes {
        return Err(ScanError::TooManyCodes {
            limit: limits.max_codes,
        });
    }
    if let Some(long) = codes.iter().find(|c| c.text.len() > limits.max_text_bytes) {
        return Err(ScanError::TextTooLong {
            limit: limits.max_text_bytes,
            actual: long.text.len(),
        });
    }
    Ok(reading_order(codes))
}

/// Rows from top to bottom, each left to right. A row is the codes whose centres lie within the
/// height of its topmost code, so codes side by side in a tilted photo stay in one row.
fn reading_order(mut codes: Vec<DecodedCode>) -> Vec<DecodedCode> {
    codes.sort_by(|a, b| top_left(a).1.total_cmp(&top_left(b).1));
    let mut rows: Vec<(f32, Vec<DecodedCode>)> = Vec::new();
    for code in codes {
        let (centre_y, bottom) = bounds(&code).map_or((0.0, 0.0), |b| (b.centre().1, b.max.1));
        match rows.last_mut() {
            Some((row_bottom, row)) if centre_y <= *row_bottom => row.push(code),
            _ => rows.push((bottom, vec![code])),
        }
    }
    rows.into_iter()
        .flat_map(|(_, mut row)| {
            row.sort_by(|a, b| top_left(a).0.total_cmp(&top_left(b).0));
            row
        })
        .collect()
}

/// Same text, and the centre of one inside the bounding box of the other.
fn same_code(a: &DecodedCode, b: &DecodedCode) -> bool {
    if a.text != b.text {
        return false;
    }
    match (bounds(a), bounds(b)) {
        (Some(ba), Some(bb)) => ba.contains(bb.centre()) || bb.contains(ba.centre()),
        _ => true,
    }
}

#[derive(Debug, Clone, Copy)]
struct Bounds {
    min: (f32, f32),
    max: (f32, f32),
}

impl Bounds {
    fn centre(self) -> (f32, f32) {
        (
            (self.min.0 + self.max.0) / 2.0,
            (self.min.1 + self.max.1) / 2.0,
        )
    }

    fn contains(self, (x, y): (f32, f32)) -> bool {
        (self.min.0..=self.max.0).contains(&x) && (self.min.1..=self.max.1).contains(&y)
    }
}

fn bounds(code: &DecodedCode) -> Option<Bounds> {
    let first = *code.points.first()?;
    Some(code.points.iter().fold(
        Bounds {
            min: first,
            max: first,
        },
        |b, &(x, y)| Bounds {
            min: (b.min.0.min(x), b.min.1.min(y)),
            max: (b.max.0.max(x), b.max.1.max(y)),
        },
    ))
}

fn top_left(code: &DecodedCode) -> (f32, f32) {
    bounds(code).map_or((0.0, 0.0), |b| b.min)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use image::{ImageFormat, Luma, Rgba, RgbaImage};

    /// Permit-like text: prefix, base45 alphabet, spaces kept at both ends.
    const TEXT: &str =
        " GDRP1:NCFOXN%TS3DHMSCEQVSU9$BJD$45NL-AH-R6IOOW%IHOT$E08WAWN0%W0AT4V22F/8X*G3M9 ";

    /// `text` as a QR code, `module` pixels a module, dark on light, 4 modules of quiet zone.
    fn render(text: &str, module: u32) -> GrayImage {
        render_code(&qrcode::QrCode::new(text.as_bytes()).unwrap(), module)
    }

    fn render_code(code: &qrcode::QrCode, module: u32) -> GrayImage {
        let colors = code.to_colors();
        let n = u32::try_from(code.width()).unwrap();
        let side = (n + 8) * module;
        GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = ((x / module).wrapping_sub(4), (y / module).wrapping_sub(4));
            let dark = mx < n
                && my < n
                && colors[usize::try_from(my * n + mx).unwrap()] == qrcode::Color::Dark;
            Luma([if dark { 0 } else { 255 }])
        })
    }

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn scan(image: impl Into<DynamicImage>) -> Result<ScanReport, ScanError> {
        let png = encode(&image.into(), ImageFormat::Png);
        scan_image_bytes_with_report(&png, &ScanLimits::default())
    }

    fn texts(report: &ScanReport) -> Vec<&str> {
        report.codes.iter().map(|c| c.text.as_str()).collect()
    }

    /// `image` turned by `degrees` clockwise about its centre (nearest neighbour), on a white
    /// canvas large enough to hold it.
    fn rotate(image: &GrayImage, degrees: f32) -> GrayImage {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (w, h) = (image.width() as f32, image.height() as f32);
        let side_w = (w * cos.abs() + h * sin.abs()).ceil() + 2.0;
        let side_h = (w * sin.abs() + h * cos.abs()).ceil() + 2.0;
        GrayImage::from_fn(side_w as u32, side_h as u32, |x, y| {
            let (dx, dy) = (x as f32 + 0.5 - side_w / 2.0, y as f32 + 0.5 - side_h / 2.0);
            let sx = dx * cos + dy * sin + w / 2.0;
            let sy = -dx * sin + dy * cos + h / 2.0;
            if sx >= 0.0 && sy >= 0.0 && sx < w && sy < h {
                *image.get_pixel(sx as u32, sy as u32)
            } else {
                Luma([255])
            }
        })
    }

    /// White canvas with each image pasted at its offset.
    fn compose(width: u32, height: u32, parts: &[(&GrayImage, u32, u32)]) -> GrayImage {
        let mut canvas = GrayImage::from_pixel(width, height, Luma([255]));
        for (part, x, y) in parts {
            imageops::replace(&mut canvas, *part, i64::from(*x), i64::from(*y));
        }
        canvas
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A PNG whose header claims `width` × `height` 8-bit grey pixels and whose data is a few
    /// bytes: decoding its pixels would need the full buffer.
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        png_chunk(&mut out, b"IHDR", &ihdr);
        // zlib stream of a few empty stored blocks.
        png_chunk(
            &mut out,
            b"IDAT",
            &[0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff],
        );
        png_chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn clean_png_decodes_exactly_on_the_first_attempt() {
        let image = render(TEXT, 4);
        let report = scan(image.clone()).unwrap();
        assert_eq!(texts(&report), [TEXT], "text kept with its spaces");
        assert_eq!(report.attempts, 1);
        assert_eq!(report.strategy, "native hybrid");
        let points = &report.codes[0].points;
        assert!(points.len() >= 3, "{points:?}");
        for &(x, y) in points {
            assert!((0.0..image.width() as f32).contains(&x), "{points:?}");
            assert!((0.0..image.height() as f32).contains(&y), "{points:?}");
        }
    }

    #[test]
    fn non_ascii_text_is_returned_exactly() {
        // UTF-8 in one byte-mode segment. (`QrCode::new` would put some of these bytes in Kanji
        // segments, which mean Shift JIS to every reader.)
        let text = "广东省居住证 Guangdong résidence\n";
        let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(5));
        bits.push_byte_data(text.as_bytes()).unwrap();
        bits.push_terminator(qrcode::EcLevel::M).unwrap();
        let code = qrcode::QrCode::with_bits(bits, qrcode::EcLevel::M).unwrap();
        assert_eq!(texts(&scan(render_code(&code, 4)).unwrap()), [text]);
    }

    #[test]
    fn every_supported_format_decodes_by_content() {
        let image = DynamicImage::ImageLuma8(render(TEXT, 4));
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        for (format, image) in [
            (ImageFormat::Png, &image),
            (ImageFormat::Jpeg, &image),
            (ImageFormat::WebP, &image),
            (ImageFormat::Bmp, &rgb),
            (ImageFormat::Gif, &rgb),
            (ImageFormat::Tiff, &image),
        ] {
            let bytes = encode(image, format);
            let codes = scan_image_bytes(&bytes, &ScanLimits::default());
            assert_eq!(codes.unwrap()[0].text, TEXT, "{format:?}");
        }
    }

    #[test]
    fn black_on_transparent_is_composited_over_white() {
        let gray = render(TEXT, 4);
        // Light modules are transparent black: read without compositing, all would be black.
        let rgba = RgbaImage::from_fn(gray.width(), gray.height(), |x, y| {
            let alpha = 255 - gray.get_pixel(x, y).0[0];
            Rgba([0, 0, 0, alpha])
        });
        assert_eq!(texts(&scan(rgba.clone()).unwrap()), [TEXT]);
        // The same through the generic (16-bit) conversion path.
        let rgba16 = DynamicImage::ImageRgba8(rgba).to_rgba16();
        assert_eq!(texts(&scan(rgba16).unwrap()), [TEXT]);
    }

    #[test]
    fn inverted_code_decodes() {
        let mut image = render(TEXT, 4);
        imageops::invert(&mut image);
        let report = scan(image).unwrap();
        assert_eq!(texts(&report), [TEXT]);
        assert!(report.strategy.ends_with("inverted"), "{}", report.strategy);
    }

    #[test]
    fn mirrored_code_decodes() {
        let image = imageops::flip_horizontal(&render(TEXT, 4));
        assert_eq!(texts(&scan(image).unwrap()), [TEXT]);
    }

    #[test]
    fn rotated_codes_decode() {
        let image = render(TEXT, 4);
        assert_eq!(texts(&scan(imageops::rotate90(&image)).unwrap()), [TEXT]);
        assert_eq!(texts(&scan(imageops::rotate180(&image)).unwrap()), [TEXT]);
        for degrees in [30.0, 45.0, -17.0] {
            let report = scan(rotate(&image, degrees)).unwrap();
            assert_eq!(texts(&report), [TEXT], "{degrees}°");
        }
    }

    #[test]
    fn every_code_of_the_image_is_returned_in_reading_order() {
        let left = render("LEFT-PERMIT-0001", 4);
        let right = render("RIGHT-PERMIT-0002", 4);
        let (w, h) = (left.width(), left.height());
        let image = compose(2 * w + 40, h + 40, &[(&left, 10, 20), (&right, w + 30, 20)]);
        let report = scan(image).unwrap();
        assert_eq!(texts(&report), ["LEFT-PERMIT-0001", "RIGHT-PERMIT-0002"]);
        assert!(
            report.codes[0]
                .points
                .iter()
                .all(|&(x, _)| x < w as f32 + 20.0)
        );
        assert!(
            report.codes[1]
                .points
                .iter()
                .all(|&(x, _)| x > w as f32 + 20.0)
        );
    }

    #[test]
    fn codes_side_by_side_but_not_level_stay_left_to_right() {
        let left = render("LEFT-LOWER", 4);
        let right = render("RIGHT-HIGHER", 4);
        let (w, h) = (left.width(), left.height());
        // The right code starts 40 px higher: it is still on the same row.
        let image = compose(2 * w + 40, h + 80, &[(&left, 10, 60), (&right, w + 30, 20)]);
        assert_eq!(texts(&scan(image).unwrap()), ["LEFT-LOWER", "RIGHT-HIGHER"]);
        let codes = vec![
            DecodedCode {
                text: "below".to_owned(),
                points: vec![(0.0, 200.0), (100.0, 300.0)],
            },
            DecodedCode {
                text: "right".to_owned(),
                points: vec![(150.0, 10.0), (250.0, 110.0)],
            },
            DecodedCode {
                text: "left".to_owned(),
                points: vec![(0.0, 30.0), (100.0, 130.0)],
            },
        ];
        let order: Vec<String> = reading_order(codes).into_iter().map(|c| c.text).collect();
        assert_eq!(order, ["left", "right", "below"]);
    }

    #[test]
    fn the_same_code_printed_twice_is_reported_twice() {
        let code = render(TEXT, 3);
        let (w, h) = (code.width(), code.height());
        let image = compose(w, 2 * h + 30, &[(&code, 0, 0), (&code, 0, h + 30)]);
        assert_eq!(texts(&scan(image).unwrap()), [TEXT, TEXT]);
    }

    #[test]
    fn tiny_code_with_one_pixel_modules_decodes() {
        let image = render(TEXT, 1);
        assert!(image.width() < 60);
        let report = scan(image).unwrap();
        assert_eq!(texts(&report), [TEXT], "{}", report.strategy);
    }

    #[test]
    fn small_blurry_jpeg_decodes_enlarged() {
        // Modules of 1.4 px, blurred by the reduction and by JPEG at quality 50.
        let image = render(TEXT, 4);
        let side = image.width() * 35 / 100;
        let small = imageops::resize(&image, side, side, imageops::FilterType::Triangle);
        let mut jpeg = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 50);
        DynamicImage::ImageLuma8(small)
            .write_with_encoder(encoder)
            .unwrap();
        let report = scan_image_bytes_with_report(&jpeg, &ScanLimits::default()).unwrap();
        assert_eq!(texts(&report), [TEXT]);
        assert!(
            report.strategy.starts_with("enlarged x3"),
            "{}",
            report.strategy
        );
    }

    #[test]
    fn low_contrast_code_decodes_stretched() {
        let mut image = render(TEXT, 4);
        for pixel in image.iter_mut() {
            *pixel = 110 + *pixel / 6; // grey levels 110 to 152
        }
        let report = scan(image).unwrap();
        assert_eq!(texts(&report), [TEXT]);
        assert!(
            report.strategy.starts_with("stretched"),
            "{}",
            report.strategy
        );
    }

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

    #[test]
    fn exif_orientation_is_applied() {
        // A 2:1 canvas with the code in its right half; EXIF says "rotate 90° clockwise", which
        // moves the right half to the bottom of a 1:2 image.
        let code = render(TEXT, 3);
        let side = code.width();
        let canvas = compose(2 * side, side, &[(&code, side, 0)]);
        let exif = [
            b'M', b'M', 0, 42, 0, 0, 0, 8, // TIFF header, first IFD at 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation (SHORT, 1) = 6
            0, 0, 0, 0, // no next IFD
        ];
        let mut png = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        image::ImageEncoder::set_exif_metadata(&mut encoder, exif.to_vec()).unwrap();
        image::ImageEncoder::write_image(
            encoder,
            canvas.as_raw(),
            canvas.width(),
            canvas.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
        let codes = scan_image_bytes(&png, &ScanLimits::default()).unwrap();
        assert_eq!(codes.len(), 1);
        for &(x, y) in &codes[0].points {
            assert!(x < side as f32 && y > side as f32, "{:?}", codes[0].points);
        }
    }

    #[test]
    fn random_bytes_are_unreadable() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let err = scan_image_bytes(&bytes, &ScanLimits::default()).unwrap_err();
        assert!(matches!(err, ScanError::ImageUnreadable { .. }), "{err:?}");
        assert_eq!(err.code(), "IMAGE_UNREADABLE");
        let err = scan_image_bytes(&[], &ScanLimits::default()).unwrap_err();
        assert!(matches!(err, ScanError::ImageUnreadable { .. }), "{err:?}");
    }

    #[test]
    fn truncated_png_is_unreadable() {
        let png = encode(&render(TEXT, 4).into(), ImageFormat::Png);
        let err = scan_image_bytes(&png[..png.len() / 2], &ScanLimits::default()).unwrap_err();
        assert!(matches!(err, ScanError::ImageUnreadable { .. }), "{err:?}");
    }

    #[test]
    fn oversized_headers_are_refused_before_decoding() {
        let started = Instant::now();
        let err = scan_image_bytes(&png_claiming(100_000, 100_000), &ScanLimits::default());
        match err.unwrap_err() {
            ScanError::TooLarge {
                what,
                limit,
                actual,
            } => {
                assert_eq!((what, limit, actual), ("width in pixels", 20_000, 100_000));
            }
            other => panic!("{other:?}"),
        }
        let err = scan_image_bytes(&png_claiming(20_000, 20_000), &ScanLimits::default());
        match err.unwrap_err() {
            e @ ScanError::TooLarge { what, actual, .. } => {
                assert_eq!((what, actual), ("pixel count", 400_000_000));
                assert_eq!(e.code(), "IMAGE_TOO_LARGE");
            }
            other => panic!("{other:?}"),
        }
        let limits = ScanLimits {
            max_alloc_bytes: 1 << 20,
            ..ScanLimits::default()
        };
        let err = scan_image_bytes(&png_claiming(2000, 2000), &limits).unwrap_err();
        assert!(
            matches!(err, ScanError::TooLarge { what: "decoded size in bytes", limit, actual: 4_000_000 } if limit == 1 << 20),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn file_size_is_capped_first() {
        let limits = ScanLimits {
            max_file_bytes: 100,
            ..ScanLimits::default()
        };
        let err = scan_image_bytes(&[0; 101], &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ScanError::TooLarge {
                    what: "file size in bytes",
                    limit: 100,
                    actual: 101
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn code_count_and_text_length_are_capped() {
        let a = render("CODE-A", 4);
        let b = render("CODE-B", 4);
        let c = render("CODE-C", 4);
        let w = a.width();
        let image = compose(
            3 * w + 40,
            w + 20,
            &[(&a, 10, 10), (&b, w + 20, 10), (&c, 2 * w + 30, 10)],
        );
        let png = encode(&image.into(), ImageFormat::Png);
        let codes = scan_image_bytes(&png, &ScanLimits::default()).unwrap();
        assert_eq!(codes.len(), 3);
        let limits = ScanLimits {
            max_codes: 2,
            ..ScanLimits::default()
        };
        let err = scan_image_bytes(&png, &limits).unwrap_err();
        assert!(
            matches!(err, ScanError::TooManyCodes { limit: 2 }),
            "{err:?}"
        );
        assert_eq!(err.code(), "TOO_MANY_CODES");

        let limits = ScanLimits {
            max_text_bytes: 5,
            ..ScanLimits::default()
        };
        let err = scan_image_bytes(&png, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ScanError::TextTooLong {
                    limit: 5,
                    actual: 6
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn blank_image_has_no_code() {
        let err = scan(GrayImage::from_pixel(300, 200, Luma([255]))).unwrap_err();
        assert!(matches!(err, ScanError::NoCodeFound), "{err:?}");
        assert_eq!(err.code(), "NO_CODE_FOUND");
    }

    #[test]
    fn time_budget_stops_the_escalation() {
        let limits = ScanLimits {
            time_budget: Duration::ZERO,
            ..ScanLimits::default()
        };
        let png = encode(
            &GrayImage::from_pixel(300, 200, Luma([255])).into(),
            ImageFormat::Png,
        );
        let err = scan_image_bytes(&png, &limits).unwrap_err();
        assert!(
            matches!(err, ScanError::TimedOut { budget_ms: 0 }),
            "{err:?}"
        );
        // A clean code is still found: the first attempt always runs.
        let png = encode(&render(TEXT, 4).into(), ImageFormat::Png);
        assert_eq!(scan_image_bytes(&png, &limits).unwrap()[0].text, TEXT);
    }

    #[test]
    fn panics_are_contained() {
        let caught = contain(|| -> u8 { panic!("decoder bug") });
        assert!(caught.is_none());
        assert_eq!(contain(|| 7), Some(7));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(48))]

        /// Damaged files give codes or an error, never a panic, within the budget.
        #[test]
        fn damaged_images_never_panic(
            format in proptest::sample::select(vec![ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif]),
            flips in proptest::collection::vec((proptest::num::usize::ANY, 0_u8..8), 1..24),
            cut in proptest::option::of(proptest::num::usize::ANY),
        ) {
            let image = DynamicImage::ImageRgb8(DynamicImage::ImageLuma8(render("DAMAGED", 2)).to_rgb8());
            let mut bytes = encode(&image, format);
            for (at, bit) in flips {
                let at = at % bytes.len();
                bytes[at] ^= 1 << bit;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            let limits = ScanLimits {
                time_budget: Duration::from_millis(200),
                ..ScanLimits::default()
            };
            let _ = scan_image_bytes(&bytes, &limits);
        }
    }

    #[test]
    fn luma_over_white_composites() {
        assert_eq!(luma_over_white(0, 0, 0, 0), 255);
        assert_eq!(luma_over_white(0, 0, 0, 255), 0);
        assert_eq!(luma_over_white(255, 255, 255, 255), 255);
        assert_eq!(luma_over_white(0, 0, 0, 128), 127);
    }
}
