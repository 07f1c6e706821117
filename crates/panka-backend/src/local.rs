//! Local state files beside stack.yaml, under `.panka/ENV/`.
//!
//! `state.json` is replaced by writing a temporary file, syncing it, renaming it over the old one
//! and syncing the folder, so a crash leaves the old state or the new one, never half of either.
//! The read-compare-write of a conditional write happens under an exclusive OS lock on
//! `state.json.lock`, which the OS releases if the process dies.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::BackendError;
use crate::history::HistoryEntry;
use crate::{StateKey, Stored, Version, WriteOutcome};

#[derive(Clone, Debug)]
pub struct LocalStore {
    /// The folder holding stack.yaml; state lives in its `.panka/`.
    root: PathBuf,
}

impl LocalStore {
    pub fn new(stack_root: impl Into<PathBuf>) -> Self {
        LocalStore {
            root: stack_root.into(),
        }
    }

    pub fn env_dir(&self, key: &StateKey) -> PathBuf {
        self.root.join(".panka").join(&key.environment)
    }

    pub fn state_path(&self, key: &StateKey) -> PathBuf {
        self.env_dir(key).join("state.json")
    }

    fn history_dir(&self, key: &StateKey) -> PathBuf {
        self.env_dir(key).join("history")
    }

    pub(crate) async fn read(&self, key: &StateKey) -> Result<Option<Stored>, BackendError> {
        let path = self.state_path(key);
        tokio::task::spawn_blocking(move || read_state(&path))
            .await
            .map_err(|e| BackendError::io("(task)", std::io::Error::other(e)))?
    }

    pub(crate) async fn write(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expected: Option<&Version>,
    ) -> Result<WriteOutcome, BackendError> {
        let dir = self.env_dir(key);
        let bytes = bytes.to_vec();
        let expected = expected.cloned();
        tokio::task::spawn_blocking(move || write_state(&dir, &bytes, expected.as_ref()))
            .await
            .map_err(|e| BackendError::io("(task)", std::io::Error::other(e)))?
    }

    pub(crate) async fn put_history(
        &self,
        key: &StateKey,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), BackendError> {
        let dir = self.history_dir(key);
        std::fs::create_dir_all(&dir).map_err(|e| BackendError::io(&dir, e))?;
        write_atomically(&dir.join(name), bytes)
    }

    pub(crate) async fn history(&self, key: &StateKey) -> Result<Vec<HistoryEntry>, BackendError> {
        let dir = self.history_dir(key);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read(&p).map_err(|e| BackendError::io(&p, e))?;
                out.push(
                    serde_json::from_slice(&text).map_err(|e| BackendError::Decode {
                        what: p.display().to_string(),
                        source: e,
                    })?,
                );
            }
        }
        Ok(out)
    }
}

fn read_state(path: &Path) -> Result<Option<Stored>, BackendError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let state = serde_json::from_slice(&bytes).map_err(|e| BackendError::Decode {
                what: path.display().to_string(),
                source: e,
            })?;
            Ok(Some(Stored {
                state,
                version: Version::Digest(panka_state::sha256_hex(&bytes)),
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BackendError::io(path, e)),
    }
}

fn write_state(
    dir: &Path,
    bytes: &[u8],
    expected: Option<&Version>,
) -> Result<WriteOutcome, BackendError> {
    std::fs::create_dir_all(dir).map_err(|e| BackendError::io(dir, e))?;
    let lock_path = dir.join("state.json.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| BackendError::io(&lock_path, e))?;
    lock.lock().map_err(|e| BackendError::io(&lock_path, e))?;
    let path = dir.join("state.json");
    let current = read_state(&path)?.map(|s| s.version);
    let outcome = if current.as_ref() != expected {
        WriteOutcome::Conflict
    } else {
        write_atomically(&path, bytes)?;
        WriteOutcome::Written(Version::Digest(panka_state::sha256_hex(bytes)))
    };
    // Dropping the file releases the lock; unlock explicitly to say so.
    let _ = lock.unlock();
    Ok(outcome)
}

/// Temp file, fsync, rename, fsync of the folder.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BackendError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = File::create(&tmp).map_err(|e| BackendError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| BackendError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| BackendError::io(path, e))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
