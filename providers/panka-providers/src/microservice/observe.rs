//! Reading a MicroService or Worker back from AWS as its spec: the inverse of the request
//! builders of the task definition ([`super::task_definition`]), the service
//! ([`EcsServiceProvider::converge`]), the target groups and the listener rules
//! ([`super::load_balancing`]), in the style of terraform-provider-aws's `flatten*` functions.
//!
//! A service's size (cpu, memory, ephemeral storage), its task count and autoscaling, and its
//! subnets, security groups and public IP live in the component's `infra`, not its spec: they
//! are read into the observation's infra ([`super::infra`]). Sidecars are the task
//! definition's containers other than the component's; `permissions` and `managedPolicies`
//! are read from the task role (GetRolePolicy of `panka-permissions`,
//! ListAttachedRolePolicies).

use aws_sdk_applicationautoscaling::types::{
    ScalableDimension, ScalableTarget, ScalingPolicy, ServiceNamespace,
};
use aws_sdk_ecs::types::{ContainerDefinition as LiveContainer, TaskDefinition as LiveTask};
use aws_sdk_elasticloadbalancingv2::types::{Rule, TargetGroup};
use panka_engine::Unobservable;
use panka_format::kinds::{
    ContainerCondition, ContainerDependency, HealthCheck, HttpProbe, SecretSource, SidecarPort,
    TcpProbe, TransportProtocol as Transport,
};

use crate::iam::{Grants, granted};

use super::infra::{autoscaling_of, own_group};
use super::*;
use panka_format::model::Scaling;

/// The probe settings panka fills in when a spec leaves them out (the spec's defaults).
const DEFAULT_PERIOD: u32 = 30;
const DEFAULT_TIMEOUT: u32 = 5;
const DEFAULT_SUCCESS: u32 = 2;
const DEFAULT_FAILURE: u32 = 3;

/// The prefix and suffix of the container check panka writes for an HTTP liveness probe.
const CURL_PREFIX: &str = "curl -fsS -o /dev/null http://localhost:";
const NC_PREFIX: &str = "nc -z localhost ";
const EXIT_SUFFIX: &str = " || exit 1";

/// What AWS reports of one service: the answers of the read's calls.
pub(super) struct Live<'a> {
    /// DescribeServices: the ACTIVE service.
    pub service: &'a Service,
    /// DescribeTaskDefinition of the revision it runs.
    pub task: Option<&'a LiveTask>,
    /// DescribeLogGroups: the container's log group retention, `None` when the group is gone
    /// or never expires.
    pub retention_days: Option<i32>,
    /// DescribeTargetGroups of the service's own target groups (one per public port).
    pub target_groups: &'a [TargetGroup],
    /// DescribeRules of the recorded listener rules, by their key in the ids
    /// (`rule.PORT.LISTENER_PORT`).
    pub rules: &'a [(String, Rule)],
    /// DescribeLoadBalancers: the DNS name of the load balancer the target groups belong to.
    pub lb_dns: Option<&'a str>,
    /// DescribeScalableTargets: the service's task count target, when autoscaling is on.
    pub scalable: Option<&'a ScalableTarget>,
    /// DescribeScalingPolicies of that target.
    pub policies: &'a [ScalingPolicy],
    /// The tasks' own security group as recorded (`securityGroup` id, `securityGroupId`
    /// output): the others attached are the component's extra groups.
    pub own_group: Option<&'a str>,
    /// GetRolePolicy and ListAttachedRolePolicies of the task role: what the spec grants it
    /// (nothing when the role is gone).
    pub grants: &'a Grants,
}

/// What the two ECS service kinds have in common, as AWS reports it.
pub struct Seen {
    pub image: Image,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub ports: Vec<Port>,
    pub environment: Vec<EnvVar>,
    pub secrets: Vec<Secret>,
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    pub deployment: EcsDeployment,
    pub logging: Logging,
    pub cpu_architecture: CpuArchitecture,
    pub stop_timeout_seconds: u32,
    pub readonly_root_filesystem: bool,
    pub user: Option<String>,
    pub enable_execute_command: bool,
    pub permissions: Vec<Permission>,
    pub managed_policies: Vec<String>,
    pub sidecars: Vec<Sidecar>,
}

/// The spec paths of what a read could not tell apart, as the two kinds spell them.
#[derive(Default)]
pub struct Unseen {
    /// A digest is deployed: a tag beside it is not in the image reference.
    pub image_tag: bool,
    /// A non-public port speaks HTTP: HTTP and HTTPS are the same to the container.
    pub port_protocol: bool,
    /// The load balancer's check is the default one: no readiness probe, or a probe with every
    /// default.
    pub readiness: bool,
    /// The load balancer checks `/` on a port: an HTTP probe of `/` or a TCP probe.
    pub readiness_kind: bool,
    /// The container runs a check: ECS has no success count.
    pub liveness_success: bool,
    /// The container runs an HTTP check: the success codes are not part of it.
    pub liveness_codes: bool,
    /// The container checks the first port: the port given or left out.
    pub liveness_port: bool,
    /// The log group is gone or never expires: no retention to read.
    pub retention: bool,
}

