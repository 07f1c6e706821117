//! `panka plan` and `panka graph` from the outside.

mod common;
use common::{copy_dir, repo};

use std::path::Path;

use assert_cmd::Command;

fn panka(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("panka").unwrap();
    cmd.current_dir(dir);
    cmd
}

/// The example in a temporary folder, so no state left beside the repository's copy (by
/// `make demo`) changes what these tests see.
fn fresh_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/shop"), &dir.path().join("shop"));
    let _ = std::fs::remove_dir_all(dir.path().join("shop/.panka"));
    dir
}

#[test]
fn plan_shows_waves_and_detailed_exit_code() {
    let fresh = fresh_example();
    let out = panka(fresh.path())
        .args([
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--detailed-exitcode",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Plan: shop (dev) · us-east-1"), "{text}");
    assert!(text.contains("+ orders/db (RDS) create"), "{text}");
    assert!(text.contains("Summary: + 15 to create"), "{text}");
    assert!(text.contains("estimate, prices as of"), "{text}");
    let plain = panka(fresh.path())
        .args(["plan", "--stack", "shop", "-e", "dev"])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(0));
}

#[test]
fn plan_json_matches_the_checked_in_schema_and_saved_plans_round_trip() {
    let dir = fresh_example();
    let out_file = dir.path().join("dev.plan.json");
    let out = panka(dir.path())
        .args([
            "plan",
            "--stack",
            "shop",
            "-e",
            "production",
            "--output",
            "json",
            "--out",
        ])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(printed, saved);
    assert_eq!(printed["formatVersion"], 1);
    assert_eq!(printed["summary"]["create"], 15);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/schema/plan.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&printed)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn plan_against_a_state_file_and_the_local_backend() {
    let dir = fresh_example();
    // No state: everything is created.
    let first = panka(dir.path())
        .args(["plan", "--stack", "shop", "-e", "dev", "--output", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(plan["summary"]["create"], 15);
    // A state holding exactly the planned configurations: nothing to do.
    let mut resources = serde_json::Map::new();
    for a in plan["actions"].as_array().unwrap() {
        let config = a["config"].clone();
        resources.insert(
            a["address"].as_str().unwrap().to_string(),
            serde_json::json!({"kind": a["kind"], "config": config, "configHash": "", "dependencies": a["dependsOn"]}),
        );
    }
    let state = serde_json::json!({"formatVersion": 1, "lineage": "l-1", "serial": 7, "stack": "shop", "environment": "dev", "resources": resources});
    let state_dir = dir.path().join("shop/.panka/dev");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(
        state_dir.join("state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let out = panka(dir.path())
        .args([
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--detailed-exitcode",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes"));
    // The same state given explicitly, with the API's tag changed on the command line.
    let out = panka(dir.path())
        .args([
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--var",
            "VERSION=2.0",
            "--detailed-exitcode",
            "--state",
        ])
        .arg(state_dir.join("state.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("spec.image.tag: \"1.27\" → \"2.0\""),
        "{text}"
    );
}

#[test]
fn stateful_delete_is_refused_without_allow_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"name": "shop-dev-orders-old", "spec": {"engine": {"type": "postgres"}}});
    let state = serde_json::json!({"formatVersion": 1, "lineage": "l", "serial": 1, "stack": "shop", "environment": "dev",
        "resources": {"orders/old": {"kind": "RDS", "config": config, "configHash": ""}}});
    let state_file = dir.path().join("state.json");
    std::fs::write(&state_file, serde_json::to_string(&state).unwrap()).unwrap();
    let out = panka(&repo())
        .args(["plan", "--stack", "examples/shop", "-e", "dev", "--state"])
        .arg(&state_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("orders/old (RDS) would be deleted"),
        "{stderr}"
    );
    let out = panka(&repo())
        .args([
            "plan",
            "--stack",
            "examples/shop",
            "-e",
            "dev",
            "--allow-destroy",
            "orders/old",
            "--state",
        ])
        .arg(&state_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("- orders/old (RDS) delete"));
}

#[test]
fn invalid_stack_fails_plan_with_diagnostics() {
    let out = panka(&repo())
        .args([
            "plan",
            "--stack",
            "fixtures/invalid/unknown-field",
            "-e",
            "dev",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field `spec.visibilityTimeout`"),
        "{stderr}"
    );
    assert!(stderr.contains("the stack is invalid: 1 error"), "{stderr}");
}

#[test]
fn graph_draws_dot_and_mermaid() {
    let dot = panka(&repo())
        .args([
            "graph",
            "--stack",
            "examples/shop",
            "-e",
            "dev",
            "--format",
            "dot",
        ])
        .output()
        .unwrap();
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.starts_with("digraph panka {"));
    assert!(dot.contains("\"orders/api\" -> \"orders/db\";"), "{dot}");
    assert!(dot.contains("label=\"wave 1\""));
    let mermaid = panka(&repo())
        .args([
            "graph",
            "--stack",
            "examples/shop",
            "-e",
            "dev",
            "--format",
            "mermaid",
        ])
        .output()
        .unwrap();
    let mermaid = String::from_utf8_lossy(&mermaid.stdout);
    assert!(mermaid.starts_with("flowchart LR"));
    assert!(mermaid.contains("orders_api --> orders_db"), "{mermaid}");
}

#[test]
fn plan_schema_is_checked_in() {
    let out = panka(&repo()).args(["schema", "--plan"]).output().unwrap();
    let path = repo().join("docs/schema/plan.schema.json");
    if std::env::var("PANKA_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &out.stdout).unwrap();
    }
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(path).unwrap(),
        "run `make docs`"
    );
}

