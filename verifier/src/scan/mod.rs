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
//! One module per stage: `pixels` (1), `luma` (2), `views` (the copies of the image) and
//! `decode` (the attempts) for 3, `results` (4); this module holds the limits, the results, the
//! errors and the entry points.
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

mod decode;
mod luma;
mod pixels;
mod results;
#[cfg(test)]
mod testkit;
mod views;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use web_time::Instant;

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
    let image = pixels::read_pixels(bytes, limits)?;
    scan_pixels(image, start, limits)
}

/// Every QR code in pixels that are already decoded, such as a camera frame: RGBA, 8 bits a
/// channel, row by row without padding (a browser's `ImageData`). The same caps (but for the file
/// size) and the same attempts as [`scan_image_bytes_with_report`]; a buffer whose length is not
/// `width × height × 4` is [`ScanError::ImageUnreadable`].
pub fn scan_rgba(
    width: u32,
    height: u32,
    rgba: &[u8],
    limits: &ScanLimits,
) -> Result<ScanReport, ScanError> {
    let start = Instant::now();
    let image = pixels::raw_rgba(width, height, rgba, limits)?;
    scan_pixels(image, start, limits)
}

/// Stages 2 to 4.
fn scan_pixels(
    image: pixels::Pixels,
    start: Instant,
    limits: &ScanLimits,
) -> Result<ScanReport, ScanError> {
    let luma = luma::to_luma_over_white(image.pixels, image.orientation);
    let found = decode::find_codes(luma, start, limits)?;
    let codes = results::check_results(found.codes, limits)?;
    Ok(ScanReport {
        codes,
        attempts: found.attempts,
        strategy: found.strategy,
    })
}

/// Runs `work`, turning a panic into `None`.
fn contain<T>(work: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(work)).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::testkit::{TEXT, compose, encode, render, render_code, scan, texts};
    use super::*;
    use image::{DynamicImage, GrayImage, ImageFormat, Luma, imageops};

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
    fn blank_image_has_no_code() {
        let err = scan(GrayImage::from_pixel(300, 200, Luma([255]))).unwrap_err();
        assert!(matches!(err, ScanError::NoCodeFound), "{err:?}");
        assert_eq!(err.code(), "NO_CODE_FOUND");
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
    fn rgba_frame_decodes_like_the_encoded_image() {
        // A code on a 1280 × 720 transparent-edged frame, as a canvas gives it.
        let frame = compose(1280, 720, &[(&render(TEXT, 5), 400, 120)]);
        let rgba = DynamicImage::ImageLuma8(frame).to_rgba8();
        let (w, h) = rgba.dimensions();
        let report = scan_rgba(w, h, rgba.as_raw(), &ScanLimits::default()).unwrap();
        assert_eq!(texts(&report), [TEXT]);
    }

    #[test]
    fn rgba_buffer_of_the_wrong_length_or_size_is_refused() {
        let limits = ScanLimits::default();
        let err = scan_rgba(10, 10, &[255; 399], &limits).unwrap_err();
        assert!(
            matches!(&err, ScanError::ImageUnreadable { detail } if detail.contains("needs 400")),
            "{err:?}"
        );
        let small = ScanLimits {
            max_width: 9,
            ..ScanLimits::default()
        };
        let err = scan_rgba(10, 10, &[255; 400], &small).unwrap_err();
        assert!(
            matches!(
                err,
                ScanError::TooLarge {
                    what: "width in pixels",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(matches!(
            scan_rgba(10, 10, &[255; 400], &limits),
            Err(ScanError::NoCodeFound)
        ));
    }
}
