//! Marks the end-to-end tests whose outside tool or test material this machine lacks as ignored
//! (with the reason); see `probe/tools.rs`.

include!("probe/tools.rs");

fn main() {
    probe(&[
        ("shared", Need::Shared),
        ("zbar", Need::Command("zbarimg", &["--version"])),
        ("zxing", Need::Python("zxingcpp, PIL")),
        ("pycose", Need::Python("pycose, cbor2")),
    ]);
}
