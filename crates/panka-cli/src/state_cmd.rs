//! `panka state ...`, `history`, `locks`, `unlock` and `backend init`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use panka_backend::locks::human_age;
use panka_backend::{Changes, LockScope, ops};
use panka_state::{ChangeCounts, DeploymentResult, State};

use crate::backend::{Backends, deployment, with_lock};
use crate::cli::{
    AddressArgs, AddressesArgs, GlobalArgs, HistoryArgs, ImportArgs, LogsArgs, MoveArgs,
    OutputFormat, PushArgs, RestoreArgs, StackArgs, StatusArgs, UnlockArgs,
};
use crate::stack::load_valid;

pub(crate) async fn open(
    args: &StackArgs,
    global: &GlobalArgs,
) -> anyhow::Result<(panka_format::Stack, Backends)> {
    let stack = load_valid(args)?;
    let backends = Backends::for_stack(&stack, global).await;
    Ok((stack, backends))
}

pub(crate) async fn current(backends: &Backends) -> anyhow::Result<State> {
    match backends.state.read(&backends.key).await? {
        Some(s) => Ok(s.state),
        None => bail!(
            "no state for {} in {}: nothing has been deployed",
            backends.key,
            backends.state.describe(&backends.key)
        ),
    }
}

pub async fn list(args: &StackArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_, backends) = open(args, global).await?;
    let state = current(&backends).await?;
    let width = state.resources.keys().map(String::len).max().unwrap_or(0);
    for (address, r) in &state.resources {
        let id = r.physical_ids.values().next().cloned().unwrap_or_default();
        println!(
            "{address:<width$}  {:<22} {:<8} {id}",
            r.kind,
            format!("{:?}", r.status).to_lowercase()
        );
    }
    eprintln!(
        "{} resource{}, serial {}, lineage {}",
        state.resources.len(),
        if state.resources.len() == 1 { "" } else { "s" },
        state.serial,
        state.lineage
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn show(args: &AddressArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_, backends) = open(&args.stack, global).await?;
    let state = current(&backends).await?;
    let r = state
        .resources
        .get(&args.address)
        .with_context(|| format!("no resource `{}` in the state", args.address))?;
    // The configuration, kept as compact text, is shown expanded like the rest.
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::to_value(r)?)?
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn pull(args: &StackArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_, backends) = open(args, global).await?;
    let state = current(&backends).await?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs a state edit under the stack lock: `edit` turns the current state into changes and
/// counts, which are saved with a deployment record named `operation`.
async fn edit_state(
    args: &StackArgs,
    global: &GlobalArgs,
    operation: &str,
    edit: impl FnOnce(&State) -> anyhow::Result<(Changes, ChangeCounts)>,
) -> anyhow::Result<State> {
    let (stack, backends) = open(args, global).await?;
    backends.check().await?;
    let (started, started_at) = (Instant::now(), panka_backend::now_rfc3339());
    with_lock(
        &backends,
        LockScope::Stack,
        operation,
        global.lock_timeout,
        async {
            let state = current(&backends).await?;
            let (changes, counts) = edit(&state)?;
            let record = deployment(
                operation,
                &stack,
                started,
                &started_at,
                DeploymentResult::Succeeded,
                counts,
            );
            Ok(ops::save_deployment(
                &backends.state,
                &backends.key,
                Some(&state.lineage),
                changes,
                record,
            )
            .await?)
        },
    )
    .await
}

