//! Tests of the read: AWS's answers for a service made from a spec read back as that spec.

use super::super::autoscaling::{request_label, target_policies};
use super::super::infra::{PRIVATE_SUBNETS, PUBLIC_SUBNETS};
use super::super::load_balancing::rule_conditions;
use super::super::task_definition::task_definition;
use super::*;
use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use aws_sdk_applicationautoscaling::operation::describe_scaling_policies::DescribeScalingPoliciesOutput;
use aws_sdk_applicationautoscaling::types::{PolicyType, TargetTrackingScalingPolicyConfiguration};
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::types::LoadBalancer as ElbLoadBalancer;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use panka_format::model::{Autoscaling, Networking, Resources, Scaling};

const NAME: &str = "shop-dev-orders-api";
const ADDRESS: &str = "orders/api";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/shop-dev/shop-dev-orders-api";
const TD_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dev-orders-api:7";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/shop-dev-orders-api-task";
const TG_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-dev-orders-api-http/0123456789abcdef";
const LB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-dev/fedcba9876543210";
const RULE_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop-dev/fedcba9876543210/aaaa/bbbb";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
const PRIVATE: [&str; 2] = ["subnet-a", "subnet-b"];
const PUBLIC: [&str; 2] = ["subnet-p1", "subnet-p2"];

/// The infra a service gets when `infra.yaml` says nothing (`normalized_infra`).
fn default_infra() -> ComponentInfraSpec {
    ComponentInfraSpec {
        scaling: Some(Scaling {
            replicas: 1,
            autoscaling: None,
        }),
        ..ComponentInfraSpec::default()
    }
}

/// Every infra setting away from its default.
fn full_infra() -> ComponentInfraSpec {
    ComponentInfraSpec {
        resources: Resources {
            cpu: 1024,
            memory: 4096,
            ephemeral_storage_gb: 50,
        },
        scaling: Some(Scaling {
            replicas: 3,
            autoscaling: Some(Autoscaling {
                min: 2,
                max: 10,
                target_cpu_percent: Some(60),
                target_memory_percent: Some(75),
                requests_per_target: Some(500),
            }),
        }),
        networking: Networking {
            subnets: SubnetPlacement::Public,
            assign_public_ip: true,
            security_groups: vec!["sg-extra1".into(), "sg-extra2".into()],
        },
    }
}

fn full_microservice() -> MicroServiceSpec {
    serde_json::from_value(json!({
        "image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api", "tag": "1.4.2"},
        "command": ["serve", "--port", "8080"],
        "entrypoint": ["/bin/app"],
        "ports": [
            {"name": "http", "port": 8080, "protocol": "HTTPS", "public": true,
             "path": "/orders/*", "host": "api.example.com", "priority": 120},
            {"name": "metrics", "port": 9100, "protocol": "TCP"},
            {"name": "stats", "port": 8125, "protocol": "UDP"}
        ],
        "environment": [{"name": "MODE", "value": "prod"}, {"name": "REGION", "value": "us-east-1"}],
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": {"secretsManager": SECRET, "jsonKey": "password"}},
            {"name": "API_KEY", "valueFrom": {"ssmParameter": "/shop/api-key"}}
        ],
        "healthCheck": {
            "readiness": {"http": {"path": "/ready", "port": 8081, "successCodes": "200"},
                "periodSeconds": 10, "timeoutSeconds": 4, "successThreshold": 3,
                "failureThreshold": 4, "initialDelaySeconds": 20},
            "liveness": {"http": {"path": "/live", "port": 8082},
                "periodSeconds": 15, "timeoutSeconds": 3, "failureThreshold": 5,
                "initialDelaySeconds": 40}
        },
        "deployment": {"minimumHealthyPercent": 50, "maximumPercent": 150, "rollbackOnFailure": false},
        "logging": {"retentionDays": 90},
        "cpuArchitecture": "ARM64",
        "stopTimeoutSeconds": 60,
        "readonlyRootFilesystem": true,
        "user": "1000:1000",
        "enableExecuteCommand": true,
        "permissions": [
            {"actions": ["ses:SendEmail"], "resources": ["arn:aws:ses:us-east-1:123456789012:identity/example.com"]},
            {"actions": ["s3:Get*", "s3:List*"], "resources": ["arn:aws:s3:::shop-assets", "arn:aws:s3:::shop-assets/*"]}
        ],
        "managedPolicies": [
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "arn:aws:iam::123456789012:policy/shop/orders-read"
        ],
        "sidecars": [
            {"name": "otel", "image": {"repository": "public.ecr.aws/aws-observability/aws-otel-collector", "tag": "v0.40.0"},
             "command": ["--config=/etc/ecs/ecs-default-config.yaml"],
             "ports": [{"name": "otlp", "port": 4317}, {"name": "statsd", "port": 8126, "protocol": "UDP"}],
             "environment": [{"name": "AWS_REGION", "value": "us-east-1"}],
             "secrets": [{"name": "TOKEN", "valueFrom": {"ssmParameter": "/shop/otel-token"}}],
             "essential": false,
             "dependsOn": [{"container": "api", "condition": "START"}]},
            {"name": "init", "image": {"repository": "busybox"}, "command": ["true"], "essential": false},
            {"name": "proxy", "image": {"repository": "envoyproxy/envoy", "tag": "v1.31.0"},
             "dependsOn": [{"container": "init", "condition": "SUCCESS"}, {"container": "api", "condition": "HEALTHY"}]}
        ]
    }))
    .unwrap()
}

