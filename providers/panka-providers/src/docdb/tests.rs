//! Unit tests for the DocumentDB provider.

use super::*;
use aws_sdk_docdb::operation::create_db_cluster::CreateDbClusterOutput;
use aws_sdk_docdb::operation::create_db_cluster_parameter_group::CreateDbClusterParameterGroupOutput;
use aws_sdk_docdb::operation::create_db_instance::CreateDbInstanceOutput;
use aws_sdk_docdb::operation::delete_db_cluster::DeleteDbClusterOutput;
use aws_sdk_docdb::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_docdb::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_docdb::operation::modify_db_cluster_parameter_group::ModifyDbClusterParameterGroupOutput;
use aws_sdk_docdb::types::ClusterMasterUserSecret;
use aws_sdk_rds::operation::create_db_subnet_group::CreateDbSubnetGroupOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const NAME: &str = "shop-dev-orders-docs";

fn spec(extra: serde_json::Value) -> DocumentDbSpec {
    let mut v = serde_json::json!({"engineVersion": "5.0.0", "instanceClass": "db.r6g.large", "masterUsername": "app"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(v).unwrap()
}

fn ec2_with_group() -> aws_sdk_ec2::Client {
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::types::SecurityGroup;
    let groups = mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(
                SecurityGroup::builder()
                    .group_id("sg-9")
                    .group_name(NAME)
                    .build(),
            )
            .build()
    });
    mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&groups])
}

/// An RDS client for a test whose path makes no RDS call.
fn rds_unused() -> aws_sdk_rds::Client {
    mock_client!(aws_sdk_rds, RuleMode::MatchAny, [])
}

fn cluster(protected: bool) -> DbCluster {
    DbCluster::builder()
        .db_cluster_identifier(NAME)
        .db_cluster_arn(format!("arn:aws:rds:us-east-1:123456789012:cluster:{NAME}"))
        .status("available")
        .endpoint("docs.cluster-x.docdb.amazonaws.com")
        .reader_endpoint("docs.cluster-ro-x.docdb.amazonaws.com")
        .port(27017)
        .deletion_protection(protected)
        .master_user_secret(
            ClusterMasterUserSecret::builder()
                .secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:docs")
                .build(),
        )
        .build()
}

#[test]
fn names_and_families() {
    assert_eq!(instance_id(NAME, 2), "shop-dev-orders-docs-2");
    assert_eq!(instance_number(NAME, "shop-dev-orders-docs-12"), Some(12));
    assert_eq!(instance_number(NAME, "shop-dev-orders-docs-x"), None);
    assert_eq!(instance_number(NAME, "other-1"), None);
    assert_eq!(family(&spec(serde_json::json!({}))), "docdb5.0");
    // Instance ids stay within DocumentDB's 63 characters.
    assert!(instance_id(&"n".repeat(63), 16).len() <= 63);
}

