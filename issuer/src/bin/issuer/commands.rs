//! Command implementations.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::ledger::{Ledger as _, LedgerError};
use permit_issuer::lifecycle::{
    self, Applied, CardKind, Change, Decision, Direct, Issued, LifecycleError, Office, Reporter,
};
use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_issuer::settings::{Channel, Settings};
use permit_issuer::{demo, keyfile, selfcheck};
use permit_shared::applicant::RawApplicant;
use permit_shared::keys::SecretKey;
use permit_shared::trust::{self, KeyEntry, TrustList, TrustListBody, Usage};

use crate::cli::{
    CardKindArg, ChannelArg, Cli, Command, KeyArgs, KeysCommand, QrArgs, ReporterArg, RoleArg,
    StatusCommand, TrustCommand,
};

/// A failed command: a stable reason code, a message naming what and where, an optional hint,
/// the exit code. `main` prints it on stderr, and with `--json` also as one JSON object on stdout
/// (README, "Errors").
pub struct Failure {
    /// Stable, UPPER_SNAKE_CASE: scripts match on it, never on the message.
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub exit: u8,
    /// The fields at fault, when the failure is about a record's fields (each with its own code).
    pub problems: Vec<Problem>,
    /// Command-specific facts about the failure (`issuer batch`: what this run had committed).
    pub details: Option<Box<serde_json::Value>>,
}

/// One field at fault.
#[derive(Serialize)]
pub struct Problem {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl From<&permit_shared::applicant::FieldError> for Problem {
    fn from(e: &permit_shared::applicant::FieldError) -> Problem {
        Problem {
            field: e.field.clone(),
            code: e.code,
            message: e.message.clone(),
        }
    }
}

impl Failure {
    /// Exit 2 with a given code.
    pub fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            hint: None,
            exit: 2,
            problems: Vec::new(),
            details: None,
        }
    }
    /// A flag, argument or option value the command cannot use (`USAGE`, exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new("USAGE", message)
    }
    /// A file (or stream) that could not be opened, read or written (`IO_ERROR`, exit 2).
    pub fn io(what: impl std::fmt::Display, e: &std::io::Error) -> Failure {
        Failure::new("IO_ERROR", format!("{what}: {e}"))
    }
    pub fn hint(mut self, h: impl Into<String>) -> Failure {
        self.hint = Some(h.into());
        self
    }
}

impl From<keyfile::KeyFileError> for Failure {
    fn from(e: keyfile::KeyFileError) -> Failure {
        use keyfile::KeyFileError as K;
        let (code, hint) = match &e {
            K::Io { .. } => ("KEY_FILE_IO", None),
            K::TooOpen { .. } => ("KEY_FILE_TOO_OPEN", None),
            K::Exists { .. } => (
                "KEY_FILE_EXISTS",
                Some("choose another --out directory or --name; key files are never overwritten"),
            ),
            K::TooLarge { .. } => ("KEY_FILE_TOO_LARGE", None),
            K::Key { .. } => ("KEY_INVALID", None),
            K::Random(_) => ("NO_RANDOMNESS", None),
        };
        Failure {
            hint: hint.map(str::to_owned),
            ..Failure::new(code, e.to_string())
        }
    }
}

/// The reason code of a ledger failure.
pub fn ledger_code(e: &LedgerError) -> &'static str {
    match e {
        LedgerError::Db { .. } => "LEDGER_ERROR",
        LedgerError::Conflict(_) => "LEDGER_CONFLICT",
        LedgerError::Damaged(_) => "LEDGER_DAMAGED",
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Failure {
        Failure::new(ledger_code(&e), e.to_string())
    }
}