/// What AWS answers for a service panka made from `spec`.
struct Answers {
    service: Service,
    task: LiveTask,
    retention: Option<i32>,
    groups: Vec<TargetGroup>,
    rules: Vec<Rule>,
    scalable: Option<ScalableTarget>,
    policies: Vec<ScalingPolicy>,
    /// What GetRolePolicy and ListAttachedRolePolicies of the task role answer.
    grants: crate::iam::Grants,
}

/// The answers for `spec`, built from the provider's own request builders (the task
/// definition's container, the rule conditions) and the settings `converge` and
/// `ensure_target_group` send.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeRules.html
/// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html
fn answers<S: EcsKind + Clone>(spec: &S) -> Answers {
    answers_with(spec, &default_infra())
}

/// The answers for `spec` deployed with `infra`: the task definition's size as `register`
/// sends it, the service's count and network as `converge` sends them, and the scalable target
/// and policies `converge_autoscaling` puts.
/// https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalableTargets.html
/// https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalingPolicies.html
fn answers_with<S: EcsKind + Clone>(spec: &S, infra: &ComponentInfraSpec) -> Answers {
    let tags = BTreeMap::new();
    let config = json!({});
    let target = Target {
        address: ADDRESS,
        name: NAME,
        spec: spec.clone(),
        tags: &tags,
        region: "us-east-1",
        config: &config,
    };
    let td = task_definition(
        &target,
        infra,
        "arn:aws:iam::123456789012:role/shop-dev-orders-api-exec",
        TASK_ROLE,
    )
    .unwrap();
    let w = spec.workload();
    let arch = match w.cpu_architecture {
        CpuArchitecture::X86_64 => EcsArch::X8664,
        CpuArchitecture::Arm64 => EcsArch::Arm64,
    };
    let task = LiveTask::builder()
        .task_definition_arn(TD_ARN)
        .family(NAME)
        .revision(7)
        .task_role_arn(TASK_ROLE)
        .set_container_definitions(Some(td.containers))
        .cpu(infra.resources.cpu.to_string())
        .memory(infra.resources.memory.to_string())
        .set_ephemeral_storage((infra.resources.ephemeral_storage_gb > 21).then(|| {
            aws_sdk_ecs::types::EphemeralStorage::builder()
                .size_in_gib(infra.resources.ephemeral_storage_gb as i32)
                .build()
        }))
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(arch)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .build();
    let public: Vec<&Port> = w.ports.iter().filter(|p| p.public).collect();
    let scaling = infra.scaling.clone().unwrap();
    let desired = match &scaling.autoscaling {
        Some(a) => scaling.replicas.clamp(a.min, a.max),
        None => scaling.replicas,
    };
    let subnets = match infra.networking.subnets {
        SubnetPlacement::Private => PRIVATE,
        SubnetPlacement::Public => PUBLIC,
    };
    let mut service = Service::builder()
        .service_name(NAME)
        .service_arn(SERVICE_ARN)
        .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/shop-dev")
        .status("ACTIVE")
        .task_definition(TD_ARN)
        .desired_count(desired as i32)
        .running_count(desired as i32)
        .launch_type(LaunchType::Fargate)
        .enable_execute_command(w.enable_execute_command)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .set_subnets(Some(subnets.iter().map(|s| s.to_string()).collect()))
                        .set_security_groups(Some(
                            std::iter::once("sg-task".to_string())
                                .chain(infra.networking.security_groups.iter().cloned())
                                .collect(),
                        ))
                        .assign_public_ip(if infra.networking.assign_public_ip {
                            AssignPublicIp::Enabled
                        } else {
                            AssignPublicIp::Disabled
                        })
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(w.deployment.minimum_healthy_percent as i32)
                .maximum_percent(w.deployment.maximum_percent as i32)
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(w.deployment.rollback_on_failure)
                        .build(),
                )
                .build(),
        );
    if !public.is_empty() {
        service = service.health_check_grace_period_seconds(
            w.readiness
                .as_ref()
                .map_or(0, |r| r.initial_delay_seconds as i32),
        );
    }
    let mut groups = Vec::new();
    let mut rules = Vec::new();
    for p in &public {
        service = service.load_balancers(
            EcsLoadBalancer::builder()
                .target_group_arn(TG_ARN)
                .container_name(container_name(ADDRESS))
                .container_port(p.port as i32)
                .build(),
        );
        let r = w.readiness.as_ref();
        let http = r.and_then(|r| r.http.as_ref());
        groups.push(
            TargetGroup::builder()
                .target_group_arn(TG_ARN)
                .target_group_name(target_group(NAME, p))
                .protocol(if p.protocol == PortProtocol::Https {
                    ProtocolEnum::Https
                } else {
                    ProtocolEnum::Http
                })
                .protocol_version("HTTP1")
                .port(p.port as i32)
                .vpc_id("vpc-1")
                .target_type(TargetTypeEnum::Ip)
                .health_check_enabled(true)
                .health_check_protocol(ProtocolEnum::Http)
                .health_check_path(http.map_or("/", |h| h.path.as_str()))
                .health_check_port(
                    http.and_then(|h| h.port)
                        .or(r.and_then(|r| r.tcp.as_ref()).map(|t| t.port))
                        .map_or_else(|| "traffic-port".to_string(), |p| p.to_string()),
                )
                .health_check_interval_seconds(r.map_or(30, |r| r.period_seconds as i32))
                .health_check_timeout_seconds(r.map_or(5, |r| r.timeout_seconds as i32))
                .healthy_threshold_count(r.map_or(2, |r| r.success_threshold as i32))
                .unhealthy_threshold_count(r.map_or(3, |r| r.failure_threshold as i32))
                .matcher(
                    Matcher::builder()
                        .http_code(http.map_or("200-399", |h| h.success_codes.as_str()))
                        .build(),
                )
                .load_balancer_arns(LB_ARN)
                .build(),
        );
        rules.push(
            Rule::builder()
                .rule_arn(RULE_ARN)
                .priority(
                    p.priority
                        .expect("loading a stack gives every public port its priority")
                        .to_string(),
                )
                .set_conditions(Some(rule_conditions(p)))
                .actions(
                    Action::builder()
                        .r#type(ActionTypeEnum::Forward)
                        .target_group_arn(TG_ARN)
                        .build(),
                )
                .is_default(false)
                .build(),
        );
    }
    let resource = format!("service/shop-dev/{NAME}");
    let created = aws_sdk_applicationautoscaling::primitives::DateTime::from_secs(1_764_547_200);
    let (scalable, policies) = match &scaling.autoscaling {
        Some(a) => {
            let target = ScalableTarget::builder()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(&resource)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(a.min as i32)
                .max_capacity(a.max as i32)
                .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
                .creation_time(created)
                .build()
                .unwrap();
            let policies = target_policies(a, Some(request_label(LB_ARN, TG_ARN)))
                .unwrap()
                .into_iter()
                .map(|(kind, config)| {
                    ScalingPolicy::builder()
                        .policy_arn(format!("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:0000:resource/ecs/{resource}:policyName/{NAME}-{kind}"))
                        .policy_name(format!("{NAME}-{kind}"))
                        .service_namespace(ServiceNamespace::Ecs)
                        .resource_id(&resource)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .policy_type(PolicyType::TargetTrackingScaling)
                        .target_tracking_scaling_policy_configuration(config)
                        .creation_time(created)
                        .build()
                        .unwrap()
                })
                .collect();
            (Some(target), policies)
        }
        None => (None, Vec::new()),
    };
    let grants = grants_of(&w);
    Answers {
        service: service.build(),
        task,
        retention: Some(w.logging.retention_days as i32),
        groups,
        rules,
        scalable,
        policies,
        grants,
    }
}

