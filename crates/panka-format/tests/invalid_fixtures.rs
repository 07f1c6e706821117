//! Every stack under fixtures/invalid/ fails validation with the expected class of error, at
//! the expected place; the rendered diagnostics are snapshot-tested.

use std::path::PathBuf;

use panka_format::diagnostic::render_plain;
use panka_format::{LoadOptions, load};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/invalid")
        .canonicalize()
        .unwrap()
}

/// Fixture name, the diagnostic code it must produce, and the file and line of that diagnostic.
const CASES: &[(&str, &str, &str, u32)] = &[
    (
        "alias-bomb",
        "yaml-syntax",
        "services/app/components/queue/sqs.yaml",
        0,
    ),
    (
        "dependency-cycle",
        "dependency-cycle",
        "services/app/components/db/rds.yaml",
        8,
    ),
    ("domain-zone", "invalid-value", "stack.yaml", 8),
    (
        "duplicate-name",
        "duplicate-name",
        "services/app/components/queue2/sqs.yaml",
        3,
    ),
    (
        "fargate-pair",
        "invalid-value",
        "services/app/components/web/infra.yaml",
        5,
    ),
    (
        "infra-not-supported",
        "infra-not-supported",
        "services/app/components/queue/infra.yaml",
        5,
    ),
    (
        "invalid-enum",
        "invalid-value",
        "services/app/components/db/rds.yaml",
        5,
    ),
    (
        "internal-port",
        "unknown-output",
        "services/app/components/ui/microservice.yaml",
        9,
    ),
    ("invalid-name", "invalid-name", "stack.yaml", 3),
    (
        "nlb-client-ranges",
        "invalid-combination",
        "services/app/components/tcp/nlb.yaml",
        9,
    ),
    (
        "missing-field",
        "missing-field",
        "services/app/components/db/rds.yaml",
        4,
    ),
    (
        "msk-broker-spread",
        "invalid-value",
        "services/app/components/events/msk.yaml",
        7,
    ),
    (
        "name-mismatch",
        "name-mismatch",
        "services/app/components/queue/sqs.yaml",
        3,
    ),
    (
        "not-a-secret",
        "not-a-secret",
        "services/app/components/web/microservice.yaml",
        11,
    ),
    (
        "out-of-range",
        "out-of-range",
        "services/app/components/queue/sqs.yaml",
        4,
    ),
    (
        "override-target",
        "override-target",
        "environments/dev.yaml",
        6,
    ),
    (
        "override-wrong-type",
        "wrong-type",
        "environments/dev.yaml",
        7,
    ),
    (
        "permission-action",
        "invalid-value",
        "services/app/components/web/microservice.yaml",
        8,
    ),
    (
        "permission-wildcard",
        "wildcard-permission",
        "services/app/components/web/microservice.yaml",
        8,
    ),
    (
        "rest-api-limits",
        "invalid-combination",
        "services/app/components/api/apigateway.yaml",
        10,
    ),
    (
        "secret-literal-conflict",
        "invalid-combination",
        "services/app/components/web/microservice.yaml",
        8,
    ),
    (
        "service-cycle",
        "dependency-cycle",
        "services/app/service.yaml",
        4,
    ),
    (
        "sidecar-cycle",
        "dependency-cycle",
        "services/app/components/web/microservice.yaml",
        10,
    ),
    (
        "sidecar-dependency",
        "invalid-combination",
        "services/app/components/web/microservice.yaml",
        12,
    ),
    (
        "unknown-field",
        "unknown-field",
        "services/app/components/queue/sqs.yaml",
        4,
    ),
    (
        "unknown-kind",
        "unknown-kind",
        "services/app/components/queue/sqs.yaml",
        2,
    ),
    (
        "unknown-output",
        "unknown-output",
        "services/app/components/web/microservice.yaml",
        8,
    ),
    (
        "unknown-reference",
        "unknown-reference",
        "services/app/components/web/microservice.yaml",
        9,
    ),
    (
        "unresolved-variable",
        "unresolved-variable",
        "services/app/components/web/microservice.yaml",
        5,
    ),
    (
        "wrong-target-kind",
        "wrong-target-kind",
        "services/app/components/worker/worker.yaml",
        6,
    ),
    (
        "wrong-type",
        "wrong-type",
        "services/app/components/queue/sqs.yaml",
        4,
    ),
    (
        "yaml-syntax",
        "yaml-syntax",
        "services/app/components/queue/sqs.yaml",
        4,
    ),
];

#[test]
fn every_fixture_is_covered() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    listed.push("many-errors".into());
    listed.sort();
    assert_eq!(on_disk, listed);
}

fn run(name: &str) -> panka_format::Loaded {
    let options = LoadOptions {
        stack: name.into(),
        environment: "dev".into(),
        vars: vec![],
        cwd: fixtures_dir(),
    };
    load(&options).unwrap()
}

#[test]
fn each_fixture_reports_its_error_at_its_line() {
    let mut failures = Vec::new();
    for (name, code, file, line) in CASES {
        let loaded = run(name);
        if loaded.stack.is_some() {
            failures.push(format!("{name}: validated without error"));
            continue;
        }
        let hit = loaded
            .diagnostics
            .items
            .iter()
            .find(|d| d.code == *code && d.is_error());
        let Some(d) = hit else {
            failures.push(format!(
                "{name}: no `{code}` diagnostic in {:?}",
                loaded
                    .diagnostics
                    .items
                    .iter()
                    .map(|d| (d.code, &d.message))
                    .collect::<Vec<_>>()
            ));
            continue;
        };
        let shown = loaded.sources.path(d.span.file).display().to_string();
        if shown != format!("{name}/{file}") {
            failures.push(format!("{name}: reported in {shown}, expected {file}"));
        }
        if *line > 0 && d.span.line != *line {
            failures.push(format!(
                "{name}: reported on line {}, expected {line}: {}",
                d.span.line, d.message
            ));
        }
        let rendered = render_plain(&loaded.diagnostics.items, &loaded.sources);
        insta::assert_snapshot!(*name, rendered);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn all_errors_are_reported_at_once() {
    let loaded = run("many-errors");
    let codes: Vec<&str> = loaded
        .diagnostics
        .items
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    for expected in [
        "unknown-field",
        "wrong-type",
        "out-of-range",
        "invalid-value",
    ] {
        assert!(codes.contains(&expected), "missing {expected} in {codes:?}");
    }
    assert!(codes.len() >= 6, "{codes:?}");
    insta::assert_snapshot!(
        "many-errors",
        render_plain(&loaded.diagnostics.items, &loaded.sources)
    );
}
