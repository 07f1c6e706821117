//! Plans of the example stack against states in different conditions, snapshot-tested as text
//! and JSON; the JSON is checked against the plan schema.

use std::path::Path;

use panka_format::{LoadOptions, Stack, load};
use panka_plan::{
    ActionKind, Plan, PlanError, PlanOptions, Targeting, plan, record_in_memory, render_text,
};
use panka_state::State;
use serde_json::json;

fn example(env: &str, vars: &[(&str, &str)]) -> Stack {
    let cwd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let loaded = load(&LoadOptions {
        stack: "examples/shop".into(),
        environment: env.into(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd,
    })
    .unwrap();
    assert!(!loaded.diagnostics.has_errors());
    loaded.stack.unwrap()
}

/// The state after applying the dev example from scratch.
fn applied(stack: &Stack) -> State {
    let mut state = State::new(&stack.name, &stack.environment, "0d9c1a52-lineage");
    let p = plan(stack, Some(&state), &PlanOptions::default()).unwrap();
    record_in_memory(&p, &mut state);
    state
}

fn json_of(p: &Plan) -> serde_json::Value {
    let v = serde_json::to_value(p).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&panka_plan::plan_schema_json()).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "plan JSON does not match its schema: {errors:?}"
    );
    v
}

#[test]
fn create_all() {
    let stack = example("dev", &[]);
    let p = plan(&stack, None, &PlanOptions::default()).unwrap();
    assert_eq!(p.summary.create, 15);
    assert_eq!(p.waves().len(), 5);
    insta::assert_snapshot!("create_all", render_text(&p));
}

#[test]
fn second_plan_after_apply_is_empty() {
    let stack = example("dev", &[]);
    let state = applied(&stack);
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    assert!(
        !p.has_changes(),
        "{:#?}",
        p.actions
            .iter()
            .filter(|a| a.action != ActionKind::NoOp)
            .collect::<Vec<_>>()
    );
    assert_eq!(p.summary.no_op, 15);
    insta::assert_snapshot!("no_changes", render_text(&p));
}

#[test]
fn one_update() {
    let state = applied(&example("dev", &[]));
    let stack = example("dev", &[("VERSION", "1.28")]);
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    // VERSION is the API's image tag and part of the webhook's code key.
    assert_eq!((p.summary.update, p.summary.changes()), (2, 2));
    let updated: Vec<(&str, &str)> = p
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Update)
        .map(|a| (a.address.as_str(), a.changes[0].path.as_str()))
        .collect();
    assert_eq!(
        updated,
        vec![
            ("orders/api", "spec.image.tag"),
            ("payments/webhook", "spec.code.s3.key")
        ]
    );
    insta::assert_snapshot!("one_update", render_text(&p));
    let mut v = json_of(&p);
    // The state's serial and the full configs make the JSON long; keep the snapshot on the action.
    let action = v["actions"]
        .as_array_mut()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "orders/api")
        .cloned()
        .unwrap();
    insta::assert_json_snapshot!(
        "one_update_action",
        json!({"summary": v["summary"], "action": {"address": action["address"], "wave": action["wave"], "changes": action["changes"]}})
    );
}

#[test]
fn a_replace() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    // As if the queue had been created FIFO: `fifo` cannot change in place.
    std::sync::Arc::make_mut(state.resources.get_mut("orders/queue").unwrap())
        .config
        .edit(|c| c["spec"]["fifo"] = json!(true));
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    let a = p
        .actions
        .iter()
        .find(|a| a.address == "orders/queue")
        .unwrap();
    assert_eq!(a.action, ActionKind::Replace);
    assert_eq!(a.replace_reasons(), vec!["spec.fifo"]);
    // The API takes the queue's URL: it is updated after the queue, to pick the new one up.
    let api = p
        .actions
        .iter()
        .find(|a| a.address == "orders/api")
        .unwrap();
    assert_eq!(api.action, ActionKind::Update);
    assert_eq!(api.changes.len(), 1);
    assert_eq!(api.changes[0].path, "inputs[orders/queue]");
    assert_eq!(
        api.changes[0].upstream.as_deref(),
        Some("orders/queue is replaced")
    );
    assert!(api.depends_on.iter().any(|d| d == "orders/queue"));
    assert!(api.wave > a.wave);
    // A resource that neither refers to the queue nor is changed stays as it is.
    let ledger = p
        .actions
        .iter()
        .find(|a| a.address == "payments/ledger")
        .unwrap();
    assert_eq!(ledger.action, ActionKind::NoOp);
    json_of(&p);
    insta::assert_snapshot!("replace", render_text(&p));
}