thread_local! {
    /// DescribeTaskDefinition calls answered on this test's thread.
    static TASK_DEFINITION_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn provider<S>(a: Answers) -> EcsServiceProvider<S> {
    let Answers {
        service,
        task,
        retention,
        groups,
        rules,
        scalable,
        policies,
        grants,
    } = a;
    let services = mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(service.clone())
            .build()
    });
    let described = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some(TD_ARN))
        .then_output(move || {
            TASK_DEFINITION_READS.with(|n| n.set(n.get() + 1));
            DescribeTaskDefinitionOutput::builder()
                .task_definition(task.clone())
                .build()
        });
    let logs = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(move || {
        let mut g =
            aws_sdk_cloudwatchlogs::types::LogGroup::builder().log_group_name(log_group(NAME));
        if let Some(days) = retention {
            g = g.retention_in_days(days);
        }
        DescribeLogGroupsOutput::builder()
            .log_groups(g.build())
            .build()
    });
    let tgs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(
        move || {
            DescribeTargetGroupsOutput::builder()
                .set_target_groups(Some(groups.clone()))
                .build()
        },
    );
    let described_rules = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules)
        .then_output(move || {
            DescribeRulesOutput::builder()
                .set_rules(Some(rules.clone()))
                .build()
        });
    let lbs =
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers).then_output(|| {
            DescribeLoadBalancersOutput::builder()
                .load_balancers(
                    ElbLoadBalancer::builder()
                        .load_balancer_arn(LB_ARN)
                        .dns_name("shop-dev-123.us-east-1.elb.amazonaws.com")
                        .build(),
                )
                .build()
        });
    let targets = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .match_requests(|r| r.resource_ids() == [format!("service/shop-dev/{NAME}")])
        .then_output(move || {
            DescribeScalableTargetsOutput::builder()
                .set_scalable_targets(Some(scalable.clone().into_iter().collect()))
                .build()
        });
    let scaling_policies = mock!(aws_sdk_applicationautoscaling::Client::describe_scaling_policies)
        .then_output(move || {
            DescribeScalingPoliciesOutput::builder()
                .set_scaling_policies(Some(policies.clone()))
                .build()
        });
    let [role_policy, attached] =
        crate::iam::mocks::grant_rules("shop-dev-orders-api-task", &grants);
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    EcsServiceProvider::new(Clients {
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&services, &described]),
        elb: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            [&tgs, &described_rules, &lbs]
        ),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&logs]),
        iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&role_policy, &attached]),
        // A client a read never calls.
        scaling: mock_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::MatchAny,
            [&targets, &scaling_policies]
        ),
        ec2: aws_sdk_ec2::Client::new(&conf),
        discovery: crate::microservice::unused_discovery(),
    })
}

