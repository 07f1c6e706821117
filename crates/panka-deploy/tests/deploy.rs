//! The orchestration without processes: memory state and locks, the engine's in-memory
//! provider. Stops at each phase, lost locks, scope widening, recovery under a service lock.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use panka_backend::locks::MemoryLocks;
use panka_backend::{LockRequest, LockScope, LockStore, MemoryStore, StateKey, StateStore};
use panka_deploy::{DeployError, Deployer, Finished, RunOptions, Stop, Ui};
use panka_engine::provider::BoxFuture;
use panka_engine::testing::FakeCloud;
use panka_engine::{Event, Outcome, Registry};
use panka_format::{LoadOptions, Stack, load};
use panka_plan::{Plan, PlanOptions, Targeting, plan};
use panka_policy::Policies;
use panka_state::{DeploymentResult, State};

fn example() -> Stack {
    load(&LoadOptions {
        stack: "examples/shop".into(),
        environment: "dev".into(),
        vars: Default::default(),
        cwd: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    })
    .unwrap()
    .stack
    .unwrap()
}

fn registry(cloud: &FakeCloud) -> Registry {
    let mut r = Registry::new();
    for kind in panka_format::Kind::ALL {
        let outputs: Vec<&str> = kind.info().outputs.iter().map(|o| o.name).collect();
        r.register_dyn(kind.name(), cloud.provider(kind.name(), &outputs));
    }
    r.register_dyn("SharedCluster", cloud.provider("SharedCluster", &[]));
    r.register_dyn(
        "SharedLoadBalancer",
        cloud.provider("SharedLoadBalancer", &[]),
    );
    r
}

/// What the person running panka would have seen, and how they answer.
#[derive(Default)]
struct TestUi {
    notes: Mutex<Vec<String>>,
    events: Mutex<Vec<Event>>,
    /// `None`: the prompt is never answered.
    answer: Option<bool>,
}

impl TestUi {
    fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }
}

impl Ui for TestUi {
    fn note(&self, text: &str) {
        self.notes.lock().unwrap().push(text.to_string());
    }
    fn plan(&self, _plan: &Plan) {}
    fn verdict(&self, _verdict: &panka_policy::Verdict) {}
    fn approve<'a>(&'a self, _question: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        let answer = self.answer;
        Box::pin(async move {
            match answer {
                Some(a) => Ok(a),
                None => std::future::pending().await,
            }
        })
    }
    fn event(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
}

struct World {
    stack: Stack,
    cloud: FakeCloud,
    registry: Registry,
    store: StateStore,
    memory_locks: MemoryLocks,
    locks: LockStore,
    key: StateKey,
}

impl World {
    fn new() -> World {
        let cloud = FakeCloud::new();
        let memory_locks = MemoryLocks::new();
        World {
            stack: example(),
            registry: registry(&cloud),
            cloud,
            store: StateStore::Memory(MemoryStore::new()),
            locks: LockStore::Memory(memory_locks.clone()),
            memory_locks,
            key: StateKey::new("shop", "dev"),
        }
    }

    fn deployer(&self, ui: Arc<TestUi>, stop: Stop) -> Deployer<'_> {
        Deployer {
            stack: &self.stack,
            store: &self.store,
            locks: &self.locks,
            key: &self.key,
            registry: &self.registry,
            ui,
            stop,
            metrics: None,
        }
    }

    async fn state(&self) -> Option<State> {
        self.store.read(&self.key).await.unwrap().map(|s| s.state)
    }
}

fn options(scope: LockScope) -> RunOptions {
    RunOptions {
        auto_approve: true,
        lock_wait: Duration::from_secs(20),
        lock_ttl: Duration::from_secs(2),
        retry: panka_engine::RetryPolicy {
            base: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            budget: None,
        },
        ..RunOptions::new("apply", scope)
    }
}