impl From<LifecycleError> for Failure {
    fn from(e: LifecycleError) -> Failure {
        let e = match e {
            LifecycleError::Ledger(l) => return l.into(),
            // The code goes beside the message (`main` prints it), not into it twice.
            LifecycleError::Refused { code, message } => {
                return Failure {
                    exit: 1,
                    ..Failure::new(code, message)
                };
            }
            e => e,
        };
        let exit = match &e {
            LifecycleError::Random(_) => 2,
            LifecycleError::NotFound { .. } => 2,
            _ => 1,
        };
        let hint = match &e {
            LifecycleError::Invalid(_) => {
                Some("correct the applicant record and submit it again".to_owned())
            }
            LifecycleError::IllegalTransition { .. } => {
                Some("`issuer show SERIAL` prints the permit's state and history".to_owned())
            }
            _ => None,
        };
        let problems = match &e {
            LifecycleError::Invalid(v) => v.iter().map(Problem::from).collect(),
            _ => Vec::new(),
        };
        Failure {
            hint,
            exit,
            problems,
            ..Failure::new(e.code(), e.to_string())
        }
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

/// The current time: `--now` when given, otherwise the system clock.
pub fn now(cli: &Cli) -> Result<DateTime<Utc>> {
    match &cli.now {
        None => Ok(Utc::now()),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| Failure::usage(format!("--now `{s}` is not an RFC 3339 time"))),
    }
}

pub fn actor(cli: &Cli) -> String {
    cli.actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

pub fn settings(cli: &Cli) -> Result<Settings> {
    match &cli.config {
        None => Ok(Settings::default()),
        Some(p) => Settings::from_json(&read_small(p, 1024 * 1024)?)
            .map_err(|e| Failure::new("CONFIG_INVALID", format!("{}: {e}", p.display()))),
    }
}

/// Prints a JSON value on stdout.
pub fn print_json(v: &impl Serialize) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure::usage(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    // A closed pipe is not an error.
    let _ = writeln!(out, "{s}");
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_serial(s: &str) -> Result<u64> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map_err(|_| Failure::usage("bad serial"))
    } else {
        Err(Failure::usage(format!(
            "`{s}` is not a permit serial (12 digits)"
        )))
    }
}

fn channel(c: ChannelArg) -> Channel {
    match c {
        ChannelArg::Online => Channel::Online,
        ChannelArg::Counter => Channel::Counter,
    }
}

/// The signing key, the verified trust list for the self-check, and whether the key is TEST-ONLY.
pub struct Signer {
    pub key: SecretKey,
    pub trust: TrustList,
    pub test: bool,
}

pub fn signer(k: &KeyArgs, now: DateTime<Utc>) -> Result<Signer> {
    let key = match &k.key {
        Some(p) => keyfile::read_secret_key(p)?,
        None => {
            eprintln!(
                "warning: signing with the embedded TEST-ONLY demo key (keys/TEST-ONLY-demo-issuer.key.pem); pass --key for real permits"
            );
            demo::issuer_key().map_err(|e| Failure::usage(format!("demo key: {e}")))?
        }
    };
    let root = match &k.root {
        Some(p) => keyfile::read_public_key(p)?,
        None => demo::root().map_err(|e| Failure::usage(format!("demo root: {e}")))?,
    };
    let doc = match &k.trust {
        Some(p) => read_small(p, trust::MAX_TRUST_LIST_BYTES as u64)?,
        None => demo::TRUST_LIST.as_bytes().to_vec(),
    };
    let trust = TrustList::verify(&doc, &root).map_err(|e| {
        Failure::new("TRUST_LIST_REFUSED", format!("trust list refused: {e}"))
            .hint("pass --trust FILE signed by the root given with --root KEY")
    })?;
    let kid = key.public().id();
    let Some(entry) = trust.keys_with_id(kid).find(|e| e.key == *key.public()) else {
        return Err(Failure::usage(format!(
            "signing key {kid} is not in trust list {} (sequence {})",
            k.trust
                .as_deref()
                .map_or_else(|| "(demo)".into(), |p| p.display().to_string()),
            trust.sequence
        ))
        .hint("add the key's trust-list entry with `issuer trust build`, or pass --trust"));
    };
    if !entry.may(Usage::Permit) {
        return Err(Failure::usage(format!(
            "key {kid} may not sign permits according to the trust list"
        )));
    }
    if now < entry.signing_from || now > entry.signing_until {
        return Err(Failure::usage(format!(
            "key {kid} may sign only from {} to {}; now is {}",
            rfc3339(entry.signing_from),
            rfc3339(entry.signing_until),
            rfc3339(now)
        )));
    }
    if entry.compromised_since.is_some() {
        return Err(Failure::usage(format!(
            "key {kid} is marked compromised in the trust list"
        )));
    }
    let test = entry.test;
    Ok(Signer { key, trust, test })
}

/// What was written.
#[derive(Debug, Serialize)]
struct QrInfo {
    out: String,
    format: &'static str,
    version: u8,
    ecc: String,
    modules: usize,
    module_px: u32,
    size_px: Option<u32>,
}

/// A rendered output, checked and ready to be written.
struct Rendered {
    bytes: Vec<u8>,
    info: QrInfo,
}

/// Renders a credential for `out` by its extension and runs the self-check on the image.
fn render_checked(
    text: &str,
    out: &Path,
    qr: &QrArgs,
    trust: &TrustList,
    now: DateTime<Utc>,
) -> Result<Rendered> {
    let m = QrMatrix::encode(text, Ecc::from(qr.ecc)).map_err(|e| Failure::usage(e.to_string()))?;
    let opts = RenderOptions {
        module_px: qr.module_px,
        ..RenderOptions::default()
    };
    let side = opts
        .side_px(&m)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let fail = |e: selfcheck::SelfCheckError| {
        Failure::new("SELF_CHECK_FAILED", e.to_string())
            .hint("nothing was written; report this as a bug")
    };
    let png = render::to_png(&m, &opts).map_err(|e| Failure::usage(e.to_string()))?;
    selfcheck::check_image(&png, text, trust, now).map_err(fail)?;
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (format, bytes, size_px) = if out.as_os_str() == "-" {
        ("text", format!("{text}\n").into_bytes(), None)
    } else {
        match ext.as_deref() {
            Some("png") => ("png", png, Some(side)),
            Some("svg") => (
                "svg",
                render::to_svg(&m, &opts)
                    .map_err(|e| Failure::usage(e.to_string()))?
                    .into_bytes(),
                Some(side),
            ),
            Some("txt") => ("text", format!("{text}\n").into_bytes(), None),
            _ => {
                return Err(Failure::usage(format!(
                    "{}: unknown output type; use .png, .svg, .txt or -",
                    out.display()
                )));
            }
        }
    };
    Ok(Rendered {
        bytes,
        info: QrInfo {
            out: out.display().to_string(),
            format,
            version: m.version(),
            ecc: m.ecc().to_string(),
            modules: m.width(),
            module_px: qr.module_px,
            size_px,
        },
    })
}

fn emit(r: &Rendered, out: &Path, force: bool) -> Result<()> {
    if out.as_os_str() == "-" {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(&r.bytes);
        Ok(())
    } else {
        write_output(out, &r.bytes, force)
    }
}

fn check_output(out: &Path, force: bool) -> Result<()> {
    if out.as_os_str() != "-" && !force && out.exists() {
        return Err(Failure::new(
            "OUTPUT_EXISTS",
            format!("{}: exists already", out.display()),
        )
        .hint("pass --force to replace it"));
    }
    Ok(())
}

#[derive(Serialize)]
struct IssuedReport<'a> {
    #[serde(flatten)]
    issued: &'a Issued,
    test: bool,
    qr: Option<&'a QrInfo>,
}

