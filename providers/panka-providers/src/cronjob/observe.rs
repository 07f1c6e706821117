//! The job as AWS reports it, in the form of its spec.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ContainerDefinition, CpuArchitecture as EcsArch, TaskDefinition};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types::ScheduleState;
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, Observation, ProviderError};
use panka_format::kinds::{CpuArchitecture, CronJobSpec, Logging, Secret};
use panka_format::model::{ComponentInfraSpec, Networking};
use serde_json::Value;

use crate::iam::Grants;
use crate::microservice::{
    ALLOW_WILDCARD, TaskNetwork, container_name, log_group, networking_of, resources_of,
    sidecars_of,
};

use super::{SCHEDULER_DEFAULT_RETRIES, image_of, literal_environment, secret_source};

/// What AWS reports of a job: the answers of the read's calls.
pub(super) struct Job<'a> {
    /// The component's address: its container is named after it.
    pub address: &'a str,
    pub name: &'a str,
    /// GetSchedule.
    pub schedule: &'a GetScheduleOutput,
    /// DescribeStateMachine: its definition.
    pub definition: &'a str,
    /// DescribeTaskDefinition of the revision the state machine runs.
    pub task: &'a TaskDefinition,
    /// The log group's retention (`None`: no log group).
    pub retention: Option<u32>,
    /// GetRolePolicy and ListAttachedRolePolicies of the task role.
    pub grants: &'a Grants,
}

/// The job as AWS reports it, in the form of its spec: the inverse of
/// [`schedule_target`](super::schedule_target), [`schedule_state`](super::schedule_state),
/// [`run_definition`](super::run_definition), the task definition microservice registers and the
/// grants of its task role. `ids` are the job's physical ids.
pub(super) fn observe(
    job: &Job<'_>,
    mut ids: BTreeMap<String, String>,
) -> Result<Observation<CronJobSpec>, ProviderError> {
    let Job {
        address,
        name,
        schedule,
        definition,
        task,
        retention,
        grants,
    } = *job;
    let mut unobserved = vec![crate::DEPENDS_ON.field, ALLOW_WILDCARD.field];
    let td_arn = task.task_definition_arn().map(str::to_string);
    // The component's container is named after it; panka registers it first.
    let all = task.container_definitions();
    let container: &ContainerDefinition = all
        .iter()
        .find(|c| c.name() == Some(container_name(address)))
        .or(all.first())
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "task definition {} has no container",
                    td_arn.as_deref().unwrap_or(name)
                ),
            )
        })?;
    let parsed = serde_json::from_str::<Value>(definition).ok();
    let timeout = parsed
        .as_ref()
        .and_then(|d| {
            d.pointer("/States/Run/TimeoutSeconds")
                .and_then(Value::as_u64)
        })
        .and_then(|t| u32::try_from(t).ok());
    if timeout.is_none() {
        unobserved.push("timeoutSeconds");
    }
    if retention.is_none() {
        unobserved.push("logging.retentionDays");
    }
    let retries = schedule
        .target()
        .and_then(|t| t.retry_policy())
        .and_then(|p| p.maximum_retry_attempts())
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(SCHEDULER_DEFAULT_RETRIES);
    let arch = match task.runtime_platform().and_then(|p| p.cpu_architecture()) {
        Some(EcsArch::Arm64) => CpuArchitecture::Arm64,
        _ => CpuArchitecture::X86_64,
    };
    let spec = CronJobSpec {
        image: image_of(container.image().unwrap_or_default()),
        // An empty list is what some endpoints report for none set: panka sets none then.
        command: container.command.clone().filter(|c| !c.is_empty()),
        entrypoint: container.entry_point.clone().filter(|c| !c.is_empty()),
        schedule: schedule
            .schedule_expression()
            .unwrap_or_default()
            .to_string(),
        // Scheduler's default zone is UTC.
        timezone: schedule
            .schedule_expression_timezone()
            .unwrap_or("UTC")
            .to_string(),
        environment: literal_environment(
            container
                .environment()
                .iter()
                .filter_map(|kv| Some((kv.name()?, kv.value().unwrap_or_default()))),
        ),
        secrets: {
            let mut secrets: Vec<Secret> = container
                .secrets()
                .iter()
                .map(|s| Secret {
                    name: s.name().to_string(),
                    value_from: secret_source(s.value_from()),
                })
                .collect();
            secrets.sort_by(|a, b| a.name.cmp(&b.name));
            secrets
        },
        retries,
        timeout_seconds: timeout.unwrap_or_default(),
        suspended: schedule.state() == Some(&ScheduleState::Disabled),
        logging: Logging {
            retention_days: retention.unwrap_or_default(),
        },
        cpu_architecture: arch,
        permissions: grants.permissions.clone(),
        managed_policies: grants.managed_policies.clone(),
        sidecars: sidecars_of(task, container.name()),
        depends_on: Vec::new(),
    };
    let mut outputs = BTreeMap::from([("logGroupName".to_string(), log_group(name))]);
    if let Some(arn) = schedule.arn().filter(|a| !a.is_empty()) {
        outputs.insert("scheduleArn".to_string(), arn.to_string());
    }
    if let Some(arn) = &td_arn {
        outputs.insert("taskDefinitionArn".to_string(), arn.clone());
        ids.insert("taskDefinition".to_string(), arn.clone());
    }
    if let Some(arn) = task.task_role_arn().filter(|a| !a.is_empty()) {
        outputs.insert("taskRoleArn".to_string(), arn.to_string());
    }
    let infra = infra_of(parsed.as_ref(), task, &ids, &mut unobserved);
    let outcome = Outcome {
        physical_ids: ids,
        outputs,
    };
    Ok(Observation::new(outcome, spec)
        .unobserved(&unobserved)
        .with_infra(infra))
}

/// The job's infra as AWS reports it: the task definition's size and the network of the state
/// machine's `RunTask` parameters (the inverse of [`run_definition`](super::run_definition)); a job
/// has no task count. `ids` are its physical ids (its own security group, the recorded subnets).
fn infra_of(
    definition: Option<&Value>,
    task: &TaskDefinition,
    ids: &BTreeMap<String, String>,
    unobserved: &mut Vec<&'static str>,
) -> ComponentInfraSpec {
    let resources = resources_of(Some(task), unobserved);
    let vpc = definition
        .and_then(|d| d.pointer("/States/Run/Parameters/NetworkConfiguration/AwsvpcConfiguration"));
    let strings = |field: &str| -> Vec<String> {
        vpc.and_then(|v| v.get(field))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let networking = match vpc {
        Some(v) => {
            let (subnets, security_groups) = (strings("Subnets"), strings("SecurityGroups"));
            let network = TaskNetwork {
                subnets: &subnets,
                security_groups: &security_groups,
                // RunTask's default is DISABLED.
                public_ip: v.get("AssignPublicIp").and_then(Value::as_str) == Some("ENABLED"),
            };
            networking_of(
                &network,
                ids.get("securityGroup").map(String::as_str),
                ids,
                unobserved,
            )
        }
        None => {
            // A state machine panka did not write: it names no network.
            unobserved.push("infra.networking");
            Networking::default()
        }
    };
    ComponentInfraSpec {
        resources,
        scaling: None,
        networking,
    }
}
