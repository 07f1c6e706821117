//! CronJobs: a Fargate task run on a schedule, on the stack's shared cluster.
//!
//! The task is built like a Worker's (log group `/ecs/NAME`, execution and task roles, a
//! security group the referenced data stores admit, a task definition revised only when its
//! input changes). An EventBridge Scheduler schedule (`NAME`, with its time zone, `retries` as
//! its retry policy, disabled while `suspended`) starts a Step Functions state machine (`NAME`)
//! whose one state runs the task with `ecs:runTask.sync` and `TimeoutSeconds` =
//! `timeoutSeconds`: EventBridge Scheduler alone cannot bound a task's run time, Step Functions
//! stops the task when the time is up (its role holds `ecs:StopTask` for that). Each run is an
//! execution of the state machine, which `panka status` reports.
//!
//! Roles: `NAME-run` (Step Functions: run and stop the task, pass its roles) and `NAME-schedule`
//! (the scheduler: start the state machine). Outputs: `scheduleArn`, `taskDefinitionArn`,
//! `taskRoleArn`, `logGroupName`.

use std::collections::BTreeMap;

use aws_sdk_scheduler::types::{
    FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target as ScheduleTarget,
};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use backon::Retryable;
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{CronJobSpec, EnvVar, Image, SecretSource};
use panka_format::naming::shorten;
use serde_json::{Value, json};

use crate::errors::{aws_error, check_owner, not_owned, poll_while, unless_gone, unless_missing};
use crate::iam::{delete_role, ensure_role, role_propagation};
use crate::microservice::{Context, EcsServiceProvider, TaskPieces, log_group};

mod observe;

use observe::{Job, observe};

/// How long an event may wait for its run when the scheduler cannot start it at once.
const MAX_EVENT_AGE_SECONDS: i32 = 86_400;
/// EventBridge Scheduler's retry attempts when a schedule's target has no retry policy.
/// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html
const SCHEDULER_DEFAULT_RETRIES: u32 = 185;

/// How long a deleted state machine may stay DELETING: terraform-provider-aws
/// (`internal/service/sfn/wait.go`, `waitStateMachineDeleted`) allows 5 minutes, polling
/// DescribeStateMachine while it reports ACTIVE or DELETING.
#[cfg(not(test))]
const MACHINE_DELETE_POLL: std::time::Duration = std::time::Duration::from_secs(5);
#[cfg(test)]
const MACHINE_DELETE_POLL: std::time::Duration = std::time::Duration::from_millis(5);
const MACHINE_DELETE_POLLS: usize = 60;

const ASSUME_STATES: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const ASSUME_SCHEDULER: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The CronJob provider.
#[derive(Clone, Debug)]
pub struct CronJobProvider {
    tasks: EcsServiceProvider<CronJobSpec>,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    iam: aws_sdk_iam::Client,
    sfn: aws_sdk_sfn::Client,
    scheduler: aws_sdk_scheduler::Client,
}

impl CronJobProvider {
    pub fn new(
        tasks: crate::microservice::Clients,
        sfn: aws_sdk_sfn::Client,
        scheduler: aws_sdk_scheduler::Client,
    ) -> Self {
        CronJobProvider {
            ecs: tasks.ecs.clone(),
            logs: tasks.logs.clone(),
            iam: tasks.iam.clone(),
            tasks: EcsServiceProvider::new(tasks),
            sfn,
            scheduler,
        }
    }
}

/// IAM role names are limited to 64 characters.
pub fn run_role(name: &str) -> String {
    format!("{}-run", shorten(name, 60))
}

pub fn schedule_role(name: &str) -> String {
    format!("{}-schedule", shorten(name, 55))
}

/// The state machine that runs the task and stops it at the deadline.
fn definition(
    t: &Target<'_, CronJobSpec>,
    ctx: &Context,
    task_definition: &str,
    sg: &str,
) -> Value {
    run_definition(
        t.address,
        t.spec.timeout_seconds,
        &ctx.cluster,
        &ctx.subnets,
        ctx.public_ip,
        task_definition,
        sg,
        &ctx.infra.networking.security_groups,
    )
}

