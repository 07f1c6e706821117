//! `--policy`: Rego policies that judge a plan before it is saved or applied.

use std::io::Write;

use panka_plan::Plan;
use panka_policy::{Policies, Verdict};

use crate::cli::PolicyArgs;
use crate::stack::Reported;

/// Loads the policies `--policy` names (none: every plan passes).
///
/// # Errors
/// A path that cannot be read or a policy that does not parse.
pub fn load(args: &PolicyArgs) -> anyhow::Result<Policies> {
    if args.paths.is_empty() {
        return Ok(Policies::none());
    }
    Ok(Policies::load(&args.paths)?)
}

/// Writes what the policies said.
pub fn show(verdict: &Verdict, out: &mut dyn Write) {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    // A closed stdout (a pipe to `head`) is not worth failing the run for.
    let _ = if verdict.denials.is_empty() && verdict.warnings.is_empty() {
        writeln!(out, "Policies: passed.")
    } else {
        writeln!(
            out,
            "Policies: {}, {}.",
            count(verdict.denials.len(), "denial", "denials"),
            count(verdict.warnings.len(), "warning", "warnings")
        )
        .and_then(|()| {
            verdict
                .render()
                .lines()
                .try_for_each(|line| writeln!(out, "  {line}"))
        })
    };
}

/// Judges `plan`, writes what the policies say to `out`, and fails when one denies it.
///
/// # Errors
/// A rule that cannot be evaluated, or [`Reported`] when the plan is denied (`what` names what
/// is refused: "plan", "apply").
pub fn check(
    policies: &mut Policies,
    plan: &Plan,
    what: &str,
    out: &mut dyn Write,
) -> anyhow::Result<Verdict> {
    if policies.is_empty() {
        return Ok(Verdict::default());
    }
    let verdict = policies.evaluate(&serde_json::to_value(plan)?)?;
    show(&verdict, out);
    if verdict.is_denied() {
        let n = verdict.denials.len();
        eprintln!(
            "error: the {what} is denied by {n} policy rule{}",
            if n == 1 { "" } else { "s" }
        );
        return Err(Reported(format!("{what} denied by policy")).into());
    }
    Ok(verdict)
}
