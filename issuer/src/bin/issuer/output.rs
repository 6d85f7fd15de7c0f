//! Reading inputs and writing outputs: size-capped reads, atomic writes that never replace a file
//! without `--force`, checked QR outputs, and the reports printed on stdout.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use permit_issuer::error_code::ErrorCode;
use permit_issuer::issue::Signer;
use permit_issuer::issue::output::{self, Format, Rendered};
use permit_issuer::lifecycle::{Applied, Issued};
use permit_issuer::render::{Ecc, RenderOptions};
use permit_issuer::report::{IssuedReport, Written};
use permit_shared::trust::TrustList;

use crate::cli::{Cli, DEFAULT_LEDGER, DEFAULT_MODULE_PX, EccArg, KeyArgs, QrArgs, TrustArgs};
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

/// Checks an output path before anything is recorded or signed (`-` is standard output): an
/// existing file is refused without `force`, a directory always, and the folder it goes into
/// must exist and take a new file (the temporary file [`write_output`] writes first is created
/// there and removed again).
pub fn check_output(out: &Path, force: bool) -> Result<()> {
    if out.as_os_str() == "-" {
        return Ok(());
    }
    if out.is_dir() {
        return Err(Failure::new(
            ErrorCode::IoError,
            format!("{}: is a directory", out.display()),
        )
        .hint("give the path of a file to write, e.g. DIR/permit.png"));
    }
    if !force && out.exists() {
        return Err(Failure::new(
            ErrorCode::OutputExists,
            format!("{}: exists already", out.display()),
        )
        .hint("pass --force to replace it"));
    }
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let cannot = |e: std::io::Error| {
        Failure::new(
            ErrorCode::IoError,
            format!(
                "{}: cannot write into the folder {}: {e}",
                out.display(),
                folder.display()
            ),
        )
        .hint("create the folder or choose another output path; nothing was done")
    };
    let probe = temp_path(out);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(file) => {
            drop(file);
            std::fs::remove_file(&probe).map_err(cannot)
        }
        // Ours from another run of this process id: write_output replaces it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cannot(e)),
    }
}

/// The temporary file an output is written to before it is renamed into place.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes an output file atomically (temporary file + rename); refuses to replace an existing
/// file unless `force`.
pub fn write_output(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    check_output(path, force)?;
    let tmp = temp_path(path);
    let io = |e: std::io::Error| Failure::io(path.display(), &e);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Writes the holder's wallet of a bound permit beside its code (`p.png` → `p.wallet.json`,
/// mode 0600: it holds the full credential): the full credential and its basic view, for
/// `holder present`. Nothing for a permit not bound to a device key. Returns the path written.
pub fn write_wallet(
    issued: &Issued,
    signer: &Signer,
    out: Option<&Path>,
    force: bool,
) -> Result<Option<PathBuf>> {
    let Some(w) = permit_issuer::issue::wallet(&issued.text, signer)? else {
        return Ok(None);
    };
    let Some(out) = out.filter(|o| o.as_os_str() != "-") else {
        eprintln!(
            "note: permit {} is bound to a device key; its wallet (full credential and basic view) is written only beside an --out FILE",
            issued.serial
        );
        return Ok(None);
    };
    let path = out.with_extension("wallet.json");
    check_output(&path, force || issued.already_issued)?;
    let tmp = temp_path(&path);
    let io = |e: std::io::Error| Failure::io(path.display(), &e);
    permit_issuer::issue::write_wallet_file(&tmp, &w).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })?;
    eprintln!(
        "wallet: {} (full credential and basic view for the holder's app: `holder present --credential {}`)",
        path.display(),
        path.display()
    );
    Ok(Some(path))
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

/// Where a command writes a permit's code, and how it draws and checks it: also what `issuer
/// qr` needs to write the same code again.
pub struct CodeOut<'a> {
    /// The path (`-`: standard output).
    pub out: &'a Path,
    /// Replace an existing file.
    pub force: bool,
    /// ECC level and module size.
    pub qr: &'a QrArgs,
    /// The trust list of the self-check.
    pub trust: &'a TrustArgs,
}

