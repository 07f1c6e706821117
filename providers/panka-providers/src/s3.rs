//! S3 buckets: versioning, default encryption, public access block, lifecycle rules, CORS and tags.
//!
//! Outputs: `name`, `arn`, `regionalDomainName`. `bucketName` forces replacement; every other
//! field is applied in place by writing the whole setting again (each call is idempotent).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::client::Waiters;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging, Transition, TransitionStorageClass,
    VersioningConfiguration,
};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{PublicAccess, S3EncryptionType, S3Spec, StorageClass};

use crate::errors::{aws_error, until_visible};

/// How long to wait for a new bucket to answer HEAD: S3 usually takes well under a second.
const BUCKET_EXISTS_TIMEOUT: Duration = Duration::from_secs(120);

/// The S3 provider.
#[derive(Clone, Debug)]
pub struct S3Provider {
    client: Client,
}

impl S3Provider {
    pub fn new(client: Client) -> Self {
        S3Provider { client }
    }
}

fn bucket_name<'a>(t: &'a Target<'_, S3Spec>) -> &'a str {
    t.spec.bucket_name.as_deref().unwrap_or(t.name)
}

fn outcome(bucket: &str, region: &str) -> Outcome {
    Outcome {
        physical_ids: BTreeMap::from([("bucket".to_string(), bucket.to_string())]),
        outputs: BTreeMap::from([
            ("name".to_string(), bucket.to_string()),
            ("arn".to_string(), format!("arn:aws:s3:::{bucket}")),
            (
                "regionalDomainName".to_string(),
                format!("{bucket}.s3.{region}.amazonaws.com"),
            ),
        ]),
    }
}

fn build<T>(r: Result<T, aws_sdk_s3::error::BuildError>) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "building an S3 request", e))
}

impl KindProvider for S3Provider {
    type Spec = S3Spec;
    const KIND: &'static str = "S3";

    async fn create(&self, t: &Target<'_, S3Spec>) -> Result<Outcome, ProviderError> {
        let bucket = bucket_name(t);
        let mut req = self.client.create_bucket().bucket(bucket);
        // us-east-1 is the one region that takes no location constraint.
        if t.region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(t.region))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) => {
                let owned = e
                    .as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you());
                if !owned {
                    return Err(aws_error(format!("creating S3 bucket {bucket}"), e));
                }
            }
        }
        self.client
            .wait_until_bucket_exists()
            .bucket(bucket)
            .wait(BUCKET_EXISTS_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for S3 bucket {bucket} to exist"),
                    e,
                )
            })?;
        self.apply_settings(t, bucket, true).await?;
        Ok(outcome(bucket, t.region))
    }

    async fn read(
        &self,
        t: &Target<'_, S3Spec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let bucket = bucket_name(t);
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => {}
            Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(aws_error(format!("reading S3 bucket {bucket}"), e)),
        }
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Ok(v) = self
            .client
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
        {
            spec["versioning"] =
                serde_json::Value::Bool(v.status() == Some(&BucketVersioningStatus::Enabled));
        }
        let pab = self
            .client
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .and_then(|r| r.public_access_block_configuration().cloned());
        let blocked = pab.is_some_and(|c| {
            c.block_public_acls() == Some(true) && c.restrict_public_buckets() == Some(true)
        });
        spec["publicAccess"] = serde_json::json!(if blocked { "blocked" } else { "allowed" });
        Ok(Some(Observed {
            outcome: outcome(bucket, t.region),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, S3Spec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let bucket = bucket_name(t);
        self.apply_settings(t, bucket, false).await?;
        Ok(outcome(bucket, t.region))
    }

    async fn delete(
        &self,
        name: &str,
        spec: Option<S3Spec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let bucket = spec
            .as_ref()
            .and_then(|s| s.bucket_name.clone())
            .unwrap_or_else(|| name.to_string());
        let force = spec.as_ref().is_some_and(|s| s.force_destroy);
        match self.client.head_bucket().bucket(&bucket).send().await {
            Ok(_) => {}
            Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(aws_error(format!("reading S3 bucket {bucket}"), e)),
        }
        if force {
            self.empty(&bucket).await?;
        }
        match self.client.delete_bucket().bucket(&bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => Ok(()),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 409) => {
                Err(ProviderError::with_source(
                    ErrorKind::Conflict,
                    format!(
                        "S3 bucket {bucket} is not empty; empty it, or set `forceDestroy: true` to let panka delete its objects"
                    ),
                    e,
                ))
            }
            Err(e) => Err(aws_error(format!("deleting S3 bucket {bucket}"), e)),
        }
    }

    async fn find(&self, t: &Target<'_, S3Spec>) -> Result<Option<Outcome>, ProviderError> {
        let bucket = bucket_name(t);
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => {}
            Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(aws_error(format!("looking for S3 bucket {bucket}"), e)),
        }
        // Adopt only a bucket panka created for this stack and component (or one not yet tagged:
        // the create finished but the tagging did not).
        let tags = match self.client.get_bucket_tagging().bucket(bucket).send().await {
            Ok(r) => r
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect::<BTreeMap<_, _>>(),
            Err(_) => BTreeMap::new(),
        };
        let ours = ["panka:stack", "panka:environment", "panka:component"]
            .iter()
            .all(|k| tags.get(*k).is_none_or(|v| t.tags.get(*k) == Some(v)));
        if !ours {
            return Err(ProviderError::new(
                ErrorKind::Conflict,
                format!(
                    "S3 bucket {bucket} exists but belongs to another panka stack or component"
                ),
            ));
        }
        Ok(Some(outcome(bucket, t.region)))
    }
}