/// A resource recovery left pending (a replace cut short by a kill keeps the old resource
/// recorded) is replaced when what changed forces it, updated otherwise: never updated in place
/// across a change that cannot be made in place.
#[test]
fn a_pending_resource_is_replaced_when_its_changes_force_it() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    let queue = std::sync::Arc::make_mut(state.resources.get_mut("orders/queue").unwrap());
    queue.status = panka_state::ResourceStatus::Pending;
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    let action = |p: &Plan| {
        p.actions
            .iter()
            .find(|a| a.address == "orders/queue")
            .unwrap()
            .action
    };
    assert_eq!(action(&p), ActionKind::Update);
    std::sync::Arc::make_mut(state.resources.get_mut("orders/queue").unwrap())
        .config
        .edit(|c| c["spec"]["fifo"] = json!(true));
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    assert_eq!(action(&p), ActionKind::Replace);
}

#[test]
fn a_delete_in_reverse_dependency_order() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    let mut extra = state.resources["orders/queue"].clone();
    std::sync::Arc::make_mut(&mut extra)
        .config
        .edit(|c| c["name"] = json!("shop-dev-orders-old-queue"));
    state
        .resources
        .insert("orders/old-queue".into(), extra.clone());
    let mut consumer = extra;
    std::sync::Arc::make_mut(&mut consumer).dependencies = vec!["orders/old-queue".into()];
    state
        .resources
        .insert("orders/old-consumer".into(), consumer);
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    assert_eq!(p.summary.delete, 2);
    let wave = |a: &str| p.actions.iter().find(|x| x.address == a).unwrap().wave;
    assert!(
        wave("orders/old-consumer") < wave("orders/old-queue"),
        "dependents are deleted first"
    );
    assert!(
        wave("orders/old-consumer") > wave("web/cdn"),
        "deletes come after every other wave"
    );
    insta::assert_snapshot!("delete", render_text(&p));
}

#[test]
fn a_blocked_stateful_delete() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    let old_db = state.resources["orders/db"].clone();
    state.resources.insert("orders/old-db".into(), old_db);
    let err = plan(&stack, Some(&state), &PlanOptions::default()).unwrap_err();
    assert!(
        matches!(err, PlanError::ProtectedDestroy(ref v) if v.len() == 1 && v[0].address == "orders/old-db")
    );
    insta::assert_snapshot!("blocked_delete", err.to_string());
    let allowed = PlanOptions {
        allow_destroy: vec!["orders/old-db".into()],
        ..PlanOptions::default()
    };
    let p = plan(&stack, Some(&state), &allowed).unwrap();
    assert_eq!(p.summary.delete, 1);
    // A destroy deletes it: the refusal says so, not that the YAML dropped it.
    let mut empty = stack.clone();
    empty.components.clear();
    let destroying = PlanOptions {
        destroying: true,
        ..PlanOptions::default()
    };
    let err = plan(&empty, Some(&state), &destroying)
        .unwrap_err()
        .to_string();
    assert!(err.contains("destroy deletes it"), "{err}");
    assert!(!err.contains("removed from the stack"), "{err}");
}

#[test]
fn a_blocked_stateful_replace() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    std::sync::Arc::make_mut(state.resources.get_mut("orders/db").unwrap())
        .config
        .edit(|c| c["spec"]["engine"]["type"] = json!("mysql"));
    let err = plan(&stack, Some(&state), &PlanOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(
            "orders/db (RDS) would be replaced: changing `spec.engine.type` forces replacement"
        ),
        "{err}"
    );
}

