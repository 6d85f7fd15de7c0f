//! `issuer card`: records a physical card (first, replacement, exchange) and its fee, and with
//! `--out` writes the printable card (PNG at 600 dpi, or SVG) for the permit's current
//! credential; `--reprint` prints the current card again (same number, no new card, no fee).
//!
//! Recording and printing are one transaction: the credential is verified against the trust
//! list, the card rendered, its QR code decoded back from the rendered image, and the file
//! written before the card row (or the reprint event) is committed. Any failure records nothing
//! and writes nothing.
//!
//! The PNG is drawn with `--font`, else `$ISSUER_CARD_FONT` when set, else the font embedded in
//! the issuer (WenQuanYi Micro Hei, `issuer/fonts/`). The SVG embeds none.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use permit_issuer::card::{self, CardData, CardError, Font, PngOptions};
use permit_issuer::error_code::ErrorCode;
use permit_issuer::issue::output::Code;
use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::{CardRecord, LedgerError};
use permit_issuer::lifecycle;
use permit_issuer::render::RenderOptions;
use permit_issuer::report::{CardImage, CardReport};
use permit_issuer::selfcheck;
use permit_shared::trust::TrustList;

use crate::cli::{CardArgs, Cli};
use crate::context::{self, Acting};
use crate::error::{Failure, Result};
use crate::output::{check_output, print_json, write_output};

/// Environment variable naming the font file for PNG cards.
const FONT_ENV: &str = "ISSUER_CARD_FONT";

/// Output format of the printable card, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Svg,
}

