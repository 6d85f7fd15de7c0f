//! Issuing-office settings. Every fact the sources did not pin down is a setting with a
//! documented default (see `../shared/domain.md`, items marked "config"). Read from a JSON file
//! with `--config`; unknown keys are refused; missing keys take their defaults.

use serde::{Deserialize, Serialize};

/// A service a city may or may not offer online (the seed article's coverage table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// 申领电子居住证: apply for the e-permit.
    Apply,
    /// 申领居住证实体证件: apply for the physical card.
    Card,
    /// 签注居住证: endorsement.
    Endorse,
    /// 居住登记项目变更 / 居住证地址变更: registration and address changes.
    Change,
    /// 注销居住证: cancellation.
    Cancel,
}

impl Service {
    /// Name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Service::Apply => "e-permit application (申领电子居住证)",
            Service::Card => "physical card application (申领居住证实体证件)",
            Service::Endorse => "endorsement (签注居住证)",
            Service::Change => "registration change (居住登记项目变更)",
            Service::Cancel => "cancellation (注销居住证)",
        }
    }
}

/// Where a request comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The online self-service (粤省事 / the app): subject to city coverage.
    Online,
    /// A police station counter: every service, everywhere.
    Counter,
}

/// Cities (by code) where each online service is NOT offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Coverage {
    /// Not offered: e-permit application.
    pub apply: Vec<u32>,
    /// Not offered: physical card application.
    pub card: Vec<u32>,
    /// Not offered: endorsement.
    pub endorse: Vec<u32>,
    /// Not offered: registration and address change.
    pub change: Vec<u32>,
    /// Not offered: cancellation.
    pub cancel: Vec<u32>,
}

impl Default for Coverage {
    /// The seed article's table (2022-06-01 launch).
    fn default() -> Coverage {
        Coverage {
            apply: vec![440300, 440600],
            card: vec![440300, 440600],
            endorse: vec![],
            change: vec![440100, 440300, 440600],
            cancel: vec![440100, 440300, 440600],
        }
    }
}

impl Coverage {
    /// Whether `service` is offered online in `city`.
    pub fn offered(&self, service: Service, city: u32) -> bool {
        let excluded = match service {
            Service::Apply => &self.apply,
            Service::Card => &self.card,
            Service::Endorse => &self.endorse,
            Service::Change => &self.change,
            Service::Cancel => &self.cancel,
        };
        !excluded.contains(&city)
    }
}

/// Card fees in yuan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fees {
    /// First card (free by national rule).
    pub first_card: u32,
    /// Replacement (补领) of a lost card.
    pub replacement: u32,
    /// Exchange (换领) of a damaged or changed card.
    pub exchange: u32,
}

impl Default for Fees {
    fn default() -> Fees {
        Fees {
            first_card: 0,
            replacement: 20,
            exchange: 20,
        }
    }
}

/// Status-list publication settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusSettings {
    /// The URI the list is published at (its `sub`).
    pub uri: String,
    /// Hours until the next list is due.
    pub ttl_hours: u32,
    /// Number of entries (indices are drawn at random below it).
    pub capacity: u64,
}

impl Default for StatusSettings {
    fn default() -> StatusSettings {
        StatusSettings {
            uri: "https://permits.gd.example.invalid/status/1".into(),
            ttl_hours: 24,
            capacity: 1 << 26,
        }
    }
}

/// All settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Validity of a permit, years (config; 3 was the 2009 Guangdong rule).
    pub validity_years: u32,
    /// Validity of a Hong Kong, Macao or Taiwan resident's permit, years (national rule: 5).
    pub hk_mo_tw_validity_years: u32,
    /// Days of residence since registration required (more than half a year).
    pub min_residence_days: u32,
    /// Length of the endorsement window before each anniversary, months.
    pub endorsement_window_months: u32,
    /// Whether the counted residence years restart after a late endorsement.
    pub restart_residence_years_after_late_endorsement: bool,
    /// Online service coverage by city.
    pub coverage: Coverage,
    /// Card fees.
    pub fees: Fees,
    /// Status list.
    pub status_list: StatusSettings,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            validity_years: 3,
            hk_mo_tw_validity_years: 5,
            min_residence_days: 183,
            endorsement_window_months: 1,
            restart_residence_years_after_late_endorsement: false,
            coverage: Coverage::default(),
            fees: Fees::default(),
            status_list: StatusSettings::default(),
        }
    }
}

impl Settings {
    /// Parses a settings file.
    pub fn from_json(bytes: &[u8]) -> Result<Settings, String> {
        let s: Settings = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if s.validity_years == 0 || s.validity_years > 20 || s.hk_mo_tw_validity_years == 0 {
            return Err("validity years must be 1 … 20".into());
        }
        if s.status_list.capacity < 1024
            || s.status_list.capacity > permit_shared::status::MAX_ENTRIES
        {
            return Err("status_list.capacity must be 1024 … 2^28".into());
        }
        if s.endorsement_window_months == 0 || s.endorsement_window_months > 11 {
            return Err("endorsement_window_months must be 1 … 11".into());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let s =
            Settings::from_json(br#"{"validity_years": 5, "fees": {"replacement": 30}}"#).unwrap();
        assert_eq!(s.validity_years, 5);
        assert_eq!(s.fees.replacement, 30);
        assert_eq!(s.fees.exchange, 20);
        assert!(!s.coverage.offered(Service::Apply, 440300));
        assert!(s.coverage.offered(Service::Apply, 440100));
        assert!(Settings::from_json(br#"{"validty_years": 5}"#).is_err());
        assert!(Settings::from_json(br#"{"validity_years": 0}"#).is_err());
    }
}
