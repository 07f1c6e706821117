//! The executor with an in-memory provider and memory state: convergence, failures, cancellation,
//! and a crash at every point of an apply followed by recovery.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use panka_backend::{MemoryStore, StateKey, StateStore, commit};
use panka_engine::testing::FakeCloud;
use panka_engine::{Event, ExecuteOptions, Outcome, Registry, execute, recover};
use panka_format::{LoadOptions, Stack, load};
use panka_plan::{PlanOptions, plan};
use panka_state::State;
use tokio::sync::watch;

fn example(vars: &[(&str, &str)]) -> Stack {
    let loaded = load(&LoadOptions {
        stack: "examples/shop".into(),
        environment: "dev".into(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    })
    .unwrap();
    loaded.stack.unwrap()
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

fn options(parallelism: usize) -> ExecuteOptions {
    ExecuteOptions {
        parallelism,
        region: "us-east-1".into(),
        deployment_id: "d-test".into(),
        retry: panka_engine::RetryPolicy {
            base: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(20),
            budget: None,
        },
        fence: Vec::new(),
    }
}

async fn state(store: &StateStore, key: &StateKey) -> Option<State> {
    store.read(key).await.unwrap().map(|s| s.state)
}

/// Plans against the stored state and applies; returns the report.
async fn apply(
    stack: &Stack,
    store: &StateStore,
    key: &StateKey,
    reg: &Registry,
    events: Arc<dyn Fn(Event) + Send + Sync>,
) -> panka_engine::Report {
    let prior = state(store, key).await;
    let p = plan(stack, prior.as_ref(), &PlanOptions::default()).unwrap();
    let (_tx, rx) = watch::channel(false);
    execute(&p, prior.as_ref(), reg, store, key, &options(4), events, rx).await
}

fn quiet() -> Arc<dyn Fn(Event) + Send + Sync> {
    Arc::new(|_| {})
}

#[tokio::test]
async fn apply_then_plan_again_is_empty() {
    let cloud = FakeCloud::new();
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let report = apply(&stack, &store, &key, &reg, quiet()).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(report.counts.created, 15);
    assert_eq!(cloud.names().len(), 15);
    let s = state(&store, &key).await.unwrap();
    assert!(s.pending.is_empty());
    assert_eq!(
        s.resources["orders/queue"].outputs["url"],
        "fake://shop-dev-orders-queue"
    );
    let again = plan(&stack, Some(&s), &PlanOptions::default()).unwrap();
    assert!(!again.has_changes());
    // An update goes through the provider.
    let changed = example(&[("VERSION", "2.0")]);
    let report = apply(&changed, &store, &key, &reg, quiet()).await;
    assert_eq!(report.counts.updated, 2);
    assert_eq!(
        cloud.spec_of("MicroService:shop-dev-orders-api").unwrap()["image"]["tag"],
        "2.0"
    );
}

#[tokio::test]
async fn a_failure_skips_dependents_and_keeps_independent_work() {
    let cloud = FakeCloud::new();
    cloud.fail("orders/db");
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let report = apply(
        &stack,
        &store,
        &key,
        &reg,
        Arc::new(move |e| sink.lock().unwrap().push(e)),
    )
    .await;
    assert!(!report.succeeded());
    let outcome = |a: &str| report.results.iter().find(|r| r.0 == a).unwrap().2.clone();
    assert!(
        matches!(outcome("orders/db"), Outcome::Failed(ref m) if m.message.contains("injected failure"))
    );
    // The API reads the database's endpoint: skipped, and so is everything after it in web/.
    assert!(matches!(outcome("orders/api"), Outcome::Skipped(_)));
    assert!(matches!(outcome("web/cdn"), Outcome::Skipped(_)));
    // Independent work went on and is recorded.
    assert_eq!(outcome("orders/queue"), Outcome::Done);
    assert_eq!(outcome("payments/webhook"), Outcome::Done);
    let s = state(&store, &key).await.unwrap();
    assert!(s.resources.contains_key("payments/webhook"));
    assert!(!s.resources.contains_key("orders/db"));
    assert_eq!(
        s.pending.len(),
        1,
        "the failed create's intent stays until a re-run resolves it"
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Skipped { address, .. } if address == "orders/api"))
    );
    // Fixed, re-run: converges.
    cloud.heal("orders/db");
    let (changes, recovered) = recover(&s, &reg, "us-east-1").await.unwrap();
    assert_eq!(recovered.len(), 1);
    commit(&store, &key, Some(&s.lineage), &changes)
        .await
        .unwrap();
    let report = apply(&stack, &store, &key, &reg, quiet()).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(cloud.names().len(), 15);
}

