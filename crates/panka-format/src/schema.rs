//! The JSON Schema of every document, and the check of a YAML tree against it.
//!
//! The schema is generated from the same Rust types the loader deserializes into, so the
//! schema shipped to editors (`panka schema`, docs/schema/) and the checks `panka validate`
//! runs cannot drift apart. [`check`] walks a spanned YAML tree against the schema and reports
//! every unknown key (with a "did you mean"), missing field, wrong type, value out of range and
//! value not in an enumeration, all at once and each at its own line.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value as J, json};

use crate::diagnostic::did_you_mean;
use crate::kinds::Kind;
use crate::model::*;
use crate::source::Span;
use crate::yaml::{Node, PathSeg, Value, display_path};

/// The kinds of document a stack is made of, besides components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    Stack,
    Service,
    Environment,
    ComponentInfra,
    Component(Kind),
}

impl DocKind {
    pub fn name(self) -> &'static str {
        match self {
            DocKind::Stack => "Stack",
            DocKind::Service => "Service",
            DocKind::Environment => "Environment",
            DocKind::ComponentInfra => "ComponentInfra",
            DocKind::Component(k) => k.name(),
        }
    }

    pub fn parse(name: &str) -> Option<DocKind> {
        match name {
            "Stack" => Some(DocKind::Stack),
            "Service" => Some(DocKind::Service),
            "Environment" => Some(DocKind::Environment),
            "ComponentInfra" => Some(DocKind::ComponentInfra),
            other => Kind::parse(other).map(DocKind::Component),
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            DocKind::Stack | DocKind::Service | DocKind::Environment => CORE_API_VERSION,
            DocKind::ComponentInfra => INFRA_API_VERSION,
            DocKind::Component(_) => COMPONENTS_API_VERSION,
        }
    }

    /// Every document kind, components last.
    pub fn all() -> Vec<DocKind> {
        let mut all = vec![
            DocKind::Stack,
            DocKind::Service,
            DocKind::Environment,
            DocKind::ComponentInfra,
        ];
        all.extend(Kind::ALL.iter().map(|k| DocKind::Component(*k)));
        all
    }

    /// Every kind name accepted in `kind:`.
    pub fn all_names() -> Vec<&'static str> {
        DocKind::all().into_iter().map(DocKind::name).collect()
    }

    fn definition_name(self) -> String {
        format!("{}Document", self.name())
    }
}

/// The generated schema: one document with a definition per document kind.
pub struct StackSchema {
    pub root: J,
}

impl StackSchema {
    fn definitions(&self) -> &Map<String, J> {
        self.root["definitions"]
            .as_object()
            .expect("generated schema has definitions")
    }

    /// The schema of one document kind.
    pub fn document(&self, kind: DocKind) -> &J {
        &self.definitions()[&kind.definition_name()]
    }

    /// The schema of a kind's spec (used for did-you-mean on override targets and docs).
    pub fn resolve<'a>(&'a self, schema: &'a J) -> &'a J {
        let mut s = schema;
        // Chains of $ref are short (one or two); the loop guards against a self-reference.
        for _ in 0..8 {
            match s
                .get("$ref")
                .and_then(J::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
            {
                Some(name) => s = &self.definitions()[name],
                None => break,
            }
        }
        s
    }
}

/// The schema, generated once per process.
pub fn stack_schema() -> &'static StackSchema {
    static SCHEMA: OnceLock<StackSchema> = OnceLock::new();
    SCHEMA.get_or_init(generate)
}

