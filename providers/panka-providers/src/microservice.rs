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
//! Outputs: `url`, `serviceName`, `serviceArn`, `taskDefinitionArn`, `taskRoleArn`,
//! `targetGroupArn`, `securityGroupId`, `logGroupName`. Nothing forces replacement.

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
    Service, TransportProtocol,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, Matcher, PathPatternConditionConfig,
    ProtocolEnum, RuleCondition, TargetTypeEnum,
};
use panka_engine::provider::Outcome;
use panka_engine::resolve::{SHARED_PREFIX, input};
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{
    CpuArchitecture, CronJobSpec, EcsDeployment, EnvVar, Image, Logging, MicroServiceSpec, Port,
    PortProtocol, Probe, Secret, WorkerSpec,
};
use panka_format::model::{ComponentInfraSpec, SubnetPlacement};
use panka_format::naming::shorten;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::alb::elb_tags;
use crate::ecs_cluster::ecs_tags;
use crate::errors::{aws_error, unless_missing, until_visible};
use crate::iam::{delete_role, ensure_role};
use crate::logs::{delete_log_group, ensure_log_group};
use crate::network::{
    Source, Tier, authorize_ingress, delete_security_group, ensure_security_group, placement_in,
    revoke_ingress,
};

/// How often the rollout is polled; ECS updates deployment counts every few seconds.
const ROLLOUT_POLL: Duration = Duration::from_secs(5);
/// Deleting a service drains its tasks (the deregistration delay, 300 s by default) first.
const INACTIVE_TIMEOUT: Duration = Duration::from_secs(900);
/// Listener rule priorities derived from the address fall in 1..=PRIORITY_SPAN; a taken one
/// moves to the next.
const PRIORITY_SPAN: u64 = 49_000;
const PRIORITY_TRIES: u32 = 50;
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
    kind: PhantomData<fn() -> S>,
}

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
    shorten(&format!("{name}-{}", port.name), 32)
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
    infra: ComponentInfraSpec,
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
        let lb = if S::LOAD_BALANCED {
            shared(t.config, "_shared/load-balancer")?
        } else {
            BTreeMap::new()
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
        let secrets = secrets(s.secrets, t.config)?;
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
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} ({} tasks)", t.address, S::KIND),
            &ctx.vpc_id,
            t.tags,
        )
        .await?;
        ids.insert("securityGroup".to_string(), sg.clone());
        // Databases and caches this component references admit it on their port.
        for (group, port) in referenced_stores(t.config) {
            authorize_ingress(&self.ec2, &group, port, &Source::Group(sg.clone())).await?;
            ids.insert(format!("ingress.{group}"), port.to_string());
        }
        Ok(TaskPieces {
            exec_arn,
            task_arn,
            sg,
        })
    }

    /// The task definition revision to run: `current` (or else the family's latest, registered
    /// by a run that was killed before using it) when its input is the same, a new one otherwise.
    pub(crate) async fn ensure_task_definition(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        exec_arn: &str,
        task_arn: &str,
        current: Option<String>,
    ) -> Result<String, ProviderError> {
        let td = task_definition(t, &ctx.infra, exec_arn, task_arn)?;
        let candidate = match current {
            Some(arn) => Some(arn),
            None => self.latest_revision(t.name).await?,
        };
        Ok(
            match (&candidate, self.task_digest(candidate.as_deref()).await?) {
                (Some(arn), Some(d)) if d == td.digest => arn.clone(),
                _ => self.register(t, ctx, &td, exec_arn, task_arn).await?,
            },
        )
    }

    /// The service's load balancers that other components attached (their target groups carry
    /// the tag `panka:attached-by`), leaving out those in `own`.
    async fn attached_by_others(
        &self,
        svc: &Service,
        own: &[EcsLoadBalancer],
    ) -> Result<Vec<EcsLoadBalancer>, ProviderError> {
        let candidates: Vec<&EcsLoadBalancer> = svc
            .load_balancers()
            .iter()
            .filter(|b| {
                b.target_group_arn()
                    .is_some_and(|arn| !own.iter().any(|o| o.target_group_arn() == Some(arn)))
            })
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let arns: Vec<String> = candidates
            .iter()
            .filter_map(|b| b.target_group_arn().map(str::to_string))
            .collect();
        let tags = self
            .elb
            .describe_tags()
            .set_resource_arns(Some(arns))
            .send()
            .await
            .map_err(|e| aws_error("reading the tags of the service's target groups", e))?;
        let attached: Vec<&str> = tags
            .tag_descriptions()
            .iter()
            .filter(|d| d.tags().iter().any(|t| t.key() == Some(ATTACHED_BY_TAG)))
            .filter_map(|d| d.resource_arn())
            .collect();
        Ok(candidates
            .into_iter()
            .filter(|b| b.target_group_arn().is_some_and(|a| attached.contains(&a)))
            .cloned()
            .collect())
    }

    /// Deregisters one task definition revision; tasks running it go on (a failure is left for
    /// the family's removal to finish).
    pub(crate) async fn deregister(&self, arn: &str) {
        let _ = self
            .ecs
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await;
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
                    let _ = self
                        .ecs
                        .deregister_task_definition()
                        .task_definition(arn)
                        .send()
                        .await;
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
                    let group = k.trim_start_matches("ingress.");
                    revoke_ingress(&self.ec2, group, port, &Source::Group(sg.clone())).await?;
                }
            }
            delete_security_group(&self.ec2, &sg).await?;
        }
        Ok(())
    }
}