#[tokio::test]
async fn cancellation_lets_running_actions_finish() {
    let cloud = FakeCloud::new();
    cloud.set_default_latency(Duration::from_millis(40));
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let p = plan(&stack, None, &PlanOptions::default()).unwrap();
    let (tx, rx) = watch::channel(false);
    let run = tokio::spawn({
        let (reg, store, key) = (reg.clone(), store.clone(), key.clone());
        async move { execute(&p, None, &reg, &store, &key, &options(2), quiet(), rx).await }
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    tx.send(true).unwrap();
    let report = run.await.unwrap();
    assert!(report.cancelled);
    let done: Vec<&String> = report
        .results
        .iter()
        .filter(|r| r.2 == Outcome::Done)
        .map(|r| &r.0)
        .collect();
    assert!(!done.is_empty() && done.len() < 15, "{done:?}");
    let s = state(&store, &key).await.unwrap();
    // Everything that finished is recorded; nothing is pending (running actions completed).
    assert_eq!(s.resources.len(), done.len());
    assert!(s.pending.is_empty(), "{:?}", s.pending);
}

/// Kills the apply (drops it mid-flight) after a growing delay, then recovers and re-applies:
/// every resource exists exactly once and the state knows all of them.
#[tokio::test]
async fn a_crash_at_every_point_converges_without_duplicates() {
    let stack = example(&[]);
    for step in 0..30u64 {
        let cloud = FakeCloud::new();
        cloud.set_default_latency(Duration::from_millis(3));
        let reg = registry(&cloud);
        let store = StateStore::Memory(MemoryStore::new());
        let key = StateKey::new("shop", "dev");
        let p = plan(&stack, None, &PlanOptions::default()).unwrap();
        let (_tx, rx) = watch::channel(false);
        let run = tokio::spawn({
            let (reg, store, key) = (reg.clone(), store.clone(), key.clone());
            async move { execute(&p, None, &reg, &store, &key, &options(3), quiet(), rx).await }
        });
        tokio::time::sleep(Duration::from_millis(step * 2)).await;
        run.abort();
        let _ = run.await;
        // The re-run: resolve intents, then plan and apply.
        if let Some(s) = state(&store, &key).await
            && !s.pending.is_empty()
        {
            let (changes, _) = recover(&s, &reg, "us-east-1").await.unwrap();
            commit(&store, &key, Some(&s.lineage), &changes)
                .await
                .unwrap();
        }
        let report = apply(&stack, &store, &key, &reg, quiet()).await;
        assert!(report.succeeded(), "step {step}: {:?}", report.results);
        let names = cloud.names();
        assert_eq!(names.len(), 15, "step {step}");
        for n in &names {
            assert_eq!(
                cloud.creates(n),
                1,
                "step {step}: {n} was created {} times",
                cloud.creates(n)
            );
        }
        let s = state(&store, &key).await.unwrap();
        assert_eq!(s.resources.len(), 15, "step {step}");
        assert!(s.pending.is_empty());
        assert!(
            !plan(&stack, Some(&s), &PlanOptions::default())
                .unwrap()
                .has_changes(),
            "step {step}"
        );
    }
}

#[tokio::test]
async fn parallelism_is_respected() {
    let cloud = FakeCloud::new();
    cloud.set_default_latency(Duration::from_millis(20));
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let running = Arc::new(Mutex::new((0usize, 0usize)));
    let r2 = running.clone();
    let events: Arc<dyn Fn(Event) + Send + Sync> = Arc::new(move |e| {
        let mut g = r2.lock().unwrap();
        match e {
            Event::Started { .. } => {
                g.0 += 1;
                g.1 = g.1.max(g.0);
            }
            Event::Finished { .. } | Event::Failed { .. } => g.0 -= 1,
            Event::Skipped { .. } | Event::Retrying { .. } => {}
        }
    });
    let p = plan(&stack, None, &PlanOptions::default()).unwrap();
    let (_tx, rx) = watch::channel(false);
    let report = execute(&p, None, &reg, &store, &key, &options(3), events, rx).await;
    assert!(report.succeeded());
    let max = running.lock().unwrap().1;
    assert!(
        (2..=3).contains(&max),
        "at most 3 at once, and more than one: {max}"
    );
}

/// Deletes run after every other action, dependents first; when another change fails, the
/// deletes wait for a clean run.
#[tokio::test]
async fn deletes_wait_for_other_changes_and_their_dependents() {
    let cloud = FakeCloud::new();
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    assert!(
        apply(&example(&[]), &store, &key, &reg, quiet())
            .await
            .succeeded()
    );
    // Two resources gone from the YAML: old-a depends on old-b.
    let s = state(&store, &key).await.unwrap();
    let mut changes = panka_backend::Changes::default();
    let mut a = (*s.resources["orders/queue"]).clone();
    a.config
        .edit(|c| c["name"] = serde_json::json!("shop-dev-orders-old-a"));
    a.dependencies = vec!["orders/old-b".into()];
    let mut b = (*s.resources["orders/queue"]).clone();
    b.config
        .edit(|c| c["name"] = serde_json::json!("shop-dev-orders-old-b"));
    b.dependencies = vec![];
    changes.resources.insert("orders/old-a".into(), Some(a));
    changes.resources.insert("orders/old-b".into(), Some(b));
    commit(&store, &key, Some(&s.lineage), &changes)
        .await
        .unwrap();

    // With a failing update, the deletes are skipped.
    cloud.fail("orders/api");
    let changed = example(&[("VERSION", "3.0")]);
    let report = apply(&changed, &store, &key, &reg, quiet()).await;
    let outcome =
        |r: &panka_engine::Report, a: &str| r.results.iter().find(|x| x.0 == a).unwrap().2.clone();
    assert!(matches!(outcome(&report, "orders/api"), Outcome::Failed(_)));
    assert!(
        matches!(outcome(&report, "orders/old-a"), Outcome::Skipped(ref m) if m.contains("deletes wait")),
        "{:?}",
        report.results
    );
    assert!(matches!(
        outcome(&report, "orders/old-b"),
        Outcome::Skipped(_)
    ));

    // Healed: the update first, then old-a, then old-b.
    cloud.heal("orders/api");
    let s = state(&store, &key).await.unwrap();
    let (changes, _) = recover(&s, &reg, "us-east-1").await.unwrap();
    commit(&store, &key, Some(&s.lineage), &changes)
        .await
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let sink = order.clone();
    let report = apply(
        &changed,
        &store,
        &key,
        &reg,
        Arc::new(move |e| {
            if let Event::Finished { address, .. } = e {
                sink.lock().unwrap().push(address);
            }
        }),
    )
    .await;
    assert!(report.succeeded(), "{:?}", report.results);
    let order = order.lock().unwrap().clone();
    let at = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(at("orders/api") < at("orders/old-a"), "{order:?}");
    assert!(
        at("orders/old-a") < at("orders/old-b"),
        "dependents are deleted first: {order:?}"
    );
}

/// An update killed before AWS took it: recovery records the resource as the provider reads it
/// (the old settings), not as the intent wanted it, so the next plan makes the update again.
#[tokio::test]
async fn recovery_records_what_aws_has_so_an_interrupted_update_is_planned_again() {
    let cloud = FakeCloud::new();
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    assert!(apply(&stack, &store, &key, &reg, quiet()).await.succeeded());
    let mut s = state(&store, &key).await.unwrap();
    let applied = s.resources["orders/queue"].clone();
    let live = cloud.spec_of(&format!(
        "{}:{}",
        applied.kind,
        applied.config.value()["name"].as_str().unwrap()
    ));
    // The killed run's intent: the queue with a new setting, which never reached AWS.
    let mut wanted = applied.config.value();
    wanted["spec"]["visibilityTimeoutSeconds"] = serde_json::json!(901);
    s.pending.push(panka_state::Intent {
        id: "i-1".into(),
        address: "orders/queue".into(),
        kind: applied.kind.clone(),
        operation: panka_state::IntentOperation::Update,
        physical_name: wanted["name"].as_str().unwrap().to_string(),
        config: wanted.clone(),
        physical_ids: applied.physical_ids.clone(),
        replaces: None,
        deployment_id: "d-1".into(),
        started_at: "2026-12-01T00:00:00Z".into(),
    });
    let (changes, recovered) = recover(&s, &reg, "us-east-1").await.unwrap();
    assert!(recovered[0].found);
    let adopted = changes.resources["orders/queue"].clone().unwrap();
    assert_eq!(adopted.config.value()["spec"], live.unwrap());
    assert_ne!(adopted.config.value()["spec"], wanted["spec"]);
}

// ------------------------------------------------------------------------------ retries

fn outcome(report: &panka_engine::Report, address: &str) -> Outcome {
    report
        .results
        .iter()
        .find(|(a, _, _)| a == address)
        .map(|(_, _, o)| o.clone())
        .unwrap_or_else(|| panic!("no action for {address}: {:?}", report.results))
}

/// An action failing with a transient error is retried until it succeeds, and the report says
/// how many retries each action needed, per cause.
#[tokio::test]
async fn transient_failures_are_retried_and_counted() {
    let cloud = FakeCloud::new();
    cloud.fail_transiently("orders/queue", panka_engine::Transient::Throttled, 3, false);
    cloud.fail_transiently(
        "payments/webhook",
        panka_engine::Transient::IamPropagation,
        1,
        false,
    );
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let report = apply(
        &stack,
        &store,
        &key,
        &reg,
        Arc::new(move |e| sink.lock().unwrap().push(e)),
    )
    .await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(cloud.creates("SQS:shop-dev-orders-queue"), 1);
    let queue = &report.retries["orders/queue"];
    assert_eq!(queue.total(), 3);
    assert_eq!(queue.by_cause[&panka_engine::Transient::Throttled], 3);
    assert_eq!(
        report.retries["payments/webhook"].by_cause[&panka_engine::Transient::IamPropagation],
        1
    );
    assert_eq!(report.retries.len(), 2, "{:?}", report.retries);
    let retried = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Retrying { address, .. } if address == "orders/queue"))
        .count();
    assert_eq!(retried, 3);
}