/// A kind whose service is read back as its spec: MicroService and Worker.
pub trait ServiceKind: EcsKind {
    /// The spec fields no read can report, with how panka tracks them.
    const UNOBSERVABLE: &'static [Unobservable];
    /// The spec, from what AWS reports.
    fn from_seen(seen: Seen) -> Self;
    /// The spec paths of `unseen`, and the kind's fields that are never observed.
    fn unseen_paths(unseen: &Unseen) -> Vec<&'static str>;
}

const TIMEOUT_MINUTES: Unobservable = Unobservable {
    field: "deployment.timeoutMinutes",
    tracked_by: "panka's own rollout wait, not an ECS setting: recorded in the state",
};

const BEFORE_DEPLOY: Unobservable = Unobservable {
    field: "beforeDeploy",
    tracked_by: "panka's own step of a deploy (a one-off task it runs), not an ECS setting: recorded in the state",
};

/// `allowWildcard` of a permission: a switch of validation, not part of the IAM statement.
pub(crate) const ALLOW_WILDCARD: Unobservable = Unobservable {
    field: "permissions[].allowWildcard",
    tracked_by: "a switch of panka's validation, not part of the IAM statement: the recorded value stands",
};

impl ServiceKind for MicroServiceSpec {
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        TIMEOUT_MINUTES,
        BEFORE_DEPLOY,
        ALLOW_WILDCARD,
        Unobservable {
            field: "healthCheck.liveness.successThreshold",
            tracked_by: "ECS container checks have no success count: the recorded value stands",
        },
        Unobservable {
            field: "healthCheck.liveness.http.successCodes",
            tracked_by: "the container check fails on any non-2xx/3xx answer (curl -f): the recorded value stands",
        },
    ];

    fn from_seen(s: Seen) -> Self {
        MicroServiceSpec {
            image: s.image,
            command: s.command,
            entrypoint: s.entrypoint,
            ports: s.ports,
            environment: s.environment,
            secrets: s.secrets,
            health_check: HealthCheck {
                readiness: s.readiness,
                liveness: s.liveness,
            },
            deployment: s.deployment,
            logging: s.logging,
            cpu_architecture: s.cpu_architecture,
            stop_timeout_seconds: s.stop_timeout_seconds,
            readonly_root_filesystem: s.readonly_root_filesystem,
            user: s.user,
            enable_execute_command: s.enable_execute_command,
            permissions: s.permissions,
            managed_policies: s.managed_policies,
            sidecars: s.sidecars,
            before_deploy: None,
            depends_on: Vec::new(),
        }
    }

    fn unseen_paths(u: &Unseen) -> Vec<&'static str> {
        let mut paths = vec![
            "dependsOn",
            "deployment.timeoutMinutes",
            "beforeDeploy",
            "permissions[].allowWildcard",
        ];
        for (on, path) in [
            (u.image_tag, "image.tag"),
            (u.port_protocol, "ports[].protocol"),
            (u.readiness, "healthCheck.readiness"),
            (u.readiness_kind, "healthCheck.readiness.http"),
            (u.readiness_kind, "healthCheck.readiness.tcp"),
            (u.liveness_success, "healthCheck.liveness.successThreshold"),
            (u.liveness_codes, "healthCheck.liveness.http.successCodes"),
            (u.liveness_port, "healthCheck.liveness.http.port"),
            (u.retention, "logging.retentionDays"),
        ] {
            if on {
                paths.push(path);
            }
        }
        paths
    }
}

impl ServiceKind for WorkerSpec {
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        TIMEOUT_MINUTES,
        BEFORE_DEPLOY,
        ALLOW_WILDCARD,
        Unobservable {
            field: "subscriptions",
            tracked_by: "only the task role's queue permissions, which every component the worker references also grants: the recorded list stands",
        },
        Unobservable {
            field: "healthCheck.successThreshold",
            tracked_by: "ECS container checks have no success count: the recorded value stands",
        },
        Unobservable {
            field: "healthCheck.http.successCodes",
            tracked_by: "the container check fails on any non-2xx/3xx answer (curl -f): the recorded value stands",
        },
    ];

    fn from_seen(s: Seen) -> Self {
        WorkerSpec {
            image: s.image,
            command: s.command,
            entrypoint: s.entrypoint,
            environment: s.environment,
            secrets: s.secrets,
            subscriptions: Vec::new(),
            health_check: s.liveness,
            deployment: s.deployment,
            logging: s.logging,
            cpu_architecture: s.cpu_architecture,
            stop_timeout_seconds: s.stop_timeout_seconds,
            enable_execute_command: s.enable_execute_command,
            permissions: s.permissions,
            managed_policies: s.managed_policies,
            sidecars: s.sidecars,
            before_deploy: None,
            depends_on: Vec::new(),
        }
    }

    fn unseen_paths(u: &Unseen) -> Vec<&'static str> {
        let mut paths = vec![
            "dependsOn",
            "deployment.timeoutMinutes",
            "subscriptions",
            "beforeDeploy",
            "permissions[].allowWildcard",
        ];
        for (on, path) in [
            (u.image_tag, "image.tag"),
            (u.liveness_success, "healthCheck.successThreshold"),
            (u.liveness_codes, "healthCheck.http.successCodes"),
            (u.liveness_port, "healthCheck.http.port"),
            (u.retention, "logging.retentionDays"),
        ] {
            if on {
                paths.push(path);
            }
        }
        paths
    }
}

