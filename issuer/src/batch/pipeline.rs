//! The threads of a batch job and the ledger thread's loop:
//!
//! ```text
//! reader thread   read_chunks: rows ─► chunk ─► validate + hash on all cores
//! ledger thread   drive: plan (plan::plan_chunk), commit_chunk, finish_chunk (line files)
//! render worker   worker::render_chunk on all cores
//! sync thread     sync_files: one syncfs(2) per chunk before its commit
//! ```
//!
//! See the [module docs](super) for the order of the writes and why it makes the job safe to
//! kill and resume.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::ledger::{Ledger, Tx};
use crate::lifecycle;

use super::input::InputReader;
use super::job_dir::{JobDir, ManifestLine, file_names, sync_files};
use super::plan::{Chunk, Plan, ReadChunk, check_row, plan_chunk};
use super::worker::{Rendered, render_chunk, write_files_now};
use super::{BatchError, BatchOptions, Summary, check_abort, with_line};

/// Chunks planned and not yet committed: the ledger thread commits chunk N (and plans chunk
/// N + 3 in the same transaction) while the sync thread flushes chunk N + 1 and the cores render
/// chunk N + 2.
const PIPELINE_DEPTH: usize = 3;

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

/// Runs the threads over an opened job directory until the input ends, `opts.stop` is set or
/// an error stops the job; the ledger thread is this one.
pub(super) fn run<L: Ledger>(
    ledger: &mut L,
    input: &mut InputReader,
    opts: &BatchOptions<'_>,
    dir: &mut JobDir,
    summary: &mut Summary,
    progress: &mut dyn FnMut(&Summary),
) -> Result<(), BatchError> {
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
                    sync_files(&sync_dir, r.iter().flatten().flat_map(|r| &r.files))?;
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
        let result = drive(ledger, &mut pipe, opts, dir, summary, progress);
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
    })
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
        if opts.stop.load(Ordering::SeqCst) || opts.abort.load(Ordering::SeqCst) {
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

    /// Hands a planned chunk to the render worker.
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

/// The error when a pipeline thread is gone.
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
        pipe.send(chunk, opts)?;
    }
    while pipe.in_flight > 0 {
        let (chunk, rendered) = pipe
            .res_rx
            .recv()
            .map_err(|_| worker_stopped(opts.out_dir))?;
        pipe.in_flight -= 1;
        let rendered = rendered?;
        check_abort(opts)?;
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
            pipe.send(p, opts)?;
        }
        finish_chunk(chunk, rendered, taken_over, opts, dir, summary)?;
        progress(summary);
    }
    Ok(())
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
    let office = opts.office(now);
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
    summary.rows += chunk.items.len() as u64;
    let mut manifest = Vec::new();
    let mut errors = Vec::new();
    // A permit is listed once: the manifest's serials are the watermark, not input lines (rows
    // move when the office deletes rows above them).
    let listed = &mut dir.manifest.listed;
    for (i, (item, r)) in chunk.items.into_iter().zip(rendered).enumerate() {
        match item.plan {
            Plan::Reject(e) => {
                summary.rejected += 1;
                errors.push(e);
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
                    None => (1, opts.signer.key_id().to_string()),
                };
                if listed.insert(plan.serial) {
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
                if listed.insert(d.serial) {
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
    dir.errors.append(&errors)?;
    summary.error_lines += errors.len() as u64;
    dir.manifest.file.append(&manifest)?;
    summary.manifest_lines += manifest.len() as u64;
    summary.manifest_total = dir.manifest.listed.len() as u64;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
/// The manifest line of a permit.
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
