//! The issuer's stable error codes, one table: what stops a command (exit 2), what refuses a
//! request by the permit's rules (exit 1), and what rejects one row of a batch job (a line of
//! `errors.jsonl`; the job exits 1). The field codes of a refused applicant record
//! (`ID_CHECKSUM`, `UNKNOWN_FIELD`, …) are the applicant validator's own, in
//! `permit_shared::applicant`.
//!
//! Codes are part of the public interface (stderr, `--json` error objects, `errors.jsonl`,
//! audits): they are never renamed or reused. The README's table of them is generated from
//! this one and checked by a test.
//!
//! ```
//! use permit_issuer::error_code::{ErrorCode, Kind};
//! assert_eq!(ErrorCode::OutputExists.as_str(), "OUTPUT_EXISTS");
//! assert_eq!(ErrorCode::OutputExists.exit_code(), 2);
//! assert_eq!(ErrorCode::parse("DUPLICATE_PERMIT").map(ErrorCode::kind), Some(Kind::Refused));
//! ```

use serde::{Serialize, Serializer};

/// What an error code stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The command could not run (usage, files, keys, ledger); exit 2.
    Stop,
    /// The request is refused by the permit's rules; exit 1.
    Refused,
    /// One batch row is rejected (a line of `errors.jsonl`); the job goes on and exits 1.
    Row,
}

