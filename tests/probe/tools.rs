// The test-tool probe, `include!`d by the build scripts of the crates whose tests need an
// outside tool (permit-e2e, permit-issuer, permit-verifier). It sets nothing the product reads:
// for each tool a crate's tests need and this machine lacks, it sets the cfg `missing_<name>`,
// and the tests that need the tool carry
// `#[cfg_attr(missing_<name>, ignore = "<why, and how to install it>")]`, so `cargo test`
// lists them as `ignored, <why>` and counts them in its summary instead of a silent `ok`.
//
// With `GDRP_REQUIRE_TOOLS=1` (CI) no tool is reported missing: every test runs, and one whose
// tool is absent fails. The probe runs again when PATH, GDRP_TEST_POSTGRES or
// GDRP_REQUIRE_TOOLS change, or when a directory on PATH changes (a tool installed); `../shared`
// appearing beside a checkout that was built without it needs `touch tests/probe/tools.rs`.
// Each test also checks at run time and says why it does nothing if its tool has gone since.

/// One thing some tests need.
#[allow(dead_code)]
pub enum Need {
    /// `../shared` beside the checkout (public vectors, corpora, reference applicants).
    Shared,
    /// A command that runs (`program args…` starts and exits).
    Command(&'static str, &'static [&'static str]),
    /// Python 3 modules that import.
    Python(&'static str),
    /// A non-empty environment variable.
    Env(&'static str),
    /// A file that exists.
    File(&'static str),
    /// The tests run as root.
    Root,
}

/// Whether this machine has `need` (`manifest_dir`: the probing crate's directory).
#[allow(dead_code)]
pub fn present(need: &Need, manifest_dir: &std::path::Path) -> bool {
    match need {
        Need::Shared => manifest_dir.join("../../shared").is_dir(),
        Need::Command(program, args) => std::process::Command::new(program)
            .args(*args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok(),
        Need::Python(modules) => std::process::Command::new("python3")
            .args(["-c", &format!("import {modules}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        Need::Env(var) => std::env::var_os(var).is_some_and(|v| !v.is_empty()),
        Need::File(path) => std::path::Path::new(path).exists(),
        Need::Root => {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
        }
    }
}

/// Sets `missing_<name>` for every need this machine lacks (none with `GDRP_REQUIRE_TOOLS=1`).
#[allow(dead_code)]
fn probe(needs: &[(&str, Need)]) {
    let manifest_dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    for var in ["PATH", "GDRP_TEST_POSTGRES", "GDRP_REQUIRE_TOOLS"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../tests/probe/tools.rs");
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path).filter(|d| d.is_dir()) {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
    }
    let shared = manifest_dir.join("../../shared");
    if shared.is_dir() {
        println!("cargo:rerun-if-changed={}", shared.display());
    }
    let required = std::env::var("GDRP_REQUIRE_TOOLS").as_deref() == Ok("1");
    for (name, need) in needs {
        println!("cargo:rustc-check-cfg=cfg(missing_{name})");
        if !required && !present(need, &manifest_dir) {
            println!("cargo:rustc-cfg=missing_{name}");
        }
    }
}
