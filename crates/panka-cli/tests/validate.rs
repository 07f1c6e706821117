//! `panka validate` and `panka schema` from the outside: exit codes, text and JSON output.

mod common;
use common::{copy_dir, repo};

use assert_cmd::Command;

fn panka() -> Command {
    let mut cmd = Command::cargo_bin("panka").unwrap();
    cmd.current_dir(repo());
    cmd
}

#[test]
fn the_example_is_valid_in_every_environment() {
    for env in ["dev", "staging", "production"] {
        let out = panka()
            .args(["validate", "--stack", "examples/shop", "-e", env])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{env}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("is valid"), "{stdout}");
        assert!(stdout.contains("13 components"), "{stdout}");
    }
}

#[test]
fn invalid_stack_exits_1_with_file_line_and_column() {
    let out = panka()
        .args([
            "validate",
            "--stack",
            "fixtures/invalid/unknown-field",
            "--env",
            "dev",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("fixtures/invalid/unknown-field/services/app/components/queue/sqs.yaml:4:8"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `visibilityTimeoutSeconds`?"),
        "{stderr}"
    );
}

#[test]
fn json_output_lists_diagnostics_with_locations() {
    let out = panka()
        .args([
            "validate",
            "--stack",
            "fixtures/invalid/many-errors",
            "--environment",
            "dev",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["formatVersion"], 1);
    let diags = report["diagnostics"].as_array().unwrap();
    assert_eq!(report["errors"].as_u64().unwrap() as usize, diags.len());
    assert!(diags.len() >= 6);
    let unknown = diags.iter().find(|d| d["code"] == "unknown-field").unwrap();
    assert_eq!(
        unknown["file"],
        "fixtures/invalid/many-errors/services/app/components/queue/sqs.yaml"
    );
    assert_eq!(unknown["line"], 4);
    assert_eq!(unknown["column"], 8);
}

#[test]
fn json_output_of_a_valid_stack() {
    let out = panka()
        .args([
            "validate",
            "--stack",
            "examples/shop",
            "-e",
            "dev",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["stack"], "shop");
    assert_eq!(report["components"], 13);
}

#[test]
fn stack_is_found_by_name_under_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let stacks = dir.path().join("stacks");
    std::fs::create_dir_all(&stacks).unwrap();
    copy_dir(&repo().join("examples/shop"), &stacks.join("shop"));
    let mut cmd = Command::cargo_bin("panka").unwrap();
    cmd.current_dir(dir.path())
        .args(["validate", "--stack", "shop", "-e", "dev"])
        .assert()
        .success();
}

#[test]
fn var_overrides_and_missing_stack() {
    expect_failure(
        &[
            "validate",
            "--stack",
            "examples/shop",
            "-e",
            "dev",
            "--var",
            "VERSION=bad tag!",
        ],
        "is not a valid image tag",
    );
    expect_failure(
        &["validate", "--stack", "no/such/stack", "-e", "dev"],
        "no stack at `no/such/stack`",
    );
    expect_failure(
        &["validate", "--stack", "examples/shop", "-e", "prod"],
        "did you mean `production`?",
    );
}

fn expect_failure(args: &[&str], stderr_holds: &str) {
    let out = panka().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(stderr_holds), "{args:?}: {stderr}");
}

#[test]
fn schema_command_prints_the_checked_in_schema() {
    let out = panka().arg("schema").output().unwrap();
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(repo().join("docs/schema/panka.schema.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), checked_in);
}