pub async fn rm(args: &AddressesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let state = edit_state(&args.stack, global, "state rm", |state| {
        let mut changes = Changes::default();
        for a in &args.addresses {
            if !state.resources.contains_key(a) {
                bail!("no resource `{a}` in the state");
            }
            changes.resources.insert(a.clone(), None);
        }
        Ok((
            changes,
            ChangeCounts {
                deleted: args.addresses.len(),
                ..ChangeCounts::default()
            },
        ))
    })
    .await?;
    println!(
        "Removed {} from the state (serial {}); the AWS resources are left as they are.",
        args.addresses.join(", "),
        state.serial
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn mv(args: &MoveArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let state = edit_state(&args.stack, global, "state mv", |state| {
        let r = state
            .resources
            .get(&args.source)
            .with_context(|| format!("no resource `{}` in the state", args.source))?;
        if state.resources.contains_key(&args.destination) {
            bail!("`{}` is already in the state", args.destination);
        }
        let mut changes = Changes::default();
        changes.resources.insert(args.source.clone(), None);
        changes
            .resources
            .insert(args.destination.clone(), Some((**r).clone()));
        Ok((
            changes,
            ChangeCounts {
                updated: 1,
                ..ChangeCounts::default()
            },
        ))
    })
    .await?;
    println!(
        "Moved {} to {} (serial {}).",
        args.source, args.destination, state.serial
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn push(args: &PushArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (stack, backends) = open(&args.stack, global).await?;
    backends.check().await?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let pushed: State = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a panka state document", args.file.display()))?;
    if pushed.stack != stack.name || pushed.environment != stack.environment {
        bail!(
            "{} is the state of {}/{}, not {}/{}",
            args.file.display(),
            pushed.stack,
            pushed.environment,
            stack.name,
            stack.environment
        );
    }
    let (started, started_at) = (Instant::now(), panka_backend::now_rfc3339());
    let state = with_lock(
        &backends,
        LockScope::Stack,
        "state push",
        global.lock_timeout,
        async {
            let state = ops::push(&backends.state, &backends.key, &pushed, args.force).await?;
            let record = deployment(
                "state push",
                &stack,
                started,
                &started_at,
                DeploymentResult::Succeeded,
                ChangeCounts::default(),
            );
            backends
                .state
                .put_history(
                    &backends.key,
                    &panka_backend::HistoryEntry {
                        deployment: record,
                        state: state.clone(),
                    },
                )
                .await?;
            Ok(state)
        },
    )
    .await?;
    println!("Pushed {} as serial {}.", args.file.display(), state.serial);
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: &RestoreArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (stack, backends) = open(&args.stack, global).await?;
    backends.check().await?;
    let (started, started_at) = (Instant::now(), panka_backend::now_rfc3339());
    let state = with_lock(
        &backends,
        LockScope::Stack,
        "state restore",
        global.lock_timeout,
        async {
            let record = deployment(
                "state restore",
                &stack,
                started,
                &started_at,
                DeploymentResult::Succeeded,
                ChangeCounts::default(),
            );
            Ok(ops::restore(&backends.state, &backends.key, &args.to, record).await?)
        },
    )
    .await?;
    println!(
        "Restored the state of deployment {} as serial {} ({} resources). Run `panka plan` to see how AWS differs.",
        args.to,
        state.serial,
        state.resources.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn history(args: &HistoryArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_, backends) = open(&args.stack, global).await?;
    let mut entries = backends.state.history(&backends.key).await?;
    entries.reverse();
    if args.stats {
        entries.retain(|e| panka_deploy::record::RUNS.contains(&e.deployment.operation.as_str()));
        entries.truncate(args.limit);
        let stats = panka_deploy::record::stats(entries.iter().map(|e| &e.deployment));
        match args.output {
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&stats)?),
            OutputFormat::Text => {
                let pct = |r: Option<f64>| {
                    r.map(|r| format!("{:.0}%", r * 100.0))
                        .unwrap_or_else(|| "n/a".into())
                };
                let secs = |v: Option<f64>| {
                    v.map(|v| format!("{v:.1}s"))
                        .unwrap_or_else(|| "n/a".into())
                };
                println!(
                    "Last {} deployments of {}: {} succeeded, {} failed, {} cancelled.",
                    stats.deployments, backends.key, stats.succeeded, stats.failed, stats.cancelled
                );
                println!("  success rate     {}", pct(stats.success_rate));
                println!(
                    "  duration         median {}, p95 {}",
                    secs(stats.median_seconds),
                    secs(stats.p95_seconds)
                );
                println!(
                    "  lock contention  {} ({} waited for a lock; longest wait {})",
                    pct(stats.lock_contention_rate),
                    stats.contended,
                    secs(stats.max_lock_wait_seconds)
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    entries.truncate(args.limit);
    match args.output {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> =
                entries.iter().map(|e| serde_json::json!({"deployment": e.deployment, "serial": e.state.serial, "resources": e.state.resources.len()})).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        OutputFormat::Text => {
            if entries.is_empty() {
                println!("No deployments recorded for {}.", backends.key);
            }
            for e in &entries {
                let d = &e.deployment;
                let c = &d.changes;
                println!(
                    "{}  {}  {:<14} {:<10} serial {:<4} +{} ~{} ±{} -{} !{}  {:.1}s  {}{}",
                    d.id,
                    d.started_at,
                    d.operation,
                    format!("{:?}", d.result).to_lowercase(),
                    e.state.serial,
                    c.created,
                    c.updated,
                    c.replaced,
                    c.deleted,
                    c.failed,
                    d.duration_seconds,
                    d.who,
                    d.git_commit
                        .as_ref()
                        .map(|g| format!(" {}", &g[..g.len().min(10)]))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn locks(args: &StackArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_, backends) = open(args, global).await?;
    let now = panka_backend::now_epoch();
    let all = backends.locks.list().await?;
    let mine: Vec<_> = all
        .iter()
        .filter(|l| l.scope == backends.key.to_string())
        .collect();
    if mine.is_empty() {
        println!("No locks on {}.", backends.key);
    }
    for l in mine {
        let state = if l.live(now) { "live" } else { "STALE" };
        println!(
            "{:<40} {:<6} {} (pid {}) `{}` taken {} ago",
            l.id,
            state,
            l.holder,
            l.pid,
            l.operation,
            human_age(now.saturating_sub(l.created))
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn unlock(args: &UnlockArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (_, backends) = open(&args.stack, global).await?;
    let removed = backends.locks.unlock(&args.lock_id, args.force).await?;
    println!(
        "Removed lock {} held by {} for `{}`.",
        removed.id, removed.holder, removed.operation
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn backend_init(args: &StackArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let stack = load_valid(args)?;
    let Some(b) = &stack.backend else {
        println!(
            "Stack `{}` keeps state in local files under {}; nothing to create.",
            stack.name,
            stack.root.join(".panka").display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let backends = Backends::for_stack(&stack, global).await;
    let aws = backends
        .aws
        .as_ref()
        .expect("an S3 backend has AWS clients");
    let region = b.s3.region.clone().unwrap_or_else(|| stack.region.clone());
    let mut report = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_bucket(&aws.s3(), &b.s3.bucket, &region, &mut report).await?;
    panka_backend::init::ensure_lock_table(&aws.dynamodb(), &b.s3.lock_table, &mut report).await?;
    for line in &report.lines {
        println!("{line}");
    }
    backends.check().await?;
    println!("✓ the bucket enforces conditional writes");
    Ok(ExitCode::SUCCESS)
}

pub async fn status(args: &StatusArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (stack, backends) = open(&args.stack, global).await?;
    let state = backends.state.read(&backends.key).await?.map(|s| s.state);
    let now = panka_backend::now_epoch();
    let locks: Vec<_> = backends
        .locks
        .list()
        .await?
        .into_iter()
        .filter(|l| l.scope == backends.key.to_string() && l.live(now))
        .collect();
    let resources = state
        .as_ref()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let declared: Vec<String> = panka_graph::stack_resources(&stack)
        .into_iter()
        .map(|r| r.address)
        .collect();
    let not_deployed: Vec<&String> = declared
        .iter()
        .filter(|a| !resources.contains_key(a.as_str()))
        .collect();
    let not_declared: Vec<&String> = resources.keys().filter(|a| !declared.contains(a)).collect();
    let outputs: Vec<(String, String)> = stack
        .outputs
        .iter()
        .map(|(name, o)| {
            let value = match (&o.value, &o.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(vf)) => resources
                    .get(&vf.component)
                    .and_then(|r| r.outputs.get(&vf.output))
                    .cloned()
                    .unwrap_or_else(|| "(not deployed)".into()),
                _ => String::new(),
            };
            (name.clone(), value)
        })
        .collect();
    let live = if args.offline {
        std::collections::BTreeMap::new()
    } else {
        live_health(&stack, &resources, global).await
    };
    if args.output == OutputFormat::Json {
        let doc = serde_json::json!({
            "stack": stack.name, "environment": stack.environment, "region": stack.region,
            "store": backends.state.describe(&backends.key),
            "serial": state.as_ref().map(|s| s.serial), "lineage": state.as_ref().map(|s| s.lineage.clone()),
            "lastDeployment": state.as_ref().and_then(|s| s.last_deployment.clone()),
            "resources": resources.iter().map(|(a, r)| serde_json::json!({"address": a, "kind": r.kind, "status": r.status, "live": live.get(a), "outputs": r.outputs, "updatedAt": r.updated_at})).collect::<Vec<_>>(),
            "notDeployed": not_deployed, "notInConfiguration": not_declared,
            "pending": state.as_ref().map(|s| s.pending.len()).unwrap_or(0),
            "locks": locks, "outputs": outputs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} / {} · {} · {}",
        stack.name,
        stack.environment,
        stack.region,
        backends.state.describe(&backends.key)
    );
    match &state {
        None => println!("Nothing deployed yet."),
        Some(s) => {
            println!("state serial {}, lineage {}", s.serial, s.lineage);
            if let Some(d) = &s.last_deployment {
                let c = &d.changes;
                println!(
                    "last deployment {} ({} {}) at {} by {}{}: +{} ~{} ±{} -{} !{}",
                    d.id,
                    d.operation,
                    format!("{:?}", d.result).to_lowercase(),
                    d.finished_at,
                    d.who,
                    d.git_commit
                        .as_ref()
                        .map(|g| format!(" at {}", &g[..g.len().min(10)]))
                        .unwrap_or_default(),
                    c.created,
                    c.updated,
                    c.replaced,
                    c.deleted,
                    c.failed
                );
            }
        }
    }
    if !resources.is_empty() {
        println!();
        let width = resources.keys().map(String::len).max().unwrap_or(0);
        for (address, r) in &resources {
            let mut outs: Vec<String> = r
                .outputs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            outs.sort();
            println!(
                "  {address:<width$}  {:<20} {:<8} {}",
                r.kind,
                format!("{:?}", r.status).to_lowercase(),
                live.get(address).map(String::as_str).unwrap_or_default()
            );
            if !outs.is_empty() {
                println!("  {:<width$}    {}", "", outs.join("  "));
            }
        }
    }
    if !not_deployed.is_empty() {
        println!(
            "
In the configuration, not deployed: {}",
            not_deployed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !not_declared.is_empty() {
        println!(
            "Deployed, gone from the configuration (the next apply deletes them): {}",
            not_declared
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(s) = &state
        && !s.pending.is_empty()
    {
        println!(
            "{} operation(s) unfinished by an interrupted run; the next apply resolves them.",
            s.pending.len()
        );
    }
    for l in &locks {
        println!(
            "locked: {} by {} for `{}`, {} ago",
            l.id,
            l.holder,
            l.operation,
            human_age(now.saturating_sub(l.created))
        );
    }
    if !outputs.is_empty() {
        println!(
            "
Outputs:"
        );
        for (k, v) in &outputs {
            println!("  {k} = {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How each recorded resource is doing in AWS, in a few words: the provider's health report, or
/// whether it exists. Resources are asked concurrently; one that cannot be read says why.
async fn live_health(
    stack: &panka_format::Stack,
    resources: &imbl::OrdMap<String, std::sync::Arc<panka_state::ResourceState>>,
    global: &GlobalArgs,
) -> std::collections::BTreeMap<String, String> {
    let visited = crate::plan::visit_recorded(
        stack,
        resources,
        |_| true,
        global,
        |provider, req, r| async move {
            match provider.health(&req, &r.physical_ids).await {
                Ok(Some(h)) => h,
                Ok(None) => match provider
                    .read(
                        &req,
                        panka_engine::Recorded {
                            ids: &r.physical_ids,
                            outputs: &r.outputs,
                        },
                    )
                    .await
                {
                    Ok(Some(_)) => "exists".to_string(),
                    Ok(None) => "MISSING in AWS".to_string(),
                    Err(e) => format!("unknown ({})", e.message),
                },
                Err(e) => format!("unknown ({})", e.message),
            }
        },
    )
    .await;
    visited
        .map(|v| {
            v.into_iter()
                .filter_map(|(address, visit)| match visit {
                    crate::plan::Visit::Done(report) => Some((address, report)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `panka logs S/C`: the component's CloudWatch logs from `--since` ago, then new ones with
/// `--follow`.
pub async fn logs(args: &LogsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    /// How often `--follow` asks for new events.
    const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(2);
    let (stack, backends) = open(&args.stack, global).await?;
    let state = current(&backends).await?;
    let Some(r) = state.resources.get(args.component.as_str()) else {
        bail!(
            "`{}` is not deployed in {}/{}; `panka status` lists what is",
            args.component,
            stack.name,
            stack.environment
        );
    };
    let Some(group) = r.outputs.get("logGroupName").filter(|g| !g.is_empty()) else {
        bail!(
            "`{}` ({}) has no log group: MicroService, Worker, CronJob and Lambda components have one",
            args.component,
            r.kind
        );
    };
    let aws = panka_aws::Aws::load(&panka_aws::AwsOptions {
        region: Some(stack.region.clone()),
        endpoint_url: global.endpoint_url.clone(),
    })
    .await;
    let client = aws.logs();
    let now_ms = |d: std::time::Duration| {
        std::time::SystemTime::now()
            .checked_sub(d)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |t| t.as_millis() as i64)
    };
    let mut start = now_ms(args.since);
    let mut shown: std::collections::HashSet<String> = std::collections::HashSet::new();
    loop {
        let lines =
            panka_providers::logs::read(&client, group, start, args.filter.as_deref(), args.limit)
                .await
                .map_err(|e| anyhow::anyhow!(e.chain()))?;
        for l in lines.iter().filter(|l| !shown.contains(&l.id)) {
            let when = panka_backend::rfc3339_of_millis(l.timestamp_ms);
            println!("{when}  {}  {}", l.stream, l.message);
        }
        if !args.follow {
            break;
        }
        // Events of the last millisecond seen may still arrive: ask from there and leave out
        // the ones already printed.
        if let Some(last) = lines.last() {
            start = last.timestamp_ms;
            shown = lines
                .iter()
                .filter(|l| l.timestamp_ms == last.timestamp_ms)
                .map(|l| l.id.clone())
                .collect();
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `panka import S/C`: finds the component's resource in AWS by the name the YAML gives it (and,
/// for the kinds built of several pieces, theirs), reads it, and records it in the state with
/// the live settings, so that the next plan shows how it differs from the YAML instead of
/// creating it again. Nothing in AWS changes; the first apply adds panka's tags.
pub async fn import(args: &ImportArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let flags = args.discovery_flags();
    if !flags.is_empty() {
        bail!(
            "{} select{} what `panka import --discover` finds: add --discover (and leave out the address)",
            flags.join(", "),
            if flags.len() == 1 { "s" } else { "" }
        );
    }
    let Some(address) = args.address.clone() else {
        bail!("name the component to import (`service/component`), or pass --discover");
    };
    let (stack, backends) = open(&args.stack, global).await?;
    backends.check().await?;
    let registry = crate::plan::providers(&stack, global).await;
    let recorded = backends.state.read(&backends.key).await?.map(|s| s.state);
    let outputs = recorded
        .as_ref()
        .map(|s| crate::plan::recorded_outputs(&s.resources))
        .unwrap_or_default();
    let adopted = adopt(&stack, &registry, &address, &outputs).await?;
    if !adopted.unobserved.is_empty() {
        println!(
            "Not observable in AWS, taken from the YAML: {}",
            adopted.unobserved.join(", ")
        );
    }
    let ids: Vec<String> = adopted
        .resource
        .physical_ids
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let kind = adopted.resource.kind.clone();
    let state = record(
        &stack,
        &backends,
        global,
        vec![(address.clone(), adopted.resource)],
    )
    .await?;
    println!(
        "Imported {address} ({kind}) from AWS: {} (serial {}). `panka plan` shows how it differs from the YAML; the first apply also adds panka's tags.",
        ids.join(", "),
        state.serial
    );
    Ok(ExitCode::SUCCESS)
}

/// A resource found in AWS and read, ready to be recorded.
pub(crate) struct Adopted {
    pub resource: panka_state::ResourceState,
    /// Fields AWS does not report, taken from the YAML.
    pub unobserved: Vec<String>,
}

/// Finds the component `address` of the stack in AWS by the name the YAML gives it and reads
/// it: its state record with the live settings. A resource with this component's tags, or
/// without panka's tags at all, is taken; one whose tags name another component is not.
pub(crate) async fn adopt(
    stack: &panka_format::Stack,
    registry: &panka_engine::Registry,
    address: &str,
    outputs: &std::collections::HashMap<String, std::collections::BTreeMap<String, String>>,
) -> anyhow::Result<Adopted> {
    let resources = panka_graph::stack_resources(stack);
    let Some(r) = resources.iter().find(|r| r.address == address) else {
        bail!("`{address}` is not in the stack: import adopts a component the YAML declares");
    };
    let Some(provider) = registry.get(r.kind.name()) else {
        bail!("panka has no provider for {} yet", r.kind);
    };
    let config = panka_plan::desired::ConfigBuilder::new(stack).config(&r.address);
    let req =
        panka_engine::resolve::request(&r.address, r.kind.name(), &config, outputs, &stack.region)
            .map_err(|e| anyhow::anyhow!("{e}; import or apply what it refers to first"))?;
    let mut untagged = req.clone();
    untagged.tags.retain(|k, _| {
        ![
            panka_format::naming::TAG_STACK,
            panka_format::naming::TAG_ENVIRONMENT,
            panka_format::naming::TAG_SERVICE,
            panka_format::naming::TAG_COMPONENT,
        ]
        .contains(&k.as_str())
    });
    let found = match provider.find(&req).await {
        Err(e) if e.kind == panka_engine::ErrorKind::NotOwned => provider.find(&untagged).await,
        other => other,
    }
    .map_err(|e| anyhow::anyhow!(e.chain()))?
    .with_context(|| {
        format!(
            "no {} named `{}` in AWS to import as {}",
            r.kind, req.name, r.address
        )
    })?;
    let observed = provider
        .read(
            &req,
            panka_engine::Recorded {
                ids: &found.physical_ids,
                outputs: &found.outputs,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.chain()))?
        .with_context(|| format!("`{}` vanished while it was read", req.name))?;
    // Fields AWS does not report are taken from the YAML: nothing else knows them.
    let live = panka_engine::observe::observed_config(&config, &observed);
    let now = panka_backend::now_rfc3339();
    Ok(Adopted {
        resource: panka_state::ResourceState {
            kind: r.kind.name().to_string(),
            physical_ids: found.physical_ids.clone(),
            config_hash: panka_state::config_hash(&live),
            config: live.into(),
            outputs: observed.outcome.outputs,
            dependencies: r.depends_on.clone(),
            status: panka_state::ResourceStatus::Ready,
            created_at: now.clone(),
            updated_at: now,
            adopted: false,
        },
        unobserved: observed.unobserved,
    })
}

/// Records adopted resources in one state write under the stack lock, as an `import`
/// deployment; refuses when any of them is in the state already.
pub(crate) async fn record(
    stack: &panka_format::Stack,
    backends: &Backends,
    global: &GlobalArgs,
    adopted: Vec<(String, panka_state::ResourceState)>,
) -> anyhow::Result<State> {
    let (started, started_at) = (Instant::now(), panka_backend::now_rfc3339());
    with_lock(
        backends,
        LockScope::Stack,
        "import",
        global.lock_timeout,
        async {
            let current = backends.state.read(&backends.key).await?.map(|s| s.state);
            let mut changes = Changes::default();
            let created = adopted.len();
            for (address, resource) in adopted {
                if current
                    .as_ref()
                    .is_some_and(|s| s.resources.contains_key(address.as_str()))
                {
                    bail!("`{address}` is already in the state");
                }
                changes.resources.insert(address, Some(resource));
            }
            let record = deployment(
                "import",
                stack,
                started,
                &started_at,
                DeploymentResult::Succeeded,
                ChangeCounts {
                    created,
                    ..ChangeCounts::default()
                },
            );
            Ok(ops::save_deployment(
                &backends.state,
                &backends.key,
                current.as_ref().map(|s| s.lineage.as_str()),
                changes,
                record,
            )
            .await?)
        },
    )
    .await
}
