//! Unit tests for the DynamoDB provider.

use super::*;
use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
use aws_sdk_dynamodb::operation::describe_table::{DescribeTableError, DescribeTableOutput};
use aws_sdk_dynamodb::operation::describe_time_to_live::DescribeTimeToLiveOutput;
use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
use aws_sdk_dynamodb::types::{
    BillingModeSummary, ContinuousBackupsStatus, GlobalSecondaryIndexDescription, IndexStatus,
    LocalSecondaryIndexDescription, PointInTimeRecoveryDescription,
    ProvisionedThroughputDescription, SseDescription, TableClassSummary,
};
use aws_sdk_dynamodb::types::{ContinuousBackupsDescription, PointInTimeRecoveryStatus};
use aws_sdk_dynamodb::types::{TimeToLiveDescription, TimeToLiveStatus};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use serde_json::{Value, json};

/// A client answered by `rules` (any order). `mock_client!` needs `with_test_defaults_v2`,
/// which this version of the DynamoDB SDK does not have, so the client is built here the way
/// the macro builds it.
fn mock_client(rules: &[&Rule]) -> Client {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .with_test_defaults()
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    )
}

const NAME: &str = "shop-dev-orders-table";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn full_spec() -> Value {
    json!({
        "tableName": "orders-v2",
        "partitionKey": {"name": "id", "type": "S"},
        "sortKey": {"name": "created", "type": "N"},
        "billing": {"mode": "PROVISIONED", "readCapacity": 10, "writeCapacity": 20},
        "globalSecondaryIndexes": [{
            "name": "byCustomer",
            "partitionKey": {"name": "customer", "type": "S"},
            "sortKey": {"name": "placedAt", "type": "N"},
            "projection": "INCLUDE",
            "nonKeyAttributes": ["total", "status"]
        }],
        "localSecondaryIndexes": [{
            "name": "byStatus",
            "partitionKey": {"name": "id", "type": "S"},
            "sortKey": {"name": "state", "type": "S"},
            "projection": "KEYS_ONLY"
        }],
        "ttlAttribute": "expiresAt",
        "stream": "NEW_AND_OLD_IMAGES",
        "pointInTimeRecovery": false,
        "kmsKeyId": "alias/orders",
        "deletionProtection": true,
        "tableClass": "STANDARD_INFREQUENT_ACCESS"
    })
}

/// The KMS key ARN DynamoDB reports for the spec's key: the alias of the full spec resolves
/// to KEY_ARN; any other value is taken to be an ARN already.
fn key_arn(spec: &DynamoDbSpec) -> Option<String> {
    spec.kms_key_id.as_ref().map(|k| {
        if k == "alias/orders" {
            KEY_ARN.to_string()
        } else {
            k.clone()
        }
    })
}

fn throughput_description(spec: &DynamoDbSpec) -> ProvisionedThroughputDescription {
    // An on-demand table reports zero units.
    let p = throughput(spec).unwrap();
    ProvisionedThroughputDescription::builder()
        .read_capacity_units(p.as_ref().map_or(0, |p| p.read_capacity_units()))
        .write_capacity_units(p.as_ref().map_or(0, |p| p.write_capacity_units()))
        .number_of_decreases_today(0)
        .build()
}

