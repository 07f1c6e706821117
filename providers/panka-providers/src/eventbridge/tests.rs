//! Unit tests for the EventBridge provider.

use super::*;

use aws_sdk_eventbridge::operation::describe_archive::{
    DescribeArchiveError, DescribeArchiveOutput,
};
use aws_sdk_eventbridge::operation::describe_event_bus::{
    DescribeEventBusError, DescribeEventBusOutput,
};
use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
use aws_sdk_eventbridge::operation::list_targets_by_rule::ListTargetsByRuleOutput;
use aws_sdk_eventbridge::types::error::ResourceNotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::json;

const NAME: &str = "shop-dev-payments-bus";
const ADDRESS: &str = "payments/bus";
const ACCOUNT: &str = "arn:aws:events:us-east-1:123456789012";
const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:shop-dev-orders-queue.fifo";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:shop-dev-orders-alerts";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-hook";

/// A custom bus with an archive, a disabled rule with its own description, two targets
/// (one a FIFO queue) and a static input, and an enabled rule described by panka.
fn full_spec() -> EventBridgeSpec {
    serde_json::from_value(json!({
        "archiveRetentionDays": 7,
        "rules": [
            {"name": "paid", "description": "Payments settled", "enabled": false,
             "eventPattern": {"source": ["payments"], "detail-type": ["paid"]},
             "targets": [{"component": QUEUE}, {"component": TOPIC}],
             "input": {"kind": "paid", "version": 2}},
            {"name": "refunded", "eventPattern": {"source": ["payments"], "detail-type": ["refunded"]},
             "targets": [{"component": FUNCTION}]}
        ]
    }))
    .unwrap()
}

/// What AWS has for a bus made from `spec`: the rules as ListRules lists them (the PutRule
/// request plus ARN and bus) and their targets as the PutTargets request put them.
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRules.html
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListTargetsByRule.html
struct Aws {
    bus: String,
    rules: Vec<(Rule, Vec<EbTarget>)>,
    archive_days: Option<i32>,
}

fn aws_for(spec: &EventBridgeSpec) -> Aws {
    let bus = bus_name(NAME, spec).to_string();
    let rules = spec
        .rules
        .iter()
        .map(|r| {
            let mut rule = rule_request(NAME, ADDRESS, r);
            rule.arn = Some(format!("{ACCOUNT}:rule/{bus}/{}", rule.name().unwrap()));
            rule.event_bus_name = Some(bus.clone());
            let targets = r
                .targets
                .iter()
                .map(|t| target_request(NAME, r, "orders/queue", &t.component).unwrap())
                .collect();
            (rule, targets)
        })
        .collect();
    Aws {
        bus,
        rules,
        archive_days: spec.archive_retention_days.map(|d| d as i32),
    }
}

fn ids_for(aws: &Aws) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::from([("bus".to_string(), aws.bus.clone())]);
    for (r, _) in &aws.rules {
        ids.insert(
            format!("rule.{}", r.name().unwrap()),
            r.arn().unwrap().to_string(),
        );
    }
    if aws.archive_days.is_some() {
        ids.insert("archive".to_string(), archive_name(NAME));
    }
    ids
}

async fn read_back(aws: Aws, ids: &BTreeMap<String, String>) -> Observation<EventBridgeSpec> {
    let bus = aws.bus.clone();
    // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeEventBus.html
    let bus_rule = mock!(Client::describe_event_bus).then_output(move || {
        DescribeEventBusOutput::builder()
            .name(&bus)
            .arn(format!("{ACCOUNT}:event-bus/{bus}"))
            .build()
    });
    let listed: Vec<Rule> = aws.rules.iter().map(|(r, _)| r.clone()).collect();
    let list_rule = mock!(Client::list_rules).then_output(move || {
        ListRulesOutput::builder()
            .set_rules(Some(listed.clone()))
            .build()
    });
    let days = aws.archive_days;
    // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeArchive.html
    let archive_rule = match days {
        Some(d) => mock!(Client::describe_archive).then_output(move || {
            DescribeArchiveOutput::builder()
                .archive_name(archive_name(NAME))
                .event_source_arn(format!("{ACCOUNT}:event-bus/{NAME}"))
                .retention_days(d)
                .event_count(0)
                .build()
        }),
        None => mock!(Client::describe_archive).then_error(|| {
            DescribeArchiveError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(
                        aws_sdk_eventbridge::error::ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .build(),
                    )
                    .build(),
            )
        }),
    };
    let mut rules = vec![bus_rule, list_rule, archive_rule];
    for (r, targets) in aws.rules {
        let name = r.name().unwrap().to_string();
        rules.push(
            mock!(Client::list_targets_by_rule)
                .match_requests(move |q| q.rule() == Some(name.as_str()))
                .then_output(move || {
                    ListTargetsByRuleOutput::builder()
                        .set_targets(Some(targets.clone()))
                        .build()
                }),
        );
    }
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, rules.iter());
    let empty = BTreeMap::new();
    let id = crate::test_identity(ADDRESS, NAME, ids, &empty);
    provider(client).read(&id).await.unwrap().unwrap()
}