fn generate() -> StackSchema {
    let mut generator = SchemaSettings::draft07().into_generator();
    let mut documents: BTreeMap<String, J> = BTreeMap::new();
    for kind in DocKind::all() {
        let (metadata, spec, required_spec) = match kind {
            DocKind::Stack => (
                generator.subschema_for::<Metadata>(),
                generator.subschema_for::<StackSpec>(),
                true,
            ),
            DocKind::Service => (
                generator.subschema_for::<Metadata>(),
                generator.subschema_for::<ServiceSpec>(),
                false,
            ),
            DocKind::Environment => (
                generator.subschema_for::<Metadata>(),
                generator.subschema_for::<EnvironmentSpec>(),
                false,
            ),
            DocKind::ComponentInfra => (
                generator.subschema_for::<ComponentMetadata>(),
                generator.subschema_for::<ComponentInfraSpec>(),
                true,
            ),
            DocKind::Component(k) => {
                let name = k.spec_type_name().to_string();
                let spec = k.spec_schema(&mut generator);
                generator
                    .definitions_mut()
                    .insert(name.clone(), spec.to_value());
                (
                    generator.subschema_for::<ComponentMetadata>(),
                    schemars::Schema::from(
                        json!({"$ref": format!("#/definitions/{name}")})
                            .as_object()
                            .unwrap()
                            .clone(),
                    ),
                    true,
                )
            }
        };
        let mut required = vec!["apiVersion", "kind", "metadata"];
        if required_spec {
            required.push("spec");
        }
        let description = match kind {
            DocKind::Component(k) => format!("{}: {}.", k.name(), k.info().summary),
            DocKind::Stack => {
                "A stack: provider, backend, shared resources and its services (stack.yaml).".into()
            }
            DocKind::Service => {
                "A service: a folder of components owned by one team (service.yaml).".into()
            }
            DocKind::Environment => {
                "An environment's variables and overrides (environments/NAME.yaml).".into()
            }
            DocKind::ComponentInfra => {
                "Sizing, scaling and networking of a compute component (infra.yaml).".into()
            }
        };
        documents.insert(
            kind.definition_name(),
            json!({
                "description": description,
                "type": "object",
                "additionalProperties": false,
                "required": required,
                "properties": {
                    "apiVersion": {"description": "API version of the document.", "const": kind.api_version()},
                    "kind": {"description": "Kind of the document.", "const": kind.name()},
                    "metadata": metadata.to_value(),
                    "spec": spec.to_value(),
                }
            }),
        );
    }
    let mut definitions: Map<String, J> = generator
        .definitions()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    definitions.extend(documents);
    let branches: Vec<J> = DocKind::all()
        .into_iter()
        .map(|k| {
            json!({
                "if": {"properties": {"kind": {"const": k.name()}}, "required": ["kind"]},
                "then": {"$ref": format!("#/definitions/{}", k.definition_name())}
            })
        })
        .collect();
    let root = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://panka.io/schema/panka.schema.json",
        "title": "panka stack document",
        "description": "Any document of a panka stack: Stack, Service, Environment, ComponentInfra or one of the component kinds.",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {
            "kind": {"enum": DocKind::all_names()},
            "apiVersion": {"enum": [CORE_API_VERSION, COMPONENTS_API_VERSION, INFRA_API_VERSION]},
        },
        "allOf": branches,
        "definitions": definitions,
    });
    StackSchema { root }
}

/// The schema as pretty JSON, as `panka schema` prints it and docs/schema/ holds it.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&stack_schema().root).expect("schema serializes");
    text.push('\n');
    text
}

/// A problem found by [`check`].
#[derive(Clone, Debug)]
pub struct SchemaIssue {
    pub code: &'static str,
    pub path: Vec<PathSeg>,
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

/// Checks `node` against `schema`, reporting every problem. Interpolated strings that stand
/// for numbers or booleans where the schema expects one are converted in place.
pub fn check(
    node: &mut Node,
    schema: &J,
    path: &mut Vec<PathSeg>,
    key_span: Option<Span>,
    out: &mut Vec<SchemaIssue>,
) {
    let schemas = stack_schema();
    let schema = schemas.resolve(schema);
    if schema.as_bool() == Some(true) || schema.as_object().is_some_and(Map::is_empty) {
        return;
    }
    let here = |path: &Vec<PathSeg>| path.clone();

    for combinator in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(combinator).and_then(J::as_array) {
            check_alternatives(node, branches, path, key_span, out);
            return;
        }
    }
    if let Some(all) = schema.get("allOf").and_then(J::as_array) {
        for s in all {
            check(node, s, path, key_span, out);
        }
    }

    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            J::String(s) => vec![s.as_str()],
            J::Array(a) => a.iter().filter_map(J::as_str).collect(),
            _ => vec![],
        };
        if !allowed.is_empty()
            && !allowed.iter().any(|t| type_matches(node, t))
            && !coerce(node, &allowed)
        {
            out.push(SchemaIssue {
                code: "wrong-type",
                path: here(path),
                span: node.span,
                message: format!(
                    "`{}` must be {}, found {}",
                    display_path(path),
                    allowed
                        .iter()
                        .map(|t| article(t))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    node.value.type_name()
                ),
                help: None,
            });
            return;
        }
    }

    if let Some(values) = schema.get("enum").and_then(J::as_array) {
        let actual = node.to_json();
        if !values.contains(&actual) {
            out.push(not_one_of(node, values, path));
            return;
        }
    }
    if let Some(value) = schema.get("const") {
        let actual = node.to_json();
        if &actual != value {
            out.push(SchemaIssue {
                code: "invalid-value",
                path: here(path),
                span: node.span,
                message: format!(
                    "`{}` must be {}, found {}",
                    display_path(path),
                    value,
                    actual
                ),
                help: None,
            });
            return;
        }
    }

    match &mut node.value {
        Value::Map(entries) => {
            check_object(node_span(key_span, node.span), entries, schema, path, out)
        }
        Value::Seq(items) => {
            let len = items.len() as u64;
            if let Some(min) = schema.get("minItems").and_then(J::as_u64)
                && len < min
            {
                out.push(SchemaIssue {
                    code: "too-few-items",
                    path: here(path),
                    span: node.span,
                    message: format!(
                        "`{}` needs at least {min} item{}",
                        display_path(path),
                        if min == 1 { "" } else { "s" }
                    ),
                    help: None,
                });
            }
            if let Some(max) = schema.get("maxItems").and_then(J::as_u64)
                && len > max
            {
                out.push(SchemaIssue {
                    code: "too-many-items",
                    path: here(path),
                    span: node.span,
                    message: format!(
                        "`{}` takes at most {max} items, found {len}",
                        display_path(path)
                    ),
                    help: None,
                });
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(PathSeg::Index(i));
                    check(item, item_schema, path, None, out);
                    path.pop();
                }
            }
        }
        Value::Int(_) | Value::Float(_) => check_number(node, schema, path, out),
        Value::Str(s) => {
            let len = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(J::as_u64)
                && len < min
            {
                out.push(SchemaIssue {
                    code: "too-short",
                    path: here(path),
                    span: node.span,
                    message: format!(
                        "`{}` must be at least {min} characters long",
                        display_path(path)
                    ),
                    help: None,
                });
            }
        }
        _ => {}
    }
}

