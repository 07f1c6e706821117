//! SQS queues, standard or FIFO, with an optional managed dead-letter queue and redrive.
//!
//! Outputs: `url`, `arn`, `name`, `deadLetterArn`. `fifo` and `queueName` force replacement
//! (SQS cannot change them); every other attribute is set in place.
//!
//! CreateQueue is safe to repeat: with the attributes of an existing queue of that name it
//! returns that queue, with others it answers `QueueNameExists` (CreateQueue API reference).
//! Either way a queue panka did not just create is used only when its panka tags (set by
//! CreateQueue itself, so a queue made by a call whose answer was lost has them) are this
//! component's.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName as A;
use backon::{ConstantBuilder, Retryable};
use panka_engine::Transient;
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{DeadLetter, SqsEncryption, SqsSpec};

use crate::errors::{aws_error, check_owner};

/// SQS refuses to re-create a queue name for 60 seconds after deleting it; a replace that
/// reuses the name waits this long at most.
const RECREATE_WAIT: Duration = Duration::from_secs(75);
const RECREATE_POLL: Duration = Duration::from_secs(5);

const DAY: u32 = 86_400;

/// SQS answers in JSON with its former query protocol's error code in the `x-amzn-query-error`
/// header (`AWS.SimpleQueueService.NonExistentQueue;Sender`), which the SDK takes for the error
/// code, so that its typed variants (`QueueDoesNotExist`) do not match: both spellings are
/// checked. (SQS developer guide, "Amazon SQS AWS JSON protocol"; GetQueueUrl and CreateQueue
/// API references.)
fn queue_missing<E: aws_sdk_sqs::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
    )
}

/// CreateQueue's answer for a queue of the name with other attributes.
fn queue_exists<E: aws_sdk_sqs::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(e.code(), Some("QueueNameExists" | "QueueAlreadyExists"))
}

/// CreateQueue's answer within 60 seconds of deleting a queue of the name.
fn deleted_recently<E: aws_sdk_sqs::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("QueueDeletedRecently" | "AWS.SimpleQueueService.QueueDeletedRecently")
    )
}

/// The SQS provider.
#[derive(Clone, Debug)]
pub struct SqsProvider {
    client: Client,
}

impl SqsProvider {
    pub fn new(client: Client) -> Self {
        SqsProvider { client }
    }
}

/// The queue's name: `queueName` or the AWS name, with `.fifo` for a FIFO queue.
pub fn queue_name(name: &str, spec: &SqsSpec) -> String {
    let base = spec.queue_name.clone().unwrap_or_else(|| name.to_string());
    let base = base.strip_suffix(".fifo").unwrap_or(&base).to_string();
    if spec.fifo {
        format!("{base}.fifo")
    } else {
        base
    }
}

/// The managed dead-letter queue's name.
pub fn dead_letter_name(name: &str, spec: &SqsSpec) -> String {
    let main = queue_name(name, spec);
    match main.strip_suffix(".fifo") {
        Some(base) => format!("{base}-dlq.fifo"),
        None => format!("{main}-dlq"),
    }
}

fn attributes(spec: &SqsSpec, dlq_retention: bool) -> HashMap<A, String> {
    let retention = if dlq_retention {
        spec.dead_letter.as_ref().map_or(14, |d| d.retention_days)
    } else {
        spec.retention_days
    };
    let mut a = HashMap::from([
        (
            A::VisibilityTimeout,
            spec.visibility_timeout_seconds.to_string(),
        ),
        (A::MessageRetentionPeriod, (retention * DAY).to_string()),
        (A::DelaySeconds, spec.delay_seconds.to_string()),
        (
            A::MaximumMessageSize,
            spec.max_message_size_bytes.to_string(),
        ),
        (
            A::ReceiveMessageWaitTimeSeconds,
            spec.receive_wait_time_seconds.to_string(),
        ),
    ]);
    match &spec.encryption.kms_key_id {
        Some(k) => {
            a.insert(A::KmsMasterKeyId, k.clone());
        }
        None => {
            a.insert(
                A::SqsManagedSseEnabled,
                spec.encryption.sqs_managed.to_string(),
            );
        }
    }
    if spec.fifo {
        a.insert(
            A::ContentBasedDeduplication,
            spec.content_based_deduplication.to_string(),
        );
    }
    a
}

