//! Test helpers shared by the scan stages' tests: codes rendered as images, images encoded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageFormat, Luma, imageops};

use super::{ScanError, ScanLimits, ScanReport, scan_image_bytes_with_report};

/// Permit-like text: prefix, base45 alphabet, spaces kept at both ends.
pub(super) const TEXT: &str =
    " GDRP1:NCFOXN%TS3DHMSCEQVSU9$BJD$45NL-AH-R6IOOW%IHOT$E08WAWN0%W0AT4V22F/8X*G3M9 ";

/// `text` as a QR code, `module` pixels a module, dark on light, 4 modules of quiet zone.
pub(super) fn render(text: &str, module: u32) -> GrayImage {
    render_code(&qrcode::QrCode::new(text.as_bytes()).unwrap(), module)
}

pub(super) fn render_code(code: &qrcode::QrCode, module: u32) -> GrayImage {
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

pub(super) fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub(super) fn scan(image: impl Into<DynamicImage>) -> Result<ScanReport, ScanError> {
    let png = encode(&image.into(), ImageFormat::Png);
    scan_image_bytes_with_report(&png, &ScanLimits::default())
}

pub(super) fn texts(report: &ScanReport) -> Vec<&str> {
    report.codes.iter().map(|c| c.text.as_str()).collect()
}

/// White canvas with each image pasted at its offset.
pub(super) fn compose(width: u32, height: u32, parts: &[(&GrayImage, u32, u32)]) -> GrayImage {
    let mut canvas = GrayImage::from_pixel(width, height, Luma([255]));
    for (part, x, y) in parts {
        imageops::replace(&mut canvas, *part, i64::from(*x), i64::from(*y));
    }
    canvas
}