impl S3Provider {
    /// Writes every setting of the spec. `fresh`: the bucket was just created with S3's defaults.
    async fn apply_settings(
        &self,
        t: &Target<'_, S3Spec>,
        bucket: &str,
        fresh: bool,
    ) -> Result<(), ProviderError> {
        let s = &t.spec;
        let c = &self.client;

        let tags: Vec<Tag> = t
            .tags
            .iter()
            .map(|(k, v)| build(Tag::builder().key(k).value(v).build()))
            .collect::<Result<_, _>>()?;
        let tagging = build(Tagging::builder().set_tag_set(Some(tags)).build())?;
        until_visible(|| async {
            c.put_bucket_tagging()
                .bucket(bucket)
                .tagging(tagging.clone())
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging S3 bucket {bucket}"), e))
        })
        .await?;

        if s.versioning || !fresh {
            let status = if s.versioning {
                BucketVersioningStatus::Enabled
            } else {
                BucketVersioningStatus::Suspended
            };
            let conf = VersioningConfiguration::builder().status(status).build();
            until_visible(|| async {
                c.put_bucket_versioning()
                    .bucket(bucket)
                    .versioning_configuration(conf.clone())
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("setting versioning of S3 bucket {bucket}"), e))
            })
            .await?;
        }

        let algorithm = match s.encryption.encryption_type {
            S3EncryptionType::Aes256 => ServerSideEncryption::Aes256,
            S3EncryptionType::Kms => ServerSideEncryption::AwsKms,
        };
        let default = build(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(algorithm)
                .set_kms_master_key_id(s.encryption.kms_key_id.clone())
                .build(),
        )?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .bucket_key_enabled(s.encryption.bucket_key)
            .build();
        let enc = build(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build(),
        )?;
        until_visible(|| async {
            c.put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(enc.clone())
                .send()
                .await
                .map_err(|e| aws_error(format!("setting encryption of S3 bucket {bucket}"), e))
        })
        .await?;

        let block = s.public_access == PublicAccess::Blocked;
        let pab = PublicAccessBlockConfiguration::builder()
            .block_public_acls(block)
            .block_public_policy(block)
            .ignore_public_acls(block)
            .restrict_public_buckets(block)
            .build();
        until_visible(|| async {
            c.put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(pab.clone())
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("setting the public access block of S3 bucket {bucket}"),
                        e,
                    )
                })
        })
        .await?;

        if s.lifecycle.is_empty() {
            if !fresh {
                match c.delete_bucket_lifecycle().bucket(bucket).send().await {
                    Ok(_) => {}
                    Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(aws_error(
                            format!("removing lifecycle rules of S3 bucket {bucket}"),
                            e,
                        ));
                    }
                }
            }
        } else {
            let rules = s
                .lifecycle
                .iter()
                .map(lifecycle_rule)
                .collect::<Result<Vec<_>, _>>()?;
            let conf = build(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build(),
            )?;
            until_visible(|| async {
                c.put_bucket_lifecycle_configuration()
                    .bucket(bucket)
                    .lifecycle_configuration(conf.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(format!("setting lifecycle rules of S3 bucket {bucket}"), e)
                    })
            })
            .await?;
        }

        if s.cors.is_empty() {
            if !fresh {
                match c.delete_bucket_cors().bucket(bucket).send().await {
                    Ok(_) => {}
                    Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(aws_error(
                            format!("removing CORS rules of S3 bucket {bucket}"),
                            e,
                        ));
                    }
                }
            }
        } else {
            let rules = s
                .cors
                .iter()
                .map(|r| {
                    build(
                        CorsRule::builder()
                            .set_allowed_origins(Some(r.allowed_origins.clone()))
                            .set_allowed_methods(Some(r.allowed_methods.clone()))
                            .set_allowed_headers(
                                (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
                            )
                            .set_expose_headers(
                                (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
                            )
                            .set_max_age_seconds(r.max_age_seconds.map(|m| m as i32))
                            .build(),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let conf = build(
                CorsConfiguration::builder()
                    .set_cors_rules(Some(rules))
                    .build(),
            )?;
            until_visible(|| async {
                c.put_bucket_cors()
                    .bucket(bucket)
                    .cors_configuration(conf.clone())
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("setting CORS rules of S3 bucket {bucket}"), e))
            })
            .await?;
        }
        Ok(())
    }

    /// Deletes every object version and delete marker of a bucket, 1,000 at a time.
    async fn empty(&self, bucket: &str) -> Result<(), ProviderError> {
        loop {
            let listed = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .max_keys(1000)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing objects of S3 bucket {bucket}"), e))?;
            let mut ids = Vec::new();
            for v in listed.versions() {
                if let Some(k) = v.key() {
                    ids.push(build(
                        ObjectIdentifier::builder()
                            .key(k)
                            .set_version_id(v.version_id().map(str::to_string))
                            .build(),
                    )?);
                }
            }
            for m in listed.delete_markers() {
                if let Some(k) = m.key() {
                    ids.push(build(
                        ObjectIdentifier::builder()
                            .key(k)
                            .set_version_id(m.version_id().map(str::to_string))
                            .build(),
                    )?);
                }
            }
            if ids.is_empty() {
                return Ok(());
            }
            let delete = build(Delete::builder().set_objects(Some(ids)).quiet(true).build())?;
            self.client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws_error(format!("deleting objects of S3 bucket {bucket}"), e))?;
        }
    }
}

