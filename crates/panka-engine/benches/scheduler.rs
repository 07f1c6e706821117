//! Scheduling quality and overhead, with an in-memory provider of simulated latencies and
//! in-memory state.
//!
//! 1. Random DAGs of 1,000 actions with latencies of 2-30 ms: the eager executor's makespan
//!    against the lower bound max(longest path, total work / parallelism) — computed from the
//!    nominal latencies (`bound`) and from the time each action's simulated call really took
//!    (`bound*`, which includes timer overshoot) — and against a wave-by-wave executor (every
//!    wave waits for the previous one) run in the same process.
//! 2. 1,000 and 10,000 actions with zero latency: scheduler overhead per action.
//!
//! Run: `cargo bench -p panka-engine --bench scheduler`. Results: docs/performance.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use panka_backend::{MemoryStore, StateKey, StateStore};
use panka_engine::testing::FakeCloud;
use panka_engine::{ExecuteOptions, Registry, execute};
use panka_graph::ResourceKind;
use panka_plan::plan::{CostChange, CostEstimate};
use panka_plan::{Action, ActionKind, Plan, Summary, Targeting};

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random DAG: each node depends on up to 3 of the 50 nodes before it.
fn dag(n: usize, seed: u64) -> (Vec<Vec<usize>>, Vec<Duration>) {
    let mut rng = Rng(seed);
    let mut deps = Vec::with_capacity(n);
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let mut d: Vec<usize> = (0..rng.below(4))
            .filter(|_| i > 0)
            .map(|_| i - 1 - rng.below(i.min(50) as u64) as usize)
            .collect();
        d.sort_unstable();
        d.dedup();
        deps.push(d);
        lat.push(Duration::from_millis(2 + rng.below(29)));
    }
    (deps, lat)
}

fn plan_of(deps: &[Vec<usize>]) -> Plan {
    let mut wave = vec![1usize; deps.len()];
    for i in 0..deps.len() {
        wave[i] = deps[i].iter().map(|d| wave[*d] + 1).max().unwrap_or(1);
    }
    let actions = deps
        .iter()
        .enumerate()
        .map(|(i, d)| Action {
            address: format!("s/n{i}"),
            kind: ResourceKind::Component(panka_format::Kind::SQS),
            action: ActionKind::Create,
            wave: wave[i],
            depends_on: d.iter().map(|j| format!("s/n{j}")).collect(),
            changes: vec![],
            stateful: false,
            config: Some(serde_json::json!({"name": format!("n{i}"), "spec": {}})),
            monthly_cost: CostChange::default(),
        })
        .collect();
    Plan {
        format_version: 1,
        stack: "bench".into(),
        environment: "b".into(),
        region: "us-east-1".into(),
        state_lineage: None,
        state_serial: None,
        targeting: Targeting::default(),
        actions,
        summary: Summary {
            create: deps.len(),
            ..Summary::default()
        },
        cost: CostEstimate {
            currency: "USD".into(),
            prices_as_of: String::new(),
            price_region: String::new(),
            current: 0.0,
            planned: 0.0,
            delta: 0.0,
            by_kind: vec![],
            usage_based: vec![],
            unpriced: vec![],
        },
    }
}

async fn eager(plan: &Plan, cloud: &FakeCloud, parallelism: usize) -> Duration {
    let mut reg = Registry::new();
    reg.register_dyn("SQS", cloud.provider("SQS", &[]));
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("bench", "b");
    let options = ExecuteOptions {
        parallelism,
        region: "us-east-1".into(),
        deployment_id: "bench".into(),
        retry: panka_engine::RetryPolicy::default(),
        fence: Vec::new(),
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let report = execute(
        plan,
        None,
        &reg,
        &store,
        &key,
        &options,
        Arc::new(|_| {}),
        rx,
    )
    .await;
    let elapsed = start.elapsed();
    assert!(report.succeeded(), "the benchmark run failed");
    elapsed
}

/// Every wave starts when the previous one has finished, `parallelism` at a time.
async fn wave_by_wave(plan: &Plan, lat: &[Duration], parallelism: usize) -> Duration {
    let mut waves: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, a) in plan.actions.iter().enumerate() {
        waves.entry(a.wave).or_default().push(i);
    }
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(parallelism));
    for w in 1..=waves.len() {
        let mut set = tokio::task::JoinSet::new();
        for &i in &waves[&w] {
            let (sem, d) = (sem.clone(), lat[i]);
            set.spawn(async move {
                let _p = sem.acquire().await.expect("semaphore open");
                tokio::time::sleep(d).await;
            });
        }
        while set.join_next().await.is_some() {}
    }
    start.elapsed()
}

fn bound(deps: &[Vec<usize>], lat: &[Duration], parallelism: usize) -> Duration {
    let mut finish = vec![Duration::ZERO; deps.len()];
    for i in 0..deps.len() {
        finish[i] = deps[i].iter().map(|d| finish[*d]).max().unwrap_or_default() + lat[i];
    }
    let longest = finish.iter().max().copied().unwrap_or_default();
    let total: Duration = lat.iter().sum();
    longest.max(total / parallelism as u32)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("makespan on random DAGs of 1,000 actions (latency 2-30 ms)");
    println!(
        "{:>6} {:>5} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "seed", "par", "bound", "bound*", "eager", "waves", "eager/bd*", "waves/bd*"
    );
    for (seed, parallelism) in [(1u64, 10usize), (2, 10), (3, 25), (4, 50)] {
        let (deps, lat) = dag(1000, seed * 7919);
        let plan = plan_of(&deps);
        let cloud = FakeCloud::new();
        for (i, d) in lat.iter().enumerate() {
            cloud.set_latency(&format!("s/n{i}"), *d);
        }
        let b = bound(&deps, &lat, parallelism);
        let e = rt.block_on(eager(&plan, &cloud, parallelism));
        // The bound again from the time each action really slept: a timer sleep overshoots by
        // up to a tick, which no scheduler can win back.
        let actual: Vec<Duration> = (0..deps.len())
            .map(|i| cloud.spent(&format!("s/n{i}")))
            .collect();
        let b_actual = bound(&deps, &actual, parallelism);
        let w = rt.block_on(wave_by_wave(&plan, &lat, parallelism));
        println!(
            "{seed:>6} {parallelism:>5} {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>9.3} {:>9.3}",
            b.as_secs_f64() * 1e3,
            b_actual.as_secs_f64() * 1e3,
            e.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3,
            e.as_secs_f64() / b_actual.as_secs_f64(),
            w.as_secs_f64() / b_actual.as_secs_f64()
        );
    }
    println!("\nscheduler overhead with zero latency (parallelism 10)");
    for n in [1_000usize, 10_000] {
        let (deps, _) = dag(n, 42);
        let plan = plan_of(&deps);
        let cloud = FakeCloud::new();
        let e = rt.block_on(eager(&plan, &cloud, 10));
        println!(
            "{n:>8} actions: {:>8.1} ms total, {:>7.1} µs per action",
            e.as_secs_f64() * 1e3,
            e.as_secs_f64() * 1e6 / n as f64
        );
    }
}
