//! panka's state: what it deployed for one stack and environment.
//!
//! A [`State`] is versioned (`formatVersion`), has a `lineage` (a random id fixed when the state
//! is first created; a state of another lineage is another stack's) and a `serial` that strictly
//! increases with every write. Each resource records its kind, physical ids, the configuration it
//! was last applied with (never a secret value: secrets are ARNs), a hash of that configuration,
//! its outputs and its dependencies. This crate is pure: backends that store it are separate.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version of the state document's shape.
pub const FORMAT_VERSION: u32 = 1;

/// What panka deployed for one stack and environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub format_version: u32,
    /// Fixed when the state is created; a write with another lineage is refused.
    pub lineage: String,
    /// Increases by one with every write.
    pub serial: u64,
    pub stack: String,
    pub environment: String,
    /// Resources by address (`service/component`, or `_shared/NAME` for the stack's shared ones).
    /// A persistent map of shared resources: copying a state (every checkpoint does) costs
    /// nothing until one of the copies changes, and then only the changed path.
    #[serde(default)]
    pub resources: imbl::OrdMap<String, Arc<ResourceState>>,
    /// Mutating calls started but not confirmed: the next apply finds their resources by tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Intent>,
    /// The last deployment that wrote this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment: Option<Deployment>,
}

impl State {
    /// An empty state for a stack and environment.
    pub fn new(stack: &str, environment: &str, lineage: &str) -> Self {
        State {
            format_version: FORMAT_VERSION,
            lineage: lineage.to_string(),
            serial: 0,
            stack: stack.to_string(),
            environment: environment.to_string(),
            resources: imbl::OrdMap::new(),
            pending: Vec::new(),
            last_deployment: None,
        }
    }
}

/// What a pending intent was about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntentOperation {
    Create,
    Update,
    Replace,
    Delete,
}

/// A mutating call recorded before it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    pub id: String,
    pub address: String,
    pub kind: String,
    pub operation: IntentOperation,
    /// The AWS name the resource has or will have; with the panka tags, how it is found again.
    pub physical_name: String,
    /// The configuration being applied (no secret values), to find the resource again.
    #[serde(default)]
    pub config: serde_json::Value,
    /// The resource's AWS ids when it already existed (update, replace, delete).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub physical_ids: BTreeMap<String, String>,
    pub deployment_id: String,
    pub started_at: String,
}

/// How a deployment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentResult {
    Succeeded,
    /// Some actions failed; what finished is recorded.
    Failed,
    /// Stopped by the user (Ctrl-C) after the running actions finished.
    Cancelled,
}

/// Counts of what a deployment changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeCounts {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// One saved deployment: an apply, a destroy, or a state command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    /// `apply`, `destroy`, `state rm`, `state mv`, `state push`, `state restore`, ...
    pub operation: String,
    /// `user@host`.
    pub who: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// SHA-256 of the variables in effect (names and values), to tell runs with other inputs apart.
    #[serde(default)]
    pub variables_hash: String,
    pub result: DeploymentResult,
    #[serde(default)]
    pub changes: ChangeCounts,
    /// Services the deployment was limited to; empty for the whole stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// Where a resource stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceStatus {
    /// Created or updated, and its waiter reported it ready.
    #[default]
    Ready,
    /// The last mutating call on it did not complete; the next apply resolves it.
    Pending,
    /// The last apply on it failed.
    Failed,
}

/// One deployed resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    /// The kind (`SQS`, `RDS`, ... or `SharedCluster`, `SharedLoadBalancer`).
    pub kind: String,
    /// AWS identifiers of what panka created for it (queue URL, bucket name, ...), by role.
    #[serde(default)]
    pub physical_ids: BTreeMap<String, String>,
    /// The configuration it was last applied with, defaults filled in, secrets as references.
    pub config: serde_json::Value,
    /// SHA-256 of `config` in canonical JSON (informative: plans compare configurations).
    #[serde(default)]
    pub config_hash: String,
    /// Outputs usable by `valueFrom`.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// Addresses it depends on (for ordering deletes after it leaves the YAML).
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub status: ResourceStatus,
    /// RFC 3339 times.
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

/// SHA-256 (hex) of a configuration in canonical form: object keys sorted, no whitespace.
pub fn config_hash(config: &serde_json::Value) -> String {
    sha256_hex(canonical(config).as_bytes())
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(map) => {
            let sorted: BTreeMap<&String, &serde_json::Value> = map.iter().collect();
            let parts: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_needs_only_its_kind_and_configuration() {
        let state: State = serde_json::from_value(serde_json::json!({
            "formatVersion": 1, "lineage": "l", "serial": 3, "stack": "shop", "environment": "dev",
            "resources": {"orders/queue": {"kind": "SQS", "config": {"spec": {"fifo": false}}}},
        }))
        .unwrap();
        let r = &state.resources["orders/queue"];
        assert_eq!(r.kind, "SQS");
        assert_eq!(r.status, ResourceStatus::Ready);
        assert!(r.config_hash.is_empty() && r.physical_ids.is_empty());
    }

    #[test]
    fn hash_ignores_key_order() {
        let a = serde_json::json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
        let b = serde_json::json!({"b": {"d": "x", "c": [1, 2]}, "a": 1});
        assert_eq!(config_hash(&a), config_hash(&b));
        assert_ne!(config_hash(&a), config_hash(&serde_json::json!({"a": 2})));
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut s = State::new("shop", "dev", "lin-1");
        s.resources.insert(
            "orders/queue".into(),
            Arc::new(ResourceState {
                kind: "SQS".into(),
                physical_ids: BTreeMap::from([("url".into(), "https://q".into())]),
                config: serde_json::json!({"spec": {"fifo": false}}),
                config_hash: config_hash(&serde_json::json!({"spec": {"fifo": false}})),
                outputs: BTreeMap::new(),
                dependencies: vec![],
                status: ResourceStatus::Ready,
                created_at: "2026-11-26T00:00:00Z".into(),
                updated_at: "2026-11-26T00:00:00Z".into(),
            }),
        );
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"formatVersion\":1"));
        let back: State = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
