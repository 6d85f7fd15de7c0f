//! `issuer card`: records a physical card (first, replacement, exchange) and its fee.

use std::process::ExitCode;

use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::lifecycle::{self, Office};

use crate::cli::{CardArgs, Cli};
use crate::commands::{self, Failure, Result};

pub fn run(cli: &Cli, a: &CardArgs) -> Result<ExitCode> {
    let serial: u64 = a
        .serial
        .parse()
        .ok()
        .filter(|_| a.serial.len() == 12)
        .ok_or_else(|| {
            Failure::usage(format!("`{}` is not a permit serial (12 digits)", a.serial))
        })?;
    let now = commands::now(cli)?;
    let settings = match &cli.config {
        None => permit_issuer::settings::Settings::default(),
        Some(p) => permit_issuer::settings::Settings::from_json(&commands::read_small(p, 1 << 20)?)
            .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?,
    };
    let key = permit_issuer::demo::issuer_key().map_err(|e| Failure::usage(e.to_string()))?;
    let actor = cli.actor.clone().unwrap_or_else(|| "operator".into());
    let office = Office {
        settings: &settings,
        key: &key,
        key_is_test: true,
        now,
        actor: &actor,
    };
    let ch = match a.channel {
        crate::cli::ChannelArg::Online => permit_issuer::settings::Channel::Online,
        crate::cli::ChannelArg::Counter => permit_issuer::settings::Channel::Counter,
    };
    let mut ledger = SqliteLedger::open(&cli.ledger)?;
    let rec = ledger
        .transaction(|tx| lifecycle::card(tx, &office, serial, commands::card_kind(a.kind), ch))?;
    if cli.json {
        commands::print_json(&rec)?;
    } else {
        println!(
            "permit {serial:012}: card no. {} ({}), fee {} yuan",
            rec.number, rec.kind, rec.fee_yuan
        );
    }
    Ok(ExitCode::SUCCESS)
}
