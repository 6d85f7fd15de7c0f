//! Placement of every field on the card, in millimetres from its top left corner: the code with
//! its quiet zone, the title band, the photo placeholder, the TEST-ONLY stamp and the labelled
//! rows, each value shrunk and wrapped to its box with the measure of whatever will draw it.
//! The result ([`Layout`], rectangles and texts back to front) is what both renderers draw.

use super::text::{Measure, fit};
use super::{CARD_HEIGHT_MM, CARD_WIDTH_MM, CardData, CardError, MIN_MODULE_MM, QUIET_ZONE};
use crate::render::QrMatrix;

/// A colour, 8 bits a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rgb(pub(super) u8, pub(super) u8, pub(super) u8);

impl Rgb {
    /// `#rrggbb`.
    pub(super) fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

const BACKGROUND: Rgb = Rgb(0xe9, 0xf1, 0xfa);
const BORDER: Rgb = Rgb(0x9a, 0xae, 0xc8);
const TITLE: Rgb = Rgb(0x17, 0x36, 0x6b);
const LABEL: Rgb = Rgb(0x2f, 0x4d, 0x7c);
const LABEL_EN: Rgb = Rgb(0x5f, 0x6f, 0x88);
const VALUE: Rgb = Rgb(0x10, 0x14, 0x1c);
const STAMP: Rgb = Rgb(0xc6, 0x1f, 0x1f);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const PHOTO: Rgb = Rgb(0xf6, 0xf9, 0xfd);
/// The code's dark modules.
pub(super) const BLACK: Rgb = Rgb(0, 0, 0);

/// What a text's `x` is: its start or its middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Anchor {
    Start,
    Middle,
}

/// One thing drawn on the card, in millimetres.
#[derive(Debug, Clone)]
pub(super) enum Item {
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        radius: f32,
        fill: Option<Rgb>,
        /// Colour and width of the outline.
        stroke: Option<(Rgb, f32)>,
    },
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        color: Rgb,
        bold: bool,
        anchor: Anchor,
        text: String,
        field: &'static str,
        /// Right edge the text must not pass (for anchor `Start`).
        right: f32,
    },
}

/// Where the code goes: top left of its quiet zone, and the module side.
#[derive(Debug, Clone, Copy)]
pub(super) struct QrPlace {
    /// Left edge, millimetres.
    pub(super) x: f32,
    /// Top edge, millimetres.
    pub(super) y: f32,
    /// Module side, millimetres.
    pub(super) module: f32,
}

/// The placed card: what to draw, in order, and where the code goes.
pub(super) struct Layout {
    /// Shapes and texts, back to front.
    pub(super) items: Vec<Item>,
    /// The code.
    pub(super) qr: QrPlace,
}

const LINE: f32 = 1.22;
/// Ascent used to place a first baseline below a row's top, as a fraction of the em.
const ASCENT: f32 = 0.88;
/// Left margin of the text column.
const MARGIN: f32 = 2.8;
/// White margin between the card edge and the code's quiet zone.
const QR_EDGE: f32 = 0.6;
/// Corner radius of an ID-1 card.
const CORNER: f32 = 3.18;
/// Lowest edge of any text.
const BOTTOM: f32 = CARD_HEIGHT_MM - 1.2;
/// Smallest type size a value may be shrunk to, millimetres.
const VALUE_MIN: f32 = 1.2;

/// Type sizes (em) and boxes, millimetres. [`NORMAL`] when the title band above the code is
/// high enough, [`COMPACT`] when the code takes the card's whole height (versions 17–20, from
/// residence addresses of about 50 characters on) and everything else shares the left column.
struct Style {
    /// Title band above the code needed at least.
    band: f32,
    title_zh: f32,
    title_en: f32,
    title_zh_base: f32,
    title_en_base: f32,
    label_zh: f32,
    label_en: f32,
    name: f32,
    value: f32,
    small: f32,
    photo_w: f32,
    photo_h: f32,
    photo_y: f32,
    row_gap: f32,
    address_lines: usize,
}

