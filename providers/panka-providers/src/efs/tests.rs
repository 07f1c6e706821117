//! Unit tests for the EFS provider.

use super::*;
use aws_sdk_efs::operation::describe_access_points::DescribeAccessPointsOutput;
use aws_sdk_efs::operation::describe_backup_policy::{
    DescribeBackupPolicyError, DescribeBackupPolicyOutput,
};
use aws_sdk_efs::operation::describe_file_systems::{
    DescribeFileSystemsError, DescribeFileSystemsOutput,
};
use aws_sdk_efs::operation::describe_lifecycle_configuration::DescribeLifecycleConfigurationOutput;
use aws_sdk_efs::types::FileSystemSize;
use aws_sdk_efs::types::error::{FileSystemNotFound, PolicyNotFound};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};

const NAME: &str = "shop-dev-media-files";
const FS: &str = "fs-0123456789abcdef0";
const SG: &str = "sg-0123456789abcdef0";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/5e6f7a8b";
/// The ARN of the account's `aws/elasticfilesystem` key, used when the spec names no key.
const DEFAULT_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/aws-efs-default";

fn full_spec() -> Value {
    json!({
        "performanceMode": "maxIO",
        "throughputMode": "provisioned",
        "provisionedThroughputMibps": 256,
        "encryption": {"atRest": true, "kmsKeyId": "alias/files"},
        "transitionToIaDays": 30,
        "backup": false,
        "accessPoints": [
            {"name": "app", "path": "/app", "uid": 1000, "gid": 1000, "permissions": "0750"},
            {"name": "uploads", "path": "/uploads", "uid": 33, "gid": 33}
        ]
    })
}

fn spec_of(v: Value) -> EfsSpec {
    serde_json::from_value(v).unwrap()
}

/// What DescribeFileSystems answers for a file system made from `spec` by the
/// CreateFileSystem request: what was sent, with the default key's ARN when none was named.
/// https://docs.aws.amazon.com/efs/latest/ug/API_DescribeFileSystems.html
/// https://docs.aws.amazon.com/efs/latest/ug/API_FileSystemDescription.html
fn file_system(spec: &EfsSpec) -> FileSystemDescription {
    let key = spec.encryption.at_rest.then(|| {
        match spec.encryption.kms_key_id.as_deref() {
            Some("alias/files") => KEY_ARN,
            Some(k) => k,
            None => DEFAULT_KEY_ARN,
        }
        .to_string()
    });
    FileSystemDescription::builder()
        .owner_id("123456789012")
        .creation_token(NAME)
        .file_system_id(FS)
        .file_system_arn(format!(
            "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{FS}"
        ))
        .creation_time(aws_sdk_efs::primitives::DateTime::from_secs(1_764_547_200))
        .life_cycle_state(LifeCycleState::Available)
        .number_of_mount_targets(2)
        .size_in_bytes(FileSystemSize::builder().value(6144).build())
        .performance_mode(performance(spec.performance_mode))
        .throughput_mode(throughput(spec.throughput_mode))
        .set_provisioned_throughput_in_mibps(
            spec.provisioned_throughput_mibps
                .map(f64::from)
                .filter(|_| spec.throughput_mode == EfsThroughputMode::Provisioned),
        )
        .encrypted(spec.encryption.at_rest)
        .set_kms_key_id(key)
        .set_tags(Some(tag("Name", NAME).into_iter().collect()))
        .build()
        .unwrap()
}

/// The access points made from the spec by [`access_point_parts`].
/// https://docs.aws.amazon.com/efs/latest/ug/API_DescribeAccessPoints.html
fn access_points(spec: &EfsSpec) -> Vec<AccessPointDescription> {
    spec.access_points
        .iter()
        .map(|w| {
            let (root, posix) = access_point_parts(w).unwrap();
            AccessPointDescription::builder()
                .access_point_id(format!("fsap-{}", w.name))
                .file_system_id(FS)
                .set_tags(Some(tag("Name", &w.name).into_iter().collect()))
                .root_directory(root)
                .set_posix_user(posix)
                .life_cycle_state(LifeCycleState::Available)
                .build()
        })
        .collect()
}

/// The answers for a file system made from `spec`; no backup policy answers PolicyNotFound.
/// https://docs.aws.amazon.com/efs/latest/ug/API_DescribeLifecycleConfiguration.html
/// https://docs.aws.amazon.com/efs/latest/ug/API_DescribeBackupPolicy.html
fn answers(spec: &EfsSpec) -> Vec<Rule> {
    let fs = file_system(spec);
    let points = access_points(spec);
    let policies: Vec<LifecyclePolicy> = spec
        .transition_to_ia_days
        .map(|d| {
            LifecyclePolicy::builder()
                .transition_to_ia(transition(d).unwrap())
                .build()
        })
        .into_iter()
        .collect();
    let backup = spec.backup;
    vec![
        mock!(Client::describe_file_systems)
            .match_requests(|r| r.file_system_id() == Some(FS))
            .then_output(move || {
                DescribeFileSystemsOutput::builder()
                    .file_systems(fs.clone())
                    .build()
            }),
        mock!(Client::describe_lifecycle_configuration).then_output(move || {
            DescribeLifecycleConfigurationOutput::builder()
                .set_lifecycle_policies(Some(policies.clone()))
                .build()
        }),
        mock!(Client::describe_backup_policy).then_output(move || {
            let status = if backup {
                Status::Enabled
            } else {
                Status::Disabled
            };
            DescribeBackupPolicyOutput::builder()
                .backup_policy(BackupPolicy::builder().status(status).build().unwrap())
                .build()
        }),
        mock!(Client::describe_access_points).then_output(move || {
            DescribeAccessPointsOutput::builder()
                .set_access_points(Some(points.clone()))
                .build()
        }),
    ]
}

