//! S3 buckets: versioning, default encryption, public access block, lifecycle rules, CORS and tags.
//!
//! Outputs: `name`, `arn`, `regionalDomainName`. `bucketName` forces replacement; every other
//! field is applied in place by writing the whole setting again (each call is idempotent).
//!
//! A bucket that exists already is used only when its panka tags are this component's. S3 takes
//! no tags in CreateBucket (for general purpose buckets), so a bucket made by a CreateBucket
//! whose answer was lost, or by a run killed before the tagging that follows CreateBucket at
//! once, has none. A bucket without any tags is therefore this component's when this process
//! sent CreateBucket for its name ([`remember_create`]); and `find` (which the engine calls only
//! to recover a create it started, or before trying a failed create again) also takes one that
//! is empty and was created less than [`UNTAGGED_RECOVERY_WINDOW`] ago. A create never takes
//! over an untagged bucket it did not make: `panka import` adopts one on purpose.

use std::collections::{BTreeMap, HashSet};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::client::Waiters;
use aws_sdk_s3::error::ProvideErrorMetadata;
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
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{PublicAccess, S3Encryption, S3EncryptionType, S3Spec, StorageClass};

use crate::errors::{aws_error, check_owner, unless_missing, until_visible};
use crate::partition;

/// How long to wait for a new bucket to answer HEAD: S3 usually takes well under a second.
const BUCKET_EXISTS_TIMEOUT: Duration = Duration::from_secs(120);
/// How recent an untagged, empty bucket must be for `find` to take it as the one a killed run
/// made before tagging it: a re-run usually follows within minutes; an older bucket without
/// tags is more likely somebody else's, and `panka import` adopts it.
const UNTAGGED_RECOVERY_WINDOW: Duration = Duration::from_secs(30 * 60);

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
            (
                "arn".to_string(),
                partition::arn(region, "s3", "", "", bucket),
            ),
            (
                "regionalDomainName".to_string(),
                format!("{bucket}.s3.{region}.{}", partition::dns_suffix(region)),
            ),
        ]),
    }
}

/// The buckets this process has sent CreateBucket for.
static CREATED_HERE: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);

/// Records that this process is about to send CreateBucket for `bucket`.
fn remember_create(bucket: &str) {
    CREATED_HERE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(bucket.to_string());
}

/// Whether this process sent CreateBucket for `bucket`.
fn created_here(bucket: &str) -> bool {
    CREATED_HERE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(bucket)
}

/// What CreateBucket did.
enum Created {
    New,
    /// The bucket exists in this account: `BucketAlreadyOwnedByYou` (CreateBucket API
    /// reference; us-east-1 answers 200 instead, which is why a create looks first).
    Existed,
}

fn build<T>(r: Result<T, aws_sdk_s3::error::BuildError>) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "building an S3 request", e))
}

