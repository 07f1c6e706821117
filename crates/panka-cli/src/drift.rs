//! `panka drift` (`drift detect`) and `panka drift remediate`: what changed in AWS outside
//! panka, field by field, and a plan that puts it back.
//!
//! Each recorded resource is read back from AWS through its provider (which sees the
//! resource's identity only, never its spec) and compared with what panka applied, like
//! Terraform's `plan -refresh-only`. Fields AWS does not report are counted, not compared;
//! fields AWS manages by design (an autoscaled desired count) are not drift when the recorded
//! settings let AWS manage them. A drifted field that the YAML also changed since the last
//! apply is marked: the next apply sets the YAML's value, not the recorded one.

use std::process::ExitCode;

use panka_plan::diff::FieldChange;

use crate::cli::{DriftArgs, GlobalArgs, OutputFormat};
use crate::state_cmd::{current, open};

/// One drifted field.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DriftedField {
    #[serde(flatten)]
    pub change: FieldChange,
    /// The YAML changed this field too since the last apply: its value there (omitted for
    /// sensitive fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured: Option<serde_json::Value>,
    /// Whether the YAML changed this field since the last apply.
    pub changed_in_configuration: bool,
}

/// What `panka drift` found for one recorded resource.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Drifted {
    pub address: String,
    pub kind: String,
    /// `drifted`, `missing`, `in-sync`, or `unchecked` (unreadable).
    pub status: &'static str,
    /// Recorded (old) → live (new), per field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<DriftedField>,
    /// Fields AWS does not report (their recorded values are assumed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unobserved: Vec<String>,
    /// Fields AWS manages that the recorded settings let it manage (not drift).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Reads every recorded resource (of `services`, when given) and compares it with the state.
pub(crate) async fn detect(
    stack: &panka_format::Stack,
    state: &panka_state::State,
    services: &[String],
    global: &GlobalArgs,
) -> anyhow::Result<Vec<Drifted>> {
    let visited = crate::plan::visit_recorded(
        stack,
        &state.resources,
        |address| {
            let service = address.split('/').next().unwrap_or_default();
            services.is_empty() || services.iter().any(|s| s == service)
        },
        global,
        |provider, req, r| async move {
            let recorded = panka_engine::Recorded {
                ids: &r.physical_ids,
                outputs: &r.outputs,
            };
            let read = provider.read(&req, recorded).await;
            (read, r)
        },
    )
    .await?;
    let desired = panka_plan::desired::ConfigBuilder::new(stack);
    let mut found = Vec::new();
    for (address, visit) in visited {
        let kind_of = |address: &str| {
            state
                .resources
                .get(address)
                .map(|r| r.kind.clone())
                .unwrap_or_default()
        };
        let unchecked = |reason: String| Drifted {
            address: address.clone(),
            kind: kind_of(&address),
            status: "unchecked",
            changes: Vec::new(),
            unobserved: Vec::new(),
            managed: Vec::new(),
            reason: Some(reason),
        };
        let (read, r) = match visit {
            crate::plan::Visit::NoProvider => {
                found.push(unchecked(format!("no provider for {}", kind_of(&address))));
                continue;
            }
            crate::plan::Visit::Unresolved(e) => {
                found.push(unchecked(e));
                continue;
            }
            crate::plan::Visit::Done(done) => done,
        };
        let kind = panka_graph::ResourceKind::parse(&r.kind)
            .unwrap_or(panka_graph::ResourceKind::SharedCluster);
        let mut entry = Drifted {
            address: address.clone(),
            kind: r.kind.clone(),
            status: "in-sync",
            changes: Vec::new(),
            unobserved: Vec::new(),
            managed: Vec::new(),
            reason: None,
        };
        match read {
            Ok(None) => {
                entry.status = "missing";
                entry.reason = Some("deleted outside panka".to_string());
            }
            Ok(Some(observed)) => {
                let config = r.config.value();
                // Infra is compared when the kind's read reports it.
                let compared = |c: &serde_json::Value, spec: serde_json::Value| {
                    let mut v = serde_json::json!({"spec": spec});
                    if observed.infra.is_some()
                        && let Some(i) = c.get("infra")
                    {
                        v["infra"] = i.clone();
                    }
                    v
                };
                let recorded = compared(&config, panka_engine::observe::settings(&config));
                let mut live = serde_json::json!({"spec": observed.spec});
                if let Some(i) = &observed.infra {
                    live["infra"] = i.clone();
                }
                // What the YAML says now, for the three-way view.
                let wanted = desired.config(&address);
                let configured = (!wanted.is_null())
                    .then(|| compared(&wanted, panka_engine::observe::settings(&wanted)));
                let in_yaml: Vec<FieldChange> = configured
                    .as_ref()
                    .map(|c| panka_plan::diff::diff(&recorded, c, kind))
                    .unwrap_or_default();
                entry.changes = panka_plan::diff::diff(&recorded, &live, kind)
                    .into_iter()
                    .map(|change| {
                        let yaml = in_yaml.iter().find(|c| c.path == change.path);
                        DriftedField {
                            configured: yaml.and_then(|c| c.new.clone()),
                            changed_in_configuration: yaml.is_some(),
                            change,
                        }
                    })
                    .collect();
                entry.unobserved = observed.unobserved;
                entry.managed = observed.managed;
                if !entry.changes.is_empty() {
                    entry.status = "drifted";
                }
            }
            Err(e) => {
                entry.status = "unchecked";
                entry.reason = Some(e.chain());
            }
        }
        found.push(entry);
    }
    found.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(found)
}

