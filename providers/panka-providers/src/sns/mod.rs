//! SNS topics, standard or FIFO, with their subscriptions: to an SQS queue of the stack (whose
//! queue policy then lets the topic send to it), to another component by ARN, or to an external
//! endpoint (HTTPS, email, SMS).
//!
//! Outputs: `arn`, `name`. `fifo` forces replacement; attributes and subscriptions change in place.
//! Subscriptions are recorded in the physical ids (`subscription.NAME`), so a removed one is
//! unsubscribed; one to an external ARN also as `endpoint.NAME`, so that a read tells it from a
//! subscription to a component of the stack (SNS reports both as the ARN).
//!
//! A subscription of a Lambda function gives the function a statement letting
//! `sns.amazonaws.com` invoke it from this topic only (`SourceArn`), taken back when the
//! subscription or the topic goes. A topic found by name is adopted only when its panka tags
//! are this component's (CreateTopic returns an existing topic of the same name).
//!
//! A read reports the subscriptions SNS has: those panka made under their names, others under
//! their ARN. One still pending confirmation (email, HTTP) is reported as it is, with the
//! attributes SNS holds for it; one subscribed outside panka and pending, which SNS lists with
//! no ARN, as `protocol:endpoint` with only its protocol and endpoint.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sns::Client;
use aws_sdk_sns::types::Tag;
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{self, SnsSpec, Subscription, SubscriptionProtocol};
use serde_json::Value;

use crate::errors::{aws_error, check_owner, unless_gone, unless_missing};
use crate::policy::{allow_to_invoke, forbid_to_invoke};

/// The SNS provider.
#[derive(Clone, Debug)]
pub struct SnsProvider {
    sns: Client,
    sqs: aws_sdk_sqs::Client,
    lambda: aws_sdk_lambda::Client,
}

impl SnsProvider {
    pub fn new(sns: Client, sqs: aws_sdk_sqs::Client, lambda: aws_sdk_lambda::Client) -> Self {
        SnsProvider { sns, sqs, lambda }
    }
}