/// What DescribeTable answers for a table created from `spec` by this provider's request
/// builders (key schema, attribute definitions, projections, throughput, stream), plus what
/// DynamoDB adds (ARNs, status, counts).
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTable.html
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html
fn table(spec: &DynamoDbSpec) -> TableDescription {
    let name = spec.table_name.as_deref().unwrap_or(NAME);
    let arn = format!("arn:aws:dynamodb:us-east-1:123456789012:table/{name}");
    let gsis = spec
        .global_secondary_indexes
        .iter()
        .map(|i| {
            GlobalSecondaryIndexDescription::builder()
                .index_name(&i.name)
                .set_key_schema(Some(
                    key_schema(&i.partition_key, i.sort_key.as_ref()).unwrap(),
                ))
                .projection(projection(i))
                .index_status(IndexStatus::Active)
                .provisioned_throughput(throughput_description(spec))
                .index_arn(format!("{arn}/index/{}", i.name))
                .item_count(0)
                .build()
        })
        .collect();
    let lsis = spec
        .local_secondary_indexes
        .iter()
        .map(|i| {
            LocalSecondaryIndexDescription::builder()
                .index_name(&i.name)
                .set_key_schema(Some(
                    key_schema(&spec.partition_key, i.sort_key.as_ref()).unwrap(),
                ))
                .projection(projection(i))
                .index_arn(format!("{arn}/index/{}", i.name))
                .build()
        })
        .collect();
    let mut d = TableDescription::builder()
        .table_name(name)
        .table_arn(&arn)
        .table_status(TableStatus::Active)
        .set_attribute_definitions(Some(attribute_definitions(spec).unwrap()))
        .set_key_schema(Some(
            key_schema(&spec.partition_key, spec.sort_key.as_ref()).unwrap(),
        ))
        .billing_mode_summary(
            BillingModeSummary::builder()
                .billing_mode(billing(spec))
                .build(),
        )
        .provisioned_throughput(throughput_description(spec))
        .set_global_secondary_indexes(Some(gsis))
        .set_local_secondary_indexes(Some(lsis))
        .table_class_summary(
            TableClassSummary::builder()
                .table_class(class(spec))
                .build(),
        )
        .deletion_protection_enabled(spec.deletion_protection)
        .item_count(0)
        .table_size_bytes(0);
    if spec.stream.is_some() {
        d = d
            .stream_specification(stream(spec).unwrap())
            .latest_stream_arn(format!("{arn}/stream/2026-12-01T00:00:00.000"))
            .latest_stream_label("2026-12-01T00:00:00.000");
    }
    if let Some(k) = key_arn(spec) {
        d = d.sse_description(
            SseDescription::builder()
                .status(SseStatus::Enabled)
                .sse_type(SseType::Kms)
                .kms_master_key_arn(k)
                .build(),
        );
    }
    d.build()
}

/// DescribeTimeToLive for the spec's TTL.
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTimeToLive.html
fn ttl(spec: &DynamoDbSpec) -> TimeToLiveDescription {
    match &spec.ttl_attribute {
        Some(a) => TimeToLiveDescription::builder()
            .time_to_live_status(TimeToLiveStatus::Enabled)
            .attribute_name(a)
            .build(),
        None => TimeToLiveDescription::builder()
            .time_to_live_status(TimeToLiveStatus::Disabled)
            .build(),
    }
}

/// DescribeContinuousBackups for the spec's point-in-time recovery.
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContinuousBackups.html
fn backups(spec: &DynamoDbSpec) -> ContinuousBackupsDescription {
    let status = if spec.point_in_time_recovery {
        PointInTimeRecoveryStatus::Enabled
    } else {
        PointInTimeRecoveryStatus::Disabled
    };
    ContinuousBackupsDescription::builder()
        .continuous_backups_status(ContinuousBackupsStatus::Enabled)
        .point_in_time_recovery_description(
            PointInTimeRecoveryDescription::builder()
                .point_in_time_recovery_status(status)
                .build(),
        )
        .build()
        .unwrap()
}

/// The ids panka records for a table made from the full spec.
fn ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("table".to_string(), "orders-v2".to_string()),
        ("kmsKey".to_string(), "alias/orders".to_string()),
        ("kmsKeyArn".to_string(), KEY_ARN.to_string()),
    ])
}

