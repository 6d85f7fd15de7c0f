//! A quick version of the photo benchmark: one photo of every condition at level 1, read by the
//! verifier's scan path. The full comparison is `scripts/bench-photos.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use permit_photo_bench::conditions::{Condition, make_photo};
use permit_photo_bench::decoders;
use permit_photo_bench::permits::issue_permits;
use permit_photo_bench::set::PhotoSpec;

const SEED: u64 = 20_261_202;

#[test]
fn level_one_photos_of_every_condition_are_read_exactly() {
    let text = issue_permits(1, SEED).unwrap().remove(0);
    assert!(text.starts_with("GDRP1:"), "{text}");
    let mut failed = Vec::new();
    for condition in Condition::ALL {
        let spec = PhotoSpec {
            condition,
            level: 1,
            index: 0,
        };
        let photo = make_photo(&text, condition, 1, 0, spec.seed(SEED)).unwrap();
        let outcome = decoders::ours(&photo.bytes);
        if !outcome.read(&text) {
            failed.push(format!("{} ({})", condition.name(), outcome.detail));
        }
    }
    // Every level-1 photo is one a phone reads at once; allow one miss.
    assert!(failed.len() <= 1, "not read: {failed:?}");
}

#[test]
fn the_same_seed_gives_the_same_photo_and_permit() {
    let a = issue_permits(2, 7).unwrap();
    assert_eq!(a, issue_permits(2, 7).unwrap());
    assert_ne!(a[0], a[1]);
    let one = make_photo(&a[0], Condition::Jpeg, 2, 3, 99).unwrap();
    let two = make_photo(&a[0], Condition::Jpeg, 2, 3, 99).unwrap();
    assert_eq!(one.bytes, two.bytes);
    assert_eq!(one.extension, "jpg");
    let other = make_photo(&a[0], Condition::Jpeg, 2, 3, 100).unwrap();
    assert_ne!(one.bytes, other.bytes);
}