fn planner(
    stack: &Stack,
    services: &[&str],
) -> impl Fn(Option<&State>) -> Result<Plan, panka_plan::PlanError> + Send + Sync {
    let stack = stack.clone();
    let options = PlanOptions {
        targeting: Targeting {
            services: services.iter().map(|s| s.to_string()).collect(),
            ..Targeting::default()
        },
        ..PlanOptions::default()
    };
    move |state| plan(&stack, state, &options)
}

fn applied(finished: Finished) -> Box<panka_deploy::Applied> {
    match finished {
        Finished::Applied(a) => a,
        other => panic!("expected an applied plan, got {other:?}"),
    }
}

#[tokio::test]
async fn an_apply_runs_under_its_lock_and_releases_it() {
    let world = World::new();
    let ui = Arc::new(TestUi::default());
    let run = world.deployer(ui.clone(), Stop::never());
    let done = applied(
        run.run(
            &options(LockScope::Stack),
            &mut Policies::none(),
            &planner(&world.stack, &[]),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        done.result,
        DeploymentResult::Succeeded,
        "{:?}",
        done.report.results
    );
    assert_eq!(done.report.counts.created, 15);
    assert!(world.locks.list().await.unwrap().is_empty());
    let state = world.state().await.unwrap();
    assert_eq!(state.last_deployment.unwrap().id, done.deployment.id);
    // The run fenced its lock in the state.
    assert!(state.fences.contains_key("*"));
    let again = run
        .run(
            &options(LockScope::Stack),
            &mut Policies::none(),
            &planner(&world.stack, &[]),
        )
        .await
        .unwrap();
    assert!(matches!(again, Finished::NothingToDo { .. }));
}

#[tokio::test]
async fn a_stop_while_waiting_for_a_lock_ends_the_run() {
    let world = World::new();
    let other = world
        .locks
        .acquire(&LockRequest::new(
            world.key.clone(),
            LockScope::Stack,
            "apply",
            Duration::ZERO,
        ))
        .await
        .unwrap();
    let ui = Arc::new(TestUi::default());
    let (handle, stop) = Stop::new();
    let run = world.deployer(ui.clone(), stop);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        handle.stop();
    });
    let result = run
        .run(
            &options(LockScope::Stack),
            &mut Policies::none(),
            &planner(&world.stack, &[]),
        )
        .await;
    assert!(
        matches!(
            result,
            Err(DeployError::Stopped {
                phase: "waiting for a lock"
            })
        ),
        "{result:?}"
    );
    assert!(
        ui.notes()
            .iter()
            .any(|n| n.starts_with("Waiting for the whole stack"))
    );
    assert!(world.cloud.names().is_empty());
    other.release().await.unwrap();
}

#[tokio::test]
async fn a_stop_at_the_prompt_applies_nothing_and_releases_the_lock() {
    let world = World::new();
    let ui = Arc::new(TestUi::default());
    let (handle, stop) = Stop::new();
    let run = world.deployer(ui.clone(), stop);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        handle.stop();
    });
    let mut asking = options(LockScope::Stack);
    asking.auto_approve = false;
    let result = run
        .run(&asking, &mut Policies::none(), &planner(&world.stack, &[]))
        .await;
    assert!(
        matches!(
            result,
            Err(DeployError::Stopped {
                phase: "waiting for approval"
            })
        ),
        "{result:?}"
    );
    assert!(world.cloud.names().is_empty());
    assert!(world.locks.list().await.unwrap().is_empty());
}

