//! `issuer keys generate` and `issuer trust build`.

use std::process::ExitCode;

use chrono::Duration;

use permit_issuer::keyfile;
use permit_issuer::report::TrustListBuilt;
use permit_shared::trust::{self, KeyEntry, TrustListBody};

use crate::cli::{Cli, GenerateArgs, TrustBuildArgs};
use crate::context;
use crate::error::{Failure, Result};
use crate::output::{print_json, read_small, rfc3339, write_output};

/// `issuer keys generate`
pub fn generate(cli: &Cli, a: &GenerateArgs) -> Result<ExitCode> {
    let now = context::now(cli)?;
    let role = keyfile::Role::from(a.role);
    let stem = a.name.clone().unwrap_or_else(|| match role {
        keyfile::Role::Issuer => "issuer".into(),
        keyfile::Role::Root => "root".into(),
    });
    let g = keyfile::generate(
        &a.out,
        &keyfile::GenerateOptions {
            role,
            stem,
            issuer_name: a.issuer_name.clone(),
            test: a.test,
            signing_from: now,
            signing_until: now + Duration::days(i64::from(a.signing_days)),
        },
    )?;
    if cli.json {
        print_json(&g)?;
    } else {
        println!("key id       {}", g.kid);
        println!("private key  {} (mode 0600)", g.private_key.display());
        println!("public key   {}", g.public_pem.display());
        println!("public JWK   {}", g.public_jwk.display());
        if let Some(e) = &g.trust_entry {
            println!("trust entry  {}", e.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `issuer trust build`
pub fn build_trust_list(cli: &Cli, a: &TrustBuildArgs) -> Result<ExitCode> {
    let now = context::now(cli)?;
    let root = keyfile::read_secret_key(&a.root)?;
    let mut keys = Vec::new();
    for p in &a.entries {
        let text = read_small(p, 64 * 1024)?;
        let e: KeyEntry = serde_json::from_slice(&text).map_err(|e| {
            Failure::usage(format!("{}: not a trust-list key entry: {e}", p.display()))
        })?;
        keys.push(e);
    }
    let body = TrustListBody {
        format: trust::FORMAT.into(),
        sequence: a.sequence,
        issued_at: rfc3339(now),
        expires_at: rfc3339(now + Duration::days(i64::from(a.valid_days))),
        publisher: a.publisher.clone(),
        test: a.test,
        keys,
    };
    let doc = trust::sign(&body, &root).map_err(|e| Failure::usage(e.to_string()))?;
    write_output(&a.out, doc.as_bytes(), a.force)?;
    if cli.json {
        print_json(&TrustListBuilt {
            expires_at: body.expires_at.clone(),
            keys: body.keys.iter().map(|k| k.kid.to_string()).collect(),
            out: a.out.clone(),
            root: root.public().id().to_string(),
            sequence: a.sequence,
        })?;
    } else {
        println!(
            "trust list {} (sequence {}, {} keys, root {}, expires {})",
            a.out.display(),
            a.sequence,
            body.keys.len(),
            root.public().id(),
            body.expires_at
        );
    }
    Ok(ExitCode::SUCCESS)
}