#[test]
fn a_parameter_change_is_in_place_and_marked_applied_at_the_next_reboot() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    std::sync::Arc::make_mut(state.resources.get_mut("orders/db").unwrap())
        .config
        .edit(|c| c["spec"]["parameters"] = json!({"max_connections": "50"}));
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    let db = p.actions.iter().find(|a| a.address == "orders/db").unwrap();
    assert_eq!(db.action, ActionKind::Update);
    assert!(
        db.changes.iter().all(|c| c.applies_at_reboot),
        "{:?}",
        db.changes
    );
    let text = render_text(&p);
    assert!(
        text.contains("spec.parameters") && text.contains("(applied at the next reboot)"),
        "{text}"
    );
    assert_eq!(
        json_of(&p)["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["address"] == "orders/db")
            .unwrap()["changes"][0]["appliesAtReboot"],
        json!(true)
    );
}

#[test]
fn targeting_brings_dependencies() {
    let stack = example("dev", &[]);
    let options = PlanOptions {
        targeting: Targeting {
            components: vec!["orders/api".into()],
            ..Targeting::default()
        },
        ..PlanOptions::default()
    };
    let p = plan(&stack, None, &options).unwrap();
    let addresses: Vec<&str> = p.actions.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(
        addresses,
        vec![
            "_shared/cluster",
            "_shared/load-balancer",
            "orders/assets",
            "orders/cache",
            "orders/db",
            "orders/queue",
            "payments/ledger",
            "orders/api"
        ]
    );
    insta::assert_snapshot!("targeting", render_text(&p));

    let excluded = PlanOptions {
        targeting: Targeting {
            services: vec!["payments".into()],
            exclude: vec!["payments/webhook".into()],
            ..Targeting::default()
        },
        ..PlanOptions::default()
    };
    let p = plan(&stack, None, &excluded).unwrap();
    let addresses: Vec<&str> = p.actions.iter().map(|a| a.address.as_str()).collect();
    // payments/events subscribes orders/queue, so the queue comes along; the webhook is excluded.
    assert_eq!(
        addresses,
        vec![
            "_shared/cluster",
            "orders/queue",
            "payments/ledger",
            "payments/events",
            "payments/reconcile"
        ]
    );

    // A long list of targets wraps inside the box: every line of the box is as wide as its top.
    let many = PlanOptions {
        targeting: Targeting {
            components: vec![
                "orders/api".into(),
                "orders/fulfilment".into(),
                "payments/reconcile".into(),
            ],
            ..Targeting::default()
        },
        ..PlanOptions::default()
    };
    let text = render_text(&plan(&stack, None, &many).unwrap());
    let width = text.lines().next().unwrap().chars().count();
    let boxed: Vec<&str> = text.lines().filter(|l| l.starts_with('│')).collect();
    assert!(boxed.len() >= 3, "{text}");
    assert!(boxed.iter().all(|l| l.chars().count() == width), "{text}");

    let bad = PlanOptions {
        targeting: Targeting {
            components: vec!["orders/apx".into()],
            ..Targeting::default()
        },
        ..PlanOptions::default()
    };
    assert_eq!(
        plan(&stack, None, &bad).unwrap_err().to_string(),
        "component `orders/apx` is not in this stack (did you mean `orders/api`?)"
    );
}

#[test]
fn production_costs_more_than_dev() {
    let dev = plan(&example("dev", &[]), None, &PlanOptions::default()).unwrap();
    let prod = plan(&example("production", &[]), None, &PlanOptions::default()).unwrap();
    assert!(
        prod.cost.planned > dev.cost.planned * 2.0,
        "{} vs {}",
        prod.cost.planned,
        dev.cost.planned
    );
    let by_kind = |p: &Plan, k: &str| p.cost.by_kind.iter().find(|c| c.kind == k).unwrap().planned;
    // Production: 4 tasks of 1 vCPU / 2 GB; dev: 1 task of 0.25 vCPU / 0.5 GB.
    assert!((by_kind(&prod, "MicroService") - 16.0 * by_kind(&dev, "MicroService")).abs() < 0.1);
}

