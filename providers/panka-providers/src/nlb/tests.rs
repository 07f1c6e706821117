//! Unit tests for the NLB provider.

use super::*;
use aws_sdk_ec2::operation::describe_security_group_rules::DescribeSecurityGroupRulesOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancer_attributes::DescribeLoadBalancerAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::{
    DescribeLoadBalancersError, DescribeLoadBalancersOutput,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::types::error::LoadBalancerNotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

const ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/shop-dev-web-tcp/9f8e";
const NAME: &str = "shop-dev-web-tcp";
const SERVICE: &str = "arn:aws:ecs:us-east-1:123456789012:service/shop-dev/shop-dev-web-api";

#[test]
fn target_group_names_fit() {
    assert_eq!(
        target_group_name("shop-dev-web-tcp", 9000),
        "shop-dev-web-tcp-9000"
    );
    assert!(target_group_name(&"x".repeat(40), 65535).len() <= 32);
}

fn full_spec() -> NlbSpec {
    serde_json::from_value(json!({
        "scheme": "internal",
        "listeners": [
            {"port": 443, "protocol": "TLS", "target": {"component": "web/api"}, "targetPort": 8443,
             "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"},
            {"port": 53, "protocol": "UDP", "target": {"component": "web/api"}}
        ],
        "crossZone": false,
        "deletionProtection": true
    }))
    .unwrap()
}

fn tg_arn(port: u32) -> String {
    format!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/{port}",
        target_group_name(NAME, port)
    )
}

/// The ids the NLB's create records for `spec`.
fn ids(spec: &NlbSpec) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::from([
        ("loadBalancer".to_string(), ARN.to_string()),
        (
            LISTENER_PORTS.to_string(),
            listener_ports(spec.listeners.iter().map(|l| l.port)),
        ),
    ]);
    for l in &spec.listeners {
        let p = l.port;
        ids.insert(format!("listener.{p}"), format!("{ARN}/listener-{p}"));
        ids.insert(format!("targetGroup.{p}"), tg_arn(p));
        ids.insert(format!("attached.{p}"), "shop-dev/shop-dev-web-api".into());
        let ranges = admitted_ranges(l, spec.scheme == Scheme::InternetFacing, VPC);
        ids.insert(
            format!("ingress.{p}"),
            format!(
                "sg-0svc {} {} {}",
                ranges.join(","),
                ingress_protocols(l.protocol).join(","),
                l.target_port.unwrap_or(p)
            ),
        );
    }
    ids.insert(VPC_CIDR_ID.to_string(), VPC.to_string());
    ids
}

const VPC: &str = "10.0.0.0/16";

/// The rules `ids` recorded, as DescribeSecurityGroupRules reports them.
/// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSecurityGroupRules.html
fn sg_rules(ids: &BTreeMap<String, String>) -> Vec<SecurityGroupRule> {
    ids.iter()
        .filter(|(k, _)| k.starts_with("ingress."))
        .flat_map(|(_, v)| recorded_rules(v))
        .enumerate()
        .map(|(i, (group, range, protocol, port))| {
            SecurityGroupRule::builder()
                .security_group_rule_id(format!("sgr-{i:017x}"))
                .group_id(group)
                .is_egress(false)
                .ip_protocol(protocol)
                .from_port(port)
                .to_port(port)
                .cidr_ipv4(range)
                .build()
        })
        .collect()
}

struct Answer {
    lb: LoadBalancer,
    listeners: Vec<Listener>,
    groups: Vec<TargetGroup>,
    attributes: Vec<LoadBalancerAttribute>,
    /// Target groups whose `preserve_client_ip.enabled` is true.
    preserving: Vec<String>,
    rules: Vec<SecurityGroupRule>,
    service: aws_sdk_ecs::types::Service,
}