/// Why CreateQueue did not create.
enum CreateFailure {
    /// `QueueNameExists`: a queue of that name exists with other attributes.
    Exists,
    Failed(ProviderError),
}
use CreateFailure::{Exists, Failed};

impl SqsProvider {
    async fn url_of(&self, name: &str) -> Result<Option<String>, ProviderError> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(r) => Ok(r.queue_url().map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist() || queue_missing(s))
                    || crate::errors::classify(&e) == ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(format!("looking up SQS queue {name}"), e)),
        }
    }

    async fn arn_of(&self, url: &str) -> Result<String, ProviderError> {
        let r = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::QueueArn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading SQS queue {url}"), e))?;
        r.attributes()
            .and_then(|a| a.get(&A::QueueArn))
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(ErrorKind::Invalid, format!("SQS queue {url} has no ARN"))
            })
    }

    /// Checks the panka tags of queue `url` name the component `address` (`expected`: its
    /// tags).
    async fn check_queue_owner(
        &self,
        url: &str,
        address: &str,
        expected: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let tags = self
            .client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading tags of SQS queue {url}"), e))?;
        let tags = tags.tags().cloned().unwrap_or_default();
        check_owner(
            &format!("SQS queue {url}"),
            address,
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            expected,
        )
    }

    /// Creates the queue `name` with `attrs` and the component's tags, waiting out SQS's
    /// 60-second rule on re-creating a deleted name; a queue of that name that exists already
    /// (a create whose answer was lost) is used, after [`Self::check_queue_owner`], with its
    /// attributes set to `attrs`. Returns its URL.
    async fn ensure_queue(
        &self,
        name: &str,
        fifo: bool,
        attrs: HashMap<A, String>,
        address: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ProviderError> {
        let url = match self.create_queue(name, fifo, attrs.clone(), tags).await {
            Ok(url) => url,
            Err(Exists) => {
                let url = self.url_of(name).await?.ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Transient(Transient::NotYetVisible),
                        format!("SQS queue {name} exists but is not visible yet"),
                    )
                })?;
                self.check_queue_owner(&url, address, tags).await?;
                self.set_attributes(&url, attrs, tags).await?;
                return Ok(url);
            }
            Err(Failed(e)) => return Err(e),
        };
        // Returned for a queue of the same name and attributes too: someone else's?
        self.check_queue_owner(&url, address, tags).await?;
        Ok(url)
    }

    /// Creates a queue, waiting out SQS's 60-second rule on re-creating a deleted name.
    async fn create_queue(
        &self,
        name: &str,
        fifo: bool,
        attrs: HashMap<A, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, CreateFailure> {
        let mut attrs = attrs;
        if fifo {
            attrs.insert(A::FifoQueue, "true".into());
        }
        let tags: HashMap<String, String> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let attempt = || async {
            self.client
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attrs.clone()))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(|e| {
                    if e.as_service_error()
                        .is_some_and(|s| s.is_queue_name_exists() || queue_exists(s))
                    {
                        return Exists;
                    }
                    let recently = e
                        .as_service_error()
                        .is_some_and(|s| s.is_queue_deleted_recently() || deleted_recently(s));
                    let mut err = aws_error(format!("creating SQS queue {name}"), e);
                    if recently {
                        err.kind = ErrorKind::Transient(Transient::DependencyNotReady);
                    }
                    Failed(err)
                })
        };
        let times = (RECREATE_WAIT.as_secs() / RECREATE_POLL.as_secs()) as usize;
        let r = attempt
            .retry(
                ConstantBuilder::default()
                    .with_delay(RECREATE_POLL)
                    .with_max_times(times),
            )
            .sleep(tokio::time::sleep)
            .when(|e: &CreateFailure| {
                matches!(e, Failed(e) if e.kind == ErrorKind::Transient(Transient::DependencyNotReady))
            })
            .await?;
        r.queue_url().map(str::to_string).ok_or_else(|| {
            Failed(ProviderError::new(
                ErrorKind::Invalid,
                format!("SQS returned no URL for {name}"),
            ))
        })
    }

    async fn delete_queue(&self, name: &str) -> Result<(), ProviderError> {
        let Some(url) = self.url_of(name).await? else {
            return Ok(());
        };
        match self.client.delete_queue().queue_url(&url).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist() || queue_missing(s)) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error(format!("deleting SQS queue {name}"), e)),
        }
    }

    /// Creates or updates the dead-letter queue and returns its ARN; removes it when not wanted.
    async fn ensure_dead_letter(
        &self,
        t: &Target<'_, SqsSpec>,
    ) -> Result<Option<String>, ProviderError> {
        let dlq = dead_letter_name(t.name, &t.spec);
        match &t.spec.dead_letter {
            Some(_) => {
                let attrs = attributes(&t.spec, true);
                let url = match self.url_of(&dlq).await? {
                    Some(url) => {
                        self.check_queue_owner(&url, t.address, t.tags).await?;
                        self.set_attributes(&url, attrs, t.tags).await?;
                        url
                    }
                    None => {
                        self.ensure_queue(&dlq, t.spec.fifo, attrs, t.address, t.tags)
                            .await?
                    }
                };
                Ok(Some(self.arn_of(&url).await?))
            }
            None => {
                self.delete_queue(&dlq).await?;
                Ok(None)
            }
        }
    }

    async fn set_attributes(
        &self,
        url: &str,
        attrs: HashMap<A, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        self.client
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attrs))
            .send()
            .await
            .map_err(|e| aws_error(format!("setting attributes of SQS queue {url}"), e))?;
        let current = self
            .client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading tags of SQS queue {url}"), e))?;
        let stale: Vec<String> = current
            .tags()
            .map(|m| {
                m.keys()
                    .filter(|k| !tags.contains_key(*k))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if !stale.is_empty() {
            self.client
                .untag_queue()
                .queue_url(url)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| aws_error(format!("untagging SQS queue {url}"), e))?;
        }
        let tags: HashMap<String, String> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.client
            .tag_queue()
            .queue_url(url)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging SQS queue {url}"), e))?;
        Ok(())
    }

    async fn outcome(
        &self,
        name: &str,
        url: &str,
        dlq_arn: Option<String>,
    ) -> Result<Outcome, ProviderError> {
        let arn = self.arn_of(url).await?;
        Ok(outcome_of(name, url, arn, dlq_arn))
    }

    fn main_attributes(spec: &SqsSpec, dlq_arn: Option<&str>) -> HashMap<A, String> {
        let mut a = attributes(spec, false);
        // An empty RedrivePolicy removes redrive from a queue that had one.
        let redrive = match (dlq_arn, &spec.dead_letter) {
            (Some(arn), Some(d)) => serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": d.max_receive_count}).to_string(),
            _ => String::new(),
        };
        a.insert(A::RedrivePolicy, redrive);
        a
    }
}

