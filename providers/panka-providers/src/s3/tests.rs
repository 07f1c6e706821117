//! Unit tests for the S3 provider.

use super::*;
use aws_sdk_s3::error::ErrorMetadata;
use aws_sdk_s3::operation::get_bucket_cors::{GetBucketCorsError, GetBucketCorsOutput};
use aws_sdk_s3::operation::get_bucket_encryption::{
    GetBucketEncryptionError, GetBucketEncryptionOutput,
};
use aws_sdk_s3::operation::get_bucket_lifecycle_configuration::{
    GetBucketLifecycleConfigurationError, GetBucketLifecycleConfigurationOutput,
};
use aws_sdk_s3::operation::get_bucket_versioning::{
    GetBucketVersioningError, GetBucketVersioningOutput,
};
use aws_sdk_s3::operation::get_public_access_block::{
    GetPublicAccessBlockError, GetPublicAccessBlockOutput,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use serde_json::{Value, json};

const NAME: &str = "shop-dev-assets";

/// A client answered by `rules` (any order). `mock_client!` needs `with_test_defaults_v2`,
/// which this version of the S3 SDK does not have, so the client is built here the way the
/// macro builds it.
fn mock_client(rules: &[&Rule]) -> Client {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    Client::from_conf(
        aws_sdk_s3::Config::builder()
            .with_test_defaults()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build(),
    )
}

fn code(c: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(c).build()
}

fn full_spec() -> Value {
    json!({
        "bucketName": "shop-assets-eu",
        "versioning": true,
        "encryption": {
            "type": "aws:kms",
            "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c",
            "bucketKey": false
        },
        "publicAccess": "allowed",
        "lifecycle": [
            {
                "prefix": "logs/",
                "expireDays": 90,
                "noncurrentExpireDays": 30,
                "transitions": [
                    {"days": 30, "storageClass": "STANDARD_IA"},
                    {"days": 60, "storageClass": "GLACIER"}
                ],
                "abortIncompleteMultipartDays": 7
            },
            {"id": "tmp", "prefix": "tmp/", "expireDays": 1}
        ],
        "cors": [{
            "allowedOrigins": ["https://shop.example.com"],
            "allowedMethods": ["GET", "PUT"],
            "allowedHeaders": ["*"],
            "exposeHeaders": ["ETag"],
            "maxAgeSeconds": 3000
        }],
        "forceDestroy": true
    })
}

fn spec_of(v: Value) -> S3Spec {
    serde_json::from_value(v).unwrap()
}

/// What a read can report: the spec with panka's own `forceDestroy` at its default (the
/// engine puts the recorded value back).
fn observable(spec: &S3Spec) -> Value {
    serde_json::to_value(S3Spec {
        force_destroy: false,
        ..spec.clone()
    })
    .unwrap()
}

/// The Get* answers for a bucket whose settings were written from `spec` by
/// [`S3Provider::apply_settings`]'s request builders; a setting it has none of answers S3's
/// "none" error code.
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketEncryption.html
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetPublicAccessBlock.html
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLifecycleConfiguration.html
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketCors.html
fn answers(spec: &S3Spec) -> Vec<Rule> {
    let status = versioning_status(spec);
    let enc = encryption_configuration(spec).unwrap();
    let pab = public_access_block(spec);
    let rules: Vec<LifecycleRule> = spec
        .lifecycle
        .iter()
        .map(|r| lifecycle_rule(r).unwrap())
        .collect();
    let cors = cors_rules(spec).unwrap();
    let lifecycle = if rules.is_empty() {
        mock!(Client::get_bucket_lifecycle_configuration).then_error(|| {
            GetBucketLifecycleConfigurationError::generic(code("NoSuchLifecycleConfiguration"))
        })
    } else {
        mock!(Client::get_bucket_lifecycle_configuration).then_output(move || {
            GetBucketLifecycleConfigurationOutput::builder()
                .set_rules(Some(rules.clone()))
                .build()
        })
    };
    let cors = if cors.is_empty() {
        mock!(Client::get_bucket_cors)
            .then_error(|| GetBucketCorsError::generic(code("NoSuchCORSConfiguration")))
    } else {
        mock!(Client::get_bucket_cors).then_output(move || {
            GetBucketCorsOutput::builder()
                .set_cors_rules(Some(cors.clone()))
                .build()
        })
    };
    vec![
        mock!(Client::get_bucket_versioning).then_output(move || {
            GetBucketVersioningOutput::builder()
                .status(status.clone())
                .build()
        }),
        mock!(Client::get_bucket_encryption).then_output(move || {
            GetBucketEncryptionOutput::builder()
                .server_side_encryption_configuration(enc.clone())
                .build()
        }),
        mock!(Client::get_public_access_block).then_output(move || {
            GetPublicAccessBlockOutput::builder()
                .public_access_block_configuration(pab.clone())
                .build()
        }),
        lifecycle,
        cors,
    ]
}

async fn read(rules: &[Rule], bucket: &str) -> Option<Observation<S3Spec>> {
    let refs: Vec<&Rule> = rules.iter().collect();
    let client = mock_client(&refs);
    let ids = BTreeMap::from([("bucket".to_string(), bucket.to_string())]);
    let empty = BTreeMap::new();
    let id = crate::test_identity("shop/assets", NAME, &ids, &empty);
    S3Provider::new(client).read(&id).await.unwrap()
}

async fn read_back(spec: &S3Spec) -> Observation<S3Spec> {
    let bucket = spec.bucket_name.as_deref().unwrap_or(NAME);
    read(&answers(spec), bucket).await.unwrap()
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
async fn a_bucket_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = spec_of(full_spec());
    let seen = read_back(&spec).await;
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), observable(&spec));
    assert_eq!(seen.unobserved, ["dependsOn", "forceDestroy"]);
    assert_eq!(seen.outcome.outputs["arn"], "arn:aws:s3:::shop-assets-eu");
    // Every default: SSE-S3, blocked, no lifecycle or CORS configuration at all.
    let plain = spec_of(json!({}));
    let seen = read_back(&plain).await;
    assert_eq!(seen.spec, plain);
    assert!(seen.outcome.outputs.values().all(|v| !v.is_empty()));
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let cases: Vec<(&str, Value)> = vec![
        ("/bucketName", "shop-assets-us".into()),
        ("/versioning", false.into()),
        ("/encryption", json!({"type": "AES256", "bucketKey": false})),
        ("/encryption/kmsKeyId", "alias/other".into()),
        ("/encryption/bucketKey", true.into()),
        ("/publicAccess", "blocked".into()),
        ("/lifecycle/0/prefix", "logs/app/".into()),
        ("/lifecycle/0/id", "keep-logs".into()),
        ("/lifecycle/0/expireDays", Value::Null),
        ("/lifecycle/0/expireDays", 120.into()),
        ("/lifecycle/0/noncurrentExpireDays", 45.into()),
        ("/lifecycle/0/transitions/1/days", 180.into()),
        (
            "/lifecycle/0/transitions/1/storageClass",
            "DEEP_ARCHIVE".into(),
        ),
        ("/lifecycle/0/transitions", json!([])),
        ("/lifecycle/0/abortIncompleteMultipartDays", 3.into()),
        ("/lifecycle/1/id", Value::Null),
        ("/lifecycle/1/prefix", Value::Null),
        (
            "/lifecycle",
            json!([{"id": "tmp", "prefix": "tmp/", "expireDays": 1}]),
        ),
        ("/lifecycle", json!([])),
        ("/cors/0/allowedOrigins", json!(["*"])),
        ("/cors/0/allowedMethods", json!(["GET"])),
        ("/cors/0/allowedHeaders", json!([])),
        ("/cors/0/exposeHeaders", json!(["ETag", "x-amz-version-id"])),
        ("/cors/0/maxAgeSeconds", Value::Null),
        ("/cors", json!([])),
    ];
    let full = observable(&spec_of(full_spec()));
    for (pointer, value) in cases {
        let mut changed = full_spec();
        set(&mut changed, pointer, value.clone());
        let expected = spec_of(changed);
        let expected_json = observable(&expected);
        assert_ne!(expected_json, full, "{pointer} = {value} changes the spec");
        let seen = serde_json::to_value(read_back(&expected).await.spec).unwrap();
        assert_eq!(
            seen, expected_json,
            "{pointer} = {value}: only that differs"
        );
    }
}

