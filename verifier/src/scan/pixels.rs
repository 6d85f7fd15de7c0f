//! Stage 1 of a scan: size caps before any pixel is decoded, the format detected from the
//! content, and the pixels decoded under an allocation cap.

use std::io::Cursor;

use image::error::LimitErrorKind;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use super::{ScanError, ScanLimits, contain};

/// Decoded pixels and the EXIF orientation still to apply.
pub(super) struct Pixels {
    pub(super) pixels: DynamicImage,
    pub(super) orientation: image::metadata::Orientation,
}

/// Stage 1: caps, format sniffing and pixel decoding.
pub(super) fn read_pixels(bytes: &[u8], limits: &ScanLimits) -> Result<Pixels, ScanError> {
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
        check_dimensions(width, height, limits)?;
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

/// Stage 1 for pixels that are already decoded (a camera frame): RGBA, 8 bits a channel, row by
/// row without padding. The same width, height and pixel-count caps; the buffer must hold exactly
/// `width × height` pixels.
pub(super) fn raw_rgba(
    width: u32,
    height: u32,
    rgba: &[u8],
    limits: &ScanLimits,
) -> Result<Pixels, ScanError> {
    check_dimensions(width, height, limits)?;
    let expected = u64::from(width) * u64::from(height) * 4;
    let pixels = (rgba.len() as u64 == expected)
        .then(|| image::RgbaImage::from_raw(width, height, rgba.to_vec()))
        .flatten()
        .ok_or_else(|| ScanError::ImageUnreadable {
            detail: format!(
                "{} bytes of RGBA pixels for a {width} × {height} image, which needs {expected}",
                rgba.len()
            ),
        })?;
    Ok(Pixels {
        pixels: DynamicImage::ImageRgba8(pixels),
        orientation: image::metadata::Orientation::NoTransforms,
    })
}

/// The width, height and pixel-count caps.
fn check_dimensions(width: u32, height: u32, limits: &ScanLimits) -> Result<(), ScanError> {
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
    )
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::testkit::{TEXT, encode, render};
    use super::super::{ScanError, ScanLimits, scan_image_bytes};
    use image::{DynamicImage, ImageFormat};
    use std::time::{Duration, Instant};

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
}
