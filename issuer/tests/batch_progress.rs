//! The progress `batch::run` reports: the input's rows before any work, then after every
//! committed chunk the rows finished so far, so a progress bar is full only when the job is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::AtomicBool;

use chrono::Utc;

use permit_issuer::batch::{self, BatchOptions, InputFormat, InputReader, Outputs, Summary};
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::render::{Ecc, RenderOptions};
use permit_issuer::settings::{Channel, Settings};
use permit_issuer::{demo, demo_data};
use permit_shared::trust::Usage;

#[test]
fn progress_counts_committed_rows_of_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("rows.jsonl");
    let mut rows = Vec::new();
    demo_data::write(
        &demo_data::Options {
            count: 300,
            bad: 10,
            ..demo_data::Options::default()
        },
        &mut rows,
    )
    .unwrap();
    // A blank line is not a row.
    rows.extend_from_slice(b"\n");
    std::fs::write(&input, &rows).unwrap();
    let now = Utc::now();
    let settings = Settings::default();
    let signer = demo::signer(Usage::Permit, now).unwrap();
    let (stop, abort) = (AtomicBool::new(false), AtomicBool::new(false));
    let clock = move || now;
    let opts = BatchOptions {
        out_dir: &tmp.path().join("out"),
        input: &input,
        format: InputFormat::Jsonl,
        settings: &settings,
        signer: &signer,
        actor: "test",
        channel: Channel::Counter,
        ecc: Ecc::M,
        render: RenderOptions::default(),
        outputs: Outputs {
            svg: false,
            text: false,
        },
        chunk_rows: 16,
        image_check_every: 0,
        clock: &clock,
        stop: &stop,
        abort: &abort,
    };
    let mut ledger = SqliteLedger::open(&tmp.path().join("ledger.db")).unwrap();
    let mut reader = InputReader::new(
        Box::new(std::fs::File::open(&input).unwrap()),
        InputFormat::Jsonl,
        &input,
    )
    .unwrap();
    let mut seen: Vec<Summary> = Vec::new();
    let end = batch::run(&mut ledger, &mut reader, &opts, &mut |s| {
        seen.push(s.clone())
    })
    .unwrap();
    assert_eq!(seen[0].rows, 0, "the first report comes before any work");
    for s in &seen {
        assert_eq!(s.input_rows, 300);
        assert_eq!(s.rows, s.issued + s.rejected + s.already_done, "{s:?}");
        assert_eq!(s.manifest_total, s.issued, "{s:?}");
    }
    // Full only at the end.
    let full: Vec<usize> = (0..seen.len()).filter(|i| seen[*i].rows == 300).collect();
    assert_eq!(full, [seen.len() - 1]);
    assert_eq!(end, seen[seen.len() - 1]);
    assert_eq!(end.issued + end.rejected, 300);
    assert!(end.rejected > 0);
}
