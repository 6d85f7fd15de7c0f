//! One module per command group; each takes the parsed command line and returns the exit code.

pub mod batch;
pub mod card;
pub mod demo_data;
pub mod issue;
pub mod keys;
pub mod ledger;
pub mod permit;
pub mod status;