fn print_issued(
    cli: &Cli,
    what: &str,
    issued: &Issued,
    qr: Option<&QrInfo>,
    test: bool,
    to_stderr: bool,
) -> Result<()> {
    if cli.json {
        return print_json(&IssuedReport { issued, test, qr });
    }
    let mut s = format!(
        "{what}: permit {} version {} (application {}){}\n  key {}  status index {}\n  issued on {}  valid until {}  endorsed until {}\n",
        issued.serial,
        issued.version,
        issued.application,
        if issued.already_issued {
            " — already issued, nothing new signed"
        } else {
            ""
        },
        issued.key_id,
        issued.status_index,
        issued.issued_on,
        issued.valid_until,
        issued.endorsed_until
    );
    if let Some(q) = qr {
        s.push_str(&format!(
            "  QR version {} ECC {} ({} modules) -> {}\n",
            q.version, q.ecc, q.modules, q.out
        ));
    }
    if to_stderr {
        eprint!("{s}");
    } else {
        print!("{s}");
    }
    Ok(())
}

fn print_applied(cli: &Cli, a: &Applied) -> Result<()> {
    if cli.json {
        return print_json(a);
    }
    println!(
        "application {}: {}{}",
        a.application,
        a.state.as_str(),
        if a.already_recorded {
            " (recorded before; nothing new written)"
        } else {
            ""
        }
    );
    for r in &a.eligibility.reasons {
        println!("  refused {:<22} {}", r.code, r.message);
    }
    if a.eligibility.eligible {
        if a.eligibility.no_materials_needed {
            println!("  no materials needed (免材料对象)");
        } else {
            println!("  materials required:");
            for m in &a.eligibility.materials {
                println!("    - {m}");
            }
        }
    }
    Ok(())
}

