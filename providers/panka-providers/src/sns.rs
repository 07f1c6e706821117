//! SNS topics, standard or FIFO, with their subscriptions: to an SQS queue of the stack (whose
//! queue policy then lets the topic send to it), to another component by ARN, or to an external
//! endpoint (HTTPS, email, SMS).
//!
//! Outputs: `arn`, `name`. `fifo` forces replacement; attributes and subscriptions change in place.
//! Subscriptions are recorded in the physical ids (`subscription.NAME`), so a removed one is
//! unsubscribed.

use std::collections::BTreeMap;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::Tag;
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{SnsSpec, Subscription, SubscriptionProtocol};
use serde_json::Value;

use crate::errors::{aws_error, unless_missing};

/// The SNS provider.
#[derive(Clone, Debug)]
pub struct SnsProvider {
    sns: Client,
    sqs: aws_sdk_sqs::Client,
}

impl SnsProvider {
    pub fn new(sns: Client, sqs: aws_sdk_sqs::Client) -> Self {
        SnsProvider { sns, sqs }
    }
}

/// The topic's name: the AWS name, with `.fifo` for a FIFO topic.
fn topic_name(name: &str, spec: &SnsSpec) -> String {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if spec.fifo {
        format!("{base}.fifo")
    } else {
        base.to_string()
    }
}

fn protocol(p: SubscriptionProtocol) -> &'static str {
    match p {
        SubscriptionProtocol::Sqs => "sqs",
        SubscriptionProtocol::Lambda => "lambda",
        SubscriptionProtocol::Https => "https",
        SubscriptionProtocol::Http => "http",
        SubscriptionProtocol::Email => "email",
        SubscriptionProtocol::Sms => "sms",
    }
}

/// Where a subscription delivers: the target component's ARN (and, for a queue, its URL), or
/// the external endpoint.
struct Endpoint {
    arn_or_address: String,
    queue_url: Option<String>,
}

fn endpoint(
    t: &Target<'_, SnsSpec>,
    i: usize,
    s: &Subscription,
) -> Result<Endpoint, ProviderError> {
    if s.target.is_some() {
        let outputs = input(t.config, &format!("subscriptions[{i}].target"))
            .map(|r| r.outputs)
            .unwrap_or_default();
        let arn = outputs
            .get("arn")
            .cloned()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("subscription {} refers to a component with no ARN", s.name),
                )
            })?;
        return Ok(Endpoint {
            arn_or_address: arn,
            queue_url: outputs
                .get("url")
                .cloned()
                .filter(|_| s.protocol == SubscriptionProtocol::Sqs),
        });
    }
    Ok(Endpoint {
        arn_or_address: s.endpoint.clone().unwrap_or_default(),
        queue_url: None,
    })
}

fn attributes(spec: &SnsSpec) -> Vec<(&'static str, String)> {
    let mut a = vec![("DisplayName", spec.display_name.clone().unwrap_or_default())];
    if let Some(k) = &spec.kms_key_id {
        a.push(("KmsMasterKeyId", k.clone()));
    }
    if spec.fifo {
        a.push((
            "ContentBasedDeduplication",
            spec.content_based_deduplication.to_string(),
        ));
    }
    a
}

impl SnsProvider {
    /// The topic's attributes, or `None` when it does not exist.
    async fn topic(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        Ok(unless_missing(
            self.sns.get_topic_attributes().topic_arn(arn).send().await,
            |s| s.is_not_found_exception(),
            format!("reading SNS topic {arn}"),
        )?
        .map(|r| {
            r.attributes()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }

    /// Creates the topic (CreateTopic returns the existing one of the same name) and sets its
    /// attributes and tags; returns its ARN.
    async fn ensure_topic(&self, t: &Target<'_, SnsSpec>) -> Result<String, ProviderError> {
        let name = topic_name(t.name, &t.spec);
        let mut create = self.sns.create_topic().name(&name);
        if t.spec.fifo {
            create = create.attributes("FifoTopic", "true");
        }
        let arn = create
            .send()
            .await
            .map_err(|e| aws_error(format!("creating SNS topic {name}"), e))?
            .topic_arn()
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("SNS returned no ARN for {name}"),
                )
            })?;
        for (k, v) in attributes(&t.spec) {
            self.sns
                .set_topic_attributes()
                .topic_arn(&arn)
                .attribute_name(k)
                .attribute_value(v)
                .send()
                .await
                .map_err(|e| aws_error(format!("setting {k} of SNS topic {name}"), e))?;
        }
        let tags: Vec<Tag> = t
            .tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        self.sns
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging SNS topic {name}"), e))?;
        Ok(arn)
    }