impl SqsProvider {
    /// Every attribute of the queue at `url`; `None` when it does not exist.
    async fn attributes_of(&self, url: &str) -> Result<Option<HashMap<A, String>>, ProviderError> {
        let read = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::All)
            .send()
            .await;
        crate::errors::unless_missing(
            read.map(|r| r.attributes().cloned().unwrap_or_default()),
            |s| s.is_queue_does_not_exist() || queue_missing(s),
            format!("reading SQS queue {url}"),
        )
    }
}

/// The ids and outputs of a queue; `deadLetterArn` only when it has a dead-letter queue.
fn outcome_of(name: &str, url: &str, arn: String, dlq_arn: Option<String>) -> Outcome {
    let mut outputs = BTreeMap::from([
        ("url".to_string(), url.to_string()),
        ("arn".to_string(), arn),
        ("name".to_string(), name.to_string()),
    ]);
    if let Some(d) = dlq_arn {
        outputs.insert("deadLetterArn".to_string(), d);
    }
    Outcome {
        physical_ids: BTreeMap::from([("url".to_string(), url.to_string())]),
        outputs,
    }
}

/// The redrive policy's target ARN and receive count.
fn redrive(attrs: &HashMap<A, String>) -> Option<(String, u32)> {
    let p: serde_json::Value = serde_json::from_str(attrs.get(&A::RedrivePolicy)?).ok()?;
    let arn = p.get("deadLetterTargetArn")?.as_str()?.to_string();
    // SQS writes the count as a number; some SDKs and consoles write it as a string.
    let count = p.get("maxReceiveCount").and_then(|n| {
        n.as_u64()
            .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
    })?;
    Some((arn, u32::try_from(count).unwrap_or(u32::MAX)))
}