/// Stopped in the middle of the execution: the running actions finish and are recorded, the
/// rest does not start, the lock is released; the next run finishes without duplicates.
#[tokio::test]
async fn a_stop_during_execution_lets_running_actions_finish() {
    let world = World::new();
    world.cloud.set_default_latency(Duration::from_millis(200));
    let ui = Arc::new(TestUi::default());
    let (handle, stop) = Stop::new();
    let run = world.deployer(ui.clone(), stop);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        handle.stop();
    });
    let mut two = options(LockScope::Stack);
    two.parallelism = 2;
    let done = applied(
        run.run(&two, &mut Policies::none(), &planner(&world.stack, &[]))
            .await
            .unwrap(),
    );
    assert_eq!(done.result, DeploymentResult::Cancelled);
    assert!(done.stopped);
    let finished = done
        .report
        .results
        .iter()
        .filter(|(_, _, o)| *o == Outcome::Done)
        .count();
    let not_started = done
        .report
        .results
        .iter()
        .filter(|(_, _, o)| *o == Outcome::NotStarted)
        .count();
    assert!(
        finished >= 1 && not_started >= 1,
        "{:?}",
        done.report.results
    );
    assert!(world.locks.list().await.unwrap().is_empty());
    let state = world.state().await.unwrap();
    assert_eq!(state.resources.len(), finished);
    assert!(state.pending.is_empty());

    world.cloud.set_default_latency(Duration::ZERO);
    let rerun = world.deployer(ui, Stop::never());
    let done = applied(
        rerun
            .run(
                &options(LockScope::Stack),
                &mut Policies::none(),
                &planner(&world.stack, &[]),
            )
            .await
            .unwrap(),
    );
    assert_eq!(done.result, DeploymentResult::Succeeded);
    for name in world.cloud.names() {
        assert_eq!(world.cloud.creates(&name), 1, "{name} created twice");
    }
}

/// Takes the run's whole-stack lock over after `after`, as another run would once this one
/// stalled past its lease; with `fence`, records it in the state as every run does.
fn take_over(
    world: &World,
    after: Duration,
    fence: bool,
) -> tokio::task::JoinHandle<panka_backend::LockGuard> {
    let memory = world.memory_locks.clone();
    let locks = world.locks.clone();
    let store = world.store.clone();
    let key = world.key.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        memory.expire(&format!("{key}#*"));
        let mut request = LockRequest::new(key.clone(), LockScope::Stack, "apply", Duration::ZERO);
        request.ttl = Duration::from_secs(60);
        let guard = locks.acquire(&request).await.unwrap();
        if fence {
            let lineage = store.read(&key).await.unwrap().map(|s| s.state.lineage);
            panka_backend::commit(
                &store,
                &key,
                lineage.as_deref(),
                &panka_backend::Changes {
                    fence: vec![("*".into(), guard.info().holder_id.clone())],
                    take_fences: true,
                    ..panka_backend::Changes::default()
                },
            )
            .await
            .unwrap();
        }
        guard
    })
}

/// A run whose lock is taken over (it stalled past its lease) learns it at its next
/// heartbeat: it stops scheduling, says so, lets the running action finish, and ends failed.
#[tokio::test]
async fn a_lost_lock_stops_the_run() {
    let world = World::new();
    world.cloud.set_default_latency(Duration::from_millis(300));
    let ui = Arc::new(TestUi::default());
    let run = world.deployer(ui.clone(), Stop::never());
    let thief = take_over(&world, Duration::from_millis(100), false);
    let mut one = options(LockScope::Stack);
    one.parallelism = 1;
    let done = applied(
        run.run(&one, &mut Policies::none(), &planner(&world.stack, &[]))
            .await
            .unwrap(),
    );
    let thief = thief.await.unwrap();
    assert!(done.lock_lost);
    assert_eq!(done.result, DeploymentResult::Failed);
    assert!(
        ui.notes().iter().any(|n| n.contains("lock is lost")),
        "{:?}",
        ui.notes()
    );
    let not_started = done
        .report
        .results
        .iter()
        .filter(|(_, _, o)| *o == Outcome::NotStarted)
        .count();
    assert!(not_started > 0, "{:?}", done.report.results);
    thief.release().await.unwrap();
}

