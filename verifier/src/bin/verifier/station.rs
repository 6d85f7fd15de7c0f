//! `verifier verify -`: scanner text on stdin, each line verified as it arrives.
//!
//! A reader thread reads lines (each capped at the text limit; a longer line is reported as
//! `INPUT_TOO_LARGE` and skipped, the stream goes on) into a bounded channel. The main thread
//! takes the first waiting line and every other line already waiting (up to [`CHUNK`]),
//! verifies them in parallel, and prints the reports in input order, flushed. So a line typed or
//! scanned on its own is verified at once, and piped bulk input uses every core.
//!
//! On a terminal (stdin a terminal, no `--json`) this is the scan station: a large verdict per
//! scan (coloured when stdout is a terminal and `NO_COLOR` is unset), the holder's fields and the
//! reasons, a bell on anything but VALID, and a running tally.
//!
//! An image on stdin is read into memory (capped like an image file) and checked as one input.

use std::io::{BufRead, BufReader, Cursor, IsTerminal as _, Read, Write};
use std::sync::mpsc;

use chrono::Utc;
use rayon::prelude::*;

use permit_shared::reason::Code;
use permit_verifier::check::{self, Input};
use permit_verifier::report::Report;
use permit_verifier::scan::ScanLimits;
use permit_verifier::verify::{ClockSource, Context, Reason, Verdict};

use crate::cli::VerifyArgs;
use crate::{Failure, io_fail};

/// Most lines verified in one parallel batch.
const CHUNK: usize = 1024;

/// One line of scanner text as read.
pub(crate) enum Line {
    /// The line (without its CR/LF), lossily decoded as UTF-8.
    Text(String),
    /// A line longer than the cap: its length in bytes (its content was skipped).
    TooLong(u64),
}

/// Reads the next line, keeping at most `cap` + 1 bytes of it in memory. `None` at end of input.
pub(crate) fn next_line(r: &mut impl BufRead, cap: usize) -> std::io::Result<Option<Line>> {
    let mut kept: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    let mut last = None;
    let mut any = false;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            if !any {
                return Ok(None);
            }
            break;
        }
        any = true;
        let (part, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], true),
            None => (avail, false),
        };
        total += part.len() as u64;
        if let Some(&b) = part.last() {
            last = Some(b);
        }
        let room = (cap + 1).saturating_sub(kept.len());
        kept.extend_from_slice(&part[..part.len().min(room)]);
        let used = part.len() + usize::from(done);
        r.consume(used);
        if done {
            break;
        }
    }
    if last == Some(b'\r') {
        total -= 1;
        if kept.len() as u64 > total {
            kept.truncate(total as usize);
        }
    }
    if total > cap as u64 {
        return Ok(Some(Line::TooLong(total)));
    }
    Ok(Some(Line::Text(
        String::from_utf8_lossy(&kept).into_owned(),
    )))
}

impl Line {
    /// A blank line (not a scan).
    fn is_blank(&self) -> bool {
        matches!(self, Line::Text(t) if t.trim().is_empty())
    }
}

/// The report for one line.
pub(crate) fn report_line(
    name: &str,
    line: &Line,
    ctx: &Context<'_>,
    limits: &ScanLimits,
) -> Report {
    match line {
        Line::Text(t) => check::check(name, Input::Text(t), ctx, limits),
        Line::TooLong(n) => {
            // The verdict and exit code the library gives any text over the limit: INVALID (1).
            let mut r = check::input_error(
                name,
                Reason::new(
                    Code::InputTooLarge,
                    format!(
                        "line of {n} bytes, more than the text limit of {} bytes; the line was skipped",
                        limits.max_text_bytes
                    ),
                ),
                ctx,
            );
            r.input_error = false;
            r.verdict = Verdict::from_reasons(&r.reasons);
            r
        }
    }
}

/// Whether these first bytes of an input are an image (by content).
pub(crate) fn is_image(head: &[u8]) -> bool {
    image::guess_format(head).is_ok()
}

/// The report for image bytes, refused (`INPUT_TOO_LARGE`) above the image file cap.
pub(crate) fn report_image(
    name: &str,
    bytes: &[u8],
    ctx: &Context<'_>,
    limits: &ScanLimits,
) -> Report {
    if bytes.len() as u64 > limits.max_file_bytes {
        return check::input_error(
            name,
            Reason::new(
                Code::InputTooLarge,
                format!(
                    "image of more than {} bytes (the image file limit)",
                    limits.max_file_bytes
                ),
            ),
            ctx,
        );
    }
    check::check(name, Input::Image(bytes), ctx, limits)
}

/// The context for the next batch: on the device clock, the time now.
pub(crate) fn context_now<'a>(base: &Context<'a>) -> Context<'a> {
    let mut ctx = base.clone();
    if ctx.clock_source == ClockSource::System {
        ctx.at = Utc::now();
    }
    ctx
}