/// The state machine definition: one `ecs:runTask.sync` state bounded by `timeout` seconds,
/// running the task in `subnets` with its own group `sg` and the component's `extra_groups`.
#[allow(clippy::too_many_arguments)]
fn run_definition(
    address: &str,
    timeout: u32,
    cluster: &str,
    subnets: &[String],
    public_ip: bool,
    task_definition: &str,
    sg: &str,
    extra_groups: &[String],
) -> Value {
    let groups: Vec<&str> = std::iter::once(sg)
        .chain(extra_groups.iter().map(String::as_str))
        .collect();
    json!({
        "Comment": format!(
            "panka: {address} runs {task_definition}, stopped after {timeout} s"
        ),
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "TimeoutSeconds": timeout,
                "Parameters": {
                    "Cluster": cluster,
                    "TaskDefinition": task_definition,
                    "LaunchType": "FARGATE",
                    "PropagateTags": "TASK_DEFINITION",
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": subnets,
                            "SecurityGroups": groups,
                            "AssignPublicIp": if public_ip { "ENABLED" } else { "DISABLED" },
                        },
                    },
                },
                "End": true,
            },
        },
    })
}

/// The schedule's target: the state machine, started by `role_arn`, with `retries` retries.
fn schedule_target(
    name: &str,
    spec: &CronJobSpec,
    state_machine: &str,
    role_arn: &str,
) -> Result<ScheduleTarget, ProviderError> {
    ScheduleTarget::builder()
        .arn(state_machine)
        .role_arn(role_arn)
        .input(json!({"schedule": name}).to_string())
        .retry_policy(
            RetryPolicy::builder()
                .maximum_retry_attempts(spec.retries as i32)
                .maximum_event_age_in_seconds(MAX_EVENT_AGE_SECONDS)
                .build(),
        )
        .build()
        .map_err(|e| ProviderError::new(ErrorKind::Invalid, format!("schedule target: {e}")))
}

/// The schedule's state: disabled while `suspended`.
fn schedule_state(spec: &CronJobSpec) -> ScheduleState {
    if spec.suspended {
        ScheduleState::Disabled
    } else {
        ScheduleState::Enabled
    }
}

/// What the state machine's role may do: run the family's revisions, watch and stop its tasks,
/// pass the task's roles, and keep the rule Step Functions uses to learn that a task ended.
fn run_statements(region: &str, task_definition: &str, p: &TaskPieces) -> Vec<Value> {
    let family = task_definition
        .rsplit_once(':')
        .map(|(family, _)| format!("{family}:*"))
        .unwrap_or_else(|| task_definition.to_string());
    vec![
        json!({"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": family}),
        json!({"Effect": "Allow", "Action": ["ecs:StopTask", "ecs:DescribeTasks"], "Resource": "*"}),
        json!({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [p.exec_arn, p.task_arn]}),
        json!({"Effect": "Allow", "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
               "Resource": format!("arn:aws:events:{region}:*:rule/StepFunctionsGetEventsForECSTaskRule")}),
    ]
}

