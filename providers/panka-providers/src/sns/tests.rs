//! Unit tests for the SNS provider.

use super::*;
use aws_sdk_sns::operation::get_subscription_attributes::{
    GetSubscriptionAttributesError, GetSubscriptionAttributesOutput,
};
use aws_sdk_sns::operation::get_topic_attributes::{
    GetTopicAttributesError, GetTopicAttributesOutput,
};
use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
use aws_sdk_sns::types::Subscription as Listed;
use aws_sdk_sns::types::error::NotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::json;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:shop-dev-payments-events.fifo";
const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:shop-dev-orders-queue.fifo";
const PARTNER: &str = "arn:aws:sqs:us-east-1:210987654321:partner-inbox.fifo";

fn sub_arn(n: u32) -> String {
    format!("{TOPIC}:0000000{n}-aaaa-bbbb-cccc-dddddddddddd")
}

/// A FIFO topic with every topic setting, a subscription to a queue of the stack (raw,
/// filtered) and one to a partner's queue by ARN.
fn full_spec() -> SnsSpec {
    serde_json::from_value(json!({
        "fifo": true, "contentBasedDeduplication": true, "displayName": "Payment events",
        "kmsKeyId": "alias/payments",
        "subscriptions": [
            {"name": "orders", "protocol": "sqs", "target": {"component": QUEUE},
             "rawMessageDelivery": true, "filterPolicy": {"kind": ["paid"]}},
            {"name": "partner", "protocol": "sqs", "endpoint": PARTNER,
             "filterPolicy": {"amount": [{"numeric": [">", 100]}]}}
        ]
    }))
    .unwrap()
}

fn ids_of(spec: &SnsSpec) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::from([("topic".to_string(), TOPIC.to_string())]);
    for (i, s) in spec.subscriptions.iter().enumerate() {
        ids.insert(format!("{SUBSCRIPTION}{}", s.name), sub_arn(i as u32));
        if let Some(e) = s.endpoint.as_ref().filter(|e| e.starts_with("arn:")) {
            ids.insert(format!("{EXTERNAL}{}", s.name), e.clone());
        }
    }
    ids
}

