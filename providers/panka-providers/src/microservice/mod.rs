//! MicroService and Worker: ECS Fargate services, a MicroService behind the stack's shared
//! Application Load Balancer, a Worker without one (both providers are one generic type over the
//! kind's spec, [`EcsKind`]).
//!
//! Per component: a CloudWatch log group, a task execution role (image pulls, logs, the
//! secrets it injects) and a task role (the components it references), a security group that
//! admits the load balancer on the public ports, a task definition, a target group and listener
//! rule per public port, an ECS service with the deployment circuit breaker, and target-tracking
//! autoscaling when asked. The service also opens the security groups of the databases and
//! caches it references (their `securityGroupId` output) to its own tasks on their port.
//!
//! Every piece is found by its name before it is created, so an apply that was killed half-way
//! and run again finishes the same resources instead of making new ones.
//!
//! A MicroService with ports is also registered in the stack's Cloud Map namespace
//! ([`discovery`]), and the MicroServices whose internal URL or host it references admit it on
//! that port; one without a public port needs no load balancer.
//!
//! Outputs: `url`, `internalHost`, `internalUrl` (`internalUrl.PORT` per port when there are
//! several), `serviceName`, `serviceArn`, `taskDefinitionArn`, `taskRoleArn`,
//! `targetGroupArn`, `securityGroupId`, `logGroupName`. Nothing forces replacement.
//! (`url` and `targetGroupArn` only with a public port, `internal*` only with a port.)
//!
//! The files: `task_definition` (the container and its roles), `load_balancing` (target
//! groups and listener rules), `autoscaling`, `rollout` (the wait and its diagnosis) and
//! `observe` (the read: AWS's answers back to the spec).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use aws_sdk_ecs::client::Waiters as _;
use aws_sdk_ecs::types::{
    ApplicationProtocol, AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    CpuArchitecture as EcsArch, DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus,
    EphemeralStorage, HealthCheck as EcsHealthCheck, KeyValuePair, LaunchType,
    LoadBalancer as EcsLoadBalancer, LogConfiguration, LogDriver, NetworkConfiguration,
    NetworkMode, OsFamily, PortMapping, PropagateTags, RuntimePlatform, Secret as EcsSecret,
    Service, ServiceRegistry, TransportProtocol,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, Matcher, PathPatternConditionConfig,
    ProtocolEnum, RuleCondition, TargetTypeEnum,
};
use panka_engine::provider::Outcome;
use panka_engine::resolve::{SHARED_PREFIX, input};
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Transient, Unobservable,
};
use panka_format::kinds::{
    BeforeDeploy, CpuArchitecture, CronJobSpec, EcsDeployment, EnvVar, Image, Logging,
    MicroServiceSpec, Permission, Port, PortProtocol, Probe, Secret, Sidecar, WorkerSpec,
};
use panka_format::model::{ComponentInfraSpec, SubnetPlacement};
use panka_format::naming::shorten;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod autoscaling;
mod before_deploy;
mod discovery;
mod infra;
mod load_balancing;

mod observe;
mod rollout;
#[cfg(test)]
mod service_error_tests;
mod task_definition;

pub(crate) use infra::{TaskNetwork, networking_of, resources_of};
pub(crate) use load_balancing::ATTACHED_BY_TAG;
pub(crate) use observe::{ALLOW_WILDCARD, sidecars_of};
pub use observe::{Seen, ServiceKind, Unseen};
pub(crate) use rollout::service_health;
pub(crate) use task_definition::MANAGED_POLICIES_ID;

#[cfg(test)]
pub(crate) use task_definition::sidecar_container;
pub(crate) use task_definition::{
    ASSUME_ECS_TASKS, environment, grants_of, reference_statements, secret_refs, secret_resource,
};
use task_definition::{execution_statements, family_of, task_secrets, task_statements};

use crate::alb::elb_tags;
use crate::ecs_cluster::ecs_tags;
use crate::errors::{aws_error, aws_error_when, check_owner, unless_missing, until_visible};
use crate::iam::{delete_role, ensure_granted, ensure_role};
use crate::logs::{delete_log_group, ensure_log_group};
use crate::network::{
    Source, Tier, authorize_ingress, delete_security_group, ensure_security_group, placement_in,
    revoke_ingress,
};

/// How often the rollout is polled; ECS updates deployment counts every few seconds.
const ROLLOUT_POLL: Duration = Duration::from_secs(5);
/// Deleting a service drains its tasks (the deregistration delay, 300 s by default) first.
const INACTIVE_TIMEOUT: Duration = Duration::from_secs(900);
/// Stopped tasks and service events quoted when a rollout fails.
const REASONS_SHOWN: usize = 5;

/// The provider of an ECS Fargate service kind: [`MicroServiceProvider`] or [`WorkerProvider`].
#[derive(Clone, Debug)]
pub struct EcsServiceProvider<S> {
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    iam: aws_sdk_iam::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    scaling: aws_sdk_applicationautoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    discovery: aws_sdk_servicediscovery::Client,
    /// Task definitions read, by ARN: a revision never changes, so a refresh reads each once
    /// however many services run it.
    task_definitions: TaskDefinitionCache,
    kind: PhantomData<fn() -> S>,
}

/// Task definitions by revision ARN.
pub(crate) type TaskDefinitionCache = std::sync::Arc<
    std::sync::Mutex<std::collections::HashMap<String, aws_sdk_ecs::types::TaskDefinition>>,
>;

/// MicroServices: ECS services behind the stack's shared load balancer.
pub type MicroServiceProvider = EcsServiceProvider<MicroServiceSpec>;
/// Workers: ECS services without a load balancer.
pub type WorkerProvider = EcsServiceProvider<WorkerSpec>;