/// `panka drift` / `panka drift detect`.
pub async fn drift(args: &DriftArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (stack, backends) = open(&args.stack, global).await?;
    let state = current(&backends).await?;
    let found = detect(&stack, &state, &args.services, global).await?;
    let count = |s: &str| found.iter().filter(|d| d.status == s).count();
    let (drifted, missing) = (count("drifted"), count("missing"));
    let unobserved: usize = found.iter().map(|d| d.unobserved.len()).sum();
    let managed: usize = found.iter().map(|d| d.managed.len()).sum();
    if args.output == OutputFormat::Json {
        let doc = serde_json::json!({
            "stack": stack.name, "environment": stack.environment,
            "drifted": drifted, "missing": missing, "inSync": count("in-sync"), "unchecked": count("unchecked"),
            "unobservedFields": unobserved, "managedFields": managed,
            "resources": found,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", render(&found));
        println!(
            "Drift: {drifted} drifted, {missing} missing, {} in sync, {} not checked (recorded → live); {unobserved} field(s) AWS does not report were not compared, {managed} managed by AWS. `panka drift remediate` puts drifted resources back to the YAML.",
            count("in-sync"),
            count("unchecked")
        );
    }
    if args.detailed_exitcode && drifted + missing > 0 {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// The text report: each drifted, missing or unchecked resource with its fields.
pub(crate) fn render(found: &[Drifted]) -> String {
    use std::fmt::Write;
    let show =
        |v: &Option<serde_json::Value>| v.as_ref().map_or("(none)".to_string(), |v| v.to_string());
    let mut out = String::new();
    for d in found {
        match d.status {
            "drifted" => {
                let _ = writeln!(out, "  ~ {} ({}) drifted", d.address, d.kind);
                for f in &d.changes {
                    let c = &f.change;
                    let line = if c.sensitive {
                        format!("      {}: (sensitive)", c.path)
                    } else {
                        format!("      {}: {} → {}", c.path, show(&c.old), show(&c.new))
                    };
                    let _ = if f.changed_in_configuration {
                        writeln!(
                            out,
                            "{line}   (the YAML changed it too: the next apply sets {})",
                            if c.sensitive {
                                "(sensitive)".to_string()
                            } else {
                                show(&f.configured)
                            }
                        )
                    } else {
                        writeln!(out, "{line}")
                    };
                }
            }
            "missing" => {
                let _ = writeln!(out, "  - {} ({}) is gone from AWS", d.address, d.kind);
            }
            "unchecked" => {
                let _ = writeln!(
                    out,
                    "  ? {} ({}) not checked: {}",
                    d.address,
                    d.kind,
                    d.reason.as_deref().unwrap_or("unreadable")
                );
            }
            _ => {}
        }
    }
    out
}