/// What DescribeLoadBalancers, DescribeListeners, DescribeTargetGroups,
/// DescribeLoadBalancerAttributes and ECS DescribeServices answer for an NLB made from
/// `spec`: its requests (listeners, target groups, attributes, the service's load
/// balancers), plus what AWS adds.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
fn answer(spec: &NlbSpec) -> Answer {
    let lb = LoadBalancer::builder()
        .load_balancer_arn(ARN)
        .load_balancer_name(NAME)
        .dns_name("shop-dev-web-tcp-9f8e.elb.us-east-1.amazonaws.com")
        .canonical_hosted_zone_id("Z26RNL4JYFTOTI")
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(match spec.scheme {
            Scheme::Internal => LoadBalancerSchemeEnum::Internal,
            Scheme::InternetFacing => LoadBalancerSchemeEnum::InternetFacing,
        })
        .build();
    let mut listeners = Vec::new();
    let mut groups = Vec::new();
    let mut service = aws_sdk_ecs::types::Service::builder()
        .service_arn(SERVICE)
        .service_name("shop-dev-web-api")
        .status("ACTIVE");
    for l in spec.listeners.iter().rev() {
        let tg = tg_arn(l.port);
        listeners.push(
            Listener::builder()
                .listener_arn(format!("{ARN}/listener-{}", l.port))
                .load_balancer_arn(ARN)
                .port(l.port as i32)
                .protocol(protocol(l.protocol))
                .set_certificates(certificates(l))
                .default_actions(forward(&tg))
                .build(),
        );
        groups.push(
            TargetGroup::builder()
                .target_group_arn(&tg)
                .protocol(target_protocol(l.protocol))
                .port(l.target_port.unwrap_or(l.port) as i32)
                .target_type(TargetTypeEnum::Ip)
                .health_check_enabled(true)
                .build(),
        );
        service = service.load_balancers(
            aws_sdk_ecs::types::LoadBalancer::builder()
                .target_group_arn(&tg)
                .container_name(container_name(&l.target.component))
                .container_port(l.target_port.unwrap_or(l.port) as i32)
                .build(),
        );
    }
    let mut attributes = nlb_attributes(spec);
    attributes.push(
        LoadBalancerAttribute::builder()
            .key("dns_record.client_routing_policy")
            .value("any_availability_zone")
            .build(),
    );
    Answer {
        lb,
        listeners,
        groups,
        attributes,
        preserving: spec
            .listeners
            .iter()
            .filter(|l| l.preserve_client_ip)
            .map(|l| tg_arn(l.port))
            .collect(),
        rules: sg_rules(&ids(spec)),
        service: service.build(),
    }
}

async fn read_back(a: Answer, ids: &BTreeMap<String, String>) -> Observation<NlbSpec> {
    let Answer {
        lb,
        listeners,
        groups,
        attributes,
        preserving,
        rules,
        service,
    } = a;
    let tg_attributes =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
            .then_compute_output(move |r| {
                let on = preserving
                    .iter()
                    .any(|g| Some(g.as_str()) == r.target_group_arn());
                DescribeTargetGroupAttributesOutput::builder()
                    .attributes(
                        TargetGroupAttribute::builder()
                            .key(PRESERVE_CLIENT_IP)
                            .value(on.to_string())
                            .build(),
                    )
                    .attributes(
                        TargetGroupAttribute::builder()
                            .key("deregistration_delay.timeout_seconds")
                            .value("300")
                            .build(),
                    )
                    .build()
            });
    let sg = mock!(aws_sdk_ec2::Client::describe_security_group_rules)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("group-id") && f.values() == ["sg-0svc".to_string()])
        })
        .then_output(move || {
            DescribeSecurityGroupRulesOutput::builder()
                .set_security_group_rules(Some(rules.clone()))
                .build()
        });
    let lbs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers)
        .match_requests(|r| r.load_balancer_arns() == [ARN.to_string()])
        .then_output(move || {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb.clone())
                .build()
        });
    let ls =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners).then_output(move || {
            DescribeListenersOutput::builder()
                .set_listeners(Some(listeners.clone()))
                .build()
        });
    let tgs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(
        move || {
            DescribeTargetGroupsOutput::builder()
                .set_target_groups(Some(groups.clone()))
                .build()
        },
    );
    let at = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancer_attributes)
        .then_output(move || {
            DescribeLoadBalancerAttributesOutput::builder()
                .set_attributes(Some(attributes.clone()))
                .build()
        });
    let svc = mock!(aws_sdk_ecs::Client::describe_services)
        .match_requests(|r| {
            r.cluster() == Some("shop-dev") && r.services() == ["shop-dev-web-api".to_string()]
        })
        .then_output(move || {
            DescribeServicesOutput::builder()
                .services(service.clone())
                .build()
        });
    let elb = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&lbs, &ls, &tgs, &at, &tg_attributes]
    );
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&svc]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&sg]);
    let empty = BTreeMap::new();
    let id = crate::test_identity("web/tcp", NAME, ids, &empty);
    NlbProvider::new(elb, ec2, ecs)
        .read(&id)
        .await
        .unwrap()
        .unwrap()
}

