//! Verification of one permit text against a trust list, an optional status list and a clock.
//!
//! Stages, each with its reason codes: prefix/transport/envelope (`NOT_A_PERMIT`,
//! `UNSUPPORTED_FORMAT`, `UNSUPPORTED_VERSION`, `MALFORMED`, `INPUT_TOO_LARGE`) → key lookup
//! (`KEY_UNKNOWN`) → signature (`SIGNATURE_INVALID`) → claims (`MALFORMED`) → trust
//! (`KEY_NOT_AUTHORISED`, `KEY_NOT_VALID_AT_ISSUANCE`, `KEY_COMPROMISED`, `KEY_EXPIRED`,
//! `TRUST_LIST_EXPIRED`) → time (`NOT_YET_VALID`, `ISSUED_IN_FUTURE`, `EXPIRED`,
//! `CLOCK_BEHIND`) → endorsement (`SUSPENDED` + `ENDORSEMENT_OVERDUE`) → status list
//! (`REVOKED`, `SUSPENDED`, `SUPERSEDED`, `STATUS_STALE`, `STATUS_UNKNOWN`, …) → policy
//! (`TEST_CREDENTIAL`). The permit is readable only as an [`AuthenticPermit`], which exists only
//! after the signature verified and the claims parsed (whatever the verdict).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use permit_shared::credential::{self, Claims, Core, CredentialClaims, DecodeError, Envelope};
use permit_shared::keys::KeyId;
use permit_shared::reason::{Code, Severity};
use permit_shared::role::{Field, Role};
use permit_shared::status::{Status, StatusListToken};
use permit_shared::text::display_safe;
use permit_shared::trust::{KeyUseError, TrustList, TrustedKey, Usage};
use permit_shared::{applicant, civil, division};

use crate::normalise;
use crate::replay::ReplayCache;

mod holder;
mod status;
use status::{check_status, hex, status_list_mismatch};

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Genuine, current, not cancelled (warnings may apply).
    Valid,
    /// Not acceptable.
    Invalid,
    /// Could not be decided: check manually.
    Indeterminate,
}

impl Verdict {
    /// The verdict as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "VALID",
            Verdict::Invalid => "INVALID",
            Verdict::Indeterminate => "INDETERMINATE",
        }
    }

    /// The verdict implied by a set of reasons.
    pub fn from_reasons(reasons: &[Reason]) -> Verdict {
        match reasons.iter().map(|r| r.code.severity()).max() {
            Some(Severity::Error) => Verdict::Invalid,
            Some(Severity::Indeterminate) => Verdict::Indeterminate,
            _ => Verdict::Valid,
        }
    }
}

/// One reason, with a message specific to this credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Stable code.
    pub code: Code,
    /// What exactly was found.
    pub message: String,
}

impl Reason {
    /// A reason with a message.
    pub fn new(code: Code, message: impl Into<String>) -> Reason {
        Reason {
            code,
            message: message.into(),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Reason", 4)?;
        st.serialize_field("code", self.code.as_str())?;
        st.serialize_field("severity", &self.code.severity())?;
        st.serialize_field("stage", &self.code.stage())?;
        st.serialize_field("message", &self.message)?;
        st.end()
    }
}

/// Where the verification time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockSource {
    /// The device clock (subject to the clock floor).
    System,
    /// Given explicitly (`--at`): an audit of another moment; the clock floor does not apply.
    Given,
}

/// Tolerances.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Allowed clock difference between issuer and verifier.
    pub clock_skew: Duration,
    /// How long after its next-update time a status list is still used.
    pub status_grace: Duration,
    /// How long after the holder's app drew it a live presentation is accepted.
    pub presentation_window: Duration,
    /// Allowed clock difference between the holder's phone and this verifier, on either side
    /// of the presentation window.
    pub presentation_skew: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            clock_skew: Duration::minutes(5),
            status_grace: Duration::hours(24),
            presentation_window: Duration::seconds(60),
            presentation_skew: Duration::seconds(30),
        }
    }
}