fn ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("cluster".to_string(), "shop-dev".to_string()),
        ("service".to_string(), NAME.to_string()),
        ("securityGroup".to_string(), "sg-task".to_string()),
        ("rule.http.443".to_string(), RULE_ARN.to_string()),
        ("ingress.sg-db".to_string(), "5432".to_string()),
        (PRIVATE_SUBNETS.to_string(), PRIVATE.join(",")),
        (PUBLIC_SUBNETS.to_string(), PUBLIC.join(",")),
        (
            task_definition::MANAGED_POLICIES_ID.to_string(),
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess,arn:aws:iam::123456789012:policy/shop/orders-read".to_string(),
        ),
    ])
}

fn container(a: &mut Answers) -> &mut ContainerDefinition {
    &mut a.task.container_definitions.as_mut().unwrap()[0]
}

/// The task's `i`-th container: its sidecars follow the component's container.
fn sidecar(a: &mut Answers, i: usize) -> &mut ContainerDefinition {
    &mut a.task.container_definitions.as_mut().unwrap()[i]
}

async fn read_back<S: ServiceKind>(a: Answers) -> Observation<S> {
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
    provider::<S>(a).read(&id).await.unwrap().unwrap()
}

/// A revision never changes: a provider reads each task definition once, however many reads
/// (services) run it.
#[tokio::test]
async fn a_task_definition_is_read_once_per_revision() {
    let spec = full_microservice();
    let p = provider::<MicroServiceSpec>(answers_with(&spec, &full_infra()));
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
    let first = p.read(&id).await.unwrap().unwrap();
    let second = p.read(&id).await.unwrap().unwrap();
    assert_eq!(first, second);
    assert_eq!(TASK_DEFINITION_READS.with(std::cell::Cell::get), 1);
}

#[tokio::test]
async fn a_microservice_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_microservice();
    let seen = read_back::<MicroServiceSpec>(answers_with(&spec, &full_infra())).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.infra, Some(full_infra()));
    assert_eq!(
        seen.unobserved,
        [
            "dependsOn",
            "deployment.timeoutMinutes",
            "beforeDeploy",
            "permissions[].allowWildcard",
            "healthCheck.liveness.successThreshold",
            "healthCheck.liveness.http.successCodes"
        ]
    );
    let o = &seen.outcome.outputs;
    assert_eq!(o["url"], "https://api.example.com/orders");
    assert_eq!(o["serviceArn"], SERVICE_ARN);
    assert_eq!(o["taskDefinitionArn"], TD_ARN);
    assert_eq!(o["taskRoleArn"], TASK_ROLE);
    assert_eq!(o["targetGroupArn"], TG_ARN);
    assert_eq!(o["securityGroupId"], "sg-task");
    assert_eq!(o["logGroupName"], "/ecs/shop-dev-orders-api");
    assert!(o.values().all(|v| !v.is_empty()));
    let ids = &seen.outcome.physical_ids;
    assert_eq!(ids["serviceArn"], SERVICE_ARN);
    assert_eq!(ids["targetGroup.http"], TG_ARN);
    assert_eq!(ids["rule.http.443"], RULE_ARN);
    assert_eq!(ids["ingress.sg-db"], "5432");
    assert_eq!(ids[PUBLIC_SUBNETS], "subnet-p1,subnet-p2");
    assert_eq!(o["securityGroupId"], "sg-task");
    // The defaults read back as the defaults.
    let seen = read_back::<MicroServiceSpec>(answers(&spec)).await;
    assert_eq!(seen.infra, Some(default_infra()));
}