macro_rules! codes {
    ($($variant:ident = $s:literal, $kind:ident, $doc:literal;)*) => {
        /// A stable issuer error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }
        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];
            /// The stable string, e.g. `OUTPUT_EXISTS`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $s,)* }
            }
            /// What it stops.
            pub fn kind(self) -> Kind {
                match self { $(ErrorCode::$variant => Kind::$kind,)* }
            }
            /// A one-line description.
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }
            /// Looks a code up by its string.
            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s { $($s => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    Usage = "USAGE", Stop, "A flag, argument or option value the command cannot use.";
    IoError = "IO_ERROR", Stop, "A named file or stream could not be opened, read or written.";
    FileTooLarge = "FILE_TOO_LARGE", Stop, "An input file is over its size cap.";
    OutputExists = "OUTPUT_EXISTS", Stop, "The output file exists and `--force` was not given.";
    ConfigInvalid = "CONFIG_INVALID", Stop, "The `--config` settings file is not valid.";
    TrustListRefused = "TRUST_LIST_REFUSED", Stop, "The trust list does not verify against the root key.";
    KeyFileIo = "KEY_FILE_IO", Stop, "A key file could not be read or written.";
    KeyFileTooOpen = "KEY_FILE_TOO_OPEN", Stop, "A private key file is readable by group or others.";
    KeyFileNotOwned = "KEY_FILE_NOT_OWNED", Stop, "A private key file is owned by another account (neither the one running the issuer nor root).";
    KeyFileExists = "KEY_FILE_EXISTS", Stop, "A key file exists already (key files are never overwritten).";
    KeyFileTooLarge = "KEY_FILE_TOO_LARGE", Stop, "A key file is larger than any key file can be.";
    KeyInvalid = "KEY_INVALID", Stop, "A key file does not hold a usable Ed25519 key.";
    NoRandomness = "NO_RANDOMNESS", Stop, "The operating system gave no secure randomness.";
    LedgerError = "LEDGER_ERROR", Stop, "The ledger could not be opened, read or written.";
    LedgerConflict = "LEDGER_CONFLICT", Stop, "The ledger refused a write by a uniqueness rule.";
    LedgerDamaged = "LEDGER_DAMAGED", Stop, "The ledger holds a row it cannot read or that does not match its digest; nothing was signed from it (`issuer ledger verify` lists every such row).";
    TrustSequenceUsed = "TRUST_SEQUENCE_USED", Stop, "`issuer trust build`: the sequence was used before for a list with other content.";
    TrustSequenceBehind = "TRUST_SEQUENCE_BEHIND", Stop, "`issuer trust build`: the sequence is below the highest the ledger recorded (verifiers would take the list for a rollback).";
    NotFound = "NOT_FOUND", Stop, "No such permit serial or application number.";
    InputFormat = "INPUT_FORMAT", Stop, "`issuer batch`: the input is not in its format.";
    JobMismatch = "JOB_MISMATCH", Stop, "`issuer batch`: the output directory holds a job over another input.";
    OutputLocked = "OUTPUT_LOCKED", Stop, "`issuer batch`: another live job holds the output directory.";
    RenderFailed = "RENDER_FAILED", Stop, "A code could not be rendered.";
    SelfCheckFailed = "SELF_CHECK_FAILED", Stop, "A rendered code did not decode to its credential, or the credential did not verify; nothing was written.";
    ResidenceTooShort = "RESIDENCE_TOO_SHORT", Refused, "Ineligible: residence registered for less than the required days (183).";
    NoBasis = "NO_BASIS", Refused, "Ineligible: no basis (employment, housing or study).";
    InvalidApplicant = "INVALID_APPLICANT", Refused, "The applicant record is refused; `problems` lists each field with its own code.";
    IllegalTransition = "ILLEGAL_TRANSITION", Refused, "The step is not allowed in the permit's or application's current state.";
    EndorsementWindow = "ENDORSEMENT_WINDOW", Refused, "Endorsement is possible only from a month before the anniversary.";
    NoEndorsementDue = "NO_ENDORSEMENT_DUE", Refused, "No further endorsement is due before the permit's validity ends.";
    InvalidChange = "INVALID_CHANGE", Refused, "A registration change has an invalid value.";
    NoChange = "NO_CHANGE", Refused, "A registration change would change nothing.";
    InvalidReason = "INVALID_REASON", Refused, "The `--reason` text is empty, too long or holds control characters.";
    ReferenceConflict = "REFERENCE_CONFLICT", Refused, "The same `ref` was recorded before with other content.";
    ServiceNotOffered = "SERVICE_NOT_OFFERED", Refused, "The city does not offer this service online; use a police station counter.";
    DuplicatePermit = "DUPLICATE_PERMIT", Refused, "The ID number already has an active permit.";
    SameCityHukou = "SAME_CITY_HUKOU", Refused, "The household registration is in the residence city.";
    TestDataNeedsTestKey = "TEST_DATA_NEEDS_TEST_KEY", Refused, "Test data may be signed only with a TEST-ONLY key.";
    TestKeyRealData = "TEST_KEY_REAL_DATA", Refused, "A TEST-ONLY key may sign only test data.";
    ClaimsInvalid = "CLAIMS_INVALID", Refused, "The permit's fields cannot be encoded in a credential.";
    NotIssued = "NOT_ISSUED", Refused, "An approval issued nothing.";
    SerialsExhausted = "SERIALS_EXHAUSTED", Refused, "No unused permit serial could be drawn.";
    StatusListFull = "STATUS_LIST_FULL", Refused, "No free status-list index is left (`status_list.capacity`).";
    StatusListTooSmall = "STATUS_LIST_TOO_SMALL", Refused, "Credentials have status indices beyond `status_list.capacity`.";
    BadJson = "BAD_JSON", Row, "The row is not a JSON object.";
    BadCsv = "BAD_CSV", Row, "The row is not a CSV record of the header's columns.";
    BadEncoding = "BAD_ENCODING", Row, "The row is not UTF-8.";
    RecordTooLarge = "RECORD_TOO_LARGE", Row, "The row is longer than any applicant record can be.";
    DuplicateRow = "DUPLICATE_ROW", Row, "The same row (same `ref`, or same content) appears earlier in the input.";
    ApplicationRejected = "APPLICATION_REJECTED", Row, "The row's `ref` names an application that was rejected at review.";
}

impl ErrorCode {
    /// The exit code of a command stopped by this code: 2 for [`Kind::Stop`], 1 otherwise.
    pub fn exit_code(self) -> u8 {
        match self.kind() {
            Kind::Stop => 2,
            Kind::Refused | Kind::Row => 1,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_unique_upper_snake_case_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_')
            );
        }
    }
}
