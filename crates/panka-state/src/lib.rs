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
use serde_json::Value;
use serde_json::value::RawValue;
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
    /// Lock fencing: per lock name (`*` for the whole stack, `service:NAME`), the holder that
    /// last took it and the serial at which it did. A write from a holder whose lock was
    /// taken over since (by a newer holder of the same lock, or of a lock that covers it) is
    /// refused, so a stalled apply that lost its lock cannot overwrite its successor's work.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fences: BTreeMap<String, Fence>,
}

/// Who took a lock last, and when (as a state serial).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fence {
    /// The lock acquisition's unique id (`holderId` of the lock).
    pub holder_id: String,
    /// The serial of the state write that recorded the acquisition.
    pub serial: u64,
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
            fences: BTreeMap::new(),
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
    /// For a replace: the resource being replaced (deleted first), which may have another AWS
    /// name than the new one (an SQS queue made FIFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<ReplacedResource>,
    pub deployment_id: String,
    pub started_at: String,
}

/// The old side of a replace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplacedResource {
    pub physical_name: String,
    /// Its recorded configuration.
    #[serde(default)]
    pub config: serde_json::Value,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub physical_ids: BTreeMap<String, String>,
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
    /// How long the run waited for locks other runs held (0 when it got them at once).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lock_wait_seconds: f64,
    /// For a rollback made automatically after a failed apply: that apply's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
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
    /// The kind (`SQS`, `RDS`, ... or `SharedCluster`, `SharedLoadBalancer`, `SharedNamespace`).
    pub kind: String,
    /// AWS identifiers of what panka created for it (queue URL, bucket name, ...), by role.
    #[serde(default)]
    pub physical_ids: BTreeMap<String, String>,
    /// The configuration it was last applied with, defaults filled in, secrets as references.
    pub config: RecordedConfig,
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
    /// Found in AWS and recorded by `panka import --discover` rather than created by panka (the
    /// stack's shared cluster and load balancer made before it): `panka destroy` leaves it in
    /// AWS and in the state unless `--allow-destroy ADDRESS` names it. An update keeps the mark;
    /// a replacement, which panka creates, drops it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopted: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// A recorded configuration, kept as compact JSON text rather than as a parsed tree.
///
/// A parsed configuration is dozens of small allocations (about 5 KB in 37 for the components of
/// the plan benchmark); the text is one (about 500 bytes). A large state stays small in memory,
/// is written back as it was read, and a plan compares a desired configuration with it byte for
/// byte, serialized the same way, without building either tree. [`RecordedConfig::value`]
/// parses it where a tree is needed (a field-by-field diff, a drift report).
#[derive(Clone)]
pub struct RecordedConfig(Box<RawValue>);

impl RecordedConfig {
    /// The compact text of `value`.
    pub fn new(value: &Value) -> Self {
        RecordedConfig(
            serde_json::value::to_raw_value(value)
                .expect("a JSON value always serializes (its keys are strings)"),
        )
    }

    /// The configuration as a JSON tree.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("recorded text was checked to be JSON")
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Changes the configuration through its tree.
    pub fn edit(&mut self, change: impl FnOnce(&mut Value)) {
        let mut value = self.value();
        change(&mut value);
        *self = RecordedConfig::new(&value);
    }

    /// SHA-256 of the configuration in canonical form ([`config_hash`]).
    pub fn hash(&self) -> String {
        config_hash(&self.value())
    }
}

impl Default for RecordedConfig {
    fn default() -> Self {
        RecordedConfig::new(&Value::Null)
    }
}

impl From<Value> for RecordedConfig {
    fn from(value: Value) -> Self {
        RecordedConfig::new(&value)
    }
}

impl From<&Value> for RecordedConfig {
    fn from(value: &Value) -> Self {
        RecordedConfig::new(value)
    }
}

/// Equal configurations: the same text, or the same JSON written another way.
impl PartialEq for RecordedConfig {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.value() == other.value()
    }
}

impl PartialEq<Value> for RecordedConfig {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

impl std::fmt::Debug for RecordedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RecordedConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Read as the document has it; text with whitespace between tokens (a state edited by hand or
/// pretty-printed) is made compact, so that equal configurations have equal text.
impl<'de> Deserialize<'de> for RecordedConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if is_compact(raw.get()) {
            return Ok(RecordedConfig(raw));
        }
        let value: Value = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
        Ok(RecordedConfig::new(&value))
    }
}

/// Whether JSON text has no whitespace outside its strings.
fn is_compact(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b' ' | b'\n' | b'\r' | b'\t' => return false,
                _ => {}
            }
        }
    }
    true
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
    fn recorded_configurations_are_kept_compact() {
        let text = r#"{"kind": "SQS", "config": {
            "name": "a b",
            "spec": {"note": "x\" \n y", "n": [1, 2]}
        }}"#;
        let r: ResourceState = serde_json::from_str(text).unwrap();
        assert_eq!(
            r.config.as_str(),
            r#"{"name":"a b","spec":{"note":"x\" \n y","n":[1,2]}}"#
        );
        // Compact text is kept as it is, key order included.
        let r: ResourceState =
            serde_json::from_str(r#"{"kind":"SQS","config":{"b":1,"a":"c d"}}"#).unwrap();
        assert_eq!(r.config.as_str(), r#"{"b":1,"a":"c d"}"#);
        assert_eq!(r.config.value(), serde_json::json!({"b": 1, "a": "c d"}));
        // Equal configurations written in another key order are equal.
        assert_eq!(
            r.config,
            RecordedConfig::new(&serde_json::json!({"a": "c d", "b": 1}))
        );
        assert_eq!(r.config.hash(), config_hash(&r.config.value()));
        assert!(is_compact(r#"{"a":" ","b":"\\"}"#));
        assert!(!is_compact(r#"{"a":"\\" ,"b":1}"#));
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
                config: serde_json::json!({"spec": {"fifo": false}}).into(),
                config_hash: config_hash(&serde_json::json!({"spec": {"fifo": false}})),
                outputs: BTreeMap::new(),
                dependencies: vec![],
                status: ResourceStatus::Ready,
                created_at: "2026-11-26T00:00:00Z".into(),
                updated_at: "2026-11-26T00:00:00Z".into(),
                adopted: false,
            }),
        );
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"formatVersion\":1"));
        let back: State = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}
