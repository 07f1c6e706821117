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

mod replays {
    //! EFS's documented answers around mount targets, replayed: CreateMountTarget answers a
    //! mount target `creating` that turns `available`; DeleteMountTarget one that is `deleting`
    //! for a while, then unknown (MountTargetNotFound). Meanwhile EFS refuses a second mount
    //! target in that Availability Zone (MountTargetConflict) and the file system's deletion
    //! (FileSystemInUse).
    //! https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html
    //! https://docs.aws.amazon.com/efs/latest/ug/API_DeleteMountTarget.html
    //! https://docs.aws.amazon.com/efs/latest/ug/API_DeleteFileSystem.html
    use super::*;
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
    use aws_sdk_efs::operation::create_mount_target::{
        CreateMountTargetError, CreateMountTargetOutput,
    };
    use aws_sdk_efs::operation::delete_file_system::{
        DeleteFileSystemError, DeleteFileSystemOutput,
    };
    use aws_sdk_efs::operation::delete_mount_target::DeleteMountTargetOutput;
    use aws_sdk_efs::operation::describe_mount_targets::{
        DescribeMountTargetsError, DescribeMountTargetsOutput,
    };
    use aws_sdk_efs::types::MountTargetDescription;
    use aws_sdk_efs::types::error::{FileSystemInUse, MountTargetConflict, MountTargetNotFound};
    use aws_smithy_mocks::MockResponse;
    use std::sync::{Arc, Mutex};

    /// A mount target as EFS has it: its subnet and zone, its state, and how many more looks
    /// report that state before it moves on (`creating` to `available`, `deleting` to gone).
    struct Target {
        id: String,
        subnet: &'static str,
        zone: &'static str,
        state: LifeCycleState,
        looks: u32,
    }

    /// The file system's mount targets, and every call panka made, in order.
    #[derive(Default)]
    struct Efs {
        targets: Vec<Target>,
        log: Vec<String>,
    }

    type Shared = Arc<Mutex<Efs>>;

    /// The stack's subnets: `subnet-a` in us-east-1a, `subnet-b` in us-east-1b.
    const ZONES: [(&str, &str); 2] = [("subnet-a", "us-east-1a"), ("subnet-b", "us-east-1b")];

    fn description(t: &Target) -> MountTargetDescription {
        MountTargetDescription::builder()
            .mount_target_id(&t.id)
            .file_system_id(FS)
            .subnet_id(t.subnet)
            .availability_zone_name(t.zone)
            .life_cycle_state(t.state.clone())
            .build()
            .unwrap()
    }

    impl Efs {
        fn new(targets: Vec<Target>) -> Shared {
            Arc::new(Mutex::new(Efs {
                targets,
                log: Vec::new(),
            }))
        }

        /// DescribeMountTargets for one mount target: its state, which moves on once its
        /// looks are spent; `None` once it is gone.
        fn look(&mut self, id: &str) -> Option<MountTargetDescription> {
            let i = self.targets.iter().position(|t| t.id == id);
            let seen = match i {
                Some(i) if self.targets[i].looks == 0 => match self.targets[i].state {
                    LifeCycleState::Deleting => {
                        self.targets.remove(i);
                        None
                    }
                    _ => {
                        self.targets[i].state = LifeCycleState::Available;
                        Some(description(&self.targets[i]))
                    }
                },
                Some(i) => {
                    self.targets[i].looks -= 1;
                    Some(description(&self.targets[i]))
                }
                None => None,
            };
            let state = seen
                .as_ref()
                .map_or("not found", |m| m.life_cycle_state().as_str());
            self.log.push(format!("describe {id}: {state}"));
            seen
        }
    }

    fn target(id: &str, subnet: &'static str, zone: &'static str) -> Target {
        Target {
            id: id.to_string(),
            subnet,
            zone,
            state: LifeCycleState::Available,
            looks: 0,
        }
    }

