//! Statements panka adds to the resource policies of queues, topics, functions and buckets so
//! that an AWS service (SNS, EventBridge, API Gateway, CloudFront, Elastic Load Balancing) may
//! deliver to them from one source: one statement per source, kept beside whatever else the
//! policy holds.
//!
//! # Guarantees
//! A queue, topic or bucket policy is one document that SQS, SNS and S3 let a caller only read
//! and write whole, and they apply a write eventually (SQS: "can take up to 60 seconds" for an
//! attribute change to propagate, SetQueueAttributes API reference). Two rules or topics
//! delivering to one queue would each read the policy, add their statement and write it back,
//! and the later write would drop the earlier statement. So every edit here, within this
//! process, is serialised per resource ([`lock`], keyed by the resource's ARN) and holds its lock
//! until a read shows the edit (`wait_visible`), so the next edit reads a policy that has it.
//! A Lambda function's policy is edited statement by statement (AddPermission,
//! RemovePermission), under the same lock so that two sources do not race on its revision.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex as StdMutex};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName as A;
use backon::{ExponentialBuilder, Retryable};
use panka_engine::{ErrorKind, ProviderError, Transient};
use serde_json::{Value, json};

use crate::errors::{aws_error, aws_error_when};
use crate::partition::service_principal;

/// How long an edit waits for a read to show it: SQS documents up to 60 seconds for a queue
/// attribute to propagate (SetQueueAttributes API reference); SNS and S3 document eventual
/// consistency without a bound and are seen within seconds. A quarter more than SQS's bound.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(75);
/// The first re-read comes soon (most edits are visible at once); later ones back off to this.
const VISIBLE_FIRST_POLL: Duration = Duration::from_millis(200);
const VISIBLE_MAX_POLL: Duration = Duration::from_secs(5);

/// One lock per resource whose policy panka edits, for the whole process (every apply in it).
/// Entries stay for the life of the process: one per queue, topic, function or bucket an apply
/// touches.
static LOCKS: LazyLock<StdMutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(|| StdMutex::new(HashMap::new()));

/// The lock serialising the policy edits of the resource `key` (its ARN).
fn lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    // A panic while the map was held leaves it usable: it only ever gains entries.
    let mut locks = LOCKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.entry(key.to_string()).or_default().clone()
}

/// The region in an ARN (`arn:aws:sqs:eu-west-1:…` → `eu-west-1`); empty for global ARNs.
fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

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

/// The statement letting `principal` (a service principal) do `action` on `resource` when the
/// request comes from `source`.
fn delivery_statement(
    sid: &str,
    principal: &str,
    action: &str,
    resource: &str,
    source: &str,
) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnEquals": {"aws:SourceArn": source}},
    })
}

/// A policy value's strings, whether AWS wrote one string or a list of them, sorted.
fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out
}

/// What a statement grants, in a form that ignores how AWS spells it back (a one-item list for
/// a string, keys of conditions in any case, `ArnLike` for `ArnEquals`).
#[derive(Debug, PartialEq)]
struct Grant {
    effect: String,
    principals: Vec<String>,
    actions: Vec<String>,
    resources: Vec<String>,
    sources: Vec<String>,
}

fn grant(s: &Value) -> Grant {
    let principal = &s["Principal"];
    let principals = match principal.get("Service") {
        Some(p) => strings(p),
        None => strings(principal),
    };
    let mut sources = Vec::new();
    if let Some(conditions) = s["Condition"].as_object() {
        for block in conditions.values().filter_map(Value::as_object) {
            for (key, value) in block {
                if key.eq_ignore_ascii_case("aws:SourceArn") {
                    sources.extend(strings(value));
                }
            }
        }
    }
    sources.sort();
    Grant {
        effect: s["Effect"].as_str().unwrap_or_default().to_string(),
        principals,
        actions: strings(&s["Action"]),
        resources: strings(&s["Resource"]),
        sources,
    }
}

/// One change to a policy document.
#[derive(Clone, Debug)]
enum Edit {
    /// Put this statement (its `Sid` names it) in, replacing one of the same `Sid` that grants
    /// something else.
    Put(Value),
    /// Take the statement of this `Sid` out.
    Remove(String),
}

impl Edit {
    fn sid(&self) -> &str {
        match self {
            Edit::Put(s) => s["Sid"].as_str().unwrap_or_default(),
            Edit::Remove(sid) => sid,
        }
    }

