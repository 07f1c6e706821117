//! Unit tests for the CronJob provider.

use super::*;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::types::{ContainerDefinition, CpuArchitecture as EcsArch, TaskDefinition};
use aws_sdk_ecs::types::{
    KeyValuePair, LogConfiguration, LogDriver, OsFamily, RuntimePlatform, Secret as EcsSecret,
};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use panka_format::kinds::CpuArchitecture;
use panka_format::model::ComponentInfraSpec;
use panka_format::model::SubnetPlacement;

const NAME: &str = "shop-dev-reports-nightly";
const SCHEDULE_ARN: &str =
    "arn:aws:scheduler:us-east-1:123456789012:schedule/default/shop-dev-reports-nightly";
const MACHINE_ARN: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:shop-dev-reports-nightly";
const TD_ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-dev-reports-nightly:4";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/shop-dev-reports-nightly-task";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-dev-db-AbCdEf";

#[test]
fn the_state_machine_names_its_task_definition() {
    let d = r#"{"States": {"Run": {"Parameters": {"TaskDefinition": "arn:aws:ecs:us-east-1:1:task-definition/x:3"}}}}"#;
    assert_eq!(
        task_definition_of(d).as_deref(),
        Some("arn:aws:ecs:us-east-1:1:task-definition/x:3")
    );
    assert!(run_role("x").len() <= 64 && schedule_role(&"y".repeat(80)).len() <= 64);
}

#[test]
fn image_references_read_back_as_the_spec_writes_them() {
    let image = |r: &str, t: Option<&str>, d: Option<&str>| Image {
        repository: r.to_string(),
        tag: t.map(str::to_string),
        digest: d.map(str::to_string),
    };
    assert_eq!(
        image_of("registry:5000/team/app:v3"),
        image("registry:5000/team/app", Some("v3"), None)
    );
    assert_eq!(
        image_of("registry:5000/team/app"),
        image("registry:5000/team/app", None, None)
    );
    assert_eq!(
        image_of("public.ecr.aws/x/app:latest"),
        image("public.ecr.aws/x/app", None, None)
    );
    assert_eq!(
        image_of("app@sha256:abc"),
        image("app", None, Some("sha256:abc"))
    );
}

fn full_spec() -> CronJobSpec {
    serde_json::from_value(json!({
        "image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/reports", "tag": "v7"},
        "command": ["report", "--nightly"],
        "entrypoint": ["/bin/run"],
        "schedule": "cron(0 3 * * ? *)",
        "timezone": "Europe/Paris",
        "environment": [{"name": "MODE", "value": "full"}, {"name": "BUCKET", "value": "reports"}],
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": {"secretsManager": SECRET, "jsonKey": "password"}},
            {"name": "API_TOKEN", "valueFrom": {"ssmParameter": "/shop/api-token"}}
        ],
        "retries": 3,
        "timeoutSeconds": 900,
        "suspended": true,
        "logging": {"retentionDays": 14},
        "cpuArchitecture": "ARM64",
        "permissions": [{"actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::shop-reports/*"]}],
        "managedPolicies": ["arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"],
        "sidecars": [
            {"name": "otel", "image": {"repository": "public.ecr.aws/aws-observability/aws-otel-collector", "tag": "v0.40.0"},
             "ports": [{"name": "otlp", "port": 4317}],
             "environment": [{"name": "AWS_REGION", "value": "us-east-1"}],
             "secrets": [{"name": "TOKEN", "valueFrom": {"ssmParameter": "/shop/otel-token"}}],
             "essential": false,
             "dependsOn": [{"container": "nightly", "condition": "START"}]}
        ],
        "dependsOn": ["reports/bucket"]
    }))
    .unwrap()
}

/// What AWS answers for a job made from `spec`.
struct Answers {
    /// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_GetSchedule.html
    schedule: GetScheduleOutput,
    /// https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeStateMachine.html
    definition: Value,
    /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html
    task: TaskDefinition,
    /// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html
    retention: Option<i32>,
    /// GetRolePolicy and ListAttachedRolePolicies of the task role.
    grants: crate::iam::Grants,
}

