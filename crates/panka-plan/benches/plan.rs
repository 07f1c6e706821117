//! Planning time for 1,000 to 20,000 components against a state that already holds them all
//! with one field changed, with warm and with cold CPU caches. Results are recorded in
//! docs/performance.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use panka_plan::{PlanOptions, plan};

mod support;
use support::{stack, state_document_with_one_change};

// The allocator the panka binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_one_change");
    group.sample_size(10);
    for n in [1_000usize, 2_000, 5_000, 10_000, 20_000] {
        let stack = stack(n);
        // The state is read from its document, as the backends read it.
        let state: panka_state::State =
            serde_json::from_slice(&state_document_with_one_change(&stack)).unwrap();
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