    /// Whether `policy` (a document as AWS returns it; `None`: no policy) has this change.
    fn holds(&self, policy: Option<&str>) -> bool {
        let statements = statements_of(policy);
        let same = statements.iter().find(|s| s["Sid"] == self.sid());
        match self {
            Edit::Put(wanted) => same.is_some_and(|s| grant(s) == grant(wanted)),
            Edit::Remove(_) => same.is_none(),
        }
    }

    /// `policy` with this change; `None` when it has it already. `Some(None)`: the policy is
    /// left with no statement at all.
    fn apply(&self, policy: Option<&str>) -> Option<Option<String>> {
        if self.holds(policy) {
            return None;
        }
        let mut document: Value = policy
            .and_then(|p| serde_json::from_str(p).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({"Version": "2012-10-17"}));
        let mut statements: Vec<Value> = statements_of(policy)
            .into_iter()
            .filter(|s| s["Sid"] != self.sid())
            .collect();
        if let Edit::Put(s) = self {
            statements.push(s.clone());
        }
        if statements.is_empty() {
            return Some(None);
        }
        document["Statement"] = Value::Array(statements);
        Some(Some(document.to_string()))
    }
}

/// The statements of a policy document (one statement may be written without a list).
fn statements_of(policy: Option<&str>) -> Vec<Value> {
    let document: Value = policy
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    match &document["Statement"] {
        Value::Array(list) => list.clone(),
        Value::Object(_) => vec![document["Statement"].clone()],
        _ => Vec::new(),
    }
}

/// A resource policy read and written whole through its service's API.
trait PolicyDocument: Sync {
    /// The ARN naming the resource in messages and in the lock map.
    fn key(&self) -> &str;
    /// The policy; `None` when the resource has none.
    fn read(&self) -> impl Future<Output = Result<Option<String>, ProviderError>> + Send;
    /// Replaces the policy; `None` removes it.
    fn write(
        &self,
        policy: Option<String>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// Makes `edit` to the policy of `doc`: under the resource's lock, reads the policy, writes it
/// back with the change (nothing when it has it), and waits until a read shows the change.
///
/// # Errors
/// The service's errors, and [`Transient::NotYetVisible`] when the change is not seen within
/// [`VISIBLE_TIMEOUT`].
async fn edit(doc: &impl PolicyDocument, edit: Edit) -> Result<(), ProviderError> {
    let lock = lock(doc.key());
    let _held = lock.lock().await;
    let current = doc.read().await?;
    let Some(next) = edit.apply(current.as_deref()) else {
        return Ok(());
    };
    doc.write(next).await?;
    wait_visible(doc, &edit, VISIBLE_TIMEOUT).await
}

/// Re-reads the policy until it shows `edit`, backing off from [`VISIBLE_FIRST_POLL`] to
/// [`VISIBLE_MAX_POLL`] for at most `timeout`.
async fn wait_visible(
    doc: &impl PolicyDocument,
    edit: &Edit,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let check = || async {
        let policy = doc.read().await?;
        if edit.holds(policy.as_deref()) {
            Ok(())
        } else {
            Err(ProviderError::new(
                ErrorKind::Transient(Transient::NotYetVisible),
                format!(
                    "waiting for the policy of {} to show statement {}",
                    doc.key(),
                    edit.sid()
                ),
            ))
        }
    };
    check
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(VISIBLE_FIRST_POLL)
                .with_max_delay(VISIBLE_MAX_POLL)
                .with_total_delay(Some(timeout))
                .without_max_times(),
        )
        .sleep(tokio::time::sleep)
        .when(|e: &ProviderError| e.kind == ErrorKind::Transient(Transient::NotYetVisible))
        .await
}

/// A queue's `Policy` attribute.
struct QueuePolicy<'a> {
    sqs: &'a aws_sdk_sqs::Client,
    url: &'a str,
    arn: &'a str,
}

