//! Batch issuance: a JSONL or CSV file of applicants in, permits in the ledger, one QR image per
//! permit, a manifest and an error list out. Streaming, parallel, resumable, idempotent.
//!
//! ```text
//! reader thread     rows ─► chunk (1024 rows) ─► parse; validate + content hash on all cores
//! ledger thread     one transaction per chunk:  commit chunk N  (lifecycle::commit_issue,
//!                                                 intent `done`)
//!                                             + plan chunk N+3 (lifecycle::apply_checked,
//!                                                 lifecycle::plan_issue, intent `pending`)
//!                   then manifest.jsonl, errors.jsonl of chunk N (one write + fsync each)
//! render worker     all cores: lifecycle::sign_issue ─► self-check of the text ─► QrMatrix
//!                   ─► PNG (sampled image self-check) ─► DIR/<serial>.png
//! sync thread       one syncfs(2) per chunk: the chunk's files are durable before its commit
//! ```
//!
//! Three chunks are between planning and commit: while the ledger thread commits one (and
//! plans the one three ahead in the same transaction), the cores render the next and the sync
//! thread flushes the one before. The ledger thread does nothing but ledger work and the
//! appends to the two line files; everything else runs beside it.
//!
//! # Crash safety
//!
//! Every row has an idempotency key: its `ref`, or `sha256:` and the hash of its canonical
//! content. The ledger's `batch_intents` table records, before anything is signed, the row's
//! plan (serial, status index, dates, signing time) under that key, together with this job's
//! id and the input line. Whatever moment the process dies at, running the same command again
//! gives the same end state:
//!
//! * a pending intent is signed again from its plan (same serial, index and time: the same
//!   credential, as Ed25519 is deterministic) and committed; a done one is never signed again;
//! * a new permit's file is written (complete) before its ledger commit, and the commit waits
//!   for every file of its chunk; so a committed permit always has its complete file, and a file
//!   can lack its ledger row only while its intent is pending. When a job starts, the files of
//!   every pending intent are removed first (those rows are signed and written again, to the
//!   same serial), so after a finished run every file has its ledger row. A committed row whose
//!   file is missing (deleted, or another output directory) is rendered again from the
//!   credential stored in the ledger, under a temporary name renamed into place;
//! * `manifest.jsonl` and `errors.jsonl` are written in input-line order, after the commit of
//!   their chunk, so the line number of the last complete line of each is a watermark: rows at
//!   or below it are listed already, rows above it are appended. A torn last line (a crash in
//!   the middle of a write) is cut off.
//!
//! Against a crash of the process (`kill -9`) that is all: a completed `write` is in the
//! kernel's page cache whatever happens to the process. Against a crash of the machine (power
//! loss), the order of the writes must also be the order in which they reach the disk. The job
//! keeps it with one flush per step and chunk instead of one per file:
//!
//! 1. the planning transaction commits with `synchronous = FULL` (the binary sets it): the
//!    intents are on disk before anything of theirs is signed or written;
//! 2. the chunk's files are written without an fsync each, then one `syncfs(2)` makes them all
//!    durable (the sync thread);
//! 3. only then does the chunk's commit run (again `FULL`: one WAL fsync), so a committed permit
//!    has its file on disk;
//! 4. only then are its manifest lines appended and fsynced, so a listed permit is committed.
//!
//! Lost at a power failure are at most the steps not yet flushed, each of which the resume
//! handles as above: files of pending intents are removed and written again, committed rows
//! missing from the manifest are appended. Committing chunk N and planning chunk N+3 share one
//! transaction; the plan's intents become durable with that commit, before chunk N+3 is sent to
//! the cores, so the order above holds for every chunk.
//!
//! The same key seen again later in the same input is a `DUPLICATE_ROW` error (the first
//! occurrence is issued); the same `ref` with other content is a `REFERENCE_CONFLICT` error.
//! A row already issued by another job or by `issuer issue` is counted as done, and its file
//! and manifest line are written into this job's directory.
//!
//! # Self-check
//!
//! Every signed text is verified against the trust list as a verifier would. Decoding the
//! rendered image again costs milliseconds per image, so it is done on a sample: the first
//! signed row of every chunk and every `image_check_every`-th row.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use permit_shared::applicant::{Applicant, FieldError, MAX_RECORD_BYTES, RawApplicant};
use permit_shared::keys::SecretKey;
use permit_shared::trust::TrustList;

use crate::ledger::{AppState, IntentRecord, IntentState, Ledger, LedgerError, Tx};
use crate::lifecycle::{self, IssuePlan, LifecycleError, Office, SignedIssue};
use crate::render::{self, Ecc, QrMatrix, RenderOptions};
use crate::selfcheck;
use crate::settings::{Channel, Settings};

/// Rows per chunk (the unit of rendering, of the file sync and of the ledger transaction) unless
/// set. Larger chunks write fewer index pages per row (the ledger's keys are random), smaller
/// ones redo less after a crash and need less memory. 100 000 rows on 2 cores: 1 024-row chunks
/// wrote 3.3 GB and peaked at 96 MB, 4 096-row chunks 2.1 GB and 134 MB (docs/PERFORMANCE.md).
pub const DEFAULT_CHUNK_ROWS: usize = 4096;

/// The manifest file in the output directory.
pub const MANIFEST: &str = "manifest.jsonl";
/// The error list in the output directory.
pub const ERRORS: &str = "errors.jsonl";
/// The job description in the output directory.
pub const JOB_FILE: &str = "job.json";
/// The lock file in the output directory while a job runs.
pub const LOCK_FILE: &str = ".batch.lock";
/// Suffix of files not yet renamed into place.
pub const TMP_SUFFIX: &str = ".tmp";

/// Why a batch job could not run (as opposed to a row being rejected).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Reading the input or writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The input is not in the declared format (e.g. a CSV without a header).
    #[error("{path}: {detail}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The output directory belongs to a job over another input.
    #[error(
        "{dir} holds job {job} over {other_input}, not over {input}; a directory takes one input"
    )]
    JobMismatch {
        /// The output directory.
        dir: PathBuf,
        /// The job recorded there.
        job: String,
        /// Its input.
        other_input: String,
        /// The input given now.
        input: String,
    },
    /// Another live process holds the output directory.
    #[error("{dir} is in use by another batch job (process {pid})")]
    Locked {
        /// The output directory.
        dir: PathBuf,
        /// Its process id.
        pid: u32,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A lifecycle step failed for a reason that is not the row's fault.
    #[error("line {line}: {source}")]
    Lifecycle {
        /// Input line.
        line: u64,
        /// The error.
        source: LifecycleError,
    },
    /// A rendered code failed its self-check: nothing of that chunk was committed.
    #[error("line {line}: {detail}")]
    SelfCheck {
        /// Input line.
        line: u64,
        /// What failed.
        detail: String,
    },
    /// Rendering failed.
    #[error("line {line}: {source}")]
    Render {
        /// Input line.
        line: u64,
        /// The error.
        source: render::RenderError,
    },
}

