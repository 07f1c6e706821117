//! Concurrent appliers against real conditional writes and a real lock table: state in S3 and
//! locks in DynamoDB on the emulator (S3 behind the test proxy, which makes conditional writes
//! atomic as S3 does, a moto gap), providers in memory.
//!
//! Each trial starts 32 runs at once: two per service on 16 services, each changing its own
//! component. Every run must succeed, every change must be in the state at the end (no lost
//! update), and no two runs may execute actions of one service at the same time (at most one
//! holder per lock scope). `PANKA_SOAK_TRIALS` sets the number of trials (CI runs a few;
//! `make soak` runs 1,000 and reports in docs/reliability.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use panka_backend::locks::DynamoLocks;
use panka_backend::{LockScope, LockStore, S3Store, StateKey, StateStore};
use panka_deploy::{Deployer, Finished, RunOptions, Stop, Ui};
use panka_engine::provider::BoxFuture;
use panka_engine::testing::FakeCloud;
use panka_engine::{Event, Registry};
use panka_format::{LoadOptions, Stack, load};
use panka_plan::{Plan, PlanOptions, Targeting, plan};
use panka_policy::Policies;
use panka_state::DeploymentResult;

const SERVICES: usize = 16;
const RUNS_PER_TRIAL: usize = 32;

fn trials() -> usize {
    std::env::var("PANKA_SOAK_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// A stack of 16 services of two SQS queues each, the queues' visibility timeout set by the
/// variable `T_SERVICE_COMPONENT`.
fn stack(dir: &std::path::Path, values: &HashMap<String, String>) -> Stack {
    let write = |p: std::path::PathBuf, text: String| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let root = dir.join("s");
    if !root.join("stack.yaml").exists() {
        write(
            root.join("stack.yaml"),
            "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {name: soak}\nspec:\n  provider: {name: aws, region: us-east-1}\n".into(),
        );
        write(
            root.join("environments/dev.yaml"),
            "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n".into(),
        );
        for s in 0..SERVICES {
            for c in 0..2 {
                write(
                    root.join(format!("services/s{s}/components/c{c}/sqs.yaml")),
                    format!(
                        "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {{name: c{c}, service: s{s}}}\nspec:\n  visibilityTimeoutSeconds: ${{T_S{s}_C{c}}}\n"
                    ),
                );
            }
        }
    }
    let loaded = load(&LoadOptions {
        stack: root.to_string_lossy().into_owned(),
        environment: "dev".into(),
        vars: values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        cwd: dir.to_path_buf(),
    })
    .unwrap();
    loaded
        .stack
        .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics))
}

fn registry(cloud: &FakeCloud) -> Registry {
    let mut r = Registry::new();
    r.register_dyn("SQS", cloud.provider("SQS", &["url", "arn", "name"]));
    r
}

/// Counts, per service, the runs executing its actions right now; records the highest count.
#[derive(Default)]
struct Overlap {
    active: Mutex<HashMap<String, usize>>,
    worst: Mutex<usize>,
}

struct SoakUi {
    overlap: Arc<Overlap>,
}

impl Ui for SoakUi {
    fn note(&self, _text: &str) {}
    fn plan(&self, _plan: &Plan) {}
    fn verdict(&self, _verdict: &panka_policy::Verdict) {}
    fn approve<'a>(&'a self, _question: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Ok(true) })
    }
    fn event(&self, event: Event) {
        let service = |address: &str| address.split('/').next().unwrap_or_default().to_string();
        let mut active = self.overlap.active.lock().unwrap();
        match event {
            Event::Started { address, .. } => {
                let n = active.entry(service(&address)).or_default();
                *n += 1;
                let mut worst = self.overlap.worst.lock().unwrap();
                *worst = (*worst).max(*n);
            }
            Event::Finished { address, .. } | Event::Failed { address, .. } => {
                *active.entry(service(&address)).or_default() -= 1;
            }
            Event::Skipped { .. } | Event::Retrying { .. } => {}
        }
    }
}

