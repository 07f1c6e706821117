//! Unit tests for the CloudFront provider.

use super::*;
use aws_sdk_cloudfront::operation::get_distribution::{
    GetDistributionError, GetDistributionOutput,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

#[test]
fn cache_policies_by_name_or_id() {
    assert_eq!(
        cache_policy_id("CachingDisabled").unwrap(),
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    assert_eq!(
        cache_policy_id("11111111-2222-3333-4444-555555555555").unwrap(),
        "11111111-2222-3333-4444-555555555555"
    );
    let err = cache_policy_id("CachingSometimes").unwrap_err();
    assert!(err.message.contains("CachingOptimized"), "{}", err.message);
}

#[test]
fn a_bucket_statement_names_the_distribution() {
    let s = bucket_statement(
        "us-east-1",
        "assets",
        "arn:aws:cloudfront::1:distribution/E2ABC",
    );
    assert_eq!(s["Sid"], "panka-cloudfront-E2ABC");
    assert_eq!(s["Resource"], "arn:aws:s3:::assets/*");
}

const ID: &str = "E2QWRUHAPOMQZL";
const ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL";
const OAC: &str = "E1OACXYZ";
const API_URL: &str = "https://abc123.execute-api.us-east-1.amazonaws.com/prod";

fn full_spec() -> CloudFrontSpec {
    serde_json::from_value(json!({
        "origins": [
            {"name": "assets", "target": {"component": "web/assets"}},
            {"name": "api", "target": {"component": "web/api"}, "path": "/v1"},
            {"name": "alb", "target": {"component": "web/edge"}, "path": "/app"},
            {"name": "legacy", "domainName": "old.example.org", "path": "/static"}
        ],
        "defaultBehavior": {"origin": "assets", "viewerProtocolPolicy": "https-only",
            "allowedMethods": "GET_HEAD_OPTIONS", "cachePolicy": "CachingOptimizedForUncompressedObjects", "compress": false},
        "behaviors": [
            {"pathPattern": "/api/*", "origin": "api", "viewerProtocolPolicy": "allow-all",
             "allowedMethods": "ALL", "cachePolicy": "CachingDisabled"},
            {"pathPattern": "/app/*", "origin": "alb", "allowedMethods": "GET_HEAD",
             "cachePolicy": "11111111-2222-3333-4444-555555555555"}
        ],
        "aliases": ["www.example.com", "example.com"],
        "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "priceClass": "PriceClass_100",
        "defaultRootObject": "index.html",
        "enabled": false,
        "webAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/1a2b"
    }))
    .unwrap()
}

/// The resolved references of the full spec's origins (the outputs of the S3, APIGateway
/// and ALB components), as the engine puts them under `config.inputs`.
fn inputs() -> Value {
    json!({
        "origins[0].target": {"value": null, "outputs": {"name": "shop-dev-web-assets",
            "regionalDomainName": "shop-dev-web-assets.s3.us-east-1.amazonaws.com"}},
        "origins[1].target": {"value": null, "outputs": {"url": API_URL, "apiId": "abc123"}},
        "origins[2].target": {"value": null, "outputs": {"dnsName": "shop-dev-web-edge-1.us-east-1.elb.amazonaws.com",
            "arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-dev-web-edge/1"}}
    })
}

/// The distribution GetDistribution answers for one made from `spec`: the configuration
/// [`config`] sends, with CloudFront's id, ARN, domain and status.
/// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_GetDistribution.html
fn answer(
    spec: &CloudFrontSpec,
) -> (
    aws_sdk_cloudfront::types::Distribution,
    BTreeMap<String, String>,
) {
    let config_json = json!({"spec": spec, "inputs": inputs()});
    let tags = BTreeMap::new();
    let t = Target {
        address: "web/cdn",
        name: "shop-dev-web-cdn",
        spec: spec.clone(),
        tags: &tags,
        region: "us-east-1",
        config: &config_json,
    };
    let places: Vec<(String, Place)> = spec
        .origins
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.clone(), place(&t, i, o).unwrap()))
        .collect();
    let cfg = config(
        &t,
        &places,
        Some(OAC),
        spec.certificate_arn.as_deref(),
        t.name,
    )
    .unwrap();
    let d = aws_sdk_cloudfront::types::Distribution::builder()
        .id(ID)
        .arn(ARN)
        .status("Deployed")
        .domain_name("d111111abcdef8.cloudfront.net")
        .last_modified_time(aws_sdk_cloudfront::primitives::DateTime::from_secs(
            1_764_547_200,
        ))
        .in_progress_invalidation_batches(0)
        .distribution_config(cfg)
        .build()
        .unwrap();
    let found = Found {
        id: ID.into(),
        arn: ARN.into(),
        domain: "d111111abcdef8.cloudfront.net".into(),
        status: "Deployed".into(),
    };
    let needs_oac = places
        .iter()
        .any(|(_, p)| matches!(p, Place::Bucket { .. }));
    let ids = outcome(&found, needs_oac.then_some(OAC), &origin_urls(&t)).physical_ids;
    (d, ids)
}

