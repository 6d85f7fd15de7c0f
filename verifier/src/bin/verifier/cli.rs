//! Command-line definitions of `verifier`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Verify Guangdong electronic residence permits (粤居码) from QR images or scanner text.
#[derive(Debug, Parser)]
#[command(name = "verifier", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify permits: image files (PNG, JPEG, WebP, BMP, GIF, TIFF; by content), directories of
    /// images, or `-` for scanner text on stdin (one code per line).
    Verify(VerifyArgs),
    /// Print the raw text of every QR code in an image, one per line.
    Decode {
        /// The image file.
        image: PathBuf,
    },
}

/// `verifier verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Inputs: image files, directories (every file inside, not recursive), or `-` (stdin text).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Signed trust list (JSON). Default: the embedded TEST-ONLY demo list.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Pinned root public key for the trust list (PEM or JWK). Default: the TEST-ONLY demo root.
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
    /// Signed status list (from `issuer status publish`).
    #[arg(long, value_name = "FILE")]
    pub status: Option<PathBuf>,
    /// Hours a status list is still used after its next-update time.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    pub status_grace_hours: u32,
    /// Verify as of this time (RFC 3339) instead of the device clock; the clock floor does not
    /// apply to an explicit time.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Print JSON (one object; one line per input when there are several inputs).
    #[arg(long)]
    pub json: bool,
    /// Show the full ID number instead of the masked one.
    #[arg(long)]
    pub reveal_id: bool,
    /// State file (clock floor, highest list sequences seen). Default:
    /// `$XDG_STATE_HOME/gdrp-verifier/state.json` or `~/.local/state/gdrp-verifier/state.json`.
    #[arg(long, value_name = "FILE", conflicts_with = "no_state")]
    pub state: Option<PathBuf>,
    /// Keep no state (no clock floor, no rollback detection).
    #[arg(long)]
    pub no_state: bool,
    /// Time budget per image, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub time_budget_ms: u64,
}