/// The task definition a state machine definition runs.
fn task_definition_of(definition: &str) -> Option<String> {
    let v: Value = serde_json::from_str(definition).ok()?;
    v.pointer("/States/Run/Parameters/TaskDefinition")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A service refuses a role it cannot assume yet: worth trying again for a little while.
fn role_not_ready(message: Option<&str>) -> bool {
    message.is_some_and(|m| m.contains("assume") || m.contains("role"))
}

impl CronJobProvider {
    /// Refuses a state machine or schedule of this job's name that is not this component's.
    /// The state machine must carry the component's tags. EventBridge Scheduler tags schedule
    /// groups, not schedules
    /// (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_TagResource.html), so a
    /// schedule is this job's when it starts this job's state machine.
    async fn check_job_owner(&self, t: &Target<'_, CronJobSpec>) -> Result<(), ProviderError> {
        let machine = self.state_machine(t.name).await?.map(|(arn, _)| arn);
        if let Some(arn) = &machine {
            let listed = self
                .sfn
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the tags of {arn}"), e))?;
            check_owner(
                &format!("state machine {}", t.name),
                t.address,
                listed
                    .tags()
                    .iter()
                    .filter_map(|tag| Some((tag.key()?, tag.value()?))),
                t.tags,
            )?;
        }
        if let Some(schedule) = self.schedule(t.name).await? {
            let starts = schedule.target().map(|target| target.arn());
            if starts != machine.as_deref() {
                return Err(not_owned(
                    &format!("schedule {}", t.name),
                    t.address,
                    &format!("it starts {}", starts.unwrap_or("nothing")),
                ));
            }
        }
        Ok(())
    }

    /// Stops the state machine's running executions (Step Functions stops the ECS task a
    /// `runTask.sync` state waits on:
    /// https://docs.aws.amazon.com/step-functions/latest/dg/connect-ecs.html), deletes it, and
    /// waits until DescribeStateMachine no longer finds it: DeleteStateMachine only marks it
    /// DELETING until its executions end
    /// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DeleteStateMachine.html),
    /// and the run role must outlive it so that the tasks can be stopped.
    async fn delete_machine(&self, arn: &str) -> Result<(), ProviderError> {
        let mut next = None;
        loop {
            let page = self
                .sfn
                .list_executions()
                .state_machine_arn(arn)
                .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
                .set_next_token(next)
                .send()
                .await;
            let Some(page) = unless_missing(
                page,
                |s| s.is_state_machine_does_not_exist(),
                format!("listing the running executions of {arn}"),
            )?
            else {
                return Ok(());
            };
            for execution in page.executions() {
                let stopped = self
                    .sfn
                    .stop_execution()
                    .execution_arn(execution.execution_arn())
                    .cause("the CronJob is being destroyed")
                    .send()
                    .await;
                unless_gone(
                    stopped,
                    |s| s.is_execution_does_not_exist(),
                    format!("stopping execution {}", execution.execution_arn()),
                )?;
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        let deleted = self
            .sfn
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await;
        unless_gone(
            deleted,
            |s| s.code() == Some("StateMachineDoesNotExist"),
            format!("deleting state machine {arn}"),
        )?;
        poll_while(
            MACHINE_DELETE_POLL,
            MACHINE_DELETE_POLLS,
            ErrorKind::Timeout,
            || async {
                match self.describe_machine(arn).await? {
                    None => Ok(()),
                    Some(_) => Err(ProviderError::new(
                        ErrorKind::Timeout,
                        format!(
                            "state machine {arn} is still being deleted after {} s",
                            MACHINE_DELETE_POLL.as_secs() * MACHINE_DELETE_POLLS as u64
                        ),
                    )),
                }
            },
        )
        .await
    }

    async fn state_machine(&self, name: &str) -> Result<Option<(String, String)>, ProviderError> {
        let mut next = None;
        loop {
            let page = self
                .sfn
                .list_state_machines()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error("listing state machines", e))?;
            if let Some(m) = page.state_machines().iter().find(|m| m.name() == name) {
                let arn = m.state_machine_arn().to_string();
                let described = self
                    .sfn
                    .describe_state_machine()
                    .state_machine_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("reading state machine {name}"), e))?;
                return Ok(Some((arn, described.definition().to_string())));
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(None);
            }
        }
    }

    async fn schedule(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput>, ProviderError>
    {
        unless_missing(
            self.scheduler.get_schedule().name(name).send().await,
            |s| s.is_resource_not_found_exception(),
            format!("reading schedule {name}"),
        )
    }

    /// Creates or updates the state machine; returns its ARN.
    async fn ensure_state_machine(
        &self,
        t: &Target<'_, CronJobSpec>,
        existing: Option<&str>,
        definition: &Value,
        role_arn: &str,
    ) -> Result<String, ProviderError> {
        let text = definition.to_string();
        if let Some(arn) = existing {
            self.sfn
                .update_state_machine()
                .state_machine_arn(arn)
                .definition(&text)
                .role_arn(role_arn)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating state machine {}", t.name), e))?;
            return Ok(arn.to_string());
        }
        let tags: Vec<aws_sdk_sfn::types::Tag> = t
            .tags
            .iter()
            .map(|(k, v)| aws_sdk_sfn::types::Tag::builder().key(k).value(v).build())
            .collect();
        let create = || async {
            self.sfn
                .create_state_machine()
                .name(t.name)
                .definition(&text)
                .role_arn(role_arn)
                .set_tags(Some(tags.clone()))
                .send()
                .await
        };
        let created = create
            .retry(role_propagation())
            .sleep(tokio::time::sleep)
            .when(|e| {
                e.as_service_error()
                    .is_some_and(|s| s.is_invalid_arn() || role_not_ready(s.message()))
                    && !e
                        .as_service_error()
                        .is_some_and(|s| s.is_state_machine_already_exists())
            })
            .await
            .map_err(|e| aws_error(format!("creating state machine {}", t.name), e))?;
        Ok(created.state_machine_arn().to_string())
    }

    /// Creates or updates the schedule starting `state_machine`.
    async fn ensure_schedule(
        &self,
        t: &Target<'_, CronJobSpec>,
        exists: bool,
        state_machine: &str,
        role_arn: &str,
    ) -> Result<String, ProviderError> {
        let s = &t.spec;
        let target = schedule_target(t.name, s, state_machine, role_arn)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| ProviderError::new(ErrorKind::Invalid, format!("time window: {e}")))?;
        let state = schedule_state(s);
        let description = format!("panka: {}", t.address);
        let arn = if exists {
            self.scheduler
                .update_schedule()
                .name(t.name)
                .schedule_expression(&s.schedule)
                .schedule_expression_timezone(&s.timezone)
                .flexible_time_window(window)
                .target(target)
                .state(state)
                .description(description)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating schedule {}", t.name), e))?
                .schedule_arn()
                .to_string()
        } else {
            let create = || async {
                self.scheduler
                    .create_schedule()
                    .name(t.name)
                    .schedule_expression(&s.schedule)
                    .schedule_expression_timezone(&s.timezone)
                    .flexible_time_window(window.clone())
                    .target(target.clone())
                    .state(state.clone())
                    .description(&description)
                    .send()
                    .await
            };
            match create
                .retry(role_propagation())
                .sleep(tokio::time::sleep)
                .when(|e| {
                    e.as_service_error().is_some_and(|s| {
                        s.is_validation_exception()
                            && role_not_ready(
                                aws_sdk_scheduler::error::ProvideErrorMetadata::message(s),
                            )
                    })
                })
                .await
            {
                Ok(created) => created.schedule_arn().to_string(),
                // Created by a run that did not finish: bring it to the spec.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conflict_exception()) =>
                {
                    return Box::pin(self.ensure_schedule(t, true, state_machine, role_arn)).await;
                }
                Err(e) => return Err(aws_error(format!("creating schedule {}", t.name), e)),
            }
        };
        Ok(arn)
    }

    async fn converge(&self, t: &Target<'_, CronJobSpec>) -> Result<Outcome, ProviderError> {
        let ctx = self.tasks.context(t).await?;
        let mut ids = BTreeMap::new();
        let pieces = self.tasks.ensure_task_pieces(t, &ctx, &mut ids).await?;
        let machine = self.state_machine(t.name).await?;
        let current_td = machine.as_ref().and_then(|(_, d)| task_definition_of(d));
        let td_arn = self
            .tasks
            .ensure_task_definition(
                t,
                &ctx,
                &pieces.exec_arn,
                &pieces.task_arn,
                current_td.clone(),
            )
            .await?;
        let run_role_arn = ensure_role(
            &self.iam,
            &run_role(t.name),
            ASSUME_STATES,
            run_statements(t.region, &td_arn, &pieces),
            t.tags,
        )
        .await?;
        let machine_arn = self
            .ensure_state_machine(
                t,
                machine.as_ref().map(|(arn, _)| arn.as_str()),
                &definition(t, &ctx, &td_arn, &pieces.sg),
                &run_role_arn,
            )
            .await?;
        let schedule_role_arn = ensure_role(
            &self.iam,
            &schedule_role(t.name),
            ASSUME_SCHEDULER,
            vec![json!({"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": machine_arn})],
            t.tags,
        )
        .await?;
        let exists = self.schedule(t.name).await?.is_some();
        let schedule_arn = self
            .ensure_schedule(t, exists, &machine_arn, &schedule_role_arn)
            .await?;
        // A run in progress keeps its revision (deregistered, INACTIVE); the next one starts the
        // new revision. Revisions an earlier try registered and no run used are deleted.
        self.tasks
            .deregister_others(&td_arn, current_td.as_deref())
            .await?;
        ids.insert("stateMachine".to_string(), machine_arn);
        ids.insert("schedule".to_string(), t.name.to_string());
        ids.insert("taskDefinition".to_string(), td_arn.clone());
        Ok(Outcome {
            physical_ids: ids,
            outputs: BTreeMap::from([
                ("scheduleArn".to_string(), schedule_arn),
                ("taskDefinitionArn".to_string(), td_arn),
                ("taskRoleArn".to_string(), pieces.task_arn),
                ("logGroupName".to_string(), log_group(t.name)),
            ]),
        })
    }
}

