//! Stage 2 of a scan: the decoded pixels as grey levels, transparency composited over white,
//! EXIF orientation applied.

use image::{DynamicImage, GenericImageView, GrayImage};

/// Stage 2: grey levels, transparency composited over white, EXIF orientation applied.
///
/// Consumes the decoded image so that it is freed before the grey copy is rotated.
pub(super) fn to_luma_over_white(
    image: DynamicImage,
    orientation: image::metadata::Orientation,
) -> GrayImage {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::testkit::{TEXT, compose, render, scan, texts};
    use super::super::{ScanLimits, scan_image_bytes};
    use super::*;
    use image::{Rgba, RgbaImage};

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
    fn luma_over_white_composites() {
        assert_eq!(luma_over_white(0, 0, 0, 0), 255);
        assert_eq!(luma_over_white(0, 0, 0, 255), 0);
        assert_eq!(luma_over_white(255, 255, 255, 255), 255);
        assert_eq!(luma_over_white(0, 0, 0, 128), 127);
    }
}
