//! Property: for random stacks (random DAGs of components) and random recorded states (some
//! resources missing, some drifted, some extra), every action's dependencies are in earlier
//! waves, and recording the plan's result then planning again yields no changes.

use std::path::PathBuf;

use indexmap::IndexMap;
use panka_format::kinds::{ComponentSpec, Kind};
use panka_format::model::{Component, DeploymentSettings, Shared};
use panka_format::{Address, Stack};
use panka_plan::{ActionKind, PlanOptions, plan, record_in_memory};
use panka_state::{ResourceState, ResourceStatus, State, config_hash};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    deps: Vec<usize>,
    setting: u32,
}

fn stack_of(nodes: &[Node]) -> Stack {
    let mut components = IndexMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let address = Address::new(format!("s{}", i % 3), format!("c{i}"));
        let spec = match n.kind {
            Kind::SQS => ComponentSpec::from_json(
                Kind::SQS,
                json!({"visibilityTimeoutSeconds": n.setting % 43200}),
            )
            .unwrap(),
            _ => ComponentSpec::from_json(Kind::S3, json!({"versioning": n.setting % 2 == 0}))
                .unwrap(),
        };
        let mut depends_on: Vec<Address> = n
            .deps
            .iter()
            .map(|d| Address::new(format!("s{}", d % 3), format!("c{d}")))
            .collect();
        depends_on.sort();
        depends_on.dedup();
        components.insert(
            address.clone(),
            Component {
                physical_name: format!("p-dev-{}-{}", address.service, address.component),
                tags: IndexMap::new(),
                address,
                kind: n.kind,
                spec,
                infra: None,
                labels: IndexMap::new(),
                file: PathBuf::from("x.yaml"),
                depends_on,
                references: Vec::new(),
            },
        );
    }
    Stack {
        name: "p".into(),
        environment: "dev".into(),
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

fn nodes() -> impl Strategy<Value = Vec<Node>> {
    (1usize..40).prop_flat_map(|n| {
        prop::collection::vec(
            (
                prop::bool::ANY,
                prop::collection::vec(any::<prop::sample::Index>(), 0..3),
                0u32..1000,
            ),
            n,
        )
        .prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (sqs, deps, setting))| Node {
                    kind: if sqs { Kind::SQS } else { Kind::S3 },
                    deps: if i == 0 {
                        vec![]
                    } else {
                        deps.iter().map(|d| d.index(i)).collect()
                    },
                    setting,
                })
                .collect()
        })
    })
}

/// What the state holds for each node: nothing, the right config, a drifted config; plus extras.
fn recorded() -> impl Strategy<Value = (Vec<u8>, Vec<(u32, bool)>)> {
    (
        prop::collection::vec(0u8..3, 40),
        prop::collection::vec((0u32..50, prop::bool::ANY), 0..5),
    )
}

proptest! {
    #[test]
    fn planning_converges(nodes in nodes(), (choices, extras) in recorded()) {
        let stack = stack_of(&nodes);
        let mut state = State::new("p", "dev", "lin");
        // Start from an in-memory apply of the stack, then disturb it.
        let first = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
        record_in_memory(&first, &mut state);
        for (i, choice) in choices.iter().take(nodes.len()).enumerate() {
            let address = format!("s{}/c{i}", i % 3);
            match choice {
                0 => { state.resources.remove(&address); }
                1 => {
                    let r = std::sync::Arc::make_mut(state.resources.get_mut(&address).unwrap());
                    r.config.edit(|c| c["spec"]["drift"] = json!(true));
                }
                _ => {}
            }
        }
        for (n, stateful) in &extras {
            let address = format!("gone/x{n}");
            let config = json!({"name": address, "spec": {}});
            state.resources.insert(address.clone(), std::sync::Arc::new(ResourceState {
                kind: if *stateful { "S3".into() } else { "SQS".into() },
                physical_ids: Default::default(),
                config_hash: config_hash(&config),
                config: config.into(),
                outputs: Default::default(),
                dependencies: if n % 2 == 0 { vec![format!("gone/x{}", n + 1)] } else { vec![] },
                status: ResourceStatus::Ready,
                created_at: String::new(),
                updated_at: String::new(),
                adopted: false,
            }));
        }
        let allow: Vec<String> = state.resources.keys().cloned().collect();
        let options = PlanOptions { allow_destroy: allow, ..PlanOptions::default() };
        let p = plan(&stack, Some(&state), &options).unwrap();
        let wave = |a: &str| p.actions.iter().find(|x| x.address == a).map(|x| x.wave);
        for a in p.actions.iter().filter(|a| a.action != ActionKind::Delete) {
            for d in &a.depends_on {
                prop_assert!(wave(d).unwrap() < a.wave, "{} (wave {}) depends on {d}", a.address, a.wave);
            }
        }
        for a in p.actions.iter().filter(|a| a.action == ActionKind::Delete) {
            for d in &a.depends_on {
                if let Some(w) = wave(d) && p.actions.iter().any(|x| x.address == *d && x.action == ActionKind::Delete) {
                    prop_assert!(w > a.wave, "{d} is deleted before its dependent {}", a.address);
                }
            }
        }
        record_in_memory(&p, &mut state);
        let again = plan(&stack, Some(&state), &options).unwrap();
        prop_assert!(!again.has_changes(), "second plan: {:?}", again.actions.iter().filter(|a| a.action != ActionKind::NoOp).map(|a| (&a.address, a.action)).collect::<Vec<_>>());
    }
}