impl KindProvider for CronJobProvider {
    type Spec = CronJobSpec;
    const KIND: &'static str = "CronJob";
    const UNOBSERVABLE: &'static [Unobservable] =
        &[crate::DEPENDS_ON, crate::microservice::ALLOW_WILDCARD];

    async fn create(&self, t: &Target<'_, CronJobSpec>) -> Result<Outcome, ProviderError> {
        self.check_job_owner(t).await?;
        self.converge(t).await
    }

    /// GetSchedule + DescribeStateMachine + DescribeTaskDefinition (the revision the state
    /// machine runs) + DescribeLogGroups + GetRolePolicy and ListAttachedRolePolicies (the task
    /// role's permissions and managed policies) = 6 calls, by the recorded schedule name and
    /// state machine ARN. The infra (task size, network) comes from the task definition and the
    /// state machine's `RunTask` parameters: no further call.
    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<CronJobSpec>>, ProviderError> {
        self.look(id.address, id.name, id.ids).await
    }

    async fn update(
        &self,
        t: &Target<'_, CronJobSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<CronJobSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let deleted = self.scheduler.delete_schedule().name(name).send().await;
        unless_gone(
            deleted,
            |s| s.is_resource_not_found_exception(),
            format!("deleting schedule {name}"),
        )?;
        let machine = match ids.get("stateMachine") {
            Some(arn) => Some(arn.clone()),
            None => self.state_machine(name).await?.map(|(arn, _)| arn),
        };
        if let Some(arn) = machine {
            self.delete_machine(&arn).await?;
        }
        delete_role(&self.iam, &schedule_role(name)).await?;
        delete_role(&self.iam, &run_role(name)).await?;
        self.tasks.delete_task_pieces(name, ids).await
    }

