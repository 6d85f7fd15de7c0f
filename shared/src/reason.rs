//! Stable reason codes for verdicts, grouped by stage, with their effect on the verdict.
//!
//! Codes are part of the public interface (JSON reports, exit codes, audits): they are never
//! renamed or reused. `docs/FORMAT.md` and the README list them.

use serde::Serialize;

/// How a reason affects the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Shown, verdict unaffected.
    Warning,
    /// The verifier could not decide: verdict at best `INDETERMINATE` (manual check).
    Indeterminate,
    /// The credential is not acceptable: verdict `INVALID`.
    Error,
}

/// The stage a reason belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading the image or text.
    Input,
    /// Prefix, transport, envelope.
    Format,
    /// Claims and fields.
    Structure,
    /// Key lookup and trust list.
    Trust,
    /// Signature.
    Crypto,
    /// Validity period and clocks.
    Time,
    /// Status list (revocation, suspension, supersession).
    Status,
    /// Local policy and warnings.
    Policy,
}

macro_rules! codes {
    ($($variant:ident = $s:literal, $stage:ident, $sev:ident, $doc:literal;)*) => {
        /// A stable reason code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $doc] $variant,)*
        }
        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            /// The stable string, e.g. `SIGNATURE_INVALID`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $s,)* }
            }
            /// The stage.
            pub fn stage(self) -> Stage {
                match self { $(Code::$variant => Stage::$stage,)* }
            }
            /// The effect on the verdict.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
            /// A one-line description.
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => $doc,)* }
            }
            /// Looks a code up by its string.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($s => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    ImageUnreadable = "IMAGE_UNREADABLE", Input, Indeterminate, "The file is not a readable image.";
    ImageTooLarge = "IMAGE_TOO_LARGE", Input, Indeterminate, "The image exceeds a size limit (file, dimensions or pixels).";
    NoCodeFound = "NO_CODE_FOUND", Input, Indeterminate, "No QR code was found in the image.";
    TooManyCodes = "TOO_MANY_CODES", Input, Indeterminate, "The image holds more QR codes than the limit.";
    ScanTimedOut = "SCAN_TIMED_OUT", Input, Indeterminate, "Decoding the image took longer than its time budget; scan again.";
    CodeTextTooLong = "CODE_TEXT_TOO_LONG", Input, Indeterminate, "A QR code in the image holds more text than any permit can.";
    DecoderPanicked = "DECODER_PANICKED", Input, Indeterminate, "The QR decoder failed internally on this image (contained); scan again.";
    MultipleCodes = "MULTIPLE_CODES", Input, Indeterminate, "The image holds more than one permit code; check which belongs to the holder.";
    OtherCodesPresent = "OTHER_CODES_PRESENT", Input, Warning, "The image also holds QR codes that are not permits.";
    InputNormalised = "INPUT_NORMALISED", Input, Warning, "Scanner artefacts were removed from the text before decoding.";
    InputTooLarge = "INPUT_TOO_LARGE", Input, Error, "The text or credential exceeds its size limit.";
    NotAPermit = "NOT_A_PERMIT", Format, Error, "The code is not a residence-permit code.";
    UnsupportedFormat = "UNSUPPORTED_FORMAT", Format, Error, "The code is a credential of another system.";
    UnsupportedVersion = "UNSUPPORTED_VERSION", Format, Error, "The permit format version is not supported by this verifier.";
    Malformed = "MALFORMED", Format, Error, "The code is damaged or not in the one canonical encoding.";
    KeyUnknown = "KEY_UNKNOWN", Trust, Error, "No trusted key has the credential's key id.";
    KeyNotAuthorised = "KEY_NOT_AUTHORISED", Trust, Error, "The signing key is not allowed to sign permits.";
    KeyNotValidAtIssuance = "KEY_NOT_VALID_AT_ISSUANCE", Trust, Error, "The credential was issued outside its key's signing window.";
    KeyCompromised = "KEY_COMPROMISED", Trust, Error, "The credential was signed after its key was reported compromised.";
    KeyExpired = "KEY_EXPIRED", Trust, Error, "The key's verification period is over.";
    TrustListExpired = "TRUST_LIST_EXPIRED", Trust, Indeterminate, "The trust list is past its expiry; get a current one.";
    TrustListRollback = "TRUST_LIST_ROLLBACK", Trust, Indeterminate, "The trust list is older than one already seen.";
    TrustListConflict = "TRUST_LIST_CONFLICT", Trust, Indeterminate, "ALARM: a different trust list with the same sequence as one already seen (the root signed two lists as one publication).";
    SignatureInvalid = "SIGNATURE_INVALID", Crypto, Error, "The signature does not verify: the code was altered or forged.";
    NotYetValid = "NOT_YET_VALID", Time, Error, "The credential is not valid yet.";
    Expired = "EXPIRED", Time, Error, "The permit's validity has ended.";
    IssuedInFuture = "ISSUED_IN_FUTURE", Time, Error, "The credential claims to be issued after the verification time.";
    ClockBehind = "CLOCK_BEHIND", Time, Indeterminate, "The device clock is earlier than a time this verifier has already trusted.";
    Suspended = "SUSPENDED", Status, Error, "The permit is suspended (使用功能中止).";
    EndorsementOverdue = "ENDORSEMENT_OVERDUE", Status, Error, "The yearly endorsement (签注) is overdue.";
    Revoked = "REVOKED", Status, Error, "The permit was cancelled (注销).";
    Superseded = "SUPERSEDED", Status, Error, "A newer credential replaced this one; ask the holder to refresh the code.";
    StatusUnknown = "STATUS_UNKNOWN", Status, Warning, "No status list was consulted: cancellations are not checked.";
    StatusStale = "STATUS_STALE", Status, Indeterminate, "The status list is past its next update (plus grace); cancellations may be missing.";
    StatusRollback = "STATUS_ROLLBACK", Status, Indeterminate, "The status list is older than one already seen.";
    StatusListInvalid = "STATUS_LIST_INVALID", Status, Indeterminate, "The status list could not be verified or read.";
    StatusListMismatch = "STATUS_LIST_MISMATCH", Status, Indeterminate, "The status list given is not the one this credential names (another list or another issuer); it was not consulted.";
    StatusListConflict = "STATUS_LIST_CONFLICT", Status, Indeterminate, "ALARM: a different status list with the same sequence as one already seen; it was not used.";
    StatusIndexOutOfRange = "STATUS_INDEX_OUT_OF_RANGE", Status, Indeterminate, "The status list has no entry for this credential.";
    TestCredential = "TEST_CREDENTIAL", Policy, Warning, "Signed with a TEST-ONLY key or marked as test data: not a real permit.";
}

