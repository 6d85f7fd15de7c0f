//! The ledger: the system of record. Every application, review decision, issuance, endorsement,
//! change, card and cancellation is a row with its time and actor; the `events` history is
//! append-only, and a permit row is never updated without an event in the same transaction.
//!
//! Domain logic talks to the [`Tx`] trait only, so that the PostgreSQL store shared by several
//! issuing offices ([`postgres::PgLedger`]) and the embedded SQLite one
//! ([`sqlite::SqliteLedger`]) are interchangeable; [`open::AnyLedger`] opens the one a
//! `--ledger` value names. No backend-specific behaviour is relied on outside the two backends
//! (identifiers are drawn at random and checked for uniqueness; times are Unix seconds; dates
//! ISO 8601 text; both run one writing transaction at a time).

pub mod audit;
pub mod digest;
pub mod open;
pub mod postgres;
pub mod sqlite;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database reported an error.
    #[error("ledger {path}: {detail}")]
    Db {
        /// Database location.
        path: String,
        /// The error.
        detail: String,
    },
    /// A uniqueness rule was violated (e.g. a second active permit for one person).
    #[error("ledger constraint: {0}")]
    Conflict(String),
    /// A stored row could not be read back.
    #[error("ledger row damaged: {0}")]
    Damaged(String),
}

/// State of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    /// Waiting for police review.
    Submitted,
    /// Refused at the qualification check.
    Ineligible,
    /// Approved; a permit was issued.
    Approved,
    /// Refused at review.
    Rejected,
}

impl AppState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Submitted => "submitted",
            AppState::Ineligible => "ineligible",
            AppState::Approved => "approved",
            AppState::Rejected => "rejected",
        }
    }
    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<AppState> {
        Some(match s {
            "submitted" => AppState::Submitted,
            "ineligible" => AppState::Ineligible,
            "approved" => AppState::Approved,
            "rejected" => AppState::Rejected,
            _ => return None,
        })
    }
}

/// An application row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRecord {
    /// Public application number, e.g. `A48291307741`.
    pub id: String,
    /// The caller's reference (idempotency key), if any.
    pub reference: Option<String>,
    /// SHA-256 (hex) of the canonical applicant JSON.
    pub content_hash: String,
    /// ID number.
    pub id_number: String,
    /// Canonical applicant JSON.
    pub applicant_json: String,
    /// Eligibility JSON.
    pub eligibility_json: String,
    /// State.
    pub state: AppState,
    /// The permit issued on approval.
    pub permit_serial: Option<u64>,
    /// Unix seconds.
    pub submitted_at: i64,
    /// Who submitted it.
    pub actor: String,
}

/// Permit state. Suspension is not a stored state: it follows from the endorsement date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermitState {
    /// In force.
    Active,
    /// Cancelled (注销): terminal.
    Cancelled,
}

impl PermitState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PermitState::Active => "active",
            PermitState::Cancelled => "cancelled",
        }
    }
}

/// The holder details a permit carries (JSON in the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitDetails {
    /// 姓名.
    pub name: String,
    /// ID number.
    pub id_number: String,
    /// GB 3304 code.
    pub ethnicity: Option<u8>,
    /// 户籍所在地.
    pub hukou_division: Option<u32>,
    /// 常住户口所在地住址.
    pub hukou_address: Option<String>,
    /// Residence district.
    pub residence_district: u32,
    /// Full residence address.
    pub residence_address: String,
    /// Photo reference (hex of 16 bytes), if recorded.
    pub photo: Option<String>,
    /// Test data.
    pub test: bool,
    /// The holder's device key (JWK `x`) the credentials are bound to, if any; written only
    /// when present, so the rows and digests of unbound permits are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_key: Option<String>,
}

/// A permit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitRecord {
    /// Serial number (12 digits, random, never reused).
    pub serial: u64,
    /// The application it came from.
    pub application_id: String,
    /// State.
    pub state: PermitState,
    /// Holder details of the current version.
    pub details: PermitDetails,
    /// 签发日期.
    pub issued_on: NaiveDate,
    /// Last valid day.
    pub valid_until: NaiveDate,
    /// Last day usable without a new endorsement.
    pub endorsed_until: NaiveDate,
    /// Start of the counted residence years.
    pub residence_counted_since: NaiveDate,
    /// Issuing authority division code.
    pub authority: u32,
    /// Current credential version.
    pub current_version: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A credential row: one signed version of a permit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// Permit serial.
    pub serial: u64,
    /// Version.
    pub version: u32,
    /// Status-list index (random, unique).
    pub status_index: u64,
    /// Signing key id.
    pub key_id: String,
    /// `iat`.
    pub issued_at: i64,
    /// `exp`.
    pub expires_at: i64,
    /// Why it was issued: `issued`, `endorsed`, `changed`.
    pub cause: String,
    /// The QR text.
    pub text: String,
}

