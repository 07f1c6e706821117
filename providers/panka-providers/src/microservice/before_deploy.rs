//! `beforeDeploy`: a one-off task run from the new task definition before the service moves to
//! it (a database migration), with the service's network, roles, environment and secrets and
//! the spec's command in place of the container's own. The deploy goes on only when the
//! component's container exits with code 0; otherwise it stops with the task's stop reason and
//! the container's last log lines, and the service keeps the revision it runs.
//!
//! A task is found before one is started: a run that was cut short (a lost response, a killed
//! apply) left its task running under the same `startedBy`, and a second migration must not run
//! beside it. One of the same revision is waited for and judged; one of another revision is
//! waited for first.
//!
//! The emulator: moto 5.2's RunTask sums the containers' own `memory` and fails (HTTP 500) on a
//! Fargate task definition whose size is set at task level only, as panka registers it, so this
//! path is tested against AWS's documented answers (aws-smithy-mocks), not on the emulator.

use aws_sdk_ecs::client::Waiters as _;
use aws_sdk_ecs::types::{ContainerOverride, Task, TaskOverride};

use super::*;
use crate::errors::aws_error_when;

/// The `startedBy` of every beforeDeploy task, by which a re-run finds one still running.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html (`startedBy`,
/// up to 128 characters)
pub(super) const STARTED_BY: &str = "panka-before-deploy";
/// Log lines quoted when the task fails: enough for a migration's error and its context.
const LOG_LINES: i32 = 20;
/// How long a task of an earlier run, still going, is given to finish before this run gives
/// up: as long as the spec lets a task run.
fn earlier_run_timeout(before: &BeforeDeploy) -> Duration {
    Duration::from_secs(u64::from(before.timeout_minutes) * 60)
}

/// How a beforeDeploy task ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ended {
    /// The component's container exited with code 0.
    Succeeded,
    /// It exited otherwise, or the task stopped without it exiting: what ECS says.
    Failed(String),
}

/// What ECS says of a stopped task: success when the component's container (`container`)
/// exited with 0; else its exit code (or that it has none), the container's reason and the
/// task's stop code and reason.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Container.html
pub(super) fn ended(task: &Task, container: &str) -> Ended {
    let c = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container));
    let code = c.and_then(|c| c.exit_code());
    if code == Some(0) {
        return Ended::Succeeded;
    }
    let mut parts = vec![match code {
        Some(n) => format!("container {container} exited with code {n}"),
        None => format!("container {container} did not exit on its own"),
    }];
    if let Some(reason) = c.and_then(|c| c.reason()).filter(|r| !r.is_empty()) {
        parts.push(format!("container reason: {reason}"));
    }
    match (
        task.stop_code().map(|s| s.as_str()),
        task.stopped_reason().filter(|r| !r.is_empty()),
    ) {
        (Some(code), Some(reason)) => parts.push(format!("task stopped ({code}): {reason}")),
        (None, Some(reason)) => parts.push(format!("task stopped: {reason}")),
        (Some(code), None) => parts.push(format!("task stopped ({code})")),
        (None, None) => {}
    }
    Ended::Failed(parts.join("; "))
}

/// The log stream of a task's container under the `ecs` prefix panka gives the component's
/// container: `ecs/CONTAINER/TASK_ID`.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
pub(super) fn log_stream(container: &str, task_arn: &str) -> String {
    let id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    format!("ecs/{container}/{id}")
}

/// A token for RunTask: the SDK sends it again when it retries the call, so a lost response
/// does not start a second task; a new run of the deploy makes a new one.
fn client_token(task_definition: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Sha256::digest(format!("{task_definition}#{now}").as_bytes())
        .iter()
        .take(16)
        .fold(String::new(), |mut acc, b| {
            let _ = write!(acc, "{b:02x}");
            acc
        })
}

