//! The checked-in JSON Schema and field reference match the types, and every example stack
//! validates against the schema with an independent JSON Schema validator.
//!
//! `make docs` (PANKA_BLESS=1) rewrites the files instead of comparing.

use std::path::{Path, PathBuf};

use panka_format::source::Sources;
use panka_format::yaml::parse_file;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn bless() -> bool {
    std::env::var("PANKA_BLESS").is_ok_and(|v| v == "1")
}

fn check_file(path: &Path, expected: &str, stale: &mut Vec<String>) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, expected).unwrap();
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(actual) if actual == expected => {}
        _ => stale.push(path.display().to_string()),
    }
}

#[test]
fn schema_and_reference_are_current() {
    let mut stale = Vec::new();
    check_file(
        &repo().join("docs/schema/panka.schema.json"),
        &panka_format::schema::schema_json(),
        &mut stale,
    );
    for (name, text) in panka_format::reference::pages() {
        check_file(&repo().join("docs/reference").join(name), &text, &mut stale);
    }
    assert!(stale.is_empty(), "out of date (run `make docs`): {stale:?}");
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// The schema as checked in (while blessing, the one being written).
fn checked_in_schema() -> serde_json::Value {
    let text = if bless() {
        panka_format::schema::schema_json()
    } else {
        std::fs::read_to_string(repo().join("docs/schema/panka.schema.json")).unwrap()
    };
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_example_document_validates_against_the_checked_in_schema() {
    let schema = checked_in_schema();
    let validator = jsonschema::draft7::new(&schema).expect("the schema is valid draft-07");
    let mut files = Vec::new();
    yaml_files(&repo().join("examples"), &mut files);
    assert!(files.len() > 10, "examples are missing: {files:?}");
    let mut failures = Vec::new();
    let mut documents = 0;
    for f in files {
        let mut sources = Sources::default();
        let id = sources.add(f.clone(), std::fs::read_to_string(&f).unwrap());
        for doc in parse_file(&sources, id).unwrap() {
            documents += 1;
            let instance = doc.to_json();
            for e in validator.iter_errors(&instance) {
                failures.push(format!("{}: {} at {}", f.display(), e, e.instance_path()));
            }
        }
    }
    assert!(documents > 10);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_schema_rejects_what_validate_rejects() {
    let schema = checked_in_schema();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let bad = serde_json::json!({
        "apiVersion": "components.panka.io/v1", "kind": "SQS",
        "metadata": {"name": "q", "service": "s"},
        "spec": {"visibilityTimout": 30}
    });
    assert!(!validator.is_valid(&bad));
    let good = serde_json::json!({
        "apiVersion": "components.panka.io/v1", "kind": "SQS",
        "metadata": {"name": "q", "service": "s"},
        "spec": {"visibilityTimeoutSeconds": 30}
    });
    assert!(
        validator.is_valid(&good),
        "{:?}",
        validator
            .iter_errors(&good)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
}