/// A new cluster: subnet group, parameter group with the spec's parameters, the cluster with
/// every setting and a managed master password, then its instances (the first the writer's
/// first choice), waited for. (moto refuses DocumentDB, so this runs against mocked
/// responses.)
#[tokio::test]
async fn a_new_cluster_gets_its_settings_and_instances() {
    let created = Arc::new(AtomicBool::new(false));
    let instances = Arc::new(AtomicUsize::new(0));
    let seen = created.clone();
    let describe = mock!(Client::describe_db_clusters).then_output(move || {
        let out = DescribeDbClustersOutput::builder();
        if seen.load(Ordering::SeqCst) {
            out.db_clusters(cluster(false)).build()
        } else {
            out.build()
        }
    });
    let subnet_group = mock!(aws_sdk_rds::Client::create_db_subnet_group)
        .match_requests(|r| r.subnet_ids() == ["s-1", "s-2"])
        .then_output(|| CreateDbSubnetGroupOutput::builder().build());
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&subnet_group]);
    let group = mock!(Client::create_db_cluster_parameter_group)
        .match_requests(|r| r.db_parameter_group_family() == Some("docdb5.0"))
        .then_output(|| CreateDbClusterParameterGroupOutput::builder().build());
    let params = mock!(Client::modify_db_cluster_parameter_group)
        .match_requests(|r| {
            r.parameters().len() == 1 && r.parameters()[0].parameter_name() == Some("tls")
        })
        .then_output(|| ModifyDbClusterParameterGroupOutput::builder().build());
    let flag = created.clone();
    let create = mock!(Client::create_db_cluster)
        .match_requests(|r| {
            r.db_cluster_identifier() == Some(NAME)
                && r.engine() == Some("docdb")
                && r.engine_version() == Some("5.0.0")
                && r.master_username() == Some("app")
                && r.manage_master_user_password() == Some(true)
                && r.master_user_password().is_none()
                && r.port() == Some(27017)
                && r.storage_encrypted() == Some(true)
                && r.kms_key_id() == Some("alias/docs")
                && r.backup_retention_period() == Some(14)
                && r.deletion_protection() == Some(true)
                && r.vpc_security_group_ids() == ["sg-9"]
                && r.db_subnet_group_name() == Some(NAME)
                && r.db_cluster_parameter_group_name() == Some(NAME)
        })
        .then_output(move || {
            flag.store(true, Ordering::SeqCst);
            CreateDbClusterOutput::builder().build()
        });
    let count = instances.clone();
    let create_instance = mock!(Client::create_db_instance)
        .match_requests(|r| {
            let tier = match r.db_instance_identifier() {
                Some("shop-dev-orders-docs-1") => 0,
                Some("shop-dev-orders-docs-2") => 1,
                _ => return false,
            };
            r.promotion_tier() == Some(tier)
                && r.db_cluster_identifier() == Some(NAME)
                && r.db_instance_class() == Some("db.r6g.large")
                && r.engine() == Some("docdb")
        })
        .then_output(move || {
            count.fetch_add(1, Ordering::SeqCst);
            CreateDbInstanceOutput::builder().build()
        });
    let made = instances.clone();
    let list = mock!(Client::describe_db_instances).then_output(move || {
        let mut out = DescribeDbInstancesOutput::builder();
        for n in 1..=made.load(Ordering::SeqCst) {
            out = out.db_instances(
                DbInstance::builder()
                    .db_instance_identifier(format!("{NAME}-{n}"))
                    .db_instance_class("db.r6g.large")
                    .db_instance_status("available")
                    .build(),
            );
        }
        out.build()
    });
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        [&describe, &group, &params, &create, &create_instance, &list]
    );
    let provider = DocumentDbProvider::new(docdb, rds, ec2_with_group());
    let tags = BTreeMap::new();
    let config =
        serde_json::json!({"network": {"vpcId": "vpc-1", "privateSubnets": ["s-1", "s-2"]}});
    let target = Target {
        address: "orders/docs",
        name: NAME,
        spec: spec(serde_json::json!({
            "instances": 2, "backupRetentionDays": 14,
            "encryption": {"kmsKeyId": "alias/docs"},
            "deletion": {"protection": true},
            "parameters": {"tls": "enabled"},
        })),
        tags: &tags,
        region: "us-east-1",
        config: &config,
    };
    let out = provider.create(&target).await.unwrap();
    assert_eq!(create.num_calls(), 1);
    assert_eq!(create_instance.num_calls(), 2);
    assert_eq!(
        out.outputs["endpoint"],
        "docs.cluster-x.docdb.amazonaws.com"
    );
    assert_eq!(out.outputs["port"], "27017");
    assert!(out.outputs["masterSecretArn"].starts_with("arn:aws:secretsmanager:"));
    assert_eq!(out.outputs["securityGroupId"], "sg-9");
}

/// A cluster with deletion protection is not deleted: the provider says how to proceed and
/// makes no delete call.
#[tokio::test]
async fn a_protected_cluster_is_not_deleted() {
    let describe = mock!(Client::describe_db_clusters).then_output(|| {
        DescribeDbClustersOutput::builder()
            .db_clusters(cluster(true))
            .build()
    });
    let delete =
        mock!(Client::delete_db_cluster).then_output(|| DeleteDbClusterOutput::builder().build());
    let docdb = mock_client!(aws_sdk_docdb, RuleMode::MatchAny, [&describe, &delete]);
    let provider = DocumentDbProvider::new(docdb, rds_unused(), ec2_with_group());
    let err = provider
        .delete(NAME, None, &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.to_string().contains("deletion.protection: false"),
        "{err}"
    );
    assert_eq!(delete.num_calls(), 0);
}

// ------------------------------------------------------------------------------- read

use aws_sdk_docdb::operation::create_db_cluster::CreateDbClusterInput;
use aws_sdk_docdb::operation::create_db_instance::CreateDbInstanceInput;
use aws_sdk_docdb::operation::describe_db_cluster_parameters::DescribeDbClusterParametersOutput;
use aws_sdk_docdb::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_docdb::types::builders::{DbClusterBuilder, DbInstanceBuilder};
use aws_sdk_docdb::types::error::DbClusterNotFoundFault;
use aws_sdk_docdb::types::{DbClusterMember, VpcSecurityGroupMembership};
use serde_json::{Value, json};

const ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:shop-dev-orders-docs";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1234-AbCdEf";

/// Every field set, and set to something other than its default.
fn full_spec() -> DocumentDbSpec {
    spec(json!({
        "instances": 3, "port": 27018,
        "encryption": {"atRest": true, "kmsKeyId": KEY_ARN},
        "backupRetentionDays": 14,
        "maintenance": {"window": "sun:05:00-sun:06:00", "autoMinorVersionUpgrade": false},
        "deletion": {"protection": true, "finalSnapshot": false},
        "parameters": {"audit_logs": "enabled", "tls": "disabled"},
        "dependsOn": ["orders/queue"],
    }))
}

fn requests(s: &DocumentDbSpec) -> (CreateDbClusterInput, Vec<CreateDbInstanceInput>) {
    let client = mock_client!(aws_sdk_docdb, RuleMode::MatchAny, []);
    let tags = BTreeMap::new();
    let params = (!s.parameters.is_empty()).then(|| NAME.to_string());
    let cluster = create_cluster_request(&client, NAME, s, "sg-9", params, &tags)
        .as_input()
        .clone()
        .build()
        .unwrap();
    let instances = (1..=s.instances)
        .map(|n| {
            create_instance_request(&client, NAME, n, s, &tags)
                .as_input()
                .clone()
                .build()
                .unwrap()
        })
        .collect();
    (cluster, instances)
}

/// What DescribeDBClusters answers for a cluster made by `r` with `members`: what was
/// sent, plus what DocumentDB adds or fills in: ARN, endpoints, the managed secret, the key
/// ARN for an alias or no key, a window it picks when none was given (in lower case), the
/// engine's default parameter group without one.
/// https://docs.aws.amazon.com/documentdb/latest/developerguide/API_DescribeDBClusters.html
/// https://docs.aws.amazon.com/documentdb/latest/developerguide/API_DBCluster.html
fn answer_cluster(r: &CreateDbClusterInput, members: &[CreateDbInstanceInput]) -> DbClusterBuilder {
    let key = r
        .storage_encrypted()
        .unwrap()
        .then(|| match r.kms_key_id() {
            Some(k) if k.contains(":key/") => k.to_string(),
            _ => KEY_ARN.to_string(),
        });
    let mut b = DbCluster::builder()
        .db_cluster_identifier(r.db_cluster_identifier().unwrap())
        .db_cluster_arn(ARN)
        .status("available")
        .engine("docdb")
        .engine_version(r.engine_version().unwrap())
        .set_port(r.port())
        .set_master_username(r.master_username().map(str::to_string))
        .set_storage_encrypted(r.storage_encrypted())
        .set_kms_key_id(key)
        .set_backup_retention_period(r.backup_retention_period())
        .preferred_backup_window("07:12-07:42")
        .preferred_maintenance_window(
            r.preferred_maintenance_window()
                .unwrap_or("wed:09:17-wed:09:47")
                .to_ascii_lowercase(),
        )
        .set_deletion_protection(r.deletion_protection())
        .db_cluster_parameter_group(
            r.db_cluster_parameter_group_name()
                .unwrap_or("default.docdb5.0"),
        )
        .endpoint("docs.cluster-x.docdb.amazonaws.com")
        .reader_endpoint("docs.cluster-ro-x.docdb.amazonaws.com")
        .vpc_security_groups(
            VpcSecurityGroupMembership::builder()
                .vpc_security_group_id(&r.vpc_security_group_ids()[0])
                .status("active")
                .build(),
        )
        .master_user_secret(
            ClusterMasterUserSecret::builder()
                .secret_arn(SECRET_ARN)
                .secret_status("active")
                .build(),
        );
    for (i, m) in members.iter().enumerate() {
        b = b.db_cluster_members(
            DbClusterMember::builder()
                .db_instance_identifier(m.db_instance_identifier().unwrap())
                .is_cluster_writer(i == 0)
                .set_promotion_tier(m.promotion_tier())
                .build(),
        );
    }
    b
}

