//! `panka apply` and `panka destroy`: plan, show, approve, execute under a lock, record.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use panka_backend::LockScope;
use panka_deploy::{DeployError, Deployer, Finished, Stop, Ui};
use panka_engine::{Event, Outcome};
use panka_format::Stack;
use panka_plan::{ActionKind, Plan, PlanError, PlanOptions, Targeting, plan, render_text};
use panka_state::{DeploymentResult, State};

use crate::backend::Backends;
use crate::cli::{ApplyArgs, DestroyArgs, DriftArgs, GlobalArgs, RollbackArgs, TargetArgs};
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
        destroying: false,
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
        destroying: true,
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
            // Keep only deletes (a partial destroy leaves the rest as it is), and not of what
            // discovery adopted rather than panka created, unless `--allow-destroy` names it.
            let adopted = |address: &str| {
                state
                    .and_then(|s| s.resources.get(address))
                    .is_some_and(|r| r.adopted)
                    && !args.target.allow_destroy.iter().any(|x| x == address)
            };
            p.actions
                .retain(|a| a.action == ActionKind::Delete && !adopted(&a.address));
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

/// `panka drift remediate`: an apply restricted to the resources that drifted or went missing,
/// planned against what AWS reports (as `apply --refresh` plans it), so that each goes back to
/// the YAML. Shown and approved like an apply; recorded in history as `remediate`.
pub async fn remediate(args: &DriftArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(&args.stack)?;
    let backends = Backends::for_stack(&stack, global).await;
    let Some(state) = backends.state.read(&backends.key).await?.map(|s| s.state) else {
        bail!("no state for {}: nothing has been deployed", backends.key);
    };
    let found = crate::drift::detect(&stack, &state, &args.services, global).await?;
    let drifted: std::collections::BTreeSet<String> = found
        .iter()
        .filter(|d| matches!(d.status, "drifted" | "missing"))
        .map(|d| d.address.clone())
        .collect();
    if drifted.is_empty() {
        println!("No drift: AWS matches what panka applied. Nothing to remediate.");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", crate::drift::render(&found));
    let options = PlanOptions {
        targeting: Targeting::default(),
        allow_destroy: Vec::new(),
        destroying: false,
    };
    let parallelism = args
        .parallelism
        .unwrap_or(stack.deployment.parallelism as usize);
    run(
        "remediate",
        &stack,
        global,
        &TargetArgs {
            service: Vec::new(),
            component: Vec::new(),
            exclude: Vec::new(),
            allow_destroy: Vec::new(),
        },
        RunOptions {
            auto_approve: args.auto_approve,
            refresh: true,
            parallelism,
            policies: crate::policy::load(&args.policy)?,
        },
        |state| {
            let mut p = plan(&stack, state, &options)?;
            // Only the drifted resources: the rest of the YAML's changes wait for an apply.
            p.actions.retain(|a| drifted.contains(&a.address));
            p.summary = panka_plan::Summary::of(&p.actions);
            Ok(p)
        },
    )
    .await
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
        destroying: false,
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

/// How a run goes: ask or not, refresh or not, how many at once, which policies judge it.
struct RunOptions {
    auto_approve: bool,
    refresh: bool,
    parallelism: usize,
    policies: panka_policy::Policies,
}

/// Shared by apply, destroy, rollback and remediate: the orchestration is
/// `panka_deploy::Deployer::run`; this shows it and turns its end into an exit code.
async fn run(
    operation: &str,
    stack: &Stack,
    global: &GlobalArgs,
    target: &TargetArgs,
    run_options: RunOptions,
    make_plan: impl Fn(Option<&State>) -> Result<Plan, PlanError> + Send + Sync,
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
    let stop = Stop::from_signals(
        || {
            eprintln!(
                "\nInterrupted: no new action will start; the running ones finish and are recorded, then the lock is released. Press Ctrl-C again to stop at once (recorded intents are resolved by the next run)."
            );
        },
        || {
            eprintln!("\nStopped at once; the next run resolves what was in progress.");
            std::process::exit(panka_deploy::stop::EXIT_INTERRUPTED);
        },
    )
    .context("installing the Ctrl-C and SIGTERM handlers")?;
    let backends = Backends::for_stack(stack, global).await;
    backends.check().await?;
    let registry = crate::plan::providers(stack, global).await;
    let deployer = Deployer {
        stack,
        store: &backends.state,
        locks: &backends.locks,
        key: &backends.key,
        registry: &registry,
        ui: Arc::new(CliUi::new()),
        stop,
        metrics: metrics_sink(stack, global).await,
    };
    let options = panka_deploy::RunOptions {
        auto_approve,
        refresh,
        parallelism,
        lock_wait: global.lock_timeout,
        ..panka_deploy::RunOptions::new(operation, lock_scope(target))
    };
    let finished = match deployer.run(&options, &mut policies, &make_plan).await {
        Ok(f) => f,
        Err(DeployError::Plan(e @ PlanError::ProtectedDestroy(_))) => {
            eprintln!("error: {e}");
            return Err(Reported(format!("{operation} refused")).into());
        }
        Err(DeployError::Denied { denials }) => {
            eprintln!(
                "error: the {operation} is denied by {denials} policy rule{}",
                if denials == 1 { "" } else { "s" }
            );
            return Err(Reported(format!("{operation} denied by policy")).into());
        }
        Err(DeployError::Stopped { phase }) => {
            eprintln!("Stopped while {phase}; nothing was applied and the lock was released.");
            return Ok(ExitCode::from(panka_deploy::stop::EXIT_INTERRUPTED as u8));
        }
        Err(e) => return Err(e.into()),
    };
    let applied = match finished {
        Finished::NothingToDo { .. } => {
            println!("Nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        Finished::Declined { .. } => {
            println!("Nothing applied.");
            return Ok(ExitCode::SUCCESS);
        }
        Finished::Applied(applied) => applied,
    };
    summarize(operation, stack, &applied);
    match applied.rollback.as_deref() {
        None => {}
        Some(panka_deploy::Rollback::NothingToGoBackTo) => {
            println!("\nNo automatic rollback: no earlier successful deployment to go back to.");
        }
        Some(panka_deploy::Rollback::Failed(e)) => {
            eprintln!("error: the automatic rollback could not run: {e}");
        }
        Some(panka_deploy::Rollback::Ran {
            to,
            kept,
            applied: back,
        }) => {
            println!("\nAutomatic rollback to deployment {to}:");
            summarize("rollback", stack, back);
            for k in kept {
                println!("  kept as it is: {}: {}", k.address, k.reason);
            }
            let failed: Vec<&str> = applied
                .report
                .results
                .iter()
                .filter(|(_, _, o)| matches!(o, Outcome::Failed(_)))
                .map(|(a, _, _)| a.as_str())
                .collect();
            eprintln!(
                "error: the apply failed ({}); what it changed was rolled back to deployment {to} ({})",
                failed.join(", "),
                match back.result {
                    DeploymentResult::Succeeded => "the rollback succeeded",
                    _ => "the rollback did not finish: see above",
                }
            );
        }
    }
    if let Some(e) = &applied.record_error {
        eprintln!("error: the deployment could not be recorded in the history: {e}");
        return Ok(ExitCode::from(1));
    }
    Ok(match applied.result {
        DeploymentResult::Succeeded => ExitCode::SUCCESS,
        DeploymentResult::Cancelled => ExitCode::from(panka_deploy::stop::EXIT_INTERRUPTED as u8),
        DeploymentResult::Failed => ExitCode::from(1),
    })
}

/// The CloudWatch namespace deployment metrics go to, with a client for the stack's region.
async fn metrics_sink(
    stack: &Stack,
    global: &GlobalArgs,
) -> Option<panka_deploy::metrics::MetricsSink> {
    let namespace = stack.deployment.metrics.as_ref()?.namespace.clone();
    let aws = panka_aws::Aws::load(&panka_aws::AwsOptions {
        region: Some(stack.region.clone()),
        endpoint_url: global.endpoint_url.clone(),
    })
    .await;
    Some(panka_deploy::metrics::MetricsSink::new(
        panka_deploy::metrics::client(&aws),
        namespace,
    ))
}

/// What a run did: counts, failures with their class, retries, and the stack's outputs.
fn summarize(operation: &str, stack: &Stack, applied: &panka_deploy::Applied) {
    let report = &applied.report;
    println!();
    let c = &report.counts;
    println!(
        "{}: {} created, {} updated, {} replaced, {} deleted, {} failed ({:.1}s).",
        match applied.result {
            DeploymentResult::Succeeded => "Done",
            DeploymentResult::Failed if applied.lock_lost => "Stopped: the lock was lost",
            DeploymentResult::Failed => "Finished with errors",
            DeploymentResult::Cancelled => "Cancelled",
        },
        c.created,
        c.updated,
        c.replaced,
        c.deleted,
        c.failed,
        applied.deployment.duration_seconds
    );
    for (address, action, outcome) in &report.results {
        match outcome {
            Outcome::Failed(e) => {
                println!("  ✗ {address} ({}, {}): {e}", action.verb(), e.class())
            }
            Outcome::Skipped(why) => println!("  ↷ {address} ({}) skipped: {why}", action.verb()),
            Outcome::NotStarted => println!("  · {address} ({}) not started", action.verb()),
            Outcome::Done => {}
        }
    }
    for (address, tried) in &report.retries {
        let causes: Vec<String> = tried
            .by_cause
            .iter()
            .map(|(cause, n)| format!("{} {n}", cause.describe()))
            .collect();
        println!(
            "  ⟳ {address}: {} retr{} ({})",
            tried.total(),
            if tried.total() == 1 { "y" } else { "ies" },
            causes.join(", ")
        );
    }
    if applied.result == DeploymentResult::Succeeded
        && operation == "apply"
        && !stack.outputs.is_empty()
    {
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
                _ => "(no value)".into(),
            };
            println!("  {name} = {value}");
        }
    }
}

/// The terminal side of a run: notes on stderr, the plan and policies on stdout, a prompt,
/// and live progress (spinners on a terminal, one line per event otherwise).
struct CliUi {
    live: Option<LiveDisplay>,
}

impl CliUi {
    fn new() -> Self {
        CliUi {
            live: std::io::stdout().is_terminal().then(LiveDisplay::new),
        }
    }
}

impl Ui for CliUi {
    fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    fn plan(&self, plan: &Plan) {
        print!("{}", render_text(plan));
    }

    fn verdict(&self, verdict: &panka_policy::Verdict) {
        crate::policy::show(verdict, &mut std::io::stdout());
    }

    fn approve<'a>(
        &'a self,
        question: &'a str,
    ) -> panka_engine::provider::BoxFuture<'a, Result<bool, String>> {
        let question = question.to_string();
        Box::pin(async move {
            println!();
            tokio::task::spawn_blocking(move || {
                dialoguer::Confirm::new()
                    .with_prompt(question)
                    .default(false)
                    .interact()
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }

    fn event(&self, e: Event) {
        match &self.live {
            Some(live) => live.show(e),
            None => show_event(e),
        }
    }
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
        Event::Retrying {
            address,
            cause,
            attempt,
            wait,
            ..
        } => println!(
            "  ⟳ {address}: {} — retry {attempt} in {:.1}s",
            cause.describe(),
            wait.as_secs_f64()
        ),
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
            Event::Retrying {
                address,
                action,
                cause,
                attempt,
                ..
            } => {
                if let Some(bar) = running.get(&address) {
                    bar.set_message(format!(
                        "{address}: {}… ({}, retry {attempt})",
                        verbs(action).0,
                        cause.describe()
                    ));
                }
            }
        }
    }
}