impl<S: ServiceKind> EcsServiceProvider<S> {
    /// The task definition at `arn`, read from ECS once per revision (revisions never change).
    async fn task_definition(
        &self,
        arn: &str,
    ) -> Result<Option<aws_sdk_ecs::types::TaskDefinition>, ProviderError> {
        let cached = self
            .task_definitions
            .lock()
            .map_err(|_| ProviderError::new(ErrorKind::Invalid, "task definition cache poisoned"))?
            .get(arn)
            .cloned();
        if let Some(td) = cached {
            return Ok(Some(td));
        }
        let read = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading task definition {arn}"), e))?
            .task_definition()
            .cloned();
        if let Some(td) = &read
            && let Ok(mut cache) = self.task_definitions.lock()
        {
            cache.insert(arn.to_string(), td.clone());
        }
        Ok(read)
    }

    /// The read: the calls [`KindProvider::read`] lists, then [`observe`].
    pub(super) async fn read_service(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<S>>, ProviderError> {
        // States written before the cluster was recorded have the service's ARN, which names it.
        let cluster = id
            .ids
            .get("cluster")
            .cloned()
            .or_else(|| {
                id.ids
                    .get("serviceArn")
                    .or(id.outputs.get("serviceArn"))
                    .and_then(|arn| cluster_of(arn))
            })
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("{} has no recorded ECS cluster", id.address),
                )
            })?;
        let service = id.ids.get("service").map_or(id.name, String::as_str);
        let Some(svc) = self.describe_service(&cluster, service).await? else {
            return Ok(None);
        };
        let task = match svc.task_definition() {
            Some(arn) => self.task_definition(arn).await?,
            None => None,
        };
        let group = log_group_of(task.as_ref(), id.address, id.name);
        let retention_days = self.retention(&group).await?;
        let target_groups = if S::LOAD_BALANCED {
            self.target_groups(&svc).await?
        } else {
            Vec::new()
        };
        let rules = if S::LOAD_BALANCED {
            self.rules(id.ids).await?
        } else {
            Vec::new()
        };
        // The load balancer of the service's own target groups: its DNS name is the URL's host.
        let own: Vec<String> = task
            .as_ref()
            .and_then(|t| main_container(t, id.address))
            .map(LiveContainer::port_mappings)
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.name())
            .map(|n| target_group_name(id.name, n))
            .collect();
        let lb = target_groups
            .iter()
            .filter(|g| {
                g.target_group_name()
                    .is_some_and(|n| own.iter().any(|o| o == n))
            })
            .find_map(|g| g.load_balancer_arns().first());
        let lb_dns = match lb {
            Some(arn) => self.dns_name(arn).await?,
            None => None,
        };
        let (scalable, policies) = self.autoscaling(&cluster, service).await?;
        // The task role the revision names (panka's `NAME-task` when it names none).
        let role = task
            .as_ref()
            .and_then(LiveTask::task_role_arn)
            .and_then(|arn| arn.rsplit('/').next())
            .map_or_else(|| task_role(id.name), str::to_string);
        let recorded: Vec<String> = id
            .ids
            .get(task_definition::MANAGED_POLICIES_ID)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let grants = granted(&self.iam, &role, &recorded)
            .await?
            .unwrap_or_default();
        let live = Live {
            service: &svc,
            task: task.as_ref(),
            retention_days,
            target_groups: &target_groups,
            rules: &rules,
            lb_dns: lb_dns.as_deref(),
            scalable: scalable.as_ref(),
            policies: &policies,
            grants: &grants,
            own_group: id
                .ids
                .get("securityGroup")
                .or(id.outputs.get("securityGroupId"))
                .map(String::as_str),
        };
        let mut seen = observe::<S>(id.address, id.name, &cluster, id.ids, &live);
        super::discovery::observe_registration(&svc, id.ids, id.outputs, &mut seen.outcome);
        Ok(Some(seen))
    }

    /// The scalable target of the service's task count and its policies: one call when none is
    /// registered, two when one is.
    async fn autoscaling(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<(Option<ScalableTarget>, Vec<ScalingPolicy>), ProviderError> {
        let resource = scalable_resource(cluster, service);
        let target = self
            .scaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(&resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the autoscaling of {service}"), e))?
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == resource)
            .cloned();
        if target.is_none() {
            return Ok((None, Vec::new()));
        }
        let mut policies = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .scaling
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(&resource)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the scaling policies of {service}"), e))?;
            policies.extend(page.scaling_policies().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok((target, policies))
    }

    /// The retention of the log group `group`; `None` when it is gone or never expires.
    async fn retention(&self, group: &str) -> Result<Option<i32>, ProviderError> {
        let found = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(group)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading log group {group}"), e))?;
        Ok(found
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group))
            .and_then(|g| g.retention_in_days()))
    }

    /// The target groups the service sends traffic to, in one call.
    async fn target_groups(&self, svc: &Service) -> Result<Vec<TargetGroup>, ProviderError> {
        let arns: Vec<String> = svc
            .load_balancers()
            .iter()
            .filter_map(|b| b.target_group_arn().map(str::to_string))
            .collect();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let found = unless_missing(
            self.elb
                .describe_target_groups()
                .set_target_group_arns(Some(arns))
                .send()
                .await,
            |e| e.is_target_group_not_found_exception(),
            "reading the target groups of the service",
        )?;
        Ok(found
            .map(|r| r.target_groups().to_vec())
            .unwrap_or_default())
    }

    /// The recorded listener rules (`rule.PORT.LISTENER_PORT` in the ids), by that key, in one
    /// call; one call each when one of them is gone.
    async fn rules(
        &self,
        ids: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, Rule)>, ProviderError> {
        let recorded: Vec<(&String, &String)> =
            ids.iter().filter(|(k, _)| k.starts_with("rule.")).collect();
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        let arns: Vec<String> = recorded.iter().map(|(_, arn)| (*arn).clone()).collect();
        let all = unless_missing(
            self.elb
                .describe_rules()
                .set_rule_arns(Some(arns))
                .send()
                .await,
            |e| e.is_rule_not_found_exception(),
            "reading the listener rules of the service",
        )?;
        let mut found = Vec::new();
        match all {
            Some(r) => found.extend(r.rules().iter().cloned()),
            None => {
                for (_, arn) in &recorded {
                    if let Some(r) = unless_missing(
                        self.elb.describe_rules().rule_arns(*arn).send().await,
                        |e| e.is_rule_not_found_exception(),
                        format!("reading listener rule {arn}"),
                    )? {
                        found.extend(r.rules().iter().cloned());
                    }
                }
            }
        }
        Ok(recorded
            .into_iter()
            .filter_map(|(key, arn)| {
                found
                    .iter()
                    .find(|r| r.rule_arn() == Some(arn.as_str()))
                    .map(|r| (key.clone(), r.clone()))
            })
            .collect())
    }

    /// The DNS name of a load balancer.
    async fn dns_name(&self, arn: &str) -> Result<Option<String>, ProviderError> {
        let found = unless_missing(
            self.elb
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await,
            |e| e.is_load_balancer_not_found_exception(),
            format!("reading load balancer {arn}"),
        )?;
        Ok(found.and_then(|r| {
            r.load_balancers()
                .first()
                .and_then(|l| l.dns_name())
                .map(str::to_string)
        }))
    }
}

