//! `panka init NAME`: a new stack that validates as written, and `panka completions SHELL`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{Cli, CompletionsArgs, InitArgs};

/// The file every scaffolded document points its editor at (`yaml-language-server`).
const SCHEMA_FILE: &str = ".panka.schema.json";

/// Writes the scaffold: `stack.yaml`, one environment, one service with one MicroService.
///
/// `NAME` without a `/` makes `stacks/NAME/` (so that `--stack NAME` finds it); a path makes
/// that folder, named after its last part. The folder must not exist or be empty. Files are
/// written into a sibling folder first and moved into place at the end, so a failure leaves
/// nothing half-written.
///
/// # Errors
/// The name is not a valid stack name, the folder holds files, or a file cannot be written.
pub fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let (dir, name) = target(&args.name)?;
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} already holds files: choose another name or an empty folder",
                dir.display()
            );
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".panka-init-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    for (path, text) in files(&name, &args.environment, &args.region) {
        let path = staging.path().join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("creating {}", folder.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if dir.exists() {
        std::fs::remove_dir(&dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &dir).with_context(|| format!("creating {}", dir.display()))?;
    let stack_arg = if args.name.contains('/') {
        dir.display().to_string()
    } else {
        name.clone()
    };
    println!("Created the stack `{name}` in {}:", dir.display());
    for (path, _) in files(&name, &args.environment, &args.region) {
        println!("  {path}");
    }
    println!();
    println!("Next:");
    println!(
        "  panka validate --stack {stack_arg} -e {}",
        args.environment
    );
    println!("  panka plan --stack {stack_arg} -e {}", args.environment);
    Ok(ExitCode::SUCCESS)
}

/// The folder to create and the stack's name.
fn target(arg: &str) -> anyhow::Result<(PathBuf, String)> {
    let path = Path::new(arg);
    let (dir, name) = if arg.contains('/') {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("`{arg}` does not end in a folder name"))?;
        (path.to_path_buf(), name.to_string())
    } else {
        (Path::new("stacks").join(arg), arg.to_string())
    };
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a stack name: use 1 to 32 lower-case letters, digits and `-`, \
             starting with a letter (it becomes part of every AWS name)"
        );
    }
    Ok((dir, name))
}

/// The scaffold's files, relative to the stack folder.
fn files(name: &str, environment: &str, region: &str) -> Vec<(String, String)> {
    let schema = |depth: usize| {
        format!(
            "# yaml-language-server: $schema={}{SCHEMA_FILE}\n",
            "../".repeat(depth)
        )
    };
    vec![
        (
            SCHEMA_FILE.to_string(),
            panka_format::schema::schema_json().to_string(),
        ),
        (
            "stack.yaml".to_string(),
            format!(
                "{}apiVersion: core.panka.io/v1
kind: Stack
metadata: {{name: {name}}}
spec:
  provider: {{name: aws, region: {region}}}
  # No `backend:`: state and history live under .panka/ beside this file. A team sets
  # `backend: {{s3: {{bucket: ..., lockTable: ...}}}}` and runs `panka backend init`.
  shared:
    # Absent `network:`: the region's default VPC and its subnets.
    loadBalancer:
      scheme: internet-facing
      listeners: [{{port: 80, protocol: HTTP}}]
  deployment: {{parallelism: 10, autoRollback: true}}
",
                schema(0)
            ),
        ),
        (
            format!("environments/{environment}.yaml"),
            format!(
                "{}apiVersion: core.panka.io/v1
kind: Environment
metadata: {{name: {environment}}}
spec:
  variables: {{}}
",
                schema(1)
            ),
        ),
        (
            "services/web/service.yaml".to_string(),
            format!(
                "{}apiVersion: core.panka.io/v1
kind: Service
metadata: {{name: web}}
spec: {{}}
",
                schema(2)
            ),
        ),
        (
            "services/web/components/site/microservice.yaml".to_string(),
            format!(
                "{}apiVersion: components.panka.io/v1
kind: MicroService
metadata: {{name: site, service: web}}
spec:
  image: {{repository: public.ecr.aws/nginx/nginx, tag: stable}}
  ports:
    - {{name: http, port: 80, protocol: HTTP, public: true, path: \"/*\"}}
  healthCheck:
    readiness: {{http: {{path: /, port: 80}}}}
",
                schema(4)
            ),
        ),
    ]
}

/// Prints the completion script of `shell` for panka.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut command = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(args.shell, &mut command, "panka", &mut std::io::stdout());
    ExitCode::SUCCESS
}