/// A history event; its details are JSON (`D` is the stored text when read for the audit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event<D = serde_json::Value> {
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What, e.g. `permit.endorsed`.
    pub kind: String,
    /// Application concerned.
    pub application_id: Option<String>,
    /// Permit concerned.
    pub serial: Option<u64>,
    /// Credential version concerned.
    pub version: Option<u32>,
    /// Details (JSON).
    pub detail: D,
}

impl Event<String> {
    /// The event with its stored details parsed (`null` when they do not parse; the audit
    /// reports such an event through its chain link).
    pub fn parsed(self) -> Event {
        Event {
            detail: serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null),
            at: self.at,
            actor: self.actor,
            kind: self.kind,
            application_id: self.application_id,
            serial: self.serial,
            version: self.version,
        }
    }
}

/// A physical card row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardRecord {
    /// Permit serial.
    pub serial: u64,
    /// 1 for the first card, then 2, 3, …
    pub number: u32,
    /// `first`, `replacement` or `exchange`.
    pub kind: String,
    /// Fee charged, yuan.
    pub fee_yuan: u32,
    /// Unix seconds.
    pub issued_at: i64,
    /// Who.
    pub actor: String,
}

/// A status-list publication row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    /// Sequence number.
    pub sequence: u64,
    /// Unix seconds.
    pub published_at: i64,
    /// Unix seconds.
    pub next_update: i64,
    /// Credentials listed.
    pub credentials: u64,
    /// Size of the signed list, bytes.
    pub bytes: u64,
    /// SHA-256 (hex) of the signed list.
    pub sha256: String,
    /// Who.
    pub actor: String,
}

/// A trust list signed by this office's root key: one row per sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustPublication {
    /// Sequence number.
    pub sequence: u64,
    /// SHA-256 (hex) of what the list says, apart from its signing time (see
    /// `cmd::keys` in the binary: sequence, validity in days, publisher, test flag, keys).
    pub content_sha256: String,
    /// SHA-256 (hex) of the signed document.
    pub document_sha256: String,
    /// The signed document (JWS JSON).
    #[serde(skip)]
    pub document: String,
    /// Unix seconds.
    pub published_at: i64,
    /// Who.
    pub actor: String,
}

/// A credential row with the permit row it belongs to, for the audit.
#[derive(Debug)]
pub struct CredentialScan {
    /// Permit serial (as stored).
    pub serial: u64,
    /// Version (as stored).
    pub version: u32,
    /// The credential, checked against its digest.
    pub credential: Result<CredentialRecord, LedgerError>,
    /// Its permit, checked against its digest; `None` when there is no such permit.
    pub permit: Option<Result<PermitRecord, LedgerError>>,
}

/// One credential's facts for the status list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialStatusRow {
    /// Status index.
    pub status_index: u64,
    /// Version of this credential.
    pub version: u32,
    /// The permit's current version.
    pub current_version: u32,
    /// The permit's state.
    pub state: PermitState,
    /// The permit's endorsed-until date.
    pub endorsed_until: NaiveDate,
}

/// State of a batch intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentState {
    /// Serial and status index reserved, the plan recorded; nothing signed is committed yet.
    Pending,
    /// The permit and its credential are committed.
    Done,
}

impl IntentState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::Pending => "pending",
            IntentState::Done => "done",
        }
    }
}

/// A batch job's intent to issue one input row, recorded before signing (write-ahead): it
/// reserves the serial and status index and holds the plan needed to sign the same credential
/// again after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRecord {
    /// The row's idempotency key: its `ref`, or `sha256:` and the content hash.
    pub row_key: String,
    /// The batch job that recorded it.
    pub job: String,
    /// The input line (1-based) of the row in that job.
    pub line: u64,
    /// The application.
    pub application_id: String,
    /// Reserved permit serial.
    pub serial: u64,
    /// Reserved status-list index.
    pub status_index: u64,
    /// The holder's ID number (one person, one permit, also among reservations).
    pub id_number: String,
    /// Credential version the plan signs.
    pub version: u32,
    /// The plan (JSON of `lifecycle::IssuePlan`).
    pub plan_json: String,
    /// State.
    pub state: IntentState,
    /// Unix seconds.
    pub created_at: i64,
}