#[tokio::test]
async fn aws_spellings_and_missing_settings_read_as_the_spec_writes_them() {
    let spec = spec_of(full_spec());
    let mut rules = answers(&spec);
    // Transitions out of order, a disabled rule, a partly open public access block, SSE-S3
    // without a bucket-key flag.
    let shuffled = LifecycleRule::builder()
        .id("prefix-logs")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("logs/").build())
        .transitions(
            Transition::builder()
                .days(60)
                .storage_class(TransitionStorageClass::Glacier)
                .build(),
        )
        .transitions(
            Transition::builder()
                .days(30)
                .storage_class(TransitionStorageClass::StandardIa)
                .build(),
        )
        .build()
        .unwrap();
    let disabled = LifecycleRule::builder()
        .id("old")
        .status(ExpirationStatus::Disabled)
        .filter(LifecycleRuleFilter::builder().prefix("old/").build())
        .expiration(LifecycleExpiration::builder().days(5).build())
        .build()
        .unwrap();
    rules[3] = mock!(Client::get_bucket_lifecycle_configuration).then_output(move || {
        GetBucketLifecycleConfigurationOutput::builder()
            .rules(shuffled.clone())
            .rules(disabled.clone())
            .build()
    });
    rules[2] = mock!(Client::get_public_access_block).then_output(|| {
        GetPublicAccessBlockOutput::builder()
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(false)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .build()
    });
    rules[1] = mock!(Client::get_bucket_encryption).then_output(|| {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .unwrap();
        GetBucketEncryptionOutput::builder()
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(default)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let seen = read(&rules, "shop-assets-eu").await.unwrap();
    let mut expected = observable(&spec);
    expected["lifecycle"] = json!([{
        "prefix": "logs/",
        "transitions": [
            {"days": 30, "storageClass": "STANDARD_IA"},
            {"days": 60, "storageClass": "GLACIER"}
        ]
    }]);
    expected["encryption"] = json!({"type": "AES256", "bucketKey": true});
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), expected);
    assert_eq!(
        seen.unobserved,
        ["dependsOn", "forceDestroy", "encryption.bucketKey"]
    );
    // No public access block configuration: nothing is blocked.
    rules[2] = mock!(Client::get_public_access_block).then_error(|| {
        GetPublicAccessBlockError::generic(code("NoSuchPublicAccessBlockConfiguration"))
    });
    // No default encryption configuration (S3 before 2023): SSE-S3 is what the spec says.
    rules[1] = mock!(Client::get_bucket_encryption).then_error(|| {
        GetBucketEncryptionError::generic(code("ServerSideEncryptionConfigurationNotFoundError"))
    });
    let seen = read(&rules, "shop-assets-eu").await.unwrap();
    assert_eq!(seen.spec.public_access, PublicAccess::Allowed);
    assert_eq!(
        seen.spec.encryption.encryption_type,
        S3EncryptionType::Aes256
    );
}

