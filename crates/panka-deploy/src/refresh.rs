//! Reading recorded resources from AWS: the pass `--refresh`, `drift` and `status` make.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use panka_engine::{Provider, Recorded, Registry, Request};
use panka_state::{ResourceState, State};

/// How many recorded resources are read from AWS at once (refresh, status, drift).
pub const READ_CONCURRENCY: usize = 16;

/// What a pass over the recorded resources found for one of them.
pub enum Visit<T> {
    /// The provider's answer.
    Done(T),
    /// No provider for the kind.
    NoProvider,
    /// The request could not be built (a reference without a value).
    Unresolved(String),
}

/// Runs `visit` with the provider and request of every recorded resource (those `addresses`
/// accepts), at most [`READ_CONCURRENCY`] at a time; the results in address order.
///
/// # Errors
/// A visit that panicked.
pub async fn visit_recorded<T, F, Fut>(
    registry: &Registry,
    region: &str,
    resources: &imbl::OrdMap<String, Arc<ResourceState>>,
    addresses: impl Fn(&str) -> bool,
    visit: F,
) -> Result<Vec<(String, Visit<T>)>, tokio::task::JoinError>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Provider>, Request, Arc<ResourceState>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let outputs = recorded_outputs(resources);
    let limit = Arc::new(tokio::sync::Semaphore::new(READ_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let mut found = Vec::new();
    for (address, r) in resources.iter().filter(|(a, _)| addresses(a)) {
        let Some(provider) = registry.get(&r.kind) else {
            found.push((address.clone(), Visit::NoProvider));
            continue;
        };
        let req = match panka_engine::resolve::request(
            address,
            &r.kind,
            &r.config.value(),
            &outputs,
            region,
        ) {
            Ok(req) => req,
            Err(e) => {
                found.push((address.clone(), Visit::Unresolved(e)));
                continue;
            }
        };
        let (address, r, limit, visit) = (address.clone(), r.clone(), limit.clone(), visit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (address, Visit::Done(visit(provider, req, r).await))
        });
    }
    while let Some(done) = tasks.join_next().await {
        found.push(done?);
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The outputs of every recorded resource, for resolving references in provider requests.
pub fn recorded_outputs(
    resources: &imbl::OrdMap<String, Arc<ResourceState>>,
) -> HashMap<String, BTreeMap<String, String>> {
    resources
        .iter()
        .map(|(k, r)| (k.clone(), r.outputs.clone()))
        .collect()
}

/// What a refresh changed, for the user.
#[derive(Clone, Debug, Default)]
pub struct Refreshed {
    /// Recorded resources AWS no longer has: the plan creates them again.
    pub gone: Vec<String>,
    /// Recorded resources of kinds with no provider: not refreshed.
    pub unread: Vec<String>,
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("reading {address} from AWS: {message}")]
    Read { address: String, message: String },
    #[error("a read of the refresh panicked")]
    Panicked(#[from] tokio::task::JoinError),
}

/// Replaces each recorded resource's configuration with what AWS reports, so that the plan
/// shows drift as changes; a resource gone from AWS leaves the state (and is created again).
///
/// # Errors
/// A read that failed.
pub async fn refresh(
    registry: &Registry,
    region: &str,
    state: &mut State,
) -> Result<Refreshed, RefreshError> {
    let read = visit_recorded(
        registry,
        region,
        &state.resources,
        |_| true,
        |provider, req, r| async move {
            let recorded = Recorded {
                ids: &r.physical_ids,
                outputs: &r.outputs,
            };
            provider.read(&req, recorded).await
        },
    )
    .await?;
    let mut refreshed = Refreshed::default();
    for (address, visit) in read {
        match visit {
            Visit::Done(Ok(Some(observed))) => {
                if let Some(r) = state.resources.get_mut(address.as_str()) {
                    let r = Arc::make_mut(r);
                    // Shared resources keep their settings at the top level, not under `spec`.
                    r.config.edit(|config| {
                        *config = panka_engine::observe::observed_config(config, &observed);
                    });
                    r.outputs = observed.outcome.outputs;
                }
            }
            Visit::Done(Ok(None)) => {
                state.resources.remove(address.as_str());
                refreshed.gone.push(address);
            }
            Visit::Done(Err(e)) => {
                return Err(RefreshError::Read {
                    address,
                    message: e.chain(),
                });
            }
            Visit::Unresolved(message) => return Err(RefreshError::Read { address, message }),
            Visit::NoProvider => refreshed.unread.push(address),
        }
    }
    Ok(refreshed)
}
