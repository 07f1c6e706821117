//! The executor: runs a plan's actions, each as soon as its own dependencies are done, at most
//! `parallelism` at a time.
//!
//! Before each mutating call an intent is made durable; after each action its result is
//! checkpointed before its dependents start. A failed action's dependents are skipped while
//! independent work goes on. Cancellation stops scheduling and lets running actions finish.
//! A panic in an action is that action's failure.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use panka_backend::{Changes, StateKey, StateStore};
use panka_plan::{ActionKind, Plan};
use panka_state::{
    ChangeCounts, Intent, IntentOperation, RecordedConfig, ResourceState, ResourceStatus, State,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::checkpoint::Checkpointer;
use crate::provider::{ProviderError, Registry};
use crate::resolve::request;

/// How an apply runs.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    /// Most actions running at once.
    pub parallelism: usize,
    pub region: String,
    /// Recorded in intents.
    pub deployment_id: String,
}

/// Progress, for the display.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        address: String,
        action: ActionKind,
    },
    Finished {
        address: String,
        action: ActionKind,
        elapsed: Duration,
    },
    Failed {
        address: String,
        action: ActionKind,
        elapsed: Duration,
        error: String,
    },
    Skipped {
        address: String,
        action: ActionKind,
        because: String,
    },
}

/// How one action ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not run because a dependency failed or was skipped.
    Skipped(String),
    /// Not started because the run was cancelled.
    NotStarted,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Per action, in plan order.
    pub results: Vec<(String, ActionKind, Outcome)>,
    pub counts: ChangeCounts,
    pub cancelled: bool,
    /// The state after the last checkpoint.
    pub state: Option<State>,
    /// How many state writes the run made.
    pub writes: usize,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        !self.cancelled && self.results.iter().all(|(_, _, o)| *o == Outcome::Done)
    }
}

struct Node {
    index: usize,
    /// Actions that must finish first.
    waits_for: usize,
    /// Actions that wait for this one.
    dependents: Vec<usize>,
}

