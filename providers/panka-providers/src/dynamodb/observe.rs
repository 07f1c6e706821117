//! The table as DynamoDB reports it, in the form of its spec.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    BillingMode as DdbBilling, KeySchemaElement, KeyType, Projection as DdbProjection,
    ProjectionType, ScalarAttributeType, StreamViewType as DdbStream, TableClass as DdbClass,
    TableDescription, TimeToLiveDescription, TimeToLiveStatus,
};
use aws_sdk_dynamodb::types::{ContinuousBackupsDescription, PointInTimeRecoveryStatus};
use panka_engine::{ErrorKind, Observation, ProviderError};
use panka_format::kinds::{
    AttributeType, BillingMode, DynamoDbBilling, DynamoDbSpec, KeyAttribute, Projection,
    SecondaryIndex, StreamViewType, TableClass,
};

use super::{outcome, table_key_arn};

fn attribute_type(t: &ScalarAttributeType) -> Result<AttributeType, ProviderError> {
    match t {
        ScalarAttributeType::S => Ok(AttributeType::S),
        ScalarAttributeType::N => Ok(AttributeType::N),
        ScalarAttributeType::B => Ok(AttributeType::B),
        other => Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "DynamoDB reports attribute type {} panka does not know",
                other.as_str()
            ),
        )),
    }
}

/// The hash and range keys of a key schema, typed by the table's attribute definitions.
fn keys(
    schema: &[KeySchemaElement],
    types: &BTreeMap<&str, AttributeType>,
    what: &str,
) -> Result<(KeyAttribute, Option<KeyAttribute>), ProviderError> {
    let key = |kind: KeyType| -> Result<Option<KeyAttribute>, ProviderError> {
        schema
            .iter()
            .find(|k| k.key_type() == &kind)
            .map(|k| {
                let name = k.attribute_name();
                let attribute_type = types.get(name).copied().ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("{what}: DynamoDB reports key {name} without an attribute type"),
                    )
                })?;
                Ok(KeyAttribute {
                    name: name.to_string(),
                    attribute_type,
                })
            })
            .transpose()
    };
    let partition = key(KeyType::Hash)?.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!("{what}: DynamoDB reports no partition key"),
        )
    })?;
    Ok((partition, key(KeyType::Range)?))
}

/// An index as DynamoDB describes it, in the form of its spec: the inverse of
/// [`projection`](super::projection) and [`key_schema`](super::key_schema).
fn index(
    name: Option<&str>,
    schema: &[KeySchemaElement],
    p: Option<&DdbProjection>,
    types: &BTreeMap<&str, AttributeType>,
) -> Result<SecondaryIndex, ProviderError> {
    let name = name.unwrap_or_default().to_string();
    let (partition_key, sort_key) = keys(schema, types, &format!("index {name}"))?;
    let projection = match p.and_then(|p| p.projection_type()) {
        Some(ProjectionType::KeysOnly) => Projection::KeysOnly,
        Some(ProjectionType::Include) => Projection::Include,
        _ => Projection::All,
    };
    let non_key_attributes = match projection {
        Projection::Include => p
            .map(|p| p.non_key_attributes().to_vec())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(SecondaryIndex {
        name,
        partition_key,
        sort_key,
        projection,
        non_key_attributes,
    })
}

fn capacity(units: Option<i64>) -> Option<u32> {
    units.map(|u| u32::try_from(u).unwrap_or(u32::MAX))
}

/// The table as DynamoDB reports it (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups),
/// in the form of its spec: the inverse of the CreateTable request and
/// [`DynamoDbProvider::settings`](super::DynamoDbProvider::settings). `name` is the component's AWS
/// name (a table of that name has no `tableName`), `ids` the recorded ids (the spelling of the KMS
/// key).
pub(super) fn observe(
    name: &str,
    ids: &BTreeMap<String, String>,
    d: &TableDescription,
    ttl: Option<&TimeToLiveDescription>,
    backups: Option<&ContinuousBackupsDescription>,
) -> Result<Observation<DynamoDbSpec>, ProviderError> {
    let table = d.table_name().unwrap_or(name);
    let types = d
        .attribute_definitions()
        .iter()
        .map(|a| Ok((a.attribute_name(), attribute_type(a.attribute_type())?)))
        .collect::<Result<BTreeMap<_, _>, ProviderError>>()?;
    let (partition_key, sort_key) = keys(d.key_schema(), &types, &format!("table {table}"))?;
    // A table created PROVISIONED without naming a mode has no billing summary.
    let mode = match d.billing_mode_summary().and_then(|b| b.billing_mode()) {
        Some(DdbBilling::PayPerRequest) => BillingMode::PayPerRequest,
        _ => BillingMode::Provisioned,
    };
    let provisioned = d
        .provisioned_throughput()
        .filter(|_| mode == BillingMode::Provisioned);
    let global_secondary_indexes = d
        .global_secondary_indexes()
        .iter()
        .map(|i| index(i.index_name(), i.key_schema(), i.projection(), &types))
        .collect::<Result<Vec<_>, _>>()?;
    let local_secondary_indexes = d
        .local_secondary_indexes()
        .iter()
        .map(|i| index(i.index_name(), i.key_schema(), i.projection(), &types))
        .collect::<Result<Vec<_>, _>>()?;
    let ttl_attribute = ttl
        .filter(|t| {
            matches!(
                t.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
        })
        .and_then(|t| t.attribute_name())
        .map(str::to_string);
    let stream = d
        .stream_specification()
        .filter(|s| s.stream_enabled())
        .and_then(|s| s.stream_view_type())
        .and_then(|v| match v {
            DdbStream::KeysOnly => Some(StreamViewType::KeysOnly),
            DdbStream::NewImage => Some(StreamViewType::NewImage),
            DdbStream::OldImage => Some(StreamViewType::OldImage),
            DdbStream::NewAndOldImages => Some(StreamViewType::NewAndOldImages),
            _ => None,
        });
    let point_in_time_recovery = backups
        .and_then(|b| b.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        == Some(&PointInTimeRecoveryStatus::Enabled);
    let kms_key_id = table_key_arn(d).and_then(|arn| crate::kms_spelling(ids, arn));
    let table_class = match d.table_class_summary().and_then(|c| c.table_class()) {
        Some(DdbClass::StandardInfrequentAccess) => TableClass::StandardInfrequentAccess,
        _ => TableClass::Standard,
    };
    let spec = DynamoDbSpec {
        table_name: (table != name).then(|| table.to_string()),
        partition_key,
        sort_key,
        billing: DynamoDbBilling {
            mode,
            read_capacity: capacity(provisioned.and_then(|p| p.read_capacity_units())),
            write_capacity: capacity(provisioned.and_then(|p| p.write_capacity_units())),
        },
        global_secondary_indexes,
        local_secondary_indexes,
        ttl_attribute,
        stream,
        point_in_time_recovery,
        kms_key_id: kms_key_id.clone(),
        deletion_protection: d.deletion_protection_enabled().unwrap_or(false),
        table_class,
        depends_on: Vec::new(),
    };
    Ok(Observation::new(outcome(d, kms_key_id.as_deref()), spec).unobserved(&["dependsOn"]))
}