const PRIVATE: [&str; 2] = ["subnet-1", "subnet-2"];
const PUBLIC: [&str; 1] = ["subnet-p"];

/// Every infra setting of a job away from its default (a job has no task count).
fn full_infra() -> ComponentInfraSpec {
    serde_json::from_value(json!({
        "resources": {"cpu": 2048, "memory": 8192, "ephemeralStorageGB": 60},
        "networking": {"subnets": "public", "assignPublicIp": true,
                       "securityGroups": ["sg-extra1", "sg-extra2"]}
    }))
    .unwrap()
}

fn answers(spec: &CronJobSpec) -> Answers {
    answers_with(spec, &ComponentInfraSpec::default())
}

/// The answers for `spec`, from the provider's own builders where it has them; the
/// container as microservice's `task_definition` registers it (image `repo:tag`, the
/// resolved environment, secrets as `ARN:KEY::`, awslogs to `/ecs/NAME`), the task size as
/// it registers it, and the network of `infra` in the state machine's parameters.
fn answers_with(spec: &CronJobSpec, infra: &ComponentInfraSpec) -> Answers {
    let schedule_role = "arn:aws:iam::123456789012:role/shop-dev-reports-nightly-schedule";
    let schedule = GetScheduleOutput::builder()
        .arn(SCHEDULE_ARN)
        .name(NAME)
        .group_name("default")
        .schedule_expression(&spec.schedule)
        .schedule_expression_timezone(&spec.timezone)
        .state(schedule_state(spec))
        .description("panka: reports/nightly")
        .target(schedule_target(NAME, spec, MACHINE_ARN, schedule_role).unwrap())
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .build();
    let subnets: Vec<String> = match infra.networking.subnets {
        SubnetPlacement::Private => PRIVATE.iter().map(|s| s.to_string()).collect(),
        SubnetPlacement::Public => PUBLIC.iter().map(|s| s.to_string()).collect(),
    };
    let definition = run_definition(
        "reports/nightly",
        spec.timeout_seconds,
        "shop-dev",
        &subnets,
        infra.networking.assign_public_ip,
        TD_ARN,
        "sg-123",
        &infra.networking.security_groups,
    );
    let image = match (&spec.image.digest, &spec.image.tag) {
        (Some(d), _) => format!("{}@{d}", spec.image.repository),
        (None, Some(t)) => format!("{}:{t}", spec.image.repository),
        (None, None) => format!("{}:latest", spec.image.repository),
    };
    let mut c = ContainerDefinition::builder()
        .name("nightly")
        .image(image)
        .essential(true)
        .set_command(spec.command.clone())
        .set_entry_point(spec.entrypoint.clone())
        .stop_timeout(30)
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", log_group(NAME))
                .build()
                .unwrap(),
        );
    for e in &spec.environment {
        c = c.environment(
            KeyValuePair::builder()
                .name(&e.name)
                .set_value(e.value.clone())
                .build(),
        );
    }
    for s in &spec.secrets {
        let v = &s.value_from;
        let from = match (&v.secrets_manager, &v.json_key, &v.ssm_parameter) {
            (Some(arn), Some(k), _) => format!("{arn}:{k}::"),
            (Some(arn), None, _) => arn.clone(),
            (None, _, Some(p)) => p.clone(),
            _ => unreachable!("the full spec names every secret's source"),
        };
        c = c.secrets(
            EcsSecret::builder()
                .name(&s.name)
                .value_from(from)
                .build()
                .unwrap(),
        );
    }
    let arch = match spec.cpu_architecture {
        CpuArchitecture::Arm64 => EcsArch::Arm64,
        CpuArchitecture::X86_64 => EcsArch::X8664,
    };
    let c_main = c.build();
    let task = TaskDefinition::builder()
        .task_definition_arn(TD_ARN)
        .family(NAME)
        .revision(4)
        .task_role_arn(TASK_ROLE)
        .execution_role_arn("arn:aws:iam::123456789012:role/shop-dev-reports-nightly-exec")
        .cpu(infra.resources.cpu.to_string())
        .memory(infra.resources.memory.to_string())
        .set_ephemeral_storage((infra.resources.ephemeral_storage_gb > 21).then(|| {
            aws_sdk_ecs::types::EphemeralStorage::builder()
                .size_in_gib(infra.resources.ephemeral_storage_gb as i32)
                .build()
        }))
        .set_container_definitions(Some(
            std::iter::once(c_main)
                .chain(spec.sidecars.iter().map(|sc| {
                    // As microservice registers them: literal values, SSM parameters by name.
                    let env: Vec<(String, String)> = sc
                        .environment
                        .iter()
                        .map(|e| (e.name.clone(), e.value.clone().unwrap()))
                        .collect();
                    let secrets: Vec<(String, String)> = sc
                        .secrets
                        .iter()
                        .map(|s| (s.name.clone(), s.value_from.ssm_parameter.clone().unwrap()))
                        .collect();
                    crate::microservice::sidecar_container(
                        sc,
                        &env,
                        &secrets,
                        &log_group(NAME),
                        "us-east-1",
                    )
                    .unwrap()
                }))
                .collect(),
        ))
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(arch)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .build();
    Answers {
        schedule,
        definition,
        task,
        retention: Some(spec.logging.retention_days as i32),
        grants: crate::iam::Grants {
            permissions: spec.permissions.clone(),
            managed_policies: spec.managed_policies.clone(),
        },
    }
}

