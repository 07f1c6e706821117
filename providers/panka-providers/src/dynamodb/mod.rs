//! DynamoDB tables: keys, billing mode and capacity, global and local secondary indexes, TTL,
//! streams, point-in-time recovery, encryption with a customer key, deletion protection, table
//! class and tags.
//!
//! Outputs: `name`, `arn`, `streamArn`. `tableName`, `partitionKey`, `sortKey` and
//! `localSecondaryIndexes` force replacement (DynamoDB cannot change them); global indexes are
//! added and removed in place, one at a time as DynamoDB requires.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode as DdbBilling, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType, LocalSecondaryIndex, PointInTimeRecoverySpecification,
    Projection as DdbProjection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
    SseSpecification, SseStatus, SseType, StreamSpecification, StreamViewType as DdbStream,
    TableClass as DdbClass, TableDescription, TableStatus, Tag, TimeToLiveSpecification,
    UpdateGlobalSecondaryIndexAction,
};
use backon::{ConstantBuilder, Retryable};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{
    AttributeType, BillingMode, DynamoDbSpec, KeyAttribute, Projection, SecondaryIndex,
    StreamViewType, TableClass,
};

use crate::errors::{aws_error, check_owner, unless_missing};

mod observe;

use observe::observe;

/// A new table is usually active within seconds; a table with indexes, or an index being
/// built over existing items, can take much longer.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The read and write capacity units of a PROVISIONED table whose spec names none.
const DEFAULT_CAPACITY: u32 = 5;
/// How often a table is polled while an index is added or removed.
const POLL: Duration = Duration::from_secs(5);

/// The DynamoDB provider.
#[derive(Clone, Debug)]
pub struct DynamoDbProvider {
    client: Client,
}

impl DynamoDbProvider {
    pub fn new(client: Client) -> Self {
        DynamoDbProvider { client }
    }
}

/// Between tries of UpdateContinuousBackups while backups are being enabled (60 tries: five
/// minutes); the unit tests replay the refusals without the wait.
#[cfg(not(test))]
const PITR_RETRY_DELAY: Duration = Duration::from_secs(5);
#[cfg(test)]
const PITR_RETRY_DELAY: Duration = Duration::from_millis(5);

fn table_name<'a>(t: &'a Target<'_, DynamoDbSpec>) -> &'a str {
    t.spec.table_name.as_deref().unwrap_or(t.name)
}

fn invalid(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> ProviderError {
    ProviderError::with_source(ErrorKind::Invalid, what.to_string(), e)
}

fn scalar(t: AttributeType) -> ScalarAttributeType {
    match t {
        AttributeType::S => ScalarAttributeType::S,
        AttributeType::N => ScalarAttributeType::N,
        AttributeType::B => ScalarAttributeType::B,
    }
}

fn key_schema(
    pk: &KeyAttribute,
    sk: Option<&KeyAttribute>,
) -> Result<Vec<KeySchemaElement>, ProviderError> {
    let mut keys = vec![
        KeySchemaElement::builder()
            .attribute_name(&pk.name)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| invalid("partition key", e))?,
    ];
    if let Some(sk) = sk {
        keys.push(
            KeySchemaElement::builder()
                .attribute_name(&sk.name)
                .key_type(KeyType::Range)
                .build()
                .map_err(|e| invalid("sort key", e))?,
        );
    }
    Ok(keys)
}

/// Every attribute used as a key by the table or an index, once.
fn attribute_definitions(s: &DynamoDbSpec) -> Result<Vec<AttributeDefinition>, ProviderError> {
    let mut seen = BTreeMap::new();
    let mut add = |k: &KeyAttribute| {
        seen.entry(k.name.clone()).or_insert(k.attribute_type);
    };
    add(&s.partition_key);
    if let Some(k) = &s.sort_key {
        add(k);
    }
    for i in s
        .global_secondary_indexes
        .iter()
        .chain(&s.local_secondary_indexes)
    {
        add(&i.partition_key);
        if let Some(k) = &i.sort_key {
            add(k);
        }
    }
    seen.into_iter()
        .map(|(name, t)| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(scalar(t))
                .build()
                .map_err(|e| invalid("attribute definition", e))
        })
        .collect()
}