async fn read_back(
    d: aws_sdk_cloudfront::types::Distribution,
    ids: &BTreeMap<String, String>,
) -> Observation<CloudFrontSpec> {
    let rule = mock!(Client::get_distribution)
        .match_requests(|r| r.id() == Some(ID))
        .then_output(move || {
            GetDistributionOutput::builder()
                .distribution(d.clone())
                .e_tag("E1")
                .build()
        });
    let cf = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, [&rule]);
    let empty = BTreeMap::new();
    let id = crate::test_identity("web/cdn", "shop-dev-web-cdn", ids, &empty);
    CloudFrontProvider::new(cf, no_s3())
        .read(&id)
        .await
        .unwrap()
        .unwrap()
}

/// An S3 client no read calls.
fn no_s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build(),
    )
}

fn reconciled(spec: &CloudFrontSpec, seen: &Observation<CloudFrontSpec>) -> Value {
    panka_engine::observe::reconcile(
        &serde_json::to_value(spec).unwrap(),
        Some(&inputs()),
        serde_json::to_value(&seen.spec).unwrap(),
        &seen.unobserved,
        &[],
    )
    .live
}

/// A distribution whose aliases `shared.domain` serves reads back as its spec, without a
/// `certificateArn`: the certificate it serves is the domain's (recorded under `certificate`);
/// the domain's ids are carried over. Another certificate reads back as the spec's.
#[tokio::test]
async fn the_domains_certificate_reads_back_as_no_certificate_arn() {
    let cert = "arn:aws:acm:us-east-1:123456789012:certificate/edge";
    let spec: CloudFrontSpec = serde_json::from_value(json!({
        "origins": [{"name": "site", "domainName": "example.org"}],
        "defaultBehavior": {"origin": "site"},
        "aliases": ["cdn.example.com"],
        "certificateArn": cert}))
    .unwrap();
    let (d, mut ids) = answer(&spec);
    let domain = domain::edge_ids("Z1", cert, &spec.aliases, "d111111abcdef8.cloudfront.net");
    assert_eq!(domain["record.cdn.example.com"], "A,AAAA");
    ids.extend(domain.clone());
    let seen = read_back(d.clone(), &ids).await;
    let served = CloudFrontSpec {
        certificate_arn: None,
        ..spec.clone()
    };
    assert_eq!(seen.spec, served);
    for (k, v) in &domain {
        assert_eq!(seen.outcome.physical_ids.get(k), Some(v), "{k}");
    }
    // Recorded for another certificate, the one served is reported as the spec's.
    ids.insert(
        domain::CERTIFICATE.to_string(),
        "arn:aws:acm:us-east-1:123456789012:certificate/old".to_string(),
    );
    assert_eq!(read_back(d, &ids).await.spec, spec);
}

