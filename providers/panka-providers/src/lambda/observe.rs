//! Reading a function back from AWS alone: its configuration, code, reserved concurrency,
//! triggers and log retention, in the form of its spec ([`observe`], the inverse of the
//! create and update requests).
//!
//! Lambda holds secrets as plain environment variables and knows nothing of the spec's order
//! of triggers, so an apply records both in the physical ids: `secret.NAME` (`secretsManager`
//! or `ssmParameter`) for each variable that is a secret, and `trigger.N` (`schedule`, or the
//! queue's ARN) for the N-th trigger. The zip a function runs is not reported either (GetFunction
//! gives a presigned download link): the `CodeSha256` recorded at the last apply (`codeSha256`)
//! stands for it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eventbridge::types::{Rule, RuleState};
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::types::{Architecture, EventSourceMappingConfiguration, PackageType};
use panka_engine::{Identity, Observation, ProviderError, Target, Unobservable};
use panka_format::kinds::{
    CpuArchitecture, LambdaCode, LambdaSpec, LambdaTrigger, Logging, Secret, SecretSource,
    Target as Reference,
};

use super::{
    LambdaProvider, SQS_DEFAULT_BATCH, log_group, outputs, queue_triggers, schedule_prefix,
};
use crate::cronjob::{literal_environment, log_retention};
use crate::errors::{aws_error, unless_missing};
use crate::iam::{Grants, granted};
use crate::microservice::secret_refs;

/// The physical id holding the `CodeSha256` Lambda reported after the last apply.
pub(super) const CODE_SHA_ID: &str = "codeSha256";
const SECRET_ID: &str = "secret.";
const TRIGGER_ID: &str = "trigger.";
const SECRETS_MANAGER: &str = "secretsManager";
const SSM_PARAMETER: &str = "ssmParameter";
const SCHEDULE: &str = "schedule";

pub(super) const UNOBSERVABLE: &[Unobservable] = &[
    crate::DEPENDS_ON,
    crate::microservice::ALLOW_WILDCARD,
    Unobservable {
        field: "code.s3",
        tracked_by: "Lambda reports no zip location (GetFunction gives a presigned download link): \
            the CodeSha256 Lambda reported after the last apply is recorded (physical id \
            `codeSha256`); a different live CodeSha256 reads as the code gone from `code.s3`, and \
            the next apply deploys it again (the tag `panka:code-digest` tracks the spec's side)",
    },
];

/// The ids that record what Lambda cannot tell back: which variables are secrets (and where
/// they live) and the triggers in the spec's order.
pub(super) fn layout_ids(
    t: &Target<'_, LambdaSpec>,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut ids = BTreeMap::new();
    if !t.spec.managed_policies.is_empty() {
        ids.insert(
            crate::microservice::MANAGED_POLICIES_ID.to_string(),
            t.spec.managed_policies.join(","),
        );
    }
    for (s, r) in t
        .spec
        .secrets
        .iter()
        .zip(secret_refs(&t.spec.secrets, t.config)?)
    {
        let v = &s.value_from;
        let kind = if v.ssm_parameter.is_some()
            || (v.component.is_some() && !r.source.contains(":secretsmanager:"))
        {
            SSM_PARAMETER
        } else {
            SECRETS_MANAGER
        };
        ids.insert(format!("{SECRET_ID}{}", s.name), kind.to_string());
    }
    let mut queues = queue_triggers(t)?.into_iter();
    for (i, tr) in t.spec.triggers.iter().enumerate() {
        let what = if tr.queue.is_some() {
            queues.next().map(|(arn, _)| arn)
        } else if tr.schedule.is_some() {
            Some(SCHEDULE.to_string())
        } else {
            None
        };
        if let Some(what) = what {
            ids.insert(format!("{TRIGGER_ID}{i}"), what);
        }
    }
    Ok(ids)
}

/// A mapping that is off (or being turned off) invokes nothing: it is no trigger.
pub(super) fn disabled(m: &EventSourceMappingConfiguration) -> bool {
    matches!(m.state(), Some("Disabled" | "Disabling"))
}

