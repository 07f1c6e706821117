//! The field reference in docs/reference/, generated from the schema and [`KindInfo`] so that
//! it always matches what `panka validate` accepts.

use std::fmt::Write;

use serde_json::Value as J;

use crate::kinds::{InfraUse, Kind, KindInfo};
use crate::schema::{DocKind, stack_schema};

/// Every reference page: (file name under docs/reference/, Markdown).
pub fn pages() -> Vec<(String, String)> {
    let mut pages = vec![("README.md".to_string(), index())];
    for kind in DocKind::all() {
        pages.push((
            format!("{}.md", kind.name().to_ascii_lowercase()),
            page(kind),
        ));
    }
    pages
}

fn index() -> String {
    let mut s = String::new();
    s.push_str("# Reference\n\n");
    s.push_str("Generated from panka's types by `make docs`; a test fails when this folder is out of date.\n");
    s.push_str("The same types produce the JSON Schema in [`../schema/panka.schema.json`](../schema/panka.schema.json)\n");
    s.push_str("(`panka schema`), which editors with yaml-language-server use for completion and checks.\n");
    s.push_str("What `drift`, `--refresh` and `import` cannot read back from AWS, per kind, and how panka tracks it\n");
    s.push_str(
        "instead: [observed-state.md](observed-state.md) (generated from the providers).\n\n",
    );
    s.push_str("## Documents\n\n| Kind | File | apiVersion |\n|---|---|---|\n");
    for (kind, file) in [
        (DocKind::Stack, "stack.yaml"),
        (DocKind::Service, "services/NAME/service.yaml"),
        (DocKind::Environment, "environments/NAME.yaml"),
        (
            DocKind::ComponentInfra,
            "services/S/components/C/infra.yaml",
        ),
    ] {
        let _ = writeln!(
            s,
            "| [{}]({}.md) | `{file}` | `{}` |",
            kind.name(),
            kind.name().to_ascii_lowercase(),
            kind.api_version()
        );
    }
    s.push_str("\n## Component kinds\n\nComponents live in `services/S/components/C/KIND.yaml` with `apiVersion: components.panka.io/v1`.\n\n");
    s.push_str(
        "| Kind | What it deploys | Stateful | infra.yaml | Outputs |\n|---|---|---|---|---|\n",
    );
    for k in Kind::ALL {
        let info = k.info();
        let _ = writeln!(
            s,
            "| [{}]({}.md) | {} | {} | {} | {} |",
            k.name(),
            k.name().to_ascii_lowercase(),
            info.summary,
            if info.stateful { "yes" } else { "no" },
            infra_text(info.infra),
            info.outputs
                .iter()
                .map(|o| format!("`{}`", o.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s.push_str("\n## Conventions\n\n");
    s.push_str("- Keys are camelCase; unknown keys are errors, with a \"did you mean\" hint.\n");
    s.push_str("- Every component `spec` accepts `dependsOn: [address, ...]`; an address is `service/component`, or `component` inside the same service.\n");
    s.push_str("- `valueFrom: {component: ADDRESS, output: NAME}` takes a value from another component's output at deploy time and orders the two.\n");
    s.push_str("- Stateful kinds are never deleted or replaced without an explicit flag.\n");
    s.push_str("- AWS names are `{stack}-{environment}-{service}-{component}`, cut to the kind's limit with an 8-character hash suffix when longer (see each kind's *Naming*).\n");
    s.push_str("- Every AWS resource carries the tags `panka:stack`, `panka:environment`, `panka:service`, `panka:component`, `panka:managed-by=panka`, plus the stack's `spec.defaults.tags`.\n");
    s
}

fn infra_text(i: InfraUse) -> &'static str {
    match i {
        InfraUse::None => "no",
        InfraUse::Service => "resources, scaling, networking",
        InfraUse::Task => "resources, networking",
    }
}

fn page(kind: DocKind) -> String {
    let schema = stack_schema();
    let doc = schema.document(kind);
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", kind.name());
    if let Some(d) = doc.get("description").and_then(J::as_str) {
        let _ = writeln!(s, "{d}\n");
    }
    let _ = writeln!(
        s,
        "`apiVersion: {}` · `kind: {}`\n",
        kind.api_version(),
        kind.name()
    );
    if let DocKind::Component(k) = kind {
        let info: KindInfo = k.info();
        let _ = writeln!(s, "- AWS services: {}", info.aws);
        let _ = writeln!(
            s,
            "- Stateful: {}",
            if info.stateful {
                "yes: deleting or replacing it needs an explicit flag"
            } else {
                "no"
            }
        );
        let _ = writeln!(s, "- infra.yaml: {}\n", infra_text(info.infra));
    }
    s.push_str(
        "## Fields\n\n| Field | Type | Required | Default | Description |\n|---|---|---|---|---|\n",
    );
    let spec = &doc["properties"]["spec"];
    let mut rows = Vec::new();
    fields(spec, "", &mut rows, 0);
    for r in rows {
        s.push_str(&r);
    }
    if let DocKind::Component(k) = kind {
        let info = k.info();
        s.push_str("\n## Outputs\n\nUsable as `valueFrom: {component: ADDRESS, output: NAME}`.\n\n| Output | Description |\n|---|---|\n");
        for o in info.outputs {
            let secret = if o.secret_arn {
                " (a secret's ARN: usable in `secrets`)"
            } else {
                ""
            };
            let _ = writeln!(s, "| `{}` | {}{secret} |", o.name, o.description);
        }
        s.push_str("\n## Updates and replacement\n\n");
        if info.replace_on.is_empty() {
            s.push_str("Every field changes in place.\n");
        } else {
            let _ = writeln!(
                s,
                "Changing {} replaces the resource (a new one is created and the old one deleted{}); every other field changes in place.",
                info.replace_on
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if info.stateful {
                    ", which needs an explicit flag because the kind holds data"
                } else {
                    ""
                }
            );
        }
        if !info.applies_at_reboot.is_empty() {
            let _ = writeln!(
                s,
                "\nA change of {} is made in place but takes effect at the next reboot of the instance, which panka does not do on its own: the plan marks such a change \"applied at the next reboot\", and `panka status` shows \"parameters pending reboot\" until the instance is rebooted (for example with `aws rds reboot-db-instance`).",
                info.applies_at_reboot
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        s.push_str("\n## Naming\n\n");
        let _ = writeln!(
            s,
            "The AWS name is `{{stack}}-{{environment}}-{{service}}-{{component}}`{}, at most {} characters; a longer name is cut and ends in `-` and 8 hex characters of its SHA-256.",
            if info.name_lowercase {
                ", lowercased"
            } else {
                ""
            },
            info.name_limit
        );
    }
    s
}

fn type_text(schema: &J) -> String {
    let schemas = stack_schema();
    let s = schemas.resolve(schema);
    for comb in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(comb).and_then(J::as_array) {
            let mut values = Vec::new();
            let mut others = Vec::new();
            for b in branches {
                let b = schemas.resolve(b);
                if let Some(c) = b.get("const") {
                    values.push(c.to_string());
                } else if let Some(e) = b.get("enum").and_then(J::as_array) {
                    values.extend(e.iter().map(J::to_string));
                } else if b.get("type").and_then(J::as_str) == Some("null") {
                } else {
                    others.push(type_text(b));
                }
            }
            if !values.is_empty() {
                others.push(format!("one of {}", values.join(", ")));
            }
            return others.join(" or ");
        }
    }
    if let Some(e) = s.get("enum").and_then(J::as_array) {
        return format!(
            "one of {}",
            e.iter().map(J::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    let t = match s.get("type") {
        Some(J::String(t)) => t.clone(),
        Some(J::Array(a)) => a
            .iter()
            .filter_map(J::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    let mut out = match t.as_str() {
        "array" => format!(
            "list of {}",
            s.get("items")
                .map(type_text)
                .unwrap_or_else(|| "any".into())
        ),
        "object" if s.get("properties").is_none() => match s.get("additionalProperties") {
            Some(J::Object(_)) => format!("map of {}", type_text(&s["additionalProperties"])),
            _ => "mapping".into(),
        },
        "object" => "mapping".into(),
        other => other.to_string(),
    };
    let (min, max) = (
        s.get("minimum").and_then(J::as_f64),
        s.get("maximum").and_then(J::as_f64),
    );
    match (min, max) {
        (Some(a), Some(b)) => out.push_str(&format!(" ({a}–{b})")),
        (Some(a), None) if a > 0.0 => out.push_str(&format!(" (≥ {a})")),
        _ => {}
    }
    out
}

fn fields(schema: &J, prefix: &str, rows: &mut Vec<String>, depth: usize) {
    let schemas = stack_schema();
    let mut s = schemas.resolve(schema);
    // Option<T> is anyOf [T, null]: describe T.
    if let Some(branches) = s.get("anyOf").and_then(J::as_array) {
        let non_null: Vec<&J> = branches
            .iter()
            .filter(|b| schemas.resolve(b).get("type").and_then(J::as_str) != Some("null"))
            .collect();
        if non_null.len() == 1 {
            s = schemas.resolve(non_null[0]);
        }
    }
    if depth > 6 {
        return;
    }
    let Some(props) = s.get("properties").and_then(J::as_object) else {
        return;
    };
    let required: Vec<&str> = s
        .get("required")
        .and_then(J::as_array)
        .map(|r| r.iter().filter_map(J::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let description = prop
            .get("description")
            .or_else(|| schemas.resolve(prop).get("description"))
            .and_then(J::as_str)
            .unwrap_or("")
            .replace('\n', " ")
            .replace('|', "\\|");
        let default = prop
            .get("default")
            .map(|d| format!("`{d}`"))
            .unwrap_or_default();
        rows.push(format!(
            "| `{path}` | {} | {} | {default} | {description} |\n",
            type_text(prop).replace('|', "\\|"),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            }
        ));
        let inner = schemas.resolve(prop);
        let item = if inner.get("type").and_then(J::as_str) == Some("array") {
            inner.get("items")
        } else {
            None
        };
        match item {
            Some(items) => fields(items, &format!("{path}[]"), rows, depth + 1),
            None => fields(prop, &path, rows, depth + 1),
        }
    }
}
