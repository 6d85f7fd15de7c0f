//! Reading inputs and writing outputs: size-capped reads, atomic writes that never replace a file
//! without `--force`, checked QR outputs, and the reports printed on stdout.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use permit_issuer::error_code::ErrorCode;
use permit_issuer::issue::output::{self, Format, Rendered};
use permit_issuer::lifecycle::{Applied, Issued};
use permit_issuer::render::{Ecc, RenderOptions};
use permit_issuer::report::{IssuedReport, Written};
use permit_shared::trust::TrustList;

use crate::cli::{Cli, QrArgs};
use crate::error::{Failure, Result};

/// Prints a JSON value on stdout.
pub fn print_json(v: &impl Serialize) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure::usage(e.to_string()))?;
    // A closed pipe is not an error.
    let _ = writeln!(std::io::stdout().lock(), "{s}");
    Ok(())
}

/// RFC 3339 in UTC, whole seconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a small input file with a size cap.
pub fn read_small(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::io(path.display(), &e))?;
    if meta.len() > cap {
        return Err(Failure::new(
            ErrorCode::FileTooLarge,
            format!(
                "{}: {} bytes, more than the limit of {cap}",
                path.display(),
                meta.len()
            ),
        ));
    }
    std::fs::read(path).map_err(|e| Failure::io(path.display(), &e))
}

/// Refuses an existing output file without `force` (`-` is standard output).
pub fn check_output(out: &Path, force: bool) -> Result<()> {
    if out.as_os_str() != "-" && !force && out.exists() {
        return Err(Failure::new(
            ErrorCode::OutputExists,
            format!("{}: exists already", out.display()),
        )
        .hint("pass --force to replace it"));
    }
    Ok(())
}

/// Writes an output file atomically (temporary file + rename); refuses to replace an existing
/// file unless `force`.
pub fn write_output(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    check_output(path, force)?;
    let tmp: PathBuf = {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        path.with_file_name(name)
    };
    let io = |e: std::io::Error| Failure::io(path.display(), &e);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Renders a credential for `out` (by its extension; `-` is text on stdout) through the
/// self-check.
pub fn render_checked(
    text: &str,
    out: &Path,
    qr: &QrArgs,
    trust: &TrustList,
    now: DateTime<Utc>,
) -> Result<Rendered> {
    let format = Format::from_path(out).ok_or_else(|| {
        Failure::usage(format!(
            "{}: unknown output type; use .png, .svg, .txt or -",
            out.display()
        ))
    })?;
    let opts = RenderOptions {
        module_px: qr.module_px,
        ..RenderOptions::default()
    };
    Ok(output::render_checked(
        text,
        format,
        Ecc::from(qr.ecc),
        opts,
        trust,
        now,
    )?)
}

/// Writes checked output to `out` (`-`: stdout).
pub fn emit(r: &Rendered, out: &Path, force: bool) -> Result<()> {
    if out.as_os_str() == "-" {
        let _ = std::io::stdout().lock().write_all(&r.bytes);
        Ok(())
    } else {
        write_output(out, &r.bytes, force)
    }
}

/// Prints an issued credential (and where its code went): JSON with `--json`, otherwise a few
/// lines, on stderr when the code itself went to stdout.
pub fn print_issued(
    cli: &Cli,
    what: &str,
    issued: &Issued,
    written: Option<(&Path, &Rendered)>,
    test: bool,
) -> Result<()> {
    let qr = written.map(|(out, r)| Written {
        out: out.display().to_string(),
        info: &r.info,
    });
    if cli.json {
        return print_json(&IssuedReport { issued, test, qr });
    }
    let mut s = format!(
        "{what}: permit {} version {} (application {}){}\n  key {}  status index {}\n  issued on {}  valid until {}  endorsed until {}\n",
        issued.serial,
        issued.version,
        issued.application,
        if issued.already_issued {
            " — already issued, nothing new signed"
        } else {
            ""
        },
        issued.key_id,
        issued.status_index,
        issued.issued_on,
        issued.valid_until,
        issued.endorsed_until
    );
    if let Some(q) = &qr {
        s.push_str(&format!(
            "  QR version {} ECC {} ({} modules) -> {}\n",
            q.info.version, q.info.ecc, q.info.modules, q.out
        ));
    }
    if written.is_some_and(|(out, _)| out.as_os_str() == "-") {
        eprint!("{s}");
    } else {
        print!("{s}");
    }
    Ok(())
}

/// Prints a recorded application and its qualification check.
pub fn print_applied(cli: &Cli, a: &Applied) -> Result<()> {
    if cli.json {
        return print_json(a);
    }
    println!(
        "application {}: {}{}",
        a.application,
        a.state.as_str(),
        if a.already_recorded {
            " (recorded before; nothing new written)"
        } else {
            ""
        }
    );
    for r in &a.eligibility.reasons {
        println!("  refused {:<22} {}", r.code, r.message);
    }
    if a.eligibility.eligible {
        if a.eligibility.no_materials_needed {
            println!("  no materials needed (免材料对象)");
        } else {
            println!("  materials required:");
            for m in &a.eligibility.materials {
                println!("    - {m}");
            }
        }
    }
    Ok(())
}
