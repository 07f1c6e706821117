//! The task definition: the component's container (image, command, ports, environment,
//! secrets, liveness check, logs) and its sidecars, its roles' statements (inferred, and the
//! spec's `permissions` and `managedPolicies`), and the revision registered only when its input
//! changed (a digest tag).

use super::*;
use crate::iam::Grants;

/// The image reference: digest over tag, `latest` when neither is given.
pub(super) fn image(i: &Image) -> String {
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
    environment_at(vars, config, "")
}

/// [`environment`] of the container whose spec path starts with `at` (`sidecars[0].`).
pub(super) fn environment_at(
    vars: &[EnvVar],
    config: &Value,
    at: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    vars.iter()
        .enumerate()
        .map(|(i, e)| {
            let value = match (&e.value, &e.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(_)) => input(config, &format!("{at}environment[{i}].valueFrom"))
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
    secret_refs_at(list, config, "")
}

/// [`secret_refs`] of the container whose spec path starts with `at` (`sidecars[0].`).
fn secret_refs_at(
    list: &[Secret],
    config: &Value,
    at: &str,
) -> Result<Vec<SecretRef>, ProviderError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let src = &s.value_from;
            let source = if src.component.is_some() {
                input(config, &format!("{at}secrets[{i}].valueFrom"))
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
pub(super) fn secrets(
    list: &[Secret],
    config: &Value,
) -> Result<Vec<(String, String)>, ProviderError> {
    secrets_at(list, config, "")
}

/// [`secrets`] of the container whose spec path starts with `at` (`sidecars[0].`).
fn secrets_at(
    list: &[Secret],
    config: &Value,
    at: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    Ok(secret_refs_at(list, config, at)?
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

/// Every secret the task's containers inject (the component's, then each sidecar's), as ECS
/// takes them: what the execution role must be able to read.
pub(super) fn task_secrets(
    w: &Workload<'_>,
    config: &Value,
) -> Result<Vec<(String, String)>, ProviderError> {
    let mut all = secrets(w.secrets, config)?;
    for (i, sc) in w.sidecars.iter().enumerate() {
        all.extend(secrets_at(&sc.secrets, config, &format!("sidecars[{i}]."))?);
    }
    Ok(all)
}

/// What the spec grants the task role besides the inferred statements.
pub(crate) fn grants_of(w: &Workload<'_>) -> Grants {
    Grants {
        permissions: w.permissions.to_vec(),
        managed_policies: w.managed_policies.to_vec(),
    }
}

/// The physical id recording the spec's managed policies in its order (comma-separated
/// ARNs): IAM lists attached policies in an order of its own.
pub(crate) const MANAGED_POLICIES_ID: &str = "managedPolicies";

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

pub(super) fn liveness(probe: &Probe, first_port: u32) -> Result<EcsHealthCheck, ProviderError> {
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
pub(super) struct TaskDefinition {
    /// The component's container first, then its sidecars in the spec's order.
    pub(super) containers: Vec<ContainerDefinition>,
    digest: String,
}

/// The log settings of a container: the component's log group, under the stream prefix
/// `prefix` (`ecs` for the component's container, a sidecar's name for the sidecar).
fn log_configuration(
    group: &str,
    region: &str,
    prefix: &str,
) -> Result<LogConfiguration, ProviderError> {
    LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", group)
        .options("awslogs-region", region)
        .options("awslogs-stream-prefix", prefix)
        .build()
        .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "log settings", e))
}

/// The stream prefix of the component's own container.
pub(super) const MAIN_STREAM_PREFIX: &str = "ecs";

/// A sidecar's container: its image, command, ports, environment and secrets (resolved), the
/// containers it waits for, and its logs under its own stream prefix (its name).
pub(crate) fn sidecar_container(
    sc: &Sidecar,
    env: &[(String, String)],
    secrets: &[(String, String)],
    group: &str,
    region: &str,
) -> Result<ContainerDefinition, ProviderError> {
    use aws_sdk_ecs::types::{ContainerCondition as Condition, ContainerDependency as Dependency};
    use panka_format::kinds::{ContainerCondition, TransportProtocol as Transport};
    let mut c = ContainerDefinition::builder()
        .name(&sc.name)
        .image(image(&sc.image))
        .essential(sc.essential)
        .set_command(sc.command.clone())
        .log_configuration(log_configuration(group, region, &sc.name)?);
    for p in &sc.ports {
        c = c.port_mappings(
            PortMapping::builder()
                .name(&p.name)
                .container_port(p.port as i32)
                .protocol(match p.protocol {
                    Transport::Tcp => TransportProtocol::Tcp,
                    Transport::Udp => TransportProtocol::Udp,
                })
                .build(),
        );
    }
    for (k, v) in env {
        c = c.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    for (k, v) in secrets {
        c = c.secrets(
            EcsSecret::builder()
                .name(k)
                .value_from(v)
                .build()
                .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "secret", e))?,
        );
    }
    for d in &sc.depends_on {
        c = c.depends_on(
            Dependency::builder()
                .container_name(&d.container)
                .condition(match d.condition {
                    ContainerCondition::Start => Condition::Start,
                    ContainerCondition::Complete => Condition::Complete,
                    ContainerCondition::Success => Condition::Success,
                    ContainerCondition::Healthy => Condition::Healthy,
                })
                .build()
                .map_err(|e| {
                    ProviderError::with_source(ErrorKind::Invalid, "container dependency", e)
                })?,
        );
    }
    Ok(c.build())
}

pub(super) fn task_definition<S: EcsKind>(
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
        .log_configuration(log_configuration(
            &log_group(t.name),
            t.region,
            MAIN_STREAM_PREFIX,
        )?);
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
    let mut containers = vec![c.build()];
    // Each sidecar's resolved environment and secrets, for its container and the digest.
    let mut sidecars = Vec::new();
    for (i, sc) in s.sidecars.iter().enumerate() {
        let at = format!("sidecars[{i}].");
        let env = environment_at(&sc.environment, t.config, &at)?;
        let secrets = secrets_at(&sc.secrets, t.config, &at)?;
        containers.push(sidecar_container(
            sc,
            &env,
            &secrets,
            &log_group(t.name),
            t.region,
        )?);
        sidecars.push(json!({
            "name": sc.name,
            "image": image(&sc.image),
            "command": sc.command,
            "ports": sc.ports,
            "environment": env,
            "secrets": secrets,
            "essential": sc.essential,
            "dependsOn": sc.depends_on,
        }));
    }
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
    // Only a task with sidecars has the key: the digest of every other task stays as it was,
    // so no revision is registered for a change it does not have.
    let mut input = input;
    if !sidecars.is_empty() {
        input["sidecars"] = Value::Array(sidecars);
    }
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
    Ok(TaskDefinition { containers, digest })
}

/// The `Statement` list of the task role: access to the components the service references,
/// inferred from their ARN outputs.
pub(super) fn task_statements<S: EcsKind>(t: &Target<'_, S>) -> Vec<Value> {
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
pub(super) fn execution_statements<S: EcsKind>(
    t: &Target<'_, S>,
    secrets: &[(String, String)],
) -> Vec<Value> {
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

/// The family of a task definition ARN (`...:task-definition/FAMILY:REVISION`).
pub(super) fn family_of(arn: &str) -> Option<&str> {
    arn.rsplit_once('/')
        .and_then(|(_, r)| r.rsplit_once(':'))
        .map(|(f, _)| f)
}

/// Tag carrying the digest of a task definition's input.
pub(super) const DIGEST_TAG: &str = "panka:task-digest";

impl<S: EcsKind> EcsServiceProvider<S> {
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
        if let Some(arn) = &current
            && self.task_digest(Some(arn)).await?.as_deref() == Some(td.digest.as_str())
        {
            return Ok(arn.clone());
        }
        // The family's latest, registered by a run that stopped before the service (or a job's
        // state machine) took it: a killed apply, a transient failure of beforeDeploy.
        let latest = self.latest_revision(t.name).await?;
        if let Some(arn) = latest.filter(|l| Some(l) != current.as_ref())
            && self.task_digest(Some(&arn)).await?.as_deref() == Some(td.digest.as_str())
        {
            return Ok(arn);
        }
        self.register(t, ctx, &td, exec_arn, task_arn).await
    }

    /// The ARN of the family's latest active revision, if it has one.
    pub(super) async fn latest_revision(
        &self,
        family: &str,
    ) -> Result<Option<String>, ProviderError> {
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
    pub(super) async fn task_digest(
        &self,
        arn: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
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

    pub(super) async fn register(
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
                .set_container_definitions(Some(td.containers.clone()))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:otel-AbCdEf";

    fn spec(sidecars: Value) -> MicroServiceSpec {
        serde_json::from_value(json!({
            "image": {"repository": "nginx", "tag": "1.27"},
            "ports": [{"name": "http", "port": 8080, "public": true, "path": "/orders/*", "priority": 7000}],
            "sidecars": sidecars
        }))
        .unwrap()
    }

    fn built(spec: MicroServiceSpec, config: &Value) -> (TaskDefinition, Vec<(String, String)>) {
        let tags = BTreeMap::new();
        let t = Target {
            address: "orders/api",
            name: "shop-dev-orders-api",
            spec,
            tags: &tags,
            region: "us-east-1",
            config,
        };
        let td = task_definition(&t, &ComponentInfraSpec::default(), "exec", "task").unwrap();
        let secrets = task_secrets(&t.spec.workload(), config).unwrap();
        (td, secrets)
    }

    /// Sidecars follow the component's container, with their references resolved from the
    /// request's inputs at their own paths, their conditions, and their own log stream prefix;
    /// the execution role may read their secrets.
    #[test]
    fn sidecars_join_the_task_after_the_component_s_container() {
        let sidecars = json!([{
            "name": "otel",
            "image": {"repository": "public.ecr.aws/aws-observability/aws-otel-collector", "tag": "v0.40.0"},
            "command": ["--config", "/etc/otel.yaml"],
            "ports": [{"name": "otlp", "port": 4317}, {"name": "statsd", "port": 8125, "protocol": "UDP"}],
            "environment": [{"name": "QUEUE_URL", "valueFrom": {"component": "orders/queue", "output": "url"}}],
            "secrets": [{"name": "TOKEN", "valueFrom": {"component": "orders/db", "output": "masterSecretArn", "jsonKey": "token"}}],
            "essential": false,
            "dependsOn": [{"container": "api", "condition": "START"}]
        }]);
        let config = json!({"inputs": {
            "sidecars[0].environment[0].valueFrom": {"value": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "outputs": {}},
            "sidecars[0].secrets[0].valueFrom": {"value": SECRET, "outputs": {}}
        }});
        let (td, secrets) = built(spec(sidecars), &config);
        let names: Vec<&str> = td.containers.iter().filter_map(|c| c.name()).collect();
        assert_eq!(names, ["api", "otel"]);
        let main = &td.containers[0];
        assert_eq!(main.essential(), Some(true));
        let log = |c: &ContainerDefinition, k: &str| {
            c.log_configuration().unwrap().options().unwrap()[k].clone()
        };
        assert_eq!(log(main, "awslogs-stream-prefix"), "ecs");
        let otel = &td.containers[1];
        assert_eq!(otel.essential(), Some(false));
        assert_eq!(
            otel.image(),
            Some("public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0")
        );
        assert_eq!(otel.command(), ["--config", "/etc/otel.yaml"]);
        assert_eq!(log(otel, "awslogs-stream-prefix"), "otel");
        assert_eq!(log(otel, "awslogs-group"), "/ecs/shop-dev-orders-api");
        let ports: Vec<(Option<&str>, Option<i32>, Option<&TransportProtocol>)> = otel
            .port_mappings()
            .iter()
            .map(|m| (m.name(), m.container_port(), m.protocol()))
            .collect();
        assert_eq!(
            ports,
            [
                (Some("otlp"), Some(4317), Some(&TransportProtocol::Tcp)),
                (Some("statsd"), Some(8125), Some(&TransportProtocol::Udp))
            ]
        );
        assert_eq!(
            otel.environment()[0].value(),
            Some("https://sqs.us-east-1.amazonaws.com/123456789012/q")
        );
        assert_eq!(otel.secrets()[0].value_from(), format!("{SECRET}:token::"));
        let d = &otel.depends_on()[0];
        assert_eq!(
            (d.container_name(), d.condition()),
            ("api", &aws_sdk_ecs::types::ContainerCondition::Start)
        );
        // The execution role reads the sidecar's secret (without its JSON key).
        assert_eq!(
            secrets,
            [("TOKEN".to_string(), format!("{SECRET}:token::"))]
        );
    }

    /// A sidecar changes the digest (a new revision); a task without sidecars keeps the digest it
    /// had before sidecars existed: its input has no `sidecars` key, so no service is
    /// redeployed for a change it does not have.
    #[test]
    fn only_a_task_with_sidecars_has_them_in_its_digest() {
        let config = json!({});
        let (plain, _) = built(spec(json!([])), &config);
        let (with, _) = built(
            spec(json!([{"name": "otel", "image": {"repository": "otel"}}])),
            &config,
        );
        assert_ne!(plain.digest, with.digest);
        // Pinned (the SHA-256 of the input as panka wrote it before sidecars, recomputed from
        // that JSON outside panka): a digest that changes registers a new revision, and so
        // redeploys, every service of every stack on its next apply.
        assert_eq!(plain.digest, "093e6f5d7987ed113a7cd8d3911ea44e");
    }

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
}
