//! Unit tests for resource policy edits.

use super::*;

#[test]
fn statement_ids_name_the_source() {
    assert_eq!(
        statement_id(
            "sns",
            "arn:aws:sns:us-east-1:123456789012:shop-dev-payments-events"
        ),
        "panka-sns-shop-dev-payments-events"
    );
    assert_eq!(
        statement_id(
            "events",
            "arn:aws:events:us-east-1:123456789012:rule/shop-dev-bus/shop-dev-bus-paid"
        ),
        "panka-events-shop-dev-bus-shop-dev-bus-paid"
    );
}

#[test]
fn a_statement_is_put_once_beside_the_others_and_replaced_when_it_grants_otherwise() {
    let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"theirs","Effect":"Deny"}]}"#;
    let rule = "arn:aws:events:us-east-1:1:rule/r";
    let sid = statement_id("events", rule);
    let put = Edit::Put(delivery_statement(
        &sid,
        "events.amazonaws.com",
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:1:q",
        rule,
    ));
    let once = put.apply(Some(other)).expect("added").expect("a policy");
    let v: Value = serde_json::from_str(&once).unwrap();
    assert_eq!(v["Statement"][0]["Sid"], "theirs");
    assert_eq!(
        v["Statement"][1]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(
        v["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"],
        rule
    );
    assert!(put.apply(Some(&once)).is_none(), "already there");
    // AWS may write it back with one-item lists and `ArnLike`: still the same grant.
    let respelled = once
        .replace(
            r#""Action":"sqs:SendMessage""#,
            r#""Action":["sqs:SendMessage"]"#,
        )
        .replace("ArnEquals", "ArnLike");
    assert!(put.holds(Some(&respelled)), "{respelled}");
    // The same Sid granting another source is replaced, not kept.
    let stale = once.replace(rule, "arn:aws:events:us-east-1:1:rule/old");
    let fixed = put
        .apply(Some(&stale))
        .expect("replaced")
        .expect("a policy");
    assert!(put.holds(Some(&fixed)));
    assert_eq!(statements_of(Some(&fixed)).len(), 2);
    // Removing the last statement leaves no policy.
    let alone = Edit::Remove(sid).apply(Some(&put.apply(None).unwrap().unwrap()));
    assert_eq!(alone, Some(None));
}

#[test]
fn principals_follow_the_partition_of_the_resource() {
    let queue = "arn:aws-cn:sqs:cn-north-1:123456789012:orders";
    assert_eq!(region_of(queue), "cn-north-1");
    assert_eq!(
        service_principal("events", region_of(queue)),
        "events.amazonaws.com"
    );
    assert_eq!(region_of("arn:aws:s3:::bucket"), "");
}

/// A queue whose policy SQS applies eventually: a write becomes visible to reads only after
/// `lag` further reads ("can take up to 60 seconds", SetQueueAttributes API reference).
struct LaggingQueue {
    visible: Option<String>,
    pending: Option<String>,
    reads_left: usize,
    lag: usize,
    writes: usize,
}

fn lagging_sqs(queue: Arc<StdMutex<LaggingQueue>>) -> aws_sdk_sqs::Client {
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let reads = queue.clone();
    let get = mock!(aws_sdk_sqs::Client::get_queue_attributes).then_compute_output(move |_| {
        let mut q = reads.lock().unwrap();
        if q.pending.is_some() {
            if q.reads_left == 0 {
                q.visible = q.pending.take();
            } else {
                q.reads_left -= 1;
            }
        }
        let mut out = GetQueueAttributesOutput::builder();
        if let Some(p) = &q.visible {
            out = out.attributes(A::Policy, p.clone());
        }
        out.build()
    });
    let set = mock!(aws_sdk_sqs::Client::set_queue_attributes).then_compute_output(move |r| {
        let mut q = queue.lock().unwrap();
        q.pending = r.attributes().and_then(|a| a.get(&A::Policy)).cloned();
        q.reads_left = q.lag;
        q.writes += 1;
        SetQueueAttributesOutput::builder().build()
    });
    mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&get, &set])
}

