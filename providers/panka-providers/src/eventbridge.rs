//! EventBridge: a custom event bus (or the account's default bus), an optional archive of its
//! events, and rules — an event pattern or a schedule — delivering to components of the stack.
//!
//! Rules are named `{name}-{rule}` (shortened with a hash to EventBridge's 64 characters).
//! Targets are SQS queues (FIFO queues get the rule's name as message group), SNS topics and
//! Lambda functions of the stack; each gets a statement in its resource policy letting
//! `events.amazonaws.com` deliver from that rule. Rules and targets gone from the spec are
//! removed. Outputs: `busName`, `busArn`.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::{RuleState, SqsParameters, Tag, Target as EbTarget};
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{EventBridgeSpec, EventRule};
use panka_format::naming::shorten;
use serde_json::Value;

use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::policy::{allow_to_invoke, allow_to_publish, allow_to_send};

const DEFAULT_BUS: &str = "default";
/// Rule names are limited to 64 characters, archive names to 48.
const RULE_NAME_LIMIT: usize = 64;
const ARCHIVE_NAME_LIMIT: usize = 48;

/// The EventBridge provider.
#[derive(Clone, Debug)]
pub struct EventBridgeProvider {
    events: Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
}

impl EventBridgeProvider {
    pub fn new(
        events: Client,
        sqs: aws_sdk_sqs::Client,
        sns: aws_sdk_sns::Client,
        lambda: aws_sdk_lambda::Client,
    ) -> Self {
        EventBridgeProvider {
            events,
            sqs,
            sns,
            lambda,
        }
    }
}

fn bus_name<'a>(name: &'a str, spec: &EventBridgeSpec) -> &'a str {
    if spec.custom_bus { name } else { DEFAULT_BUS }
}

fn rule_name(name: &str, rule: &EventRule) -> String {
    shorten(&format!("{name}-{}", rule.name), RULE_NAME_LIMIT)
}

fn archive_name(name: &str) -> String {
    shorten(name, ARCHIVE_NAME_LIMIT)
}

/// A target id: the component's address with `/` as `-` (ids allow `.`, `-`, `_` and
/// alphanumerics).
fn target_id(component: &str) -> String {
    component
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn not_found<E: aws_sdk_eventbridge::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

fn outcome(
    bus: &str,
    bus_arn: &str,
    rules: BTreeMap<String, String>,
    archive: Option<String>,
) -> Outcome {
    let mut physical_ids = BTreeMap::from([("bus".to_string(), bus.to_string())]);
    for (rule, arn) in rules {
        physical_ids.insert(format!("rule.{rule}"), arn);
    }
    if let Some(a) = archive {
        physical_ids.insert("archive".to_string(), a);
    }
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            ("busName".to_string(), bus.to_string()),
            ("busArn".to_string(), bus_arn.to_string()),
        ]),
    }
}

impl EventBridgeProvider {
    /// The bus's ARN, or `None` when it does not exist.
    async fn bus_arn(&self, bus: &str) -> Result<Option<String>, ProviderError> {
        let found = unless_missing(
            self.events.describe_event_bus().name(bus).send().await,
            not_found,
            format!("reading event bus {bus}"),
        )?;
        Ok(found.map(|r| r.arn().unwrap_or_default().to_string()))
    }