fn provider(rules: &[&Rule]) -> CronJobProvider {
    let none: [&Rule; 0] = [];
    let clients = crate::microservice::Clients {
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules),
        elb: mock_client!(aws_sdk_elasticloadbalancingv2, none),
        iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, rules),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, rules),
        scaling: mock_client!(aws_sdk_applicationautoscaling, none),
        ec2: mock_client!(aws_sdk_ec2, none),
        discovery: crate::microservice::unused_discovery(),
    };
    CronJobProvider::new(
        clients,
        mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules),
        mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, rules),
    )
}

fn recorded_ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("schedule".to_string(), NAME.to_string()),
        ("stateMachine".to_string(), MACHINE_ARN.to_string()),
        ("taskDefinition".to_string(), TD_ARN.to_string()),
        ("securityGroup".to_string(), "sg-123".to_string()),
        ("subnets.private".to_string(), PRIVATE.join(",")),
        ("subnets.public".to_string(), PUBLIC.join(",")),
        (
            crate::microservice::MANAGED_POLICIES_ID.to_string(),
            "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy".to_string(),
        ),
    ])
}

async fn read_back(a: Answers) -> Observation<CronJobSpec> {
    let schedule = a.schedule;
    let schedule_rule = mock!(aws_sdk_scheduler::Client::get_schedule)
        .match_requests(|r| r.name() == Some(NAME))
        .then_output(move || schedule.clone());
    let text = a.definition.to_string();
    let machine_rule = mock!(aws_sdk_sfn::Client::describe_state_machine)
        .match_requests(|r| r.state_machine_arn() == Some(MACHINE_ARN))
        .then_output(move || {
            DescribeStateMachineOutput::builder()
                .state_machine_arn(MACHINE_ARN)
                .name(NAME)
                .definition(&text)
                .role_arn("arn:aws:iam::123456789012:role/shop-dev-reports-nightly-run")
                .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
                .creation_date(aws_sdk_sfn::primitives::DateTime::from_secs(1_764_547_200))
                .build()
                .unwrap()
        });
    let task = a.task;
    let task_rule = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some(TD_ARN))
        .then_output(move || {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(task.clone())
                .build()
        });
    let retention = a.retention;
    let logs_rule = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|r| r.log_group_name_prefix() == Some("/ecs/shop-dev-reports-nightly"))
        .then_output(move || {
            let mut groups = Vec::new();
            if let Some(days) = retention {
                groups.push(
                    LogGroup::builder()
                        .log_group_name(log_group(NAME))
                        .retention_in_days(days)
                        .build(),
                );
            }
            // A longer name the prefix matches too.
            groups.push(
                LogGroup::builder()
                    .log_group_name(format!("{}-2", log_group(NAME)))
                    .retention_in_days(1)
                    .build(),
            );
            DescribeLogGroupsOutput::builder()
                .set_log_groups(Some(groups))
                .build()
        });
    let [role_policy, attached] =
        crate::iam::mocks::grant_rules("shop-dev-reports-nightly-task", &a.grants);
    let p = provider(&[
        &schedule_rule,
        &machine_rule,
        &task_rule,
        &logs_rule,
        &role_policy,
        &attached,
    ]);
    let ids = recorded_ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("reports/nightly", NAME, &ids, &empty);
    p.read(&id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_job_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let seen = read_back(answers_with(&spec, &full_infra())).await;
    assert_eq!(seen.infra, Some(full_infra()));
    let mut expected = spec.clone();
    // dependsOn is unobservable (the engine keeps the recorded value).
    expected.depends_on.clear();
    // Variables and secrets come in name order (the engine restores the recorded order).
    expected.environment.sort_by(|a, b| a.name.cmp(&b.name));
    expected.secrets.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(seen.spec, expected);
    assert_eq!(
        seen.unobserved,
        ["dependsOn", "permissions[].allowWildcard"]
    );
    let o = &seen.outcome;
    assert_eq!(o.outputs["scheduleArn"], SCHEDULE_ARN);
    assert_eq!(o.outputs["taskDefinitionArn"], TD_ARN);
    assert_eq!(o.outputs["taskRoleArn"], TASK_ROLE);
    assert_eq!(o.outputs["logGroupName"], "/ecs/shop-dev-reports-nightly");
    assert_eq!(o.physical_ids, recorded_ids());
    assert!(o.outputs.values().all(|v| !v.is_empty()));
    // The defaults read back as the defaults.
    let plain: CronJobSpec = serde_json::from_value(json!({
        "image": {"repository": "app"}, "schedule": "rate(1 hour)"
    }))
    .unwrap();
    let seen = read_back(answers(&plain)).await;
    assert_eq!(seen.spec, plain);
    assert_eq!(seen.infra, Some(ComponentInfraSpec::default()));
}