/// What the two ECS service kinds have in common, as the provider uses it.
pub struct Workload<'a> {
    pub image: &'a Image,
    pub command: &'a Option<Vec<String>>,
    pub entrypoint: &'a Option<Vec<String>>,
    pub ports: &'a [Port],
    pub environment: &'a [EnvVar],
    pub secrets: &'a [Secret],
    pub readiness: &'a Option<Probe>,
    pub liveness: &'a Option<Probe>,
    pub deployment: &'a EcsDeployment,
    pub logging: &'a Logging,
    pub cpu_architecture: CpuArchitecture,
    pub stop_timeout_seconds: u32,
    pub readonly_root_filesystem: bool,
    pub user: &'a Option<String>,
    pub enable_execute_command: bool,
    pub permissions: &'a [Permission],
    pub managed_policies: &'a [String],
    pub sidecars: &'a [Sidecar],
    pub before_deploy: Option<&'a BeforeDeploy>,
}

/// A kind deployed as an ECS service.
pub trait EcsKind: DeserializeOwned + Serialize + Send + Sync + 'static {
    /// The kind's name.
    const KIND: &'static str;
    /// Whether it runs behind the stack's shared load balancer (and has `url` and
    /// `targetGroupArn` outputs).
    const LOAD_BALANCED: bool;
    fn workload(&self) -> Workload<'_>;
}

impl EcsKind for MicroServiceSpec {
    const KIND: &'static str = "MicroService";
    const LOAD_BALANCED: bool = true;

    fn workload(&self) -> Workload<'_> {
        Workload {
            image: &self.image,
            command: &self.command,
            entrypoint: &self.entrypoint,
            ports: &self.ports,
            environment: &self.environment,
            secrets: &self.secrets,
            readiness: &self.health_check.readiness,
            liveness: &self.health_check.liveness,
            deployment: &self.deployment,
            logging: &self.logging,
            cpu_architecture: self.cpu_architecture,
            stop_timeout_seconds: self.stop_timeout_seconds,
            readonly_root_filesystem: self.readonly_root_filesystem,
            user: &self.user,
            enable_execute_command: self.enable_execute_command,
            permissions: &self.permissions,
            managed_policies: &self.managed_policies,
            sidecars: &self.sidecars,
            before_deploy: self.before_deploy.as_ref(),
        }
    }
}

impl EcsKind for WorkerSpec {
    const KIND: &'static str = "Worker";
    const LOAD_BALANCED: bool = false;

    fn workload(&self) -> Workload<'_> {
        Workload {
            image: &self.image,
            command: &self.command,
            entrypoint: &self.entrypoint,
            ports: &[],
            environment: &self.environment,
            secrets: &self.secrets,
            readiness: &None,
            liveness: &self.health_check,
            deployment: &self.deployment,
            logging: &self.logging,
            cpu_architecture: self.cpu_architecture,
            stop_timeout_seconds: self.stop_timeout_seconds,
            readonly_root_filesystem: false,
            user: &None,
            enable_execute_command: self.enable_execute_command,
            permissions: &self.permissions,
            managed_policies: &self.managed_policies,
            sidecars: &self.sidecars,
            before_deploy: self.before_deploy.as_ref(),
        }
    }
}

/// A CronJob's task runs once per schedule tick: no ports, no checks, no deployment, and ECS's
/// default grace period when it is stopped.
static NO_DEPLOYMENT: std::sync::LazyLock<EcsDeployment> =
    std::sync::LazyLock::new(EcsDeployment::default);

impl EcsKind for CronJobSpec {
    const KIND: &'static str = "CronJob";
    const LOAD_BALANCED: bool = false;

    fn workload(&self) -> Workload<'_> {
        Workload {
            image: &self.image,
            command: &self.command,
            entrypoint: &self.entrypoint,
            ports: &[],
            environment: &self.environment,
            secrets: &self.secrets,
            readiness: &None,
            liveness: &None,
            deployment: &NO_DEPLOYMENT,
            logging: &self.logging,
            cpu_architecture: self.cpu_architecture,
            stop_timeout_seconds: 30,
            readonly_root_filesystem: false,
            user: &None,
            enable_execute_command: false,
            permissions: &self.permissions,
            managed_policies: &self.managed_policies,
            sidecars: &self.sidecars,
            // A job's every run is a one-off task already.
            before_deploy: None,
        }
    }
}

/// The AWS clients a MicroService uses.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub discovery: aws_sdk_servicediscovery::Client,
}

impl<S> EcsServiceProvider<S> {
    pub fn new(c: Clients) -> Self {
        EcsServiceProvider {
            ecs: c.ecs,
            elb: c.elb,
            iam: c.iam,
            logs: c.logs,
            scaling: c.scaling,
            ec2: c.ec2,
            discovery: c.discovery,
            task_definitions: TaskDefinitionCache::default(),
            kind: PhantomData,
        }
    }
}

// ------------------------------------------------------------------------------------ names

pub fn log_group(name: &str) -> String {
    format!("/ecs/{name}")
}

/// IAM role names are limited to 64 characters.
pub fn execution_role(name: &str) -> String {
    format!("{}-exec", shorten(name, 59))
}

pub fn task_role(name: &str) -> String {
    format!("{}-task", shorten(name, 59))
}

/// Target group names are limited to 32 characters.
pub fn target_group(name: &str, port: &Port) -> String {
    target_group_name(name, &port.name)
}

/// The target group of the port named `port`.
pub(crate) fn target_group_name(name: &str, port: &str) -> String {
    shorten(&format!("{name}-{port}"), 32)
}