async fn read_back(spec: &DynamoDbSpec) -> Observation<DynamoDbSpec> {
    let (d, t, b) = (table(spec), ttl(spec), backups(spec));
    let describe = mock!(Client::describe_table)
        .then_output(move || DescribeTableOutput::builder().table(d.clone()).build());
    let time_to_live = mock!(Client::describe_time_to_live).then_output(move || {
        DescribeTimeToLiveOutput::builder()
            .time_to_live_description(t.clone())
            .build()
    });
    let continuous = mock!(Client::describe_continuous_backups).then_output(move || {
        DescribeContinuousBackupsOutput::builder()
            .continuous_backups_description(b.clone())
            .build()
    });
    let client = mock_client(&[&describe, &time_to_live, &continuous]);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("orders/table", NAME, &ids, &empty);
    DynamoDbProvider::new(client)
        .read(&id)
        .await
        .unwrap()
        .unwrap()
}

/// Sets the field at a JSON pointer, adding it when absent (`null` removes an option).
fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = v.pointer_mut(parent).unwrap();
    match target {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        Value::Object(m) => {
            m.insert(key.to_string(), value);
        }
        _ => panic!("{pointer} is not in an object or array"),
    }
}

fn spec_of(v: Value) -> DynamoDbSpec {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn a_table_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = spec_of(full_spec());
    let seen = read_back(&spec).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.unobserved, ["dependsOn"]);
    assert_eq!(
        seen.outcome.outputs["arn"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders-v2"
    );
    assert!(seen.outcome.outputs.contains_key("streamArn"));
    assert_eq!(seen.outcome.physical_ids, ids());
    // The smallest spec: on demand, no stream (no streamArn output), no KMS key.
    let plain = spec_of(json!({"partitionKey": {"name": "id", "type": "S"}}));
    let mut plain_named = plain.clone();
    plain_named.table_name = Some("orders-v2".into());
    let seen = read_back(&plain_named).await;
    assert_eq!(seen.spec, plain_named);
    assert!(!seen.outcome.outputs.contains_key("streamArn"));
    assert!(!seen.outcome.physical_ids.contains_key("kmsKeyArn"));
    assert!(seen.outcome.outputs.values().all(|v| !v.is_empty()));
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let other_key = "arn:aws:kms:us-east-1:123456789012:key/other";
    let cases: Vec<Vec<(&str, Value)>> = vec![
        vec![("/tableName", "orders-v3".into())],
        // The table's partition key is every local index's too.
        vec![
            ("/partitionKey/name", "pk".into()),
            ("/localSecondaryIndexes/0/partitionKey/name", "pk".into()),
        ],
        vec![
            ("/partitionKey/type", "B".into()),
            ("/localSecondaryIndexes/0/partitionKey/type", "B".into()),
        ],
        vec![("/sortKey/name", "createdAt".into())],
        vec![("/sortKey/type", "S".into())],
        vec![("/sortKey", Value::Null)],
        vec![("/billing/readCapacity", 11.into())],
        vec![("/billing/writeCapacity", 21.into())],
        vec![("/billing", json!({"mode": "PAY_PER_REQUEST"}))],
        vec![("/globalSecondaryIndexes/0/name", "byBuyer".into())],
        vec![(
            "/globalSecondaryIndexes/0/partitionKey",
            json!({"name": "buyer", "type": "N"}),
        )],
        vec![(
            "/globalSecondaryIndexes/0/sortKey",
            json!({"name": "paidAt", "type": "S"}),
        )],
        vec![("/globalSecondaryIndexes/0/sortKey", Value::Null)],
        vec![(
            "/globalSecondaryIndexes/0/nonKeyAttributes",
            json!(["total"]),
        )],
        vec![
            ("/globalSecondaryIndexes/0/projection", "ALL".into()),
            ("/globalSecondaryIndexes/0/nonKeyAttributes", json!([])),
        ],
        vec![("/globalSecondaryIndexes", json!([]))],
        vec![("/localSecondaryIndexes/0/name", "byState".into())],
        vec![(
            "/localSecondaryIndexes/0/sortKey",
            json!({"name": "total", "type": "N"}),
        )],
        vec![("/localSecondaryIndexes/0/projection", "ALL".into())],
        vec![("/localSecondaryIndexes", json!([]))],
        vec![("/ttlAttribute", "ttl".into())],
        vec![("/ttlAttribute", Value::Null)],
        vec![("/stream", "KEYS_ONLY".into())],
        vec![("/stream", Value::Null)],
        vec![("/pointInTimeRecovery", true.into())],
        vec![("/kmsKeyId", other_key.into())],
        vec![("/kmsKeyId", Value::Null)],
        vec![("/deletionProtection", false.into())],
        vec![("/tableClass", "STANDARD".into())],
    ];
    let full = serde_json::to_value(spec_of(full_spec())).unwrap();
    for changes in cases {
        let mut changed = full_spec();
        for (pointer, value) in &changes {
            set(&mut changed, pointer, value.clone());
        }
        let expected = spec_of(changed);
        let expected_json = serde_json::to_value(&expected).unwrap();
        assert_ne!(expected_json, full, "{changes:?} changes the spec");
        let seen = serde_json::to_value(read_back(&expected).await.spec).unwrap();
        assert_eq!(seen, expected_json, "{changes:?}: only that differs");
    }
}