/// What DescribeDBInstances answers for an instance made by `r`.
/// https://docs.aws.amazon.com/documentdb/latest/developerguide/API_DBInstance.html
fn answer_instance(r: &CreateDbInstanceInput) -> DbInstanceBuilder {
    DbInstance::builder()
        .db_instance_identifier(r.db_instance_identifier().unwrap())
        .set_db_cluster_identifier(r.db_cluster_identifier().map(str::to_string))
        .set_db_instance_class(r.db_instance_class().map(str::to_string))
        .engine("docdb")
        .db_instance_status("available")
        .set_auto_minor_version_upgrade(r.auto_minor_version_upgrade())
        .set_preferred_maintenance_window(
            r.preferred_maintenance_window()
                .map(str::to_ascii_lowercase),
        )
        .set_promotion_tier(r.promotion_tier())
}

/// What DescribeDBClusterParameters(Source=user) answers for the group made from `s`.
/// https://docs.aws.amazon.com/documentdb/latest/developerguide/API_DescribeDBClusterParameters.html
fn answer_parameters(s: &DocumentDbSpec) -> Vec<Parameter> {
    parameters(s)
        .into_iter()
        .map(|p| {
            Parameter::builder()
                .set_parameter_name(p.parameter_name().map(str::to_string))
                .set_parameter_value(p.parameter_value().map(str::to_string))
                .source("user")
                .apply_type("static")
                .build()
        })
        .collect()
}

struct Answer {
    cluster: DbCluster,
    instances: Vec<DbInstance>,
    parameters: Vec<Parameter>,
}

fn full_answer(s: &DocumentDbSpec) -> (DbClusterBuilder, Vec<DbInstanceBuilder>, Vec<Parameter>) {
    let (c, i) = requests(s);
    (
        answer_cluster(&c, &i),
        i.iter().map(answer_instance).collect(),
        answer_parameters(s),
    )
}

fn ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("cluster".to_string(), NAME.to_string()),
        ("securityGroup".to_string(), "sg-9".to_string()),
    ])
}

async fn read_back(a: Answer) -> Observation<DocumentDbSpec> {
    let Answer {
        cluster,
        instances,
        parameters,
    } = a;
    let describe = mock!(Client::describe_db_clusters)
        .match_requests(|r| r.db_cluster_identifier() == Some(NAME))
        .then_output(move || {
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster.clone())
                .build()
        });
    let list = mock!(Client::describe_db_instances)
        .match_requests(|r| {
            r.filters().len() == 1
                && r.filters()[0].name() == Some("db-cluster-id")
                && r.filters()[0].values() == [NAME]
        })
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .set_db_instances(Some(instances.clone()))
                .build()
        });
    let params = mock!(Client::describe_db_cluster_parameters)
        .match_requests(|r| {
            r.db_cluster_parameter_group_name() == Some(NAME) && r.source() == Some("user")
        })
        .then_output(move || {
            DescribeDbClusterParametersOutput::builder()
                .set_parameters(Some(parameters.clone()))
                .build()
        });
    let docdb = mock_client!(
        aws_sdk_docdb,
        RuleMode::MatchAny,
        [&describe, &list, &params]
    );
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, []);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("orders/docs", NAME, &ids, &empty);
    let seen = DocumentDbProvider::new(docdb, rds_unused(), ec2)
        .read(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((describe.num_calls(), list.num_calls()), (1, 1));
    seen
}

fn built((c, i, p): (DbClusterBuilder, Vec<DbInstanceBuilder>, Vec<Parameter>)) -> Answer {
    Answer {
        cluster: c.build(),
        instances: i.into_iter().map(DbInstanceBuilder::build).collect(),
        parameters: p,
    }
}

fn reconciled(recorded: &DocumentDbSpec, seen: &Observation<DocumentDbSpec>) -> Value {
    let managed = DocumentDbProvider::managed_by_aws(recorded, &seen.spec);
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
async fn a_cluster_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let seen = read_back(built(full_answer(&spec))).await;
    let mut expected = spec.clone();
    expected.deletion.final_snapshot = true;
    expected.depends_on.clear();
    assert_eq!(seen.spec, expected);
    assert_eq!(seen.unobserved, ["dependsOn", "deletion.finalSnapshot"]);
    assert!(DocumentDbProvider::managed_by_aws(&spec, &seen.spec).is_empty());
    assert_eq!(
        reconciled(&spec, &seen),
        serde_json::to_value(&spec).unwrap()
    );
    let outputs = &seen.outcome.outputs;
    assert_eq!(outputs["arn"], ARN);
    assert_eq!(outputs["port"], "27018");
    assert_eq!(outputs["masterSecretArn"], SECRET_ARN);
    assert_eq!(
        outputs["readerEndpoint"],
        "docs.cluster-ro-x.docdb.amazonaws.com"
    );
    assert_eq!(outputs["securityGroupId"], "sg-9");
    assert_eq!(seen.outcome.physical_ids, ids());
}