/// A status list whose signature verified under a key the trust list allows to sign status lists.
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    /// The list.
    pub token: StatusListToken,
    /// The key that signed it.
    pub key_id: KeyId,
    /// The holder of that key, as the trust list names it.
    pub issuer: String,
}

/// Why a status list could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    /// Not a well-formed status list token.
    #[error("status list: {0}")]
    Decode(#[from] DecodeError),
    /// Signed by no trusted key.
    #[error("status list signed by unknown key {0}")]
    KeyUnknown(KeyId),
    /// The signature did not verify.
    #[error("status list signature does not verify")]
    Signature,
    /// The key may not sign status lists, or signed outside its window or after compromise.
    #[error("status list key {0} is not allowed to sign it: {1}")]
    KeyNotAllowed(KeyId, &'static str),
}

/// Verifies a signed status list against the trust list.
pub fn verify_status_list(
    bytes: &[u8],
    trust: &TrustList,
) -> Result<VerifiedStatusList, StatusListError> {
    let env = StatusListToken::envelope(bytes)?;
    let kid = env.key_id();
    let mut any = false;
    for k in trust.keys_with_id(kid) {
        any = true;
        if let Ok(v) = env.verify(&k.key) {
            let token = StatusListToken::from_verified(&v)?;
            let iat = DateTime::<Utc>::from_timestamp(token.issued_at, 0).unwrap_or_default();
            if let Err(e) = k.check_use(Usage::StatusList, iat) {
                return Err(StatusListError::KeyNotAllowed(
                    kid,
                    match e {
                        KeyUseError::NotAllowed { .. } => "not authorised for status lists",
                        KeyUseError::OutsideSigningWindow { .. } => {
                            "signed outside the key's signing window"
                        }
                        KeyUseError::Compromised { .. } => "the key was reported compromised",
                    },
                ));
            }
            return Ok(VerifiedStatusList {
                token,
                key_id: kid,
                issuer: k.issuer.clone(),
            });
        }
    }
    if any {
        Err(StatusListError::Signature)
    } else {
        Err(StatusListError::KeyUnknown(kid))
    }
}

/// Everything a verification depends on besides the text.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The verified trust list.
    pub trust: &'a TrustList,
    /// The status list, if one was given and could be used.
    pub status: Option<&'a VerifiedStatusList>,
    /// The verification time.
    pub at: DateTime<Utc>,
    /// Where `at` came from.
    pub clock_source: ClockSource,
    /// The newest time this verifier has already trusted (from its state), if known.
    pub clock_floor: Option<DateTime<Utc>>,
    /// Tolerances.
    pub policy: Policy,
    /// Reasons about the environment that apply to every credential (a refused status list, a
    /// trust-list rollback), found by the caller.
    pub notes: Vec<Reason>,
    /// The verifier's role: which views it accepts and which fields it may display.
    pub role: Role,
    /// Live presentations already seen, if replays are to be detected.
    pub replay: Option<&'a ReplayCache>,
}

impl<'a> Context<'a> {
    /// A context for verifying at `at` against `trust`, with the defaults: no status list (every
    /// permit gets `STATUS_UNKNOWN`), `at` given by the caller ([`ClockSource::Given`], so no
    /// clock floor applies), no clock floor, [`Policy::default`], no notes, the police role
    /// (every field), no replay detection. The setters below change the optional parts.
    pub fn new(trust: &'a TrustList, at: DateTime<Utc>) -> Self {
        Self {
            trust,
            status: None,
            at,
            clock_source: ClockSource::Given,
            clock_floor: None,
            policy: Policy::default(),
            notes: Vec::new(),
            role: Role::police(),
            replay: None,
        }
    }

