//! Where panka keeps state and locks.
//!
//! [`StateStore`] holds one state document per stack and environment, plus one history object
//! per saved deployment, in S3, in local files beside stack.yaml, or in memory (tests). Every
//! write is conditional on the version read; [`commit`] re-reads and re-applies the writer's own
//! changes when another writer got there first, so applies on different services of one stack
//! never lose each other's results.
//!
//! [`LockStore`] takes locks on a whole stack and environment or on one service of it, in
//! DynamoDB, in local lock files, or in memory. Locks expire unless their holder's heartbeat
//! extends them; an expired lock is taken over.

mod commit;
mod error;
pub mod history;
pub mod init;
mod local;
pub mod locks;
mod memory;
pub mod ops;
mod s3;

pub use commit::{Changes, commit, commit_from};
pub use error::BackendError;
pub use history::HistoryEntry;
pub use local::LocalStore;
pub use locks::{LockGuard, LockInfo, LockRequest, LockScope, LockStore};
pub use memory::MemoryStore;
pub use s3::S3Store;

use panka_state::State;

/// Which state: a stack in an environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    pub stack: String,
    pub environment: String,
}

impl StateKey {
    pub fn new(stack: &str, environment: &str) -> Self {
        StateKey {
            stack: stack.to_string(),
            environment: environment.to_string(),
        }
    }
}

impl std::fmt::Display for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.stack, self.environment)
    }
}

/// The version of a stored state a conditional write is made against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// An S3 ETag.
    ETag(String),
    /// SHA-256 of a local file's content.
    Digest(String),
    /// A counter (memory).
    Counter(u64),
}

/// A state as read, with its version.
#[derive(Clone, Debug)]
pub struct Stored {
    pub state: State,
    pub version: Version,
}

/// Why a conditional write did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Written(Version),
    /// The stored state is not the one read (S3 412), or a concurrent write is in progress
    /// (S3 409): read again.
    Conflict,
}

/// A place that stores states.
#[derive(Clone, Debug)]
pub enum StateStore {
    Memory(MemoryStore),
    Local(LocalStore),
    S3(S3Store),
}

impl StateStore {
    /// Reads the current state, if there is one.
    ///
    /// # Errors
    /// The store cannot be reached or the document is not a state.
    pub async fn read(&self, key: &StateKey) -> Result<Option<Stored>, BackendError> {
        match self {
            StateStore::Memory(m) => Ok(m.read(key)),
            StateStore::Local(l) => l.read(key).await,
            StateStore::S3(s) => s.read(key).await,
        }
    }

    /// Writes `state` if the stored version is still `expected` (`None`: nothing stored yet).
    ///
    /// # Errors
    /// The store cannot be reached.
    pub async fn write(
        &self,
        key: &StateKey,
        state: &State,
        expected: Option<&Version>,
    ) -> Result<WriteOutcome, BackendError> {
        let encode =
            || serde_json::to_vec_pretty(state).map_err(|e| BackendError::Encode { source: e });
        match self {
            StateStore::Memory(m) => Ok(m.write(key, state, expected)),
            StateStore::Local(l) => l.write(key, &encode()?, expected).await,
            StateStore::S3(s) => s.write(key, &encode()?, expected).await,
        }
    }

    /// Saves a history entry (one per saved deployment).
    ///
    /// # Errors
    /// The store cannot be reached.
    pub async fn put_history(
        &self,
        key: &StateKey,
        entry: &HistoryEntry,
    ) -> Result<(), BackendError> {
        let bytes =
            serde_json::to_vec_pretty(entry).map_err(|e| BackendError::Encode { source: e })?;
        match self {
            StateStore::Memory(m) => {
                m.put_history(key, entry.clone());
                Ok(())
            }
            StateStore::Local(l) => l.put_history(key, &entry.object_name(), &bytes).await,
            StateStore::S3(s) => s.put_history(key, &entry.object_name(), &bytes).await,
        }
    }

    /// Every history entry, oldest first.
    ///
    /// # Errors
    /// The store cannot be reached or an entry is unreadable.
    pub async fn history(&self, key: &StateKey) -> Result<Vec<HistoryEntry>, BackendError> {
        let mut entries = match self {
            StateStore::Memory(m) => m.history(key),
            StateStore::Local(l) => l.history(key).await?,
            StateStore::S3(s) => s.history(key).await?,
        };
        entries.sort_by(|a, b| {
            (a.state.serial, &a.deployment.started_at)
                .cmp(&(b.state.serial, &b.deployment.started_at))
        });
        Ok(entries)
    }

    /// Refuses a store that does not enforce conditional writes (some S3-compatible stores
    /// accept `If-None-Match` and ignore it), since concurrent applies would then lose results.
    ///
    /// # Errors
    /// [`BackendError::NotConditional`] when a second create of the same object succeeds.
    pub async fn check_conditional_writes(&self, key: &StateKey) -> Result<(), BackendError> {
        match self {
            StateStore::S3(s) => s.check_conditional_writes(key).await,
            // Local files are written under an exclusive file lock; memory under a mutex.
            StateStore::Local(_) | StateStore::Memory(_) => Ok(()),
        }
    }

    /// Bytes per second checkpoints should average against this store: S3 bills and throttles
    /// per request and moves a few MB/s per object; a local disk takes far more; memory is free.
    pub fn write_rate(&self) -> Option<f64> {
        match self {
            StateStore::Memory(_) => None,
            StateStore::Local(_) => Some(64.0 * 1024.0 * 1024.0),
            StateStore::S3(_) => Some(4.0 * 1024.0 * 1024.0),
        }
    }

    /// A description for messages: `s3://bucket/stacks/...`, a path, or `memory`.
    pub fn describe(&self, key: &StateKey) -> String {
        match self {
            StateStore::Memory(_) => format!("memory:{key}"),
            StateStore::Local(l) => l.state_path(key).display().to_string(),
            StateStore::S3(s) => s.url(key),
        }
    }
}

/// `user@host` of the current process, for lock holders and deployment records.
/// This host's name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

pub fn who() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(|| {
            // Containers and CI runners often set none of them.
            let out = std::process::Command::new("id").arg("-un").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{}", host())
}

/// Seconds since the Unix epoch.
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The current time in RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    rfc3339(now_epoch())
}

/// Formats epoch seconds as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    rfc3339_of_millis(secs.saturating_mul(1000) as i64)
}

/// Formats epoch milliseconds as RFC 3339 UTC, to the second.
pub fn rfc3339_of_millis(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_651_200), "2026-11-26T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
