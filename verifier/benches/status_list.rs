//! Status lists at provincial scale: 30 million entries (Guangdong has tens of millions of migrant
//! residents), 1 % revoked and 3 % suspended at indices spread uniformly (the issuer allocates
//! indices at random, so statuses carry no neighbourhood structure that zlib could exploit).
//!
//! Prints the compressed and signed sizes, then times publishing (zlib at best compression +
//! signing) and loading (size cap, envelope, `verify_strict`, claims, capped decompression) on
//! the real code paths.
//!
//! `cargo bench -p permit-verifier --bench status_list`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use permit_shared::fixtures::TestRng;
use permit_shared::keys::SecretKey;
use permit_shared::status::{Status, StatusList, StatusListToken};
use permit_shared::trust::TrustList;
use permit_verifier::verify::verify_status_list;

const ENTRIES: u64 = 30_000_000;

/// A list of `ENTRIES` entries where each entry is revoked, suspended or superseded with the
/// given probabilities (in parts per 10 000), independently.
fn list(revoked: u64, suspended: u64, superseded: u64) -> StatusList {
    let mut rng = TestRng::new(0x5EED_0001); // fixed seed: every run measures the same list
    let mut l = StatusList::new(ENTRIES);
    for i in 0..ENTRIES {
        let r = rng.next_u64() % 10_000;
        let s = if r < revoked {
            Status::Revoked
        } else if r < revoked + suspended {
            Status::Suspended
        } else if r < revoked + suspended + superseded {
            Status::Superseded
        } else {
            continue;
        };
        l.set(i, s);
    }
    l
}

fn token(list: StatusList) -> StatusListToken {
    StatusListToken {
        uri: "https://permits.gd.example.invalid/status/1".to_owned(),
        // 2026-11-25 00:00 UTC, inside the demo key's signing window.
        issued_at: 1_795_564_800,
        ttl: 86_400,
        sequence: 1,
        list,
    }
}

fn demo_key() -> SecretKey {
    let pem = include_str!("../../keys/TEST-ONLY-demo-issuer.key.pem");
    SecretKey::from_pkcs8_pem(&pem[pem.find("-----BEGIN").unwrap()..]).unwrap()
}

fn benches(c: &mut Criterion) {
    let key = demo_key();
    let root = permit_verifier::demo::root().unwrap();
    let trust = TrustList::verify(permit_verifier::demo::TRUST_LIST.as_bytes(), &root).unwrap();

    let mixes = [
        ("1% revoked, 3% suspended", 100, 300, 0),
        ("1% revoked, 3% suspended, 2% superseded", 100, 300, 200),
        ("all valid", 0, 0, 0),
    ];
    eprintln!(
        "status list sizes, {ENTRIES} entries (raw 2-bit list: {} bytes):",
        ENTRIES / 4
    );
    for (name, r, s, x) in mixes {
        let l = list(r, s, x);
        let lst = l.compress().len();
        let signed = token(l).sign(&key).len();
        eprintln!(
            "  {name:<42} zlib lst {lst:>9} bytes ({:.3} MB), signed token {signed:>9} bytes ({:.3} MB)",
            lst as f64 / 1e6,
            signed as f64 / 1e6
        );
    }

    let t = token(list(100, 300, 0));
    let signed = t.sign(&key);
    let loaded = verify_status_list(&signed, &trust).unwrap();
    assert_eq!(loaded.token.list, t.list);

    let mut g = c.benchmark_group("status_list_30m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("publish_compress_and_sign", |b| {
        b.iter(|| black_box(&t).sign(&key))
    });
    g.bench_function("load_verify_and_decompress", |b| {
        b.iter(|| verify_status_list(black_box(&signed), &trust).unwrap())
    });
    g.bench_function("lookup", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7_919) % ENTRIES;
            loaded.token.list.get(black_box(i))
        })
    });
    g.finish();
}

criterion_group!(status, benches);
criterion_main!(status);