/// Warns on stderr that a signature was made with the embedded TEST-ONLY demo key, when no
/// `--key` was given. Called after a signature was made (and committed), never before: a
/// refused or idempotent command signs nothing and says nothing of the key.
pub fn warn_demo_key(k: &KeyArgs) {
    if k.key.is_none() {
        eprintln!(
            "warning: signed with the embedded TEST-ONLY demo key (keys/TEST-ONLY-demo-issuer.key.pem); pass --key for real permits"
        );
    }
}

/// After a credential was signed (or found, `already_issued`): the demo-key warning when
/// something new was signed with it, the code written where asked, and the report.
pub fn finish_issued(
    cli: &Cli,
    what: &str,
    issued: &Issued,
    keys: &KeyArgs,
    written: Option<(&CodeOut<'_>, &Rendered)>,
    test: bool,
) -> Result<()> {
    if !issued.already_issued {
        warn_demo_key(keys);
    }
    if let Some((to, r)) = written {
        write_code(cli, issued, r, to)?;
    }
    print_issued(cli, what, issued, written.map(|(to, r)| (to.out, r)), test)
}

/// Writes the checked code of `issued` to `to.out`; `-` is standard output, where with `--json`
/// nothing is written besides the report, which holds the text (`text`).
///
/// A permit is recorded and its credential signed before its code is written: when the write
/// fails, the error names the permit and version and the `issuer qr` command that writes the
/// code again (`details`: `serial`, `version`).
pub fn write_code(cli: &Cli, issued: &Issued, r: &Rendered, to: &CodeOut<'_>) -> Result<()> {
    let written = if to.out.as_os_str() == "-" {
        if !cli.json {
            // A closed pipe is not an error.
            let _ = std::io::stdout().lock().write_all(&r.bytes);
        }
        Ok(())
    } else {
        write_output(to.out, &r.bytes, to.force)
    };
    written.map_err(|f| {
        let what = if issued.already_issued {
            format!(
                "the code of permit {} (version {}) was not written",
                issued.serial, issued.version
            )
        } else {
            format!(
                "permit {} version {} is issued and recorded, but its code was not written",
                issued.serial, issued.version
            )
        };
        Failure {
            message: format!("{what}: {}", f.message),
            hint: Some(format!(
                "fix the cause, then write the code with `{}`",
                recovery_command(cli, &issued.serial, to)
            )),
            details: Some(Box::new(serde_json::json!({
                "serial": issued.serial,
                "version": issued.version,
            }))),
            ..f
        }
    })
}

/// The `issuer qr` command line that writes a permit's current code to `to` again.
fn recovery_command(cli: &Cli, serial: &str, to: &CodeOut<'_>) -> String {
    let mut words = vec!["issuer".to_owned()];
    let mut flag = |name: &str, value: Option<&Path>| {
        words.push(name.to_owned());
        if let Some(v) = value {
            words.push(shell_word(&v.display().to_string()));
        }
    };
    if cli.ledger != Path::new(DEFAULT_LEDGER) {
        flag("--ledger", Some(&cli.ledger));
    }
    flag("qr", None);
    flag(serial, None);
    flag("--out", Some(to.out));
    if to.force {
        flag("--force", None);
    }
    if let Some(t) = &to.trust.trust {
        flag("--trust", Some(t));
    }
    if let Some(r) = &to.trust.root {
        flag("--root", Some(r));
    }
    if to.qr.ecc != EccArg::M {
        words.extend(["--ecc".to_owned(), format!("{:?}", to.qr.ecc)]);
    }
    if to.qr.module_px != DEFAULT_MODULE_PX {
        words.extend(["--module-px".to_owned(), to.qr.module_px.to_string()]);
    }
    words.join(" ")
}

/// A word as a POSIX shell reads it: as is when it is made of letters, digits and `-_./:=@%+,`,
/// otherwise in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
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
