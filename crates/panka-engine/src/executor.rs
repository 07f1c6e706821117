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
    ChangeCounts, Intent, IntentOperation, RecordedConfig, ReplacedResource, ResourceState,
    ResourceStatus, State,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::checkpoint::Checkpointer;
use crate::provider::{ErrorKind, ProviderError, Registry, Transient};
use crate::resolve::request;

/// What a finished action's task hands back: its index, its result (the resource's new state,
/// or why it failed), the retries it took and how long it ran.
type Finished = (
    usize,
    Result<Option<ResourceState>, Failure>,
    Retries,
    Duration,
);

/// How an apply runs.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    /// Most actions running at once.
    pub parallelism: usize,
    pub region: String,
    /// Recorded in intents.
    pub deployment_id: String,
    /// How actions failing with a transient error are retried.
    pub retry: RetryPolicy,
    /// The locks the run holds, as (lock name, holder id): every state write carries them, and
    /// is refused once one of them has been taken over (see `panka_backend::Changes::fence`).
    pub fence: Vec<(String, String)>,
}

/// How the engine retries an action whose error is transient: jittered exponential backoff
/// from `base` up to `max_delay` between tries, for as long as the cause's budget
/// ([`Transient::budget`]) allows, counted from the first failure with that cause.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_delay: Duration,
    /// Replaces every cause's budget (tests shorten it); `None` keeps the documented budgets.
    pub budget: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // The SDK has already retried each call (8 attempts, see panka-aws), so the engine
            // starts at a second and backs off to half a minute: enough to outlast a throttling
            // burst or a propagation delay without hammering AWS.
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            budget: None,
        }
    }
}

impl RetryPolicy {
    fn budget(&self, cause: Transient) -> Duration {
        self.budget.unwrap_or_else(|| cause.budget())
    }

    /// The pause before try `attempt + 1`: `base * 2^attempt`, capped, with "equal jitter"
    /// (half fixed, half random) so that actions throttled together do not retry together.
    fn delay(&self, attempt: u32) -> Duration {
        let full = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let half = full / 2;
        let jitter = half.mul_f64(f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0);
        half + jitter
    }
}

/// Why an action failed: the provider's error kind (`None` when the failure is panka's own,
/// such as a state write or a missing provider) and the message with every cause.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub kind: Option<ErrorKind>,
    pub message: String,
}

impl Failure {
    fn panka(message: impl Into<String>) -> Self {
        Failure {
            kind: None,
            message: message.into(),
        }
    }

    fn provider(e: &ProviderError) -> Self {
        Failure {
            kind: Some(e.kind),
            message: e.chain(),
        }
    }

