//! Unit tests for the RDS provider.

use super::*;
use aws_sdk_rds::operation::create_db_instance::CreateDbInstanceInput;
use aws_sdk_rds::operation::describe_db_instances::{
    DescribeDBInstancesError, DescribeDbInstancesOutput,
};
use aws_sdk_rds::operation::describe_db_parameters::DescribeDbParametersOutput;
use aws_sdk_rds::types::builders::DbInstanceBuilder;
use aws_sdk_rds::types::error::DbInstanceNotFoundFault;
use aws_sdk_rds::types::{
    DbParameterGroupStatus, Endpoint, MasterUserSecret, VpcSecurityGroupMembership,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

const NAME: &str = "shop-dev-orders-db";
const ADDRESS: &str = "orders/db";
const ARN: &str = "arn:aws:rds:us-east-1:123456789012:db:shop-dev-orders-db";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1234-AbCdEf";

/// Every field set, and set to something other than its default. `monitoringIntervalSeconds`
/// stays 0: create does not send it (Enhanced Monitoring needs an IAM role panka does not
/// make), so RDS reports 0; the field is read (see the changed-field test).
fn full_spec() -> RdsSpec {
    serde_json::from_value(json!({
        "engine": {"type": "postgres", "version": "16.4"},
        "instance": {"class": "db.r6g.large", "storage": {
            "allocatedGB": 500, "maxAllocatedGB": 1000, "type": "gp3",
            "iops": 15000, "throughput": 600}},
        "database": {"name": "orders", "username": "app", "port": 5433},
        "availability": {"multiAZ": true},
        "encryption": {"atRest": true, "kmsKeyId": KEY_ARN},
        "backup": {"automated": {"retentionDays": 14, "window": "03:00-03:30"}},
        "maintenance": {"window": "sun:05:00-sun:06:00", "autoMinorVersionUpgrade": false},
        "deletion": {"protection": true, "finalSnapshot": false},
        "parameters": {"log_min_duration_statement": "500", "max_connections": "200"},
        "performanceInsights": true,
        "dependsOn": ["orders/queue"],
    }))
    .unwrap()
}

fn request(spec: &RdsSpec) -> CreateDbInstanceInput {
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, []);
    let params = (!spec.parameters.is_empty()).then(|| NAME.to_string());
    create_request(&client, NAME, spec, "sg-9", params, &BTreeMap::new())
        .as_input()
        .clone()
        .build()
        .unwrap()
}

