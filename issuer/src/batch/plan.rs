//! Planning rows into the ledger, on the ledger thread: each row's idempotency key (`ref`, or
//! `sha256:` and its content hash), `apply`, the claim that finds duplicates in the input, the
//! intent (pending before anything is signed; a pending one is resumed, a done one is not signed
//! again), and the error lines of rejected rows (field errors, eligibility findings, reference
//! conflicts, duplicates).

use chrono::{DateTime, Utc};

use permit_shared::applicant::{Applicant, FieldError};

use crate::issue::Office;
use crate::ledger::{AppState, IntentRecord, IntentState, LedgerError, Tx};
use crate::lifecycle::{self, IssuePlan, LifecycleError};
use crate::settings::Channel;

use super::input::InputRow;
use super::job_dir::{ErrorLine, JobDir, Problem, file_names};
use super::{BatchError, BatchOptions, check_abort, with_line};

/// A row read and checked before it reaches the ledger thread: validation and the content hash
/// need no ledger, so they run on all cores.
pub(super) struct ReadRow {
    /// The row as read.
    pub(super) row: InputRow,
    /// The validated applicant and its content hash; `None` when the record could not be read.
    pub(super) checked: Option<Result<(Applicant, String), Vec<FieldError>>>,
}

/// A chunk of rows read and checked, with the clock reading its rows were validated at.
pub(super) struct ReadChunk {
    /// The rows, in input order.
    pub(super) rows: Vec<ReadRow>,
    /// When they were validated.
    pub(super) now: DateTime<Utc>,
}

/// Validates a row and hashes its content (no ledger needed: runs on all cores).
pub(super) fn check_row(row: InputRow, today: chrono::NaiveDate) -> ReadRow {
    let checked = row.record.as_ref().ok().map(|raw| {
        raw.validate(today).map(|a| {
            let hash = lifecycle::content_hash(&a);
            (a, hash)
        })
    });
    ReadRow { row, checked }
}

/// What planning decided for a row.
pub(super) enum Plan {
    /// Rejected: an error line.
    Reject(ErrorLine),
    /// Sign, render, commit (new, or a pending intent resumed).
    Sign { plan: IssuePlan, resumed: bool },
    /// Committed before: make sure the files exist and the manifest lists it.
    Done(DoneRow),
    /// Committed before, listed and its files present: nothing to do.
    Complete,
}

/// A row committed before: its current credential.
pub(super) struct DoneRow {
    /// Permit serial.
    pub(super) serial: u64,
    /// Credential version.
    pub(super) version: u32,
    /// Signing key id.
    pub(super) key_id: String,
    /// The QR text.
    pub(super) text: String,
    /// The files are missing.
    pub(super) render_files: bool,
}

/// A planned row.
pub(super) struct Item {
    /// Input line.
    pub(super) line: u64,
    /// The row's `ref`, if it could be read.
    pub(super) reference: Option<String>,
    /// The idempotency key (`ref`, or `sha256:` and the content hash).
    pub(super) key: String,
    /// Application number.
    pub(super) application: String,
    /// What to do with the row.
    pub(super) plan: Plan,
    /// Decode the image again.
    pub(super) image_check: bool,
}

/// A planned chunk, as the render worker and the commit take it.
pub(super) struct Chunk {
    /// The rows, in input order.
    pub(super) items: Vec<Item>,
    /// The time the rows were planned (and are signed) at.
    pub(super) office_now: DateTime<Utc>,
}

/// Planning, inside a transaction: validates and applies every row and records the intent of
/// every new issuance.
pub(super) fn plan_chunk(
    tx: &mut dyn Tx,
    rows: ReadChunk,
    opts: &BatchOptions<'_>,
    dir: &JobDir,
    row_index: &mut u64,
) -> Result<Chunk, BatchError> {
    let office = opts.office(rows.now);
    let mut first_sign = true;
    let mut items = Vec::with_capacity(rows.rows.len());
    let mut idx = *row_index;
    for row in &rows.rows {
        check_abort(opts)?;
        idx += 1;
        let mut item = plan_row(tx, &office, row, opts, dir)?;
        if matches!(item.plan, Plan::Sign { .. } | Plan::Done(_)) {
            item.image_check = (first_sign && matches!(item.plan, Plan::Sign { .. }))
                || (opts.image_check_every > 0 && idx.is_multiple_of(opts.image_check_every));
            if matches!(item.plan, Plan::Sign { .. }) {
                first_sign = false;
            }
        }
        items.push(item);
    }
    *row_index = idx;
    Ok(Chunk {
        items,
        office_now: rows.now,
    })
}

