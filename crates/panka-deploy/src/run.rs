//! One run of `apply`, `destroy`, `rollback` or `drift remediate`: lock, recover, refresh,
//! plan, judge, approve, execute, record, release.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use panka_backend::{Changes, LockScope, LockStore, StateKey, StateStore, commit, ops};
use panka_engine::provider::BoxFuture;
use panka_engine::{
    Event, ExecuteOptions, Recovered, Registry, Report, RetryPolicy, execute, recover,
};
use panka_format::Stack;
use panka_plan::{ActionKind, Plan, PlanError};
use panka_policy::{Policies, Verdict};
use panka_state::{Deployment, DeploymentResult, State};

use crate::locking::{Held, LockOptions, lock_name};
use crate::stop::Stop;
use crate::{DeployError, record};

/// The service lock that serializes creating and changing the stack's shared resources.
pub const SHARED_LOCK: &str = "_shared";

/// How long a service apply waits for another one to finish the shared resources: creating a
/// load balancer takes a few minutes.
pub const SHARED_LOCK_WAIT: Duration = Duration::from_secs(15 * 60);

/// How the person running panka sees a run and answers it.
pub trait Ui: Send + Sync {
    /// A line about progress: lock waits, recovery, refresh, retries of the run itself.
    fn note(&self, text: &str);
    /// The plan, before it is judged and approved.
    fn plan(&self, plan: &Plan);
    /// What the policies said of the plan (only when there are policies).
    fn verdict(&self, verdict: &Verdict);
    /// Asks whether to go ahead.
    fn approve<'a>(&'a self, question: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// Progress of the execution.
    fn event(&self, event: Event);
}

/// What a run works with.
pub struct Deployer<'a> {
    pub stack: &'a Stack,
    pub store: &'a StateStore,
    pub locks: &'a LockStore,
    pub key: &'a StateKey,
    pub registry: &'a Registry,
    pub ui: Arc<dyn Ui>,
    pub stop: Stop,
    /// Where deployment metrics go (`deployment.metrics`), if anywhere.
    pub metrics: Option<crate::metrics::MetricsSink>,
}

/// How a run goes.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// `apply`, `destroy`, `rollback`, `remediate`: shown to other runs and in the history.
    pub operation: String,
    /// The lock asked for: a service's, or the whole stack's. A service run whose plan must
    /// change another service's resources takes that service's lock too.
    pub scope: LockScope,
    pub auto_approve: bool,
    /// Plan against what AWS reports instead of the recorded configuration.
    pub refresh: bool,
    pub parallelism: usize,
    /// How long to wait for a live holder of a lock; zero fails at once.
    pub lock_wait: Duration,
    /// How long a lock lives without a heartbeat (tests shorten it).
    pub lock_ttl: Duration,
    pub retry: RetryPolicy,
}

impl RunOptions {
    /// The options of an apply with the defaults of the command line.
    pub fn new(operation: &str, scope: LockScope) -> Self {
        RunOptions {
            operation: operation.to_string(),
            scope,
            auto_approve: false,
            refresh: false,
            parallelism: 8,
            lock_wait: DEFAULT_LOCK_WAIT,
            lock_ttl: panka_backend::locks::LOCK_TTL,
            retry: RetryPolicy::default(),
        }
    }
}

/// How long a run waits for a lock a live run holds, unless `--lock-timeout` says otherwise:
/// long enough for another team's typical apply to finish, short enough that a forgotten one
/// is noticed.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(5 * 60);

/// Makes the plan from the state the run starts from (after recovery and refresh).
pub type MakePlan<'a> = dyn Fn(Option<&State>) -> Result<Plan, PlanError> + Send + Sync + 'a;

/// How a run ended.
#[derive(Debug)]
pub enum Finished {
    /// The plan changes nothing.
    NothingToDo { plan: Box<Plan> },
    /// The plan was not approved.
    Declined { plan: Box<Plan> },
    /// The plan was executed, completely or not.
    Applied(Box<Applied>),
}