    /// The topic's subscriptions as (protocol, endpoint) → subscription ARN.
    async fn subscriptions(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<(String, String), String>, ProviderError> {
        let mut found = BTreeMap::new();
        let mut token = None;
        loop {
            let page = self
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(topic)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the subscriptions of {topic}"), e))?;
            for s in page.subscriptions() {
                if let (Some(p), Some(e), Some(a)) =
                    (s.protocol(), s.endpoint(), s.subscription_arn())
                {
                    found.insert((p.to_string(), e.to_string()), a.to_string());
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// Brings the topic's subscriptions to the spec: subscribes what is missing, sets filter
    /// policies and raw delivery, lets subscribed queues receive from the topic, and
    /// unsubscribes what the spec no longer names. Returns the ids of the subscriptions.
    async fn converge_subscriptions(
        &self,
        t: &Target<'_, SnsSpec>,
        topic: &str,
        recorded: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let existing = self.subscriptions(topic).await?;
        let mut ids = BTreeMap::new();
        for (i, s) in t.spec.subscriptions.iter().enumerate() {
            let ep = endpoint(t, i, s)?;
            if let Some(url) = &ep.queue_url {
                crate::policy::allow_to_send(&self.sqs, url, &ep.arn_or_address, "sns", topic)
                    .await?;
            }
            let key = (protocol(s.protocol).to_string(), ep.arn_or_address.clone());
            let arn = match existing.get(&key) {
                Some(a) if !a.starts_with("PendingConfirmation") => a.clone(),
                _ => self
                    .sns
                    .subscribe()
                    .topic_arn(topic)
                    .protocol(protocol(s.protocol))
                    .endpoint(&ep.arn_or_address)
                    .return_subscription_arn(true)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("subscribing {} to {topic}", s.name), e))?
                    .subscription_arn()
                    .unwrap_or_default()
                    .to_string(),
            };
            // Email and SMS subscriptions wait for their owner's confirmation: no attributes yet.
            if arn.starts_with("arn:") {
                let raw = matches!(
                    s.protocol,
                    SubscriptionProtocol::Sqs
                        | SubscriptionProtocol::Http
                        | SubscriptionProtocol::Https
                );
                if raw {
                    self.set_subscription(
                        &arn,
                        "RawMessageDelivery",
                        &s.raw_message_delivery.to_string(),
                    )
                    .await?;
                }
                let policy = s
                    .filter_policy
                    .as_ref()
                    .map_or_else(|| "{}".to_string(), Value::to_string);
                self.set_subscription(&arn, "FilterPolicy", &policy).await?;
            }
            ids.insert(format!("subscription.{}", s.name), arn);
        }
        for (key, arn) in recorded
            .iter()
            .filter(|(k, _)| k.starts_with("subscription."))
        {
            // Gone from the spec, or now delivering elsewhere (its queue was replaced).
            if ids.get(key) != Some(arn) && arn.starts_with("arn:") {
                match self.sns.unsubscribe().subscription_arn(arn).send().await {
                    Ok(_) => {}
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_not_found_exception()) => {}
                    Err(e) => return Err(aws_error(format!("unsubscribing {arn}"), e)),
                }
            }
        }
        Ok(ids)
    }

    async fn set_subscription(
        &self,
        arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ProviderError> {
        self.sns
            .set_subscription_attributes()
            .subscription_arn(arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(|e| aws_error(format!("setting {name} of subscription {arn}"), e))?;
        Ok(())
    }
}

fn outcome(arn: &str, subscriptions: BTreeMap<String, String>) -> Outcome {
    let mut physical_ids = BTreeMap::from([("topic".to_string(), arn.to_string())]);
    physical_ids.extend(subscriptions);
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            ("arn".to_string(), arn.to_string()),
            (
                "name".to_string(),
                arn.rsplit(':').next().unwrap_or_default().to_string(),
            ),
        ]),
    }
}

impl KindProvider for SnsProvider {
    type Spec = SnsSpec;
    const KIND: &'static str = "SNS";

    async fn create(&self, t: &Target<'_, SnsSpec>) -> Result<Outcome, ProviderError> {
        let arn = self.ensure_topic(t).await?;
        let subs = self
            .converge_subscriptions(t, &arn, &BTreeMap::new())
            .await?;
        Ok(outcome(&arn, subs))
    }

    async fn read(
        &self,
        t: &Target<'_, SnsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(arn) = ids.get("topic") else {
            return Ok(None);
        };
        let Some(attrs) = self.topic(arn).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        let display = attrs.get("DisplayName").cloned().unwrap_or_default();
        spec["displayName"] = if display.is_empty() {
            Value::Null
        } else {
            Value::String(display)
        };
        if spec["displayName"].is_null()
            && let Some(o) = spec.as_object_mut()
        {
            o.remove("displayName");
        }
        let subs: BTreeMap<String, String> = ids
            .iter()
            .filter(|(k, _)| k.starts_with("subscription."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Some(Observed {
            outcome: outcome(arn, subs),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, SnsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let arn = self.ensure_topic(t).await?;
        let subs = self.converge_subscriptions(t, &arn, ids).await?;
        Ok(outcome(&arn, subs))
    }

    async fn delete(
        &self,
        _name: &str,
        _spec: Option<SnsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let Some(arn) = ids.get("topic") else {
            return Ok(());
        };
        // Deleting a topic deletes its subscriptions; the queue policy statements stay harmless
        // (they name a topic that no longer exists).
        match self.sns.delete_topic().topic_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error(format!("deleting SNS topic {arn}"), e)),
        }
    }

    async fn find(&self, t: &Target<'_, SnsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let name = topic_name(t.name, &t.spec);
        let mut token = None;
        let arn = loop {
            let page = self
                .sns
                .list_topics()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("listing SNS topics", e))?;
            if let Some(a) = page
                .topics()
                .iter()
                .filter_map(|x| x.topic_arn())
                .find(|a| a.rsplit(':').next() == Some(name.as_str()))
            {
                break a.to_string();
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        };
        let arn = arn.as_str();
        let existing = self.subscriptions(arn).await?;
        let mut subs = BTreeMap::new();
        for (i, s) in t.spec.subscriptions.iter().enumerate() {
            let ep = endpoint(t, i, s)?;
            if let Some(a) = existing.get(&(protocol(s.protocol).to_string(), ep.arn_or_address)) {
                subs.insert(format!("subscription.{}", s.name), a.clone());
            }
        }
        Ok(Some(outcome(arn, subs)))
    }
}