const NORMAL: Style = Style {
    band: 8.2,
    title_zh: 3.5,
    title_en: 1.5,
    title_zh_base: 4.6,
    title_en_base: 7.1,
    label_zh: 1.4,
    label_en: 0.95,
    name: 2.7,
    value: 2.0,
    small: 1.8,
    photo_w: 12.0,
    photo_h: 16.0,
    photo_y: 10.6,
    row_gap: 0.45,
    address_lines: 5,
};

const COMPACT: Style = Style {
    band: 0.0,
    title_zh: 3.0,
    title_en: 1.3,
    title_zh_base: 4.1,
    title_en_base: 6.3,
    label_zh: 1.25,
    label_en: 0.85,
    name: 2.4,
    value: 1.8,
    small: 1.7,
    photo_w: 9.0,
    photo_h: 12.0,
    photo_y: 7.6,
    row_gap: 0.3,
    address_lines: 9,
};

/// Module side in millimetres at `dpi`: the smallest whole number of pixels ≥ 0.5 mm.
pub fn module_mm(dpi: u32) -> f32 {
    module_px(dpi) as f32 * 25.4 / dpi as f32
}

/// Module side in whole pixels at `dpi` (see [`module_mm`]).
pub(super) fn module_px(dpi: u32) -> u32 {
    ((MIN_MODULE_MM * dpi as f32 / 25.4) - 1e-3).ceil().max(1.0) as u32
}

/// One labelled row: Chinese label, English label beneath it, value to the right.
struct Row<'a> {
    zh: &'static str,
    en: &'static str,
    value: &'a str,
    field: &'static str,
    size: f32,
    max_lines: usize,
    bold: bool,
}

/// Rows placed in a column: where labels and values start, where the values end.
struct Column<'a> {
    items: &'a mut Vec<Item>,
    style: &'a Style,
    m: &'a dyn Measure,
    label_x: f32,
    value_x: f32,
    right: f32,
}

impl Column<'_> {
    /// Places one row with its top at `y`; returns the top of the next row.
    fn row(&mut self, row: &Row<'_>, y: f32) -> Result<f32, CardError> {
        let st = self.style;
        let (size, lines) = fit(
            row.value,
            row.size,
            VALUE_MIN.min(row.size),
            self.right - self.value_x,
            row.max_lines,
            self.m,
        )
        .ok_or_else(|| too_long(row.field, row.value))?;
        let baseline = y + row.size.max(st.label_zh + 0.4) * ASCENT;
        let en_dy = st.label_en + 0.3;
        for (text, dy, sz, color) in [
            (row.zh, 0.0, st.label_zh, LABEL),
            (row.en, en_dy, st.label_en, LABEL_EN),
        ] {
            self.items.push(Item::Text {
                x: self.label_x,
                baseline: baseline + dy,
                size: sz,
                color,
                bold: false,
                anchor: Anchor::Start,
                text: text.to_owned(),
                field: "label",
                right: self.value_x - 0.3,
            });
        }
        let pitch = size * LINE;
        for (i, line) in lines.iter().enumerate() {
            self.items.push(Item::Text {
                x: self.value_x,
                baseline: baseline + i as f32 * pitch,
                size,
                color: VALUE,
                bold: row.bold,
                anchor: Anchor::Start,
                text: line.clone(),
                field: row.field,
                right: self.right,
            });
        }
        let label_bottom = baseline + en_dy + st.label_en * 0.25;
        let value_bottom = baseline + (lines.len() - 1) as f32 * pitch + size * 0.22;
        let next = label_bottom.max(value_bottom) + st.row_gap;
        if next - st.row_gap > BOTTOM {
            return Err(too_long(row.field, row.value));
        }
        Ok(next)
    }
}

fn rect(x: f32, y: f32, w: f32, h: f32, fill: Option<Rgb>, stroke: Option<(Rgb, f32)>) -> Item {
    Item::Rect {
        x,
        y,
        w,
        h,
        radius: 0.0,
        fill,
        stroke,
    }
}

