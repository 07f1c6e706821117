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
//! architecture updates the code and nothing else does. Outputs: `functionName`, `arn`, `roleArn`, `logGroupName`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{
    Architecture, Environment, EphemeralStorage, FunctionCode, FunctionConfiguration, PackageType,
    Runtime, VpcConfig,
};
use backon::Retryable;
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{CpuArchitecture, LambdaSpec};
use panka_format::naming::shorten;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::iam::{delete_role, ensure_role, role_propagation};
use crate::logs::{delete_log_group, ensure_log_group};
use crate::microservice::{environment, reference_statements, secret_refs, secret_resource};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// Lambda documents functions becoming active in seconds; VPC functions take longer to get
/// their network interfaces.
const READY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const CODE_TAG: &str = "panka:code-digest";

const ASSUME_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The Lambda provider.
#[derive(Clone, Debug)]
pub struct LambdaProvider {
    lambda: Client,
    iam: aws_sdk_iam::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    events: aws_sdk_eventbridge::Client,
    ec2: aws_sdk_ec2::Client,
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
        "Resource": format!("arn:aws:logs:{}:*:log-group:{}:*", t.region, log_group(t.name)),
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

fn outcome(name: &str, c: &FunctionConfiguration, sg: Option<&str>) -> Outcome {
    let mut physical_ids = BTreeMap::from([
        ("function".to_string(), name.to_string()),
        ("role".to_string(), role(name)),
        ("logGroup".to_string(), log_group(name)),
    ]);
    if let Some(sg) = sg.filter(|s| !s.is_empty()) {
        physical_ids.insert("securityGroup".to_string(), sg.to_string());
    }
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            ("functionName".to_string(), name.to_string()),
            (
                "arn".to_string(),
                c.function_arn().unwrap_or_default().to_string(),
            ),
            (
                "roleArn".to_string(),
                c.role().unwrap_or_default().to_string(),
            ),
            ("logGroupName".to_string(), log_group(name)),
        ]),
    }
}

// --------------------------------------------------------------------------- the provider

/// The settings of a function, as CreateFunction and UpdateFunctionConfiguration take them.
struct Settings {
    role_arn: String,
    variables: BTreeMap<String, String>,
    vpc: Option<VpcConfig>,
}

impl LambdaProvider {
    async fn get(&self, name: &str) -> Result<Option<FunctionConfiguration>, ProviderError> {
        Ok(unless_missing(
            self.lambda.get_function().function_name(name).send().await,
            |s| s.is_resource_not_found_exception(),
            format!("reading Lambda function {name}"),
        )?
        .and_then(|r| r.configuration().cloned()))
    }