/// `verifier verify -`.
pub(crate) fn run(a: &VerifyArgs) -> Result<u8, Failure> {
    let opened = crate::load::open(&a.session)?;
    let base = opened.session.context();
    let limits = ScanLimits {
        time_budget: std::time::Duration::from_millis(a.time_budget_ms),
        ..ScanLimits::default()
    };
    let terminal = std::io::stdin().is_terminal();
    let mut input = BufReader::with_capacity(64 * 1024, std::io::stdin());
    let head = if terminal {
        Vec::new()
    } else {
        read_head(&mut input).map_err(|e| io_fail("stdin", &e))?
    };
    let mut out = std::io::stdout().lock();
    if is_image(&head) {
        let mut bytes = head;
        let room = (limits.max_file_bytes + 1).saturating_sub(bytes.len() as u64);
        (&mut input)
            .take(room)
            .read_to_end(&mut bytes)
            .map_err(|e| io_fail("stdin", &e))?;
        let r = report_image("-", &bytes, &context_now(&base), &limits);
        print_one(&mut out, &r, a.json, a.reveal_id);
        let code = r.exit_code();
        opened.finish(std::slice::from_ref(&r));
        return Ok(code);
    }
    let station = terminal && !a.json;
    let style = Style {
        colour: station
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    if station {
        eprintln!("scan station: scan a code (or type it and press Enter); Ctrl-D ends");
    }
    let reader = Cursor::new(head).chain(input);
    let rx = spawn_reader(reader, limits.max_text_bytes);
    let mut tally = Tally::default();
    // Piped input: the first report waits for a second line or the end, so that a single line is
    // reported as before (`-`, pretty JSON, no summary).
    let mut held: Option<Report> = None;
    let mut failure = None;
    'batches: while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < CHUNK {
            match rx.try_recv() {
                Ok(l) => batch.push(l),
                Err(_) => break,
            }
        }
        let mut lines = Vec::with_capacity(batch.len());
        for l in batch {
            match l {
                Ok(l) => lines.push(l),
                Err(e) => failure = Some(io_fail("stdin", &e)),
            }
        }
        let ctx = context_now(&base);
        let start = tally.scans;
        let reports: Vec<Report> = lines
            .par_iter()
            .enumerate()
            .map(|(i, l)| report_line(&format!("-:{}", start + i + 1), l, &ctx, &limits))
            .collect();
        for r in reports {
            tally.add(&r);
            if !terminal && tally.scans == 1 {
                held = Some(r);
                continue;
            }
            let ok = match held.take() {
                Some(h) => emit(&mut out, &h, a, station, style, &tally),
                None => true,
            } && emit(&mut out, &r, a, station, style, &tally);
            if !ok {
                break 'batches; // closed stdout
            }
        }
        let _ = out.flush();
        if failure.is_some() {
            break;
        }
    }
    match (held, tally.scans) {
        (Some(mut r), 1) => {
            r.input = "-".into();
            print_one(&mut out, &r, a.json, a.reveal_id);
        }
        (_, 0) => {
            let r = check::check("-", Input::Text(""), &base, &limits);
            print_one(&mut out, &r, a.json, a.reveal_id);
            tally.add(&r);
        }
        _ => eprintln!("{}", tally.summary()),
    }
    let _ = out.flush();
    opened.finish(tally.clock_behind.as_slice());
    match failure {
        Some(f) => Err(f),
        None => Ok(tally.exit_code()),
    }
}

/// The first bytes of a piped input, enough to tell an image from text: up to 16 bytes, less at
/// a line end or the end of input.
fn read_head(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(16);
    let mut byte = [0u8; 16];
    while head.len() < 16 && !head.contains(&b'\n') {
        let n = r.read(&mut byte[..16 - head.len()])?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&byte[..n]);
    }
    Ok(head)
}

type Received = std::io::Result<Line>;

/// Reads non-blank lines on a thread into a bounded channel; a read error is sent and ends it.
fn spawn_reader(mut reader: impl BufRead + Send + 'static, cap: usize) -> mpsc::Receiver<Received> {
    let (tx, rx) = mpsc::sync_channel::<Received>(4 * CHUNK);
    std::thread::spawn(move || {
        loop {
            let sent = match next_line(&mut reader, cap) {
                Ok(None) => break,
                Ok(Some(l)) if l.is_blank() => continue,
                Ok(Some(l)) => tx.send(Ok(l)),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            };
            if sent.is_err() {
                break; // the main thread stopped
            }
        }
    });
    rx
}