#[tokio::test]
async fn default_capacity_reads_as_the_number_and_is_no_drift() {
    let mut changed = full_spec();
    changed["billing"] = json!({"mode": "PROVISIONED"});
    let recorded = spec_of(changed);
    let seen = read_back(&recorded).await;
    assert_eq!(seen.spec.billing.read_capacity, Some(DEFAULT_CAPACITY));
    assert_eq!(seen.spec.billing.write_capacity, Some(DEFAULT_CAPACITY));
    assert_eq!(
        DynamoDbProvider::managed_by_aws(&recorded, &seen.spec),
        ["billing.readCapacity", "billing.writeCapacity"]
    );
    // Named in the spec, or changed outside panka: compared as any setting.
    let full = spec_of(full_spec());
    assert!(DynamoDbProvider::managed_by_aws(&full, &full).is_empty());
    let mut raised = seen.spec.clone();
    raised.billing.read_capacity = Some(50);
    assert_eq!(
        DynamoDbProvider::managed_by_aws(&recorded, &raised),
        ["billing.writeCapacity"]
    );
}

#[tokio::test]
async fn a_table_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::describe_table).then_error(|| {
        DescribeTableError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
    });
    let client = mock_client(&[&gone]);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("orders/table", NAME, &ids, &empty);
    assert!(
        DynamoDbProvider::new(client)
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}

mod replays {
    //! DynamoDB's documented answers replayed: point-in-time recovery refused while a new
    //! table turns continuous backups on, TTL's one change an hour, and the capacity a switch
    //! to PROVISIONED needs for every global index.
    use super::*;
    use aws_sdk_dynamodb::operation::tag_resource::TagResourceOutput;
    use aws_sdk_dynamodb::operation::update_continuous_backups::{
        UpdateContinuousBackupsError, UpdateContinuousBackupsOutput,
    };
    use aws_sdk_dynamodb::operation::update_time_to_live::{
        UpdateTimeToLiveError, UpdateTimeToLiveOutput,
    };
    use aws_sdk_dynamodb::types::error::{
        ContinuousBackupsUnavailableException, LimitExceededException,
    };
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<String>>>;