fn provider(events: Client) -> EventBridgeProvider {
    let none = Vec::<aws_smithy_mocks::Rule>::new();
    EventBridgeProvider::new(
        events,
        mock_client!(aws_sdk_sqs, RuleMode::MatchAny, none.iter()),
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, none.iter()),
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, none.iter()),
    )
}

/// Sets `value` at `pointer` in `v`, adding the last key when it is absent.
fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent).unwrap()[key] = value;
}

#[tokio::test]
async fn a_bus_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let aws = aws_for(&spec);
    let ids = ids_for(&aws);
    let seen = read_back(aws, &ids).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.outcome.physical_ids, ids);
    assert_eq!(seen.outcome.outputs["busName"], NAME);
    assert_eq!(
        seen.outcome.outputs["busArn"],
        format!("{ACCOUNT}:event-bus/{NAME}")
    );
    assert_eq!(seen.unobserved, ["dependsOn"]);
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let expected_json = serde_json::to_value(&spec).unwrap();
    type Change = fn(&mut Aws);
    let cases: Vec<(&str, Change, Value)> = vec![
        (
            "/archiveRetentionDays",
            |a| a.archive_days = Some(30),
            30.into(),
        ),
        (
            "/rules/0/description",
            |a| a.rules[0].0.description = Some("Other".into()),
            "Other".into(),
        ),
        (
            "/rules/1/description",
            |a| a.rules[1].0.description = Some("Now described".into()),
            "Now described".into(),
        ),
        (
            "/rules/0/eventPattern",
            |a| a.rules[0].0.event_pattern = Some(r#"{"source":["billing"]}"#.into()),
            json!({"source": ["billing"]}),
        ),
        (
            "/rules/0/enabled",
            |a| a.rules[0].0.state = Some(RuleState::Enabled),
            true.into(),
        ),
        (
            "/rules/1/targets/0/component",
            |a| a.rules[1].1[0].arn = "arn:aws:lambda:us-east-1:123456789012:function:other".into(),
            "arn:aws:lambda:us-east-1:123456789012:function:other".into(),
        ),
        (
            "/rules/0/input",
            |a| {
                for t in &mut a.rules[0].1 {
                    t.input = Some(r#"{"kind":"late"}"#.into());
                }
            },
            json!({"kind": "late"}),
        ),
    ];
    for (pointer, change, value) in cases {
        let mut aws = aws_for(&spec);
        let ids = ids_for(&aws);
        change(&mut aws);
        let seen = serde_json::to_value(read_back(aws, &ids).await.spec).unwrap();
        let mut expected = expected_json.clone();
        set(&mut expected, pointer, value);
        assert_eq!(seen, expected, "only {pointer} differs");
    }
    // The archive deleted, a target removed, a rule deleted: each missing from what is read.
    let mut aws = aws_for(&spec);
    let ids = ids_for(&aws);
    aws.archive_days = None;
    aws.rules[0].1.pop();
    aws.rules.pop();
    let seen = read_back(aws, &ids).await;
    let mut expected = expected_json.clone();
    expected
        .as_object_mut()
        .unwrap()
        .remove("archiveRetentionDays");
    expected["rules"].as_array_mut().unwrap().pop();
    expected["rules"][0]["targets"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), expected);
    assert!(!seen.outcome.physical_ids.contains_key("archive"));
    assert_eq!(seen.outcome.physical_ids.len(), 2, "the bus and one rule");
}