/// The observation reconciled by the engine with `spec`, its targets resolved to the
/// MicroService's outputs.
fn reconciled(spec: &NlbSpec, seen: &Observation<NlbSpec>) -> Value {
    let service = json!({"value": null, "outputs": {"serviceArn": SERVICE, "serviceName": "shop-dev-web-api", "securityGroupId": "sg-0svc"}});
    let inputs = json!({"listeners[0].target": service, "listeners[1].target": service});
    panka_engine::observe::reconcile(
        &serde_json::to_value(spec).unwrap(),
        Some(&inputs),
        serde_json::to_value(&seen.spec).unwrap(),
        &seen.unobserved,
        &[],
    )
    .live
}

#[tokio::test]
async fn an_nlb_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let ids = ids(&spec);
    let seen = read_back(answer(&spec), &ids).await;
    assert_eq!(seen.spec.listeners[0].target.component, SERVICE);
    assert_eq!(
        reconciled(&spec, &seen),
        serde_json::to_value(&spec).unwrap()
    );
    assert_eq!(seen.unobserved, ["dependsOn"]);
    assert_eq!(seen.outcome.physical_ids, ids);
    assert_eq!(seen.outcome.outputs["zoneId"], "Z26RNL4JYFTOTI");
    // Defaults (internet-facing, cross-zone, no protection, TCP to the same port).
    let plain: NlbSpec = serde_json::from_value(json!({"listeners": [
        {"port": 443, "protocol": "TCP", "target": {"component": "web/api"}}]}))
    .unwrap();
    let ids = self::ids(&plain);
    let seen = read_back(answer(&plain), &ids).await;
    let mut live = seen.spec.clone();
    live.listeners[0].target.component = "web/api".into();
    assert_eq!(live, plain);
    assert!(seen.outcome.outputs.values().all(|v| !v.is_empty()));
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let ids = ids(&spec);
    let expected = serde_json::to_value(&spec).unwrap();
    type Change = fn(&mut Answer);
    let cases: Vec<(&str, Change, Value)> = vec![
        (
            "/scheme",
            |a| a.lb.scheme = Some(LoadBalancerSchemeEnum::InternetFacing),
            json!("internet-facing"),
        ),
        (
            "/crossZone",
            |a| a.attributes[0].value = Some("true".into()),
            json!(true),
        ),
        (
            "/deletionProtection",
            |a| a.attributes[1].value = Some("false".into()),
            json!(false),
        ),
        (
            "/listeners/0/protocol",
            |a| {
                a.listeners
                    .iter_mut()
                    .find(|l| l.port == Some(443))
                    .unwrap()
                    .protocol = Some(ProtocolEnum::Tcp);
            },
            json!("TCP"),
        ),
        (
            "/listeners/0/certificateArn",
            |a| {
                a.listeners
                    .iter_mut()
                    .find(|l| l.port == Some(443))
                    .unwrap()
                    .certificates = Some(vec![
                    Certificate::builder().certificate_arn("arn:other").build(),
                ]);
            },
            json!("arn:other"),
        ),
        (
            "/listeners/0/targetPort",
            |a| {
                a.groups
                    .iter_mut()
                    .find(|g| g.target_group_arn == Some(tg_arn(443)))
                    .unwrap()
                    .port = Some(9443);
            },
            json!(9443),
        ),
        (
            "/listeners/1/target/component",
            |a| {
                // The service no longer uses the UDP listener's target group.
                a.service
                    .load_balancers
                    .as_mut()
                    .unwrap()
                    .retain(|b| b.target_group_arn != Some(tg_arn(53)));
            },
            json!(tg_arn(53)),
        ),
        (
            "/listeners/1/port",
            |a| {
                a.listeners
                    .iter_mut()
                    .find(|l| l.port == Some(53))
                    .unwrap()
                    .port = Some(54);
            },
            json!(54),
        ),
    ];
    for (pointer, change, value) in cases {
        let mut a = answer(&spec);
        change(&mut a);
        let seen = reconciled(&spec, &read_back(a, &ids).await);
        let mut want = expected.clone();
        *want.pointer_mut(pointer).unwrap() = value;
        if pointer == "/scheme" {
            // The UDP targets admit only the VPC, which is not an internet-facing load
            // balancer's default: the listener says so.
            want["listeners"][1]["allowedCidrs"] = json!([VPC]);
        }
        if pointer == "/listeners/1/port" {
            // Its target port was the listener port: the same port now differs from it.
            want["listeners"][1]["targetPort"] = json!(53);
        }
        assert_eq!(seen, want, "only {pointer} differs");
    }
}