/// Runs the changes of `plan` against the providers, recording progress in `store`.
///
/// `prior` is the state the plan was made against (ids and outputs of existing resources).
/// Set `cancel` to true to stop scheduling.
///
/// # Guarantees
/// One idempotent attempt: a re-run after any crash finishes the work, because every mutating
/// call is preceded by a durable intent that names the resource it may create.
// The inputs are independent (what to do, against what, where to record, how, who listens,
// when to stop); bundling them would only move the list.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    plan: &Plan,
    prior: Option<&State>,
    registry: &Registry,
    store: &StateStore,
    key: &StateKey,
    options: &ExecuteOptions,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
    mut cancel: watch::Receiver<bool>,
) -> Report {
    let actions: Vec<&panka_plan::Action> = plan
        .actions
        .iter()
        .filter(|a| a.action != ActionKind::NoOp)
        .collect();
    let position: HashMap<&str, usize> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| (a.address.as_str(), i))
        .collect();
    let empty = imbl::OrdMap::new();
    let recorded = prior.map(|s| &s.resources).unwrap_or(&empty);

    // Dependencies among the actions of this run.
    let mut nodes: Vec<Node> = (0..actions.len())
        .map(|index| Node {
            index,
            waits_for: 0,
            dependents: Vec::new(),
        })
        .collect();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        if a.action == ActionKind::Delete {
            // A delete comes after the deletes of what depends on it (as recorded); after every
            // other action through the barrier below.
            if let Some(r) = recorded.get(&a.address) {
                for d in &r.dependencies {
                    if let Some(&j) = position.get(d.as_str())
                        && actions[j].action == ActionKind::Delete
                    {
                        edges.push((i, j));
                    }
                }
            }
        } else {
            for d in &a.depends_on {
                if let Some(&j) = position.get(d.as_str())
                    && actions[j].action != ActionKind::Delete
                {
                    edges.push((j, i));
                }
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    for (from, to) in edges {
        nodes[from].dependents.push(to);
        nodes[to].waits_for += 1;
    }

    let mut outputs: HashMap<String, BTreeMap<String, String>> = recorded
        .iter()
        .map(|(k, r)| (k.clone(), r.outputs.clone()))
        .collect();
    let lineage = prior.map(|s| s.lineage.clone());
    let (checkpointer, writer) = Checkpointer::start(store.clone(), key.clone(), lineage);
    // If this future is dropped mid-run (the process is going down), the writer goes with it,
    // as it would in a crash: nothing is written after the run stops.
    let mut writer = AbortOnDrop(Some(writer));
    let registry = Arc::new(registry.clone());

    let mut outcome: Vec<Option<Outcome>> = vec![None; actions.len()];
    // Among ready actions, the one with the longest chain of actions waiting behind it starts
    // first (critical path first); ties go to plan order, wave then address.
    let height = heights(&nodes);
    let priority = |i: usize| (height[i], Reverse(i));
    // Deletes wait behind a barrier until every other action has ended (something being
    // updated may stop using what is deleted); `held` keeps the ones ready meanwhile.
    let is_delete = |i: usize| actions[i].action == ActionKind::Delete;
    let mut non_deletes_left = (0..actions.len()).filter(|i| !is_delete(*i)).count();
    let mut non_delete_failed = false;
    let mut held: Vec<usize> = Vec::new();
    let mut ready: BinaryHeap<(usize, Reverse<usize>)> = BinaryHeap::new();
    for n in nodes.iter().filter(|n| n.waits_for == 0) {
        if is_delete(n.index) && non_deletes_left > 0 {
            held.push(n.index);
        } else {
            ready.push(priority(n.index));
        }
    }
    let mut running: JoinSet<(usize, Result<Option<ResourceState>, String>, Duration)> =
        JoinSet::new();
    let mut task_action: HashMap<tokio::task::Id, (usize, Instant)> = HashMap::new();
    let parallelism = options.parallelism.max(1);
    let mut cancelled = *cancel.borrow();

    loop {
        if non_deletes_left == 0 && !held.is_empty() {
            for i in std::mem::take(&mut held) {
                if outcome[i].is_some() {
                    continue;
                }
                if non_delete_failed {
                    let because = "other changes of this apply failed; deletes wait for a run without failures".to_string();
                    skip_with_dependents(i, &actions, &mut outcome, &nodes, &on_event, because);
                } else {
                    ready.push(priority(i));
                }
            }
        }
        while !cancelled && running.len() < parallelism {
            let Some((_, Reverse(i))) = ready.pop() else {
                break;
            };
            if outcome[i].is_some() {
                // Skipped after it became ready.
                continue;
            }
            let a = actions[i].clone();
            let prior_resource = recorded.get(&a.address).cloned();
            let req = match a
                .config
                .as_ref()
                .map(|c| request(&a.address, a.kind.name(), c, &outputs, &options.region))
            {
                Some(Err(e)) => {
                    let n = finish_failed(
                        i,
                        &actions,
                        &mut outcome,
                        &mut nodes,
                        &on_event,
                        e,
                        Duration::ZERO,
                    );
                    non_deletes_left -= n;
                    non_delete_failed |= n > 0;
                    continue;
                }
                Some(Ok(r)) => Some(r),
                None => None,
            };
            let Some(provider) = registry.get(a.kind.name()) else {
                let e = format!("panka has no provider for {} yet", a.kind);
                let n = finish_failed(
                    i,
                    &actions,
                    &mut outcome,
                    &mut nodes,
                    &on_event,
                    e,
                    Duration::ZERO,
                );
                non_deletes_left -= n;
                non_delete_failed |= n > 0;
                continue;
            };
            on_event(Event::Started {
                address: a.address.clone(),
                action: a.action,
            });
            let cp = checkpointer.clone();
            let deployment_id = options.deployment_id.clone();
            let started = Instant::now();
            let handle = running.spawn(async move {
                let r = run_action(
                    &a,
                    prior_resource.as_deref(),
                    req.as_ref(),
                    provider.as_ref(),
                    &cp,
                    &deployment_id,
                )
                .await;
                (i, r, started.elapsed())
            });
            task_action.insert(handle.id(), (i, started));
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next_with_id() => {
                let Some(joined) = joined else { break };
                let (i, result, elapsed) = match joined {
                    Ok((_, value)) => value,
                    Err(e) => {
                        let (i, started) = task_action.get(&e.id()).copied().expect("every task is registered");
                        let what = if e.is_panic() { "panicked" } else { "was cancelled" };
                        (i, Err(format!("the {} action {what}", actions[i].address)), started.elapsed())
                    }
                };
                match result {
                    Ok(resource) => {
                        if let Some(r) = &resource {
                            outputs.insert(actions[i].address.clone(), r.outputs.clone());
                        } else {
                            outputs.remove(&actions[i].address);
                        }
                        outcome[i] = Some(Outcome::Done);
                        if !is_delete(i) {
                            non_deletes_left -= 1;
                        }
                        on_event(Event::Finished { address: actions[i].address.clone(), action: actions[i].action, elapsed });
                        for d in nodes[i].dependents.clone() {
                            nodes[d].waits_for -= 1;
                            if nodes[d].waits_for == 0 && outcome[d].is_none() {
                                if is_delete(d) && non_deletes_left > 0 {
                                    held.push(d);
                                } else {
                                    ready.push(priority(d));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let n = finish_failed(i, &actions, &mut outcome, &mut nodes, &on_event, e, elapsed);
                        non_deletes_left -= n;
                        non_delete_failed |= n > 0;
                    }
                }
            }
            changed = cancel.changed(), if !cancelled => {
                if changed.is_err() || *cancel.borrow() {
                    cancelled = true;
                }
            }
        }
    }
    drop(checkpointer);
    let (state, writes) = match writer.0.take() {
        Some(w) => w.await.unwrap_or((None, 0)),
        None => (None, 0),
    };
    let mut counts = ChangeCounts::default();
    let results = actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let o = outcome[i].clone().unwrap_or(Outcome::NotStarted);
            match (&o, a.action) {
                (Outcome::Done, ActionKind::Create) => counts.created += 1,
                (Outcome::Done, ActionKind::Update) => counts.updated += 1,
                (Outcome::Done, ActionKind::Replace) => counts.replaced += 1,
                (Outcome::Done, ActionKind::Delete) => counts.deleted += 1,
                (Outcome::Failed(_), _) => counts.failed += 1,
                _ => {}
            }
            (a.address.clone(), a.action, o)
        })
        .collect();
    Report {
        results,
        counts,
        cancelled,
        state,
        writes,
    }
}

/// For each action, the number of actions on the longest chain that waits for it (itself
/// included).
fn heights(nodes: &[Node]) -> Vec<usize> {
    let mut height = vec![0usize; nodes.len()];
    // Kahn's order over dependents, then heights from the end of that order.
    let mut indegree: Vec<usize> = nodes.iter().map(|n| n.waits_for).collect();
    let mut order: Vec<usize> = (0..nodes.len()).filter(|i| indegree[*i] == 0).collect();
    let mut k = 0;
    while k < order.len() {
        let i = order[k];
        k += 1;
        for &d in &nodes[i].dependents {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                order.push(d);
            }
        }
    }
    for &i in order.iter().rev() {
        height[i] = 1 + nodes[i]
            .dependents
            .iter()
            .map(|d| height[*d])
            .max()
            .unwrap_or(0);
    }
    height
}

struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// Marks `i` failed and every action waiting on it, transitively, skipped. Returns how many
/// of them are not deletes (for the delete barrier).
#[allow(clippy::too_many_arguments)]
fn finish_failed(
    i: usize,
    actions: &[&panka_plan::Action],
    outcome: &mut [Option<Outcome>],
    nodes: &mut [Node],
    on_event: &Arc<dyn Fn(Event) + Send + Sync>,
    error: String,
    elapsed: Duration,
) -> usize {
    outcome[i] = Some(Outcome::Failed(error.clone()));
    on_event(Event::Failed {
        address: actions[i].address.clone(),
        action: actions[i].action,
        elapsed,
        error,
    });
    let because = format!("{} failed or was skipped", actions[i].address);
    let skipped = skip_dependents(i, actions, outcome, nodes, on_event, &because);
    usize::from(actions[i].action != ActionKind::Delete) + skipped
}

/// Marks `i` skipped, and everything waiting on it.
fn skip_with_dependents(
    i: usize,
    actions: &[&panka_plan::Action],
    outcome: &mut [Option<Outcome>],
    nodes: &[Node],
    on_event: &Arc<dyn Fn(Event) + Send + Sync>,
    because: String,
) {
    outcome[i] = Some(Outcome::Skipped(because.clone()));
    on_event(Event::Skipped {
        address: actions[i].address.clone(),
        action: actions[i].action,
        because: because.clone(),
    });
    skip_dependents(i, actions, outcome, nodes, on_event, &because);
}

/// Marks every action waiting on `i`, transitively, skipped; returns how many are not deletes.
fn skip_dependents(
    i: usize,
    actions: &[&panka_plan::Action],
    outcome: &mut [Option<Outcome>],
    nodes: &[Node],
    on_event: &Arc<dyn Fn(Event) + Send + Sync>,
    because: &str,
) -> usize {
    let mut non_deletes = 0;
    let mut stack = nodes[i].dependents.clone();
    let mut seen = HashSet::new();
    while let Some(d) = stack.pop() {
        if !seen.insert(d) || outcome[d].is_some() {
            continue;
        }
        outcome[d] = Some(Outcome::Skipped(because.to_string()));
        on_event(Event::Skipped {
            address: actions[d].address.clone(),
            action: actions[d].action,
            because: because.to_string(),
        });
        if actions[d].action != ActionKind::Delete {
            non_deletes += 1;
        }
        stack.extend(nodes[d].dependents.iter().copied());
    }
    non_deletes
}

/// One action: intent, provider calls, checkpoint. Returns the resource as recorded (None when
/// deleted).
async fn run_action(
    a: &panka_plan::Action,
    prior: Option<&ResourceState>,
    req: Option<&crate::provider::Request>,
    provider: &dyn crate::provider::Provider,
    cp: &Checkpointer,
    deployment_id: &str,
) -> Result<Option<ResourceState>, String> {
    let now = panka_backend::now_rfc3339();
    let operation = match a.action {
        ActionKind::Create => IntentOperation::Create,
        ActionKind::Update => IntentOperation::Update,
        ActionKind::Replace => IntentOperation::Replace,
        ActionKind::Delete => IntentOperation::Delete,
        ActionKind::NoOp => return Ok(prior.cloned()),
    };
    let config = a
        .config
        .clone()
        .or_else(|| prior.map(|p| p.config.value()))
        .unwrap_or(Value::Null);
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&a.address)
        .to_string();
    let prior_ids = prior.map(|p| p.physical_ids.clone()).unwrap_or_default();
    let intent = Intent {
        id: uuid::Uuid::new_v4().to_string(),
        address: a.address.clone(),
        kind: a.kind.name().to_string(),
        operation,
        physical_name: name.clone(),
        config: config.clone(),
        physical_ids: prior_ids.clone(),
        deployment_id: deployment_id.to_string(),
        started_at: now.clone(),
    };
    cp.record(Changes {
        add_intents: vec![intent.clone()],
        ..Changes::default()
    })
    .await
    .map_err(|e| {
        format!(
            "recording the intent to {} {}: {e}",
            a.action.verb(),
            a.address
        )
    })?;

    let describe = |e: ProviderError| e.chain();
    let result: Result<Option<crate::provider::Outcome>, String> = match a.action {
        ActionKind::Create => provider
            .create(req.expect("create has a config"))
            .await
            .map(Some)
            .map_err(describe),
        ActionKind::Update => provider
            .update(req.expect("update has a config"), &prior_ids)
            .await
            .map(Some)
            .map_err(describe),
        ActionKind::Replace => {
            let old_config = prior.map(|p| p.config.value()).unwrap_or(Value::Null);
            let old_name = old_config
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&name)
                .to_string();
            match provider.delete(&old_name, &old_config, &prior_ids).await {
                Ok(()) => provider
                    .create(req.expect("replace has a config"))
                    .await
                    .map(Some)
                    .map_err(describe),
                Err(e) => Err(format!("deleting the old {}: {}", a.address, e.chain())),
            }
        }
        ActionKind::Delete => provider
            .delete(&name, &config, &prior_ids)
            .await
            .map(|_| None)
            .map_err(describe),
        ActionKind::NoOp => unreachable!("handled above"),
    };
    let outcome = result?;
    let mut changes = Changes {
        resolve_intents: vec![intent.id],
        ..Changes::default()
    };
    let resource = outcome.map(|o| ResourceState {
        kind: a.kind.name().to_string(),
        physical_ids: o.physical_ids,
        config_hash: panka_state::config_hash(&config),
        config: RecordedConfig::new(&config),
        outputs: o.outputs,
        dependencies: a.depends_on.clone(),
        status: ResourceStatus::Ready,
        created_at: prior
            .filter(|_| a.action == ActionKind::Update)
            .map(|p| p.created_at.clone())
            .unwrap_or_else(|| now.clone()),
        updated_at: panka_backend::now_rfc3339(),
    });
    changes
        .resources
        .insert(a.address.clone(), resource.clone());
    cp.record(changes)
        .await
        .map_err(|e| format!("recording {} in the state: {e}", a.address))?;
    Ok(resource)
}
