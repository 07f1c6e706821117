//! beforeDeploy against AWS's documented answers (aws-smithy-mocks): the one-off task is run
//! from the new revision with the service's network and the spec's command, a non-zero exit
//! stops the deploy with the stop reason and the last log lines, a task still running from an
//! earlier attempt is waited for instead of starting another, and a task role ECS cannot assume
//! yet is a transient error.
//!
//! The answers follow the API reference:
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html
//! https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html
//! https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html
//! and the stopped-task reasons of
//! https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html

use std::sync::{Arc, Mutex};

use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::run_task::{RunTaskInput, RunTaskOutput};
use aws_sdk_ecs::types::{Container, TaskStopCode};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use panka_format::model::ComponentInfraSpec;

use super::*;

const NAME: &str = "shop-dev-orders-api";
const ADDRESS: &str = "orders/api";
const CLUSTER: &str = "shop-dev";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dev-orders-api:8";
const TD_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dev-orders-api:7";
const TASK: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/shop-dev/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const EARLIER: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/shop-dev/aaaabbbbccccddddeeeeffff00001111";

fn spec() -> MicroServiceSpec {
    serde_json::from_value(json!({
        "image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api", "tag": "1.5.0"},
        "ports": [{"name": "http", "port": 8080, "public": true, "path": "/orders/*", "priority": 120}],
        "beforeDeploy": {"command": ["./migrate", "up"], "timeoutMinutes": 5}
    }))
    .unwrap()
}

fn context() -> Context {
    Context {
        cluster: CLUSTER.to_string(),
        listeners: BTreeMap::new(),
        lb_group: "sg-lb".to_string(),
        lb_dns: String::new(),
        vpc_id: "vpc-1".to_string(),
        subnets: vec!["subnet-a".to_string(), "subnet-b".to_string()],
        public_ip: false,
        infra: ComponentInfraSpec::default(),
        network_ids: BTreeMap::new(),
        namespace: None,
    }
}

/// A task as DescribeTasks reports it once stopped: the component's container exited with
/// `exit` (none: it never ran), with ECS's stop code and reason.
fn stopped(arn: &str, td: &str, exit: Option<i32>, code: TaskStopCode, reason: &str) -> Task {
    let mut c = Container::builder()
        .name("api")
        .task_arn(arn)
        .last_status("STOPPED");
    if let Some(e) = exit {
        c = c.exit_code(e);
    }
    Task::builder()
        .task_arn(arn)
        .task_definition_arn(td)
        .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/shop-dev")
        .last_status("STOPPED")
        .desired_status("STOPPED")
        .stop_code(code)
        .stopped_reason(reason)
        .containers(c.build())
        .build()
}

fn running(arn: &str, td: &str) -> Task {
    Task::builder()
        .task_arn(arn)
        .task_definition_arn(td)
        .last_status("RUNNING")
        .desired_status("RUNNING")
        .containers(
            Container::builder()
                .name("api")
                .last_status("RUNNING")
                .build(),
        )
        .build()
}

/// The calls a run makes, answered: ListTasks with `listed`, RunTask (its request kept in
/// `sent`) starting TASK, DescribeTasks with `described` for any task asked, GetLogEvents with
/// `lines`.
struct Replay {
    list: Rule,
    run: Rule,
    describe: Rule,
    logs: Rule,
    sent: Arc<Mutex<Vec<RunTaskInput>>>,
}

