//! How the verifier's scan path reads each given photo: the attempt that found the code, the
//! number of attempts and the time, or the reason code.
//!
//! ```text
//! cargo run --release -p permit-photo-bench --example scan_report -- PHOTO...
//! ```

use std::process::ExitCode;
use std::time::Instant;

use permit_verifier::scan::{ScanLimits, scan_image_bytes_with_report};

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("{path}: {error}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        let started = Instant::now();
        let result = scan_image_bytes_with_report(&bytes, &ScanLimits::default());
        let ms = started.elapsed().as_millis();
        match result {
            Ok(report) => println!(
                "{path}: ok {} code(s), {} attempt(s), {ms} ms [{}]",
                report.codes.len(),
                report.attempts,
                report.strategy
            ),
            Err(error) => println!("{path}: {} {ms} ms", error.code()),
        }
    }
    status
}