impl From<LifecycleError> for BatchError {
    fn from(e: LifecycleError) -> BatchError {
        match e {
            LifecycleError::Ledger(l) => BatchError::Ledger(l),
            other => BatchError::Lifecycle {
                line: 0,
                source: other,
            },
        }
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_owned(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Input

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header line with the column names, then one applicant per record (`basis` split on `|`).
    Csv,
}

impl InputFormat {
    /// The format a file name implies (`.jsonl`, `.ndjson`, `.json`, `.csv`).
    pub fn from_path(p: &Path) -> Option<InputFormat> {
        match p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Some(InputFormat::Jsonl),
            Some("csv") => Some(InputFormat::Csv),
            _ => None,
        }
    }

    /// The name used in `job.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Jsonl => "jsonl",
            InputFormat::Csv => "csv",
        }
    }
}

/// One input row: its line number (1-based; a CSV header is line 1) and the record or why it
/// could not be read.
#[derive(Debug, Clone)]
pub struct InputRow {
    /// Line number of the row's first line.
    pub line: u64,
    /// The `ref` when it could be read, also from a record that is otherwise unreadable.
    pub reference: Option<String>,
    /// The record.
    pub record: Result<RawApplicant, FieldError>,
}

/// A streaming reader of input rows; memory does not grow with the file.
pub struct InputReader {
    inner: Inner,
    path: PathBuf,
}

enum Inner {
    Jsonl {
        r: BufReader<Box<dyn Read + Send>>,
        line: u64,
        buf: Vec<u8>,
    },
    Csv {
        r: Box<csv::Reader<Box<dyn Read + Send>>>,
        header: Vec<String>,
        rec: csv::ByteRecord,
    },
}

#[derive(Deserialize)]
struct RefOnly {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

fn field_error(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code,
        message: message.into(),
    }
}

impl InputReader {
    /// Opens a reader over `source`; `path` names it in errors. A CSV header is read at once.
    pub fn new(
        source: Box<dyn Read + Send>,
        format: InputFormat,
        path: &Path,
    ) -> Result<InputReader, BatchError> {
        let inner = match format {
            InputFormat::Jsonl => Inner::Jsonl {
                r: BufReader::with_capacity(256 * 1024, source),
                line: 0,
                buf: Vec::with_capacity(4096),
            },
            InputFormat::Csv => {
                // Records end at `\n` only (a `\r` before it is cut from the last cell): with
                // the default CR/LF/CRLF terminator the reader reports a CRLF file's records one
                // line early.
                let mut r = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .terminator(csv::Terminator::Any(b'\n'))
                    .buffer_capacity(256 * 1024)
                    .from_reader(source);
                let header = r
                    .byte_headers()
                    .map_err(|e| BatchError::Input {
                        path: path.to_owned(),
                        detail: format!("CSV header: {e}"),
                    })?
                    .iter()
                    .map(|h| {
                        String::from_utf8_lossy(h)
                            .trim_start_matches('\u{feff}')
                            .trim_end_matches('\r')
                            .to_owned()
                    })
                    .collect::<Vec<_>>();
                if header.is_empty() || header.iter().all(String::is_empty) {
                    return Err(BatchError::Input {
                        path: path.to_owned(),
                        detail: "the CSV has no header line".into(),
                    });
                }
                Inner::Csv {
                    r: Box::new(r),
                    header,
                    rec: csv::ByteRecord::new(),
                }
            }
        };
        Ok(InputReader {
            inner,
            path: path.to_owned(),
        })
    }

    /// The next row, `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<InputRow>, BatchError> {
        match &mut self.inner {
            Inner::Jsonl { r, line, buf } => loop {
                buf.clear();
                *line += 1;
                let (n, too_long) =
                    read_line_capped(r, buf, MAX_RECORD_BYTES + 2).map_err(io_err(&self.path))?;
                if n == 0 {
                    return Ok(None);
                }
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if too_long {
                    return Ok(Some(InputRow {
                        line: *line,
                        reference: None,
                        record: Err(field_error(
                            "record",
                            "RECORD_TOO_LARGE",
                            format!("the line is longer than {MAX_RECORD_BYTES} bytes"),
                        )),
                    }));
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue; // blank lines are not rows
                }
                let record = RawApplicant::from_json(buf);
                let reference = match &record {
                    Ok(a) => a.reference.clone(),
                    Err(_) => serde_json::from_slice::<RefOnly>(buf)
                        .ok()
                        .and_then(|r| r.reference),
                };
                return Ok(Some(InputRow {
                    line: *line,
                    reference,
                    record,
                }));
            },
            Inner::Csv { r, header, rec } => {
                let more = r.read_byte_record(rec).map_err(|e| BatchError::Input {
                    path: self.path.clone(),
                    detail: format!("CSV: {e}"),
                })?;
                if !more {
                    return Ok(None);
                }
                let line = rec.position().map_or(0, csv::Position::line);
                let reference = header
                    .iter()
                    .position(|h| h == "ref")
                    .and_then(|i| rec.get(i))
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned);
                let record = if rec.len() != header.len() {
                    Err(field_error(
                        "record",
                        "BAD_CSV",
                        format!("{} fields where the header has {}", rec.len(), header.len()),
                    ))
                } else if rec.as_slice().len() > MAX_RECORD_BYTES {
                    Err(field_error(
                        "record",
                        "RECORD_TOO_LARGE",
                        format!("the record is longer than {MAX_RECORD_BYTES} bytes"),
                    ))
                } else {
                    let mut cells = Vec::with_capacity(header.len());
                    let mut bad = None;
                    let last = rec.len().saturating_sub(1);
                    for (i, (h, v)) in header.iter().zip(rec.iter()).enumerate() {
                        let v = match v {
                            [rest @ .., b'\r'] if i == last => rest,
                            v => v,
                        };
                        match std::str::from_utf8(v) {
                            Ok(v) => cells.push((h.as_str(), v)),
                            Err(_) => {
                                bad = Some(h.clone());
                                break;
                            }
                        }
                    }
                    match bad {
                        Some(h) => Err(field_error(&h, "BAD_ENCODING", "not UTF-8")),
                        None => RawApplicant::from_cells(cells),
                    }
                };
                Ok(Some(InputRow {
                    line,
                    reference,
                    record,
                }))
            }
        }
    }
}