/// The cluster named in a service ARN (`arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME`).
fn cluster_of(arn: &str) -> Option<String> {
    let (_, path) = arn.split_once(":service/")?;
    let (cluster, _) = path.split_once('/')?;
    Some(cluster.to_string())
}

/// The log group the container writes to (its `awslogs-group`), or the one panka names.
fn log_group_of(task: Option<&LiveTask>, address: &str, name: &str) -> String {
    task.and_then(|t| main_container(t, address))
        .and_then(LiveContainer::log_configuration)
        .and_then(|l| l.options())
        .and_then(|o| o.get("awslogs-group"))
        .cloned()
        .unwrap_or_else(|| log_group(name))
}

/// The component's container: named after it, or else the task's first.
fn main_container<'a>(task: &'a LiveTask, address: &str) -> Option<&'a LiveContainer> {
    let all = task.container_definitions();
    all.iter()
        .find(|c| c.name() == Some(container_name(address)))
        .or_else(|| all.first())
}

/// The service as AWS reports it, in the form of the kind's spec, with its ids and outputs.
/// `address` and `name` are the component's; `recorded` its recorded ids (the ingress rules it
/// opened into data stores, which no call here reads, are carried over).
pub(super) fn observe<S: ServiceKind>(
    address: &str,
    name: &str,
    cluster: &str,
    recorded: &BTreeMap<String, String>,
    live: &Live<'_>,
) -> Observation<S> {
    let svc = live.service;
    let container = live.task.and_then(|t| main_container(t, address));
    let mut unseen = Unseen::default();
    // The service's own target groups, by the port name they are named after.
    let own_group = |port_name: &str| {
        let wanted = target_group_name(name, port_name);
        live.target_groups
            .iter()
            .find(|g| g.target_group_name() == Some(wanted.as_str()))
    };
    let attached = |port: i32, group: &TargetGroup| {
        svc.load_balancers().iter().any(|b| {
            b.container_port() == Some(port)
                && b.target_group_arn().is_some()
                && b.target_group_arn() == group.target_group_arn()
        })
    };
    let mut ports = Vec::new();
    for m in container
        .map(LiveContainer::port_mappings)
        .unwrap_or_default()
    {
        let (Some(port_name), Some(number)) = (m.name(), m.container_port()) else {
            continue;
        };
        let group = own_group(port_name).filter(|g| attached(number, g));
        let protocol = match (m.protocol(), m.app_protocol()) {
            (Some(TransportProtocol::Udp), _) => PortProtocol::Udp,
            (_, Some(ApplicationProtocol::Grpc)) => PortProtocol::Grpc,
            (_, Some(_)) => match group {
                Some(g) if g.protocol() == Some(&ProtocolEnum::Https) => PortProtocol::Https,
                Some(_) => PortProtocol::Http,
                None => {
                    unseen.port_protocol = true;
                    PortProtocol::Http
                }
            },
            _ => PortProtocol::Tcp,
        };
        let mut p = Port {
            name: port_name.to_string(),
            port: u32::try_from(number).unwrap_or_default(),
            protocol,
            public: group.is_some(),
            path: None,
            host: None,
            priority: None,
        };
        if p.public {
            route(&mut p, live.rules);
        }
        ports.push(p);
    }

    let grace = svc.health_check_grace_period_seconds();
    let first_public = ports
        .iter()
        .find(|p| p.public)
        .and_then(|p| own_group(&p.name).map(|g| (p, g)));
    let readiness = match first_public {
        Some((p, g)) => readiness_of(p, g, grace, &mut unseen),
        None => {
            // No load balancer checks the tasks: the probe applies nowhere.
            unseen.readiness = true;
            None
        }
    };
    // An HTTP check's port defaults to the first port (80 for a Worker, which has none).
    let first_port = ports.first().map_or(80, |p| p.port);
    let liveness = container
        .and_then(LiveContainer::health_check)
        .map(|hc| liveness_of(hc, first_port, &mut unseen));

    let image = image_of(container.and_then(LiveContainer::image).unwrap_or_default());
    unseen.image_tag = image.digest.is_some();
    let deployment = svc.deployment_configuration();
    let breaker = deployment.and_then(|d| d.deployment_circuit_breaker());
    let retention = live.retention_days.and_then(|d| u32::try_from(d).ok());
    unseen.retention = retention.is_none();
    let group_name = log_group_of(live.task, address, name);
    let arch = live
        .task
        .and_then(LiveTask::runtime_platform)
        .and_then(|r| r.cpu_architecture());
    let list = |v: Option<&[String]>| v.filter(|v| !v.is_empty()).map(<[String]>::to_vec);
    let seen = Seen {
        image,
        command: list(container.map(LiveContainer::command)),
        entrypoint: list(container.map(LiveContainer::entry_point)),
        environment: container
            .map(LiveContainer::environment)
            .unwrap_or_default()
            .iter()
            .filter_map(|kv| {
                Some(EnvVar {
                    name: kv.name()?.to_string(),
                    value: Some(kv.value().unwrap_or_default().to_string()),
                    value_from: None,
                })
            })
            .collect(),
        secrets: container
            .map(LiveContainer::secrets)
            .unwrap_or_default()
            .iter()
            .map(|s| Secret {
                name: s.name().to_string(),
                value_from: secret_source(s.value_from()),
            })
            .collect(),
        ports,
        readiness,
        liveness,
        deployment: EcsDeployment {
            minimum_healthy_percent: deployment
                .and_then(|d| d.minimum_healthy_percent())
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(100),
            maximum_percent: deployment
                .and_then(|d| d.maximum_percent())
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(200),
            rollback_on_failure: breaker.is_some_and(|b| b.enable() && b.rollback()),
            timeout_minutes: EcsDeployment::default().timeout_minutes,
        },
        logging: Logging {
            retention_days: retention.unwrap_or(Logging::default().retention_days),
        },
        cpu_architecture: match arch {
            Some(EcsArch::Arm64) => CpuArchitecture::Arm64,
            _ => CpuArchitecture::X86_64,
        },
        stop_timeout_seconds: container
            .and_then(LiveContainer::stop_timeout)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(30),
        readonly_root_filesystem: container
            .and_then(LiveContainer::readonly_root_filesystem)
            .unwrap_or(false),
        user: container
            .and_then(LiveContainer::user)
            .filter(|u| !u.is_empty())
            .map(str::to_string),
        enable_execute_command: svc.enable_execute_command(),
        permissions: live.grants.permissions.clone(),
        managed_policies: live.grants.managed_policies.clone(),
        sidecars: live
            .task
            .map(|t| sidecars_of(t, container.and_then(LiveContainer::name)))
            .unwrap_or_default(),
    };
    let mut unobserved = S::unseen_paths(&unseen);
    if deployment.is_none() {
        // AWS always answers the service's deployment configuration; an answer without one
        // (moto 5.2 keeps none) cannot tell these settings, so the recorded ones stand.
        unobserved.extend([
            "deployment.minimumHealthyPercent",
            "deployment.maximumPercent",
            "deployment.rollbackOnFailure",
        ]);
    }
    let infra = infra_of(recorded, live, &mut unobserved);
    let spec = S::from_seen(seen);
    let outcome = outcome_of(
        name,
        cluster,
        recorded,
        live,
        &spec,
        container.is_some(),
        group_name,
    );
    Observation::new(outcome, spec)
        .unobserved(&unobserved)
        .with_infra(infra)
}