fn replay(
    listed: Vec<&'static str>,
    described: Vec<Task>,
    lines: &'static [&'static str],
) -> Replay {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let keep = sent.clone();
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .match_requests(|r| {
            r.started_by() == Some(before_deploy::STARTED_BY) && r.family() == Some(NAME)
        })
        .then_output(move || {
            ListTasksOutput::builder()
                .set_task_arns(Some(listed.iter().map(|s| s.to_string()).collect()))
                .build()
        });
    let run = mock!(aws_sdk_ecs::Client::run_task).then_compute_output(move |input| {
        keep.lock().unwrap().push(input.clone());
        RunTaskOutput::builder()
            .tasks(running(TASK, TD_NEW))
            .build()
    });
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |input| {
        let asked = input.tasks();
        DescribeTasksOutput::builder()
            .set_tasks(Some(
                described
                    .iter()
                    .filter(|t| asked.iter().any(|a| Some(a.as_str()) == t.task_arn()))
                    .cloned()
                    .collect(),
            ))
            .build()
    });
    let logs = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
        .match_requests(|r| {
            r.log_group_name() == Some("/ecs/shop-dev-orders-api")
                && r.log_stream_name() == Some("ecs/api/0f1e2d3c4b5a69788796a5b4c3d2e1f0")
                && r.start_from_head() == Some(false)
        })
        .then_output(move || {
            GetLogEventsOutput::builder()
                .set_events(Some(
                    lines
                        .iter()
                        .map(|l| OutputLogEvent::builder().message(*l).timestamp(1).build())
                        .collect(),
                ))
                .build()
        });
    Replay {
        list,
        run,
        describe,
        logs,
        sent,
    }
}

fn provider(r: &Replay) -> MicroServiceProvider {
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    EcsServiceProvider::new(Clients {
        ecs: mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            [&r.list, &r.run, &r.describe]
        ),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&r.logs]),
        // Clients a beforeDeploy run never calls.
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        scaling: aws_sdk_applicationautoscaling::Client::new(&conf),
        ec2: aws_sdk_ec2::Client::new(&conf),
        discovery: crate::microservice::unused_discovery(),
    })
}

async fn run(r: &Replay) -> Result<(), ProviderError> {
    let spec = spec();
    let tags = BTreeMap::new();
    let config = json!({});
    let t = Target {
        address: ADDRESS,
        name: NAME,
        spec: spec.clone(),
        tags: &tags,
        region: "us-east-1",
        config: &config,
    };
    let before = spec.before_deploy.clone().unwrap();
    provider(r)
        .run_before_deploy(&t, &context(), TD_NEW, "sg-task", &before)
        .await
}

#[tokio::test]
async fn the_task_runs_the_command_from_the_new_revision_in_the_service_s_network() {
    let r = replay(
        vec![],
        vec![stopped(
            TASK,
            TD_NEW,
            Some(0),
            TaskStopCode::EssentialContainerExited,
            "Essential container in task exited",
        )],
        &[],
    );
    run(&r).await.unwrap();
    let sent = r.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert_eq!(req.cluster(), Some(CLUSTER));
    assert_eq!(req.task_definition(), Some(TD_NEW));
    assert_eq!(req.launch_type(), Some(&LaunchType::Fargate));
    assert_eq!(req.started_by(), Some(before_deploy::STARTED_BY));
    let o = &req.overrides().unwrap().container_overrides()[0];
    assert_eq!(o.name(), Some("api"));
    assert_eq!(o.command(), ["./migrate", "up"]);
    let vpc = req
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-a", "subnet-b"]);
    assert_eq!(vpc.security_groups(), ["sg-task"]);
    assert_eq!(vpc.assign_public_ip(), Some(&AssignPublicIp::Disabled));
    assert!(
        req.client_token()
            .is_some_and(|t| !t.is_empty() && t.len() <= 64)
    );
    // A success reads no logs.
    assert_eq!(r.logs.num_calls(), 0);
}