/// The container is named after the component.
pub(crate) fn container_name(address: &str) -> &str {
    address.rsplit('/').next().unwrap_or(address)
}

fn scalable_resource(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

// ------------------------------------------------------------------------------ the inputs

/// What a MicroService is deployed with besides its spec.
pub(crate) struct Context {
    /// The shared cluster's name.
    pub cluster: String,
    /// `listener.PORT` → ARN of the shared load balancer's forwarding listeners.
    listeners: BTreeMap<String, String>,
    lb_group: String,
    lb_dns: String,
    vpc_id: String,
    pub subnets: Vec<String>,
    pub public_ip: bool,
    pub infra: ComponentInfraSpec,
    /// The network the tasks are placed in, as recorded in the physical ids (the read tells
    /// the placement from it: see [`infra`]).
    network_ids: BTreeMap<String, String>,
    /// The stack's namespace, for a service with ports.
    namespace: Option<discovery::Namespace>,
}

fn shared(config: &Value, address: &str) -> Result<BTreeMap<String, String>, ProviderError> {
    input(config, address).map(|r| r.outputs).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!("the stack's {address} has no outputs; it must be applied first"),
        )
    })
}

impl<S: EcsKind> EcsServiceProvider<S> {
    pub(crate) async fn context(&self, t: &Target<'_, S>) -> Result<Context, ProviderError> {
        let cluster = shared(t.config, "_shared/cluster")?
            .get("name")
            .cloned()
            .unwrap_or_default();
        let ports = t.spec.workload().ports;
        // Only public ports go through the load balancer: a service without one needs none.
        let lb = if S::LOAD_BALANCED && ports.iter().any(|p| p.public) {
            shared(t.config, "_shared/load-balancer")?
        } else {
            BTreeMap::new()
        };
        let namespace = if ports.is_empty() {
            None
        } else {
            discovery::namespace_of(t.config)?
        };
        let infra: ComponentInfraSpec = t
            .config
            .get("infra")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| {
                ProviderError::with_source(ErrorKind::Invalid, "reading the component's infra", e)
            })?
            .unwrap_or_default();
        let tier = match infra.networking.subnets {
            SubnetPlacement::Private => Tier::Private,
            SubnetPlacement::Public => Tier::Public,
        };
        let place = placement_in(&self.ec2, t.config, tier).await?;
        // The default VPC has no NAT gateway: tasks there need a public IP to pull images.
        let default_vpc = t.config.get("network").is_none_or(Value::is_null);
        let network_ids = infra::network_ids(t.config, Some(&place.vpc_id));
        Ok(Context {
            cluster,
            listeners: lb
                .iter()
                .filter(|(k, _)| k.starts_with("listener."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            lb_group: lb.get("securityGroupId").cloned().unwrap_or_default(),
            lb_dns: lb.get("dnsName").cloned().unwrap_or_default(),
            vpc_id: place.vpc_id,
            subnets: place.subnets,
            public_ip: infra.networking.assign_public_ip || default_vpc,
            infra,
            network_ids,
            namespace,
        })
    }
}

/// What every ECS task kind has besides its task definition: roles and security group.
pub(crate) struct TaskPieces {
    pub exec_arn: String,
    pub task_arn: String,
    pub sg: String,
}

impl<S: EcsKind> EcsServiceProvider<S> {
    /// The log group, the execution and task roles, and the security group of the component's
    /// tasks, which the data stores it references admit on their port (recorded in `ids`).
    pub(crate) async fn ensure_task_pieces(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        ids: &mut BTreeMap<String, String>,
    ) -> Result<TaskPieces, ProviderError> {
        let s = t.spec.workload();
        ensure_log_group(
            &self.logs,
            &log_group(t.name),
            s.logging.retention_days,
            t.tags,
        )
        .await?;
        let secrets = task_secrets(&s, t.config)?;
        let exec_arn = ensure_role(
            &self.iam,
            &execution_role(t.name),
            ASSUME_ECS_TASKS,
            execution_statements(t, &secrets),
            t.tags,
        )
        .await?;
        let task_arn = ensure_role(
            &self.iam,
            &task_role(t.name),
            ASSUME_ECS_TASKS,
            task_statements(t),
            t.tags,
        )
        .await?;
        ensure_granted(&self.iam, &task_role(t.name), &grants_of(&s)).await?;
        if !s.managed_policies.is_empty() {
            ids.insert(
                task_definition::MANAGED_POLICIES_ID.to_string(),
                s.managed_policies.join(","),
            );
        }
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} ({} tasks)", t.address, S::KIND),
            &ctx.vpc_id,
            t.tags,
        )
        .await?;
        ids.insert("securityGroup".to_string(), sg.clone());
        ids.extend(ctx.network_ids.clone());
        // Databases and caches this component references admit it on their port.
        for (group, port) in referenced_stores(t.config) {
            authorize_ingress(&self.ec2, &group, port, &Source::Group(sg.clone())).await?;
            ids.insert(format!("ingress.{group}"), port.to_string());
        }
        // So do the services it reaches through their internal URL or host, on that port.
        for (group, port) in discovery::referenced_services(t.config) {
            authorize_ingress(&self.ec2, &group, port, &Source::Group(sg.clone())).await?;
            ids.insert(format!("ingress.{group}.{port}"), port.to_string());
        }
        Ok(TaskPieces {
            exec_arn,
            task_arn,
            sg,
        })
    }

    /// Removes a revision that never ran as the service: deregistered, then deleted
    /// (DeleteTaskDefinitions takes INACTIVE revisions). A failure is returned.
    async fn discard_revision(&self, arn: &str) -> Result<(), ProviderError> {
        self.ecs
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("deregistering {arn}"), e))?;
        let deleted = self
            .ecs
            .delete_task_definitions()
            .task_definitions(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("deleting {arn}"), e))?;
        match deleted.failures().first() {
            Some(f) if f.reason() != Some("TASK_DEFINITION_NOT_FOUND") => Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("deleting {arn}: {}", f.reason().unwrap_or("refused")),
            )),
            _ => Ok(()),
        }
    }

    /// Deregisters every ACTIVE revision of `keep`'s family but `keep` (ListTaskDefinitions by
    /// family prefix, kept to the family itself). The revision the service ran before
    /// (`previous`) stays, INACTIVE, as AWS keeps history; any other was registered by an earlier
    /// try of this action and never ran: it is deleted (DeleteTaskDefinitions, ten at a time),
    /// so that nothing is left behind.
    pub(crate) async fn deregister_others(
        &self,
        keep: &str,
        previous: Option<&str>,
    ) -> Result<(), ProviderError> {
        let Some(family) = family_of(keep) else {
            return Ok(());
        };
        let mut token = None;
        let mut gone: Vec<String> = Vec::new();
        loop {
            let page = self
                .ecs
                .list_task_definitions()
                .family_prefix(family)
                .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the task definitions of {family}"), e))?;
            for arn in page.task_definition_arns() {
                if arn != keep && family_of(arn) == Some(family) {
                    self.ecs
                        .deregister_task_definition()
                        .task_definition(arn)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("deregistering {arn}"), e))?;
                    if Some(arn.as_str()) != previous {
                        gone.push(arn.to_string());
                    }
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        for batch in gone.chunks(10) {
            let deleted = self
                .ecs
                .delete_task_definitions()
                .set_task_definitions(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(format!("deleting old revisions of {family}"), e))?;
            if let Some(f) = deleted.failures().first() {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!(
                        "deleting {}: {}",
                        f.arn().unwrap_or(family),
                        f.reason().unwrap_or("refused")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Deregisters every revision of the task definition family `name`, and removes the log
    /// group, the roles, the ingress into referenced stores and the security group.
    pub(crate) async fn delete_task_pieces(
        &self,
        name: &str,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let mut token = None;
        loop {
            let page = self
                .ecs
                .list_task_definitions()
                .family_prefix(name)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the task definitions of {name}"), e))?;
            for arn in page.task_definition_arns() {
                // The family prefix also matches longer names; keep to this family.
                if family_of(arn) == Some(name) {
                    self.ecs
                        .deregister_task_definition()
                        .task_definition(arn)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("deregistering {arn}"), e))?;
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        delete_log_group(&self.logs, &log_group(name)).await?;
        delete_role(&self.iam, &execution_role(name)).await?;
        delete_role(&self.iam, &task_role(name)).await?;
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        if !sg.is_empty() {
            for (k, port) in ids.iter().filter(|(k, _)| k.starts_with("ingress.")) {
                if let Ok(port) = port.parse::<i32>() {
                    let group = ingress_group(k);
                    revoke_ingress(&self.ec2, group, port, &Source::Group(sg.clone())).await?;
                }
            }
            delete_security_group(&self.ec2, &sg).await?;
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------- the provider

impl<S: EcsKind> EcsServiceProvider<S> {
    async fn describe_service(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<Option<Service>, ProviderError> {
        if cluster.is_empty() {
            return Ok(None);
        }
        Ok(unless_missing(
            self.ecs
                .describe_services()
                .cluster(cluster)
                .services(name)
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await,
            |s| s.is_cluster_not_found_exception(),
            format!("reading ECS service {name}"),
        )?
        .and_then(|r| {
            r.services()
                .iter()
                .find(|s| s.status() == Some("ACTIVE"))
                .cloned()
        }))
    }

    /// Creates what is missing and brings the rest to the spec, in order: log group, roles,
    /// security group and the rules into it and into referenced data stores, target groups and
    /// listener rules, task definition (a new revision only when its input changed), the ECS
    /// service, autoscaling; then waits for the rollout.
    async fn converge(&self, t: &Target<'_, S>) -> Result<Outcome, ProviderError> {
        let s = t.spec.workload();
        let ctx = self.context(t).await?;
        let mut ids = BTreeMap::new();
        let mut outputs = BTreeMap::new();

        let TaskPieces {
            exec_arn,
            task_arn,
            sg,
        } = self.ensure_task_pieces(t, &ctx, &mut ids).await?;
        for p in s.ports.iter().filter(|p| p.public) {
            authorize_ingress(
                &self.ec2,
                &sg,
                p.port as i32,
                &Source::Group(ctx.lb_group.clone()),
            )
            .await?;
        }

        let mut balancers = Vec::new();
        for p in s.ports.iter().filter(|p| p.public) {
            let tg = self.ensure_target_group(t, &ctx.vpc_id, p).await?;
            ids.insert(format!("targetGroup.{}", p.name), tg.clone());
            outputs
                .entry("targetGroupArn".to_string())
                .or_insert(tg.clone());
            for (listener_key, listener) in &ctx.listeners {
                let rule = self.ensure_rule(t, listener, p, &tg).await?;
                let port = listener_key.trim_start_matches("listener.");
                ids.insert(format!("rule.{}.{port}", p.name), rule);
            }
            balancers.push(
                EcsLoadBalancer::builder()
                    .target_group_arn(&tg)
                    .container_name(container_name(t.address))
                    .container_port(p.port as i32)
                    .build(),
            );
        }

        // Every port is reachable at the service's name in the stack's namespace.
        let mut registries = Vec::new();
        if let Some(ns) = &ctx.namespace {
            let (id, arn) = self.ensure_discovery(t, ns).await?;
            ids.insert(discovery::DISCOVERY_ID.to_string(), id);
            ids.insert(discovery::DISCOVERY_ARN.to_string(), arn.clone());
            registries.push(ServiceRegistry::builder().registry_arn(arn).build());
            let host = format!("{}.{}", discovery::discovery_name(t.address), ns.name);
            outputs.extend(discovery::internal_outputs(&host, &s));
        }

        let current = self.describe_service(&ctx.cluster, t.name).await?;
        // Target groups other components attached to the service (an NLB's listeners, tagged
        // `panka:attached-by`) stay; the service's own are the ones just listed.
        if let Some(svc) = &current {
            let others = self.attached_by_others(svc, &balancers).await?;
            balancers.extend(others);
        }
        let current_td = current
            .as_ref()
            .and_then(|svc| svc.task_definition())
            .map(str::to_string);
        let td_arn = self
            .ensure_task_definition(t, &ctx, &exec_arn, &task_arn, current_td.clone())
            .await?;
        // beforeDeploy runs when the service is about to move to another revision; when it
        // fails the service keeps the one it runs, and the new one, never run as the service,
        // goes (a transient error leaves it for the retry).
        if let Some(before) = s.before_deploy
            && current_td.as_deref() != Some(td_arn.as_str())
            && let Err(e) = self.run_before_deploy(t, &ctx, &td_arn, &sg, before).await
        {
            if !e.kind.is_transient()
                && let Err(cleanup) = self.discard_revision(&td_arn).await
            {
                return Err(ProviderError::new(
                    e.kind,
                    format!(
                        "{}; {td_arn}, which never ran, is left: {}",
                        e.message, cleanup.message
                    ),
                ));
            }
            return Err(e);
        }

        let scaling = ctx
            .infra
            .scaling
            .clone()
            .unwrap_or(panka_format::model::Scaling {
                replicas: 1,
                autoscaling: None,
            });
        let desired = match &scaling.autoscaling {
            Some(a) => scaling.replicas.clamp(a.min, a.max),
            None => scaling.replicas,
        } as i32;
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(ctx.subnets.clone()))
                    .set_security_groups(Some(
                        std::iter::once(sg.clone())
                            .chain(ctx.infra.networking.security_groups.iter().cloned())
                            .collect(),
                    ))
                    .assign_public_ip(if ctx.public_ip {
                        AssignPublicIp::Enabled
                    } else {
                        AssignPublicIp::Disabled
                    })
                    .build()
                    .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "network", e))?,
            )
            .build();
        let deployment = DeploymentConfiguration::builder()
            .minimum_healthy_percent(s.deployment.minimum_healthy_percent as i32)
            .maximum_percent(s.deployment.maximum_percent as i32)
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(true)
                    .rollback(s.deployment.rollback_on_failure)
                    .build(),
            )
            .build();
        let grace = s
            .readiness
            .as_ref()
            .map_or(0, |r| r.initial_delay_seconds as i32);
        let has_lb = !balancers.is_empty();
        let service = match current {
            Some(current) => {
                // Registries are sent only to change them: a change starts new tasks (ECS
                // UpdateService `serviceRegistries`, supported since 2023).
                let registered: Vec<&str> = current
                    .service_registries()
                    .iter()
                    .filter_map(|r| r.registry_arn())
                    .collect();
                let wanted: Vec<&str> =
                    registries.iter().filter_map(|r| r.registry_arn()).collect();
                let registries = (registered != wanted).then(|| registries.clone());
                let updated = self
                    .ecs
                    .update_service()
                    .cluster(&ctx.cluster)
                    .service(t.name)
                    .task_definition(&td_arn)
                    .set_desired_count(scaling.autoscaling.is_none().then_some(desired))
                    .network_configuration(network)
                    .deployment_configuration(deployment)
                    .set_load_balancers(Some(balancers))
                    .set_service_registries(registries)
                    .set_health_check_grace_period_seconds(has_lb.then_some(grace))
                    .enable_execute_command(s.enable_execute_command)
                    .propagate_tags(PropagateTags::Service)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error_when(
                            format!("updating ECS service {}", t.name),
                            e,
                            Transient::DependencyNotReady,
                            service_not_ready,
                        )
                    })?;
                let svc = updated.service().cloned();
                if let Some(arn) = svc.as_ref().and_then(|s| s.service_arn()) {
                    self.ecs
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(ecs_tags(t.tags)))
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("tagging ECS service {}", t.name), e))?;
                }
                svc
            }
            None => self
                .ecs
                .create_service()
                .cluster(&ctx.cluster)
                .service_name(t.name)
                // The same create sent again (the SDK's retry of one whose answer was lost) is
                // answered with the service it made, instead of "Creation of service was not
                // idempotent" (CreateService `clientToken`, ECS API reference).
                .client_token(create_token(&ctx.cluster, t.name, &td_arn))
                .task_definition(&td_arn)
                .desired_count(desired)
                .launch_type(LaunchType::Fargate)
                .network_configuration(network)
                .deployment_configuration(deployment)
                .set_load_balancers(Some(balancers))
                .set_service_registries((!registries.is_empty()).then_some(registries))
                .set_health_check_grace_period_seconds(has_lb.then_some(grace))
                .enable_execute_command(s.enable_execute_command)
                .propagate_tags(PropagateTags::Service)
                .set_tags(Some(ecs_tags(t.tags)))
                .send()
                .await
                .map_err(|e| {
                    aws_error_when(
                        format!("creating ECS service {}", t.name),
                        e,
                        Transient::DependencyNotReady,
                        service_not_ready,
                    )
                })?
                .service()
                .cloned(),
        };
        let service = service.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("ECS returned no service for {}", t.name),
            )
        })?;
        ids.insert("cluster".to_string(), ctx.cluster.clone());
        ids.insert("service".to_string(), t.name.to_string());
        ids.insert("taskDefinition".to_string(), td_arn.clone());
        if let Some(arn) = service.service_arn() {
            ids.insert("serviceArn".to_string(), arn.to_string());
        }

        self.converge_autoscaling(t, &ctx, &scaling, &outputs)
            .await?;
        self.wait_rollout(t, &ctx.cluster, s.deployment.timeout_minutes)
            .await?;
        // Older revisions are kept registered only as rollback targets of the circuit breaker
        // during the deployment; once it is complete they go, with any that an earlier try of
        // this action registered (a RegisterTaskDefinition whose answer was lost and was sent
        // again, a create retried after a transient failure).
        self.deregister_others(&td_arn, current_td.as_deref())
            .await?;

        outputs.insert("serviceName".to_string(), t.name.to_string());
        if let Some(arn) = service.service_arn() {
            outputs.insert("serviceArn".to_string(), arn.to_string());
        }
        outputs.insert("taskDefinitionArn".to_string(), td_arn);
        outputs.insert("taskRoleArn".to_string(), task_arn);
        outputs.insert("securityGroupId".to_string(), sg);
        outputs.insert("logGroupName".to_string(), log_group(t.name));
        // A service without a public port has no URL (and no target group).
        let url = url(&ctx, &s);
        if S::LOAD_BALANCED && !url.is_empty() {
            outputs.insert("url".to_string(), url);
        }
        Ok(Outcome {
            physical_ids: ids,
            outputs,
        })
    }

    /// The ids and outputs of an existing service found by its name (after a crash, or on
    /// import): never an empty value.
    async fn found_outcome(
        &self,
        t: &Target<'_, S>,
        cluster: &str,
        svc: &Service,
    ) -> Result<Outcome, ProviderError> {
        let mut ids = BTreeMap::from([
            ("cluster".to_string(), cluster.to_string()),
            ("service".to_string(), t.name.to_string()),
        ]);
        // The stack's network, when it has one (the default VPC's id would take a call).
        ids.extend(infra::network_ids(t.config, None));
        let mut outputs = BTreeMap::from([
            ("serviceName".to_string(), t.name.to_string()),
            ("logGroupName".to_string(), log_group(t.name)),
        ]);
        let sg = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .and_then(|a| a.security_groups().first());
        for (id, output, value) in [
            ("serviceArn", "serviceArn", svc.service_arn()),
            ("taskDefinition", "taskDefinitionArn", svc.task_definition()),
            ("securityGroup", "securityGroupId", sg.map(String::as_str)),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                ids.insert(id.to_string(), v.to_string());
                outputs.insert(output.to_string(), v.to_string());
            }
        }
        let role = self
            .iam
            .get_role()
            .role_name(task_role(t.name))
            .send()
            .await
            .ok()
            .and_then(|r| r.role().map(|r| r.arn().to_string()));
        if let Some(role) = role {
            outputs.insert("taskRoleArn".to_string(), role);
        }
        for p in t.spec.workload().ports.iter().filter(|p| p.public) {
            if let Some(arn) = svc
                .load_balancers()
                .iter()
                .find(|l| l.container_port() == Some(p.port as i32))
                .and_then(|l| l.target_group_arn())
            {
                ids.insert(format!("targetGroup.{}", p.name), arn.to_string());
                if S::LOAD_BALANCED {
                    outputs
                        .entry("targetGroupArn".to_string())
                        .or_insert_with(|| arn.to_string());
                }
            }
        }
        let lb = input(t.config, "_shared/load-balancer")
            .map(|r| r.outputs)
            .unwrap_or_default();
        // Listener rules, found by the target groups they forward to.
        for (key, listener) in lb.iter().filter(|(k, _)| k.starts_with("listener.")) {
            let Ok(rules) = self
                .elb
                .describe_rules()
                .listener_arn(listener)
                .send()
                .await
            else {
                continue;
            };
            for p in t.spec.workload().ports.iter().filter(|p| p.public) {
                let Some(tg) = ids.get(&format!("targetGroup.{}", p.name)).cloned() else {
                    continue;
                };
                if let Some(arn) = rules
                    .rules()
                    .iter()
                    .find(|r| {
                        r.actions()
                            .iter()
                            .any(|a| a.target_group_arn() == Some(&tg))
                    })
                    .and_then(|r| r.rule_arn())
                {
                    ids.insert(
                        format!("rule.{}.{}", p.name, key.trim_start_matches("listener.")),
                        arn.to_string(),
                    );
                }
            }
        }
        let ctx_url = {
            let dns = lb.get("dnsName").cloned().unwrap_or_default();
            url_of(&dns, &lb, &t.spec.workload())
        };
        if S::LOAD_BALANCED && !ctx_url.is_empty() {
            outputs.insert("url".to_string(), ctx_url);
        }
        // Its Cloud Map service, when the namespace is there (a service with ports).
        let w = t.spec.workload();
        if let (false, Ok(Some(ns))) = (w.ports.is_empty(), discovery::namespace_of(t.config)) {
            let name = discovery::discovery_name(t.address);
            if let Some((id, arn)) = self.find_discovery(t, &ns, &name).await? {
                ids.insert(discovery::DISCOVERY_ID.to_string(), id);
                ids.insert(discovery::DISCOVERY_ARN.to_string(), arn);
                outputs.extend(discovery::internal_outputs(
                    &format!("{name}.{}", ns.name),
                    &w,
                ));
            }
        }
        Ok(Outcome {
            physical_ids: ids,
            outputs,
        })
    }
}