pub fn run(cli: &Cli, a: &CardArgs) -> Result<ExitCode> {
    let serial = context::serial(&a.serial)?;
    // Everything that can fail without the ledger is checked before it is opened.
    let format = a
        .out
        .as_deref()
        .map(|o| output_format(o, a.force))
        .transpose()?;
    let font = match format {
        Some(Format::Png) => Some(card_font(a.font.as_deref())?),
        _ => None,
    };
    let acting = Acting::from_cli(cli)?;
    let now = acting.now;
    let trust = match format {
        Some(_) => Some(context::trust_list(&a.trust)?),
        None => None,
    };
    let office = acting.office();
    let mut ledger = context::ledger(cli)?;
    let (rec, image) = ledger.transaction(|tx| -> Result<_> {
        let rec = match a.kind {
            Some(kind) => lifecycle::card(tx, &office, serial, kind.into(), a.channel.into())?,
            None => lifecycle::reprint(tx, &office, serial, a.number, a.channel.into())?,
        };
        let image = match (&a.out, format, &trust) {
            (Some(out), Some(format), Some(trust)) => {
                let permit = tx
                    .permit(serial)?
                    .ok_or_else(|| LedgerError::Damaged(format!("permit {serial:012} vanished")))?;
                let text = lifecycle::current(tx, serial)?.text;
                let key_is_test = verify(&text, trust, now)?;
                let data =
                    CardData::new(&permit, &text, &rec, key_is_test).map_err(card_failure)?;
                let (bytes, image) = render_card(&data, out, format, font.as_ref(), trust, now)?;
                write_output(out, &bytes, a.force)?;
                Some(image)
            }
            _ => None,
        };
        Ok((rec, image))
    })?;
    let reprint = a.kind.is_none();
    if cli.json {
        print_json(&CardReport {
            card: &rec,
            reprint,
            image,
        })?;
    } else {
        print_card(&rec, reprint, image.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a card recorded (or printed again) and the card image written, for people.
fn print_card(rec: &CardRecord, reprint: bool, image: Option<&CardImage>) {
    if reprint {
        println!(
            "permit {:012}: card no. {} ({}) printed again; no new card, no fee",
            rec.serial, rec.number, rec.kind
        );
    } else {
        println!(
            "permit {:012}: card no. {} ({}), fee {} yuan",
            rec.serial, rec.number, rec.kind, rec.fee_yuan
        );
    }
    if let Some(i) = image {
        let size = match (i.width_px, i.height_px, i.dpi) {
            (Some(w), Some(h), Some(dpi)) => format!("{w}×{h} px at {dpi} dpi, "),
            _ => String::new(),
        };
        println!(
            "  card {} -> {} ({size}{} × {} mm), QR version {} ECC {} ({} modules of {:.3} mm){}",
            i.format.to_ascii_uppercase(),
            i.out,
            i.width_mm,
            i.height_mm,
            i.qr_version,
            i.qr_ecc,
            i.qr_modules,
            i.module_mm,
            if i.test { ", stamped TEST-ONLY" } else { "" }
        );
    }
}

/// The card's format from the file name; refuses to replace a file without `--force`.
fn output_format(out: &Path, force: bool) -> Result<Format> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let format = match ext.as_deref() {
        Some("png") => Format::Png,
        Some("svg") => Format::Svg,
        _ => {
            return Err(Failure::usage(format!(
                "{}: unknown card format; use .png or .svg",
                out.display()
            ))
            .hint("the printable card is written as PNG (600 dpi) or SVG"));
        }
    };
    check_output(out, force)?;
    Ok(format)
}

/// The font for PNG cards: `--font`, else `$ISSUER_CARD_FONT`, else the embedded WenQuanYi Micro
/// Hei.
fn card_font(flag: Option<&Path>) -> Result<Font> {
    let font_failure = |e: CardError| {
        let code = match &e {
            CardError::FontFile { path, .. }
                if std::fs::metadata(path).is_ok_and(|m| m.len() > card::MAX_FONT_BYTES) =>
            {
                ErrorCode::FileTooLarge
            }
            CardError::FontFile { .. } => ErrorCode::IoError,
            CardError::FontInvalid { .. }
            | CardError::FontLacksGlyphs { .. }
            | CardError::MissingGlyph { .. } => ErrorCode::FontUnusable,
            _ => ErrorCode::Usage,
        };
        Failure::new(code, e.to_string()).hint(format!(
            "pass --font FILE (or set {FONT_ENV}) with a TrueType/OpenType font that has Latin and Chinese glyphs, or leave both out to use the embedded font"
        ))
    };
    let chosen = flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(FONT_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    match chosen {
        Some(path) => {
            // A known collection keeps its Chinese face (face 2 of Noto Sans CJK).
            let face = card::SYSTEM_FONTS
                .iter()
                .find(|f| Path::new(f.path) == path)
                .map_or(0, |f| f.face);
            Font::from_file(&path, face).map_err(font_failure)
        }
        None => Font::embedded().map_err(font_failure),
    }
}

/// Verifies the current credential as a verifier would, and says whether its key is TEST-ONLY.
fn verify(text: &str, trust: &TrustList, now: DateTime<Utc>) -> Result<bool> {
    selfcheck::verify_text(text, trust, now).map_err(|e| {
        Failure::new(
            ErrorCode::SelfCheckFailed,
            format!("{e}; no card was recorded"),
        )
        .hint("`issuer show SERIAL` prints the permit's state; an overdue endorsement suspends it")
    })?;
    Ok(context::signed_by_test_key(text, trust))
}

fn card_failure(e: CardError) -> Failure {
    let hint = match &e {
        CardError::QrTooLarge { .. } | CardError::TextTooLong { .. } => {
            "the permit's fields are too long for a card; nothing was recorded or written"
        }
        CardError::MissingGlyph { .. } => {
            "use a font with every character of the permit (--font FILE or ISSUER_CARD_FONT), or write an SVG card; nothing was recorded or written"
        }
        _ => "nothing was recorded or written; report this as a bug",
    };
    let code = match &e {
        CardError::MissingGlyph { .. } => ErrorCode::FontUnusable,
        _ => ErrorCode::Usage,
    };
    Failure::new(code, e.to_string()).hint(hint)
}

/// Renders the card and checks its code: the PNG itself is decoded by the library; for an SVG
/// the same matrix is rendered alone as PNG and decoded.
fn render_card(
    data: &CardData,
    out: &Path,
    format: Format,
    font: Option<&Font>,
    trust: &TrustList,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, CardImage)> {
    let qr = data.qr();
    let opts = PngOptions::default();
    let (bytes, px, font_name) = match (format, font) {
        (Format::Png, Some(font)) => {
            let png = card::to_png(data, font, &opts).map_err(card_failure)?;
            (png, Some(opts.size_px()), Some(font.origin().to_owned()))
        }
        (Format::Png, None) => return Err(Failure::usage("no font for the PNG card")),
        (Format::Svg, _) => {
            let svg = card::to_svg(data).map_err(card_failure)?;
            // The SVG's code is the card's matrix: render it alone and check that.
            Code::from_matrix(data.text(), qr.clone(), RenderOptions::default())
                .checked_png(trust, now)
                .map_err(|e| {
                    Failure::from(e).hint("nothing was recorded or written; report this as a bug")
                })?;
            (svg.into_bytes(), None, None)
        }
    };
    let image = CardImage {
        out: out.display().to_string(),
        format: match format {
            Format::Png => "png",
            Format::Svg => "svg",
        },
        width_mm: card::CARD_WIDTH_MM,
        height_mm: card::CARD_HEIGHT_MM,
        width_px: px.map(|p| p.0),
        height_px: px.map(|p| p.1),
        dpi: px.map(|_| opts.dpi),
        qr_version: qr.version(),
        qr_ecc: qr.ecc().to_string(),
        qr_modules: qr.width(),
        // Three decimals (0.508), not the f32's 0.50799996.
        module_mm: (card::module_mm(opts.dpi) * 1000.0).round() / 1000.0,
        test: data.is_test(),
        font: font_name,
    };
    Ok((bytes, image))
}