fn projection(i: &SecondaryIndex) -> DdbProjection {
    let t = match i.projection {
        Projection::All => ProjectionType::All,
        Projection::KeysOnly => ProjectionType::KeysOnly,
        Projection::Include => ProjectionType::Include,
    };
    DdbProjection::builder()
        .projection_type(t)
        .set_non_key_attributes(
            (i.projection == Projection::Include).then(|| i.non_key_attributes.clone()),
        )
        .build()
}

fn throughput(s: &DynamoDbSpec) -> Result<Option<ProvisionedThroughput>, ProviderError> {
    if s.billing.mode != BillingMode::Provisioned {
        return Ok(None);
    }
    ProvisionedThroughput::builder()
        .read_capacity_units(i64::from(
            s.billing.read_capacity.unwrap_or(DEFAULT_CAPACITY),
        ))
        .write_capacity_units(i64::from(
            s.billing.write_capacity.unwrap_or(DEFAULT_CAPACITY),
        ))
        .build()
        .map(Some)
        .map_err(|e| invalid("provisioned throughput", e))
}

fn billing(s: &DynamoDbSpec) -> DdbBilling {
    match s.billing.mode {
        BillingMode::PayPerRequest => DdbBilling::PayPerRequest,
        BillingMode::Provisioned => DdbBilling::Provisioned,
    }
}

fn gsi(s: &DynamoDbSpec, i: &SecondaryIndex) -> Result<GlobalSecondaryIndex, ProviderError> {
    GlobalSecondaryIndex::builder()
        .index_name(&i.name)
        .set_key_schema(Some(key_schema(&i.partition_key, i.sort_key.as_ref())?))
        .projection(projection(i))
        .set_provisioned_throughput(throughput(s)?)
        .build()
        .map_err(|e| invalid("global secondary index", e))
}

fn view_type(v: StreamViewType) -> DdbStream {
    match v {
        StreamViewType::KeysOnly => DdbStream::KeysOnly,
        StreamViewType::NewImage => DdbStream::NewImage,
        StreamViewType::OldImage => DdbStream::OldImage,
        StreamViewType::NewAndOldImages => DdbStream::NewAndOldImages,
    }
}

fn stream(s: &DynamoDbSpec) -> Result<StreamSpecification, ProviderError> {
    StreamSpecification::builder()
        .stream_enabled(s.stream.is_some())
        .set_stream_view_type(s.stream.map(view_type))
        .build()
        .map_err(|e| invalid("stream", e))
}

fn class(s: &DynamoDbSpec) -> DdbClass {
    match s.table_class {
        TableClass::Standard => DdbClass::Standard,
        TableClass::StandardInfrequentAccess => DdbClass::StandardInfrequentAccess,
    }
}

fn tags(t: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    t.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid("tag", e))
        })
        .collect()
}