/// The image reference: digest over tag, `latest` when neither is given.
fn image(i: &Image) -> String {
    match (&i.digest, &i.tag) {
        (Some(d), _) => format!("{}@{d}", i.repository),
        (None, Some(t)) => format!("{}:{t}", i.repository),
        (None, None) => format!("{}:latest", i.repository),
    }
}

/// Environment variables with every `valueFrom` replaced by the referenced output.
pub(crate) fn environment(
    vars: &[EnvVar],
    config: &Value,
) -> Result<Vec<(String, String)>, ProviderError> {
    vars.iter()
        .enumerate()
        .map(|(i, e)| {
            let value = match (&e.value, &e.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(_)) => input(config, &format!("environment[{i}].valueFrom"))
                    .and_then(|r| r.value)
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Invalid,
                            format!("environment variable {} has no resolved value", e.name),
                        )
                    })?,
                (None, None) => String::new(),
            };
            Ok((e.name.clone(), value))
        })
        .collect()
}

/// A secret as the spec refers to it, resolved: its name, the secret's ARN or the SSM
/// parameter, and the JSON key to pick (Secrets Manager only).
pub(crate) struct SecretRef {
    pub name: String,
    pub source: String,
    pub json_key: Option<String>,
}

/// The secrets of a spec with each `valueFrom.component` replaced by the output it names.
pub(crate) fn secret_refs(
    list: &[Secret],
    config: &Value,
) -> Result<Vec<SecretRef>, ProviderError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let src = &s.value_from;
            let source = if src.component.is_some() {
                input(config, &format!("secrets[{i}].valueFrom"))
                    .and_then(|r| r.value)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Invalid,
                            format!("secret {} refers to an output with no value", s.name),
                        )
                    })?
            } else if let Some(sm) = &src.secrets_manager {
                sm.clone()
            } else {
                src.ssm_parameter.clone().unwrap_or_default()
            };
            Ok(SecretRef {
                name: s.name.clone(),
                source,
                json_key: src.json_key.clone().filter(|_| src.ssm_parameter.is_none()),
            })
        })
        .collect()
}

/// Secrets as ECS takes them: the name and the ARN (or SSM name) to read at task start. Never a
/// value.
fn secrets(list: &[Secret], config: &Value) -> Result<Vec<(String, String)>, ProviderError> {
    Ok(secret_refs(list, config)?
        .into_iter()
        .map(|s| {
            let from = match &s.json_key {
                Some(key) => format!("{}:{key}::", s.source),
                None => s.source,
            };
            (s.name, from)
        })
        .collect())
}

/// A secret reference as IAM names it: the secret's ARN without a JSON key selector, or an SSM
/// parameter's ARN.
pub(crate) fn secret_resource(from: &str, region: &str) -> String {
    if from.starts_with("arn:") {
        let parts: Vec<&str> = from.split(':').collect();
        if parts.get(2) == Some(&"secretsmanager") && parts.len() > 7 {
            return parts[..7].join(":") + "*";
        }
        return from.to_string();
    }
    format!(
        "arn:aws:ssm:{region}:*:parameter/{}",
        from.trim_start_matches('/')
    )
}

fn liveness(probe: &Probe, first_port: u32) -> Result<EcsHealthCheck, ProviderError> {
    let command = if let Some(c) = &probe.command {
        let mut v = vec!["CMD".to_string()];
        v.extend(c.iter().cloned());
        v
    } else if let Some(h) = &probe.http {
        vec![
            "CMD-SHELL".to_string(),
            format!(
                "curl -fsS -o /dev/null http://localhost:{}{} || exit 1",
                h.port.unwrap_or(first_port),
                h.path
            ),
        ]
    } else if let Some(tcp) = &probe.tcp {
        vec![
            "CMD-SHELL".to_string(),
            format!("nc -z localhost {} || exit 1", tcp.port),
        ]
    } else {
        Vec::new()
    };
    EcsHealthCheck::builder()
        .set_command(Some(command))
        .interval(probe.period_seconds as i32)
        .timeout(probe.timeout_seconds as i32)
        .retries(probe.failure_threshold as i32)
        .start_period(probe.initial_delay_seconds as i32)
        .build()
        .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "liveness check", e))
}

/// The task definition's input, and its digest: a new revision is registered only when it
/// changes.
struct TaskDefinition {
    container: ContainerDefinition,
    digest: String,
}

