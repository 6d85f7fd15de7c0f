//! Image files (PNG, JPEG, WebP, BMP, GIF, TIFF by content) scanned with low caps; every code
//! found is verified. Harness: `permit_verifier::fuzzing::image`.
//!
//! The scanner catches panics of the decoding crates (an image codec's as `IMAGE_UNREADABLE`, the
//! QR decoder's as `DECODER_PANICKED`), but
//! libFuzzer's panic hook would abort on them before they are caught. This target installs its
//! own hook instead: a panic located in the product's source (`shared/src`, `verifier/src`)
//! aborts, caught or not; a panic of the QR decoder crate (rxing) is silent; any other panic
//! (e.g. an image codec) is printed and left to the scanner to contain. A panic that escapes the
//! harness aborts in any case (libfuzzer-sys aborts on an unwinding fuzz target).
#![no_main]

use libfuzzer_sys::fuzz_target;

fn is_product(file: &str) -> bool {
    ["shared/src/", "verifier/src/"]
        .iter()
        .any(|p| file.contains(p))
        && !file.contains("/.cargo/")
}

fuzz_target!(
    init: {
        // The first `take_hook` removes libFuzzer's aborting hook, the second returns the
        // standard hook that prints the message.
        drop(std::panic::take_hook());
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or("");
            if is_product(file) {
                default_hook(info);
                std::process::abort();
            }
            if !file.contains("rxing") {
                default_hook(info);
            }
        }));
    },
    |data: &[u8]| permit_verifier::fuzzing::image(data)
);
