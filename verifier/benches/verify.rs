//! Verification speed: the text path (what a keyboard-wedge scanner delivers) and the image path
//! (decode a rendered PNG, then verify), plus signing and encoding on the issuing side.
//!
//! `cargo bench -p permit-verifier --bench verify`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use permit_shared::credential::{self, Envelope};
use permit_shared::keys::SecretKey;
use permit_shared::trust::TrustList;
use permit_verifier::scan::{self, ScanLimits};
use permit_verifier::verify::{self, Context, Verdict};

fn demo_key() -> SecretKey {
    let pem = include_str!("../../keys/TEST-ONLY-demo-issuer.key.pem");
    SecretKey::from_pkcs8_pem(&pem[pem.find("-----BEGIN").unwrap()..]).unwrap()
}

fn qr_png(text: &str, module: u32) -> Vec<u8> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).unwrap();
    let w = code.width() as u32;
    let side = (w + 8) * module;
    let mut img = image::GrayImage::from_pixel(side, side, image::Luma([255]));
    for y in 0..w {
        for x in 0..w {
            if code[(x as usize, y as usize)] == qrcode::Color::Dark {
                for dy in 0..module {
                    for dx in 0..module {
                        img.put_pixel(
                            (x + 4) * module + dx,
                            (y + 4) * module + dy,
                            image::Luma([0]),
                        );
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn benches(c: &mut Criterion) {
    let key = demo_key();
    let claims = permit_shared::fixtures::example_claims();
    let text = credential::to_text(&credential::sign(&claims, &key));
    let root = permit_verifier::demo::root().unwrap();
    let trust = TrustList::verify(permit_verifier::demo::TRUST_LIST.as_bytes(), &root).unwrap();
    let ctx = Context::new(&trust, DateTime::from_timestamp(1_795_600_000, 0).unwrap());
    assert_eq!(verify::verify_text(&text, &ctx).verdict, Verdict::Valid);

    let mut g = c.benchmark_group("issue");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign_and_encode_text", |b| {
        b.iter(|| credential::to_text(&credential::sign(black_box(&claims), &key)))
    });
    g.finish();

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("text", |b| {
        b.iter(|| verify::verify_text(black_box(&text), &ctx))
    });
    // The floor of the text path: one `verify_strict` over a message as long as the permit's
    // Sig_structure (the envelope's length plus a few bytes), nothing else.
    let message = vec![0x5a_u8; credential::from_text(&text).unwrap().len()];
    let signature = key.sign(&message);
    let public = *key.public();
    assert!(public.verify_strict(&message, &signature));
    g.bench_function("ed25519_verify_strict_only", |b| {
        b.iter(|| public.verify_strict(black_box(&message), &signature))
    });
    g.bench_function("decode_only", |b| {
        b.iter(|| Envelope::decode(&credential::from_text(black_box(&text)).unwrap()).unwrap())
    });
    let limits = ScanLimits::default();
    for module in [4u32, 8] {
        let png = qr_png(&text, module);
        let side = (61 + 8) * module;
        g.bench_function(format!("png_{side}px_scan_and_verify"), |b| {
            b.iter(|| {
                let codes = scan::scan_image_bytes(black_box(&png), &limits).unwrap();
                verify::verify_text(&codes[0].text, &ctx)
            })
        });
    }
    g.finish();

    // The image path per megapixel: a phone-photo-sized JPEG (quality 90) with the code filling
    // 40 % of the shorter side on a grey background, scanned and verified. Throughput is in
    // pixels, so criterion reports megapixels per second.
    let mut g = c.benchmark_group("image_per_megapixel");
    g.sample_size(20);
    for (w, h) in [(1280u32, 960u32), (2000, 1500), (4000, 3000)] {
        let jpeg = photo_jpeg(&text, w, h);
        g.throughput(Throughput::Elements(u64::from(w) * u64::from(h)));
        g.bench_function(format!("jpeg_{w}x{h}_scan_and_verify"), |b| {
            b.iter(|| {
                let codes = scan::scan_image_bytes(black_box(&jpeg), &limits).unwrap();
                verify::verify_text(&codes[0].text, &ctx)
            })
        });
    }
    g.finish();
}

/// A `w`×`h` JPEG with the code's symbol (quiet zone included) 40 % of the shorter side.
fn photo_jpeg(text: &str, w: u32, h: u32) -> Vec<u8> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).unwrap();
    let n = code.width() as u32 + 8;
    let module = (w.min(h) * 2 / 5 / n).max(1);
    let (x0, y0) = ((w - n * module) / 2, (h - n * module) / 2);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([190]));
    for y in 0..n * module {
        for x in 0..n * module {
            let (mx, my) = ((x / module) as i64 - 4, (y / module) as i64 - 4);
            let inside = (0..n as i64 - 8).contains(&mx) && (0..n as i64 - 8).contains(&my);
            let dark = inside && code[(mx as usize, my as usize)] == qrcode::Color::Dark;
            img.put_pixel(x0 + x, y0 + y, image::Luma([if dark { 30 } else { 235 }]));
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
