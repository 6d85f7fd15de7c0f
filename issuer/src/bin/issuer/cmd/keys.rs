//! `issuer keys generate|import|show` and `issuer trust build`.

use std::process::ExitCode;

use chrono::Duration;
use serde::Serialize;

use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::digest::sha256_hex;
use permit_issuer::lifecycle;
use permit_issuer::report::TrustListBuilt;
use permit_issuer::{keyfile, pkcs11};
use permit_shared::trust::{self, KeyEntry, TrustListBody};

use crate::cli::{Cli, GenerateArgs, ImportArgs, NewKeyArgs, ShowArgs, TrustBuildArgs};
use crate::context::{self, Acting};
use crate::error::{Failure, Result};
use crate::output::{check_output, print_json, read_small, rfc3339, write_output};

/// The options of a new key's files.
fn new_key_options(cli: &Cli, a: &NewKeyArgs) -> Result<keyfile::GenerateOptions> {
    let now = context::now(cli)?;
    let role = keyfile::Role::from(a.role);
    let stem = a.name.clone().unwrap_or_else(|| match role {
        keyfile::Role::Issuer => "issuer".into(),
        keyfile::Role::Root => "root".into(),
    });
    Ok(keyfile::GenerateOptions {
        role,
        stem,
        issuer_name: a.issuer_name.clone(),
        test: a.test,
        signing_from: now,
        signing_until: now + Duration::days(i64::from(a.signing_days)),
    })
}

fn print_generated(cli: &Cli, g: &keyfile::Generated) -> Result<ExitCode> {
    if cli.json {
        print_json(g)?;
    } else {
        println!("key id       {}", g.kid);
        if let Some(p) = &g.private_key {
            println!("private key  {} (PKCS#8, mode 0600)", p.display());
        }
        if let Some(uri) = &g.pkcs11 {
            println!("private key  in the token: {uri} (sensitive, not extractable)");
        }
        println!("public key   {}", g.public_pem.display());
        println!("public JWK   {}", g.public_jwk.display());
        if let Some(e) = &g.trust_entry {
            println!("trust entry  {}", e.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `issuer keys generate`
pub fn generate(cli: &Cli, a: &GenerateArgs) -> Result<ExitCode> {
    let opts = new_key_options(cli, &a.new)?;
    let Some(text) = &a.pkcs11 else {
        return print_generated(cli, &keyfile::generate(&a.new.out, &opts)?);
    };
    if opts.role != keyfile::Role::Issuer {
        return Err(Failure::usage("--pkcs11 makes issuer keys only")
            .hint("generate root keys as files on an offline machine (docs/SECURITY.md)"));
    }
    let t = context::token(text, &a.module)?;
    let (pem, jwk, entry) = keyfile::public_paths(&a.new.out, &opts);
    if let Some(p) = [Some(pem), Some(jwk), entry]
        .into_iter()
        .flatten()
        .find(|p| p.exists())
    {
        return Err(keyfile::KeyFileError::Exists { path: p }.into());
    }
    let public = pkcs11::generate(&t.module, &t.uri, &t.pin).map_err(context::pkcs11_failure)?;
    let mut g = keyfile::write_public_files(&a.new.out, &public, &opts)?;
    g.pkcs11 = Some(text.split('?').next().unwrap_or(text).to_owned());
    print_generated(cli, &g)
}

/// `issuer keys import`
pub fn import(cli: &Cli, a: &ImportArgs) -> Result<ExitCode> {
    let g = keyfile::import(&a.input, &a.new.out, &new_key_options(cli, &a.new)?)?;
    print_generated(cli, &g)
}

/// `issuer keys show`
pub fn show(cli: &Cli, a: &ShowArgs) -> Result<ExitCode> {
    let info = keyfile::show(&a.key)?;
    if cli.json {
        print_json(&info)?;
    } else {
        println!("file         {} ({})", info.file.display(), info.kind);
        println!("key id       {}", info.kid);
        println!("SHA-256      {}", info.fingerprint_sha256);
        match (&info.role, &info.trust_entry) {
            (Some(role), Some(e)) => println!("role         {role} (trust entry {})", e.display()),
            _ => println!("role         not recorded beside the key"),
        }
        if let Some((from, until)) = &info.signing_window {
            println!("signs        from {from} until {until}");
        }
        if info.test {
            println!("TEST-ONLY    yes");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a trust list says apart from its signing time: the ledger refuses a sequence used for
/// other content, and treats the same content again as a repeat of the same command.
#[derive(Serialize)]
struct TrustContent<'a> {
    root: String,
    sequence: u64,
    valid_days: u32,
    publisher: &'a str,
    test: bool,
    keys: &'a [KeyEntry],
}

/// `issuer trust build`
pub fn build_trust_list(cli: &Cli, a: &TrustBuildArgs) -> Result<ExitCode> {
    let acting = Acting::from_cli(cli)?;
    let now = acting.now;
    let root = keyfile::read_secret_key(&a.root)?;
    let mut keys = Vec::new();
    for p in &a.entries {
        let text = read_small(p, 64 * 1024)?;
        let e: KeyEntry = serde_json::from_slice(&text).map_err(|e| {
            Failure::usage(format!("{}: not a trust-list key entry: {e}", p.display()))
        })?;
        keys.push(e);
    }
    let content = serde_json::to_vec(&TrustContent {
        root: root.public().id().to_string(),
        sequence: a.sequence,
        valid_days: a.valid_days,
        publisher: &a.publisher,
        test: a.test,
        keys: &keys,
    })
    .map_err(|e| Failure::usage(e.to_string()))?;
    let body = TrustListBody {
        format: trust::FORMAT.into(),
        sequence: a.sequence,
        issued_at: rfc3339(now),
        expires_at: rfc3339(now + Duration::days(i64::from(a.valid_days))),
        publisher: a.publisher.clone(),
        test: a.test,
        keys,
    };
    check_output(&a.out, a.force)?;
    let office = acting.office();
    let mut ledger = context::ledger(cli)?;
    let outcome = ledger.transaction(|tx| -> Result<_> {
        let outcome =
            lifecycle::publish_trust_list(tx, &office, a.sequence, &sha256_hex(&content), || {
                trust::sign(&body, &root).map_err(|e| lifecycle::LifecycleError::Refused {
                    code: permit_issuer::error_code::ErrorCode::Usage,
                    message: e.to_string(),
                })
            })?;
        write_output(&a.out, outcome.publication.document.as_bytes(), a.force)?;
        Ok(outcome)
    })?;
    // A repeat writes the list recorded before, with the times it was signed with.
    let written = trust::dangerous_read_unverified_body(outcome.publication.document.as_bytes())
        .map_err(|e| Failure::usage(format!("recorded trust list: {e}")))?;
    if cli.json {
        print_json(&TrustListBuilt {
            expires_at: written.expires_at.clone(),
            keys: written.keys.iter().map(|k| k.kid.to_string()).collect(),
            out: a.out.clone(),
            root: root.public().id().to_string(),
            sequence: a.sequence,
            already_recorded: outcome.already_recorded,
        })?;
    } else {
        println!(
            "trust list {} (sequence {}, {} keys, root {}, expires {}){}",
            a.out.display(),
            a.sequence,
            written.keys.len(),
            root.public().id(),
            written.expires_at,
            if outcome.already_recorded {
                ": recorded before with the same content, written again"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