fn url(ctx: &Context, s: &Workload<'_>) -> String {
    url_of(&ctx.lb_dns, &ctx.listeners, s)
}

/// The security group of an ingress id: `ingress.GROUP` (a data store's port) or
/// `ingress.GROUP.PORT` (a service's port; a service admits on several).
fn ingress_group(key: &str) -> &str {
    let rest = key.trim_start_matches("ingress.");
    rest.split_once('.').map_or(rest, |(group, _)| group)
}

/// The data stores (RDS, Redis, Memcached, MSK) among the components a service references: their security
/// group and port, which they admit the service's tasks on.
fn referenced_stores(config: &Value) -> Vec<(String, i32)> {
    let Some(inputs) = config.get("inputs").and_then(Value::as_object) else {
        return Vec::new();
    };
    inputs
        .iter()
        .filter(|(path, _)| !path.starts_with(SHARED_PREFIX))
        .filter_map(|(_, i)| {
            let out = |k: &str| {
                i.pointer(&format!("/outputs/{k}"))
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
            };
            let port = out("port")?.parse::<i32>().ok()?;
            Some((out("securityGroupId")?.to_string(), port))
        })
        .collect()
}

/// `http(s)://HOST/PATH` of the first public port: its host or the load balancer's name, and
/// the path prefix of its rule.
fn url_of(dns: &str, listeners: &BTreeMap<String, String>, s: &Workload<'_>) -> String {
    let Some(p) = s.ports.iter().find(|p| p.public) else {
        return String::new();
    };
    let https = listeners.contains_key("listener.443");
    let scheme = if https { "https" } else { "http" };
    let port = listeners
        .keys()
        .filter_map(|k| k.strip_prefix("listener."))
        .find(|p| *p != "80" && *p != "443")
        .filter(|_| !https && !listeners.contains_key("listener.80"))
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let host = p.host.clone().unwrap_or_else(|| dns.to_string());
    let path = p
        .path
        .as_deref()
        .map(|p| p.trim_end_matches('*').trim_end_matches('/'))
        .unwrap_or_default();
    format!("{scheme}://{host}{port}{path}")
}

