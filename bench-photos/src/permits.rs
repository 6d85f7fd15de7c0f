//! Real permits for the photos: synthetic applicants (`permit_issuer::demo_data`), validated,
//! planned and signed with the TEST-ONLY demo issuer key exactly as the issuer does, on a fixed
//! clock. The serial and status-list index, which the ledger draws from OS randomness, are drawn
//! from the seed instead, so that the same seed gives the same credential texts.

use chrono::{DateTime, Utc};

use permit_issuer::issue::Office;
use permit_issuer::ledger::Ledger as _;
use permit_issuer::ledger::sqlite::SqliteLedger;
use permit_issuer::lifecycle::{self, LifecycleError};
use permit_issuer::settings::Settings;
use permit_shared::applicant::RawApplicant;
use permit_shared::trust::Usage;

use crate::BenchError;
use crate::rng::Rng;

/// The issuing time of the bench permits: 2026-11-25 10:00 China Standard Time.
pub fn issued_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_572_000, 0).unwrap_or_default()
}

/// The QR texts of `count` permits issued to synthetic applicants drawn with `seed`.
///
/// # Errors
///
/// When the demo key cannot be loaded, or fewer than `count` of the synthetic applicants validate.
pub fn issue_permits(count: usize, seed: u64) -> Result<Vec<String>, BenchError> {
    let mut jsonl = Vec::new();
    permit_issuer::demo_data::write(
        &permit_issuer::demo_data::Options {
            count: count * 4 + 4,
            seed,
            ..permit_issuer::demo_data::Options::default()
        },
        &mut jsonl,
    )?;
    let signer = permit_issuer::demo::signer(Usage::Permit, issued_at())
        .map_err(|e| BenchError(e.to_string()))?;
    let settings = Settings::default();
    let office = Office {
        settings: &settings,
        now: issued_at(),
        actor: "photo-bench",
    };
    let mut ledger = SqliteLedger::in_memory().map_err(|e| BenchError(e.to_string()))?;
    let mut rng = Rng::new(seed);
    let mut texts = Vec::with_capacity(count);
    for (i, line) in jsonl.split(|&b| b == b'\n').enumerate() {
        if texts.len() == count {
            break;
        }
        let Ok(raw) = RawApplicant::from_json(line) else {
            continue;
        };
        let Ok(applicant) = raw.validate(office.today()) else {
            continue;
        };
        let application = format!("A{i:011}");
        let mut plan = ledger
            .transaction(|tx| lifecycle::plan_issue(tx, &office, &signer, &application, &applicant))
            .map_err(|e: LifecycleError| BenchError(e.to_string()))?;
        plan.serial = 100_000_000_000 + rng.next_u64() % 900_000_000_000;
        plan.status_index = rng.next_u64() % settings.status_list.capacity.max(1);
        let signed = lifecycle::sign_issue(plan, &signer).map_err(|e| BenchError(e.to_string()))?;
        texts.push(signed.credential.text);
    }
    if texts.len() < count {
        return Err(BenchError(format!(
            "only {} of {count} synthetic applicants validated",
            texts.len()
        )));
    }
    Ok(texts)
}