/// Reads one line (with its `\n`) into `buf`, keeping at most `cap` bytes and skipping the
/// rest. Returns the bytes consumed and whether the line was longer than `cap`.
fn read_line_capped(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    let mut total = 0;
    let mut too_long = false;
    loop {
        let (done, used) = {
            let avail = match r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Ok((total, too_long));
            }
            let (done, used) = match memchr_nl(avail) {
                Some(i) => (true, i + 1),
                None => (false, avail.len()),
            };
            let room = cap.saturating_sub(buf.len());
            if used > room {
                too_long = true;
                buf.extend_from_slice(&avail[..room]);
            } else {
                buf.extend_from_slice(&avail[..used]);
            }
            (done, used)
        };
        r.consume(used);
        total += used;
        if done {
            return Ok((total, too_long));
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

// ---------------------------------------------------------------------------------------------
// Output records

/// One line of `manifest.jsonl`: an issued (or previously issued) permit and its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLine {
    /// Input line.
    pub line: u64,
    /// The row's `ref`, if it has one.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The idempotency key (`ref`, or `sha256:` and the content hash).
    pub key: String,
    /// Application number.
    pub application: String,
    /// Permit serial (12 digits).
    pub serial: String,
    /// Credential version.
    pub version: u32,
    /// Signing key id.
    pub key_id: String,
    /// The QR image (file name in the output directory).
    pub file: String,
    /// Other renderings written (SVG, text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// QR version of the symbol.
    pub qr_version: u8,
    /// ECC level.
    pub ecc: String,
}

/// One line of `errors.jsonl`: a rejected input row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLine {
    /// Input line (CSV: the header is line 1).
    pub line: u64,
    /// The row's `ref`, if it could be read.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The first offending field (`record` for the row as a whole).
    pub field: String,
    /// Stable reason code of the first problem, e.g. `ID_CHECKSUM`, `REFERENCE_CONFLICT`.
    pub code: String,
    /// Explanation.
    pub message: String,
    /// Every problem found, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One problem of a rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Field.
    pub field: String,
    /// Code.
    pub code: String,
    /// Explanation.
    pub message: String,
}

impl ErrorLine {
    fn new(line: u64, reference: Option<String>, problems: Vec<Problem>) -> ErrorLine {
        let first = problems.first().cloned().unwrap_or(Problem {
            field: "record".into(),
            code: "REJECTED".into(),
            message: "rejected".into(),
        });
        ErrorLine {
            line,
            reference,
            field: first.field,
            code: first.code,
            message: first.message,
            problems: if problems.len() > 1 {
                problems
            } else {
                Vec::new()
            },
        }
    }

    fn one(
        line: u64,
        reference: Option<String>,
        field: &str,
        code: &str,
        message: String,
    ) -> ErrorLine {
        ErrorLine::new(
            line,
            reference,
            vec![Problem {
                field: field.into(),
                code: code.into(),
                message,
            }],
        )
    }
}

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

/// `job.json`: which input an output directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// Job id, recorded with every intent.
    pub job: String,
    /// The input file (absolute path).
    pub input: String,
    /// Its format.
    pub format: InputFormat,
    /// When the job was first started (RFC 3339).
    pub started_at: String,
}

// ---------------------------------------------------------------------------------------------
// Options, counts

/// Which renderings to write per permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    /// SVG next to the PNG.
    pub svg: bool,
    /// The QR text (`.txt`) next to the PNG.
    pub text: bool,
}

/// What a batch job needs besides the ledger and the input.
pub struct BatchOptions<'a> {
    /// The output directory (created if missing).
    pub out_dir: &'a Path,
    /// The input file (recorded in `job.json`).
    pub input: &'a Path,
    /// Its format.
    pub format: InputFormat,
    /// Settings.
    pub settings: &'a Settings,
    /// Signing key.
    pub key: &'a SecretKey,
    /// Whether it is TEST-ONLY.
    pub key_is_test: bool,
    /// Trust list for the self-check.
    pub trust: &'a TrustList,
    /// Who acts (recorded in the ledger).
    pub actor: &'a str,
    /// Channel the applications came in by.
    pub channel: Channel,
    /// ECC level.
    pub ecc: Ecc,
    /// Image size.
    pub render: RenderOptions,
    /// Extra renderings.
    pub outputs: Outputs,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Decode every n-th image again (besides the first signed row of every chunk); 0: only
    /// those.
    pub image_check_every: u64,
    /// The clock, read once per chunk.
    pub clock: &'a (dyn Fn() -> DateTime<Utc> + Sync),
    /// Set (e.g. by a signal handler) to stop after the chunk in progress commits.
    pub stop: &'a AtomicBool,
}

/// Counts of a batch run, also passed to the progress callback after every chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Rows read.
    pub rows: u64,
    /// Permits committed by this run (new, or resumed from a pending intent).
    pub issued: u64,
    /// Of those, resumed from an intent a previous run had recorded.
    pub resumed: u64,
    /// Rows issued before (by an earlier run of this job, another job, or `issuer issue`).
    pub already_done: u64,
    /// Rows rejected (each is a line of `errors.jsonl`).
    pub rejected: u64,
    /// Files rendered again for rows committed earlier whose file was missing.
    pub files_restored: u64,
    /// Manifest lines written by this run.
    pub manifest_lines: u64,
    /// Error lines written by this run.
    pub error_lines: u64,
    /// Images decoded again by the self-check.
    pub images_checked: u64,
    /// Texts verified by the self-check.
    pub texts_checked: u64,
    /// True when the job stopped early on request.
    pub interrupted: bool,
}

// ---------------------------------------------------------------------------------------------
// The output directory

/// The output directory of a job: lock, job file, watermarks of the two line files.
struct JobDir {
    dir: PathBuf,
    job: String,
    manifest: File,
    errors: File,
    manifest_mark: u64,
    errors_mark: u64,
    lock: PathBuf,
}

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.lock);
    }
}

