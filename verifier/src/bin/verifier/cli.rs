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
    /// images, or `-` for scanner text on stdin (one code per line, each verified as it arrives:
    /// the scan station on a terminal).
    Verify(VerifyArgs),
    /// Serve the JSON verification API (`POST /api/v1/verify`) and, with `--web`, static files.
    Serve(ServeArgs),
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
    /// Trust list, status list, time and state.
    #[command(flatten)]
    pub session: SessionArgs,
    /// Print JSON (one object; one line per input when there are several inputs).
    #[arg(long)]
    pub json: bool,
    /// Show the full ID number instead of the masked one.
    #[arg(long)]
    pub reveal_id: bool,
    /// Time budget per image, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub time_budget_ms: u64,
}

/// Where the trust comes from and what time it is: the options `verify` and `serve` share.
#[derive(Debug, Args)]
pub struct SessionArgs {
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
    /// State file (clock floor, highest list sequences seen). Default:
    /// `$XDG_STATE_HOME/gdrp-verifier/state.json` or `~/.local/state/gdrp-verifier/state.json`.
    #[arg(long, value_name = "FILE", conflicts_with = "no_state")]
    pub state: Option<PathBuf>,
    /// Keep no state (no clock floor, no rollback detection, no replay detection across runs).
    #[arg(long)]
    pub no_state: bool,
    /// The verifier's role: which views it accepts and which fields it shows (police: every
    /// field; hotel, hospital, employer, school: masked name, last 4 of the ID number, city,
    /// dates, serial).
    #[arg(long, value_name = "ROLE", default_value = "police", value_parser = parse_role)]
    pub role: permit_shared::role::Role,
    /// Seconds a live presentation is accepted after the holder's app drew it.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub presentation_window: u32,
    /// Seconds of clock difference allowed between the holder's phone and this device.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=3600))]
    pub presentation_skew: u32,
}

fn parse_role(s: &str) -> Result<permit_shared::role::Role, String> {
    permit_shared::role::Role::parse(s).ok_or_else(|| {
        format!(
            "unknown role `{s}`; roles: {}",
            permit_shared::role::Role::names().join(", ")
        )
    })
}

/// `verifier serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Serve the files of this directory (e.g. the web verifier) at `/`; nothing when absent.
    #[arg(long, value_name = "DIR")]
    pub web: Option<PathBuf>,
    /// Requests handled at once; more wait for a free slot.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_concurrent: usize,
    /// Trust list, status list, time and state.
    #[command(flatten)]
    pub session: SessionArgs,
    /// Time budget per image, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub time_budget_ms: u64,
}
