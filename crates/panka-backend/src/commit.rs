//! Committing a writer's changes to the stored state, merging with concurrent writers.

use std::collections::BTreeMap;
use std::time::Duration;

use panka_state::{Deployment, Intent, ResourceState, State};

use crate::error::BackendError;
use crate::{StateKey, StateStore, Stored, WriteOutcome};

/// Conflicting writes retried before giving up. Each retry re-reads, so progress is made
/// whenever any writer succeeds; the bound only stops a livelock.
pub const MAX_COMMIT_ATTEMPTS: usize = 64;

/// The least a writer waits after a conflict before it re-reads (see [`conflict_pause`]).
const CONFLICT_BACKOFF_BASE: Duration = Duration::from_millis(20);

/// One writer's changes: what it did to resources and intents, and its deployment record.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// `Some` sets the resource, `None` removes it.
    pub resources: BTreeMap<String, Option<ResourceState>>,
    pub add_intents: Vec<Intent>,
    /// Ids of intents resolved.
    pub resolve_intents: Vec<String>,
    pub deployment: Option<Deployment>,
    /// Replace the whole state with this one (`state push`, `state restore`), keeping the
    /// stored lineage check and bumping the serial past the stored one.
    pub replace_with: Option<State>,
    /// The locks the writer holds, as (lock name, holder id): the write is refused when one of
    /// them was taken over since the writer took it (see [`State::fences`]). Empty: unfenced.
    pub fence: Vec<(String, String)>,
    /// Records the writer's locks in [`State::fences`] (its first write after taking them),
    /// instead of checking them.
    pub take_fences: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
            && self.add_intents.is_empty()
            && self.resolve_intents.is_empty()
            && self.deployment.is_none()
            && self.replace_with.is_none()
            && !self.take_fences
    }

    /// Refuses a write from a holder whose lock was taken over: the stored fence of one of its
    /// locks names another holder, or a lock that covers it (the whole stack's lock for a
    /// service's, any for the stack's) was taken after it.
    fn check_fences(&self, key: &StateKey, state: &State) -> Result<(), BackendError> {
        if self.take_fences {
            return Ok(());
        }
        let fenced = |lock: &str, why: String| BackendError::Fenced {
            key: key.to_string(),
            lock: lock.to_string(),
            why,
        };
        for (lock, holder) in &self.fence {
            let Some(mine) = state.fences.get(lock) else {
                return Err(fenced(lock, "the state has no record of taking it".into()));
            };
            if mine.holder_id != *holder {
                return Err(fenced(
                    lock,
                    format!(
                        "holder {} took it at serial {}",
                        mine.holder_id, mine.serial
                    ),
                ));
            }
            for (other, fence) in &state.fences {
                let covers = other != lock && (other == "*" || lock == "*");
                if covers && fence.serial > mine.serial {
                    return Err(fenced(
                        lock,
                        format!(
                            "lock `{other}` was taken at serial {}, after this run's at {}",
                            fence.serial, mine.serial
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn apply(&self, state: &mut State) {
        if let Some(replacement) = &self.replace_with {
            // The result is a new serial: past the stored one, and not below the replacement's.
            // The fences stay: they say who holds the locks now, whatever the content.
            let (lineage, serial, fences) = (
                state.lineage.clone(),
                state.serial.max(replacement.serial.saturating_sub(1)),
                std::mem::take(&mut state.fences),
            );
            *state = replacement.clone();
            state.lineage = lineage;
            state.serial = serial;
            state.fences = fences;
        }
        if self.take_fences {
            for (lock, holder) in &self.fence {
                state.fences.insert(
                    lock.clone(),
                    panka_state::Fence {
                        holder_id: holder.clone(),
                        serial: state.serial + 1,
                    },
                );
            }
        }
        for (address, r) in &self.resources {
            match r {
                Some(r) => {
                    state
                        .resources
                        .insert(address.clone(), std::sync::Arc::new(r.clone()));
                }
                None => {
                    state.resources.remove(address);
                }
            }
        }
        state
            .pending
            .retain(|i| !self.resolve_intents.contains(&i.id));
        for i in &self.add_intents {
            if !state.pending.iter().any(|p| p.id == i.id) {
                state.pending.push(i.clone());
            }
        }
        if let Some(d) = &self.deployment {
            state.last_deployment = Some(d.clone());
        }
    }
}

/// Applies `changes` to the stored state of `key` and writes it with a serial one higher,
/// conditional on the version read. On a conflict it re-reads the newer state and applies the
/// same changes to it, so concurrent writers touching different resources all keep their work.
///
/// `lineage` is the lineage the writer planned against (`None` for a first write, which creates
/// a new lineage when nothing is stored).
///
/// # Errors
/// [`BackendError::LineageMismatch`] when the stored state is another lineage;
/// [`BackendError::Fenced`] when `changes.fence` names a lock taken over since;
/// [`BackendError::TooManyConflicts`] after [`MAX_COMMIT_ATTEMPTS`]; store errors.
///
/// # Guarantees
/// Idempotent for resource changes: committing the same changes twice yields the same resources.
pub async fn commit(
    store: &StateStore,
    key: &StateKey,
    lineage: Option<&str>,
    changes: &Changes,
) -> Result<State, BackendError> {
    commit_from(store, key, lineage, changes, None)
        .await
        .map(|s| s.state)
}

/// [`commit`] starting from a state the caller already holds (the last one it wrote), which
/// saves reading it back; a conflict still re-reads the stored state. Returns the state written
/// with its version, for the next call.
///
/// # Errors
/// As [`commit`].
pub async fn commit_from(
    store: &StateStore,
    key: &StateKey,
    lineage: Option<&str>,
    changes: &Changes,
    mut known: Option<Stored>,
) -> Result<Stored, BackendError> {
    for attempt in 0..MAX_COMMIT_ATTEMPTS {
        let stored = match known.take() {
            Some(s) => Some(s),
            None => store.read(key).await?,
        };
        let (mut state, version) = match stored {
            Some(s) => (s.state, Some(s.version)),
            None => {
                let lineage = lineage
                    .map(str::to_string)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                (State::new(&key.stack, &key.environment, &lineage), None)
            }
        };
        if let Some(expected) = lineage
            && state.lineage != expected
        {
            return Err(BackendError::LineageMismatch {
                expected: expected.to_string(),
                found: state.lineage,
            });
        }
        changes.check_fences(key, &state)?;
        changes.apply(&mut state);
        state.serial += 1;
        match store.write(key, &state, version.as_ref()).await? {
            WriteOutcome::Written(version) => return Ok(Stored { state, version }),
            WriteOutcome::Conflict => tokio::time::sleep(conflict_pause(attempt)).await,
        }
    }
    Err(BackendError::TooManyConflicts {
        key: key.to_string(),
        attempts: MAX_COMMIT_ATTEMPTS,
    })
}

/// The most a writer waits between two tries after a conflict.
const CONFLICT_BACKOFF_CAP: Duration = Duration::from_secs(1);

/// The pause before try `attempt + 1` after a conflict: exponential backoff with full jitter
/// (a uniform pause up to `base * 2^attempt`, capped), so that many writers of one state
/// spread out instead of colliding again in step; the base is always waited, so a writer does
/// not spin. ("Exponential Backoff And Jitter", AWS Architecture Blog.)
fn conflict_pause(attempt: usize) -> Duration {
    let ceiling = CONFLICT_BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(10))
        .min(CONFLICT_BACKOFF_CAP);
    let bytes = uuid::Uuid::new_v4();
    let random = u16::from_le_bytes([bytes.as_bytes()[0], bytes.as_bytes()[1]]);
    let fraction = f64::from(random) / f64::from(u16::MAX);
    CONFLICT_BACKOFF_BASE + ceiling.mul_f64(fraction)
}