/// Whether process `pid` is alive (Linux `/proc`; a zombie is dead).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X') | None
        ),
    }
}

fn take_lock(dir: &Path) -> Result<PathBuf, BatchError> {
    let lock = dir.join(LOCK_FILE);
    for _ in 0..3 {
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut f) => {
                writeln!(f, "{}", std::process::id()).map_err(io_err(&lock))?;
                return Ok(lock);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pid = fs::read_to_string(&lock)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                match pid {
                    Some(pid) if process_alive(pid) => {
                        return Err(BatchError::Locked {
                            dir: dir.to_owned(),
                            pid,
                        });
                    }
                    // A lock left by a process that died (or a torn write): take it over.
                    _ => {
                        let _ = fs::remove_file(&lock);
                    }
                }
            }
            Err(e) => return Err(io_err(&lock)(e)),
        }
    }
    Err(BatchError::Io {
        path: lock,
        source: io::Error::other("could not take the lock"),
    })
}

/// Opens a line file for appending, cuts a torn last line, and returns the `line` field of the
/// last complete line (0 when empty).
fn open_line_file(path: &Path) -> Result<(File, u64), BatchError> {
    #[derive(Deserialize)]
    struct LineOnly {
        line: u64,
    }
    let e = io_err(path);
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(&e)?;
    let len = f.metadata().map_err(&e)?.len();
    if len == 0 {
        return Ok((f, 0));
    }
    // Read backwards until the tail holds one complete line before the end.
    let mut tail_len = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(tail_len);
        f.seek(SeekFrom::Start(start)).map_err(&e)?;
        let mut tail = Vec::new();
        (&f).take(len - start).read_to_end(&mut tail).map_err(&e)?;
        let keep = tail.iter().rposition(|b| *b == b'\n').map(|i| i + 1);
        let Some(keep) = keep else {
            if start == 0 {
                // Not one complete line: the whole file is a torn line.
                f.set_len(0).map_err(&e)?;
                return Ok((f, 0));
            }
            tail_len *= 4;
            continue;
        };
        let cut = start + keep as u64;
        if cut < len {
            f.set_len(cut).map_err(&e)?;
            f.sync_data().map_err(&e)?;
        }
        let complete = &tail[..keep - 1];
        let last = match complete.iter().rposition(|b| *b == b'\n') {
            Some(i) => &complete[i + 1..],
            None if start == 0 => complete,
            None => {
                tail_len *= 4;
                continue;
            }
        };
        let mark = serde_json::from_slice::<LineOnly>(last)
            .map_err(|err| BatchError::Input {
                path: path.to_owned(),
                detail: format!("last line is not a batch record: {err}"),
            })?
            .line;
        return Ok((f, mark));
    }
}

