//! The output directory of a job: `job.json` (which input it belongs to, and the input's hash and
//! rows at the latest run), the lock file, the two line files `manifest.jsonl` (its records, the
//! serials it lists) and `errors.jsonl` (emptied when a run starts), the file names of a permit,
//! temporary files, and the directory and file-system syncs.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::lifecycle;

use super::input::{InputFormat, fingerprint};
use super::{
    BatchError, BatchOptions, ERRORS, JOB_FILE, LOCK_FILE, MANIFEST, Outputs, TMP_SUFFIX, io_err,
};

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
    /// SHA-256 of the input (hex) when the latest run started; absent in a `job.json` written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_sha256: Option<String>,
    /// Rows in the input when the latest run started.
    #[serde(default)]
    pub input_rows: u64,
    /// Runs started, the latest included.
    #[serde(default)]
    pub runs: u64,
}

/// One line of `manifest.jsonl`: a permit of the job (issued by it, or issued before for one of
/// its rows) and its file. Each permit is listed once, when its row is first done; the line stays
/// when the input changes later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLine {
    /// The row's input line when the permit was listed (rows move when rows above them are
    /// deleted: `key` names the row).
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

/// One line of `errors.jsonl`: an input row the latest run rejected.
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
    /// The line of a row rejected for `problems` (the first is also in the top-level fields).
    pub(super) fn new(line: u64, reference: Option<String>, problems: Vec<Problem>) -> ErrorLine {
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

    /// The line of a row rejected for one problem.
    pub(super) fn one(
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

/// The output directory of a job: lock, job file, the two line files.
pub(super) struct JobDir {
    /// The directory.
    pub(super) dir: PathBuf,
    /// The job id, recorded with every intent.
    pub(super) job: String,
    /// The input's content changed since the job's previous run started.
    pub(super) input_changed: bool,
    /// The input's rows.
    pub(super) input_rows: u64,
    /// `manifest.jsonl`.
    pub(super) manifest: Manifest,
    /// `errors.jsonl`, emptied when the run starts.
    pub(super) errors: LineFile,
    lock: PathBuf,
}

/// A line file (`manifest.jsonl` or `errors.jsonl`) open for appending.
pub(super) struct LineFile {
    file: File,
    path: PathBuf,
}

impl LineFile {
    /// Appends `lines` (one write and one fsync).
    pub(super) fn append<T: Serialize>(&mut self, lines: &[T]) -> Result<(), BatchError> {
        append_lines(&mut self.file, &self.path, lines)
    }
}

/// `manifest.jsonl` and the serials it lists.
pub(super) struct Manifest {
    /// The file.
    pub(super) file: LineFile,
    /// The serials of its lines.
    pub(super) listed: HashSet<u64>,
}

impl Manifest {
    /// Opens `path` for appending, cuts a torn last line and reads the serials listed.
    fn open(path: PathBuf) -> Result<Manifest, BatchError> {
        #[derive(Deserialize)]
        struct SerialOnly {
            serial: String,
        }
        let e = io_err(&path);
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(&e)?;
        let mut listed = HashSet::new();
        // The end of the last complete line.
        let mut complete = 0u64;
        let mut r = io::BufReader::with_capacity(256 * 1024, &f);
        let mut line = Vec::with_capacity(512);
        let mut number = 0u64;
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(&e)?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            number += 1;
            complete += n as u64;
            let serial = serde_json::from_slice::<SerialOnly>(&line)
                .ok()
                .and_then(|l| l.serial.parse::<u64>().ok())
                .ok_or_else(|| BatchError::Input {
                    path: path.clone(),
                    detail: format!("line {number} is not a manifest line"),
                })?;
            listed.insert(serial);
        }
        drop(r);
        if f.metadata().map_err(&e)?.len() > complete {
            // A torn last line: the write of a crashed run.
            f.set_len(complete).map_err(&e)?;
            f.sync_data().map_err(&e)?;
        }
        f.seek(SeekFrom::End(0)).map_err(&e)?;
        drop(e);
        Ok(Manifest {
            file: LineFile { file: f, path },
            listed,
        })
    }
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

impl JobDir {
    /// Opens (and creates) the output directory of the job over `opts.input`: takes the lock,
    /// reads `job.json` (a job over another input file or format is refused) and records this
    /// run in it (the input's hash and rows), removes temporary files, opens the manifest (a
    /// torn last line is cut) and empties `errors.jsonl`.
    pub(super) fn open(opts: &BatchOptions<'_>, now: DateTime<Utc>) -> Result<JobDir, BatchError> {
        let dir = opts.out_dir.to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock = take_lock(&dir)?;
        let opened = JobDir::open_locked(opts, now, dir, lock.clone());
        if opened.is_err() {
            let _ = fs::remove_file(&lock);
        }
        opened
    }

    /// [`JobDir::open`] once the lock is taken.
    fn open_locked(
        opts: &BatchOptions<'_>,
        now: DateTime<Utc>,
        dir: PathBuf,
        lock: PathBuf,
    ) -> Result<JobDir, BatchError> {
        let input = fs::canonicalize(opts.input)
            .unwrap_or_else(|_| opts.input.to_owned())
            .display()
            .to_string();
        let source = File::open(opts.input).map_err(io_err(opts.input))?;
        let fp = fingerprint(source, opts.format, opts.input)?;
        let job_path = dir.join(JOB_FILE);
        let (job, input_changed) = match fs::read(&job_path) {
            Ok(bytes) => {
                let j: JobFile =
                    serde_json::from_slice(&bytes).map_err(|err| BatchError::Input {
                        path: job_path.clone(),
                        detail: err.to_string(),
                    })?;
                if j.input != input || j.format != opts.format {
                    return Err(BatchError::JobMismatch {
                        dir,
                        job: j.job,
                        other_input: format!("{} ({})", j.input, j.format.as_str()),
                        input: format!("{input} ({})", opts.format.as_str()),
                    });
                }
                let changed = j.input_sha256.as_ref().is_some_and(|h| *h != fp.sha256);
                let run = JobFile {
                    input_sha256: Some(fp.sha256),
                    input_rows: fp.rows,
                    runs: j.runs + 1,
                    ..j
                };
                (run, changed)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let id = format!(
                    "J{:012}",
                    lifecycle::random_below(1_000_000_000_000).map_err(BatchError::from)?
                );
                let first = JobFile {
                    job: id,
                    input,
                    format: opts.format,
                    started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    input_sha256: Some(fp.sha256),
                    input_rows: fp.rows,
                    runs: 1,
                };
                (first, false)
            }
            Err(err) => return Err(io_err(&job_path)(err)),
        };
        let tmp = dir.join(format!("{JOB_FILE}{TMP_SUFFIX}"));
        let bytes = serde_json::to_vec_pretty(&job).map_err(|err| BatchError::Io {
            path: job_path.clone(),
            source: io::Error::other(err),
        })?;
        write_synced(&tmp, &bytes)?;
        fs::rename(&tmp, &job_path).map_err(io_err(&job_path))?;
        sync_dir(&dir)?;
        // Files of rows that never committed.
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(TMP_SUFFIX) {
                let p = entry.path();
                fs::remove_file(&p).map_err(io_err(&p))?;
            }
        }
        let manifest = Manifest::open(dir.join(MANIFEST))?;
        let errors_path = dir.join(ERRORS);
        let errors = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&errors_path)
            .and_then(|f| f.set_len(0).map(|()| f))
            .map_err(io_err(&errors_path))?;
        Ok(JobDir {
            dir,
            job: job.job,
            input_changed,
            input_rows: fp.rows,
            manifest,
            errors: LineFile {
                file: errors,
                path: errors_path,
            },
            lock,
        })
    }

    /// Removes the files of the permits `serials` where present.
    pub(super) fn remove_permit_files(
        &self,
        serials: impl IntoIterator<Item = u64>,
        outputs: Outputs,
    ) -> Result<(), BatchError> {
        for serial in serials {
            for name in file_names(serial, outputs)
                .into_iter()
                .chain([wallet_name(serial)])
            {
                let p = self.dir.join(name);
                match fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&p)(e)),
                }
            }
        }
        Ok(())
    }
}