async fn aws_at(endpoint: &str) -> panka_aws::Aws {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint.to_string())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "soak",
        ))
        .load()
        .await;
    panka_aws::Aws::from_config(config, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appliers_on_shared_state_lose_nothing() {
    let emulator = panka_test_support::emulator();
    let proxy = panka_test_support::proxy::FaultProxy::start(
        &emulator.endpoint,
        panka_test_support::proxy::Faults::none(),
    );
    let s3_aws = aws_at(&proxy.endpoint).await;
    let aws = aws_at(&emulator.endpoint).await;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (bucket, table) = (format!("soak-{suffix}"), format!("soak-locks-{suffix}"));
    let mut report = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_bucket(&s3_aws.s3(), &bucket, "us-east-1", &mut report)
        .await
        .unwrap();
    panka_backend::init::ensure_lock_table(&aws.dynamodb(), &table, &mut report)
        .await
        .unwrap();
    let store = StateStore::S3(S3Store::new(s3_aws.s3(), &bucket, None));
    let locks = LockStore::Dynamo(DynamoLocks::new(aws.dynamodb(), &table));
    let key = StateKey::new("soak", "dev");
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new();
    cloud.set_default_latency(Duration::from_millis(5));
    let registry = Arc::new(registry(&cloud));
    let overlap = Arc::new(Overlap::default());

    let (trials, started) = (trials(), Instant::now());
    let mut lost_updates = 0;
    for trial in 0..trials {
        // Every component gets a new value this trial.
        let values: HashMap<String, String> = (0..SERVICES)
            .flat_map(|s| (0..2).map(move |c| (s, c)))
            .map(|(s, c)| (format!("T_S{s}_C{c}"), format!("{}", 30 + trial * 2 + c)))
            .collect();
        let stack = Arc::new(stack(dir.path(), &values));
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..RUNS_PER_TRIAL {
            let (service, component) = (format!("s{}", i / 2), format!("c{}", i % 2));
            let (stack, registry, store, locks, key, overlap) = (
                stack.clone(),
                registry.clone(),
                store.clone(),
                locks.clone(),
                key.clone(),
                overlap.clone(),
            );
            runs.spawn(async move {
                let deployer = Deployer {
                    stack: &stack,
                    store: &store,
                    locks: &locks,
                    key: &key,
                    registry: &registry,
                    ui: Arc::new(SoakUi { overlap }),
                    stop: Stop::never(),
                    metrics: None,
                };
                let options = RunOptions {
                    auto_approve: true,
                    lock_wait: Duration::from_secs(120),
                    ..RunOptions::new("apply", LockScope::Service(service.clone()))
                };
                let target = PlanOptions {
                    targeting: Targeting {
                        components: vec![format!("{service}/{component}")],
                        ..Targeting::default()
                    },
                    ..PlanOptions::default()
                };
                let planned = stack.clone();
                let finished = deployer
                    .run(&options, &mut Policies::none(), &move |state| {
                        plan(&planned, state, &target)
                    })
                    .await;
                (service, component, finished)
            });
        }
        while let Some(done) = runs.join_next().await {
            let (service, component, finished) = done.unwrap();
            match finished {
                Ok(Finished::Applied(a)) => assert_eq!(
                    a.result,
                    DeploymentResult::Succeeded,
                    "trial {trial}: {service}/{component}: {:?}",
                    a.report.results
                ),
                Ok(Finished::NothingToDo { .. }) => {}
                other => panic!("trial {trial}: {service}/{component}: {other:?}"),
            }
        }
        let state = store.read(&key).await.unwrap().unwrap().state;
        assert!(
            state.pending.is_empty(),
            "trial {trial}: {:?}",
            state.pending
        );
        for (var, value) in &values {
            let (s, c) = var
                .trim_start_matches("T_S")
                .split_once("_C")
                .expect("T_S{s}_C{c}");
            let recorded = state
                .resources
                .get(&format!("s{s}/c{c}"))
                .map(|r| r.config.value()["spec"]["visibilityTimeoutSeconds"].clone());
            if recorded != Some(serde_json::json!(value.parse::<u64>().unwrap())) {
                lost_updates += 1;
            }
        }
    }
    let worst = *overlap.worst.lock().unwrap();
    println!(
        "soak: {trials} trials × {RUNS_PER_TRIAL} concurrent appliers in {:.1}s: {lost_updates} lost updates, at most {worst} run(s) at once per service",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost_updates, 0);
    assert_eq!(worst, 1, "two runs executed one service's actions at once");
    for name in cloud.names() {
        assert_eq!(cloud.creates(&name), 1, "{name} created twice");
    }
}