impl<S: ServiceKind> KindProvider for EcsServiceProvider<S> {
    type Spec = S;
    const KIND: &'static str = S::KIND;
    const UNOBSERVABLE: &'static [Unobservable] = <S as ServiceKind>::UNOBSERVABLE;

    async fn create(&self, t: &Target<'_, S>) -> Result<Outcome, ProviderError> {
        // A service of this name in the cluster is this component's only when it carries the
        // component's tags (CreateService sets them): anybody else's is refused, never updated.
        let cluster = cluster_of(t.config);
        if let Some(svc) = self.describe_service(&cluster, t.name).await? {
            check_service_owner(&svc, t)?;
        }
        self.converge(t).await
    }

    /// DescribeServices (the cluster and service recorded), DescribeTaskDefinition of the
    /// revision it runs, DescribeLogGroups of its log group and DescribeScalableTargets of its
    /// task count, with DescribeScalingPolicies when a target is registered; for a service with
    /// target groups also DescribeTargetGroups (all of them in one call), DescribeRules (the
    /// recorded rules in one call) and DescribeLoadBalancers (the URL's host); and the task
    /// role's GetRolePolicy (`panka-permissions`) and ListAttachedRolePolicies. A Worker: 6-7
    /// calls; a MicroService with a public port: 9-10.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<S>>, ProviderError> {
        self.read_service(id).await
    }

    fn managed_infra(recorded: &ComponentInfraSpec) -> Vec<&'static str> {
        infra::managed_infra(recorded)
    }

    async fn update(
        &self,
        t: &Target<'_, S>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let outcome = self.converge(t).await?;
        // Ingress into data stores no longer referenced, and target groups of ports no longer
        // public, go.
        let sg = outcome
            .physical_ids
            .get("securityGroup")
            .cloned()
            .unwrap_or_default();
        for (k, port) in ids.iter().filter(|(k, _)| k.starts_with("ingress.")) {
            if !outcome.physical_ids.contains_key(k)
                && let Ok(port) = port.parse::<i32>()
            {
                let group = ingress_group(k);
                revoke_ingress(&self.ec2, group, port, &Source::Group(sg.clone())).await?;
            }
        }
        for (k, arn) in ids.iter().filter(|(k, _)| k.starts_with("rule.")) {
            if !outcome.physical_ids.contains_key(k) {
                match self.elb.delete_rule().rule_arn(arn).send().await {
                    Ok(_) => {}
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_rule_not_found_exception()) => {}
                    Err(e) => return Err(aws_error(format!("deleting listener rule {arn}"), e)),
                }
            }
        }
        for (k, arn) in ids.iter().filter(|(k, _)| k.starts_with("targetGroup.")) {
            if !outcome.physical_ids.contains_key(k) {
                crate::alb::delete_target_group(&self.elb, arn).await?;
            }
        }
        // A service without ports any more leaves the namespace once ECS let its tasks go.
        if let Some(id) = ids.get(discovery::DISCOVERY_ID)
            && outcome.physical_ids.get(discovery::DISCOVERY_ID) != Some(id)
        {
            self.delete_discovery(id).await?;
        }
        Ok(outcome)
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<S>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
        let cluster = ids.get("cluster").cloned().unwrap_or_default();
        if !cluster.is_empty() {
            // Only a registered scalable target is deregistered (autoscaling may never have
            // been on); one gone meanwhile is fine.
            let resource = scalable_resource(&cluster, name);
            let registered = self
                .scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_ids(&resource)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the scaling target of {name}"), e))?;
            let deregistered = if registered.scalable_targets().is_empty() {
                Ok(())
            } else {
                self.scaling
                    .deregister_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(&resource)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .send()
                    .await
                    .map(|_| ())
            };
            match deregistered {
                Ok(()) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_object_not_found_exception()) => {}
                Err(e) => {
                    return Err(aws_error(
                        format!("deregistering the scaling target of {name}"),
                        e,
                    ));
                }
            }
            if self.describe_service(&cluster, name).await?.is_some() {
                self.ecs
                    .delete_service()
                    .cluster(&cluster)
                    .service(name)
                    .force(true)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("deleting ECS service {name}"), e))?;
                self.ecs
                    .wait_until_services_inactive()
                    .cluster(&cluster)
                    .services(name)
                    .wait(INACTIVE_TIMEOUT)
                    .await
                    .map_err(|e| {
                        ProviderError::with_source(
                            ErrorKind::Timeout,
                            format!("waiting for ECS service {name} to drain"),
                            e,
                        )
                    })?;
            }
        }
        for (_, arn) in ids.iter().filter(|(k, _)| k.starts_with("rule.")) {
            match self.elb.delete_rule().rule_arn(arn).send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_rule_not_found_exception()) => {}
                Err(e) => return Err(aws_error(format!("deleting listener rule {arn}"), e)),
            }
        }
        for (_, arn) in ids.iter().filter(|(k, _)| k.starts_with("targetGroup.")) {
            crate::alb::delete_target_group(&self.elb, arn).await?;
        }
        // The service's Cloud Map service, once ECS deregistered its tasks.
        if let Some(id) = ids.get(discovery::DISCOVERY_ID) {
            self.delete_discovery(id).await?;
        }
        // Every revision of the family goes, then the roles, log group and security group.
        self.delete_task_pieces(name, ids).await
    }

    async fn health(
        &self,
        t: &Target<'_, S>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let cluster = ids.get("cluster").cloned().unwrap_or_default();
        Ok(self
            .describe_service(&cluster, t.name)
            .await?
            .map(|svc| service_health(&svc)))
    }

    async fn find(&self, t: &Target<'_, S>) -> Result<Option<Outcome>, ProviderError> {
        let cluster = cluster_of(t.config);
        let Some(svc) = self.describe_service(&cluster, t.name).await? else {
            return Ok(None);
        };
        check_service_owner(&svc, t)?;
        let mut outcome = self.found_outcome(t, &cluster, &svc).await?;
        // Ingress rules this service opened are recorded again from its references.
        let sg = outcome
            .physical_ids
            .get("securityGroup")
            .cloned()
            .unwrap_or_default();
        if !sg.is_empty() {
            for (group, port) in referenced_stores(t.config) {
                outcome
                    .physical_ids
                    .insert(format!("ingress.{group}"), port.to_string());
            }
            for (group, port) in discovery::referenced_services(t.config) {
                outcome
                    .physical_ids
                    .insert(format!("ingress.{group}.{port}"), port.to_string());
            }
        }
        Ok(Some(outcome))
    }
}