/// The component's infra as AWS reports it: the task definition's size, the service's desired
/// count and network configuration, and its autoscaling.
fn infra_of(
    recorded: &BTreeMap<String, String>,
    live: &Live<'_>,
    unobserved: &mut Vec<&'static str>,
) -> ComponentInfraSpec {
    let svc = live.service;
    let resources = super::infra::resources_of(live.task, unobserved);
    let vpc = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let network = TaskNetwork {
        subnets: vpc.map(AwsVpcConfiguration::subnets).unwrap_or_default(),
        security_groups: vpc
            .map(AwsVpcConfiguration::security_groups)
            .unwrap_or_default(),
        public_ip: vpc.and_then(AwsVpcConfiguration::assign_public_ip)
            == Some(&AssignPublicIp::Enabled),
    };
    let networking = networking_of(&network, live.own_group, recorded, unobserved);
    ComponentInfraSpec {
        resources,
        scaling: Some(Scaling {
            replicas: u32::try_from(svc.desired_count()).unwrap_or_default(),
            autoscaling: autoscaling_of(live.scalable, live.policies),
        }),
        networking,
    }
}

/// Ids and outputs of the service read: never an empty value.
fn outcome_of<S: EcsKind>(
    name: &str,
    cluster: &str,
    recorded: &BTreeMap<String, String>,
    live: &Live<'_>,
    spec: &S,
    has_container: bool,
    group_name: String,
) -> Outcome {
    let svc = live.service;
    let service_name = svc.service_name().unwrap_or(name).to_string();
    let mut ids = BTreeMap::from([
        ("cluster".to_string(), cluster.to_string()),
        ("service".to_string(), service_name.clone()),
    ]);
    let mut outputs = BTreeMap::from([("serviceName".to_string(), service_name)]);
    let mut both = |id: &str, output: &str, value: Option<&str>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            if !id.is_empty() {
                ids.insert(id.to_string(), v.to_string());
            }
            outputs.insert(output.to_string(), v.to_string());
        }
    };
    both("serviceArn", "serviceArn", svc.service_arn());
    both("taskDefinition", "taskDefinitionArn", svc.task_definition());
    both(
        "",
        "taskRoleArn",
        live.task.and_then(LiveTask::task_role_arn),
    );
    // The tasks' own group is the first (the component's extra groups follow it).
    let groups = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .map(AwsVpcConfiguration::security_groups)
        .unwrap_or_default();
    both(
        "securityGroup",
        "securityGroupId",
        own_group(groups, live.own_group),
    );
    if has_container || live.retention_days.is_some() {
        outputs.insert("logGroupName".to_string(), group_name);
    }
    let w = spec.workload();
    for p in w.ports.iter().filter(|p| p.public) {
        let wanted = target_group_name(name, &p.name);
        if let Some(arn) = live
            .target_groups
            .iter()
            .find(|g| g.target_group_name() == Some(wanted.as_str()))
            .and_then(TargetGroup::target_group_arn)
        {
            ids.insert(format!("targetGroup.{}", p.name), arn.to_string());
            outputs
                .entry("targetGroupArn".to_string())
                .or_insert_with(|| arn.to_string());
        }
    }
    for (key, rule) in live.rules {
        if let Some(arn) = rule.rule_arn() {
            ids.insert(key.clone(), arn.to_string());
        }
    }
    // The ingress rules into data stores, the network placement and the order of the managed
    // policies, which no call here reads, are carried over.
    let network = [
        super::infra::PRIVATE_SUBNETS,
        super::infra::PUBLIC_SUBNETS,
        super::infra::DEFAULT_VPC,
        task_definition::MANAGED_POLICIES_ID,
    ];
    for (k, v) in recorded
        .iter()
        .filter(|(k, _)| k.starts_with("ingress.") || network.contains(&k.as_str()))
    {
        ids.insert(k.clone(), v.clone());
    }
    if S::LOAD_BALANCED {
        // The listeners the rules are on, by their port: the scheme and port of the URL.
        let listeners: BTreeMap<String, String> = live
            .rules
            .iter()
            .filter_map(|(key, _)| key.rsplit_once('.'))
            .map(|(_, port)| (format!("listener.{port}"), String::new()))
            .collect();
        let first = w.ports.iter().find(|p| p.public);
        let known_host = first.is_some_and(|p| p.host.is_some()) || live.lb_dns.is_some();
        let url = url_of(live.lb_dns.unwrap_or_default(), &listeners, &w);
        if known_host && !listeners.is_empty() && !url.is_empty() {
            outputs.insert("url".to_string(), url);
        }
    }
    Outcome {
        physical_ids: ids,
        outputs,
    }
}

