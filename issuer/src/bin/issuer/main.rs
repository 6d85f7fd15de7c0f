//! `issuer`: issue and manage residence permits. Wires the command line to the library: parses
//! it (`cli`), runs the command (`cmd`), and turns a failure into one line on stderr with its
//! code and hint and the exit code of the code (`error`; 0 done, 1 refused, 2 usage or I/O
//! error), with `--json` also as one JSON object on stdout.

mod cli;
mod cmd;
mod context;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

use cli::{Cli, Command, KeysCommand, LedgerCommand, StatusCommand, TrustCommand};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    match run(&cli) {
        Ok(code) => code,
        Err(f) => {
            let exit = f.exit;
            f.report(cli.json);
            ExitCode::from(exit)
        }
    }
}

fn run(cli: &Cli) -> error::Result<ExitCode> {
    match &cli.command {
        Command::Keys {
            command: KeysCommand::Generate(a),
        } => cmd::keys::generate(cli, a),
        Command::Keys {
            command: KeysCommand::Import(a),
        } => cmd::keys::import(cli, a),
        Command::Keys {
            command: KeysCommand::Show(a),
        } => cmd::keys::show(cli, a),
        Command::Ledger {
            command: LedgerCommand::Verify(a),
        } => cmd::ledger::verify(cli, a),
        Command::Ledger {
            command: LedgerCommand::Migrate,
        } => cmd::ledger::migrate(cli),
        Command::Trust {
            command: TrustCommand::Build(a),
        } => cmd::keys::build_trust_list(cli, a),
        Command::Issue(a) => cmd::issue::issue(cli, a),
        Command::Apply(a) => cmd::issue::apply(cli, a),
        Command::Review(a) => cmd::issue::review(cli, a),
        Command::Endorse(a) => cmd::permit::endorse(cli, a),
        Command::Change(a) => cmd::permit::change(cli, a),
        Command::Cancel(a) => cmd::permit::cancel(cli, a),
        Command::Show { serial } => cmd::permit::show(cli, serial),
        Command::Qr(a) => cmd::permit::qr(cli, a),
        Command::Card(a) => cmd::card::run(cli, a),
        Command::Status {
            command: StatusCommand::Publish(a),
        } => cmd::status::publish(cli, a),
        Command::Batch(a) => cmd::batch::run(cli, a),
        Command::DemoData(a) => cmd::demo_data::demo_data(a),
    }
}

/// A command line clap could not parse: clap's own message on stderr (exit 2), and with `--json`
/// anywhere on the line also the JSON error object (`USAGE`) on stdout. Help and version requests
/// print as usual (exit 0).
fn usage_error(e: &clap::Error) -> ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if !help && std::env::args_os().any(|a| a == "--json") {
        let v = permit_shared::reason::usage_error_json(
            &error::clap_message(e),
            "see `issuer --help`",
            code,
        );
        let _ = output::print_json(&v);
    }
    let _ = e.print();
    ExitCode::from(code)
}
