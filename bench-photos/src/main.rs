//! `photo-bench`: makes the synthetic photo set from a seed and compares the verifier's scan
//! path with zbarimg and zxing-cpp on it.
//!
//! ```text
//! photo-bench --out DIR [--seed 20261202] [--per-level 6] [--conditions blur,noise] \
//!             [--levels 1,2,3] [--decoders ours,zbar,zxing-cpp] [--regenerate] [--python python3]
//! ```
//!
//! Writes the photos and `manifest.json` into DIR (reusing a set made from the same parameters),
//! reads every photo with each decoder in turn (one decoder at a time, never in parallel, so the
//! times compare), and writes `results.md` and `results.json` into DIR; the Markdown is printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use permit_photo_bench::conditions::Condition;
use permit_photo_bench::decoders::{self, Zxing};
use permit_photo_bench::report::{self, Record};
use permit_photo_bench::set::{self, Entry, SetParams};
use permit_photo_bench::{BenchError, permits};

/// Synthetic permit photos and the decoder comparison.
#[derive(Debug, Parser)]
#[command(name = "photo-bench", version)]
struct Args {
    /// Directory of the photo set and the results.
    #[arg(long, default_value = "photo-bench-out")]
    out: PathBuf,
    /// Seed of the set: the same seed gives the same photos.
    #[arg(long, default_value_t = 20_261_202)]
    seed: u64,
    /// Photos per condition and level.
    #[arg(long, default_value_t = 6)]
    per_level: usize,
    /// Conditions, comma-separated (default: all thirteen).
    #[arg(long, value_delimiter = ',')]
    conditions: Vec<String>,
    /// Levels, comma-separated (default: 1,2,3).
    #[arg(long, value_delimiter = ',', default_values_t = [1_u8, 2, 3])]
    levels: Vec<u8>,
    /// Decoders to run, comma-separated, of: ours, zbar, zxing-cpp.
    #[arg(long, value_delimiter = ',', default_values_t = decoders::NAMES.map(str::to_owned))]
    decoders: Vec<String>,
    /// Make the photos again even if the directory holds the same set.
    #[arg(long)]
    regenerate: bool,
    /// Only make the photos.
    #[arg(long)]
    generate_only: bool,
    /// Python interpreter with zxing-cpp and Pillow.
    #[arg(long, default_value = "python3")]
    python: String,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("photo-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), BenchError> {
    let conditions = if args.conditions.is_empty() {
        Condition::ALL.to_vec()
    } else {
        args.conditions
            .iter()
            .map(|name| {
                Condition::from_name(name).ok_or_else(|| {
                    let known: Vec<&str> = Condition::ALL.iter().map(|c| c.name()).collect();
                    BenchError(format!(
                        "unknown condition {name:?}; known: {}",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if let Some(level) = args.levels.iter().find(|l| !(1..=3).contains(*l)) {
        return Err(BenchError(format!("level {level}: levels are 1, 2, 3")));
    }
    if let Some(d) = args
        .decoders
        .iter()
        .find(|d| !decoders::NAMES.contains(&d.as_str()))
    {
        return Err(BenchError(format!(
            "unknown decoder {d:?}; known: {}",
            decoders::NAMES.join(", ")
        )));
    }
    if args.per_level == 0 {
        return Err(BenchError("--per-level must be at least 1".to_owned()));
    }
    let params = SetParams {
        seed: args.seed,
        specs: set::specs(&conditions, &args.levels, args.per_level),
    };
    let entries = photo_set(&args.out, &params, args.regenerate)?;
    if args.generate_only {
        return Ok(());
    }
    let records = decode_all(args, &entries)?;
    let decoders: Vec<&str> = decoders::NAMES
        .into_iter()
        .filter(|d| args.decoders.iter().any(|a| a == d))
        .collect();
    let markdown = report::markdown(&records, &decoders);
    println!("\n{markdown}");
    std::fs::write(args.out.join("results.md"), &markdown)?;
    let mut json = report::json(&records, &decoders);
    if let Some(object) = json.as_object_mut() {
        object.insert("seed".to_owned(), args.seed.into());
        object.insert("per_level".to_owned(), args.per_level.into());
    }
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_vec_pretty(&json)?,
    )?;
    println!(
        "results: {} and {}",
        args.out.join("results.md").display(),
        args.out.join("results.json").display()
    );
    Ok(())
}

/// The set in `dir`, made now unless the same set is already there.
fn photo_set(dir: &Path, params: &SetParams, regenerate: bool) -> Result<Vec<Entry>, BenchError> {
    if !regenerate && let Some(entries) = set::existing(dir, params) {
        eprintln!(
            "reusing the {} photos in {} (same seed and set; --regenerate to make them again)",
            entries.len(),
            dir.display()
        );
        return Ok(entries);
    }
    let per_level = params.specs.iter().map(|s| s.index + 1).max().unwrap_or(1);
    let started = Instant::now();
    let texts = permits::issue_permits(per_level, params.seed)?;
    eprintln!(
        "issued {} permits; making {} photos in {} …",
        texts.len(),
        params.specs.len(),
        dir.display()
    );
    let entries = set::generate(dir, params, &texts)?;
    eprintln!(
        "made {} photos in {:.1} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(entries)
}

/// Every photo through every chosen decoder, one after the other.
fn decode_all(args: &Args, entries: &[Entry]) -> Result<Vec<Record>, BenchError> {
    let wants = |name: &str| args.decoders.iter().any(|d| d == name);
    if wants("zbar") {
        eprintln!("zbar: {}", decoders::zbar_version()?);
        eprintln!(
            "zbarimg process on a blank 64x64 PNG (fixed cost in every zbar time): {:.1} ms",
            decoders::zbar_startup_ms(&args.out)?
        );
    }
    let mut zxing = if wants("zxing-cpp") {
        let zxing = Zxing::start(&args.python)?;
        eprintln!("zxing-cpp: {}", zxing.version);
        Some(zxing)
    } else {
        None
    };
    // One untimed read of the first photo by each decoder (code paths and caches warm).
    if let Some(first) = entries.first() {
        let path = args.out.join(&first.file);
        let _ = decoders::ours(&std::fs::read(&path)?);
        if let Some(zxing) = zxing.as_mut() {
            zxing.read(&path)?;
        }
    }
    let mut records = Vec::new();
    let started = Instant::now();
    for (i, entry) in entries.iter().enumerate() {
        let path = args.out.join(&entry.file);
        let mut outcomes = Vec::new();
        if wants("ours") {
            let bytes = std::fs::read(&path)?;
            outcomes.push(("ours", decoders::ours(&bytes)));
        }
        if wants("zbar") {
            outcomes.push(("zbar", decoders::zbar(&path)));
        }
        if let Some(zxing) = zxing.as_mut() {
            outcomes.push(("zxing-cpp", zxing.read(&path)?));
        }
        let mut line = format!("[{:>3}/{}] {:<22}", i + 1, entries.len(), entry.file);
        for (name, outcome) in outcomes {
            let ok = outcome.read(&entry.text);
            line.push_str(&format!(
                " {name} {} {:>6.0} ms",
                if ok { "ok  " } else { "FAIL" },
                outcome.ms
            ));
            records.push(Record {
                file: entry.file.clone(),
                condition: entry.condition.clone(),
                level: entry.level,
                decoder: name.to_owned(),
                ok,
                ms: outcome.ms,
                detail: outcome.detail,
            });
        }
        eprintln!("{line}");
    }
    eprintln!(
        "decoded {} photos in {:.1} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(records)
}