/// The ids and outputs of a table: `streamArn` only while its stream is on. `kms_key` is the
/// spec's spelling of the table's KMS key, recorded with the key ARN DynamoDB reports so a read
/// can tell that ARN is the key the spec named (see [`crate::kms_spelling`]).
fn outcome(d: &TableDescription, kms_key: Option<&str>) -> Outcome {
    let name = d.table_name().unwrap_or_default().to_string();
    let mut physical_ids = BTreeMap::from([("table".to_string(), name.clone())]);
    if let Some(arn) = table_key_arn(d) {
        physical_ids.insert("kmsKeyArn".to_string(), arn.to_string());
        if let Some(k) = kms_key {
            physical_ids.insert("kmsKey".to_string(), k.to_string());
        }
    }
    let mut outputs = BTreeMap::from([("name".to_string(), name)]);
    if let Some(arn) = d.table_arn().filter(|a| !a.is_empty()) {
        outputs.insert("arn".to_string(), arn.to_string());
    }
    let streaming = d.stream_specification().is_some_and(|s| s.stream_enabled());
    if let Some(arn) = d.latest_stream_arn().filter(|a| streaming && !a.is_empty()) {
        outputs.insert("streamArn".to_string(), arn.to_string());
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

/// The customer-managed KMS key the table is encrypted with, as DynamoDB reports it (an ARN).
fn table_key_arn(d: &TableDescription) -> Option<&str> {
    d.sse_description()
        .filter(|s| {
            matches!(
                s.status(),
                Some(SseStatus::Enabled | SseStatus::Enabling | SseStatus::Updating)
            )
        })
        .and_then(|s| s.kms_master_key_arn())
        .filter(|a| !a.is_empty())
}

impl DynamoDbProvider {
    async fn describe(&self, name: &str) -> Result<Option<TableDescription>, ProviderError> {
        Ok(unless_missing(
            self.client.describe_table().table_name(name).send().await,
            |s| s.is_resource_not_found_exception(),
            format!("reading DynamoDB table {name}"),
        )?
        .and_then(|r| r.table().cloned()))
    }

    /// Refuses a table that does not carry the component's tags ([`check_owner`]).
    async fn check_table_owner(
        &self,
        d: &TableDescription,
        t: &Target<'_, DynamoDbSpec>,
    ) -> Result<(), ProviderError> {
        let name = d.table_name().unwrap_or(table_name(t));
        let arn = d.table_arn().unwrap_or_default();
        let mut tags = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| aws_error(format!("reading tags of DynamoDB table {name}"), e))?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
            match page.next_token() {
                Some(token) => next = Some(token.to_string()),
                None => break,
            }
        }
        check_owner(
            &format!("DynamoDB table {name}"),
            t.address,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            t.tags,
        )
    }

    /// Point-in-time recovery as the spec says, when it is not so already. Right after a
    /// table is created, DynamoDB answers `ContinuousBackupsUnavailableException` while it
    /// turns continuous backups on: retried for up to five minutes, as
    /// terraform-provider-aws does (internal/service/dynamodb/table.go, updatePITR).
    async fn ensure_point_in_time_recovery(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        let now = self
            .client
            .describe_continuous_backups()
            .table_name(name)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the backups of {name}"), e))?;
        let on = now
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| s.as_str() == "ENABLED");
        if on == enabled {
            return Ok(());
        }
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(enabled)
            .build()
            .map_err(|e| invalid("point-in-time recovery", e))?;
        let update = || async {
            self.client
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec.clone())
                .send()
                .await
        };
        update
            .retry(
                ConstantBuilder::default()
                    .with_delay(PITR_RETRY_DELAY)
                    .with_max_times(60),
            )
            .sleep(tokio::time::sleep)
            .when(|e| {
                e.as_service_error()
                    .is_some_and(|s| s.is_continuous_backups_unavailable_exception())
            })
            .await
            .map_err(|e| aws_error(format!("setting point-in-time recovery of {name}"), e))?;
        Ok(())
    }

    /// Waits until the table and every index are ACTIVE.
    async fn wait_active(&self, name: &str) -> Result<TableDescription, ProviderError> {
        let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
        loop {
            let d = self.describe(name).await?.ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::NotFound,
                    format!("DynamoDB table {name} vanished while becoming active"),
                )
            })?;
            let indexes_ready = d
                .global_secondary_indexes()
                .iter()
                .all(|i| i.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
            if d.table_status() == Some(&TableStatus::Active) && indexes_ready {
                return Ok(d);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "DynamoDB table {name} not active after {} min",
                        ACTIVE_TIMEOUT.as_secs() / 60
                    ),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// TTL, point-in-time recovery and tags: set after create and on every update.
    async fn settings(
        &self,
        name: &str,
        arn: &str,
        s: &DynamoDbSpec,
        t: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the TTL of {name}"), e))?;
        let current = ttl.time_to_live_description();
        let enabled = current
            .and_then(|d| d.time_to_live_status())
            .is_some_and(|s| s.as_str() == "ENABLED" || s.as_str() == "ENABLING");
        let attribute = current.and_then(|d| d.attribute_name()).map(str::to_string);
        // TTL on another attribute is turned off first: DynamoDB changes the attribute only
        // of a table whose TTL is off.
        let mut changes: Vec<(String, bool)> = Vec::new();
        match (&s.ttl_attribute, enabled, attribute) {
            (Some(a), true, Some(now)) if now == *a => {}
            (Some(a), true, Some(now)) => {
                changes.push((now, false));
                changes.push((a.clone(), true));
            }
            (Some(a), _, _) => changes.push((a.clone(), true)),
            (None, true, Some(now)) => changes.push((now, false)),
            (None, _, _) => {}
        }
        let mut turned_off: Option<String> = None;
        for (attribute, on) in changes {
            let sent = self
                .client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&attribute)
                        .enabled(on)
                        .build()
                        .map_err(|e| invalid("TTL", e))?,
                )
                .send()
                .await;
            match sent {
                Ok(_) => {}
                // DynamoDB takes one TTL change per table in an hour ("Time to live has been
                // modified multiple times within a fixed interval"): the second half of an
                // attribute change waits for the next apply after that.
                // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html
                Err(e) if turned_off.is_some() && on => {
                    return Err(ProviderError::with_source(
                        ErrorKind::Conflict,
                        format!(
                            "DynamoDB table {name}: TTL on `{}` was turned off, but DynamoDB takes one TTL change per table an hour; apply again in an hour to turn it on for `{attribute}`",
                            turned_off.unwrap_or_default()
                        ),
                        e,
                    ));
                }
                Err(e) => return Err(aws_error(format!("setting the TTL of {name}"), e)),
            }
            if !on {
                turned_off = Some(attribute);
            }
        }
        self.ensure_point_in_time_recovery(name, s.point_in_time_recovery)
            .await?;
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags(t)?))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging DynamoDB table {name}"), e))?;
        Ok(())
    }
}

