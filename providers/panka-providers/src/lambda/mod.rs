//! Lambda functions: a log group (`/aws/lambda/NAME`) with retention, an execution role
//! (`NAME-lambda`) whose inline policy allows writing those logs, using the components the
//! function references (inferred from their ARNs), reading its secrets and, with `vpc`, managing
//! its network interfaces; the function itself (zip in S3 or container image, runtime, handler,
//! memory, timeout, /tmp size, architecture, environment), reserved concurrency, and triggers:
//! schedules as EventBridge rules on the default bus (`NAME-schedule-N`, with the permission to
//! invoke) and queues as event source mappings.
//!
//! Secrets reach the function as references, never values: `NAME` holds the secret's ARN (or the
//! SSM parameter) and, when a JSON key is given, `NAME_JSON_KEY` holds the key.
//!
//! The code a function runs is recorded in the tag `panka:code-digest` (SHA-256 of the S3
//! location and version, or of the image URI, and of the architecture), so a change of code or
//! architecture updates the code and nothing else does; the `CodeSha256` Lambda reports after
//! an apply is recorded too (physical id `codeSha256`), so code replaced outside panka reads as
//! changed and the next apply deploys the spec's code again. Outputs: `functionName`, `arn`,
//! `roleArn`, `logGroupName`.
//!
//! The spec's `permissions` are the role's second inline policy (`panka-permissions`) and its
//! `managedPolicies` are attached to the role.
//!
//! Reading a function back is in [`observe`]: the physical ids also record which environment
//! variables are secrets (`secret.NAME`), the triggers in spec order (`trigger.N`) and the
//! managed policies in spec order (`managedPolicies`).
//!
//! Real Lambda is eventually consistent where the emulator is not: a role just created cannot
//! be assumed for some seconds, a function is `Pending` after CreateFunction and `InProgress`
//! after each update, and refuses another update meanwhile (`ResourceConflictException`).
//! Those answers are [`Transient::Lambda`] ([`lambda_error`]), which the engine retries; each
//! create and update waits for `State=Active` and `LastUpdateStatus=Successful` before the next
//! call. A function found by name is adopted only when its panka tags are this component's.
//! Destroying a VPC function waits for its network interfaces to go before its security group,
//! and deletes the role last: Lambda deletes those interfaces with it.

mod observe;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::types::{
    Architecture, Environment, EphemeralStorage, EventSourceMappingConfiguration, FunctionCode,
    FunctionConfiguration, PackageType, Runtime, VpcConfig,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Transient, Unobservable,
};
use panka_format::kinds::{CpuArchitecture, LambdaSpec};
use panka_format::naming::shorten;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::errors::{HasStatus, aws_error, aws_error_when, check_owner, unless_gone};
use crate::iam::{Grants, delete_role, ensure_granted, ensure_role};
use crate::logs::{delete_log_group, ensure_log_group};
use crate::microservice::{environment, reference_statements, secret_refs, secret_resource};
use crate::network::{delete_security_group, ensure_security_group, placement};
use crate::partition;

mod network_interfaces;

/// How long a new function may stay `Pending`: Lambda documents seconds, and longer for a VPC
/// function while its network interfaces are made; terraform-provider-aws gives
/// `waitFunctionCreated` the resource's create timeout, 10 minutes
/// (internal/service/lambda/function.go). A half more for a slow region.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long an update may stay `InProgress` (UpdateFunctionConfiguration, UpdateFunctionCode):
/// terraform-provider-aws's `waitFunctionUpdated` gets the update timeout, 10 minutes; a VPC
/// change remakes network interfaces. A half more.
const UPDATED_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const CODE_TAG: &str = "panka:code-digest";

/// Lambda's `InvalidParameterValueException` messages while what a function uses is not ready
/// yet: a role just created that Lambda cannot assume yet or whose policy it does not see yet
/// ("...does not have permissions to call CreateNetworkInterface on EC2", "...ReceiveMessage on
/// SQS" for a queue's event source mapping), EC2 throttling the network interfaces of a VPC
/// function, a KMS grant not usable yet. terraform-provider-aws retries CreateFunction and
/// UpdateFunctionConfiguration on these for `lambdaPropagationTimeout` (5 minutes;
/// internal/service/lambda/function.go, `retryFunctionOp`), and CreateEventSourceMapping and
/// UpdateEventSourceMapping on the role ones (event_source_mapping.go, `retryEventSourceMapping`).
const NOT_READY_MESSAGES: &[&str] = &[
    "cannot be assumed by Lambda",
    "execution role does not have permissions",
    "ensure the role can perform",
    "throttled by EC2",
    "KMS key is invalid for CreateGrant",
];

