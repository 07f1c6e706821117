//! Loading the stack a command works on, printing its diagnostics.

use std::io::IsTerminal;

use anyhow::Context;
use panka_format::diagnostic::render_plain;
use panka_format::{LoadOptions, Loaded, Stack, load};

use crate::cli::StackArgs;

/// An error already shown to the user; the process exits with 1 and prints nothing more.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// Loads and validates the stack named by `args`.
///
/// # Errors
/// The stack cannot be found or read.
pub fn load_stack(args: &StackArgs) -> anyhow::Result<Loaded> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let options = LoadOptions {
        stack: args.stack.clone(),
        environment: args.environment.clone(),
        vars: args.vars.clone(),
        cwd,
    };
    Ok(load(&options)?)
}

/// Prints diagnostics to stderr: coloured with snippets on a terminal, plain otherwise.
pub fn print_diagnostics(loaded: &Loaded) {
    if std::io::stderr().is_terminal() {
        for d in &loaded.diagnostics.items {
            eprintln!("{:?}", d.to_report(&loaded.sources));
        }
    } else {
        eprint!(
            "{}",
            render_plain(&loaded.diagnostics.items, &loaded.sources)
        );
    }
}

/// Loads the stack; when it is invalid, prints why and fails with [`Reported`].
///
/// # Errors
/// The stack cannot be read, or is invalid.
pub fn load_valid(args: &StackArgs) -> anyhow::Result<Stack> {
    let loaded = load_stack(args)?;
    if loaded.diagnostics.has_errors() || loaded.stack.is_none() {
        print_diagnostics(&loaded);
        let n = loaded.diagnostics.error_count();
        return Err(Reported(format!(
            "the stack is invalid: {n} error{}; see `panka validate`",
            if n == 1 { "" } else { "s" }
        ))
        .into());
    }
    if !loaded.diagnostics.items.is_empty() {
        print_diagnostics(&loaded);
    }
    let mut stack = loaded.stack.expect("checked above");
    override_backend(&mut stack, args)?;
    Ok(stack)
}

/// `--state-bucket` and `--lock-table` (or `PANKA_STATE_BUCKET`, `PANKA_LOCK_TABLE`) over the
/// backend stack.yaml names.
fn override_backend(stack: &mut Stack, args: &StackArgs) -> anyhow::Result<()> {
    if args.state_bucket.is_none() && args.lock_table.is_none() {
        return Ok(());
    }
    let current = stack.backend.as_ref().map(|b| b.s3.clone());
    let bucket = args
        .state_bucket
        .clone()
        .or_else(|| current.as_ref().map(|b| b.bucket.clone()));
    let lock_table = args
        .lock_table
        .clone()
        .or_else(|| current.as_ref().map(|b| b.lock_table.clone()));
    let (Some(bucket), Some(lock_table)) = (bucket, lock_table) else {
        anyhow::bail!(
            "an S3 backend needs both a state bucket and a lock table: pass --state-bucket and --lock-table (or set PANKA_STATE_BUCKET and PANKA_LOCK_TABLE)"
        );
    };
    stack.backend = Some(panka_format::model::Backend {
        s3: panka_format::model::S3Backend {
            bucket,
            lock_table,
            region: current.as_ref().and_then(|b| b.region.clone()),
            prefix: current.and_then(|b| b.prefix),
        },
    });
    Ok(())
}