fn node_span(key_span: Option<Span>, own: Span) -> Span {
    key_span.unwrap_or(own)
}

fn article(t: &str) -> String {
    match t {
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "integer" => "an integer".into(),
        "null" => "null".into(),
        other => format!("a {other}"),
    }
}

fn type_matches(node: &Node, t: &str) -> bool {
    match (&node.value, t) {
        (Value::Map(_), "object") => true,
        (Value::Seq(_), "array") => true,
        (Value::Str(_), "string") => true,
        (Value::Int(_), "integer" | "number") => true,
        (Value::Float(f), "integer") => f.fract() == 0.0 && f.abs() < 9.0e15,
        (Value::Float(_), "number") => true,
        (Value::Bool(_), "boolean") => true,
        (Value::Null, "null") => true,
        _ => false,
    }
}

/// Turns an interpolated string into the number or boolean the schema wants, when it reads as one.
fn coerce(node: &mut Node, allowed: &[&str]) -> bool {
    if !node.interpolated {
        return false;
    }
    let Value::Str(text) = &node.value else {
        return false;
    };
    let text = text.trim();
    for t in allowed {
        let converted = match *t {
            "integer" => text.parse::<i64>().ok().map(Value::Int),
            "number" => text
                .parse::<i64>()
                .ok()
                .map(Value::Int)
                .or_else(|| text.parse::<f64>().ok().map(Value::Float)),
            "boolean" => match text {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        };
        if let Some(v) = converted {
            node.value = v;
            return true;
        }
    }
    false
}

fn check_number(node: &Node, schema: &J, path: &[PathSeg], out: &mut Vec<SchemaIssue>) {
    let value = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => return,
    };
    let mut min = schema.get("minimum").and_then(J::as_f64);
    let mut max = schema.get("maximum").and_then(J::as_f64);
    // schemars marks unsigned fields with a format; their bounds are those of the Rust type.
    match schema.get("format").and_then(J::as_str) {
        Some("uint32") => {
            min = Some(min.unwrap_or(0.0).max(0.0));
            max = Some(max.unwrap_or(u32::MAX as f64).min(u32::MAX as f64));
        }
        Some("uint8") => max = Some(max.unwrap_or(255.0).min(255.0)),
        Some("uint16") => max = Some(max.unwrap_or(65535.0).min(65535.0)),
        Some("uint" | "uint64") => min = Some(min.unwrap_or(0.0).max(0.0)),
        Some("int32") => {
            min = Some(min.unwrap_or(i32::MIN as f64).max(i32::MIN as f64));
            max = Some(max.unwrap_or(i32::MAX as f64).min(i32::MAX as f64));
        }
        _ => {}
    }
    let out_of_range = min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m);
    if out_of_range {
        let range = match (min, max) {
            (Some(a), Some(b)) => format!("between {a} and {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => String::new(),
        };
        out.push(SchemaIssue {
            code: "out-of-range",
            path: path.to_vec(),
            span: node.span,
            message: format!(
                "`{}` must be {range}, found {}",
                display_path(path),
                node.to_json()
            ),
            help: None,
        });
    }
}