/// Each infra setting changed in AWS reads back as exactly that change, on a service with
/// every setting away from its default and one with the defaults.
#[tokio::test]
async fn each_infra_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_microservice();
    type Change = Box<dyn Fn(&mut Answers)>;
    fn vpc(a: &mut Answers) -> &mut AwsVpcConfiguration {
        a.service
            .network_configuration
            .as_mut()
            .unwrap()
            .awsvpc_configuration
            .as_mut()
            .unwrap()
    }
    fn policy<'a>(
        a: &'a mut Answers,
        kind: &str,
    ) -> &'a mut TargetTrackingScalingPolicyConfiguration {
        let name = format!("{NAME}-{kind}");
        a.policies
            .iter_mut()
            .find(|p| p.policy_name == name)
            .unwrap()
            .target_tracking_scaling_policy_configuration
            .as_mut()
            .unwrap()
    }
    let cases: Vec<(&str, Value, Change)> = vec![
        (
            "/resources/cpu",
            json!(2048),
            Box::new(|a| a.task.cpu = Some("2048".into())),
        ),
        (
            "/resources/memory",
            json!(8192),
            Box::new(|a| a.task.memory = Some("8192".into())),
        ),
        (
            "/resources/ephemeralStorageGB",
            json!(100),
            Box::new(|a| {
                a.task.ephemeral_storage = Some(
                    aws_sdk_ecs::types::EphemeralStorage::builder()
                        .size_in_gib(100)
                        .build(),
                );
            }),
        ),
        (
            "/resources/ephemeralStorageGB",
            json!(21),
            Box::new(|a| a.task.ephemeral_storage = None),
        ),
        (
            "/scaling/replicas",
            json!(7),
            Box::new(|a| a.service.desired_count = 7),
        ),
        (
            "/scaling/autoscaling/min",
            json!(1),
            Box::new(|a| a.scalable.as_mut().unwrap().min_capacity = 1),
        ),
        (
            "/scaling/autoscaling/max",
            json!(20),
            Box::new(|a| a.scalable.as_mut().unwrap().max_capacity = 20),
        ),
        (
            "/scaling/autoscaling/targetCpuPercent",
            json!(40),
            Box::new(|a| policy(a, "cpu").target_value = 40.0),
        ),
        (
            "/scaling/autoscaling/targetMemoryPercent",
            json!(90),
            Box::new(|a| policy(a, "memory").target_value = 90.0),
        ),
        (
            "/scaling/autoscaling/requestsPerTarget",
            json!(1000),
            Box::new(|a| policy(a, "requests").target_value = 1000.0),
        ),
        (
            "/scaling/autoscaling",
            Value::Null,
            Box::new(|a| {
                a.scalable = None;
                a.policies.clear();
            }),
        ),
        (
            "/networking/subnets",
            json!("private"),
            Box::new(|a| {
                vpc(a).subnets = PRIVATE.iter().map(|s| s.to_string()).collect();
            }),
        ),
        (
            "/networking/assignPublicIp",
            json!(false),
            Box::new(|a| vpc(a).assign_public_ip = Some(AssignPublicIp::Disabled)),
        ),
        (
            "/networking/securityGroups",
            json!(["sg-extra1"]),
            Box::new(|a| {
                vpc(a).security_groups = Some(vec!["sg-task".into(), "sg-extra1".into()]);
            }),
        ),
    ];
    let base = serde_json::to_value(full_infra()).unwrap();
    for (pointer, value, change) in cases {
        let mut a = answers_with(&spec, &full_infra());
        change(&mut a);
        let seen = read_back::<MicroServiceSpec>(a).await;
        let mut expected = base.clone();
        if value.is_null() {
            let (parent, field) = pointer.rsplit_once('/').unwrap();
            expected
                .pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(field);
        } else {
            *expected.pointer_mut(pointer).unwrap() = value;
        }
        assert_eq!(
            serde_json::to_value(seen.infra.unwrap()).unwrap(),
            expected,
            "only {pointer} differs"
        );
        assert_eq!(seen.spec, spec, "the spec is untouched by {pointer}");
        assert!(
            !seen.unobserved.iter().any(|p| p.starts_with("infra.")),
            "{pointer}"
        );
    }
    // From the defaults: autoscaling and extra groups added, a policy dropped.
    let base = serde_json::to_value(default_infra()).unwrap();
    let mut a = answers_with(&spec, &default_infra());
    vpc(&mut a).security_groups = Some(vec!["sg-task".into(), "sg-new".into()]);
    let seen = read_back::<MicroServiceSpec>(a).await;
    let mut expected = base.clone();
    expected["networking"]["securityGroups"] = json!(["sg-new"]);
    assert_eq!(serde_json::to_value(seen.infra.unwrap()).unwrap(), expected);
    let mut a = answers_with(&spec, &full_infra());
    a.policies
        .retain(|p| p.policy_name != format!("{NAME}-memory"));
    let seen = read_back::<MicroServiceSpec>(a).await;
    let mut expected = serde_json::to_value(full_infra()).unwrap();
    expected["scaling"]["autoscaling"]
        .as_object_mut()
        .unwrap()
        .remove("targetMemoryPercent");
    assert_eq!(serde_json::to_value(seen.infra.unwrap()).unwrap(), expected);
    // Subnets of neither recorded list cannot be read as a placement.
    let mut a = answers_with(&spec, &full_infra());
    vpc(&mut a).subnets = vec!["subnet-x".into()];
    let seen = read_back::<MicroServiceSpec>(a).await;
    assert!(seen.unobserved.contains(&"infra.networking.subnets"));
}