#[test]
fn stale_state_is_detected() {
    let stack = example("dev", &[]);
    let mut state = applied(&stack);
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    assert!(p.check_state(Some(&state)).is_ok());
    state.serial += 1;
    let err = p.check_state(Some(&state)).unwrap_err();
    assert!(
        err.to_string()
            .contains("the state changed since the plan was made"),
        "{err}"
    );
}

#[test]
fn a_rollback_plan_goes_back_and_protects_data() {
    let stack = example("dev", &[]);
    let before = applied(&stack);
    // Since then: the queue's timeout changed and the database's engine was swapped.
    let mut now = before.clone();
    std::sync::Arc::make_mut(now.resources.get_mut("orders/queue").unwrap())
        .config
        .edit(|c| c["spec"]["visibilityTimeoutSeconds"] = json!(90));
    std::sync::Arc::make_mut(now.resources.get_mut("orders/db").unwrap())
        .config
        .edit(|c| c["spec"]["engine"]["type"] = json!("mysql"));
    let err =
        panka_plan::rollback_plan(&stack, &now, &before, &PlanOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("orders/db (RDS) would be replaced"),
        "{err}"
    );
    let allowed = PlanOptions {
        allow_destroy: vec!["orders/db".into()],
        ..PlanOptions::default()
    };
    let p = panka_plan::rollback_plan(&stack, &now, &before, &allowed).unwrap();
    let queue = p
        .actions
        .iter()
        .find(|a| a.address == "orders/queue")
        .unwrap();
    assert_eq!(queue.action, ActionKind::Update);
    assert_eq!(queue.changes[0].path, "spec.visibilityTimeoutSeconds");
    assert_eq!(
        queue.changes[0].new,
        Some(json!(
            before.resources["orders/queue"].config.value()["spec"]["visibilityTimeoutSeconds"]
                .clone()
        ))
    );
    let db = p.actions.iter().find(|a| a.address == "orders/db").unwrap();
    assert_eq!(db.action, ActionKind::Replace);
    // The API takes the database's endpoint: it is updated after the replacement.
    let api = p
        .actions
        .iter()
        .find(|a| a.address == "orders/api")
        .unwrap();
    assert_eq!(api.action, ActionKind::Update);
    assert_eq!(
        api.changes[0].upstream.as_deref(),
        Some("orders/db is replaced")
    );
    assert_eq!(
        api.config.as_ref(),
        Some(&before.resources["orders/api"].config.value())
    );
    json_of(&p);
}

/// Unchanged resources are told apart without building their configuration: the bytes of the
/// desired configuration are those of the recorded one, also once the state went through its
/// JSON file; a change anywhere makes them differ.
#[test]
fn unchanged_resources_are_recognised_from_their_bytes() {
    for env in ["dev", "staging", "production"] {
        let stack = example(env, &[]);
        let state = applied(&stack);
        let reloaded: State =
            serde_json::from_slice(&serde_json::to_vec_pretty(&state).unwrap()).unwrap();
        let builder = panka_plan::desired::ConfigBuilder::new(&stack);
        let mut scratch = panka_plan::desired::Scratch::default();
        for (address, r) in reloaded.resources.iter() {
            assert!(
                builder.is_recorded(address, &r.config, &mut scratch),
                "{env}: {address} is not recognised as unchanged"
            );
            let mut changed = r.config.clone();
            changed.edit(|c| c["tags"]["team"] = json!("someone-else"));
            assert!(
                !builder.is_recorded(address, &changed, &mut scratch),
                "{env}: a changed tag of {address} goes unnoticed"
            );
        }
    }
}