    async fn health(
        &self,
        t: &Target<'_, CronJobSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let Some(s) = self.schedule(t.name).await? else {
            return Ok(None);
        };
        let mut line = format!(
            "{} · {}",
            s.state().map(|x| x.as_str()).unwrap_or("unknown"),
            s.schedule_expression().unwrap_or("?")
        );
        if let Some((arn, _)) = self.state_machine(t.name).await? {
            let runs = self
                .sfn
                .list_executions()
                .state_machine_arn(&arn)
                .max_results(1)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the runs of {}", t.name), e))?;
            match runs.executions().first() {
                Some(run) => line.push_str(&format!(
                    " · last run {} at {}",
                    run.status().as_str(),
                    run.start_date()
                )),
                None => line.push_str(" · not run yet"),
            }
        }
        Ok(Some(line))
    }

    async fn find(&self, t: &Target<'_, CronJobSpec>) -> Result<Option<Outcome>, ProviderError> {
        self.check_job_owner(t).await?;
        Ok(self
            .look(t.address, t.name, &BTreeMap::new())
            .await?
            .map(|o| o.outcome))
    }
}

impl CronJobProvider {
    /// The job as AWS reports it; `None` when its schedule or state machine is gone. `ids` are
    /// the recorded ones (empty for a job not yet recorded: then found by name).
    async fn look(
        &self,
        address: &str,
        name: &str,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observation<CronJobSpec>>, ProviderError> {
        let schedule_name = ids.get("schedule").map_or(name, String::as_str);
        let Some(schedule) = self.schedule(schedule_name).await? else {
            return Ok(None);
        };
        let machine = match ids.get("stateMachine") {
            Some(arn) => self.describe_machine(arn).await?.map(|d| (arn.clone(), d)),
            // Recorded before the state machine's ARN was.
            None => self.state_machine(name).await?,
        };
        let Some((machine_arn, definition)) = machine else {
            return Ok(None);
        };
        let td_arn = task_definition_of(&definition)
            .or_else(|| ids.get("taskDefinition").cloned())
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("state machine {machine_arn} names no task definition"),
                )
            })?;
        let task = self
            .ecs
            .describe_task_definition()
            .task_definition(&td_arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading task definition {td_arn}"), e))?;
        let task = task.task_definition().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("ECS returned no task definition for {td_arn}"),
            )
        })?;
        let retention = log_retention(&self.logs, &log_group(name)).await?;
        // The task role the revision names (panka's `NAME-task` when it names none).
        let role = task
            .task_role_arn()
            .and_then(|arn| arn.rsplit('/').next())
            .map_or_else(|| crate::microservice::task_role(name), str::to_string);
        let managed: Vec<String> = ids
            .get(crate::microservice::MANAGED_POLICIES_ID)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let grants = crate::iam::granted(&self.iam, &role, &managed)
            .await?
            .unwrap_or_default();
        let mut recorded = ids.clone();
        recorded.insert("schedule".to_string(), schedule_name.to_string());
        recorded.insert("stateMachine".to_string(), machine_arn);
        Ok(Some(observe(
            &Job {
                address,
                name,
                schedule: &schedule,
                definition: &definition,
                task,
                retention,
                grants: &grants,
            },
            recorded,
        )?))
    }

    /// The definition of the state machine `arn`; `None` when it does not exist.
    async fn describe_machine(&self, arn: &str) -> Result<Option<String>, ProviderError> {
        Ok(unless_missing(
            self.sfn
                .describe_state_machine()
                .state_machine_arn(arn)
                .send()
                .await,
            |s| s.is_state_machine_does_not_exist(),
            format!("reading state machine {arn}"),
        )?
        .map(|d| d.definition().to_string()))
    }
}