impl LambdaProvider {
    pub(super) async fn observe(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<LambdaSpec>>, ProviderError> {
        let name = id.ids.get("function").map_or(id.name, String::as_str);
        let Some(f) = unless_missing(
            self.lambda.get_function().function_name(name).send().await,
            |s| s.is_resource_not_found_exception(),
            format!("reading Lambda function {name}"),
        )?
        else {
            return Ok(None);
        };
        let mappings = self.mappings(name).await?;
        let rules = self.rules(name).await?;
        let retention = log_retention(&self.logs, &log_group(name)).await?;
        // The role the function runs as (panka's `NAME-lambda` when Lambda names none).
        let role_name = f
            .configuration()
            .and_then(|c| c.role())
            .and_then(|arn| arn.rsplit('/').next())
            .map_or_else(|| super::role(name), str::to_string);
        let managed: Vec<String> = id
            .ids
            .get(crate::microservice::MANAGED_POLICIES_ID)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let grants = granted(&self.iam, &role_name, &managed)
            .await?
            .unwrap_or_default();
        Ok(Some(observe(
            name, id.ids, &f, &mappings, &rules, retention, &grants,
        )))
    }

    /// The rules named as the function's schedules (`NAME-schedule-N`).
    pub(super) async fn rules(&self, name: &str) -> Result<Vec<Rule>, ProviderError> {
        let prefix = schedule_prefix(name);
        let mut rules = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .events
                .list_rules()
                .name_prefix(&prefix)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the schedule rules of {name}"), e))?;
            rules.extend(page.rules().iter().cloned());
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(rules);
            }
        }
    }
}

