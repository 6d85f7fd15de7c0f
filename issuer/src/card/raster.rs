//! The card as PNG ([`to_png`]): an RGB raster at [`PngOptions::dpi`] drawn in millimetres
//! (anti-aliased rounded rectangles, glyph outlines of the [`Font`], the code on whole pixels),
//! then decoded back with the verifier's scanner as a self-check.

use ab_glyph::{Font as _, Glyph, GlyphId, point};
use permit_verifier::scan::{self, ScanLimits};

use super::font::Font;
use super::layout::{Anchor, BLACK, Item, Rgb, dark_runs, layout, module_mm, module_px};
use super::text::Measure as _;
use super::{
    CARD_HEIGHT_MM, CARD_WIDTH_MM, CardData, CardError, DEFAULT_DPI, MAX_DPI, MIN_DPI, QUIET_ZONE,
};

/// Options of a PNG card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngOptions {
    /// Resolution, [`MIN_DPI`]`..=`[`MAX_DPI`] (default [`DEFAULT_DPI`]); also written in the
    /// PNG's `pHYs` chunk so that the card prints at its real size.
    pub dpi: u32,
}

impl Default for PngOptions {
    fn default() -> Self {
        PngOptions { dpi: DEFAULT_DPI }
    }
}

impl PngOptions {
    /// Width and height of the image, pixels.
    pub fn size_px(&self) -> (u32, u32) {
        (
            mm_to_px(CARD_WIDTH_MM, self.dpi),
            mm_to_px(CARD_HEIGHT_MM, self.dpi),
        )
    }
}

fn mm_to_px(mm: f32, dpi: u32) -> u32 {
    (mm * dpi as f32 / 25.4).round() as u32
}

/// Renders the card as an RGB PNG, then decodes the finished image with the verifier's scanner
/// and checks that it holds exactly the credential text.
///
/// # Errors
///
/// [`CardError::Dpi`]; [`CardError::MissingGlyph`] when the font cannot draw a value;
/// [`CardError::QrTooLarge`] or [`CardError::TextTooLong`] when the content does not fit;
/// [`CardError::Png`]; [`CardError::QrUnreadable`] or [`CardError::QrMismatch`] when the
/// self-check fails (nothing should then be written).
pub fn to_png(data: &CardData, font: &Font, opts: &PngOptions) -> Result<Vec<u8>, CardError> {
    if !(MIN_DPI..=MAX_DPI).contains(&opts.dpi) {
        return Err(CardError::Dpi { dpi: opts.dpi });
    }
    let png = render_png(data, font, opts)?;
    let codes = scan::scan_image_bytes(&png, &ScanLimits::default()).map_err(|e| {
        CardError::QrUnreadable {
            detail: e.to_string(),
        }
    })?;
    match codes.as_slice() {
        [one] if one.text == data.text => Ok(png),
        other => Err(CardError::QrMismatch { found: other.len() }),
    }
}

fn render_png(data: &CardData, font: &Font, opts: &PngOptions) -> Result<Vec<u8>, CardError> {
    let layout = layout(data, module_mm(opts.dpi), font)?;
    for item in &layout.items {
        if let Item::Text { text, field, .. } = item
            && let Some(ch) = text.chars().find(|&c| !font.has_glyph(c))
        {
            return Err(CardError::MissingGlyph {
                font: font.origin().to_owned(),
                ch,
                field,
            });
        }
    }
    let (wpx, hpx) = opts.size_px();
    let mut c = Canvas::new(wpx, hpx, opts.dpi);
    for item in &layout.items {
        match item {
            Item::Rect {
                x,
                y,
                w,
                h,
                radius,
                fill,
                stroke,
            } => {
                if let Some(fill) = fill {
                    c.fill_rect(*x, *y, *w, *h, *radius, *fill);
                }
                if let Some((color, sw)) = stroke {
                    c.stroke_rect(*x, *y, *w, *h, *radius, *sw, *color);
                }
            }
            Item::Text {
                x,
                baseline,
                size,
                color,
                bold,
                anchor,
                text,
                ..
            } => {
                let x = match anchor {
                    Anchor::Start => *x,
                    Anchor::Middle => x - font.width(text, *size) / 2.0,
                };
                c.text(font, x, *baseline, *size, *color, *bold, text);
            }
        }
    }
    // The code on whole pixels: module side and origin rounded once.
    let mpx = module_px(opts.dpi) as usize;
    let ox = c.px(layout.qr.x) as usize + QUIET_ZONE * mpx;
    let oy = c.px(layout.qr.y) as usize + QUIET_ZONE * mpx;
    for y in 0..data.qr.width() {
        for (x, len) in dark_runs(&data.qr, y) {
            c.fill_px(ox + x * mpx, oy + y * mpx, len * mpx, mpx, BLACK);
        }
    }
    c.encode()
}