#[tokio::test]
async fn on_the_default_bus_only_this_components_rules_are_read() {
    let spec: EventBridgeSpec = serde_json::from_value(json!({
        "customBus": false,
        "rules": [{"name": "nightly", "schedule": "cron(0 3 * * ? *)", "targets": [{"component": FUNCTION}]}]
    }))
    .unwrap();
    let mut aws = aws_for(&spec);
    let ids = ids_for(&aws);
    let other = Rule::builder()
        .name(format!("{NAME}2-nightly"))
        .arn(format!("{ACCOUNT}:rule/{NAME}2-nightly"))
        .description("panka: payments/bus2 nightly")
        .schedule_expression("rate(1 day)")
        .build();
    let managed = Rule::builder()
        .name(format!("{NAME}-by-aws"))
        .arn(format!("{ACCOUNT}:rule/{NAME}-by-aws"))
        .managed_by("schemas.amazonaws.com")
        .build();
    aws.rules.push((other, Vec::new()));
    aws.rules.push((managed, Vec::new()));
    let seen = read_back(aws, &ids).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.outcome.physical_ids, ids);
    // The schedule changed.
    let mut aws = aws_for(&spec);
    aws.rules[0].0.schedule_expression = Some("rate(1 hour)".into());
    let seen = read_back(aws, &ids).await;
    let mut expected = serde_json::to_value(&spec).unwrap();
    expected["rules"][0]["schedule"] = "rate(1 hour)".into();
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), expected);
}

#[test]
fn a_shortened_rule_name_is_recognised_by_its_description() {
    let long = "a-rather-long-stack-production-payments-events";
    let spec: EventRule = serde_json::from_value(json!({
        "name": "payment-received-from-the-card-processor",
        "eventPattern": {"source": ["payments"]}, "targets": [{"component": "q"}]
    }))
    .unwrap();
    let rule = rule_request(long, ADDRESS, &spec);
    assert_ne!(rule.name(), Some(format!("{long}-{}", spec.name).as_str()));
    assert!(rule.name().unwrap().starts_with(&rule_prefix(long)));
    assert_eq!(
        spec_rule_name(long, ADDRESS, &rule).as_deref(),
        Some(spec.name.as_str())
    );
    // Described otherwise, a shortened name reads as its shortened remainder.
    let mut described = rule.clone();
    described.description = Some("custom".into());
    assert_ne!(
        spec_rule_name(long, ADDRESS, &described).as_deref(),
        Some(spec.name.as_str())
    );
    let mut stranger = rule.clone();
    stranger.name = Some("another-component-rule".into());
    assert_eq!(spec_rule_name(long, ADDRESS, &stranger), None);
}

#[tokio::test]
async fn a_bus_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::describe_event_bus).then_error(|| {
        DescribeEventBusError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .meta(
                    aws_sdk_eventbridge::error::ErrorMetadata::builder()
                        .code("ResourceNotFoundException")
                        .build(),
                )
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_eventbridge, [&gone]);
    let ids = BTreeMap::from([("bus".to_string(), NAME.to_string())]);
    let empty = BTreeMap::new();
    let id = crate::test_identity(ADDRESS, NAME, &ids, &empty);
    assert!(provider(client).read(&id).await.unwrap().is_none());
}

#[test]
fn names_fit_eventbridge_limits() {
    let rule: EventRule = serde_json::from_value(serde_json::json!({
        "name": "payment-received-from-the-card-processor",
        "eventPattern": {"source": ["payments"]},
        "targets": [{"component": "orders/queue"}],
    }))
    .unwrap();
    let long = "a-rather-long-stack-production-payments-events";
    let name = rule_name(long, &rule);
    assert!(name.len() <= RULE_NAME_LIMIT, "{name}");
    assert_eq!(name, rule_name(long, &rule), "stable");
    assert!(archive_name(long).len() <= ARCHIVE_NAME_LIMIT);
    assert_eq!(target_id("orders/queue"), "orders-queue");
}

mod replays {
    use std::sync::{Arc, Mutex};

    use aws_sdk_eventbridge::operation::delete_rule::DeleteRuleOutput;
    use aws_sdk_eventbridge::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_eventbridge::operation::remove_targets::RemoveTargetsOutput;
    use aws_sdk_eventbridge::operation::tag_resource::TagResourceOutput;
    use aws_sdk_lambda::operation::remove_permission::RemovePermissionOutput;
    use aws_smithy_mocks::{Rule as MockRule, RuleMode, mock, mock_client};
    use panka_engine::{ErrorKind, Target};

    use super::*;
    use crate::aws_replies;

    type Log = Arc<Mutex<Vec<String>>>;

