//! The generated stack the plan benchmarks share, and its state.

use std::path::PathBuf;

use indexmap::IndexMap;
use panka_format::kinds::{ComponentSpec, Kind};
use panka_format::model::{Component, DeploymentSettings, Shared};
use panka_format::{Address, Stack};
use panka_plan::{PlanOptions, plan, record_in_memory};
use panka_state::State;
use serde_json::json;

/// A stack of `n` components in services of 100: queues, buckets, tables and microservices,
/// each depending on up to three earlier components of its service.
pub fn stack(n: usize) -> Stack {
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

/// The state document an apply of `stack` leaves, with one field changed (an older visibility
/// timeout for the first queue).
pub fn state_document_with_one_change(stack: &Stack) -> Vec<u8> {
    let mut state = State::new("big", "prod", "lin");
    let first = plan(stack, Some(&state), &PlanOptions::default()).unwrap();
    record_in_memory(&first, &mut state);
    let changed = std::sync::Arc::make_mut(state.resources.get_mut("svc000/c0").unwrap());
    changed
        .config
        .edit(|c| c["spec"]["visibilityTimeoutSeconds"] = json!(60));
    changed.config_hash = changed.config.hash();
    serde_json::to_vec(&state).unwrap()
}
