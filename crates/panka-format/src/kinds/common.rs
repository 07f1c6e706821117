//! Building blocks shared by several kinds: images, environment variables, secrets, ports,
//! health checks and references to other components.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to an output of another component: `{component: db, output: endpoint}`.
/// The address is `service/component`, or just `component` inside the same service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValueFrom {
    /// Address of the component (`service/component`, or `component` in the same service).
    pub component: String,
    /// Name of one of that component's outputs.
    pub output: String,
}

/// A reference to another component as a whole (a queue to subscribe, a function to invoke).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Target {
    /// Address of the component (`service/component`, or `component` in the same service).
    pub component: String,
}

/// A container image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Image {
    /// Repository, such as `public.ecr.aws/nginx/nginx` or `123456789012.dkr.ecr.us-east-1.amazonaws.com/api`.
    pub repository: String,
    /// Tag to deploy. Defaults to `latest` when neither tag nor digest is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Immutable digest (`sha256:...`); takes precedence over `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// An environment variable: a literal `value` or a `valueFrom` reference, exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name as the container sees it.
    pub name: String,
    /// Literal value (variables `${...}` are resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Value taken from another component's output at deploy time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

/// A secret injected by the runtime. panka stores only its ARN or name, never its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Secret {
    /// Variable name as the container sees it.
    pub name: String,
    /// Where the secret lives.
    pub value_from: SecretSource,
}

/// Where a secret lives: another component's secret output, a Secrets Manager secret, or an
/// SSM parameter. Exactly one of `component`, `secretsManager`, `ssmParameter`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretSource {
    /// Component whose output is a secret ARN (for example an RDS `masterSecretArn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The output of `component` that holds the secret ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// ARN or name of a Secrets Manager secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager: Option<String>,
    /// For a JSON secret, the key to extract (ECS `arn:...:KEY::`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_key: Option<String>,
    /// Name or ARN of an SSM Parameter Store parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssm_parameter: Option<String>,
}

/// Protocols a container port speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PortProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "GRPC")]
    Grpc,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

/// A port the container listens on, and how the stack's load balancer routes to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Port {
    /// Name of the port; ports merge by name across overlays.
    pub name: String,
    /// Container port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// Protocol spoken on the port.
    #[serde(default = "default_port_protocol")]
    pub protocol: PortProtocol,
    /// Route traffic from the stack's shared load balancer to this port.
    #[serde(default)]
    pub public: bool,
    /// Path pattern of the listener rule (`/orders/*`). Required when `public` is true and no `host` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Host header of the listener rule (`api.example.com`). Inside `shared.domain`'s zone it
    /// also gets a certificate, HTTPS and an alias record; outside it, none (a warning says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Listener rule priority (1-50000; lower numbers are evaluated first). Derived from the
    /// route's specificity across the stack when absent: longer literal path prefixes first
    /// (a host before none at equal length), then a host alone, `/*` last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50000))]
    pub priority: Option<u32>,
}

fn default_port_protocol() -> PortProtocol {
    PortProtocol::Http
}

/// Health checks of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthCheck {
    /// Readiness: the load balancer's target group health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    /// Liveness: the container health check run by ECS; a failing task is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
}

/// One health check. Exactly one of `http`, `tcp`, `command`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    /// HTTP GET on a path and port; healthy on a 2xx or 3xx answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// TCP connect to a port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// Command run inside the container; healthy on exit code 0 (liveness only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Seconds between checks (5-300).
    #[serde(default = "default_period")]
    #[schemars(range(min = 5, max = 300))]
    pub period_seconds: u32,
    /// Seconds before a check counts as failed (2-120).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 2, max = 120))]
    pub timeout_seconds: u32,
    /// Consecutive successes before healthy (2-10).
    #[serde(default = "default_success")]
    #[schemars(range(min = 2, max = 10))]
    pub success_threshold: u32,
    /// Consecutive failures before unhealthy (2-10).
    #[serde(default = "default_failure")]
    #[schemars(range(min = 2, max = 10))]
    pub failure_threshold: u32,
    /// Grace period after start during which failures do not count (0-300).
    #[serde(default)]
    #[schemars(range(min = 0, max = 300))]
    pub initial_delay_seconds: u32,
}

fn default_period() -> u32 {
    30
}
fn default_timeout() -> u32 {
    5
}
fn default_success() -> u32 {
    2
}
fn default_failure() -> u32 {
    3
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpProbe {
    /// Path to request, starting with `/`.
    pub path: String,
    /// Port to request; defaults to the first port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
    /// HTTP codes counted as healthy (ALB matcher syntax, such as `200-299`).
    #[serde(default = "default_matcher")]
    pub success_codes: String,
}

fn default_matcher() -> String {
    "200-399".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TcpProbe {
    /// Port to connect to.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
}

/// CloudWatch Logs settings of a component's log group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Logging {
    /// Days to keep logs; one of CloudWatch's allowed values (1, 3, 5, 7, 14, 30, 60, 90, 120,
    /// 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653).
    #[serde(default = "default_log_retention")]
    pub retention_days: u32,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            retention_days: default_log_retention(),
        }
    }
}

