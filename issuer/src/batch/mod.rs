//! Batch issuance: a JSONL or CSV file of applicants in, permits in the ledger, one QR image per
//! permit, a manifest and an error list out. Streaming, parallel, resumable, idempotent.
//!
//! ```text
//! job start         job.json (the input's SHA-256 and rows: one read of the input), the
//!                   serials manifest.jsonl lists, errors.jsonl emptied, row claims forgotten
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
//! * `manifest.jsonl` lines are appended after the commit of their chunk, one per permit: the
//!   serials it lists are the watermark (read when the job starts), so a committed permit it
//!   does not list yet (a crash between a commit and its lines, or a row issued by another job)
//!   is appended by the next run, and a permit is never listed twice. Input line numbers are no
//!   watermark: they move when the office deletes rows. A torn last line (a crash in the middle
//!   of a write) is cut off;
//! * `errors.jsonl` lists the rows rejected by the latest run: it is emptied when a run starts
//!   and its lines are appended, in input order, after the commit of their chunk. Every run reads
//!   the whole input again and rejects what is still wrong, so a row fixed in place leaves it
//!   (and is issued), and after a crash the next run writes it whole again.
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
//! # Stopping on request
//!
//! [`BatchOptions::stop`] stops reading: the chunks already planned (at most three) are rendered
//! and committed, and [`run`] returns with [`Summary::interrupted`]. [`BatchOptions::abort`]
//! stops at once: planning, rendering and committing give up at the next row or chunk, the
//! chunks in progress are not committed (their intents stay pending for the next run), and the
//! files written for them are removed before [`run`] returns, so the directory holds the files
//! of committed permits only, as after a finished run. Ending the process instead (`kill -9`)
//! is safe as well; the files of pending intents are then removed by the next start.
//!
//! # Re-runs over a changed input
//!
//! An output directory belongs to one input file and format (`job.json`; another one is a
//! `JobMismatch`). Its content may change between runs, as an office works: rejected rows
//! fixed in place, bad rows deleted (the rows after them move up), rows added. Rows are known by
//! their key, never by their line, so a changed input is simply the next run of the same job:
//! rows done before are found done, fixed and added rows are issued, and rows still wrong are
//! rejected again. Which rows a run has seen (for `DUPLICATE_ROW`) is forgotten when the next
//! run starts. `job.json` records the SHA-256 and the rows of the input each run started with,
//! and [`Summary::input_changed`] says when they differ from the previous run's. A row edited
//! under its `ref` after its permit was issued is a `REFERENCE_CONFLICT` (its permit stays
//! listed); a row deleted after its permit was issued keeps its permit, file and manifest line.
//!
//! # Self-check
//!
//! Every signed text is verified against the trust list as a verifier would. Decoding the
//! rendered image again costs milliseconds per image, so it is done on a sample: the first
//! signed row of every chunk and every `image_check_every`-th row.
//!
//! # Modules
//!
//! * `input`: the streaming reader of JSONL and CSV rows ([`InputReader`]) and the input's
//!   [`fingerprint`];
//! * `job_dir`: the output directory: `job.json`, the lock, the two line files and the
//!   manifest's serials, the permits' file names, `syncfs(2)`;
//! * `plan`: planning rows into the ledger: idempotency keys, intents, duplicates, conflicts;
//! * `worker`: the render worker: sign, self-check, render, write a chunk's files;
//! * `pipeline`: the threads and the ledger thread's loop (plan, commit, manifest lines).

mod input;
mod job_dir;
mod pipeline;
mod plan;
mod worker;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::issue::{Office, Signer};
use crate::ledger::{Ledger, LedgerError};
use crate::lifecycle::LifecycleError;
use crate::render::{self, Ecc, RenderOptions};
use crate::settings::{Channel, Settings};

pub use input::{Fingerprint, InputFormat, InputReader, InputRow, fingerprint};
#[cfg(target_os = "linux")]
pub use job_dir::sync_file_system;
pub use job_dir::{ErrorLine, JobFile, ManifestLine, Problem};
pub use plan::pending_intent;

use job_dir::JobDir;

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
        with_line(e, 0)
    }
}