    async fn ensure_bus(&self, t: &Target<'_, EventBridgeSpec>) -> Result<String, ProviderError> {
        let bus = bus_name(t.name, &t.spec);
        if let Some(arn) = self.bus_arn(bus).await? {
            if t.spec.custom_bus {
                self.tag(&arn, t.tags).await?;
            }
            return Ok(arn);
        }
        self.events
            .create_event_bus()
            .name(bus)
            .set_tags(Some(tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("creating event bus {bus}"), e))?;
        self.bus_arn(bus).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("event bus {bus} vanished after it was created"),
            )
        })
    }

    async fn tag(&self, arn: &str, t: &BTreeMap<String, String>) -> Result<(), ProviderError> {
        self.events
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags(t)))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging {arn}"), e))?;
        Ok(())
    }

    /// Creates, updates or (when `days` is `None`) deletes the bus's archive.
    async fn converge_archive(
        &self,
        name: &str,
        bus_arn: &str,
        days: Option<u32>,
    ) -> Result<Option<String>, ProviderError> {
        let archive = archive_name(name);
        let exists = unless_missing(
            self.events
                .describe_archive()
                .archive_name(&archive)
                .send()
                .await,
            not_found,
            format!("reading archive {archive}"),
        )?
        .is_some();
        match (days, exists) {
            (Some(days), true) => {
                self.events
                    .update_archive()
                    .archive_name(&archive)
                    .retention_days(days as i32)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("updating archive {archive}"), e))?;
            }
            (Some(days), false) => {
                self.events
                    .create_archive()
                    .archive_name(&archive)
                    .event_source_arn(bus_arn)
                    .retention_days(days as i32)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("creating archive {archive}"), e))?;
            }
            (None, true) => self.delete_archive(&archive).await?,
            (None, false) => {}
        }
        Ok(days.map(|_| archive))
    }

    async fn delete_archive(&self, archive: &str) -> Result<(), ProviderError> {
        let deleted = self
            .events
            .delete_archive()
            .archive_name(archive)
            .send()
            .await;
        unless_gone(deleted, not_found, format!("deleting archive {archive}"))
    }

    /// The target of rule `rule_arn` for `rules[i].targets[j]`, with the delivery permission
    /// granted on the queue or topic.
    async fn target(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        i: usize,
        j: usize,
        rule: &EventRule,
        rule_arn: &str,
    ) -> Result<EbTarget, ProviderError> {
        let to = &rule.targets[j].component;
        let outputs = input(t.config, &format!("rules[{i}].targets[{j}]"))
            .map(|r| r.outputs)
            .unwrap_or_default();
        let arn = outputs
            .get("arn")
            .filter(|a| !a.is_empty())
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("rule {}: target {to} has no ARN yet", rule.name),
                )
            })?;
        let mut target = EbTarget::builder().id(target_id(to)).arn(&arn);
        if !rule.input.is_empty() {
            target = target.input(serde_json::to_string(&rule.input).unwrap_or_default());
        }
        match arn.split(':').nth(2) {
            Some("sqs") => {
                let url = outputs.get("url").cloned().unwrap_or_default();
                allow_to_send(&self.sqs, &url, &arn, "events", rule_arn).await?;
                if arn.ends_with(".fifo") {
                    target = target.sqs_parameters(
                        SqsParameters::builder()
                            .message_group_id(rule_name(t.name, rule))
                            .build(),
                    );
                }
            }
            Some("sns") => allow_to_publish(&self.sns, &arn, "events", rule_arn).await?,
            Some("lambda") => allow_to_invoke(&self.lambda, &arn, "events", rule_arn).await?,
            _ => {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!(
                        "rule {}: target {to} ({arn}) is not a queue, a topic or a function",
                        rule.name
                    ),
                ));
            }
        }
        target.build().map_err(|e| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("rule {}: target {to}: {e}", rule.name),
            )
        })
    }

    /// Puts rule `rules[i]` and its targets, removing targets it no longer has; returns its ARN.
    async fn converge_rule(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        bus: &str,
        i: usize,
    ) -> Result<String, ProviderError> {
        let rule = &t.spec.rules[i];
        let name = rule_name(t.name, rule);
        let mut put = self
            .events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .state(if rule.enabled {
                RuleState::Enabled
            } else {
                RuleState::Disabled
            })
            .description(
                rule.description
                    .clone()
                    .unwrap_or_else(|| format!("panka: {} {}", t.address, rule.name)),
            )
            .set_schedule_expression(rule.schedule.clone());
        if let Some(p) = &rule.event_pattern {
            put = put.event_pattern(p.to_string());
        }
        let arn = put
            .send()
            .await
            .map_err(|e| aws_error(format!("putting rule {name}"), e))?
            .rule_arn()
            .unwrap_or_default()
            .to_string();
        self.tag(&arn, t.tags).await?;
        let mut targets = Vec::new();
        for j in 0..rule.targets.len() {
            targets.push(self.target(t, i, j, rule, &arn).await?);
        }
        let wanted: BTreeSet<String> = targets.iter().map(|x| x.id().to_string()).collect();
        let put = self
            .events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus)
            .set_targets(Some(targets))
            .send()
            .await
            .map_err(|e| aws_error(format!("putting the targets of rule {name}"), e))?;
        if put.failed_entry_count() > 0 {
            let why: Vec<String> = put
                .failed_entries()
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.target_id().unwrap_or("?"),
                        f.error_message().unwrap_or("refused")
                    )
                })
                .collect();
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("rule {name} refused targets: {}", why.join("; ")),
            ));
        }
        let stale: Vec<String> = self
            .target_ids(bus, &name)
            .await?
            .into_iter()
            .filter(|id| !wanted.contains(id))
            .collect();
        self.remove_targets(bus, &name, stale).await?;
        Ok(arn)
    }

    async fn target_ids(&self, bus: &str, rule: &str) -> Result<Vec<String>, ProviderError> {
        let mut ids = Vec::new();
        let mut next = None;
        loop {
            let page = match self
                .events
                .list_targets_by_rule()
                .rule(rule)
                .event_bus_name(bus)
                .set_next_token(next)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) if e.as_service_error().is_some_and(not_found) => return Ok(ids),
                Err(e) => return Err(aws_error(format!("listing the targets of {rule}"), e)),
            };
            ids.extend(page.targets().iter().map(|t| t.id().to_string()));
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(ids);
            }
        }
    }

    async fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        ids: Vec<String>,
    ) -> Result<(), ProviderError> {
        // RemoveTargets takes at most 100 ids at a time (a rule has at most 5 targets here).
        for chunk in ids.chunks(100).filter(|c| !c.is_empty()) {
            self.events
                .remove_targets()
                .rule(rule)
                .event_bus_name(bus)
                .set_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(format!("removing targets of rule {rule}"), e))?;
        }
        Ok(())
    }

    /// Removes rule `rule` of `bus` with its targets; a rule already gone is fine.
    async fn delete_rule(&self, bus: &str, rule: &str) -> Result<(), ProviderError> {
        let ids = self.target_ids(bus, rule).await?;
        self.remove_targets(bus, rule, ids).await?;
        let deleted = self
            .events
            .delete_rule()
            .name(rule)
            .event_bus_name(bus)
            .send()
            .await;
        unless_gone(deleted, not_found, format!("deleting rule {rule}"))
    }

    async fn converge(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        recorded: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let bus = bus_name(t.name, &t.spec);
        let bus_arn = self.ensure_bus(t).await?;
        let archive = self
            .converge_archive(t.name, &bus_arn, t.spec.archive_retention_days)
            .await?;
        let mut rules = BTreeMap::new();
        for (i, rule) in t.spec.rules.iter().enumerate() {
            let arn = self.converge_rule(t, bus, i).await?;
            rules.insert(rule_name(t.name, rule), arn);
        }
        for key in recorded.keys() {
            if let Some(old) = key.strip_prefix("rule.")
                && !rules.contains_key(old)
            {
                self.delete_rule(bus, old).await?;
            }
        }
        Ok(outcome(bus, &bus_arn, rules, archive))
    }
}