/// Once the new holder has fenced the lock in the state, every write of the old holder is
/// refused: its actions fail before any AWS call, and its deployment is not recorded.
#[tokio::test]
async fn a_fenced_run_cannot_write() {
    let world = World::new();
    world.cloud.set_default_latency(Duration::from_millis(100));
    let ui = Arc::new(TestUi::default());
    let run = world.deployer(ui.clone(), Stop::never());
    let thief = take_over(&world, Duration::from_millis(50), true);
    let mut one = options(LockScope::Stack);
    one.parallelism = 1;
    let done = applied(
        run.run(&one, &mut Policies::none(), &planner(&world.stack, &[]))
            .await
            .unwrap(),
    );
    let thief = thief.await.unwrap();
    assert_eq!(done.result, DeploymentResult::Failed);
    let refused = done
        .report
        .results
        .iter()
        .filter(|(_, _, o)| matches!(o, Outcome::Failed(f) if f.message.contains("taken over")))
        .count();
    assert!(refused > 0, "{:?}", done.report.results);
    assert!(
        done.record_error
            .as_deref()
            .is_some_and(|e| e.contains("taken over")),
        "{:?}",
        done.record_error
    );
    assert!(world.cloud.names().len() < 15);
    thief.release().await.unwrap();
}

/// A service apply whose plan must also create another service's resources takes that
/// service's lock too, and releases every lock at the end.
#[tokio::test]
async fn a_service_apply_takes_the_locks_of_what_it_must_create() {
    let world = World::new();
    let ui = Arc::new(TestUi::default());
    let run = world.deployer(ui.clone(), Stop::never());
    let done = applied(
        run.run(
            &options(LockScope::Service("web".into())),
            &mut Policies::none(),
            &planner(&world.stack, &["web"]),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        done.result,
        DeploymentResult::Succeeded,
        "{:?}",
        done.report.results
    );
    assert!(
        ui.notes().iter().any(|n| n.contains("service `orders`")),
        "{:?}",
        ui.notes()
    );
    assert!(
        world
            .cloud
            .names()
            .contains(&"S3:shop-dev-orders-assets".to_string())
    );
    assert!(world.locks.list().await.unwrap().is_empty());
    let fences = world.state().await.unwrap().fences;
    assert!(fences.contains_key("service:orders") && fences.contains_key("service:payments"));
}

/// When another live run holds a lock the plan needs, the run waits for it (saying who holds
/// it), then plans again and goes on with what is still needed.
#[tokio::test]
async fn widening_waits_for_a_live_holder_then_plans_again() {
    let world = World::new();
    let mut request = LockRequest::new(
        world.key.clone(),
        LockScope::Service("payments".into()),
        "apply",
        Duration::ZERO,
    );
    request.ttl = Duration::from_secs(2);
    let other = world.locks.acquire(&request).await.unwrap();
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        other.release().await.unwrap();
    });
    let ui = Arc::new(TestUi::default());
    let run = world.deployer(ui.clone(), Stop::never());
    let done = applied(
        run.run(
            &options(LockScope::Service("web".into())),
            &mut Policies::none(),
            &planner(&world.stack, &["web"]),
        )
        .await
        .unwrap(),
    );
    releaser.await.unwrap();
    assert_eq!(
        done.result,
        DeploymentResult::Succeeded,
        "{:?}",
        done.report.results
    );
    assert!(
        ui.notes()
            .iter()
            .any(|n| n.contains("Waiting for service `payments`")),
        "{:?}",
        ui.notes()
    );
    assert!(done.deployment.lock_wait_seconds > 1.0);
}

