//! Helpers of the tests that run `panka` against the emulator: a stack in a temp folder, running
//! panka on it with the emulator's endpoint, and reading AWS back with boto3.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::cargo::CommandCargoExt;

/// Writes a file, creating its folders.
pub fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A stack under `DIR/s`, named `stack` (unique per test, so tests can share the emulator).
pub struct Env {
    pub dir: tempfile::TempDir,
    #[allow(dead_code)] // discovery names its stack after the folder
    pub stack: String,
}

impl Env {
    /// A new temp folder and a unique stack name starting with `prefix`.
    pub fn new(prefix: &str) -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            stack: format!(
                "{prefix}{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        }
    }

    /// Writes stack.yaml (this stack's name, us-east-1, then the `extra` lines of its spec) and
    /// a `dev` environment.
    #[allow(dead_code)] // discovery writes its own stack.yaml
    pub fn write_stack(&self, extra: &str) {
        write(
            &self.root().join("stack.yaml"),
            &format!(
                "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {{name: {}}}\nspec:\n  provider: {{name: aws, region: us-east-1}}\n{extra}",
                self.stack
            ),
        );
        write(
            &self.root().join("environments/dev.yaml"),
            "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n",
        );
    }

    /// The folder holding stack.yaml.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("s")
    }

    /// `panka ARGS --stack s -e dev` against the emulator, stdin closed.
    pub fn panka(&self, args: &[&str]) -> StdCommand {
        let emu = panka_test_support::emulator();
        let mut cmd = StdCommand::cargo_bin("panka").unwrap();
        cmd.current_dir(self.dir.path())
            .args(args)
            .args(["--stack", "s", "-e", "dev"])
            .env("AWS_ENDPOINT_URL", &emu.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs panka; its exit code and its stdout and stderr together.
    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.panka(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// Writes the component `service/name` of `kind` with the YAML `spec` (a flow mapping) at
    /// `services/SERVICE/components/NAME/KIND.yaml`.
    #[allow(dead_code)] // not every test binary writes components this way
    pub fn component(&self, service: &str, name: &str, kind: &str, spec: &str) {
        write(
            &self.root().join(format!(
                "services/{service}/components/{name}/{}.yaml",
                kind.to_lowercase()
            )),
            &format!(
                "apiVersion: components.panka.io/v1\nkind: {kind}\nmetadata: {{name: {name}, service: {service}}}\nspec: {spec}\n"
            ),
        );
    }

    /// `panka apply --auto-approve`, which must succeed; its output.
    #[allow(dead_code)] // not every test binary applies
    pub fn apply(&self) -> String {
        let (code, out) = self.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "{out}");
        out
    }

    /// A plan that reads AWS first (`--refresh`) must find nothing to do.
    #[allow(dead_code)] // not every test binary plans
    pub fn assert_no_changes(&self) {
        let (code, out) = self.run(&["plan", "--detailed-exitcode", "--refresh"]);
        assert_eq!(code, 0, "{out}");
    }
}

impl Env {
    /// Asserts `secret` appears nowhere panka writes or prints: the local state, the apply
    /// output given, a JSON plan and `panka status`. Returns the state and the status text.
    #[allow(dead_code)] // only the tests that deploy a secret use it
    pub fn assert_secret_absent(&self, secret: &str, applied: &str) -> (String, String) {
        let state = std::fs::read_to_string(self.root().join(".panka/dev/state.json")).unwrap();
        let (_, plan_json) = self.run(&["plan", "--output", "json"]);
        let (_, status) = self.run(&["status"]);
        for (what, text) in [
            ("state", &state),
            ("apply output", &applied.to_string()),
            ("plan", &plan_json),
            ("status", &status),
        ] {
            assert!(!text.contains(secret), "the password appears in the {what}");
        }
        (state, status)
    }
}

/// Runs a boto3 script against the emulator (with `kw` holding the client settings) and parses
/// the JSON it prints.
#[allow(dead_code)] // not every test binary reads AWS back with boto3
pub fn boto(script: &str) -> serde_json::Value {
    let emu = panka_test_support::emulator();
    let full = format!(
        "import boto3, json\nkw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n{script}",
        emu.endpoint
    );
    let out = StdCommand::new(panka_test_support::python())
        .arg("-c")
        .arg(&full)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
