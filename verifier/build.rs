//! Test-only: marks the verifier's tests that need `../shared` (the public QR corpora) as ignored
//! when it is not beside the checkout; see `../tests/probe/tools.rs`. The product reads none of
//! what it sets.

include!("../tests/probe/tools.rs");

fn main() {
    probe(&[("shared", Need::Shared)]);
}