    /// The verifier's role.
    #[must_use]
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// The presentations already seen (replay detection).
    #[must_use]
    pub fn with_replay(mut self, replay: Option<&'a ReplayCache>) -> Self {
        self.replay = replay;
        self
    }

    /// The status list to consult, if any.
    #[must_use]
    pub fn with_status(mut self, status: Option<&'a VerifiedStatusList>) -> Self {
        self.status = status;
        self
    }

    /// Where `at` came from (the device clock is checked against the clock floor).
    #[must_use]
    pub fn with_clock_source(mut self, clock_source: ClockSource) -> Self {
        self.clock_source = clock_source;
        self
    }

    /// The newest time this verifier has already trusted, if known.
    #[must_use]
    pub fn with_clock_floor(mut self, clock_floor: Option<DateTime<Utc>>) -> Self {
        self.clock_floor = clock_floor;
        self
    }

    /// Tolerances.
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Reasons about the environment that apply to every credential.
    #[must_use]
    pub fn with_notes(mut self, notes: Vec<Reason>) -> Self {
        self.notes = notes;
        self
    }
}

/// A permit that is authentic, not necessarily valid: its signature verified under a key of the
/// trust list and its claims are well formed, but it may be revoked, suspended, superseded,
/// expired, not yet valid, signed by a key not allowed to sign it, or a bound credential
/// without a valid live presentation. Whether it is valid is the [`Outcome`]'s verdict, never
/// the existence of this value. Only [`verify_text`] makes one; the fields are private and read
/// through methods. What a verifier displays comes from [`AuthenticPermit::view`], which holds
/// only the fields of the role it was verified for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticPermit {
    claims: CredentialClaims,
    key_id: KeyId,
    role: Role,
    presented_at: Option<i64>,
}

