//! `panka apply` and `panka destroy`: plan, show, approve, execute under a lock, record.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use panka_backend::{Changes, LockScope, commit, ops};
use panka_engine::{Event, ExecuteOptions, Outcome, Registry, execute, recover};
use panka_format::Stack;
use panka_plan::{ActionKind, Plan, PlanError, PlanOptions, Targeting, plan, render_text};
use panka_state::{DeploymentResult, State};

use crate::backend::{Backends, deployment};
use crate::cli::{ApplyArgs, DestroyArgs, GlobalArgs, RollbackArgs, TargetArgs};
use crate::stack::{Reported, load_valid};

/// A single targeted service takes that service's lock; anything else locks the whole stack.
fn lock_scope(t: &TargetArgs) -> LockScope {
    match (t.service.as_slice(), t.component.is_empty()) {
        ([one], true) => LockScope::Service(one.clone()),
        _ => LockScope::Stack,
    }
}

pub async fn apply(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(&args.stack)?;
    let policies = crate::policy::load(&args.policy)?;
    let saved = match &args.plan_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the plan {}", path.display()))?;
            let p: Plan = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a panka plan", path.display()))?;
            if p.format_version != panka_plan::PLAN_FORMAT_VERSION {
                bail!(
                    "{} is plan format {}, this panka applies format {}",
                    path.display(),
                    p.format_version,
                    panka_plan::PLAN_FORMAT_VERSION
                );
            }
            if p.stack != stack.name || p.environment != stack.environment {
                bail!(
                    "{} is a plan for {}/{}, not {}/{}",
                    path.display(),
                    p.stack,
                    p.environment,
                    stack.name,
                    stack.environment
                );
            }
            Some(p)
        }
        None => None,
    };
    let options = PlanOptions {
        targeting: args.target.targeting(),
        allow_destroy: args.target.allow_destroy.clone(),
    };
    let parallelism = args
        .parallelism
        .unwrap_or(stack.deployment.parallelism as usize);
    run(
        "apply",
        &stack,
        global,
        &args.target,
        RunOptions {
            auto_approve: args.auto_approve,
            refresh: args.refresh && saved.is_none(),
            parallelism,
            policies,
        },
        |state| match &saved {
            Some(p) => {
                p.check_state(state)?;
                Ok(p.clone())
            }
            None => plan(&stack, state, &options),
        },
    )
    .await
}

pub async fn destroy(args: &DestroyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(&args.stack)?;
    // Destroying is planning against a stack with no components (in scope).
    let kept = kept_by_exclude(&stack, &args.target.exclude)?;
    let mut empty = stack.clone();
    let everything = args.target.service.is_empty() && args.target.component.is_empty();
    empty.components.retain(|a, _| {
        kept.contains(&a.to_string())
            || (!everything
                && !args.target.service.contains(&a.service)
                && !args.target.component.contains(&a.to_string()))
    });
    let options = PlanOptions {
        targeting: Targeting::default(),
        allow_destroy: args.target.allow_destroy.clone(),
    };
    let parallelism = args
        .parallelism
        .unwrap_or(stack.deployment.parallelism as usize);
    let code = run(
        "destroy",
        &stack,
        global,
        &args.target,
        RunOptions {
            auto_approve: args.auto_approve,
            refresh: false,
            parallelism,
            policies: crate::policy::load(&args.policy)?,
        },
        |state| {
            let mut p = plan(&empty, state, &options)?;
            // Keep only deletes (a partial destroy leaves the rest as it is).
            p.actions.retain(|a| a.action == ActionKind::Delete);
            p.summary = panka_plan::Summary {
                delete: p.actions.len(),
                ..panka_plan::Summary::default()
            };
            Ok(p)
        },
    )
    .await?;
    Ok(code)
}