#[test]
fn the_task_count_is_managed_only_under_autoscaling() {
    assert_eq!(
        MicroServiceProvider::managed_infra(&full_infra()),
        ["scaling.replicas"]
    );
    assert!(MicroServiceProvider::managed_infra(&default_infra()).is_empty());
    assert!(WorkerProvider::managed_infra(&default_infra()).is_empty());
    let mut infra = full_infra();
    infra.scaling.as_mut().unwrap().autoscaling = None;
    assert!(WorkerProvider::managed_infra(&infra).is_empty());
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_microservice();
    type Change = Box<dyn Fn(&mut Answers)>;
    let cases: Vec<(&str, Value, Change)> = vec![
        (
            "/environment/0/value",
            json!("dev"),
            Box::new(|a| {
                container(a).environment.as_mut().unwrap()[0].value = Some("dev".into());
            }),
        ),
        (
            "/image/tag",
            json!("1.5.0"),
            Box::new(|a| {
                container(a).image =
                    Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.5.0".into());
            }),
        ),
        (
            "/command",
            json!(["work"]),
            Box::new(|a| {
                container(a).command = Some(vec!["work".into()]);
            }),
        ),
        (
            "/entrypoint",
            json!(["/bin/sh"]),
            Box::new(|a| {
                container(a).entry_point = Some(vec!["/bin/sh".into()]);
            }),
        ),
        (
            "/ports/1/port",
            json!(9200),
            Box::new(|a| {
                container(a).port_mappings.as_mut().unwrap()[1].container_port = Some(9200);
            }),
        ),
        (
            "/secrets/1/valueFrom/ssmParameter",
            json!("/shop/other"),
            Box::new(|a| {
                container(a).secrets.as_mut().unwrap()[1].value_from = "/shop/other".into();
            }),
        ),
        (
            "/secrets/0/valueFrom/jsonKey",
            json!("user"),
            Box::new(|a| {
                container(a).secrets.as_mut().unwrap()[0].value_from = format!("{SECRET}:user::");
            }),
        ),
        (
            "/stopTimeoutSeconds",
            json!(10),
            Box::new(|a| {
                container(a).stop_timeout = Some(10);
            }),
        ),
        (
            "/readonlyRootFilesystem",
            json!(false),
            Box::new(|a| {
                container(a).readonly_root_filesystem = Some(false);
            }),
        ),
        (
            "/user",
            json!("0"),
            Box::new(|a| {
                container(a).user = Some("0".into());
            }),
        ),
        (
            "/healthCheck/liveness/periodSeconds",
            json!(60),
            Box::new(|a| {
                container(a).health_check.as_mut().unwrap().interval = Some(60);
            }),
        ),
        (
            "/healthCheck/liveness/http/path",
            json!("/alive"),
            Box::new(|a| {
                container(a).health_check.as_mut().unwrap().command = vec![
                    "CMD-SHELL".into(),
                    "curl -fsS -o /dev/null http://localhost:8082/alive || exit 1".into(),
                ];
            }),
        ),
        (
            "/cpuArchitecture",
            json!("X86_64"),
            Box::new(|a| {
                a.task.runtime_platform = Some(
                    RuntimePlatform::builder()
                        .cpu_architecture(EcsArch::X8664)
                        .build(),
                );
            }),
        ),
        (
            "/healthCheck/readiness/http/path",
            json!("/health"),
            Box::new(|a| {
                a.groups[0].health_check_path = Some("/health".into());
            }),
        ),
        (
            "/healthCheck/readiness/http/successCodes",
            json!("200-299"),
            Box::new(|a| {
                a.groups[0].matcher = Some(Matcher::builder().http_code("200-299").build());
            }),
        ),
        (
            "/healthCheck/readiness/periodSeconds",
            json!(20),
            Box::new(|a| {
                a.groups[0].health_check_interval_seconds = Some(20);
            }),
        ),
        (
            "/healthCheck/readiness/failureThreshold",
            json!(6),
            Box::new(|a| {
                a.groups[0].unhealthy_threshold_count = Some(6);
            }),
        ),
        (
            "/healthCheck/readiness/initialDelaySeconds",
            json!(90),
            Box::new(|a| {
                a.service.health_check_grace_period_seconds = Some(90);
            }),
        ),
        (
            "/ports/0/protocol",
            json!("HTTP"),
            Box::new(|a| {
                a.groups[0].protocol = Some(ProtocolEnum::Http);
            }),
        ),
        (
            "/ports/0/priority",
            json!(130),
            Box::new(|a| {
                a.rules[0].priority = Some("130".into());
            }),
        ),
        (
            "/sidecars/0/image/tag",
            json!("v0.41.0"),
            Box::new(|a| {
                sidecar(a, 1).image =
                    Some("public.ecr.aws/aws-observability/aws-otel-collector:v0.41.0".into());
            }),
        ),
        (
            "/sidecars/0/essential",
            json!(true),
            Box::new(|a| {
                sidecar(a, 1).essential = Some(true);
            }),
        ),
        (
            "/sidecars/0/ports/1/protocol",
            json!("TCP"),
            Box::new(|a| {
                sidecar(a, 1).port_mappings.as_mut().unwrap()[1].protocol =
                    Some(TransportProtocol::Tcp);
            }),
        ),
        (
            "/sidecars/0/environment/0/value",
            json!("eu-west-1"),
            Box::new(|a| {
                sidecar(a, 1).environment.as_mut().unwrap()[0].value = Some("eu-west-1".into());
            }),
        ),
        (
            "/sidecars/0/secrets/0/valueFrom/ssmParameter",
            json!("/shop/other-token"),
            Box::new(|a| {
                sidecar(a, 1).secrets.as_mut().unwrap()[0].value_from = "/shop/other-token".into();
            }),
        ),
        (
            "/sidecars/1/command",
            json!(["sleep", "1"]),
            Box::new(|a| {
                sidecar(a, 2).command = Some(vec!["sleep".into(), "1".into()]);
            }),
        ),
        (
            "/sidecars/2/dependsOn/0/condition",
            json!("COMPLETE"),
            Box::new(|a| {
                sidecar(a, 3).depends_on.as_mut().unwrap()[0].condition =
                    aws_sdk_ecs::types::ContainerCondition::Complete;
            }),
        ),
        (
            "/permissions/0/actions/0",
            json!("ses:SendRawEmail"),
            Box::new(|a| {
                a.grants.permissions[0].actions[0] = "ses:SendRawEmail".into();
            }),
        ),
        (
            "/permissions/1/resources",
            json!(["arn:aws:s3:::shop-assets"]),
            Box::new(|a| {
                a.grants.permissions[1].resources.pop();
            }),
        ),
        (
            "/managedPolicies",
            json!(["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]),
            Box::new(|a| {
                a.grants
                    .managed_policies
                    .retain(|p| p.ends_with("AWSXrayWriteOnlyAccess"));
            }),
        ),
        (
            "/ports/0/host",
            json!("shop.example.com"),
            Box::new(|a| {
                let c = a.rules[0].conditions.as_mut().unwrap();
                c[1] = RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(
                        HostHeaderConditionConfig::builder()
                            .values("shop.example.com")
                            .build(),
                    )
                    .build();
            }),
        ),
        (
            "/deployment/minimumHealthyPercent",
            json!(100),
            Box::new(|a| {
                a.service
                    .deployment_configuration
                    .as_mut()
                    .unwrap()
                    .minimum_healthy_percent = Some(100);
            }),
        ),
        (
            "/deployment/maximumPercent",
            json!(200),
            Box::new(|a| {
                a.service
                    .deployment_configuration
                    .as_mut()
                    .unwrap()
                    .maximum_percent = Some(200);
            }),
        ),
        (
            "/deployment/rollbackOnFailure",
            json!(true),
            Box::new(|a| {
                a.service
                    .deployment_configuration
                    .as_mut()
                    .unwrap()
                    .deployment_circuit_breaker = Some(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                );
            }),
        ),
        (
            "/enableExecuteCommand",
            json!(false),
            Box::new(|a| {
                a.service.enable_execute_command = false;
            }),
        ),
        (
            "/logging/retentionDays",
            json!(14),
            Box::new(|a| {
                a.retention = Some(14);
            }),
        ),
    ];
    let expected_json = serde_json::to_value(&spec).unwrap();
    for (pointer, value, change) in cases {
        let mut a = answers(&spec);
        change(&mut a);
        let seen = read_back::<MicroServiceSpec>(a).await;
        let mut expected = expected_json.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(
            serde_json::to_value(&seen.spec).unwrap(),
            expected,
            "only {pointer} differs"
        );
    }
}

/// `beforeDeploy` and a permission's `allowWildcard` are panka's own: AWS holds neither, and
/// the recorded values stand once the engine reconciles the read.
#[tokio::test]
async fn before_deploy_and_allow_wildcard_keep_their_recorded_values() {
    let mut spec = full_microservice();
    spec.permissions.push(Permission {
        actions: vec!["dynamodb:*".into()],
        resources: vec!["*".into()],
        allow_wildcard: true,
    });
    spec.before_deploy = Some(BeforeDeploy {
        command: vec!["./migrate".into(), "up".into()],
        timeout_minutes: 5,
    });
    let seen = read_back::<MicroServiceSpec>(answers_with(&spec, &full_infra())).await;
    let recorded = serde_json::to_value(&spec).unwrap();
    let live = serde_json::to_value(&seen.spec).unwrap();
    assert_eq!(live["permissions"][2]["allowWildcard"], json!(false));
    assert!(live.get("beforeDeploy").is_none());
    let r = panka_engine::observe::reconcile(&recorded, None, live, &seen.unobserved, &[]);
    assert_eq!(r.live, recorded);
    // The recorded settings' unobservable paths (the spec has no `dependsOn`).
    assert_eq!(
        r.unobserved,
        [
            "deployment.timeoutMinutes",
            "beforeDeploy",
            "permissions[0].allowWildcard",
            "permissions[1].allowWildcard",
            "permissions[2].allowWildcard",
            "healthCheck.liveness.successThreshold",
            "healthCheck.liveness.http.successCodes"
        ]
    );
}

#[tokio::test]
async fn a_plain_microservice_reads_back_without_noise() {
    // Defaults everywhere: no tag (`latest`), no checks, the priority derived for a catch-all.
    let spec: MicroServiceSpec = serde_json::from_value(json!({
        "image": {"repository": "nginx"},
        "ports": [{"name": "http", "port": 80, "public": true, "path": "/*", "priority": 49_700}],
        "healthCheck": {"liveness": {"tcp": {"port": 80}}}
    }))
    .unwrap();
    let seen = read_back::<MicroServiceSpec>(answers(&spec)).await;
    assert_eq!(seen.spec, spec);
    // A default load balancer check: no probe and a probe of every default are the same.
    assert!(seen.unobserved.contains(&"healthCheck.readiness"));
    assert_eq!(
        seen.outcome.outputs["url"],
        "https://shop-dev-123.us-east-1.elb.amazonaws.com"
    );
}

#[tokio::test]
async fn a_worker_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec: WorkerSpec = serde_json::from_value(json!({
        "image": {"repository": "public.ecr.aws/acme/worker",
                  "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        "command": ["consume"],
        "environment": [{"name": "QUEUE_URL", "value": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}],
        "secrets": [{"name": "TOKEN", "valueFrom": {"secretsManager": SECRET}}],
        "healthCheck": {"command": ["/bin/check", "--quick"], "periodSeconds": 20,
                        "timeoutSeconds": 10, "failureThreshold": 2, "initialDelaySeconds": 60},
        "deployment": {"minimumHealthyPercent": 0, "maximumPercent": 100},
        "logging": {"retentionDays": 7},
        "stopTimeoutSeconds": 120,
        "enableExecuteCommand": true
    }))
    .unwrap();
    // A Worker has no load balancer: no request-count policy.
    let mut infra = full_infra();
    let scaling = infra.scaling.as_mut().unwrap();
    scaling.autoscaling.as_mut().unwrap().requests_per_target = None;
    infra.networking.subnets = SubnetPlacement::Private;
    let seen = read_back::<WorkerSpec>(answers_with(&spec, &infra)).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.infra, Some(infra));
    assert_eq!(
        seen.unobserved,
        [
            "dependsOn",
            "deployment.timeoutMinutes",
            "subscriptions",
            "beforeDeploy",
            "permissions[].allowWildcard",
            "image.tag",
            "healthCheck.successThreshold"
        ]
    );
    let o = &seen.outcome.outputs;
    assert!(!o.contains_key("url") && !o.contains_key("targetGroupArn"));
    assert!(o.values().all(|v| !v.is_empty()));
    // The check's period changed in AWS: exactly that field.
    let mut a = answers(&spec);
    a.task.container_definitions.as_mut().unwrap()[0]
        .health_check
        .as_mut()
        .unwrap()
        .interval = Some(45);
    let seen = read_back::<WorkerSpec>(a).await;
    let mut expected = serde_json::to_value(&spec).unwrap();
    expected["healthCheck"]["periodSeconds"] = json!(45);
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), expected);
}

