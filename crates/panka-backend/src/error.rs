//! Errors of state and lock stores.

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("reading or writing {path}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not a valid panka document")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("encoding a document")]
    Encode {
        #[source]
        source: serde_json::Error,
    },
    #[error("{action} failed")]
    Aws {
        action: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "{store} accepted a second create of the same object: it does not enforce conditional writes, \
         and concurrent applies would lose each other's results; use a store that does (AWS S3 does)"
    )]
    NotConditional { store: String },
    #[error(
        "state lineage {found} is not this state's lineage {expected}: it belongs to another stack or was re-created"
    )]
    LineageMismatch { expected: String, found: String },
    #[error(
        "refusing to replace state serial {current} with serial {offered}: it is not newer (use --force to override)"
    )]
    SerialNotNewer { current: u64, offered: u64 },
    #[error("another writer kept changing {key}; gave up after {attempts} attempts")]
    TooManyConflicts { key: String, attempts: usize },
    #[error("{0}")]
    LockHeld(String),
    #[error("no lock {0}")]
    NoSuchLock(String),
    #[error("lock {id} is held by a live holder ({holder}); pass --force to remove it anyway")]
    LockLive { id: String, holder: String },
    #[error("no history entry {0}")]
    NoSuchDeployment(String),
    #[error(
        "refusing to write {key}: this run's lock `{lock}` was taken over ({why}); another run owns the state now"
    )]
    Fenced {
        key: String,
        lock: String,
        why: String,
    },
}

impl BackendError {
    pub(crate) fn aws(
        action: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        BackendError::Aws {
            action: action.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        BackendError::Io {
            path: path.into(),
            source,
        }
    }
}