/// Whether a Lambda error code and message mean "try again shortly": what is in
/// [`NOT_READY_MESSAGES`], `ResourceConflictException` ("An update is in progress for resource"
/// while a function is `InProgress`; CreateFunction, UpdateFunctionConfiguration,
/// UpdateFunctionCode, PutFunctionConcurrency, AddPermission API references) and
/// `ResourceInUseException` (an event source mapping still `Creating` or `Updating`,
/// UpdateEventSourceMapping and DeleteEventSourceMapping API references).
fn not_ready(code: Option<&str>, message: &str) -> bool {
    match code {
        Some("ResourceConflictException" | "ResourceInUseException") => true,
        Some("InvalidParameterValueException") => {
            NOT_READY_MESSAGES.iter().any(|m| message.contains(m))
        }
        _ => false,
    }
}

/// Wraps a Lambda error with what was being done, as [`aws_error`] does, with the kind
/// [`Transient::Lambda`] when Lambda says what it needs is not ready yet ([`not_ready`]).
pub(crate) fn lambda_error<E, R>(action: impl Into<String>, e: SdkError<E, R>) -> ProviderError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    aws_error_when(action, e, Transient::Lambda, not_ready)
}
/// The batch size Lambda gives an SQS event source mapping created without one.
/// https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
const SQS_DEFAULT_BATCH: i32 = 10;

/// The trust policy of the execution role: Lambda (the region's partition's principal) may
/// assume it.
fn assume_lambda(region: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": partition::service_principal("lambda", region)},
        "Action": "sts:AssumeRole"}]})
    .to_string()
}

/// The Lambda provider.
#[derive(Clone, Debug)]
pub struct LambdaProvider {
    lambda: Client,
    iam: aws_sdk_iam::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    events: aws_sdk_eventbridge::Client,
    ec2: aws_sdk_ec2::Client,
    eni_wait: network_interfaces::Pacing,
}

impl LambdaProvider {
    pub fn new(
        lambda: Client,
        iam: aws_sdk_iam::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        events: aws_sdk_eventbridge::Client,
        ec2: aws_sdk_ec2::Client,
    ) -> Self {
        LambdaProvider {
            lambda,
            iam,
            logs,
            events,
            ec2,
            eni_wait: network_interfaces::AWS_PACING,
        }
    }
}

// ------------------------------------------------------------------------------------ names

pub fn log_group(name: &str) -> String {
    format!("/aws/lambda/{name}")
}

/// IAM role names are limited to 64 characters.
pub fn role(name: &str) -> String {
    format!("{}-lambda", shorten(name, 57))
}

/// The rule of the `i`-th schedule trigger (rule names are limited to 64 characters; room is
/// left for 100 schedules).
fn schedule_rule(name: &str, i: usize) -> String {
    format!("{}{i}", schedule_prefix(name))
}

fn schedule_prefix(name: &str) -> String {
    format!("{}-schedule-", shorten(name, 52))
}

/// What the function runs, as one string: `s3://BUCKET/KEY[#VERSION]` or the image URI.
fn code_of(s: &LambdaSpec) -> String {
    match (&s.code.s3, &s.code.image_uri) {
        (Some(o), _) => format!(
            "s3://{}/{}{}",
            o.bucket,
            o.key,
            o.version
                .as_ref()
                .map(|v| format!("#{v}"))
                .unwrap_or_default()
        ),
        (None, Some(uri)) => uri.clone(),
        (None, None) => String::new(),
    }
}

