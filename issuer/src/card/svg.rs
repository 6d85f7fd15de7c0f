//! The card as SVG ([`to_svg`]): text as `<text>` elements in a CJK `font-family` fallback list
//! ([`SVG_FONT_FAMILY`]), laid out with a width estimate since the viewer or printer picks the
//! font, and the code as one `<path>`.
//!
//! It walks the same layout `Item`s as the raster back end (`raster.rs`), so the
//! destructuring of each item repeats there; the drawing does not.

use std::fmt::Write as _;

use super::layout::{Anchor, Item, Rgb, dark_runs, layout, module_mm};
use super::text::Estimate;
use super::{CARD_HEIGHT_MM, CARD_WIDTH_MM, CardData, CardError, QUIET_ZONE};

/// Resolution that the SVG layout is computed for (module size 0.508 mm, as on a 600 dpi PNG).
const SVG_LAYOUT_DPI: u32 = 600;

/// `font-family` of every text in an SVG card: CJK fonts of Linux, macOS and Windows, then any
/// sans-serif.
pub const SVG_FONT_FAMILY: &str = "'WenQuanYi Micro Hei','WenQuanYi Zen Hei','Noto Sans CJK SC',\
'Source Han Sans SC','PingFang SC','Hiragino Sans GB','Microsoft YaHei',SimHei,\
'Droid Sans Fallback',sans-serif";

/// Renders the card as SVG (85.6 × 54 mm; text as `<text>` elements in [`SVG_FONT_FAMILY`], the
/// code as one `<path>` of 0.508 mm modules). Needs no font.
///
/// # Errors
///
/// [`CardError::QrTooLarge`] or [`CardError::TextTooLong`] when the card's content does not fit.
pub fn to_svg(data: &CardData) -> Result<String, CardError> {
    let layout = layout(data, module_mm(SVG_LAYOUT_DPI), &Estimate)?;
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}"><g font-family="{SVG_FONT_FAMILY}">"#,
        w = num(CARD_WIDTH_MM),
        h = num(CARD_HEIGHT_MM),
    );
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
                let _ = write!(
                    s,
                    r#"<rect x="{}" y="{}" width="{}" height="{}""#,
                    num(*x),
                    num(*y),
                    num(*w),
                    num(*h)
                );
                if *radius > 0.0 {
                    let _ = write!(s, r#" rx="{}""#, num(*radius));
                }
                let _ = write!(
                    s,
                    r#" fill="{}""#,
                    fill.map_or_else(|| "none".to_owned(), Rgb::hex)
                );
                if let Some((c, sw)) = stroke {
                    let _ = write!(s, r#" stroke="{}" stroke-width="{}""#, c.hex(), num(*sw));
                }
                s.push_str("/>");
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
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" font-size="{}" fill="{}""#,
                    num(*x),
                    num(*baseline),
                    num(*size),
                    color.hex()
                );
                if *bold {
                    s.push_str(r#" font-weight="bold""#);
                }
                if *anchor == Anchor::Middle {
                    s.push_str(r#" text-anchor="middle""#);
                }
                s.push('>');
                escape_into(&mut s, text);
                s.push_str("</text>");
            }
        }
    }
    let q = layout.qr;
    let n = data.qr.width() + 2 * QUIET_ZONE;
    let _ = write!(
        s,
        r##"</g><g transform="translate({} {}) scale({})"><rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" shape-rendering="crispEdges" d=""##,
        num(q.x),
        num(q.y),
        num(q.module)
    );
    for y in 0..data.qr.width() {
        for (x, len) in dark_runs(&data.qr, y) {
            let _ = write!(s, "M{} {}h{len}v1h-{len}z", x + QUIET_ZONE, y + QUIET_ZONE);
        }
    }
    s.push_str(r#""/></g></svg>"#);
    Ok(s)
}

/// A length in millimetres with at most three decimals.
fn num(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::fixtures::{REFERENCE, issued, reference, texts};
    use super::*;

    #[test]
    fn svg_shows_the_full_fields_and_the_code() {
        let data = reference();
        let svg = to_svg(&data).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"width="85.6mm" height="54mm""#));
        for s in [
            "广东省居住证",
            "Guangdong Residence Permit",
            "欧阳晓燕",
            "430524199107199021",
            &format!("{:012}", data.serial),
            "女 Female",
            ">汉<",
            "1991-07-19",
            "广州市公安局天河区分局",
            "湖南省邵阳市隆回县",
            "首次 First",
            "姓名",
            ">Name<",
            "公民身份号码",
        ] {
            assert!(svg.contains(s), "SVG lacks {s}");
        }
        assert!(!svg.contains('*'), "nothing is masked on the card");
        assert!(svg.contains(r##"<path fill="#000" shape-rendering="crispEdges" d="M"##));
        // The address is split over lines; joined again it is whole.
        let address: String = texts(&layout(&data, module_mm(600), &Estimate).unwrap())
            .into_iter()
            .filter(|(f, _)| *f == "residence address")
            .map(|(_, t)| t)
            .collect();
        assert_eq!(address, data.residence_address);
    }

    #[test]
    fn test_data_is_stamped() {
        let data = reference();
        assert!(data.is_test());
        assert!(to_svg(&data).unwrap().contains("TEST-ONLY 测试"));
        // Not test data, but signed by a TEST-ONLY key: stamped too.
        let (mut permit, text, card) = issued(REFERENCE);
        permit.details.test = false;
        let by_test_key = CardData::new(&permit, &text, &card, true).unwrap();
        assert!(to_svg(&by_test_key).unwrap().contains("TEST-ONLY"));
        let real = CardData::new(&permit, &text, &card, false).unwrap();
        assert!(!real.is_test());
        assert!(!to_svg(&real).unwrap().contains("TEST-ONLY"));
    }
}