#[tokio::test]
async fn a_non_zero_exit_stops_the_deploy_with_the_reason_and_the_last_log_lines() {
    let r = replay(
        vec![],
        vec![stopped(
            TASK,
            TD_NEW,
            Some(1),
            TaskStopCode::EssentialContainerExited,
            "Essential container in task exited",
        )],
        &[
            "applying migration 0042_add_orders_index",
            "ERROR: relation \"orders\" does not exist",
        ],
    );
    let e = run(&r).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    let text = e.to_string();
    for part in [
        "the beforeDeploy task of orders/api failed",
        "container api exited with code 1",
        "task stopped (EssentialContainerExited): Essential container in task exited",
        "the service keeps its revision",
        "/ecs/shop-dev-orders-api ecs/api/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "  applying migration 0042_add_orders_index\n  ERROR: relation \"orders\" does not exist",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert_eq!(r.logs.num_calls(), 1);
}

#[tokio::test]
async fn a_task_that_never_ran_reports_ecs_s_reason() {
    let r = replay(
        vec![],
        vec![stopped(
            TASK,
            TD_NEW,
            None,
            TaskStopCode::TaskFailedToStart,
            "CannotPullContainerError: pull image manifest has been retried 1 time(s): \
             failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.5.0: not found",
        )],
        &[],
    );
    let e = run(&r).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("container api did not exit on its own"),
        "{text}"
    );
    assert!(
        text.contains("task stopped (TaskFailedToStart): CannotPullContainerError"),
        "{text}"
    );
    assert!(text.contains("the task wrote no log lines"), "{text}");
}

#[tokio::test]
async fn a_listed_task_that_has_stopped_is_not_waited_for() {
    // ListTasks by desired status can name a task that has stopped since (moto never clears a
    // task's desired status): DescribeTasks says STOPPED, and a task of this run starts.
    let r = replay(
        vec![TASK],
        vec![stopped(
            TASK,
            TD_NEW,
            Some(0),
            TaskStopCode::EssentialContainerExited,
            "Essential container in task exited",
        )],
        &[],
    );
    run(&r).await.unwrap();
    assert_eq!(r.run.num_calls(), 1);
}

#[tokio::test]
async fn another_revision_s_task_still_running_is_waited_for_before_this_one_starts() {
    // The earlier task reads RUNNING when listed and STOPPED once waited for.
    let earlier_reads = Arc::new(Mutex::new(0usize));
    let reads = earlier_reads.clone();
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks).then_compute_output(move |input| {
        let earlier = input.tasks().iter().any(|t| t == EARLIER);
        let task = if earlier {
            let mut n = reads.lock().unwrap();
            *n += 1;
            if *n == 1 {
                running(EARLIER, TD_OLD)
            } else {
                stopped(
                    EARLIER,
                    TD_OLD,
                    Some(0),
                    TaskStopCode::EssentialContainerExited,
                    "Essential container in task exited",
                )
            }
        } else {
            stopped(
                TASK,
                TD_NEW,
                Some(0),
                TaskStopCode::EssentialContainerExited,
                "Essential container in task exited",
            )
        };
        DescribeTasksOutput::builder().tasks(task).build()
    });
    let mut r = replay(vec![EARLIER], vec![], &[]);
    r.describe = describe;
    run(&r).await.unwrap();
    // Listed, waited for (at least once), described after the wait.
    assert!(*earlier_reads.lock().unwrap() >= 3);
    assert_eq!(r.run.num_calls(), 1);
    // The earlier task's result is not this run's: only this run's task is judged.
    assert_eq!(r.sent.lock().unwrap()[0].task_definition(), Some(TD_NEW));
}

#[tokio::test]
async fn a_running_task_of_the_same_revision_is_adopted() {
    // DescribeTasks answers RUNNING when the tasks are listed, STOPPED once waited for.
    let listed = mock!(aws_sdk_ecs::Client::list_tasks)
        .then_output(|| ListTasksOutput::builder().task_arns(TASK).build());
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks)
        .sequence()
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(running(TASK, TD_NEW))
                .build()
        })
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(stopped(
                    TASK,
                    TD_NEW,
                    Some(0),
                    TaskStopCode::EssentialContainerExited,
                    "Essential container in task exited",
                ))
                .build()
        })
        .repeatedly()
        .build();
    let mut r = replay(vec![], vec![], &[]);
    r.list = listed;
    r.describe = describe;
    run(&r).await.unwrap();
    assert_eq!(
        r.run.num_calls(),
        0,
        "no second task beside the running one"
    );
    assert!(r.describe.num_calls() >= 2);
}