#[tokio::test]
async fn an_nlb_gone_from_aws_reads_as_absent() {
    let gone =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers).then_error(|| {
            DescribeLoadBalancersError::LoadBalancerNotFoundException(
                LoadBalancerNotFoundException::builder().build(),
            )
        });
    let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&gone]);
    let ecs = mock_client!(aws_sdk_ecs, []);
    let ec2 = mock_client!(aws_sdk_ec2, []);
    let ids = ids(&full_spec());
    let empty = BTreeMap::new();
    let id = crate::test_identity("web/tcp", NAME, &ids, &empty);
    assert!(
        NlbProvider::new(elb, ec2, ecs)
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}

/// Who may reach the targets reads back from AWS: a TCP listener's client IP preservation from
/// its target group's attributes, and the client ranges from the targets' security group rules
/// (on every protocol the listener needs). A rule revoked in AWS shows as drift of
/// `allowedCidrs`; the scheme's default reads as no `allowedCidrs` at all.
#[tokio::test]
async fn client_addresses_and_admitted_ranges_read_back_from_the_target_group_and_its_rules() {
    let spec: NlbSpec = serde_json::from_value(json!({
        "listeners": [
            {"port": 5000, "protocol": "TCP", "target": {"component": "web/api"},
             "preserveClientIp": true, "allowedCidrs": ["203.0.113.0/24", "198.51.100.0/24"]},
            {"port": 53, "protocol": "TCP_UDP", "target": {"component": "web/api"}},
            {"port": 7000, "protocol": "TCP", "target": {"component": "web/api"}}
        ]
    }))
    .unwrap();
    let ids = ids(&spec);
    assert_eq!(
        ids["ingress.53"], "sg-0svc 10.0.0.0/16,0.0.0.0/0 tcp,udp 53",
        "an internet-facing UDP listener admits everyone besides the VPC"
    );
    assert_eq!(ids["ingress.7000"], "sg-0svc 10.0.0.0/16 tcp 7000");
    let seen = read_back(answer(&spec), &ids).await;
    let mut live = seen.spec.clone();
    for l in &mut live.listeners {
        l.target.component = "web/api".into();
    }
    assert_eq!(live, spec);

    // Preservation turned off in AWS: the listener reads without it, and without ranges.
    let mut a = answer(&spec);
    a.preserving.clear();
    let seen = read_back(a, &ids).await;
    assert!(!seen.spec.listeners[0].preserve_client_ip);
    assert!(seen.spec.listeners[0].allowed_cidrs.is_empty());

    // One range revoked from the TCP listener; the UDP rule from anywhere revoked.
    let mut a = answer(&spec);
    a.rules.retain(|r| {
        !(r.cidr_ipv4() == Some("198.51.100.0/24")
            || (r.cidr_ipv4() == Some(ANYWHERE) && r.ip_protocol() == Some("udp")))
    });
    let seen = read_back(a, &ids).await;
    assert_eq!(seen.spec.listeners[0].allowed_cidrs, ["203.0.113.0/24"]);
    assert_eq!(
        seen.spec.listeners[1].allowed_cidrs,
        [VPC],
        "TCP_UDP admits anyone only when both protocols do"
    );
}

#[test]
fn ranges_no_longer_admitted_are_the_recorded_rules_missing_from_the_new_ones() {
    let before = recorded_rules("sg-1 10.0.0.0/16,203.0.113.0/24 tcp,udp 53");
    assert_eq!(before.len(), 4);
    let now = recorded_rules("sg-1 10.0.0.0/16,198.51.100.0/24 tcp,udp 53");
    let stale: Vec<_> = before.into_iter().filter(|r| !now.contains(r)).collect();
    assert_eq!(
        stale,
        [
            ("sg-1".into(), "203.0.113.0/24".into(), "tcp".into(), 53),
            ("sg-1".into(), "203.0.113.0/24".into(), "udp".into(), 53)
        ]
    );
    // The format before several ranges were recorded reads the same.
    assert_eq!(recorded_rules("sg-1 10.0.0.0/16 tcp 8080").len(), 1);
    assert!(recorded_rules("garbled").is_empty());
}
