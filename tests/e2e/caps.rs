//! Every cap on hostile input, tested at its limit (accepted, or refused for some other reason)
//! and one past it (refused with the cap's reason code): scanned text, decoded credential bytes,
//! image file size, width, height, pixel count, decoded size, codes per image, text per code,
//! time per image, status-list token size and decompressed size, trust-list size and key count.

use std::io::Write as _;

use base64::Engine as _;
use std::time::Duration;

use image::{GrayImage, Luma};

use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_shared::credential::{self, DecodeError, Envelope, MAX_ENVELOPE_BYTES, MAX_TEXT_BYTES};
use permit_shared::keys::SecretKey;
use permit_shared::status::{MAX_ENTRIES, MAX_TOKEN_BYTES, StatusList, StatusListToken};
use permit_shared::trust::{self, KeyEntry, MAX_KEYS, MAX_TRUST_LIST_BYTES, TrustError, Usage};
use permit_verifier::scan::{ScanError, ScanLimits, scan_image_bytes};
use permit_verifier::verify::verify_text;

use crate::common::{ctx, demo_trust, fixed_now};

fn codes_of(text: &str) -> Vec<&'static str> {
    let trust = demo_trust();
    verify_text(text, &ctx(&trust, fixed_now()))
        .reasons
        .iter()
        .map(|r| r.code.as_str())
        .collect()
}

#[test]
fn scanned_text_length() {
    let at = "x".repeat(MAX_TEXT_BYTES);
    assert_eq!(credential::from_text(&at), Err(DecodeError::NotAPermit));
    assert_eq!(codes_of(&at), ["NOT_A_PERMIT"]);
    let past = "x".repeat(MAX_TEXT_BYTES + 1);
    assert!(
        matches!(
            credential::from_text(&past),
            Err(DecodeError::TooLarge { what: "text", limit: MAX_TEXT_BYTES, actual }) if actual == MAX_TEXT_BYTES + 1
        ),
        "{:?}",
        credential::from_text(&past)
    );
    assert_eq!(codes_of(&past), ["INPUT_TOO_LARGE"]);
}

#[test]
fn decoded_credential_bytes() {
    // At the cap the bytes reach the envelope parser (and fail there: they are not COSE).
    let at = credential::to_text(&vec![0x41; MAX_ENVELOPE_BYTES]);
    let bytes = credential::from_text(&at).unwrap();
    assert_eq!(bytes.len(), MAX_ENVELOPE_BYTES);
    assert!(matches!(
        Envelope::decode(&bytes),
        Err(DecodeError::Envelope { .. })
    ));
    assert_eq!(codes_of(&at), ["MALFORMED"]);
    // One byte more is refused before any CBOR is read.
    let past = credential::to_text(&vec![0x41; MAX_ENVELOPE_BYTES + 1]);
    let bytes = credential::from_text(&past).unwrap();
    assert_eq!(
        Envelope::decode(&bytes),
        Err(DecodeError::TooLarge {
            what: "credential",
            limit: MAX_ENVELOPE_BYTES,
            actual: MAX_ENVELOPE_BYTES + 1
        })
    );
    assert_eq!(codes_of(&past), ["INPUT_TOO_LARGE"]);
    // A body far beyond the cap is refused from its length alone, before decimal decoding.
    let huge = format!("GDRP1:{}", "1".repeat(MAX_TEXT_BYTES - 6));
    assert!(matches!(
        credential::from_text(&huge),
        Err(DecodeError::TooLarge {
            what: "credential",
            ..
        })
    ));
}

const TEXT: &str = "GDRP1:CAP-TEST";

fn png_of(text: &str, module_px: u32) -> Vec<u8> {
    let m = QrMatrix::encode(text, Ecc::M).unwrap();
    render::to_png(
        &m,
        &RenderOptions {
            module_px,
            quiet_zone: 4,
        },
    )
    .unwrap()
}

fn dims(png: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(png).unwrap();
    (img.width(), img.height())
}

fn too_large(
    r: Result<Vec<permit_verifier::scan::DecodedCode>, ScanError>,
) -> (&'static str, u64, u64) {
    match r {
        Err(
            e @ ScanError::TooLarge {
                what,
                limit,
                actual,
            },
        ) => {
            assert_eq!(e.code(), "IMAGE_TOO_LARGE");
            (what, limit, actual)
        }
        other => panic!("expected IMAGE_TOO_LARGE, got {other:?}"),
    }
}

fn reads(r: Result<Vec<permit_verifier::scan::DecodedCode>, ScanError>, texts: &[&str]) {
    let codes = r.unwrap();
    let got: Vec<&str> = codes.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(got, texts);
}