#[tokio::test]
async fn a_task_role_ecs_cannot_assume_yet_is_transient() {
    // RunTask's answer while IAM has not propagated a new task role (awsJson 1.1 error body).
    let refused = mock!(aws_sdk_ecs::Client::run_task).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"ClientException","message":"ECS was unable to assume the role 'arn:aws:iam::123456789012:role/shop-dev-orders-api-task' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role."}"#,
            ),
        )
    });
    let mut r = replay(vec![], vec![], &[]);
    r.run = refused;
    let e = run(&r).await.unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Transient(panka_engine::Transient::IamPropagation),
        "{e}"
    );
    // Once the role is usable, the same run succeeds.
    let r = replay(
        vec![],
        vec![stopped(
            TASK,
            TD_NEW,
            Some(0),
            TaskStopCode::EssentialContainerExited,
            "Essential container in task exited",
        )],
        &[],
    );
    run(&r).await.unwrap();
}

#[test]
fn a_stopped_task_is_judged_by_the_component_s_container() {
    let ok = stopped(
        TASK,
        TD_NEW,
        Some(0),
        TaskStopCode::EssentialContainerExited,
        "x",
    );
    assert_eq!(
        before_deploy::ended(&ok, "api"),
        before_deploy::Ended::Succeeded
    );
    // Another container's exit code is not the component's.
    assert_ne!(
        before_deploy::ended(&ok, "migrate"),
        before_deploy::Ended::Succeeded
    );
    assert_eq!(
        before_deploy::log_stream("api", TASK),
        "ecs/api/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    );
}

/// The revision a failed beforeDeploy leaves is deregistered, then deleted; a deletion ECS
/// refuses is the caller's error, not dropped
/// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html:
/// refusals come back as `failures` in a 200 answer).
#[tokio::test]
async fn the_revision_that_never_ran_is_deregistered_then_deleted_and_a_refusal_is_reported() {
    use aws_sdk_ecs::operation::delete_task_definitions::DeleteTaskDefinitionsOutput;
    use aws_sdk_ecs::operation::deregister_task_definition::DeregisterTaskDefinitionOutput;
    use aws_sdk_ecs::types::Failure;

    let provider = |reason: Option<&'static str>| {
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let deregister = mock!(aws_sdk_ecs::Client::deregister_task_definition)
            .match_requests(|r| r.task_definition() == Some(TD_NEW))
            .then_output(|| DeregisterTaskDefinitionOutput::builder().build());
        let delete = mock!(aws_sdk_ecs::Client::delete_task_definitions)
            .match_requests(|r| r.task_definitions() == [TD_NEW.to_string()])
            .then_output(move || {
                let mut out = DeleteTaskDefinitionsOutput::builder();
                if let Some(reason) = reason {
                    out = out.failures(Failure::builder().arn(TD_NEW).reason(reason).build());
                }
                out.build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&deregister, &delete]);
        (
            EcsServiceProvider::<MicroServiceSpec>::new(Clients {
                ecs,
                logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
                elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
                iam: aws_sdk_iam::Client::new(&conf),
                scaling: aws_sdk_applicationautoscaling::Client::new(&conf),
                ec2: aws_sdk_ec2::Client::new(&conf),
                discovery: crate::microservice::unused_discovery(),
            }),
            deregister,
            delete,
        )
    };

    let (p, deregister, delete) = provider(None);
    p.discard_revision(TD_NEW).await.unwrap();
    assert_eq!((deregister.num_calls(), delete.num_calls()), (1, 1));

    let (p, _, _) = provider(Some("TASK_DEFINITION_IN_USE"));
    let err = p.discard_revision(TD_NEW).await.unwrap_err();
    assert!(
        err.message.contains("TASK_DEFINITION_IN_USE"),
        "{}",
        err.message
    );
}
