//! Route order on the stack's shared load balancer: listener-rule priorities derived from the
//! routes' specificity across every service, explicit ones kept, and a warning at both rules
//! when an explicit priority makes one rule unreachable.

use std::path::Path;

use panka_format::diagnostic::render_plain;
use panka_format::kinds::ComponentSpec;
use panka_format::{Address, LoadOptions, Loaded, load};

fn stack(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn load_dev(dir: &Path) -> Loaded {
    load(&LoadOptions {
        stack: ".".into(),
        environment: "dev".into(),
        vars: vec![],
        cwd: dir.to_path_buf(),
    })
    .unwrap()
}

const STACK: &str = "apiVersion: core.panka.io/v1
kind: Stack
metadata: {name: shop}
spec:
  provider: {name: aws, region: us-east-1}
";
const ENV: &str =
    "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {}\n";

fn service(service: &str, component: &str, ports: &str) -> String {
    format!(
        "apiVersion: components.panka.io/v1
kind: MicroService
metadata: {{name: {component}, service: {service}}}
spec:
  image: {{repository: nginx}}
  ports:
{ports}"
    )
}

fn priority(loaded: &Loaded, address: (&str, &str), port: &str) -> u32 {
    let stack = loaded.stack.as_ref().expect("valid");
    let c = &stack.components[&Address::new(address.0, address.1)];
    let ComponentSpec::MicroService(s) = &c.spec else {
        panic!("not a MicroService")
    };
    s.ports
        .iter()
        .find(|p| p.name == port)
        .and_then(|p| p.priority)
        .expect("every public port has a priority")
}

#[test]
fn derived_priorities_order_the_stack_s_routes_by_specificity() {
    let site = service(
        "web",
        "site",
        "    - {name: http, port: 80, public: true, path: \"/*\"}\n",
    );
    let catalog = service(
        "catalog",
        "api",
        "    - {name: http, port: 8080, public: true, path: \"/catalog/*\"}\n    - {name: items, port: 8081, public: true, path: \"/catalog/items/*\"}\n    - {name: admin, port: 8082, public: true, host: admin.example.com}\n",
    );
    let dir = stack(&[
        ("stack.yaml", STACK),
        ("environments/dev.yaml", ENV),
        ("services/web/components/site/microservice.yaml", &site),
        (
            "services/catalog/components/api/microservice.yaml",
            &catalog,
        ),
    ]);
    let loaded = load_dev(dir.path());
    assert!(
        loaded.diagnostics.items.is_empty(),
        "{:?}",
        loaded.diagnostics.items
    );
    let items = priority(&loaded, ("catalog", "api"), "items");
    let catalog = priority(&loaded, ("catalog", "api"), "http");
    let admin = priority(&loaded, ("catalog", "api"), "admin");
    let site = priority(&loaded, ("web", "site"), "http");
    assert!(
        items < catalog && catalog < admin && admin < site,
        "{items} {catalog} {admin} {site}"
    );
    // The same stack loads to the same priorities.
    let again = load_dev(dir.path());
    assert_eq!(priority(&again, ("web", "site"), "http"), site);
}

#[test]
fn an_explicit_priority_that_shadows_a_route_is_reported_at_both_rules() {
    let site = service(
        "web",
        "site",
        "    - {name: http, port: 80, public: true, path: \"/*\", priority: 5}\n",
    );
    let api = service(
        "orders",
        "api",
        "    - {name: http, port: 8080, public: true, path: \"/orders/*\"}\n",
    );
    let dir = stack(&[
        ("stack.yaml", STACK),
        ("environments/dev.yaml", ENV),
        ("services/web/components/site/microservice.yaml", &site),
        ("services/orders/components/api/microservice.yaml", &api),
    ]);
    let loaded = load_dev(dir.path());
    // A warning: the stack is still valid and keeps the explicit priority.
    assert_eq!(priority(&loaded, ("web", "site"), "http"), 5);
    let warnings: Vec<_> = loaded
        .diagnostics
        .items
        .iter()
        .filter(|d| d.code == "route-shadowed")
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", loaded.diagnostics.items);
    let w = warnings[0];
    assert!(!w.is_error());
    let file =
        |span: &panka_format::source::Span| loaded.sources.path(span.file).display().to_string();
    assert_eq!(
        file(&w.span),
        "services/orders/components/api/microservice.yaml"
    );
    assert_eq!(w.span.line, 7);
    let (related, _) = &w.related[0];
    assert_eq!(
        file(related),
        "services/web/components/site/microservice.yaml"
    );
    assert_eq!(related.line, 7);
    insta::assert_snapshot!(render_plain(&loaded.diagnostics.items, &loaded.sources));
}

#[test]
fn two_routes_cannot_share_an_explicit_priority() {
    let site = service(
        "web",
        "site",
        "    - {name: http, port: 80, public: true, path: \"/*\", priority: 40}\n",
    );
    let api = service(
        "orders",
        "api",
        "    - {name: http, port: 8080, public: true, path: \"/orders/*\", priority: 40}\n",
    );
    let dir = stack(&[
        ("stack.yaml", STACK),
        ("environments/dev.yaml", ENV),
        ("services/web/components/site/microservice.yaml", &site),
        ("services/orders/components/api/microservice.yaml", &api),
    ]);
    let loaded = load_dev(dir.path());
    assert!(loaded.stack.is_none());
    let errors: Vec<_> = loaded
        .diagnostics
        .items
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, "duplicate-name");
    assert!(
        errors[0].message.contains("priority 40"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].related.len(), 1);
}