/// GetTopicAttributes for a topic made from `spec`: what was set, plus what SNS adds.
/// https://docs.aws.amazon.com/sns/latest/api/API_GetTopicAttributes.html
fn topic_answer(spec: &SnsSpec) -> BTreeMap<String, String> {
    let mut a: BTreeMap<String, String> = attributes(spec)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if spec.fifo {
        a.insert("FifoTopic".into(), "true".into());
    }
    a.insert("TopicArn".into(), TOPIC.into());
    a.insert("Owner".into(), "123456789012".into());
    a.insert("SubscriptionsConfirmed".into(), "2".into());
    a.insert("SubscriptionsPending".into(), "0".into());
    a.insert("EffectiveDeliveryPolicy".into(), r#"{"http":{}}"#.into());
    a
}

/// GetSubscriptionAttributes for subscription `i` of `spec`: what was set, plus what SNS
/// adds. https://docs.aws.amazon.com/sns/latest/api/API_GetSubscriptionAttributes.html
fn subscription_answer(spec: &SnsSpec, i: usize, endpoint: &str) -> BTreeMap<String, String> {
    let s = &spec.subscriptions[i];
    let mut a: BTreeMap<String, String> = subscription_attributes(s)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if a.get("FilterPolicy").is_some_and(|p| p == "{}") {
        a.remove("FilterPolicy");
    } else {
        a.insert("FilterPolicyScope".into(), "MessageAttributes".into());
    }
    a.entry("RawMessageDelivery".into())
        .or_insert_with(|| "false".into());
    a.insert("Protocol".into(), protocol(s.protocol).into());
    a.insert("Endpoint".into(), endpoint.into());
    a.insert("TopicArn".into(), TOPIC.into());
    a.insert("SubscriptionArn".into(), sub_arn(i as u32));
    a.insert("Owner".into(), "123456789012".into());
    a.insert("PendingConfirmation".into(), "false".into());
    a.insert("ConfirmationWasAuthenticated".into(), "true".into());
    a
}

/// A read never calls SQS.
fn no_sqs() -> aws_sdk_sqs::Client {
    mock_client!(
        aws_sdk_sqs,
        RuleMode::MatchAny,
        Vec::<aws_smithy_mocks::Rule>::new().iter()
    )
}

/// A read never calls Lambda.
fn no_lambda() -> aws_sdk_lambda::Client {
    mock_client!(
        aws_sdk_lambda,
        RuleMode::MatchAny,
        Vec::<aws_smithy_mocks::Rule>::new().iter()
    )
}

struct Aws {
    topic: BTreeMap<String, String>,
    /// ListSubscriptionsByTopic entries (protocol, endpoint, ARN).
    listed: Vec<(String, String, String)>,
    subscriptions: Vec<BTreeMap<String, String>>,
}

fn full_aws(spec: &SnsSpec) -> Aws {
    let endpoints = [QUEUE, PARTNER];
    let subscriptions: Vec<_> = (0..spec.subscriptions.len())
        .map(|i| subscription_answer(spec, i, endpoints[i]))
        .collect();
    let listed = subscriptions
        .iter()
        .map(|a| {
            (
                a["Protocol"].clone(),
                a["Endpoint"].clone(),
                a["SubscriptionArn"].clone(),
            )
        })
        .collect();
    Aws {
        topic: topic_answer(spec),
        listed,
        subscriptions,
    }
}

async fn read_back(aws: Aws, ids: &BTreeMap<String, String>) -> Observation<SnsSpec> {
    let topic = aws.topic.clone();
    let topic_rule = mock!(Client::get_topic_attributes).then_output(move || {
        GetTopicAttributesOutput::builder()
            .set_attributes(Some(topic.clone().into_iter().collect()))
            .build()
    });
    let listed = aws.listed.clone();
    // https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptionsByTopic.html
    let list_rule = mock!(Client::list_subscriptions_by_topic).then_output(move || {
        ListSubscriptionsByTopicOutput::builder()
            .set_subscriptions(Some(
                listed
                    .iter()
                    .map(|(p, e, a)| {
                        Listed::builder()
                            .protocol(p)
                            .endpoint(e)
                            .subscription_arn(a)
                            .topic_arn(TOPIC)
                            .owner("123456789012")
                            .build()
                    })
                    .collect(),
            ))
            .build()
    });
    let mut rules = vec![topic_rule, list_rule];
    for a in aws.subscriptions {
        let arn = a["SubscriptionArn"].clone();
        rules.push(
            mock!(Client::get_subscription_attributes)
                .match_requests(move |r| r.subscription_arn() == Some(arn.as_str()))
                .then_output(move || {
                    GetSubscriptionAttributesOutput::builder()
                        .set_attributes(Some(a.clone().into_iter().collect()))
                        .build()
                }),
        );
    }
    rules.push(mock!(Client::get_subscription_attributes).then_error(|| {
        GetSubscriptionAttributesError::NotFoundException(NotFoundException::builder().build())
    }));
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules.iter());
    let empty = BTreeMap::new();
    let id = crate::test_identity("payments/events", "shop-dev-payments-events", ids, &empty);
    SnsProvider::new(client, no_sqs(), no_lambda())
        .read(&id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_topic_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let ids = ids_of(&spec);
    let seen = read_back(full_aws(&spec), &ids).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.outcome.physical_ids, ids);
    assert_eq!(seen.outcome.outputs["arn"], TOPIC);
    assert_eq!(
        seen.outcome.outputs["name"],
        "shop-dev-payments-events.fifo"
    );
    assert_eq!(seen.unobserved, ["dependsOn"]);
}