/// Moto's GetBucketVersioning answer starts with a line break before the XML declaration.
#[tokio::test]
async fn versioning_is_read_from_an_answer_the_sdk_cannot_parse() {
    let spec = spec_of(full_spec());
    for (xml_status, on) in [("<Status>Enabled</Status>", true), ("", false)] {
        let body = format!(
            "\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{xml_status}</VersioningConfiguration>\n"
        );
        let mut rules = answers(&spec);
        rules[0] = mock!(Client::get_bucket_versioning).then_http_response(move || {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                aws_sdk_s3::primitives::SdkBody::from(body.clone()),
            )
        });
        let seen = read(&rules, "shop-assets-eu").await.unwrap();
        assert_eq!(seen.spec.versioning, on, "{xml_status}");
    }
    assert_eq!(
        versioning_in(
            b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"
        ),
        Some(BucketVersioningStatus::Suspended)
    );
}

#[tokio::test]
async fn a_bucket_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::get_bucket_versioning)
        .then_error(|| GetBucketVersioningError::generic(code("NoSuchBucket")));
    assert!(read(&[gone], NAME).await.is_none());
}

mod replays {
    use std::sync::{Arc, Mutex};

    use aws_sdk_s3::operation::create_bucket::CreateBucketOutput;
    use aws_sdk_s3::operation::delete_bucket_cors::DeleteBucketCorsOutput;
    use aws_sdk_s3::operation::delete_bucket_lifecycle::DeleteBucketLifecycleOutput;
    use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput;
    use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
    use aws_sdk_s3::operation::put_bucket_encryption::PutBucketEncryptionOutput;
    use aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput;
    use aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput;
    use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
    use aws_smithy_mocks::{MockResponse, Rule, mock};
    use panka_engine::{ErrorKind, Target};