/// Writes a whole file and fsyncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BatchError> {
    let mut f = File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// fsync of a directory: the names created in it are durable.
fn sync_dir(dir: &Path) -> Result<(), BatchError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Appends `lines` to `f` as JSON lines in one write, then fsyncs.
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

/// File names of a permit's renderings: the PNG first.
/// The holder's wallet of a permit bound to a device key (full credential and basic view, mode
/// 0600), written beside its code; not in [`file_names`], which every permit has.
pub(super) fn wallet_name(serial: u64) -> String {
    format!("{serial:012}.wallet.json")
}

pub(super) fn file_names(serial: u64, outputs: Outputs) -> Vec<String> {
    let mut v = vec![format!("{serial:012}.png")];
    if outputs.svg {
        v.push(format!("{serial:012}.svg"));
    }
    if outputs.text {
        v.push(format!("{serial:012}.txt"));
    }
    v
}

/// Makes `files`, just written into `dir` for a chunk, durable before the chunk's ledger commit:
/// one `syncfs(2)` of the output directory's file system (Linux) rather than an fsync per file,
/// which would cost milliseconds per permit. Elsewhere, each file is synced.
pub(super) fn sync_files<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = &'a PathBuf>,
) -> Result<(), BatchError> {
    let mut files = files.into_iter().peekable();
    if files.peek().is_none() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        sync_file_system(dir)
    }
    #[cfg(not(target_os = "linux"))]
    {
        for f in files {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_cut_and_serials_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        fs::write(
            &p,
            "{\"line\":2,\"serial\":\"000000000012\"}\n{\"line\":7,\"serial\":\"000000000034\"}\n{\"line\":9,\"tor",
        )
        .unwrap();
        let m = Manifest::open(p.clone()).unwrap();
        assert_eq!(m.listed, HashSet::from([12, 34]));
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "{\"line\":2,\"serial\":\"000000000012\"}\n{\"line\":7,\"serial\":\"000000000034\"}\n"
        );
        fs::write(&p, "{\"line\":3,\"tor").unwrap();
        assert!(Manifest::open(p.clone()).unwrap().listed.is_empty());
        assert_eq!(fs::read(&p).unwrap().len(), 0);
        fs::write(&p, "{\"line\":3}\n").unwrap();
        let err = Manifest::open(p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("line 1 is not a manifest line"), "{err}");
    }
}