/// The digest of what the function runs: its code and the instruction set it is built for
/// (both change only through UpdateFunctionCode).
fn code_digest(s: &LambdaSpec) -> String {
    let arch = architecture(s.architecture);
    Sha256::digest(format!("{} {}", code_of(s), arch.as_str()).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn architecture(a: CpuArchitecture) -> Architecture {
    match a {
        CpuArchitecture::X86_64 => Architecture::X8664,
        CpuArchitecture::Arm64 => Architecture::Arm64,
    }
}

// ------------------------------------------------------------------------------ the inputs

/// The function's environment: its variables with `valueFrom` resolved, then its secrets as
/// references.
fn variables(t: &Target<'_, LambdaSpec>) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut vars: BTreeMap<String, String> = environment(&t.spec.environment, t.config)?
        .into_iter()
        .collect();
    for s in secret_refs(&t.spec.secrets, t.config)? {
        if let Some(key) = &s.json_key {
            vars.insert(format!("{}_JSON_KEY", s.name), key.clone());
        }
        vars.insert(s.name, s.source);
    }
    Ok(vars)
}

/// The role's statements: its log group, the components it references, its secrets, and the
/// network interfaces of a VPC function.
fn statements(t: &Target<'_, LambdaSpec>) -> Result<Vec<Value>, ProviderError> {
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": partition::arn(t.region, "logs", t.region, "*", &format!("log-group:{}:*", log_group(t.name))),
    })];
    statements.extend(reference_statements(t.config));
    let (sm, ssm): (Vec<String>, Vec<String>) = secret_refs(&t.spec.secrets, t.config)?
        .iter()
        .map(|s| secret_resource(&s.source, t.region))
        .partition(|r| r.contains(":secretsmanager:"));
    if !sm.is_empty() {
        statements.push(
            json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": sm}),
        );
    }
    if !ssm.is_empty() {
        statements.push(
            json!({"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": ssm}),
        );
    }
    if t.spec.vpc {
        statements.push(json!({"Effect": "Allow", "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], "Resource": "*"}));
    }
    Ok(statements)
}

/// The queues the function consumes: (ARN, batch size) per queue trigger.
fn queue_triggers(t: &Target<'_, LambdaSpec>) -> Result<Vec<(String, Option<u32>)>, ProviderError> {
    t.spec
        .triggers
        .iter()
        .enumerate()
        .filter(|(_, tr)| tr.queue.is_some())
        .map(|(i, tr)| {
            let arn = input(t.config, &format!("triggers[{i}].queue"))
                .and_then(|r| r.outputs.get("arn").cloned())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("trigger {i} refers to a queue with no ARN"),
                    )
                })?;
            Ok((arn, tr.batch_size))
        })
        .collect()
}

/// The ids and outputs of a function after an apply: `layout` (which variables are secrets,
/// the triggers in order; [`observe::layout_ids`]) and the `CodeSha256` Lambda reports join its
/// ids. An output AWS gives no value for is absent.
fn outcome(
    name: &str,
    c: &FunctionConfiguration,
    sg: Option<&str>,
    layout: BTreeMap<String, String>,
) -> Outcome {
    let mut physical_ids = layout;
    physical_ids.extend([
        ("function".to_string(), name.to_string()),
        ("role".to_string(), role(name)),
        ("logGroup".to_string(), log_group(name)),
    ]);
    if let Some(sg) = sg.filter(|s| !s.is_empty()) {
        physical_ids.insert("securityGroup".to_string(), sg.to_string());
    }
    if let Some(sha) = c.code_sha256().filter(|s| !s.is_empty()) {
        physical_ids.insert(observe::CODE_SHA_ID.to_string(), sha.to_string());
    }
    Outcome {
        physical_ids,
        outputs: outputs(name, c),
    }
}

/// `functionName`, `arn`, `roleArn` and `logGroupName`; absent when AWS reports no value.
fn outputs(name: &str, c: &FunctionConfiguration) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::from([
        ("functionName".to_string(), name.to_string()),
        ("logGroupName".to_string(), log_group(name)),
    ]);
    if let Some(arn) = c.function_arn().filter(|a| !a.is_empty()) {
        outputs.insert("arn".to_string(), arn.to_string());
    }
    if let Some(role) = c.role().filter(|r| !r.is_empty()) {
        outputs.insert("roleArn".to_string(), role.to_string());
    }
    outputs
}

// --------------------------------------------------------------------------- the provider

/// The settings of a function, as CreateFunction and UpdateFunctionConfiguration take them.
struct Settings {
    role_arn: String,
    variables: BTreeMap<String, String>,
    vpc: Option<VpcConfig>,
}

/// What CreateFunction did.
enum Created {
    /// The function is new.
    New,
    /// Lambda says a function of that name exists already ("Function already exist"): a create
    /// whose answer was lost, or someone else's function.
    Existed,
}

/// Checks that a function found by name is this component's (its panka tags).
fn check_function_owner(
    t: &Target<'_, LambdaSpec>,
    f: &GetFunctionOutput,
) -> Result<(), ProviderError> {
    let tags = f.tags().cloned().unwrap_or_default();
    check_owner(
        &format!("Lambda function {}", t.name),
        t.address,
        tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        t.tags,
    )
}

