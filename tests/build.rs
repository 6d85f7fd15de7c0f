//! Marks the end-to-end tests whose outside tool or test material this machine lacks as ignored
//! (with the reason); see `probe/tools.rs`.

include!("probe/tools.rs");

fn main() {
    probe(&[
        ("shared", Need::Shared),
        ("zbar", Need::Command("zbarimg", &["--version"])),
        ("zxing", Need::Python("zxingcpp, PIL")),
        ("pycose", Need::Python("pycose, cbor2")),
        // The web verifier page's browser test (e2e/web_page.rs).
        ("chromium", Need::Command("chromium", &["--version"])),
        (
            "chromedriver",
            Need::Command("chromedriver", &["--version"]),
        ),
    ]);
}
