//! `holder`: the holder's side of a bound permit on the command line: a device key, and live
//! presentation codes of the permit's views.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use permit_holder::{Credentials, HolderError, generate_key, parse_view, present_text, read_key};
use permit_issuer::issue::output::Code;
use permit_issuer::render::{Ecc, RenderOptions};

/// The holder's side of an electronic residence permit (粤居码): a device key and live codes.
#[derive(Debug, Parser)]
#[command(name = "holder", version, max_term_width = 100)]
struct Cli {
    /// Print the result as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The device key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Draw a live presentation code: the chosen view of the permit signed by the device key
    /// now. Verifiers accept it for 60 s (their setting); draw a new one for every scan.
    Present(PresentArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a device key: `<name>.key.pem` (mode 0600, never printed) and
    /// `<name>.pub.jwk.json` (give it to the issuer: `issuer issue --holder-key`).
    Generate {
        /// Directory for the key files (created if missing; existing files are never replaced).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        /// File name stem.
        #[arg(long, default_value = "holder")]
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EccArg {
    #[value(name = "L")]
    L,
    #[value(name = "M")]
    M,
    #[value(name = "Q")]
    Q,
}

#[derive(Debug, Args)]
struct PresentArgs {
    /// The wallet the issuer wrote (`<code>.wallet.json`: every view), or the `.txt` code of
    /// a bound permit (the full view only).
    #[arg(long, value_name = "FILE")]
    credential: PathBuf,
    /// The device key (`holder.key.pem`, mode 0600).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Which view to show: a verifier role (`police`: full; `hotel`, `hospital`, `employer`,
    /// `school`: basic) or `full` / `basic`.
    #[arg(long, default_value = "basic", value_parser = view_arg)]
    view: permit_shared::credential::ViewKind,
    /// Output: `.png`, `.svg`, `.txt`, or `-` for the text on stdout.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
    /// Presentation time (RFC 3339) instead of the clock: for tests and demonstrations.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Error-correction level (M for phone screens).
    #[arg(long, value_enum, ignore_case = true, default_value = "M")]
    ecc: EccArg,
    /// Pixels per QR module.
    #[arg(long, default_value_t = 8)]
    module_px: u32,
}

fn view_arg(s: &str) -> Result<permit_shared::credential::ViewKind, String> {
    parse_view(s).ok_or_else(|| {
        format!(
            "unknown view `{s}`; use full, basic or a role ({})",
            permit_shared::role::Role::names().join(", ")
        )
    })
}

struct Failure {
    code: &'static str,
    message: String,
}

impl From<HolderError> for Failure {
    fn from(e: HolderError) -> Self {
        Failure {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

fn fail(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    let result = match &cli.command {
        Command::Keys {
            command: KeysCommand::Generate { out, name },
        } => keys_generate(&cli, out, name),
        Command::Present(a) => present(&cli, a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if cli.json {
                let v = permit_shared::reason::command_error_json(f.code, &f.message, None, 1);
                println!("{v}");
            }
            eprintln!("error [{}]: {}", f.code, f.message);
            ExitCode::from(1)
        }
    }
}

fn keys_generate(cli: &Cli, out: &std::path::Path, name: &str) -> Result<(), Failure> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(fail(
            "USAGE",
            format!("--name `{name}`: a plain file name stem"),
        ));
    }
    let g = generate_key(out, name)?;
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "key": g.key.display().to_string(),
                "jwk": g.jwk.display().to_string(),
                "key_id": g.public.id().to_string(),
            })
        );
    } else {
        println!("device key {}", g.public.id());
        println!(
            "  private: {} (mode 0600; keep it on this device)",
            g.key.display()
        );
        println!(
            "  public:  {} (give it to the issuer: issuer issue --holder-key)",
            g.jwk.display()
        );
    }
    Ok(())
}

fn present(cli: &Cli, a: &PresentArgs) -> Result<(), Failure> {
    let at: DateTime<Utc> = match &a.at {
        None => Utc::now(),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| fail("USAGE", format!("--at `{s}` is not an RFC 3339 time")))?,
    };
    let to_stdout = a.out.as_os_str() == "-";
    let ext = a
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !to_stdout && !matches!(ext.as_deref(), Some("png" | "svg" | "txt")) {
        return Err(fail(
            "USAGE",
            format!("{}: use .png, .svg, .txt or -", a.out.display()),
        ));
    }
    if !to_stdout && !a.force && a.out.exists() {
        return Err(fail(
            "OUTPUT_EXISTS",
            format!("{} exists; pass --force to replace it", a.out.display()),
        ));
    }
    let device = read_key(&a.key)?;
    let name = a.credential.display().to_string();
    let creds = Credentials::read(&a.credential)?;
    let text = creds.text_for(&name, a.view, device.public())?;
    let started = std::time::Instant::now();
    let live = present_text(text, &device, at.timestamp())?;
    let ecc = match a.ecc {
        EccArg::L => Ecc::L,
        EccArg::M => Ecc::M,
        EccArg::Q => Ecc::Q,
    };
    let opts = RenderOptions {
        module_px: a.module_px,
        ..RenderOptions::default()
    };
    let code = Code::encode(&live, ecc, opts).map_err(|e| fail("RENDER_FAILED", e.to_string()))?;
    let bytes = match ext.as_deref() {
        _ if to_stdout => format!("{live}\n").into_bytes(),
        Some("png") => code
            .png()
            .map_err(|e| fail("RENDER_FAILED", e.to_string()))?,
        Some("svg") => code
            .svg()
            .map_err(|e| fail("RENDER_FAILED", e.to_string()))?
            .into_bytes(),
        _ => code.text_file(),
    };
    let elapsed = started.elapsed();
    if to_stdout {
        if !cli.json {
            let _ = std::io::stdout().lock().write_all(&bytes);
        }
    } else {
        write_atomic(&a.out, &bytes)?;
    }
    let m = code.matrix();
    let info = serde_json::json!({
        "out": a.out.display().to_string(),
        "view": a.view.as_str(),
        "presented_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "text": to_stdout.then_some(&live),
        "text_length": live.len(),
        "qr_version": m.version(),
        "ecc": m.ecc().to_string(),
        "modules": m.width(),
        "render_micros": elapsed.as_micros() as u64,
    });
    if cli.json {
        println!("{info}");
    } else {
        eprintln!(
            "presented the {} view at {} (verifiers accept it for about a minute): {} (QR version {}-{}, {} characters)",
            a.view.as_str(),
            info["presented_at"].as_str().unwrap_or_default(),
            a.out.display(),
            m.version(),
            m.ecc(),
            live.len()
        );
    }
    Ok(())
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| fail("IO", format!("{}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
