//! ALB components: a dedicated Application Load Balancer built like the stack's shared one
//! (security group, listeners answering 404 or redirecting to HTTPS, idle timeout), with
//! deletion protection and access logs into an S3 component (prefix: its name; the bucket's
//! policy lets Elastic Load Balancing write there). Outputs: `dnsName`, `arn`, `zoneId`,
//! `securityGroupId`.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{AlbListener, AlbSpec};
use serde_json::Value;

use super::listeners::{IDLE_TIMEOUT, Settings, observe_listeners, scheme_of};
use super::shared::LoadBalancerProvider;
use super::{LISTENER_PORTS, Live, group_name, health_line, listener_ports, put, read_live};
use crate::network::find_security_group;

/// Elastic Load Balancing's account in the regions opened before August 2022, which must be let
/// write access logs; newer regions use the `logdelivery.elasticloadbalancing.amazonaws.com`
/// service principal.
const ELB_LOG_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-1", "582318560864"),
    ("ap-northeast-2", "600734575887"),
    ("ap-northeast-3", "383597477331"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-west-3", "009996457667"),
    ("eu-south-1", "635631232127"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
];

const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const LOGS_ENABLED: &str = "access_logs.s3.enabled";
const LOGS_BUCKET: &str = "access_logs.s3.bucket";
const LOGS_PREFIX: &str = "access_logs.s3.prefix";

/// The statement letting the load balancer `name` write its access logs into `bucket`.
fn log_statement(region: &str, bucket: &str, name: &str) -> Value {
    let principal = match ELB_LOG_ACCOUNTS.iter().find(|(r, _)| *r == region) {
        Some((_, account)) => serde_json::json!({"AWS": format!("arn:aws:iam::{account}:root")}),
        None => serde_json::json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    };
    serde_json::json!({
        "Sid": format!("panka-elb-logs-{name}"),
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{bucket}/{name}/AWSLogs/*"),
    })
}

/// The attributes an ALB component sets besides the idle timeout: deletion protection and
/// access logs into `bucket` (under the prefix `name`) when it has them.
fn alb_attributes(s: &AlbSpec, bucket: Option<&str>, name: &str) -> Vec<(&'static str, String)> {
    let mut attributes = vec![(DELETION_PROTECTION, s.deletion_protection.to_string())];
    match bucket {
        Some(bucket) => {
            attributes.push((LOGS_ENABLED, "true".into()));
            attributes.push((LOGS_BUCKET, bucket.to_string()));
            attributes.push((LOGS_PREFIX, name.to_string()));
        }
        None => attributes.push((LOGS_ENABLED, "false".into())),
    }
    attributes
}

fn settings_of(s: &AlbSpec) -> Settings {
    Settings {
        scheme: s.scheme,
        listeners: s.listeners.clone(),
        idle_timeout_seconds: s.idle_timeout_seconds,
    }
}

/// The provider of ALB components.
#[derive(Clone, Debug)]
pub struct AlbProvider {
    lb: LoadBalancerProvider,
    s3: aws_sdk_s3::Client,
}

impl AlbProvider {
    pub fn new(elb: Client, ec2: aws_sdk_ec2::Client, s3: aws_sdk_s3::Client) -> Self {
        AlbProvider {
            lb: LoadBalancerProvider::new(elb, ec2),
            s3,
        }
    }

    async fn converge(&self, t: &Target<'_, AlbSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let bucket = match &s.access_logs {
            Some(_) => {
                let bucket = panka_engine::resolve::input(t.config, "accessLogs")
                    .and_then(|r| r.outputs.get("name").cloned())
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Invalid,
                            "accessLogs refers to a component with no bucket name",
                        )
                    })?;
                // The bucket must let the load balancer write before logging is turned on.
                crate::policy::add_bucket_statement(
                    &self.s3,
                    &bucket,
                    log_statement(t.region, &bucket, t.name),
                )
                .await?;
                Some(bucket)
            }
            None => None,
        };
        let c = self
            .lb
            .converge_with(
                t.name,
                t.config,
                t.tags,
                &settings_of(s),
                &format!("panka: {} (load balancer)", t.address),
                &alb_attributes(s, bucket.as_deref(), t.name),
            )
            .await?;
        Ok(alb_outcome(
            &c.lb,
            &c.listeners,
            &s.listeners,
            Some(&c.security_group),
        ))
    }
}

/// The ids and outputs of an ALB component; `wanted` the listeners asked for (or observed),
/// whose order is recorded.
fn alb_outcome(
    lb: &LoadBalancer,
    listeners: &[Listener],
    wanted: &[AlbListener],
    sg: Option<&str>,
) -> Outcome {
    let mut physical_ids = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    put(&mut physical_ids, "loadBalancer", lb.load_balancer_arn());
    put(&mut physical_ids, "securityGroup", sg);
    physical_ids.insert(
        LISTENER_PORTS.to_string(),
        listener_ports(wanted.iter().map(|l| l.port)),
    );
    for l in listeners {
        if let (Some(port), Some(larn)) = (l.port(), l.listener_arn()) {
            physical_ids.insert(format!("listener.{port}"), larn.to_string());
        }
    }
    put(&mut outputs, "arn", lb.load_balancer_arn());
    put(&mut outputs, "dnsName", lb.dns_name());
    put(&mut outputs, "zoneId", lb.canonical_hosted_zone_id());
    put(&mut outputs, "securityGroupId", sg);
    Outcome {
        physical_ids,
        outputs,
    }
}

/// The ALB as Elastic Load Balancing reports it, in the form of its spec: the inverse of
/// [`settings_of`], [`alb_attributes`] and the listener requests. The access-log bucket is
/// reported by name where the spec refers to the S3 component (the engine puts the reference
/// back when that is the bucket it names).
fn observe(live: &Live, ids: &BTreeMap<String, String>) -> Observation<AlbSpec> {
    let listeners = observe_listeners(&live.listeners, ids.get(LISTENER_PORTS).map(String::as_str));
    let mut unobserved = vec!["dependsOn"];
    let idle = live
        .attributes
        .get(IDLE_TIMEOUT)
        .and_then(|v| v.parse::<u32>().ok());
    if idle.is_none() {
        unobserved.push("idleTimeoutSeconds");
    }
    let access_logs = live
        .flag(LOGS_ENABLED)
        .then(|| live.attributes.get(LOGS_BUCKET))
        .flatten()
        .filter(|b| !b.is_empty())
        .map(|b| panka_format::kinds::Target {
            component: b.clone(),
        });
    let spec = AlbSpec {
        scheme: scheme_of(&live.lb),
        listeners,
        idle_timeout_seconds: idle.unwrap_or_default(),
        access_logs,
        deletion_protection: live.flag(DELETION_PROTECTION),
        depends_on: Vec::new(),
    };
    let sg = ids
        .get("securityGroup")
        .map(String::as_str)
        .or_else(|| live.lb.security_groups().first().map(String::as_str));
    let outcome = alb_outcome(&live.lb, &live.listeners, &spec.listeners, sg);
    Observation::new(outcome, spec).unobserved(&unobserved)
}

impl KindProvider for AlbProvider {
    type Spec = AlbSpec;
    const KIND: &'static str = "ALB";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "idleTimeoutSeconds",
            tracked_by: "only when DescribeLoadBalancerAttributes leaves it out: the recorded value stands",
        },
    ];

    async fn create(&self, t: &Target<'_, AlbSpec>) -> Result<Outcome, ProviderError> {
        // A load balancer of this name is the component's only when it carries its tags.
        if let Some(lb) = self.lb.describe(t.name).await? {
            super::check_load_balancer_owner(&self.lb.elb, &lb, t.address, t.tags).await?;
        }
        self.converge(t).await
    }

    /// DescribeLoadBalancers (by the recorded ARN) + DescribeListeners +
    /// DescribeLoadBalancerAttributes = 3 calls.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<AlbSpec>>, ProviderError> {
        let arn = id.ids.get("loadBalancer").map(String::as_str);
        Ok(read_live(&self.lb.elb, arn, id.name)
            .await?
            .map(|live| observe(&live, id.ids)))
    }

    async fn update(
        &self,
        t: &Target<'_, AlbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<AlbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        KindProvider::delete(&self.lb, name, None, ids)
            .await
            .map_err(|mut e| {
                if e.chain().contains("deletion protection") || e.chain().contains("OperationNotPermitted") {
                    e.message = format!(
                        "{}: the load balancer has deletion protection; set `deletionProtection: false` and apply first",
                        e.message
                    );
                }
                e
            })
    }

    async fn health(
        &self,
        t: &Target<'_, AlbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.lb.describe(t.name).await?.as_ref().map(health_line))
    }

    async fn find(&self, t: &Target<'_, AlbSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(lb) = self.lb.describe(t.name).await? else {
            return Ok(None);
        };
        super::check_load_balancer_owner(&self.lb.elb, &lb, t.address, t.tags).await?;
        let listeners = self
            .lb
            .listeners(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        let sg = find_security_group(
            &self.lb.ec2,
            &group_name(t.name),
            lb.vpc_id().unwrap_or_default(),
        )
        .await?;
        Ok(Some(alb_outcome(
            &lb,
            &listeners,
            &t.spec.listeners,
            sg.as_deref(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::super::listeners::{attributes, described_listener};
    use super::*;
    use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
        DescribeLoadBalancersError, DescribeLoadBalancersOutput,
    };
    use aws_sdk_elasticloadbalancingv2::types::{
        LoadBalancerAttribute, LoadBalancerSchemeEnum, error::LoadBalancerNotFoundException,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-dev-web-edge/1a2b3c";
    const NAME: &str = "shop-dev-web-edge";
    const BUCKET: &str = "shop-dev-web-logs";

    #[test]
    fn access_logs_are_let_in_by_the_regions_elb_account_or_service() {
        let old = log_statement("us-east-1", "logs", "shop-dev-web-edge");
        assert_eq!(old["Principal"]["AWS"], "arn:aws:iam::127311923021:root");
        assert_eq!(
            old["Resource"],
            "arn:aws:s3:::logs/shop-dev-web-edge/AWSLogs/*"
        );
        let new = log_statement("ap-southeast-5", "logs", "x");
        assert_eq!(
            new["Principal"]["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
    }

    fn full_spec() -> AlbSpec {
        serde_json::from_value(json!({
            "scheme": "internal",
            "listeners": [
                {"port": 443, "protocol": "HTTPS", "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                 "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
                {"port": 80, "protocol": "HTTP", "redirectToHttps": true}
            ],
            "idleTimeoutSeconds": 120,
            "accessLogs": {"component": BUCKET},
            "deletionProtection": true,
        }))
        .unwrap()
    }

    fn ids(spec: &AlbSpec) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("loadBalancer".to_string(), ARN.to_string()),
            ("securityGroup".to_string(), "sg-0alb".to_string()),
            (
                LISTENER_PORTS.to_string(),
                listener_ports(spec.listeners.iter().map(|l| l.port)),
            ),
        ])
    }

    type Answer = (LoadBalancer, Vec<Listener>, Vec<LoadBalancerAttribute>);

    /// What DescribeLoadBalancers, DescribeListeners and DescribeLoadBalancerAttributes answer
    /// for an ALB made from `spec`: its requests, plus what AWS adds.
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancerAttributes.html
    fn answer(spec: &AlbSpec) -> Answer {
        let lb = LoadBalancer::builder()
            .load_balancer_arn(ARN)
            .load_balancer_name(NAME)
            .dns_name("internal-shop-dev-web-edge-1.us-east-1.elb.amazonaws.com")
            .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
            .vpc_id("vpc-0a1b")
            .scheme(match spec.scheme {
                panka_format::kinds::Scheme::Internal => LoadBalancerSchemeEnum::Internal,
                panka_format::kinds::Scheme::InternetFacing => {
                    LoadBalancerSchemeEnum::InternetFacing
                }
            })
            .security_groups("sg-0alb")
            .build();
        let mut listeners: Vec<Listener> = spec
            .listeners
            .iter()
            .map(|l| described_listener(ARN, l))
            .collect();
        listeners.reverse();
        let bucket = spec.access_logs.as_ref().map(|t| t.component.as_str());
        let mut attrs = attributes(&settings_of(spec), &alb_attributes(spec, bucket, NAME));
        attrs.push(
            LoadBalancerAttribute::builder()
                .key("routing.http2.enabled")
                .value("true")
                .build(),
        );
        (lb, listeners, attrs)
    }

    async fn read_back(
        (lb, listeners, attrs): Answer,
        ids: &BTreeMap<String, String>,
    ) -> Observation<AlbSpec> {
        let lbs = mock!(Client::describe_load_balancers)
            .match_requests(|r| r.load_balancer_arns() == [ARN.to_string()])
            .then_output(move || {
                DescribeLoadBalancersOutput::builder()
                    .load_balancers(lb.clone())
                    .build()
            });
        let ls = mock!(Client::describe_listeners)
            .match_requests(|r| r.load_balancer_arn() == Some(ARN))
            .then_output(move || {
                DescribeListenersOutput::builder()
                    .set_listeners(Some(listeners.clone()))
                    .build()
            });
        let at = mock!(Client::describe_load_balancer_attributes)
            .match_requests(|r| r.load_balancer_arn() == Some(ARN))
            .then_output(move || {
                DescribeLoadBalancerAttributesOutput::builder()
                    .set_attributes(Some(attrs.clone()))
                    .build()
            });
        let elb = mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [&lbs, &ls, &at]
        );
        let ec2 = mock_client!(aws_sdk_ec2, []);
        let s3 = no_s3();
        let empty = BTreeMap::new();
        let id = crate::test_identity("web/edge", NAME, ids, &empty);
        AlbProvider::new(elb, ec2, s3)
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

    fn set(attrs: &mut [LoadBalancerAttribute], key: &str, value: &str) {
        let a = attrs.iter_mut().find(|a| a.key() == Some(key)).unwrap();
        a.value = Some(value.to_string());
    }

    #[tokio::test]
    async fn an_alb_made_from_a_full_spec_reads_back_as_that_spec() {
        let spec = full_spec();
        let seen = read_back(answer(&spec), &ids(&spec)).await;
        assert_eq!(seen.spec, spec);
        assert_eq!(seen.unobserved, ["dependsOn"]);
        assert_eq!(seen.outcome.outputs["arn"], ARN);
        assert_eq!(seen.outcome.outputs["zoneId"], "Z35SXDOTRQ7X7K");
        assert_eq!(seen.outcome.outputs["securityGroupId"], "sg-0alb");
        assert_eq!(seen.outcome.physical_ids[LISTENER_PORTS], "443,80");
        // Defaults (no logs, no protection, internet-facing) read back as themselves.
        let plain: AlbSpec =
            serde_json::from_value(json!({"listeners": [{"port": 80, "protocol": "HTTP"}]}))
                .unwrap();
        let seen = read_back(answer(&plain), &ids(&plain)).await;
        assert_eq!(seen.spec, plain);
        assert!(seen.outcome.outputs.values().all(|v| !v.is_empty()));
    }

    #[tokio::test]
    async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
        let spec = full_spec();
        let expected = serde_json::to_value(&spec).unwrap();
        type Change = fn(&mut Answer);
        let cases: Vec<(&str, Change, Value)> = vec![
            (
                "/scheme",
                |a| a.0.scheme = Some(LoadBalancerSchemeEnum::InternetFacing),
                json!("internet-facing"),
            ),
            (
                "/idleTimeoutSeconds",
                |a| set(&mut a.2, IDLE_TIMEOUT, "4000"),
                json!(4000),
            ),
            (
                "/deletionProtection",
                |a| set(&mut a.2, DELETION_PROTECTION, "false"),
                json!(false),
            ),
            (
                "/accessLogs/component",
                |a| set(&mut a.2, LOGS_BUCKET, "other-bucket"),
                json!("other-bucket"),
            ),
            (
                "/listeners/0/certificateArn",
                |a| {
                    let l = a.1.iter_mut().find(|l| l.port == Some(443)).unwrap();
                    l.certificates = Some(vec![
                        aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                            .certificate_arn("arn:other")
                            .build(),
                    ]);
                },
                json!("arn:other"),
            ),
            (
                "/listeners/0/sslPolicy",
                |a| {
                    let l = a.1.iter_mut().find(|l| l.port == Some(443)).unwrap();
                    l.ssl_policy = Some("ELBSecurityPolicy-FS-1-2-2019-08".into());
                },
                json!("ELBSecurityPolicy-FS-1-2-2019-08"),
            ),
            (
                "/listeners/1/redirectToHttps",
                |a| {
                    let l = a.1.iter_mut().find(|l| l.port == Some(80)).unwrap();
                    l.default_actions = Some(vec![super::super::listeners::default_action(
                        &AlbListener {
                            port: 80,
                            protocol: panka_format::kinds::AlbProtocol::Http,
                            certificate_arn: None,
                            ssl_policy: None,
                            redirect_to_https: false,
                        },
                    )]);
                },
                json!(false),
            ),
            (
                "/listeners/1/port",
                |a| {
                    a.1.iter_mut().find(|l| l.port == Some(80)).unwrap().port = Some(81);
                },
                json!(81),
            ),
        ];
        for (pointer, change, value) in cases {
            let mut a = answer(&spec);
            change(&mut a);
            let seen = serde_json::to_value(read_back(a, &ids(&spec)).await.spec).unwrap();
            let mut want = expected.clone();
            *want.pointer_mut(pointer).unwrap() = value;
            assert_eq!(seen, want, "only {pointer} differs");
        }
        // Access logs turned off in AWS: no accessLogs.
        let mut a = answer(&spec);
        set(&mut a.2, LOGS_ENABLED, "false");
        let seen = read_back(a, &ids(&spec)).await.spec;
        assert_eq!(
            seen,
            AlbSpec {
                access_logs: None,
                ..spec.clone()
            }
        );
    }

    #[tokio::test]
    async fn an_alb_gone_from_aws_reads_as_absent() {
        let gone = mock!(Client::describe_load_balancers).then_error(|| {
            DescribeLoadBalancersError::LoadBalancerNotFoundException(
                LoadBalancerNotFoundException::builder().build(),
            )
        });
        let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&gone]);
        let ec2 = mock_client!(aws_sdk_ec2, []);
        let s3 = no_s3();
        let spec = full_spec();
        let ids = ids(&spec);
        let empty = BTreeMap::new();
        let id = crate::test_identity("web/edge", NAME, &ids, &empty);
        assert!(
            AlbProvider::new(elb, ec2, s3)
                .read(&id)
                .await
                .unwrap()
                .is_none()
        );
    }
}