#[tokio::test]
async fn subscriptions_to_functions_and_people_read_back_as_their_spec() {
    let spec: SnsSpec = serde_json::from_value(json!({
        "subscriptions": [
            {"name": "hook", "protocol": "lambda", "target": {"component": "arn:aws:lambda:us-east-1:123456789012:function:hook"}},
            {"name": "ops", "protocol": "email", "endpoint": "ops@example.test"},
            {"name": "web", "protocol": "https", "endpoint": "https://partner.example.test/sns", "rawMessageDelivery": true}
        ]
    }))
    .unwrap();
    let ids = ids_of(&spec);
    let endpoints = [
        "arn:aws:lambda:us-east-1:123456789012:function:hook",
        "ops@example.test",
        "https://partner.example.test/sns",
    ];
    let mut subscriptions: Vec<_> = (0..3)
        .map(|i| subscription_answer(&spec, i, endpoints[i]))
        .collect();
    // The owner has not confirmed the email yet: the list shows no ARN for it.
    subscriptions[1].insert("PendingConfirmation".into(), "true".into());
    let mut listed: Vec<_> = subscriptions
        .iter()
        .map(|a| {
            (
                a["Protocol"].clone(),
                a["Endpoint"].clone(),
                a["SubscriptionArn"].clone(),
            )
        })
        .collect();
    listed[1].2 = "PendingConfirmation".into();
    let mut topic = topic_answer(&spec);
    topic.remove("FifoTopic");
    let aws = Aws {
        topic,
        listed,
        subscriptions,
    };
    let seen = read_back(aws, &ids).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.outcome.physical_ids, ids);
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let spec = full_spec();
    let ids = ids_of(&spec);
    let expected_json = serde_json::to_value(&spec).unwrap();
    type Change = fn(&mut Aws);
    let cases: Vec<(&str, Change, Value)> = vec![
        (
            "/fifo",
            |a| {
                a.topic.insert("FifoTopic".into(), "false".into());
            },
            false.into(),
        ),
        (
            "/contentBasedDeduplication",
            |a| {
                a.topic
                    .insert("ContentBasedDeduplication".into(), "false".into());
            },
            false.into(),
        ),
        (
            "/displayName",
            |a| {
                a.topic.insert("DisplayName".into(), "Other".into());
            },
            "Other".into(),
        ),
        (
            "/kmsKeyId",
            |a| {
                a.topic
                    .insert("KmsMasterKeyId".into(), "alias/other".into());
            },
            "alias/other".into(),
        ),
        (
            "/subscriptions/0/rawMessageDelivery",
            |a| {
                a.subscriptions[0].insert("RawMessageDelivery".into(), "false".into());
            },
            false.into(),
        ),
        (
            "/subscriptions/0/filterPolicy",
            |a| {
                a.subscriptions[0].insert("FilterPolicy".into(), r#"{"kind":["refunded"]}"#.into());
            },
            json!({"kind": ["refunded"]}),
        ),
        (
            "/subscriptions/0/target/component",
            |a| {
                a.subscriptions[0].insert("Endpoint".into(), PARTNER.into());
            },
            PARTNER.into(),
        ),
        (
            "/subscriptions/1/endpoint",
            |a| {
                a.subscriptions[1].insert("Endpoint".into(), QUEUE.into());
            },
            QUEUE.into(),
        ),
    ];
    for (pointer, change, value) in cases {
        let mut aws = full_aws(&spec);
        change(&mut aws);
        let seen = serde_json::to_value(read_back(aws, &ids).await.spec).unwrap();
        let mut expected = expected_json.clone();
        *expected.pointer_mut(pointer).unwrap() = value;
        assert_eq!(seen, expected, "only {pointer} differs");
    }
    // No filter policy, or one on the message body, which the spec cannot hold.
    let mut aws = full_aws(&spec);
    aws.subscriptions[0].remove("FilterPolicy");
    aws.subscriptions[1].insert("FilterPolicyScope".into(), "MessageBody".into());
    let seen = serde_json::to_value(read_back(aws, &ids).await.spec).unwrap();
    let mut expected = expected_json.clone();
    for i in 0..2 {
        expected["subscriptions"][i]
            .as_object_mut()
            .unwrap()
            .remove("filterPolicy");
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn subscriptions_gone_or_added_in_aws_read_as_they_are() {
    let spec = full_spec();
    let ids = ids_of(&spec);
    let mut aws = full_aws(&spec);
    // The partner's subscription was removed; someone subscribed a queue by hand, and an
    // email address that has not confirmed.
    aws.subscriptions.pop();
    aws.listed.pop();
    let mut extra = subscription_answer(&spec, 0, PARTNER);
    let extra_arn = sub_arn(7);
    extra.insert("SubscriptionArn".into(), extra_arn.clone());
    extra.insert("RawMessageDelivery".into(), "false".into());
    extra.remove("FilterPolicy");
    aws.listed
        .push(("sqs".into(), PARTNER.into(), extra_arn.clone()));
    aws.listed.push((
        "email".into(),
        "ops@example.test".into(),
        "PendingConfirmation".into(),
    ));
    aws.subscriptions.push(extra);
    let seen = read_back(aws, &ids).await;
    let mut expected = serde_json::to_value(&spec).unwrap();
    let subs = expected["subscriptions"].as_array_mut().unwrap();
    subs.pop();
    // Recorded ones first, then the others by protocol and endpoint.
    subs.push(
        json!({"name": "email:ops@example.test", "protocol": "email",
        "endpoint": "ops@example.test", "rawMessageDelivery": false}),
    );
    subs.push(
        json!({"name": extra_arn, "protocol": "sqs", "target": {"component": PARTNER},
        "rawMessageDelivery": false}),
    );
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), expected);
    assert!(
        !seen
            .outcome
            .physical_ids
            .contains_key("subscription.partner")
    );
    assert!(!seen.outcome.physical_ids.contains_key("endpoint.partner"));
}