/// An executed plan.
#[derive(Debug)]
pub struct Applied {
    pub plan: Plan,
    pub report: Report,
    pub result: DeploymentResult,
    /// The deployment as recorded (or as it would have been, see `record_error`).
    pub deployment: Deployment,
    /// A lock was lost during the run: it stopped scheduling.
    pub lock_lost: bool,
    /// A stop (Ctrl-C, SIGTERM) ended the run early.
    pub stopped: bool,
    /// The deployment could not be recorded.
    pub record_error: Option<String>,
    /// The automatic rollback that followed a failed apply (`deployment.autoRollback`).
    pub rollback: Option<Box<Rollback>>,
}

/// An automatic rollback after a failed apply.
#[derive(Debug)]
pub enum Rollback {
    /// There was no successful deployment to go back to.
    NothingToGoBackTo,
    /// The plan back to the last successful deployment, and how it went.
    Ran {
        /// The deployment gone back to.
        to: String,
        /// Steps a rollback does not take (deleting or replacing a stateful resource).
        kept: Vec<panka_plan::KeptBack>,
        applied: Box<Applied>,
    },
    /// It could not be planned or run.
    Failed(String),
}

impl Deployer<'_> {
    /// Runs `make_plan`'s plan under the locks `options.scope` names (and those the plan turns
    /// out to need), judged by `policies`.
    ///
    /// # Errors
    /// A lock that stays held, a stop before execution, a store, recovery, refresh, plan or
    /// policy failure, or a denied plan. A failed execution is not an error: it is an
    /// [`Applied`] whose result says so.
    ///
    /// # Guarantees
    /// The locks taken are released however the run ends (short of the process dying, after
    /// which they are taken over, see `panka_backend::locks`).
    pub async fn run(
        &self,
        options: &RunOptions,
        policies: &mut Policies,
        make_plan: &MakePlan<'_>,
    ) -> Result<Finished, DeployError> {
        let started = Instant::now();
        let started_at = panka_backend::now_rfc3339();
        let lock_options = self.lock_options(options, options.lock_wait);
        let mut held = Held::take(
            self.locks,
            self.store,
            std::slice::from_ref(&options.scope),
            &lock_options,
            &self.stop,
            self.ui.as_ref(),
        )
        .await?;
        let result = self
            .run_locked(
                options,
                policies,
                make_plan,
                &mut held,
                started,
                &started_at,
            )
            .await;
        held.release(self.ui.as_ref()).await;
        result
    }

    fn lock_options(&self, options: &RunOptions, wait: Duration) -> LockOptions {
        LockOptions {
            key: self.key.clone(),
            operation: options.operation.clone(),
            wait,
            ttl: options.lock_ttl,
        }
    }

    fn check_stop(&self, phase: &'static str) -> Result<(), DeployError> {
        if self.stop.requested() {
            return Err(DeployError::Stopped { phase });
        }
        Ok(())
    }

    async fn run_locked(
        &self,
        options: &RunOptions,
        policies: &mut Policies,
        make_plan: &MakePlan<'_>,
        held: &mut Held,
        started: Instant,
        started_at: &str,
    ) -> Result<Finished, DeployError> {
        let mut widened = false;
        loop {
            self.check_stop("reading the state")?;
            let state = self.read_state().await?;
            let state = self.recover_covered(state, held, options).await?;

            // With --refresh the plan compares against what AWS reports; the recorded state
            // keeps its ids and is updated by the actions as usual.
            let mut compared = state.clone();
            if options.refresh
                && let Some(s) = &mut compared
            {
                let refreshed = tokio::select! {
                    r = crate::refresh::refresh(self.registry, &self.stack.region, s) => r?,
                    () = self.stop.wait() => return Err(DeployError::Stopped { phase: "refreshing" }),
                };
                for address in &refreshed.gone {
                    self.ui.note(&format!(
                        "{address} no longer exists in AWS: the plan creates it again."
                    ));
                }
                if !refreshed.unread.is_empty() {
                    self.ui.note(&format!(
                        "Not refreshed (no provider for their kind): {}",
                        refreshed.unread.join(", ")
                    ));
                }
            }
            self.check_stop("planning")?;
            let plan = make_plan(compared.as_ref()).map_err(DeployError::Plan)?;

            // A service lock covers that service only. A plan that must also change another
            // service's resources (a dependency coming along with targeting) takes that
            // service's lock too, then plans again from the state as it is once it holds it.
            // The stack's shared cluster and load balancer are the exception: a service apply
            // creates or updates them when it needs them, under the `_shared` lock, but never
            // deletes them.
            if !held.whole_stack() {
                let outside = outside_services(&plan, held);
                if !outside.is_empty() {
                    if widened {
                        return Err(DeployError::Outside {
                            services: outside.into_iter().collect(),
                        });
                    }
                    widened = true;
                    self.widen(held, &outside, options).await?;
                    continue;
                }
            }
            return self
                .apply_plan(plan, state, options, policies, held, started, started_at)
                .await;
        }
    }

    async fn read_state(&self) -> Result<Option<State>, DeployError> {
        Ok(self
            .store
            .read(self.key)
            .await
            .map_err(DeployError::State)?
            .map(|s| s.state))
    }

    /// Takes the locks of `services` too: at once when they are free, else by releasing what
    /// is held and taking everything again in the fixed order (waiting for live holders), so
    /// that two runs widening towards each other's services cannot deadlock.
    async fn widen(
        &self,
        held: &mut Held,
        services: &BTreeSet<String>,
        options: &RunOptions,
    ) -> Result<(), DeployError> {
        let scopes: Vec<LockScope> = services
            .iter()
            .map(|s| LockScope::Service(s.clone()))
            .collect();
        self.ui.note(&format!(
            "The plan also changes {}: taking {} lock too.",
            services
                .iter()
                .map(|s| format!("service `{s}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if services.len() == 1 { "its" } else { "their" }
        ));
        let at_once = self.lock_options(options, Duration::ZERO);
        match Held::take(
            self.locks,
            self.store,
            &scopes,
            &at_once,
            &self.stop,
            self.ui.as_ref(),
        )
        .await
        {
            Ok(more) => {
                held.absorb(more);
                Ok(())
            }
            Err(DeployError::Lock { .. }) => {
                let mut all: Vec<LockScope> = held
                    .services()
                    .into_iter()
                    .map(LockScope::Service)
                    .collect();
                all.extend(scopes);
                let previous = std::mem::replace(held, Held::none());
                let waited = previous.waited;
                previous.release(self.ui.as_ref()).await;
                let mut again = Held::take(
                    self.locks,
                    self.store,
                    &all,
                    &self.lock_options(options, options.lock_wait),
                    &self.stop,
                    self.ui.as_ref(),
                )
                .await?;
                again.waited += waited;
                *held = again;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Resolves the intents a killed run left that the held locks cover; under a service lock,
    /// the stack's shared resources' intents too, under the `_shared` lock.
    async fn recover_covered(
        &self,
        state: Option<State>,
        held: &Held,
        options: &RunOptions,
    ) -> Result<Option<State>, DeployError> {
        let Some(state) = state else {
            return Ok(None);
        };
        let covered = |address: &str| {
            let service = address.split('/').next().unwrap_or_default();
            held.covers(service)
        };
        let mine: Vec<panka_state::Intent> = state
            .pending
            .iter()
            .filter(|i| covered(&i.address))
            .cloned()
            .collect();
        let mut state = if mine.is_empty() {
            state
        } else {
            self.recover_intents(&state, mine, &held.fence()).await?
        };
        let shared: Vec<panka_state::Intent> = state
            .pending
            .iter()
            .filter(|i| i.address.starts_with(panka_engine::resolve::SHARED_PREFIX))
            .cloned()
            .collect();
        if !shared.is_empty() && !held.whole_stack() {
            // Only a run holding the `_shared` lock changes the shared resources, so once this
            // run holds it, their pending intents are a dead run's.
            let lock = Held::take(
                self.locks,
                self.store,
                &[LockScope::Service(SHARED_LOCK.into())],
                &self.lock_options(options, options.lock_wait.max(SHARED_LOCK_WAIT)),
                &self.stop,
                self.ui.as_ref(),
            )
            .await?;
            let mut fence = held.fence();
            fence.extend(lock.fence());
            let latest = self.read_state().await?.unwrap_or(state);
            let shared: Vec<panka_state::Intent> = latest
                .pending
                .iter()
                .filter(|i| i.address.starts_with(panka_engine::resolve::SHARED_PREFIX))
                .cloned()
                .collect();
            let recovered = if shared.is_empty() {
                Ok(latest)
            } else {
                self.recover_intents(&latest, shared, &fence).await
            };
            lock.release(self.ui.as_ref()).await;
            state = recovered?;
        }
        Ok(Some(state))
    }

    async fn recover_intents(
        &self,
        state: &State,
        intents: Vec<panka_state::Intent>,
        fence: &[(String, String)],
    ) -> Result<State, DeployError> {
        self.ui.note(&format!(
            "Resolving {} operation{} a previous run left unfinished…",
            intents.len(),
            if intents.len() == 1 { "" } else { "s" }
        ));
        let mut scoped = state.clone();
        scoped.pending = intents;
        let (mut changes, recovered) = tokio::select! {
            r = recover(&scoped, self.registry, &self.stack.region) => r.map_err(DeployError::Recovery)?,
            () = self.stop.wait() => return Err(DeployError::Stopped { phase: "recovering" }),
        };
        for r in &recovered {
            self.ui.note(&format!("  {}", describe_recovered(r)));
        }
        changes.fence = fence.to_vec();
        commit(self.store, self.key, Some(&state.lineage), &changes)
            .await
            .map_err(DeployError::State)
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_plan(
        &self,
        plan: Plan,
        state: Option<State>,
        options: &RunOptions,
        policies: &mut Policies,
        held: &Held,
        started: Instant,
        started_at: &str,
    ) -> Result<Finished, DeployError> {
        self.ui.plan(&plan);
        for conflict in
            crate::conflicts::creates_in_conflict(&plan, self.registry, &self.stack.region).await
        {
            self.ui.note(&format!(
                "⚠ {}: {} (this create will fail)",
                conflict.address, conflict.message
            ));
        }
        if !policies.is_empty() {
            let document = serde_json::to_value(&plan).map_err(|e| {
                DeployError::Recovery(format!("writing the plan for its policies: {e}"))
            })?;
            let verdict = policies.evaluate(&document).map_err(DeployError::Policy)?;
            self.ui.verdict(&verdict);
            if verdict.is_denied() {
                return Err(DeployError::Denied {
                    denials: verdict.denials.len(),
                });
            }
        }
        if !plan.has_changes() {
            return Ok(Finished::NothingToDo {
                plan: Box::new(plan),
            });
        }
        if !options.auto_approve {
            let question = format!(
                "{} these changes to {}/{}?",
                match options.operation.as_str() {
                    "destroy" => "Destroy with",
                    "rollback" => "Roll back with",
                    "remediate" => "Remediate with",
                    _ => "Apply",
                },
                self.stack.name,
                self.stack.environment
            );
            let yes = tokio::select! {
                answer = self.ui.approve(&question) => answer.map_err(DeployError::Prompt)?,
                () = self.stop.wait() => return Err(DeployError::Stopped { phase: "waiting for approval" }),
            };
            if !yes {
                return Ok(Finished::Declined {
                    plan: Box::new(plan),
                });
            }
        }

        let mut applied = self
            .execute_and_record(
                plan,
                state,
                &options.operation,
                options,
                held,
                started,
                started_at,
                None,
            )
            .await?;
        if options.operation == "apply"
            && self.stack.deployment.auto_rollback
            && applied.result == DeploymentResult::Failed
            && !applied.lock_lost
            && !applied.stopped
        {
            applied.rollback = Some(Box::new(self.roll_back(&applied, options, held).await));
        }
        Ok(Finished::Applied(Box::new(applied)))
    }

    /// Runs a plan under the held locks (the stack's shared resources first, under their own
    /// lock, for a service run), then records the deployment.
    #[allow(clippy::too_many_arguments)]
    async fn execute_and_record(
        &self,
        plan: Plan,
        state: Option<State>,
        operation: &str,
        options: &RunOptions,
        held: &Held,
        started: Instant,
        started_at: &str,
        rollback_of: Option<String>,
    ) -> Result<Applied, DeployError> {
        // The executor stops scheduling when the run is stopped or a lock is lost.
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(self.stop.requested());
        let lock_lost = Arc::new(AtomicBool::new(false));
        let watcher = {
            let stop = self.stop.clone();
            let mut lost = held.lost_signal();
            let lock_lost = lock_lost.clone();
            let ui = self.ui.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = stop.wait() => {}
                    () = async {
                        while !*lost.borrow_and_update() {
                            if lost.changed().await.is_err() {
                                std::future::pending::<()>().await;
                            }
                        }
                    } => {
                        lock_lost.store(true, Ordering::SeqCst);
                        ui.note("This run's lock is lost (taken over, or the lock store unreachable): no new action starts; the running ones finish and are recorded.");
                    }
                }
                cancel_tx.send_replace(true);
            })
        };
        let deployment_id = record::new_id();
        let execute_options = ExecuteOptions {
            parallelism: options.parallelism.max(1),
            region: self.stack.region.clone(),
            deployment_id: deployment_id.clone(),
            retry: options.retry.clone(),
            fence: held.fence(),
        };
        let events: Arc<dyn Fn(Event) + Send + Sync> = {
            let ui = self.ui.clone();
            Arc::new(move |e| ui.event(e))
        };
        // Under a service lock, the stack's shared resources are applied first and on their
        // own, under the `_shared` lock, so that two service applies never create them at once.
        let shared_first = !held.whole_stack()
            && plan.actions.iter().any(|a| {
                a.address.starts_with(panka_engine::resolve::SHARED_PREFIX)
                    && a.action != ActionKind::NoOp
            });
        let mut lock_waited = held.waited;
        let report = if shared_first {
            let (shared, rest) = split_shared(&plan);
            self.ui
                .note("The stack's shared resources first, under the `_shared` lock:");
            let shared_lock = Held::take(
                self.locks,
                self.store,
                &[LockScope::Service(SHARED_LOCK.into())],
                &self.lock_options(options, options.lock_wait.max(SHARED_LOCK_WAIT)),
                &self.stop,
                self.ui.as_ref(),
            )
            .await;
            let shared_lock = match shared_lock {
                Ok(l) => l,
                Err(e) => {
                    watcher.abort();
                    return Err(e);
                }
            };
            lock_waited += shared_lock.waited;
            let mut fenced = execute_options.clone();
            fenced.fence.extend(shared_lock.fence());
            let first = execute(
                &shared,
                state.as_ref(),
                self.registry,
                self.store,
                self.key,
                &fenced,
                events.clone(),
                cancel_rx.clone(),
            )
            .await;
            shared_lock.release(self.ui.as_ref()).await;
            let prior = first.state.clone().or_else(|| state.clone());
            let second = execute(
                &rest,
                prior.as_ref(),
                self.registry,
                self.store,
                self.key,
                &execute_options,
                events,
                cancel_rx,
            )
            .await;
            merge_reports(first, second)
        } else {
            execute(
                &plan,
                state.as_ref(),
                self.registry,
                self.store,
                self.key,
                &execute_options,
                events,
                cancel_rx,
            )
            .await
        };
        watcher.abort();
        let lock_lost = lock_lost.load(Ordering::SeqCst);
        let stopped = self.stop.requested();
        let result = if report.cancelled {
            if lock_lost {
                DeploymentResult::Failed
            } else {
                DeploymentResult::Cancelled
            }
        } else if report.succeeded() {
            DeploymentResult::Succeeded
        } else {
            DeploymentResult::Failed
        };
        let mut deployment = record::deployment(
            operation,
            self.stack,
            started,
            started_at,
            result,
            report.counts.clone(),
        );
        deployment.id = deployment_id;
        deployment.services = plan.targeting.services.clone();
        deployment.lock_wait_seconds = lock_waited.as_secs_f64();
        deployment.rollback_of = rollback_of;
        let lineage = report
            .state
            .as_ref()
            .map(|s| s.lineage.clone())
            .or_else(|| state.as_ref().map(|s| s.lineage.clone()));
        let recorded = ops::save_deployment(
            self.store,
            self.key,
            lineage.as_deref(),
            Changes {
                fence: held.fence(),
                ..Changes::default()
            },
            deployment.clone(),
        )
        .await;
        if let Some(sink) = &self.metrics
            && let Err(e) = sink
                .publish(&self.stack.name, &self.stack.environment, &deployment)
                .await
        {
            self.ui.note(&format!("warning: {e}"));
        }
        Ok(Applied {
            plan,
            report,
            result,
            deployment,
            lock_lost,
            stopped,
            record_error: recorded.err().map(|e| crate::error_chain(&e)),
            rollback: None,
        })
    }

    /// Puts what a failed apply changed back to the last successful deployment: planned with
    /// `panka_plan::auto_rollback_plan` (stateful resources never deleted or replaced), shown,
    /// applied without asking (the apply it undoes was approved), and recorded as a rollback of
    /// that apply.
    async fn roll_back(&self, failed: &Applied, options: &RunOptions, held: &Held) -> Rollback {
        let history = match self.store.history(self.key).await {
            Ok(h) => h,
            Err(e) => {
                return Rollback::Failed(format!(
                    "reading the history: {}",
                    crate::error_chain(&e)
                ));
            }
        };
        let Some(target) = history
            .iter()
            .filter(|h| {
                h.deployment.id != failed.deployment.id
                    && h.deployment.result == DeploymentResult::Succeeded
                    && matches!(
                        h.deployment.operation.as_str(),
                        "apply" | "rollback" | "remediate"
                    )
            })
            .max_by(|a, b| a.deployment.finished_at.cmp(&b.deployment.finished_at))
        else {
            self.ui
                .note("Automatic rollback: there is no successful deployment to go back to.");
            return Rollback::NothingToGoBackTo;
        };
        let current = match self.read_state().await {
            Ok(Some(s)) => s,
            Ok(None) => return Rollback::NothingToGoBackTo,
            Err(e) => return Rollback::Failed(crate::error_chain(&e)),
        };
        let changed: std::collections::HashSet<String> = failed
            .report
            .results
            .iter()
            .filter(|(_, action, outcome)| {
                *action != ActionKind::NoOp
                    && matches!(
                        outcome,
                        panka_engine::Outcome::Done | panka_engine::Outcome::Failed(_)
                    )
            })
            .map(|(address, _, _)| address.clone())
            .collect();
        let (plan, kept) =
            match panka_plan::auto_rollback_plan(self.stack, &current, &target.state, &changed) {
                Ok(p) => p,
                Err(e) => return Rollback::Failed(format!("planning the rollback: {e}")),
            };
        self.ui.note(&format!(
            "Automatic rollback (deployment.autoRollback): putting what the failed apply changed back to deployment {} ({} at {}).",
            target.deployment.id, target.deployment.operation, target.deployment.finished_at
        ));
        for k in &kept {
            self.ui
                .note(&format!("  kept as it is: {}: {}", k.address, k.reason));
        }
        self.ui.plan(&plan);
        let started = Instant::now();
        let started_at = panka_backend::now_rfc3339();
        match self
            .execute_and_record(
                plan,
                Some(current),
                "rollback",
                options,
                held,
                started,
                &started_at,
                Some(failed.deployment.id.clone()),
            )
            .await
        {
            Ok(applied) => Rollback::Ran {
                to: target.deployment.id.clone(),
                kept,
                applied: Box::new(applied),
            },
            Err(e) => Rollback::Failed(crate::error_chain(&e)),
        }
    }
}

/// Services other than those locked whose resources the plan changes (the shared resources'
/// creates and updates excepted: they run under the `_shared` lock).
fn outside_services(plan: &Plan, held: &Held) -> BTreeSet<String> {
    plan.actions
        .iter()
        .filter(|a| a.action != ActionKind::NoOp)
        .filter(|a| {
            !(a.address.starts_with(panka_engine::resolve::SHARED_PREFIX)
                && matches!(a.action, ActionKind::Create | ActionKind::Update))
        })
        .filter_map(|a| a.address.split('/').next())
        .filter(|service| !held.covers(service))
        .map(str::to_string)
        .collect()
}

fn describe_recovered(r: &Recovered) -> String {
    let what = if r.old_deleted {
        "the replacement was found and adopted; the old resource it replaced was deleted"
    } else if r.old_kept {
        "the replace had not created the new resource: the old one is kept and will be replaced again"
    } else if r.found {
        "found in AWS, adopted"
    } else {
        "not in AWS"
    };
    format!("{} ({:?}): {what}", r.address, r.operation)
}

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
fn merge_reports(first: Report, second: Report) -> Report {
    let mut results = first.results;
    results.extend(second.results);
    let (a, b) = (first.counts, second.counts);
    Report {
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
        retries: first.retries.into_iter().chain(second.retries).collect(),
    }
}

/// The lock name of a scope, for messages.
pub fn scope_name(scope: &LockScope) -> String {
    lock_name(scope)
}
