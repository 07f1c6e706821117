//! Every stack under fixtures/valid/ validates for each of its environments.

use std::path::PathBuf;

use panka_format::{LoadOptions, load};

#[test]
fn valid_fixtures_validate() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/valid")
        .canonicalize()
        .unwrap();
    let mut checked = 0;
    for stack in std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
    {
        for env in std::fs::read_dir(stack.path().join("environments"))
            .unwrap()
            .flatten()
        {
            let env_name = env
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let loaded = load(&LoadOptions {
                stack: stack.file_name().to_string_lossy().into_owned(),
                environment: env_name.clone(),
                vars: vec![],
                cwd: root.clone(),
            })
            .unwrap();
            let errors: Vec<String> = loaded
                .diagnostics
                .items
                .iter()
                .filter(|d| d.is_error())
                .map(|d| {
                    format!(
                        "{}:{}: {}",
                        loaded.sources.path(d.span.file).display(),
                        d.span.line,
                        d.message
                    )
                })
                .collect();
            assert!(
                errors.is_empty(),
                "{:?}/{env_name}: {errors:#?}",
                stack.file_name()
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

#[test]
fn format_md_example_resolves_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/valid")
        .canonicalize()
        .unwrap();
    let loaded = load(&LoadOptions {
        stack: "format-md".into(),
        environment: "production".into(),
        vars: vec![],
        cwd: root,
    })
    .unwrap();
    let stack = loaded.stack.expect("valid");
    let api = &stack.components[&panka_format::Address::new("orders", "api")];
    let infra = api
        .infra
        .as_ref()
        .expect("the ComponentInfra after --- is the API's infra");
    assert_eq!(
        infra.scaling.as_ref().unwrap().replicas,
        6,
        "the production override wins"
    );
    let panka_format::ComponentSpec::MicroService(ms) = &api.spec else {
        panic!()
    };
    assert_eq!(ms.image.tag.as_deref(), Some("v1.4.2"));
    assert_eq!(
        ms.environment
            .iter()
            .find(|e| e.name == "LOG_LEVEL")
            .unwrap()
            .value
            .as_deref(),
        Some("error")
    );
    assert_eq!(
        stack.backend.as_ref().unwrap().s3.bucket,
        "acme-panka-state"
    );
    assert_eq!(stack.shared.domain.as_ref().unwrap().zone, "example.com");
    assert!(
        stack.domain_hosts().is_empty(),
        "the example's API is routed by path, with no host"
    );
}

/// A public port's host outside `shared.domain`'s zone is valid, warned at the host's line (it
/// gets no certificate or record); hosts inside the zone, any case, are the domain's hosts.
#[test]
fn a_host_outside_the_zone_is_warned_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s");
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "stack.yaml",
        "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {name: demo}\nspec:\n  provider: {name: aws, region: us-east-1}\n  shared:\n    domain: {zone: example.com}\n",
    );
    write(
        "environments/dev.yaml",
        "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n",
    );
    write(
        "services/app/components/web/microservice.yaml",
        "apiVersion: components.panka.io/v1\nkind: MicroService\nmetadata: {name: web, service: app}\nspec:\n  image: {repository: public.ecr.aws/nginx/nginx}\n  ports:\n    - {name: a, port: 8080, public: true, host: API.example.com}\n    - {name: b, port: 8081, public: true, host: www.example.org}\n    - {name: c, port: 8082, public: true, host: notexample.com}\n",
    );
    let loaded = load(&LoadOptions {
        stack: "s".into(),
        environment: "dev".into(),
        vars: vec![],
        cwd: dir.path().to_path_buf(),
    })
    .unwrap();
    let warned: Vec<(u32, &str)> = loaded
        .diagnostics
        .items
        .iter()
        .filter(|d| d.code == "outside-zone")
        .map(|d| (d.span.line, d.message.as_str()))
        .collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert_eq!(warned[0].0, 8);
    assert!(warned[0].1.contains("www.example.org"), "{warned:?}");
    assert_eq!(warned[1].0, 9);
    let stack = loaded.stack.expect("a warning does not stop validation");
    assert_eq!(stack.domain_hosts(), ["api.example.com"]);
}

/// CloudFront aliases without `certificateArn` are valid when `shared.domain` serves them (all
/// inside its zone), and remain the `missing-field` error at `aliases` otherwise: without a
/// domain, or with an alias outside the zone (one certificate covers the distribution).
#[test]
fn cloudfront_aliases_need_a_certificate_unless_the_zone_serves_them_all() {
    let errors = |domain: &str, aliases: &str| -> Vec<(String, u32)> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "stack.yaml",
            &format!(
                "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {{name: demo}}\nspec:\n  provider: {{name: aws, region: us-east-1}}\n{domain}"
            ),
        );
        write(
            "environments/dev.yaml",
            "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n",
        );
        write(
            "services/web/components/cdn/cloudfront.yaml",
            &format!(
                "apiVersion: components.panka.io/v1\nkind: CloudFront\nmetadata: {{name: cdn, service: web}}\nspec:\n  origins: [{{name: site, domainName: example.org}}]\n  defaultBehavior: {{origin: site}}\n  aliases: {aliases}\n"
            ),
        );
        let loaded = load(&LoadOptions {
            stack: "s".into(),
            environment: "dev".into(),
            vars: vec![],
            cwd: dir.path().to_path_buf(),
        });
        let items = match loaded {
            Ok(l) => l.diagnostics.items,
            Err(e) => panic!("{e:?}"),
        };
        items
            .iter()
            .filter(|d| d.severity == panka_format::Severity::Error)
            .map(|d| (d.code.to_string(), d.span.line))
            .collect()
    };
    let zone = "  shared:\n    domain: {zone: example.com}\n";
    assert_eq!(
        errors("", "[cdn.example.com]"),
        [("missing-field".to_string(), 7)]
    );
    assert_eq!(errors(zone, "[cdn.example.com, Example.com]"), []);
    assert_eq!(
        errors(zone, "[cdn.example.com, cdn.example.org]"),
        [("missing-field".to_string(), 7)]
    );
}
