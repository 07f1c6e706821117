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
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if verdict.denials.is_empty() && verdict.warnings.is_empty() {
        writeln!(out, "Policies: passed.")?;
    } else {
        writeln!(
            out,
            "Policies: {}, {}.",
            count(verdict.denials.len(), "denial", "denials"),
            count(verdict.warnings.len(), "warning", "warnings")
        )?;
        for line in verdict.render().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if verdict.is_denied() {
        eprintln!(
            "error: the {what} is denied by {}",
            count(verdict.denials.len(), "policy rule", "policy rules")
        );
        return Err(Reported(format!("{what} denied by policy")).into());
    }
    Ok(verdict)
}
