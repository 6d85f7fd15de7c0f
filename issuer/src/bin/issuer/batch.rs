//! `issuer batch`, `issuer demo-data` and the hidden `issuer bench-parts`.

use std::fs::File;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;

use permit_issuer::batch::{self, BatchError, BatchOptions, InputFormat, InputReader, Outputs};
use permit_issuer::demo_data;
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::ledger::{Ledger as _, Tx};
use permit_issuer::lifecycle::{self, Office, SignedIssue};
use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_issuer::selfcheck;
use permit_issuer::settings::Channel;
use permit_shared::applicant::Applicant;
use permit_shared::credential;

use crate::cli::{ChannelArg, Cli, KeyArgs, QrArgs};
use crate::commands::{self, Failure, Result};

/// Input format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header line (`basis` separated by `|`).
    Csv,
}

/// `issuer batch`
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Applicants, one per line (JSONL) or per record (CSV). Must be a file: a job is resumed
    /// by running the same command again.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output directory: one `<serial>.png` per permit, `manifest.jsonl`, `errors.jsonl`,
    /// `job.json`. Created if missing; running again resumes the job it holds.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Input format (default: by the file extension, `.jsonl`/`.json`/`.ndjson` or `.csv`).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Channel the applications came in by (online: subject to the city coverage table).
    #[arg(long, value_enum, default_value = "online")]
    pub channel: ChannelArg,
    /// Also write `<serial>.svg`.
    #[arg(long)]
    pub svg: bool,
    /// Also write `<serial>.txt` (the QR text).
    #[arg(long)]
    pub text: bool,
    /// Rows per chunk: the unit of rendering, of the file sync and of the ledger transaction
    /// (one commits a chunk and plans the one three ahead).
    #[arg(long, default_value_t = batch::DEFAULT_CHUNK_ROWS as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub chunk_rows: u32,
    /// Decode every N-th image again in the self-check, besides the first of every chunk (0:
    /// only those). Every signed text is verified regardless.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub image_check_every: u64,
    /// Worker threads for signing and rendering (default: one per core, plus one).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// QR options.
    #[command(flatten)]
    pub qr: QrArgs,
    /// Key options.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `issuer demo-data`
#[derive(Debug, Args)]
pub struct DemoDataArgs {
    /// Number of applicants.
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    /// Seed: the same seed gives the same rows (the same as generate.py with that seed).
    #[arg(long, default_value_t = 14)]
    pub seed: u64,
    /// Spoil up to K rows, each with one known defect.
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub bad: usize,
    /// Output format (default: from the `--out` file name, as `batch` reads it; JSONL on stdout).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write one JSON line per spoiled row here: line, ref, defect.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Also place applicants in Shenzhen and Foshan, where the online service is not offered.
    #[arg(long)]
    pub all_cities: bool,
    /// Output file (`-`: stdout).
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub out: PathBuf,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
}

/// `issuer bench-parts`
#[derive(Debug, Args)]
pub struct BenchPartsArgs {
    /// Applicants (JSONL or CSV).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Rows to measure (the first N valid rows).
    #[arg(long, default_value_t = 5000)]
    pub rows: usize,
    /// Scratch directory for the ledger and the files (created; emptied first).
    #[arg(long, value_name = "DIR")]
    pub scratch: PathBuf,
    /// Rows per ledger transaction, as in `batch`.
    #[arg(long, default_value_t = batch::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: usize,
    /// QR options.
    #[command(flatten)]
    pub qr: QrArgs,
}

fn input_format(input: &Path, f: Option<FormatArg>) -> Result<InputFormat> {
    match f {
        Some(FormatArg::Jsonl) => Ok(InputFormat::Jsonl),
        Some(FormatArg::Csv) => Ok(InputFormat::Csv),
        None => InputFormat::from_path(input).ok_or_else(|| {
            Failure::usage(format!(
                "{}: cannot tell the format from the file name",
                input.display()
            ))
            .hint("pass --format jsonl or --format csv")
        }),
    }
}

fn open_input(path: &Path, format: InputFormat) -> Result<InputReader> {
    if path.as_os_str() == "-" {
        return Err(Failure::usage("--input must be a file, not standard input")
            .hint("a batch job is resumed by reading the same file again; save the rows to a file first"));
    }
    let f = File::open(path).map_err(|e| Failure::io(path.display(), &e))?;
    InputReader::new(Box::new(f), format, path).map_err(batch_failure)
}