/// A create whose response was lost after AWS made the resource is not made twice: the retry
/// finds it by name and tags and converges it.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_made_twice() {
    let cloud = FakeCloud::new();
    cloud.fail_transiently("orders/queue", panka_engine::Transient::NoResponse, 2, true);
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let report = apply(&stack, &store, &key, &reg, quiet()).await;
    assert!(report.succeeded(), "{:?}", report.results);
    assert_eq!(cloud.creates("SQS:shop-dev-orders-queue"), 1);
    let s = state(&store, &key).await.unwrap();
    assert!(s.pending.is_empty());
    assert!(s.resources.contains_key("orders/queue"));
}

/// A transient failure that outlasts its cause's budget fails the action with that kind.
#[tokio::test]
async fn a_retry_budget_runs_out() {
    let cloud = FakeCloud::new();
    cloud.fail_transiently(
        "orders/queue",
        panka_engine::Transient::ServerError,
        1000,
        false,
    );
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let prior = state(&store, &key).await;
    let p = plan(&stack, prior.as_ref(), &PlanOptions::default()).unwrap();
    let mut opts = options(4);
    opts.retry.budget = Some(Duration::from_millis(150));
    let (_tx, rx) = watch::channel(false);
    let report = execute(&p, prior.as_ref(), &reg, &store, &key, &opts, quiet(), rx).await;
    let Outcome::Failed(f) = outcome(&report, "orders/queue") else {
        panic!("{:?}", report.results);
    };
    assert_eq!(
        f.kind,
        Some(panka_engine::ErrorKind::Transient(
            panka_engine::Transient::ServerError
        ))
    );
    assert!(f.message.contains("gave up after"), "{}", f.message);
    assert!(report.retries["orders/queue"].total() >= 2);
}

