//! Crash recovery: resolving the intents a killed apply left pending.
//!
//! For each pending intent the provider looks for the resource by its AWS name and panka tags.
//! What exists is adopted with the settings AWS reports for it — recorded as pending, so the
//! next plan applies whatever the interrupted operation did not reach — and what does not is
//! forgotten, so the next plan creates it. No resource is created
//! twice and none is left untracked.

use std::collections::HashMap;

use panka_backend::Changes;
use panka_state::{IntentOperation, RecordedConfig, ResourceState, ResourceStatus, State};

use crate::observe::observed_config;
use crate::provider::{Recorded, Registry};
use crate::resolve::request;

/// What recovery decided for one intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub address: String,
    pub operation: IntentOperation,
    /// Whether the resource was found in AWS.
    pub found: bool,
    /// A replace cut short before it deleted the old resource: the old one is kept recorded,
    /// so the next plan replaces it again.
    pub old_kept: bool,
    /// A replace cut short after it created the new resource: the old one it was deleting is
    /// deleted now.
    pub old_deleted: bool,
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
        let req = lookup_request(intent, &intent.config, &outputs, region)?;
        let found = find(provider.as_ref(), &req, intent, &intent.physical_name).await?;
        // A replace that changes the AWS name has two sides. It deletes the old resource, then
        // creates the new one: the new one found means the old one was meant to go (delete it
        // if it is still there); the new one absent means the replace did not get past the
        // delete, so the old one, if it is still there, stays recorded and is replaced again.
        let mut old_kept: Option<(crate::provider::Request, crate::provider::Outcome)> = None;
        let mut old_deleted = false;
        if let Some(old) = intent.replaces.as_ref() {
            let old_req = lookup_request(intent, &old.config, &outputs, region)?;
            let old_found = find(provider.as_ref(), &old_req, intent, &old.physical_name)
                .await?
                // The AWS name can change with the configuration under one component name (a
                // queue made FIFO gets `.fifo`): the two sides are told apart by what AWS
                // identifies them with, not by the component's name. Both lookups finding the
                // same resource mean the replace keeps its AWS name: there is one side.
                .filter(|o| {
                    found
                        .as_ref()
                        .is_none_or(|n| n.physical_ids != o.physical_ids)
                });
            match (&found, old_found) {
                (Some(_), Some(o)) => {
                    let ids = if old.physical_ids.is_empty() {
                        o.physical_ids.clone()
                    } else {
                        old.physical_ids.clone()
                    };
                    provider
                        .delete(&old.physical_name, &old.config, &ids)
                        .await
                        .map_err(|e| {
                            format!(
                                "deleting {} ({}), which a replace had started to delete: {}",
                                intent.address,
                                old.physical_name,
                                e.chain()
                            )
                        })?;
                    old_deleted = true;
                }
                (None, Some(o)) => old_kept = Some((old_req, o)),
                (_, None) => {}
            }
        }
        // What was found is recorded as AWS reports it, so that an update the crash cut short
        // is planned again for the fields it did not reach.
        let (seen_req, seen_config, seen) = match (&found, &old_kept) {
            (Some(o), _) => (&req, &intent.config, Some(o)),
            (None, Some((old_req, o))) => (
                old_req,
                &intent
                    .replaces
                    .as_ref()
                    .expect("an old side only for replaces")
                    .config,
                Some(o),
            ),
            (None, None) => (&req, &intent.config, None),
        };
        let observed = match seen {
            Some(o) => provider
                .read(
                    seen_req,
                    Recorded {
                        ids: &o.physical_ids,
                        outputs: &o.outputs,
                    },
                )
                .await
                .map_err(|e| {
                    format!(
                        "reading {} ({}): {}",
                        intent.address,
                        seen_req.name,
                        e.chain()
                    )
                })?
                .map(|observation| (o, observation)),
            None => None,
        };
        let existing = state.resources.get(&intent.address);
        let resource = match &observed {
            Some((o, seen)) => {
                let config = observed_config(seen_config, seen);
                Some(ResourceState {
                    kind: intent.kind.clone(),
                    physical_ids: o.physical_ids.clone(),
                    config_hash: panka_state::config_hash(&config),
                    config: RecordedConfig::new(&config),
                    outputs: seen.outcome.outputs.clone(),
                    dependencies: existing.map(|e| e.dependencies.clone()).unwrap_or_default(),
                    status: ResourceStatus::Pending,
                    created_at: existing
                        .map(|e| e.created_at.clone())
                        .unwrap_or_else(panka_backend::now_rfc3339),
                    updated_at: panka_backend::now_rfc3339(),
                    adopted: existing.is_some_and(|e| e.adopted),
                })
            }
            None => None,
        };
        // A create that made nothing leaves a record written since (by `panka import` of a
        // resource of that name that was not panka's) as it is.
        let keep_record = resource.is_none()
            && intent.operation == IntentOperation::Create
            && intent.replaces.is_none()
            && existing.is_some();
        if !keep_record {
            changes.resources.insert(intent.address.clone(), resource);
        }
        changes.resolve_intents.push(intent.id.clone());
        report.push(Recovered {
            address: intent.address.clone(),
            operation: intent.operation,
            found: found.is_some(),
            old_kept: old_kept.is_some() && observed.is_some(),
            old_deleted,
        });
    }
    Ok((changes, report))
}

/// The request recovery looks a resource up with: its configuration with references resolved
/// from the recorded outputs, or, when they cannot be (references to resources that were never
/// created), without them: a lookup needs the name and tags only.
fn lookup_request(
    intent: &panka_state::Intent,
    config: &serde_json::Value,
    outputs: &HashMap<String, std::collections::BTreeMap<String, String>>,
    region: &str,
) -> Result<crate::provider::Request, String> {
    request(&intent.address, &intent.kind, config, outputs, region).or_else(|_| {
        request(
            &intent.address,
            &intent.kind,
            &strip_refs(config),
            &HashMap::new(),
            region,
        )
    })
}

/// The provider's find, with the error said for recovery. A same-named resource that is not
/// this component's is not adopted: that is an error the user resolves.
async fn find(
    provider: &dyn crate::provider::Provider,
    req: &crate::provider::Request,
    intent: &panka_state::Intent,
    name: &str,
) -> Result<Option<crate::provider::Outcome>, String> {
    match provider.find(req).await {
        Ok(found) => Ok(found),
        // Someone else's resource under this name: not what the intent made. The next plan
        // creates the component and that create reports the conflict.
        Err(e) if e.kind == crate::provider::ErrorKind::NotOwned => Ok(None),
        Err(e) => Err(format!(
            "looking for {} ({name}): {}",
            intent.address,
            e.chain()
        )),
    }
}

fn strip_refs(config: &serde_json::Value) -> serde_json::Value {
    let mut c = config.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove("inputs");
    }
    c
}