fn batch_failure(e: BatchError) -> Failure {
    let resume = "fix the cause and run the same command again: the job resumes where it stopped";
    let (code, hint) = match &e {
        BatchError::Io { .. } => ("IO_ERROR", resume),
        BatchError::Input { .. } => ("INPUT_FORMAT", "check the file's format (--format)"),
        BatchError::JobMismatch { .. } => (
            "JOB_MISMATCH",
            "use a new --out directory for another input",
        ),
        BatchError::Locked { .. } => (
            "OUTPUT_LOCKED",
            "wait for it to finish, or use another --out directory",
        ),
        BatchError::Ledger(l) => (commands::ledger_code(l), resume),
        BatchError::Lifecycle { source, .. } => (source.code(), resume),
        BatchError::SelfCheck { .. } => (
            "SELF_CHECK_FAILED",
            "nothing of the failing chunk was committed; report this as a bug",
        ),
        BatchError::Render { .. } => ("RENDER_FAILED", resume),
    };
    Failure::new(code, e.to_string()).hint(hint)
}

/// Counts the input's rows for the progress bar (newlines; the CSV header excluded).
fn count_rows(path: &Path, format: InputFormat) -> Option<u64> {
    let f = File::open(path).ok()?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut n = 0u64;
    loop {
        let buf = r.fill_buf().ok()?;
        if buf.is_empty() {
            break;
        }
        n += buf.iter().filter(|b| **b == b'\n').count() as u64;
        let len = buf.len();
        r.consume(len);
    }
    Some(match format {
        InputFormat::Jsonl => n,
        InputFormat::Csv => n.saturating_sub(1),
    })
}

/// Progress on stderr: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Instant,
    total: Option<u64>,
    quiet: bool,
    /// The counts after the last committed chunk (what survives a job-level error).
    committed: batch::Summary,
}

impl Progress {
    fn new(total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                total,
                indicatif::ProgressDrawTarget::stderr_with_hz(4),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows  {rate}  ETA {eta}  {msg}",
            ) {
                // Whole rows a second (indicatif's own `per_sec` prints four decimals).
                b.set_style(style.with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} rows/s", s.per_sec());
                    },
                ));
            }
            b
        });
        Progress {
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
            total,
            quiet,
            committed: batch::Summary::default(),
        }
    }

    fn update(&mut self, s: &batch::Summary) {
        self.committed = s.clone();
        if let Some(b) = &self.bar {
            b.set_position(s.rows);
            b.set_message(format!(
                "issued {} rejected {} done before {}",
                s.issued, s.rejected, s.already_done
            ));
            return;
        }
        if self.quiet || self.last_line.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last_line = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = s.rows as f64 / secs;
        let eta = match self.total {
            Some(t) if rate > 0.0 && t > s.rows => {
                format!(", ETA {:.0} s", (t - s.rows) as f64 / rate)
            }
            _ => String::new(),
        };
        eprintln!(
            "batch: {}{} rows, {} issued, {} rejected, {} done before, {rate:.0} rows/s{eta}",
            s.rows,
            self.total.map(|t| format!("/{t}")).unwrap_or_default(),
            s.issued,
            s.rejected,
            s.already_done
        );
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The `--json` report of `issuer batch`: the library's counts plus time, rate and paths.
#[derive(Serialize)]
struct BatchReport<'a> {
    #[serde(flatten)]
    summary: &'a batch::Summary,
    seconds: f64,
    rows_per_second: f64,
    permits_per_second: f64,
    manifest: String,
    errors: String,
    ledger: String,
}

/// Ledger settings for a batch connection.
///
/// * `synchronous = FULL`: every commit fsyncs the WAL. A chunk's intents must be on disk before
///   its files are written, and its permits before its manifest lines (see the crash-safety
///   notes in `permit_issuer::batch`); with one transaction per chunk that is one fsync per
///   chunk, not per row. (`NORMAL` would leave a commit's durability to the next checkpoint.)
/// * `cache_size` 64 MiB: the indexes on random keys (serials, status indices, application
///   numbers, row keys) outgrow the default 2 MiB after a few tens of thousands of rows, and
///   every miss is a read from the OS.
/// * `wal_autocheckpoint` 8192 pages (128 MiB with the 16 KiB pages of a new ledger; default
///   1000): a checkpoint copies every page changed since the last one into the database file;
///   as each chunk changes pages all over the indexes, fewer, larger checkpoints copy each page
///   fewer times.
fn tune_ledger(ledger: &mut SqliteLedger) -> Result<()> {
    let c = ledger.connection();
    c.pragma_update(None, "synchronous", "FULL")
        .and_then(|()| c.pragma_update(None, "cache_size", -65_536))
        .and_then(|()| c.pragma_update(None, "wal_autocheckpoint", 8192))
        .map_err(|e| Failure::new("LEDGER_ERROR", format!("ledger: {e}")))
}