#[tokio::test]
async fn a_distribution_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let (d, ids) = answer(&spec);
    assert_eq!(ids[&origin_url_key("api")], API_URL);
    let seen = read_back(d, &ids).await;
    assert_eq!(
        seen.spec.origins[1].target.as_ref().unwrap().component,
        API_URL
    );
    assert_eq!(seen.spec.origins[1].path.as_deref(), Some("/v1"));
    assert_eq!(
        reconciled(&spec, &seen),
        serde_json::to_value(&spec).unwrap()
    );
    assert_eq!(seen.unobserved, ["dependsOn"]);
    assert_eq!(seen.outcome.physical_ids, ids);
    assert_eq!(seen.outcome.outputs["arn"], ARN);
    assert_eq!(seen.outcome.outputs["distributionId"], ID);
    // The defaults, on an external origin, read back as themselves.
    let plain: CloudFrontSpec = serde_json::from_value(json!({
        "origins": [{"name": "site", "domainName": "example.org"}],
        "defaultBehavior": {"origin": "site"}}))
    .unwrap();
    let (d, ids) = answer(&plain);
    assert!(!ids.contains_key("originAccessControl"));
    let seen = read_back(d, &ids).await;
    assert_eq!(seen.spec, plain);
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    use aws_sdk_cloudfront::types::DistributionConfig as C;
    let spec = full_spec();
    let expected = serde_json::to_value(&spec).unwrap();
    type Change = fn(&mut C);
    fn origin(c: &mut C, i: usize) -> &mut CfOrigin {
        &mut c.origins.as_mut().unwrap().items[i]
    }
    fn behavior(c: &mut C, i: usize) -> &mut CacheBehavior {
        &mut c.cache_behaviors.as_mut().unwrap().items.as_mut().unwrap()[i]
    }
    let cases: Vec<(&str, Change, Value)> = vec![
        ("/enabled", |c| c.enabled = true, json!(true)),
        (
            "/priceClass",
            |c| c.price_class = Some(CfPrice::PriceClass200),
            json!("PriceClass_200"),
        ),
        (
            "/defaultRootObject",
            |c| c.default_root_object = Some("home.html".into()),
            json!("home.html"),
        ),
        (
            "/webAclArn",
            |c| c.web_acl_id = Some("arn:other-acl".into()),
            json!("arn:other-acl"),
        ),
        (
            "/aliases",
            |c| {
                c.aliases = Some(
                    Aliases::builder()
                        .quantity(1)
                        .items("cdn.example.com")
                        .build()
                        .unwrap(),
                )
            },
            json!(["cdn.example.com"]),
        ),
        (
            "/certificateArn",
            |c| {
                c.viewer_certificate.as_mut().unwrap().acm_certificate_arn =
                    Some("arn:other-cert".into())
            },
            json!("arn:other-cert"),
        ),
        (
            "/origins/0/target/component",
            |c| origin(c, 0).domain_name = "other.s3.us-east-1.amazonaws.com".into(),
            json!("other.s3.us-east-1.amazonaws.com"),
        ),
        (
            "/origins/1/path",
            |c| origin(c, 1).origin_path = Some("/prod/v2".into()),
            json!("/v2"),
        ),
        (
            "/origins/2/target/component",
            |c| origin(c, 2).domain_name = "other-lb.elb.amazonaws.com".into(),
            json!("other-lb.elb.amazonaws.com"),
        ),
        (
            "/origins/2/path",
            |c| origin(c, 2).origin_path = Some("/web".into()),
            json!("/web"),
        ),
        (
            "/origins/3/domainName",
            |c| origin(c, 3).domain_name = "new.example.org".into(),
            json!("new.example.org"),
        ),
        (
            "/origins/3/path",
            |c| origin(c, 3).origin_path = Some(String::new()),
            Value::Null,
        ),
        (
            "/defaultBehavior/origin",
            |c| c.default_cache_behavior.as_mut().unwrap().target_origin_id = "api".into(),
            json!("api"),
        ),
        (
            "/defaultBehavior/viewerProtocolPolicy",
            |c| {
                c.default_cache_behavior
                    .as_mut()
                    .unwrap()
                    .viewer_protocol_policy = CfViewer::RedirectToHttps
            },
            json!("redirect-to-https"),
        ),
        (
            "/defaultBehavior/allowedMethods",
            |c| {
                c.default_cache_behavior.as_mut().unwrap().allowed_methods =
                    Some(methods(AllowedMethods::All).unwrap())
            },
            json!("ALL"),
        ),
        (
            "/defaultBehavior/cachePolicy",
            |c| {
                c.default_cache_behavior.as_mut().unwrap().cache_policy_id =
                    Some(MANAGED_CACHE_POLICIES[2].1.into())
            },
            json!("CachingDisabled"),
        ),
        (
            "/defaultBehavior/compress",
            |c| c.default_cache_behavior.as_mut().unwrap().compress = Some(true),
            json!(true),
        ),
        (
            "/behaviors/0/pathPattern",
            |c| behavior(c, 0).path_pattern = "/v2/*".into(),
            json!("/v2/*"),
        ),
        (
            "/behaviors/1/cachePolicy",
            |c| {
                behavior(c, 1).cache_policy_id = Some("99999999-2222-3333-4444-555555555555".into())
            },
            json!("99999999-2222-3333-4444-555555555555"),
        ),
        (
            "/behaviors/1/allowedMethods",
            |c| {
                behavior(c, 1).allowed_methods =
                    Some(methods(AllowedMethods::GetHeadOptions).unwrap())
            },
            json!("GET_HEAD_OPTIONS"),
        ),
    ];
    for (pointer, change, value) in cases {
        let (mut d, ids) = answer(&spec);
        change(d.distribution_config.as_mut().unwrap());
        let seen = reconciled(&spec, &read_back(d, &ids).await);
        let mut want = expected.clone();
        if value.is_null() {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            want.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
        } else {
            *want.pointer_mut(pointer).unwrap() = value;
        }
        assert_eq!(seen, want, "only {pointer} differs");
    }
}