fn task_definition<S: EcsKind>(
    t: &Target<'_, S>,
    infra: &ComponentInfraSpec,
    exec_role: &str,
    task_role: &str,
) -> Result<TaskDefinition, ProviderError> {
    let s = t.spec.workload();
    let env = environment(s.environment, t.config)?;
    let secrets = secrets(s.secrets, t.config)?;
    let first_port = s.ports.first().map_or(80, |p| p.port);
    let mut c = ContainerDefinition::builder()
        .name(container_name(t.address))
        .image(image(s.image))
        .essential(true)
        .set_command(s.command.clone())
        .set_entry_point(s.entrypoint.clone())
        .stop_timeout(s.stop_timeout_seconds as i32)
        .readonly_root_filesystem(s.readonly_root_filesystem)
        .set_user(s.user.clone())
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", log_group(t.name))
                .options("awslogs-region", t.region)
                .options("awslogs-stream-prefix", "ecs")
                .build()
                .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "log settings", e))?,
        );
    for p in s.ports {
        let (protocol, app) = match p.protocol {
            PortProtocol::Udp => (TransportProtocol::Udp, None),
            PortProtocol::Tcp => (TransportProtocol::Tcp, None),
            PortProtocol::Grpc => (TransportProtocol::Tcp, Some(ApplicationProtocol::Grpc)),
            PortProtocol::Http | PortProtocol::Https => {
                (TransportProtocol::Tcp, Some(ApplicationProtocol::Http))
            }
        };
        c = c.port_mappings(
            PortMapping::builder()
                .name(&p.name)
                .container_port(p.port as i32)
                .protocol(protocol)
                .set_app_protocol(app)
                .build(),
        );
    }
    for (k, v) in &env {
        c = c.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    for (k, v) in &secrets {
        c = c.secrets(
            EcsSecret::builder()
                .name(k)
                .value_from(v)
                .build()
                .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "secret", e))?,
        );
    }
    if let Some(probe) = s.liveness {
        c = c.health_check(liveness(probe, first_port)?);
    }
    let container = c.build();
    let r = &infra.resources;
    // The digest is of panka's own inputs as JSON in a fixed order, not of the SDK structures,
    // whose hash maps iterate in a different order in every process.
    let input = json!({
        "container": container_name(t.address),
        "image": image(s.image),
        "command": s.command,
        "entrypoint": s.entrypoint,
        "ports": s.ports,
        "environment": env,
        "secrets": secrets,
        "liveness": s.liveness,
        "logGroup": log_group(t.name),
        "region": t.region,
        "stopTimeout": s.stop_timeout_seconds,
        "readonlyRootFilesystem": s.readonly_root_filesystem,
        "user": s.user,
        "cpu": r.cpu,
        "memory": r.memory,
        "ephemeralStorageGB": r.ephemeral_storage_gb,
        "cpuArchitecture": s.cpu_architecture,
        "executionRole": exec_role,
        "taskRole": task_role,
    });
    let mut hasher = Sha256::new();
    hasher.update(input.to_string());
    let digest = hasher
        .finalize()
        .iter()
        .take(16)
        .fold(String::new(), |mut acc, b| {
            let _ = write!(acc, "{b:02x}");
            acc
        });
    Ok(TaskDefinition { container, digest })
}