/// How much lower than the ledger thread the rendering threads run (nice increment, Linux).
///
/// The ledger thread is the job's serial path; with two or three rendering threads and the ledger
/// thread on two cores, equal shares would give it two thirds of a core or less. At a lower priority the
/// renderers take what it leaves (including while it waits for the WAL fsync), which is all
/// they need: they have chunks queued ahead of them.
const RENDER_NICE: i32 = 5;

/// The rayon pool that signs and renders (`--threads`, default one per core plus one), its
/// threads at a lower priority than the ledger thread.
fn build_render_pool(threads: Option<usize>) -> Result<()> {
    // One more thread than cores by default: the renderers also create files, and a thread
    // waiting for the file system leaves its core to the spare one (measured: 3 threads on 2
    // cores about 3 % faster than 2, 4 slower; docs/PERFORMANCE.md).
    let n = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) + 1
    });
    let b = rayon::ThreadPoolBuilder::new().num_threads(n.max(1));
    #[cfg(target_os = "linux")]
    let b = b.start_handler(|_| {
        // Per thread: on Linux, PRIO_PROCESS with a thread id names that thread. A failure
        // leaves the thread at the default priority, which is only slower.
        let tid = rustix::thread::gettid();
        if let Ok(nice) = rustix::process::getpriority_process(Some(tid)) {
            let _ = rustix::process::setpriority_process(Some(tid), (nice + RENDER_NICE).min(19));
        }
    });
    b.build_global()
        .map_err(|e| Failure::usage(format!("--threads: {e}")))
}

pub fn run(cli: &Cli, a: &BatchArgs) -> Result<ExitCode> {
    let fixed_now = match &cli.now {
        Some(_) => Some(commands::now(cli)?),
        None => None,
    };
    let start_now = fixed_now.unwrap_or_else(Utc::now);
    let settings = commands::settings(cli)?;
    let s = commands::signer(&a.keys, start_now)?;
    let format = input_format(&a.input, a.format)?;
    let mut input = open_input(&a.input, format)?;
    build_render_pool(a.threads)?;
    let mut ledger = SqliteLedger::open(&cli.ledger)?;
    // Each commit durable before what depends on it is written (one fsync per chunk).
    tune_ledger(&mut ledger)?;
    let actor = commands::actor(cli);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once (the job resumes all the same).
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop));
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let clock = move || fixed_now.unwrap_or_else(Utc::now);
    let opts = BatchOptions {
        out_dir: &a.out,
        input: &a.input,
        format,
        settings: &settings,
        key: &s.key,
        key_is_test: s.test,
        trust: &s.trust,
        actor: &actor,
        channel: match a.channel {
            ChannelArg::Online => Channel::Online,
            ChannelArg::Counter => Channel::Counter,
        },
        ecc: Ecc::from(a.qr.ecc),
        render: RenderOptions {
            module_px: a.qr.module_px,
            ..RenderOptions::default()
        },
        outputs: Outputs {
            svg: a.svg,
            text: a.text,
        },
        chunk_rows: a.chunk_rows as usize,
        image_check_every: a.image_check_every,
        clock: &clock,
        stop: &stop,
    };
    let total = if a.quiet {
        None
    } else {
        count_rows(&a.input, format)
    };
    let mut progress = Progress::new(total, a.quiet);
    let started = Instant::now();
    let result = batch::run(&mut ledger, &mut input, &opts, &mut |s| progress.update(s));
    progress.finish();
    let summary = result.map_err(|e| {
        // What this run committed before the error stays committed; say how much.
        let c = &progress.committed;
        let mut f = batch_failure(e);
        if c.issued + c.rejected + c.already_done > 0 {
            f.message.push_str(&format!(
                " (before it, this run committed {} permits and {} rejected rows; {} rows were done already)",
                c.issued, c.rejected, c.already_done
            ));
        }
        f.details = Some(Box::new(serde_json::json!({ "committed_before_the_error": {
            "issued": c.issued,
            "resumed": c.resumed,
            "rejected": c.rejected,
            "already_done": c.already_done,
            "files_restored": c.files_restored,
        }})));
        f
    })?;
    let secs = started.elapsed().as_secs_f64();
    let report = BatchReport {
        summary: &summary,
        seconds: secs,
        rows_per_second: summary.rows as f64 / secs.max(1e-9),
        permits_per_second: summary.issued as f64 / secs.max(1e-9),
        manifest: a.out.join(batch::MANIFEST).display().to_string(),
        errors: a.out.join(batch::ERRORS).display().to_string(),
        ledger: cli.ledger.display().to_string(),
    };
    if cli.json {
        commands::print_json(&report)?;
    } else {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(
            o,
            "batch: {} rows: {} issued{}, {} rejected, {} already done; {:.2} s, {:.0} permits/s",
            summary.rows,
            summary.issued,
            if summary.resumed > 0 {
                format!(" ({} resumed)", summary.resumed)
            } else {
                String::new()
            },
            summary.rejected,
            summary.already_done,
            secs,
            report.permits_per_second,
        );
        if summary.files_restored > 0 {
            let _ = writeln!(
                o,
                "  {} missing files written again",
                summary.files_restored
            );
        }
        let _ = writeln!(
            o,
            "  self-check: {} texts verified, {} images decoded",
            summary.texts_checked, summary.images_checked
        );
        let _ = writeln!(o, "  manifest {}", report.manifest);
        if summary.rejected > 0 {
            let _ = writeln!(o, "  errors   {}", report.errors);
        }
    }
    if summary.interrupted {
        eprintln!("batch: stopped on request after the last committed chunk");
        eprintln!("hint: run the same command again to finish the job");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::from(if summary.rejected > 0 { 1 } else { 0 }))
}

