//! Crash recovery: resolving the intents a killed apply left pending.
//!
//! For each pending intent the provider looks for the resource by its AWS name and panka tags.
//! What exists is adopted — recorded as pending, so the next plan applies its full configuration
//! again — and what does not is forgotten, so the next plan creates it. No resource is created
//! twice and none is left untracked.

use std::collections::HashMap;

use panka_backend::Changes;
use panka_state::{IntentOperation, RecordedConfig, ResourceState, ResourceStatus, State};

use crate::provider::Registry;
use crate::resolve::request;

/// What recovery decided for one intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub address: String,
    pub operation: IntentOperation,
    /// Whether the resource was found in AWS.
    pub found: bool,
}

/// The changes that resolve every pending intent of `state`.
///
/// # Errors
/// A provider error while looking a resource up (the intents stay pending).
pub async fn recover(
    state: &State,
    registry: &Registry,
    region: &str,
) -> Result<(Changes, Vec<Recovered>), String> {
    let mut changes = Changes::default();
    let mut report = Vec::new();
    let outputs: HashMap<String, std::collections::BTreeMap<String, String>> = state
        .resources
        .iter()
        .map(|(k, r)| (k.clone(), r.outputs.clone()))
        .collect();
    for intent in &state.pending {
        let provider = registry.get(&intent.kind).ok_or_else(|| {
            format!(
                "no provider for {} to recover {}",
                intent.kind, intent.address
            )
        })?;
        // References may point at resources that were never created: look up by name and tags only.
        let req = request(
            &intent.address,
            &intent.kind,
            &intent.config,
            &outputs,
            region,
        )
        .or_else(|_| {
            request(
                &intent.address,
                &intent.kind,
                &strip_refs(&intent.config),
                &HashMap::new(),
                region,
            )
        })?;
        let found = provider.find(&req).await.map_err(|e| {
            format!(
                "looking for {} ({}): {}",
                intent.address,
                intent.physical_name,
                e.chain()
            )
        })?;
        let existing = state.resources.get(&intent.address);
        let resource = match (&found, intent.operation) {
            (Some(o), _) => Some(ResourceState {
                kind: intent.kind.clone(),
                physical_ids: o.physical_ids.clone(),
                config_hash: panka_state::config_hash(&intent.config),
                config: RecordedConfig::new(&intent.config),
                outputs: o.outputs.clone(),
                dependencies: existing.map(|e| e.dependencies.clone()).unwrap_or_default(),
                status: ResourceStatus::Pending,
                created_at: existing
                    .map(|e| e.created_at.clone())
                    .unwrap_or_else(panka_backend::now_rfc3339),
                updated_at: panka_backend::now_rfc3339(),
            }),
            (None, _) => None,
        };
        changes.resources.insert(intent.address.clone(), resource);
        changes.resolve_intents.push(intent.id.clone());
        report.push(Recovered {
            address: intent.address.clone(),
            operation: intent.operation,
            found: found.is_some(),
        });
    }
    Ok((changes, report))
}

fn strip_refs(config: &serde_json::Value) -> serde_json::Value {
    let mut c = config.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove("inputs");
    }
    c
}
