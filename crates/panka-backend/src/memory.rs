//! An in-memory state store, for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use panka_state::State;

use crate::history::HistoryEntry;
use crate::{StateKey, Stored, Version, WriteOutcome};

/// Per key: the state, its version counter and its history.
type Entries = HashMap<StateKey, (State, u64, Vec<HistoryEntry>)>;

#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Entries>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves consistent data (every write is one insert).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn read(&self, key: &StateKey) -> Option<Stored> {
        self.lock().get(key).map(|(s, v, _)| Stored {
            state: s.clone(),
            version: Version::Counter(*v),
        })
    }

    pub(crate) fn write(
        &self,
        key: &StateKey,
        state: &State,
        expected: Option<&Version>,
    ) -> WriteOutcome {
        let mut map = self.lock();
        let current = map.get(key).map(|(_, v, _)| Version::Counter(*v));
        if current.as_ref() != expected {
            return WriteOutcome::Conflict;
        }
        let next = map.get(key).map_or(1, |(_, v, _)| v + 1);
        let history = map.remove(key).map(|(_, _, h)| h).unwrap_or_default();
        map.insert(key.clone(), (state.clone(), next, history));
        WriteOutcome::Written(Version::Counter(next))
    }

    pub(crate) fn put_history(&self, key: &StateKey, entry: HistoryEntry) {
        let mut map = self.lock();
        if let Some((_, _, h)) = map.get_mut(key) {
            h.push(entry);
        }
    }

    pub(crate) fn history(&self, key: &StateKey) -> Vec<HistoryEntry> {
        self.lock()
            .get(key)
            .map(|(_, _, h)| h.clone())
            .unwrap_or_default()
    }
}