pub fn demo_data(a: &DemoDataArgs) -> Result<ExitCode> {
    let opts = demo_data::Options {
        count: a.count,
        seed: a.seed,
        bad: a.bad,
        // `rows.csv` gets CSV, as `batch --input rows.csv` will read it; stdout gets JSONL.
        format: match (a.format, a.out.as_os_str() == "-") {
            (None, true) => demo_data::Format::Jsonl,
            (f, _) => match input_format(&a.out, f)? {
                InputFormat::Csv => demo_data::Format::Csv,
                InputFormat::Jsonl => demo_data::Format::Jsonl,
            },
        },
        all_cities: a.all_cities,
    };
    let labels = if a.out.as_os_str() == "-" {
        let out = std::io::stdout();
        let mut o = std::io::BufWriter::new(out.lock());
        match demo_data::write(&opts, &mut o).and_then(|l| o.flush().map(|()| l)) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(Failure::io("stdout", &e)),
        }
    } else {
        let mut buf = Vec::new();
        let l = demo_data::write(&opts, &mut buf).map_err(|e| Failure::io(a.out.display(), &e))?;
        commands::write_output(&a.out, &buf, a.force)?;
        l
    };
    if let Some(p) = &a.labels {
        let mut buf = Vec::new();
        demo_data::write_labels(&labels, &mut buf).map_err(|e| Failure::usage(e.to_string()))?;
        commands::write_output(p, &buf, a.force)?;
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// bench-parts: every part of batch issuance alone, single-threaded, on the same rows.

#[derive(Serialize)]
struct Part {
    part: &'static str,
    rows: usize,
    /// Wall-clock time: what the part takes alone, waits for the disk included.
    seconds: f64,
    us_per_row: f64,
    /// The measuring thread's CPU time (user + system), without those waits; `None` where the
    /// platform has no per-thread CPU clock here (not Linux).
    cpu_seconds: Option<f64>,
    cpu_us_per_row: Option<f64>,
}

fn part(name: &'static str, rows: usize, d: Spent) -> Part {
    let per_row = |t: Duration| t.as_secs_f64() * 1e6 / rows.max(1) as f64;
    Part {
        part: name,
        rows,
        seconds: d.wall.as_secs_f64(),
        us_per_row: per_row(d.wall),
        cpu_seconds: d.cpu.map(|c| c.as_secs_f64()),
        cpu_us_per_row: d.cpu.map(per_row),
    }
}

/// Time spent in a part: wall clock, and the measuring thread's CPU time where there is a clock
/// for it. The two differ by the time the thread waited (fsync, syncfs, being descheduled).
#[derive(Clone, Copy)]
struct Spent {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Spent {
    const ZERO: Spent = Spent {
        wall: Duration::ZERO,
        cpu: Some(Duration::ZERO),
    };
}

impl std::ops::AddAssign for Spent {
    fn add_assign(&mut self, o: Spent) {
        self.wall += o.wall;
        self.cpu = self.cpu.zip(o.cpu).map(|(a, b)| a + b);
    }
}

struct Stopwatch {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }

    fn elapsed(&self) -> Spent {
        Spent {
            wall: self.wall.elapsed(),
            cpu: thread_cpu()
                .zip(self.cpu)
                .map(|(now, then)| now.saturating_sub(then)),
        }
    }
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
#[cfg(target_os = "linux")]
fn thread_cpu() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Option<Duration> {
    None
}

pub fn bench_parts(cli: &Cli, a: &BenchPartsArgs) -> Result<ExitCode> {
    let now: DateTime<Utc> = match &cli.now {
        Some(_) => commands::now(cli)?,
        None => Utc::now(),
    };
    let settings = commands::settings(cli)?;
    let s = commands::signer(
        &KeyArgs {
            key: None,
            trust: None,
            root: None,
        },
        now,
    )?;
    let format = input_format(&a.input, None)?;
    let io = |p: &Path| {
        let p = p.to_owned();
        move |e: std::io::Error| Failure::usage(format!("{}: {e}", p.display()))
    };
    if a.scratch.exists() {
        std::fs::remove_dir_all(&a.scratch).map_err(io(&a.scratch))?;
    }
    std::fs::create_dir_all(&a.scratch).map_err(io(&a.scratch))?;
    let ecc = Ecc::from(a.qr.ecc);
    let ropts = RenderOptions {
        module_px: a.qr.module_px,
        ..RenderOptions::default()
    };
    let today = permit_shared::civil::date_of(now);

    // Part: input (read + parse + validate + content hash), through the batch reader.
    let t = Stopwatch::start();
    let mut input = open_input(&a.input, format)?;
    let mut applicants: Vec<Applicant> = Vec::with_capacity(a.rows);
    let mut parsed_rows = 0usize;
    while applicants.len() < a.rows {
        let Some(row) = input.next_row().map_err(batch_failure)? else {
            break;
        };
        parsed_rows += 1;
        if let Ok(raw) = row.record
            && let Ok(v) = raw.validate(today)
        {
            let _ = lifecycle::content_hash(&v);
            applicants.push(v);
        }
    }
    let t_input = t.elapsed();
    let n = applicants.len();
    if n == 0 {
        return Err(Failure::usage("no valid rows to measure"));
    }

    // Parts: ledger and sign, interleaved as in `batch`: the first chunks are planned in
    // transactions of their own, then each transaction commits chunk N and plans chunk N + 3
    // (the job's pipeline depth). The ledger part is everything `batch` does in the ledger
    // (apply, serial, status index, intent; intent done, permit, credential, events); the sign
    // part is claims, CBOR, Ed25519 and the decimal text. Each timed alone.
    let db = a.scratch.join("ledger.sqlite3");
    let mut ledger = SqliteLedger::open(&db)?;
    tune_ledger(&mut ledger)?;
    let office = Office {
        settings: &settings,
        key: &s.key,
        key_is_test: s.test,
        now,
        actor: "bench",
    };
    let chunk_rows = a.chunk_rows.max(1);
    let chunks: Vec<&[Applicant]> = applicants.chunks(chunk_rows).collect();
    let plan_chunk = |tx: &mut dyn Tx,
                      c: usize|
     -> std::result::Result<Vec<(String, lifecycle::IssuePlan)>, Failure> {
        let mut out = Vec::with_capacity(chunk_rows);
        for (i, ap) in chunks[c].iter().enumerate() {
            let hash = lifecycle::content_hash(ap);
            let row_key = ap
                .reference
                .clone()
                .unwrap_or_else(|| format!("sha256:{hash}"));
            tx.claim_row("bench", &row_key, (c * chunk_rows + i + 1) as u64)?;
            let applied = lifecycle::apply_checked(tx, &office, ap, &hash, Channel::Online)?;
            let plan = lifecycle::plan_issue(tx, &office, &applied.application, ap)?;
            tx.insert_intent(&batch::pending_intent(
                &row_key,
                "bench",
                (c * chunk_rows + i + 1) as u64,
                &applied.application,
                &plan,
                now,
            )?)?;
            out.push((row_key, plan));
        }
        Ok(out)
    };
    const DEPTH: usize = 3;
    let mut t_ledger = Spent::ZERO;
    let mut t_sign = Spent::ZERO;
    let mut planned = std::collections::VecDeque::new();
    for c in 0..chunks.len().min(DEPTH) {
        let t = Stopwatch::start();
        planned.push_back(ledger.transaction(|tx: &mut dyn Tx| plan_chunk(tx, c))?);
        t_ledger += t.elapsed();
    }
    let mut next = planned.len();
    let mut signed: Vec<SignedIssue> = Vec::with_capacity(n);
    while let Some(chunk) = planned.pop_front() {
        let t = Stopwatch::start();
        let chunk_signed: Vec<(String, SignedIssue)> = chunk
            .into_iter()
            .map(|(k, p)| lifecycle::sign_issue(p, &s.key).map(|x| (k, x)))
            .collect::<std::result::Result<_, _>>()?;
        t_sign += t.elapsed();
        let t = Stopwatch::start();
        let more = ledger.transaction(
            |tx: &mut dyn Tx| -> std::result::Result<Option<Vec<_>>, Failure> {
                for (k, x) in &chunk_signed {
                    tx.finish_intent(k)?;
                    lifecycle::commit_issue(tx, &office, x, "bench")?;
                }
                if next < chunks.len() {
                    Ok(Some(plan_chunk(tx, next)?))
                } else {
                    Ok(None)
                }
            },
        )?;
        t_ledger += t.elapsed();
        if let Some(p) = more {
            planned.push_back(p);
            next += 1;
        }
        signed.extend(chunk_signed.into_iter().map(|(_, x)| x));
    }

    // Of which: the Ed25519 signature alone, and the encoding alone.
    let claims: Vec<credential::Claims> = signed
        .iter()
        .filter_map(|x| {
            let env =
                credential::Envelope::decode(&credential::from_text(&x.credential.text).ok()?)
                    .ok()?;
            env.verify(s.key.public()).ok()?.claims().ok()
        })
        .collect();
    let t = Stopwatch::start();
    let mut total_len = 0usize;
    for c in &claims {
        let payload = c.encode();
        total_len += credential::to_text(&payload).len();
    }
    let t_encode = t.elapsed();
    let payloads: Vec<Vec<u8>> = claims.iter().map(credential::Claims::encode).collect();
    let t = Stopwatch::start();
    for p in &payloads {
        let sig = s.key.sign(p);
        total_len += sig.len();
    }
    let t_ed25519 = t.elapsed();
    let _ = total_len;

    // Part: self-check of the text (verify as a verifier).
    let t = Stopwatch::start();
    for x in &signed {
        selfcheck::verify_text(&x.credential.text, &s.trust, now)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    let t_verify = t.elapsed();

    // Part: QR matrix.
    let t = Stopwatch::start();
    let matrices: Vec<QrMatrix> = signed
        .iter()
        .map(|x| QrMatrix::encode(&x.credential.text, ecc))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let t_matrix = t.elapsed();
    let qr_version = matrices.first().map_or(0, QrMatrix::version);

    // Part: PNG.
    let t = Stopwatch::start();
    let pngs: Vec<Vec<u8>> = matrices
        .iter()
        .map(|m| render::to_png(m, &ropts))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let t_png = t.elapsed();
    let png_bytes = pngs.iter().map(Vec::len).sum::<usize>() / pngs.len().max(1);

    // Part: image self-check (decode the PNG again), on a sample.
    let sample = n.min(50);
    let t = Stopwatch::start();
    for (png, x) in pngs.iter().zip(&signed).take(sample) {
        selfcheck::check_image(png, &x.credential.text, &s.trust, now)
            .map_err(|e| Failure::usage(e.to_string()))?;
    }
    let t_image = t.elapsed();

    // Part: file write, as the job writes a new permit's file: created under its final name,
    // then one syncfs per chunk (Linux) making the chunk's files durable.
    let files = a.scratch.join("files");
    std::fs::create_dir_all(&files).map_err(io(&files))?;
    let t = Stopwatch::start();
    for chunk in pngs.chunks(chunk_rows).zip(signed.chunks(chunk_rows)) {
        for (png, x) in chunk.0.iter().zip(chunk.1) {
            let p = files.join(format!("{:012}.png", x.plan.serial));
            std::fs::write(&p, png).map_err(io(&p))?;
        }
        #[cfg(target_os = "linux")]
        batch::sync_file_system(&files).map_err(batch_failure)?;
    }
    let t_files = t.elapsed();

    let image_per_row = t_image.wall.as_secs_f64() / sample.max(1) as f64;
    let image_cpu_per_row = t_image.cpu.map(|c| c.as_secs_f64() / sample.max(1) as f64);
    let parts = vec![
        part("input (read, parse, validate)", parsed_rows, t_input),
        part(
            "ledger (plan + commit, one transaction per chunk)",
            n,
            t_ledger,
        ),
        part("sign (claims, CBOR, Ed25519, text)", n, t_sign),
        part("  of which: encode (CBOR + decimal text)", n, t_encode),
        part("  of which: Ed25519 signature", n, t_ed25519),
        part("self-check: verify text", n, t_verify),
        part("QR matrix", n, t_matrix),
        part("PNG", n, t_png),
        part("self-check: decode image (per image)", sample, t_image),
        part("file write (create + write; syncfs per chunk)", n, t_files),
    ];
    // The sum of the parts a batch run does for each row; image decoding is sampled (the first
    // row of each chunk and every 1000th). Once of the wall-clock times, once of the CPU times.
    let image_share = 1.0 / chunk_rows as f64 + 1.0 / 1000.0;
    let summed =
        |p: &&Part| !p.part.starts_with("  of which") && !p.part.starts_with("self-check: decode");
    let sum_us: f64 = parts
        .iter()
        .filter(summed)
        .map(|p| p.us_per_row)
        .sum::<f64>()
        + image_share * image_per_row * 1e6;
    let sum_cpu_us: Option<f64> = parts
        .iter()
        .filter(summed)
        .map(|p| p.cpu_us_per_row)
        .sum::<Option<f64>>()
        .zip(image_cpu_per_row)
        .map(|(s, i)| s + image_share * i * 1e6);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let serial_us = parts
        .iter()
        .filter(|p| p.part.starts_with("ledger") || p.part.starts_with("input"))
        .map(|p| p.us_per_row)
        .sum::<f64>();
    #[derive(Serialize)]
    struct Report {
        rows: usize,
        qr_version: u8,
        png_bytes: usize,
        cores: usize,
        parts: Vec<Part>,
        sum_us_per_row: f64,
        sum_cpu_us_per_row: Option<f64>,
        ideal_permits_per_second_one_core: f64,
        ideal_permits_per_second_all_cores: f64,
        serial_part_us_per_row: f64,
        serial_bound_permits_per_second: f64,
    }
    let r = Report {
        rows: n,
        qr_version,
        png_bytes,
        cores,
        parts,
        sum_us_per_row: sum_us,
        sum_cpu_us_per_row: sum_cpu_us,
        ideal_permits_per_second_one_core: 1e6 / sum_us,
        ideal_permits_per_second_all_cores: 1e6 * cores as f64 / sum_us,
        serial_part_us_per_row: serial_us,
        serial_bound_permits_per_second: 1e6 / serial_us.max(1e-9),
    };
    if cli.json {
        commands::print_json(&r)?;
    } else {
        println!(
            "bench-parts: {n} rows, QR version {qr_version}, PNG {png_bytes} bytes, {cores} cores"
        );
        for p in &r.parts {
            match p.cpu_us_per_row {
                Some(c) => println!(
                    "  {:<48} {:>9.1} µs/row ({c:.1} µs CPU)",
                    p.part, p.us_per_row
                ),
                None => println!("  {:<48} {:>9.1} µs/row", p.part, p.us_per_row),
            }
        }
        println!(
            "  {:<48} {:>9.1} µs/row{}",
            "sum of the parts (image decode sampled)",
            sum_us,
            sum_cpu_us.map_or(String::new(), |c| format!(" ({c:.1} µs CPU)"))
        );
        println!(
            "  ideal rate: {:.0} permits/s on one core, {:.0} on {cores} cores; serial part (input + ledger) bounds it at {:.0}/s",
            r.ideal_permits_per_second_one_core,
            r.ideal_permits_per_second_all_cores,
            r.serial_bound_permits_per_second
        );
    }
    Ok(ExitCode::SUCCESS)
}
