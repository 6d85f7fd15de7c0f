//! Stage 4 of a scan: duplicates removed (same text at the same place), caps on the number of
//! codes and on the length of their text, reading order.

use super::{DecodedCode, ScanError, ScanLimits};

/// Stage 4: duplicates removed, caps checked, reading order.
pub(super) fn check_results(
    found: Vec<DecodedCode>,
    limits: &ScanLimits,
) -> Result<Vec<DecodedCode>, ScanError> {
    let mut codes: Vec<DecodedCode> = Vec::new();
    for code in found {
        if !codes.iter().any(|kept| same_code(kept, &code)) {
            codes.push(code);
        }
    }
    if codes.len() > limits.max_codes {
        return Err(ScanError::TooManyCodes {
            limit: limits.max_codes,
        });
    }
    if let Some(long) = codes.iter().find(|c| c.text.len() > limits.max_text_bytes) {
        return Err(ScanError::TextTooLong {
            limit: limits.max_text_bytes,
            actual: long.text.len(),
        });
    }
    Ok(reading_order(codes))
}

/// Rows from top to bottom, each left to right. A row is the codes whose centres lie within the
/// height of its topmost code, so codes side by side in a tilted photo stay in one row.
fn reading_order(mut codes: Vec<DecodedCode>) -> Vec<DecodedCode> {
    codes.sort_by(|a, b| top_left(a).1.total_cmp(&top_left(b).1));
    let mut rows: Vec<(f32, Vec<DecodedCode>)> = Vec::new();
    for code in codes {
        let (centre_y, bottom) = bounds(&code).map_or((0.0, 0.0), |b| (b.centre().1, b.max.1));
        match rows.last_mut() {
            Some((row_bottom, row)) if centre_y <= *row_bottom => row.push(code),
            _ => rows.push((bottom, vec![code])),
        }
    }
    rows.into_iter()
        .flat_map(|(_, mut row)| {
            row.sort_by(|a, b| top_left(a).0.total_cmp(&top_left(b).0));
            row
        })
        .collect()
}

/// Same text, and the centre of one inside the bounding box of the other.
fn same_code(a: &DecodedCode, b: &DecodedCode) -> bool {
    if a.text != b.text {
        return false;
    }
    match (bounds(a), bounds(b)) {
        (Some(ba), Some(bb)) => ba.contains(bb.centre()) || bb.contains(ba.centre()),
        _ => true,
    }
}

#[derive(Debug, Clone, Copy)]
struct Bounds {
    min: (f32, f32),
    max: (f32, f32),
}

impl Bounds {
    fn centre(self) -> (f32, f32) {
        (
            (self.min.0 + self.max.0) / 2.0,
            (self.min.1 + self.max.1) / 2.0,
        )
    }

    fn contains(self, (x, y): (f32, f32)) -> bool {
        (self.min.0..=self.max.0).contains(&x) && (self.min.1..=self.max.1).contains(&y)
    }
}

fn bounds(code: &DecodedCode) -> Option<Bounds> {
    let first = *code.points.first()?;
    Some(code.points.iter().fold(
        Bounds {
            min: first,
            max: first,
        },
        |b, &(x, y)| Bounds {
            min: (b.min.0.min(x), b.min.1.min(y)),
            max: (b.max.0.max(x), b.max.1.max(y)),
        },
    ))
}

fn top_left(code: &DecodedCode) -> (f32, f32) {
    bounds(code).map_or((0.0, 0.0), |b| b.min)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::scan_image_bytes;
    use super::super::testkit::{compose, encode, render};
    use super::*;
    use image::ImageFormat;

    #[test]
    fn code_count_and_text_length_are_capped() {
        let a = render("CODE-A", 4);
        let b = render("CODE-B", 4);
        let c = render("CODE-C", 4);
        let w = a.width();
        let image = compose(
            3 * w + 40,
            w + 20,
            &[(&a, 10, 10), (&b, w + 20, 10), (&c, 2 * w + 30, 10)],
        );
        let png = encode(&image.into(), ImageFormat::Png);
        let codes = scan_image_bytes(&png, &ScanLimits::default()).unwrap();
        assert_eq!(codes.len(), 3);
        let limits = ScanLimits {
            max_codes: 2,
            ..ScanLimits::default()
        };
        let err = scan_image_bytes(&png, &limits).unwrap_err();
        assert!(
            matches!(err, ScanError::TooManyCodes { limit: 2 }),
            "{err:?}"
        );
        assert_eq!(err.code(), "TOO_MANY_CODES");

        let limits = ScanLimits {
            max_text_bytes: 5,
            ..ScanLimits::default()
        };
        let err = scan_image_bytes(&png, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                ScanError::TextTooLong {
                    limit: 5,
                    actual: 6
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_row_holds_the_codes_whose_centres_lie_within_its_topmost_code() {
        let codes = vec![
            DecodedCode {
                text: "below".to_owned(),
                points: vec![(0.0, 200.0), (100.0, 300.0)],
            },
            DecodedCode {
                text: "right".to_owned(),
                points: vec![(150.0, 10.0), (250.0, 110.0)],
            },
            DecodedCode {
                text: "left".to_owned(),
                points: vec![(0.0, 30.0), (100.0, 130.0)],
            },
        ];
        let order: Vec<String> = reading_order(codes).into_iter().map(|c| c.text).collect();
        assert_eq!(order, ["left", "right", "below"]);
    }
}