/// The queue as SQS reports it, in the form of its spec: the inverse of [`attributes`] and
/// [`queue_name`]. `name` is the component's AWS name, `dead_letter` the attributes of the
/// queue the redrive policy points to.
fn observe(
    name: &str,
    url: &str,
    attrs: &HashMap<A, String>,
    dead_letter: Option<&HashMap<A, String>>,
) -> Observation<SqsSpec> {
    let num = |a: &HashMap<A, String>, k: A| a.get(&k).and_then(|v| v.parse::<u32>().ok());
    let yes = |a: &HashMap<A, String>, k: A| a.get(&k).is_some_and(|v| v == "true");
    let arn = attrs.get(&A::QueueArn).cloned().unwrap_or_default();
    let actual = arn
        .rsplit(':')
        .next()
        .filter(|n| !n.is_empty())
        .or_else(|| url.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    let fifo = yes(attrs, A::FifoQueue);
    let derived = if fifo {
        format!("{name}.fifo")
    } else {
        name.to_string()
    };
    let kms_key_id = attrs
        .get(&A::KmsMasterKeyId)
        .filter(|k| !k.is_empty())
        .cloned();
    let mut unobserved = vec!["dependsOn"];
    if kms_key_id.is_some() {
        // Ignored with a KMS key (the spec's doc), and SQS reports it off then.
        unobserved.push("encryption.sqsManaged");
    }
    let redrive = redrive(attrs);
    let spec = SqsSpec {
        queue_name: (actual != derived).then(|| actual.clone()),
        fifo,
        content_based_deduplication: yes(attrs, A::ContentBasedDeduplication),
        visibility_timeout_seconds: num(attrs, A::VisibilityTimeout).unwrap_or_default(),
        retention_days: num(attrs, A::MessageRetentionPeriod).unwrap_or_default() / DAY,
        delay_seconds: num(attrs, A::DelaySeconds).unwrap_or_default(),
        max_message_size_bytes: num(attrs, A::MaximumMessageSize).unwrap_or_default(),
        receive_wait_time_seconds: num(attrs, A::ReceiveMessageWaitTimeSeconds).unwrap_or_default(),
        dead_letter: redrive.as_ref().map(|(_, count)| DeadLetter {
            max_receive_count: *count,
            retention_days: dead_letter
                .and_then(|d| num(d, A::MessageRetentionPeriod))
                .map_or(0, |s| s / DAY),
        }),
        encryption: SqsEncryption {
            sqs_managed: yes(attrs, A::SqsManagedSseEnabled),
            kms_key_id,
        },
        depends_on: Vec::new(),
    };
    if redrive.is_some() && dead_letter.is_none() {
        // The redrive target is gone or unreadable: its retention cannot be told.
        unobserved.push("deadLetter.retentionDays");
    }
    let outcome = outcome_of(&actual, url, arn, redrive.map(|(a, _)| a));
    Observation::new(outcome, spec).unobserved(&unobserved)
}

impl KindProvider for SqsProvider {
    type Spec = SqsSpec;
    const KIND: &'static str = "SQS";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "encryption.sqsManaged",
            tracked_by: "ignored while `kmsKeyId` is set (SQS then reports it off): the recorded value stands",
        },
    ];

    async fn create(&self, t: &Target<'_, SqsSpec>) -> Result<Outcome, ProviderError> {
        let dlq_arn = self.ensure_dead_letter(t).await?;
        let name = queue_name(t.name, &t.spec);
        let mut attrs = Self::main_attributes(&t.spec, dlq_arn.as_deref());
        if dlq_arn.is_none() {
            attrs.remove(&A::RedrivePolicy);
        }
        let url = self
            .ensure_queue(&name, t.spec.fifo, attrs, t.address, t.tags)
            .await?;
        self.outcome(&name, &url, dlq_arn).await
    }

    /// One GetQueueAttributes call for the queue (the URL is recorded, never looked up); with
    /// a dead-letter queue, a GetQueueUrl and a GetQueueAttributes for it too.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<SqsSpec>>, ProviderError> {
        let Some(url) = id.ids.get("url") else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} has no recorded queue URL", id.address),
            ));
        };
        let Some(main) = self.attributes_of(url).await? else {
            return Ok(None);
        };
        let dead_letter = match redrive(&main) {
            Some((arn, _)) => {
                match self
                    .url_of(arn.rsplit(':').next().unwrap_or_default())
                    .await?
                {
                    Some(u) => self.attributes_of(&u).await?,
                    None => None,
                }
            }
            None => None,
        };
        Ok(Some(observe(id.name, url, &main, dead_letter.as_ref())))
    }

    async fn update(
        &self,
        t: &Target<'_, SqsSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let name = queue_name(t.name, &t.spec);
        let url = self.url_of(&name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("SQS queue {name} does not exist"),
            )
        })?;
        let dlq_arn = if t.spec.dead_letter.is_some() {
            self.ensure_dead_letter(t).await?
        } else {
            None
        };
        let mut attrs = Self::main_attributes(&t.spec, dlq_arn.as_deref());
        if t.spec.encryption.kms_key_id.is_none() {
            // An empty key takes SSE-KMS off a queue that has it (set outside panka, or by an
            // earlier spec); SQS then falls back to SSE-SQS as `sqsManaged` says.
            attrs.insert(A::KmsMasterKeyId, String::new());
        }
        self.set_attributes(&url, attrs, t.tags).await?;
        if t.spec.dead_letter.is_none() {
            // Redrive is off now; the old dead-letter queue can go.
            self.ensure_dead_letter(t).await?;
        }
        self.outcome(&name, &url, dlq_arn).await
    }

    async fn delete(
        &self,
        name: &str,
        spec: Option<SqsSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let Some(spec) = spec else {
            return self.delete_queue(name).await;
        };
        // The dead-letter queue first, the queue last: a delete cut short (a killed run) leaves
        // the queue, which recovery finds by name, and the next run deletes both; the other
        // order could leave a dead-letter queue that nothing finds.
        self.delete_queue(&dead_letter_name(name, &spec)).await?;
        self.delete_queue(&queue_name(name, &spec)).await
    }

    async fn find(&self, t: &Target<'_, SqsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let name = queue_name(t.name, &t.spec);
        let Some(url) = self.url_of(&name).await? else {
            return Ok(None);
        };
        self.check_queue_owner(&url, t.address, t.tags).await?;
        let dlq = if t.spec.dead_letter.is_some() {
            match self.url_of(&dead_letter_name(t.name, &t.spec)).await? {
                Some(u) => Some(self.arn_of(&u).await?),
                None => None,
            }
        } else {
            None
        };
        Ok(Some(self.outcome(&name, &url, dlq).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/shop-dev-orders-jobs";
    const ARN: &str = "arn:aws:sqs:us-east-1:123456789012:shop-dev-orders-jobs";
    const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:shop-dev-orders-jobs-dlq";

    fn full_spec() -> SqsSpec {
        serde_json::from_value(serde_json::json!({
            "visibilityTimeoutSeconds": 120, "retentionDays": 7, "delaySeconds": 5,
            "maxMessageSizeBytes": 65536, "receiveWaitTimeSeconds": 20,
            "deadLetter": {"maxReceiveCount": 4, "retentionDays": 10},
            "encryption": {"sqsManaged": false, "kmsKeyId": "alias/orders"}
        }))
        .unwrap()
    }

    /// The attributes GetQueueAttributes(All) answers for a queue made with `request`: what
    /// was sent, plus what SQS adds (ARN, counters, timestamps; SSE-SQS off under KMS).
    /// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
    fn answer(request: HashMap<A, String>, arn: &str) -> HashMap<A, String> {
        let mut a = request;
        a.insert(A::QueueArn, arn.to_string());
        a.insert(A::ApproximateNumberOfMessages, "0".into());
        a.insert(A::CreatedTimestamp, "1764547200".into());
        a.insert(A::LastModifiedTimestamp, "1764547200".into());
        if a.contains_key(&A::KmsMasterKeyId) {
            a.insert(A::KmsDataKeyReusePeriodSeconds, "300".into());
            a.insert(A::SqsManagedSseEnabled, "false".into());
        }
        if a.get(&A::RedrivePolicy).is_some_and(String::is_empty) {
            a.remove(&A::RedrivePolicy);
        }
        a
    }

    async fn read_back(
        main: HashMap<A, String>,
        dlq: Option<HashMap<A, String>>,
    ) -> Observation<SqsSpec> {
        let main_rule = mock!(Client::get_queue_attributes)
            .match_requests(|r| r.queue_url() == Some(URL))
            .then_output(move || {
                GetQueueAttributesOutput::builder()
                    .set_attributes(Some(main.clone()))
                    .build()
            });
        let dlq_url = format!("{URL}-dlq");
        let url_rule = mock!(Client::get_queue_url).then_output(move || {
            GetQueueUrlOutput::builder()
                .queue_url(format!("{URL}-dlq"))
                .build()
        });
        let dlq_rule = mock!(Client::get_queue_attributes)
            .match_requests(move |r| r.queue_url() == Some(dlq_url.as_str()))
            .then_output(move || {
                GetQueueAttributesOutput::builder()
                    .set_attributes(dlq.clone())
                    .build()
            });
        let client = mock_client!(
            aws_sdk_sqs,
            RuleMode::MatchAny,
            [&main_rule, &url_rule, &dlq_rule]
        );
        let ids = BTreeMap::from([("url".to_string(), URL.to_string())]);
        let empty = BTreeMap::new();
        let id = crate::test_identity("orders/jobs", "shop-dev-orders-jobs", &ids, &empty);
        SqsProvider::new(client).read(&id).await.unwrap().unwrap()
    }

    fn full_answer(spec: &SqsSpec) -> (HashMap<A, String>, HashMap<A, String>) {
        let main = answer(SqsProvider::main_attributes(spec, Some(DLQ_ARN)), ARN);
        let dlq = answer(attributes(spec, true), DLQ_ARN);
        (main, dlq)
    }

    #[tokio::test]
    async fn a_queue_made_from_a_full_spec_reads_back_as_that_spec() {
        let spec = full_spec();
        let (main, dlq) = full_answer(&spec);
        let seen = read_back(main, Some(dlq)).await;
        assert_eq!(seen.spec, spec);
        assert_eq!(seen.outcome.outputs["arn"], ARN);
        assert_eq!(seen.outcome.outputs["deadLetterArn"], DLQ_ARN);
        assert_eq!(seen.unobserved, ["dependsOn", "encryption.sqsManaged"]);
        // Without a dead-letter queue or a KMS key: no deadLetterArn output at all.
        let plain: SqsSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        let mut request = SqsProvider::main_attributes(&plain, None);
        request.insert(A::SqsManagedSseEnabled, "true".into());
        let seen = read_back(answer(request, ARN), None).await;
        assert_eq!(seen.spec, plain);
        assert!(!seen.outcome.outputs.contains_key("deadLetterArn"));
    }

    #[tokio::test]
    async fn each_attribute_changed_in_aws_reads_back_as_exactly_that_field() {
        let spec = full_spec();
        let cases: Vec<(A, &str, &str, serde_json::Value)> = vec![
            (
                A::VisibilityTimeout,
                "",
                "/visibilityTimeoutSeconds",
                300.into(),
            ),
            (A::MessageRetentionPeriod, "", "/retentionDays", 2.into()),
            (A::DelaySeconds, "", "/delaySeconds", 0.into()),
            (
                A::MaximumMessageSize,
                "",
                "/maxMessageSizeBytes",
                1024.into(),
            ),
            (
                A::ReceiveMessageWaitTimeSeconds,
                "",
                "/receiveWaitTimeSeconds",
                1.into(),
            ),
            (
                A::KmsMasterKeyId,
                "",
                "/encryption/kmsKeyId",
                "alias/other".into(),
            ),
            (
                A::RedrivePolicy,
                "",
                "/deadLetter/maxReceiveCount",
                9.into(),
            ),
            (
                A::MessageRetentionPeriod,
                "dlq",
                "/deadLetter/retentionDays",
                1.into(),
            ),
        ];
        let expected_json = serde_json::to_value(&spec).unwrap();
        for (attr, which, pointer, value) in cases {
            let (mut main, mut dlq) = full_answer(&spec);
            let text = match (&attr, &value) {
                (A::MessageRetentionPeriod, v) => {
                    (v.as_u64().unwrap() * u64::from(DAY)).to_string()
                }
                (A::RedrivePolicy, v) => {
                    serde_json::json!({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": v})
                        .to_string()
                }
                (_, serde_json::Value::String(s)) => s.clone(),
                (_, v) => v.to_string(),
            };
            if which == "dlq" {
                dlq.insert(attr.clone(), text);
            } else {
                main.insert(attr.clone(), text);
            }
            let seen = serde_json::to_value(read_back(main, Some(dlq)).await.spec).unwrap();
            let mut expected = expected_json.clone();
            *expected.pointer_mut(pointer).unwrap() = value;
            assert_eq!(seen, expected, "{attr:?} changed: only {pointer} differs");
        }
        // Redrive removed in AWS: no dead-letter queue.
        let (mut main, dlq) = full_answer(&spec);
        main.remove(&A::RedrivePolicy);
        let seen = read_back(main, Some(dlq)).await;
        assert_eq!(seen.spec.dead_letter, None);
        assert!(!seen.outcome.outputs.contains_key("deadLetterArn"));
    }

    /// A refresh reads a queue without a dead-letter queue in one call: its URL comes from the
    /// state, and GetQueueAttributes(All) answers every setting (docs/performance.md).
    #[tokio::test]
    async fn a_refresh_of_a_thousand_queues_makes_a_thousand_calls() {
        let plain: SqsSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        let attrs = answer(SqsProvider::main_attributes(&plain, None), ARN);
        let rule = mock!(Client::get_queue_attributes).then_output(move || {
            GetQueueAttributesOutput::builder()
                .set_attributes(Some(attrs.clone()))
                .build()
        });
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&rule]);
        let provider = SqsProvider::new(client);
        let empty = BTreeMap::new();
        for n in 0..1000 {
            let ids = BTreeMap::from([("url".to_string(), format!("{URL}-{n}"))]);
            let id = crate::test_identity("orders/jobs", "shop-dev-orders-jobs", &ids, &empty);
            assert!(provider.read(&id).await.unwrap().is_some());
        }
        assert_eq!(rule.num_calls(), 1000);
    }

    mod replays {
        use std::sync::{Arc, Mutex};

        use aws_sdk_sqs::operation::create_queue::CreateQueueOutput;
        use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
        use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlOutput;
        use aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsOutput;
        use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesOutput;
        use aws_sdk_sqs::operation::tag_queue::TagQueueOutput;
        use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
        use panka_engine::Target;

        use super::*;
        use crate::aws_replies;

        type Log = Arc<Mutex<Vec<&'static str>>>;

        fn owner_tags(component: &str) -> BTreeMap<String, String> {
            BTreeMap::from([
                ("panka:stack".to_string(), "shop".to_string()),
                ("panka:environment".to_string(), "dev".to_string()),
                ("panka:service".to_string(), "orders".to_string()),
                ("panka:component".to_string(), component.to_string()),
            ])
        }

        /// GetQueueUrl for a queue that does not exist, as SQS's JSON protocol answers it: the
        /// query protocol's code in `x-amzn-query-error`.
        fn no_queue() -> aws_smithy_runtime_api::http::Response {
            aws_replies::sqs(
                400,
                "QueueDoesNotExist",
                "AWS.SimpleQueueService.NonExistentQueue",
                "The specified queue does not exist.",
            )
        }

        /// SQS where the queue exists with tags `found`; CreateQueue answered by `create`
        /// (`None`: the URL of the existing queue, as for equal attributes).
        fn sqs(
            log: &Log,
            create: Option<aws_smithy_runtime_api::http::Response>,
            found: BTreeMap<String, String>,
        ) -> Client {
            let l = log.clone();
            let first = Mutex::new(create);
            let create = mock!(Client::create_queue).then_compute_response(move |r| {
                l.lock().unwrap().push("CreateQueue");
                // The tags go with the create, so a queue made by a lost call has them.
                assert_eq!(
                    r.tags()
                        .and_then(|t| t.get("panka:component"))
                        .map(String::as_str),
                    Some("jobs")
                );
                match first.lock().unwrap().take() {
                    Some(e) => MockResponse::Http(e),
                    None => {
                        MockResponse::Output(CreateQueueOutput::builder().queue_url(URL).build())
                    }
                }
            });
            let url = mock!(Client::get_queue_url).then_compute_response(|r| {
                if r.queue_name() == Some("shop-dev-orders-jobs") {
                    MockResponse::Output(GetQueueUrlOutput::builder().queue_url(URL).build())
                } else {
                    MockResponse::Http(no_queue())
                }
            });
            let tags = mock!(Client::list_queue_tags).then_output(move || {
                ListQueueTagsOutput::builder()
                    .set_tags(Some(found.clone().into_iter().collect()))
                    .build()
            });
            let l = log.clone();
            let set = mock!(Client::set_queue_attributes).then_compute_output(move |_| {
                l.lock().unwrap().push("SetQueueAttributes");
                SetQueueAttributesOutput::builder().build()
            });
            let tag = mock!(Client::tag_queue).then_output(|| TagQueueOutput::builder().build());
            let attrs = mock!(Client::get_queue_attributes).then_output(|| {
                GetQueueAttributesOutput::builder()
                    .attributes(A::QueueArn, ARN)
                    .build()
            });
            let rules: Vec<Rule> = vec![create, url, tags, set, tag, attrs];
            mock_client!(aws_sdk_sqs, RuleMode::MatchAny, rules.iter())
        }

        async fn create(
            client: Client,
            tags: &BTreeMap<String, String>,
        ) -> Result<Outcome, ProviderError> {
            let spec: SqsSpec = serde_json::from_value(serde_json::json!({})).unwrap();
            let config = serde_json::json!({});
            let t = Target {
                address: "orders/jobs",
                name: "shop-dev-orders-jobs",
                spec,
                tags,
                region: "us-east-1",
                config: &config,
            };
            SqsProvider::new(client).create(&t).await
        }

        /// CreateQueue repeated after its answer was lost, with attributes changed since:
        /// `QueueNameExists` (400; `x-amzn-query-error: QueueAlreadyExists;Sender`). The queue
        /// is this component's (its tags): adopted and its attributes set.
        #[tokio::test]
        async fn a_create_answered_queue_exists_adopts_this_components_queue() {
            let log: Log = Arc::default();
            let exists = aws_replies::sqs(
                400,
                "QueueNameExists",
                "QueueAlreadyExists",
                "A queue already exists with the same name and a different value for attribute VisibilityTimeout",
            );
            let tags = owner_tags("jobs");
            let made = create(sqs(&log, Some(exists), tags.clone()), &tags)
                .await
                .unwrap();
            assert_eq!(made.outputs["url"], URL);
            assert_eq!(*log.lock().unwrap(), ["CreateQueue", "SetQueueAttributes"]);
        }

        /// The same answer for another component's queue: not taken over, not changed.
        #[tokio::test]
        async fn a_create_answered_queue_exists_refuses_another_components_queue() {
            let log: Log = Arc::default();
            let exists = aws_replies::sqs(
                400,
                "QueueNameExists",
                "QueueAlreadyExists",
                "A queue already exists with the same name and a different value for attribute VisibilityTimeout",
            );
            let err = create(
                sqs(&log, Some(exists), owner_tags("other")),
                &owner_tags("jobs"),
            )
            .await
            .unwrap_err();
            assert_eq!(err.kind, ErrorKind::NotOwned, "{}", err.chain());
            assert_eq!(*log.lock().unwrap(), ["CreateQueue"]);
        }

        /// CreateQueue returns an existing queue of the name and the same attributes as if it
        /// had made it: without panka's tags it is still not this component's.
        #[tokio::test]
        async fn a_create_returning_an_untagged_queue_refuses_it_and_so_does_find() {
            let log: Log = Arc::default();
            let err = create(sqs(&log, None, BTreeMap::new()), &owner_tags("jobs"))
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::NotOwned);
            assert!(
                err.message.contains("carries no panka tags"),
                "{}",
                err.message
            );
            let spec: SqsSpec = serde_json::from_value(serde_json::json!({})).unwrap();
            let config = serde_json::json!({});
            let tags = owner_tags("jobs");
            let t = Target {
                address: "orders/jobs",
                name: "shop-dev-orders-jobs",
                spec,
                tags: &tags,
                region: "us-east-1",
                config: &config,
            };
            let err = SqsProvider::new(sqs(&log, None, BTreeMap::new()))
                .find(&t)
                .await
                .unwrap_err();
            assert_eq!(err.kind, ErrorKind::NotOwned);
        }
    }

    #[tokio::test]
    async fn a_queue_gone_from_aws_reads_as_absent() {
        let gone = mock!(Client::get_queue_attributes).then_error(|| {
            aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError::QueueDoesNotExist(
                aws_sdk_sqs::types::error::QueueDoesNotExist::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_sqs, [&gone]);
        let ids = BTreeMap::from([("url".to_string(), URL.to_string())]);
        let empty = BTreeMap::new();
        let id = crate::test_identity("orders/jobs", "shop-dev-orders-jobs", &ids, &empty);
        assert!(SqsProvider::new(client).read(&id).await.unwrap().is_none());
    }
}
