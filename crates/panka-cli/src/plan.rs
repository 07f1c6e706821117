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

/// How many recorded resources are read from AWS at once (refresh, status, drift).
const READ_CONCURRENCY: usize = 16;

/// What a pass over the recorded resources found for one of them.
pub(crate) enum Visit<T> {
    /// The provider's answer.
    Done(T),
    /// No provider for the kind yet.
    NoProvider,
    /// The request could not be built (a reference without a value).
    Unresolved(String),
}

/// Runs `visit` with the provider and request of every recorded resource (those in
/// `addresses`), at most [`READ_CONCURRENCY`] at a time; the results in address order.
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
    let outputs = recorded_outputs(resources);
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(READ_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let mut found = Vec::new();
    for (address, r) in resources.iter().filter(|(a, _)| addresses(a)) {
        let Some(provider) = registry.get(&r.kind) else {
            found.push((address.clone(), Visit::NoProvider));
            continue;
        };
        let req = match panka_engine::resolve::request(
            address,
            &r.kind,
            &r.config.value(),
            &outputs,
            &stack.region,
        ) {
            Ok(req) => req,
            Err(e) => {
                found.push((address.clone(), Visit::Unresolved(e)));
                continue;
            }
        };
        let (address, r, limit, visit) = (address.clone(), r.clone(), limit.clone(), visit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (address, Visit::Done(visit(provider, req, r).await))
        });
    }
    while let Some(done) = tasks.join_next().await {
        found.push(done?);
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The outputs of every recorded resource, for resolving references in provider requests.
pub(crate) fn recorded_outputs(
    resources: &imbl::OrdMap<String, std::sync::Arc<panka_state::ResourceState>>,
) -> std::collections::HashMap<String, std::collections::BTreeMap<String, String>> {
    resources
        .iter()
        .map(|(k, r)| (k.clone(), r.outputs.clone()))
        .collect()
}

/// Replaces each recorded resource's configuration with what AWS reports, so that the plan
/// shows drift as changes; a resource gone from AWS leaves the state (and is created again).
pub(crate) async fn refresh(
    stack: &Stack,
    state: &mut State,
    global: &GlobalArgs,
) -> anyhow::Result<()> {
    let read = visit_recorded(
        stack,
        &state.resources,
        |_| true,
        global,
        |provider, req, r| async move { provider.read(&req, &r.physical_ids).await },
    )
    .await?;
    let mut unread = Vec::new();
    for (address, visit) in read {
        match visit {
            Visit::Done(Ok(Some(observed))) => {
                if let Some(r) = state.resources.get_mut(address.as_str()) {
                    let r = std::sync::Arc::make_mut(r);
                    // Shared resources keep their settings at the top level, not under `spec`.
                    r.config.edit(|config| {
                        if let Some(spec) = config.get_mut("spec") {
                            *spec = observed.spec;
                        }
                    });
                    r.outputs = observed.outcome.outputs;
                }
            }
            Visit::Done(Ok(None)) => {
                eprintln!("{address} no longer exists in AWS: the plan creates it again.");
                state.resources.remove(address.as_str());
            }
            Visit::Done(Err(e)) => bail!("reading {address} from AWS: {}", e.chain()),
            Visit::Unresolved(e) => bail!("reading {address} from AWS: {e}"),
            Visit::NoProvider => unread.push(address),
        }
    }
    if !unread.is_empty() {
        eprintln!(
            "Not refreshed (no provider for their kind yet): {}",
            unread.join(", ")
        );
    }
    Ok(())
}