impl AuthenticPermit {
    /// The full credential's claims (every field, whatever the role: display
    /// [`AuthenticPermit::view`] instead); `None` for a basic view.
    pub fn claims(&self) -> Option<&Claims> {
        match &self.claims {
            CredentialClaims::Full(c) => Some(c),
            CredentialClaims::Basic(_) => None,
        }
    }
    /// The credential's claims, whichever view it is.
    pub fn credential(&self) -> &CredentialClaims {
        &self.claims
    }
    /// Key that verified it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }
    /// The role it was verified for.
    pub fn role(&self) -> Role {
        self.role
    }
    /// When the holder's app drew the live presentation (Unix seconds), if it came in one whose
    /// holder signature verified.
    pub fn presented_at(&self) -> Option<i64> {
        self.presented_at
    }
    /// Serial number as 12 digits (a basic view carries none).
    pub fn serial(&self) -> Option<String> {
        self.claims.core().serial.map(|s| format!("{s:012}"))
    }
    /// Last valid day.
    pub fn valid_until(&self) -> NaiveDate {
        self.claims.core().valid_until()
    }
    /// The view for display and JSON: only the fields the role may see (and the credential
    /// carries); the full ID number only with `reveal_id` and a role that may see it.
    pub fn view(&self, reveal_id: bool) -> PermitView {
        let role = self.role;
        let show = |f: Field| role.may_show(f);
        let core = self.claims.core();
        let mut v = PermitView {
            view: self.claims.kind().as_str(),
            role: role.name,
            holder_bound: self.claims.holder().is_some(),
            presented_at: self.presented_at.map(rfc3339),
            serial: self.serial().filter(|_| show(Field::Serial)),
            version: core.version.filter(|_| show(Field::Serial)),
            issued_on: core
                .issued_on
                .filter(|_| show(Field::Dates))
                .map(|d| d.to_string()),
            valid_until: show(Field::Dates).then(|| core.valid_until().to_string()),
            endorsed_until: show(Field::Dates).then(|| core.endorsed_until.to_string()),
            credential_issued_at: rfc3339(core.issued_at),
            status_index: show(Field::Records).then_some(core.status_index),
            status_list: core
                .status_list
                .filter(|_| show(Field::Records))
                .map(|b| hex(&b)),
            test: core.test,
            ..PermitView::default()
        };
        let city = |code: u32| {
            (
                show(Field::ResidenceCity).then(|| code.to_string()),
                division::city(code)
                    .filter(|_| show(Field::ResidenceCity))
                    .map(|c| format!("{} {}", c.name, c.name_en)),
            )
        };
        match &self.claims {
            CredentialClaims::Basic(b) => {
                let b = &b.view;
                v.name_masked = show(Field::NameMasked).then(|| b.name_masked.clone());
                v.id_last4 = show(Field::IdLast4).then(|| b.id_last4.clone());
                (v.residence_city, v.residence_city_name) = city(b.residence_city);
            }
            CredentialClaims::Full(c) => {
                let p = &c.permit;
                let id = &p.id_number;
                v.name = show(Field::Name).then(|| p.name.clone());
                v.name_masked = show(Field::NameMasked).then(|| credential::mask_name(&p.name));
                v.id_number_masked = show(Field::IdNumber).then(|| id.masked());
                v.id_number = (reveal_id && show(Field::IdNumber)).then(|| id.as_str().to_owned());
                v.id_last4 = show(Field::IdLast4).then(|| credential::id_last4(id.as_str()));
                if show(Field::SexAndBirth) {
                    v.sex = Some(id.sex().label_en());
                    v.birth_date = Some(id.birth_date().to_string());
                }
                v.ethnicity = p
                    .ethnicity
                    .filter(|_| show(Field::Ethnicity))
                    .map(|e| format!("{e:02} {}", applicant::ethnicity_name(e).unwrap_or("?")));
                if let Some(d) = p.hukou_division.filter(|_| show(Field::Hukou)) {
                    v.hukou_division = Some(d.to_string());
                    v.hukou_place = Some(division::hukou_place(d));
                }
                (v.residence_city, v.residence_city_name) = city(p.residence_city());
                if show(Field::ResidenceAddress) {
                    v.residence_district = Some(p.residence_district.to_string());
                    v.residence_address = Some(p.full_residence_address());
                }
                if show(Field::Authority) {
                    v.authority = Some(p.authority.to_string());
                    v.authority_name = division::authority_name(p.authority);
                }
                v.photo_ref = p.photo.filter(|_| show(Field::Records)).map(|b| hex(&b));
            }
        }
        v
    }
}

/// The permit as shown in reports and JSON: the fields the verifier's role may see and the
/// credential carries; every personal field is absent otherwise.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PermitView {
    /// Which view of the permit was scanned: `full` or `basic`.
    pub view: &'static str,
    /// The role it was verified for (`police`, `hotel`, …).
    pub role: &'static str,
    /// Whether the credential is bound to the holder's device key.
    pub holder_bound: bool,
    /// When the holder's app drew the live presentation (RFC 3339), for a presentation whose
    /// holder signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presented_at: Option<String>,
    /// Serial number (12 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Credential version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// 姓名.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 姓名 as the holder's app shows it to non-police verifiers (张*伟).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_masked: Option<String>,
    /// 性别: male or female (from the ID number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<&'static str>,
    /// 出生日期 (from the ID number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// 公民身份号码, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number_masked: Option<String>,
    /// 公民身份号码 in full, only when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// The last 4 characters of the ID number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_last4: Option<String>,
    /// 民族: code and name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<String>,
    /// 户籍所在地 division code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hukou_division: Option<String>,
    /// 户籍所在地 as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hukou_place: Option<String>,
    /// Residence city code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residence_city: Option<String>,
    /// Residence city name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residence_city_name: Option<String>,
    /// Residence district code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residence_district: Option<String>,
    /// 居住地住址 in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residence_address: Option<String>,
    /// 签发机关 division code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// 签发机关 name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_name: Option<String>,
    /// 签发日期.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<String>,
    /// 有效期限: last valid day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Endorsed (签注) until.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endorsed_until: Option<String>,
    /// When this credential was signed.
    pub credential_issued_at: String,
    /// Status-list index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_index: Option<u64>,
    /// Photo reference, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_ref: Option<String>,
    /// The id of the status list the credential names (permit field 15), hex; absent in older
    /// credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_list: Option<String>,
    /// Marked as test data.
    pub test: bool,
}

fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where the verdict's trust came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// Key id from the credential, when it could be read.
    pub key_id: Option<String>,
    /// The key holder named in the trust list, when the key is known.
    pub issuer: Option<String>,
    /// The trust list used.
    pub trust_list: TrustProvenance,
    /// The status list used, if any.
    pub status_list: Option<StatusProvenance>,
    /// The clock.
    pub clock: ClockProvenance,
}

/// Trust list facts.
#[derive(Debug, Clone, Serialize)]
pub struct TrustProvenance {
    /// Sequence number.
    pub sequence: u64,
    /// Publisher.
    pub publisher: String,
    /// Root key id.
    pub root: String,
    /// Signed at.
    pub issued_at: String,
    /// Expires at.
    pub expires_at: String,
    /// Age at verification time, seconds.
    pub age_seconds: i64,
    /// TEST-ONLY list.
    pub test: bool,
}

/// Status list facts.
#[derive(Debug, Clone, Serialize)]
pub struct StatusProvenance {
    /// URI (`sub`).
    pub uri: String,
    /// Sequence number.
    pub sequence: u64,
    /// Signed at.
    pub issued_at: String,
    /// Next update due.
    pub next_update: String,
    /// Age at verification time, seconds.
    pub age_seconds: i64,
    /// Signing key.
    pub key_id: String,
    /// This credential's entry, if looked up.
    pub entry: Option<Status>,
}

/// Clock facts.
#[derive(Debug, Clone, Serialize)]
pub struct ClockProvenance {
    /// The verification time.
    pub at: String,
    /// Where it came from.
    pub source: ClockSource,
    /// The newest time already trusted, if known.
    pub floor: Option<String>,
}

/// The result of verifying one text.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Every applicable reason, most severe first.
    pub reasons: Vec<Reason>,
    /// The permit, only if its signature verified and its claims are well formed.
    pub permit: Option<AuthenticPermit>,
    /// Where the trust came from.
    pub provenance: Provenance,
}

impl Outcome {
    fn finish(
        mut reasons: Vec<Reason>,
        permit: Option<AuthenticPermit>,
        provenance: Provenance,
    ) -> Outcome {
        reasons.sort_by_key(|r| std::cmp::Reverse(r.code.severity()));
        Outcome {
            verdict: Verdict::from_reasons(&reasons),
            reasons,
            permit,
            provenance,
        }
    }
}

fn provenance(ctx: &Context<'_>) -> Provenance {
    let t = ctx.trust;
    Provenance {
        key_id: None,
        issuer: None,
        trust_list: TrustProvenance {
            sequence: t.sequence,
            publisher: display_safe(&t.publisher),
            root: t.root.to_string(),
            issued_at: rfc(t.issued_at),
            expires_at: rfc(t.expires_at),
            age_seconds: (ctx.at - t.issued_at).num_seconds(),
            test: t.test,
        },
        status_list: ctx.status.map(|s| StatusProvenance {
            uri: display_safe(&s.token.uri),
            sequence: s.token.sequence,
            issued_at: rfc3339(s.token.issued_at),
            next_update: rfc3339(s.token.next_update()),
            age_seconds: ctx.at.timestamp() - s.token.issued_at,
            key_id: s.key_id.to_string(),
            entry: None,
        }),
        clock: ClockProvenance {
            at: rfc(ctx.at),
            source: ctx.clock_source,
            floor: ctx.clock_floor.map(rfc),
        },
    }
}