#[tokio::test]
async fn a_distribution_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::get_distribution).then_error(|| {
        GetDistributionError::NoSuchDistribution(
            aws_sdk_cloudfront::types::error::NoSuchDistribution::builder().build(),
        )
    });
    let cf = mock_client!(aws_sdk_cloudfront, [&gone]);
    let ids = BTreeMap::from([("distribution".to_string(), ID.to_string())]);
    let empty = BTreeMap::new();
    let id = crate::test_identity("web/cdn", "shop-dev-web-cdn", &ids, &empty);
    assert!(
        CloudFrontProvider::new(cf, no_s3())
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}

mod replays {
    use std::sync::{Arc, Mutex};

    use aws_sdk_cloudfront::operation::delete_distribution::DeleteDistributionOutput;
    use aws_sdk_cloudfront::operation::delete_origin_access_control::DeleteOriginAccessControlOutput;
    use aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput;
    use aws_sdk_cloudfront::operation::get_origin_access_control::GetOriginAccessControlOutput;
    use aws_sdk_cloudfront::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionOutput;
    use aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyOutput;
    use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput;
    use aws_smithy_mocks::{MockResponse, MockResponseInterceptor, Rule};
    use panka_engine::{ErrorKind, KindProvider};

    use super::*;
    use crate::aws_replies;

    type Log = Arc<Mutex<Vec<String>>>;

    const NAME: &str = "shop-dev-web-cdn";

