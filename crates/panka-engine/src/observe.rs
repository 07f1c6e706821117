//! Reconciling what a read observed with the recorded configuration.
//!
//! A provider reads a resource from its identity alone and reports AWS's settings in the form
//! of the kind's spec (see [`crate::provider::KindProvider::read`]). Before that is compared
//! with anything, three things are put in order here, in one place for every kind:
//!
//! - **References.** AWS holds the value a `valueFrom` resolved to (a queue URL in an
//!   environment variable, a topic ARN in a subscription). Where the live value is the value the
//!   recorded reference resolves to now, the reference stands; a different value is drift.
//! - **Fields AWS does not report** (the provider lists them) and **fields AWS manages** (the
//!   provider names them when the recorded settings let AWS manage them): the recorded value
//!   stands, and the caller is told which, so drift can count what it did not check.
//! - **Order.** Items of lists that have a `name` are put in the recorded order: AWS reorders
//!   environment variables and tags, and a reorder alone is not drift.

use serde_json::{Map, Value};

/// A resource's settings as a read reports them: `config.spec` for a component, the settings
/// at the top of the configuration (without `name`, `tags` and `inputs`) for a shared resource.
pub fn settings(config: &Value) -> Value {
    if let Some(spec) = config.get("spec") {
        return spec.clone();
    }
    match config {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "name" | "tags" | "inputs"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// `config` with its settings replaced by `live` (the inverse of [`settings`]).
pub fn with_settings(config: &Value, live: &Value) -> Value {
    let mut config = config.clone();
    if config.get("spec").is_some() {
        config["spec"] = live.clone();
        return config;
    }
    if let (Value::Object(c), Value::Object(l)) = (&mut config, live) {
        c.retain(|k, _| matches!(k.as_str(), "name" | "tags" | "inputs"));
        for (k, v) in l {
            c.insert(k.clone(), v.clone());
        }
    }
    config
}

/// `config` as a read observed it: its settings, and its infra when the read reported one.
pub fn observed_config(config: &Value, observed: &crate::provider::Observed) -> Value {
    let mut config = with_settings(config, &observed.spec);
    if let Some(infra) = &observed.infra {
        config["infra"] = infra.clone();
    }
    config
}

/// The live settings put in order against the recorded ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Reconciled {
    pub live: Value,
    /// The unobservable fields the recorded settings have (their recorded values stand).
    pub unobserved: Vec<String>,
    /// The AWS-managed fields whose recorded values stand.
    pub managed: Vec<String>,
}

/// Puts `live` in order against `recorded`: references back where AWS holds their values
/// (`inputs` is the request's `config.inputs`, the references resolved from the state),
/// recorded values for `unobserved` and `managed` paths, named items in the recorded order.
pub fn reconcile(
    recorded: &Value,
    inputs: Option<&Value>,
    mut live: Value,
    unobserved: &[&str],
    managed: &[&str],
) -> Reconciled {
    align(recorded, &mut live);
    if let Some(inputs) = inputs {
        references(recorded, &mut live, inputs, &mut String::new());
    }
    let mut report = Reconciled {
        live,
        unobserved: Vec::new(),
        managed: Vec::new(),
    };
    let kept = |live: &mut Value, paths: &[&str]| {
        let mut kept = Vec::new();
        for path in paths {
            let segments: Vec<&str> = path.split('.').collect();
            keep(recorded, live, &segments, &mut String::new(), &mut kept);
        }
        kept
    };
    report.unobserved = kept(&mut report.live, unobserved);
    report.managed = kept(&mut report.live, managed);
    report
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

fn named(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|v| name_of(v).is_some())
}

/// The live counterpart of `recorded[i]`: the item of the same name, or the same position.
fn counterpart<'a>(items: &'a mut [Value], recorded: &Value, i: usize) -> Option<&'a mut Value> {
    match name_of(recorded) {
        Some(n) => items.iter_mut().find(|v| name_of(v) == Some(n)),
        None => items.get_mut(i),
    }
}