fn default_log_retention() -> u32 {
    30
}

/// Retention values CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// CPU architecture of a task or function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CpuArchitecture {
    #[default]
    #[serde(rename = "X86_64")]
    X86_64,
    #[serde(rename = "ARM64")]
    Arm64,
}

/// Encryption at rest with an optional customer-managed KMS key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AtRestEncryption {
    /// Encrypt stored data.
    #[serde(default = "yes")]
    pub at_rest: bool,
    /// KMS key ARN or alias; the AWS-managed key when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Default for AtRestEncryption {
    fn default() -> Self {
        AtRestEncryption {
            at_rest: true,
            kms_key_id: None,
        }
    }
}

/// Deletion safeguards of a data store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Deletion {
    /// AWS-side deletion protection: the resource cannot be deleted until it is turned off.
    #[serde(default)]
    pub protection: bool,
    /// Take a final snapshot before deleting.
    #[serde(default = "yes")]
    pub final_snapshot: bool,
}

impl Default for Deletion {
    fn default() -> Self {
        Deletion {
            protection: false,
            final_snapshot: true,
        }
    }
}

pub(crate) fn yes() -> bool {
    true
}

/// Deployment strategy of an ECS service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EcsDeployment {
    /// Lowest share of desired tasks kept running during a deployment (0-100).
    #[serde(default = "default_min_healthy")]
    #[schemars(range(min = 0, max = 100))]
    pub minimum_healthy_percent: u32,
    /// Highest share of desired tasks running during a deployment (100-200).
    #[serde(default = "default_max_percent")]
    #[schemars(range(min = 100, max = 200))]
    pub maximum_percent: u32,
    /// ECS deployment circuit breaker with automatic rollback to the last good task definition.
    #[serde(default = "yes")]
    pub rollback_on_failure: bool,
    /// Minutes to wait for a deployment to reach steady state before reporting it failed (1-120).
    #[serde(default = "default_deploy_timeout")]
    #[schemars(range(min = 1, max = 120))]
    pub timeout_minutes: u32,
}

impl Default for EcsDeployment {
    fn default() -> Self {
        EcsDeployment {
            minimum_healthy_percent: default_min_healthy(),
            maximum_percent: default_max_percent(),
            rollback_on_failure: true,
            timeout_minutes: default_deploy_timeout(),
        }
    }
}

fn default_min_healthy() -> u32 {
    100
}
fn default_max_percent() -> u32 {
    200
}
fn default_deploy_timeout() -> u32 {
    30
}

/// An IAM statement granted to the role a component's code runs as (the ECS task role, the
/// Lambda function's role), beside the statements panka infers from its references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Permission {
    /// IAM actions, `service:Action`, with `*` and `?` wildcards allowed in the action name
    /// (`s3:Get*`).
    #[schemars(length(min = 1))]
    pub actions: Vec<String>,
    /// ARNs of the resources the actions apply to (`*` and `?` wildcards allowed inside an ARN).
    #[schemars(length(min = 1))]
    pub resources: Vec<String>,
    /// Accept a statement granting every action (`"*"`) or on every resource (`"*"`), which
    /// validation refuses otherwise.
    #[serde(default)]
    pub allow_wildcard: bool,
}

/// The transport protocol of a sidecar's port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TransportProtocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

/// A port a sidecar listens on, inside the task (no load balancer routes to it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SidecarPort {
    /// Name of the port, unique among the task's ports.
    pub name: String,
    /// Container port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// Transport protocol.
    #[serde(default)]
    pub protocol: TransportProtocol,
}

/// When a container may start, relative to another container of the task (ECS `dependsOn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ContainerCondition {
    /// The other container has started.
    #[serde(rename = "START")]
    Start,
    /// The other container has run to completion (it must not be essential).
    #[serde(rename = "COMPLETE")]
    Complete,
    /// The other container has exited with code 0 (it must not be essential).
    #[serde(rename = "SUCCESS")]
    Success,
    /// The other container's health check passes (it must have one: the component's own
    /// container with a liveness check).
    #[serde(rename = "HEALTHY")]
    Healthy,
}

/// A container this one waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerDependency {
    /// Name of another sidecar, or the component's name for its own container.
    pub container: String,
    /// What that container must have done first.
    pub condition: ContainerCondition,
}

/// A container run beside the component's own in the same task (an OpenTelemetry collector, a
/// log router, a proxy). It writes to the component's log group under its own stream prefix
/// (its name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Sidecar {
    /// Container name: letters, digits, `-` and `_`, unique in the task and other than the
    /// component's name (its own container's).
    pub name: String,
    /// Container image to run.
    pub image: Image,
    /// Overrides the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Ports the sidecar listens on inside the task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<SidecarPort>,
    /// Environment variables, merged by name across overlays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    /// Secrets injected by ECS from Secrets Manager or SSM; panka stores their ARNs only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Stop the whole task when this container stops.
    #[serde(default = "yes")]
    pub essential: bool,
    /// Containers this one waits for before it starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ContainerDependency>,
}
