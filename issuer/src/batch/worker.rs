//! The render worker, on all cores: signs a chunk's rows from their plans, verifies every signed
//! text (and a sample of the images) as a verifier would, renders the QR code and writes the
//! permit's files. The files of rows committed before are written under a temporary name and
//! renamed into place.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::issue::output::{Code, OutputError};
use crate::lifecycle::{self, SignedIssue};
use crate::selfcheck;

use super::job_dir::{file_names, wallet_name};
use super::plan::{Chunk, Item, Plan};
use super::{BatchError, BatchOptions, TMP_SUFFIX, check_abort, io_err, with_line};

/// What rendering gave for a row.
pub(super) struct Rendered {
    /// The new credential, for a row signed now; `None` for a row committed before.
    pub(super) signed: Option<SignedIssue>,
    /// QR version of the symbol.
    pub(super) qr_version: u8,
    /// Files written.
    pub(super) files: Vec<PathBuf>,
}

/// Rendering, on all cores: sign, verify the text, render, write the files.
pub(super) fn render_chunk(
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

/// Sign (or take the stored text), verify, render and write the files of one row.
fn render_item(
    item: &Item,
    dir: &Path,
    opts: &BatchOptions<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Rendered>, BatchError> {
    check_abort(opts)?;
    let line = item.line;
    // Whether the permit may be bound to a device key (and so get a wallet): known from the
    // plan for a new permit; a committed one's text comes from the ledger and is looked at.
    let maybe_bound = match &item.plan {
        Plan::Sign { plan, .. } => plan.details.holder_key.is_some(),
        _ => true,
    };
    let (signed, serial, text, write) = match &item.plan {
        Plan::Reject(_) | Plan::Complete => return Ok(None),
        Plan::Sign { plan, .. } => {
            let s =
                lifecycle::sign_issue(plan.clone(), opts.signer).map_err(|e| with_line(e, line))?;
            selfcheck::verify_text(&s.credential.text, opts.signer.trust(), now).map_err(|e| {
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
    let render_err = |source| BatchError::Render { line, source };
    let code = Code::encode(&text, opts.ecc, opts.render).map_err(render_err)?;
    let mut files = Vec::new();
    if write {
        // Every text was verified above; the image is decoded again on a sample.
        let png = if item.image_check {
            code.checked_png(opts.signer.trust(), now)
                .map_err(|e| match e {
                    OutputError::Render(source) => BatchError::Render { line, source },
                    OutputError::SelfCheck(e) => BatchError::SelfCheck {
                        line,
                        detail: e.to_string(),
                    },
                })?
        } else {
            code.png().map_err(render_err)?
        };
        let how = How {
            committed: signed.is_none(),
            maybe_bound,
        };
        files = write_files(&code, &png, serial, opts, dir, line, how)?;
    }
    Ok(Some(Rendered {
        signed,
        qr_version: code.matrix().version(),
        files,
    }))
}

/// Renders and writes a committed credential's files directly.
pub(super) fn write_files_now(
    serial: u64,
    text: &str,
    opts: &BatchOptions<'_>,
    dir: &Path,
    line: u64,
) -> Result<(), BatchError> {
    let render_err = |source| BatchError::Render { line, source };
    let code = Code::encode(text, opts.ecc, opts.render).map_err(render_err)?;
    let png = code.png().map_err(render_err)?;
    let how = How {
        committed: true,
        maybe_bound: true,
    };
    write_files(&code, &png, serial, opts, dir, line, how).map(drop)
}

/// How a permit's files are written.
#[derive(Debug, Clone, Copy)]
struct How {
    /// The permit is committed in the ledger: replace files whole (temporary name, rename).
    committed: bool,
    /// The permit may be bound to a device key: look for a wallet to write.
    maybe_bound: bool,
}

/// Writes a credential's files: the PNG rendered already and, as the job asks, SVG and text, and
/// for a bound permit its wallet. A new permit's files (`committed` false) are written under their final names: a crash leaves
/// them to the clean-up of pending intents. A committed permit's are only ever replaced whole
/// (a temporary name, then a rename).
fn write_files(
    code: &Code<'_>,
    png: &[u8],
    serial: u64,
    opts: &BatchOptions<'_>,
    dir: &Path,
    line: u64,
    How {
        committed,
        maybe_bound,
    }: How,
) -> Result<Vec<PathBuf>, BatchError> {
    let mut files = Vec::new();
    for name in file_names(serial, opts.outputs) {
        let bytes = if name.ends_with(".png") {
            std::borrow::Cow::Borrowed(png)
        } else if name.ends_with(".svg") {
            std::borrow::Cow::Owned(
                code.svg()
                    .map_err(|source| BatchError::Render { line, source })?
                    .into_bytes(),
            )
        } else {
            std::borrow::Cow::Owned(code.text_file())
        };
        let fin = dir.join(&name);
        if committed {
            let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
            fs::write(&tmp, &bytes).map_err(io_err(&tmp))?;
            fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
        } else {
            fs::write(&fin, &bytes).map_err(io_err(&fin))?;
        }
        files.push(fin);
    }
    // A permit bound to the holder's device key: its wallet (full credential and basic view, the
    // view signed here, deterministically, with the same key), private to the holder. Reading
    // the credential back costs a signature check, so only where a binding is possible.
    let wallet = if maybe_bound {
        crate::issue::wallet(code.text(), opts.signer).map_err(|e| with_line(e, line))?
    } else {
        None
    };
    if let Some(w) = wallet {
        let fin = dir.join(wallet_name(serial));
        let target = if committed {
            dir.join(format!("{}{TMP_SUFFIX}", wallet_name(serial)))
        } else {
            fin.clone()
        };
        crate::issue::write_wallet_file(&target, &w).map_err(io_err(&target))?;
        if committed {
            fs::rename(&target, &fin).map_err(io_err(&fin))?;
        }
        files.push(fin);
    }
    Ok(files)
}