#[test]
fn image_file_size_and_dimensions() {
    let png = png_of(TEXT, 4);
    let (w, h) = dims(&png);
    let n = png.len() as u64;
    let base = ScanLimits::default();

    let at = ScanLimits {
        max_file_bytes: n,
        ..base
    };
    reads(scan_image_bytes(&png, &at), &[TEXT]);
    let past = ScanLimits {
        max_file_bytes: n - 1,
        ..base
    };
    assert_eq!(
        too_large(scan_image_bytes(&png, &past)),
        ("file size in bytes", n - 1, n)
    );

    let at = ScanLimits {
        max_width: w,
        max_height: h,
        max_pixels: u64::from(w) * u64::from(h),
        ..base
    };
    reads(scan_image_bytes(&png, &at), &[TEXT]);
    let past = ScanLimits {
        max_width: w - 1,
        ..at
    };
    assert_eq!(
        too_large(scan_image_bytes(&png, &past)),
        ("width in pixels", u64::from(w - 1), u64::from(w))
    );
    let past = ScanLimits {
        max_height: h - 1,
        ..at
    };
    assert_eq!(
        too_large(scan_image_bytes(&png, &past)),
        ("height in pixels", u64::from(h - 1), u64::from(h))
    );
    let px = u64::from(w) * u64::from(h);
    let past = ScanLimits {
        max_pixels: px - 1,
        ..at
    };
    assert_eq!(
        too_large(scan_image_bytes(&png, &past)),
        ("pixel count", px - 1, px)
    );
}

#[test]
fn image_decoded_size_and_allocation() {
    let png = png_of(TEXT, 4);
    // The decoded size of the image as the decoder delivers it.
    let total = image::load_from_memory(&png).unwrap().as_bytes().len() as u64;
    let (w, h) = dims(&png);
    assert!(total >= u64::from(w) * u64::from(h));
    let at = ScanLimits {
        max_alloc_bytes: total,
        ..ScanLimits::default()
    };
    reads(scan_image_bytes(&png, &at), &[TEXT]);
    let past = ScanLimits {
        max_alloc_bytes: total - 1,
        ..ScanLimits::default()
    };
    assert_eq!(
        too_large(scan_image_bytes(&png, &past)),
        ("decoded size in bytes", total - 1, total)
    );
}

