//! The state commands' operations: push, move, remove, restore, and saving a deployment.

use panka_state::{Deployment, State};

use crate::commit::{Changes, commit};
use crate::error::BackendError;
use crate::history::HistoryEntry;
use crate::{StateKey, StateStore};

/// Replaces the stored state with `state` (`panka state push`). Refuses another lineage, or a
/// serial not above the stored one, unless `force`.
///
/// # Errors
/// [`BackendError::LineageMismatch`], [`BackendError::SerialNotNewer`], store errors.
pub async fn push(
    store: &StateStore,
    key: &StateKey,
    state: &State,
    force: bool,
) -> Result<State, BackendError> {
    let current = store.read(key).await?;
    if let Some(current) = &current
        && !force
    {
        if current.state.lineage != state.lineage {
            return Err(BackendError::LineageMismatch {
                expected: current.state.lineage.clone(),
                found: state.lineage.clone(),
            });
        }
        if state.serial <= current.state.serial {
            return Err(BackendError::SerialNotNewer {
                current: current.state.serial,
                offered: state.serial,
            });
        }
    }
    let changes = Changes {
        replace_with: Some(state.clone()),
        ..Changes::default()
    };
    let lineage = current
        .as_ref()
        .map(|c| c.state.lineage.clone())
        .unwrap_or_else(|| state.lineage.clone());
    commit(store, key, Some(&lineage), &changes).await
}

/// Commits `changes` with their deployment record, then saves the history entry for it.
///
/// # Errors
/// As [`commit`] and [`StateStore::put_history`].
pub async fn save_deployment(
    store: &StateStore,
    key: &StateKey,
    lineage: Option<&str>,
    mut changes: Changes,
    deployment: Deployment,
) -> Result<State, BackendError> {
    changes.deployment = Some(deployment.clone());
    let state = commit(store, key, lineage, &changes).await?;
    store
        .put_history(
            key,
            &HistoryEntry {
                deployment,
                state: state.clone(),
            },
        )
        .await?;
    Ok(state)
}

/// Makes the state of a past deployment current again, as a new serial (`panka state restore`).
///
/// # Errors
/// [`BackendError::NoSuchDeployment`], store errors.
pub async fn restore(
    store: &StateStore,
    key: &StateKey,
    deployment_id: &str,
    record: Deployment,
) -> Result<State, BackendError> {
    let history = store.history(key).await?;
    let entry = history
        .into_iter()
        .find(|h| h.deployment.id == deployment_id)
        .ok_or_else(|| BackendError::NoSuchDeployment(deployment_id.to_string()))?;
    let changes = Changes {
        replace_with: Some(entry.state.clone()),
        ..Changes::default()
    };
    save_deployment(store, key, Some(&entry.state.lineage), changes, record).await
}
