//! The plan as text, for people: a header box, the waves with one line per action and its
//! changed fields, a summary of counts, and the estimated monthly cost.

use std::fmt::Write;

use serde_json::Value;

use crate::plan::{ActionKind, Plan};

const WIDTH: usize = 72;

/// Renders `plan` as text. Unchanged resources are counted, not listed.
pub fn render_text(plan: &Plan) -> String {
    let mut s = String::new();
    let rule = "─".repeat(WIDTH - 2);
    let _ = writeln!(s, "┌{rule}┐");
    let title = format!(
        "Plan: {} ({}) · {}",
        plan.stack, plan.environment, plan.region
    );
    let _ = writeln!(
        s,
        "│ {title}{}│",
        " ".repeat((WIDTH - 3).saturating_sub(title.chars().count()))
    );
    if !plan.targeting.is_empty() {
        let t = &plan.targeting;
        let mut parts = Vec::new();
        if !t.services.is_empty() {
            parts.push(format!("services {}", t.services.join(", ")));
        }
        if !t.components.is_empty() {
            parts.push(format!("components {}", t.components.join(", ")));
        }
        if !t.exclude.is_empty() {
            parts.push(format!("excluding {}", t.exclude.join(", ")));
        }
        let line = format!("Targeted: {} (with their dependencies)", parts.join("; "));
        // Long target lists wrap inside the box.
        for chunk in textwrap::wrap(&line, WIDTH - 3) {
            let _ = writeln!(
                s,
                "│ {chunk}{}│",
                " ".repeat((WIDTH - 3).saturating_sub(chunk.chars().count()))
            );
        }
    }
    let _ = writeln!(s, "├{rule}┤");
    if !plan.has_changes() {
        let _ = writeln!(
            s,
            "\nNo changes: the infrastructure matches the configuration ({} resources).\n",
            plan.summary.no_op
        );
    }
    for (i, wave) in plan.waves().iter().enumerate() {
        let changed: Vec<_> = wave
            .iter()
            .filter(|a| a.action != ActionKind::NoOp)
            .collect();
        if changed.is_empty() {
            continue;
        }
        let unchanged = wave.len() - changed.len();
        let _ = write!(s, "\nWave {}", i + 1);
        if changed.len() > 1 {
            let _ = write!(s, " ({} in parallel)", changed.len());
        }
        if unchanged > 0 {
            let _ = write!(s, ", {unchanged} unchanged");
        }
        s.push_str(":\n");
        for a in changed {
            let _ = writeln!(
                s,
                "  {} {} ({}) {}",
                a.action.symbol(),
                a.address,
                a.kind,
                a.action.verb()
            );
            if a.action.is_replace() {
                let _ = writeln!(
                    s,
                    "      forces replacement: {}",
                    a.replace_reasons().join(", ")
                );
            }
            for c in &a.changes {
                let marker = if c.forces_replacement {
                    " (forces replacement)"
                } else if c.applies_at_reboot {
                    " (applied at the next reboot)"
                } else {
                    ""
                };
                if let Some(why) = &c.upstream {
                    let _ = writeln!(s, "      {}: known after apply ({why})", c.path);
                } else if c.sensitive {
                    let _ = writeln!(s, "      {}: (sensitive){marker}", c.path);
                } else {
                    let _ = writeln!(
                        s,
                        "      {}: {} → {}{marker}",
                        c.path,
                        show(c.old.as_ref()),
                        show(c.new.as_ref())
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "\n├{rule}┤");
    let sm = &plan.summary;
    let _ = writeln!(
        s,
        "Summary: + {} to create, ✓ {} to update, ⚠ {} to replace, - {} to delete, {} unchanged",
        sm.create, sm.update, sm.replace, sm.delete, sm.no_op
    );
    let c = &plan.cost;
    let pct = if c.current > 0.0 {
        format!(", {:+.1}%", c.delta / c.current * 100.0)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "\nEstimated monthly cost: ${:.2} → ${:.2} ({}{pct})",
        c.current,
        c.planned,
        money_delta(c.delta)
    );
    for k in &c.by_kind {
        let _ = writeln!(
            s,
            "  {:<22} ${:>9.2} → ${:>9.2}",
            k.kind, k.current, k.planned
        );
    }
    let mut note = format!(
        "  estimate, prices as of {} ({})",
        c.prices_as_of, c.price_region
    );
    if c.price_region != plan.region {
        note.push_str(&format!(", used for {}", plan.region));
    }
    let _ = writeln!(s, "{note}");
    if !c.usage_based.is_empty() {
        let _ = writeln!(
            s,
            "  priced by use, not counted: {}",
            c.usage_based.join(", ")
        );
    }
    if !c.unpriced.is_empty() {
        let _ = writeln!(
            s,
            "  not in the price table, not counted: {}",
            c.unpriced.join(", ")
        );
    }
    let _ = writeln!(s, "└{rule}┘");
    s
}

fn money_delta(d: f64) -> String {
    if d < 0.0 {
        format!("-${:.2}", -d)
    } else {
        format!("+${d:.2}")
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                format!("{}…", text.chars().take(79).collect::<String>())
            } else {
                text
            }
        }
    }
}