#[tokio::test]
async fn each_infra_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    type Change = Box<dyn Fn(&mut Answers)>;
    fn vpc(a: &mut Answers) -> &mut Value {
        a.definition
            .pointer_mut("/States/Run/Parameters/NetworkConfiguration/AwsvpcConfiguration")
            .unwrap()
    }
    let cases: Vec<(&str, Value, Change)> = vec![
        (
            "/resources/cpu",
            4096.into(),
            Box::new(|a| a.task.cpu = Some("4096".into())),
        ),
        (
            "/resources/memory",
            16384.into(),
            Box::new(|a| a.task.memory = Some("16 GB".into())),
        ),
        (
            "/resources/ephemeralStorageGB",
            21.into(),
            Box::new(|a| a.task.ephemeral_storage = None),
        ),
        (
            "/networking/subnets",
            "private".into(),
            Box::new(|a| vpc(a)["Subnets"] = json!(PRIVATE)),
        ),
        (
            "/networking/assignPublicIp",
            false.into(),
            Box::new(|a| vpc(a)["AssignPublicIp"] = "DISABLED".into()),
        ),
        (
            "/networking/securityGroups",
            json!(["sg-extra2"]),
            Box::new(|a| vpc(a)["SecurityGroups"] = json!(["sg-123", "sg-extra2"])),
        ),
    ];
    let base = serde_json::to_value(full_infra()).unwrap();
    for (pointer, value, change) in cases {
        let mut a = answers_with(&spec, &full_infra());
        change(&mut a);
        let seen = read_back(a).await;
        let mut expected = base.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(
            serde_json::to_value(seen.infra.unwrap()).unwrap(),
            expected,
            "only {pointer} differs"
        );
        assert_eq!(
            seen.unobserved,
            ["dependsOn", "permissions[].allowWildcard"],
            "{pointer}"
        );
    }
    // From the defaults: an extra group attached outside panka.
    let mut a = answers(&spec);
    vpc(&mut a)["SecurityGroups"] = json!(["sg-123", "sg-new"]);
    let seen = read_back(a).await;
    let mut expected = serde_json::to_value(ComponentInfraSpec::default()).unwrap();
    expected["networking"]["securityGroups"] = json!(["sg-new"]);
    assert_eq!(serde_json::to_value(seen.infra.unwrap()).unwrap(), expected);
    // Subnets of neither recorded list: no placement to read.
    let mut a = answers(&spec);
    vpc(&mut a)["Subnets"] = json!(["subnet-x"]);
    let seen = read_back(a).await;
    assert_eq!(
        seen.unobserved,
        [
            "dependsOn",
            "permissions[].allowWildcard",
            "infra.networking.subnets"
        ]
    );
}