    /// A few words on the class of failure, for summaries.
    pub fn class(&self) -> &'static str {
        match self.kind {
            None => "panka",
            Some(ErrorKind::NotFound) => "not found",
            Some(ErrorKind::Transient(t)) => t.describe(),
            Some(ErrorKind::Invalid) => "invalid request",
            Some(ErrorKind::Timeout) => "timed out",
            Some(ErrorKind::Conflict) => "conflict",
            Some(ErrorKind::NotOwned) => "not panka's",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How many times an action was retried, per cause.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retries {
    pub by_cause: BTreeMap<Transient, u32>,
}

impl Retries {
    pub fn total(&self) -> u32 {
        self.by_cause.values().sum()
    }

    fn add(&mut self, cause: Transient) {
        *self.by_cause.entry(cause).or_default() += 1;
    }
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
        error: Failure,
    },
    /// An action failed with a transient error and is tried again after `wait`.
    Retrying {
        address: String,
        action: ActionKind,
        cause: Transient,
        /// The retry about to be made (1 for the first).
        attempt: u32,
        wait: Duration,
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
    Failed(Failure),
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
    /// The actions that were retried, and how often per cause.
    pub retries: BTreeMap<String, Retries>,
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
    let (checkpointer, writer) =
        Checkpointer::start(store.clone(), key.clone(), lineage, options.fence.clone());
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
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut retries: BTreeMap<String, Retries> = BTreeMap::new();
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
                        Failure::panka(e),
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
                    Failure::panka(e),
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
            let retry = Retrying {
                policy: options.retry.clone(),
                cancel: cancel.clone(),
                on_event: on_event.clone(),
            };
            let handle = running.spawn(async move {
                let mut tried = Retries::default();
                let r = run_action(
                    &a,
                    prior_resource.as_deref(),
                    req.as_ref(),
                    provider.as_ref(),
                    &cp,
                    &deployment_id,
                    retry,
                    &mut tried,
                )
                .await;
                (i, r, tried, started.elapsed())
            });
            task_action.insert(handle.id(), (i, started));
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next_with_id() => {
                let Some(joined) = joined else { break };
                let (i, result, tried, elapsed) = match joined {
                    Ok((_, value)) => value,
                    Err(e) => {
                        let (i, started) = task_action.get(&e.id()).copied().expect("every task is registered");
                        let what = if e.is_panic() { "panicked" } else { "was cancelled" };
                        (i, Err(Failure::panka(format!("the {} action {what}", actions[i].address))), Retries::default(), started.elapsed())
                    }
                };
                if tried.total() > 0 {
                    retries.insert(actions[i].address.clone(), tried);
                }
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
        retries,
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
    error: Failure,
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

/// What an action needs to retry transient failures: the policy, the run's cancellation (no
/// retry starts after it), and the display.
struct Retrying {
    policy: RetryPolicy,
    cancel: watch::Receiver<bool>,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
}

impl Retrying {
    /// Runs `call` (given the try number, 0 first) until it succeeds, fails with an error that
    /// is not transient, the cause's budget is spent, or the run is cancelled.
    async fn run<T, F, Fut>(
        &mut self,
        address: &str,
        action: ActionKind,
        tried: &mut Retries,
        mut call: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(u32) -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let mut first_seen: BTreeMap<Transient, Instant> = BTreeMap::new();
        let mut attempt = 0u32;
        loop {
            let mut e = match call(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let ErrorKind::Transient(cause) = e.kind else {
                return Err(e);
            };
            let since = *first_seen.entry(cause).or_insert_with(Instant::now);
            let budget = self.policy.budget(cause);
            if since.elapsed() >= budget {
                e.message = format!(
                    "{} (gave up after {} tries over {}s: {})",
                    e.message,
                    attempt + 1,
                    since.elapsed().as_secs(),
                    cause.describe()
                );
                return Err(e);
            }
            if *self.cancel.borrow() {
                return Err(e);
            }
            let wait = self.policy.delay(attempt);
            tried.add(cause);
            (self.on_event)(Event::Retrying {
                address: address.to_string(),
                action,
                cause,
                attempt: attempt + 1,
                wait,
                error: e.chain(),
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                changed = self.cancel.changed() => {
                    if changed.is_err() || *self.cancel.borrow() {
                        return Err(e);
                    }
                }
            }
            attempt += 1;
        }
    }
}

/// Creates the resource; a retry first looks for what an earlier try may have made (its
/// answer lost, or its create cut short), and converges that instead of creating again.
async fn create_again(
    provider: &dyn crate::provider::Provider,
    req: &crate::provider::Request,
    attempt: u32,
) -> Result<crate::provider::Outcome, ProviderError> {
    if attempt > 0
        && let Some(found) = provider.find(req).await?
    {
        return provider.update(req, &found.physical_ids).await;
    }
    provider.create(req).await
}

/// One action: intent, provider calls (retried while their errors are transient), checkpoint.
/// Returns the resource as recorded (None when deleted).
#[allow(clippy::too_many_arguments)]
async fn run_action(
    a: &panka_plan::Action,
    prior: Option<&ResourceState>,
    req: Option<&crate::provider::Request>,
    provider: &dyn crate::provider::Provider,
    cp: &Checkpointer,
    deployment_id: &str,
    mut retry: Retrying,
    tried: &mut Retries,
) -> Result<Option<ResourceState>, Failure> {
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
    let old_config = prior.map(|p| p.config.value()).unwrap_or(Value::Null);
    let old_name = old_config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_string();
    // A replace records the identity it replaces, so that recovery after a kill knows both
    // sides: the old resource (deleted first) and the new one (created after).
    let replaces = (a.action == ActionKind::Replace).then(|| ReplacedResource {
        physical_name: old_name.clone(),
        config: old_config.clone(),
        physical_ids: prior_ids.clone(),
    });
    let intent = Intent {
        id: uuid::Uuid::new_v4().to_string(),
        address: a.address.clone(),
        kind: a.kind.name().to_string(),
        operation,
        physical_name: name.clone(),
        config: config.clone(),
        physical_ids: prior_ids.clone(),
        replaces,
        deployment_id: deployment_id.to_string(),
        started_at: now.clone(),
    };
    cp.record(Changes {
        add_intents: vec![intent.clone()],
        ..Changes::default()
    })
    .await
    .map_err(|e| {
        Failure::panka(format!(
            "recording the intent to {} {}: {e}",
            a.action.verb(),
            a.address
        ))
    })?;

    let (address, action) = (a.address.as_str(), a.action);
    let failed = |e: ProviderError| Failure::provider(&e);
    let result: Result<Option<crate::provider::Outcome>, Failure> = match a.action {
        ActionKind::Create => {
            let req = req.expect("create has a config");
            retry
                .run(address, action, tried, |n| create_again(provider, req, n))
                .await
                .map(Some)
                .map_err(failed)
        }
        ActionKind::Update => {
            let req = req.expect("update has a config");
            retry
                .run(address, action, tried, |_| provider.update(req, &prior_ids))
                .await
                .map(Some)
                .map_err(failed)
        }
        ActionKind::Replace => {
            let req = req.expect("replace has a config");
            match retry
                .run(address, action, tried, |_| {
                    provider.delete(&old_name, &old_config, &prior_ids)
                })
                .await
            {
                Ok(()) => retry
                    .run(address, action, tried, |n| create_again(provider, req, n))
                    .await
                    .map(Some)
                    .map_err(failed),
                Err(e) => Err(Failure {
                    kind: Some(e.kind),
                    message: format!("deleting the old {}: {}", a.address, e.chain()),
                }),
            }
        }
        ActionKind::Delete => retry
            .run(address, action, tried, |_| {
                provider.delete(&name, &config, &prior_ids)
            })
            .await
            .map(|_| None)
            .map_err(failed),
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
        // An update changes what was adopted; a replacement is panka's own.
        adopted: prior
            .filter(|_| a.action == ActionKind::Update)
            .is_some_and(|p| p.adopted),
    });
    changes
        .resources
        .insert(a.address.clone(), resource.clone());
    cp.record(changes)
        .await
        .map_err(|e| Failure::panka(format!("recording {} in the state: {e}", a.address)))?;
    Ok(resource)
}
