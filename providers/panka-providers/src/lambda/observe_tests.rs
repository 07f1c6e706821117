//! Unit tests for reading a Lambda function back from AWS.

use super::super::{architecture, outcome, schedule_rule, variables};
use super::*;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
use aws_sdk_lambda::types::{
    Concurrency, EnvironmentResponse, EphemeralStorage, FunctionCodeLocation,
    FunctionConfiguration, Runtime, VpcConfigResponse,
};
use aws_smithy_mocks::{Rule as MockRule, RuleMode, mock, mock_client};
use panka_engine::KindProvider;
use serde_json::{Value, json};

const NAME: &str = "shop-dev-payments-webhook";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-webhook";
const ROLE: &str = "arn:aws:iam::123456789012:role/shop-dev-payments-webhook-lambda";
const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:shop-dev-orders-jobs";
const OTHER_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:shop-dev-orders-refunds";
const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/shop-dev-orders-jobs";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-dev-db-AbCdEf";
const SHA: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/// The configuration of the request: the references resolved.
fn config() -> Value {
    json!({"inputs": {
        "environment[1].valueFrom": {"value": QUEUE_URL, "outputs": {"url": QUEUE_URL, "arn": QUEUE}},
        "triggers[1].queue": {"value": null, "outputs": {"arn": QUEUE, "url": QUEUE_URL}},
        "triggers[2].queue": {"value": null, "outputs": {"arn": OTHER_QUEUE}},
    }})
}

fn full_spec() -> LambdaSpec {
    serde_json::from_value(json!({
        "runtime": "python3.12",
        "handler": "app.handler",
        "code": {"s3": {"bucket": "artifacts", "key": "webhook.zip", "version": "v3"}},
        "memoryMb": 1024,
        "timeoutSeconds": 60,
        "ephemeralStorageMb": 2048,
        "architecture": "ARM64",
        "environment": [
            {"name": "MODE", "value": "live"},
            {"name": "QUEUE_URL", "valueFrom": {"component": "orders/jobs", "output": "url"}}
        ],
        "secrets": [
            {"name": "DB", "valueFrom": {"secretsManager": SECRET, "jsonKey": "password"}},
            {"name": "TOKEN", "valueFrom": {"ssmParameter": "/shop/token"}}
        ],
        "reservedConcurrency": 5,
        "vpc": true,
        "triggers": [
            {"schedule": "rate(5 minutes)"},
            {"queue": {"component": "orders/jobs"}, "batchSize": 50},
            {"queue": {"component": "orders/refunds"}},
            {"schedule": "cron(0 3 * * ? *)"}
        ],
        "logging": {"retentionDays": 90},
        "permissions": [{"actions": ["sns:Publish"], "resources": ["arn:aws:sns:us-east-1:123456789012:shop-dev-alerts"]}],
        "managedPolicies": [
            "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
            "arn:aws:iam::123456789012:policy/webhook-extra"
        ],
        "dependsOn": ["orders/jobs"]
    }))
    .unwrap()
}

fn target<'a>(spec: &LambdaSpec, config: &'a Value) -> Target<'a, LambdaSpec> {
    static NO_TAGS: BTreeMap<String, String> = BTreeMap::new();
    Target {
        address: "payments/webhook",
        name: NAME,
        spec: spec.clone(),
        tags: &NO_TAGS,
        region: "us-east-1",
        config,
    }
}

/// What AWS answers for a function made from `spec`.
struct Answers {
    /// https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html
    function: GetFunctionOutput,
    /// https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html
    mappings: Vec<EventSourceMappingConfiguration>,
    /// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRules.html
    rules: Vec<Rule>,
    /// https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html
    retention: Option<i32>,
    /// GetRolePolicy and ListAttachedRolePolicies of the role.
    grants: crate::iam::Grants,
}

