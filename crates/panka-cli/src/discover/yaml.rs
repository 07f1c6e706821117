//! Writing the discovered stack's YAML: stack.yaml and component files in block style, with
//! plain scalars where YAML reads them back as the same string.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Found;

/// stack.yaml: its name and region, the default tags, and the settings of the shared cluster
/// and load balancer discovery adopted (`shared`, a mapping; empty when none).
pub(super) fn stack_yaml(
    name: &str,
    region: &str,
    tags: &BTreeMap<String, String>,
    shared: &Value,
) -> String {
    let mut text = format!(
        "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata:\n  name: {name}\nspec:\n  provider:\n    name: aws\n    region: {region}\n"
    );
    if shared.as_object().is_some_and(|m| !m.is_empty()) {
        text.push_str("  shared:\n");
        emit(shared, 2, &mut text);
    }
    if !tags.is_empty() {
        text.push_str("  defaults:\n    tags:\n");
        for (k, v) in tags {
            text.push_str(&format!("      {}: {}\n", scalar(k), scalar(v)));
        }
    }
    text
}

pub(super) fn component_yaml(f: &Found) -> String {
    let (service, component) = f.address.split_once('/').unwrap_or_default();
    let mut text = format!(
        "# Discovered by `panka import --discover`: {} {}.\n",
        f.kind, f.aws_name
    );
    if !f.not_expressible.is_empty() {
        text.push_str("# Not expressible in panka's format (left as they are in AWS):\n");
        for n in &f.not_expressible {
            text.push_str(&format!("#   - {n}\n"));
        }
    }
    text.push_str(&format!(
        "apiVersion: components.panka.io/v1\nkind: {}\nmetadata:\n  name: {component}\n  service: {service}\n",
        f.kind
    ));
    match f.spec.as_object() {
        Some(m) if !m.is_empty() => {
            text.push_str("spec:\n");
            emit(&f.spec, 1, &mut text);
        }
        _ => text.push_str("spec: {}\n"),
    }
    text
}

/// A component's infra.yaml with the `spec` given.
pub(super) fn infra_yaml(address: &str, spec: &Value) -> String {
    let (service, component) = address.split_once('/').unwrap_or_default();
    let mut text = format!(
        "# Discovered by `panka import --discover`: the sizing, scaling and networking of {address}.\napiVersion: infra.panka.io/v1\nkind: ComponentInfra\nmetadata:\n  name: {component}\n  service: {service}\nspec:\n"
    );
    emit(spec, 1, &mut text);
    text
}

/// Writes the entries of a mapping in block style at `depth` (two spaces a level).
pub(super) fn emit(value: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let Some(map) = value.as_object() else {
        return;
    };
    for (k, v) in map {
        match v {
            Value::Object(o) if !o.is_empty() => {
                out.push_str(&format!("{pad}{}:\n", scalar(k)));
                emit(v, depth + 1, out);
            }
            Value::Array(items) if items.iter().any(Value::is_object) => {
                out.push_str(&format!("{pad}{}:\n", scalar(k)));
                for item in items {
                    match item.as_object() {
                        Some(o) if !o.is_empty() => {
                            let mut inner = String::new();
                            emit(item, depth + 2, &mut inner);
                            // The first line of the item carries the `- `.
                            let inner =
                                inner.replacen(&format!("{pad}    "), &format!("{pad}  - "), 1);
                            out.push_str(&inner);
                        }
                        _ => out.push_str(&format!("{pad}  - {}\n", flow(item))),
                    }
                }
            }
            _ => out.push_str(&format!("{pad}{}: {}\n", scalar(k), flow(v))),
        }
    }
}

/// A value in flow style: JSON, whose strings are valid YAML double-quoted scalars, with plain
/// strings where YAML reads them back as the same string.
fn flow(value: &Value) -> String {
    match value {
        Value::String(s) => scalar(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A string as a YAML scalar: plain when that reads back as the same string, else quoted.
pub(super) fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !s.ends_with(':')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_reads_back() {
        let spec = json!({"tableName": "orders", "partitionKey": {"name": "id", "type": "S"},
            "globalSecondaryIndexes": [{"name": "by-user", "partitionKey": {"name": "user", "type": "S"}}],
            "cors": [{"allowedOrigins": ["*"], "allowedMethods": ["GET"]}], "note": "yes: no",
            "endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "odd": "a:", "list": ["on", "x: y"]});
        let mut text = String::new();
        emit(&spec, 0, &mut text);
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, spec, "{text}");
    }
}