/// Operations inside one transaction. Dropping without commit rolls back.
pub trait Tx {
    /// Inserts an application (unique id and reference).
    fn insert_application(&mut self, r: &ApplicationRecord) -> Result<(), LedgerError>;
    /// Reads an application by number.
    fn application(&mut self, id: &str) -> Result<Option<ApplicationRecord>, LedgerError>;
    /// Reads an application by the caller's reference.
    fn application_by_ref(
        &mut self,
        reference: &str,
    ) -> Result<Option<ApplicationRecord>, LedgerError>;
    /// Changes an application's state, with the event recording it.
    fn set_application_state(
        &mut self,
        id: &str,
        state: AppState,
        permit_serial: Option<u64>,
        event: &Event,
    ) -> Result<(), LedgerError>;
    /// The active permit of an ID number, if any.
    fn active_permit_for(&mut self, id_number: &str) -> Result<Option<PermitRecord>, LedgerError>;
    /// Reads a permit.
    fn permit(&mut self, serial: u64) -> Result<Option<PermitRecord>, LedgerError>;
    /// Whether a serial number was ever used or is reserved by a batch intent.
    fn serial_used(&mut self, serial: u64) -> Result<bool, LedgerError>;
    /// Whether a status index was ever used or is reserved by a batch intent.
    fn status_index_used(&mut self, index: u64) -> Result<bool, LedgerError>;
    /// Inserts a permit with the event recording it.
    fn insert_permit(&mut self, r: &PermitRecord, event: &Event) -> Result<(), LedgerError>;
    /// Updates a permit; the event recording the change is required.
    fn update_permit(&mut self, r: &PermitRecord, event: &Event) -> Result<(), LedgerError>;
    /// Inserts a credential.
    fn insert_credential(&mut self, r: &CredentialRecord) -> Result<(), LedgerError>;
    /// Reads a credential.
    fn credential(
        &mut self,
        serial: u64,
        version: u32,
    ) -> Result<Option<CredentialRecord>, LedgerError>;
    /// Appends an event.
    fn append_event(&mut self, e: &Event) -> Result<(), LedgerError>;
    /// The history of a permit (and its application), oldest first.
    fn events_for(&mut self, serial: u64, application_id: &str) -> Result<Vec<Event>, LedgerError>;
    /// Inserts a card with its event.
    fn insert_card(&mut self, r: &CardRecord, event: &Event) -> Result<(), LedgerError>;
    /// Cards of a permit.
    fn cards(&mut self, serial: u64) -> Result<Vec<CardRecord>, LedgerError>;
    /// Highest status-list sequence published.
    fn last_publication(&mut self) -> Result<Option<Publication>, LedgerError>;
    /// Records a publication.
    fn insert_publication(&mut self, p: &Publication, event: &Event) -> Result<(), LedgerError>;
    /// Calls `f` for every credential, streaming.
    fn each_credential_status(
        &mut self,
        f: &mut dyn FnMut(CredentialStatusRow),
    ) -> Result<(), LedgerError>;
    /// The serial reserved for an ID number by a pending batch intent, if any.
    fn reserved_serial_for(&mut self, id_number: &str) -> Result<Option<u64>, LedgerError>;
    /// Records a batch intent (unique row key, serial and status index).
    fn insert_intent(&mut self, r: &IntentRecord) -> Result<(), LedgerError>;
    /// Reads a batch intent by row key.
    fn intent(&mut self, row_key: &str) -> Result<Option<IntentRecord>, LedgerError>;
    /// Marks a pending intent done; false when it was not pending.
    fn finish_intent(&mut self, row_key: &str) -> Result<bool, LedgerError>;
    /// Serials of all pending batch intents (normally the few chunks in flight when a job died).
    fn pending_intent_serials(&mut self) -> Result<Vec<u64>, LedgerError>;
    /// Records that batch job `job` saw row key `row_key` at input line `line`, unless it saw
    /// it before; returns the line it was first seen at.
    fn claim_row(&mut self, job: &str, row_key: &str, line: u64) -> Result<u64, LedgerError>;
    /// The trust list recorded with a sequence number, if any.
    fn trust_publication(&mut self, sequence: u64)
    -> Result<Option<TrustPublication>, LedgerError>;
    /// The highest trust-list sequence recorded.
    fn last_trust_sequence(&mut self) -> Result<Option<u64>, LedgerError>;
    /// Records a trust list with its event (unique sequence).
    fn insert_trust_publication(
        &mut self,
        p: &TrustPublication,
        event: &Event,
    ) -> Result<(), LedgerError>;
    /// Audit: every application (by id), checked against its content hash.
    fn scan_applications(
        &mut self,
        f: &mut dyn FnMut(&str, Result<ApplicationRecord, LedgerError>),
    ) -> Result<(), LedgerError>;
    /// Audit: every permit (by serial), checked against its digest.
    fn scan_permits(
        &mut self,
        f: &mut dyn FnMut(u64, Result<PermitRecord, LedgerError>),
    ) -> Result<(), LedgerError>;
    /// Audit: every credential with its permit.
    fn scan_credentials(&mut self, f: &mut dyn FnMut(CredentialScan)) -> Result<(), LedgerError>;
    /// Audit: every event as stored, in history order.
    fn scan_events(&mut self, f: &mut dyn FnMut(digest::EventRow)) -> Result<(), LedgerError>;
    /// Forgets every row key batch job `job` saw (a run reads its whole input again, so
    /// duplicates are found within one run); returns how many were forgotten.
    fn forget_row_claims(&mut self, job: &str) -> Result<u64, LedgerError>;
}

/// A ledger that runs closures in transactions.
pub trait Ledger {
    /// Runs `f` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    fn transaction<T, E: From<LedgerError>>(
        &mut self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E>;
}
