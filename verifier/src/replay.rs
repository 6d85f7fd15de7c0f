//! Presentations already seen: a live code scanned again within its window is flagged
//! `PRESENTATION_REPLAYED` (a warning: an official may rescan, but a second scan somewhere else
//! is a copy). Entries are forgotten when their window ends; the session keeps them in the state
//! file so that separate runs of `verifier verify` see each other's scans.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Most presentations remembered at once. Entries live only for a presentation window (90 s by
/// default), so this is about 45 scans a second for a minute and a half; when it is full, the
/// entry whose window ends first is forgotten to make room (and counted in
/// [`ReplayCache::forgotten`]).
pub const MAX_ENTRIES: usize = 4096;

/// The presentations seen, by id (the first 16 bytes of the holder signature, hex: Ed25519
/// signatures are deterministic and `verify_strict` refuses malleated ones, so one presentation
/// has one id), with the end of their window (Unix seconds).
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    until: BTreeMap<String, i64>,
    forgotten: u64,
}

/// A presentation's id in the cache.
pub fn presentation_id(signature: &[u8; 64]) -> String {
    signature[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl ReplayCache {
    /// A cache holding `entries` (id → end of window), e.g. from the state file; at most
    /// [`MAX_ENTRIES`] of them, those whose windows end last.
    pub fn from_entries(entries: BTreeMap<String, i64>) -> ReplayCache {
        let cache = ReplayCache {
            seen: Mutex::new(Inner {
                until: entries,
                forgotten: 0,
            }),
        };
        cache.with(|i| i.make_room(0));
        cache
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while holding the lock cannot leave the map inconsistent (every operation is
        // one insert or remove), so a poisoned lock is used as is.
        let mut g = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// Records presentation `id`, valid until `until`, seen at `now`: returns whether it was
    /// already seen within its window. Entries whose window ended before `now` are dropped.
    pub fn check_and_remember(&self, id: &str, until: i64, now: i64) -> bool {
        self.with(|i| {
            i.until.retain(|_, u| *u >= now);
            if i.until.contains_key(id) {
                return true;
            }
            i.make_room(1);
            i.until.insert(id.to_owned(), until);
            false
        })
    }

    /// The entries still in their window at `now`, for the state file.
    pub fn entries(&self, now: i64) -> BTreeMap<String, i64> {
        self.with(|i| {
            i.until
                .iter()
                .filter(|(_, u)| **u >= now)
                .map(|(k, u)| (k.clone(), *u))
                .collect()
        })
    }

    /// How many entries were forgotten before their window ended because the cache was full.
    pub fn forgotten(&self) -> u64 {
        self.with(|i| i.forgotten)
    }
}

impl Inner {
    /// Forgets the entries whose windows end first until `extra` more fit.
    fn make_room(&mut self, extra: usize) {
        while self.until.len() + extra > MAX_ENTRIES {
            let Some(first) = self
                .until
                .iter()
                .min_by_key(|(_, u)| **u)
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            self.until.remove(&first);
            self.forgotten += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presentation_is_flagged_only_within_its_window() {
        let c = ReplayCache::default();
        assert!(!c.check_and_remember("a", 100, 10));
        assert!(c.check_and_remember("a", 100, 50));
        assert!(!c.check_and_remember("b", 100, 50));
        // After its window the entry is gone.
        assert!(!c.check_and_remember("a", 300, 101));
        assert_eq!(c.entries(200).len(), 1);
    }

    #[test]
    fn a_full_cache_forgets_the_entry_ending_first_and_counts_it() {
        let c = ReplayCache::default();
        for n in 0..MAX_ENTRIES {
            c.check_and_remember(&n.to_string(), 1000 + n as i64, 0);
        }
        assert!(!c.check_and_remember("new", 5000, 0));
        assert_eq!(c.forgotten(), 1);
        assert!(
            !c.check_and_remember("0", 5000, 0),
            "the earliest-ending entry was forgotten"
        );
        assert!(c.check_and_remember("new", 5000, 0));
    }
}