impl PolicyDocument for QueuePolicy<'_> {
    fn key(&self) -> &str {
        self.arn
    }

    async fn read(&self) -> Result<Option<String>, ProviderError> {
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.url)
            .attribute_names(A::Policy)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the policy of {}", self.arn), e))?;
        Ok(got
            .attributes()
            .and_then(|a| a.get(&A::Policy))
            .filter(|p| !p.is_empty())
            .cloned())
    }

    async fn write(&self, policy: Option<String>) -> Result<(), ProviderError> {
        // An empty Policy removes it (SetQueueAttributes API reference).
        self.sqs
            .set_queue_attributes()
            .queue_url(self.url)
            .attributes(A::Policy, policy.unwrap_or_default())
            .send()
            .await
            .map_err(|e| aws_error(format!("writing the policy of {}", self.arn), e))?;
        Ok(())
    }
}

/// A topic's `Policy` attribute.
struct TopicPolicy<'a> {
    sns: &'a aws_sdk_sns::Client,
    arn: &'a str,
}

impl PolicyDocument for TopicPolicy<'_> {
    fn key(&self) -> &str {
        self.arn
    }

    async fn read(&self) -> Result<Option<String>, ProviderError> {
        let got = self
            .sns
            .get_topic_attributes()
            .topic_arn(self.arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the policy of {}", self.arn), e))?;
        Ok(got
            .attributes()
            .and_then(|a| a.get("Policy"))
            .filter(|p| !p.is_empty())
            .cloned())
    }

    async fn write(&self, policy: Option<String>) -> Result<(), ProviderError> {
        // A topic always has a policy: SNS gives it its default one back when none is set.
        let Some(policy) = policy else {
            return Ok(());
        };
        self.sns
            .set_topic_attributes()
            .topic_arn(self.arn)
            .attribute_name("Policy")
            .attribute_value(policy)
            .send()
            .await
            .map_err(|e| aws_error(format!("writing the policy of {}", self.arn), e))?;
        Ok(())
    }
}

/// A bucket's policy.
struct BucketPolicy<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    /// `s3:::BUCKET`: a bucket's ARN without its partition (a bucket name is global).
    key: String,
}

impl<'a> BucketPolicy<'a> {
    fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str) -> Self {
        BucketPolicy {
            s3,
            bucket,
            key: format!("s3:::{bucket}"),
        }
    }
}

impl PolicyDocument for BucketPolicy<'_> {
    fn key(&self) -> &str {
        &self.key
    }

    async fn read(&self) -> Result<Option<String>, ProviderError> {
        match self.s3.get_bucket_policy().bucket(self.bucket).send().await {
            Ok(p) => Ok(p.policy().filter(|p| !p.is_empty()).map(str::to_string)),
            Err(e) if crate::errors::code(&e) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(aws_error(
                format!("reading the policy of bucket {}", self.bucket),
                e,
            )),
        }
    }

    async fn write(&self, policy: Option<String>) -> Result<(), ProviderError> {
        let what = format!("writing the policy of bucket {}", self.bucket);
        match policy {
            Some(policy) => {
                self.s3
                    .put_bucket_policy()
                    .bucket(self.bucket)
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|e| aws_error(what, e))?;
            }
            // S3 refuses a policy without statements: the policy goes instead.
            None => {
                let deleted = self
                    .s3
                    .delete_bucket_policy()
                    .bucket(self.bucket)
                    .send()
                    .await;
                match deleted {
                    Ok(_) => {}
                    Err(e) if crate::errors::code(&e) == Some("NoSuchBucket") => {}
                    Err(e) => return Err(aws_error(what, e)),
                }
            }
        }
        Ok(())
    }
}

/// Lets `service` (`sns`, `events`) send messages from `source` to the queue at `url`.
///
/// # Errors
/// SQS's errors; [`Transient::NotYetVisible`] when SQS does not show the statement in time.
pub(crate) async fn allow_to_send(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    queue_arn: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let principal = service_principal(service, region_of(queue_arn));
    let statement = delivery_statement(
        &statement_id(service, source),
        &principal,
        "sqs:SendMessage",
        queue_arn,
        source,
    );
    let doc = QueuePolicy {
        sqs,
        url,
        arn: queue_arn,
    };
    edit(&doc, Edit::Put(statement)).await
}

/// Lets `service` publish from `source` to the topic `topic_arn`.
///
/// # Errors
/// SNS's errors; [`Transient::NotYetVisible`] when SNS does not show the statement in time.
pub(crate) async fn allow_to_publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let principal = service_principal(service, region_of(topic_arn));
    let statement = delivery_statement(
        &statement_id(service, source),
        &principal,
        "sns:Publish",
        topic_arn,
        source,
    );
    edit(
        &TopicPolicy {
            sns,
            arn: topic_arn,
        },
        Edit::Put(statement),
    )
    .await
}