/// Named items of `live` in the order of `recorded` (new names after, in their own order).
fn align(recorded: &Value, live: &mut Value) {
    match (recorded, live) {
        (Value::Object(r), Value::Object(l)) => {
            for (k, rv) in r {
                if let Some(lv) = l.get_mut(k) {
                    align(rv, lv);
                }
            }
        }
        (Value::Array(r), Value::Array(l)) => {
            if named(r) && named(l) {
                let position = |v: &Value| {
                    r.iter()
                        .position(|x| name_of(x) == name_of(v))
                        .unwrap_or(usize::MAX)
                };
                // A stable sort keeps unknown names in their live order.
                l.sort_by_key(position);
            }
            for (i, rv) in r.iter().enumerate() {
                if let Some(lv) = counterpart(l, rv, i) {
                    align(rv, lv);
                }
            }
        }
        _ => {}
    }
}

/// Whether `v` is a reference to another component: an object with a string `component`.
fn is_reference(v: &Value) -> bool {
    v.get("component").is_some_and(Value::is_string)
}

/// The value and outputs a reference at `path` resolves to now.
fn resolved<'a>(inputs: &'a Value, path: &str) -> Option<(Option<&'a str>, Vec<&'a str>)> {
    let i = inputs.get(path)?;
    let value = i.get("value").and_then(Value::as_str);
    let outputs = i
        .get("outputs")
        .and_then(Value::as_object)
        .map(|m| m.values().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some((value, outputs))
}

/// Puts recorded references back into `live` where AWS holds the values they resolve to.
fn references(recorded: &Value, live: &mut Value, inputs: &Value, path: &mut String) {
    match recorded {
        Value::Object(r) => {
            // `{name, valueFrom: REF}` recorded, `{name, value: V}` live, V the resolved value.
            if let Some(reference) = r.get("valueFrom").filter(|v| is_reference(v))
                && let Value::Object(l) = &mut *live
                && !l.contains_key("valueFrom")
            {
                let at = join(path, "valueFrom");
                if let Some((Some(value), _)) = resolved(inputs, &at)
                    && l.get("value").and_then(Value::as_str) == Some(value)
                {
                    l.remove("value");
                    l.insert("valueFrom".to_string(), reference.clone());
                }
            }
            // A reference recorded, the AWS identifier it resolves to live (in any field).
            if is_reference(recorded)
                && let Value::Object(l) = &mut *live
                && let Some((value, outputs)) = resolved(inputs, path)
                && l.values().any(|v| {
                    v.as_str()
                        .is_some_and(|s| Some(s) == value || outputs.contains(&s))
                })
            {
                *l = r.clone();
                return;
            }
            let Value::Object(l) = live else { return };
            for (k, rv) in r {
                if let Some(lv) = l.get_mut(k) {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    references(rv, lv, inputs, path);
                    path.truncate(len);
                }
            }
        }
        Value::Array(r) => {
            let Value::Array(l) = live else { return };
            for (i, rv) in r.iter().enumerate() {
                if let Some(lv) = counterpart(l, rv, i) {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    references(rv, lv, inputs, path);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Sets `live` at `segments` to `recorded`'s value there (removes it when recorded has none);
/// `kept` collects the concrete paths the recorded settings have.
fn keep(
    recorded: &Value,
    live: &mut Value,
    segments: &[&str],
    path: &mut String,
    kept: &mut Vec<String>,
) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let (key, each) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    let Value::Object(l) = live else { return };
    let r = recorded.get(key);
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    if !each && rest.is_empty() {
        match r {
            Some(v) => {
                l.insert(key.to_string(), v.clone());
                kept.push(path.clone());
            }
            None => {
                l.remove(key);
            }
        }
    } else if each {
        if let (Some(Value::Array(ritems)), Some(Value::Array(litems))) = (r, l.get_mut(key)) {
            for (i, rv) in ritems.iter().enumerate() {
                if let Some(lv) = counterpart(litems, rv, i) {
                    let len = path.len();
                    match name_of(rv) {
                        Some(n) => path.push_str(&format!("[{n}]")),
                        None => path.push_str(&format!("[{i}]")),
                    }
                    keep(rv, lv, rest, path, kept);
                    path.truncate(len);
                }
            }
        }
    } else {
        match (r, l.get_mut(key)) {
            (Some(rv), Some(lv)) => keep(rv, lv, rest, path, kept),
            (Some(rv), None) => {
                // The live settings lack the whole object: take the recorded part for that path.
                let mut fresh = Value::Object(Map::new());
                keep(rv, &mut fresh, rest, path, kept);
                if fresh.as_object().is_some_and(|m| !m.is_empty()) {
                    l.insert(key.to_string(), fresh);
                }
            }
            _ => {}
        }
    }
    path.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_resolved_value_is_the_recorded_reference() {
        let recorded = json!({"environment": [
            {"name": "A", "value": "1"},
            {"name": "Q", "valueFrom": {"component": "queue", "output": "url"}}]});
        let inputs = json!({"environment[1].valueFrom": {"value": "https://q", "outputs": {"url": "https://q"}}});
        let live = json!({"environment": [
            {"name": "Q", "value": "https://q"},
            {"name": "A", "value": "1"}]});
        let r = reconcile(&recorded, Some(&inputs), live, &[], &[]);
        assert_eq!(r.live, recorded);
        // Another value is drift: it stays literal.
        let live = json!({"environment": [{"name": "A", "value": "1"}, {"name": "Q", "value": "https://other"}]});
        let r = reconcile(&recorded, Some(&inputs), live, &[], &[]);
        assert_eq!(r.live["environment"][1]["value"], "https://other");
        assert!(r.live["environment"][1].get("valueFrom").is_none());
    }

    #[test]
    fn a_whole_component_reference_is_found_by_any_of_its_outputs() {
        let recorded = json!({"subscriptions": [{"name": "s", "component": "jobs/queue", "rawMessageDelivery": true}]});
        let inputs = json!({"subscriptions[0]": {"value": null, "outputs": {"arn": "arn:q", "url": "https://q"}}});
        let live = json!({"subscriptions": [{"name": "s", "component": "arn:q", "rawMessageDelivery": true}]});
        let r = reconcile(&recorded, Some(&inputs), live, &[], &[]);
        assert_eq!(r.live, recorded);
        let live = json!({"subscriptions": [{"name": "s", "component": "arn:elsewhere", "rawMessageDelivery": true}]});
        let r = reconcile(&recorded, Some(&inputs), live, &[], &[]);
        assert_eq!(r.live["subscriptions"][0]["component"], "arn:elsewhere");
    }

    #[test]
    fn unobserved_and_managed_fields_keep_their_recorded_values_and_are_counted() {
        let recorded = json!({"dependsOn": ["a/b"], "deadLetter": {"maxReceiveCount": 3, "retentionDays": 7},
            "routes": [{"name": "r1", "code": "x"}, {"name": "r2", "code": "y"}], "desiredCount": 2});
        let live = json!({"deadLetter": {"maxReceiveCount": 5}, "routes": [{"name": "r2"}, {"name": "r1"}], "desiredCount": 6, "extra": 1});
        let r = reconcile(
            &recorded,
            None,
            live,
            &[
                "dependsOn",
                "deadLetter.retentionDays",
                "routes[].code",
                "absent",
            ],
            &["desiredCount"],
        );
        assert_eq!(
            r.live,
            json!({"deadLetter": {"maxReceiveCount": 5, "retentionDays": 7}, "routes": [{"name": "r1", "code": "x"}, {"name": "r2", "code": "y"}],
                "desiredCount": 2, "extra": 1, "dependsOn": ["a/b"]})
        );
        assert_eq!(
            r.unobserved,
            [
                "dependsOn",
                "deadLetter.retentionDays",
                "routes[r1].code",
                "routes[r2].code"
            ]
        );
        assert_eq!(r.managed, ["desiredCount"]);
    }

    #[test]
    fn shared_settings_are_the_configuration_without_name_and_tags() {
        let config =
            json!({"name": "n", "containerInsights": true, "tags": {"a": "b"}, "inputs": {}});
        assert_eq!(settings(&config), json!({"containerInsights": true}));
        let back = with_settings(&config, &json!({"containerInsights": false}));
        assert_eq!(
            back,
            json!({"name": "n", "containerInsights": false, "tags": {"a": "b"}, "inputs": {}})
        );
        let component = json!({"name": "n", "spec": {"a": 1}});
        assert_eq!(settings(&component), json!({"a": 1}));
        assert_eq!(
            with_settings(&component, &json!({"a": 2}))["spec"],
            json!({"a": 2})
        );
    }
}