/// Err when the job is asked to stop at once (`opts.abort`): the work in progress is dropped.
fn check_abort(opts: &BatchOptions<'_>) -> Result<(), BatchError> {
    if opts.abort.load(Ordering::Relaxed) {
        return Err(BatchError::Io {
            path: opts.out_dir.to_owned(),
            source: io::Error::new(io::ErrorKind::Interrupted, "stopped at once on request"),
        });
    }
    Ok(())
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A lifecycle error at input line `line`: a ledger failure stays one.
fn with_line(e: LifecycleError, line: u64) -> BatchError {
    match e {
        LifecycleError::Ledger(l) => BatchError::Ledger(l),
        other => BatchError::Lifecycle {
            line,
            source: other,
        },
    }
}

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
    /// Signing key, with the trust list for the self-check.
    pub signer: &'a Signer,
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
    /// Set (e.g. by a signal handler) to stop after the chunks in progress commit.
    pub stop: &'a AtomicBool,
    /// Set (e.g. by a second signal) to stop at once: the chunks in progress are not committed
    /// (their intents stay pending, for the next run) and the files written for them are
    /// removed before [`run`] returns.
    pub abort: &'a AtomicBool,
}

impl BatchOptions<'_> {
    /// The office that acts for the job at `now`.
    fn office(&self, now: DateTime<Utc>) -> Office<'_> {
        Office {
            settings: self.settings,
            now,
            actor: self.actor,
        }
    }
}

/// Counts of a batch run, also passed to the progress callback when the run starts and after
/// every chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Rows in the input (counted when the run starts).
    pub input_rows: u64,
    /// The input's content differs from the one the job's previous run started with (rows are
    /// matched by their key, so a changed input is a new run of the same job).
    pub input_changed: bool,
    /// Rows this run is done with: issued, rejected or found done (after a chunk's commit, so
    /// fewer than `input_rows` while the job runs, or when it stopped early).
    pub rows: u64,
    /// Permits committed by this run (new, or resumed from a pending intent).
    pub issued: u64,
    /// Of those, resumed from an intent a previous run had recorded.
    pub resumed: u64,
    /// Rows issued before (by an earlier run of this job, another job, or `issuer issue`).
    pub already_done: u64,
    /// Rows rejected (each is a line of `errors.jsonl`, which lists this run's only).
    pub rejected: u64,
    /// Files rendered again for rows committed earlier whose file was missing.
    pub files_restored: u64,
    /// Manifest lines written by this run.
    pub manifest_lines: u64,
    /// Lines of `manifest.jsonl` after the chunks committed so far: every permit of the job.
    pub manifest_total: u64,
    /// Error lines written by this run.
    pub error_lines: u64,
    /// Images decoded again by the self-check.
    pub images_checked: u64,
    /// Texts verified by the self-check.
    pub texts_checked: u64,
    /// True when the job stopped early on request.
    pub interrupted: bool,
    /// True when it stopped at once (`abort`): the chunks in progress were not committed.
    pub aborted: bool,
}

/// Runs a batch job to the end of the input (or until `opts.stop` is set).
///
/// `progress` is called once the job directory is open (with the input's rows) and after every
/// committed chunk with the counts so far.
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
    // again when those rows are signed again. The rows the job's earlier runs saw are
    // forgotten: this run reads the whole input again, and a duplicate is a duplicate within it.
    let pending = ledger.transaction(|tx| {
        tx.forget_row_claims(&dir.job)?;
        tx.pending_intent_serials()
    })?;
    dir.remove_permit_files(pending, opts.outputs)?;
    let mut summary = Summary {
        input_rows: dir.input_rows,
        input_changed: dir.input_changed,
        manifest_total: dir.manifest.listed.len() as u64,
        ..Summary::default()
    };
    progress(&summary);
    let result = pipeline::run(ledger, input, opts, &mut dir, &mut summary, progress);
    if opts.abort.load(Ordering::SeqCst) {
        // Stopped at once: the threads are gone, what was in progress is not committed, and
        // the files written for it are removed now (as the next start would), so the directory
        // holds the files of committed permits only.
        let pending = ledger.transaction(|tx| tx.pending_intent_serials())?;
        dir.remove_permit_files(pending, opts.outputs)?;
        summary.interrupted = true;
        summary.aborted = true;
        return Ok(summary);
    }
    result?;
    Ok(summary)
}