/// The topic's name: the AWS name, with `.fifo` for a FIFO topic.
fn topic_name(name: &str, spec: &SnsSpec) -> String {
    let name = spec.topic_name.as_deref().unwrap_or(name);
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

/// The physical id recording that subscription `s` delivers to an external ARN (`endpoint`),
/// not to a component of the stack: AWS reports both as the same ARN, and a read needs to
/// know which of `endpoint` and `target` to put it in.
fn external_key(s: &Subscription, ep: &Endpoint) -> Option<String> {
    (s.target.is_none() && ep.arn_or_address.starts_with("arn:"))
        .then(|| format!("{EXTERNAL}{}", s.name))
}

const SUBSCRIPTION: &str = "subscription.";
const EXTERNAL: &str = "endpoint.";

/// Whether the protocol delivers an envelope that raw delivery can take off.
fn raw_capable(p: SubscriptionProtocol) -> bool {
    matches!(
        p,
        SubscriptionProtocol::Sqs | SubscriptionProtocol::Http | SubscriptionProtocol::Https
    )
}

/// The attributes set on a confirmed subscription (SetSubscriptionAttributes, one at a time):
/// raw delivery where the protocol has it, and the filter policy (`{}` removes one).
fn subscription_attributes(s: &Subscription) -> Vec<(&'static str, String)> {
    let mut a = Vec::new();
    if raw_capable(s.protocol) {
        a.push(("RawMessageDelivery", s.raw_message_delivery.to_string()));
    }
    let policy = s
        .filter_policy
        .as_ref()
        .map_or_else(|| "{}".to_string(), Value::to_string);
    a.push(("FilterPolicy", policy));
    a
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

    /// A subscription's attributes, or `None` when it does not exist.
    async fn subscription(
        &self,
        arn: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        Ok(unless_missing(
            self.sns
                .get_subscription_attributes()
                .subscription_arn(arn)
                .send()
                .await,
            |s| s.is_not_found_exception(),
            format!("reading SNS subscription {arn}"),
        )?
        .map(|r| {
            r.attributes()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        }))
    }

    /// Creates the topic with the component's tags, or finds the one of its name (CreateTopic
    /// "is idempotent, so if the requester already owns a topic with the specified name, that
    /// topic's ARN is returned", CreateTopic API reference; with other tags it answers
    /// `InvalidParameter` "Topic already exists with different tags"), and checks that it is this
    /// component's; returns its ARN.
    ///
    /// # Errors
    /// [`ErrorKind::NotOwned`] for a topic of that name whose tags are not this component's.
    async fn create_topic(&self, t: &Target<'_, SnsSpec>) -> Result<String, ProviderError> {
        let name = topic_name(t.name, &t.spec);
        let create = |tags: Option<Vec<Tag>>| {
            let mut create = self.sns.create_topic().name(&name).set_tags(tags);
            if t.spec.fifo {
                create = create.attributes("FifoTopic", "true");
            }
            create.send()
        };
        let created = match create(Some(sns_tags(t.tags))).await {
            Ok(r) => r,
            Err(e)
                if crate::errors::message(&e)
                    .is_some_and(|m| m.contains("already exists with different tags")) =>
            {
                create(None)
                    .await
                    .map_err(|e| aws_error(format!("looking up SNS topic {name}"), e))?
            }
            Err(e) => return Err(aws_error(format!("creating SNS topic {name}"), e)),
        };
        let arn = created.topic_arn().map(str::to_string).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("SNS returned no ARN for {name}"),
            )
        })?;
        self.check_topic_owner(t, &arn).await?;
        Ok(arn)
    }

    /// Checks the panka tags of topic `arn` name this component.
    async fn check_topic_owner(
        &self,
        t: &Target<'_, SnsSpec>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let tags = self
            .sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of SNS topic {arn}"), e))?;
        check_owner(
            &format!("SNS topic {arn}"),
            t.address,
            tags.tags().iter().map(|t| (t.key(), t.value())),
            t.tags,
        )
    }

    /// Sets the topic's attributes and tags.
    async fn converge_topic(
        &self,
        t: &Target<'_, SnsSpec>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        for (k, v) in attributes(&t.spec) {
            self.sns
                .set_topic_attributes()
                .topic_arn(arn)
                .attribute_name(k)
                .attribute_value(v)
                .send()
                .await
                .map_err(|e| aws_error(format!("setting {k} of SNS topic {arn}"), e))?;
        }
        self.sns
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(sns_tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging SNS topic {arn}"), e))?;
        Ok(())
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
            if s.protocol == SubscriptionProtocol::Lambda && ep.arn_or_address.starts_with("arn:") {
                // SNS invokes the function as `sns.amazonaws.com`; without the statement every
                // message fails to deliver (SNS developer guide, "Fanout to Lambda functions").
                allow_to_invoke(&self.lambda, &ep.arn_or_address, "sns", topic).await?;
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
                for (k, v) in subscription_attributes(s) {
                    self.set_subscription(&arn, k, &v).await?;
                }
            }
            if let Some(key) = external_key(s, &ep) {
                ids.insert(key, ep.arn_or_address.clone());
            }
            ids.insert(format!("{SUBSCRIPTION}{}", s.name), arn);
        }
        for (key, arn) in recorded.iter().filter(|(k, _)| k.starts_with(SUBSCRIPTION)) {
            // Gone from the spec, or now delivering elsewhere (its queue was replaced).
            if ids.get(key) != Some(arn) && arn.starts_with("arn:") {
                match self.sns.unsubscribe().subscription_arn(arn).send().await {
                    Ok(_) => {}
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_not_found_exception()) => {}
                    Err(e) => return Err(aws_error(format!("unsubscribing {arn}"), e)),
                }
                let function = existing
                    .iter()
                    .find(|(_, sub)| *sub == arn)
                    .filter(|((protocol, _), _)| protocol == "lambda")
                    .map(|((_, function), _)| function);
                if let Some(function) = function
                    && !ids.values().any(|kept| {
                        existing.get(&("lambda".to_string(), function.clone())) == Some(kept)
                    })
                {
                    forbid_to_invoke(&self.lambda, function, "sns", topic).await?;
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

fn sns_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
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

/// A subscription as SNS reports it: the name it has in the spec (from the recorded ids; its ARN
/// or `protocol:endpoint` when panka did not make it) and its GetSubscriptionAttributes answer.
struct Seen {
    name: String,
    arn: Option<String>,
    attrs: BTreeMap<String, String>,
}

fn protocol_of(p: &str) -> Option<SubscriptionProtocol> {
    Some(match p {
        "sqs" => SubscriptionProtocol::Sqs,
        "lambda" => SubscriptionProtocol::Lambda,
        "https" => SubscriptionProtocol::Https,
        "http" => SubscriptionProtocol::Http,
        "email" => SubscriptionProtocol::Email,
        "sms" => SubscriptionProtocol::Sms,
        _ => return None,
    })
}

/// A subscription as its spec: the inverse of [`endpoint`] and [`subscription_attributes`].
/// An ARN endpoint is the `target` component's (the engine puts the reference back when it is
/// the ARN that component has), unless the ids record it as an external `endpoint`.
/// `None` for a protocol the spec cannot express (Firehose, mobile push).
fn observe_subscription(s: &Seen, ids: &BTreeMap<String, String>) -> Option<Subscription> {
    let a = &s.attrs;
    let protocol = protocol_of(a.get("Protocol")?)?;
    let endpoint = a.get("Endpoint").cloned().unwrap_or_default();
    let external = ids.contains_key(&format!("{EXTERNAL}{}", s.name));
    let (target, endpoint) = if endpoint.starts_with("arn:") && !external {
        (
            Some(kinds::Target {
                component: endpoint,
            }),
            None,
        )
    } else {
        (None, Some(endpoint))
    };
    // The spec's filter policy applies to message attributes; one on the message body is
    // another setting, which the spec cannot hold: its attribute policy is then none.
    let on_attributes = a
        .get("FilterPolicyScope")
        .is_none_or(|scope| scope == "MessageAttributes");
    let filter_policy = a
        .get("FilterPolicy")
        .filter(|_| on_attributes)
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .filter(|p| p.as_object().is_none_or(|o| !o.is_empty()));
    Some(Subscription {
        name: s.name.clone(),
        protocol,
        target,
        endpoint,
        filter_policy,
        raw_message_delivery: a.get("RawMessageDelivery").is_some_and(|v| v == "true"),
    })
}

/// The topic and its subscriptions as SNS reports them, in the form of the spec: the inverse
/// of [`attributes`], [`topic_name`] and the subscriptions' requests.
fn observe(
    name: &str,
    arn: &str,
    attrs: &BTreeMap<String, String>,
    subscriptions: &[Seen],
    ids: &BTreeMap<String, String>,
) -> Observation<SnsSpec> {
    let yes = |k: &str| attrs.get(k).is_some_and(|v| v == "true");
    let text = |k: &str| attrs.get(k).filter(|v| !v.is_empty()).cloned();
    let fifo = yes("FifoTopic");
    // `topicName` only where the topic's name is not the one panka derives (`.fifo` aside,
    // which [`topic_name`] adds for a FIFO topic).
    let actual = arn.rsplit(':').next().unwrap_or_default();
    let base = |n: &str| n.strip_suffix(".fifo").unwrap_or(n).to_string();
    let renamed = !actual.is_empty() && base(actual) != base(name);
    let spec = SnsSpec {
        topic_name: renamed.then(|| actual.to_string()),
        fifo,
        content_based_deduplication: yes("ContentBasedDeduplication"),
        display_name: text("DisplayName"),
        kms_key_id: text("KmsMasterKeyId"),
        subscriptions: subscriptions
            .iter()
            .filter_map(|s| observe_subscription(s, ids))
            .collect(),
        depends_on: Vec::new(),
    };
    // The ids of the subscriptions panka made that are still there.
    let mut subs = BTreeMap::new();
    for s in subscriptions {
        let key = format!("{SUBSCRIPTION}{}", s.name);
        if let Some(sub) = s.arn.as_ref().filter(|a| ids.get(&key) == Some(*a)) {
            subs.insert(key, sub.clone());
            let external = format!("{EXTERNAL}{}", s.name);
            if let Some(e) = ids.get(&external) {
                subs.insert(external, e.clone());
            }
        }
    }
    Observation::new(outcome(arn, subs), spec).unobserved(&["dependsOn"])
}

impl KindProvider for SnsProvider {
    type Spec = SnsSpec;
    const KIND: &'static str = "SNS";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    async fn create(&self, t: &Target<'_, SnsSpec>) -> Result<Outcome, ProviderError> {
        let arn = self.create_topic(t).await?;
        self.converge_topic(t, &arn).await?;
        let subs = self
            .converge_subscriptions(t, &arn, &BTreeMap::new())
            .await?;
        Ok(outcome(&arn, subs))
    }

    /// GetTopicAttributes, ListSubscriptionsByTopic (one call a page of 100), and one
    /// GetSubscriptionAttributes per confirmed subscription: 2 + N calls, the topic ARN and the
    /// subscription ARNs taken from the state.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<SnsSpec>>, ProviderError> {
        let Some(arn) = id.ids.get("topic") else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} has no recorded topic ARN", id.address),
            ));
        };
        let Some(attrs) = self.topic(arn).await? else {
            return Ok(None);
        };
        let listed = self.subscriptions(arn).await?;
        let mut seen = Vec::new();
        let mut found = BTreeSet::new();
        // The recorded subscriptions first: GetSubscriptionAttributes answers for a subscription
        // still pending confirmation too, which the list shows without its ARN.
        for (key, sub) in id.ids {
            let Some(name) = key.strip_prefix(SUBSCRIPTION) else {
                continue;
            };
            if !sub.starts_with("arn:") {
                continue;
            }
            let Some(a) = self.subscription(sub).await? else {
                continue;
            };
            if a.get("TopicArn") != Some(arn) {
                continue;
            }
            found.insert(sub.clone());
            seen.push(Seen {
                name: name.to_string(),
                arn: Some(sub.clone()),
                attrs: a,
            });
        }
        for ((protocol, endpoint), sub) in listed {
            if found.contains(&sub) {
                continue;
            }
            if sub.starts_with("arn:") {
                if let Some(a) = self.subscription(&sub).await? {
                    seen.push(Seen {
                        name: sub.clone(),
                        arn: Some(sub),
                        attrs: a,
                    });
                }
            } else if !seen.iter().any(|s| {
                s.attrs.get("Protocol") == Some(&protocol)
                    && s.attrs.get("Endpoint") == Some(&endpoint)
            }) {
                // Subscribed outside panka and not confirmed yet: all SNS tells is where to.
                seen.push(Seen {
                    name: format!("{protocol}:{endpoint}"),
                    arn: None,
                    attrs: BTreeMap::from([
                        ("Protocol".to_string(), protocol),
                        ("Endpoint".to_string(), endpoint),
                        ("PendingConfirmation".to_string(), "true".to_string()),
                    ]),
                });
            }
        }
        Ok(Some(observe(id.name, arn, &attrs, &seen, id.ids)))
    }

    async fn update(
        &self,
        t: &Target<'_, SnsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let arn = match ids.get("topic") {
            Some(arn) => arn.clone(),
            // Recorded before the topic's ARN was: found (and checked) by name.
            None => self.create_topic(t).await?,
        };
        self.converge_topic(t, &arn).await?;
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
        // Deleting a topic deletes its subscriptions, but not the permissions it had to invoke
        // functions: they go first. The queue policy statements stay harmless (they name a
        // topic that no longer exists).
        let subscriptions = match self.subscriptions(arn).await {
            Ok(s) => s,
            // The topic is gone already.
            Err(e) if e.kind == ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        for ((protocol, function), subscription) in &subscriptions {
            if protocol == "lambda" {
                forbid_to_invoke(&self.lambda, function, "sns", arn).await?;
            }
            // DeleteTopic "deletes a topic and all its subscriptions" (SNS API reference), but
            // some implementations keep them detached for a while (LocalStack, for about 48
            // hours): unsubscribing first leaves nothing behind anywhere. A pending
            // confirmation has no subscription ARN to unsubscribe.
            if subscription.starts_with("arn:") {
                unless_gone(
                    self.sns
                        .unsubscribe()
                        .subscription_arn(subscription)
                        .send()
                        .await,
                    |e| e.is_not_found_exception(),
                    format!("unsubscribing {subscription} from {arn}"),
                )?;
            }
        }
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
        self.check_topic_owner(t, arn).await?;
        let existing = self.subscriptions(arn).await?;
        let mut subs = BTreeMap::new();
        for (i, s) in t.spec.subscriptions.iter().enumerate() {
            let ep = endpoint(t, i, s)?;
            if let Some(a) =
                existing.get(&(protocol(s.protocol).to_string(), ep.arn_or_address.clone()))
            {
                subs.insert(format!("{SUBSCRIPTION}{}", s.name), a.clone());
                if let Some(key) = external_key(s, &ep) {
                    subs.insert(key, ep.arn_or_address);
                }
            }
        }
        Ok(Some(outcome(arn, subs)))
    }
}

#[cfg(test)]
mod tests;
