//! Independent tools read what we write: zbarimg and zxing-cpp decode the issued PNG to the same
//! text as our decoder, and pycose (written from docs/FORMAT.md only) verifies the signature.
//! Each test skips with a printed reason when its tool is not installed (`.ci/run` installs them).

use std::process::Command;

use permit_issuer::render::{self, Ecc, QrMatrix, RenderOptions};
use permit_verifier::scan::{self, ScanLimits};

use crate::common::{self, fixed_now, repo_dir};

/// Skips (printing why) when a tool is missing, unless `GDRP_REQUIRE_TOOLS` is set (CI), where a
/// missing tool is a failure.
fn skip(reason: &str) {
    assert!(
        std::env::var_os("GDRP_REQUIRE_TOOLS").is_none(),
        "required tool missing: {reason}"
    );
    eprintln!("skipped: {reason}");
}

fn issued_png(ecc: Ecc) -> (String, tempfile::TempDir, std::path::PathBuf) {
    let text = common::issue_at(&common::example_applicant(), fixed_now());
    let m = QrMatrix::encode(&text, ecc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("permit.png");
    std::fs::write(&p, render::to_png(&m, &RenderOptions::default()).unwrap()).unwrap();
    (text, dir, p)
}

fn ours(p: &std::path::Path) -> String {
    let codes = scan::scan_image_bytes(&std::fs::read(p).unwrap(), &ScanLimits::default()).unwrap();
    assert_eq!(codes.len(), 1);
    codes[0].text.clone()
}

#[test]
#[cfg_attr(
    missing_zbar,
    ignore = "zbarimg not installed (apt-get install zbar-tools)"
)]
fn zbarimg_reads_the_same_text() {
    if Command::new("zbarimg").arg("--version").output().is_err() {
        skip("zbarimg not installed (apt-get install zbar-tools)");
        return;
    }
    for ecc in [Ecc::M, Ecc::Q] {
        let (text, _d, p) = issued_png(ecc);
        let out = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(out.status.success());
        let z = String::from_utf8(out.stdout).unwrap();
        assert_eq!(z.trim_end_matches('\n'), text);
        assert_eq!(ours(&p), text);
    }
}

#[test]
#[cfg_attr(
    missing_zxing,
    ignore = "python3 modules zxingcpp and Pillow not installed (pip install zxing-cpp pillow)"
)]
fn zxing_cpp_reads_the_same_text() {
    let probe = Command::new("python3")
        .args(["-c", "import zxingcpp"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip("python3 module zxingcpp not installed (pip install zxing-cpp)");
        return;
    }
    for ecc in [Ecc::M, Ecc::Q] {
        let (text, _d, p) = issued_png(ecc);
        // QR codes only: zxing-cpp's 1-D readers occasionally report a phantom Codabar inside a
        // QR symbol (about 1 image in 300 of ours), which is not a reading of the QR code.
        let script = "import sys, zxingcpp\nfrom PIL import Image\nfor r in zxingcpp.read_barcodes(Image.open(sys.argv[1]), formats=zxingcpp.BarcodeFormat.QRCode):\n    print(r.text)";
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), text);
        assert_eq!(ours(&p), text);
    }
}

#[test]
#[cfg_attr(
    missing_pycose,
    ignore = "python3 modules pycose and cbor2 not installed (pip install pycose 'cbor2<6')"
)]
fn pycose_verifies_from_the_format_document() {
    let probe = Command::new("python3")
        .args(["-c", "import pycose, cbor2"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip("python3 modules pycose and cbor2 not installed (pip install pycose 'cbor2<6')");
        return;
    }
    let text = common::issue_at(&common::example_applicant(), fixed_now());
    let script = repo_dir().join("scripts/verify_pycose.py");
    let jwk = repo_dir().join("keys/TEST-ONLY-demo-issuer.pub.jwk.json");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--jwk")
        .arg(&jwk)
        .arg(&text)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("SIGNATURE VALID"));
    assert!(stdout.contains("陈思琪"));
    // One changed digit: pycose refuses it too (or cannot even parse it).
    let mut bad = text.into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
    let out = Command::new("python3")
        .arg(&script)
        .arg("--jwk")
        .arg(&jwk)
        .arg(String::from_utf8(bad).unwrap())
        .output()
        .unwrap();
    assert!(!out.status.success());
    // A live presentation (FORMAT.md §10): the credential inside under the issuer key, then the
    // holder signature under its cnf key; a presentation by another device is refused.
    let issuer = permit_issuer::demo::issuer_key().unwrap();
    let device = permit_shared::keys::SecretKey::from_seed(&[0xa1; 32]).unwrap();
    let other = permit_shared::keys::SecretKey::from_seed(&[0xb2; 32]).unwrap();
    let mut claims = permit_shared::fixtures::example_claims();
    claims.holder = Some(*device.public());
    let view = permit_shared::credential::sign_view(&claims.basic_view().unwrap(), &issuer);
    let pycose = |cose: &[u8]| {
        Command::new("python3")
            .arg(&script)
            .arg("--jwk")
            .arg(&jwk)
            .arg(permit_shared::credential::to_text(cose))
            .output()
            .unwrap()
    };
    let good = pycose(&permit_shared::credential::present(
        &view,
        &device,
        1_795_654_800,
    ));
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{stdout}");
    assert!(
        stdout.contains("HOLDER SIGNATURE VALID") && stdout.contains("欧**燕"),
        "{stdout}"
    );
    let bad = pycose(&permit_shared::credential::present(
        &view,
        &other,
        1_795_654_800,
    ));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("HOLDER SIGNATURE INVALID"));
}