impl KindProvider for EventBridgeProvider {
    type Spec = EventBridgeSpec;
    const KIND: &'static str = "EventBridge";

    async fn create(&self, t: &Target<'_, EventBridgeSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    async fn read(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let bus = bus_name(t.name, &t.spec);
        let Some(bus_arn) = self.bus_arn(bus).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        // Rules as they are now; a rule deleted outside panka is missing from the list.
        let mut rules = Vec::new();
        let mut found = BTreeMap::new();
        let written = spec["rules"].as_array().cloned().unwrap_or_default();
        for (rule, mut value) in t.spec.rules.iter().zip(written) {
            let name = rule_name(t.name, rule);
            let r = match self
                .events
                .describe_rule()
                .name(&name)
                .event_bus_name(bus)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) if e.as_service_error().is_some_and(not_found) => continue,
                Err(e) => return Err(aws_error(format!("reading rule {name}"), e)),
            };
            value["enabled"] = (r.state() == Some(&RuleState::Enabled)).into();
            if let Some(p) = r.event_pattern().and_then(|p| serde_json::from_str(p).ok()) {
                value["eventPattern"] = p;
            }
            if let Some(s) = r.schedule_expression() {
                value["schedule"] = s.into();
            }
            found.insert(name, r.arn().unwrap_or_default().to_string());
            rules.push(value);
        }
        spec["rules"] = Value::Array(rules);
        let mut archive = ids.get("archive").cloned();
        if let Some(a) = archive.clone() {
            match self.events.describe_archive().archive_name(&a).send().await {
                Ok(r) => spec["archiveRetentionDays"] = r.retention_days().unwrap_or(0).into(),
                Err(e) if e.as_service_error().is_some_and(not_found) => {
                    if let Some(o) = spec.as_object_mut() {
                        o.remove("archiveRetentionDays");
                    }
                    archive = None;
                }
                Err(e) => return Err(aws_error(format!("reading archive {a}"), e)),
            }
        }
        Ok(Some(Observed {
            outcome: outcome(bus, &bus_arn, found, archive),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<EventBridgeSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let bus = ids.get("bus").map(String::as_str).unwrap_or(name);
        for key in ids.keys() {
            if let Some(rule) = key.strip_prefix("rule.") {
                self.delete_rule(bus, rule).await?;
            }
        }
        if let Some(a) = ids.get("archive") {
            self.delete_archive(a).await?;
        }
        if bus != DEFAULT_BUS {
            let deleted = self.events.delete_event_bus().name(bus).send().await;
            unless_gone(deleted, not_found, format!("deleting event bus {bus}"))?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let Some(observed) = self.read(t, ids).await? else {
            return Ok(None);
        };
        let rules = observed.spec["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let enabled = rules.iter().filter(|r| r["enabled"] == true).count();
        Ok(Some(format!(
            "bus {} · {} of {} rules enabled",
            bus_name(t.name, &t.spec),
            enabled,
            t.spec.rules.len()
        )))
    }

    async fn find(
        &self,
        t: &Target<'_, EventBridgeSpec>,
    ) -> Result<Option<Outcome>, ProviderError> {
        // An existing archive is not adopted: the next plan shows it and apply takes it over.
        Ok(self.read(t, &BTreeMap::new()).await?.map(|o| o.outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
