//! `panka plan` and `panka graph`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use panka_format::Stack;
use panka_graph::ResourceGraph;
use panka_plan::{PlanError, PlanOptions, plan, render_text};
use panka_state::State;

use crate::backend::Backends;
use crate::cli::{GlobalArgs, GraphArgs, GraphFormat, OutputFormat, PlanArgs};
use crate::stack::{Reported, load_valid};

/// Reads the state a plan compares against: `--state FILE`, or the stack's backend.
async fn read_state(
    stack: &Stack,
    explicit: Option<&Path>,
    global: &GlobalArgs,
) -> anyhow::Result<Option<State>> {
    let Some(path) = explicit else {
        let backends = Backends::for_stack(stack, global).await;
        let stored = backends.state.read(&backends.key).await.with_context(|| {
            format!(
                "reading state from {}",
                backends.state.describe(&backends.key)
            )
        })?;
        return Ok(stored.map(|s| s.state));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading state {}", path.display()))?;
    let state: State =
        serde_json::from_str(&text).with_context(|| format!("parsing state {}", path.display()))?;
    if state.format_version > panka_state::FORMAT_VERSION {
        bail!(
            "state {} has format version {}, newer than this panka understands ({})",
            path.display(),
            state.format_version,
            panka_state::FORMAT_VERSION
        );
    }
    Ok(Some(state))
}

pub async fn run(args: &PlanArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(&args.stack)?;
    let mut policies = crate::policy::load(&args.policy)?;
    let mut state = read_state(&stack, args.state.as_deref(), global).await?;
    if args.refresh
        && let Some(s) = &mut state
    {
        refresh(&stack, s, global).await?;
    }
    let options = PlanOptions {
        targeting: args.target.targeting(),
        allow_destroy: args.target.allow_destroy.clone(),
        destroying: false,
    };
    let plan = match plan(&stack, state.as_ref(), &options) {
        Ok(p) => p,
        Err(e @ PlanError::ProtectedDestroy(_)) => {
            eprintln!("error: {e}");
            return Err(Reported("plan refused".into()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let json = serde_json::to_string_pretty(&plan)?;
    // The plan is shown whatever the policies say; a denied plan is not saved.
    match args.output {
        OutputFormat::Json => {
            println!("{json}");
            crate::policy::check(&mut policies, &plan, "plan", &mut std::io::stderr())?;
        }
        OutputFormat::Text => {
            print!("{}", render_text(&plan));
            crate::policy::check(&mut policies, &plan, "plan", &mut std::io::stdout())?;
        }
    }
    // Creates whose AWS name a resource panka does not own already has: the apply would stop
    // there. Looked up where this plan talks to AWS anyway (state in S3, or --refresh).
    if args.state.is_none() && (stack.backend.is_some() || args.refresh) {
        let registry = providers(&stack, global).await;
        for conflict in
            panka_deploy::conflicts::creates_in_conflict(&plan, &registry, &stack.region).await
        {
            eprintln!(
                "warning: {}: {} (an apply of this plan fails there)",
                conflict.address, conflict.message
            );
        }
    }
    if let Some(out) = &args.out {
        write_atomically(out, json.as_bytes())
            .with_context(|| format!("writing the plan to {}", out.display()))?;
        if args.output == OutputFormat::Text {
            println!(
                "Plan saved to {}; apply exactly this plan with `panka apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes through a temporary file and a rename, so a crash never leaves half a plan.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("plan")
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

pub fn graph(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(&args.stack)?;
    let graph = ResourceGraph::from_stack(&stack)?;
    match args.format {
        GraphFormat::Dot => print!("{}", graph.to_dot()),
        GraphFormat::Mermaid => print!("{}", graph.to_mermaid()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Every provider, with AWS clients for the stack's region (and `--endpoint-url`).
pub(crate) async fn providers(stack: &Stack, global: &GlobalArgs) -> panka_engine::Registry {
    let aws = panka_aws::Aws::load(&panka_aws::AwsOptions {
        region: Some(stack.region.clone()),
        endpoint_url: global.endpoint_url.clone(),
    })
    .await;
    panka_providers::registry(&aws)
}

pub(crate) use panka_deploy::refresh::Visit;

/// Runs `visit` with the provider and request of every recorded resource (those in
/// `addresses`), a bounded number at a time; the results in address order
/// (`panka_deploy::refresh::visit_recorded` with the stack's providers).
pub(crate) async fn visit_recorded<T, F, Fut>(
    stack: &Stack,
    resources: &imbl::OrdMap<String, std::sync::Arc<panka_state::ResourceState>>,
    addresses: impl Fn(&str) -> bool,
    global: &GlobalArgs,
    visit: F,
) -> anyhow::Result<Vec<(String, Visit<T>)>>
where
    T: Send + 'static,
    F: Fn(
            std::sync::Arc<dyn panka_engine::Provider>,
            panka_engine::Request,
            std::sync::Arc<panka_state::ResourceState>,
        ) -> Fut
        + Clone
        + Send
        + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let registry = providers(stack, global).await;
    Ok(
        panka_deploy::refresh::visit_recorded(
            &registry,
            &stack.region,
            resources,
            addresses,
            visit,
        )
        .await?,
    )
}

/// The outputs of every recorded resource, for resolving references in provider requests.
pub(crate) fn recorded_outputs(
    resources: &imbl::OrdMap<String, std::sync::Arc<panka_state::ResourceState>>,
) -> std::collections::HashMap<String, std::collections::BTreeMap<String, String>> {
    panka_deploy::refresh::recorded_outputs(resources)
}

/// Replaces each recorded resource's configuration with what AWS reports, so that the plan
/// shows drift as changes; a resource gone from AWS leaves the state (and is created again).
pub(crate) async fn refresh(
    stack: &Stack,
    state: &mut State,
    global: &GlobalArgs,
) -> anyhow::Result<()> {
    let registry = providers(stack, global).await;
    let refreshed = panka_deploy::refresh::refresh(&registry, &stack.region, state).await?;
    for address in &refreshed.gone {
        eprintln!("{address} no longer exists in AWS: the plan creates it again.");
    }
    if !refreshed.unread.is_empty() {
        eprintln!(
            "Not refreshed (no provider for their kind yet): {}",
            refreshed.unread.join(", ")
        );
    }
    Ok(())
}