/// `panka rollback`: the resources go back to the configuration the chosen deployment left
/// (by default the successful apply before the latest one), under the stack lock, recorded as a
/// deployment of its own. The YAML is not changed: the next `panka apply` goes forward again.
pub async fn rollback(args: &RollbackArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(&args.stack)?;
    let backends = Backends::for_stack(&stack, global).await;
    let history = backends.state.history(&backends.key).await?;
    let applied: Vec<&panka_backend::HistoryEntry> = history
        .iter()
        .filter(|h| {
            matches!(h.deployment.operation.as_str(), "apply" | "rollback")
                && h.deployment.result == DeploymentResult::Succeeded
        })
        .collect();
    let entry = match &args.to {
        Some(id) => history
            .iter()
            .find(|h| h.deployment.id == *id)
            .ok_or_else(|| {
                anyhow::anyhow!("no deployment `{id}` in the history; `panka history` lists them")
            })?,
        None => match applied.len() {
            0 | 1 => bail!(
                "there is no earlier successful apply to go back to; `panka history` lists the deployments"
            ),
            n => applied[n - 2],
        },
    };
    println!(
        "Rolling back to deployment {} ({} at {} by {}).",
        entry.deployment.id,
        entry.deployment.operation,
        entry.deployment.finished_at,
        entry.deployment.who
    );
    let target_state = entry.state.clone();
    let options = PlanOptions {
        targeting: panka_plan::Targeting::default(),
        allow_destroy: args.allow_destroy.clone(),
    };
    let parallelism = args
        .parallelism
        .unwrap_or(stack.deployment.parallelism as usize);
    let target = TargetArgs {
        service: Vec::new(),
        component: Vec::new(),
        exclude: Vec::new(),
        allow_destroy: args.allow_destroy.clone(),
    };
    let code = run(
        "rollback",
        &stack,
        global,
        &target,
        RunOptions {
            auto_approve: args.auto_approve,
            refresh: false,
            parallelism,
            // A rollback goes back to a configuration that was applied before.
            policies: panka_policy::Policies::none(),
        },
        |state| match state {
            Some(current) => panka_plan::rollback_plan(&stack, current, &target_state, &options),
            None => panka_plan::rollback_plan(&stack, &target_state, &target_state, &options),
        },
    )
    .await?;
    Ok(code)
}

/// What `destroy --exclude` keeps: the excluded services and components, and everything they
/// depend on (a kept component must not lose what it uses).
fn kept_by_exclude(
    stack: &panka_format::Stack,
    exclude: &[String],
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let mut todo: Vec<String> = Vec::new();
    for x in exclude {
        let matched: Vec<String> = stack
            .components
            .keys()
            .filter(|a| a.to_string() == *x || a.service == *x)
            .map(|a| a.to_string())
            .collect();
        if matched.is_empty() {
            bail!("`--exclude {x}`: no service or component of that name in this stack");
        }
        todo.extend(matched);
    }
    let mut kept = std::collections::BTreeSet::new();
    while let Some(a) = todo.pop() {
        if !kept.insert(a.clone()) {
            continue;
        }
        if let Some(c) = stack
            .components
            .values()
            .find(|c| c.address.to_string() == a)
        {
            todo.extend(c.depends_on.iter().map(ToString::to_string));
            todo.extend(c.references.iter().map(|r| r.target.to_string()));
        }
    }
    Ok(kept)
}

/// The service lock that serializes creating and changing the stack's shared resources.
const SHARED_LOCK: &str = "_shared";
/// How long a service apply waits for another one to finish the shared resources: creating a
/// load balancer takes a few minutes.
const SHARED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The plan's actions on the stack's shared resources, and the others.
fn split_shared(plan: &Plan) -> (Plan, Plan) {
    let is_shared =
        |a: &panka_plan::Action| a.address.starts_with(panka_engine::resolve::SHARED_PREFIX);
    let mut shared = plan.clone();
    shared.actions.retain(|a| is_shared(a));
    let mut rest = plan.clone();
    rest.actions.retain(|a| !is_shared(a));
    (shared, rest)
}

/// One report of two runs made one after the other.
fn merge_reports(
    first: panka_engine::Report,
    second: panka_engine::Report,
) -> panka_engine::Report {
    let mut results = first.results;
    results.extend(second.results);
    let (a, b) = (first.counts, second.counts);
    panka_engine::Report {
        results,
        counts: panka_state::ChangeCounts {
            created: a.created + b.created,
            updated: a.updated + b.updated,
            replaced: a.replaced + b.replaced,
            deleted: a.deleted + b.deleted,
            failed: a.failed + b.failed,
        },
        cancelled: first.cancelled || second.cancelled,
        state: second.state.or(first.state),
        writes: first.writes + second.writes,
    }
}

/// How a run goes: ask or not, refresh or not, how many at once, which policies judge it.
struct RunOptions {
    auto_approve: bool,
    refresh: bool,
    parallelism: usize,
    policies: panka_policy::Policies,
}

