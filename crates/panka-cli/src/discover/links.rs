//! References between discovered resources: a value AWS holds that is another discovered
//! resource's output is written as `valueFrom: {component, output}` (an environment variable
//! holding a queue URL, a secret that is an RDS instance's `masterSecretArn`), and a Lambda
//! queue trigger names the queue's component instead of its ARN.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::Found;

/// Rewrites the specs of `found` (each with its foreign tags) in place; returns, by index, why
/// a resource cannot be adopted (a queue trigger on a queue that was not discovered: the
/// format names a trigger's queue by component only).
pub(super) fn link(found: &mut [(Found, BTreeMap<String, String>)]) -> BTreeMap<usize, String> {
    // Each distinctive output value, with the resources and outputs holding it.
    let mut holders: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (f, _) in found.iter() {
        for (output, value) in &f.outputs {
            if distinctive(output, value) {
                holders
                    .entry(value.clone())
                    .or_default()
                    .insert((f.address.clone(), output.clone()));
            }
        }
    }
    // A value held by one resource only names it.
    let owner = |value: &str, not: &str| -> Option<(String, String)> {
        let h = holders.get(value)?;
        let addresses: BTreeSet<&String> = h.iter().map(|(a, _)| a).collect();
        if addresses.len() != 1 || addresses.contains(&not.to_string()) {
            return None;
        }
        h.iter().next().cloned()
    };
    let queues: BTreeMap<String, String> = found
        .iter()
        .filter(|(f, _)| f.kind == "SQS")
        .filter_map(|(f, _)| Some((f.outputs.get("arn")?.clone(), f.address.clone())))
        .collect();

    let mut unlinked = BTreeMap::new();
    for (i, (f, _)) in found.iter_mut().enumerate() {
        let address = f.address.clone();
        if let Some(vars) = f.spec.get_mut("environment").and_then(Value::as_array_mut) {
            for var in vars {
                let Some(value) = var.get("value").and_then(Value::as_str) else {
                    continue;
                };
                if let Some((component, output)) = owner(value, &address)
                    && let Some(map) = var.as_object_mut()
                {
                    map.remove("value");
                    map.insert(
                        "valueFrom".into(),
                        json!({"component": component, "output": output}),
                    );
                }
            }
        }
        if let Some(secrets) = f.spec.get_mut("secrets").and_then(Value::as_array_mut) {
            for secret in secrets {
                let Some(from) = secret.get_mut("valueFrom").and_then(Value::as_object_mut) else {
                    continue;
                };
                let Some(arn) = from.get("secretsManager").and_then(Value::as_str) else {
                    continue;
                };
                if let Some((component, output)) = owner(arn, &address)
                    && output == "masterSecretArn"
                {
                    from.remove("secretsManager");
                    from.insert("component".into(), json!(component));
                    from.insert("output".into(), json!(output));
                }
            }
        }
        if let Some(triggers) = f.spec.get_mut("triggers").and_then(Value::as_array_mut) {
            for trigger in triggers {
                let Some(target) = trigger
                    .pointer_mut("/queue/component")
                    .filter(|c| c.as_str().is_some_and(|c| c.starts_with("arn:")))
                else {
                    continue;
                };
                let arn = target.as_str().unwrap_or_default().to_string();
                match queues.get(&arn) {
                    Some(queue) => *target = json!(queue),
                    None => {
                        unlinked.insert(
                            i,
                            format!(
                                "it consumes queue {arn}, which is not discovered with it (a queue trigger names a component of the stack: select the queue too)"
                            ),
                        );
                    }
                }
            }
        }
    }
    unlinked
}

/// Whether an output's value names its resource: not a port or another number, which other
/// settings hold by coincidence.
fn distinctive(output: &str, value: &str) -> bool {
    output != "port" && !value.is_empty() && !value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(address: &str, kind: &str, spec: Value, outputs: &[(&str, &str)]) -> Found {
        Found {
            address: address.into(),
            kind: kind.into(),
            aws_name: address.into(),
            file: String::from("f"),
            spec,
            not_expressible: Vec::new(),
            infra: None,
            outputs: outputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn outputs_become_references() {
        let queue_arn = "arn:aws:sqs:us-east-1:123456789012:jobs";
        let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1";
        let mut all = vec![
            (
                found(
                    "app/jobs",
                    "SQS",
                    json!({}),
                    &[
                        ("url", "https://sqs/jobs"),
                        ("arn", queue_arn),
                        ("name", "jobs"),
                    ],
                ),
                BTreeMap::new(),
            ),
            (
                found(
                    "app/db",
                    "RDS",
                    json!({}),
                    &[("masterSecretArn", secret), ("port", "5432")],
                ),
                BTreeMap::new(),
            ),
            (
                found(
                    "app/fn",
                    "Lambda",
                    json!({"environment": [{"name": "Q", "value": "https://sqs/jobs"},
                                           {"name": "PORT", "value": "5432"},
                                           {"name": "OTHER", "value": "x"}],
                           "secrets": [{"name": "DB", "valueFrom": {"secretsManager": secret, "jsonKey": "password"}}],
                           "triggers": [{"queue": {"component": queue_arn}}]}),
                    &[],
                ),
                BTreeMap::new(),
            ),
        ];
        assert!(link(&mut all).is_empty());
        assert_eq!(
            all[2].0.spec,
            json!({"environment": [{"name": "Q", "valueFrom": {"component": "app/jobs", "output": "url"}},
                                   {"name": "PORT", "value": "5432"},
                                   {"name": "OTHER", "value": "x"}],
                   "secrets": [{"name": "DB", "valueFrom": {"component": "app/db", "output": "masterSecretArn", "jsonKey": "password"}}],
                   "triggers": [{"queue": {"component": "app/jobs"}}]})
        );
    }

    #[test]
    fn a_trigger_on_a_queue_not_discovered_is_unlinked() {
        let mut all = vec![(
            found(
                "app/fn",
                "Lambda",
                json!({"triggers": [{"queue": {"component": "arn:aws:sqs:us-east-1:1:gone"}}]}),
                &[],
            ),
            BTreeMap::new(),
        )];
        let unlinked = link(&mut all);
        assert!(unlinked[&0].contains("not discovered"), "{unlinked:?}");
    }
}
