//! Memory a plan reads and makes, per component, for the stack of the plan benchmark: the
//! resolved stack, the recorded state read from its JSON document, and the plan itself (what it
//! keeps, and what it allocates and frees on the way). Results are recorded in
//! docs/performance.md; run with `cargo bench -p panka-plan --bench footprint`.

use panka_plan::{PlanOptions, plan};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

mod support;
use support::{stack, state_document_with_one_change};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Bytes and allocations that `make` leaves allocated, per item, and its result.
fn held<T>(n: usize, make: impl FnOnce() -> T) -> (T, f64, f64) {
    let region = Region::new(GLOBAL);
    let value = make();
    let change = region.change();
    let bytes = change.bytes_allocated as f64 - change.bytes_deallocated as f64
        + change.bytes_reallocated as f64;
    let blocks = change.allocations as f64 - change.deallocations as f64;
    (value, bytes / n as f64, blocks / n as f64)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with no such argument and
    // a small size, so the benchmark keeps compiling and running in CI.
    let sizes: &[usize] = if std::env::args().any(|a| a == "--bench") {
        &[1_000, 10_000]
    } else {
        &[100]
    };
    println!(
        "| Components | Stack B (allocations) | State B (allocations) | Its configurations as trees B (allocations) | Plan kept B (allocations) | Plan allocated and freed B |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let (stack, stack_b, stack_n) = held(n, || stack(n));
        let document = state_document_with_one_change(&stack);
        let (state, state_b, state_n) = held(n, || {
            serde_json::from_slice::<panka_state::State>(&document).unwrap()
        });
        // What the recorded configurations would take parsed (as the state once kept them).
        let (trees, tree_b, tree_n) = held(n, || {
            state
                .resources
                .values()
                .map(|r| r.config.value())
                .collect::<Vec<_>>()
        });
        drop(trees);
        let region = Region::new(GLOBAL);
        let (planned, plan_b, plan_n) = held(n, || {
            plan(&stack, Some(&state), &PlanOptions::default()).unwrap()
        });
        let all = region.change();
        assert_eq!(planned.summary.update, 1);
        // Everything the plan allocated, less what it keeps.
        let transient =
            (all.bytes_allocated as f64 + all.bytes_reallocated as f64) / n as f64 - plan_b;
        println!(
            "| {n} | {stack_b:.0} ({stack_n:.1}) | {state_b:.0} ({state_n:.1}) | {tree_b:.0} ({tree_n:.1}) | {plan_b:.0} ({plan_n:.1}) | {transient:.0} |"
        );
    }
}