impl<S: EcsKind> EcsServiceProvider<S> {
    /// Runs `before` from `td_arn` in the service's network (`ctx`, its own group `sg`) and
    /// waits for it to stop.
    ///
    /// # Errors
    /// [`ErrorKind::Invalid`] when the container did not exit with 0 (its reasons and last log
    /// lines in the message); [`ErrorKind::Timeout`] when it ran past `timeoutMinutes` (it is
    /// stopped); AWS's errors classified otherwise.
    pub(super) async fn run_before_deploy(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        td_arn: &str,
        sg: &str,
        before: &BeforeDeploy,
    ) -> Result<(), ProviderError> {
        let container = container_name(t.address);
        let mut adopted = None;
        for task in self.running_before_deploy(&ctx.cluster, t.name).await? {
            let arn = task.task_arn().unwrap_or_default().to_string();
            if task.task_definition_arn() == Some(td_arn) && adopted.is_none() {
                adopted = Some(arn);
            } else {
                // A migration of another revision, from an earlier run: never two at once.
                self.wait_stopped(&ctx.cluster, &arn, earlier_run_timeout(before), t)
                    .await?;
            }
        }
        let task_arn = match adopted {
            Some(arn) => arn,
            None => self.start_before_deploy(t, ctx, td_arn, sg, before).await?,
        };
        let timeout = Duration::from_secs(u64::from(before.timeout_minutes) * 60);
        let task = match self.wait_stopped(&ctx.cluster, &task_arn, timeout, t).await {
            Ok(task) => task,
            Err(e) if e.kind == ErrorKind::Timeout => {
                let reason = format!(
                    "panka: beforeDeploy ran longer than {} minutes",
                    before.timeout_minutes
                );
                self.ecs
                    .stop_task()
                    .cluster(&ctx.cluster)
                    .task(&task_arn)
                    .reason(&reason)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("stopping task {task_arn}"), e))?;
                let logs = self.last_log_lines(t.name, container, &task_arn).await;
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "the beforeDeploy task of {} ran longer than {} minutes and was \
                         stopped; the service keeps its revision{logs}",
                        t.address, before.timeout_minutes
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        match ended(&task, container) {
            Ended::Succeeded => Ok(()),
            Ended::Failed(why) => {
                let logs = self.last_log_lines(t.name, container, &task_arn).await;
                Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!(
                        "the beforeDeploy task of {} failed ({why}); the service keeps its \
                         revision{logs}",
                        t.address
                    ),
                ))
            }
        }
    }

    /// The beforeDeploy tasks of the family `family` still meant to run: ListTasks by
    /// `startedBy` and family, then DescribeTasks (no call beyond ListTasks when there are
    /// none).
    async fn running_before_deploy(
        &self,
        cluster: &str,
        family: &str,
    ) -> Result<Vec<Task>, ProviderError> {
        let listed = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .family(family)
            .started_by(STARTED_BY)
            .desired_status(DesiredStatus::Running)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the beforeDeploy tasks of {family}"), e))?;
        if listed.task_arns().is_empty() {
            return Ok(Vec::new());
        }
        let described = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(listed.task_arns().to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the beforeDeploy tasks of {family}"), e))?;
        Ok(described
            .tasks()
            .iter()
            .filter(|t| t.last_status() != Some("STOPPED"))
            .cloned()
            .collect())
    }

    /// RunTask of `td_arn` with the service's network and the spec's command; the new task's
    /// ARN.
    async fn start_before_deploy(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        td_arn: &str,
        sg: &str,
        before: &BeforeDeploy,
    ) -> Result<String, ProviderError> {
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(Some(ctx.subnets.clone()))
                    .set_security_groups(Some(
                        std::iter::once(sg.to_string())
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
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(container_name(t.address))
                    .set_command(Some(before.command.clone()))
                    .build(),
            )
            .build();
        let started = self
            .ecs
            .run_task()
            .cluster(&ctx.cluster)
            .task_definition(td_arn)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network)
            .overrides(overrides)
            .started_by(STARTED_BY)
            .propagate_tags(PropagateTags::TaskDefinition)
            .client_token(client_token(td_arn))
            .send()
            .await
            // A task role made moments ago may not be assumable by ECS yet
            // (terraform-provider-aws internal/service/ecs/task_definition.go retries
            // "ClientException: ... unable to assume role" for the same reason).
            .map_err(|e| {
                aws_error_when(
                    format!("starting the beforeDeploy task of {}", t.address),
                    e,
                    panka_engine::Transient::IamPropagation,
                    |_, message| message.contains("assume"),
                )
            })?;
        if let Some(task) = started.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(task.to_string());
        }
        // RunTask answers placement failures in `failures`, not as an error.
        let reasons: Vec<String> = started
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    f.reason().unwrap_or("no reason given"),
                    f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                )
            })
            .collect();
        Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "ECS started no beforeDeploy task for {}: {}",
                t.address,
                if reasons.is_empty() {
                    "it gave no reason".to_string()
                } else {
                    reasons.join("; ")
                }
            ),
        ))
    }

    /// Waits until task `task_arn` has stopped (the SDK's `tasks_stopped` waiter) and returns it
    /// as ECS then describes it.
    async fn wait_stopped(
        &self,
        cluster: &str,
        task_arn: &str,
        timeout: Duration,
        t: &Target<'_, S>,
    ) -> Result<Task, ProviderError> {
        self.ecs
            .wait_until_tasks_stopped()
            .cluster(cluster)
            .tasks(task_arn)
            .wait(timeout)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for the beforeDeploy task of {} to stop", t.address),
                    e,
                )
            })?;
        let described = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading task {task_arn}"), e))?;
        described.tasks().first().cloned().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("ECS no longer knows the beforeDeploy task {task_arn}"),
            )
        })
    }

    /// The container's last log lines (GetLogEvents from the end of its stream), as text to add
    /// to an error: `""` never, a sentence saying why when there are none.
    async fn last_log_lines(&self, name: &str, container: &str, task_arn: &str) -> String {
        let stream = log_stream(container, task_arn);
        let read = self
            .logs
            .get_log_events()
            .log_group_name(log_group(name))
            .log_stream_name(&stream)
            .start_from_head(false)
            .limit(LOG_LINES)
            .send()
            .await;
        match read {
            Ok(r) if !r.events().is_empty() => {
                let lines: Vec<String> = r
                    .events()
                    .iter()
                    .filter_map(|e| e.message())
                    .map(|m| format!("  {}", m.trim_end()))
                    .collect();
                format!(
                    "\nlast log lines ({} {stream}):\n{}",
                    log_group(name),
                    lines.join("\n")
                )
            }
            Ok(_) => format!(
                "\nthe task wrote no log lines ({} {stream})",
                log_group(name)
            ),
            Err(e) => format!(
                "\nits log lines could not be read ({} {stream}): {}",
                log_group(name),
                crate::errors::message(&e).unwrap_or("no answer")
            ),
        }
    }
}

#[cfg(test)]
#[path = "before_deploy_tests.rs"]
mod tests;
