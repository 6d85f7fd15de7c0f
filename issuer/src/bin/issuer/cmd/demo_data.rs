//! `issuer demo-data`: synthetic test applicants for demos and scale tests.

use std::io::Write as _;
use std::process::ExitCode;

use permit_issuer::batch::InputFormat;
use permit_issuer::demo_data;

use crate::cli::DemoDataArgs;
use crate::cmd::batch::input_format;
use crate::error::{Failure, Result};
use crate::output::write_output;

/// `issuer demo-data`
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
        write_output(&a.out, &buf, a.force)?;
        l
    };
    if let Some(p) = &a.labels {
        let mut buf = Vec::new();
        demo_data::write_labels(&labels, &mut buf).map_err(|e| Failure::usage(e.to_string()))?;
        write_output(p, &buf, a.force)?;
    }
    Ok(ExitCode::SUCCESS)
}