impl KindProvider for S3Provider {
    type Spec = S3Spec;
    const KIND: &'static str = "S3";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "forceDestroy",
            tracked_by: "panka's own setting (empty the bucket before deleting it), not an AWS setting: recorded in the state",
        },
    ];

    /// Looks for the bucket first (us-east-1 answers CreateBucket for a bucket this account
    /// owns with 200, so only a look tells a stranger's bucket from a new one), creates it, waits
    /// for it to answer, and writes every setting.
    ///
    /// # Errors
    /// [`ErrorKind::NotOwned`] for a bucket of that name that is not this component's;
    /// [`ErrorKind::Conflict`] when another account has the name.
    async fn create(&self, t: &Target<'_, S3Spec>) -> Result<Outcome, ProviderError> {
        let bucket = bucket_name(t);
        let fresh = if self.exists(bucket).await? {
            self.check_bucket_owner(t, bucket, false).await?;
            false
        } else {
            match self.create_bucket(bucket, t.region).await? {
                Created::New => {
                    // Tagged at once: until then nothing tells the bucket is this component's.
                    self.tag(t, bucket).await?;
                    true
                }
                Created::Existed => {
                    self.check_bucket_owner(t, bucket, false).await?;
                    false
                }
            }
        };
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
        self.apply_settings(t, bucket, fresh).await?;
        Ok(outcome(bucket, t.region))
    }

    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<S3Spec>>, ProviderError> {
        let bucket = id.ids.get("bucket").map_or(id.name, String::as_str);
        let c = &self.client;
        // Versioning is read first: its NoSuchBucket says the bucket is gone.
        let versioning = match c.get_bucket_versioning().bucket(bucket).send().await {
            Ok(v) => v.status().cloned(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.code() == Some("NoSuchBucket"))
                    || crate::errors::classify(&e) == ErrorKind::NotFound =>
            {
                return Ok(None);
            }
            Err(e) => {
                // A success the SDK could not parse (moto writes a line break before the XML
                // declaration): the status is read from the raw answer.
                let raw = e
                    .raw_response()
                    .filter(|r| r.status().is_success())
                    .and_then(|r| r.body().bytes())
                    .map(versioning_in);
                match raw {
                    Some(status) => status,
                    None => {
                        return Err(aws_error(
                            format!("reading versioning of S3 bucket {bucket}"),
                            e,
                        ));
                    }
                }
            }
        };
        let (encryption, block, lifecycle, cors) = tokio::join!(
            c.get_bucket_encryption().bucket(bucket).send(),
            c.get_public_access_block().bucket(bucket).send(),
            c.get_bucket_lifecycle_configuration().bucket(bucket).send(),
            c.get_bucket_cors().bucket(bucket).send(),
        );
        // Each setting S3 has none of answers an error code that means "none".
        let encryption = unless_missing(
            encryption,
            |e| e.code() == Some("ServerSideEncryptionConfigurationNotFoundError"),
            format!("reading encryption of S3 bucket {bucket}"),
        )?;
        let block = unless_missing(
            block,
            |e| e.code() == Some("NoSuchPublicAccessBlockConfiguration"),
            format!("reading the public access block of S3 bucket {bucket}"),
        )?;
        let lifecycle = unless_missing(
            lifecycle,
            |e| e.code() == Some("NoSuchLifecycleConfiguration"),
            format!("reading lifecycle rules of S3 bucket {bucket}"),
        )?;
        let cors = unless_missing(
            cors,
            |e| e.code() == Some("NoSuchCORSConfiguration"),
            format!("reading CORS rules of S3 bucket {bucket}"),
        )?;
        observe(
            id.name,
            bucket,
            id.region,
            &Settings {
                versioning: versioning.as_ref(),
                encryption: encryption
                    .as_ref()
                    .and_then(|e| e.server_side_encryption_configuration()),
                block: block
                    .as_ref()
                    .and_then(|b| b.public_access_block_configuration()),
                lifecycle: lifecycle.as_ref().map_or(&[], |l| l.rules()),
                cors: cors.as_ref().map_or(&[], |c| c.cors_rules()),
            },
        )
        .map(Some)
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

    /// The bucket of this component's name, when it is this component's: its tags, or none for
    /// a bucket this process created or an empty one created in the last
    /// [`UNTAGGED_RECOVERY_WINDOW`] (a create cut short before its tagging).
    ///
    /// # Errors
    /// [`ErrorKind::NotOwned`] for a bucket of that name that is not this component's.
    async fn find(&self, t: &Target<'_, S3Spec>) -> Result<Option<Outcome>, ProviderError> {
        let bucket = bucket_name(t);
        if !self.exists(bucket).await? {
            return Ok(None);
        }
        self.check_bucket_owner(t, bucket, true).await?;
        Ok(Some(outcome(bucket, t.region)))
    }
}