    fn owner_tags(component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:service".to_string(), "web".to_string()),
            ("panka:component".to_string(), component.to_string()),
        ])
    }

    /// A distribution in front of one external origin (no bucket, no origin access control).
    fn simple_spec() -> CloudFrontSpec {
        serde_json::from_value(json!({
            "origins": [{"name": "legacy", "domainName": "old.example.org"}],
            "defaultBehavior": {"origin": "legacy"}
        }))
        .unwrap()
    }

    /// ListDistributions as CloudFront writes it: none, or one with this component's comment.
    /// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ListDistributions.html
    fn listed(with_ours: bool) -> aws_smithy_runtime_api::http::Response {
        let items = if with_ours {
            format!(
                "<Quantity>1</Quantity><Items><DistributionSummary><Id>{ID}</Id><ARN>{ARN}</ARN><Comment>panka: {NAME}</Comment></DistributionSummary></Items>"
            )
        } else {
            "<Quantity>0</Quantity>".to_string()
        };
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
            aws_smithy_types::body::SdkBody::from(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DistributionList xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated>{items}</DistributionList>"
            )),
        )
    }

    /// The distribution made from `spec` (its configuration as `config` sends it), deployed.
    fn distribution(spec: &CloudFrontSpec) -> aws_sdk_cloudfront::types::Distribution {
        let (d, _) = answer(spec);
        d
    }

    /// CloudFront where CreateDistributionWithTags is answered DistributionAlreadyExists
    /// (the caller reference is the name's, and an earlier create took effect), the
    /// distribution then listed with this component's comment and tagged `found`.
    fn cloudfront(log: &Log, spec: &CloudFrontSpec, found: BTreeMap<String, String>) -> Client {
        let note = |call: &'static str| {
            let l = log.clone();
            move || l.lock().unwrap().push(call.to_string())
        };
        let n = note("CreateDistributionWithTags");
        let create = mock!(Client::create_distribution_with_tags).then_compute_response(move |r| {
            n();
            let c = r.distribution_config_with_tags().unwrap();
            assert_eq!(c.distribution_config().unwrap().caller_reference(), NAME);
            MockResponse::Http(aws_replies::cloudfront(
                409,
                "DistributionAlreadyExists",
                "The caller reference that you are using to create a distribution is associated with another distribution.",
            ))
        });
        let list = mock!(Client::list_distributions)
            .sequence()
            .http_response(|| listed(false))
            .http_response(|| listed(true))
            .repeatedly()
            .build();
        let d = distribution(spec);
        let get = mock!(Client::get_distribution).then_output(move || {
            GetDistributionOutput::builder()
                .distribution(d.clone())
                .e_tag("E1")
                .build()
        });
        let tags = mock!(Client::list_tags_for_resource).then_output(move || {
            ListTagsForResourceOutput::builder()
                .tags(
                    Tags::builder()
                        .set_items(Some(
                            found
                                .iter()
                                .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                                .collect(),
                        ))
                        .build(),
                )
                .build()
        });
        let c = distribution(spec).distribution_config().cloned().unwrap();
        let get_config = mock!(Client::get_distribution_config).then_output(move || {
            GetDistributionConfigOutput::builder()
                .distribution_config(c.clone())
                .e_tag("E1")
                .build()
        });
        let n = note("UpdateDistribution");
        let update = mock!(Client::update_distribution).then_compute_output(move |r| {
            n();
            assert_eq!(r.if_match(), Some("E1"));
            UpdateDistributionOutput::builder().build()
        });
        let oacs = mock!(Client::list_origin_access_controls).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OriginAccessControlList xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>0</Quantity></OriginAccessControlList>",
                ),
            )
        });
        let rules: Vec<Rule> = vec![create, list, get, tags, get_config, update, oacs];
        mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, rules.iter())
    }

    /// CreateDistributionWithTags repeated after its answer was lost, with a configuration
    /// changed since: `DistributionAlreadyExists` (409). Found by comment and tags, it is this
    /// component's and is updated to the spec: never a second distribution.
    #[tokio::test]
    async fn a_create_answered_already_exists_updates_this_components_distribution() {
        let log: Log = Arc::default();
        let spec = simple_spec();
        let tags = owner_tags("cdn");
        let config = json!({"spec": spec});
        let t = Target {
            address: "web/cdn",
            name: NAME,
            spec: spec.clone(),
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let made = CloudFrontProvider::new(cloudfront(&log, &spec, tags.clone()), no_s3())
            .create(&t)
            .await
            .unwrap();
        assert_eq!(made.outputs["distributionId"], ID);
        assert_eq!(
            *log.lock().unwrap(),
            ["CreateDistributionWithTags", "UpdateDistribution"]
        );
    }

    /// The same, but the distribution with the comment is another component's: refused.
    #[tokio::test]
    async fn a_create_answered_already_exists_refuses_another_components_distribution() {
        let log: Log = Arc::default();
        let spec = simple_spec();
        let tags = owner_tags("cdn");
        let config = json!({"spec": spec});
        let t = Target {
            address: "web/cdn",
            name: NAME,
            spec: spec.clone(),
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let p = CloudFrontProvider::new(cloudfront(&log, &spec, owner_tags("edge")), no_s3());
        let err = p.create(&t).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned, "{}", err.chain());
        assert_eq!(*log.lock().unwrap(), ["CreateDistributionWithTags"]);
        // `find` refuses it too.
        let err = p.find(&t).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
    }

    /// An S3 client answering bucket policy calls from one stored policy.
    fn s3_with_policy(policy: Arc<Mutex<Option<String>>>) -> aws_sdk_s3::Client {
        let read = policy.clone();
        let get =
            mock!(aws_sdk_s3::Client::get_bucket_policy).then_compute_response(move |_| match read
                .lock()
                .unwrap()
                .clone()
            {
                Some(p) => MockResponse::Output(GetBucketPolicyOutput::builder().policy(p).build()),
                None => MockResponse::Http(aws_replies::s3(
                    404,
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                )),
            });
        let put = mock!(aws_sdk_s3::Client::put_bucket_policy).then_compute_output(move |r| {
            *policy.lock().unwrap() = r.policy().map(str::to_string);
            PutBucketPolicyOutput::builder().build()
        });
        let interceptor = MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .with_rule(&get)
            .with_rule(&put);
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .with_test_defaults()
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }

    /// Deleting a distribution takes its statement out of the policy of the bucket it reads
    /// (and only its statement), then deletes it and its origin access control.
    #[tokio::test]
    async fn deleting_a_distribution_takes_its_statement_out_of_the_bucket_policy() {
        let spec = full_spec();
        let (d, ids) = answer(&spec);
        let bucket = "shop-dev-web-assets";
        let theirs = json!({"Sid": "theirs", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/public/*")});
        let ours = bucket_statement("us-east-1", bucket, ARN);
        let policy = Arc::new(Mutex::new(Some(
            json!({"Version": "2012-10-17", "Statement": [theirs, ours]}).to_string(),
        )));
        let log: Log = Arc::default();
        let c = d.distribution_config().cloned().unwrap();
        let get = mock!(Client::get_distribution).then_output(move || {
            GetDistributionOutput::builder()
                .distribution(d.clone())
                .e_tag("E1")
                .build()
        });
        let get_config = mock!(Client::get_distribution_config).then_output(move || {
            GetDistributionConfigOutput::builder()
                .distribution_config(c.clone())
                .e_tag("E1")
                .build()
        });
        let l = log.clone();
        let delete = mock!(Client::delete_distribution).then_compute_output(move |_| {
            l.lock().unwrap().push("DeleteDistribution".into());
            DeleteDistributionOutput::builder().build()
        });
        let oac = mock!(Client::get_origin_access_control)
            .then_output(|| GetOriginAccessControlOutput::builder().e_tag("O1").build());
        let l = log.clone();
        let delete_oac =
            mock!(Client::delete_origin_access_control).then_compute_output(move |_| {
                l.lock().unwrap().push("DeleteOriginAccessControl".into());
                DeleteOriginAccessControlOutput::builder().build()
            });
        let rules: Vec<Rule> = vec![get, get_config, delete, oac, delete_oac];
        let cf = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, rules.iter());
        CloudFrontProvider::new(cf, s3_with_policy(policy.clone()))
            .delete(NAME, Some(spec), &ids)
            .await
            .unwrap();
        let left: Value = serde_json::from_str(policy.lock().unwrap().as_deref().unwrap()).unwrap();
        assert_eq!(left["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(left["Statement"][0]["Sid"], "theirs");
        assert_eq!(
            *log.lock().unwrap(),
            ["DeleteDistribution", "DeleteOriginAccessControl"]
        );
    }
}