/// `shared.domain`: alone, the shared load balancer records it (updated in place, its listeners
/// as written). With a port's host inside the zone, the load balancer is updated in place (its
/// `domain` with the host, HTTP on 80 turned into a redirect, an HTTPS listener on 443), and the
/// MicroService, whose spec did not change, is updated after it to move its listener rules onto
/// the listeners that now forward. Once recorded, the next plan is empty.
#[test]
fn a_domain_adds_https_and_updates_the_load_balancer_in_place() {
    let mut stack = example("dev", &[]);
    let api = stack
        .components
        .get_mut(&panka_format::Address::new("orders", "api"))
        .unwrap();
    let panka_format::ComponentSpec::MicroService(ms) = &mut api.spec else {
        panic!("orders/api is a MicroService")
    };
    ms.ports[0].host = Some("API.example.com".into());
    let state = applied(&stack);

    stack.shared.domain = Some(panka_format::model::SharedDomain {
        zone: "Example.org".into(),
    });
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    let lb = p
        .actions
        .iter()
        .find(|a| a.address == "_shared/load-balancer")
        .unwrap();
    let paths: Vec<&str> = lb.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        ["domain"],
        "no host in the zone: the listeners stay as written"
    );
    assert_eq!(
        lb.changes[0].new,
        Some(json!({"zone": "example.org", "hosts": []}))
    );
    assert_eq!(p.summary.update, 1, "{}", render_text(&p));

    stack.shared.domain = Some(panka_format::model::SharedDomain {
        zone: "Example.com".into(),
    });
    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    let lb = p
        .actions
        .iter()
        .find(|a| a.address == "_shared/load-balancer")
        .unwrap();
    assert_eq!(lb.action, ActionKind::Update);
    let config = lb.config.as_ref().unwrap();
    assert_eq!(
        config["domain"],
        json!({"zone": "example.com", "hosts": ["api.example.com"]})
    );
    assert_eq!(
        config["listeners"],
        json!([
            {"port": 80, "protocol": "HTTP", "redirectToHttps": true},
            {"port": 443, "protocol": "HTTPS", "redirectToHttps": false}
        ])
    );
    let api = p
        .actions
        .iter()
        .find(|a| a.address == "orders/api")
        .unwrap();
    assert_eq!(api.action, ActionKind::Update);
    assert_eq!(
        api.changes[0].upstream.as_deref(),
        Some("_shared/load-balancer is given other listeners")
    );
    assert!(api.wave > lb.wave);

    let mut state = state;
    record_in_memory(&p, &mut state);
    let again = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    assert!(!again.has_changes(), "{}", render_text(&again));
}

/// A CloudFront component's configuration carries `domain` (the zone, lowercase) exactly when
/// `shared.domain` serves its aliases: all inside the zone and no `certificateArn`. Adding an
/// alias in the zone is one update of the distribution, which then records the domain.
#[test]
fn a_cloudfront_alias_inside_the_zone_puts_the_zone_in_its_configuration() {
    let mut stack = example("dev", &[]);
    let state = applied(&stack);
    stack.shared.domain = Some(panka_format::model::SharedDomain {
        zone: "Example.com".into(),
    });
    let set = |stack: &mut Stack, aliases: &[&str], certificate: Option<&str>| {
        let cdn = stack
            .components
            .get_mut(&panka_format::Address::new("web", "cdn"))
            .unwrap();
        let panka_format::ComponentSpec::CloudFront(s) = &mut cdn.spec else {
            panic!("web/cdn is a CloudFront")
        };
        s.aliases = aliases.iter().map(|a| a.to_string()).collect();
        s.certificate_arn = certificate.map(str::to_string);
    };
    let domain_of = |stack: &Stack| {
        panka_plan::desired::ConfigBuilder::new(stack)
            .config("web/cdn")
            .get("domain")
            .cloned()
    };
    assert_eq!(domain_of(&stack), None, "no aliases");
    set(
        &mut stack,
        &["cdn.example.com"],
        Some("arn:aws:acm:us-east-1:1:certificate/x"),
    );
    assert_eq!(domain_of(&stack), None, "a certificate of its own");
    set(&mut stack, &["cdn.example.com", "cdn.example.org"], None);
    assert_eq!(domain_of(&stack), None, "an alias outside the zone");
    set(&mut stack, &["CDN.example.com"], None);
    assert_eq!(domain_of(&stack), Some(json!({"zone": "example.com"})));

    let p = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    let cdn = p.actions.iter().find(|a| a.address == "web/cdn").unwrap();
    assert_eq!(cdn.action, ActionKind::Update, "{}", render_text(&p));
    let mut state = state;
    record_in_memory(&p, &mut state);
    let again = plan(&stack, Some(&state), &PlanOptions::default()).unwrap();
    assert!(!again.has_changes(), "{}", render_text(&again));
}