impl S3Provider {
    /// Whether a bucket of that name exists (HeadBucket: 404 when it does not; 403 when another
    /// account owns it, which the create then reports).
    async fn exists(&self, bucket: &str) -> Result<bool, ProviderError> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(e) if crate::errors::classify(&e) == ErrorKind::NotFound => Ok(false),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Ok(false),
            Err(e) => Err(aws_error(format!("looking for S3 bucket {bucket}"), e)),
        }
    }

    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<Created, ProviderError> {
        let mut req = self.client.create_bucket().bucket(bucket);
        // us-east-1 is the one region that takes no location constraint.
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        remember_create(bucket);
        match req.send().await {
            Ok(_) => Ok(Created::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(Created::Existed)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_exists()) =>
            {
                Err(ProviderError::with_source(
                    ErrorKind::Conflict,
                    format!(
                        "S3 bucket {bucket} belongs to another AWS account (bucket names are global): give the component another `bucketName`"
                    ),
                    e,
                ))
            }
            Err(e) => Err(aws_error(format!("creating S3 bucket {bucket}"), e)),
        }
    }

    /// Tags the bucket with the component's tags.
    async fn tag(&self, t: &Target<'_, S3Spec>, bucket: &str) -> Result<(), ProviderError> {
        let tags: Vec<Tag> = t
            .tags
            .iter()
            .map(|(k, v)| build(Tag::builder().key(k).value(v).build()))
            .collect::<Result<_, _>>()?;
        let tagging = build(Tagging::builder().set_tag_set(Some(tags)).build())?;
        until_visible(|| async {
            self.client
                .put_bucket_tagging()
                .bucket(bucket)
                .tagging(tagging.clone())
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging S3 bucket {bucket}"), e))
        })
        .await?;
        Ok(())
    }

    /// Whether the bucket holds no object and was created less than
    /// [`UNTAGGED_RECOVERY_WINDOW`] ago (ListBuckets gives its CreationDate).
    async fn fresh_and_empty(&self, bucket: &str) -> Result<bool, ProviderError> {
        let mut token = None;
        let created = loop {
            let page = self
                .client
                .list_buckets()
                .prefix(bucket)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| aws_error(format!("looking up S3 bucket {bucket}"), e))?;
            if let Some(b) = page.buckets().iter().find(|b| b.name() == Some(bucket)) {
                break b.creation_date().cloned();
            }
            token = page.continuation_token().map(str::to_string);
            if token.is_none() {
                break None;
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let recent = created
            .is_some_and(|c| now - c.as_secs_f64() <= UNTAGGED_RECOVERY_WINDOW.as_secs_f64());
        if !recent {
            return Ok(false);
        }
        let objects = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing objects of S3 bucket {bucket}"), e))?;
        Ok(objects.contents().is_empty())
    }

    /// Checks that bucket `bucket` is this component's: its panka tags name it, or it has no
    /// tags at all and this process created it (a CreateBucket whose answer was lost), or —
    /// `recovering` — it is empty and younger than [`UNTAGGED_RECOVERY_WINDOW`].
    async fn check_bucket_owner(
        &self,
        t: &Target<'_, S3Spec>,
        bucket: &str,
        recovering: bool,
    ) -> Result<(), ProviderError> {
        let tags = match self.client.get_bucket_tagging().bucket(bucket).send().await {
            Ok(r) => r
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect::<BTreeMap<_, _>>(),
            // GetBucketTagging API reference: a bucket without tags answers NoSuchTagSet.
            Err(e) if crate::errors::code(&e) == Some("NoSuchTagSet") => BTreeMap::new(),
            Err(e) => {
                return Err(aws_error(
                    format!("reading the tags of S3 bucket {bucket}"),
                    e,
                ));
            }
        };
        if tags.is_empty()
            && (created_here(bucket) || (recovering && self.fresh_and_empty(bucket).await?))
        {
            return Ok(());
        }
        check_owner(
            &format!("S3 bucket {bucket}"),
            t.address,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            t.tags,
        )
    }
}