#[tokio::test]
async fn a_topic_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::get_topic_attributes).then_error(|| {
        GetTopicAttributesError::NotFoundException(NotFoundException::builder().build())
    });
    let client = mock_client!(aws_sdk_sns, [&gone]);
    let ids = BTreeMap::from([("topic".to_string(), TOPIC.to_string())]);
    let empty = BTreeMap::new();
    let id = crate::test_identity("payments/events", "shop-dev-payments-events", &ids, &empty);
    assert!(
        SnsProvider::new(client, no_sqs(), no_lambda())
            .read(&id)
            .await
            .unwrap()
            .is_none()
    );
}

// ------------------------------------------------------------------ replays of AWS's answers

mod replays {
    use std::sync::{Arc, Mutex};

    use aws_sdk_lambda::operation::add_permission::AddPermissionOutput;
    use aws_sdk_lambda::operation::remove_permission::RemovePermissionOutput;
    use aws_sdk_sns::operation::create_topic::CreateTopicOutput;
    use aws_sdk_sns::operation::delete_topic::DeleteTopicOutput;
    use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
    use aws_sdk_sns::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_sns::operation::list_topics::ListTopicsOutput;
    use aws_sdk_sns::operation::set_subscription_attributes::SetSubscriptionAttributesOutput;
    use aws_sdk_sns::operation::set_topic_attributes::SetTopicAttributesOutput;
    use aws_sdk_sns::operation::subscribe::SubscribeOutput;
    use aws_sdk_sns::operation::tag_resource::TagResourceOutput;
    use aws_sdk_sns::operation::unsubscribe::UnsubscribeOutput;
    use aws_sdk_sns::types::{Subscription as Listed, Topic};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use panka_engine::{ErrorKind, KindProvider, Target};
    use serde_json::{Value, json};

    use super::super::*;
    use crate::aws_replies;

    const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:shop-dev-payments-events";
    const FUNCTION: &str =
        "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-webhook";
    const SUBSCRIPTION: &str = "arn:aws:sns:us-east-1:123456789012:shop-dev-payments-events:7f1c2a9e-0000-4000-8000-000000000001";
    const SID: &str = "panka-sns-shop-dev-payments-events";

    type Log = Arc<Mutex<Vec<String>>>;