/// A service apply resolves the intents a dead run left on the stack's shared resources,
/// under the `_shared` lock, without creating them twice.
#[tokio::test]
async fn a_service_apply_resolves_shared_intents() {
    let world = World::new();
    let ui = Arc::new(TestUi::default());
    let run = world.deployer(ui.clone(), Stop::never());
    applied(
        run.run(
            &options(LockScope::Stack),
            &mut Policies::none(),
            &planner(&world.stack, &[]),
        )
        .await
        .unwrap(),
    );
    // A dead run's intent on the shared cluster, whose resource exists.
    let mut state = world.state().await.unwrap();
    let cluster = state.resources["_shared/cluster"].clone();
    state.pending.push(panka_state::Intent {
        id: "i-shared".into(),
        address: "_shared/cluster".into(),
        kind: cluster.kind.clone(),
        operation: panka_state::IntentOperation::Update,
        physical_name: cluster.config.value()["name"].as_str().unwrap().to_string(),
        config: cluster.config.value(),
        physical_ids: cluster.physical_ids.clone(),
        replaces: None,
        deployment_id: "d-dead".into(),
        started_at: "2026-12-01T00:00:00Z".into(),
    });
    let changes = panka_backend::Changes {
        replace_with: Some(state.clone()),
        ..panka_backend::Changes::default()
    };
    panka_backend::commit(&world.store, &world.key, Some(&state.lineage), &changes)
        .await
        .unwrap();
    run.run(
        &options(LockScope::Service("orders".into())),
        &mut Policies::none(),
        &planner(&world.stack, &["orders"]),
    )
    .await
    .unwrap();
    assert_eq!(world.cloud.creates("SharedCluster:shop-dev"), 1);
    let state = world.state().await.unwrap();
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    assert!(ui.notes().iter().any(|n| n.contains("_shared/cluster")));
    assert!(world.locks.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_declined_plan_applies_nothing() {
    let world = World::new();
    let ui = Arc::new(TestUi {
        answer: Some(false),
        ..TestUi::default()
    });
    let run = world.deployer(ui, Stop::never());
    let mut asking = options(LockScope::Stack);
    asking.auto_approve = false;
    let finished = run
        .run(&asking, &mut Policies::none(), &planner(&world.stack, &[]))
        .await
        .unwrap();
    assert!(matches!(finished, Finished::Declined { .. }));
    assert!(world.cloud.names().is_empty());
}

/// With `deployment.autoRollback`, a failed apply puts what it changed back to the last
/// successful deployment, records both, and says what was rolled back.
#[tokio::test]
async fn a_failed_apply_is_rolled_back_automatically() {
    let mut world = World::new();
    world.stack.deployment.auto_rollback = true;
    let ui = Arc::new(TestUi::default());
    let first = applied(
        world
            .deployer(ui.clone(), Stop::never())
            .run(
                &options(LockScope::Stack),
                &mut Policies::none(),
                &planner(&world.stack, &[]),
            )
            .await
            .unwrap(),
    );
    assert_eq!(first.result, DeploymentResult::Succeeded);

    // A new version: the API's update fails, the webhook's succeeds.
    let mut next = load(&LoadOptions {
        stack: "examples/shop".into(),
        environment: "dev".into(),
        vars: vec![("VERSION".into(), "2.0".into())],
        cwd: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    })
    .unwrap()
    .stack
    .unwrap();
    next.deployment.auto_rollback = true;
    world.cloud.fail("orders/api");
    let before = world.cloud.spec_of("Lambda:shop-dev-payments-webhook");
    let run = world.deployer(ui.clone(), Stop::never());
    let failed = applied(
        run.run(
            &options(LockScope::Stack),
            &mut Policies::none(),
            &planner(&next, &[]),
        )
        .await
        .unwrap(),
    );
    assert_eq!(failed.result, DeploymentResult::Failed);
    let Some(panka_deploy::Rollback::Ran {
        to, applied: back, ..
    }) = failed.rollback.as_deref()
    else {
        panic!("no rollback: {:?}", failed.rollback);
    };
    assert_eq!(*to, first.deployment.id);
    assert_eq!(
        back.result,
        DeploymentResult::Succeeded,
        "{:?}",
        back.report.results
    );
    assert!(back.report.counts.updated >= 1);
    // The function runs the old version again (read from the fake cloud, not the state).
    assert_eq!(
        world.cloud.spec_of("Lambda:shop-dev-payments-webhook"),
        before
    );
    let history = world.store.history(&world.key).await.unwrap();
    let rollback = history
        .iter()
        .find(|h| h.deployment.operation == "rollback")
        .expect("the rollback is in the history");
    assert_eq!(
        rollback.deployment.rollback_of.as_deref(),
        Some(failed.deployment.id.as_str())
    );
    assert!(
        history
            .iter()
            .any(|h| h.deployment.id == failed.deployment.id)
    );
}
