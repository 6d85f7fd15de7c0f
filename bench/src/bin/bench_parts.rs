//! `bench-parts`: every part of batch issuance alone, single-threaded, on the same rows, so that
//! `scripts/bench-batch.sh` can compare the end-to-end rate of `issuer batch` with the sum of
//! its parts. A benchmark tool, not part of the product: it uses the TEST-ONLY demo key.
//!
//! ```text
//! bench-parts --input applicants.jsonl --rows 5000 --scratch /tmp/parts [--json]
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Parser;
use serde::Serialize;

use permit_issuer::batch::{self, InputFormat, InputReader};
use permit_issuer::issue::Office;
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::ledger::{Ledger as _, LedgerError, Tx};
use permit_issuer::lifecycle::{self, LifecycleError, SignedIssue};
use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_issuer::selfcheck;
use permit_issuer::settings::{Channel, Settings};
use permit_shared::applicant::Applicant;
use permit_shared::credential;
use permit_shared::trust::Usage;

/// Measure each part of batch issuance alone on the same rows.
#[derive(Debug, Parser)]
#[command(name = "bench-parts", max_term_width = 100)]
struct Args {
    /// Applicants (JSONL or CSV, by the file name).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Rows to measure (the first N valid rows).
    #[arg(long, default_value_t = 5000)]
    rows: usize,
    /// Scratch directory for the ledger and the files (created; emptied first).
    #[arg(long, value_name = "DIR")]
    scratch: PathBuf,
    /// Rows per ledger transaction, as in `issuer batch`.
    #[arg(long, default_value_t = batch::DEFAULT_CHUNK_ROWS)]
    chunk_rows: usize,
    /// Pixels per module, as `issuer batch --module-px`.
    #[arg(long, default_value_t = 8)]
    module_px: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The time the permits are issued at (RFC 3339; default: now).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

/// Any failure: one line on stderr, exit 2.
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let args = Args::parse();
    match bench_parts(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(m)) => {
            eprintln!("bench-parts: {m}");
            ExitCode::from(2)
        }
    }
}

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

fn bench_parts(a: &Args) -> Result<()> {
    let now: DateTime<Utc> = match &a.now {
        Some(s) => DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc),
        None => Utc::now(),
    };
    let settings = Settings::default();
    let s = permit_issuer::demo::signer(Usage::Permit, now)?;
    let format = InputFormat::from_path(&a.input)
        .ok_or_else(|| Failure(format!("{}: neither .jsonl nor .csv", a.input.display())))?;
    let io = |p: &Path| {
        let p = p.to_owned();
        move |e: std::io::Error| Failure(format!("{}: {e}", p.display()))
    };
    if a.scratch.exists() {
        std::fs::remove_dir_all(&a.scratch).map_err(io(&a.scratch))?;
    }
    std::fs::create_dir_all(&a.scratch).map_err(io(&a.scratch))?;
    let ecc = Ecc::M;
    let ropts = RenderOptions {
        module_px: a.module_px,
        ..RenderOptions::default()
    };
    let today = permit_shared::civil::date_of(now);

    // Part: input (read + parse + validate + content hash), through the batch reader.
    let t = Stopwatch::start();
    let f = File::open(&a.input).map_err(io(&a.input))?;
    let mut input = InputReader::new(Box::new(f), format, &a.input)?;
    let mut applicants: Vec<Applicant> = Vec::with_capacity(a.rows);
    let mut parsed_rows = 0usize;
    while applicants.len() < a.rows {
        let Some(row) = input.next_row()? else {
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
        return Err(Failure("no valid rows to measure".into()));
    }

    // Parts: ledger and sign, interleaved as in `batch`: the first chunks are planned in
    // transactions of their own, then each transaction commits chunk N and plans chunk N + 3
    // (the job's pipeline depth). The ledger part is everything `batch` does in the ledger
    // (apply, serial, status index, intent; intent done, permit, credential, events); the sign
    // part is claims, CBOR, Ed25519 and the decimal text. Each timed alone.
    let db = a.scratch.join("ledger.sqlite3");
    let mut ledger = SqliteLedger::durable(&db)?;
    let office = Office {
        settings: &settings,
        now,
        actor: "bench",
    };
    let chunk_rows = a.chunk_rows.max(1);
    let chunks: Vec<&[Applicant]> = applicants.chunks(chunk_rows).collect();
    let plan_chunk =
        |tx: &mut dyn Tx,
         c: usize|
         -> std::result::Result<Vec<(String, lifecycle::IssuePlan)>, LifecycleError> {
            let mut out = Vec::with_capacity(chunk_rows);
            for (i, ap) in chunks[c].iter().enumerate() {
                let hash = lifecycle::content_hash(ap);
                let row_key = ap
                    .reference
                    .clone()
                    .unwrap_or_else(|| format!("sha256:{hash}"));
                tx.claim_row("bench", &row_key, (c * chunk_rows + i + 1) as u64)?;
                let applied = lifecycle::apply_checked(tx, &office, ap, &hash, Channel::Online)?;
                let plan = lifecycle::plan_issue(tx, &office, &s, &applied.application, ap)?;
                tx.insert_intent(
                    &batch::pending_intent(
                        &row_key,
                        "bench",
                        (c * chunk_rows + i + 1) as u64,
                        &applied.application,
                        &plan,
                        now,
                    )
                    .map_err(|e| LedgerError::Damaged(e.to_string()))?,
                )?;
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
            .map(|(k, p)| lifecycle::sign_issue(p, &s).map(|x| (k, x)))
            .collect::<std::result::Result<_, _>>()?;
        t_sign += t.elapsed();
        let t = Stopwatch::start();
        let more = ledger.transaction(
            |tx: &mut dyn Tx| -> std::result::Result<Option<Vec<_>>, LifecycleError> {
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
            env.verify(s.public()).ok()?.claims().ok()
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
        let sig = s.sign(p).map_err(LifecycleError::from)?;
        total_len += sig.len();
    }
    let t_ed25519 = t.elapsed();
    let _ = total_len;

    // Part: self-check of the text (verify as a verifier).
    let t = Stopwatch::start();
    for x in &signed {
        selfcheck::verify_text(&x.credential.text, s.trust(), now)?;
    }
    let t_verify = t.elapsed();

    // Part: QR matrix.
    let t = Stopwatch::start();
    let matrices: Vec<QrMatrix> = signed
        .iter()
        .map(|x| QrMatrix::encode(&x.credential.text, ecc))
        .collect::<std::result::Result<_, _>>()?;
    let t_matrix = t.elapsed();
    let qr_version = matrices.first().map_or(0, QrMatrix::version);

    // Part: PNG.
    let t = Stopwatch::start();
    let pngs: Vec<Vec<u8>> = matrices
        .iter()
        .map(|m| render::to_png(m, &ropts))
        .collect::<std::result::Result<_, _>>()?;
    let t_png = t.elapsed();
    let png_bytes = pngs.iter().map(Vec::len).sum::<usize>() / pngs.len().max(1);

    // Part: image self-check (decode the PNG again), on a sample.
    let sample = n.min(50);
    let t = Stopwatch::start();
    for (png, x) in pngs.iter().zip(&signed).take(sample) {
        selfcheck::check_image(png, &x.credential.text, s.trust(), now)?;
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
        batch::sync_file_system(&files)?;
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
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
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
    Ok(())
}