#[test]
fn a_job_has_no_infra_managed_by_aws() {
    assert!(CronJobProvider::managed_infra(&full_infra()).is_empty());
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let mut base = serde_json::to_value(read_back(answers(&spec)).await.spec).unwrap();
    // The reads come in name order: API_TOKEN, DB_PASSWORD; BUCKET, MODE.
    assert_eq!(base["secrets"][1]["name"], "DB_PASSWORD");
    assert_eq!(base["environment"][1]["name"], "MODE");
    type Change = Box<dyn Fn(&mut Answers)>;
    fn container(a: &mut Answers) -> &mut ContainerDefinition {
        a.task
            .container_definitions
            .as_mut()
            .unwrap()
            .first_mut()
            .unwrap()
    }
    let cases: Vec<(&str, Value, Change)> = vec![
        (
            "/image/tag",
            "v8".into(),
            Box::new(move |a| {
                container(a).image =
                    Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/reports:v8".into());
            }),
        ),
        (
            "/command",
            json!(["report", "--weekly"]),
            Box::new(move |a| {
                container(a).command = Some(vec!["report".into(), "--weekly".into()]);
            }),
        ),
        (
            "/entrypoint",
            json!(["/bin/sh"]),
            Box::new(move |a| {
                container(a).entry_point = Some(vec!["/bin/sh".into()]);
            }),
        ),
        (
            "/environment/1/value",
            "partial".into(),
            Box::new(move |a| {
                let env = container(a).environment.as_mut().unwrap();
                env.iter_mut()
                    .find(|e| e.name() == Some("MODE"))
                    .unwrap()
                    .value = Some("partial".into());
            }),
        ),
        (
            "/secrets/1/valueFrom/jsonKey",
            "user".into(),
            Box::new(move |a| {
                let s = container(a).secrets.as_mut().unwrap();
                s.iter_mut()
                    .find(|s| s.name() == "DB_PASSWORD")
                    .unwrap()
                    .value_from = format!("{SECRET}:user::");
            }),
        ),
        (
            "/secrets/0/valueFrom/ssmParameter",
            "/shop/other".into(),
            Box::new(move |a| {
                let s = container(a).secrets.as_mut().unwrap();
                s.iter_mut()
                    .find(|s| s.name() == "API_TOKEN")
                    .unwrap()
                    .value_from = "/shop/other".into();
            }),
        ),
        (
            "/cpuArchitecture",
            "X86_64".into(),
            Box::new(|a| {
                a.task.runtime_platform = Some(
                    RuntimePlatform::builder()
                        .cpu_architecture(EcsArch::X8664)
                        .build(),
                );
            }),
        ),
        (
            "/schedule",
            "rate(2 hours)".into(),
            Box::new(|a| {
                a.schedule.schedule_expression = Some("rate(2 hours)".into());
            }),
        ),
        (
            "/timezone",
            "UTC".into(),
            Box::new(|a| {
                a.schedule.schedule_expression_timezone = Some("UTC".into());
            }),
        ),
        (
            "/suspended",
            false.into(),
            Box::new(|a| {
                a.schedule.state = Some(ScheduleState::Enabled);
            }),
        ),
        (
            "/retries",
            0.into(),
            Box::new(|a| {
                let t = a.schedule.target.as_mut().unwrap();
                t.retry_policy = Some(RetryPolicy::builder().maximum_retry_attempts(0).build());
            }),
        ),
        (
            "/timeoutSeconds",
            60.into(),
            Box::new(|a| {
                a.definition["States"]["Run"]["TimeoutSeconds"] = 60.into();
            }),
        ),
        (
            "/logging/retentionDays",
            90.into(),
            Box::new(|a| a.retention = Some(90)),
        ),
    ];
    base.as_object_mut().unwrap().remove("dependsOn");
    for (pointer, value, change) in cases {
        let mut a = answers(&spec);
        change(&mut a);
        let seen = serde_json::to_value(read_back(a).await.spec).unwrap();
        let mut expected = base.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(seen, expected, "only {pointer} differs");
    }
    // An empty command or entrypoint list reads as none set.
    let mut a = answers(&spec);
    container(&mut a).command = Some(Vec::new());
    container(&mut a).entry_point = Some(Vec::new());
    let seen = read_back(a).await.spec;
    assert_eq!((seen.command, seen.entrypoint), (None, None));
    // A variable removed in AWS is gone from the read.
    let mut a = answers(&spec);
    container(&mut a)
        .environment
        .as_mut()
        .unwrap()
        .retain(|e| e.name() != Some("MODE"));
    let seen = read_back(a).await.spec;
    assert_eq!(seen.environment.len(), 1);
    // A log group whose events never expire reads as 0, one that is gone as unobserved.
    let mut a = answers(&spec);
    a.retention = None;
    let seen = read_back(a).await;
    assert_eq!(
        seen.unobserved,
        [
            "dependsOn",
            "permissions[].allowWildcard",
            "logging.retentionDays"
        ]
    );
}