/// One report as a single input: pretty JSON or the human text.
fn print_one(out: &mut impl Write, r: &Report, json: bool, reveal_id: bool) {
    let text = if json {
        serde_json::to_string_pretty(&r.to_json(reveal_id)).unwrap_or_default()
    } else {
        r.to_human(reveal_id)
    };
    let _ = writeln!(out, "{text}");
}

/// One report of a stream: a JSON line, the station display, or the human text. False when
/// stdout is closed.
fn emit(
    out: &mut impl Write,
    r: &Report,
    a: &VerifyArgs,
    station: bool,
    style: Style,
    tally: &Tally,
) -> bool {
    let text = if a.json {
        serde_json::to_string(&r.to_json(a.reveal_id)).unwrap_or_default()
    } else if station {
        // The banner (and bell) first, so the verdict shows before the details are rendered.
        if write!(out, "{}", style.banner(r))
            .and_then(|()| out.flush())
            .is_err()
        {
            return false;
        }
        format!("{}{}\n", r.to_human(a.reveal_id), style.tally(tally))
    } else {
        r.to_human(a.reveal_id)
    };
    writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
}

/// Counts of a stream, its worst exit code, and the first report that found the clock behind.
#[derive(Default)]
struct Tally {
    scans: usize,
    valid: usize,
    invalid: usize,
    indeterminate: usize,
    unreadable: usize,
    worst: Option<u8>,
    clock_behind: Option<Report>,
}

impl Tally {
    fn add(&mut self, r: &Report) {
        self.scans += 1;
        match (r.input_error, r.verdict) {
            (true, _) => self.unreadable += 1,
            (false, Verdict::Valid) => self.valid += 1,
            (false, Verdict::Invalid) => self.invalid += 1,
            (false, Verdict::Indeterminate) => self.indeterminate += 1,
        }
        // Invalid over indeterminate over unreadable over valid.
        let rank = |c: u8| [0, 3, 1, 2].get(usize::from(c)).copied().unwrap_or(3);
        let c = r.exit_code();
        if self.worst.is_none_or(|w| rank(c) > rank(w)) {
            self.worst = Some(c);
        }
        if self.clock_behind.is_none() && r.reasons.iter().any(|x| x.code == Code::ClockBehind) {
            self.clock_behind = Some(r.clone());
        }
    }

    fn exit_code(&self) -> u8 {
        self.worst.unwrap_or(2)
    }

    /// The summary (the same object as `verify`'s summary of several inputs).
    fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "inputs": self.scans,
            "valid": self.valid,
            "invalid": self.invalid,
            "indeterminate": self.indeterminate,
            "unreadable": self.unreadable,
        })
    }
}

/// How the station display looks.
#[derive(Clone, Copy)]
struct Style {
    colour: bool,
}

/// Width of the verdict banner, in columns.
const BANNER_WIDTH: usize = 52;

impl Style {
    /// The verdict as a three-line banner (reversed colour, or a frame of `=`/`!` without
    /// colour), with the bell before anything but VALID.
    fn banner(self, r: &Report) -> String {
        let (word, colour) = match r.verdict {
            Verdict::Valid => ("✔  VALID 有效", "\x1b[1;97;42m"),
            Verdict::Invalid => ("✘  INVALID 无效 — REFUSE", "\x1b[1;97;41m"),
            Verdict::Indeterminate if r.input_error => {
                ("↻  NOT READ 未能识读 — SCAN AGAIN", "\x1b[1;30;43m")
            }
            Verdict::Indeterminate => ("?  CHECK MANUALLY 无法判定", "\x1b[1;30;43m"),
        };
        let bell = if r.verdict == Verdict::Valid && !r.input_error {
            ""
        } else {
            "\x07"
        };
        // CJK characters take two columns.
        let cols: usize = word
            .chars()
            .map(|c| if c > '\u{2e80}' { 2 } else { 1 })
            .sum();
        let pad = BANNER_WIDTH.saturating_sub(cols + 4);
        let middle = format!("    {word}{}", " ".repeat(pad));
        if self.colour {
            let blank = " ".repeat(BANNER_WIDTH);
            format!(
                "{bell}\n{colour}{blank}\x1b[0m\n{colour}{middle}\x1b[0m\n{colour}{blank}\x1b[0m\n"
            )
        } else {
            let edge = if bell.is_empty() { "=" } else { "!" }.repeat(BANNER_WIDTH);
            format!("{bell}\n{edge}\n{middle}\n{edge}\n")
        }
    }

    /// The running tally line.
    fn tally(self, t: &Tally) -> String {
        let line = format!(
            "scans {} · valid {} · invalid {} · check manually {} · not read {}",
            t.scans, t.valid, t.invalid, t.indeterminate, t.unreadable
        );
        if self.colour {
            format!("\x1b[2m{line}\x1b[0m")
        } else {
            line
        }
    }
}
