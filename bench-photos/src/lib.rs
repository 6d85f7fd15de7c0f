//! Synthetic phone photos of issued permits, and the photo decoding benchmark.
//!
//! The generator turns real issued permits (signed with the TEST-ONLY demo key on a fixed clock,
//! [`permits`]) into photos under thirteen conditions at three levels of difficulty
//! ([`conditions`]), rendered by a small physical model of a camera looking at a printed card or a
//! phone screen ([`scene`]). Everything is drawn from one seed ([`rng`]): the same seed gives the
//! same files, byte for byte, whatever the number of threads.
//!
//! The `photo-bench` binary writes the set ([`set`]), reads every photo with the verifier's own
//! scan path, with `zbarimg` and with zxing-cpp ([`decoders`]), and prints the table of success
//! rates and median times per condition ([`report`]). Run it with `scripts/bench-photos.sh`.

use std::fmt;

pub mod conditions;
pub mod decoders;
pub mod permits;
pub mod report;
pub mod rng;
pub mod scene;
pub mod set;

/// Why the benchmark could not go on: a message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError(pub String);

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(error: std::io::Error) -> Self {
        BenchError(error.to_string())
    }
}

impl From<serde_json::Error> for BenchError {
    fn from(error: serde_json::Error) -> Self {
        BenchError(error.to_string())
    }
}