/// The image reference split back into repository and tag or digest; `latest`, what ECS pulls
/// for no tag, reads as no tag.
pub(super) fn image_of(reference: &str) -> Image {
    if let Some((repository, digest)) = reference.split_once('@') {
        return Image {
            repository: repository.to_string(),
            tag: None,
            digest: Some(digest.to_string()),
        };
    }
    match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((repository, tag)) => Image {
            repository: repository.to_string(),
            tag: (tag != "latest").then(|| tag.to_string()),
            digest: None,
        },
        None => Image {
            repository: reference.to_string(),
            tag: None,
            digest: None,
        },
    }
}

/// Where a secret lives, from the reference ECS holds (the inverse of `secrets`): a Secrets
/// Manager ARN, with the JSON key it selects (`ARN:KEY::`), or an SSM parameter (ECS takes a
/// Secrets Manager secret only by ARN). A secret taken from a component's output reads as the
/// ARN it resolved to, which the engine matches to the recorded reference.
pub(super) fn secret_source(from: &str) -> SecretSource {
    let parts: Vec<&str> = from.split(':').collect();
    let mut source = SecretSource {
        component: None,
        output: None,
        secrets_manager: None,
        json_key: None,
        ssm_parameter: None,
    };
    if from.starts_with("arn:") && parts.get(2) == Some(&"secretsmanager") {
        source.secrets_manager = Some(parts[..parts.len().min(7)].join(":"));
        source.json_key = parts
            .get(7)
            .filter(|k| !k.is_empty())
            .map(|k| k.to_string());
    } else {
        source.ssm_parameter = Some(from.to_string());
    }
    source
}

