//! What every issuing command shares: the [`Office`] acting (settings, time, actor), the
//! [`Signer`] (a key checked against the trust list it is published in), and the one checked
//! output path from a signed credential to the bytes written ([`output`]: QR matrix → PNG,
//! decoded again and verified → PNG, SVG or text).
//!
//! ```text
//! Office (settings, now, actor) ──► lifecycle::* (in a ledger transaction)
//! Signer (key + trust list, key-use policy checked) ──► lifecycle signing steps
//! signed text ──► output::Code::encode ──► Code::checked_png (render, decode, verify)
//!             ──► Code::bytes(Format::{Png, Svg, Text})
//! ```
//!
//! `issuer issue`, `review`, `endorse`, `change` and `qr`, `issuer batch` and `issuer card` all
//! go through here, so that no output is written that the verifier would not accept.

mod office;
pub mod output;
mod signer;
mod wallet;

pub use office::Office;
pub use signer::{Backend, SignError, Signer, SignerError};
pub use wallet::{wallet, write_wallet_file};