/// The answers for `spec` and the ids its apply recorded, from the provider's own
/// `variables`, `architecture`, `queue_triggers`, `schedule_rule` and `outcome`.
fn answers(spec: &LambdaSpec) -> (Answers, BTreeMap<String, String>) {
    let config = config();
    let t = target(spec, &config);
    let image = spec.code.image_uri.clone();
    let c = FunctionConfiguration::builder()
        .function_name(NAME)
        .function_arn(ARN)
        .role(ROLE)
        .set_runtime(spec.runtime.as_deref().map(Runtime::from))
        .set_handler(spec.handler.clone())
        .memory_size(spec.memory_mb as i32)
        .timeout(spec.timeout_seconds as i32)
        .ephemeral_storage(
            EphemeralStorage::builder()
                .size(spec.ephemeral_storage_mb as i32)
                .build()
                .unwrap(),
        )
        .architectures(architecture(spec.architecture))
        .environment(
            EnvironmentResponse::builder()
                .set_variables(Some(variables(&t).unwrap().into_iter().collect()))
                .build(),
        )
        .vpc_config(if spec.vpc {
            VpcConfigResponse::builder()
                .subnet_ids("subnet-1")
                .subnet_ids("subnet-2")
                .security_group_ids("sg-1")
                .vpc_id("vpc-1")
                .build()
        } else {
            VpcConfigResponse::builder().vpc_id("").build()
        })
        .package_type(if image.is_some() {
            PackageType::Image
        } else {
            PackageType::Zip
        })
        .code_sha256(SHA)
        .build();
    let location = match &image {
        Some(uri) => FunctionCodeLocation::builder()
            .repository_type("ECR")
            .image_uri(uri)
            .resolved_image_uri(format!("{uri}@sha256:1111"))
            .build(),
        None => FunctionCodeLocation::builder()
            .repository_type("S3")
            .location("https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/x")
            .build(),
    };
    let mut function = GetFunctionOutput::builder()
        .configuration(c.clone())
        .code(location);
    if let Some(n) = spec.reserved_concurrency {
        function = function.concurrency(
            Concurrency::builder()
                .reserved_concurrent_executions(n as i32)
                .build(),
        );
    }
    let mappings = queue_triggers(&t)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, (arn, batch))| {
            EventSourceMappingConfiguration::builder()
                .uuid(format!("mapping-{i}"))
                .event_source_arn(arn)
                .function_arn(ARN)
                .batch_size(batch.map_or(SQS_DEFAULT_BATCH, |b| b as i32))
                .state("Enabled")
                .build()
        })
        .collect();
    let rules = spec
        .triggers
        .iter()
        .filter_map(|tr| tr.schedule.as_ref())
        .enumerate()
        .map(|(i, expr)| {
            Rule::builder()
                .name(schedule_rule(NAME, i))
                .arn(format!(
                    "arn:aws:events:us-east-1:123456789012:rule/{}",
                    schedule_rule(NAME, i)
                ))
                .schedule_expression(expr)
                .state(RuleState::Enabled)
                .event_bus_name("default")
                .build()
        })
        .collect();
    let ids = outcome(
        NAME,
        &c,
        spec.vpc.then_some("sg-1"),
        layout_ids(&t).unwrap(),
    )
    .physical_ids;
    let answers = Answers {
        function: function.build(),
        mappings,
        rules,
        retention: Some(spec.logging.retention_days as i32),
        grants: crate::iam::Grants {
            permissions: spec.permissions.clone(),
            managed_policies: spec.managed_policies.clone(),
        },
    };
    (answers, ids)
}

