//! Planning time for 1,000 to 20,000 components against a state that already holds them all
//! with one field changed, with warm and with cold CPU caches. Results are recorded in
//! docs/performance.md.

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use indexmap::IndexMap;
use panka_format::kinds::{ComponentSpec, Kind};
use panka_format::model::{Component, DeploymentSettings, Shared};
use panka_format::{Address, Stack};
use panka_plan::{PlanOptions, plan, record_in_memory};
use panka_state::State;
use serde_json::json;

/// A stack of `n` components in services of 100: queues, buckets, tables and microservices,
/// each depending on up to three earlier components of its service.
fn stack(n: usize) -> Stack {
    let mut components = IndexMap::new();
    for i in 0..n {
        let service = format!("svc{:03}", i / 100);
        let address = Address::new(service.clone(), format!("c{i}"));
        let (kind, spec) = match i % 4 {
            0 => (
                Kind::SQS,
                json!({"visibilityTimeoutSeconds": 30, "deadLetter": {"maxReceiveCount": 5}}),
            ),
            1 => (
                Kind::S3,
                json!({"versioning": true, "lifecycle": [{"prefix": "tmp/", "expireDays": 7}]}),
            ),
            2 => (
                Kind::DynamoDB,
                json!({"partitionKey": {"name": "id", "type": "S"}}),
            ),
            _ => (
                Kind::MicroService,
                json!({"image": {"repository": "nginx", "tag": "1.0"}, "ports": [{"name": "http", "port": 8080, "public": true, "path": format!("/c{i}/*")}],
                       "environment": [{"name": "Q", "valueFrom": {"component": format!("c{}", i - 3), "output": "url"}}]}),
            ),
        };
        let first_in_service = i - i % 100;
        let depends_on: Vec<Address> = (1..=3)
            .filter(|d| i >= first_in_service + d)
            .map(|d| Address::new(service.clone(), format!("c{}", i - d)))
            .collect();
        components.insert(
            address.clone(),
            Component {
                physical_name: format!("big-prod-{service}-c{i}"),
                tags: IndexMap::new(),
                address,
                kind,
                spec: ComponentSpec::from_json(kind, spec).unwrap(),
                infra: None,
                labels: IndexMap::new(),
                file: PathBuf::from("x.yaml"),
                depends_on,
                references: Vec::new(),
            },
        );
    }
    Stack {
        name: "big".into(),
        environment: "prod".into(),
        region: "us-east-1".into(),
        account_id: None,
        backend: None,
        root: PathBuf::from("."),
        variables: IndexMap::new(),
        shared: Shared::default(),
        deployment: DeploymentSettings::default(),
        default_tags: IndexMap::new(),
        outputs: IndexMap::new(),
        services: IndexMap::new(),
        components,
    }
}

// The allocator the panka binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_one_change");
    group.sample_size(10);
    for n in [1_000usize, 2_000, 5_000, 10_000, 20_000] {
        let stack = stack(n);
        let mut state = State::new("big", "prod", "lin");
        let first = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
        record_in_memory(&first, &mut state);
        // One changed field: the state remembers an older visibility timeout for one queue.
        let changed = std::sync::Arc::make_mut(state.resources.get_mut("svc000/c0").unwrap());
        changed.config["spec"]["visibilityTimeoutSeconds"] = json!(60);
        changed.config_hash = panka_state::config_hash(&changed.config);
        // (The plan compares configurations, not hashes; the hash is kept true all the same.)
        let check = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
        assert_eq!(check.summary.update, 1);
        group.throughput(Throughput::Elements(n as u64));
        // Warm: the same plan again and again, so a small stack and its state stay in the CPU
        // caches from one iteration to the next.
        group.bench_with_input(
            BenchmarkId::new("warm", n),
            &(&stack, &state),
            |b, (stack, state)| {
                b.iter(|| plan(stack, Some(state), &PlanOptions::default()).unwrap())
            },
        );
        // Cold: before each plan, 128 MiB (four times the L3 cache) are written over, so every
        // size starts with the stack and state out of the caches; only the plan (and dropping
        // it) is timed.
        let mut scratch = vec![0u8; 128 << 20];
        group.bench_with_input(
            BenchmarkId::new("cold", n),
            &(&stack, &state),
            |b, (stack, state)| {
                b.iter_batched(
                    || {
                        for (i, x) in scratch.iter_mut().enumerate() {
                            *x = x.wrapping_add(i as u8);
                        }
                        std::hint::black_box(&scratch);
                    },
                    // Dropped inside the timing, as in the warm case.
                    |()| drop(plan(stack, Some(state), &PlanOptions::default()).unwrap()),
                    criterion::BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