/// Three codes side by side on one white image.
fn three_codes() -> (Vec<u8>, [&'static str; 3]) {
    let texts = ["CAP-CODE-A", "CAP-CODE-B", "CAP-CODE-C"];
    let imgs: Vec<GrayImage> = texts
        .iter()
        .map(|t| {
            render::to_luma_image(
                &QrMatrix::encode(t, Ecc::M).unwrap(),
                &RenderOptions {
                    module_px: 4,
                    quiet_zone: 4,
                },
            )
            .unwrap()
        })
        .collect();
    let side = imgs[0].width();
    let mut canvas = GrayImage::from_pixel(3 * side + 40, side + 20, Luma([255]));
    for (i, img) in imgs.iter().enumerate() {
        image::imageops::replace(&mut canvas, img, i64::from(10 + i as u32 * (side + 10)), 10);
    }
    let mut png = Vec::new();
    canvas
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    (png, texts)
}

#[test]
fn codes_per_image_and_text_per_code() {
    let (png, texts) = three_codes();
    let at = ScanLimits {
        max_codes: 3,
        max_text_bytes: 10,
        ..ScanLimits::default()
    };
    let mut got: Vec<String> = scan_image_bytes(&png, &at)
        .unwrap()
        .into_iter()
        .map(|c| c.text)
        .collect();
    got.sort();
    assert_eq!(got, texts);

    let past = ScanLimits { max_codes: 2, ..at };
    let err = scan_image_bytes(&png, &past).unwrap_err();
    assert!(
        matches!(err, ScanError::TooManyCodes { limit: 2 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "TOO_MANY_CODES");

    let past = ScanLimits {
        max_text_bytes: 9,
        ..at
    };
    let err = scan_image_bytes(&png, &past).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::TextTooLong {
                limit: 9,
                actual: 10
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "CODE_TEXT_TOO_LONG");
}

#[test]
fn time_per_image() {
    // A blank photo-sized image makes the scanner escalate through every attempt.
    let blank = GrayImage::from_pixel(1600, 1200, Luma([200]));
    let mut png = Vec::new();
    blank
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let generous = ScanLimits {
        time_budget: Duration::from_secs(600),
        ..ScanLimits::default()
    };
    let err = scan_image_bytes(&png, &generous).unwrap_err();
    assert!(matches!(err, ScanError::NoCodeFound), "{err:?}");
    let none = ScanLimits {
        time_budget: Duration::ZERO,
        ..ScanLimits::default()
    };
    let err = scan_image_bytes(&png, &none).unwrap_err();
    assert!(
        matches!(err, ScanError::TimedOut { budget_ms: 0 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "SCAN_TIMED_OUT");
    // The first attempt always runs, so a clean code is read even with no budget left.
    reads(scan_image_bytes(&png_of(TEXT, 4), &none), &[TEXT]);
}

#[test]
fn status_list_token_and_decompressed_size() {
    let at = vec![0u8; MAX_TOKEN_BYTES];
    assert!(
        !matches!(
            StatusListToken::envelope(&at),
            Err(DecodeError::TooLarge { .. })
        ),
        "a token of exactly the cap must reach the parser"
    );
    let past = vec![0u8; MAX_TOKEN_BYTES + 1];
    assert!(matches!(
        StatusListToken::envelope(&past),
        Err(DecodeError::TooLarge { what: "status list", limit: MAX_TOKEN_BYTES, actual }) if actual == MAX_TOKEN_BYTES + 1
    ));

    // Decompression bombs: exactly MAX_ENTRIES entries inflate; one byte more is refused.
    let at = StatusList::new(MAX_ENTRIES).compress();
    assert_eq!(StatusList::decompress(&at).unwrap().len(), MAX_ENTRIES);
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; usize::try_from(MAX_ENTRIES / 4).unwrap() + 1])
        .unwrap();
    let past = e.finish().unwrap();
    assert!(past.len() < 100_000, "a bomb: {} bytes", past.len());
    assert!(matches!(
        StatusList::decompress(&past),
        Err(DecodeError::Claims { field: "lst", .. })
    ));
}

fn entry(k: &SecretKey) -> KeyEntry {
    KeyEntry {
        kid: k.public().id(),
        issuer: "cap test".into(),
        jwk: k.public().to_jwk(),
        may_sign: vec![Usage::Permit],
        signing_from: "2026-01-01T00:00:00Z".into(),
        signing_until: "2027-01-01T00:00:00Z".into(),
        verify_until: None,
        compromised_since: None,
        test: true,
    }
}

#[test]
fn trust_list_size_and_key_count() {
    let at = vec![b' '; MAX_TRUST_LIST_BYTES];
    let root = SecretKey::from_seed(&[9; 32]).unwrap();
    let r = trust::TrustList::verify(&at, root.public());
    assert!(
        matches!(r, Err(TrustError::Shape(_))),
        "at the cap: {:?}",
        r.err()
    );
    let past = vec![b' '; MAX_TRUST_LIST_BYTES + 1];
    assert_eq!(
        trust::TrustList::verify(&past, root.public()).err(),
        Some(TrustError::TooLarge {
            actual: MAX_TRUST_LIST_BYTES + 1
        })
    );

    let keys: Vec<KeyEntry> = (0..=MAX_KEYS)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            entry(&SecretKey::from_seed(&seed).unwrap())
        })
        .collect();
    let body = |n: usize| trust::TrustListBody {
        format: trust::FORMAT.into(),
        sequence: 1,
        issued_at: "2026-01-01T00:00:00Z".into(),
        expires_at: "2027-01-01T00:00:00Z".into(),
        publisher: "cap test".into(),
        test: true,
        keys: keys[..n].to_vec(),
    };
    let at = trust::sign(&body(MAX_KEYS), &root).unwrap();
    assert!(at.len() <= MAX_TRUST_LIST_BYTES, "{} bytes", at.len());
    let list = trust::TrustList::verify(at.as_bytes(), root.public()).unwrap();
    assert_eq!(list.keys_with_id(keys[0].kid).count(), 1);
    // The issuer's own `trust::sign` refuses to sign more keys than the cap, so the list past
    // it is signed by hand, as an attacker holding the root key (or a buggy tool) would.
    assert!(trust::sign(&body(MAX_KEYS + 1), &root).is_err());
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let protected = b64(serde_json::json!({
        "alg": "EdDSA",
        "kid": root.public().id().to_string(),
        "typ": trust::JWS_TYP,
    })
    .to_string()
    .as_bytes());
    let payload = b64(&serde_json::to_vec(&body(MAX_KEYS + 1)).unwrap());
    let signature = b64(&root.sign(format!("{protected}.{payload}").as_bytes()));
    let past =
        serde_json::json!({ "protected": protected, "payload": payload, "signature": signature })
            .to_string();
    assert!(past.len() <= MAX_TRUST_LIST_BYTES);
    assert!(matches!(
        trust::TrustList::verify(past.as_bytes(), root.public()),
        Err(TrustError::Content(m)) if m.contains("more than 1000 keys")
    ));
}