/// The JSON object both command-line tools print on stdout (with `--json`) for an error that
/// stops a command, as opposed to a verdict on one input:
/// `{"error": {"code", "message", "hint"}, "exit_code"}`. Callers may add fields under `error`.
pub fn command_error_json(
    code: &str,
    message: &str,
    hint: Option<&str>,
    exit_code: u8,
) -> serde_json::Value {
    serde_json::json!({
        "error": { "code": code, "message": message, "hint": hint },
        "exit_code": exit_code,
    })
}

/// [`command_error_json`] with code `USAGE` for a command line the parser refused, from the
/// parser's rendered message (its first line, without the `error: ` prefix).
pub fn usage_error_json(rendered: &str, hint: &str, exit_code: u8) -> serde_json::Value {
    let first = rendered.lines().next().unwrap_or_default();
    command_error_json(
        "USAGE",
        first.trim_start_matches("error: "),
        Some(hint),
        exit_code,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn usage_error_json_keeps_the_first_line_without_its_prefix() {
        let v = super::usage_error_json(
            "error: unexpected argument '--x' found\n\nUsage: verifier verify <INPUT>...\n",
            "see --help",
            2,
        );
        assert_eq!(v["error"]["code"], "USAGE");
        assert_eq!(v["error"]["message"], "unexpected argument '--x' found");
        assert_eq!(v["error"]["hint"], "see --help");
        assert_eq!(v["exit_code"], 2);
    }

    use super::*;

    #[test]
    fn strings_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_')
            );
        }
    }
}
