//! Test-only: marks the issuer's tests whose outside tool (PostgreSQL, SoftHSM2, OpenSSL, Python,
//! `../shared`, root) this machine lacks as ignored, with the reason; see
//! `../tests/probe/tools.rs`. The product reads none of what it sets.

include!("../tests/probe/tools.rs");

fn main() {
    probe(&[
        ("shared", Need::Shared),
        ("postgres", Need::Env("GDRP_TEST_POSTGRES")),
        ("softhsm", Need::File("/usr/lib/softhsm/libsofthsm2.so")),
        (
            "softhsm_util",
            Need::Command("softhsm2-util", &["--version"]),
        ),
        ("openssl", Need::Command("openssl", &["version"])),
        ("python3", Need::Command("python3", &["--version"])),
        ("root", Need::Root),
    ]);
}
