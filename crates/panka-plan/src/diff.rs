//! Field-by-field differences between an applied configuration and a desired one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use panka_graph::ResourceKind;

/// One changed field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// Path in the resource's configuration: `spec.image.tag`, `spec.environment[LOG_LEVEL].value`,
    /// `infra.scaling.replicas`. Items of lists whose items have a `name` are addressed by name.
    pub path: String,
    /// The applied value; absent when the field is new. Omitted for sensitive fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The desired value; absent when the field is removed. Omitted for sensitive fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// Changing this field replaces the resource.
    pub forces_replacement: bool,
    /// AWS applies this change only at the resource's next reboot, which panka does not do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub applies_at_reboot: bool,
    /// The field concerns a secret: its values are never shown.
    pub sensitive: bool,
    /// Why the resource changes although its configuration does not: a resource it refers to is
    /// replaced or created again, so the values it takes from it are known only after apply
    /// (`path` is then `inputs[ADDRESS]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl FieldChange {
    /// The change a resource sees when `address`, which it refers to, is replaced or created
    /// again (`what`: "replaced", "created").
    pub fn upstream(address: &str, what: &str) -> FieldChange {
        FieldChange {
            path: format!("inputs[{address}]"),
            old: None,
            new: None,
            forces_replacement: false,
            applies_at_reboot: false,
            sensitive: false,
            upstream: Some(format!("{address} is {what}")),
        }
    }
}

/// The differences between `old` and `new` configurations of a resource of `kind`.
pub fn diff(old: &Value, new: &Value, kind: ResourceKind) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(old, new, &mut String::new(), &mut out);
    for c in &mut out {
        c.forces_replacement = forces_replacement(&c.path, kind);
        c.applies_at_reboot = !c.forces_replacement && applies_at_reboot(&c.path, kind);
        c.sensitive = is_sensitive(&c.path);
        if c.sensitive {
            c.old = None;
            c.new = None;
        }
    }
    out
}

fn walk(old: &Value, new: &Value, path: &mut String, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => walk(x, y, path, out),
                    (x, y) => out.push(change(path, x.cloned(), y.cloned())),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) if named(a) && named(b) => {
            let name = |v: &Value| {
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let mut names: Vec<String> = a.iter().map(name).collect();
            for n in b.iter().map(name) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            for n in names {
                let len = path.len();
                path.push_str(&format!("[{n}]"));
                match (
                    a.iter().find(|v| name(v) == n),
                    b.iter().find(|v| name(v) == n),
                ) {
                    (Some(x), Some(y)) => walk(x, y, path, out),
                    (x, y) => out.push(change(path, x.cloned(), y.cloned())),
                }
                path.truncate(len);
            }
            // Order of named items matters to some APIs (listener rules, routes): report a pure reorder.
            let order_a: Vec<String> = a.iter().map(name).collect();
            let order_b: Vec<String> = b.iter().map(name).collect();
            let same_set =
                order_a.len() == order_b.len() && order_a.iter().all(|n| order_b.contains(n));
            if same_set
                && order_a != order_b
                && out.iter().all(|c| !c.path.starts_with(path.as_str()))
            {
                out.push(change(
                    path,
                    Some(Value::from(order_a)),
                    Some(Value::from(order_b)),
                ));
            }
        }
        (Value::Array(a), Value::Array(b))
            if a.len() == b.len() && a.iter().all(Value::is_object) =>
        {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(x, y, path, out);
                path.truncate(len);
            }
        }
        // 30 and 30.0 are one number (a state written by hand or by another tool).
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ => out.push(change(path, Some(old.clone()), Some(new.clone()))),
    }
}

fn change(path: &str, old: Option<Value>, new: Option<Value>) -> FieldChange {
    FieldChange {
        path: path.to_string(),
        old,
        new,
        forces_replacement: false,
        applies_at_reboot: false,
        sensitive: false,
        upstream: None,
    }
}

