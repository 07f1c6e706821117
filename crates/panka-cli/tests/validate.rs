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

#[test]
fn init_scaffolds_a_stack_that_validates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let init = |args: &[&str]| {
        Command::cargo_bin("panka")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("AWS_REGION")
            .args(args)
            .output()
            .unwrap()
    };
    let out = init(&["init", "shop", "-e", "qa"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stack = dir.path().join("stacks/shop");
    for file in [
        "stack.yaml",
        "environments/qa.yaml",
        "services/web/service.yaml",
        "services/web/components/site/microservice.yaml",
        ".panka.schema.json",
    ] {
        assert!(stack.join(file).is_file(), "{file} was not written");
    }
    // Every document names the schema the scaffold carries, by a path relative to itself.
    let component =
        std::fs::read_to_string(stack.join("services/web/components/site/microservice.yaml"))
            .unwrap();
    assert!(
        component.starts_with("# yaml-language-server: $schema=../../../../.panka.schema.json\n"),
        "{component}"
    );
    // `--stack NAME` finds it under ./stacks/, and it is valid as written.
    let out = init(&["validate", "--stack", "shop", "-e", "qa"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 component"), "{stdout}");
    // A second init over it changes nothing.
    let before = std::fs::read_to_string(stack.join("stack.yaml")).unwrap();
    let out = init(&["init", "shop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds files"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(stack.join("stack.yaml")).unwrap(),
        before
    );
    // A name AWS names cannot carry is refused before anything is written.
    let out = init(&["init", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("stacks/Bad_Name").exists());
    // A path: the folder's last part is the name.
    let out = init(&["init", "infra/billing"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("infra/billing/stack.yaml")).unwrap();
    assert!(text.contains("metadata: {name: billing}"), "{text}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef panka"),
        ("fish", "complete -c panka"),
    ] {
        let out = panka().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        // Subcommands are completed, including the newest.
        assert!(
            script.contains("import") && script.contains("init"),
            "{shell}"
        );
    }
}
