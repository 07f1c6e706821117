//! `panka backend init`: creates the state bucket and the lock table, or checks existing ones
//! and puts back any setting that drifted. Idempotent.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, VersioningConfiguration,
};

use crate::error::BackendError;

/// Days history objects are kept before the bucket's lifecycle rule expires them.
pub const HISTORY_DAYS: i32 = 365;

/// Days superseded versions of state objects are kept.
pub const NONCURRENT_DAYS: i32 = 90;

/// How long to wait for a new lock table to become ACTIVE: DynamoDB usually takes seconds.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// What `backend init` found and did, one line per setting.
#[derive(Debug, Default)]
pub struct InitReport {
    pub lines: Vec<String>,
}

impl InitReport {
    fn ok(&mut self, what: impl Into<String>) {
        self.lines.push(format!("✓ {}", what.into()));
    }
    fn fixed(&mut self, what: impl Into<String>) {
        self.lines.push(format!("~ {}", what.into()));
    }
    fn created(&mut self, what: impl Into<String>) {
        self.lines.push(format!("+ {}", what.into()));
    }
}

fn build_err(e: aws_smithy_types::error::operation::BuildError) -> BackendError {
    BackendError::aws("building a request", e)
}

/// Ensures the state bucket exists with versioning, encryption, public access blocked and the
/// lifecycle rules for history and old versions.
///
/// # Errors
/// Any AWS call that fails.
pub async fn ensure_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    report: &mut InitReport,
) -> Result<(), BackendError> {
    let exists = s3.head_bucket().bucket(bucket).send().await.is_ok();
    if exists {
        report.ok(format!("bucket {bucket} exists"));
    } else {
        let mut create = s3.create_bucket().bucket(bucket);
        // us-east-1 is the one region that takes no location constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        create.send().await.map_err(|e| {
            BackendError::aws(format!("creating bucket {bucket}"), e.into_service_error())
        })?;
        report.created(format!("bucket {bucket} in {region}"));
    }

    // An unreadable answer (some S3-compatible stores send another XML root) is treated as
    // "not known to be enabled": the setting is written again, which is idempotent.
    let versioning = s3.get_bucket_versioning().bucket(bucket).send().await;
    let enabled = versioning
        .as_ref()
        .is_ok_and(|v| v.status() == Some(&BucketVersioningStatus::Enabled));
    if enabled {
        report.ok("versioning enabled");
    } else {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| BackendError::aws("enabling bucket versioning", e.into_service_error()))?;
        match versioning {
            Err(e) if exists => report.fixed(format!(
                "versioning enabled (the current setting could not be read: {})",
                error_chain(&e)
            )),
            _ => report_change(report, exists, "versioning enabled"),
        }
    }

    let encrypted = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|r| {
            r.server_side_encryption_configuration()
                .map(|c| !c.rules().is_empty())
        })
        .unwrap_or(false);
    if encrypted {
        report.ok("default encryption on");
    } else {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(build_err)?,
            )
            .bucket_key_enabled(true)
            .build();
        s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| {
                BackendError::aws("turning on bucket encryption", e.into_service_error())
            })?;
        report_change(report, exists, "default encryption on (AES256)");
    }

    let blocked = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|r| r.public_access_block_configuration().cloned())
        .is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        });
    if blocked {
        report.ok("public access blocked");
    } else {
        s3.put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| BackendError::aws("blocking public access", e.into_service_error()))?;
        report_change(report, exists, "public access blocked");
    }

    let rules = s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .map(|r| r.rules().to_vec())
        .unwrap_or_default();
    let has = |id: &str| {
        rules
            .iter()
            .any(|r| r.id() == Some(id) && r.status() == &ExpirationStatus::Enabled)
    };
    if has("panka-history") && has("panka-noncurrent-versions") {
        report.ok("lifecycle rules for history and old versions");
    } else {
        let history = LifecycleRule::builder()
            .id("panka-history")
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .tag(
                        Tag::builder()
                            .key("panka:object")
                            .value("history")
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            )
            .expiration(LifecycleExpiration::builder().days(HISTORY_DAYS).build())
            .build()
            .map_err(build_err)?;
        let noncurrent = LifecycleRule::builder()
            .id("panka-noncurrent-versions")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(NONCURRENT_DAYS)
                    .build(),
            )
            .build()
            .map_err(build_err)?;
        let mut all: Vec<LifecycleRule> = rules
            .into_iter()
            .filter(|r| !matches!(r.id(), Some("panka-history" | "panka-noncurrent-versions")))
            .collect();
        all.push(history);
        all.push(noncurrent);
        s3.put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(all))
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| BackendError::aws("setting lifecycle rules", e.into_service_error()))?;
        report_change(
            report,
            exists,
            format!(
                "lifecycle: history expires after {HISTORY_DAYS} days, old versions after {NONCURRENT_DAYS}"
            ),
        );
    }
    Ok(())
}