impl JobDir {
    fn open(opts: &BatchOptions<'_>, now: DateTime<Utc>) -> Result<JobDir, BatchError> {
        let dir = opts.out_dir.to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock = take_lock(&dir)?;
        let input = fs::canonicalize(opts.input)
            .unwrap_or_else(|_| opts.input.to_owned())
            .display()
            .to_string();
        let job_path = dir.join(JOB_FILE);
        let job = match fs::read(&job_path) {
            Ok(bytes) => {
                let j: JobFile =
                    serde_json::from_slice(&bytes).map_err(|err| BatchError::Input {
                        path: job_path.clone(),
                        detail: err.to_string(),
                    })?;
                if j.input != input || j.format != opts.format {
                    let _ = fs::remove_file(&lock);
                    return Err(BatchError::JobMismatch {
                        dir,
                        job: j.job,
                        other_input: format!("{} ({})", j.input, j.format.as_str()),
                        input: format!("{input} ({})", opts.format.as_str()),
                    });
                }
                j.job
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let id = format!(
                    "J{:012}",
                    lifecycle::random_below(1_000_000_000_000).map_err(BatchError::from)?
                );
                let j = JobFile {
                    job: id.clone(),
                    input,
                    format: opts.format,
                    started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                };
                let tmp = dir.join(format!("{JOB_FILE}{TMP_SUFFIX}"));
                let bytes = serde_json::to_vec_pretty(&j).map_err(|err| BatchError::Io {
                    path: job_path.clone(),
                    source: io::Error::other(err),
                })?;
                write_synced(&tmp, &bytes)?;
                fs::rename(&tmp, &job_path).map_err(io_err(&job_path))?;
                sync_dir(&dir)?;
                id
            }
            Err(err) => return Err(io_err(&job_path)(err)),
        };
        // Files of rows that never committed.
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(TMP_SUFFIX) {
                let p = entry.path();
                fs::remove_file(&p).map_err(io_err(&p))?;
            }
        }
        let (manifest, manifest_mark) = open_line_file(&dir.join(MANIFEST))?;
        let (errors, errors_mark) = open_line_file(&dir.join(ERRORS))?;
        Ok(JobDir {
            dir,
            job,
            manifest,
            errors,
            manifest_mark,
            errors_mark,
            lock,
        })
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BatchError> {
    let mut f = File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<(), BatchError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn append_lines<T: Serialize>(f: &mut File, path: &Path, lines: &[T]) -> Result<(), BatchError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut buf = Vec::with_capacity(lines.len() * 256);
    for l in lines {
        serde_json::to_writer(&mut buf, l).map_err(|e| BatchError::Io {
            path: path.to_owned(),
            source: io::Error::other(e),
        })?;
        buf.push(b'\n');
    }
    // One write: a crash leaves at most one torn line, cut when the job resumes.
    f.write_all(&buf).map_err(io_err(path))?;
    f.sync_data().map_err(io_err(path))
}

// ---------------------------------------------------------------------------------------------
// The pipeline

/// What planning decided for a row.
enum Plan {
    /// Rejected: an error line.
    Reject(ErrorLine),
    /// Sign, render, commit (new, or a pending intent resumed).
    Sign { plan: IssuePlan, resumed: bool },
    /// Committed before: make sure the file exists and the manifest lists it.
    Done(DoneRow),
    /// Committed before, listed and its files present: nothing to do.
    Complete,
}

struct DoneRow {
    serial: u64,
    version: u32,
    key_id: String,
    text: String,
    /// The files are missing.
    render_files: bool,
}

struct Item {
    line: u64,
    reference: Option<String>,
    key: String,
    application: String,
    plan: Plan,
    /// Decode the image again.
    image_check: bool,
    /// Append a manifest line (line above the watermark).
    list: bool,
}

/// What rendering gave for a row.
struct Rendered {
    signed: Option<SignedIssue>,
    qr_version: u8,
    /// Files written.
    files: Vec<PathBuf>,
}

struct Chunk {
    items: Vec<Item>,
    office_now: DateTime<Utc>,
}

/// File names of a permit's renderings: the PNG first.
fn file_names(serial: u64, outputs: Outputs) -> Vec<String> {
    let mut v = vec![format!("{serial:012}.png")];
    if outputs.svg {
        v.push(format!("{serial:012}.svg"));
    }
    if outputs.text {
        v.push(format!("{serial:012}.txt"));
    }
    v
}

/// Chunks planned and not yet committed: the ledger thread commits chunk N (and plans chunk
/// N + 3 in the same transaction) while the sync thread flushes chunk N + 1 and the cores render
/// chunk N + 2.
const PIPELINE_DEPTH: usize = 3;

/// A row read and checked before it reaches the ledger thread: validation and the content hash
/// need no ledger, so they run on all cores.
struct ReadRow {
    row: InputRow,
    /// The validated applicant and its content hash; `None` when the record could not be read.
    checked: Option<Result<(Applicant, String), Vec<FieldError>>>,
}

/// A chunk of rows read and checked, with the clock reading its rows were validated at.
struct ReadChunk {
    rows: Vec<ReadRow>,
    now: DateTime<Utc>,
}

fn check_row(row: InputRow, today: chrono::NaiveDate) -> ReadRow {
    let checked = row.record.as_ref().ok().map(|raw| {
        raw.validate(today).map(|a| {
            let hash = lifecycle::content_hash(&a);
            (a, hash)
        })
    });
    ReadRow { row, checked }
}

/// The reader thread: reads chunks of rows, checks them on all cores, hands them on. It reads
/// at most two chunks ahead (the channel's bound) and stops when the receiver is gone.
fn read_chunks(
    input: &mut InputReader,
    opts: &BatchOptions<'_>,
    chunk_rows: usize,
    out: &mpsc::SyncSender<Result<ReadChunk, BatchError>>,
) {
    loop {
        let mut rows = Vec::with_capacity(chunk_rows);
        while rows.len() < chunk_rows {
            match input.next_row() {
                Ok(Some(r)) => rows.push(r),
                Ok(None) => break,
                Err(e) => {
                    let _ = out.send(Err(e));
                    return;
                }
            }
        }
        if rows.is_empty() {
            return;
        }
        let now = (opts.clock)();
        let today = permit_shared::civil::date_of(now);
        let rows = rows
            .into_par_iter()
            .map(|row| check_row(row, today))
            .collect();
        if out.send(Ok(ReadChunk { rows, now })).is_err() {
            return;
        }
    }
}

/// Runs a batch job to the end of the input (or until `opts.stop` is set).
///
/// `progress` is called after every committed chunk with the counts so far.
///
/// # Errors
///
/// [`BatchError`] when the job itself cannot go on; rejected rows are not errors but lines of
/// `errors.jsonl`, counted in [`Summary::rejected`].
pub fn run<L: Ledger>(
    ledger: &mut L,
    input: &mut InputReader,
    opts: &BatchOptions<'_>,
    progress: &mut dyn FnMut(&Summary),
) -> Result<Summary, BatchError> {
    let mut dir = JobDir::open(opts, (opts.clock)())?;
    // Files written for rows that never committed (a job that died): removed, to be written
    // again when those rows are signed again.
    let pending = ledger.transaction(|tx| tx.pending_intent_serials())?;
    for serial in pending {
        for name in file_names(serial, opts.outputs) {
            let p = dir.dir.join(name);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
        }
    }
    let mut summary = Summary::default();
    let chunk_rows = opts.chunk_rows.max(1);

    std::thread::scope(|scope| -> Result<(), BatchError> {
        let (read_tx, read_rx) = mpsc::sync_channel::<Result<ReadChunk, BatchError>>(1);
        let reader = scope.spawn(move || read_chunks(input, opts, chunk_rows, &read_tx));
        let (job_tx, job_rx) = mpsc::sync_channel::<Chunk>(PIPELINE_DEPTH);
        let (sync_tx, sync_rx) = mpsc::sync_channel::<ChunkResult>(PIPELINE_DEPTH);
        let (res_tx, res_rx) = mpsc::sync_channel::<ChunkResult>(PIPELINE_DEPTH);
        let worker_dir = dir.dir.clone();
        let worker = scope.spawn(move || {
            for chunk in job_rx {
                let out = render_chunk(&chunk, &worker_dir, opts);
                if sync_tx.send((chunk, out)).is_err() {
                    break;
                }
            }
        });
        // The files of a chunk are made durable here, off the cores' path: the workers render
        // the next chunk meanwhile.
        let sync_dir = dir.dir.clone();
        let syncer = scope.spawn(move || {
            for (chunk, out) in sync_rx {
                let out = out.and_then(|r| {
                    sync_files(&sync_dir, &r)?;
                    Ok(r)
                });
                if res_tx.send((chunk, out)).is_err() {
                    break;
                }
            }
        });
        let mut pipe = Pipe {
            read_rx,
            job_tx,
            res_rx,
            input_done: false,
            in_flight: 0,
            row_index: 0,
        };
        let result = drive(ledger, &mut pipe, opts, &mut dir, &mut summary, progress);
        let Pipe {
            read_rx,
            job_tx,
            res_rx,
            ..
        } = pipe;
        // Stop the reader and let the worker finish what it holds; its results are dropped
        // uncommitted (their intents stay pending, their files are removed at the next start).
        drop(read_rx);
        drop(job_tx);
        for _ in res_rx.iter() {}
        let _ = worker.join();
        let _ = syncer.join();
        let _ = reader.join();
        result
    })?;
    Ok(summary)
}

/// The channels of the pipeline, as seen from the ledger thread.
struct Pipe {
    read_rx: mpsc::Receiver<Result<ReadChunk, BatchError>>,
    job_tx: mpsc::SyncSender<Chunk>,
    res_rx: mpsc::Receiver<ChunkResult>,
    input_done: bool,
    in_flight: usize,
    row_index: u64,
}

impl Pipe {
    /// The next chunk of rows, `None` at the end of the input or when asked to stop.
    fn next_rows(
        &mut self,
        opts: &BatchOptions<'_>,
        summary: &mut Summary,
    ) -> Result<Option<ReadChunk>, BatchError> {
        if self.input_done {
            return Ok(None);
        }
        if opts.stop.load(Ordering::SeqCst) {
            summary.interrupted = true;
            self.input_done = true;
            return Ok(None);
        }
        match self.read_rx.recv() {
            Ok(Ok(c)) => Ok(Some(c)),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                self.input_done = true;
                Ok(None)
            }
        }
    }