fn decode_reason(e: &DecodeError) -> Reason {
    let msg = match e {
        DecodeError::Foreign(f) => {
            format!("this is a {}, not a Guangdong residence permit", f.name())
        }
        other => format!("{} stage: {other}", other.stage()),
    };
    Reason::new(e.code(), msg)
}

/// Verifies one scanned text.
pub fn verify_text(input: &str, ctx: &Context<'_>) -> Outcome {
    let mut prov = provenance(ctx);
    let mut reasons: Vec<Reason> = ctx.notes.clone();
    let n = normalise::normalise(input);
    if !n.changes.is_empty() {
        reasons.push(Reason::new(Code::InputNormalised, n.changes.join("; ")));
    }
    time_of_device(ctx, &mut reasons);
    if ctx.at > ctx.trust.expires_at {
        reasons.push(Reason::new(
            Code::TrustListExpired,
            format!(
                "trust list {} expired at {}",
                ctx.trust.sequence,
                rfc(ctx.trust.expires_at)
            ),
        ));
    }
    let (envelope, presentation) = match credential::from_text(&n.text)
        .and_then(|b| holder::split(&b).and_then(|(cred, p)| Ok((Envelope::decode(&cred)?, p))))
    {
        Ok(e) => e,
        Err(e) => {
            reasons.push(decode_reason(&e));
            return Outcome::finish(reasons, None, prov);
        }
    };
    let kid = envelope.key_id();
    prov.key_id = Some(kid.to_string());
    let candidates: Vec<&TrustedKey> = ctx.trust.keys_with_id(kid).collect();
    if candidates.is_empty() {
        // The key id is inside the signed header: an altered id breaks the signature under the
        // key that did sign. When a trusted permit key under another id verifies it, the id was
        // changed (MALFORMED). Otherwise the signature was checked against no key at all: the
        // key may simply be newer than this trust list, so the verdict is INDETERMINATE (update
        // the list), never "forged".
        let verifies = ctx
            .trust
            .keys
            .iter()
            .filter(|k| k.may(Usage::Permit))
            .any(|k| envelope.verify(&k.key).is_ok());
        reasons.push(if verifies {
            Reason::new(
                Code::Malformed,
                format!("key id {kid} does not belong to the key that signed the credential"),
            )
        } else {
            Reason::new(
                Code::KeyUnknown,
                format!(
                    "no key {kid} in trust list #{} of {} ({} days old): update the trust list and verify again",
                    ctx.trust.sequence,
                    rfc(ctx.trust.issued_at),
                    (ctx.at - ctx.trust.issued_at).num_days()
                ),
            )
        });
        return Outcome::finish(reasons, None, prov);
    }
    let Some((key, verified)) = candidates
        .iter()
        .find_map(|k| envelope.verify(&k.key).ok().map(|v| (*k, v)))
    else {
        reasons.push(Reason::new(
            Code::SignatureInvalid,
            format!("signature does not verify under key {kid}"),
        ));
        return Outcome::finish(reasons, None, prov);
    };
    prov.issuer = Some(display_safe(&key.issuer));
    let claims = match verified.credential() {
        Ok(c) => c,
        Err(e) => {
            reasons.push(decode_reason(&e));
            return Outcome::finish(reasons, None, prov);
        }
    };
    let core = claims.core();
    let presented_at = holder::check(&claims, presentation.as_ref(), ctx, &mut reasons);
    check_trust(key, &core, ctx, &mut reasons);
    check_time(&core, ctx, &mut reasons);
    if let (Some(s), Some(sp)) = (ctx.status, prov.status_list.as_mut()) {
        match status_list_mismatch(s, key, &core) {
            None => sp.entry = check_status(s, &core, ctx, &mut reasons),
            Some(r) => reasons.push(r),
        }
    } else if !reasons.iter().any(|r| {
        matches!(
            r.code,
            Code::StatusListInvalid | Code::StatusRollback | Code::StatusListConflict
        )
    }) {
        reasons.push(Reason::new(
            Code::StatusUnknown,
            "no status list given: cancellations are not checked (use --status)",
        ));
    }
    if key.test || core.test {
        reasons.push(Reason::new(
            Code::TestCredential,
            if key.test {
                format!("signed by TEST-ONLY key {kid}: not a real permit")
            } else {
                "marked as test data: not a real permit".to_owned()
            },
        ));
    }
    let permit = AuthenticPermit {
        claims,
        key_id: kid,
        role: ctx.role,
        presented_at,
    };
    Outcome::finish(reasons, Some(permit), prov)
}

