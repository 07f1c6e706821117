//! panka's state: what it deployed for one stack and environment.
//!
//! A [`State`] is versioned (`formatVersion`), has a `lineage` (a random id fixed when the state
//! is first created; a state of another lineage is another stack's) and a `serial` that strictly
//! increases with every write. Each resource records its kind, physical ids, the configuration it
//! was last applied with (never a secret value: secrets are ARNs), a hash of that configuration,
//! its outputs and its dependencies. This crate is pure: backends that store it are separate.

use std::collections::BTreeMap;

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
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
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
            resources: BTreeMap::new(),
        }
    }
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
    /// SHA-256 of `config` in canonical JSON.
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
    let canonical = canonical(config);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
            ResourceState {
                kind: "SQS".into(),
                physical_ids: BTreeMap::from([("url".into(), "https://q".into())]),
                config: serde_json::json!({"spec": {"fifo": false}}),
                config_hash: config_hash(&serde_json::json!({"spec": {"fifo": false}})),
                outputs: BTreeMap::new(),
                dependencies: vec![],
                status: ResourceStatus::Ready,
                created_at: "2026-11-26T00:00:00Z".into(),
                updated_at: "2026-11-26T00:00:00Z".into(),
            },
        );
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"formatVersion\":1"));
        let back: State = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