async fn read_back(a: Answers, ids: &BTreeMap<String, String>) -> Observation<LambdaSpec> {
    let function = a.function;
    let get = mock!(aws_sdk_lambda::Client::get_function)
        .match_requests(|r| r.function_name() == Some(NAME))
        .then_output(move || function.clone());
    let mappings = a.mappings;
    let list = mock!(aws_sdk_lambda::Client::list_event_source_mappings)
        .match_requests(|r| r.function_name() == Some(NAME))
        .then_output(move || {
            ListEventSourceMappingsOutput::builder()
                .set_event_source_mappings(Some(mappings.clone()))
                .build()
        });
    let rules = a.rules;
    let list_rules = mock!(aws_sdk_eventbridge::Client::list_rules)
        .match_requests(|r| r.name_prefix() == Some("shop-dev-payments-webhook-schedule-"))
        .then_output(move || {
            ListRulesOutput::builder()
                .set_rules(Some(rules.clone()))
                .build()
        });
    let retention = a.retention;
    let groups =
        mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(move || {
            DescribeLogGroupsOutput::builder()
                .set_log_groups(retention.map(|d| {
                    vec![
                        LogGroup::builder()
                            .log_group_name(log_group(NAME))
                            .retention_in_days(d)
                            .build(),
                    ]
                }))
                .build()
        });
    let none: [&MockRule; 0] = [];
    let [role_policy, attached] =
        crate::iam::mocks::grant_rules("shop-dev-payments-webhook-lambda", &a.grants);
    let p = LambdaProvider::new(
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&get, &list]),
        mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&role_policy, &attached]),
        mock_client!(aws_sdk_cloudwatchlogs, [&groups]),
        mock_client!(aws_sdk_eventbridge, [&list_rules]),
        mock_client!(aws_sdk_ec2, none),
    );
    let empty = BTreeMap::new();
    let id = crate::test_identity("payments/webhook", NAME, ids, &empty);
    p.read(&id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_function_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let (a, ids) = answers(&spec);
    let seen = read_back(a, &ids).await;
    assert_eq!(
        seen.unobserved,
        ["dependsOn", "permissions[].allowWildcard", "code.s3"]
    );
    // AWS holds the values the references resolved to, in the order AWS gives.
    let live = serde_json::to_value(&seen.spec).unwrap();
    assert_eq!(
        live["environment"][1],
        json!({"name": "QUEUE_URL", "value": QUEUE_URL})
    );
    assert_eq!(live["triggers"][1]["queue"]["component"], QUEUE);
    assert_eq!(
        live["triggers"][2],
        json!({"queue": {"component": OTHER_QUEUE}})
    );
    // Reconciled as the engine does, it is the spec it was made from.
    let recorded = serde_json::to_value(&spec).unwrap();
    let r = panka_engine::observe::reconcile(
        &recorded,
        config().get("inputs"),
        live,
        &seen.unobserved,
        &[],
    );
    assert_eq!(r.live, recorded);
    let o = &seen.outcome;
    assert_eq!(o.outputs["arn"], ARN);
    assert_eq!(o.outputs["roleArn"], ROLE);
    assert_eq!(o.outputs["functionName"], NAME);
    assert_eq!(
        o.outputs["logGroupName"],
        "/aws/lambda/shop-dev-payments-webhook"
    );
    assert_eq!(o.physical_ids, ids);
    assert_eq!(ids[CODE_SHA_ID], SHA);
    assert_eq!(ids["trigger.1"], QUEUE);
    assert_eq!(ids["trigger.3"], "schedule");
    assert_eq!(ids["secret.TOKEN"], "ssmParameter");
    // An image function, with the defaults: its URI is read.
    let image: LambdaSpec = serde_json::from_value(
        json!({"code": {"imageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hook:v2"}}),
    )
    .unwrap();
    let (a, ids) = answers(&image);
    let seen = read_back(a, &ids).await;
    assert_eq!(seen.spec, image);
    assert_eq!(
        seen.unobserved,
        ["dependsOn", "permissions[].allowWildcard"]
    );
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let (a, ids) = answers(&spec);
    let base = serde_json::to_value(read_back(a, &ids).await.spec).unwrap();
    // Name order: DB, TOKEN; MODE, QUEUE_URL.
    assert_eq!(base["secrets"][1]["name"], "TOKEN");
    assert_eq!(base["environment"][0]["name"], "MODE");
    type Change = Box<dyn Fn(&mut Answers)>;
    fn config(a: &mut Answers) -> &mut FunctionConfiguration {
        a.function.configuration.as_mut().unwrap()
    }
    fn var(a: &mut Answers, k: &str, v: &str) {
        let env = config(a).environment.as_mut().unwrap();
        env.variables.as_mut().unwrap().insert(k.into(), v.into());
    }
    let cases: Vec<(&str, Value, Change)> = vec![
        (
            "/runtime",
            "python3.13".into(),
            Box::new(|a| config(a).runtime = Some(Runtime::Python313)),
        ),
        (
            "/handler",
            "app.other".into(),
            Box::new(|a| config(a).handler = Some("app.other".into())),
        ),
        (
            "/memoryMb",
            256.into(),
            Box::new(|a| config(a).memory_size = Some(256)),
        ),
        (
            "/timeoutSeconds",
            5.into(),
            Box::new(|a| config(a).timeout = Some(5)),
        ),
        (
            "/ephemeralStorageMb",
            512.into(),
            Box::new(|a| {
                config(a).ephemeral_storage =
                    Some(EphemeralStorage::builder().size(512).build().unwrap());
            }),
        ),
        (
            "/architecture",
            "X86_64".into(),
            Box::new(|a| config(a).architectures = Some(vec![Architecture::X8664])),
        ),
        (
            "/environment/0/value",
            "test".into(),
            Box::new(|a| var(a, "MODE", "test")),
        ),
        (
            "/secrets/0/valueFrom/jsonKey",
            "user".into(),
            Box::new(|a| var(a, "DB_JSON_KEY", "user")),
        ),
        (
            "/secrets/1/valueFrom/ssmParameter",
            "/shop/other".into(),
            Box::new(|a| var(a, "TOKEN", "/shop/other")),
        ),
        (
            "/reservedConcurrency",
            7.into(),
            Box::new(|a| {
                a.function.concurrency = Some(
                    Concurrency::builder()
                        .reserved_concurrent_executions(7)
                        .build(),
                );
            }),
        ),
        (
            "/vpc",
            false.into(),
            Box::new(|a| {
                config(a).vpc_config = Some(VpcConfigResponse::builder().vpc_id("").build());
            }),
        ),
        (
            "/triggers/0/schedule",
            "rate(1 hour)".into(),
            Box::new(|a| {
                a.rules[0].schedule_expression = Some("rate(1 hour)".into());
            }),
        ),
        (
            "/triggers/1/batchSize",
            20.into(),
            Box::new(|a| a.mappings[0].batch_size = Some(20)),
        ),
        (
            "/logging/retentionDays",
            7.into(),
            Box::new(|a| a.retention = Some(7)),
        ),
    ];
    for (pointer, value, change) in cases {
        let (mut a, ids) = answers(&spec);
        change(&mut a);
        let seen = serde_json::to_value(read_back(a, &ids).await.spec).unwrap();
        let mut expected = base.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(seen, expected, "only {pointer} differs");
    }
    // Concurrency no longer reserved; a batch size back to Lambda's default.
    let (mut a, ids) = answers(&spec);
    a.function.concurrency = None;
    a.mappings[0].batch_size = Some(SQS_DEFAULT_BATCH);
    let seen = serde_json::to_value(read_back(a, &ids).await.spec).unwrap();
    let mut expected = base.clone();
    expected
        .as_object_mut()
        .unwrap()
        .remove("reservedConcurrency");
    expected["triggers"][1]
        .as_object_mut()
        .unwrap()
        .remove("batchSize");
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn triggers_turned_off_removed_or_added_in_aws_read_as_such() {
    let spec = full_spec();
    let (base_answers, ids) = answers(&spec);
    let base = read_back(base_answers, &ids).await.spec;
    // A disabled mapping and a disabled rule invoke nothing.
    let (mut a, ids) = answers(&spec);
    a.mappings[1].state = Some("Disabled".into());
    a.rules[1].state = Some(RuleState::Disabled);
    let seen = read_back(a, &ids).await.spec;
    assert_eq!(seen.triggers, base.triggers[..2]);
    // A rule and a mapping added outside panka come after the recorded ones.
    let (mut a, ids) = answers(&spec);
    a.rules.push(
        Rule::builder()
            .name(schedule_rule(NAME, 2))
            .schedule_expression("rate(9 minutes)")
            .state(RuleState::Enabled)
            .build(),
    );
    a.mappings.push(
        EventSourceMappingConfiguration::builder()
            .uuid("mapping-x")
            .event_source_arn("arn:aws:sqs:us-east-1:123456789012:elsewhere")
            .batch_size(SQS_DEFAULT_BATCH)
            .state("Enabled")
            .build(),
    );
    // Another function's rules that share the prefix are not this one's.
    a.rules.push(
        Rule::builder()
            .name(format!("{}x-schedule-0", schedule_prefix(NAME)))
            .schedule_expression("rate(1 day)")
            .build(),
    );
    let seen = read_back(a, &ids).await.spec;
    assert_eq!(seen.triggers[..4], base.triggers[..]);
    assert_eq!(
        seen.triggers[4].schedule.as_deref(),
        Some("rate(9 minutes)")
    );
    assert_eq!(
        seen.triggers[5]
            .queue
            .as_ref()
            .map(|q| q.component.as_str()),
        Some("arn:aws:sqs:us-east-1:123456789012:elsewhere")
    );
    assert_eq!(seen.triggers.len(), 6);
}

#[tokio::test]
async fn code_replaced_outside_panka_reads_as_changed() {
    // A zip: code.s3 is unobservable until the CodeSha256 differs from the recorded one.
    let spec = full_spec();
    let (mut a, ids) = answers(&spec);
    a.function.configuration.as_mut().unwrap().code_sha256 = Some("other".into());
    let seen = read_back(a, &ids).await;
    assert_eq!(
        seen.unobserved,
        ["dependsOn", "permissions[].allowWildcard"]
    );
    assert_eq!(
        seen.spec.code,
        LambdaCode {
            s3: None,
            image_uri: None
        }
    );
    // An image: the resolved URI, which differs from the spec's.
    let image: LambdaSpec =
        serde_json::from_value(json!({"code": {"imageUri": "repo/hook:v2"}})).unwrap();
    let (mut a, ids) = answers(&image);
    a.function.configuration.as_mut().unwrap().code_sha256 = Some("other".into());
    let seen = read_back(a, &ids).await;
    assert_eq!(
        seen.spec.code.image_uri.as_deref(),
        Some("repo/hook:v2@sha256:1111")
    );
    // Another URI deployed: read as is.
    let (mut a, ids) = answers(&image);
    a.function.code = Some(
        FunctionCodeLocation::builder()
            .image_uri("repo/hook:v3")
            .build(),
    );
    let seen = read_back(a, &ids).await;
    assert_eq!(seen.spec.code.image_uri.as_deref(), Some("repo/hook:v3"));
}

#[tokio::test]
async fn a_state_recorded_before_the_layout_takes_secret_arns_for_secrets() {
    let spec = full_spec();
    let (a, ids) = answers(&spec);
    let old: BTreeMap<String, String> = ids
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with(SECRET_ID) && !k.starts_with(TRIGGER_ID) && k != CODE_SHA_ID
        })
        .collect();
    let seen = read_back(a, &old).await;
    assert_eq!(seen.spec.secrets.len(), 1);
    assert_eq!(
        seen.spec.secrets[0].value_from.secrets_manager.as_deref(),
        Some(SECRET)
    );
    // "/shop/token" cannot be told from a literal without the record.
    assert!(seen.spec.environment.iter().any(|e| e.name == "TOKEN"));
    // Schedules first, then queues.
    assert!(seen.spec.triggers[1].schedule.is_some());
}

#[tokio::test]
async fn a_function_gone_from_aws_reads_as_absent() {
    let gone = mock!(aws_sdk_lambda::Client::get_function).then_error(|| {
        aws_sdk_lambda::operation::get_function::GetFunctionError::ResourceNotFoundException(
            aws_sdk_lambda::types::error::ResourceNotFoundException::builder().build(),
        )
    });
    let none: [&MockRule; 0] = [];
    let p = LambdaProvider::new(
        mock_client!(aws_sdk_lambda, [&gone]),
        mock_client!(aws_sdk_iam, none),
        mock_client!(aws_sdk_cloudwatchlogs, none),
        mock_client!(aws_sdk_eventbridge, none),
        mock_client!(aws_sdk_ec2, none),
    );
    let ids = BTreeMap::from([("function".to_string(), NAME.to_string())]);
    let empty = BTreeMap::new();
    let id = crate::test_identity("payments/webhook", NAME, &ids, &empty);
    assert!(p.read(&id).await.unwrap().is_none());
}