/// Shared by apply and destroy.
async fn run(
    operation: &str,
    stack: &Stack,
    global: &GlobalArgs,
    target: &TargetArgs,
    run_options: RunOptions,
    make_plan: impl Fn(Option<&State>) -> Result<Plan, PlanError>,
) -> anyhow::Result<ExitCode> {
    let RunOptions {
        auto_approve,
        refresh,
        parallelism,
        mut policies,
    } = run_options;
    if !auto_approve && !std::io::stdin().is_terminal() {
        bail!(
            "refusing to ask for approval without a terminal on stdin; review the plan with `panka plan` and pass --auto-approve"
        );
    }
    let backends = Backends::for_stack(stack, global).await;
    backends.check().await?;
    let registry = crate::plan::providers(stack, global).await;
    let scope = lock_scope(target);
    let guard = backends
        .lock(scope.clone(), operation, global.lock_timeout)
        .await?;
    let result = run_locked(
        operation,
        stack,
        global,
        &scope,
        &backends,
        &registry,
        auto_approve,
        refresh,
        parallelism,
        &mut policies,
        &make_plan,
    )
    .await;
    let released = guard.release().await;
    let code = result?;
    released.context("releasing the lock")?;
    Ok(code)
}

#[allow(clippy::too_many_arguments)]
async fn run_locked(
    operation: &str,
    stack: &Stack,
    global: &GlobalArgs,
    scope: &LockScope,
    backends: &Backends,
    registry: &Registry,
    auto_approve: bool,
    refresh: bool,
    parallelism: usize,
    policies: &mut panka_policy::Policies,
    make_plan: &impl Fn(Option<&State>) -> Result<Plan, PlanError>,
) -> anyhow::Result<ExitCode> {
    let (started, started_at) = (Instant::now(), panka_backend::now_rfc3339());
    let mut state = backends.state.read(&backends.key).await?.map(|s| s.state);

    // A previous run that was killed left intents: find their resources before planning.
    // Only intents this run's lock covers can be left over from a dead run: under a service
    // lock, another service's intents may belong to an apply running right now.
    let orphaned = state.as_ref().map(|s| {
        let mut s = s.clone();
        s.pending.retain(|i| match scope {
            LockScope::Stack => true,
            LockScope::Service(svc) => i.address.split('/').next() == Some(svc.as_str()),
        });
        s
    });
    if let Some(s) = &orphaned
        && !s.pending.is_empty()
    {
        eprintln!(
            "Resolving {} operation{} a previous run left unfinished…",
            s.pending.len(),
            if s.pending.len() == 1 { "" } else { "s" }
        );
        let (changes, recovered) = recover(s, registry, &stack.region)
            .await
            .map_err(anyhow::Error::msg)?;
        for r in &recovered {
            eprintln!(
                "  {} ({:?}): {}",
                r.address,
                r.operation,
                if r.found {
                    "found in AWS, adopted"
                } else {
                    "not in AWS"
                }
            );
        }
        commit(&backends.state, &backends.key, Some(&s.lineage), &changes).await?;
        state = backends.state.read(&backends.key).await?.map(|s| s.state);
    }

    // With --refresh the plan compares against what AWS reports; the recorded state keeps its
    // ids and is updated by the actions as usual.
    let mut compared = state.clone();
    if refresh && let Some(s) = &mut compared {
        crate::plan::refresh(stack, s, global).await?;
    }
    let plan = match make_plan(compared.as_ref()) {
        Ok(p) => p,
        Err(e @ PlanError::ProtectedDestroy(_)) => {
            eprintln!("error: {e}");
            return Err(Reported(format!("{operation} refused")).into());
        }
        Err(e) => return Err(e.into()),
    };
    // A service lock covers that service only: changing another service's resources (a
    // dependency that comes along with targeting) needs them applied first, or the stack lock.
    // The stack's shared cluster and load balancer are the exception: a service apply creates or
    // updates them when it needs them (their providers converge by name, so two service applies
    // doing so at once end with one of each), but never deletes them.
    if let LockScope::Service(svc) = scope {
        let outside: Vec<String> = plan
            .actions
            .iter()
            .filter(|a| {
                let shared_ok = a.address.starts_with(panka_engine::resolve::SHARED_PREFIX)
                    && matches!(a.action, ActionKind::Create | ActionKind::Update);
                a.action != ActionKind::NoOp
                    && !shared_ok
                    && a.address.split('/').next() != Some(svc.as_str())
            })
            .map(|a| format!("{} ({})", a.address, a.action.verb()))
            .collect();
        if !outside.is_empty() {
            bail!(
                "this apply holds the lock of service `{svc}` only, but its plan also changes {}; apply those first, or run without --service to lock the whole stack",
                outside.join(", ")
            );
        }
    }
    print!("{}", render_text(&plan));
    crate::policy::check(policies, &plan, operation, &mut std::io::stdout())?;
    if !plan.has_changes() {
        println!("Nothing to do.");
        return Ok(ExitCode::SUCCESS);
    }
    if !auto_approve {
        let question = format!(
            "{} these changes to {}/{}?",
            if operation == "destroy" {
                "Destroy with"
            } else {
                "Apply"
            },
            stack.name,
            stack.environment
        );
        let yes = tokio::task::spawn_blocking(move || {
            dialoguer::Confirm::new()
                .with_prompt(question)
                .default(false)
                .interact()
        })
        .await??;
        if !yes {
            println!("Nothing applied.");
            return Ok(ExitCode::SUCCESS);
        }
    }

    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\nInterrupted: no new action will start; waiting for the running ones to finish and saving state…"
            );
            let _ = cancel_tx.send(true);
        }
    });
    let options = ExecuteOptions {
        parallelism: parallelism.max(1),
        region: stack.region.clone(),
        deployment_id: format!("d-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
    };
    println!();
    let display: Arc<dyn Fn(Event) + Send + Sync> = if std::io::stdout().is_terminal() {
        let live = Arc::new(LiveDisplay::new());
        Arc::new(move |e| live.show(e))
    } else {
        Arc::new(show_event)
    };
    // Under a service lock, the stack's shared resources are applied first and on their own,
    // under the `_shared` lock, so that two service applies never create them at once.
    let shared_first = matches!(scope, LockScope::Service(_))
        && plan.actions.iter().any(|a| {
            a.address.starts_with(panka_engine::resolve::SHARED_PREFIX)
                && a.action != ActionKind::NoOp
        });
    // One execution of a plan against the state it starts from.
    let execute_plan =
        |plan: Plan, prior: Option<State>, display: Arc<dyn Fn(Event) + Send + Sync>| {
            let (registry, backends, options, cancel) =
                (registry, backends, &options, cancel_rx.clone());
            async move {
                execute(
                    &plan,
                    prior.as_ref(),
                    registry,
                    &backends.state,
                    &backends.key,
                    options,
                    display,
                    cancel,
                )
                .await
            }
        };
    let report = if shared_first {
        let (shared, rest) = split_shared(&plan);
        println!("The stack's shared resources first, under the `_shared` lock:");
        let shared_lock = backends
            .lock(
                LockScope::Service(SHARED_LOCK.into()),
                operation,
                global.lock_timeout.max(SHARED_LOCK_WAIT),
            )
            .await?;
        let first = execute_plan(shared, state.clone(), display.clone()).await;
        shared_lock
            .release()
            .await
            .context("releasing the `_shared` lock")?;
        let prior = first.state.clone().or_else(|| state.clone());
        let second = execute_plan(rest, prior, display).await;
        merge_reports(first, second)
    } else {
        execute_plan(plan.clone(), state.clone(), display).await
    };
    ctrl_c.abort();

    let result = if report.cancelled {
        DeploymentResult::Cancelled
    } else if report.succeeded() {
        DeploymentResult::Succeeded
    } else {
        DeploymentResult::Failed
    };
    let mut record = deployment(
        operation,
        stack,
        started,
        &started_at,
        result,
        report.counts.clone(),
    );
    record.id = options.deployment_id.clone();
    record.services = plan.targeting.services.clone();
    let lineage = report
        .state
        .as_ref()
        .map(|s| s.lineage.clone())
        .or_else(|| state.as_ref().map(|s| s.lineage.clone()));
    ops::save_deployment(
        &backends.state,
        &backends.key,
        lineage.as_deref(),
        Changes::default(),
        record,
    )
    .await
    .context("recording the deployment")?;

    println!();
    let c = &report.counts;
    println!(
        "{}: {} created, {} updated, {} replaced, {} deleted, {} failed ({:.1}s).",
        match result {
            DeploymentResult::Succeeded => "Done",
            DeploymentResult::Failed => "Finished with errors",
            DeploymentResult::Cancelled => "Cancelled",
        },
        c.created,
        c.updated,
        c.replaced,
        c.deleted,
        c.failed,
        started.elapsed().as_secs_f64()
    );
    for (address, action, outcome) in &report.results {
        match outcome {
            Outcome::Failed(e) => println!("  ✗ {address} ({}): {e}", action.verb()),
            Outcome::Skipped(why) => println!("  ↷ {address} ({}) skipped: {why}", action.verb()),
            Outcome::NotStarted => println!("  · {address} ({}) not started", action.verb()),
            Outcome::Done => {}
        }
    }
    if result == DeploymentResult::Succeeded && operation == "apply" && !stack.outputs.is_empty() {
        let outputs = report.state.as_ref().map(|s| &s.resources);
        println!("\nOutputs:");
        for (name, o) in &stack.outputs {
            let value = match (&o.value, &o.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(vf)) => outputs
                    .and_then(|r| r.get(&vf.component))
                    .and_then(|r| r.outputs.get(&vf.output))
                    .cloned()
                    .unwrap_or_else(|| "(not applied)".into()),
                _ => String::new(),
            };
            println!("  {name} = {value}");
        }
    }
    Ok(if result == DeploymentResult::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn verbs(a: ActionKind) -> (&'static str, &'static str) {
    match a {
        ActionKind::Create => ("creating", "created"),
        ActionKind::Update => ("updating", "updated"),
        ActionKind::Replace => ("replacing", "replaced"),
        ActionKind::Delete => ("deleting", "deleted"),
        ActionKind::NoOp => ("checking", "unchanged"),
    }
}

/// Not on a terminal: one plain line per event, what started, finished or failed, and how long
/// it took.
fn show_event(e: Event) {
    let verb = verbs;
    match e {
        Event::Started { address, action } => {
            println!("  {} {address}: {}…", action.symbol(), verb(action).0)
        }
        Event::Finished {
            address,
            action,
            elapsed,
        } => println!(
            "  ✓ {address}: {} ({:.1}s)",
            verb(action).1,
            elapsed.as_secs_f64()
        ),
        Event::Failed {
            address,
            action,
            elapsed,
            error,
        } => println!(
            "  ✗ {address}: {} failed after {:.1}s: {error}",
            verb(action).0,
            elapsed.as_secs_f64()
        ),
        Event::Skipped {
            address, because, ..
        } => println!("  ↷ {address}: skipped ({because})"),
    }
}

/// On a terminal: one line per running action with a spinner and its elapsed time, replaced by
/// its outcome when it ends.
struct LiveDisplay {
    bars: indicatif::MultiProgress,
    running: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl LiveDisplay {
    fn new() -> Self {
        LiveDisplay {
            bars: indicatif::MultiProgress::new(),
            running: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn show(&self, e: Event) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let done_style =
            indicatif::ProgressStyle::with_template("  {msg}").expect("a valid template");
        match e {
            Event::Started { address, action } => {
                let bar = self.bars.add(indicatif::ProgressBar::new_spinner());
                bar.set_style(
                    indicatif::ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                        .expect("a valid template"),
                );
                bar.set_message(format!("{address}: {}…", verbs(action).0));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                running.insert(address, bar);
            }
            Event::Finished {
                address,
                action,
                elapsed,
            } => {
                if let Some(bar) = running.remove(&address) {
                    bar.set_style(done_style);
                    bar.finish_with_message(format!(
                        "✓ {address}: {} ({:.1}s)",
                        verbs(action).1,
                        elapsed.as_secs_f64()
                    ));
                }
            }
            Event::Failed {
                address,
                action,
                elapsed,
                error,
            } => {
                if let Some(bar) = running.remove(&address) {
                    bar.set_style(done_style);
                    bar.finish_with_message(format!(
                        "✗ {address}: {} failed after {:.1}s: {error}",
                        verbs(action).0,
                        elapsed.as_secs_f64()
                    ));
                } else {
                    let _ = self.bars.println(format!("  ✗ {address}: {error}"));
                }
            }
            Event::Skipped {
                address, because, ..
            } => {
                let _ = self
                    .bars
                    .println(format!("  ↷ {address}: skipped ({because})"));
            }
        }
    }
}