fn time_of_device(ctx: &Context<'_>, reasons: &mut Vec<Reason>) {
    if ctx.clock_source != ClockSource::System {
        return;
    }
    if let Some(floor) = ctx.clock_floor
        && ctx.at + ctx.policy.clock_skew < floor
    {
        reasons.push(Reason::new(
            Code::ClockBehind,
            format!(
                "device clock {} is earlier than {} already trusted; set the clock",
                rfc(ctx.at),
                rfc(floor)
            ),
        ));
    }
}

fn check_trust(key: &TrustedKey, c: &Core, ctx: &Context<'_>, reasons: &mut Vec<Reason>) {
    let kid = key.key.id();
    let iat = DateTime::<Utc>::from_timestamp(c.issued_at, 0).unwrap_or_default();
    for error in key.use_errors(Usage::Permit, iat) {
        reasons.push(match error {
            KeyUseError::NotAllowed { .. } => Reason::new(
                Code::KeyNotAuthorised,
                format!("key {kid} may not sign permits"),
            ),
            KeyUseError::OutsideSigningWindow { from, until, at } => Reason::new(
                Code::KeyNotValidAtIssuance,
                format!(
                    "issued at {} outside key {kid}'s signing window {} – {}",
                    rfc(at),
                    rfc(from),
                    rfc(until)
                ),
            ),
            KeyUseError::Compromised { since } => Reason::new(
                Code::KeyCompromised,
                format!(
                    "issued at {} after key {kid} was reported compromised ({})",
                    rfc(iat),
                    rfc(since)
                ),
            ),
        });
    }
    if let Some(until) = key.verify_until
        && ctx.at > until
    {
        reasons.push(Reason::new(
            Code::KeyExpired,
            format!("key {kid} is not accepted after {}", rfc(until)),
        ));
    }
}

fn check_time(c: &Core, ctx: &Context<'_>, reasons: &mut Vec<Reason>) {
    let at = ctx.at.timestamp();
    let p = c;
    let skew = ctx.policy.clock_skew.num_seconds();
    if let Some(from) = p.issued_on
        && at < civil::start_of_day(from)
    {
        reasons.push(Reason::new(
            Code::NotYetValid,
            format!("permit is valid from {from}"),
        ));
    }
    if at + skew < c.issued_at {
        reasons.push(Reason::new(
            Code::IssuedInFuture,
            format!(
                "credential signed at {}, after the verification time {}",
                rfc3339(c.issued_at),
                rfc(ctx.at)
            ),
        ));
    }
    if at >= c.expires_at {
        reasons.push(Reason::new(
            Code::Expired,
            format!("permit was valid until {}", c.valid_until()),
        ));
    }
    let overdue_from = civil::start_of_day(p.endorsed_until + chrono::Days::new(1));
    if at >= overdue_from && at < c.expires_at {
        reasons.push(Reason::new(
            Code::Suspended,
            format!(
                "suspended since {} (使用功能中止)",
                p.endorsed_until + chrono::Days::new(1)
            ),
        ));
        reasons.push(Reason::new(
            Code::EndorsementOverdue,
            format!(
                "yearly endorsement (签注) was due by {}; the holder must endorse the permit",
                p.endorsed_until
            ),
        ));
    }
}
