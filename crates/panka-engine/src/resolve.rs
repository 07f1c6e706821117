//! Resolving references: the outputs of finished resources become the inputs of their dependents.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::provider::Request;

/// Addresses of the stack's shared resources start with this (`_shared/cluster`).
pub const SHARED_PREFIX: &str = "_shared/";

/// A resolved reference: the output named, or (for a whole-component target) all outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub value: Option<String>,
    pub outputs: BTreeMap<String, String>,
}

/// Builds the provider request for a resource: its configuration plus, under
/// `config.inputs[PATH]`, every reference in its spec resolved from `outputs`.
///
/// # Errors
/// A reference to a resource or output that has no value (its resource failed or was skipped).
pub fn request(
    address: &str,
    kind: &str,
    config: &Value,
    outputs: &HashMap<String, BTreeMap<String, String>>,
    region: &str,
) -> Result<Request, String> {
    let service = address.split('/').next().unwrap_or_default();
    let mut inputs = serde_json::Map::new();
    if let Some(spec) = config.get("spec") {
        let mut refs = Vec::new();
        find_refs(spec, &mut String::new(), &mut refs);
        for (path, component, output) in refs {
            let target = if component.contains('/') {
                component.clone()
            } else {
                format!("{service}/{component}")
            };
            let outs = outputs.get(&target).ok_or_else(|| {
                format!("`{path}` refers to {target}, which has no outputs (it was not applied)")
            })?;
            let value = match &output {
                Some(o) => Some(
                    outs.get(o)
                        .cloned()
                        .ok_or_else(|| format!("`{path}`: {target} has no output `{o}`"))?,
                ),
                None => None,
            };
            inputs.insert(path, serde_json::json!({"value": value, "outputs": outs}));
        }
    }
    // The stack's shared resources (cluster, load balancer) a component runs on: their outputs
    // under their address, for the providers that use them.
    if !address.starts_with(SHARED_PREFIX) {
        for (shared, outs) in outputs.iter().filter(|(a, _)| a.starts_with(SHARED_PREFIX)) {
            inputs.insert(
                shared.clone(),
                serde_json::json!({"value": null, "outputs": outs}),
            );
        }
    }
    let mut config = config.clone();
    if !inputs.is_empty() {
        config["inputs"] = Value::Object(inputs);
    }
    let tags = config
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Request {
        address: address.to_string(),
        kind: kind.to_string(),
        name: config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(address)
            .to_string(),
        config,
        tags,
        region: region.to_string(),
    })
}

/// A request that names the resource only (address, kind, AWS name, tags), with no references
/// resolved: enough to look it up by name and tags before anything it refers to exists.
pub fn lookup_request(address: &str, kind: &str, config: &Value, region: &str) -> Request {
    let tags = config
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Request {
        address: address.to_string(),
        kind: kind.to_string(),
        name: config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(address)
            .to_string(),
        config: config.clone(),
        tags,
        region: region.to_string(),
    }
}

/// The resolved input at a spec path (`environment[2].valueFrom`), from a request's config.
pub fn input(config: &Value, path: &str) -> Option<Resolved> {
    let i = config.get("inputs")?.get(path)?;
    Some(Resolved {
        value: i.get("value").and_then(Value::as_str).map(str::to_string),
        outputs: i
            .get("outputs")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn find_refs(v: &Value, path: &mut String, out: &mut Vec<(String, String, Option<String>)>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(c)) = m.get("component") {
                out.push((
                    path.clone(),
                    c.clone(),
                    m.get("output").and_then(Value::as_str).map(str::to_string),
                ));
            }
            for (k, v) in m {
                if panka_format::kinds::FREE_FORM_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                find_refs(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                find_refs(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_outputs() {
        let config = serde_json::json!({"name": "n", "spec": {"environment": [{"name": "Q", "valueFrom": {"component": "queue", "output": "url"}}], "subscriptions": [{"component": "other/q"}]}, "tags": {"panka:stack": "s"}});
        let mut outputs = HashMap::new();
        outputs.insert(
            "svc/queue".to_string(),
            BTreeMap::from([("url".to_string(), "https://q".to_string())]),
        );
        outputs.insert(
            "other/q".to_string(),
            BTreeMap::from([("arn".to_string(), "arn:q".to_string())]),
        );
        let req = request("svc/api", "MicroService", &config, &outputs, "us-east-1").unwrap();
        assert_eq!(
            input(&req.config, "environment[0].valueFrom")
                .unwrap()
                .value
                .as_deref(),
            Some("https://q")
        );
        assert_eq!(
            input(&req.config, "subscriptions[0]").unwrap().outputs["arn"],
            "arn:q"
        );
        assert_eq!(req.tags["panka:stack"], "s");
        let missing = request(
            "svc/api",
            "MicroService",
            &config,
            &HashMap::new(),
            "us-east-1",
        )
        .unwrap_err();
        assert!(missing.contains("svc/queue"), "{missing}");
    }
}
