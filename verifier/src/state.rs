//! The verifier's small local state: the newest time it has trusted (clock floor) and the
//! highest trust-list and status-list sequence numbers it has seen, so that a rolled-back clock
//! or an old list replayed to it is noticed. Stored as JSON, replaced atomically.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Largest state file read, bytes.
pub const MAX_STATE_BYTES: u64 = 1024 * 1024;

/// The state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always `gdrp-verifier-state/1`.
    pub format: String,
    /// The newest trusted time.
    #[serde(default)]
    pub clock_floor: Option<DateTime<Utc>>,
    /// Highest trust-list sequence seen, by root key id.
    #[serde(default)]
    pub trust_sequences: BTreeMap<String, u64>,
    /// Highest status-list sequence seen, by list URI.
    #[serde(default)]
    pub status_sequences: BTreeMap<String, u64>,
    /// Digest (hex SHA-256 of the signed payload) of the trust list with the highest sequence
    /// seen, by root key id: another list with that sequence is a conflict.
    #[serde(default)]
    pub trust_digests: BTreeMap<String, String>,
    /// Digest (hex SHA-256 of the signed token) of the status list with the highest sequence
    /// seen, by list URI: another list with that sequence is a conflict.
    #[serde(default)]
    pub status_digests: BTreeMap<String, String>,
    /// Live presentations seen whose window has not ended (id → end of window, Unix seconds),
    /// so that a code scanned again in a later run is flagged `PRESENTATION_REPLAYED`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub presentations: BTreeMap<String, i64>,
}

/// How a list compares with the lists of its kind already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A higher sequence than any seen (or the first): recorded.
    Newer,
    /// The list already seen with the highest sequence, loaded again.
    Same,
    /// A lower sequence than one already seen.
    Rollback,
    /// The highest sequence already seen, but a different list: the signer published two lists
    /// under one sequence (a signing fault or a stolen key), one of which may hide a change.
    Conflict,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// I/O.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not a state file.
    #[error("state file {path} is damaged: {detail}; move it away to start afresh")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

const FORMAT: &str = "gdrp-verifier-state/1";

impl State {
    /// Reads the state; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let p = path.display().to_string();
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    format: FORMAT.into(),
                    ..State::default()
                });
            }
            Err(source) => return Err(StateError::Io { path: p, source }),
            Ok(m) if m.len() > MAX_STATE_BYTES => {
                return Err(StateError::Damaged {
                    path: p,
                    detail: "too large".into(),
                });
            }
            Ok(_) => {}
        }
        let bytes = std::fs::read(path).map_err(|source| StateError::Io {
            path: p.clone(),
            source,
        })?;
        let s: State = serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
            path: p.clone(),
            detail: e.to_string(),
        })?;
        if s.format != FORMAT {
            return Err(StateError::Damaged {
                path: p,
                detail: format!("format `{}`", s.format),
            });
        }
        Ok(s)
    }

    /// Writes the state atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let p = path.display().to_string();
        let io = |source| StateError::Io {
            path: p.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Raises the clock floor to `t` if it is newer.
    pub fn observe_time(&mut self, t: DateTime<Utc>) {
        if self.clock_floor.is_none_or(|f| t > f) {
            self.clock_floor = Some(t);
        }
    }

    /// Records a trust-list sequence; false if it is lower than one already seen (a rollback).
    pub fn observe_trust(&mut self, root: &str, sequence: u64) -> bool {
        observe(&mut self.trust_sequences, root, sequence)
    }

    /// Records a status-list sequence; false if it is lower than one already seen (a rollback).
    pub fn observe_status(&mut self, uri: &str, sequence: u64) -> bool {
        observe(&mut self.status_sequences, uri, sequence)
    }

    /// Records a trust list by its root, sequence and digest, and says how it compares.
    pub fn observe_trust_list(&mut self, root: &str, sequence: u64, digest: &[u8]) -> Seen {
        observe_list(
            (&mut self.trust_sequences, &mut self.trust_digests),
            root,
            sequence,
            digest,
        )
    }

    /// Records a status list by its URI, sequence and digest, and says how it compares.
    pub fn observe_status_list(&mut self, uri: &str, sequence: u64, digest: &[u8]) -> Seen {
        observe_list(
            (&mut self.status_sequences, &mut self.status_digests),
            uri,
            sequence,
            digest,
        )
    }
}

fn observe(m: &mut BTreeMap<String, u64>, key: &str, sequence: u64) -> bool {
    match m.get(key) {
        Some(seen) if sequence < *seen => false,
        _ => {
            m.insert(key.to_owned(), sequence);
            true
        }
    }
}

fn observe_list(
    (sequences, digests): (&mut BTreeMap<String, u64>, &mut BTreeMap<String, String>),
    key: &str,
    sequence: u64,
    digest: &[u8],
) -> Seen {
    let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    match sequences.get(key) {
        Some(seen) if sequence < *seen => Seen::Rollback,
        Some(seen) if sequence == *seen => match digests.get(key) {
            Some(d) if *d != digest => Seen::Conflict,
            Some(_) => Seen::Same,
            // Seen before digests were kept: remember this one.
            None => {
                digests.insert(key.to_owned(), digest);
                Seen::Same
            }
        },
        _ => {
            sequences.insert(key.to_owned(), sequence);
            digests.insert(key.to_owned(), digest);
            Seen::Newer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_and_floor() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s/state.json");
        let mut s = State::load(&p).unwrap();
        assert!(s.observe_status("u", 5));
        assert!(s.observe_status("u", 5));
        assert!(!s.observe_status("u", 4));
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        s.observe_time(t);
        s.observe_time(DateTime::from_timestamp(1, 0).unwrap());
        assert_eq!(s.clock_floor, Some(t));
        s.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), s);
        std::fs::write(&p, "{").unwrap();
        assert!(matches!(State::load(&p), Err(StateError::Damaged { .. })));
    }

    #[test]
    fn same_sequence_different_content_is_a_conflict() {
        let mut s = State::default();
        assert_eq!(s.observe_status_list("u", 5, b"a"), Seen::Newer);
        assert_eq!(s.observe_status_list("u", 5, b"a"), Seen::Same);
        assert_eq!(s.observe_status_list("u", 5, b"b"), Seen::Conflict);
        assert_eq!(s.observe_status_list("u", 4, b"c"), Seen::Rollback);
        assert_eq!(s.observe_status_list("u", 6, b"d"), Seen::Newer);
        assert_eq!(s.observe_trust_list("r", 1, b"a"), Seen::Newer);
        assert_eq!(s.observe_trust_list("r", 1, b"b"), Seen::Conflict);
        // A state from before digests were kept adopts the first digest it sees.
        s.observe_trust("q", 3);
        assert_eq!(s.observe_trust_list("q", 3, b"a"), Seen::Same);
        assert_eq!(s.observe_trust_list("q", 3, b"b"), Seen::Conflict);
    }
}