/// Plans one row: rejected, to sign (new or resumed), or done before.
fn plan_row(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    read: &ReadRow,
    opts: &BatchOptions<'_>,
    dir: &JobDir,
) -> Result<Item, BatchError> {
    let row = &read.row;
    let line = row.line;
    let mut item = Item {
        line,
        reference: row.reference.clone(),
        key: String::new(),
        application: String::new(),
        plan: Plan::Complete,
        image_check: false,
    };
    let reject = |item: Item, e: ErrorLine| Item {
        plan: Plan::Reject(e),
        ..item
    };
    let checked = match (&row.record, &read.checked) {
        (_, Some(c)) => c,
        (Err(e), None) => {
            let e = ErrorLine::new(
                line,
                row.reference.clone(),
                problems_of(std::slice::from_ref(e)),
            );
            return Ok(reject(item, e));
        }
        (Ok(_), None) => {
            return Err(BatchError::Input {
                path: opts.input.to_owned(),
                detail: format!("line {line}: the row was not checked"),
            });
        }
    };
    let (a, hash) = match checked {
        Ok((a, hash)) => (a, hash),
        Err(errs) => {
            return Ok(reject(
                item,
                ErrorLine::new(line, row.reference.clone(), problems_of(errs)),
            ));
        }
    };
    if let Err(e) = lifecycle::check_key_policy(opts.signer, a.test) {
        return Ok(reject(
            item,
            ErrorLine::one(
                line,
                row.reference.clone(),
                "test",
                e.code().as_str(),
                e.to_string(),
            ),
        ));
    }
    item.key = match &a.reference {
        Some(r) => r.clone(),
        None => format!("sha256:{hash}"),
    };
    // A `ref` row goes through `apply` first: the same ref with other content is a conflict.
    // A row without `ref` is known by its content only, so its intent is looked up first (an
    // application without a reference is recorded anew each time).
    let apply =
        |tx: &mut dyn Tx| apply_row(tx, office, a, hash, opts.channel, line, &row.reference);
    let mut applied = None;
    if a.reference.is_some() {
        applied = Some(apply(tx)?);
    }
    if let Some(Err(e)) = applied {
        return Ok(reject(item, e));
    }
    let first = tx.claim_row(&dir.job, &item.key, line)?;
    if first != line {
        let e = ErrorLine::one(
            line,
            row.reference.clone(),
            if a.reference.is_some() {
                "ref"
            } else {
                "record"
            },
            "DUPLICATE_ROW",
            format!(
                "the same {} as line {first}, which is the row issued",
                if a.reference.is_some() {
                    "ref and content"
                } else {
                    "content"
                },
            ),
        );
        return Ok(reject(item, e));
    }
    // A ref row applied just now has no intent yet.
    let intent = match &applied {
        Some(Ok(ap)) if !ap.already_recorded => None,
        _ => tx.intent(&item.key)?,
    };
    if let Some(i) = intent {
        item.application = i.application_id.clone();
        match i.state {
            IntentState::Pending => {
                let plan: IssuePlan = serde_json::from_str(&i.plan_json)
                    .map_err(|e| LedgerError::Damaged(format!("intent {}: {e}", i.row_key)))?;
                item.plan = Plan::Sign {
                    plan,
                    resumed: true,
                };
                return Ok(item);
            }
            IntentState::Done => return done_row(tx, item, i.serial, opts, dir),
        }
    }
    if applied.is_none() {
        applied = Some(apply(tx)?);
    }
    let applied = match applied {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => return Ok(reject(item, e)),
        None => None,
    };
    let Some(applied) = applied else {
        return Err(BatchError::Ledger(LedgerError::Damaged(format!(
            "line {line}: no application"
        ))));
    };
    item.application = applied.application.clone();
    match applied.state {
        AppState::Approved => {
            let serial = applied.permit_serial.unwrap_or(0);
            done_row(tx, item, serial, opts, dir)
        }
        AppState::Ineligible => {
            let problems = applied
                .eligibility
                .reasons
                .iter()
                .map(|f| Problem {
                    field: finding_field(&f.code).into(),
                    code: f.code.clone(),
                    message: f.message.clone(),
                })
                .collect();
            Ok(reject(
                item,
                ErrorLine::new(line, row.reference.clone(), problems),
            ))
        }
        AppState::Rejected => Ok(reject(
            item,
            ErrorLine::one(
                line,
                row.reference.clone(),
                "record",
                "APPLICATION_REJECTED",
                format!("application {} was rejected at review", applied.application),
            ),
        )),
        AppState::Submitted => {
            let plan = match lifecycle::plan_issue(tx, office, opts.signer, &applied.application, a)
            {
                Ok(p) => p,
                Err(e @ LifecycleError::Refused { .. }) => {
                    return Ok(reject(
                        item,
                        ErrorLine::one(
                            line,
                            row.reference.clone(),
                            "record",
                            e.code().as_str(),
                            e.to_string(),
                        ),
                    ));
                }
                Err(e) => return Err(with_line(e, line)),
            };
            tx.insert_intent(&pending_intent(
                &item.key,
                &dir.job,
                line,
                &applied.application,
                &plan,
                office.now,
            )?)?;
            item.plan = Plan::Sign {
                plan,
                resumed: false,
            };
            Ok(item)
        }
    }
}