/// The index of a schedule rule of the function (`PREFIXN`), or `None` for another rule.
pub(super) fn schedule_index(prefix: &str, rule: &str) -> Option<usize> {
    rule.strip_prefix(prefix)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// The function as AWS reports it, in the form of its spec: the inverse of `create_function`,
/// `update_function`, `variables`, `converge_concurrency`, `converge_mappings` and
/// `converge_schedules`, and of the role's grants. `ids` are the recorded physical ids,
/// `retention` is the log group's (`None`: no log group), `grants` the role's permissions and
/// managed policies (GetRolePolicy, ListAttachedRolePolicies).
pub(super) fn observe(
    name: &str,
    ids: &BTreeMap<String, String>,
    f: &GetFunctionOutput,
    mappings: &[EventSourceMappingConfiguration],
    rules: &[Rule],
    retention: Option<u32>,
    grants: &Grants,
) -> Observation<LambdaSpec> {
    let mut unobserved = vec![
        crate::DEPENDS_ON.field,
        crate::microservice::ALLOW_WILDCARD.field,
    ];
    let empty = aws_sdk_lambda::types::FunctionConfiguration::builder().build();
    let c = f.configuration().unwrap_or(&empty);
    // A state written by this version records the code's hash, and with it the layout.
    let recorded_sha = ids.get(CODE_SHA_ID);
    let layout = recorded_sha.is_some();

    // Variables: the secrets first (by the recorded kinds), then the literal rest.
    let vars: HashMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    // Where each secret lives, as recorded.
    let mut kinds: Vec<(String, &str)> = ids
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(SECRET_ID)?.to_string(), v.as_str())))
        .collect();
    if !layout {
        // Recorded before kinds were: a variable holding a secret's ARN is taken for a secret.
        for (k, v) in &vars {
            // In any partition: `arn:aws-cn:secretsmanager:…`.
            let service = v
                .strip_prefix("arn:")
                .and_then(|rest| rest.split(':').nth(1));
            if service == Some("secretsmanager") {
                kinds.push((k.clone(), SECRETS_MANAGER));
            } else if service == Some("ssm") {
                kinds.push((k.clone(), SSM_PARAMETER));
            }
        }
    }
    let mut taken: Vec<String> = Vec::new();
    let mut secrets: Vec<Secret> = Vec::new();
    for (var, kind) in kinds {
        let Some(source) = vars.get(&var) else {
            continue;
        };
        taken.push(var.clone());
        let mut from = SecretSource {
            component: None,
            output: None,
            secrets_manager: None,
            json_key: None,
            ssm_parameter: None,
        };
        if kind == SSM_PARAMETER {
            from.ssm_parameter = Some(source.clone());
        } else {
            from.secrets_manager = Some(source.clone());
            let key = format!("{var}_JSON_KEY");
            if let Some(k) = vars.get(&key) {
                from.json_key = Some(k.clone());
                taken.push(key);
            }
        }
        secrets.push(Secret {
            name: var,
            value_from: from,
        });
    }
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    let environment = literal_environment(
        vars.iter()
            .filter(|(k, _)| !taken.contains(k))
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );

    // Code: an image's URI is reported; a zip's location is not.
    let live_sha = c.code_sha256();
    let replaced = recorded_sha.is_some_and(|r| live_sha != Some(r.as_str()));
    let code = if c.package_type() == Some(&PackageType::Image) {
        let location = f.code();
        let uri = if replaced {
            // Code deployed outside panka under the same URI: its resolved digest differs.
            location
                .and_then(|l| l.resolved_image_uri())
                .or_else(|| location.and_then(|l| l.image_uri()))
        } else {
            location.and_then(|l| l.image_uri())
        };
        LambdaCode {
            s3: None,
            image_uri: uri.map(str::to_string),
        }
    } else {
        if !replaced {
            unobserved.push("code.s3");
        }
        LambdaCode {
            s3: None,
            image_uri: None,
        }
    };

    // Triggers: enabled schedule rules by index, enabled mappings by queue, in recorded order.
    let prefix = schedule_prefix(name);
    let mut schedules: BTreeMap<usize, String> = rules
        .iter()
        .filter(|r| r.state() != Some(&RuleState::Disabled))
        .filter_map(|r| {
            Some((
                schedule_index(&prefix, r.name()?)?,
                r.schedule_expression()?.to_string(),
            ))
        })
        .collect();
    let mut queues: Vec<(String, Option<u32>)> = mappings
        .iter()
        .filter(|m| !disabled(m))
        .filter_map(|m| {
            let batch = m
                .batch_size()
                .filter(|b| *b != SQS_DEFAULT_BATCH)
                .and_then(|b| u32::try_from(b).ok());
            Some((m.event_source_arn()?.to_string(), batch))
        })
        .collect();
    let schedule = |expr: String| LambdaTrigger {
        schedule: Some(expr),
        queue: None,
        batch_size: None,
    };
    let queue = |(arn, batch): (String, Option<u32>)| LambdaTrigger {
        schedule: None,
        queue: Some(Reference { component: arn }),
        batch_size: batch,
    };
    let mut order: Vec<(usize, &String)> = ids
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(TRIGGER_ID)?.parse().ok()?, v)))
        .collect();
    order.sort();
    let mut triggers = Vec::new();
    let mut nth_schedule = 0;
    for (_, what) in order {
        if what == SCHEDULE {
            if let Some(expr) = schedules.remove(&nth_schedule) {
                triggers.push(schedule(expr));
            }
            nth_schedule += 1;
        } else if let Some(i) = queues.iter().position(|(arn, _)| arn == what) {
            triggers.push(queue(queues.remove(i)));
        }
    }
    // What AWS has beyond the recorded triggers, schedules first.
    triggers.extend(schedules.into_values().map(schedule));
    triggers.extend(queues.into_iter().map(queue));

    if retention.is_none() {
        unobserved.push("logging.retentionDays");
    }
    let num = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
    let spec = LambdaSpec {
        runtime: c.runtime().map(|r| r.as_str().to_string()),
        handler: c.handler().map(str::to_string),
        code,
        memory_mb: num(c.memory_size()).unwrap_or_default(),
        timeout_seconds: num(c.timeout()).unwrap_or_default(),
        // Lambda's default /tmp is 512 MB.
        ephemeral_storage_mb: c
            .ephemeral_storage()
            .and_then(|e| u32::try_from(e.size()).ok())
            .unwrap_or(512),
        architecture: match c.architectures().first() {
            Some(Architecture::Arm64) => CpuArchitecture::Arm64,
            _ => CpuArchitecture::X86_64,
        },
        environment,
        secrets,
        reserved_concurrency: num(f
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions())),
        vpc: c.vpc_config().is_some_and(|v| !v.subnet_ids().is_empty()),
        triggers,
        logging: Logging {
            retention_days: retention.unwrap_or_default(),
        },
        permissions: grants.permissions.clone(),
        managed_policies: grants.managed_policies.clone(),
        depends_on: Vec::new(),
    };
    let mut physical_ids = ids.clone();
    physical_ids.insert("function".to_string(), name.to_string());
    let outcome = panka_engine::provider::Outcome {
        physical_ids,
        outputs: outputs(name, c),
    };
    Observation::new(outcome, spec).unobserved(&unobserved)
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