fn report_change(report: &mut InitReport, existed: bool, what: impl Into<String>) {
    if existed {
        report.fixed(format!("{} (had drifted)", what.into()));
    } else {
        report.created(what);
    }
}

/// Ensures the lock table exists with its keys and TTL on `expiresAt`.
///
/// # Errors
/// Any AWS call that fails, or a table with other keys.
pub async fn ensure_lock_table(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    report: &mut InitReport,
) -> Result<(), BackendError> {
    match ddb.describe_table().table_name(table).send().await {
        Ok(desc) => {
            let keys: Vec<(String, String)> = desc
                .table()
                .map(|t| {
                    t.key_schema()
                        .iter()
                        .map(|k| {
                            (
                                k.attribute_name().to_string(),
                                k.key_type().as_str().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let expected = vec![
                ("lockScope".to_string(), "HASH".to_string()),
                ("lockName".to_string(), "RANGE".to_string()),
            ];
            if keys != expected {
                return Err(BackendError::aws(
                    format!("checking lock table {table}"),
                    std::io::Error::other(format!(
                        "table {table} has keys {keys:?}; panka needs lockScope (HASH) and lockName (RANGE)"
                    )),
                ));
            }
            report.ok(format!("lock table {table} exists"));
        }
        Err(e) => {
            let e = e.into_service_error();
            if !e.is_resource_not_found_exception() {
                return Err(BackendError::aws(
                    format!("describing lock table {table}"),
                    e,
                ));
            }
            let attr = |name: &str| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_err)
            };
            let key = |name: &str, kind: KeyType| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .map_err(build_err)
            };
            ddb.create_table()
                .table_name(table)
                .attribute_definitions(attr("lockScope")?)
                .attribute_definitions(attr("lockName")?)
                .key_schema(key("lockScope", KeyType::Hash)?)
                .key_schema(key("lockName", KeyType::Range)?)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
                .map_err(|e| {
                    BackendError::aws(
                        format!("creating lock table {table}"),
                        e.into_service_error(),
                    )
                })?;
            ddb.wait_until_table_exists()
                .table_name(table)
                .wait(TABLE_ACTIVE_TIMEOUT)
                .await
                .map_err(|e| {
                    BackendError::aws(
                        format!("waiting for lock table {table} to become active"),
                        e,
                    )
                })?;
            report.created(format!("lock table {table} (on-demand)"));
        }
    }
    let ttl = ddb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| BackendError::aws("reading table TTL", e.into_service_error()))?;
    let on = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some("expiresAt")
            && matches!(
                d.time_to_live_status().map(|s| s.as_str()),
                Some("ENABLED" | "ENABLING")
            )
    });
    if on {
        report.ok("TTL on expiresAt");
    } else {
        ddb.update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expiresAt")
                    .enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| BackendError::aws("turning on TTL", e.into_service_error()))?;
        report.created("TTL on expiresAt");
    }
    Ok(())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