#[tokio::test]
async fn a_job_whose_schedule_or_state_machine_is_gone_reads_as_absent() {
    let gone = mock!(aws_sdk_scheduler::Client::get_schedule).then_error(|| {
        aws_sdk_scheduler::operation::get_schedule::GetScheduleError::ResourceNotFoundException(
            aws_sdk_scheduler::types::error::ResourceNotFoundException::builder()
                .message("no schedule")
                .build()
                .unwrap(),
        )
    });
    let ids = recorded_ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("reports/nightly", NAME, &ids, &empty);
    assert!(provider(&[&gone]).read(&id).await.unwrap().is_none());
    let schedule = answers(&full_spec()).schedule;
    let found =
        mock!(aws_sdk_scheduler::Client::get_schedule).then_output(move || schedule.clone());
    let no_machine = mock!(aws_sdk_sfn::Client::describe_state_machine).then_error(|| {
        aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError::StateMachineDoesNotExist(
            aws_sdk_sfn::types::error::StateMachineDoesNotExist::builder().build(),
        )
    });
    assert!(
        provider(&[&found, &no_machine])
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}

// ------------------------------------------------------------------ ownership and destroy

/// panka's tags for the job, as a Target carries them.
fn owner_tags(stack: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            panka_format::naming::TAG_STACK.to_string(),
            stack.to_string(),
        ),
        (
            panka_format::naming::TAG_ENVIRONMENT.to_string(),
            "dev".to_string(),
        ),
        (
            panka_format::naming::TAG_SERVICE.to_string(),
            "reports".to_string(),
        ),
        (
            panka_format::naming::TAG_COMPONENT.to_string(),
            "nightly".to_string(),
        ),
    ])
}