    fn clients(efs: &Shared) -> (Client, aws_sdk_ec2::Client) {
        let subnets = mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
            let mut out = DescribeSubnetsOutput::builder();
            for (subnet, zone) in ZONES {
                out = out.subnets(
                    aws_sdk_ec2::types::Subnet::builder()
                        .subnet_id(subnet)
                        .availability_zone(zone)
                        .build(),
                );
            }
            out.build()
        });
        let e = efs.clone();
        let describe = mock!(Client::describe_mount_targets).then_compute_response(move |r| {
            let mut e = e.lock().unwrap();
            if let Some(id) = r.mount_target_id() {
                return match e.look(id) {
                    Some(m) => MockResponse::Output(
                        DescribeMountTargetsOutput::builder()
                            .mount_targets(m)
                            .build(),
                    ),
                    None => MockResponse::Error(DescribeMountTargetsError::MountTargetNotFound(
                        MountTargetNotFound::builder()
                            .error_code("MountTargetNotFound")
                            .message(format!("Mount target '{id}' does not exist."))
                            .build()
                            .unwrap(),
                    )),
                };
            }
            e.log.push("list".into());
            MockResponse::Output(
                DescribeMountTargetsOutput::builder()
                    .set_mount_targets(Some(e.targets.iter().map(description).collect()))
                    .build(),
            )
        });
        let e = efs.clone();
        let delete = mock!(Client::delete_mount_target).then_compute_output(move |r| {
            let mut e = e.lock().unwrap();
            let id = r.mount_target_id().unwrap().to_string();
            e.log.push(format!("DeleteMountTarget {id}"));
            let t = e.targets.iter_mut().find(|t| t.id == id).unwrap();
            t.state = LifeCycleState::Deleting;
            t.looks = 2;
            DeleteMountTargetOutput::builder().build()
        });
        let e = efs.clone();
        let create = mock!(Client::create_mount_target).then_compute_response(move |r| {
            let mut e = e.lock().unwrap();
            let subnet = r.subnet_id().unwrap();
            let (subnet, zone) = ZONES.into_iter().find(|(s, _)| *s == subnet).unwrap();
            if e.targets.iter().any(|t| t.zone == zone) {
                e.log.push(format!("CreateMountTarget {subnet}: refused"));
                return MockResponse::Error(CreateMountTargetError::MountTargetConflict(
                    MountTargetConflict::builder()
                        .error_code("MountTargetConflict")
                        .message(format!("mount target already exists in this AZ ({zone})"))
                        .build()
                        .unwrap(),
                ));
            }
            e.log.push(format!("CreateMountTarget {subnet}"));
            let t = Target {
                id: "fsmt-new".into(),
                subnet,
                zone,
                state: LifeCycleState::Creating,
                looks: 2,
            };
            let out = CreateMountTargetOutput::builder()
                .mount_target_id(&t.id)
                .file_system_id(FS)
                .subnet_id(subnet)
                .life_cycle_state(LifeCycleState::Creating)
                .build()
                .unwrap();
            e.targets.push(t);
            MockResponse::Output(out)
        });
        let e = efs.clone();
        let delete_fs = mock!(Client::delete_file_system).then_compute_response(move |_| {
            let mut e = e.lock().unwrap();
            if !e.targets.is_empty() {
                e.log.push("DeleteFileSystem: refused".into());
                return MockResponse::Error(DeleteFileSystemError::FileSystemInUse(
                    FileSystemInUse::builder()
                        .error_code("FileSystemInUse")
                        .message(format!("File system '{FS}' has mount targets."))
                        .build()
                        .unwrap(),
                ));
            }
            e.log.push("DeleteFileSystem".into());
            MockResponse::Output(DeleteFileSystemOutput::builder().build())
        });
        let spec = spec_of(json!({}));
        let fs = file_system(&spec);
        let found = mock!(Client::describe_file_systems).then_output(move || {
            DescribeFileSystemsOutput::builder()
                .file_systems(fs.clone())
                .build()
        });
        let points = mock!(Client::describe_access_points)
            .then_output(|| DescribeAccessPointsOutput::builder().build());
        let efs = mock_client!(
            aws_sdk_efs,
            RuleMode::MatchAny,
            [&describe, &delete, &create, &delete_fs, &found, &points]
        );
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&subnets]);
        (efs, ec2)
    }

    /// The mount target in us-east-1a moves from another subnet to `subnet-a`: the old one is
    /// deleted and waited for until EFS no longer knows it, and only then is the new one
    /// created in that zone (earlier, EFS answers MountTargetConflict); the new one is waited
    /// for until `available`. The one in `subnet-b` is left alone.
    #[tokio::test]
    async fn a_mount_target_is_created_in_a_zone_only_once_the_old_one_there_is_gone() {
        let efs = Efs::new(vec![
            target("fsmt-old", "subnet-old", "us-east-1a"),
            target("fsmt-b", "subnet-b", "us-east-1b"),
        ]);
        let (client, ec2) = clients(&efs);
        let provider = EfsProvider::new(client, ec2);
        let subnets = ["subnet-a".to_string(), "subnet-b".to_string()];
        let done = provider.converge_mount_targets(FS, &subnets, SG).await;
        let log = efs.lock().unwrap().log.clone();
        done.unwrap_or_else(|e| panic!("{}; calls: {log:?}", e.chain()));
        assert_eq!(
            log,
            [
                "list",
                "DeleteMountTarget fsmt-old",
                "describe fsmt-old: deleting",
                "describe fsmt-old: deleting",
                "describe fsmt-old: not found",
                "CreateMountTarget subnet-a",
                "describe fsmt-new: creating",
                "describe fsmt-new: creating",
                "describe fsmt-new: available",
            ]
        );
        let e = efs.lock().unwrap();
        let left: Vec<(&str, &LifeCycleState)> =
            e.targets.iter().map(|t| (t.subnet, &t.state)).collect();
        assert_eq!(
            left,
            [
                ("subnet-b", &LifeCycleState::Available),
                ("subnet-a", &LifeCycleState::Available)
            ]
        );
    }

    /// Deleting the file system: its mount targets (one still `deleting` from an earlier run)
    /// are all gone before DeleteFileSystem, which EFS refuses before (FileSystemInUse).
    #[tokio::test]
    async fn a_file_system_is_deleted_once_its_mount_targets_are_gone() {
        let mut going = target("fsmt-going", "subnet-b", "us-east-1b");
        going.state = LifeCycleState::Deleting;
        going.looks = 1;
        let efs = Efs::new(vec![target("fsmt-a", "subnet-a", "us-east-1a"), going]);
        let (client, ec2) = clients(&efs);
        let provider = EfsProvider::new(client, ec2);
        let done = provider
            .delete(NAME, Some(spec_of(json!({}))), &BTreeMap::new())
            .await;
        let log = efs.lock().unwrap().log.clone();
        done.unwrap_or_else(|e| panic!("{}; calls: {log:?}", e.chain()));
        assert_eq!(
            log,
            [
                "list",
                "DeleteMountTarget fsmt-a",
                "describe fsmt-a: deleting",
                "describe fsmt-a: deleting",
                "describe fsmt-a: not found",
                "describe fsmt-going: deleting",
                "describe fsmt-going: not found",
                "DeleteFileSystem",
            ]
        );
    }
}