fn lifecycle_rule(r: &panka_format::kinds::LifecycleRule) -> Result<LifecycleRule, ProviderError> {
    let prefix = r.prefix.clone().unwrap_or_default();
    let id = r.id.clone().unwrap_or_else(|| {
        if prefix.is_empty() {
            "all-objects".into()
        } else {
            format!("prefix-{}", prefix.trim_end_matches('/'))
        }
    });
    let mut b = LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build());
    if let Some(d) = r.expire_days {
        b = b.expiration(LifecycleExpiration::builder().days(d as i32).build());
    }
    if let Some(d) = r.noncurrent_expire_days {
        b = b.noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(d as i32)
                .build(),
        );
    }
    if let Some(d) = r.abort_incomplete_multipart_days {
        b = b.abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(d as i32)
                .build(),
        );
    }
    for t in &r.transitions {
        let class = match t.storage_class {
            StorageClass::StandardIa => TransitionStorageClass::StandardIa,
            StorageClass::OnezoneIa => TransitionStorageClass::OnezoneIa,
            StorageClass::IntelligentTiering => TransitionStorageClass::IntelligentTiering,
            StorageClass::GlacierIr => TransitionStorageClass::GlacierIr,
            StorageClass::Glacier => TransitionStorageClass::Glacier,
            StorageClass::DeepArchive => TransitionStorageClass::DeepArchive,
        };
        b = b.transitions(
            Transition::builder()
                .days(t.days as i32)
                .storage_class(class)
                .build(),
        );
    }
    build(b.build())
}