/// The error a Lambda waiter ended with: the state's reason when it ended in `Failed`
/// (`StateReasonCode: StateReason`, or the update's), a timeout, or the failed poll.
fn waiter_error<E>(
    what: String,
    e: WaiterError<GetFunctionOutput, E>,
    reason: fn(&FunctionConfiguration) -> Option<String>,
) -> ProviderError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match e {
        WaiterError::FailureState(f) => {
            let why = f
                .final_poll()
                .as_result()
                .ok()
                .and_then(|o| o.configuration())
                .and_then(reason)
                .unwrap_or_else(|| "Lambda gave no reason".to_string());
            ProviderError::new(ErrorKind::Invalid, format!("{what}: it failed: {why}"))
        }
        WaiterError::ExceededMaxWait(_) => ProviderError::with_source(ErrorKind::Timeout, what, e),
        WaiterError::OperationFailed(failed) => {
            let e = failed.into_error();
            // A function created a moment ago that GetFunction does not find yet.
            aws_error_when(what, e, Transient::NotYetVisible, |code, _| {
                code == Some("ResourceNotFoundException")
            })
        }
        other => ProviderError::with_source(ErrorKind::Invalid, what, other),
    }
}

impl LambdaProvider {
    async fn get_function(&self, name: &str) -> Result<Option<GetFunctionOutput>, ProviderError> {
        crate::errors::unless_missing(
            self.lambda.get_function().function_name(name).send().await,
            |s| s.is_resource_not_found_exception(),
            format!("reading Lambda function {name}"),
        )
    }

    async fn get(&self, name: &str) -> Result<Option<FunctionConfiguration>, ProviderError> {
        Ok(self
            .get_function(name)
            .await?
            .and_then(|r| r.configuration().cloned()))
    }

    /// Waits for a new function to leave `Pending`: `State=Active`; `Failed` ends the wait with
    /// Lambda's `StateReasonCode` and `StateReason` (GetFunction API reference; the SDK's
    /// `FunctionActiveV2` waiter, as terraform-provider-aws's `waitFunctionCreated`).
    async fn wait_active(&self, name: &str) -> Result<FunctionConfiguration, ProviderError> {
        let done = self
            .lambda
            .wait_until_function_active_v2()
            .function_name(name)
            .wait(ACTIVE_TIMEOUT)
            .await
            .map_err(|e| {
                waiter_error(
                    format!("waiting for Lambda function {name} to become active"),
                    e,
                    |c| {
                        Some(format!(
                            "{}: {}",
                            c.state_reason_code()?.as_str(),
                            c.state_reason().unwrap_or_default()
                        ))
                    },
                )
            })?;
        configuration_of(name, done.into_result().ok())
    }

    /// Waits for the function's last update to finish: `LastUpdateStatus=Successful`; `Failed`
    /// ends the wait with `LastUpdateStatusReasonCode` and `LastUpdateStatusReason` (the SDK's
    /// `FunctionUpdatedV2` waiter, as terraform-provider-aws's `waitFunctionUpdated`). Lambda
    /// refuses the next update until then.
    async fn wait_updated(&self, name: &str) -> Result<FunctionConfiguration, ProviderError> {
        let done = self
            .lambda
            .wait_until_function_updated_v2()
            .function_name(name)
            .wait(UPDATED_TIMEOUT)
            .await
            .map_err(|e| {
                waiter_error(
                    format!("waiting for the update of Lambda function {name} to finish"),
                    e,
                    |c| {
                        Some(format!(
                            "{}: {}",
                            c.last_update_status_reason_code()?.as_str(),
                            c.last_update_status_reason().unwrap_or_default()
                        ))
                    },
                )
            })?;
        configuration_of(name, done.into_result().ok())
    }

    /// The role, log group, security group and resolved settings every apply converges first.
    async fn prepare(
        &self,
        t: &Target<'_, LambdaSpec>,
        recorded: &BTreeMap<String, String>,
    ) -> Result<(Settings, Option<String>), ProviderError> {
        ensure_log_group(
            &self.logs,
            &log_group(t.name),
            t.spec.logging.retention_days,
            t.tags,
        )
        .await?;
        let role_arn = ensure_role(
            &self.iam,
            &role(t.name),
            &assume_lambda(t.region),
            statements(t)?,
            t.tags,
        )
        .await?;
        // The spec's own permissions and managed policies, beside the inferred statements.
        ensure_granted(
            &self.iam,
            &role(t.name),
            &Grants {
                permissions: t.spec.permissions.clone(),
                managed_policies: t.spec.managed_policies.clone(),
            },
        )
        .await?;
        let (vpc, sg) = if t.spec.vpc {
            let place = placement(&self.ec2, t.config).await?;
            let sg = ensure_security_group(
                &self.ec2,
                t.name,
                &format!("panka: {} (Lambda)", t.address),
                &place.vpc_id,
                t.tags,
            )
            .await?;
            (
                Some(
                    VpcConfig::builder()
                        .set_subnet_ids(Some(place.subnets))
                        .security_group_ids(&sg)
                        .build(),
                ),
                Some(sg),
            )
        } else {
            // An empty configuration detaches a function that was in the VPC. Its security
            // group stays recorded (its network interfaces linger for minutes after) and goes
            // with the function.
            let left = recorded.get("securityGroup").cloned();
            (Some(VpcConfig::builder().build()), left)
        };
        Ok((
            Settings {
                role_arn,
                variables: variables(t)?,
                vpc,
            },
            sg,
        ))
    }

