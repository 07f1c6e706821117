//! Statements panka adds to the resource policies of queues, topics, functions and buckets so
//! that an AWS service (SNS, EventBridge, API Gateway, CloudFront, Elastic Load Balancing) may
//! deliver to them from one source: one statement per source, kept beside whatever else the
//! policy holds.

use aws_sdk_sqs::types::QueueAttributeName as A;
use panka_engine::ProviderError;
use serde_json::{Value, json};

use crate::errors::{aws_error, unless_gone};

/// The statement id for deliveries from `source` (an ARN) by `service`: `panka-SERVICE-NAME`,
/// NAME being the source's name with what policy ids do not allow turned into `-`.
pub(crate) fn statement_id(service: &str, source: &str) -> String {
    // Topics end in `:NAME`, rules in `rule/NAME` or `rule/BUS/NAME`.
    let name = match source.split_once(":rule/") {
        Some((_, rule)) => rule,
        None => source.rsplit(':').next().unwrap_or(source),
    };
    format!(
        "panka-{service}-{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            })
            .collect::<String>()
    )
}

/// `policy` with a statement letting `service` (`sns`, `events`) do `action` on `resource` when
/// the request comes from `source`; `None` when the policy has that statement already.
fn with_statement(
    policy: Option<&str>,
    service: &str,
    action: &str,
    resource: &str,
    source: &str,
) -> Option<String> {
    let mut policy: Value = policy
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let sid = statement_id(service, source);
    let mut statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    if statements.iter().any(|s| s["Sid"] == sid.as_str()) {
        return None;
    }
    statements.push(json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": format!("{service}.amazonaws.com")},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnEquals": {"aws:SourceArn": source}},
    }));
    policy["Statement"] = Value::Array(statements);
    Some(policy.to_string())
}

/// Lets `service` send messages from `source` to the queue at `url`.
pub(crate) async fn allow_to_send(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    queue_arn: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let current = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::Policy)
        .send()
        .await
        .map_err(|e| aws_error(format!("reading the policy of {queue_arn}"), e))?;
    let policy = current.attributes().and_then(|a| a.get(&A::Policy));
    let Some(policy) = with_statement(
        policy.map(String::as_str),
        service,
        "sqs:SendMessage",
        queue_arn,
        source,
    ) else {
        return Ok(());
    };
    sqs.set_queue_attributes()
        .queue_url(url)
        .attributes(A::Policy, policy)
        .send()
        .await
        .map_err(|e| aws_error(format!("letting {source} send to {queue_arn}"), e))?;
    Ok(())
}

/// Lets `service` publish from `source` to the topic `topic_arn`.
pub(crate) async fn allow_to_publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let current = sns
        .get_topic_attributes()
        .topic_arn(topic_arn)
        .send()
        .await
        .map_err(|e| aws_error(format!("reading the policy of {topic_arn}"), e))?;
    let policy = current.attributes().and_then(|a| a.get("Policy"));
    let Some(policy) = with_statement(
        policy.map(String::as_str),
        service,
        "sns:Publish",
        topic_arn,
        source,
    ) else {
        return Ok(());
    };
    sns.set_topic_attributes()
        .topic_arn(topic_arn)
        .attribute_name("Policy")
        .attribute_value(policy)
        .send()
        .await
        .map_err(|e| aws_error(format!("letting {source} publish to {topic_arn}"), e))?;
    Ok(())
}

/// Lets `service` invoke the Lambda function `function` from `source` (once: the statement is
/// added only when the function's policy lacks it).
pub(crate) async fn allow_to_invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let sid = statement_id(service, source);
    let policy = match lambda.get_policy().function_name(function).send().await {
        Ok(p) => p.policy().map(str::to_string),
        // No policy yet.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(aws_error(format!("reading the policy of {function}"), e)),
    };
    let has = policy
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .and_then(|p| p["Statement"].as_array().cloned())
        .is_some_and(|list| list.iter().any(|s| s["Sid"] == sid.as_str()));
    if has {
        return Ok(());
    }
    match lambda
        .add_permission()
        .function_name(function)
        .statement_id(&sid)
        .action("lambda:InvokeFunction")
        .principal(format!("{service}.amazonaws.com"))
        .source_arn(source)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // The statement is there already.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(format!("letting {source} invoke {function}"), e)),
    }
}

/// Takes back what [`allow_to_invoke`] granted `source` (an ARN, or the rule's name).
pub(crate) async fn forbid_to_invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let removed = lambda
        .remove_permission()
        .function_name(function)
        .statement_id(statement_id(service, source))
        .send()
        .await;
    unless_gone(
        removed,
        |s| s.is_resource_not_found_exception(),
        format!("removing the permission of {source} on {function}"),
    )
}

/// Adds `statement` to the bucket's policy unless a statement of its `Sid` is there already.
pub(crate) async fn add_bucket_statement(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    statement: Value,
) -> Result<(), ProviderError> {
    let current = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(p) => p.policy().map(str::to_string),
        Err(e)
            if e.as_service_error()
                .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                == Some("NoSuchBucketPolicy") =>
        {
            None
        }
        Err(e) => {
            return Err(aws_error(
                format!("reading the policy of bucket {bucket}"),
                e,
            ));
        }
    };
    let mut policy: Value = current
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let mut statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    if statements.iter().any(|s| s["Sid"] == statement["Sid"]) {
        return Ok(());
    }
    let sid = statement["Sid"].as_str().unwrap_or_default().to_string();
    statements.push(statement);
    policy["Statement"] = Value::Array(statements);
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| aws_error(format!("adding {sid} to the policy of bucket {bucket}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
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
    fn a_statement_is_added_once_beside_the_others() {
        let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"theirs","Effect":"Deny"}]}"#;
        let rule = "arn:aws:events:us-east-1:1:rule/r";
        let once =
            with_statement(Some(other), "events", "sqs:SendMessage", "arn:q", rule).expect("added");
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
        assert!(with_statement(Some(&once), "events", "sqs:SendMessage", "arn:q", rule).is_none());
    }
}
