//! Compute kinds: ECS Fargate services (MicroService, Worker), scheduled tasks (CronJob) and
//! Lambda functions.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;

/// An ECS Fargate service behind the stack's shared Application Load Balancer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MicroServiceSpec {
    /// Container image to run.
    pub image: Image,
    /// Overrides the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Ports the container listens on; at least one.
    #[schemars(length(min = 1))]
    pub ports: Vec<Port>,
    /// Environment variables, merged by name across overlays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    /// Secrets injected by ECS from Secrets Manager or SSM; panka stores their ARNs only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Readiness (load balancer) and liveness (container) checks.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Rolling deployment settings.
    #[serde(default)]
    pub deployment: EcsDeployment,
    /// Log group settings.
    #[serde(default)]
    pub logging: Logging,
    /// CPU architecture of the task.
    #[serde(default)]
    pub cpu_architecture: CpuArchitecture,
    /// Seconds ECS waits after SIGTERM before SIGKILL (2-120).
    #[serde(default = "default_stop_timeout")]
    #[schemars(range(min = 2, max = 120))]
    pub stop_timeout_seconds: u32,
    /// Mount the root filesystem read-only.
    #[serde(default)]
    pub readonly_root_filesystem: bool,
    /// User (and group) the container runs as, such as `1000:1000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Allow `aws ecs execute-command` into running tasks.
    #[serde(default)]
    pub enable_execute_command: bool,
    /// IAM statements added to the task role, beside those inferred from references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    /// ARNs of IAM managed policies attached to the task role (AWS's default quota is 10 a
    /// role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub managed_policies: Vec<String>,
    /// Containers run beside the component's own in the same task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    /// A one-off task run from the new task definition before the service moves to it (a
    /// database migration); the deploy stops, and the service keeps its revision, when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_deploy: Option<BeforeDeploy>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

pub(crate) fn default_stop_timeout() -> u32 {
    30
}

/// An ECS Fargate service with no load balancer: a queue consumer or background processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkerSpec {
    /// Container image to run.
    pub image: Image,
    /// Overrides the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Environment variables, merged by name across overlays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    /// Secrets injected by ECS; panka stores their ARNs only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Queues the worker consumes; the task role gets receive/delete rights on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Target>,
    /// Container liveness check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Probe>,
    /// Rolling deployment settings.
    #[serde(default)]
    pub deployment: EcsDeployment,
    /// Log group settings.
    #[serde(default)]
    pub logging: Logging,
    /// CPU architecture of the task.
    #[serde(default)]
    pub cpu_architecture: CpuArchitecture,
    /// Seconds ECS waits after SIGTERM before SIGKILL (2-120).
    #[serde(default = "default_stop_timeout")]
    #[schemars(range(min = 2, max = 120))]
    pub stop_timeout_seconds: u32,
    /// Allow `aws ecs execute-command` into running tasks.
    #[serde(default)]
    pub enable_execute_command: bool,
    /// IAM statements added to the task role, beside those inferred from references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    /// ARNs of IAM managed policies attached to the task role (AWS's default quota is 10 a
    /// role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub managed_policies: Vec<String>,
    /// Containers run beside the component's own in the same task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    /// A one-off task run from the new task definition before the service moves to it (a
    /// database migration); the deploy stops, and the service keeps its revision, when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_deploy: Option<BeforeDeploy>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A Fargate task run on a schedule by EventBridge Scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CronJobSpec {
    /// Container image to run.
    pub image: Image,
    /// Overrides the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `cron(0 3 * * ? *)` or `rate(5 minutes)`, in EventBridge syntax.
    pub schedule: String,
    /// IANA time zone of the schedule.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Environment variables, merged by name across overlays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    /// Secrets injected by ECS; panka stores their ARNs only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Retries of a failed invocation (0-185).
    #[serde(default)]
    #[schemars(range(min = 0, max = 185))]
    pub retries: u32,
    /// Seconds after which a run is stopped (60-86400).
    #[serde(default = "default_job_timeout")]
    #[schemars(range(min = 60, max = 86400))]
    pub timeout_seconds: u32,
    /// Pause the schedule without deleting it.
    #[serde(default)]
    pub suspended: bool,
    /// Log group settings.
    #[serde(default)]
    pub logging: Logging,
    /// CPU architecture of the task.
    #[serde(default)]
    pub cpu_architecture: CpuArchitecture,
    /// IAM statements added to the task role, beside those inferred from references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    /// ARNs of IAM managed policies attached to the task role (AWS's default quota is 10 a
    /// role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub managed_policies: Vec<String>,
    /// Containers run beside the component's own in the same task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A one-off task run before a deploy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BeforeDeploy {
    /// The command the component's container runs instead of its own (same image, network,
    /// roles, environment and secrets); exit code 0 lets the deploy go on.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// Minutes the task may run before it is stopped and the deploy fails (1-120).
    #[serde(default = "default_before_deploy_timeout")]
    #[schemars(range(min = 1, max = 120))]
    pub timeout_minutes: u32,
}

fn default_before_deploy_timeout() -> u32 {
    10
}

fn default_timezone() -> String {
    "UTC".into()
}
fn default_job_timeout() -> u32 {
    3600
}

/// Where a Lambda function's code comes from. Exactly one of `s3`, `imageUri`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaCode {
    /// A zip archive in S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Object>,
    /// A container image URI in ECR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Object {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Object version, for immutable deploys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What invokes a Lambda function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaTrigger {
    /// An EventBridge schedule (`rate(1 hour)`, `cron(...)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// An SQS component to consume (event source mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Target>,
    /// Messages per batch for a queue trigger (1-10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub batch_size: Option<u32>,
}

/// An AWS Lambda function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaSpec {
    /// Runtime identifier (`python3.12`, `nodejs20.x`, `provided.al2023`, ...); omit for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Handler (`app.handler`); omit for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// The function's code.
    pub code: LambdaCode,
    /// Memory in MB (128-10240); CPU scales with it.
    #[serde(default = "default_lambda_memory")]
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: u32,
    /// Timeout in seconds (1-900).
    #[serde(default = "default_lambda_timeout")]
    #[schemars(range(min = 1, max = 900))]
    pub timeout_seconds: u32,
    /// Size of /tmp in MB (512-10240).
    #[serde(default = "default_ephemeral")]
    #[schemars(range(min = 512, max = 10240))]
    pub ephemeral_storage_mb: u32,
    /// Instruction set.
    #[serde(default)]
    pub architecture: CpuArchitecture,
    /// Environment variables (secrets belong in `secrets`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    /// Secrets the function may read; exposed as ARNs in environment variables, never values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Concurrency reserved for this function (0 throttles it entirely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// Attach the function to the stack's private subnets.
    #[serde(default)]
    pub vpc: bool,
    /// Invocation sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<LambdaTrigger>,
    /// Log group settings.
    #[serde(default)]
    pub logging: Logging,
    /// IAM statements added to the function's role, beside those inferred from references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    /// ARNs of IAM managed policies attached to the function's role (AWS's default quota is 10 a
    /// role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub managed_policies: Vec<String>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn default_lambda_memory() -> u32 {
    128
}
fn default_lambda_timeout() -> u32 {
    3
}
fn default_ephemeral() -> u32 {
    512
}

/// Free-form string map (parameter groups, tags).
pub type StringMap = IndexMap<String, String>;
