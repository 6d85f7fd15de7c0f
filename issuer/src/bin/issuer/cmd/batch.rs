//! `issuer batch`: a file of applicants issued in parallel, resumably, idempotently, with
//! progress on a terminal and a report at the end.

use std::fs::File;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use permit_issuer::batch::{self, BatchOptions, InputFormat, InputReader, Outputs};
use permit_issuer::render::{Ecc, RenderOptions};
use permit_issuer::report::BatchReport;
use permit_shared::trust::Usage;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::{BatchArgs, Cli, FormatArg};
use crate::context;
use crate::error::{Failure, Result};
use crate::output::print_json;
use permit_issuer::ledger::open::AnyLedger;

/// The input format: `--format`, else by the file name.
pub fn input_format(input: &Path, f: Option<FormatArg>) -> Result<InputFormat> {
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
    InputReader::new(Box::new(f), format, path).map_err(Failure::from)
}

/// Progress on stderr: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Instant,
    quiet: bool,
    /// The counts after the last committed chunk (what survives a job-level error).
    committed: batch::Summary,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            // The length is the input's rows, known once the job has read them.
            let b = indicatif::ProgressBar::with_draw_target(
                None,
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
            quiet,
            committed: batch::Summary::default(),
        }
    }

    /// The counts after the job opened and after each committed chunk: `s.rows` counts
    /// committed rows only, so the bar is full only when the last chunk has committed.
    fn update(&mut self, s: &batch::Summary) {
        self.committed = s.clone();
        if let Some(b) = &self.bar {
            b.set_length(s.input_rows);
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
        let eta = if rate > 0.0 && s.input_rows > s.rows {
            format!(", ETA {:.0} s", (s.input_rows - s.rows) as f64 / rate)
        } else {
            String::new()
        };
        eprintln!(
            "batch: {}/{} rows, {} issued, {} rejected, {} done before, {rate:.0} rows/s{eta}",
            s.rows, s.input_rows, s.issued, s.rejected, s.already_done
        );
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
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

/// Ctrl-C and SIGTERM, each answered at once on stderr. The first sets `stop`: the job stops
/// once the chunks in progress commit. The second sets `abort`: it stops at once, drops what is
/// in progress and removes the files written for it. A third ends the process (as `kill -9`
/// would, which the job's crash safety makes safe too).
fn watch_signals(
    stop: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
    bar: Option<indicatif::ProgressBar>,
) -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Failure::io("installing the signal handlers", &e))?;
    std::thread::spawn(move || {
        let say = |m: &str| match &bar {
            Some(b) => b.suspend(|| eprintln!("{m}")),
            None => eprintln!("{m}"),
        };
        for (n, _) in signals.forever().enumerate() {
            match n {
                0 => {
                    stop.store(true, Ordering::SeqCst);
                    say(
                        "batch: stopping after the chunks in progress commit… (again to stop at \
                         once, also safe: the same command resumes the job)",
                    );
                }
                1 => {
                    abort.store(true, Ordering::SeqCst);
                    say(
                        "batch: stopping now: the chunks in progress are dropped, not committed, \
                         and their files removed; safe to resume: run the same command again",
                    );
                }
                _ => {
                    say("batch: exiting at once; safe to resume: run the same command again");
                    signal_hook::low_level::exit(130);
                }
            }
        }
    });
    Ok(())
}

pub fn run(cli: &Cli, a: &BatchArgs) -> Result<ExitCode> {
    let fixed_now = match &cli.now {
        Some(_) => Some(context::now(cli)?),
        None => None,
    };
    let start_now = fixed_now.unwrap_or_else(Utc::now);
    let settings = context::settings(cli)?;
    let s = context::signer(&a.keys, Usage::Permit, start_now)?;
    crate::output::warn_demo_key(&a.keys);
    let format = input_format(&a.input, a.format)?;
    let mut input = open_input(&a.input, format)?;
    build_render_pool(a.threads)?;
    // Each commit durable before what depends on it is written (one fsync per chunk).
    let mut ledger = context::durable_ledger(cli)?;
    let actor = context::actor(cli);
    let mut progress = Progress::new(a.quiet);
    let stop = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&stop), Arc::clone(&abort), progress.bar.clone())?;
    let clock = move || fixed_now.unwrap_or_else(Utc::now);
    let opts = BatchOptions {
        out_dir: &a.out,
        input: &a.input,
        format,
        settings: &settings,
        signer: &s,
        actor: &actor,
        channel: a.channel.into(),
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
        abort: &abort,
    };
    let started = Instant::now();
    let result = batch::run(&mut ledger, &mut input, &opts, &mut |s| progress.update(s));
    progress.finish();
    let summary = result.map_err(|e| {
        // What this run committed before the error stays committed; say how much.
        let c = &progress.committed;
        let mut f = Failure::from(e);
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
        ledger: AnyLedger::describe(&cli.ledger),
    };
    if summary.input_changed {
        eprintln!(
            "batch: the input changed since the last run of this job: its rows are matched by ref \
             (a row without ref by its content), not by line"
        );
    }
    if cli.json {
        print_json(&report)?;
    } else {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(
            o,
            "batch: {}{} rows: {} issued{}, {} rejected, {} already done; {:.2} s, {:.0} permits/s",
            summary.rows,
            if summary.interrupted {
                format!(" of {}", summary.input_rows)
            } else {
                String::new()
            },
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
        let _ = writeln!(
            o,
            "  manifest {} ({} permits)",
            report.manifest, summary.manifest_total
        );
        if summary.rejected > 0 {
            let _ = writeln!(
                o,
                "  errors   {} ({} rows)",
                report.errors, summary.rejected
            );
        }
    }
    if summary.interrupted {
        eprintln!(
            "batch: stopped on request after {} of {} rows ({})",
            summary.rows,
            summary.input_rows,
            if summary.aborted {
                "at once: the chunks in progress were dropped"
            } else {
                "every chunk begun was committed"
            }
        );
        eprintln!("hint: run the same command again to finish the job");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::from(if summary.rejected > 0 { 1 } else { 0 }))
}