    async fn wait_ready(&self, name: &str) -> Result<FunctionConfiguration, ProviderError> {
        self.lambda
            .wait_until_function_updated_v2()
            .function_name(name)
            .wait(READY_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for Lambda function {name} to be ready"),
                    e,
                )
            })?;
        self.get(name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("Lambda function {name} vanished while becoming ready"),
            )
        })
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
            ASSUME_LAMBDA,
            statements(t)?,
            t.tags,
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

    async fn create_function(
        &self,
        t: &Target<'_, LambdaSpec>,
        settings: &Settings,
    ) -> Result<(), ProviderError> {
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
        let create = || async {
            self.lambda
                .create_function()
                .function_name(t.name)
                .role(&settings.role_arn)
                .code(code.clone())
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
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
        };
        let created = create
            .retry(role_propagation())
            .sleep(tokio::time::sleep)
            // A role just created is not yet visible to Lambda: it says it cannot assume it.
            .when(|e| {
                e.as_service_error().is_some_and(|s| {
                    s.is_invalid_parameter_value_exception()
                        && s.message().is_some_and(|m| m.contains("cannot be assumed"))
                })
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            // Created by a run that did not finish.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_conflict_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error(format!("creating Lambda function {}", t.name), e)),
        }
    }

    async fn update_function(
        &self,
        t: &Target<'_, LambdaSpec>,
        settings: &Settings,
        current: &FunctionConfiguration,
    ) -> Result<(), ProviderError> {
        let s = &t.spec;
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
                aws_error(
                    format!("updating the configuration of Lambda function {}", t.name),
                    e,
                )
            })?;
        self.wait_ready(t.name).await?;
        let arn = current.function_arn().unwrap_or_default();
        let recorded = self
            .lambda
            .list_tags()
            .resource(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of {}", t.name), e))?
            .tags()
            .and_then(|tags| tags.get(CODE_TAG).cloned());
        let digest = code_digest(s);
        if recorded.as_deref() != Some(digest.as_str()) {
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
                aws_error(
                    format!("updating the code of Lambda function {}", t.name),
                    e,
                )
            })?;
            self.wait_ready(t.name).await?;
        }
        let mut tags: BTreeMap<String, String> = t.tags.clone();
        tags.insert(CODE_TAG.to_string(), digest);
        self.lambda
            .tag_resource()
            .resource(arn)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging Lambda function {}", t.name), e))?;
        Ok(())
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
                    .map_err(|e| aws_error(what(), e))?;
            }
            None => {
                self.lambda
                    .delete_function_concurrency()
                    .function_name(t.name)
                    .send()
                    .await
                    .map_err(|e| aws_error(what(), e))?;
            }
        }
        Ok(())
    }

    /// Event source mappings: one per queue trigger, with its batch size; others removed.
    async fn converge_mappings(&self, t: &Target<'_, LambdaSpec>) -> Result<(), ProviderError> {
        let wanted = queue_triggers(t)?;
        let existing = self.mappings(t.name).await?;
        for (uuid, source, batch) in &existing {
            match wanted.iter().find(|(arn, _)| arn == source) {
                None => self.delete_mapping(uuid).await?,
                Some((_, want)) if want.is_some_and(|w| Some(w as i32) != *batch) => {
                    self.lambda
                        .update_event_source_mapping()
                        .uuid(uuid)
                        .set_batch_size(want.map(|w| w as i32))
                        .send()
                        .await
                        .map_err(|e| {
                            aws_error(format!("updating event source mapping {uuid}"), e)
                        })?;
                }
                Some(_) => {}
            }
        }
        for (arn, batch) in &wanted {
            if existing.iter().any(|(_, source, _)| source == arn) {
                continue;
            }
            self.lambda
                .create_event_source_mapping()
                .function_name(t.name)
                .event_source_arn(arn)
                .set_batch_size(batch.map(|b| b as i32))
                .enabled(true)
                .send()
                .await
                .map_err(|e| aws_error(format!("letting {} consume {arn}", t.name), e))?;
        }
        Ok(())
    }

    /// (uuid, source ARN, batch size) of the function's event source mappings.
    async fn mappings(
        &self,
        name: &str,
    ) -> Result<Vec<(String, String, Option<i32>)>, ProviderError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .lambda
                .list_event_source_mappings()
                .function_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the event sources of {name}"), e))?;
            for m in page.event_source_mappings() {
                if let (Some(uuid), Some(source)) = (m.uuid(), m.event_source_arn()) {
                    out.push((uuid.to_string(), source.to_string(), m.batch_size()));
                }
            }
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
        unless_gone(
            deleted,
            |s| s.is_resource_not_found_exception(),
            format!("deleting event source mapping {uuid}"),
        )
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
            let arn = self
                .events
                .put_rule()
                .name(&rule)
                .schedule_expression(schedule)
                .description(format!("panka: schedule of {}", t.address))
                .send()
                .await
                .map_err(|e| aws_error(format!("putting schedule rule {rule}"), e))?
                .rule_arn()
                .unwrap_or_default()
                .to_string();
            crate::policy::allow_to_invoke(&self.lambda, t.name, "events", &arn).await?;
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
        for rule in self.schedule_rules(t.name, function_arn).await? {
            if !wanted.contains(&rule) {
                self.delete_schedule(t.name, &rule).await?;
            }
        }
        Ok(())
    }

    /// The rules of the default bus that invoke the function and are named as its schedules.
    async fn schedule_rules(
        &self,
        name: &str,
        function_arn: &str,
    ) -> Result<Vec<String>, ProviderError> {
        if function_arn.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = schedule_prefix(name);
        let mut rules = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .events
                .list_rule_names_by_target()
                .target_arn(function_arn)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the rules invoking {name}"), e))?;
            rules.extend(
                page.rule_names()
                    .iter()
                    .filter(|r| r.starts_with(&prefix))
                    .cloned(),
            );
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(rules);
            }
        }
    }

    async fn delete_schedule(&self, name: &str, rule: &str) -> Result<(), ProviderError> {
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
        crate::policy::forbid_to_invoke(&self.lambda, name, "events", rule).await
    }

    async fn converge(
        &self,
        t: &Target<'_, LambdaSpec>,
        recorded: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let (settings, sg) = self.prepare(t, recorded).await?;
        match self.get(t.name).await? {
            None => self.create_function(t, &settings).await?,
            Some(current) => self.update_function(t, &settings, &current).await?,
        }
        let c = self.wait_ready(t.name).await?;
        self.converge_concurrency(t).await?;
        self.converge_mappings(t).await?;
        self.converge_schedules(t, c.function_arn().unwrap_or_default())
            .await?;
        Ok(outcome(t.name, &c, sg.as_deref()))
    }
}

