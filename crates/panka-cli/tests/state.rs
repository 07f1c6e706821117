//! The state, history and lock commands against the emulator (S3 and DynamoDB), checked through
//! the AWS SDK, and against the local backend.

mod common;
use common::{copy_dir, repo};

use std::path::Path;

use assert_cmd::Command;

/// The example stack in a temp folder, with an S3 backend of unique names when `bucket` is set.
fn example(bucket: Option<(&str, &str)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/shop"), &dir.path().join("shop"));
    // State a `make demo` left beside the repository's copy is not this test's.
    let _ = std::fs::remove_dir_all(dir.path().join("shop/.panka"));
    if let Some((bucket, table)) = bucket {
        let stack = dir.path().join("shop/stack.yaml");
        let text = std::fs::read_to_string(&stack).unwrap();
        let text = text.replace("  provider: {name: aws, region: us-east-1}\n", &format!("  provider: {{name: aws, region: us-east-1}}\n  backend:\n    s3: {{bucket: {bucket}, lockTable: {table}}}\n"));
        std::fs::write(stack, text).unwrap();
    }
    dir
}

fn panka(dir: &Path) -> Command {
    let emu = panka_test_support::emulator();
    let mut cmd = Command::cargo_bin("panka").unwrap();
    cmd.current_dir(dir)
        .env("AWS_ENDPOINT_URL", &emu.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    cmd
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = panka(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A state holding what the dev plan would create, as the local plan test builds it.
fn planned_state(dir: &Path, serial: u64, lineage: &str) -> serde_json::Value {
    let (code, out, err) = run(
        dir,
        &[
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--output",
            "json",
            "--state",
            "/dev/null/none",
        ],
    );
    // No state file: plan against nothing through an explicit missing path is an error...
    assert_eq!(code, 1, "{out}{err}");
    let (code, out, err) = run(
        dir,
        &["plan", "--stack", "shop", "-e", "dev", "--output", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut resources = serde_json::Map::new();
    for a in plan["actions"].as_array().unwrap() {
        resources.insert(
            a["address"].as_str().unwrap().into(),
            serde_json::json!({"kind": a["kind"], "config": a["config"], "configHash": ""}),
        );
    }
    serde_json::json!({"formatVersion": 1, "lineage": lineage, "serial": serial, "stack": "shop", "environment": "dev", "resources": resources})
}

/// The emulator's SDK configuration.
async fn sdk_config() -> aws_config::SdkConfig {
    let emu = panka_test_support::emulator();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&emu.endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// An S3 client of the emulator, path-style.
async fn s3() -> aws_sdk_s3::Client {
    let config = sdk_config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_commands() {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (bucket, table) = (
        format!("shop-state-{suffix}"),
        format!("shop-locks-{suffix}"),
    );
    let dir = example(Some((&bucket, &table)));
    let d = dir.path();

    let (code, out, err) = run(d, &["backend", "init", "--stack", "shop", "-e", "dev"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("+ bucket {bucket}")), "{out}");
    assert!(out.contains("enforces conditional writes"), "{out}");
    let (code, again, _) = run(d, &["backend", "init", "--stack", "shop", "-e", "dev"]);
    assert_eq!(code, 0);
    assert!(
        again.contains(&format!("✓ bucket {bucket} exists")),
        "{again}"
    );

    // Plan reads state from S3: nothing yet.
    let (code, out, _) = run(
        d,
        &[
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(code, 2, "{out}");
    let state = planned_state(d, 3, "lin-s3");
    let file = d.join("state.json");
    std::fs::write(&file, serde_json::to_string(&state).unwrap()).unwrap();
    let (code, out, err) = run(
        d,
        &[
            "state",
            "push",
            "--stack",
            "shop",
            "-e",
            "dev",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(
        d,
        &[
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(code, 0, "after the push the plan is empty: {out}");

    let (code, out, _) = run(d, &["state", "list", "--stack", "shop", "-e", "dev"]);
    assert_eq!(code, 0);
    assert!(out.contains("orders/db") && out.contains("RDS"), "{out}");
    let (code, out, err) = run(
        d,
        &[
            "state",
            "rm",
            "--stack",
            "shop",
            "-e",
            "dev",
            "orders/queue",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(
        d,
        &[
            "state",
            "mv",
            "--stack",
            "shop",
            "-e",
            "dev",
            "orders/assets",
            "orders/files",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");

    // Read the object with the SDK, not with panka.
    let s3 = s3().await;
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key("stacks/shop/dev/state.json")
        .send()
        .await
        .unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&obj.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(
        stored["serial"],
        3 + 2,
        "the push kept serial 3, rm and mv each wrote one more"
    );
    assert!(stored["resources"].get("orders/queue").is_none());
    assert!(stored["resources"].get("orders/files").is_some());
    assert_eq!(stored["lastDeployment"]["operation"], "state mv");
    let history = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("stacks/shop/dev/history/")
        .send()
        .await
        .unwrap();
    assert_eq!(history.contents().len(), 3);

    let (code, out, _) = run(
        d,
        &[
            "history", "--stack", "shop", "-e", "dev", "--output", "json",
        ],
    );
    assert_eq!(code, 0);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e["deployment"]["operation"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["state mv", "state rm", "state push"]
    );
    let push_id = entries[2]["deployment"]["id"].as_str().unwrap().to_string();

    // An older serial is refused; restore brings the pushed state back as a new serial.
    let (code, _, err) = run(
        d,
        &[
            "state",
            "push",
            "--stack",
            "shop",
            "-e",
            "dev",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("not newer"), "{err}");
    let (code, out, err) = run(
        d,
        &[
            "state", "restore", "--stack", "shop", "-e", "dev", "--to", &push_id,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(
        d,
        &[
            "state",
            "show",
            "--stack",
            "shop",
            "-e",
            "dev",
            "orders/queue",
        ],
    );
    assert_eq!(code, 0, "{out}");
    // The recorded configuration is shown expanded like the rest of the resource.
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(shown["config"]["spec"].is_object(), "{out}");
    assert!(out.contains("\"config\": {\n"), "{out}");

    // Locks: none held now; a stale one is listed and removed.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    ddb.put_item()
        .table_name(&table)
        .item(
            "lockScope",
            aws_sdk_dynamodb::types::AttributeValue::S("shop/dev".into()),
        )
        .item(
            "lockName",
            aws_sdk_dynamodb::types::AttributeValue::S("*".into()),
        )
        .item(
            "holder",
            aws_sdk_dynamodb::types::AttributeValue::S("ci@runner".into()),
        )
        .item(
            "holderId",
            aws_sdk_dynamodb::types::AttributeValue::S("h1".into()),
        )
        .item(
            "operation",
            aws_sdk_dynamodb::types::AttributeValue::S("apply".into()),
        )
        .item(
            "created",
            aws_sdk_dynamodb::types::AttributeValue::N("1000".into()),
        )
        .item(
            "expiresAt",
            aws_sdk_dynamodb::types::AttributeValue::N("2000".into()),
        )
        .send()
        .await
        .unwrap();
    let (_, out, _) = run(d, &["locks", "--stack", "shop", "-e", "dev"]);
    assert!(
        out.contains("shop/dev#*") && out.contains("STALE") && out.contains("ci@runner"),
        "{out}"
    );
    let (code, out, err) = run(d, &["unlock", "--stack", "shop", "-e", "dev", "shop/dev#*"]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = run(d, &["locks", "--stack", "shop", "-e", "dev"]);
    assert!(out.contains("No locks"), "{out}");
}

#[test]
fn local_backend_commands() {
    let dir = example(None);
    let d = dir.path();
    let state = planned_state(d, 1, "lin-local");
    let file = d.join("state.json");
    std::fs::write(&file, serde_json::to_string(&state).unwrap()).unwrap();
    let (code, out, err) = run(
        d,
        &[
            "state",
            "push",
            "--stack",
            "shop",
            "-e",
            "dev",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(d.join("shop/.panka/dev/state.json").exists());
    let (code, out, err) = run(
        d,
        &[
            "state",
            "rm",
            "--stack",
            "shop",
            "-e",
            "dev",
            "web/cdn",
            "web/gateway",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(
        d,
        &[
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        out.contains("+ web/cdn (CloudFront) create") && out.contains("Summary: + 2 to create"),
        "{out}"
    );
    let (code, out, _) = run(d, &["history", "--stack", "shop", "-e", "dev"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    let (code, _, err) = run(
        d,
        &["state", "show", "--stack", "shop", "-e", "dev", "web/cdn"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no resource `web/cdn`"), "{err}");
    let (_, out, _) = run(d, &["locks", "--stack", "shop", "-e", "dev"]);
    assert!(out.contains("No locks") || out.contains("STALE"), "{out}");
    let (code, out, _) = run(d, &["status", "--stack", "shop", "-e", "dev"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("In the configuration, not deployed: web/cdn, web/gateway"),
        "{out}"
    );
    assert!(
        out.contains("last deployment") && out.contains("state rm"),
        "{out}"
    );
    let (code, out, _) = run(
        d,
        &["status", "--stack", "shop", "-e", "dev", "--output", "json"],
    );
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["notDeployed"],
        serde_json::json!(["web/cdn", "web/gateway"])
    );
    assert_eq!(doc["resources"].as_array().unwrap().len(), 13);
}

/// `--state-bucket`/`--lock-table` (and their environment variables) put a stack without a
/// backend in stack.yaml on S3 and DynamoDB; a missing bucket says to run `backend init`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_given_on_the_command_line() {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (bucket, table) = (format!("cli-state-{suffix}"), format!("cli-locks-{suffix}"));
    let dir = example(None);
    let d = dir.path();
    let flags = ["--state-bucket", &bucket, "--lock-table", &table];

    let mut args = vec![
        "apply",
        "--stack",
        "shop",
        "-e",
        "dev",
        "--component",
        "orders/queue",
        "--auto-approve",
    ];
    args.extend(flags);
    let (code, out, err) = run(d, &args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("panka backend init"), "{err}");

    let (code, out, err) = run(
        d,
        &[
            "backend",
            "init",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--state-bucket",
            &bucket,
            "--lock-table",
            &table,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let out = panka(d)
        .args([
            "apply",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--component",
            "orders/queue",
            "--auto-approve",
        ])
        .env("PANKA_STATE_BUCKET", &bucket)
        .env("PANKA_LOCK_TABLE", &table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The state is in the bucket (read with the SDK), and nothing was written locally.
    let s3 = s3().await;
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key("stacks/shop/dev/state.json")
        .send()
        .await
        .unwrap();
    let body = object.body.collect().await.unwrap().into_bytes();
    let state: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(state["resources"].get("orders/queue").is_some(), "{state}");
    assert!(!d.join("shop/.panka/dev/state.json").exists());
    // Half an S3 backend is refused.
    let (code, _, err) = run(
        d,
        &[
            "plan",
            "--stack",
            "shop",
            "-e",
            "dev",
            "--state-bucket",
            &bucket,
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--lock-table"), "{err}");
}
