//! Load + merge + validate time for generated stacks of 1,000 to 10,000 components.
//!
//! Each stack has 100 components per service, a mix of MicroService (with infra.yaml), RDS, SQS,
//! S3 and DynamoDB, with `valueFrom` references between them and an environment overriding one
//! component in ten. Results are recorded in docs/performance.md.

use std::fmt::Write;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use panka_format::{LoadOptions, load};

const PER_SERVICE: usize = 100;

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn generate(root: &Path, components: usize) {
    write(
        &root.join("stack.yaml"),
        "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {name: big}\nspec:\n  provider: {name: aws, region: us-east-1}\n  variables: {VERSION: '1.0', LOG_LEVEL: info}\n",
    );
    let mut env = String::from(
        "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: prod}\nspec:\n  variables: {LOG_LEVEL: warn}\n  overrides:\n",
    );
    for i in 0..components {
        let service = format!("svc{:03}", i / PER_SERVICE);
        let n = i % PER_SERVICE;
        let dir = root.join("services").join(&service).join("components");
        let (file, body) = match n % 5 {
            0 => (
                "microservice.yaml",
                format!(
                    "kind: MicroService\nmetadata: {{name: c{n}, service: {service}}}\nspec:\n  image: {{repository: nginx, tag: '${{VERSION}}'}}\n  ports: [{{name: http, port: 8080, public: true, path: '/c{n}/*'}}]\n  environment:\n    - {{name: LOG_LEVEL, value: '${{LOG_LEVEL}}'}}\n    - {{name: DB, valueFrom: {{component: c{}, output: endpoint}}}}\n    - {{name: Q, valueFrom: {{component: c{}, output: url}}}}\n  healthCheck: {{readiness: {{http: {{path: /health}}}}}}\n",
                    n + 1,
                    n + 2
                ),
            ),
            1 => (
                "rds.yaml",
                format!(
                    "kind: RDS\nmetadata: {{name: c{n}, service: {service}}}\nspec:\n  engine: {{type: postgres, version: '16.4'}}\n  instance: {{class: db.t4g.micro}}\n  database: {{name: app, username: app}}\n"
                ),
            ),
            2 => (
                "sqs.yaml",
                format!(
                    "kind: SQS\nmetadata: {{name: c{n}, service: {service}}}\nspec: {{visibilityTimeoutSeconds: 30, deadLetter: {{maxReceiveCount: 5}}}}\n"
                ),
            ),
            3 => (
                "s3.yaml",
                format!(
                    "kind: S3\nmetadata: {{name: c{n}, service: {service}}}\nspec: {{versioning: true, lifecycle: [{{prefix: tmp/, expireDays: 7}}]}}\n"
                ),
            ),
            _ => (
                "dynamodb.yaml",
                format!(
                    "kind: DynamoDB\nmetadata: {{name: c{n}, service: {service}}}\nspec: {{partitionKey: {{name: id, type: S}}}}\n"
                ),
            ),
        };
        write(
            &dir.join(format!("c{n}")).join(file),
            &format!("apiVersion: components.panka.io/v1\n{body}"),
        );
        if n.is_multiple_of(5) {
            write(
                &dir.join(format!("c{n}")).join("infra.yaml"),
                &format!(
                    "apiVersion: infra.panka.io/v1\nkind: ComponentInfra\nmetadata: {{name: c{n}, service: {service}}}\nspec: {{resources: {{cpu: 256, memory: 512}}, scaling: {{replicas: 2}}}}\n"
                ),
            );
        }
        if n.is_multiple_of(10) {
            let _ = writeln!(
                env,
                "    - target: {service}/c{n}\n      infra: {{scaling: {{replicas: 4}}}}"
            );
        }
    }
    write(&root.join("environments/prod.yaml"), &env);
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_merge_validate");
    group.sample_size(10);
    for size in [1_000usize, 5_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), size);
        let options = LoadOptions {
            stack: ".".into(),
            environment: "prod".into(),
            vars: vec![],
            cwd: dir.path().to_path_buf(),
        };
        let check = load(&options).unwrap();
        assert!(
            !check.diagnostics.has_errors(),
            "{:?}",
            check.diagnostics.items.first()
        );
        assert_eq!(check.stack.unwrap().components.len(), size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &options, |b, o| {
            b.iter(|| load(o).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