/// The sidecars of a task definition: its containers other than the component's (`main`), in
/// the task's order; the inverse of `sidecar_container`.
pub(crate) fn sidecars_of(task: &LiveTask, main: Option<&str>) -> Vec<Sidecar> {
    task.container_definitions()
        .iter()
        .filter(|c| c.name() != main)
        .map(sidecar_of)
        .collect()
}

/// One sidecar from its container definition. A port mapping without a name (one panka did
/// not write) is left out, and reads as a change.
fn sidecar_of(c: &LiveContainer) -> Sidecar {
    let list = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    Sidecar {
        name: c.name().unwrap_or_default().to_string(),
        image: image_of(c.image().unwrap_or_default()),
        command: list(c.command()),
        ports: c
            .port_mappings()
            .iter()
            .filter_map(|m| {
                Some(SidecarPort {
                    name: m.name()?.to_string(),
                    port: u32::try_from(m.container_port()?).ok()?,
                    protocol: match m.protocol() {
                        Some(TransportProtocol::Udp) => Transport::Udp,
                        _ => Transport::Tcp,
                    },
                })
            })
            .collect(),
        environment: c
            .environment()
            .iter()
            .filter_map(|kv| {
                Some(EnvVar {
                    name: kv.name()?.to_string(),
                    value: Some(kv.value().unwrap_or_default().to_string()),
                    value_from: None,
                })
            })
            .collect(),
        secrets: c
            .secrets()
            .iter()
            .map(|s| Secret {
                name: s.name().to_string(),
                value_from: secret_source(s.value_from()),
            })
            .collect(),
        // A container is essential unless its definition says otherwise.
        // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html
        essential: c.essential().unwrap_or(true),
        depends_on: c
            .depends_on()
            .iter()
            .filter_map(|d| {
                use aws_sdk_ecs::types::ContainerCondition as Condition;
                Some(ContainerDependency {
                    container: d.container_name().to_string(),
                    condition: match d.condition() {
                        Condition::Start => ContainerCondition::Start,
                        Condition::Complete => ContainerCondition::Complete,
                        Condition::Success => ContainerCondition::Success,
                        Condition::Healthy => ContainerCondition::Healthy,
                        _ => return None,
                    },
                })
            })
            .collect(),
    }
}

/// The path, host and priority of a public port, from its listener rules.
fn route(p: &mut Port, rules: &[(String, Rule)]) {
    let prefix = format!("rule.{}.", p.name);
    let mine: Vec<&Rule> = rules
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&prefix)
                .is_some_and(|listener| !listener.contains('.'))
        })
        .map(|(_, r)| r)
        .collect();
    let Some(first) = mine.first() else { return };
    for c in first.conditions() {
        let values = |config: Option<&[String]>| {
            config
                .filter(|v| !v.is_empty())
                .unwrap_or(c.values())
                .to_vec()
        };
        match c.field() {
            Some("path-pattern") => {
                let v = values(c.path_pattern_config().map(|p| p.values()));
                // `/orders/*` is written with `/orders` beside it.
                p.path = v.iter().find(|x| x.ends_with("/*")).or(v.first()).cloned();
            }
            Some("host-header") => {
                p.host = values(c.host_header_config().map(|h| h.values()))
                    .first()
                    .cloned();
            }
            _ => {}
        }
    }
    // Every public port has a priority (given, or derived when the stack is loaded): the
    // rule's, as AWS reports it.
    p.priority = first.priority().and_then(|v| v.parse().ok());
}