/// What DescribeDBInstances answers for an instance made by `r`, an available instance:
/// what was sent, plus what RDS adds or fills in: ARN, endpoint, the managed secret, the
/// key ARN for an alias or no key, windows it picks when none were given (the maintenance
/// window in lower case), the engine's default port, gp3's baseline IOPS and throughput,
/// Enhanced Monitoring off, the engine's default parameter group without one.
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html
fn answer(r: &CreateDbInstanceInput) -> DbInstanceBuilder {
    let allocated = r.allocated_storage().unwrap();
    let storage_type = r.storage_type().unwrap();
    let (base_iops, base_throughput) = gp3_baseline(allocated as u32);
    let gp3 = storage_type == "gp3";
    let port = r.port().unwrap_or(match r.engine().unwrap() {
        "postgres" => 5432,
        _ => 3306,
    });
    let key = r
        .storage_encrypted()
        .unwrap()
        .then(|| match r.kms_key_id() {
            Some(k) if k.contains(":key/") => k.to_string(),
            // An alias, an alias ARN or no key (aws/rds): RDS reports the key's ARN.
            _ => KEY_ARN.to_string(),
        });
    let group = r
        .db_parameter_group_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("default.{}16", r.engine().unwrap()));
    DbInstance::builder()
        .db_instance_identifier(r.db_instance_identifier().unwrap())
        .db_instance_arn(ARN)
        .db_instance_status("available")
        .engine(r.engine().unwrap())
        .engine_version(match r.engine_version().unwrap() {
            // A major version alone: RDS picks its latest minor version.
            "16" => "16.4",
            v => v,
        })
        .db_instance_class(r.db_instance_class().unwrap())
        .allocated_storage(allocated)
        .set_max_allocated_storage(r.max_allocated_storage())
        .storage_type(storage_type)
        .set_iops(r.iops().or(gp3.then_some(base_iops as i32)))
        .set_storage_throughput(
            r.storage_throughput()
                .or(gp3.then_some(base_throughput as i32)),
        )
        .set_db_name(r.db_name().map(str::to_string))
        .set_master_username(r.master_username().map(str::to_string))
        .endpoint(
            Endpoint::builder()
                .address(format!("{NAME}.abcdefghij.us-east-1.rds.amazonaws.com"))
                .port(port)
                .build(),
        )
        .db_instance_port(0)
        .set_storage_encrypted(r.storage_encrypted())
        .set_kms_key_id(key)
        .set_backup_retention_period(r.backup_retention_period())
        .preferred_backup_window(r.preferred_backup_window().unwrap_or("07:12-07:42"))
        .preferred_maintenance_window(
            r.preferred_maintenance_window()
                .unwrap_or("wed:09:17-wed:09:47")
                .to_ascii_lowercase(),
        )
        .set_auto_minor_version_upgrade(r.auto_minor_version_upgrade())
        .set_multi_az(r.multi_az())
        .set_deletion_protection(r.deletion_protection())
        .set_performance_insights_enabled(r.enable_performance_insights())
        .monitoring_interval(0)
        .set_publicly_accessible(r.publicly_accessible())
        .vpc_security_groups(
            VpcSecurityGroupMembership::builder()
                .vpc_security_group_id(&r.vpc_security_group_ids()[0])
                .status("active")
                .build(),
        )
        .db_parameter_groups(
            DbParameterGroupStatus::builder()
                .db_parameter_group_name(group)
                .parameter_apply_status("in-sync")
                .build(),
        )
        .master_user_secret(
            MasterUserSecret::builder()
                .secret_arn(SECRET_ARN)
                .secret_status("active")
                .build(),
        )
}

/// What DescribeDBParameters(Source=user) answers for the group made from `spec`: its
/// parameters, with the source RDS gives them.
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBParameters.html
fn answer_parameters(spec: &RdsSpec) -> Vec<Parameter> {
    parameters(spec)
        .into_iter()
        .map(|p| {
            Parameter::builder()
                .set_parameter_name(p.parameter_name().map(str::to_string))
                .set_parameter_value(p.parameter_value().map(str::to_string))
                .source("user")
                .apply_type("dynamic")
                .build()
        })
        .collect()
}

fn ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("instance".to_string(), NAME.to_string()),
        ("securityGroup".to_string(), "sg-9".to_string()),
    ])
}

/// The read of an instance RDS answers `db` for, its parameter group holding `params`
/// (first page: all but the last; second page: the last, to show pages are followed).
async fn read_back(db: DbInstance, params: Vec<Parameter>) -> Observation<RdsSpec> {
    let describe = mock!(Client::describe_db_instances)
        .match_requests(|r| r.db_instance_identifier() == Some(NAME))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .db_instances(db.clone())
                .build()
        });
    let split = params.len().saturating_sub(1);
    let (first, last) = (params[..split].to_vec(), params[split..].to_vec());
    let page1 = mock!(Client::describe_db_parameters)
        .match_requests(|r| {
            r.db_parameter_group_name() == Some(NAME)
                && r.source() == Some("user")
                && r.marker().is_none()
        })
        .then_output(move || {
            DescribeDbParametersOutput::builder()
                .set_parameters(Some(first.clone()))
                .marker("page-2")
                .build()
        });
    let page2 = mock!(Client::describe_db_parameters)
        .match_requests(|r| r.source() == Some("user") && r.marker() == Some("page-2"))
        .then_output(move || {
            DescribeDbParametersOutput::builder()
                .set_parameters(Some(last.clone()))
                .build()
        });
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&describe, &page1, &page2]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, []);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
    let seen = RdsProvider::new(client, ec2)
        .read(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(describe.num_calls(), 1, "one DescribeDBInstances");
    seen
}

