//! `verifier verify`: loads the trust list, status list and state, expands the inputs, checks
//! each, prints the reports and saves the state.

use std::io::Write;
use std::path::PathBuf;

use rayon::prelude::*;

use permit_verifier::check::{self, Input};
use permit_verifier::normalise;
use permit_verifier::report::Report;
use permit_verifier::scan::ScanLimits;
use permit_verifier::verify;

use crate::cli::VerifyArgs;
use crate::{Failure, fail, io_fail, read_capped};

/// `verifier verify`: every input checked (in parallel), one report each on stdout, a summary
/// when there are several; the exit code is the worst report's.
pub(crate) fn run(a: &VerifyArgs) -> Result<u8, Failure> {
    if let [only] = a.inputs.as_slice()
        && only.as_os_str() == "-"
    {
        return crate::station::run(a);
    }
    if a.inputs.iter().any(|p| p.as_os_str() == "-") {
        return Err(fail(
            "`-` (stdin) must be the only input: stdin is a stream of scans of its own",
        ));
    }
    let opened = crate::load::open(&a.session)?;
    let ctx = opened.session.context();
    let limits = ScanLimits {
        time_budget: std::time::Duration::from_millis(a.time_budget_ms),
        ..ScanLimits::default()
    };
    let items = expand(&a.inputs)?;
    let many = items.len() > 1;
    let bar = if many && !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Some(indicatif::ProgressBar::new(items.len() as u64))
    } else {
        None
    };
    let reports: Vec<Report> = items
        .par_iter()
        .map(|i| {
            let r = check_item(i, &ctx, &limits);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    opened.finish(&reports);
    let mut out = std::io::stdout().lock();
    print_reports(&mut out, &reports, a.json, a.reveal_id);
    if many {
        print_summary(&mut out, &reports, a.json);
    }
    Ok(worst_exit_code(&reports))
}

/// The report for one input; a file that cannot be read gets an input-error report.
fn check_item(item: &Item, ctx: &verify::Context<'_>, limits: &ScanLimits) -> Report {
    match item {
        Item::Text { name, text } => check::check(name, Input::Text(text), ctx, limits),
        Item::File(p) => {
            let name = p.display().to_string();
            match read_capped(p, limits.max_file_bytes) {
                Ok(bytes) => check::check(&name, Input::Image(&bytes), ctx, limits),
                Err(f) => check::unreadable(&name, &f.message, ctx),
            }
        }
    }
}

/// Every report on `out`: JSON (pretty for one report, one line each for several) or text. A
/// closed stdout stops the output, not the run.
fn print_reports(out: &mut impl Write, reports: &[Report], json: bool, reveal_id: bool) {
    let many = reports.len() > 1;
    for r in reports {
        let text = if json {
            let v = r.to_json(reveal_id);
            if many {
                serde_json::to_string(&v).unwrap_or_default()
            } else {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            }
        } else {
            r.to_human(reveal_id)
        };
        if writeln!(out, "{text}").is_err() {
            break;
        }
    }
}

/// The exit code of the run: the worst report's (invalid over indeterminate over unreadable
/// over valid); 2 when there is no report.
fn worst_exit_code(reports: &[Report]) -> u8 {
    reports
        .iter()
        .map(Report::exit_code)
        .max_by_key(|c| match c {
            0 => 0,
            2 => 1,
            3 => 2,
            _ => 3,
        })
        .unwrap_or(2)
}

/// The counts of a run of several inputs: with `--json` one more JSON line on stdout, else on
/// stderr.
fn print_summary(out: &mut impl Write, reports: &[Report], json: bool) {
    let count = |v: verify::Verdict| {
        reports
            .iter()
            .filter(|r| r.verdict == v && !r.input_error)
            .count()
    };
    let summary = serde_json::json!({
        "summary": {
            "inputs": reports.len(),
            "valid": count(verify::Verdict::Valid),
            "invalid": count(verify::Verdict::Invalid),
            "indeterminate": count(verify::Verdict::Indeterminate),
            "unreadable": reports.iter().filter(|r| r.input_error).count(),
        }
    });
    if json {
        let _ = writeln!(out, "{summary}");
    } else {
        eprintln!("{}", summary["summary"]);
    }
}

/// Expands the inputs: directories to their files (sorted).
enum Item {
    /// A file: an image, or anything else, which the scan names as unreadable.
    File(PathBuf),
    /// One line of scanner text from a `.txt` file.
    Text { name: String, text: String },
}

fn expand(inputs: &[PathBuf]) -> Result<Vec<Item>, Failure> {
    let mut items = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| io_fail(p.display(), &e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .collect();
            if files.is_empty() {
                return Err(Failure {
                    code: "NO_IMAGES",
                    message: format!("{}: the directory holds no images", p.display()),
                    hint: Some("name image files (PNG, JPEG, …) or a directory of them, or `.txt` files of scanner text".into()),
                });
            }
            files.sort();
            for f in files {
                items.extend(file_items(f)?);
            }
        } else {
            items.extend(file_items(p.clone())?);
        }
    }
    Ok(items)
}

/// A file to check: an image (or any other file, which the scan then names as unreadable), or,
/// for a `.txt` file that is not an image, its scanner text with one code per line (each line an
/// item named `FILE:N`, or `FILE` when there is one).
fn file_items(path: PathBuf) -> Result<Vec<Item>, Failure> {
    let is_txt = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if !is_txt {
        return Ok(vec![Item::File(path)]);
    }
    let bytes = read_capped(&path, 4 * 1024 * 1024)?;
    if image::guess_format(&bytes).is_ok() {
        return Ok(vec![Item::File(path)]);
    }
    let name = path.display().to_string();
    let text = String::from_utf8_lossy(&bytes);
    let lines = normalise::scanner_lines(&text);
    if lines.len() <= 1 {
        let text = lines.first().map_or_else(String::new, |l| (*l).to_owned());
        return Ok(vec![Item::Text { name, text }]);
    }
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, l)| Item::Text {
            name: format!("{name}:{}", i + 1),
            text: (*l).to_owned(),
        })
        .collect())
}