/// ListStateMachines finds the machine of the job's name, ListTagsForResource gives `tags`, and
/// GetSchedule finds a schedule starting `starts` (none: no schedule).
/// https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListTagsForResource.html
/// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_GetSchedule.html
async fn owner_check(
    tags: BTreeMap<String, String>,
    starts: Option<&'static str>,
) -> Result<(), ProviderError> {
    use aws_sdk_sfn::operation::list_state_machines::ListStateMachinesOutput;
    use aws_sdk_sfn::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_sfn::types::{StateMachineListItem, StateMachineType, Tag};
    let listed = mock!(aws_sdk_sfn::Client::list_state_machines).then_output(|| {
        ListStateMachinesOutput::builder()
            .state_machines(
                StateMachineListItem::builder()
                    .state_machine_arn(MACHINE_ARN)
                    .name(NAME)
                    .r#type(StateMachineType::Standard)
                    .creation_date(aws_sdk_sfn::primitives::DateTime::from_secs(1))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    });
    let described = mock!(aws_sdk_sfn::Client::describe_state_machine).then_output(|| {
        DescribeStateMachineOutput::builder()
            .state_machine_arn(MACHINE_ARN)
            .name(NAME)
            .definition("{}")
            .role_arn("arn:aws:iam::123456789012:role/other")
            .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
            .creation_date(aws_sdk_sfn::primitives::DateTime::from_secs(1))
            .build()
            .unwrap()
    });
    let tagged = mock!(aws_sdk_sfn::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(MACHINE_ARN))
        .then_output(move || {
            ListTagsForResourceOutput::builder()
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build()
        });
    let schedule = match starts {
        Some(arn) => mock!(aws_sdk_scheduler::Client::get_schedule).then_output(move || {
            GetScheduleOutput::builder()
                .name(NAME)
                .target(
                    aws_sdk_scheduler::types::Target::builder()
                        .arn(arn)
                        .role_arn("arn:aws:iam::123456789012:role/other")
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        None => mock!(aws_sdk_scheduler::Client::get_schedule).then_error(|| {
            aws_sdk_scheduler::operation::get_schedule::GetScheduleError::ResourceNotFoundException(
                aws_sdk_scheduler::types::error::ResourceNotFoundException::builder()
                    .message("Schedule shop-dev-reports-nightly does not exist.")
                    .build()
                    .unwrap(),
            )
        }),
    };
    let ours = owner_tags("shop");
    let config = json!({});
    let t = Target {
        address: "reports/nightly",
        name: NAME,
        spec: full_spec(),
        tags: &ours,
        region: "us-east-1",
        config: &config,
    };
    provider(&[&listed, &described, &tagged, &schedule])
        .check_job_owner(&t)
        .await
}

#[tokio::test]
async fn a_state_machine_or_schedule_of_the_job_s_name_that_is_not_its_own_is_refused() {
    // Another stack's state machine of the same name.
    let err = owner_check(owner_tags("billing"), None).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotOwned);
    assert!(
        err.message
            .contains("state machine shop-dev-reports-nightly"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("panka import reports/nightly"),
        "{}",
        err.message
    );
    // One without panka's tags.
    let err = owner_check(BTreeMap::new(), None).await.unwrap_err();
    assert!(
        err.message.contains("carries no panka tags"),
        "{}",
        err.message
    );
    // The job's own state machine, but a schedule of its name that starts something else.
    let other = "arn:aws:states:us-east-1:123456789012:stateMachine:someone-else";
    let err = owner_check(owner_tags("shop"), Some(other))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotOwned);
    assert!(err.message.contains(other), "{}", err.message);
    // Its own state machine and the schedule that starts it: a run that did not finish.
    owner_check(owner_tags("shop"), Some(MACHINE_ARN))
        .await
        .unwrap();
    owner_check(owner_tags("shop"), None).await.unwrap();
}

/// Destroy answers per the Step Functions API reference: ListExecutions (RUNNING) pages, each
/// execution stopped, DeleteStateMachine accepted, then DescribeStateMachine answering DELETING
/// `deleting` times before StateMachineDoesNotExist.
/// https://docs.aws.amazon.com/step-functions/latest/apireference/API_DeleteStateMachine.html
fn destroy_rules(deleting: usize) -> Vec<Rule> {
    use aws_sdk_sfn::operation::delete_state_machine::DeleteStateMachineOutput;
    use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
    use aws_sdk_sfn::operation::stop_execution::StopExecutionOutput;
    use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus, StateMachineStatus};
    let execution = |n: u32| {
        ExecutionListItem::builder()
            .execution_arn(format!(
                "arn:aws:states:us-east-1:123456789012:execution:{NAME}:run-{n}"
            ))
            .state_machine_arn(MACHINE_ARN)
            .name(format!("run-{n}"))
            .status(ExecutionStatus::Running)
            .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(1))
            .build()
            .unwrap()
    };
    let first = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| {
            r.state_machine_arn() == Some(MACHINE_ARN)
                && r.status_filter() == Some(&ExecutionStatus::Running)
                && r.next_token().is_none()
        })
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(execution(1))
                .next_token("page-2")
                .build()
                .unwrap()
        });
    let second = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(execution(2))
                .build()
                .unwrap()
        });
    let stop = mock!(aws_sdk_sfn::Client::stop_execution).then_output(|| {
        StopExecutionOutput::builder()
            .stop_date(aws_sdk_sfn::primitives::DateTime::from_secs(2))
            .build()
            .unwrap()
    });
    let delete = mock!(aws_sdk_sfn::Client::delete_state_machine)
        .match_requests(|r| r.state_machine_arn() == Some(MACHINE_ARN))
        .then_output(|| DeleteStateMachineOutput::builder().build());
    let mut describe = mock!(aws_sdk_sfn::Client::describe_state_machine)
        .match_requests(|r| r.state_machine_arn() == Some(MACHINE_ARN))
        .sequence();
    for _ in 0..deleting {
        describe = describe.output(|| {
            DescribeStateMachineOutput::builder()
                .state_machine_arn(MACHINE_ARN)
                .name(NAME)
                .status(StateMachineStatus::Deleting)
                .definition("{}")
                .role_arn("arn:aws:iam::123456789012:role/shop-dev-reports-nightly-run")
                .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
                .creation_date(aws_sdk_sfn::primitives::DateTime::from_secs(1))
                .build()
                .unwrap()
        });
    }
    let describe = describe
        .error(|| {
            aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError::StateMachineDoesNotExist(
                aws_sdk_sfn::types::error::StateMachineDoesNotExist::builder().build(),
            )
        })
        .build();
    vec![first, second, stop, delete, describe]
}

#[tokio::test]
async fn destroy_stops_running_executions_and_waits_until_the_state_machine_is_gone() {
    let rules = destroy_rules(3);
    let refs: Vec<&Rule> = rules.iter().collect();
    provider(&refs).delete_machine(MACHINE_ARN).await.unwrap();
    let [_, _, stop, delete, describe] = &rules[..] else {
        unreachable!()
    };
    assert_eq!(stop.num_calls(), 2, "each running execution is stopped");
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(describe.num_calls(), 4, "three DELETING answers, then gone");
}

#[tokio::test]
async fn a_state_machine_that_stays_deleting_fails_the_destroy_instead_of_deleting_its_roles() {
    let rules = destroy_rules(MACHINE_DELETE_POLLS + 5);
    let refs: Vec<&Rule> = rules.iter().collect();
    let err = provider(&refs)
        .delete_machine(MACHINE_ARN)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    assert!(
        err.message.contains("still being deleted"),
        "{}",
        err.message
    );
}