    /// CreateFunction with the component's tags (so that a function made by a create whose
    /// answer was lost carries them, and is found as this component's).
    async fn create_function(
        &self,
        t: &Target<'_, LambdaSpec>,
        settings: &Settings,
    ) -> Result<Created, ProviderError> {
        let s = &t.spec;
        let code = match (&s.code.s3, &s.code.image_uri) {
            (Some(o), _) => FunctionCode::builder()
                .s3_bucket(&o.bucket)
                .s3_key(&o.key)
                .set_s3_object_version(o.version.clone())
                .build(),
            (None, uri) => FunctionCode::builder().set_image_uri(uri.clone()).build(),
        };
        let mut tags: BTreeMap<String, String> = t.tags.clone();
        tags.insert(CODE_TAG.to_string(), code_digest(s));
        let created = self
            .lambda
            .create_function()
            .function_name(t.name)
            .role(&settings.role_arn)
            .code(code)
            .package_type(if s.code.image_uri.is_some() {
                PackageType::Image
            } else {
                PackageType::Zip
            })
            .set_runtime(s.runtime.as_deref().map(Runtime::from))
            .set_handler(s.handler.clone())
            .memory_size(s.memory_mb as i32)
            .timeout(s.timeout_seconds as i32)
            .set_ephemeral_storage(
                EphemeralStorage::builder()
                    .size(s.ephemeral_storage_mb as i32)
                    .build()
                    .ok(),
            )
            .architectures(architecture(s.architecture))
            .environment(
                Environment::builder()
                    .set_variables(Some(settings.variables.clone().into_iter().collect()))
                    .build(),
            )
            .set_vpc_config(settings.vpc.clone().filter(|_| s.vpc))
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await;
        match created {
            Ok(_) => Ok(Created::New),
            // "Function already exist: NAME" (CreateFunction API reference: 409
            // ResourceConflictException).
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_resource_conflict_exception()
                        && s.message().is_some_and(|m| m.contains("already exist"))
                }) =>
            {
                Ok(Created::Existed)
            }
            Err(e) => Err(lambda_error(
                format!("creating Lambda function {}", t.name),
                e,
            )),
        }
    }

    /// Brings an existing function to the spec: its configuration, then its code when the
    /// digest changed or the code was replaced outside panka, then its tags; each update waited
    /// for before the next call. Returns the configuration after the last update.
    async fn update_function(
        &self,
        t: &Target<'_, LambdaSpec>,
        settings: &Settings,
        recorded: &BTreeMap<String, String>,
    ) -> Result<FunctionConfiguration, ProviderError> {
        let s = &t.spec;
        // An update started by an earlier run (killed, or timed out) may still be going.
        self.wait_updated(t.name).await?;
        self.lambda
            .update_function_configuration()
            .function_name(t.name)
            .role(&settings.role_arn)
            .set_runtime(s.runtime.as_deref().map(Runtime::from))
            .set_handler(s.handler.clone())
            .memory_size(s.memory_mb as i32)
            .timeout(s.timeout_seconds as i32)
            .set_ephemeral_storage(
                EphemeralStorage::builder()
                    .size(s.ephemeral_storage_mb as i32)
                    .build()
                    .ok(),
            )
            .environment(
                Environment::builder()
                    .set_variables(Some(settings.variables.clone().into_iter().collect()))
                    .build(),
            )
            .set_vpc_config(settings.vpc.clone())
            .send()
            .await
            .map_err(|e| {
                lambda_error(
                    format!("updating the configuration of Lambda function {}", t.name),
                    e,
                )
            })?;
        let mut current = self.wait_updated(t.name).await?;
        let arn = current.function_arn().unwrap_or(t.name).to_string();
        let tagged = self
            .lambda
            .list_tags()
            .resource(&arn)
            .send()
            .await
            .map_err(|e| lambda_error(format!("reading the tags of {}", t.name), e))?
            .tags()
            .and_then(|tags| tags.get(CODE_TAG).cloned());
        let digest = code_digest(s);
        // Code replaced outside panka: its CodeSha256 is not the one the last apply recorded.
        let replaced = recorded
            .get(observe::CODE_SHA_ID)
            .is_some_and(|sha| current.code_sha256() != Some(sha.as_str()));
        if replaced || tagged.as_deref() != Some(digest.as_str()) {
            let mut code = self
                .lambda
                .update_function_code()
                .function_name(t.name)
                .architectures(architecture(s.architecture));
            code = match (&s.code.s3, &s.code.image_uri) {
                (Some(o), _) => code
                    .s3_bucket(&o.bucket)
                    .s3_key(&o.key)
                    .set_s3_object_version(o.version.clone()),
                (None, uri) => code.set_image_uri(uri.clone()),
            };
            code.send().await.map_err(|e| {
                lambda_error(
                    format!("updating the code of Lambda function {}", t.name),
                    e,
                )
            })?;
            current = self.wait_updated(t.name).await?;
        }
        let mut tags: BTreeMap<String, String> = t.tags.clone();
        tags.insert(CODE_TAG.to_string(), digest);
        self.lambda
            .tag_resource()
            .resource(&arn)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| lambda_error(format!("tagging Lambda function {}", t.name), e))?;
        Ok(current)
    }

    async fn converge_concurrency(&self, t: &Target<'_, LambdaSpec>) -> Result<(), ProviderError> {
        let what = || format!("setting the reserved concurrency of {}", t.name);
        match t.spec.reserved_concurrency {
            Some(n) => {
                self.lambda
                    .put_function_concurrency()
                    .function_name(t.name)
                    .reserved_concurrent_executions(n as i32)
                    .send()
                    .await
                    .map_err(|e| lambda_error(what(), e))?;
            }
            None => {
                self.lambda
                    .delete_function_concurrency()
                    .function_name(t.name)
                    .send()
                    .await
                    .map_err(|e| lambda_error(what(), e))?;
            }
        }
        Ok(())
    }

    /// Event source mappings: one per queue trigger, enabled, with its batch size (Lambda's
    /// default when the trigger gives none); others removed. Mappings are listed first, so a
    /// mapping made by a call whose answer was lost is found and not made twice.
    async fn converge_mappings(&self, t: &Target<'_, LambdaSpec>) -> Result<(), ProviderError> {
        let wanted = queue_triggers(t)?;
        let existing = self.mappings(t.name).await?;
        for m in &existing {
            let (Some(uuid), Some(source)) = (m.uuid(), m.event_source_arn()) else {
                continue;
            };
            match wanted.iter().find(|(arn, _)| arn == source) {
                None => self.delete_mapping(uuid).await?,
                Some((_, want))
                    if want.map_or(SQS_DEFAULT_BATCH, |w| w as i32)
                        != m.batch_size().unwrap_or(SQS_DEFAULT_BATCH)
                        || observe::disabled(m) =>
                {
                    self.lambda
                        .update_event_source_mapping()
                        .uuid(uuid)
                        .batch_size(want.map_or(SQS_DEFAULT_BATCH, |w| w as i32))
                        .enabled(true)
                        .send()
                        .await
                        .map_err(|e| {
                            lambda_error(format!("updating event source mapping {uuid}"), e)
                        })?;
                }
                Some(_) => {}
            }
        }
        for (arn, batch) in &wanted {
            if existing
                .iter()
                .any(|m| m.event_source_arn() == Some(arn.as_str()))
            {
                continue;
            }
            // "The provided execution role does not have permissions to call ReceiveMessage
            // on SQS" while the role's policy propagates: Transient::Lambda.
            self.lambda
                .create_event_source_mapping()
                .function_name(t.name)
                .event_source_arn(arn)
                .set_batch_size(batch.map(|b| b as i32))
                .enabled(true)
                .send()
                .await
                .map_err(|e| lambda_error(format!("letting {} consume {arn}", t.name), e))?;
        }
        Ok(())
    }

    /// The function's event source mappings.
    async fn mappings(
        &self,
        name: &str,
    ) -> Result<Vec<EventSourceMappingConfiguration>, ProviderError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = crate::errors::unless_missing(
                self.lambda
                    .list_event_source_mappings()
                    .function_name(name)
                    .set_marker(marker)
                    .send()
                    .await,
                |s| s.is_resource_not_found_exception(),
                format!("listing the event sources of {name}"),
            )?;
            // No such function: no mappings of it to list.
            let Some(page) = page else {
                return Ok(out);
            };
            out.extend(page.event_source_mappings().iter().cloned());
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn delete_mapping(&self, uuid: &str) -> Result<(), ProviderError> {
        let deleted = self
            .lambda
            .delete_event_source_mapping()
            .uuid(uuid)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            // A mapping still being created or updated: ResourceInUseException, retried
            // (terraform-provider-aws retries the delete on it for 5 minutes).
            Err(e) => Err(lambda_error(
                format!("deleting event source mapping {uuid}"),
                e,
            )),
        }
    }

    /// The schedule rules of the function: one per schedule trigger, each allowed to invoke it;
    /// rules of schedules gone from the spec are deleted.
    async fn converge_schedules(
        &self,
        t: &Target<'_, LambdaSpec>,
        function_arn: &str,
    ) -> Result<(), ProviderError> {
        let mut wanted = Vec::new();
        for (i, schedule) in t
            .spec
            .triggers
            .iter()
            .filter_map(|tr| tr.schedule.as_ref())
            .enumerate()
        {
            let rule = schedule_rule(t.name, i);
            // PutRule creates or replaces: safe to repeat. The tags go on with a new rule.
            let arn = self
                .events
                .put_rule()
                .name(&rule)
                .schedule_expression(schedule)
                .state(aws_sdk_eventbridge::types::RuleState::Enabled)
                .description(format!("panka: schedule of {}", t.address))
                .set_tags(Some(
                    t.tags
                        .iter()
                        .filter_map(|(k, v)| {
                            aws_sdk_eventbridge::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                                .ok()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| aws_error(format!("putting schedule rule {rule}"), e))?
                .rule_arn()
                .map(str::to_string)
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("EventBridge returned no ARN for rule {rule}"),
                    )
                })?;
            crate::policy::allow_to_invoke(&self.lambda, function_arn, "events", &arn).await?;
            let put = self
                .events
                .put_targets()
                .rule(&rule)
                .targets(
                    aws_sdk_eventbridge::types::Target::builder()
                        .id("function")
                        .arn(function_arn)
                        .build()
                        .map_err(|e| {
                            ProviderError::new(ErrorKind::Invalid, format!("rule {rule}: {e}"))
                        })?,
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("pointing rule {rule} at {}", t.name), e))?;
            if put.failed_entry_count() > 0 {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!("rule {rule} refused the function as its target"),
                ));
            }
            wanted.push(rule);
        }
        for rule in self.schedule_rules(t.name).await? {
            if !wanted.contains(&rule) {
                self.delete_schedule(function_arn, &rule).await?;
            }
        }
        Ok(())
    }

    /// The rules of the default bus named as the function's schedules (`NAME-schedule-N`).
    async fn schedule_rules(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let prefix = schedule_prefix(name);
        Ok(self
            .rules(name)
            .await?
            .iter()
            .filter_map(|r| r.name())
            .filter(|r| observe::schedule_index(&prefix, r).is_some())
            .map(str::to_string)
            .collect())
    }

    /// Deletes schedule rule `rule` and the permission it had to invoke `function` (its name or
    /// ARN).
    async fn delete_schedule(&self, function: &str, rule: &str) -> Result<(), ProviderError> {
        let not_found = |e: &dyn aws_sdk_eventbridge::error::ProvideErrorMetadata| {
            e.code() == Some("ResourceNotFoundException")
        };
        let removed = self
            .events
            .remove_targets()
            .rule(rule)
            .ids("function")
            .send()
            .await;
        unless_gone(
            removed,
            |s| not_found(s),
            format!("removing the target of {rule}"),
        )?;
        let deleted = self.events.delete_rule().name(rule).send().await;
        unless_gone(
            deleted,
            |s| not_found(s),
            format!("deleting schedule rule {rule}"),
        )?;
        crate::policy::forbid_to_invoke(&self.lambda, function, "events", rule).await
    }

    /// Creates or updates the function, its concurrency, queue mappings and schedules. `recorded`
    /// holds the ids of the last apply (empty for a create): a function it does not name is
    /// this component's only when its tags say so.
    async fn converge(
        &self,
        t: &Target<'_, LambdaSpec>,
        recorded: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let known = recorded.contains_key("function");
        let mut existing = self.get_function(t.name).await?;
        if let Some(f) = existing.as_ref().filter(|_| !known) {
            check_function_owner(t, f)?;
        }
        let (settings, sg) = self.prepare(t, recorded).await?;
        let layout = observe::layout_ids(t)?;
        if existing.is_none() {
            match self.create_function(t, &settings).await? {
                Created::New => {}
                Created::Existed => {
                    // Made by this create's earlier attempt (the SDK retried a call that had
                    // taken effect), or by someone else in between.
                    let f = self.get_function(t.name).await?.ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Transient(Transient::NotYetVisible),
                            format!("Lambda function {} exists but is not visible yet", t.name),
                        )
                    })?;
                    check_function_owner(t, &f)?;
                    existing = Some(f);
                }
            }
        }
        let c = match existing {
            None => self.wait_active(t.name).await?,
            Some(_) => self.update_function(t, &settings, recorded).await?,
        };
        let function_arn = c.function_arn().unwrap_or(t.name).to_string();
        self.converge_concurrency(t).await?;
        self.converge_mappings(t).await?;
        self.converge_schedules(t, &function_arn).await?;
        Ok(outcome(t.name, &c, sg.as_deref(), layout))
    }
}