/// The observation put in order against `recorded` by the engine, as `panka drift` sees it.
fn reconciled(recorded: &RdsSpec, seen: &Observation<RdsSpec>) -> Value {
    let managed = RdsProvider::managed_by_aws(recorded, &seen.spec);
    panka_engine::observe::reconcile(
        &serde_json::to_value(recorded).unwrap(),
        None,
        serde_json::to_value(&seen.spec).unwrap(),
        &seen.unobserved,
        &managed,
    )
    .live
}

#[tokio::test]
async fn an_instance_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let seen = read_back(answer(&request(&spec)).build(), answer_parameters(&spec)).await;
    // Only what RDS cannot report differs before the engine puts the recorded values in.
    let mut expected = spec.clone();
    expected.deletion.final_snapshot = true;
    expected.depends_on.clear();
    assert_eq!(seen.spec, expected);
    assert_eq!(seen.unobserved, ["dependsOn", "deletion.finalSnapshot"]);
    assert!(RdsProvider::managed_by_aws(&spec, &seen.spec).is_empty());
    assert_eq!(
        reconciled(&spec, &seen),
        serde_json::to_value(&spec).unwrap()
    );
    let outputs = &seen.outcome.outputs;
    assert_eq!(outputs["arn"], ARN);
    assert_eq!(outputs["port"], "5433");
    assert_eq!(outputs["masterSecretArn"], SECRET_ARN);
    assert_eq!(outputs["databaseName"], "orders");
    assert_eq!(outputs["securityGroupId"], "sg-9");
    assert!(outputs["endpoint"].starts_with(NAME));
    assert_eq!(seen.outcome.physical_ids, ids());
}

/// A spec that leaves RDS to choose (a major version, no windows, no port, no key, gp3's
/// baseline) and one that spells RDS's choices differently (an alias, a key id, a window in
/// capitals, the default port, the baseline IOPS spelt out) read back as themselves.
#[tokio::test]
async fn what_rds_fills_in_or_spells_its_own_way_is_not_drift() {
    let minimal: RdsSpec = serde_json::from_value(json!({
        "engine": {"type": "postgres", "version": "16"},
        "instance": {"class": "db.t4g.micro"},
        "database": {"name": "orders", "username": "app"},
    }))
    .unwrap();
    let seen = read_back(answer(&request(&minimal)).build(), Vec::new()).await;
    assert_eq!(seen.spec.engine.version, "16.4");
    assert_eq!(seen.spec.instance.storage.iops, None);
    assert_eq!(seen.spec.database.port, None);
    assert_eq!(
        seen.spec.maintenance.window.as_deref(),
        Some("wed:09:17-wed:09:47")
    );
    let mut managed = RdsProvider::managed_by_aws(&minimal, &seen.spec);
    managed.sort();
    assert_eq!(
        managed,
        [
            "backup.automated.window",
            "encryption.kmsKeyId",
            "engine.version",
            "maintenance.window"
        ]
    );
    assert_eq!(
        reconciled(&minimal, &seen),
        serde_json::to_value(&minimal).unwrap()
    );

    let key_id = KEY_ARN.rsplit_once("key/").unwrap().1;
    for key in [
        "alias/orders",
        "arn:aws:kms:us-east-1:123456789012:alias/orders",
        key_id,
    ] {
        let spelt: RdsSpec = serde_json::from_value(json!({
            "engine": {"type": "mysql", "version": "8.0"},
            "instance": {"class": "db.t4g.micro", "storage": {"allocatedGB": 400, "iops": 12000, "throughput": 500}},
            "database": {"name": "orders", "username": "app", "port": 3306},
            "encryption": {"kmsKeyId": key},
            "backup": {"automated": {"window": "03:00-03:30"}},
            "maintenance": {"window": "Sun:05:00-Sun:06:00"},
        }))
        .unwrap();
        let mut db = answer(&request(&spelt));
        db = db.engine_version("8.0.39");
        let seen = read_back(db.build(), Vec::new()).await;
        assert_eq!(seen.spec.encryption.kms_key_id.as_deref(), Some(KEY_ARN));
        assert_eq!(seen.spec.instance.storage.iops, None, "the gp3 baseline");
        assert_eq!(
            reconciled(&spelt, &seen),
            serde_json::to_value(&spelt).unwrap(),
            "{key}"
        );
    }
}