    fn pitr(on: bool) -> Rule {
        mock!(Client::describe_continuous_backups).then_output(move || {
            DescribeContinuousBackupsOutput::builder()
                .continuous_backups_description(
                    ContinuousBackupsDescription::builder()
                        .continuous_backups_status(ContinuousBackupsStatus::Enabled)
                        .point_in_time_recovery_description(
                            PointInTimeRecoveryDescription::builder()
                                .point_in_time_recovery_status(if on {
                                    PointInTimeRecoveryStatus::Enabled
                                } else {
                                    PointInTimeRecoveryStatus::Disabled
                                })
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        })
    }

    fn ttl_on(attribute: &'static str) -> Rule {
        mock!(Client::describe_time_to_live).then_output(move || {
            DescribeTimeToLiveOutput::builder()
                .time_to_live_description(
                    TimeToLiveDescription::builder()
                        .attribute_name(attribute)
                        .time_to_live_status(TimeToLiveStatus::Enabled)
                        .build(),
                )
                .build()
        })
    }

    fn tagged() -> Rule {
        mock!(Client::tag_resource).then_output(|| TagResourceOutput::builder().build())
    }

    fn settings_spec(ttl: Option<&str>, pitr: bool) -> DynamoDbSpec {
        let mut v = full_spec();
        set(
            &mut v,
            "/ttlAttribute",
            ttl.map_or(Value::Null, |t| json!(t)),
        );
        set(&mut v, "/pointInTimeRecovery", json!(pitr));
        spec_of(v)
    }

    /// Right after CreateTable, UpdateContinuousBackups answers
    /// ContinuousBackupsUnavailableException ("Backups are being enabled for the table"):
    /// retried until it takes. An unchanged setting is not sent at all.
    /// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateContinuousBackups.html
    #[tokio::test]
    async fn point_in_time_recovery_waits_for_backups_to_be_enabled_and_is_sent_only_when_it_changes()
     {
        let log: Log = Arc::default();
        let (l1, l2) = (log.clone(), log.clone());
        let refused = mock!(Client::update_continuous_backups)
            .sequence()
            .error(|| {
                UpdateContinuousBackupsError::ContinuousBackupsUnavailableException(
                    ContinuousBackupsUnavailableException::builder()
                        .message("Backups are being enabled for the table: orders-v2. Please retry later")
                        .build(),
                )
            })
            .times(2)
            .output(|| UpdateContinuousBackupsOutput::builder().build())
            .build();
        let counted = mock!(Client::describe_time_to_live).then_compute_output(move |_| {
            l1.lock().unwrap().push("DescribeTimeToLive".into());
            DescribeTimeToLiveOutput::builder()
                .time_to_live_description(
                    TimeToLiveDescription::builder()
                        .attribute_name("expiresAt")
                        .time_to_live_status(TimeToLiveStatus::Enabled)
                        .build(),
                )
                .build()
        });
        let provider =
            DynamoDbProvider::new(mock_client(&[&counted, &pitr(false), &refused, &tagged()]));
        provider
            .settings(
                NAME,
                "arn:table",
                &settings_spec(Some("expiresAt"), true),
                &BTreeMap::new(),
            )
            .await
            .unwrap();
        assert_eq!(refused.num_calls(), 3);

        let untouched = mock!(Client::update_continuous_backups).then_compute_output(move |_| {
            l2.lock().unwrap().push("UpdateContinuousBackups".into());
            UpdateContinuousBackupsOutput::builder().build()
        });
        let provider = DynamoDbProvider::new(mock_client(&[
            &ttl_on("expiresAt"),
            &pitr(true),
            &untouched,
            &tagged(),
        ]));
        provider
            .settings(
                NAME,
                "arn:table",
                &settings_spec(Some("expiresAt"), true),
                &BTreeMap::new(),
            )
            .await
            .unwrap();
        assert_eq!(untouched.num_calls(), 0);
    }

    /// A TTL attribute change turns TTL off on the old attribute, then on for the new one;
    /// DynamoDB refuses the second change within the hour, and the error says so.
    /// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html
    #[tokio::test]
    async fn a_ttl_attribute_change_turns_the_old_one_off_first_and_says_when_dynamodb_refuses() {
        let sent: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let s = sent.clone();
        let both = mock!(Client::update_time_to_live).then_compute_output(move |r| {
            let t = r.time_to_live_specification().unwrap();
            s.lock()
                .unwrap()
                .push((t.attribute_name().to_string(), t.enabled()));
            UpdateTimeToLiveOutput::builder().build()
        });
        let provider = DynamoDbProvider::new(mock_client(&[
            &ttl_on("expiresAt"),
            &both,
            &pitr(false),
            &tagged(),
        ]));
        provider
            .settings(
                NAME,
                "arn:table",
                &settings_spec(Some("deleteAfter"), false),
                &BTreeMap::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            *sent.lock().unwrap(),
            [
                ("expiresAt".to_string(), false),
                ("deleteAfter".to_string(), true)
            ]
        );

        let once = mock!(Client::update_time_to_live)
            .sequence()
            .output(|| UpdateTimeToLiveOutput::builder().build())
            .error(|| {
                UpdateTimeToLiveError::LimitExceededException(
                    LimitExceededException::builder()
                        .message(
                            "Time to live has been modified multiple times within a fixed interval",
                        )
                        .build(),
                )
            })
            .build();
        let provider = DynamoDbProvider::new(mock_client(&[
            &ttl_on("expiresAt"),
            &once,
            &pitr(false),
            &tagged(),
        ]));
        let err = provider
            .settings(
                NAME,
                "arn:table",
                &settings_spec(Some("deleteAfter"), false),
                &BTreeMap::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert!(
            err.message.contains("one TTL change per table an hour")
                && err.message.contains("`deleteAfter`"),
            "{}",
            err.message
        );
    }

    /// A switch from on-demand to PROVISIONED sets the capacity of the table and of every
    /// global index in the one UpdateTable call (DynamoDB refuses the switch otherwise).
    /// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
    #[tokio::test]
    async fn a_switch_to_provisioned_sets_every_global_index_capacity_in_the_same_call() {
        use aws_sdk_dynamodb::operation::update_table::{UpdateTableInput, UpdateTableOutput};
        let wanted = spec_of(full_spec());
        let mut on_demand = full_spec();
        set(
            &mut on_demand,
            "/billing",
            json!({"mode": "PAY_PER_REQUEST"}),
        );
        let before = table(&spec_of(on_demand));
        let after = table(&wanted);
        let calls = Arc::new(Mutex::new(0usize));
        let c = calls.clone();
        let describe = mock!(Client::describe_table).then_compute_output(move |_| {
            let mut n = c.lock().unwrap();
            *n += 1;
            DescribeTableOutput::builder()
                .table(if *n == 1 {
                    before.clone()
                } else {
                    after.clone()
                })
                .build()
        });
        let sent: Arc<Mutex<Vec<UpdateTableInput>>> = Arc::default();
        let s = sent.clone();
        let update = mock!(Client::update_table).then_compute_output(move |r| {
            s.lock().unwrap().push(r.clone());
            UpdateTableOutput::builder().build()
        });
        let provider = DynamoDbProvider::new(mock_client(&[
            &describe,
            &update,
            &ttl_on("expiresAt"),
            &pitr(false),
            &tagged(),
        ]));
        let config = json!({"spec": full_spec()});
        let tags = BTreeMap::new();
        let target = Target {
            address: "orders/table",
            name: NAME,
            spec: wanted,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        provider.update(&target, &ids()).await.unwrap();
        let sent = sent.lock().unwrap();
        let switch = sent
            .iter()
            .find(|r| r.billing_mode().is_some())
            .expect("an UpdateTable switching the billing mode");
        assert_eq!(switch.billing_mode(), Some(&DdbBilling::Provisioned));
        assert_eq!(
            switch
                .provisioned_throughput()
                .map(|p| (p.read_capacity_units(), p.write_capacity_units())),
            Some((10, 20))
        );
        let index = switch
            .global_secondary_index_updates()
            .iter()
            .filter_map(|u| u.update())
            .map(|u| {
                (
                    u.index_name().to_string(),
                    u.provisioned_throughput()
                        .map(|p| (p.read_capacity_units(), p.write_capacity_units())),
                )
            })
            .collect::<Vec<_>>();
        assert_eq!(index, [("byCustomer".to_string(), Some((10, 20)))]);
    }
}