/// Our mask selection (issuer/src/render.rs) is our own code: every one of the eight masks, at
/// ECC M and Q, must give a symbol both independent decoders read back exactly. Signs the
/// example claims with successive serials and versions (so the symbols differ) until each mask
/// has two symbols at each level, then reads them all with zbarimg and zxing-cpp (QR codes only).
#[test]
#[cfg_attr(
    missing_zbar,
    ignore = "zbarimg not installed (apt-get install zbar-tools)"
)]
#[cfg_attr(
    missing_zxing,
    ignore = "python3 modules zxingcpp and Pillow not installed (pip install zxing-cpp pillow)"
)]
fn every_mask_is_read_by_zbar_and_zxing() {
    let zbar = Command::new("zbarimg").arg("--version").output().is_ok();
    let zxing = Command::new("python3")
        .args(["-c", "import zxingcpp, PIL"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !zbar || !zxing {
        skip("zbarimg or the python3 modules zxingcpp and Pillow not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = RenderOptions {
        module_px: 4,
        ..RenderOptions::default()
    };
    let key = permit_issuer::demo::issuer_key().unwrap();
    let mut claims = permit_shared::fixtures::example_claims();
    let mut files: Vec<(std::path::PathBuf, String)> = Vec::new();
    for ecc in [Ecc::M, Ecc::Q] {
        let mut per_mask = [0u32; 8];
        let mut tries = 0u32;
        while per_mask.iter().any(|n| *n < 2) {
            tries += 1;
            assert!(tries <= 200_000, "masks seen at {ecc:?}: {per_mask:?}");
            claims.permit.serial = 100_000_000_000 + u64::from(tries) * 7919;
            claims.permit.version = 1 + tries % 5;
            // Some masks are rare for a given length (one in thousands at ECC Q): vary the
            // status index too, so that the data, not only its first digits, changes.
            claims.permit.status_index = u64::from(tries).wrapping_mul(2_654_435_761) % (1 << 32);
            let text =
                permit_shared::credential::to_text(&permit_shared::credential::sign(&claims, &key));
            let m = QrMatrix::encode(&text, ecc).unwrap();
            let mask = usize::from(m.mask());
            if per_mask[mask] >= 2 {
                continue;
            }
            per_mask[mask] += 1;
            let p = dir
                .path()
                .join(format!("{ecc:?}-{mask}-{}.png", per_mask[mask]));
            std::fs::write(&p, render::to_png(&m, &opts).unwrap()).unwrap();
            files.push((p, text));
        }
    }

    // zbarimg: all files in one run, QR codes only; one line per symbol, in file order.
    let paths = files.iter().map(|(p, _)| p);
    let zbar = stdout_lines(
        Command::new("zbarimg")
            .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
            .args(paths.clone()),
    );
    let texts: Vec<String> = files.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(zbar, texts, "zbarimg");

    // zxing-cpp: one process for all files; "name<TAB>text" per symbol.
    let script = "import sys, zxingcpp\nfrom PIL import Image\nfor f in sys.argv[1:]:\n    for r in zxingcpp.read_barcodes(Image.open(f), formats=zxingcpp.BarcodeFormat.QRCode):\n        print(f + '\\t' + r.text)";
    let zxing = stdout_lines(Command::new("python3").args(["-c", script]).args(paths));
    let named: Vec<String> = files
        .iter()
        .map(|(p, t)| format!("{}\t{t}", p.display()))
        .collect();
    assert_eq!(zxing, named, "zxing-cpp");
}

/// Runs a command that must succeed; its stdout's lines.
fn stdout_lines(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}
