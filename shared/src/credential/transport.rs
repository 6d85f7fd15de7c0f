//! The transport stage: the [`decimal`] codec and the QR text form `GDRP1:` + digits
//! ([`to_text`], [`from_text`], which also runs the size cap and the prefix stage).

use super::{
    DecodeError, Kind, MAX_ENVELOPE_BYTES, MAX_TEXT_BYTES, PREFIX_V1, SCHEME, VERSION, classify,
};

/// Decimal transport: every 7 bytes become 17 digits (big-endian, zero-padded); a final group of
/// k < 7 bytes becomes 3, 5, 8, 10, 13 or 15 digits (k = 1 … 6). Only the shortest digit count per
/// group and only values below 256^k are accepted, so the encoding is one-to-one.
pub mod decimal {
    /// Digits for a group of `k` bytes, k = 0 … 7.
    pub const DIGITS: [usize; 8] = [0, 3, 5, 8, 10, 13, 15, 17];

    /// Encodes bytes as digits.
    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 17 / 7 + 17);
        for chunk in bytes.chunks(7) {
            let mut v: u64 = 0;
            for b in chunk {
                v = v << 8 | u64::from(*b);
            }
            let width = DIGITS[chunk.len()];
            out.push_str(&format!("{v:0width$}"));
        }
        out
    }

    /// Why digits do not decode; `offset` is 0-based within the digits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Error {
        /// 0-based offset of the first offending character.
        pub offset: usize,
        /// What is wrong.
        pub detail: &'static str,
    }

    /// Decodes digits to bytes.
    pub fn decode(digits: &str) -> Result<Vec<u8>, Error> {
        let b = digits.as_bytes();
        if let Some(i) = b.iter().position(|c| !c.is_ascii_digit()) {
            return Err(Error {
                offset: i,
                detail: "not a decimal digit",
            });
        }
        let tail = b.len() % 17;
        let Some(tail_bytes) = DIGITS[..7].iter().position(|d| *d == tail) else {
            return Err(Error {
                offset: b.len() - tail,
                detail: "digit count is not a valid length",
            });
        };
        let mut out = Vec::with_capacity(b.len() / 17 * 7 + tail_bytes);
        let mut start = 0;
        while start < b.len() {
            let (len, k) = if b.len() - start >= 17 {
                (17, 7)
            } else {
                (tail, tail_bytes)
            };
            let mut v: u64 = 0;
            for c in &b[start..start + len] {
                v = v * 10 + u64::from(c - b'0');
            }
            if k < 8 && v >> (8 * k) != 0 {
                return Err(Error {
                    offset: start,
                    detail: "digit group exceeds its byte range",
                });
            }
            for i in (0..k).rev() {
                out.push((v >> (8 * i)) as u8);
            }
            start += len;
        }
        Ok(out)
    }
}

/// Turns COSE bytes into the QR text: `GDRP1:` + decimal digits.
pub fn to_text(envelope: &[u8]) -> String {
    let mut s = String::with_capacity(PREFIX_V1.len() + envelope.len() * 17 / 7 + 17);
    s.push_str(PREFIX_V1);
    s.push_str(&decimal::encode(envelope));
    s
}

/// Prefix and transport stages: the text (exactly as scanned, after any normalisation by the
/// caller) to the COSE bytes.
pub fn from_text(text: &str) -> Result<Vec<u8>, DecodeError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(DecodeError::TooLarge {
            what: "text",
            limit: MAX_TEXT_BYTES,
            actual: text.len(),
        });
    }
    match classify(text) {
        Kind::Other => Err(DecodeError::NotAPermit),
        Kind::Foreign(f) => Err(DecodeError::Foreign(f)),
        Kind::BadPrefix => Err(DecodeError::Prefix),
        Kind::Permit {
            version, body: _, ..
        } if version != VERSION => Err(DecodeError::UnsupportedVersion {
            version: text[SCHEME.len()..]
                .split(':')
                .next()
                .unwrap_or("")
                .to_owned(),
        }),
        Kind::Permit {
            body, prefix_len, ..
        } => {
            if prefix_len != PREFIX_V1.len() {
                // `GDRP01:` and the like: the version must be written without leading zeros.
                return Err(DecodeError::Prefix);
            }
            if body.len() * 7 / 17 > MAX_ENVELOPE_BYTES + 7 {
                return Err(DecodeError::TooLarge {
                    what: "credential",
                    limit: MAX_ENVELOPE_BYTES,
                    actual: body.len() * 7 / 17,
                });
            }
            decimal::decode(body).map_err(|e| DecodeError::Transport {
                position: text[..prefix_len].chars().count() + body[..e.offset].chars().count() + 1,
                detail: e.detail,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Foreign;
    use super::*;

    #[test]
    fn decimal_edges() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 255) as u8).collect();
            let d = decimal::encode(&bytes);
            assert_eq!(decimal::decode(&d).unwrap(), bytes);
            let all_ff = vec![0xffu8; n];
            assert_eq!(decimal::decode(&decimal::encode(&all_ff)).unwrap(), all_ff);
        }
        assert_eq!(
            decimal::decode("256").unwrap_err().detail,
            "digit group exceeds its byte range"
        );
        assert_eq!(
            decimal::decode("1234").unwrap_err().detail,
            "digit count is not a valid length"
        );
        assert_eq!(decimal::decode("12a").unwrap_err().offset, 2);
        // 2^56 does not fit in 7 bytes
        assert!(decimal::decode("72057594037927936").is_err());
        assert!(decimal::decode("72057594037927935").is_ok());
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            from_text("HC1:NCF"),
            Err(DecodeError::Foreign(Foreign::EuDcc))
        );
        assert_eq!(
            from_text("shc:/5676"),
            Err(DecodeError::Foreign(Foreign::SmartHealthCard))
        );
        assert_eq!(
            from_text("NZCP:/1/2KC"),
            Err(DecodeError::Foreign(Foreign::NzCovidPass))
        );
        assert_eq!(
            from_text("https://example.com"),
            Err(DecodeError::NotAPermit)
        );
        assert_eq!(
            from_text("GDRP2:123"),
            Err(DecodeError::UnsupportedVersion {
                version: "2".into()
            })
        );
        assert_eq!(from_text("GDRP01:123"), Err(DecodeError::Prefix));
        assert_eq!(from_text("GDRPX:123"), Err(DecodeError::Prefix));
        assert!(matches!(
            from_text("GDRP1:12a"),
            Err(DecodeError::Transport { position: 9, .. })
        ));
        let big = format!("GDRP1:{}", "1".repeat(MAX_TEXT_BYTES));
        assert!(matches!(from_text(&big), Err(DecodeError::TooLarge { .. })));
    }

    proptest::proptest! {
        #[test]
        fn decimal_round_trip(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            proptest::prop_assert_eq!(decimal::decode(&decimal::encode(&b)).unwrap(), b);
        }
    }
}