fn check_object(
    map_span: Span,
    entries: &mut [(crate::yaml::Key, Node)],
    schema: &J,
    path: &mut Vec<PathSeg>,
    out: &mut Vec<SchemaIssue>,
) {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(J::as_object)
        .unwrap_or(&empty);
    let additional = schema.get("additionalProperties");
    if let Some(required) = schema.get("required").and_then(J::as_array) {
        for name in required.iter().filter_map(J::as_str) {
            if !entries.iter().any(|(k, _)| k.name == name) {
                let field = if path.is_empty() {
                    name.to_string()
                } else {
                    format!("{}.{name}", display_path(path))
                };
                out.push(SchemaIssue {
                    code: "missing-field",
                    path: path.clone(),
                    span: map_span,
                    message: format!("missing required field `{field}`"),
                    help: properties
                        .get(name)
                        .and_then(description_of)
                        .map(|d| format!("`{name}`: {d}")),
                });
            }
        }
    }
    for (key, value) in entries.iter_mut() {
        path.push(PathSeg::Key(key.name.clone()));
        if let Some(prop) = properties.get(&key.name) {
            check(value, prop, path, Some(key.span), out);
        } else {
            match additional {
                Some(J::Bool(false)) => {
                    let suggestion = did_you_mean(&key.name, properties.keys().map(String::as_str));
                    let help = match suggestion {
                        Some(s) => Some(format!("did you mean `{s}`?")),
                        None if properties.is_empty() => None,
                        None => Some(format!(
                            "known fields here: {}",
                            properties
                                .keys()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    out.push(SchemaIssue {
                        code: "unknown-field",
                        path: path.clone(),
                        span: key.span,
                        message: format!("unknown field `{}`", display_path(path)),
                        help,
                    });
                }
                Some(s) if s.is_object() || s.as_bool() == Some(true) => {
                    check(value, s, path, Some(key.span), out)
                }
                _ => {}
            }
        }
        path.pop();
    }
}

fn description_of(schema: &J) -> Option<String> {
    let schema = stack_schema().resolve(schema);
    schema
        .get("description")
        .and_then(J::as_str)
        .map(|d| d.lines().next().unwrap_or(d).to_string())
}

fn check_alternatives(
    node: &mut Node,
    branches: &[J],
    path: &mut Vec<PathSeg>,
    key_span: Option<Span>,
    out: &mut Vec<SchemaIssue>,
) {
    let schemas = stack_schema();
    // An enumeration written as one branch per value (schemars does this for documented variants).
    let mut values = Vec::new();
    let mut all_values = true;
    for b in branches {
        let b = schemas.resolve(b);
        if let Some(c) = b.get("const") {
            values.push(c.clone());
        } else if let Some(e) = b.get("enum").and_then(J::as_array) {
            values.extend(e.iter().cloned());
        } else if b.get("type").and_then(J::as_str) == Some("null") {
            values.push(J::Null);
        } else {
            all_values = false;
        }
    }
    if all_values {
        if !values.contains(&node.to_json()) {
            out.push(not_one_of(node, &values, path));
        }
        return;
    }
    let mut best: Option<Vec<SchemaIssue>> = None;
    for b in branches {
        let mut trial = node.clone();
        let mut issues = Vec::new();
        check(&mut trial, b, path, key_span, &mut issues);
        if issues.is_empty() {
            *node = trial;
            return;
        }
        // A branch whose type matches explains the problem better than one that does not.
        let type_mismatch = issues
            .iter()
            .all(|i| i.code == "wrong-type" && i.path == *path);
        let score = if type_mismatch {
            usize::MAX
        } else {
            issues.len()
        };
        let best_score = best.as_ref().map(|b| {
            if b.iter().all(|i| i.code == "wrong-type" && i.path == *path) {
                usize::MAX
            } else {
                b.len()
            }
        });
        if best_score.is_none_or(|s| score < s) {
            best = Some(issues);
        }
    }
    if let Some(issues) = best {
        out.extend(issues);
    }
}

fn not_one_of(node: &Node, values: &[J], path: &[PathSeg]) -> SchemaIssue {
    let shown: Vec<String> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| v.to_string())
        .collect();
    let texts: Vec<&str> = values.iter().filter_map(J::as_str).collect();
    let help = node
        .as_str()
        .and_then(|s| did_you_mean(s, texts.iter().copied()))
        .map(|s| format!("did you mean \"{s}\"?"));
    SchemaIssue {
        code: "invalid-value",
        path: path.to_vec(),
        span: node.span,
        message: format!(
            "`{}` must be one of {}, found {}",
            display_path(path),
            shown.join(", "),
            node.to_json()
        ),
        help,
    }
}

/// The names of a spec's top-level fields (for docs and did-you-mean outside the walker).
pub fn property_names(schema: &J) -> Vec<String> {
    let schema = stack_schema().resolve(schema);
    schema
        .get("properties")
        .and_then(J::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}