    fn note(log: &Log, call: &str) {
        log.lock().unwrap().push(call.to_string());
    }

    fn owner_tags(component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:service".to_string(), "payments".to_string()),
            ("panka:component".to_string(), component.to_string()),
        ])
    }

    fn spec(subscribed: bool) -> SnsSpec {
        let subscriptions = if subscribed {
            json!([{"name": "hook", "protocol": "lambda", "target": {"component": "payments/webhook"}}])
        } else {
            json!([])
        };
        serde_json::from_value(json!({"subscriptions": subscriptions})).unwrap()
    }

    fn config() -> Value {
        json!({"inputs": {"subscriptions[0].target": {"value": null, "outputs": {"arn": FUNCTION}}}})
    }

    fn target<'a>(
        subscribed: bool,
        tags: &'a BTreeMap<String, String>,
        config: &'a Value,
    ) -> Target<'a, SnsSpec> {
        Target {
            address: "payments/events",
            name: "shop-dev-payments-events",
            spec: spec(subscribed),
            tags,
            region: "us-east-1",
            config,
        }
    }

    /// SNS with one topic whose tags are `found`; CreateTopic answered by `create` (the first
    /// call, with tags) and then with the topic's ARN; the topic's subscriptions `listed`.
    fn sns(
        log: &Log,
        create: Option<aws_smithy_runtime_api::http::Response>,
        found: BTreeMap<String, String>,
        listed: Vec<(&'static str, &'static str, &'static str)>,
    ) -> aws_sdk_sns::Client {
        let logged = |call: &'static str| {
            let l = log.clone();
            move || note(&l, call)
        };
        let n = logged("CreateTopic");
        let first = Mutex::new(create);
        let create = mock!(Client::create_topic).then_compute_response(move |r| {
            n();
            assert_eq!(r.name(), Some("shop-dev-payments-events"));
            match first.lock().unwrap().take() {
                Some(error) => aws_smithy_mocks::MockResponse::Http(error),
                None => aws_smithy_mocks::MockResponse::Output(
                    CreateTopicOutput::builder().topic_arn(TOPIC_ARN).build(),
                ),
            }
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
        let n = logged("SetTopicAttributes");
        let attributes = mock!(Client::set_topic_attributes).then_compute_output(move |_| {
            n();
            SetTopicAttributesOutput::builder().build()
        });
        let n = logged("TagResource");
        let tag = mock!(Client::tag_resource).then_compute_output(move |_| {
            n();
            TagResourceOutput::builder().build()
        });
        let list = mock!(Client::list_subscriptions_by_topic).then_output(move || {
            ListSubscriptionsByTopicOutput::builder()
                .set_subscriptions(Some(
                    listed
                        .iter()
                        .map(|(p, e, a)| {
                            Listed::builder()
                                .protocol(*p)
                                .endpoint(*e)
                                .subscription_arn(*a)
                                .topic_arn(TOPIC_ARN)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        });
        let n = logged("Subscribe");
        let subscribe = mock!(Client::subscribe).then_compute_output(move |r| {
            n();
            assert_eq!(r.protocol(), Some("lambda"));
            assert_eq!(r.endpoint(), Some(FUNCTION));
            SubscribeOutput::builder()
                .subscription_arn(SUBSCRIPTION)
                .build()
        });
        let set = mock!(Client::set_subscription_attributes)
            .then_output(|| SetSubscriptionAttributesOutput::builder().build());
        let n = logged("Unsubscribe");
        let unsubscribe = mock!(Client::unsubscribe).then_compute_output(move |r| {
            n();
            assert_eq!(r.subscription_arn(), Some(SUBSCRIPTION));
            UnsubscribeOutput::builder().build()
        });
        let n = logged("DeleteTopic");
        let delete = mock!(Client::delete_topic).then_compute_output(move |_| {
            n();
            DeleteTopicOutput::builder().build()
        });
        let topics = mock!(Client::list_topics).then_output(|| {
            ListTopicsOutput::builder()
                .topics(Topic::builder().topic_arn(TOPIC_ARN).build())
                .build()
        });
        let rules: Vec<Rule> = vec![
            create,
            tags,
            attributes,
            tag,
            list,
            subscribe,
            set,
            unsubscribe,
            delete,
            topics,
        ];
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules.iter())
    }

    /// Lambda with no policy on the function yet; AddPermission and RemovePermission logged.
    fn lambda(log: &Log) -> aws_sdk_lambda::Client {
        let l = log.clone();
        let get = mock!(aws_sdk_lambda::Client::get_policy).then_http_response(|| {
            aws_replies::rest_json(
                404,
                "ResourceNotFoundException",
                "The resource you requested does not exist.",
            )
        });
        let add = mock!(aws_sdk_lambda::Client::add_permission).then_compute_output(move |r| {
            note(&l, "AddPermission");
            assert_eq!(r.function_name(), Some(FUNCTION));
            assert_eq!(r.statement_id(), Some(SID));
            assert_eq!(r.action(), Some("lambda:InvokeFunction"));
            assert_eq!(r.principal(), Some("sns.amazonaws.com"));
            assert_eq!(r.source_arn(), Some(TOPIC_ARN));
            AddPermissionOutput::builder().build()
        });
        let l = log.clone();
        let remove =
            mock!(aws_sdk_lambda::Client::remove_permission).then_compute_output(move |r| {
                note(&l, "RemovePermission");
                assert_eq!(r.function_name(), Some(FUNCTION));
                assert_eq!(r.statement_id(), Some(SID));
                RemovePermissionOutput::builder().build()
            });
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&get, &add, &remove])
    }

    fn provider(sns: aws_sdk_sns::Client, lambda: aws_sdk_lambda::Client) -> SnsProvider {
        SnsProvider::new(sns, super::no_sqs(), lambda)
    }

    /// A subscription of a function: the function's policy lets `sns.amazonaws.com` invoke it
    /// from this topic only (AddPermission with SourceArn = the topic), before SNS subscribes
    /// it (SNS developer guide, "Fanout to Lambda functions").
    #[tokio::test]
    async fn a_lambda_subscription_lets_this_topic_and_only_it_invoke_the_function() {
        let log: Log = Arc::default();
        let tags = owner_tags("events");
        let config = config();
        let made = provider(sns(&log, None, tags.clone(), vec![]), lambda(&log))
            .create(&target(true, &tags, &config))
            .await
            .unwrap();
        assert_eq!(made.physical_ids["subscription.hook"], SUBSCRIPTION);
        let order = log.lock().unwrap().clone();
        let added = order.iter().position(|c| c == "AddPermission").unwrap();
        let subscribed = order.iter().position(|c| c == "Subscribe").unwrap();
        assert!(added < subscribed, "{order:?}");
    }

    /// A subscription gone from the spec is unsubscribed and its permission taken back.
    #[tokio::test]
    async fn a_removed_lambda_subscription_takes_its_permission_back() {
        let log: Log = Arc::default();
        let tags = owner_tags("events");
        let config = config();
        let listed = vec![("lambda", FUNCTION, SUBSCRIPTION)];
        let ids = BTreeMap::from([
            ("topic".to_string(), TOPIC_ARN.to_string()),
            ("subscription.hook".to_string(), SUBSCRIPTION.to_string()),
        ]);
        provider(sns(&log, None, tags.clone(), listed), lambda(&log))
            .update(&target(false, &tags, &config), &ids)
            .await
            .unwrap();
        let order = log.lock().unwrap().clone();
        assert!(order.contains(&"Unsubscribe".to_string()), "{order:?}");
        assert!(order.contains(&"RemovePermission".to_string()), "{order:?}");
    }

    /// Deleting the topic takes back the permissions it had on functions (SNS deletes the
    /// subscriptions, not the functions' statements).
    #[tokio::test]
    async fn deleting_the_topic_takes_its_function_permissions_back() {
        let log: Log = Arc::default();
        let listed = vec![("lambda", FUNCTION, SUBSCRIPTION)];
        let ids = BTreeMap::from([("topic".to_string(), TOPIC_ARN.to_string())]);
        provider(sns(&log, None, owner_tags("events"), listed), lambda(&log))
            .delete("shop-dev-payments-events", Some(spec(true)), &ids)
            .await
            .unwrap();
        // Subscriptions are removed before the topic, so none is left pending confirmation.
        assert_eq!(
            *log.lock().unwrap(),
            ["RemovePermission", "Unsubscribe", "DeleteTopic"]
        );
    }

    /// CreateTopic for a name that exists with other tags (a topic made outside panka, or by
    /// another component): "Topic already exists with different tags" (400 InvalidParameter).
    fn different_tags() -> aws_smithy_runtime_api::http::Response {
        aws_replies::query(
            400,
            "InvalidParameter",
            "Invalid parameter: Tags Reason: Topic already exists with different tags. Tags can be updated using TagResource.",
        )
    }

    #[tokio::test]
    async fn a_create_refuses_a_same_named_topic_of_another_component() {
        let log: Log = Arc::default();
        let tags = owner_tags("events");
        let config = config();
        let err = provider(
            sns(&log, Some(different_tags()), owner_tags("alerts"), vec![]),
            lambda(&log),
        )
        .create(&target(false, &tags, &config))
        .await
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned, "{}", err.chain());
        // Looked up (CreateTopic again, without tags) but not changed.
        assert_eq!(*log.lock().unwrap(), ["CreateTopic", "CreateTopic"]);
    }

    /// The same answer for a topic that is this component's (its tags differ only in others,
    /// say the stack's default tags changed): adopted and retagged.
    #[tokio::test]
    async fn a_create_adopts_a_same_named_topic_with_this_components_tags() {
        let log: Log = Arc::default();
        let mut tags = owner_tags("events");
        tags.insert("cost-center".into(), "42".into());
        let config = config();
        provider(
            sns(&log, Some(different_tags()), owner_tags("events"), vec![]),
            lambda(&log),
        )
        .create(&target(false, &tags, &config))
        .await
        .unwrap();
        assert!(log.lock().unwrap().contains(&"TagResource".to_string()));
    }

    /// Whatever CreateTopic answers for a topic of the name that exists already (its ARN, when
    /// nothing it was asked differs), the topic's tags decide: one without panka's tags is not
    /// taken over, by a create or by `find`.
    #[tokio::test]
    async fn find_and_create_refuse_a_same_named_topic_without_panka_tags() {
        let log: Log = Arc::default();
        let tags = owner_tags("events");
        let config = config();
        let p = provider(sns(&log, None, BTreeMap::new(), vec![]), lambda(&log));
        let err = p.find(&target(false, &tags, &config)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
        let err = p.create(&target(false, &tags, &config)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
        assert!(!log.lock().unwrap().contains(&"TagResource".to_string()));
    }
}

/// A topic named otherwise than panka derives reads back with `topicName`, which names the
/// topic again (`.fifo` added for a FIFO topic); one of the derived name reads back without.
#[test]
fn a_topic_of_another_name_reads_back_with_topic_name() {
    let ids = BTreeMap::new();
    let attrs = BTreeMap::from([("FifoTopic".to_string(), "true".to_string())]);
    let legacy = observe(
        "shop-dev-payments-events",
        "arn:aws:sns:us-east-1:123456789012:legacy-events.fifo",
        &attrs,
        &[],
        &ids,
    );
    assert_eq!(
        legacy.spec.topic_name.as_deref(),
        Some("legacy-events.fifo")
    );
    assert_eq!(
        topic_name("shop-dev-payments-events", &legacy.spec),
        "legacy-events.fifo"
    );
    let derived = observe("shop-dev-payments-events", TOPIC, &attrs, &[], &ids);
    assert_eq!(derived.spec.topic_name, None);
    assert_eq!(
        topic_name("shop-dev-payments-events", &derived.spec),
        "shop-dev-payments-events.fifo"
    );
}
