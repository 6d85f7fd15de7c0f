//! The three decoders compared, each run one image at a time.
//!
//! What each time includes:
//!
//! - **ours**: `permit_verifier::scan::scan_image_bytes` on the file's bytes already in memory,
//!   with the default limits (3 s budget): image decoding (JPEG/PNG to pixels), grey conversion
//!   and every decoding attempt. The file read is not timed.
//! - **zbar**: the wall time of one `zbarimg --raw -q -Sdisable -Sqrcode.enable FILE` process:
//!   process start, file read, image decoding (ImageMagick) and the scan.
//!   [`zbar_startup_ms`] measures the fixed part on a tiny blank image.
//! - **zxing-cpp**: one Python process for the whole run; the photo is opened and its pixels
//!   loaded by Pillow untimed, then `zxingcpp.read_barcodes(image, formats=QRCode)` (its
//!   defaults: try rotate, downscale, invert) is timed with `time.perf_counter`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use permit_verifier::scan::{ScanLimits, scan_image_bytes_with_report};
use serde_json::Value;

use crate::BenchError;

/// The decoders, in report order.
pub const NAMES: [&str; 3] = ["ours", "zbar", "zxing-cpp"];

/// What one decoder made of one photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every text read (any number of codes).
    pub texts: Vec<String>,
    /// Milliseconds, as described in the module documentation.
    pub ms: f64,
    /// Our strategy, or the decoder's error, for the per-photo report.
    pub detail: String,
}

impl Outcome {
    /// Whether `expected` was read exactly.
    pub fn read(&self, expected: &str) -> bool {
        self.texts.iter().any(|t| t == expected)
    }
}

/// Our verifier's scan of `bytes` (a whole image file) with the default limits.
pub fn ours(bytes: &[u8]) -> Outcome {
    let limits = ScanLimits::default();
    let started = Instant::now();
    let result = scan_image_bytes_with_report(bytes, &limits);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(report) => Outcome {
            texts: report.codes.into_iter().map(|c| c.text).collect(),
            ms,
            detail: report.strategy,
        },
        Err(error) => Outcome {
            texts: Vec::new(),
            ms,
            detail: error.code().to_owned(),
        },
    }
}

/// How to install what is missing.
pub const ZBAR_HINT: &str = "install zbar-tools (Debian/Ubuntu: apt-get install zbar-tools)";
/// How to install what is missing.
pub const ZXING_HINT: &str = "install the Python packages: python3 -m pip install zxing-cpp pillow";

/// `zbarimg --version`, or why it cannot run.
///
/// # Errors
///
/// When `zbarimg` is not installed or does not run.
pub fn zbar_version() -> Result<String, BenchError> {
    let output = Command::new("zbarimg")
        .arg("--version")
        .output()
        .map_err(|e| BenchError(format!("zbarimg: {e}; {ZBAR_HINT}")))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `zbarimg` on one file: its raw output lines, timed from spawn to exit.
pub fn zbar(path: &Path) -> Outcome {
    let started = Instant::now();
    let output = Command::new("zbarimg")
        .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
        .arg(path)
        .stdin(Stdio::null())
        .output();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match output {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let texts: Vec<String> = stdout
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            // Exit status 4: no symbol found; anything else but 0 is an error.
            let detail = match output.status.code() {
                Some(0) => String::new(),
                Some(4) => "no symbol".to_owned(),
                _ => format!(
                    "{}: {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            };
            Outcome { texts, ms, detail }
        }
        Err(error) => Outcome {
            texts: Vec::new(),
            ms,
            detail: error.to_string(),
        },
    }
}

/// The median wall time of `zbarimg` on a 64 × 64 blank PNG: the fixed cost of one process
/// (start, libraries, ImageMagick), included in every zbar time.
///
/// # Errors
///
/// When the blank image cannot be written.
pub fn zbar_startup_ms(dir: &Path) -> Result<f64, BenchError> {
    let path = dir.join("zbar-blank.png");
    image::GrayImage::from_pixel(64, 64, image::Luma([255]))
        .save(&path)
        .map_err(|e| BenchError(e.to_string()))?;
    let mut times: Vec<f64> = (0..7).map(|_| zbar(&path).ms).collect();
    Ok(crate::report::median(&mut times))
}

/// The Python side of [`Zxing`]: reads one path a line, answers one JSON line.
const ZXING_SCRIPT: &str = r#"
import json, sys, time
import zxingcpp
from PIL import Image
try:
    from importlib.metadata import version
    ready = version("zxing-cpp")
except Exception:
    ready = getattr(zxingcpp, "__version__", "unknown")
print(json.dumps({"ready": ready}), flush=True)
fmt = zxingcpp.BarcodeFormat.QRCode
while True:
    path = sys.stdin.readline()
    if not path:
        break
    path = path.rstrip("\n")
    try:
        image = Image.open(path)
        image.load()
    except Exception as e:
        print(json.dumps({"texts": [], "ms": 0.0, "error": "open: " + str(e)}), flush=True)
        continue
    started = time.perf_counter()
    try:
        texts = [r.text for r in zxingcpp.read_barcodes(image, formats=fmt)]
        error = ""
    except Exception as e:
        texts, error = [], str(e)
    ms = (time.perf_counter() - started) * 1000.0
    print(json.dumps({"texts": texts, "ms": ms, "error": error}), flush=True)
"#;

/// A Python process running zxing-cpp, asked one photo at a time.
pub struct Zxing {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The zxing-cpp version the process reported.
    pub version: String,
}

impl Zxing {
    /// Starts `python` with zxing-cpp and Pillow.
    ///
    /// # Errors
    ///
    /// When the interpreter does not start or cannot import the packages.
    pub fn start(python: &str) -> Result<Zxing, BenchError> {
        let mut child = Command::new(python)
            .args(["-c", ZXING_SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Inherited: a full pipe nobody reads would block the process.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| BenchError(format!("{python}: {e}; {ZXING_HINT}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(BenchError("no pipes to the Python process".to_owned()));
        };
        let mut zxing = Zxing {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            version: String::new(),
        };
        match zxing.answer() {
            Ok(ready) => {
                zxing.version = ready
                    .get("ready")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned();
                Ok(zxing)
            }
            Err(_) => {
                // Python's own message went to our standard error.
                Err(BenchError(format!(
                    "zxing-cpp does not load in {python} (see above); {ZXING_HINT}"
                )))
            }
        }
    }

    fn answer(&mut self) -> Result<Value, BenchError> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(BenchError("the Python process ended".to_owned()));
        }
        Ok(serde_json::from_str(&line)?)
    }

    /// zxing-cpp on the photo at `path` (a path without line breaks).
    ///
    /// # Errors
    ///
    /// When the Python process is gone or answers nonsense.
    pub fn read(&mut self, path: &Path) -> Result<Outcome, BenchError> {
        let path = path
            .to_str()
            .filter(|p| !p.contains('\n'))
            .ok_or_else(|| BenchError(format!("unusable path {}", path.display())))?;
        writeln!(self.stdin, "{path}")?;
        self.stdin.flush()?;
        let answer = self.answer()?;
        let texts = answer
            .get("texts")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Outcome {
            texts,
            ms: answer.get("ms").and_then(Value::as_f64).unwrap_or(0.0),
            detail: answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

impl Drop for Zxing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