/// Adds `statement` to the bucket's policy, replacing a statement of its `Sid` that grants
/// something else.
///
/// # Errors
/// S3's errors; [`Transient::NotYetVisible`] when S3 does not show the statement in time.
pub(crate) async fn add_bucket_statement(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    statement: Value,
) -> Result<(), ProviderError> {
    edit(&BucketPolicy::new(s3, bucket), Edit::Put(statement)).await
}

/// Takes the statement `sid` out of the bucket's policy (removing the policy when nothing else
/// is left); a bucket without it, or gone, is fine.
///
/// # Errors
/// S3's errors, but "no such bucket".
pub(crate) async fn remove_bucket_statement(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    sid: &str,
) -> Result<(), ProviderError> {
    let doc = BucketPolicy::new(s3, bucket);
    match edit(&doc, Edit::Remove(sid.to_string())).await {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Whether the function policy statement `s` lets `principal` invoke from `source`.
fn invoke_statement_is(s: &Value, principal: &str, source: &str) -> bool {
    let g = grant(s);
    g.effect == "Allow"
        && g.principals == [principal]
        && g.actions == ["lambda:InvokeFunction"]
        && g.sources == [source]
}

/// The statement `sid` of `function`'s policy; `None` when it (or the policy) is not there.
async fn function_statement(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    sid: &str,
) -> Result<Option<Value>, ProviderError> {
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
    Ok(statements_of(policy.as_deref())
        .into_iter()
        .find(|s| s["Sid"] == sid))
}

/// Lets `service` (`sns`, `events`, `apigateway`) invoke the Lambda function `function` (its
/// ARN) from `source`: the statement `panka-SERVICE-SOURCE` with `SourceArn` = `source`
/// (AddPermission API reference: without `SourceArn`, any resource of that service in any
/// account could invoke it). Safe to repeat: a statement of that id that already grants it is
/// kept, one granting something else is replaced.
///
/// # Errors
/// Lambda's errors; a `ResourceConflictException` that is not the statement being there already
/// (an update of the function in progress) is [`Transient::Lambda`].
pub(crate) async fn allow_to_invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let lock = lock(function);
    let _held = lock.lock().await;
    let sid = statement_id(service, source);
    let principal = service_principal(service, region_of(function));
    if let Some(s) = function_statement(lambda, function, &sid).await? {
        if invoke_statement_is(&s, &principal, source) {
            return Ok(());
        }
        remove_permission(lambda, function, &sid).await?;
    }
    let added = lambda
        .add_permission()
        .function_name(function)
        .statement_id(&sid)
        .action("lambda:InvokeFunction")
        .principal(&principal)
        .source_arn(source)
        .send()
        .await;
    match added {
        Ok(_) => Ok(()),
        // "The statement id (…) provided already exists": a repeat of an AddPermission whose
        // answer was lost, or another apply's. Kept when it grants what is asked.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            match function_statement(lambda, function, &sid).await? {
                Some(s) if invoke_statement_is(&s, &principal, source) => Ok(()),
                // Not the statement: the function is being updated (Lambda answers the same
                // exception), and the engine tries again.
                _ => Err(aws_error_when(
                    format!("letting {source} invoke {function}"),
                    e,
                    Transient::Lambda,
                    |_, _| true,
                )),
            }
        }
        Err(e) => Err(crate::lambda::lambda_error(
            format!("letting {source} invoke {function}"),
            e,
        )),
    }
}

async fn remove_permission(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    sid: &str,
) -> Result<(), ProviderError> {
    let removed = lambda
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
        .send()
        .await;
    match removed {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(crate::lambda::lambda_error(
            format!("removing statement {sid} from the policy of {function}"),
            e,
        )),
    }
}

/// Takes back what [`allow_to_invoke`] granted `source` (an ARN, or a rule's name); a function
/// or statement already gone is fine.
///
/// # Errors
/// Lambda's errors, classified as [`crate::lambda::lambda_error`] does.
pub(crate) async fn forbid_to_invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    service: &str,
    source: &str,
) -> Result<(), ProviderError> {
    let lock = lock(function);
    let _held = lock.lock().await;
    remove_permission(lambda, function, &statement_id(service, source)).await
}

#[cfg(test)]
mod tests;
