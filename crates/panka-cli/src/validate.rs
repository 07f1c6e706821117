//! `panka validate`: loads a stack for an environment and prints every diagnostic.
//! Exit code 0 when there is no error (warnings allowed), 1 otherwise.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use panka_format::diagnostic::{JsonDiagnostic, render_plain};
use panka_format::{LoadOptions, load};
use serde::Serialize;

use crate::cli::{OutputFormat, ValidateArgs};

/// The JSON document `panka validate --output json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateReport {
    /// Version of this document's shape.
    format_version: u32,
    valid: bool,
    stack: Option<String>,
    environment: String,
    components: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic>,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let options = LoadOptions {
        stack: args.stack.stack.clone(),
        environment: args.stack.environment.clone(),
        vars: args.stack.vars.clone(),
        cwd,
    };
    let loaded = load(&options)?;
    let diags = &loaded.diagnostics;
    let valid = !diags.has_errors();
    match args.output {
        OutputFormat::Json => {
            let report = ValidateReport {
                format_version: 1,
                valid,
                stack: loaded.stack.as_ref().map(|s| s.name.clone()),
                environment: args.stack.environment.clone(),
                components: loaded.stack.as_ref().map_or(0, |s| s.components.len()),
                errors: diags.error_count(),
                warnings: diags.warning_count(),
                diagnostics: diags
                    .items
                    .iter()
                    .map(|d| d.to_json(&loaded.sources))
                    .collect(),
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        OutputFormat::Text => {
            if std::io::stderr().is_terminal() {
                for d in &diags.items {
                    eprintln!("{:?}", d.to_report(&loaded.sources));
                }
            } else {
                eprint!("{}", render_plain(&diags.items, &loaded.sources));
            }
            match &loaded.stack {
                Some(stack) => {
                    let services = stack.services.len();
                    println!(
                        "✓ stack `{}` is valid for environment `{}`: {} service{}, {} component{}{}",
                        stack.name,
                        stack.environment,
                        services,
                        plural(services),
                        stack.components.len(),
                        plural(stack.components.len()),
                        if diags.warning_count() > 0 {
                            format!(
                                ", {} warning{}",
                                diags.warning_count(),
                                plural(diags.warning_count())
                            )
                        } else {
                            String::new()
                        }
                    );
                }
                None => {
                    eprintln!(
                        "✗ {} error{}{}",
                        diags.error_count(),
                        plural(diags.error_count()),
                        if diags.warning_count() > 0 {
                            format!(
                                ", {} warning{}",
                                diags.warning_count(),
                                plural(diags.warning_count())
                            )
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