#[test]
fn policies_judge_the_plan() {
    let fresh = fresh_example();
    let dir = fresh.path();
    let run = |args: &[&str]| {
        let out = panka(dir).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let plan_dev =
        |extra: &[&str]| run(&[&["plan", "--stack", "shop", "-e", "dev"], extra].concat());
    // The example's own policies pass its dev plan.
    let (code, out, err) = plan_dev(&["--policy", "shop/policies", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("Policies: passed."), "{out}");

    // A public bucket is denied: the plan is shown, the reason given, nothing saved.
    let s3 = dir.join("shop/services/orders/components/assets/s3.yaml");
    let text = std::fs::read_to_string(&s3).unwrap();
    std::fs::write(
        &s3,
        text.replace("publicAccess: blocked", "publicAccess: allowed"),
    )
    .unwrap();
    let saved = dir.join("denied.plan.json");
    let (code, out, err) = plan_dev(&[
        "--policy",
        "shop/policies/guard.rego",
        "--out",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("+ orders/assets (S3) create"), "{out}");
    assert!(out.contains("Policies: 1 denial, 0 warnings."), "{out}");
    assert!(
        out.contains(
            "deny  shop.guard: orders/assets would be open to the public (publicAccess: allowed)"
        ),
        "{out}"
    );
    assert!(err.contains("the plan is denied by 1 policy rule"), "{err}");
    assert!(!saved.exists(), "a denied plan was saved");
    // apply refuses it before asking anything or touching AWS.
    let (code, out, err) = run(&[
        "apply",
        "--stack",
        "shop",
        "-e",
        "dev",
        "--policy",
        "shop/policies",
        "--auto-approve",
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("the apply is denied by 1 policy rule"),
        "{err}"
    );
    std::fs::write(&s3, &text).unwrap();

    // Warnings are shown and the plan goes on; with JSON output they go to stderr.
    let policies = dir.join("more");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("size.rego"),
        "package shop.size\n\nwarn contains msg if {\n\tcount(input.actions) > 10\n\tmsg := sprintf(\"%d actions in one plan\", [count(input.actions)])\n}\n",
    )
    .unwrap();
    let (code, out, err) = plan_dev(&[
        "--policy",
        "shop/policies",
        "--policy",
        policies.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions = plan["actions"].as_array().unwrap().len();
    assert!(
        err.contains(&format!("warn  shop.size: {actions} actions in one plan")),
        "{err}"
    );

    // A policy that does not parse stops the plan, naming its file and line.
    std::fs::write(
        policies.join("broken.rego"),
        "package broken\n\ndeny contains msg if {\n",
    )
    .unwrap();
    let (code, out, err) = plan_dev(&["--policy", policies.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("broken.rego"), "{err}");
}