    fn send(&mut self, chunk: Chunk, opts: &BatchOptions<'_>) -> Result<(), BatchError> {
        self.job_tx
            .send(chunk)
            .map_err(|_| worker_stopped(opts.out_dir))?;
        self.in_flight += 1;
        Ok(())
    }
}

/// A chunk and what rendering it gave.
type ChunkResult = (Chunk, Result<Vec<Option<Rendered>>, BatchError>);

/// Makes the files just written for a chunk durable before the chunk's ledger commit: one
/// `syncfs(2)` of the output directory's file system (Linux) rather than an fsync per file,
/// which would cost milliseconds per permit. Elsewhere, each file is synced.
fn sync_files(dir: &Path, rendered: &[Option<Rendered>]) -> Result<(), BatchError> {
    if rendered.iter().flatten().all(|r| r.files.is_empty()) {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        sync_file_system(dir)
    }
    #[cfg(not(target_os = "linux"))]
    {
        for f in rendered.iter().flatten().flat_map(|r| &r.files) {
            File::open(f)
                .and_then(|f| f.sync_all())
                .map_err(io_err(f))?;
        }
        sync_dir(dir)
    }
}

/// `syncfs(2)` of the file system holding `dir`: every file written there so far is durable
/// when it returns.
///
/// # Errors
///
/// [`BatchError::Io`] when the directory cannot be opened or the sync fails.
#[cfg(target_os = "linux")]
pub fn sync_file_system(dir: &Path) -> Result<(), BatchError> {
    let d = File::open(dir).map_err(io_err(dir))?;
    rustix::fs::syncfs(&d).map_err(|e| io_err(dir)(e.into()))
}

fn worker_stopped(dir: &Path) -> BatchError {
    BatchError::Io {
        path: dir.to_owned(),
        source: io::Error::other("the rendering worker stopped"),
    }
}

/// The ledger thread: the only one that touches the ledger and the line files.
///
/// ```text
/// plan 1, plan 2, plan 3 (one tx each) ─► [commit 1 + plan 4] ─► [commit 2 + plan 5] ─► …
///            render 1, sync 1 ─► render 2, sync 2 ─► render 3 …
/// ```
///
/// One transaction (one WAL fsync) per chunk: committing chunk N and planning chunk N + 3 share
/// it, which also halves the index pages written, as both touch the same tables.
fn drive<L: Ledger>(
    ledger: &mut L,
    pipe: &mut Pipe,
    opts: &BatchOptions<'_>,
    dir: &mut JobDir,
    summary: &mut Summary,
    progress: &mut dyn FnMut(&Summary),
) -> Result<(), BatchError> {
    // Fill the pipeline: the first chunks are planned in transactions of their own.
    while pipe.in_flight < PIPELINE_DEPTH {
        let Some(rows) = pipe.next_rows(opts, summary)? else {
            break;
        };
        let mut row_index = pipe.row_index;
        let chunk = ledger.transaction(|tx| plan_chunk(tx, rows, opts, dir, &mut row_index))?;
        pipe.row_index = row_index;
        summary.rows += chunk.items.len() as u64;
        pipe.send(chunk, opts)?;
    }
    while pipe.in_flight > 0 {
        let (chunk, rendered) = pipe
            .res_rx
            .recv()
            .map_err(|_| worker_stopped(opts.out_dir))?;
        pipe.in_flight -= 1;
        let rendered = rendered?;
        let next = pipe.next_rows(opts, summary)?;
        let now = (opts.clock)();
        let mut row_index = pipe.row_index;
        let (taken_over, planned) = ledger.transaction(|tx| -> Result<_, BatchError> {
            let taken_over = commit_chunk(tx, &chunk, &rendered, opts, now)?;
            let planned = match next {
                Some(rows) => Some(plan_chunk(tx, rows, opts, dir, &mut row_index)?),
                None => None,
            };
            Ok((taken_over, planned))
        })?;
        pipe.row_index = row_index;
        if let Some(p) = planned {
            summary.rows += p.items.len() as u64;
            pipe.send(p, opts)?;
        }
        finish_chunk(chunk, rendered, taken_over, opts, dir, summary)?;
        progress(summary);
    }
    Ok(())
}

