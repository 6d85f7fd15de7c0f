//! Live presentations: what the holder's app does every 30 s (sign a presentation, encode the
//! text, draw the QR code as PNG) and what the verifier does with it (two signature checks and
//! the credential's checks), against the floor of two bare `verify_strict` calls.
//!
//! `cargo bench -p permit-holder --bench present`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use permit_issuer::issue::output::Code;
use permit_issuer::render::{Ecc, RenderOptions};
use permit_shared::credential;
use permit_shared::keys::SecretKey;
use permit_shared::role::Role;
use permit_shared::trust::TrustList;
use permit_verifier::verify::{self, Context, Verdict};

fn benches(c: &mut Criterion) {
    let issuer = permit_issuer::demo::issuer_key().unwrap();
    let device = SecretKey::from_seed(&[0xa1; 32]).unwrap();
    let mut claims = permit_shared::fixtures::example_claims();
    claims.holder = Some(*device.public());
    let full = credential::sign(&claims, &issuer);
    let basic = credential::sign_view(&claims.basic_view().unwrap(), &issuer);
    let t = 1_795_654_800;
    let basic_text = credential::to_text(&basic);

    let mut g = c.benchmark_group("present");
    g.throughput(Throughput::Elements(1));
    g.bench_function("basic_text", |b| {
        b.iter(|| {
            let bytes = credential::from_text(black_box(&basic_text)).unwrap();
            credential::to_text(&credential::present(&bytes, &device, t))
        })
    });
    g.bench_function("basic_png", |b| {
        b.iter(|| {
            let bytes = credential::from_text(black_box(&basic_text)).unwrap();
            let live = credential::to_text(&credential::present(&bytes, &device, t));
            Code::encode(&live, Ecc::M, RenderOptions::default())
                .unwrap()
                .png()
                .unwrap()
        })
    });
    g.finish();

    let root = permit_verifier::demo::root().unwrap();
    let trust = TrustList::verify(permit_verifier::demo::TRUST_LIST.as_bytes(), &root).unwrap();
    let at = DateTime::from_timestamp(t + 10, 0).unwrap();
    let hotel = Context::new(&trust, at).with_role(Role::parse("hotel").unwrap());
    let police = Context::new(&trust, at);
    let p_basic = credential::to_text(&credential::present(&basic, &device, t));
    let p_full = credential::to_text(&credential::present(&full, &device, t));
    assert_eq!(
        verify::verify_text(&p_basic, &hotel).verdict,
        Verdict::Valid
    );
    assert_eq!(
        verify::verify_text(&p_full, &police).verdict,
        Verdict::Valid
    );
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("basic_presentation_text", |b| {
        b.iter(|| verify::verify_text(black_box(&p_basic), &hotel))
    });
    g.bench_function("full_presentation_text", |b| {
        b.iter(|| verify::verify_text(black_box(&p_full), &police))
    });
    // The floor: two `verify_strict` calls over messages as long as the two Sig_structures.
    let m1 = vec![0x5a_u8; credential::from_text(&p_full).unwrap().len()];
    let m2 = vec![0x5b_u8; full.len()];
    let (s1, s2) = (device.sign(&m1), issuer.sign(&m2));
    let (k1, k2) = (*device.public(), *issuer.public());
    g.bench_function("ed25519_verify_strict_x2", |b| {
        b.iter(|| k1.verify_strict(black_box(&m1), &s1) && k2.verify_strict(black_box(&m2), &s2))
    });
    // The same with the device key read from its 32 bytes, as a verifier must (it comes from
    // the credential): point decompression and the small-order check included.
    let k1_bytes = k1.to_bytes();
    g.bench_function("ed25519_verify_strict_x2_one_key_from_bytes", |b| {
        b.iter(|| {
            permit_shared::keys::PublicKey::from_bytes(black_box(&k1_bytes))
                .unwrap()
                .verify_strict(black_box(&m1), &s1)
                && k2.verify_strict(black_box(&m2), &s2)
        })
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