// ------------------------------------------------------------------------------ observing

/// The retention of log group `group`: `None` when it does not exist, `Some(0)` when its events
/// never expire (CloudWatch reports no retention then; 0 is terraform-provider-aws's spelling
/// of "never expire" too, and no retention the spec allows).
/// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html
pub(crate) async fn log_retention(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
) -> Result<Option<u32>, ProviderError> {
    // Groups come sorted by name, so the group itself is first among those it prefixes.
    let found = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .map_err(|e| aws_error(format!("reading log group {group}"), e))?;
    Ok(found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
        .map(|g| {
            g.retention_in_days()
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(0)
        }))
}

/// An image reference as the spec holds it: the inverse of microservice's `image` (digest over
/// tag; `latest`, what panka runs when neither is given, reads as no tag).
pub(crate) fn image_of(uri: &str) -> Image {
    if let Some((repository, digest)) = uri.split_once('@') {
        return Image {
            repository: repository.to_string(),
            tag: None,
            digest: Some(digest.to_string()),
        };
    }
    // A tag follows the last `:` after the last `/` (a registry's `host:port/` is no tag).
    let last = uri.rfind('/').map_or(0, |i| i + 1);
    match uri[last..].rfind(':') {
        Some(i) => {
            let (repository, tag) = (&uri[..last + i], &uri[last + i + 1..]);
            Image {
                repository: repository.to_string(),
                tag: (tag != "latest").then(|| tag.to_string()),
                digest: None,
            }
        }
        None => Image {
            repository: uri.to_string(),
            tag: None,
            digest: None,
        },
    }
}

/// Where a secret lives, from the reference a task definition (or a function's environment)
/// holds: a Secrets Manager ARN (with `:KEY::` after its seven parts when a JSON key is picked),
/// or else an SSM parameter (its ARN or name; ECS takes Secrets Manager secrets by ARN only).
/// A secret of another component's output reads as the ARN it resolved to, which the engine
/// maps back to the reference.
pub(crate) fn secret_source(from: &str) -> SecretSource {
    let parts: Vec<&str> = from.split(':').collect();
    if parts.first() == Some(&"arn") && parts.get(2) == Some(&"secretsmanager") {
        return SecretSource {
            component: None,
            output: None,
            secrets_manager: Some(parts[..parts.len().min(7)].join(":")),
            json_key: parts
                .get(7)
                .filter(|k| !k.is_empty())
                .map(|k| k.to_string()),
            ssm_parameter: None,
        };
    }
    SecretSource {
        component: None,
        output: None,
        secrets_manager: None,
        json_key: None,
        ssm_parameter: Some(from.to_string()),
    }
}

/// Literal environment variables, in name order (the engine puts them in the recorded order).
pub(crate) fn literal_environment<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = vars
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.to_string(),
            value: Some(value.to_string()),
            value_from: None,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests;