    fn owner_tags(component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:service".to_string(), "payments".to_string()),
            ("panka:component".to_string(), component.to_string()),
        ])
    }

    const BUS_ARN: &str = "arn:aws:events:us-east-1:123456789012:event-bus/shop-dev-payments-bus";
    const OLD_RULE: &str = "shop-dev-payments-bus-refunded";
    const OLD_RULE_ARN: &str = "arn:aws:events:us-east-1:123456789012:rule/shop-dev-payments-bus/shop-dev-payments-bus-refunded";

    /// EventBridge with the custom bus tagged `found`, no archive, and rule `OLD_RULE` delivering
    /// to FUNCTION; Lambda's RemovePermission logged.
    fn clients(log: &Log, found: BTreeMap<String, String>) -> EventBridgeProvider {
        let l = log.clone();
        let logged = move |call: String| l.lock().unwrap().push(call);
        let bus = mock!(Client::describe_event_bus).then_output(|| {
            DescribeEventBusOutput::builder()
                .name(NAME)
                .arn(BUS_ARN)
                .build()
        });
        let tags = mock!(Client::list_tags_for_resource).then_output(move || {
            ListTagsForResourceOutput::builder()
                .set_tags(Some(
                    found
                        .iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
                        .collect(),
                ))
                .build()
        });
        let n = logged.clone();
        let tag = mock!(Client::tag_resource).then_compute_output(move |_| {
            n("TagResource".into());
            TagResourceOutput::builder().build()
        });
        let archive = mock!(Client::describe_archive).then_http_response(|| {
            aws_replies::rest_json(
                400,
                "ResourceNotFoundException",
                "Archive shop-dev-payments-bus does not exist.",
            )
        });
        let targets = mock!(Client::list_targets_by_rule).then_output(|| {
            ListTargetsByRuleOutput::builder()
                .targets(
                    EbTarget::builder()
                        .id("payments-hook")
                        .arn(FUNCTION)
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let n = logged.clone();
        let remove = mock!(Client::remove_targets).then_compute_output(move |r| {
            n(format!("RemoveTargets {}", r.ids().join(",")));
            RemoveTargetsOutput::builder().build()
        });
        let n = logged.clone();
        let delete = mock!(Client::delete_rule).then_compute_output(move |r| {
            n(format!("DeleteRule {}", r.name().unwrap()));
            DeleteRuleOutput::builder().build()
        });
        let n = logged.clone();
        let permission =
            mock!(aws_sdk_lambda::Client::remove_permission).then_compute_output(move |r| {
                n(format!(
                    "RemovePermission {} {}",
                    r.function_name().unwrap(),
                    r.statement_id().unwrap()
                ));
                RemovePermissionOutput::builder().build()
            });
        let none = Vec::<MockRule>::new();
        let rules = mock!(Client::list_rules).then_output(|| ListRulesOutput::builder().build());
        let events: Vec<MockRule> = vec![bus, tags, tag, archive, targets, remove, delete, rules];
        EventBridgeProvider::new(
            mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, events.iter()),
            mock_client!(aws_sdk_sqs, RuleMode::MatchAny, none.iter()),
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, none.iter()),
            mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&permission]),
        )
    }

    fn target<'a>(
        tags: &'a BTreeMap<String, String>,
        config: &'a Value,
    ) -> Target<'a, EventBridgeSpec> {
        Target {
            address: ADDRESS,
            name: NAME,
            spec: serde_json::from_value(json!({})).unwrap(),
            tags,
            region: "us-east-1",
            config,
        }
    }

    /// A rule gone from the spec goes with its targets, and the function it delivered to loses
    /// the rule's permission to invoke it (`panka-events-BUS-RULE`).
    #[tokio::test]
    async fn a_removed_rule_takes_its_permission_on_the_function_back() {
        let log: Log = Arc::default();
        let tags = owner_tags("bus");
        let config = json!({});
        let ids = BTreeMap::from([
            ("bus".to_string(), NAME.to_string()),
            (format!("rule.{OLD_RULE}"), OLD_RULE_ARN.to_string()),
        ]);
        clients(&log, tags.clone())
            .update(&target(&tags, &config), &ids)
            .await
            .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "TagResource".to_string(),
                "RemoveTargets payments-hook".to_string(),
                format!(
                    "RemovePermission {FUNCTION} panka-events-shop-dev-payments-bus-{OLD_RULE}"
                ),
                format!("DeleteRule {OLD_RULE}"),
            ]
        );
    }

    /// A custom bus of the name with another component's tags is not tagged or used.
    #[tokio::test]
    async fn a_bus_of_another_component_is_not_taken_over() {
        let log: Log = Arc::default();
        let tags = owner_tags("bus");
        let config = json!({});
        let err = clients(&log, owner_tags("other-bus"))
            .create(&target(&tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned, "{}", err.chain());
        assert!(log.lock().unwrap().is_empty());
        let err = clients(&log, BTreeMap::new())
            .find(&target(&tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
    }
}