/// The readiness probe from the target group's check (the inverse of `ensure_target_group`):
/// a TCP probe is checked over HTTP on `/` and its port; the grace period is the service's.
fn readiness_of(
    port: &Port,
    g: &TargetGroup,
    grace: Option<i32>,
    unseen: &mut Unseen,
) -> Option<Probe> {
    let grpc = port.protocol == PortProtocol::Grpc
        || g.protocol_version()
            .is_some_and(|v| v.eq_ignore_ascii_case("GRPC"));
    let (default_path, default_codes) = if grpc {
        ("/AWS.ALB/healthcheck", "12")
    } else {
        ("/", "200-399")
    };
    let n = |v: Option<i32>, default: u32| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(default);
    let path = g.health_check_path().unwrap_or(default_path);
    let codes = g
        .matcher()
        .and_then(|m| if grpc { m.grpc_code() } else { m.http_code() })
        .unwrap_or(default_codes);
    let check_port = g
        .health_check_port()
        .filter(|p| *p != "traffic-port")
        .and_then(|p| p.parse::<u32>().ok());
    let mut probe = Probe {
        http: None,
        tcp: None,
        command: None,
        period_seconds: n(g.health_check_interval_seconds(), DEFAULT_PERIOD),
        timeout_seconds: n(g.health_check_timeout_seconds(), DEFAULT_TIMEOUT),
        success_threshold: n(g.healthy_threshold_count(), DEFAULT_SUCCESS),
        failure_threshold: n(g.unhealthy_threshold_count(), DEFAULT_FAILURE),
        initial_delay_seconds: n(grace, 0),
    };
    let default_check = path == default_path && codes == default_codes;
    match check_port {
        None if default_check => {
            let default_timing = probe.period_seconds == DEFAULT_PERIOD
                && probe.timeout_seconds == DEFAULT_TIMEOUT
                && probe.success_threshold == DEFAULT_SUCCESS
                && probe.failure_threshold == DEFAULT_FAILURE
                && probe.initial_delay_seconds == 0;
            if default_timing {
                // No probe and a probe of every default make the same check.
                unseen.readiness = true;
                return None;
            }
        }
        Some(p) if default_check => {
            // A TCP probe and an HTTP probe of the default path on a port make the same check.
            unseen.readiness_kind = true;
            probe.tcp = Some(TcpProbe { port: p });
            return Some(probe);
        }
        _ => {}
    }
    probe.http = Some(HttpProbe {
        path: path.to_string(),
        port: check_port,
        success_codes: codes.to_string(),
    });
    Some(probe)
}

/// The liveness probe from the container's check (the inverse of `liveness`).
fn liveness_of(hc: &EcsHealthCheck, first_port: u32, unseen: &mut Unseen) -> Probe {
    let n = |v: Option<i32>, default: u32| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(default);
    let mut probe = Probe {
        http: None,
        tcp: None,
        command: None,
        period_seconds: n(hc.interval(), DEFAULT_PERIOD),
        timeout_seconds: n(hc.timeout(), DEFAULT_TIMEOUT),
        success_threshold: DEFAULT_SUCCESS,
        failure_threshold: n(hc.retries(), DEFAULT_FAILURE),
        initial_delay_seconds: n(hc.start_period(), 0),
    };
    unseen.liveness_success = true;
    let cmd = hc.command();
    let shell = match cmd {
        [kind, line] if kind == "CMD-SHELL" => line.strip_suffix(EXIT_SUFFIX),
        _ => None,
    };
    let http = shell
        .and_then(|l| l.strip_prefix(CURL_PREFIX))
        .and_then(|rest| {
            let at = rest.find('/')?;
            Some((rest[..at].parse::<u32>().ok()?, &rest[at..]))
        });
    let tcp = shell
        .and_then(|l| l.strip_prefix(NC_PREFIX))
        .and_then(|p| p.parse::<u32>().ok());
    if let Some((port, path)) = http {
        unseen.liveness_codes = true;
        unseen.liveness_port = port == first_port;
        probe.http = Some(HttpProbe {
            path: path.to_string(),
            port: (port != first_port).then_some(port),
            success_codes: "200-399".to_string(),
        });
    } else if let Some(port) = tcp {
        probe.tcp = Some(TcpProbe { port });
    } else {
        probe.command = Some(match cmd.split_first() {
            Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
            // A check panka did not write: as ECS holds it.
            _ => cmd.to_vec(),
        });
    }
    probe
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