#[tokio::test]
async fn a_service_gone_or_draining_reads_as_absent() {
    let spec = full_microservice();
    for status in ["INACTIVE", "DRAINING"] {
        let mut a = answers(&spec);
        a.service.status = Some(status.into());
        let ids = ids();
        let empty = BTreeMap::new();
        let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
        let p = provider::<MicroServiceSpec>(a);
        assert!(p.read(&id).await.unwrap().is_none(), "{status}");
    }
    // DescribeServices answers a missing service as a failure, and a missing cluster as
    // an error.
    let missing = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .failures(
                aws_sdk_ecs::types::Failure::builder()
                    .arn(SERVICE_ARN)
                    .reason("MISSING")
                    .build(),
            )
            .build()
    });
    let no_cluster = mock!(aws_sdk_ecs::Client::describe_services).then_error(|| {
        aws_sdk_ecs::operation::describe_services::DescribeServicesError::ClusterNotFoundException(
            aws_sdk_ecs::types::error::ClusterNotFoundException::builder().build(),
        )
    });
    for rule in [missing, no_cluster] {
        let mut p = provider::<WorkerSpec>(answers(&spec));
        p.ecs = mock_client!(aws_sdk_ecs, [&rule]);
        let ids = ids();
        let empty = BTreeMap::new();
        let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
        assert!(p.read(&id).await.unwrap().is_none());
    }
}