/// Two rules delivering to one queue at once: each edit reads the policy, adds its statement
/// and writes it back. Serialised per queue and waiting until its write is visible, neither
/// loses the other's statement, although SQS shows each write only two reads later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_edits_of_one_queue_policy_keep_both_statements() {
    let queue = Arc::new(StdMutex::new(LaggingQueue {
        visible: None,
        pending: None,
        reads_left: 0,
        lag: 2,
        writes: 0,
    }));
    let sqs = lagging_sqs(queue.clone());
    // An ARN no other test uses: the lock map is the process's.
    let arn = "arn:aws:sqs:us-east-1:123456789012:concurrent-edits";
    let url = "https://sqs.us-east-1.amazonaws.com/123456789012/concurrent-edits";
    let paid = "arn:aws:events:us-east-1:123456789012:rule/shop-dev-bus/paid";
    let refunded = "arn:aws:events:us-east-1:123456789012:rule/shop-dev-bus/refunded";
    let (a, b) = tokio::join!(
        allow_to_send(&sqs, url, arn, "events", paid),
        allow_to_send(&sqs, url, arn, "events", refunded),
    );
    a.unwrap();
    b.unwrap();
    {
        let q = queue.lock().unwrap();
        let last = q.pending.clone().or(q.visible.clone());
        let sids: Vec<String> = statements_of(last.as_deref())
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            sids,
            [
                statement_id("events", paid),
                statement_id("events", refunded)
            ],
            "{last:?}"
        );
        assert_eq!(q.writes, 2);
    }
    // A third edit of the same source finds its statement and writes nothing.
    allow_to_send(&sqs, url, arn, "events", paid).await.unwrap();
    assert_eq!(queue.lock().unwrap().writes, 2);
}

/// A write SQS never shows within the wait is reported as not visible yet (the engine tries the
/// action again), not taken for done.
#[tokio::test]
async fn an_edit_never_seen_is_transient() {
    let queue = Arc::new(StdMutex::new(LaggingQueue {
        visible: None,
        pending: None,
        reads_left: 0,
        lag: usize::MAX,
        writes: 0,
    }));
    let sqs = lagging_sqs(queue);
    let doc = QueuePolicy {
        sqs: &sqs,
        url: "https://sqs.us-east-1.amazonaws.com/123456789012/never-visible",
        arn: "arn:aws:sqs:us-east-1:123456789012:never-visible",
    };
    let put = Edit::Put(delivery_statement(
        "panka-sns-t",
        "sns.amazonaws.com",
        "sqs:SendMessage",
        doc.arn,
        "arn:aws:sns:us-east-1:123456789012:t",
    ));
    doc.write(put.apply(None).unwrap()).await.unwrap();
    let wait = Duration::from_secs(1);
    let seen = tokio::time::timeout(wait * 10, wait_visible(&doc, &put, wait)).await;
    let err = seen.expect("the wait ends on its own").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient(Transient::NotYetVisible));
}

mod invoke {
    use std::sync::{Arc, Mutex};

    use aws_sdk_lambda::operation::add_permission::AddPermissionOutput;
    use aws_sdk_lambda::operation::get_policy::GetPolicyOutput;
    use aws_sdk_lambda::operation::remove_permission::RemovePermissionOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::aws_replies;

    const FUNCTION: &str =
        "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-webhook";
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:shop-dev-payments-events";