impl KindProvider for DynamoDbProvider {
    type Spec = DynamoDbSpec;
    const KIND: &'static str = "DynamoDB";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    /// A PROVISIONED table whose spec names no capacity was given panka's default
    /// ([`DEFAULT_CAPACITY`]): DynamoDB reports the number, the spec leaves it out, and that is
    /// no drift. Any other number is. (The spec has no autoscaling, so no capacity is AWS's to
    /// change otherwise.)
    fn managed_by_aws(recorded: &DynamoDbSpec, live: &DynamoDbSpec) -> Vec<&'static str> {
        let provisioned = recorded.billing.mode == BillingMode::Provisioned
            && live.billing.mode == BillingMode::Provisioned;
        let mut managed = Vec::new();
        if provisioned
            && recorded.billing.read_capacity.is_none()
            && live.billing.read_capacity == Some(DEFAULT_CAPACITY)
        {
            managed.push("billing.readCapacity");
        }
        if provisioned
            && recorded.billing.write_capacity.is_none()
            && live.billing.write_capacity == Some(DEFAULT_CAPACITY)
        {
            managed.push("billing.writeCapacity");
        }
        managed
    }

    async fn create(&self, t: &Target<'_, DynamoDbSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let name = table_name(t);
        // A table of this name that exists already is this component's only when it carries the
        // component's tags (CreateTable sets them with the table, so a create of ours whose
        // answer was lost passes; anybody else's table is refused, never modified).
        let mut existed = true;
        if self.describe(name).await?.is_none() {
            let gsis = s
                .global_secondary_indexes
                .iter()
                .map(|i| gsi(s, i))
                .collect::<Result<Vec<_>, _>>()?;
            let lsis = s
                .local_secondary_indexes
                .iter()
                .map(|i| {
                    LocalSecondaryIndex::builder()
                        .index_name(&i.name)
                        .set_key_schema(Some(key_schema(&s.partition_key, i.sort_key.as_ref())?))
                        .projection(projection(i))
                        .build()
                        .map_err(|e| invalid("local secondary index", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let created = self
                .client
                .create_table()
                .table_name(name)
                .set_attribute_definitions(Some(attribute_definitions(s)?))
                .set_key_schema(Some(key_schema(&s.partition_key, s.sort_key.as_ref())?))
                .billing_mode(billing(s))
                .set_provisioned_throughput(throughput(s)?)
                .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
                .set_local_secondary_indexes((!lsis.is_empty()).then_some(lsis))
                .stream_specification(stream(s)?)
                .sse_specification(
                    SseSpecification::builder()
                        .enabled(s.kms_key_id.is_some())
                        .set_sse_type(s.kms_key_id.as_ref().map(|_| SseType::Kms))
                        .set_kms_master_key_id(s.kms_key_id.clone())
                        .build(),
                )
                .table_class(class(s))
                .deletion_protection_enabled(s.deletion_protection)
                .set_tags(Some(tags(t.tags)?))
                .send()
                .await;
            match created {
                Ok(_) => existed = false,
                // Made meanwhile (by a try of ours whose answer was lost, or by somebody else):
                // its tags say whose it is, below.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_in_use_exception()) => {}
                Err(e) => return Err(aws_error(format!("creating DynamoDB table {name}"), e)),
            }
        }
        self.client
            .wait_until_table_exists()
            .table_name(name)
            .wait(ACTIVE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for DynamoDB table {name} to become active"),
                    e,
                )
            })?;
        let d = self.wait_active(name).await?;
        if existed {
            self.check_table_owner(&d, t).await?;
        }
        self.settings(name, d.table_arn().unwrap_or_default(), s, t.tags)
            .await?;
        Ok(outcome(&d, s.kms_key_id.as_deref()))
    }

    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<DynamoDbSpec>>, ProviderError> {
        let name = id.ids.get("table").map_or(id.name, String::as_str);
        let Some(d) = self.describe(name).await? else {
            return Ok(None);
        };
        let (ttl, backups) = tokio::join!(
            self.client.describe_time_to_live().table_name(name).send(),
            self.client
                .describe_continuous_backups()
                .table_name(name)
                .send(),
        );
        // A table deleted between the calls is gone.
        let Some(ttl) = unless_missing(
            ttl,
            |e| e.is_resource_not_found_exception(),
            format!("reading the TTL of DynamoDB table {name}"),
        )?
        else {
            return Ok(None);
        };
        let Some(backups) = unless_missing(
            backups,
            |e| e.is_table_not_found_exception(),
            format!("reading point-in-time recovery of DynamoDB table {name}"),
        )?
        else {
            return Ok(None);
        };
        observe(
            id.name,
            id.ids,
            &d,
            ttl.time_to_live_description(),
            backups.continuous_backups_description(),
        )
        .map(Some)
    }

    async fn update(
        &self,
        t: &Target<'_, DynamoDbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let name = table_name(t);
        let current = self.describe(name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("DynamoDB table {name} does not exist"),
            )
        })?;
        // Table-level settings first.
        let stream_now = current
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_string());
        let stream_wanted = s.stream.map(|v| view_type(v).as_str().to_string());
        // DynamoDB refuses an update that changes nothing, so only what differs is sent.
        let mut req = self.client.update_table().table_name(name);
        let mut changed = false;
        let billing_now = current
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .cloned()
            .unwrap_or(DdbBilling::Provisioned);
        let throughput_now = current
            .provisioned_throughput()
            .map(|p| (p.read_capacity_units(), p.write_capacity_units()));
        let wanted_throughput = throughput(s)?;
        if billing_now != billing(s) {
            req = req.billing_mode(billing(s));
            changed = true;
            // Switching to PROVISIONED sets every global index's capacity in the same call:
            // DynamoDB refuses the switch otherwise ("ProvisionedThroughput must be specified
            // for index"). https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
            if let Some(p) = &wanted_throughput {
                for index in current
                    .global_secondary_indexes()
                    .iter()
                    .filter_map(|i| i.index_name())
                    .filter(|i| s.global_secondary_indexes.iter().any(|w| w.name == *i))
                {
                    req = req.global_secondary_index_updates(
                        GlobalSecondaryIndexUpdate::builder()
                            .update(
                                UpdateGlobalSecondaryIndexAction::builder()
                                    .index_name(index)
                                    .provisioned_throughput(p.clone())
                                    .build()
                                    .map_err(|e| invalid("index", e))?,
                            )
                            .build(),
                    );
                }
            }
        }
        if let Some(p) = &wanted_throughput
            && (billing_now != billing(s)
                || throughput_now
                    != Some((
                        Some(p.read_capacity_units()),
                        Some(p.write_capacity_units()),
                    )))
        {
            req = req.provisioned_throughput(p.clone());
            changed = true;
        }
        let class_now = current
            .table_class_summary()
            .and_then(|c| c.table_class())
            .cloned()
            .unwrap_or(DdbClass::Standard);
        if class_now != class(s) {
            req = req.table_class(class(s));
            changed = true;
        }
        if current.deletion_protection_enabled().unwrap_or(false) != s.deletion_protection {
            req = req.deletion_protection_enabled(s.deletion_protection);
            changed = true;
        }
        if stream_now != stream_wanted {
            changed = true;
            if stream_now.is_some() && stream_wanted.is_some() {
                // A stream's view type cannot change in place: turn it off, then on again.
                self.client
                    .update_table()
                    .table_name(name)
                    .stream_specification(
                        StreamSpecification::builder()
                            .stream_enabled(false)
                            .build()
                            .map_err(|e| invalid("stream", e))?,
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("turning off the stream of {name}"), e))?;
                self.wait_active(name).await?;
            }
            req = req.stream_specification(stream(s)?);
        }
        if changed {
            req.send()
                .await
                .map_err(|e| aws_error(format!("updating DynamoDB table {name}"), e))?;
            self.wait_active(name).await?;
        }

        // Global indexes: DynamoDB takes one index creation or deletion per update.
        let live: BTreeSet<String> = current
            .global_secondary_indexes()
            .iter()
            .filter_map(|i| i.index_name().map(str::to_string))
            .collect();
        let wanted: BTreeSet<String> = s
            .global_secondary_indexes
            .iter()
            .map(|i| i.name.clone())
            .collect();
        for gone in live.difference(&wanted) {
            self.client
                .update_table()
                .table_name(name)
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .delete(
                            DeleteGlobalSecondaryIndexAction::builder()
                                .index_name(gone)
                                .build()
                                .map_err(|e| invalid("index", e))?,
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("deleting index {gone} of {name}"), e))?;
            self.wait_active(name).await?;
        }
        for i in s
            .global_secondary_indexes
            .iter()
            .filter(|i| !live.contains(&i.name))
        {
            self.client
                .update_table()
                .table_name(name)
                .set_attribute_definitions(Some(attribute_definitions(s)?))
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .create(
                            CreateGlobalSecondaryIndexAction::builder()
                                .index_name(&i.name)
                                .set_key_schema(Some(key_schema(
                                    &i.partition_key,
                                    i.sort_key.as_ref(),
                                )?))
                                .projection(projection(i))
                                .set_provisioned_throughput(throughput(s)?)
                                .build()
                                .map_err(|e| invalid("index", e))?,
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("adding index {} to {name}", i.name), e))?;
            self.wait_active(name).await?;
        }
        let d = self.wait_active(name).await?;
        self.settings(name, d.table_arn().unwrap_or_default(), s, t.tags)
            .await?;
        Ok(outcome(&d, s.kms_key_id.as_deref()))
    }

    async fn delete(
        &self,
        name: &str,
        spec: Option<DynamoDbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let name = spec
            .as_ref()
            .and_then(|s| s.table_name.clone())
            .unwrap_or_else(|| name.to_string());
        let Some(d) = self.describe(&name).await? else {
            return Ok(());
        };
        if d.deletion_protection_enabled() == Some(true) {
            return Err(ProviderError::new(
                ErrorKind::Conflict,
                format!(
                    "DynamoDB table {name} has deletion protection on; set `deletionProtection: false` and apply before deleting it"
                ),
            ));
        }
        match self.client.delete_table().table_name(&name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(aws_error(format!("deleting DynamoDB table {name}"), e)),
        }
        self.client
            .wait_until_table_not_exists()
            .table_name(&name)
            .wait(DELETED_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for DynamoDB table {name} to be deleted"),
                    e,
                )
            })?;
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, DynamoDbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(table_name(t)).await?.map(|d| {
            format!(
                "{} · {} items",
                d.table_status().map(|s| s.as_str()).unwrap_or("unknown"),
                d.item_count().unwrap_or(0)
            )
        }))
    }

    async fn find(&self, t: &Target<'_, DynamoDbSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(d) = self.describe(table_name(t)).await? else {
            return Ok(None);
        };
        self.check_table_owner(&d, t).await?;
        Ok(Some(outcome(&d, t.spec.kms_key_id.as_deref())))
    }
}

#[cfg(test)]
mod tests;
