//! Unit tests for the shared Application Load Balancer provider.

use super::super::listeners::described_listener;
use super::*;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
    DescribeLoadBalancersError, DescribeLoadBalancersOutput,
};
use aws_sdk_elasticloadbalancingv2::types::{
    AvailabilityZone, LoadBalancerAttribute, error::LoadBalancerNotFoundException,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-dev/50dc6c495c0c9188";
const NAME: &str = "shop-dev";

/// The configuration `panka_plan::desired::ConfigBuilder` writes for a full
/// `shared.loadBalancer` (every field off its default) in a given network.
fn full_config() -> Value {
    json!({
        "name": NAME,
        "scheme": "internal",
        "listeners": [
            {"port": 443, "protocol": "HTTPS", "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
             "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "redirectToHttps": false},
            {"port": 80, "protocol": "HTTP", "redirectToHttps": true},
            {"port": 8080, "protocol": "HTTPS", "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/def", "redirectToHttps": false}
        ],
        "idleTimeoutSeconds": 300,
        "network": {"vpcId": "vpc-0a1b", "privateSubnets": ["subnet-b", "subnet-a"], "publicSubnets": ["subnet-p"]},
        "tags": {"panka:stack": "shop"}
    })
}

/// The ids the shared load balancer's create records for `config`.
fn recorded_ids(config: &Value) -> BTreeMap<String, String> {
    let s = settings(config).unwrap();
    BTreeMap::from([
        ("loadBalancer".to_string(), ARN.to_string()),
        ("securityGroup".to_string(), "sg-0lb".to_string()),
        (
            LISTENER_PORTS.to_string(),
            listener_ports(s.listeners.iter().map(|l| l.port)),
        ),
        (VPC.to_string(), "vpc-0a1b".to_string()),
        (SUBNETS.to_string(), "subnet-b,subnet-a".to_string()),
    ])
}

/// What DescribeLoadBalancers, DescribeListeners and DescribeLoadBalancerAttributes answer
/// for the load balancer made from `config`: the request's settings, plus what AWS adds
/// (DNS name, zone, attributes panka leaves at their defaults), subnets in another order.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancerAttributes.html
fn answer(config: &Value) -> (LoadBalancer, Vec<Listener>, Vec<LoadBalancerAttribute>) {
    let s = settings(config).unwrap();
    let lb = LoadBalancer::builder()
        .load_balancer_arn(ARN)
        .load_balancer_name(NAME)
        .dns_name("internal-shop-dev-1234.us-east-1.elb.amazonaws.com")
        .canonical_hosted_zone_id("Z35SXDOTRQ7X7K")
        .vpc_id("vpc-0a1b")
        .scheme(match s.scheme {
            Scheme::Internal => LoadBalancerSchemeEnum::Internal,
            Scheme::InternetFacing => LoadBalancerSchemeEnum::InternetFacing,
        })
        .r#type(LoadBalancerTypeEnum::Application)
        .availability_zones(
            AvailabilityZone::builder()
                .zone_name("us-east-1a")
                .subnet_id("subnet-a")
                .build(),
        )
        .availability_zones(
            AvailabilityZone::builder()
                .zone_name("us-east-1b")
                .subnet_id("subnet-b")
                .build(),
        )
        .security_groups("sg-0lb")
        .build();
    // AWS lists listeners in its own order.
    let mut listeners: Vec<Listener> = s
        .listeners
        .iter()
        .map(|l| described_listener(ARN, l))
        .collect();
    listeners.reverse();
    let mut attrs = attributes(&s, &[]);
    attrs.push(
        LoadBalancerAttribute::builder()
            .key("routing.http2.enabled")
            .value("true")
            .build(),
    );
    attrs.push(
        LoadBalancerAttribute::builder()
            .key("deletion_protection.enabled")
            .value("false")
            .build(),
    );
    (lb, listeners, attrs)
}

async fn read_back(
    (lb, listeners, attrs): (LoadBalancer, Vec<Listener>, Vec<LoadBalancerAttribute>),
    ids: &BTreeMap<String, String>,
) -> Observation<Value> {
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
    let at = mock!(Client::describe_load_balancer_attributes).then_output(move || {
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
    let empty = BTreeMap::new();
    let id = crate::test_identity("_shared/load-balancer", NAME, ids, &empty);
    LoadBalancerProvider::new(elb, ec2)
        .read(&id)
        .await
        .unwrap()
        .unwrap()
}

/// The observation reconciled by the engine against the recorded settings.
fn reconciled(config: &Value, seen: &Observation<Value>) -> Value {
    let recorded = panka_engine::observe::settings(config);
    panka_engine::observe::reconcile(&recorded, None, seen.spec.clone(), &seen.unobserved, &[]).live
}

#[tokio::test]
async fn a_load_balancer_made_from_full_settings_reads_back_as_those_settings() {
    let config = full_config();
    let ids = recorded_ids(&config);
    let seen = read_back(answer(&config), &ids).await;
    assert_eq!(seen.unobserved, ["network.publicSubnets"]);
    let mut expected = panka_engine::observe::settings(&config);
    expected["network"]
        .as_object_mut()
        .unwrap()
        .remove("publicSubnets");
    assert_eq!(seen.spec, expected);
    assert_eq!(
        reconciled(&config, &seen),
        panka_engine::observe::settings(&config)
    );
    let o = &seen.outcome;
    assert_eq!(o.outputs["arn"], ARN);
    assert_eq!(o.outputs["securityGroupId"], "sg-0lb");
    assert_eq!(o.outputs["vpcId"], "vpc-0a1b");
    assert_eq!(o.outputs["listener.443"], format!("{ARN}/listener-443"));
    assert!(!o.outputs.contains_key("listener.80"), "80 redirects");
    assert_eq!(o.physical_ids, {
        let mut ids = ids.clone();
        for p in [443, 80, 8080] {
            ids.insert(format!("listener.{p}"), format!("{ARN}/listener-{p}"));
        }
        ids
    });
    // The default settings in the default VPC read back as themselves too.
    let plain = json!({"name": NAME, "scheme": "internet-facing",
        "listeners": [{"port": 80, "protocol": "HTTP", "redirectToHttps": false}], "idleTimeoutSeconds": 60, "network": null, "tags": {}});
    let ids = BTreeMap::from([
        ("loadBalancer".to_string(), ARN.to_string()),
        (DEFAULT_VPC.to_string(), "vpc-default".to_string()),
    ]);
    let seen = read_back(answer(&plain), &ids).await;
    assert_eq!(seen.spec, panka_engine::observe::settings(&plain));
    assert!(seen.unobserved.is_empty());
    // No security group recorded: the one AWS reports.
    assert_eq!(seen.outcome.outputs["securityGroupId"], "sg-0lb");
    assert!(seen.outcome.outputs.values().all(|v| !v.is_empty()));
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let config = full_config();
    let ids = recorded_ids(&config);
    let expected = reconciled(&config, &read_back(answer(&config), &ids).await);
    type Change = fn(&mut (LoadBalancer, Vec<Listener>, Vec<LoadBalancerAttribute>));
    let cases: Vec<(&str, Change, Value)> = vec![
        (
            "/scheme",
            |a| a.0.scheme = Some(LoadBalancerSchemeEnum::InternetFacing),
            json!("internet-facing"),
        ),
        (
            "/idleTimeoutSeconds",
            |a| {
                a.2[0] = LoadBalancerAttribute::builder()
                    .key(IDLE_TIMEOUT)
                    .value("30")
                    .build()
            },
            json!(30),
        ),
        (
            "/network/vpcId",
            |a| a.0.vpc_id = Some("vpc-other".into()),
            json!("vpc-other"),
        ),
        (
            "/network/privateSubnets",
            |a| {
                a.0.availability_zones = Some(vec![
                    AvailabilityZone::builder().subnet_id("subnet-c").build(),
                ])
            },
            json!(["subnet-c"]),
        ),
        (
            "/listeners/0/certificateArn",
            |a| {
                find(&mut a.1, 443).certificates = Some(vec![
                    aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                        .certificate_arn("arn:other")
                        .build(),
                ])
            },
            json!("arn:other"),
        ),
        (
            "/listeners/0/sslPolicy",
            |a| find(&mut a.1, 443).ssl_policy = Some("ELBSecurityPolicy-FS-1-2-2019-08".into()),
            json!("ELBSecurityPolicy-FS-1-2-2019-08"),
        ),
        (
            "/listeners/1/redirectToHttps",
            |a| {
                find(&mut a.1, 80).default_actions = Some(vec![default_action(&AlbListener {
                    port: 80,
                    protocol: panka_format::kinds::AlbProtocol::Http,
                    certificate_arn: None,
                    ssl_policy: None,
                    redirect_to_https: false,
                })])
            },
            json!(false),
        ),
        (
            "/listeners/2/protocol",
            |a| {
                let l = find(&mut a.1, 8080);
                l.protocol = Some(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http);
            },
            json!("HTTP"),
        ),
        (
            "/listeners/2/port",
            |a| find(&mut a.1, 8080).port = Some(8081),
            json!(8081),
        ),
    ];
    for (pointer, change, value) in cases {
        let mut a = answer(&config);
        change(&mut a);
        let seen = reconciled(&config, &read_back(a, &ids).await);
        let mut want = expected.clone();
        *want.pointer_mut(pointer).unwrap() = value;
        if pointer == "/scheme" {
            // An internet-facing load balancer's subnets are its public ones (ELB cannot
            // change a scheme in place: this is a replacement made behind panka's back).
            want["network"]["publicSubnets"] = json!(["subnet-b", "subnet-a"]);
        }
        assert_eq!(seen, want, "only {pointer} differs");
    }
    // A listener added in AWS shows as an extra listener, after the recorded ones.
    let mut a = answer(&config);
    let extra = AlbListener {
        port: 9000,
        protocol: panka_format::kinds::AlbProtocol::Http,
        certificate_arn: None,
        ssl_policy: None,
        redirect_to_https: false,
    };
    a.1.push(described_listener(ARN, &extra));
    let seen = reconciled(&config, &read_back(a, &ids).await);
    let mut want = expected.clone();
    want["listeners"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::to_value(&extra).unwrap());
    assert_eq!(seen, want);
}

fn find(listeners: &mut [Listener], port: i32) -> &mut Listener {
    listeners.iter_mut().find(|l| l.port == Some(port)).unwrap()
}

#[tokio::test]
async fn a_load_balancer_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::describe_load_balancers).then_error(|| {
        DescribeLoadBalancersError::LoadBalancerNotFoundException(
            LoadBalancerNotFoundException::builder().build(),
        )
    });
    let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&gone]);
    let ec2 = mock_client!(aws_sdk_ec2, []);
    let ids = recorded_ids(&full_config());
    let empty = BTreeMap::new();
    let id = crate::test_identity("_shared/load-balancer", NAME, &ids, &empty);
    assert!(
        LoadBalancerProvider::new(elb, ec2)
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}