/// A same-named resource that is not this component's is never adopted: after a transient
/// failure the retry's lookup refuses it, and the action fails as not panka's.
#[tokio::test]
async fn a_stranger_with_the_same_name_is_not_adopted() {
    let cloud = FakeCloud::new();
    cloud.plant(
        "SQS",
        "shop-dev-orders-queue",
        std::collections::BTreeMap::from([("team".to_string(), "other".to_string())]),
    );
    cloud.fail_transiently(
        "orders/queue",
        panka_engine::Transient::NoResponse,
        1,
        false,
    );
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    let report = apply(&stack, &store, &key, &reg, quiet()).await;
    let Outcome::Failed(f) = outcome(&report, "orders/queue") else {
        panic!("{:?}", report.results);
    };
    assert_eq!(f.kind, Some(panka_engine::ErrorKind::NotOwned));
}

/// A replace that changes the AWS name, killed after it deleted the old resource and created
/// the new one: recovery adopts the new one. Killed before it deleted the old one: the old one
/// stays recorded (nothing orphaned) and the next plan replaces it again.
#[tokio::test]
async fn recovery_knows_both_sides_of_a_replace() {
    let cloud = FakeCloud::new();
    let reg = registry(&cloud);
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "dev");
    let stack = example(&[]);
    assert!(apply(&stack, &store, &key, &reg, quiet()).await.succeeded());
    let s = state(&store, &key).await.unwrap();
    let applied = s.resources["orders/queue"].clone();
    let old_config = applied.config.value();
    let mut new_config = old_config.clone();
    new_config["name"] = serde_json::json!("shop-dev-orders-queue.fifo");

    let intent = |id: &str| panka_state::Intent {
        id: id.into(),
        address: "orders/queue".into(),
        kind: applied.kind.clone(),
        operation: panka_state::IntentOperation::Replace,
        physical_name: "shop-dev-orders-queue.fifo".into(),
        config: new_config.clone(),
        physical_ids: applied.physical_ids.clone(),
        replaces: Some(panka_state::ReplacedResource {
            physical_name: "shop-dev-orders-queue".into(),
            config: old_config.clone(),
            physical_ids: applied.physical_ids.clone(),
        }),
        deployment_id: "d-1".into(),
        started_at: "2026-12-01T00:00:00Z".into(),
    };

    // Killed before the old queue was deleted: it is kept.
    let mut before = s.clone();
    before.pending.push(intent("i-1"));
    let (changes, recovered) = recover(&before, &reg, "us-east-1").await.unwrap();
    assert!(!recovered[0].found);
    assert!(recovered[0].old_kept);
    let kept = changes.resources["orders/queue"].clone().unwrap();
    assert_eq!(kept.config.value()["name"], "shop-dev-orders-queue");
    assert!(
        cloud
            .names()
            .contains(&"SQS:shop-dev-orders-queue".to_string())
    );

    // Killed after the new queue was created while the old one's delete had not finished:
    // the new one is adopted and the old one deleted.
    let mut new_req_tags = std::collections::BTreeMap::new();
    for (k, v) in old_config["tags"].as_object().unwrap() {
        new_req_tags.insert(k.clone(), v.as_str().unwrap().to_string());
    }
    cloud.plant("SQS", "shop-dev-orders-queue.fifo", new_req_tags);
    let mut after = s.clone();
    after.pending.push(intent("i-2"));
    let (changes, recovered) = recover(&after, &reg, "us-east-1").await.unwrap();
    assert!(recovered[0].found);
    assert!(recovered[0].old_deleted);
    let adopted = changes.resources["orders/queue"].clone().unwrap();
    assert_eq!(adopted.physical_ids["name"], "shop-dev-orders-queue.fifo");
    assert!(
        !cloud
            .names()
            .contains(&"SQS:shop-dev-orders-queue".to_string())
    );
}