/// The `Statement` list of the task role: access to the components the service references,
/// inferred from their ARN outputs.
fn task_statements<S: EcsKind>(t: &Target<'_, S>) -> Vec<Value> {
    let mut statements = reference_statements(t.config);
    if t.spec.workload().enable_execute_command {
        statements.push(json!({"Effect": "Allow", "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], "Resource": "*"}));
    }
    statements
}

/// Access to the components a configuration references (its resolved `inputs`), inferred from
/// their ARN outputs: queues, buckets, tables, topics, streams and functions.
pub(crate) fn reference_statements(config: &Value) -> Vec<Value> {
    let mut arns = BTreeSet::new();
    if let Some(inputs) = config.get("inputs").and_then(Value::as_object) {
        for (path, i) in inputs {
            if path.starts_with(SHARED_PREFIX) {
                continue;
            }
            if let Some(arn) = i.pointer("/outputs/arn").and_then(Value::as_str) {
                arns.insert(arn.to_string());
            }
        }
    }
    let mut statements = Vec::new();
    for arn in arns {
        let service = arn.split(':').nth(2).unwrap_or_default();
        let statement = match service {
            "sqs" => {
                json!({"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"], "Resource": arn})
            }
            "s3" => {
                json!({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": [arn.clone(), format!("{arn}/*")]})
            }
            "dynamodb" => {
                json!({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"], "Resource": [arn.clone(), format!("{arn}/index/*")]})
            }
            "sns" => json!({"Effect": "Allow", "Action": ["sns:Publish"], "Resource": arn}),
            "kinesis" => {
                json!({"Effect": "Allow", "Action": ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"], "Resource": arn})
            }
            "lambda" => {
                json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": arn})
            }
            _ => continue,
        };
        statements.push(statement);
    }
    statements
}

/// The execution role's statements: pulling images, writing logs, reading the secrets it
/// injects.
fn execution_statements<S: EcsKind>(t: &Target<'_, S>, secrets: &[(String, String)]) -> Vec<Value> {
    let mut statements = vec![
        json!({"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], "Resource": "*"}),
        json!({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("arn:aws:logs:{}:*:log-group:{}:*", t.region, log_group(t.name))}),
    ];
    let (sm, ssm): (Vec<String>, Vec<String>) = secrets
        .iter()
        .map(|(_, from)| secret_resource(from, t.region))
        .partition(|r| r.contains(":secretsmanager:"));
    if !sm.is_empty() {
        statements.push(
            json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": sm}),
        );
    }
    if !ssm.is_empty() {
        statements
            .push(json!({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": ssm}));
    }
    statements
}

pub(crate) const ASSUME_ECS_TASKS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A listener rule priority derived from the address and port, stable across runs.
fn derived_priority(address: &str, port: &str) -> i32 {
    let digest = Sha256::digest(format!("{address}#{port}").as_bytes());
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    (1 + n % PRIORITY_SPAN) as i32
}

fn rule_conditions(p: &Port) -> Vec<RuleCondition> {
    let mut c = Vec::new();
    if let Some(path) = &p.path {
        let mut values = vec![path.clone()];
        // `/orders/*` should also match `/orders`.
        if let Some(base) = path.strip_suffix("/*")
            && !base.is_empty()
        {
            values.push(base.to_string());
        }
        c.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(values))
                        .build(),
                )
                .build(),
        );
    }
    if let Some(host) = &p.host {
        c.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(HostHeaderConditionConfig::builder().values(host).build())
                .build(),
        );
    }
    c
}

// --------------------------------------------------------------------------- the provider

impl<S: EcsKind> EcsServiceProvider<S> {
    /// The target group of a public port, created or brought to the readiness check.
    async fn ensure_target_group(
        &self,
        t: &Target<'_, S>,
        vpc: &str,
        p: &Port,
    ) -> Result<String, ProviderError> {
        let name = target_group(t.name, p);
        let readiness = t.spec.workload().readiness.as_ref();
        let http = readiness.and_then(|r| r.http.as_ref());
        let grpc = p.protocol == PortProtocol::Grpc;
        let protocol = if p.protocol == PortProtocol::Https {
            ProtocolEnum::Https
        } else {
            ProtocolEnum::Http
        };
        let path = http.map_or(if grpc { "/AWS.ALB/healthcheck" } else { "/" }, |h| {
            h.path.as_str()
        });
        let codes = http.map_or(if grpc { "12" } else { "200-399" }, |h| {
            h.success_codes.as_str()
        });
        let matcher = if grpc {
            Matcher::builder().grpc_code(codes).build()
        } else {
            Matcher::builder().http_code(codes).build()
        };
        let hc_port = http
            .and_then(|h| h.port)
            .or(readiness.and_then(|r| r.tcp.as_ref()).map(|t| t.port))
            .map_or_else(|| "traffic-port".to_string(), |p| p.to_string());
        let period = readiness.map_or(30, |r| r.period_seconds as i32);
        let timeout = readiness.map_or(5, |r| r.timeout_seconds as i32);
        let healthy = readiness.map_or(2, |r| r.success_threshold as i32);
        let unhealthy = readiness.map_or(3, |r| r.failure_threshold as i32);
        let existing = match self.elb.describe_target_groups().names(&name).send().await {
            Ok(r) => r
                .target_groups()
                .first()
                .and_then(|g| g.target_group_arn())
                .map(str::to_string),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_target_group_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(aws_error(format!("reading target group {name}"), e)),
        };
        if let Some(arn) = existing {
            self.elb
                .modify_target_group()
                .target_group_arn(&arn)
                .health_check_path(path)
                .health_check_port(&hc_port)
                .health_check_interval_seconds(period)
                .health_check_timeout_seconds(timeout)
                .healthy_threshold_count(healthy)
                .unhealthy_threshold_count(unhealthy)
                .matcher(matcher)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating target group {name}"), e))?;
            return Ok(arn);
        }
        let created = self
            .elb
            .create_target_group()
            .name(&name)
            .protocol(protocol)
            .set_protocol_version(grpc.then(|| "GRPC".to_string()))
            .port(p.port as i32)
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_path(path)
            .health_check_port(&hc_port)
            .health_check_interval_seconds(period)
            .health_check_timeout_seconds(timeout)
            .healthy_threshold_count(healthy)
            .unhealthy_threshold_count(unhealthy)
            .matcher(matcher)
            .set_tags(Some(elb_tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("creating target group {name}"), e))?;
        created
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("ELB returned no target group for {name}"),
                )
            })
    }

    /// The listener rule forwarding the port's path or host to its target group, on one
    /// listener; found by its forward target, created with the next free priority otherwise.
    async fn ensure_rule(
        &self,
        t: &Target<'_, S>,
        listener: &str,
        p: &Port,
        tg: &str,
    ) -> Result<String, ProviderError> {
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build();
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(listener)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the rules of listener {listener}"), e))?;
        let mine = rules
            .rules()
            .iter()
            .find(|r| r.actions().iter().any(|a| a.target_group_arn() == Some(tg)));
        if let Some(rule) = mine {
            let arn = rule.rule_arn().unwrap_or_default().to_string();
            self.elb
                .modify_rule()
                .rule_arn(&arn)
                .set_conditions(Some(rule_conditions(p)))
                .actions(forward)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating listener rule {arn}"), e))?;
            if let Some(want) = p.priority
                && rule.priority() != Some(want.to_string().as_str())
            {
                self.elb
                    .set_rule_priorities()
                    .rule_priorities(
                        aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                            .rule_arn(&arn)
                            .priority(want as i32)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("setting the priority of {arn}"), e))?;
            }
            return Ok(arn);
        }
        let taken: BTreeSet<i32> = rules
            .rules()
            .iter()
            .filter_map(|r| r.priority().and_then(|p| p.parse().ok()))
            .collect();
        let start = p
            .priority
            .map_or_else(|| derived_priority(t.address, &p.name), |v| v as i32);
        let mut priority = start;
        for _ in 0..PRIORITY_TRIES {
            if taken.contains(&priority) {
                priority = priority % 50_000 + 1;
                continue;
            }
            let created = self
                .elb
                .create_rule()
                .listener_arn(listener)
                .priority(priority)
                .set_conditions(Some(rule_conditions(p)))
                .actions(forward.clone())
                .set_tags(Some(elb_tags(t.tags)))
                .send()
                .await;
            match created {
                Ok(r) => {
                    return Ok(r
                        .rules()
                        .first()
                        .and_then(|r| r.rule_arn())
                        .unwrap_or_default()
                        .to_string());
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_priority_in_use_exception()) =>
                {
                    priority = priority % 50_000 + 1;
                }
                Err(e) => {
                    return Err(aws_error(
                        format!("creating the listener rule of {}", t.address),
                        e,
                    ));
                }
            }
        }
        Err(ProviderError::new(
            ErrorKind::Conflict,
            format!(
                "no free listener rule priority near {start} for {}; set `ports[].priority`",
                t.address
            ),
        ))
    }

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
            Some(_) => {
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
                    .set_health_check_grace_period_seconds(has_lb.then_some(grace))
                    .enable_execute_command(s.enable_execute_command)
                    .propagate_tags(PropagateTags::Service)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("updating ECS service {}", t.name), e))?;
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
                .task_definition(&td_arn)
                .desired_count(desired)
                .launch_type(LaunchType::Fargate)
                .network_configuration(network)
                .deployment_configuration(deployment)
                .set_load_balancers(Some(balancers))
                .set_health_check_grace_period_seconds(has_lb.then_some(grace))
                .enable_execute_command(s.enable_execute_command)
                .propagate_tags(PropagateTags::Service)
                .set_tags(Some(ecs_tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating ECS service {}", t.name), e))?
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

        self.converge_autoscaling(t, &ctx, &scaling, &outputs)
            .await?;
        self.wait_rollout(t, &ctx.cluster, s.deployment.timeout_minutes)
            .await?;
        // Older revisions are kept registered only as rollback targets of the circuit breaker
        // during the deployment; once it is complete they go.
        if let Some(old) = current_td.filter(|old| *old != td_arn) {
            self.deregister(&old).await;
        }

        outputs.insert("serviceName".to_string(), t.name.to_string());
        outputs.insert(
            "serviceArn".to_string(),
            service.service_arn().unwrap_or_default().to_string(),
        );
        outputs.insert("taskDefinitionArn".to_string(), td_arn);
        outputs.insert("taskRoleArn".to_string(), task_arn);
        outputs.insert("securityGroupId".to_string(), sg);
        outputs.insert("logGroupName".to_string(), log_group(t.name));
        if S::LOAD_BALANCED {
            outputs.insert("url".to_string(), url(&ctx, &s));
            outputs.entry("targetGroupArn".to_string()).or_default();
        }
        Ok(Outcome {
            physical_ids: ids,
            outputs,
        })
    }

    /// The ARN of the family's latest active revision, if it has one.
    async fn latest_revision(&self, family: &str) -> Result<Option<String>, ProviderError> {
        let found = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .sort(aws_sdk_ecs::types::SortOrder::Desc)
            .max_results(10)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the task definitions of {family}"), e))?;
        // The highest revision, whatever order the answer comes in.
        Ok(found
            .task_definition_arns()
            .iter()
            .filter(|arn| family_of(arn) == Some(family))
            .max_by_key(|arn| {
                arn.rsplit_once(':')
                    .and_then(|(_, r)| r.parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .cloned())
    }

    /// The digest recorded on a task definition revision (its `panka:task-digest` tag).
    async fn task_digest(&self, arn: Option<&str>) -> Result<Option<String>, ProviderError> {
        let Some(arn) = arn else { return Ok(None) };
        let found = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading task definition {arn}"), e))?;
        Ok(found
            .tags()
            .iter()
            .find(|t| t.key() == Some(DIGEST_TAG))
            .and_then(|t| t.value())
            .map(str::to_string))
    }

    async fn register(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        td: &TaskDefinition,
        exec_arn: &str,
        task_arn: &str,
    ) -> Result<String, ProviderError> {
        let r = &ctx.infra.resources;
        let mut tags = ecs_tags(t.tags);
        tags.push(
            aws_sdk_ecs::types::Tag::builder()
                .key(DIGEST_TAG)
                .value(&td.digest)
                .build(),
        );
        let arch = match t.spec.workload().cpu_architecture {
            CpuArchitecture::X86_64 => EcsArch::X8664,
            CpuArchitecture::Arm64 => EcsArch::Arm64,
        };
        // IAM is eventually consistent: a role just made may not be assumable by ECS yet.
        let attempt = || async {
            self.ecs
                .register_task_definition()
                .family(t.name)
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .cpu(r.cpu.to_string())
                .memory(r.memory.to_string())
                .set_ephemeral_storage((r.ephemeral_storage_gb > 21).then(|| {
                    EphemeralStorage::builder()
                        .size_in_gib(r.ephemeral_storage_gb as i32)
                        .build()
                }))
                .runtime_platform(
                    RuntimePlatform::builder()
                        .cpu_architecture(arch.clone())
                        .operating_system_family(OsFamily::Linux)
                        .build(),
                )
                .execution_role_arn(exec_arn)
                .task_role_arn(task_arn)
                .container_definitions(td.container.clone())
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(|e| {
                    let mut err =
                        aws_error(format!("registering the task definition of {}", t.name), e);
                    if err.chain().contains("role") {
                        err.kind = ErrorKind::NotFound;
                    }
                    err
                })
        };
        let registered = until_visible(attempt).await?;
        registered
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("ECS returned no task definition for {}", t.name),
                )
            })
    }

    async fn converge_autoscaling(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        scaling: &panka_format::model::Scaling,
        outputs: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        use aws_sdk_applicationautoscaling::types::{
            MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension,
            ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
        };
        let resource = scalable_resource(&ctx.cluster, t.name);
        let Some(a) = &scaling.autoscaling else {
            let registered = self
                .scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_ids(&resource)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading autoscaling of {}", t.name), e))?;
            if !registered.scalable_targets().is_empty() {
                self.scaling
                    .deregister_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(&resource)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("removing autoscaling of {}", t.name), e))?;
            }
            return Ok(());
        };
        self.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(a.min as i32)
            .max_capacity(a.max as i32)
            .send()
            .await
            .map_err(|e| aws_error(format!("registering autoscaling of {}", t.name), e))?;
        let mut wanted = Vec::new();
        if let Some(v) = a.target_cpu_percent {
            wanted.push(("cpu", MetricType::EcsServiceAverageCpuUtilization, v, None));
        }
        if let Some(v) = a.target_memory_percent {
            wanted.push((
                "memory",
                MetricType::EcsServiceAverageMemoryUtilization,
                v,
                None,
            ));
        }
        if let Some(v) = a.requests_per_target {
            // `app/NAME/ID/targetgroup/NAME/ID`, from the load balancer and target group ARNs.
            let lb = shared(t.config, "_shared/load-balancer")?
                .get("arn")
                .cloned()
                .unwrap_or_default();
            let tg = outputs.get("targetGroupArn").cloned().unwrap_or_default();
            let label = format!(
                "{}/{}",
                lb.split_once(":loadbalancer/").map_or("", |(_, r)| r),
                tg.rsplit_once(':').map_or("", |(_, r)| r)
            );
            wanted.push((
                "requests",
                MetricType::AlbRequestCountPerTarget,
                v,
                Some(label),
            ));
        }
        let existing: BTreeSet<String> = self
            .scaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the scaling policies of {}", t.name), e))?
            .scaling_policies()
            .iter()
            .map(|p| p.policy_name().to_string())
            .collect();
        for kind in ["cpu", "memory", "requests"] {
            let policy = format!("{}-{kind}", t.name);
            match wanted.iter().find(|w| w.0 == kind) {
                Some((_, metric, target, label)) => {
                    let spec = PredefinedMetricSpecification::builder()
                        .predefined_metric_type(metric.clone())
                        .set_resource_label(label.clone())
                        .build()
                        .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "metric", e))?;
                    let config = TargetTrackingScalingPolicyConfiguration::builder()
                        .target_value(f64::from(*target))
                        .predefined_metric_specification(spec)
                        .build()
                        .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "policy", e))?;
                    self.scaling
                        .put_scaling_policy()
                        .policy_name(&policy)
                        .service_namespace(ServiceNamespace::Ecs)
                        .resource_id(&resource)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .policy_type(PolicyType::TargetTrackingScaling)
                        .target_tracking_scaling_policy_configuration(config)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("setting scaling policy {policy}"), e))?;
                }
                None if existing.contains(&policy) => {
                    self.scaling
                        .delete_scaling_policy()
                        .policy_name(&policy)
                        .service_namespace(ServiceNamespace::Ecs)
                        .resource_id(&resource)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("deleting scaling policy {policy}"), e))?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Waits until the service's primary deployment has rolled out (`COMPLETED`, as many tasks
    /// running as desired). A failed rollout, or one still going at the deadline, is reported
    /// with the stopped tasks' reasons, the unhealthy targets and the service's last events.
    async fn wait_rollout(
        &self,
        t: &Target<'_, S>,
        cluster: &str,
        timeout_minutes: u32,
    ) -> Result<(), ProviderError> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(timeout_minutes) * 60);
        loop {
            let svc = self
                .describe_service(cluster, t.name)
                .await?
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::NotFound,
                        format!("ECS service {} vanished during its deployment", t.name),
                    )
                })?;
            let primary = svc
                .deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"));
            let state = primary
                .and_then(|d| d.rollout_state())
                .map(|s| s.as_str().to_string());
            let running = primary.map_or(svc.running_count(), |d| d.running_count());
            let desired = primary.map_or(svc.desired_count(), |d| d.desired_count());
            match state.as_deref() {
                Some("COMPLETED") if running >= desired => return Ok(()),
                // A service without a rollout state (the ECS deployment controller reports
                // one; others do not) counts as done when its tasks run.
                None if svc.deployments().len() <= 1 && running >= desired => return Ok(()),
                Some("FAILED") => {
                    let why = self.diagnose(t, cluster, &svc).await;
                    let reason = primary
                        .and_then(|d| d.rollout_state_reason())
                        .unwrap_or("the deployment failed");
                    return Err(ProviderError::new(
                        ErrorKind::Invalid,
                        format!("ECS service {} did not roll out: {reason}{why}", t.name),
                    ));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                let why = self.diagnose(t, cluster, &svc).await;
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "ECS service {} still rolling out after {timeout_minutes} min ({running} of {desired} tasks running){why}",
                        t.name
                    ),
                ));
            }
            tokio::time::sleep(ROLLOUT_POLL).await;
        }
    }

    /// Why a rollout is not done, one line each after a newline: stopped tasks' reasons,
    /// unhealthy targets, recent events. Best effort: what cannot be read is left out.
    async fn diagnose(&self, t: &Target<'_, S>, cluster: &str, svc: &Service) -> String {
        let mut lines = Vec::new();
        if let Ok(stopped) = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(t.name)
            .desired_status(DesiredStatus::Stopped)
            .send()
            .await
        {
            let arns: Vec<String> = stopped
                .task_arns()
                .iter()
                .take(REASONS_SHOWN)
                .cloned()
                .collect();
            if !arns.is_empty()
                && let Ok(tasks) = self
                    .ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(arns))
                    .send()
                    .await
            {
                for task in tasks.tasks() {
                    let containers: Vec<String> = task
                        .containers()
                        .iter()
                        .filter_map(|c| {
                            c.reason()
                                .map(|r| format!("{}: {r}", c.name().unwrap_or("container")))
                        })
                        .collect();
                    lines.push(format!(
                        "  stopped task: {}{}",
                        task.stopped_reason().unwrap_or("no reason given"),
                        if containers.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", containers.join("; "))
                        }
                    ));
                }
            }
        }
        for lb in svc.load_balancers() {
            let Some(tg) = lb.target_group_arn() else {
                continue;
            };
            if let Ok(health) = self
                .elb
                .describe_target_health()
                .target_group_arn(tg)
                .send()
                .await
            {
                for h in health.target_health_descriptions() {
                    let Some(th) = h.target_health() else {
                        continue;
                    };
                    if th.state().map(|s| s.as_str()) == Some("healthy") {
                        continue;
                    }
                    lines.push(format!(
                        "  target {}:{} {}: {}",
                        h.target().and_then(|t| t.id()).unwrap_or_default(),
                        h.target().and_then(|t| t.port()).unwrap_or_default(),
                        th.state().map(|s| s.as_str()).unwrap_or("unknown"),
                        th.description().unwrap_or_default()
                    ));
                }
            }
        }
        for e in svc.events().iter().take(REASONS_SHOWN) {
            if let Some(m) = e.message() {
                lines.push(format!("  event: {m}"));
            }
        }
        lines.iter().map(|l| format!("\n{l}")).collect()
    }

    /// The outputs of an existing service, read back from ECS (after a crash, or on refresh).
    async fn observe(
        &self,
        t: &Target<'_, S>,
        cluster: &str,
        svc: &Service,
    ) -> Result<Outcome, ProviderError> {
        let mut ids = BTreeMap::from([
            ("cluster".to_string(), cluster.to_string()),
            ("service".to_string(), t.name.to_string()),
            (
                "taskDefinition".to_string(),
                svc.task_definition().unwrap_or_default().to_string(),
            ),
        ]);
        let sg = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .and_then(|a| a.security_groups().first())
            .cloned()
            .unwrap_or_default();
        ids.insert("securityGroup".to_string(), sg.clone());
        let mut outputs = BTreeMap::from([
            ("serviceName".to_string(), t.name.to_string()),
            (
                "serviceArn".to_string(),
                svc.service_arn().unwrap_or_default().to_string(),
            ),
            (
                "taskDefinitionArn".to_string(),
                svc.task_definition().unwrap_or_default().to_string(),
            ),
            ("securityGroupId".to_string(), sg),
            ("logGroupName".to_string(), log_group(t.name)),
        ]);
        let role = self
            .iam
            .get_role()
            .role_name(task_role(t.name))
            .send()
            .await
            .ok()
            .and_then(|r| r.role().map(|r| r.arn().to_string()))
            .unwrap_or_default();
        outputs.insert("taskRoleArn".to_string(), role);
        let tg = svc
            .load_balancers()
            .first()
            .and_then(|l| l.target_group_arn())
            .unwrap_or_default()
            .to_string();
        if S::LOAD_BALANCED {
            outputs.insert("targetGroupArn".to_string(), tg);
        }
        for p in t.spec.workload().ports.iter().filter(|p| p.public) {
            if let Some(arn) = svc
                .load_balancers()
                .iter()
                .find(|l| l.container_port() == Some(p.port as i32))
                .and_then(|l| l.target_group_arn())
            {
                ids.insert(format!("targetGroup.{}", p.name), arn.to_string());
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
                if let Some(r) = rules.rules().iter().find(|r| {
                    r.actions()
                        .iter()
                        .any(|a| a.target_group_arn() == Some(&tg))
                }) {
                    ids.insert(
                        format!("rule.{}.{}", p.name, key.trim_start_matches("listener.")),
                        r.rule_arn().unwrap_or_default().to_string(),
                    );
                }
            }
        }
        let ctx_url = {
            let dns = lb.get("dnsName").cloned().unwrap_or_default();
            url_of(&dns, &lb, &t.spec.workload())
        };
        if S::LOAD_BALANCED {
            outputs.insert("url".to_string(), ctx_url);
        }
        Ok(Outcome {
            physical_ids: ids,
            outputs,
        })
    }
}

/// The family of a task definition ARN (`...:task-definition/FAMILY:REVISION`).
fn family_of(arn: &str) -> Option<&str> {
    arn.rsplit_once('/')
        .and_then(|(_, r)| r.rsplit_once(':'))
        .map(|(f, _)| f)
}

/// Tag carrying the digest of a task definition's input.
const DIGEST_TAG: &str = "panka:task-digest";
/// The tag a component puts on the target groups it attaches to another component's service.
pub(crate) const ATTACHED_BY_TAG: &str = "panka:attached-by";

fn url(ctx: &Context, s: &Workload<'_>) -> String {
    url_of(&ctx.lb_dns, &ctx.listeners, s)
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

impl<S: EcsKind> KindProvider for EcsServiceProvider<S> {
    type Spec = S;
    const KIND: &'static str = S::KIND;

    async fn create(&self, t: &Target<'_, S>) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn read(
        &self,
        t: &Target<'_, S>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let cluster = ids
            .get("cluster")
            .cloned()
            .or_else(|| {
                input(t.config, "_shared/cluster").and_then(|r| r.outputs.get("name").cloned())
            })
            .unwrap_or_default();
        let Some(svc) = self.describe_service(&cluster, t.name).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        // The image deployed, from the task definition the service runs.
        if let Some(td) = svc.task_definition()
            && let Ok(d) = self
                .ecs
                .describe_task_definition()
                .task_definition(td)
                .send()
                .await
            && let Some(img) = d
                .task_definition()
                .and_then(|d| d.container_definitions().first())
                .and_then(|c| c.image())
            // The same reference as the spec's (a missing tag is `latest`) is no drift.
            && img != image(t.spec.workload().image)
        {
            let (repo, tag) = match img.split_once('@') {
                Some((r, d)) => (r.to_string(), json!({"digest": d})),
                None => match img.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                    Some((r, tag)) => (r.to_string(), json!({"tag": tag})),
                    None => (img.to_string(), json!({})),
                },
            };
            let mut image = json!({"repository": repo});
            if let (Some(o), Some(extra)) = (image.as_object_mut(), tag.as_object()) {
                o.extend(extra.clone());
            }
            spec["image"] = image;
        }
        let mut outcome = self.observe(t, &cluster, &svc).await?;
        for (k, v) in ids.iter().filter(|(k, _)| k.starts_with("ingress.")) {
            outcome.physical_ids.insert(k.clone(), v.clone());
        }
        Ok(Some(Observed { outcome, spec }))
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
                let group = k.trim_start_matches("ingress.");
                revoke_ingress(&self.ec2, group, port, &Source::Group(sg.clone())).await?;
            }
        }
        for (k, arn) in ids.iter().filter(|(k, _)| k.starts_with("rule.")) {
            if !outcome.physical_ids.contains_key(k) {
                let _ = self.elb.delete_rule().rule_arn(arn).send().await;
            }
        }
        for (k, arn) in ids.iter().filter(|(k, _)| k.starts_with("targetGroup.")) {
            if !outcome.physical_ids.contains_key(k) {
                crate::alb::delete_target_group(&self.elb, arn).await?;
            }
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
            let _ = self
                .scaling
                .deregister_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(scalable_resource(&cluster, name))
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await;
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
        let cluster = input(t.config, "_shared/cluster")
            .and_then(|r| r.outputs.get("name").cloned())
            .unwrap_or_default();
        let Some(svc) = self.describe_service(&cluster, t.name).await? else {
            return Ok(None);
        };
        let mut outcome = self.observe(t, &cluster, &svc).await?;
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
        }
        Ok(Some(outcome))
    }
}

/// `2/2 running · rollout COMPLETED · revision 3` for a service.
pub(crate) fn service_health(svc: &Service) -> String {
    let primary = svc
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let mut parts = vec![format!(
        "{}/{} running",
        svc.running_count(),
        svc.desired_count()
    )];
    if svc.pending_count() > 0 {
        parts.push(format!("{} pending", svc.pending_count()));
    }
    if let Some(state) = primary.and_then(|d| d.rollout_state()) {
        parts.push(format!("rollout {}", state.as_str()));
    }
    if svc.deployments().len() > 1 {
        parts.push(format!("{} deployments", svc.deployments().len()));
    }
    if let Some(rev) = svc
        .task_definition()
        .and_then(|td| td.rsplit_once(':'))
        .map(|(_, r)| r)
    {
        parts.push(format!("revision {rev}"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_resources_drop_the_json_key() {
        assert_eq!(
            secret_resource(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::",
                "us-east-1"
            ),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf*"
        );
        assert_eq!(
            secret_resource("/shop/api-key", "eu-west-1"),
            "arn:aws:ssm:eu-west-1:*:parameter/shop/api-key"
        );
    }

    /// A rollout the circuit breaker stopped is reported with the stopped tasks' reasons, the
    /// unhealthy targets and the service's events, not as a bare failure.
    #[tokio::test]
    async fn a_failed_rollout_says_why() {
        use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
        use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
        use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
        use aws_sdk_ecs::types::{
            Container, Deployment, DeploymentRolloutState, ServiceEvent, Task,
        };
        use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
        use aws_sdk_elasticloadbalancingv2::types::{
            TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .service_name("shop-dev-orders-api")
                        .status("ACTIVE")
                        .desired_count(2)
                        .running_count(0)
                        .deployments(
                            Deployment::builder()
                                .status("PRIMARY")
                                .desired_count(2)
                                .running_count(0)
                                .rollout_state(DeploymentRolloutState::Failed)
                                .rollout_state_reason(
                                    "ECS deployment circuit breaker: tasks failed to start.",
                                )
                                .build(),
                        )
                        .load_balancers(
                            EcsLoadBalancer::builder()
                                .target_group_arn("arn:aws:elasticloadbalancing:tg/api")
                                .build(),
                        )
                        .events(
                            ServiceEvent::builder()
                                .message("(service shop-dev-orders-api) rolling back to revision 3")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let list = mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:task/1")
                .build()
        });
        let tasks = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    Task::builder()
                        .stopped_reason("Essential container in task exited")
                        .containers(
                            Container::builder()
                                .name("api")
                                .reason("CannotPullContainerError: image not found")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let health = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .then_output(|| {
                DescribeTargetHealthOutput::builder()
                    .target_health_descriptions(
                        TargetHealthDescription::builder()
                            .target(
                                TargetDescription::builder()
                                    .id("10.0.1.5")
                                    .port(8080)
                                    .build(),
                            )
                            .target_health(
                                TargetHealth::builder()
                                    .state(TargetHealthStateEnum::Unhealthy)
                                    .description("Health checks failed with these codes: [503]")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list, &tasks]);
        let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&health]);
        // Clients the rollout wait never calls.
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let provider = MicroServiceProvider::new(Clients {
            ecs,
            elb,
            iam: aws_sdk_iam::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            scaling: aws_sdk_applicationautoscaling::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
        });
        let spec: MicroServiceSpec = serde_json::from_value(
            json!({"image": {"repository": "nginx"}, "ports": [{"name": "http", "port": 8080}]}),
        )
        .unwrap();
        let tags = BTreeMap::new();
        let config = json!({});
        let target = Target {
            address: "orders/api",
            name: "shop-dev-orders-api",
            spec,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let err = provider
            .wait_rollout(&target, "shop-dev", 1)
            .await
            .unwrap_err();
        let text = err.message;
        for needle in [
            "did not roll out: ECS deployment circuit breaker: tasks failed to start.",
            "stopped task: Essential container in task exited (api: CannotPullContainerError: image not found)",
            "target 10.0.1.5:8080 unhealthy: Health checks failed with these codes: [503]",
            "event: (service shop-dev-orders-api) rolling back to revision 3",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn derived_priorities_are_stable_and_in_range() {
        let a = derived_priority("orders/api", "http");
        assert_eq!(a, derived_priority("orders/api", "http"));
        assert!((1..=PRIORITY_SPAN as i32).contains(&a));
        assert_ne!(a, derived_priority("users/api", "http"));
    }
}