#[tokio::test]
async fn each_setting_changed_in_rds_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let base = request(&spec);
    let params = answer_parameters(&spec);
    let baseline =
        serde_json::to_value(read_back(answer(&base).build(), params.clone()).await.spec).unwrap();
    type Change = Box<dyn Fn(DbInstanceBuilder) -> DbInstanceBuilder>;
    let cases: Vec<(&str, Value, Change)> = vec![
        (
            "/engine/type",
            "mysql".into(),
            Box::new(|b| b.engine("mysql")),
        ),
        (
            "/engine/version",
            "17.2".into(),
            Box::new(|b| b.engine_version("17.2")),
        ),
        (
            "/instance/class",
            "db.r6g.xlarge".into(),
            Box::new(|b| b.db_instance_class("db.r6g.xlarge")),
        ),
        (
            "/instance/storage/allocatedGB",
            600.into(),
            Box::new(|b| b.allocated_storage(600)),
        ),
        (
            "/instance/storage/maxAllocatedGB",
            2000.into(),
            Box::new(|b| b.max_allocated_storage(2000)),
        ),
        (
            "/instance/storage/type",
            "io2".into(),
            Box::new(|b| b.storage_type("io2")),
        ),
        (
            "/instance/storage/iops",
            20000.into(),
            Box::new(|b| b.iops(20000)),
        ),
        (
            "/instance/storage/throughput",
            700.into(),
            Box::new(|b| b.storage_throughput(700)),
        ),
        (
            "/database/name",
            "billing".into(),
            Box::new(|b| b.db_name("billing")),
        ),
        (
            "/database/username",
            "admin".into(),
            Box::new(|b| b.master_username("admin")),
        ),
        (
            "/database/port",
            5434.into(),
            Box::new(|b| b.endpoint(Endpoint::builder().address("h").port(5434).build())),
        ),
        (
            "/availability/multiAZ",
            false.into(),
            Box::new(|b| b.multi_az(false)),
        ),
        (
            "/encryption/atRest",
            false.into(),
            Box::new(|b| b.storage_encrypted(false)),
        ),
        (
            "/encryption/kmsKeyId",
            "arn:aws:kms:us-east-1:123456789012:key/other".into(),
            Box::new(|b| b.kms_key_id("arn:aws:kms:us-east-1:123456789012:key/other")),
        ),
        (
            "/backup/automated/retentionDays",
            3.into(),
            Box::new(|b| b.backup_retention_period(3)),
        ),
        (
            "/backup/automated/window",
            "01:00-01:30".into(),
            Box::new(|b| b.preferred_backup_window("01:00-01:30")),
        ),
        (
            "/maintenance/window",
            "mon:01:00-mon:02:00".into(),
            Box::new(|b| b.preferred_maintenance_window("mon:01:00-mon:02:00")),
        ),
        (
            "/maintenance/autoMinorVersionUpgrade",
            true.into(),
            Box::new(|b| b.auto_minor_version_upgrade(true)),
        ),
        (
            "/deletion/protection",
            false.into(),
            Box::new(|b| b.deletion_protection(false)),
        ),
        (
            "/performanceInsights",
            false.into(),
            Box::new(|b| b.performance_insights_enabled(false)),
        ),
        (
            "/monitoringIntervalSeconds",
            60.into(),
            Box::new(|b| b.monitoring_interval(60)),
        ),
    ];
    for (pointer, value, change) in cases {
        let seen = read_back(change(answer(&base)).build(), params.clone()).await;
        let mut expected = baseline.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(
            serde_json::to_value(seen.spec).unwrap(),
            expected,
            "only {pointer} differs"
        );
    }
    // A parameter changed in the group, and one set by hand.
    let mut changed = params.clone();
    changed[0] = Parameter::builder()
        .parameter_name("log_min_duration_statement")
        .parameter_value("100")
        .build();
    changed.push(
        Parameter::builder()
            .parameter_name("work_mem")
            .parameter_value("8192")
            .build(),
    );
    let seen = read_back(answer(&base).build(), changed).await;
    let mut expected = baseline.clone();
    expected["parameters"] =
        json!({"log_min_duration_statement": "100", "max_connections": "200", "work_mem": "8192"});
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    // Back on the engine's default group: no parameters, and no DescribeDBParameters.
    let db = answer(&base)
        .set_db_parameter_groups(Some(vec![
            DbParameterGroupStatus::builder()
                .db_parameter_group_name("default.postgres16")
                .build(),
        ]))
        .build();
    let seen = read_back(
        db,
        vec![
            Parameter::builder()
                .parameter_name("x")
                .parameter_value("y")
                .build(),
        ],
    )
    .await;
    let mut expected = baseline.clone();
    expected.as_object_mut().unwrap().remove("parameters");
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    // Storage autoscaling turned off: RDS reports no maximum.
    let db = answer(&base).set_max_allocated_storage(None).build();
    let seen = read_back(db, params.clone()).await;
    assert_eq!(seen.spec.instance.storage.max_allocated_gb, None);
}