/// An RGB raster with drawing in millimetres.
struct Canvas {
    w: usize,
    h: usize,
    dpi: u32,
    px_per_mm: f32,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32, dpi: u32) -> Canvas {
        Canvas {
            w: w as usize,
            h: h as usize,
            dpi,
            px_per_mm: dpi as f32 / 25.4,
            rgb: vec![0xff; w as usize * h as usize * 3],
        }
    }

    fn px(&self, mm: f32) -> f32 {
        (mm * self.px_per_mm).round()
    }

    fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h || alpha <= 0.0 {
            return;
        }
        let i = (y as usize * self.w + x as usize) * 3;
        let a = alpha.min(1.0);
        for (k, v) in [color.0, color.1, color.2].into_iter().enumerate() {
            let old = f32::from(self.rgb[i + k]);
            self.rgb[i + k] = (old + (f32::from(v) - old) * a).round() as u8;
        }
    }

    fn fill_px(&mut self, x: usize, y: usize, w: usize, h: usize, color: Rgb) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                let i = (yy * self.w + xx) * 3;
                self.rgb[i..i + 3].copy_from_slice(&[color.0, color.1, color.2]);
            }
        }
    }

    /// Fills a rectangle with rounded corners (anti-aliased corners).
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, radius: f32, color: Rgb) {
        let b = self.bounds(x, y, w, h);
        let r = radius * self.px_per_mm;
        self.paint(b, r.ceil() + 1.0, color, |cx, cy| {
            corner_coverage(cx, cy, b, r)
        });
    }

    /// Outlines a rectangle: the ring between the outer edge and the edge `sw` inside.
    #[allow(clippy::too_many_arguments)]
    fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, radius: f32, sw: f32, color: Rgb) {
        let b = self.bounds(x, y, w, h);
        let t = (sw * self.px_per_mm).max(1.0);
        let r = radius * self.px_per_mm;
        let inner = [b[0] + t, b[1] + t, b[2] - t, b[3] - t];
        let r_in = (r - t).max(0.0);
        let edge = r.max(t).ceil() + 1.0;
        self.paint_edges(b, edge, color, |cx, cy| {
            corner_coverage(cx, cy, b, r) - corner_coverage(cx, cy, inner, r_in)
        });
    }

    /// `[x0, y0, x1, y1]` in whole pixels.
    fn bounds(&self, x: f32, y: f32, w: f32, h: f32) -> [f32; 4] {
        [self.px(x), self.px(y), self.px(x + w), self.px(y + h)]
    }

    /// Paints `b`: coverage computed within `edge` pixels of a corner, full inside.
    fn paint(&mut self, b: [f32; 4], edge: f32, color: Rgb, cov: impl Fn(f32, f32) -> f32) {
        let [x0, y0, x1, y1] = b.map(|v| v.max(0.0) as usize);
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        let edge = edge as usize;
        for py in y0..y1 {
            let near = py < y0 + edge || py + edge >= y1;
            let (inner_from, inner_to) = if near {
                (
                    (x0 + edge).min(x1),
                    x1.saturating_sub(edge).max(x0 + edge).min(x1),
                )
            } else {
                (x0, x1)
            };
            for px in (x0..inner_from).chain(inner_to..x1) {
                let c = cov(px as f32 + 0.5, py as f32 + 0.5);
                self.blend(px as i64, py as i64, color, c);
            }
            if inner_from < inner_to {
                let row =
                    &mut self.rgb[(py * self.w + inner_from) * 3..(py * self.w + inner_to) * 3];
                for p in row.chunks_exact_mut(3) {
                    p.copy_from_slice(&[color.0, color.1, color.2]);
                }
            }
        }
    }

    /// Paints only the pixels within `edge` of the border of `b`, with the given coverage.
    fn paint_edges(&mut self, b: [f32; 4], edge: f32, color: Rgb, cov: impl Fn(f32, f32) -> f32) {
        let [x0, y0, x1, y1] = b.map(|v| v.max(0.0) as usize);
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        let edge = edge as usize;
        for py in y0..y1 {
            let near = py < y0 + edge || py + edge >= y1;
            let left_to = if near { x1 } else { (x0 + edge).min(x1) };
            let right_from = if near {
                x1
            } else {
                x1.saturating_sub(edge).max(left_to)
            };
            for px in (x0..left_to).chain(right_from..x1) {
                let c = cov(px as f32 + 0.5, py as f32 + 0.5);
                self.blend(px as i64, py as i64, color, c);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        font: &Font,
        x: f32,
        baseline: f32,
        size: f32,
        color: Rgb,
        bold: bool,
        text: &str,
    ) {
        let em = size * self.px_per_mm;
        let scale = font.scale(em);
        let per_unit = em / font.units_per_em;
        let base = baseline * self.px_per_mm;
        // Faux bold: the glyphs drawn again a little to the right.
        let offsets: &[f32] = if bold {
            &[0.0, (em / 28.0).max(0.6)]
        } else {
            &[0.0]
        };
        let mut pen = x * self.px_per_mm;
        let mut prev: Option<GlyphId> = None;
        for ch in text.chars() {
            let id = font.inner.glyph_id(ch);
            if let Some(p) = prev {
                pen += font.inner.kern_unscaled(p, id) * per_unit;
            }
            for dx in offsets {
                let glyph = Glyph {
                    id,
                    scale,
                    position: point(pen + dx, base),
                };
                if let Some(outlined) = font.inner.outline_glyph(glyph) {
                    let b = outlined.px_bounds();
                    outlined.draw(|gx, gy, cov| {
                        self.blend(
                            b.min.x as i64 + i64::from(gx),
                            b.min.y as i64 + i64::from(gy),
                            color,
                            cov,
                        );
                    });
                }
            }
            pen += font.inner.h_advance_unscaled(id) * per_unit;
            prev = Some(id);
        }
    }

    fn encode(&self) -> Result<Vec<u8>, CardError> {
        let png_err = |e: png::EncodingError| CardError::Png(e.to_string());
        let mut out = Vec::with_capacity(self.rgb.len() / 8);
        let mut enc = png::Encoder::new(&mut out, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        // Up filter: adaptive filtering halves the file but takes four times as long.
        enc.set_filter(png::Filter::Up);
        let per_metre = (self.dpi as f32 / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(&self.rgb).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
        Ok(out)
    }
}

/// Coverage (0–1) of the pixel centred at `(x, y)` by the rectangle `[x0, y0, x1, y1]` with
/// corner radius `r`, all in pixels.
fn corner_coverage(x: f32, y: f32, b: [f32; 4], r: f32) -> f32 {
    let [x0, y0, x1, y1] = b;
    if x < x0 || x > x1 || y < y0 || y > y1 {
        return 0.0;
    }
    if r <= 0.0 {
        return 1.0;
    }
    let cx = if x < x0 + r {
        x0 + r
    } else if x > x1 - r {
        x1 - r
    } else {
        return 1.0;
    };
    let cy = if y < y0 + r {
        y0 + r
    } else if y > y1 - r {
        y1 - r
    } else {
        return 1.0;
    };
    let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
    (r - d + 0.5).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::fixtures::{long_address, reference};
    use super::*;

    #[test]
    fn png_card_scans_back_to_the_credential() {
        let font = Font::embedded().unwrap();
        let data = reference();
        let t = std::time::Instant::now();
        let png = to_png(&data, &font, &PngOptions::default()).unwrap();
        eprintln!(
            "card PNG: {} bytes, QR v{}, {:?}",
            png.len(),
            data.qr().version(),
            t.elapsed()
        );
        let codes = scan::scan_image_bytes(&png, &ScanLimits::default()).unwrap();
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].text, data.text());
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (2022, 1276));
        // 300 dpi works too, and the long address still renders (compact layout, stamp on the
        // photo).
        let small = to_png(&long_address(), &font, &PngOptions { dpi: 300 }).unwrap();
        assert_eq!(image::load_from_memory(&small).unwrap().width(), 1011);
        assert!(matches!(
            to_png(&data, &font, &PngOptions { dpi: 72 }),
            Err(CardError::Dpi { dpi: 72 })
        ));
    }
}