    /// A function policy as GetPolicy returns it, with one statement for `source` under the
    /// id panka gives the topic's (Lambda writes the condition as `ArnLike`).
    /// https://docs.aws.amazon.com/lambda/latest/api/API_GetPolicy.html
    fn policy(source: &str) -> String {
        json!({"Version": "2012-10-17", "Id": "default", "Statement": [{
            "Sid": statement_id("sns", TOPIC), "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"}, "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION, "Condition": {"ArnLike": {"AWS:SourceArn": source}}}]})
        .to_string()
    }

    fn no_policy() -> aws_smithy_runtime_api::http::Response {
        aws_replies::rest_json(
            404,
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )
    }

    /// Lambda answering GetPolicy with `policies` in turn (`None`: no policy) and AddPermission
    /// with `added` (`None`: success); the calls logged.
    fn lambda(
        policies: Vec<Option<String>>,
        added: Option<aws_smithy_runtime_api::http::Response>,
        log: Arc<Mutex<Vec<&'static str>>>,
    ) -> aws_sdk_lambda::Client {
        let answers = Mutex::new(policies.into_iter());
        let get =
            mock!(aws_sdk_lambda::Client::get_policy).then_compute_response(move |_| match answers
                .lock()
                .unwrap()
                .next()
                .flatten()
            {
                Some(p) => aws_smithy_mocks::MockResponse::Output(
                    GetPolicyOutput::builder().policy(p).build(),
                ),
                None => aws_smithy_mocks::MockResponse::Http(no_policy()),
            });
        let l = log.clone();
        let first = Mutex::new(added);
        let add = mock!(aws_sdk_lambda::Client::add_permission).then_compute_response(move |_| {
            l.lock().unwrap().push("AddPermission");
            match first.lock().unwrap().take() {
                Some(e) => aws_smithy_mocks::MockResponse::Http(e),
                None => {
                    aws_smithy_mocks::MockResponse::Output(AddPermissionOutput::builder().build())
                }
            }
        });
        let remove =
            mock!(aws_sdk_lambda::Client::remove_permission).then_compute_output(move |_| {
                log.lock().unwrap().push("RemovePermission");
                RemovePermissionOutput::builder().build()
            });
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&get, &add, &remove])
    }

    /// AddPermission repeated after its answer was lost: "The statement id (…) provided already
    /// exists" (409 ResourceConflictException). The statement there grants what is asked: kept.
    #[tokio::test]
    async fn a_repeated_add_permission_keeps_the_statement_it_finds() {
        let log = Arc::default();
        let exists = aws_replies::rest_json(
            409,
            "ResourceConflictException",
            "The statement id (panka-sns-shop-dev-payments-events) provided already exists. Please provide a new statement id, or remove the existing statement.",
        );
        let l = lambda(
            vec![None, Some(policy(TOPIC))],
            Some(exists),
            Arc::clone(&log),
        );
        allow_to_invoke(&l, FUNCTION, "sns", TOPIC).await.unwrap();
        assert_eq!(*log.lock().unwrap(), ["AddPermission"]);
    }

    /// The same exception while the function is being updated (no such statement): transient.
    #[tokio::test]
    async fn add_permission_refused_during_an_update_is_transient() {
        let log = Arc::default();
        let busy = aws_replies::rest_json(
            409,
            "ResourceConflictException",
            &format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {FUNCTION}"
            ),
        );
        let l = lambda(vec![None, None], Some(busy), log);
        let err = allow_to_invoke(&l, FUNCTION, "sns", TOPIC)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient(Transient::Lambda));
    }

    /// A statement of the id that grants another source (say the topic was replaced) is
    /// replaced; one granting this source already is left alone.
    #[tokio::test]
    async fn a_statement_for_another_source_is_replaced_and_a_matching_one_kept() {
        let log = Arc::default();
        let old = "arn:aws:sns:us-east-1:123456789012:shop-dev-payments-events-old";
        let l = lambda(vec![Some(policy(old))], None, Arc::clone(&log));
        allow_to_invoke(&l, FUNCTION, "sns", TOPIC).await.unwrap();
        assert_eq!(*log.lock().unwrap(), ["RemovePermission", "AddPermission"]);

        let log = Arc::default();
        let l = lambda(vec![Some(policy(TOPIC))], None, Arc::clone(&log));
        allow_to_invoke(&l, FUNCTION, "sns", TOPIC).await.unwrap();
        assert!(log.lock().unwrap().is_empty());
    }
}