/// The configuration in the waiter's last answer, or an error when it had none.
fn configuration_of(
    name: &str,
    last: Option<GetFunctionOutput>,
) -> Result<FunctionConfiguration, ProviderError> {
    last.and_then(|o| o.configuration).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Transient(Transient::NotYetVisible),
            format!("Lambda function {name} has no configuration yet"),
        )
    })
}

impl KindProvider for LambdaProvider {
    type Spec = LambdaSpec;
    const KIND: &'static str = "Lambda";
    const UNOBSERVABLE: &'static [Unobservable] = observe::UNOBSERVABLE;

    async fn create(&self, t: &Target<'_, LambdaSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    /// GetFunction (configuration, code location, reserved concurrency) +
    /// ListEventSourceMappings + ListRules (its schedule rules, by name prefix) +
    /// DescribeLogGroups + the role's GetRolePolicy (`panka-permissions`) and
    /// ListAttachedRolePolicies = 6 calls (the lists paginated).
    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<LambdaSpec>>, ProviderError> {
        self.observe(id).await
    }

    async fn update(
        &self,
        t: &Target<'_, LambdaSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    /// Mappings and schedules (with their permissions), the function, then — for a VPC function
    /// — its network interfaces and security group, the log group, and the role last: Lambda
    /// deletes a VPC function's network interfaces with the function's role ("If the IAM role
    /// is deleted before Lambda can delete the ENI, ENI deletion by Lambda will not be
    /// possible", awslabs/aws-support-tools PR 174).
    async fn delete(
        &self,
        name: &str,
        _spec: Option<LambdaSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        for m in self.mappings(name).await? {
            if let Some(uuid) = m.uuid() {
                self.delete_mapping(uuid).await?;
            }
        }
        let function = self
            .get(name)
            .await?
            .and_then(|c| c.function_arn().map(str::to_string));
        for rule in self.schedule_rules(name).await? {
            self.delete_schedule(function.as_deref().unwrap_or(name), &rule)
                .await?;
        }
        if function.is_some() {
            let deleted = self
                .lambda
                .delete_function()
                .function_name(name)
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) => {}
                Err(e) => return Err(lambda_error(format!("deleting Lambda function {name}"), e)),
            }
        }
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            network_interfaces::wait_gone(&self.ec2, name, sg, self.eni_wait).await?;
            delete_security_group(&self.ec2, sg).await?;
        }
        delete_log_group(&self.logs, &log_group(name)).await?;
        delete_role(&self.iam, &role(name)).await?;
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, LambdaSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.get(t.name).await?.map(|c| {
            format!(
                "{} · {} · last update {}",
                c.state().map(|s| s.as_str()).unwrap_or("unknown"),
                c.runtime()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_else(|| "image".into()),
                c.last_update_status()
                    .map(|s| s.as_str())
                    .unwrap_or("unknown")
            )
        }))
    }

    /// The function of this component's name, when its panka tags are this component's.
    ///
    /// # Errors
    /// [`ErrorKind::NotOwned`] for a function of that name with other tags, or none.
    async fn find(&self, t: &Target<'_, LambdaSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(f) = self.get_function(t.name).await? else {
            return Ok(None);
        };
        check_function_owner(t, &f)?;
        let Some(c) = f.configuration() else {
            return Ok(None);
        };
        let sg = if t.spec.vpc {
            Some(crate::network::security_group_of(&self.ec2, t.config, t.name).await?)
        } else {
            None
        };
        Ok(Some(outcome(
            t.name,
            c,
            sg.as_deref(),
            observe::layout_ids(t)?,
        )))
    }
}

#[cfg(test)]
mod tests;
