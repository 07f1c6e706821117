//! Conflicts a plan can show before it is applied: a create whose AWS name another resource
//! already has, one that is not the component's (no panka tags, or another owner's). The apply
//! would stop at that component; saying so at plan time lets the user rename it or adopt the
//! resource with `panka import` first (as CloudFormation's early validation does for names).

use std::sync::Arc;
use std::time::Duration;

use panka_engine::{ErrorKind, Registry};
use panka_plan::{ActionKind, Plan};

/// How many lookups run at once.
const CONCURRENCY: usize = 8;

/// How long one lookup may take before it is given up (the check is advisory: the apply
/// checks again).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A create that would meet a resource that is not the component's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub address: String,
    /// The provider's account of it: which resource, whose, and what to do.
    pub message: String,
}

/// Looks up the AWS name of every resource the plan creates. A lookup that fails otherwise
/// (no credentials, a kind whose lookup needs what is not created yet) is skipped: the apply
/// checks each create again.
pub async fn creates_in_conflict(plan: &Plan, registry: &Registry, region: &str) -> Vec<Conflict> {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for action in plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Create)
    {
        let (Some(config), Some(provider)) = (&action.config, registry.get(action.kind.name()))
        else {
            continue;
        };
        let req = panka_engine::resolve::lookup_request(
            &action.address,
            action.kind.name(),
            config,
            region,
        );
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            match tokio::time::timeout(LOOKUP_TIMEOUT, provider.find(&req)).await {
                Ok(Err(e)) if e.kind == ErrorKind::NotOwned => Some(Conflict {
                    address: req.address.clone(),
                    message: e.chain(),
                }),
                _ => None,
            }
        });
    }
    let mut found = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(conflict)) = done {
            found.push(conflict);
        }
    }
    found.sort_by(|a, b| a.address.cmp(&b.address));
    found
}
