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
        matches!(outcome("orders/db"), Outcome::Failed(ref m) if m.contains("injected failure"))
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
            Event::Skipped { .. } => {}
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
