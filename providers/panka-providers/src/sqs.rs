//! SQS queues, standard or FIFO, with an optional managed dead-letter queue and redrive.
//!
//! Outputs: `url`, `arn`, `name`, `deadLetterArn`. `fifo` and `queueName` force replacement
//! (SQS cannot change them); every other attribute is set in place.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName as A;
use backon::{ConstantBuilder, Retryable};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::SqsSpec;

use crate::errors::aws_error;

/// SQS refuses to re-create a queue name for 60 seconds after deleting it; a replace that
/// reuses the name waits this long at most.
const RECREATE_WAIT: Duration = Duration::from_secs(75);
const RECREATE_POLL: Duration = Duration::from_secs(5);

const DAY: u32 = 86_400;

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

impl SqsProvider {
    async fn url_of(&self, name: &str) -> Result<Option<String>, ProviderError> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(r) => Ok(r.queue_url().map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist())
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

    /// Creates a queue, waiting out SQS's 60-second rule on re-creating a deleted name.
    async fn create_queue(
        &self,
        name: &str,
        fifo: bool,
        attrs: HashMap<A, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, ProviderError> {
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
                    let recently = e
                        .as_service_error()
                        .is_some_and(|s| s.is_queue_deleted_recently());
                    let mut err = aws_error(format!("creating SQS queue {name}"), e);
                    if recently {
                        err.kind = ErrorKind::Retryable;
                    }
                    err
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
            .when(|e: &ProviderError| e.kind == ErrorKind::Retryable)
            .await?;
        r.queue_url().map(str::to_string).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("SQS returned no URL for {name}"),
            )
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
                    .is_some_and(|s| s.is_queue_does_not_exist()) =>
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
                        self.set_attributes(&url, attrs, t.tags).await?;
                        url
                    }
                    None => self.create_queue(&dlq, t.spec.fifo, attrs, t.tags).await?,
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
        Ok(Outcome {
            physical_ids: BTreeMap::from([("url".to_string(), url.to_string())]),
            outputs: BTreeMap::from([
                ("url".to_string(), url.to_string()),
                ("arn".to_string(), arn),
                ("name".to_string(), name.to_string()),
                ("deadLetterArn".to_string(), dlq_arn.unwrap_or_default()),
            ]),
        })
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

impl KindProvider for SqsProvider {
    type Spec = SqsSpec;
    const KIND: &'static str = "SQS";

    async fn create(&self, t: &Target<'_, SqsSpec>) -> Result<Outcome, ProviderError> {
        let dlq_arn = self.ensure_dead_letter(t).await?;
        let name = queue_name(t.name, &t.spec);
        let mut attrs = Self::main_attributes(&t.spec, dlq_arn.as_deref());
        if dlq_arn.is_none() {
            attrs.remove(&A::RedrivePolicy);
        }
        let url = self.create_queue(&name, t.spec.fifo, attrs, t.tags).await?;
        self.outcome(&name, &url, dlq_arn).await
    }

    async fn read(
        &self,
        t: &Target<'_, SqsSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = queue_name(t.name, &t.spec);
        let Some(url) = self.url_of(&name).await? else {
            return Ok(None);
        };
        let r = self
            .client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::All)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading SQS queue {name}"), e))?;
        let a = r.attributes().cloned().unwrap_or_default();
        let num = |k: A| a.get(&k).and_then(|v| v.parse::<u32>().ok());
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(v) = num(A::VisibilityTimeout) {
            spec["visibilityTimeoutSeconds"] = v.into();
        }
        if let Some(v) = num(A::MessageRetentionPeriod) {
            spec["retentionDays"] = (v / DAY).into();
        }
        if let Some(v) = num(A::DelaySeconds) {
            spec["delaySeconds"] = v.into();
        }
        if let Some(v) = num(A::MaximumMessageSize) {
            spec["maxMessageSizeBytes"] = v.into();
        }
        if let Some(v) = num(A::ReceiveMessageWaitTimeSeconds) {
            spec["receiveWaitTimeSeconds"] = v.into();
        }
        let dlq_arn = match a
            .get(&A::RedrivePolicy)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        {
            Some(p) => {
                if let Some(n) = p.get("maxReceiveCount").and_then(|n| {
                    n.as_u64()
                        .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
                }) {
                    spec["deadLetter"]["maxReceiveCount"] = n.into();
                }
                p.get("deadLetterTargetArn")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            }
            None => {
                // No redrive: the spec has no dead-letter queue (absent, as the YAML writes it).
                if let Some(m) = spec.as_object_mut() {
                    m.remove("deadLetter");
                }
                None
            }
        };
        let outcome = self.outcome(&name, &url, dlq_arn).await?;
        Ok(Some(Observed { outcome, spec }))
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
        self.set_attributes(
            &url,
            Self::main_attributes(&t.spec, dlq_arn.as_deref()),
            t.tags,
        )
        .await?;
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
        self.delete_queue(&queue_name(name, &spec)).await?;
        self.delete_queue(&dead_letter_name(name, &spec)).await
    }

    async fn find(&self, t: &Target<'_, SqsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let name = queue_name(t.name, &t.spec);
        let Some(url) = self.url_of(&name).await? else {
            return Ok(None);
        };
        let tags = self
            .client
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading tags of SQS queue {name}"), e))?;
        let tags = tags.tags().cloned().unwrap_or_default();
        let ours = ["panka:stack", "panka:environment", "panka:component"]
            .iter()
            .all(|k| tags.get(*k).is_none_or(|v| t.tags.get(*k) == Some(v)));
        if !ours {
            return Err(ProviderError::new(
                ErrorKind::Conflict,
                format!("SQS queue {name} exists but belongs to another panka stack or component"),
            ));
        }
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
