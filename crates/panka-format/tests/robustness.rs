//! No input makes the loader panic: arbitrary text, mutated example files, and random JSON
//! trees (JSON is YAML) in place of a component's spec. `make fuzz` runs many more cases.

use std::path::Path;

use panka_format::{LoadOptions, load};
use proptest::prelude::*;

const STACK: &str = "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {name: fuzz}\nspec:\n  provider: {name: aws, region: us-east-1}\n  variables: {V: '1'}\n";
const ENV: &str =
    "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {}\n";

fn examples() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/services");
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    walk(&root, &mut out);
    out.sort();
    out
}

/// A one-component stack whose component file holds `text`.
fn component_stack(text: &str, env_text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("environments")).unwrap();
    std::fs::create_dir_all(p.join("services/svc/components/c")).unwrap();
    std::fs::write(p.join("stack.yaml"), STACK).unwrap();
    std::fs::write(p.join("environments/dev.yaml"), env_text).unwrap();
    std::fs::write(p.join("services/svc/components/c/x.yaml"), text).unwrap();
    dir
}

fn load_dev(dir: &Path) -> panka_format::Loaded {
    load(&LoadOptions {
        stack: ".".into(),
        environment: "dev".into(),
        vars: vec![],
        cwd: dir.to_path_buf(),
    })
    .unwrap()
}

/// Loads a one-component stack whose component file holds `text`; returns the error count.
fn load_component_text(text: &str, env_text: &str) -> usize {
    let dir = component_stack(text, env_text);
    let loaded = load_dev(dir.path());
    // Rendering must not panic either, whatever the spans.
    let _ = panka_format::diagnostic::render_plain(&loaded.diagnostics.items, &loaded.sources);
    for d in &loaded.diagnostics.items {
        let _ = d.to_json(&loaded.sources);
    }
    loaded.diagnostics.error_count()
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn apply(text: &str, m: &Mutation) -> String {
    let clamp = |i: usize| {
        let mut i = i % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match m {
        Mutation::Delete(a, n) => {
            let a = clamp(*a);
            let b = clamp(a + n);
            if b <= a {
                text.to_string()
            } else {
                format!("{}{}", &text[..a], &text[b..])
            }
        }
        Mutation::Insert(a, s) => {
            let a = clamp(*a);
            format!("{}{}{}", &text[..a], s, &text[a..])
        }
        Mutation::DuplicateLine(i) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = i % lines.len();
                lines.insert(i, lines[i]);
            }
            lines.join("\n")
        }
        Mutation::SwapLines(i, j) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (i, j) = (i % lines.len(), j % lines.len());
                lines.swap(i, j);
            }
            lines.join("\n")
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let yamlish =
        proptest::string::string_regex(r"[ \n:\-\[\]{},&*!|>'\x22#%@`$a-z0-9]{1,12}").unwrap();
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), yamlish).prop_map(|(a, s)| Mutation::Insert(a, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::SwapLines(i, j)),
    ]
}

fn json_tree() -> impl Strategy<Value = serde_json::Value> {
    let keys = prop::sample::select(vec![
        "image",
        "repository",
        "tag",
        "ports",
        "name",
        "port",
        "public",
        "path",
        "environment",
        "value",
        "valueFrom",
        "component",
        "output",
        "secrets",
        "healthCheck",
        "readiness",
        "http",
        "engine",
        "type",
        "version",
        "instance",
        "class",
        "storage",
        "allocatedGB",
        "database",
        "username",
        "dependsOn",
        "replicas",
        "fifo",
        "deadLetter",
        "maxReceiveCount",
        "lifecycle",
        "expireDays",
        "routes",
        "target",
        "origins",
        "rules",
        "schedule",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e12f64..1e12).prop_map(serde_json::Value::from),
        "[a-z/${}.]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn kind() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        panka_format::Kind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        load_component_text(&text, ENV);
    }

    #[test]
    fn mutated_examples_never_panic(index in any::<prop::sample::Index>(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let files = examples();
        let mut text = files[index.index(files.len())].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        load_component_text(&text, ENV);
    }

    #[test]
    fn random_specs_never_panic(kind in kind(), spec in json_tree(), overlay in json_tree()) {
        let doc = format!("apiVersion: components.panka.io/v1\nkind: {kind}\nmetadata: {{name: c, service: svc}}\nspec: {spec}\n");
        let env = format!("apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {{name: dev}}\nspec:\n  overrides:\n    - target: svc/c\n      spec: {overlay}\n");
        load_component_text(&doc, &env);
    }
}

#[test]
fn huge_files_are_refused_with_a_clear_error() {
    let big = format!(
        "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {{name: c, service: svc}}\nspec: {{}}\n# {}\n",
        "x".repeat(5 * 1024 * 1024)
    );
    let dir = component_stack(&big, ENV);
    let loaded = load_dev(dir.path());
    let d = loaded
        .diagnostics
        .items
        .iter()
        .find(|d| d.code == "file-too-large")
        .expect("refused");
    assert!(d.message.contains("at most"), "{}", d.message);
    assert_eq!(
        loaded.sources.path(d.span.file),
        Path::new("services/svc/components/c/x.yaml")
    );
}

#[test]
fn deeply_nested_input_is_refused() {
    let deep = format!(
        "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {{name: c, service: svc}}\nspec: {}{}\n",
        "[".repeat(500),
        "]".repeat(500)
    );
    assert!(load_component_text(&deep, ENV) > 0);
}