#[tokio::test]
async fn an_instance_gone_from_rds_reads_as_absent() {
    let gone = mock!(Client::describe_db_instances).then_error(|| {
        DescribeDBInstancesError::DbInstanceNotFoundFault(
            DbInstanceNotFoundFault::builder().build(),
        )
    });
    let client = mock_client!(aws_sdk_rds, [&gone]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, []);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
    assert!(
        RdsProvider::new(client, ec2)
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}

/// An instance still being created has no endpoint or secret yet: those outputs are
/// absent, never "".
#[test]
fn outputs_rds_does_not_report_are_absent() {
    let db = DbInstance::builder()
        .db_instance_identifier(NAME)
        .db_instance_arn(ARN)
        .build();
    let out = outcome(&db, None);
    assert_eq!(out.outputs.keys().collect::<Vec<_>>(), ["arn"]);
    assert_eq!(
        out.physical_ids,
        BTreeMap::from([("instance".to_string(), NAME.to_string())])
    );
    // Without a recorded security group, the one RDS reports.
    let db = answer(&request(&full_spec())).build();
    assert_eq!(outcome(&db, Some("")).outputs["securityGroupId"], "sg-9");
}

fn with(spec: &RdsSpec, change: Value) -> RdsSpec {
    let mut v = serde_json::to_value(spec).unwrap();
    json_merge(&mut v, change);
    serde_json::from_value(v).unwrap()
}

fn json_merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

#[test]
fn storage_grown_by_autoscaling_is_managed_but_not_beyond_the_maximum_or_shrunk() {
    let recorded = full_spec(); // 500 GiB, up to 1000
    let live = |gb: u32| {
        with(
            &recorded,
            json!({"instance": {"storage": {"allocatedGB": gb}}}),
        )
    };
    let managed = |gb| RdsProvider::managed_by_aws(&recorded, &live(gb));
    assert_eq!(managed(750), ["instance.storage.allocatedGB"]);
    assert_eq!(managed(1000), ["instance.storage.allocatedGB"]);
    assert!(managed(500).is_empty(), "unchanged");
    assert!(managed(1001).is_empty(), "beyond the maximum");
    assert!(managed(400).is_empty(), "shrunk");
    // Without autoscaling, grown storage is drift.
    let fixed = with(
        &recorded,
        json!({"instance": {"storage": {"maxAllocatedGB": null}}}),
    );
    assert!(RdsProvider::managed_by_aws(&fixed, &live(750)).is_empty());
}

#[test]
fn an_engine_version_spelt_out_or_upgraded_within_its_minor_versions_is_managed() {
    let pg = |version: &str, auto: bool| {
        with(
            &full_spec(),
            json!({"engine": {"version": version}, "maintenance": {"autoMinorVersionUpgrade": auto}}),
        )
    };
    let managed = |recorded: &RdsSpec, live: &RdsSpec| {
        RdsProvider::managed_by_aws(recorded, live).contains(&"engine.version")
    };
    // A major version recorded: RDS's full spelling, auto upgrades on or off.
    assert!(managed(&pg("16", false), &pg("16.4", false)));
    assert!(
        !managed(&pg("1", false), &pg("16.4", false)),
        "not at a dot"
    );
    assert!(
        !managed(&pg("16", false), &pg("17.1", false)),
        "another major version"
    );
    // A minor version moved forward: managed only with automatic minor upgrades.
    assert!(managed(&pg("16.3", true), &pg("16.4", true)));
    assert!(!managed(&pg("16.3", false), &pg("16.4", false)));
    assert!(!managed(&pg("16.4", true), &pg("16.3", true)), "backwards");
    assert!(
        !managed(&pg("16.4", true), &pg("17.1", true)),
        "a major upgrade"
    );
    // MySQL's major version is two numbers.
    let my = |version: &str| with(&pg(version, true), json!({"engine": {"type": "mysql"}}));
    assert!(managed(&my("8.0"), &my("8.0.35")));
    assert!(managed(&my("8.0.35"), &my("8.0.36")));
    assert!(
        !managed(&my("8.0.39"), &my("8.4.3")),
        "8.0 → 8.4 is a major upgrade"
    );
    assert!(!managed(&my("8.0"), &my("8.4.3")));
    assert!(
        !managed(&my("8.0.36"), &my("8.0.36")),
        "equal is no management"
    );
}

#[test]
fn windows_keys_and_spelt_out_defaults_are_matched_only_when_they_are_the_same() {
    let recorded = full_spec();
    let managed = |change: Value| RdsProvider::managed_by_aws(&recorded, &with(&recorded, change));
    assert_eq!(
        managed(json!({"maintenance": {"window": "SUN:05:00-SUN:06:00"}})),
        ["maintenance.window"]
    );
    assert!(managed(json!({"maintenance": {"window": "mon:05:00-mon:06:00"}})).is_empty());
    assert!(managed(json!({"backup": {"automated": {"window": "04:00-04:30"}}})).is_empty());
    // A recorded key ARN is compared as it is.
    assert!(
        managed(json!({"encryption": {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/x"}})).is_empty()
    );
    assert!(kms_key_not_comparable(
        Some("x"),
        Some("arn:aws:kms:us-east-1:1:key/x")
    ));
    assert!(!kms_key_not_comparable(
        Some("y"),
        Some("arn:aws:kms:us-east-1:1:key/x")
    ));
    assert!(
        !kms_key_not_comparable(Some("alias/x"), None),
        "not encrypted any more"
    );
    // The default port spelt out matches only the engine's default.
    let on_default = with(&recorded, json!({"database": {"port": 5432}}));
    let live = with(&recorded, json!({"database": {"port": null}}));
    assert_eq!(
        RdsProvider::managed_by_aws(&on_default, &live),
        ["database.port"]
    );
    assert!(RdsProvider::managed_by_aws(&recorded, &live).is_empty());
    // gp3's baseline spelt out matches only the baseline for the size.
    let baseline = with(
        &recorded,
        json!({"instance": {"storage": {"iops": 12000, "throughput": 500}}}),
    );
    let live = with(
        &recorded,
        json!({"instance": {"storage": {"iops": null, "throughput": null}}}),
    );
    assert_eq!(
        RdsProvider::managed_by_aws(&baseline, &live),
        ["instance.storage.iops", "instance.storage.throughput"]
    );
    assert!(RdsProvider::managed_by_aws(&recorded, &live).is_empty());
}

/// An update sends only what differs from the instance: not the engine version the spec names
/// by its prefix (`16` for RDS's `16.4`), not storage that storage autoscaling grew within
/// `maxAllocatedGB`, not a maintenance window RDS spells in lower case; the instance class that
/// changed is sent. An instance that matches the spec needs no call at all.
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
#[test]
fn an_update_sends_only_what_differs() {
    let spec = full_spec();
    let live = answer(&request(&spec))
        .engine_version("16.4")
        .allocated_storage(700)
        .preferred_maintenance_window("sun:05:00-sun:06:00")
        .build();
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, []);
    let params = Some(NAME.to_string());

    let mut wanted = spec.clone();
    wanted.engine.version = "16".to_string();
    wanted.maintenance.window = Some("Sun:05:00-Sun:06:00".to_string());
    let (_, changed) = modify_request(&client, NAME, &live, &wanted, params.clone());
    assert!(changed.is_empty(), "{changed:?}");

    wanted.instance.class = "db.r6g.xlarge".to_string();
    let (req, changed) = modify_request(&client, NAME, &live, &wanted, params.clone());
    assert_eq!(changed, ["instance.class"]);
    let input = req.as_input().clone().build().unwrap();
    assert_eq!(input.db_instance_class(), Some("db.r6g.xlarge"));
    assert_eq!(input.engine_version(), None);
    assert_eq!(input.allocated_storage(), None);
    assert_eq!(input.preferred_maintenance_window(), None);
    assert_eq!(input.apply_immediately(), Some(true));

    // A major upgrade is sent with its permission; storage below what autoscaling grew to,
    // when autoscaling is off, is sent (RDS refuses a shrink with its own message).
    wanted.engine.version = "17.2".to_string();
    wanted.instance.storage.max_allocated_gb = None;
    let (req, changed) = modify_request(&client, NAME, &live, &wanted, params);
    assert_eq!(
        changed,
        [
            "engine.version",
            "instance.class",
            "instance.storage.allocatedGB"
        ]
    );
    let input = req.as_input().clone().build().unwrap();
    assert_eq!(input.engine_version(), Some("17.2"));
    assert_eq!(input.allow_major_version_upgrade(), Some(true));
    assert_eq!(input.allocated_storage(), Some(500));
}

/// Parameters set in the instance's group wait for a reboot: RDS reports the group
/// `pending-reboot` (DBParameterGroupStatus), and `panka status` says so; an `in-sync` group
/// says nothing.
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBParameterGroupStatus.html
#[test]
fn parameters_waiting_for_a_reboot_show_in_the_status_line() {
    use aws_sdk_rds::types::DbParameterGroupStatus;
    let db = |apply: &str| {
        DbInstance::builder()
            .db_instance_status("available")
            .engine("postgres")
            .engine_version("16.4")
            .db_parameter_groups(
                DbParameterGroupStatus::builder()
                    .db_parameter_group_name("shop-dev-orders-db")
                    .parameter_apply_status(apply)
                    .build(),
            )
            .build()
    };
    assert_eq!(
        health_line(&db("pending-reboot")),
        "available · postgres 16.4 · parameters pending reboot"
    );
    assert_eq!(health_line(&db("in-sync")), "available · postgres 16.4");
}

/// ModifyDBInstance's answer and DescribeDBInstances show a change not yet done by the
/// instance's status or by its PendingModifiedValues
/// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PendingModifiedValues.html).
#[test]
fn an_instance_is_settled_only_when_available_with_nothing_pending() {
    let db = |status: &str, pending: Option<PendingModifiedValues>| {
        DbInstance::builder()
            .db_instance_status(status)
            .set_pending_modified_values(pending)
            .build()
    };
    assert!(settled(&db("available", None)));
    assert!(settled(&db(
        "available",
        Some(PendingModifiedValues::builder().build())
    )));
    assert!(!settled(&db(
        "available",
        Some(
            PendingModifiedValues::builder()
                .db_instance_class("db.t4g.small")
                .build()
        )
    )));
    assert!(!settled(&db("modifying", None)));
}
