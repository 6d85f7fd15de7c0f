//! Stage 3 of a scan, second half: the decoding attempts, cheapest first, until one finds codes
//! or the time budget runs out.

use std::collections::HashSet;
use web_time::Instant;

use image::GrayImage;
use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::qrcode::QRCodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, RXingResult};

use super::views::{ViewKind, Views};
use super::{DecodedCode, ScanError, ScanLimits, contain};

/// Views of more pixels than this are not given to the (slow) Java-port reader.
const JAVA_READER_MAX_PIXELS: u64 = 4_000_000;

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
pub(super) struct Found {
    pub(super) codes: Vec<DecodedCode>,
    pub(super) attempts: usize,
    pub(super) strategy: String,
}

/// Stage 3: escalating attempts until one finds codes or the budget runs out.
pub(super) fn find_codes(
    luma: GrayImage,
    start: Instant,
    limits: &ScanLimits,
) -> Result<Found, ScanError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::testkit::{TEXT, encode, render};
    use super::super::{ScanError, ScanLimits, scan_image_bytes};
    use image::{GrayImage, ImageFormat, Luma};
    use std::time::Duration;

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
}