/// Lays the card out, the residence address on as many lines as the column has room for: the
/// most lines (largest type) first, fewer and smaller ones while the rows below it overflow.
pub(super) fn layout(data: &CardData, module: f32, m: &dyn Measure) -> Result<Layout, CardError> {
    let mut lines = COMPACT.address_lines;
    loop {
        match layout_with(data, module, m, lines) {
            Err(CardError::TextTooLong { .. }) if lines > 2 => lines -= 1,
            done => return done,
        }
    }
}

fn layout_with(
    data: &CardData,
    module: f32,
    m: &dyn Measure,
    address_lines: usize,
) -> Result<Layout, CardError> {
    let f = data.fields();
    let (w, h) = (CARD_WIDTH_MM, CARD_HEIGHT_MM);

    // The code: at the bottom right under a title band, or, when that band would be too low,
    // on the whole right-hand side; its quiet zone always white.
    let modules = data.qr.width() + 2 * QUIET_ZONE;
    let side = modules as f32 * module;
    let qx = w - QR_EDGE - side;
    let (st, qy) = if h - QR_EDGE - side >= NORMAL.band {
        (&NORMAL, h - QR_EDGE - side)
    } else if side <= h {
        (&COMPACT, (h - side) / 2.0)
    } else {
        return Err(CardError::QrTooLarge {
            version: data.qr.version(),
            modules: data.qr.width(),
            max_modules: ((h / module) as usize).saturating_sub(2 * QUIET_ZONE),
            module_mm: module,
        });
    };
    let compact = std::ptr::eq(st, &COMPACT);
    let right = qx - 0.3;

    let mut items = vec![
        Item::Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
            radius: CORNER,
            fill: Some(BACKGROUND),
            stroke: None,
        },
        rect(qx, qy, side, side, Some(WHITE), None),
    ];

    // Title: across the band, or atop the left column.
    let title_zh = "广东省居住证";
    let title_en = "Guangdong Residence Permit";
    for (size, base, bold, text) in [
        (st.title_zh, st.title_zh_base, true, title_zh),
        (st.title_en, st.title_en_base, false, title_en),
    ] {
        items.push(Item::Text {
            x: MARGIN,
            baseline: base,
            size,
            color: TITLE,
            bold,
            anchor: Anchor::Start,
            text: text.to_owned(),
            field: "title",
            right: if compact { right } else { w - MARGIN },
        });
    }
    let title_right = MARGIN
        + m.width(title_zh, st.title_zh)
            .max(m.width(title_en, st.title_en));

    // Serial and card number: above the code when they fit there, else at the column's end.
    let serial_rows = [
        Row {
            zh: "证件编号",
            en: "Serial",
            value: &f.serial,
            field: "serial",
            size: st.value,
            max_lines: 1,
            bold: true,
        },
        Row {
            zh: "卡号",
            en: "Card no.",
            value: &f.card,
            field: "card number",
            size: st.small.min(1.6),
            max_lines: 2,
            bold: false,
        },
    ];
    let serial_x = qx + QUIET_ZONE as f32 * module;
    let mut serial_above = false;
    if !compact {
        let mut above = Vec::new();
        let mut col = Column {
            items: &mut above,
            style: st,
            m,
            label_x: serial_x,
            value_x: serial_x + 7.2,
            right: w - MARGIN,
        };
        let mut y = 1.2;
        let mut fits = true;
        for row in &serial_rows {
            match col.row(row, y) {
                Ok(next) => y = next,
                Err(_) => fits = false,
            }
        }
        if fits && y - st.row_gap <= qy + 0.2 {
            items.extend(above);
            serial_above = true;
        }
    }

    // Photo placeholder, with the TEST-ONLY stamp in the band or, on a compact card, on it.
    let (px, py, pw, ph) = (MARGIN, st.photo_y, st.photo_w, st.photo_h);
    items.push(Item::Rect {
        x: px,
        y: py,
        w: pw,
        h: ph,
        radius: 0.4,
        fill: Some(PHOTO),
        stroke: Some((BORDER, 0.2)),
    });
    let label_dy = if compact && data.test { 0.32 } else { 0.42 } * ph;
    for (dy, size, color, s) in [
        (label_dy, 1.6, LABEL, "照片"),
        (label_dy + 1.9, 1.1, LABEL_EN, "Photo"),
    ] {
        items.push(centred(px + pw / 2.0, py + dy, size, color, s, "photo"));
    }
    if data.test {
        // One line in the band; two (测试 over TEST-ONLY) on the photo of a compact card.
        let (lines, left, room, mid): (&[&str], f32, f32, f32) = if compact {
            (&["测试", "TEST-ONLY"], px, pw, py + ph * 0.76)
        } else {
            let left = title_right + 1.2;
            let mid = (st.title_en_base + 0.3) / 2.0;
            (&["TEST-ONLY 测试"], left, serial_x - 1.0 - left, mid)
        };
        let widest = lines
            .iter()
            .copied()
            .max_by(|a, b| m.width(a, 1.0).total_cmp(&m.width(b, 1.0)))
            .unwrap_or_default();
        let (size, _) = fit(widest, 2.2, 1.0, room - 1.2, 1, m)
            .ok_or_else(|| too_long("TEST-ONLY stamp", widest))?;
        let pitch = size * LINE;
        let (sw, sh) = (
            m.width(widest, size) + 1.2,
            size * 0.55 + pitch * lines.len() as f32,
        );
        let (sx, sy) = (left + (room - sw) / 2.0, mid - sh / 2.0);
        items.push(Item::Rect {
            x: sx,
            y: sy,
            w: sw,
            h: sh,
            radius: 0.5,
            fill: compact.then_some(WHITE),
            stroke: Some((STAMP, 0.3)),
        });
        for (i, line) in lines.iter().enumerate() {
            let base = sy + 0.3 + size * 0.9 + i as f32 * pitch;
            let mut t = centred(sx + sw / 2.0, base, size, STAMP, line, "TEST-ONLY stamp");
            if let Item::Text { bold, .. } = &mut t {
                *bold = true;
            }
            items.push(t);
        }
    }

    // Holder fields: four beside the photo, the rest across under it.
    let beside = [
        Row {
            zh: "姓名",
            en: "Name",
            value: &f.name,
            field: "name",
            size: st.name,
            max_lines: 2,
            bold: true,
        },
        Row {
            zh: "性别",
            en: "Sex",
            value: &f.sex,
            field: "sex",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
        Row {
            zh: "民族",
            en: "Ethnicity",
            value: &f.ethnicity,
            field: "ethnicity",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
        Row {
            zh: "出生",
            en: "Born",
            value: &f.born,
            field: "birth date",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
    ];
    let bx = px + pw + 1.2;
    let mut col = Column {
        items: &mut items,
        style: st,
        m,
        label_x: bx,
        value_x: bx + 5.6 * st.label_zh / NORMAL.label_zh,
        right,
    };
    let mut y = py - 0.3;
    for row in &beside {
        y = col.row(row, y)?;
    }
    let across = [
        Row {
            zh: "公民身份号码",
            en: "ID number",
            value: &f.id_number,
            field: "ID number",
            size: st.value,
            max_lines: 1,
            bold: true,
        },
        Row {
            zh: "户籍所在地",
            en: "Hukou",
            value: &f.hukou,
            field: "hukou",
            size: st.small,
            max_lines: 3,
            bold: false,
        },
        Row {
            zh: "居住地址",
            en: "Address",
            value: &f.address,
            field: "residence address",
            size: st.small,
            max_lines: address_lines.min(st.address_lines),
            bold: false,
        },
        Row {
            zh: "签发机关",
            en: "Authority",
            value: &f.authority,
            field: "authority",
            size: st.small,
            max_lines: 2,
            bold: false,
        },
        Row {
            zh: "有效期限",
            en: "Valid",
            value: &f.valid,
            field: "validity",
            size: st.value,
            max_lines: 1,
            bold: false,
        },
    ];
    col.label_x = MARGIN;
    col.value_x = MARGIN + 8.9 * st.label_zh / NORMAL.label_zh;
    let mut y = y.max(py + ph + 0.5);
    for row in &across {
        y = col.row(row, y)?;
    }
    if !serial_above {
        for row in &serial_rows {
            y = col.row(row, y)?;
        }
    }

    // The card's outline last, over the corner of a code that takes the whole height.
    items.push(Item::Rect {
        x: 0.0,
        y: 0.0,
        w,
        h,
        radius: CORNER,
        fill: None,
        stroke: Some((BORDER, 0.2)),
    });

    // Nothing may pass its right edge, as measured with the font that will draw it.
    for item in &items {
        if let Item::Text {
            x,
            size,
            anchor: Anchor::Start,
            text,
            field,
            right,
            ..
        } = item
            && x + m.width(text, *size) > right + 1e-3
        {
            return Err(too_long(field, text));
        }
    }
    Ok(Layout {
        items,
        qr: QrPlace {
            x: qx,
            y: qy,
            module,
        },
    })
}

fn centred(x: f32, baseline: f32, size: f32, color: Rgb, text: &str, field: &'static str) -> Item {
    Item::Text {
        x,
        baseline,
        size,
        color,
        bold: false,
        anchor: Anchor::Middle,
        text: text.to_owned(),
        field,
        right: f32::INFINITY,
    }
}

fn too_long(field: &'static str, value: &str) -> CardError {
    CardError::TextTooLong {
        field,
        chars: value.chars().count(),
    }
}

/// Horizontal runs `(x, len)` of dark modules in row `y`.
pub(super) fn dark_runs(m: &QrMatrix, y: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut x = 0;
    while x < m.width() {
        if m.is_dark(x, y) {
            let start = x;
            while x < m.width() && m.is_dark(x, y) {
                x += 1;
            }
            runs.push((start, x - start));
        } else {
            x += 1;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::fixtures::{long_address, reference, texts};
    use super::super::font::Font;
    use super::super::text::Estimate;
    use super::*;

    /// Every text stays inside its box and on the card, measured as it will be drawn.
    fn assert_fits(l: &Layout, m: &dyn Measure) {
        for item in &l.items {
            if let Item::Text {
                x,
                baseline,
                size,
                anchor: Anchor::Start,
                text,
                field,
                right,
                ..
            } = item
            {
                let end = x + m.width(text, *size);
                assert!(
                    end <= right + 1e-3,
                    "{field} `{text}` ends at {end} > {right}"
                );
                assert!(
                    *right <= l.qr.x || *baseline < l.qr.y,
                    "{field} runs into the code"
                );
                assert!(
                    *baseline + size * 0.25 <= CARD_HEIGHT_MM,
                    "{field} below the card"
                );
            }
        }
    }

    #[test]
    fn long_addresses_wrap_inside_their_box() {
        let data = long_address();
        let l = layout(&data, module_mm(600), &Estimate).unwrap();
        assert_fits(&l, &Estimate);
        let lines: Vec<String> = texts(&l)
            .into_iter()
            .filter(|(f, _)| *f == "residence address")
            .map(|(_, t)| t)
            .collect();
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.concat(), data.residence_address);
        assert!(
            lines.iter().all(|l| !l.ends_with("120")),
            "digits kept together"
        );
        // Measured with the embedded font that draws PNG cards, whatever the machine has.
        let font = Font::embedded().unwrap();
        let l = layout(&data, module_mm(600), &font).unwrap();
        assert_fits(&l, &font);
        assert_fits(&layout(&reference(), module_mm(300), &font).unwrap(), &font);
        assert_fits(
            &layout(&reference(), module_mm(600), &Estimate).unwrap(),
            &Estimate,
        );
    }
}
