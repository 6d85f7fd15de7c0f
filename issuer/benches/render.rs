//! QR rendering of one credential (`GDRP1:` + 640 digits, level M, version 12):
//! `qrcode`'s own encoder against [`QrMatrix::encode`], then PNG, SVG and luma rendering.
//!
//! `cargo bench -p permit-issuer --bench render -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use qrcode::{EcLevel, QrCode};

/// `GDRP1:` and 640 pseudo-random digits (fixed seed), the size of a typical credential.
fn credential_text() -> String {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let digits: String = (0..640)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'0' + ((state >> 33) % 10) as u8)
        })
        .collect();
    format!("GDRP1:{digits}")
}

fn render_benches(c: &mut Criterion) {
    let text = credential_text();
    let opts = RenderOptions::default();
    let matrix = match QrMatrix::encode(&text, Ecc::M) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cannot encode the benchmark text: {e}");
            return;
        }
    };
    eprintln!(
        "benchmark symbol: version {} at level {}, mask {}",
        matrix.version(),
        matrix.ecc(),
        matrix.mask()
    );

    let mut group = c.benchmark_group("render");
    group.bench_function("matrix/qrcode QrCode::with_error_correction_level", |b| {
        b.iter(|| {
            QrCode::with_error_correction_level(black_box(&text), EcLevel::M)
                .map(|code| code.width())
        })
    });
    group.bench_function("matrix/QrMatrix::encode", |b| {
        b.iter(|| QrMatrix::encode(black_box(&text), Ecc::M).map(|m| m.width()))
    });
    group.bench_function("png/8 px", |b| {
        b.iter(|| render::to_png(black_box(&matrix), &opts).map(|png| png.len()))
    });
    group.bench_function("svg", |b| {
        b.iter(|| render::to_svg(black_box(&matrix), &opts).map(|svg| svg.len()))
    });
    group.bench_function("luma image/8 px", |b| {
        b.iter(|| render::to_luma_image(black_box(&matrix), &opts).map(|image| image.width()))
    });
    group.bench_function("matrix + png/8 px", |b| {
        b.iter(|| {
            QrMatrix::encode(black_box(&text), Ecc::M)
                .and_then(|m| render::to_png(&m, &opts))
                .map(|png| png.len())
        })
    });
    group.finish();
}

criterion_group!(benches, render_benches);
criterion_main!(benches);