impl KindProvider for LambdaProvider {
    type Spec = LambdaSpec;
    const KIND: &'static str = "Lambda";

    async fn create(&self, t: &Target<'_, LambdaSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    async fn read(
        &self,
        t: &Target<'_, LambdaSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(c) = self.get(t.name).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(m) = c.memory_size() {
            spec["memoryMb"] = m.into();
        }
        if let Some(v) = c.timeout() {
            spec["timeoutSeconds"] = v.into();
        }
        if let Some(v) = c.ephemeral_storage() {
            spec["ephemeralStorageMb"] = v.size().into();
        }
        if let Some(r) = c.runtime() {
            spec["runtime"] = r.as_str().into();
        }
        if let Some(h) = c.handler() {
            spec["handler"] = h.into();
        }
        if let Some(a) = c.architectures().first() {
            spec["architecture"] = match a {
                Architecture::Arm64 => "ARM64",
                _ => "X86_64",
            }
            .into();
        }
        let concurrency = self
            .lambda
            .get_function_concurrency()
            .function_name(t.name)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the concurrency of {}", t.name), e))?
            .reserved_concurrent_executions();
        match concurrency {
            Some(n) => spec["reservedConcurrency"] = n.into(),
            None => {
                if let Some(o) = spec.as_object_mut() {
                    o.remove("reservedConcurrency");
                }
            }
        }
        Ok(Some(Observed {
            outcome: outcome(t.name, &c, ids.get("securityGroup").map(String::as_str)),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, LambdaSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<LambdaSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if let Some(c) = self.get(name).await? {
            for (uuid, _, _) in self.mappings(name).await? {
                self.delete_mapping(&uuid).await?;
            }
            for rule in self
                .schedule_rules(name, c.function_arn().unwrap_or_default())
                .await?
            {
                self.delete_schedule(name, &rule).await?;
            }
            let deleted = self
                .lambda
                .delete_function()
                .function_name(name)
                .send()
                .await;
            unless_gone(
                deleted,
                |s| s.is_resource_not_found_exception(),
                format!("deleting Lambda function {name}"),
            )?;
        }
        delete_role(&self.iam, &role(name)).await?;
        delete_log_group(&self.logs, &log_group(name)).await?;
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            // A VPC function's network interfaces go some minutes after it; the security group
            // refuses deletion until then, and the engine retries.
            delete_security_group(&self.ec2, sg).await?;
        }
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

    async fn find(&self, t: &Target<'_, LambdaSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(c) = self.get(t.name).await? else {
            return Ok(None);
        };
        let sg = if t.spec.vpc {
            Some(crate::network::security_group_of(&self.ec2, t.config, t.name).await?)
        } else {
            None
        };
        Ok(Some(outcome(t.name, &c, sg.as_deref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_their_limits() {
        let long = "a-rather-long-stack-name-production-payments-webhook-handler-x";
        assert!(role(long).len() <= 64);
        let rule = schedule_rule(long, 3);
        assert!(rule.len() <= 64, "{rule}");
        assert!(rule.starts_with(&schedule_prefix(long)), "{rule}");
        assert_eq!(
            schedule_rule("shop-dev-payments-webhook", 0),
            "shop-dev-payments-webhook-schedule-0"
        );
    }

    #[test]
    fn the_code_digest_follows_the_code_and_architecture_only() {
        let spec = |key: &str, memory: u32| -> LambdaSpec {
            serde_json::from_value(json!({"runtime": "python3.12", "handler": "app.handler",
                "code": {"s3": {"bucket": "artifacts", "key": key}}, "memoryMb": memory}))
            .unwrap()
        };
        assert_eq!(
            code_digest(&spec("a.zip", 128)),
            code_digest(&spec("a.zip", 512))
        );
        assert_ne!(
            code_digest(&spec("a.zip", 128)),
            code_digest(&spec("b.zip", 128))
        );
        assert_eq!(code_of(&spec("a.zip", 128)), "s3://artifacts/a.zip");
        let mut arm = spec("a.zip", 128);
        arm.architecture = CpuArchitecture::Arm64;
        assert_ne!(code_digest(&arm), code_digest(&spec("a.zip", 128)));
    }
}