fn read_applicant(p: &Path) -> Result<RawApplicant> {
    let bytes = read_small(p, permit_shared::applicant::MAX_RECORD_BYTES as u64)?;
    // The same code as a record that parses but does not validate; the field's own code is in
    // `problems`.
    RawApplicant::from_json(&bytes).map_err(|e| Failure {
        hint: Some("the applicant record is one JSON object with the fields of the README".into()),
        exit: 1,
        problems: vec![Problem::from(&e)],
        ..Failure::new("INVALID_APPLICANT", format!("{}: {e}", p.display()))
    })
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Keys {
            command: KeysCommand::Generate(a),
        } => {
            let now = now(&cli)?;
            let role = match a.role {
                RoleArg::Issuer => keyfile::Role::Issuer,
                RoleArg::Root => keyfile::Role::Root,
            };
            let stem = a.name.clone().unwrap_or_else(|| match role {
                keyfile::Role::Issuer => "issuer".into(),
                keyfile::Role::Root => "root".into(),
            });
            let g = keyfile::generate(
                &a.out,
                &keyfile::GenerateOptions {
                    role,
                    stem,
                    issuer_name: a.issuer_name.clone(),
                    test: a.test,
                    signing_from: now,
                    signing_until: now + Duration::days(i64::from(a.signing_days)),
                },
            )?;
            if cli.json {
                print_json(&g)?;
            } else {
                println!("key id       {}", g.kid);
                println!("private key  {} (mode 0600)", g.private_key.display());
                println!("public key   {}", g.public_pem.display());
                println!("public JWK   {}", g.public_jwk.display());
                if let Some(e) = &g.trust_entry {
                    println!("trust entry  {}", e.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trust {
            command: TrustCommand::Build(a),
        } => {
            let now = now(&cli)?;
            let root = keyfile::read_secret_key(&a.root)?;
            let mut keys = Vec::new();
            for p in &a.entries {
                let text = read_small(p, 64 * 1024)?;
                let e: KeyEntry = serde_json::from_slice(&text).map_err(|e| {
                    Failure::usage(format!("{}: not a trust-list key entry: {e}", p.display()))
                })?;
                keys.push(e);
            }
            let body = TrustListBody {
                format: trust::FORMAT.into(),
                sequence: a.sequence,
                issued_at: rfc3339(now),
                expires_at: rfc3339(now + Duration::days(i64::from(a.valid_days))),
                publisher: a.publisher.clone(),
                test: a.test,
                keys,
            };
            let doc = trust::sign(&body, &root).map_err(|e| Failure::usage(e.to_string()))?;
            write_output(&a.out, doc.as_bytes(), a.force)?;
            if cli.json {
                print_json(&serde_json::json!({
                    "out": a.out, "sequence": a.sequence, "root": root.public().id().to_string(),
                    "keys": body.keys.iter().map(|k| k.kid.to_string()).collect::<Vec<_>>(),
                    "expires_at": body.expires_at,
                }))?;
            } else {
                println!(
                    "trust list {} (sequence {}, {} keys, root {}, expires {})",
                    a.out.display(),
                    a.sequence,
                    body.keys.len(),
                    root.public().id(),
                    body.expires_at
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Issue(a) => {
            let now = now(&cli)?;
            let settings = settings(&cli)?;
            let s = signer(&a.keys, now)?;
            let raw = read_applicant(&a.applicant)?;
            check_output(&a.out, a.force)?;
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            let actor = actor(&cli);
            let office = Office {
                settings: &settings,
                key: &s.key,
                key_is_test: s.test,
                now,
                actor: &actor,
            };
            // Render and self-check inside the transaction: a failure leaves nothing behind.
            let result = ledger.transaction(|tx| -> Result<_> {
                match lifecycle::issue_direct(tx, &office, &raw, channel(a.channel))? {
                    Direct::Ineligible(applied) => Ok(Err(applied)),
                    Direct::Issued(issued) => {
                        let r = render_checked(&issued.text, &a.out, &a.qr, &s.trust, now)?;
                        Ok(Ok((issued, r)))
                    }
                }
            })?;
            match result {
                Err(applied) => {
                    print_applied(&cli, &applied)?;
                    eprintln!("error: applicant is not eligible; nothing was issued");
                    Ok(ExitCode::from(1))
                }
                Ok((issued, r)) => {
                    emit(&r, &a.out, a.force || issued.already_issued)?;
                    print_issued(
                        &cli,
                        "issued",
                        &issued,
                        Some(&r.info),
                        s.test,
                        a.out.as_os_str() == "-",
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Apply(a) => {
            let now = now(&cli)?;
            let settings = settings(&cli)?;
            let raw = read_applicant(&a.applicant)?;
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            let actor = actor(&cli);
            // `apply` signs nothing; the key only fills in the office.
            let key = demo::issuer_key().map_err(|e| Failure::usage(e.to_string()))?;
            let office = Office {
                settings: &settings,
                key: &key,
                key_is_test: true,
                now,
                actor: &actor,
            };
            let applied =
                ledger.transaction(|tx| lifecycle::apply(tx, &office, &raw, channel(a.channel)))?;
            print_applied(&cli, &applied)?;
            Ok(ExitCode::from(if applied.eligibility.eligible {
                0
            } else {
                1
            }))
        }
        Command::Review(a) => {
            let now = now(&cli)?;
            let settings = settings(&cli)?;
            let s = signer(&a.keys, now)?;
            if let Some(o) = &a.out {
                check_output(o, a.force)?;
            }
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            let office = Office {
                settings: &settings,
                key: &s.key,
                key_is_test: s.test,
                now,
                actor: &a.reviewer,
            };
            let decision = if a.approve {
                Decision::Approve
            } else {
                Decision::Reject
            };
            let out = ledger.transaction(|tx| -> Result<_> {
                let issued = lifecycle::review(tx, &office, &a.application, decision, &a.reason)?;
                let rendered = match (&issued, &a.out) {
                    (Some(i), Some(o)) => Some(render_checked(&i.text, o, &a.qr, &s.trust, now)?),
                    _ => None,
                };
                Ok((issued, rendered))
            })?;
            match out {
                (None, _) => {
                    if cli.json {
                        print_json(
                            &serde_json::json!({ "application": a.application, "state": "rejected" }),
                        )?;
                    } else {
                        println!("application {}: rejected", a.application);
                    }
                }
                (Some(issued), r) => {
                    if let (Some(r), Some(o)) = (&r, &a.out) {
                        emit(r, o, a.force)?;
                    }
                    let to_stderr = a.out.as_deref().is_some_and(|o| o.as_os_str() == "-");
                    print_issued(
                        &cli,
                        "approved and issued",
                        &issued,
                        r.as_ref().map(|r| &r.info),
                        s.test,
                        to_stderr,
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Endorse(a) => {
            let serial = parse_serial(&a.serial)?;
            reissue(
                &cli,
                &a.keys,
                a.out.as_deref(),
                a.force,
                &a.qr,
                "endorsed",
                |tx, office| lifecycle::endorse(tx, office, serial, channel(a.channel)),
            )
        }
        Command::Change(a) => {
            let serial = parse_serial(&a.serial)?;
            let ch = Change {
                hukou_division: a.hukou_division.clone(),
                hukou_address: a.hukou_address.clone(),
                photo: a.photo.clone(),
                residence_district: a.residence_district.clone(),
                residence_address: a.residence_address.clone(),
            };
            reissue(
                &cli,
                &a.keys,
                a.out.as_deref(),
                a.force,
                &a.qr,
                "changed",
                |tx, office| lifecycle::change(tx, office, serial, &ch, channel(a.channel)),
            )
        }
        Command::Cancel(a) => {
            let serial = parse_serial(&a.serial)?;
            let now = now(&cli)?;
            let settings = settings(&cli)?;
            let key = demo::issuer_key().map_err(|e| Failure::usage(e.to_string()))?;
            let actor = actor(&cli);
            let office = Office {
                settings: &settings,
                key: &key,
                key_is_test: true,
                now,
                actor: &actor,
            };
            let reporter = match a.reporter {
                ReporterArg::Holder => Reporter::Holder,
                ReporterArg::Police => Reporter::Police,
                ReporterArg::Relative => Reporter::Relative,
                ReporterArg::Institution => Reporter::Institution,
            };
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            ledger.transaction(|tx| {
                lifecycle::cancel(tx, &office, serial, &a.reason, reporter, channel(a.channel))
            })?;
            if cli.json {
                print_json(
                    &serde_json::json!({ "serial": format!("{serial:012}"), "state": "cancelled" }),
                )?;
            } else {
                println!(
                    "permit {serial:012}: cancelled; publish a status list (`issuer status publish`) so that verifiers learn of it"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Card(a) => crate::card::run(&cli, a),
        Command::Batch(a) => crate::batch::run(&cli, a),
        Command::DemoData(a) => crate::batch::demo_data(a),
        Command::BenchParts(a) => crate::batch::bench_parts(&cli, a),
        Command::Status {
            command: StatusCommand::Publish { out, force, keys },
        } => {
            let now = now(&cli)?;
            let settings = settings(&cli)?;
            let s = signer(keys, now)?;
            check_output(out, *force)?;
            let actor = actor(&cli);
            let office = Office {
                settings: &settings,
                key: &s.key,
                key_is_test: s.test,
                now,
                actor: &actor,
            };
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            let (bytes, publication, counts) = ledger.transaction(|tx| -> Result<_> {
                let r = lifecycle::publish_status(tx, &office)?;
                write_output(out, &r.0, *force)?;
                Ok(r)
            })?;
            let _ = bytes;
            if cli.json {
                print_json(
                    &serde_json::json!({ "out": out, "publication": publication, "counts": counts }),
                )?;
            } else {
                println!(
                    "status list {} : sequence {}, {} credentials (valid {}, revoked {}, suspended {}, superseded {}), {} bytes, next update {}",
                    out.display(),
                    publication.sequence,
                    publication.credentials,
                    counts.valid,
                    counts.revoked,
                    counts.suspended,
                    counts.superseded,
                    publication.bytes,
                    rfc3339(
                        DateTime::from_timestamp(publication.next_update, 0).unwrap_or_default()
                    )
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { serial } => {
            let serial = parse_serial(serial)?;
            let now = now(&cli)?;
            let settings = settings(&cli)?;
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            let h = ledger.transaction(|tx| {
                lifecycle::history(tx, serial, permit_shared::civil::date_of(now), &settings)
            })?;
            if cli.json {
                print_json(&h)?;
            } else {
                println!(
                    "permit {} ({}) — application {}",
                    h.serial, h.state, h.application
                );
                println!(
                    "  {}  {}  {}",
                    h.details.name, h.details.id_number, h.details.residence_address
                );
                println!(
                    "  issued on {}  valid until {}  endorsed until {}  version {}",
                    h.issued_on, h.valid_until, h.endorsed_until, h.current_version
                );
                if let Some((from, to)) = h.endorsement_window {
                    println!("  next endorsement window {from} … {to}");
                }
                println!("  residence counted since {}", h.residence_counted_since);
                for c in &h.cards {
                    println!("  card no. {} {} fee {} yuan", c.number, c.kind, c.fee_yuan);
                }
                println!("history:");
                for e in &h.events {
                    println!(
                        "  {}  {:<22} {:<12} {}",
                        rfc3339(DateTime::from_timestamp(e.at, 0).unwrap_or_default()),
                        e.kind,
                        e.actor,
                        e.detail
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Qr(a) => {
            let serial = parse_serial(&a.serial)?;
            let now = now(&cli)?;
            let s = signer(&a.keys, now)?;
            check_output(&a.out, a.force)?;
            let mut ledger = SqliteLedger::open(&cli.ledger)?;
            let issued = ledger.transaction(|tx| lifecycle::current(tx, serial))?;
            let r = render_checked(&issued.text, &a.out, &a.qr, &s.trust, now)?;
            emit(&r, &a.out, a.force)?;
            print_issued(
                &cli,
                "current credential",
                &issued,
                Some(&r.info),
                s.test,
                a.out.as_os_str() == "-",
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Endorsement and change: a new credential, optionally written out.
fn reissue(
    cli: &Cli,
    keys: &KeyArgs,
    out: Option<&Path>,
    force: bool,
    qr: &QrArgs,
    what: &str,
    step: impl FnOnce(
        &mut dyn permit_issuer::ledger::Tx,
        &Office<'_>,
    ) -> std::result::Result<Issued, LifecycleError>,
) -> Result<ExitCode> {
    let now = now(cli)?;
    let settings = settings(cli)?;
    let s = signer(keys, now)?;
    if let Some(o) = out {
        check_output(o, force)?;
    }
    let actor = actor(cli);
    let office = Office {
        settings: &settings,
        key: &s.key,
        key_is_test: s.test,
        now,
        actor: &actor,
    };
    let mut ledger = SqliteLedger::open(&cli.ledger)?;
    let (issued, r) = ledger.transaction(|tx| -> Result<_> {
        let issued = step(tx, &office)?;
        let r = match out {
            Some(o) => Some(render_checked(&issued.text, o, qr, &s.trust, now)?),
            None => None,
        };
        Ok((issued, r))
    })?;
    if let (Some(r), Some(o)) = (&r, out) {
        emit(r, o, force)?;
    }
    print_issued(
        cli,
        what,
        &issued,
        r.as_ref().map(|r| &r.info),
        s.test,
        out.is_some_and(|o| o.as_os_str() == "-"),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The card kind.
pub fn card_kind(k: CardKindArg) -> CardKind {
    match k {
        CardKindArg::First => CardKind::First,
        CardKindArg::Replacement => CardKind::Replacement,
        CardKindArg::Exchange => CardKind::Exchange,
    }
}

/// Reads a small input file with a size cap.
pub fn read_small(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::io(path.display(), &e))?;
    if meta.len() > cap {
        return Err(Failure::new(
            "FILE_TOO_LARGE",
            format!(
                "{}: {} bytes, more than the limit of {cap}",
                path.display(),
                meta.len()
            ),
        ));
    }
    std::fs::read(path).map_err(|e| Failure::io(path.display(), &e))
}

/// Writes an output file atomically (temporary file + rename); refuses to replace an existing
/// file unless `force`.
pub fn write_output(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if !force && path.exists() {
        return Err(Failure::new(
            "OUTPUT_EXISTS",
            format!("{}: exists already", path.display()),
        )
        .hint("pass --force to replace it"));
    }
    let tmp: PathBuf = {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        path.with_file_name(name)
    };
    let io = |e: std::io::Error| Failure::io(path.display(), &e);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