fn full_ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("fileSystem".to_string(), FS.to_string()),
        ("securityGroup".to_string(), SG.to_string()),
        ("kmsKey".to_string(), "alias/files".to_string()),
        ("kmsKeyArn".to_string(), KEY_ARN.to_string()),
    ])
}

async fn read(rules: &[Rule], ids: &BTreeMap<String, String>) -> Option<Observation<EfsSpec>> {
    let refs: Vec<&Rule> = rules.iter().collect();
    let efs = mock_client!(aws_sdk_efs, RuleMode::MatchAny, &refs);
    let no_rules: [&Rule; 0] = [];
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, no_rules);
    let empty = BTreeMap::new();
    let id = crate::test_identity("media/files", NAME, ids, &empty);
    EfsProvider::new(efs, ec2).read(&id).await.unwrap()
}

async fn read_back(spec: &EfsSpec) -> Observation<EfsSpec> {
    read(&answers(spec), &full_ids()).await.unwrap()
}

fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent).unwrap() {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        Value::Object(m) => {
            m.insert(key.to_string(), value);
        }
        _ => panic!("{pointer} is not in an object or array"),
    }
}

#[tokio::test]
async fn a_file_system_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = spec_of(full_spec());
    let seen = read_back(&spec).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.unobserved, ["dependsOn"]);
    assert_eq!(seen.outcome.physical_ids, full_ids());
    assert_eq!(seen.outcome.outputs["securityGroupId"], SG);
    // The smallest spec: elastic throughput, EFS's default key, daily backups.
    let plain = spec_of(json!({}));
    let ids = BTreeMap::from([
        ("fileSystem".to_string(), FS.to_string()),
        ("kmsKeyArn".to_string(), DEFAULT_KEY_ARN.to_string()),
    ]);
    let seen = read(&answers(&plain), &ids).await.unwrap();
    assert_eq!(seen.spec, plain);
    // No security group recorded: no securityGroupId output rather than an empty one.
    assert!(!seen.outcome.outputs.contains_key("securityGroupId"));
    assert!(seen.outcome.outputs.values().all(|v| !v.is_empty()));
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let cases: Vec<Vec<(&str, Value)>> = vec![
        vec![("/performanceMode", "generalPurpose".into())],
        vec![("/provisionedThroughputMibps", 512.into())],
        vec![
            ("/throughputMode", "elastic".into()),
            ("/provisionedThroughputMibps", Value::Null),
        ],
        vec![
            ("/throughputMode", "bursting".into()),
            ("/provisionedThroughputMibps", Value::Null),
        ],
        // Another key, or EFS's default key: reported as its ARN.
        vec![("/encryption/kmsKeyId", DEFAULT_KEY_ARN.into())],
        vec![("/encryption", json!({"atRest": false}))],
        vec![("/transitionToIaDays", 90.into())],
        vec![("/transitionToIaDays", Value::Null)],
        vec![("/backup", true.into())],
        vec![("/accessPoints/0/path", "/srv/app".into())],
        vec![("/accessPoints/0/uid", 1001.into())],
        vec![("/accessPoints/0/gid", 1002.into())],
        vec![("/accessPoints/0/permissions", "0700".into())],
        vec![("/accessPoints/1/name", "z-uploads".into())],
        vec![(
            "/accessPoints",
            json!([{"name": "app", "path": "/app", "uid": 1000, "gid": 1000, "permissions": "0750"}]),
        )],
        vec![("/accessPoints", json!([]))],
    ];
    let full = serde_json::to_value(spec_of(full_spec())).unwrap();
    for changes in cases {
        let mut changed = full_spec();
        for (pointer, value) in &changes {
            set(&mut changed, pointer, value.clone());
        }
        let expected = serde_json::to_value(spec_of(changed.clone())).unwrap();
        assert_ne!(expected, full, "{changes:?} changes the spec");
        let seen = read_back(&spec_of(changed)).await;
        assert_eq!(
            serde_json::to_value(seen.spec).unwrap(),
            expected,
            "{changes:?}: only that differs"
        );
    }
}

#[tokio::test]
async fn missing_policies_and_owners_read_as_the_spec_writes_them() {
    // An access point without an owner keeps no permissions; no backup policy is off.
    let spec = spec_of(json!({
        "backup": false,
        "accessPoints": [{"name": "shared", "path": "/shared"}]
    }));
    let mut rules = answers(&spec);
    rules[2] = mock!(Client::describe_backup_policy).then_error(|| {
        DescribeBackupPolicyError::PolicyNotFound(PolicyNotFound::builder().build())
    });
    let ids = BTreeMap::from([
        ("fileSystem".to_string(), FS.to_string()),
        ("kmsKeyArn".to_string(), DEFAULT_KEY_ARN.to_string()),
    ]);
    let seen = read(&rules, &ids).await.unwrap();
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.unobserved, ["dependsOn", "accessPoints[].permissions"]);
}

#[tokio::test]
async fn a_file_system_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::describe_file_systems).then_error(|| {
        DescribeFileSystemsError::FileSystemNotFound(
            FileSystemNotFound::builder()
                .error_code("FileSystemNotFound")
                .build()
                .unwrap(),
        )
    });
    assert!(read(&[gone], &full_ids()).await.is_none());
}