fn named(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|v| v.get("name").and_then(Value::as_str).is_some())
}

/// Whether a change at `path` (a configuration path) replaces a resource of `kind`.
pub fn forces_replacement(path: &str, kind: ResourceKind) -> bool {
    if path == "name" {
        return true;
    }
    let fields: &[&str] = match kind {
        ResourceKind::Component(k) => k.info().replace_on,
        ResourceKind::SharedLoadBalancer => &["scheme", "network"],
        ResourceKind::SharedCluster => &[],
        // A private DNS namespace belongs to the VPC it was made in.
        ResourceKind::SharedNamespace => &["network"],
    };
    under_any(path, kind, fields)
}

/// Whether a change at `path` takes effect only at the next reboot of a resource of `kind`.
pub fn applies_at_reboot(path: &str, kind: ResourceKind) -> bool {
    match kind {
        ResourceKind::Component(k) => under_any(path, kind, k.info().applies_at_reboot),
        _ => false,
    }
}

/// Whether `path` is one of the spec `fields` of a resource of `kind`, or inside one.
fn under_any(path: &str, kind: ResourceKind, fields: &[&str]) -> bool {
    let rel = match kind {
        ResourceKind::Component(_) => match path.strip_prefix("spec.") {
            Some(r) => r,
            None => return false,
        },
        _ => path,
    };
    fields.iter().any(|f| {
        rel == *f
            || rel
                .strip_prefix(f)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

fn is_sensitive(path: &str) -> bool {
    path.starts_with("spec.secrets")
}

#[cfg(test)]
mod tests {
    use super::*;
    use panka_format::Kind;
    use serde_json::json;

    #[test]
    fn nested_and_named_list_changes() {
        let old = json!({"spec": {"image": {"tag": "1"}, "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}});
        let new = json!({"spec": {"image": {"tag": "2"}, "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}});
        let changes = diff(&old, &new, ResourceKind::Component(Kind::MicroService));
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.environment[B].value",
                "spec.environment[C]",
                "spec.image.tag"
            ]
        );
        assert!(changes.iter().all(|c| !c.forces_replacement));
    }

    #[test]
    fn numbers_written_another_way_are_not_changes() {
        let old = json!({"spec": {"visibilityTimeoutSeconds": 30.0, "delaySeconds": 0}});
        let new = json!({"spec": {"visibilityTimeoutSeconds": 30, "delaySeconds": 5}});
        let changes = diff(&old, &new, ResourceKind::Component(Kind::SQS));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].path, "spec.delaySeconds");
    }

    #[test]
    fn replacement_fields_by_kind() {
        let rds = ResourceKind::Component(Kind::RDS);
        assert!(applies_at_reboot("spec.parameters.max_connections", rds));
        assert!(!applies_at_reboot("spec.instance.class", rds));
        assert!(forces_replacement("spec.engine.type", rds));
        assert!(!forces_replacement("spec.engine.version", rds));
        assert!(forces_replacement("spec.database.username", rds));
        assert!(forces_replacement("name", rds));
        assert!(forces_replacement(
            "spec.fifo",
            ResourceKind::Component(Kind::SQS)
        ));
        assert!(!forces_replacement(
            "spec.fifoThroughput",
            ResourceKind::Component(Kind::SQS)
        ));
    }

    #[test]
    fn secrets_are_sensitive() {
        let old =
            json!({"spec": {"secrets": [{"name": "P", "valueFrom": {"ssmParameter": "/a"}}]}});
        let new =
            json!({"spec": {"secrets": [{"name": "P", "valueFrom": {"ssmParameter": "/b"}}]}});
        let c = diff(&old, &new, ResourceKind::Component(Kind::MicroService));
        assert_eq!(c.len(), 1);
        assert!(c[0].sensitive);
        assert!(c[0].old.is_none() && c[0].new.is_none());
    }
}
