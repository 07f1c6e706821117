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
}