/// A variable and a secret taken from other components' outputs read as the values ECS
/// holds (the URL, the secret's ARN), which the engine puts the recorded references back on.
#[tokio::test]
async fn referenced_values_read_as_what_they_resolve_to() {
    let url = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs";
    let recorded = json!({
        "image": {"repository": "worker"},
        "environment": [{"name": "QUEUE_URL", "valueFrom": {"component": "orders/jobs", "output": "url"}}],
        "secrets": [{"name": "DB", "valueFrom": {"component": "orders/db", "output": "masterSecretArn"}}]
    });
    // What ECS holds: the resolved values.
    let deployed: WorkerSpec = serde_json::from_value(json!({
        "image": {"repository": "worker"},
        "environment": [{"name": "QUEUE_URL", "value": url}],
        "secrets": [{"name": "DB", "valueFrom": {"secretsManager": SECRET}}]
    }))
    .unwrap();
    let seen = read_back::<WorkerSpec>(answers(&deployed)).await;
    let live = serde_json::to_value(&seen.spec).unwrap();
    assert_eq!(live["environment"][0]["value"], url);
    assert_eq!(live["secrets"][0]["valueFrom"]["secretsManager"], SECRET);
    let inputs = json!({
        "environment[0].valueFrom": {"value": url, "outputs": {"url": url}},
        "secrets[0].valueFrom": {"value": SECRET, "outputs": {"masterSecretArn": SECRET}}
    });
    let r = panka_engine::observe::reconcile(&recorded, Some(&inputs), live, &seen.unobserved, &[]);
    let mut expected = serde_json::to_value(&deployed).unwrap();
    expected["environment"] = recorded["environment"].clone();
    expected["secrets"] = recorded["secrets"].clone();
    assert_eq!(r.live, expected);
}

#[test]
fn image_references_split_back() {
    assert_eq!(
        image_of("nginx:latest"),
        Image {
            repository: "nginx".into(),
            tag: None,
            digest: None
        }
    );
    assert_eq!(
        image_of("localhost:5000/api:2"),
        Image {
            repository: "localhost:5000/api".into(),
            tag: Some("2".into()),
            digest: None
        }
    );
    assert_eq!(
        image_of("localhost:5000/api"),
        Image {
            repository: "localhost:5000/api".into(),
            tag: None,
            digest: None
        }
    );
}