/// Planning, inside a transaction: validates and applies every row and records the intent of
/// every new issuance.
fn plan_chunk(
    tx: &mut dyn Tx,
    rows: ReadChunk,
    opts: &BatchOptions<'_>,
    dir: &JobDir,
    row_index: &mut u64,
) -> Result<Chunk, BatchError> {
    let office = Office {
        settings: opts.settings,
        key: opts.key,
        key_is_test: opts.key_is_test,
        now: rows.now,
        actor: opts.actor,
    };
    let mut first_sign = true;
    let mut items = Vec::with_capacity(rows.rows.len());
    let mut idx = *row_index;
    for row in &rows.rows {
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
        list: line > dir.manifest_mark,
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
    if let Err(e) = lifecycle::check_key_policy(office, a.test) {
        return Ok(reject(
            item,
            ErrorLine::one(line, row.reference.clone(), "test", e.code(), e.to_string()),
        ));
    }
    item.key = match &a.reference {
        Some(r) => r.clone(),
        None => format!("sha256:{hash}"),
    };
    // A `ref` row goes through `apply` first: the same ref with other content is a conflict.
    // A row without `ref` is known by its content only, so its intent is looked up first (an
    // application without a reference is recorded anew each time).
    let mut applied = None;
    if a.reference.is_some() {
        applied = Some(apply_row(
            tx,
            office,
            a,
            hash,
            opts.channel,
            line,
            &row.reference,
        )?);
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
        applied = Some(apply_row(
            tx,
            office,
            a,
            hash,
            opts.channel,
            line,
            &row.reference,
        )?);
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
            let plan = match lifecycle::plan_issue(tx, office, &applied.application, a) {
                Ok(p) => p,
                Err(e @ LifecycleError::Refused { .. }) => {
                    return Ok(reject(
                        item,
                        ErrorLine::one(
                            line,
                            row.reference.clone(),
                            "record",
                            e.code(),
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
            e.code(),
            e.to_string(),
        ))),
        Err(e) => Err(with_line(e, line)),
    }
}

fn with_line(e: LifecycleError, line: u64) -> BatchError {
    match e {
        LifecycleError::Ledger(l) => BatchError::Ledger(l),
        other => BatchError::Lifecycle {
            line,
            source: other,
        },
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
    if files_present && !item.list {
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

/// Rendering, on all cores: sign, verify the text, render, write the files.
fn render_chunk(
    chunk: &Chunk,
    dir: &Path,
    opts: &BatchOptions<'_>,
) -> Result<Vec<Option<Rendered>>, BatchError> {
    chunk
        .items
        .par_iter()
        .map(|item| render_item(item, dir, opts, chunk.office_now))
        .collect()
}

fn render_item(
    item: &Item,
    dir: &Path,
    opts: &BatchOptions<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Rendered>, BatchError> {
    let line = item.line;
    let (signed, serial, text, write) = match &item.plan {
        Plan::Reject(_) | Plan::Complete => return Ok(None),
        Plan::Sign { plan, .. } => {
            let s =
                lifecycle::sign_issue(plan.clone(), opts.key).map_err(|e| with_line(e, line))?;
            selfcheck::verify_text(&s.credential.text, opts.trust, now).map_err(|e| {
                BatchError::SelfCheck {
                    line,
                    detail: e.to_string(),
                }
            })?;
            let serial = s.plan.serial;
            let text = s.credential.text.clone();
            (Some(s), serial, text, true)
        }
        Plan::Done(d) => (None, d.serial, d.text.clone(), d.render_files),
    };
    let m =
        QrMatrix::encode(&text, opts.ecc).map_err(|source| BatchError::Render { line, source })?;
    let mut files = Vec::new();
    if write {
        let png = render::to_png(&m, &opts.render)
            .map_err(|source| BatchError::Render { line, source })?;
        if item.image_check {
            selfcheck::check_image(&png, &text, opts.trust, now).map_err(|e| {
                BatchError::SelfCheck {
                    line,
                    detail: e.to_string(),
                }
            })?;
        }
        for name in file_names(serial, opts.outputs) {
            let bytes = if name.ends_with(".png") {
                std::borrow::Cow::Borrowed(png.as_slice())
            } else if name.ends_with(".svg") {
                std::borrow::Cow::Owned(
                    render::to_svg(&m, &opts.render)
                        .map_err(|source| BatchError::Render { line, source })?
                        .into_bytes(),
                )
            } else {
                std::borrow::Cow::Owned(format!("{text}\n").into_bytes())
            };
            let fin = dir.join(&name);
            if signed.is_some() {
                // Not committed yet: a crash leaves it to the clean-up of pending intents.
                fs::write(&fin, &bytes).map_err(io_err(&fin))?;
            } else {
                // Committed before: only ever replaced whole.
                let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
                fs::write(&tmp, &bytes).map_err(io_err(&tmp))?;
                fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
            }
            files.push(fin);
        }
    }
    Ok(Some(Rendered {
        signed,
        qr_version: m.version(),
        files,
    }))
}

/// Rows another process committed between planning and committing: their stored version, key
/// id and text, by position in the chunk.
type TakenOver = HashMap<usize, (u32, String, String)>;

/// Committing, inside a transaction: the chunk's new permits (intent done; permit, credential,
/// approval). Runs after every file of the chunk was written.
fn commit_chunk(
    tx: &mut dyn Tx,
    chunk: &Chunk,
    rendered: &[Option<Rendered>],
    opts: &BatchOptions<'_>,
    now: DateTime<Utc>,
) -> Result<TakenOver, BatchError> {
    let office = Office {
        settings: opts.settings,
        key: opts.key,
        key_is_test: opts.key_is_test,
        now,
        actor: opts.actor,
    };
    // Rows another process committed between our phases: their stored text wins.
    let mut taken_over = TakenOver::new();
    for (i, (item, r)) in chunk.items.iter().zip(rendered).enumerate() {
        let Some(Rendered {
            signed: Some(s), ..
        }) = r
        else {
            continue;
        };
        if tx.finish_intent(&item.key)? {
            lifecycle::commit_issue(tx, &office, s, "batch issuance")
                .map_err(|e| with_line(e, item.line))?;
        } else {
            let cur = lifecycle::current(tx, s.plan.serial).map_err(|e| with_line(e, item.line))?;
            taken_over.insert(i, (cur.version, cur.key_id, cur.text));
        }
    }
    Ok(taken_over)
}

/// After the commit: files of rows taken over, then the manifest and error lines of the chunk.
fn finish_chunk(
    chunk: Chunk,
    rendered: Vec<Option<Rendered>>,
    mut taken_over: TakenOver,
    opts: &BatchOptions<'_>,
    dir: &mut JobDir,
    summary: &mut Summary,
) -> Result<(), BatchError> {
    // Rows another process committed first: write the files of the credential it stored.
    for (i, (_, _, text)) in &taken_over {
        let (Some(item), Some(Some(r))) = (chunk.items.get(*i), rendered.get(*i)) else {
            continue;
        };
        let serial = r.signed.as_ref().map_or(0, |s| s.plan.serial);
        write_files_now(serial, text, opts, &dir.dir, item.line)?;
    }
    summary.files_restored += rendered
        .iter()
        .flatten()
        .filter(|r| r.signed.is_none() && !r.files.is_empty())
        .count() as u64;
    let mut manifest = Vec::new();
    let mut errors = Vec::new();
    for (i, (item, r)) in chunk.items.into_iter().zip(rendered).enumerate() {
        match item.plan {
            Plan::Reject(e) => {
                summary.rejected += 1;
                if item.line > dir.errors_mark {
                    errors.push(e);
                }
            }
            Plan::Complete => summary.already_done += 1,
            Plan::Sign { plan, resumed } => {
                let taken = taken_over.remove(&i);
                if taken.is_some() {
                    summary.already_done += 1;
                } else {
                    summary.issued += 1;
                    summary.resumed += u64::from(resumed);
                }
                summary.texts_checked += 1;
                summary.images_checked += u64::from(item.image_check);
                let (version, key_id) = match taken {
                    Some((v, k, _)) => (v, k),
                    None => (1, opts.key.public().id().to_string()),
                };
                if item.list {
                    manifest.push(manifest_line(
                        &item.reference,
                        item.key,
                        item.application,
                        item.line,
                        plan.serial,
                        version,
                        key_id,
                        r.map_or(0, |r| r.qr_version),
                        opts,
                    ));
                }
            }
            Plan::Done(d) => {
                summary.already_done += 1;
                summary.images_checked += u64::from(item.image_check && d.render_files);
                if item.list {
                    manifest.push(manifest_line(
                        &item.reference,
                        item.key,
                        item.application,
                        item.line,
                        d.serial,
                        d.version,
                        d.key_id,
                        r.map_or(0, |r| r.qr_version),
                        opts,
                    ));
                }
            }
        }
    }
    let errors_path = dir.dir.join(ERRORS);
    append_lines(&mut dir.errors, &errors_path, &errors)?;
    if let Some(l) = errors.last() {
        dir.errors_mark = l.line;
    }
    summary.error_lines += errors.len() as u64;
    let manifest_path = dir.dir.join(MANIFEST);
    append_lines(&mut dir.manifest, &manifest_path, &manifest)?;
    if let Some(l) = manifest.last() {
        dir.manifest_mark = l.line;
    }
    summary.manifest_lines += manifest.len() as u64;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn manifest_line(
    reference: &Option<String>,
    key: String,
    application: String,
    line: u64,
    serial: u64,
    version: u32,
    key_id: String,
    qr_version: u8,
    opts: &BatchOptions<'_>,
) -> ManifestLine {
    let mut names = file_names(serial, opts.outputs).into_iter();
    ManifestLine {
        line,
        reference: reference.clone(),
        key,
        application,
        serial: format!("{serial:012}"),
        version,
        key_id,
        file: names.next().unwrap_or_default(),
        also: names.collect(),
        qr_version,
        ecc: opts.ecc.to_string(),
    }
}

/// Renders and writes a committed credential's files directly (temporary name, then rename).
fn write_files_now(
    serial: u64,
    text: &str,
    opts: &BatchOptions<'_>,
    dir: &Path,
    line: u64,
) -> Result<(), BatchError> {
    let m =
        QrMatrix::encode(text, opts.ecc).map_err(|source| BatchError::Render { line, source })?;
    for name in file_names(serial, opts.outputs) {
        let bytes = if name.ends_with(".png") {
            render::to_png(&m, &opts.render)
                .map_err(|source| BatchError::Render { line, source })?
        } else if name.ends_with(".svg") {
            render::to_svg(&m, &opts.render)
                .map_err(|source| BatchError::Render { line, source })?
                .into_bytes()
        } else {
            format!("{text}\n").into_bytes()
        };
        let fin = dir.join(&name);
        let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
        fs::write(&tmp, &bytes).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lines() {
        let data = b"short\nthis line is long\n\nlast";
        let mut r = BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (6, false));
        assert_eq!(buf, b"short\n");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (18, true));
        assert_eq!(buf.len(), 10);
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (1, false));
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (4, false));
        assert_eq!(buf, b"last");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 10).unwrap(), (0, false));
    }

    #[test]
    fn torn_last_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        fs::write(&p, "{\"line\":2}\n{\"line\":7,\"x\":1}\n{\"line\":9,\"tor").unwrap();
        let (_, mark) = open_line_file(&p).unwrap();
        assert_eq!(mark, 7);
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "{\"line\":2}\n{\"line\":7,\"x\":1}\n"
        );
        fs::write(&p, "{\"line\":3,\"tor").unwrap();
        assert_eq!(open_line_file(&p).unwrap().1, 0);
        assert_eq!(fs::read(&p).unwrap().len(), 0);
    }

    #[test]
    fn rows_with_line_numbers() {
        let jsonl =
            "{\"ref\":\"A\",\"name\":\"x\"}\n\n{\"ref\":\"B\",\"is_admin\":true}\nnot json\n";
        let mut r = InputReader::new(
            Box::new(io::Cursor::new(jsonl.as_bytes().to_vec())),
            InputFormat::Jsonl,
            Path::new("t.jsonl"),
        )
        .unwrap();
        let a = r.next_row().unwrap().unwrap();
        assert_eq!((a.line, a.reference.as_deref()), (1, Some("A")));
        let b = r.next_row().unwrap().unwrap();
        assert_eq!((b.line, b.reference.as_deref()), (3, Some("B")));
        assert_eq!(b.record.unwrap_err().code, "UNKNOWN_FIELD");
        let c = r.next_row().unwrap().unwrap();
        assert_eq!((c.line, c.record.unwrap_err().code), (4, "BAD_JSON"));
        assert!(r.next_row().unwrap().is_none());

        let csv = "ref,name,basis\nA,x,employment|housing\n\"B\",\"multi\nline\",study\nC,y\n";
        let mut r = InputReader::new(
            Box::new(io::Cursor::new(csv.as_bytes().to_vec())),
            InputFormat::Csv,
            Path::new("t.csv"),
        )
        .unwrap();
        let a = r.next_row().unwrap().unwrap();
        assert_eq!(a.line, 2);
        assert_eq!(
            a.record.unwrap().basis,
            Some(vec!["employment".to_owned(), "housing".to_owned()])
        );
        let b = r.next_row().unwrap().unwrap();
        assert_eq!((b.line, b.reference.as_deref()), (3, Some("B")));
        let c = r.next_row().unwrap().unwrap();
        assert_eq!((c.line, c.record.unwrap_err().code), (5, "BAD_CSV"));
        assert!(r.next_row().unwrap().is_none());

        // CRLF, as Python's csv module writes.
        let csv = "ref,name,test\r\nA,x,true\r\nB,\"two\r\nlines\",false\r\nC,z,true\r\n";
        let mut r = InputReader::new(
            Box::new(io::Cursor::new(csv.as_bytes().to_vec())),
            InputFormat::Csv,
            Path::new("t.csv"),
        )
        .unwrap();
        let a = r.next_row().unwrap().unwrap();
        assert_eq!((a.line, a.record.unwrap().test), (2, Some(true)));
        let b = r.next_row().unwrap().unwrap();
        assert_eq!((b.line, b.record.unwrap().test), (3, Some(false)));
        let c = r.next_row().unwrap().unwrap();
        assert_eq!((c.line, c.reference.as_deref()), (5, Some("C")));
        assert!(r.next_row().unwrap().is_none());
    }
}