/// A spec that leaves DocumentDB to choose (no window, no key, no parameters) and one that
/// spells its choices differently (an alias, a major version, a window in capitals) read
/// back as themselves; the default parameter group is not asked for its parameters.
#[tokio::test]
async fn what_documentdb_fills_in_or_spells_its_own_way_is_not_drift() {
    let minimal = spec(json!({}));
    let mut a = built(full_answer(&minimal));
    a.parameters = vec![
        Parameter::builder()
            .parameter_name("x")
            .parameter_value("y")
            .build(),
    ];
    let seen = read_back(a).await;
    assert!(
        seen.spec.parameters.is_empty(),
        "the default group's parameters are not read"
    );
    assert_eq!(
        DocumentDbProvider::managed_by_aws(&minimal, &seen.spec),
        ["maintenance.window", "encryption.kmsKeyId"]
    );
    assert_eq!(
        reconciled(&minimal, &seen),
        serde_json::to_value(&minimal).unwrap()
    );

    let spelt = spec(json!({
        "engineVersion": "5.0",
        "encryption": {"kmsKeyId": "alias/docs"},
        "maintenance": {"window": "Sun:05:00-Sun:06:00"},
    }));
    let (c, i, p) = full_answer(&spelt);
    let seen = read_back(built((c.engine_version("5.0.0"), i, p))).await;
    assert_eq!(seen.spec.encryption.kms_key_id.as_deref(), Some(KEY_ARN));
    assert_eq!(
        reconciled(&spelt, &seen),
        serde_json::to_value(&spelt).unwrap()
    );
}

#[tokio::test]
async fn each_setting_changed_in_documentdb_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let baseline = serde_json::to_value(read_back(built(full_answer(&spec))).await.spec).unwrap();
    type Change = Box<dyn Fn(DbClusterBuilder) -> DbClusterBuilder>;
    let cluster_cases: Vec<(&str, Value, Change)> = vec![
        (
            "/engineVersion",
            "4.0.0".into(),
            Box::new(|b| b.engine_version("4.0.0")),
        ),
        (
            "/masterUsername",
            "admin".into(),
            Box::new(|b| b.master_username("admin")),
        ),
        ("/port", 27019.into(), Box::new(|b| b.port(27019))),
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
            "/backupRetentionDays",
            3.into(),
            Box::new(|b| b.backup_retention_period(3)),
        ),
        (
            "/maintenance/window",
            "mon:01:00-mon:02:00".into(),
            Box::new(|b| b.preferred_maintenance_window("mon:01:00-mon:02:00")),
        ),
        (
            "/deletion/protection",
            false.into(),
            Box::new(|b| b.deletion_protection(false)),
        ),
    ];
    for (pointer, value, change) in cluster_cases {
        let (c, i, p) = full_answer(&spec);
        let seen = read_back(built((change(c), i, p))).await;
        let mut expected = baseline.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(
            serde_json::to_value(seen.spec).unwrap(),
            expected,
            "only {pointer} differs"
        );
    }
    // Instance settings, as the writer's first choice reports them.
    let (c, mut i, p) = full_answer(&spec);
    i[0] = i[0].clone().db_instance_class("db.r6g.xlarge");
    let seen = read_back(built((c, i, p))).await;
    let mut expected = baseline.clone();
    expected["instanceClass"] = "db.r6g.xlarge".into();
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    let (c, mut i, p) = full_answer(&spec);
    i[0] = i[0].clone().auto_minor_version_upgrade(true);
    let seen = read_back(built((c, i, p))).await;
    let mut expected = baseline.clone();
    expected["maintenance"]["autoMinorVersionUpgrade"] = true.into();
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    // An instance removed by hand, and one added by hand.
    let (c, mut i, p) = full_answer(&spec);
    i.pop();
    let seen = read_back(built((c, i, p))).await;
    let mut expected = baseline.clone();
    expected["instances"] = 2.into();
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    let (c, mut i, p) = full_answer(&spec);
    i.push(i[0].clone().db_instance_identifier("by-hand"));
    let seen = read_back(built((c, i, p))).await;
    expected["instances"] = 4.into();
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    // A parameter changed in the group.
    let (c, i, mut p) = full_answer(&spec);
    p[0] = Parameter::builder()
        .parameter_name("audit_logs")
        .parameter_value("disabled")
        .build();
    let seen = read_back(built((c, i, p))).await;
    let mut expected = baseline.clone();
    expected["parameters"]["audit_logs"] = "disabled".into();
    assert_eq!(serde_json::to_value(seen.spec).unwrap(), expected);
    // Every instance gone: the count is 0, class and minor upgrades cannot be told.
    let (c, _, p) = full_answer(&spec);
    let seen = read_back(built((c, Vec::new(), p))).await;
    assert_eq!(seen.spec.instances, 0);
    assert_eq!(
        seen.unobserved,
        [
            "dependsOn",
            "deletion.finalSnapshot",
            "instanceClass",
            "maintenance.autoMinorVersionUpgrade"
        ]
    );
    let mut expected = serde_json::to_value(&spec).unwrap();
    expected["instances"] = 0.into();
    assert_eq!(reconciled(&spec, &seen), expected);
}

