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