/// A bucket's settings as S3's Get* calls answer them; `None` or empty where S3 has none.
struct Settings<'a> {
    versioning: Option<&'a BucketVersioningStatus>,
    encryption: Option<&'a ServerSideEncryptionConfiguration>,
    block: Option<&'a PublicAccessBlockConfiguration>,
    lifecycle: &'a [LifecycleRule],
    cors: &'a [CorsRule],
}

/// The `<Status>` of a GetBucketVersioning answer's XML; `None` when versioning was never set.
fn versioning_in(body: &[u8]) -> Option<BucketVersioningStatus> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Status>")? + "<Status>".len();
    let end = start + text[start..].find("</Status>")?;
    Some(BucketVersioningStatus::from(text[start..end].trim()))
}

fn invalid(what: String) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, what)
}

fn days(d: Option<i32>) -> Option<u32> {
    d.and_then(|d| u32::try_from(d).ok())
}

/// The rule-level prefix of rules written before S3 had filters (deprecated in the API, still
/// reported for such rules).
#[allow(deprecated)]
fn rule_level_prefix(r: &LifecycleRule) -> Option<&str> {
    r.prefix()
}

/// A lifecycle rule as S3 reports it, in the form of the spec: the inverse of
/// [`lifecycle_rule`] (a derived id reads back absent, transitions by day).
fn observe_rule(r: &LifecycleRule) -> Result<panka_format::kinds::LifecycleRule, ProviderError> {
    let prefix = r
        .filter()
        .and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix())))
        .or_else(|| rule_level_prefix(r))
        .unwrap_or_default();
    let mut transitions = r
        .transitions()
        .iter()
        .map(|t| {
            let storage_class = match t.storage_class() {
                Some(TransitionStorageClass::StandardIa) => StorageClass::StandardIa,
                Some(TransitionStorageClass::OnezoneIa) => StorageClass::OnezoneIa,
                Some(TransitionStorageClass::IntelligentTiering) => {
                    StorageClass::IntelligentTiering
                }
                Some(TransitionStorageClass::GlacierIr) => StorageClass::GlacierIr,
                Some(TransitionStorageClass::Glacier) => StorageClass::Glacier,
                Some(TransitionStorageClass::DeepArchive) => StorageClass::DeepArchive,
                other => {
                    return Err(invalid(format!(
                        "lifecycle rule {}: S3 reports a transition to {} panka does not know",
                        r.id().unwrap_or_default(),
                        other.map_or("no storage class", |c| c.as_str())
                    )));
                }
            };
            Ok(panka_format::kinds::Transition {
                days: days(t.days()).unwrap_or_default(),
                storage_class,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    transitions.sort_by_key(|t| t.days);
    Ok(panka_format::kinds::LifecycleRule {
        id: r
            .id()
            .filter(|id| *id != rule_id(prefix))
            .map(str::to_string),
        prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
        expire_days: days(r.expiration().and_then(|e| e.days())),
        noncurrent_expire_days: days(
            r.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
        ),
        transitions,
        abort_incomplete_multipart_days: days(
            r.abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation()),
        ),
    })
}

/// The bucket as S3 reports it, in the form of its spec: the inverse of
/// [`S3Provider::apply_settings`]. `name` is the component's AWS name (a bucket of that name
/// has no `bucketName`).
fn observe(
    name: &str,
    bucket: &str,
    region: &str,
    s: &Settings<'_>,
) -> Result<Observation<S3Spec>, ProviderError> {
    let mut unobserved = vec!["dependsOn", "forceDestroy"];
    let rule = s.encryption.and_then(|e| e.rules().first());
    let default = rule.and_then(|r| r.apply_server_side_encryption_by_default());
    let encryption_type = match default.map(|d| d.sse_algorithm()) {
        None | Some(ServerSideEncryption::Aes256) => S3EncryptionType::Aes256,
        Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse) => {
            S3EncryptionType::Kms
        }
        Some(other) => {
            return Err(invalid(format!(
                "S3 bucket {bucket} is encrypted with {} panka does not know",
                other.as_str()
            )));
        }
    };
    let bucket_key = match rule.and_then(|r| r.bucket_key_enabled()) {
        Some(on) => on,
        // A bucket key only matters with KMS; S3 may leave it out for S3-managed keys.
        None if encryption_type == S3EncryptionType::Aes256 => {
            unobserved.push("encryption.bucketKey");
            S3Encryption::default().bucket_key
        }
        None => false,
    };
    let block = s.block;
    let all_blocked = block.is_some_and(|b| {
        [
            b.block_public_acls(),
            b.ignore_public_acls(),
            b.block_public_policy(),
            b.restrict_public_buckets(),
        ]
        .iter()
        .all(|on| *on == Some(true))
    });
    let lifecycle = s
        .lifecycle
        .iter()
        // A disabled rule does nothing; panka writes every rule enabled.
        .filter(|r| r.status() == &ExpirationStatus::Enabled)
        .map(observe_rule)
        .collect::<Result<Vec<_>, _>>()?;
    let cors = s
        .cors
        .iter()
        .map(|r| panka_format::kinds::CorsRule {
            allowed_origins: r.allowed_origins().to_vec(),
            allowed_methods: r.allowed_methods().to_vec(),
            allowed_headers: r.allowed_headers().to_vec(),
            expose_headers: r.expose_headers().to_vec(),
            max_age_seconds: days(r.max_age_seconds()),
        })
        .collect();
    let spec = S3Spec {
        bucket_name: (bucket != name).then(|| bucket.to_string()),
        versioning: s.versioning == Some(&BucketVersioningStatus::Enabled),
        encryption: S3Encryption {
            encryption_type,
            kms_key_id: default
                .and_then(|d| d.kms_master_key_id())
                .filter(|k| !k.is_empty())
                .map(str::to_string),
            bucket_key,
        },
        public_access: if all_blocked {
            PublicAccess::Blocked
        } else {
            PublicAccess::Allowed
        },
        lifecycle,
        cors,
        // panka's own setting, listed as unobserved: the recorded value stands.
        force_destroy: false,
        depends_on: Vec::new(),
    };
    Ok(Observation::new(outcome(bucket, region), spec).unobserved(&unobserved))
}

fn versioning_status(s: &S3Spec) -> BucketVersioningStatus {
    if s.versioning {
        BucketVersioningStatus::Enabled
    } else {
        BucketVersioningStatus::Suspended
    }
}

fn encryption_configuration(
    s: &S3Spec,
) -> Result<ServerSideEncryptionConfiguration, ProviderError> {
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
    build(
        ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build(),
    )
}

fn public_access_block(s: &S3Spec) -> PublicAccessBlockConfiguration {
    let block = s.public_access == PublicAccess::Blocked;
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(block)
        .block_public_policy(block)
        .ignore_public_acls(block)
        .restrict_public_buckets(block)
        .build()
}

fn cors_rules(s: &S3Spec) -> Result<Vec<CorsRule>, ProviderError> {
    s.cors
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
        .collect()
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
            let conf = VersioningConfiguration::builder()
                .status(versioning_status(s))
                .build();
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

        let enc = encryption_configuration(s)?;
        until_visible(|| async {
            c.put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(enc.clone())
                .send()
                .await
                .map_err(|e| aws_error(format!("setting encryption of S3 bucket {bucket}"), e))
        })
        .await?;

        let pab = public_access_block(s);
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
            let rules = cors_rules(s)?;
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
    let id = r.id.clone().unwrap_or_else(|| rule_id(&prefix));
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

/// The id panka gives a lifecycle rule without one, from its prefix.
fn rule_id(prefix: &str) -> String {
    if prefix.is_empty() {
        "all-objects".into()
    } else {
        format!("prefix-{}", prefix.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests;