    use super::*;
    use crate::aws_replies;

    type Log = Arc<Mutex<Vec<&'static str>>>;

    fn owner_tags(component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:service".to_string(), "web".to_string()),
            ("panka:component".to_string(), component.to_string()),
        ])
    }

    /// S3 where HeadBucket answers `heads` in turn (then 200), CreateBucket `create`, and
    /// GetBucketTagging the tags `found` (none: `NoSuchTagSet`).
    fn s3(
        log: &Log,
        heads: Vec<u16>,
        create: Option<aws_smithy_runtime_api::http::Response>,
        found: BTreeMap<String, String>,
    ) -> Client {
        s3_aged(
            log,
            heads,
            create,
            found,
            std::time::Duration::from_secs(3 * 3600),
        )
    }

    /// As [`s3`], the bucket created `age` ago (ListBuckets) and empty (ListObjectsV2).
    fn s3_aged(
        log: &Log,
        heads: Vec<u16>,
        create: Option<aws_smithy_runtime_api::http::Response>,
        found: BTreeMap<String, String>,
        age: std::time::Duration,
    ) -> Client {
        let heads = Mutex::new(heads.into_iter());
        let head = mock!(Client::head_bucket).then_compute_response(move |_| {
            match heads.lock().unwrap().next() {
                Some(status) if status != 200 => {
                    MockResponse::Http(aws_smithy_runtime_api::http::Response::new(
                        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
                        aws_smithy_types::body::SdkBody::empty(),
                    ))
                }
                _ => MockResponse::Output(HeadBucketOutput::builder().build()),
            }
        });
        let l = log.clone();
        let answer = Mutex::new(create);
        let create = mock!(Client::create_bucket).then_compute_response(move |_| {
            l.lock().unwrap().push("CreateBucket");
            match answer.lock().unwrap().take() {
                Some(e) => MockResponse::Http(e),
                None => MockResponse::Output(CreateBucketOutput::builder().build()),
            }
        });
        let tagging = mock!(Client::get_bucket_tagging).then_compute_response(move |_| {
            if found.is_empty() {
                // GetBucketTagging API reference: a bucket without tags.
                MockResponse::Http(aws_replies::s3(
                    404,
                    "NoSuchTagSet",
                    "The TagSet does not exist",
                ))
            } else {
                MockResponse::Output(
                    GetBucketTaggingOutput::builder()
                        .set_tag_set(Some(
                            found
                                .iter()
                                .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                                .collect(),
                        ))
                        .build()
                        .unwrap(),
                )
            }
        });
        let l = log.clone();
        let tag = mock!(Client::put_bucket_tagging).then_compute_output(move |_| {
            l.lock().unwrap().push("PutBucketTagging");
            PutBucketTaggingOutput::builder().build()
        });
        let created = std::time::SystemTime::now() - age;
        let buckets = mock!(Client::list_buckets).then_compute_output(move |r| {
            aws_sdk_s3::operation::list_buckets::ListBucketsOutput::builder()
                .buckets(
                    aws_sdk_s3::types::Bucket::builder()
                        .name(r.prefix().unwrap())
                        .creation_date(aws_smithy_types::DateTime::from(created))
                        .build(),
                )
                .build()
        });
        let objects = mock!(Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder()
                .key_count(0)
                .build()
        });
        let rules: Vec<Rule> = vec![
            buckets,
            objects,
            head,
            create,
            tagging,
            tag,
            mock!(Client::put_bucket_versioning)
                .then_output(|| PutBucketVersioningOutput::builder().build()),
            mock!(Client::put_bucket_encryption)
                .then_output(|| PutBucketEncryptionOutput::builder().build()),
            mock!(Client::put_public_access_block)
                .then_output(|| PutPublicAccessBlockOutput::builder().build()),
            mock!(Client::delete_bucket_lifecycle)
                .then_output(|| DeleteBucketLifecycleOutput::builder().build()),
            mock!(Client::delete_bucket_cors)
                .then_output(|| DeleteBucketCorsOutput::builder().build()),
        ];
        mock_client(&rules.iter().collect::<Vec<_>>())
    }

    fn target<'a>(
        bucket: &'a str,
        tags: &'a BTreeMap<String, String>,
        config: &'a Value,
    ) -> Target<'a, S3Spec> {
        Target {
            address: "web/assets",
            name: bucket,
            spec: spec_of(json!({})),
            tags,
            region: "us-east-1",
            config,
        }
    }

    /// CreateBucket whose answer was lost, repeated (by the SDK or the engine): S3 answers
    /// `BucketAlreadyOwnedByYou` (409) for the bucket the first call made, which has no tags
    /// yet. This process sent that CreateBucket, so the bucket is this component's and gets
    /// its tags and settings.
    #[tokio::test]
    async fn a_create_answered_already_owned_by_you_continues_with_the_bucket_it_made() {
        let log: Log = Arc::default();
        let owned = aws_replies::s3(
            409,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        );
        let tags = owner_tags("assets");
        let config = json!({});
        let bucket = "shop-dev-web-assets-lost-answer";
        let made = S3Provider::new(s3(&log, vec![404], Some(owned), BTreeMap::new()))
            .create(&target(bucket, &tags, &config))
            .await
            .unwrap();
        assert_eq!(made.outputs["arn"], format!("arn:aws:s3:::{bucket}"));
        assert_eq!(
            *log.lock().unwrap(),
            ["CreateBucket", "PutBucketTagging"],
            "BucketAlreadyOwnedByYou: the bucket exists; tagged with the settings"
        );
    }

    /// A bucket of the name that another component's tags claim: refused before anything is
    /// created or written (us-east-1 would answer CreateBucket with 200 for it).
    #[tokio::test]
    async fn a_bucket_of_another_component_is_refused_before_anything_is_written() {
        let log: Log = Arc::default();
        let tags = owner_tags("assets");
        let config = json!({});
        let err = S3Provider::new(s3(&log, vec![200], None, owner_tags("uploads")))
            .create(&target("shop-dev-web-assets-theirs", &tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned, "{}", err.chain());
        assert!(log.lock().unwrap().is_empty());
    }

    /// An untagged bucket this process did not create (made by hand, or by a run killed
    /// before tagging): neither `find` nor a create takes it over.
    #[tokio::test]
    async fn an_untagged_bucket_made_elsewhere_is_not_taken_over() {
        let log: Log = Arc::default();
        let tags = owner_tags("assets");
        let config = json!({});
        let p = S3Provider::new(s3(&log, vec![200, 200], None, BTreeMap::new()));
        let t = target("shop-dev-web-assets-by-hand", &tags, &config);
        assert_eq!(p.find(&t).await.unwrap_err().kind, ErrorKind::NotOwned);
        assert_eq!(p.create(&t).await.unwrap_err().kind, ErrorKind::NotOwned);
        assert!(log.lock().unwrap().is_empty());
    }

    /// A run killed between CreateBucket and the tagging after it leaves an empty bucket without
    /// tags: recovery (`find`) takes it when it is recent, not when it is hours old; a create
    /// in another process does not take it either way.
    #[tokio::test]
    async fn find_takes_a_recent_empty_untagged_bucket_as_a_create_cut_short() {
        let log: Log = Arc::default();
        let tags = owner_tags("assets");
        let config = json!({});
        let minute = std::time::Duration::from_secs(60);
        let p = S3Provider::new(s3_aged(&log, vec![], None, BTreeMap::new(), minute));
        let t = target("shop-dev-web-assets-killed", &tags, &config);
        assert!(p.find(&t).await.unwrap().is_some());
        assert_eq!(p.create(&t).await.unwrap_err().kind, ErrorKind::NotOwned);
        let hours = std::time::Duration::from_secs(2 * 3600);
        let p = S3Provider::new(s3_aged(&log, vec![], None, BTreeMap::new(), hours));
        assert_eq!(p.find(&t).await.unwrap_err().kind, ErrorKind::NotOwned);
        assert!(log.lock().unwrap().is_empty());
    }

    /// A name another account has: a conflict saying bucket names are global.
    #[tokio::test]
    async fn a_bucket_name_taken_by_another_account_is_a_conflict() {
        let log: Log = Arc::default();
        let taken = aws_replies::s3(
            409,
            "BucketAlreadyExists",
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
        );
        let tags = owner_tags("assets");
        let config = json!({});
        let err = S3Provider::new(s3(&log, vec![403], Some(taken), BTreeMap::new()))
            .create(&target("assets", &tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert!(
            err.message.contains("another AWS account"),
            "{}",
            err.message
        );
    }
}