/// `apply` for one row: a reference conflict is the row's error, anything else the job's.
fn apply_row(
    tx: &mut dyn Tx,
    office: &Office<'_>,
    a: &permit_shared::applicant::Applicant,
    hash: &str,
    channel: Channel,
    line: u64,
    reference: &Option<String>,
) -> Result<Result<lifecycle::Applied, ErrorLine>, BatchError> {
    match lifecycle::apply_checked(tx, office, a, hash, channel) {
        Ok(applied) => Ok(Ok(applied)),
        Err(e @ LifecycleError::Conflict { .. }) => Ok(Err(ErrorLine::one(
            line,
            reference.clone(),
            "ref",
            e.code().as_str(),
            e.to_string(),
        ))),
        Err(e) => Err(with_line(e, line)),
    }
}

/// A row committed before: its current credential, and what is missing in this directory.
fn done_row(
    tx: &mut dyn Tx,
    mut item: Item,
    serial: u64,
    opts: &BatchOptions<'_>,
    dir: &JobDir,
) -> Result<Item, BatchError> {
    let files_present = file_names(serial, opts.outputs)
        .iter()
        .all(|n| dir.dir.join(n).exists());
    if files_present && dir.manifest.listed.contains(&serial) {
        item.plan = Plan::Complete;
        return Ok(item);
    }
    let cur = lifecycle::current(tx, serial).map_err(|e| with_line(e, item.line))?;
    item.plan = Plan::Done(DoneRow {
        serial,
        version: cur.version,
        key_id: cur.key_id,
        text: cur.text,
        render_files: !files_present,
    });
    Ok(item)
}

/// The problems of a record that failed to parse or validate.
fn problems_of(errs: &[FieldError]) -> Vec<Problem> {
    errs.iter()
        .map(|e| Problem {
            field: e.field.clone(),
            code: e.code.into(),
            message: e.message.clone(),
        })
        .collect()
}

/// The input field an eligibility finding is about.
fn finding_field(code: &str) -> &'static str {
    match code {
        "RESIDENCE_TOO_SHORT" => "residence_registered_on",
        "NO_BASIS" => "basis",
        "SAME_CITY_HUKOU" => "hukou_division",
        "SERVICE_NOT_OFFERED" => "residence_city",
        "DUPLICATE_PERMIT" => "id_number",
        _ => "record",
    }
}

/// The intent recorded for a row before it is signed: the whole plan, pending.
pub fn pending_intent(
    row_key: &str,
    job: &str,
    line: u64,
    application_id: &str,
    plan: &IssuePlan,
    now: DateTime<Utc>,
) -> Result<IntentRecord, LedgerError> {
    let plan_json =
        serde_json::to_string(plan).map_err(|e| LedgerError::Damaged(format!("plan: {e}")))?;
    Ok(IntentRecord {
        row_key: row_key.to_owned(),
        job: job.to_owned(),
        line,
        application_id: application_id.to_owned(),
        serial: plan.serial,
        status_index: plan.status_index,
        id_number: plan.details.id_number.clone(),
        version: 1,
        plan_json,
        state: IntentState::Pending,
        created_at: now.timestamp(),
    })
}