/// The shared cluster's name, from the resolved inputs (empty before the cluster exists).
fn cluster_of(config: &Value) -> String {
    input(config, "_shared/cluster")
        .and_then(|r| r.outputs.get("name").cloned())
        .unwrap_or_default()
}

/// Refuses an ECS service that does not carry the component's tags (DescribeServices with
/// `include: TAGS`).
fn check_service_owner<S>(svc: &Service, t: &Target<'_, S>) -> Result<(), ProviderError> {
    check_owner(
        &format!("ECS service {}", svc.service_name().unwrap_or(t.name)),
        t.address,
        svc.tags()
            .iter()
            .filter_map(|tag| Some((tag.key()?, tag.value()?))),
        t.tags,
    )
}

/// What ECS answers CreateService and UpdateService with while AWS is still wiring what the
/// service uses. terraform-provider-aws retries the same answers
/// (`internal/service/ecs/service.go`: the create's and the update's retry on
/// `InvalidParameterException`, and `ClusterNotFoundException` for a cluster just made).
const SERVICE_NOT_READY: &[&str] = &[
    // The target group's listener rule is not associated with it yet.
    "does not have an associated load balancer",
    // The account's ECS service-linked role is being created by its first cluster or service.
    "Unable to assume the service linked role",
    "verify that the ECS service role being passed has the proper permissions",
];

/// Whether an error of CreateService or UpdateService is one of [`SERVICE_NOT_READY`]'s answers
/// or a cluster not visible yet: such an error is [`Transient::DependencyNotReady`], so that the
/// engine retries the action within that cause's budget.
fn service_not_ready(code: Option<&str>, message: &str) -> bool {
    code == Some("ClusterNotFoundException")
        || (code == Some("InvalidParameterException")
            && SERVICE_NOT_READY.iter().any(|m| message.contains(m)))
}

/// CreateService's idempotency token (at most 36 characters): the same for the same cluster,
/// service and task definition revision, so only a repeat of one create matches it.
fn create_token(cluster: &str, service: &str, task_definition: &str) -> String {
    let digest = Sha256::digest(format!("{cluster}/{service}/{task_definition}"));
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A Cloud Map client for tests whose service has no ports: any call fails the test.
#[cfg(test)]
pub(crate) fn unused_discovery() -> aws_sdk_servicediscovery::Client {
    let none: [&aws_smithy_mocks::Rule; 0] = [];
    aws_smithy_mocks::mock_client!(aws_sdk_servicediscovery, none)
}