#[tokio::test]
async fn a_cluster_gone_from_documentdb_reads_as_absent() {
    let gone = mock!(Client::describe_db_clusters).then_error(|| {
        DescribeDBClustersError::DbClusterNotFoundFault(DbClusterNotFoundFault::builder().build())
    });
    let docdb = mock_client!(aws_sdk_docdb, [&gone]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, []);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("orders/docs", NAME, &ids, &empty);
    let read = DocumentDbProvider::new(docdb, rds_unused(), ec2)
        .read(&id)
        .await;
    assert!(read.unwrap().is_none());
}

/// A cluster still being created has no endpoints or secret yet: those outputs are absent,
/// never "".
#[test]
fn outputs_documentdb_does_not_report_are_absent() {
    let c = DbCluster::builder()
        .db_cluster_identifier(NAME)
        .db_cluster_arn(ARN)
        .build();
    let out = outcome(&c, None);
    assert_eq!(out.outputs.keys().collect::<Vec<_>>(), ["arn"]);
    assert_eq!(
        out.physical_ids,
        BTreeMap::from([("cluster".to_string(), NAME.to_string())])
    );
    let full = built(full_answer(&full_spec())).cluster;
    assert_eq!(outcome(&full, Some("")).outputs["securityGroupId"], "sg-9");
}

#[test]
fn an_engine_version_spelt_out_or_upgraded_within_its_minor_versions_is_managed() {
    let at = |version: &str, auto: bool| {
        spec(json!({"engineVersion": version, "maintenance": {"autoMinorVersionUpgrade": auto}}))
    };
    let managed = |r: &DocumentDbSpec, l: &DocumentDbSpec| {
        DocumentDbProvider::managed_by_aws(r, l).contains(&"engineVersion")
    };
    assert!(managed(&at("5.0", false), &at("5.0.0", false)));
    assert!(managed(&at("5", false), &at("5.0.0", false)));
    assert!(
        !managed(&at("5.0", false), &at("4.0.0", false)),
        "another major version"
    );
    assert!(managed(&at("5.0.0", true), &at("5.0.1", true)));
    assert!(
        !managed(&at("5.0.0", false), &at("5.0.1", false)),
        "upgrades off"
    );
    assert!(
        !managed(&at("5.0.1", true), &at("5.0.0", true)),
        "backwards"
    );
    assert!(
        !managed(&at("4.0.0", true), &at("5.0.0", true)),
        "a major upgrade"
    );
    assert!(!managed(&at("5.0.0", true), &at("5.0.0", true)));
}

#[test]
fn windows_and_keys_are_matched_only_when_they_are_the_same() {
    let recorded = full_spec();
    let mut live = recorded.clone();
    live.maintenance.window = Some("SUN:05:00-SUN:06:00".into());
    assert_eq!(
        DocumentDbProvider::managed_by_aws(&recorded, &live),
        ["maintenance.window"]
    );
    live.maintenance.window = Some("mon:05:00-mon:06:00".into());
    assert!(DocumentDbProvider::managed_by_aws(&recorded, &live).is_empty());
    let mut live = recorded.clone();
    live.encryption.kms_key_id = Some("arn:aws:kms:us-east-1:1:key/x".into());
    assert!(
        DocumentDbProvider::managed_by_aws(&recorded, &live).is_empty(),
        "a key ARN is compared"
    );
    let mut by_id = recorded.clone();
    by_id.encryption.kms_key_id = Some("x".into());
    assert_eq!(
        DocumentDbProvider::managed_by_aws(&by_id, &live),
        ["encryption.kmsKeyId"]
    );
}
