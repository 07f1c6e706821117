//! Loading resolves overlays, variables and references into the typed model.

use std::path::Path;

use panka_format::kinds::ComponentSpec;
use panka_format::{Address, LoadOptions, Loaded, load};

/// Writes a stack from (relative path, contents) pairs into a temporary folder.
fn stack(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn load_env(dir: &Path, env: &str, vars: &[(&str, &str)]) -> Loaded {
    load(&LoadOptions {
        stack: ".".into(),
        environment: env.into(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: dir.to_path_buf(),
    })
    .unwrap()
}

const STACK: &str = "apiVersion: core.panka.io/v1
kind: Stack
metadata: {name: shop}
spec:
  provider: {name: aws, region: eu-west-1}
  variables: {VERSION: stack-v, LOG_LEVEL: info, REPLICAS: 2, DEBUG: false}
  defaults: {tags: {cost-center: '42'}}
";

const API: &str = "apiVersion: components.panka.io/v1
kind: MicroService
metadata: {name: api, service: orders}
spec:
  image: {repository: nginx, tag: '${VERSION}'}
  ports: [{name: http, port: 8080, public: true, path: '/orders/*'}]
  environment:
    - {name: LOG_LEVEL, value: '${LOG_LEVEL}'}
    - {name: WHERE, value: '${stack}/${environment}/${region}/${service}/${component}'}
    - {name: LITERAL, value: 'costs $${HOME} and $5'}
    - {name: QUEUE, valueFrom: {component: queue, output: url}}
  readonlyRootFilesystem: ${DEBUG}
";

const INFRA: &str = "apiVersion: infra.panka.io/v1
kind: ComponentInfra
metadata: {name: api, service: orders}
spec:
  resources: {cpu: 256, memory: 512}
  scaling:
    replicas: ${REPLICAS}
";

const QUEUE: &str = "apiVersion: components.panka.io/v1
kind: SQS
metadata: {name: queue, service: orders}
spec: {visibilityTimeoutSeconds: 30}
";

fn base(env_yaml: &str) -> tempfile::TempDir {
    stack(&[
        ("stack.yaml", STACK),
        ("environments/dev.yaml", env_yaml),
        ("services/orders/components/api/microservice.yaml", API),
        ("services/orders/components/api/infra.yaml", INFRA),
        ("services/orders/components/queue/sqs.yaml", QUEUE),
    ])
}

fn env_var<'a>(spec: &'a ComponentSpec, name: &str) -> Option<&'a str> {
    let ComponentSpec::MicroService(ms) = spec else {
        panic!("not a MicroService")
    };
    ms.environment
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

#[test]
fn variables_resolve_in_lookup_order_with_builtins_and_escapes() {
    let dir = base(
        "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {variables: {VERSION: env-v, LOG_LEVEL: debug}}\n",
    );
    let loaded = load_env(dir.path(), "dev", &[("VERSION", "cli-v")]);
    assert!(
        !loaded.diagnostics.has_errors(),
        "{:?}",
        loaded.diagnostics.items
    );
    let stack = loaded.stack.unwrap();
    let api = &stack.components[&Address::new("orders", "api")];
    let ComponentSpec::MicroService(ms) = &api.spec else {
        panic!()
    };
    assert_eq!(
        ms.image.tag.as_deref(),
        Some("cli-v"),
        "--var wins over the environment"
    );
    assert_eq!(
        env_var(&api.spec, "LOG_LEVEL"),
        Some("debug"),
        "the environment wins over the stack"
    );
    assert_eq!(
        env_var(&api.spec, "WHERE"),
        Some("shop/dev/eu-west-1/orders/api")
    );
    assert_eq!(env_var(&api.spec, "LITERAL"), Some("costs ${HOME} and $5"));
    assert!(
        !ms.readonly_root_filesystem,
        "an interpolated `false` is a boolean"
    );
    assert_eq!(
        api.infra
            .as_ref()
            .unwrap()
            .scaling
            .as_ref()
            .unwrap()
            .replicas,
        2,
        "an interpolated number is a number"
    );
}

#[test]
fn overrides_merge_maps_named_lists_and_infra() {
    let dir = base(
        "apiVersion: core.panka.io/v1
kind: Environment
metadata: {name: dev}
spec:
  overrides:
    - target: orders/api
      spec:
        environment: [{name: LOG_LEVEL, value: error}, {name: NEW, value: x}]
        ports: [{name: http, path: '/v2/*'}]
      infra: {resources: {cpu: 1024, memory: 2048}}
    - target: orders
      spec: {dependsOn: []}
",
    );
    let loaded = load_env(dir.path(), "dev", &[]);
    assert!(
        !loaded.diagnostics.has_errors(),
        "{:?}",
        loaded.diagnostics.items
    );
    let stack = loaded.stack.unwrap();
    let api = &stack.components[&Address::new("orders", "api")];
    let ComponentSpec::MicroService(ms) = &api.spec else {
        panic!()
    };
    assert_eq!(env_var(&api.spec, "LOG_LEVEL"), Some("error"));
    assert_eq!(env_var(&api.spec, "NEW"), Some("x"));
    assert_eq!(ms.environment.len(), 5, "named items merge, none is lost");
    assert_eq!(
        ms.ports[0].port, 8080,
        "a merged named item keeps the fields the overlay does not set"
    );
    assert_eq!(ms.ports[0].path.as_deref(), Some("/v2/*"));
    let infra = api.infra.as_ref().unwrap();
    assert_eq!((infra.resources.cpu, infra.resources.memory), (1024, 2048));
    assert_eq!(
        infra.scaling.as_ref().unwrap().replicas,
        2,
        "infra keys the overlay does not set are kept"
    );
}

#[test]
fn references_names_and_tags() {
    let dir = base("apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n");
    let stack = load_env(dir.path(), "dev", &[]).stack.unwrap();
    let api = &stack.components[&Address::new("orders", "api")];
    assert_eq!(api.depends_on, vec![Address::new("orders", "queue")]);
    assert_eq!(api.references.len(), 1);
    assert_eq!(api.references[0].output.as_deref(), Some("url"));
    assert_eq!(api.references[0].path, "environment[3].valueFrom");
    assert_eq!(api.physical_name, "shop-dev-orders-api");
    assert_eq!(api.tags["panka:stack"], "shop");
    assert_eq!(api.tags["panka:environment"], "dev");
    assert_eq!(api.tags["panka:service"], "orders");
    assert_eq!(api.tags["panka:component"], "api");
    assert_eq!(api.tags["panka:managed-by"], "panka");
    assert_eq!(api.tags["cost-center"], "42");
    assert_eq!(stack.region, "eu-west-1");
    // Defaults are filled in, so that a later plan compares like with like.
    let queue = &stack.components[&Address::new("orders", "queue")];
    let json = queue.spec.to_json();
    assert_eq!(json["retentionDays"], 4);
    assert_eq!(json["fifo"], false);
}

#[test]
fn components_are_found_by_their_address_text() {
    let dir = base("apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n");
    let stack = load_env(dir.path(), "dev", &[]).stack.unwrap();
    assert!(!stack.components.is_empty());
    for (address, c) in &stack.components {
        let text = address.to_text();
        assert_eq!(text, address.to_string());
        let found = stack.component(&text).expect("found by its text");
        assert!(std::ptr::eq(found, c), "{text} finds itself");
    }
    for missing in [
        "orders",
        "orders/",
        "/api",
        "orders/api/x",
        "billing/api",
        "",
    ] {
        assert!(stack.component(missing).is_none(), "{missing}");
    }
}

#[test]
fn environment_region_overrides_the_stack() {
    let dir = base(
        "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {provider: {region: ap-south-1}}\n",
    );
    let stack = load_env(dir.path(), "dev", &[]).stack.unwrap();
    assert_eq!(stack.region, "ap-south-1");
    let api = &stack.components[&Address::new("orders", "api")];
    assert_eq!(
        env_var(&api.spec, "WHERE"),
        Some("shop/dev/ap-south-1/orders/api")
    );
}

#[test]
fn unresolved_variable_points_at_its_column() {
    let dir = base("apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n");
    std::fs::write(
        dir.path()
            .join("services/orders/components/api/microservice.yaml"),
        API.replace("'${LOG_LEVEL}'", "'x-${NOPE}'"),
    )
    .unwrap();
    let loaded = load_env(dir.path(), "dev", &[]);
    let d = loaded
        .diagnostics
        .items
        .iter()
        .find(|d| d.code == "unresolved-variable")
        .unwrap();
    assert_eq!((d.span.line, d.span.column), (8, 35));
}
