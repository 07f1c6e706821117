//! EventBridge: a custom event bus (or the account's default bus), an optional archive of its
//! events, and rules — an event pattern or a schedule — delivering to components of the stack.
//!
//! Rules are named `{name}-{rule}` (shortened with a hash to EventBridge's 64 characters).
//! Targets are SQS queues (FIFO queues get the rule's name as message group), SNS topics and
//! Lambda functions of the stack; each gets a statement in its resource policy letting
//! `events.amazonaws.com` deliver from that rule. Rules and targets gone from the spec are
//! removed, and a function a rule no longer targets loses the rule's permission to invoke it.
//! Outputs: `busName`, `busArn`.
//!
//! A bus, rule or archive of this component's name that exists already is used only when it is
//! this component's: its panka tags (a bus, a rule), or the bus it archives (an archive, which
//! takes no tags). CreateEventBus and PutRule carry the tags, so what a call whose answer was
//! lost made is found as this component's.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::{Rule, RuleState, SqsParameters, Tag, Target as EbTarget};
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{self, EventBridgeSpec, EventRule};
use panka_format::naming::shorten;
use serde_json::Value;

use crate::errors::{aws_error, check_owner, unless_gone, unless_missing};
use crate::policy::{allow_to_invoke, allow_to_publish, allow_to_send, forbid_to_invoke};

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

/// The target `to` (a component's address) of `rule` delivering to `arn`: the static input, and
/// for a FIFO queue the rule's name as message group.
fn target_request(
    name: &str,
    rule: &EventRule,
    to: &str,
    arn: &str,
) -> Result<EbTarget, ProviderError> {
    let mut target = EbTarget::builder().id(target_id(to)).arn(arn);
    if !rule.input.is_empty() {
        target = target.input(serde_json::to_string(&rule.input).unwrap_or_default());
    }
    if arn.split(':').nth(2) == Some("sqs") && arn.ends_with(".fifo") {
        target = target.sqs_parameters(
            SqsParameters::builder()
                .message_group_id(rule_name(name, rule))
                .build(),
        );
    }
    target.build().map_err(|e| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!("rule {}: target {to}: {e}", rule.name),
        )
    })
}

/// The description panka gives a rule the spec describes not.
fn default_description(address: &str, rule: &str) -> String {
    format!("panka: {address} {rule}")
}

/// What PutRule sets on a rule: its AWS name, state, description, schedule and pattern.
fn rule_request(name: &str, address: &str, rule: &EventRule) -> Rule {
    Rule::builder()
        .name(rule_name(name, rule))
        .state(if rule.enabled {
            RuleState::Enabled
        } else {
            RuleState::Disabled
        })
        .description(
            rule.description
                .clone()
                .unwrap_or_else(|| default_description(address, &rule.name)),
        )
        .set_schedule_expression(rule.schedule.clone())
        .set_event_pattern(rule.event_pattern.as_ref().map(Value::to_string))
        .build()
}

fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn not_found<E: aws_sdk_eventbridge::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

fn already_exists<E: aws_sdk_eventbridge::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceAlreadyExistsException")
}

/// Whether `arn` is a Lambda function's.
fn is_function(arn: &str) -> bool {
    arn.split(':').nth(2) == Some("lambda")
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

    /// The custom bus (created with the component's tags, or found and checked to be this
    /// component's), or the account's default bus; returns its ARN.
    async fn ensure_bus(&self, t: &Target<'_, EventBridgeSpec>) -> Result<String, ProviderError> {
        let bus = bus_name(t.name, &t.spec);
        if let Some(arn) = self.bus_arn(bus).await? {
            if t.spec.custom_bus {
                self.check_tags(&arn, &format!("event bus {bus}"), t)
                    .await?;
                self.tag(&arn, t.tags).await?;
            }
            return Ok(arn);
        }
        let created = self
            .events
            .create_event_bus()
            .name(bus)
            .set_tags(Some(tags(t.tags)))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Made in between, or by this call's earlier attempt: checked below.
            Err(e) if e.as_service_error().is_some_and(already_exists) => {}
            Err(e) => return Err(aws_error(format!("creating event bus {bus}"), e)),
        }
        let arn = self.bus_arn(bus).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Transient(panka_engine::Transient::NotYetVisible),
                format!("event bus {bus} is not visible yet after it was created"),
            )
        })?;
        self.check_tags(&arn, &format!("event bus {bus}"), t)
            .await?;
        Ok(arn)
    }

    /// Checks that the panka tags of `arn` (a bus or rule) name this component.
    async fn check_tags(
        &self,
        arn: &str,
        what: &str,
        t: &Target<'_, EventBridgeSpec>,
    ) -> Result<(), ProviderError> {
        let listed = self
            .events
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of {what}"), e))?;
        check_owner(
            what,
            t.address,
            listed.tags().iter().map(|t| (t.key(), t.value())),
            t.tags,
        )
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
        let found = unless_missing(
            self.events
                .describe_archive()
                .archive_name(&archive)
                .send()
                .await,
            not_found,
            format!("reading archive {archive}"),
        )?;
        // Archives take no tags: one of this name is this component's when it archives its bus.
        if let Some(a) = &found
            && a.event_source_arn() != Some(bus_arn)
        {
            return Err(ProviderError::new(
                ErrorKind::NotOwned,
                format!(
                    "archive {archive} already exists and archives {} rather than {bus_arn}; panka does not take over a resource it did not create: delete or rename it",
                    a.event_source_arn().unwrap_or("another source")
                ),
            ));
        }
        let exists = found.is_some();
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
                let created = self
                    .events
                    .create_archive()
                    .archive_name(&archive)
                    .event_source_arn(bus_arn)
                    .retention_days(days as i32)
                    .send()
                    .await;
                match created {
                    Ok(_) => {}
                    // Made by this call's earlier attempt, whose answer was lost: the next
                    // apply finds it and checks whose bus it archives.
                    Err(e) if e.as_service_error().is_some_and(already_exists) => {
                        return Err(ProviderError::with_source(
                            ErrorKind::Transient(panka_engine::Transient::NotYetVisible),
                            format!("archive {archive} exists but was not visible a moment ago"),
                            e,
                        ));
                    }
                    Err(e) => return Err(aws_error(format!("creating archive {archive}"), e)),
                }
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
        match arn.split(':').nth(2) {
            Some("sqs") => {
                let url = outputs.get("url").cloned().unwrap_or_default();
                allow_to_send(&self.sqs, &url, &arn, "events", rule_arn).await?;
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
        target_request(t.name, rule, to, &arn)
    }

    /// Puts rule `rules[i]` and its targets, removing targets it no longer has; returns its ARN.
    async fn converge_rule(
        &self,
        t: &Target<'_, EventBridgeSpec>,
        bus: &str,
        i: usize,
        recorded: &BTreeMap<String, String>,
    ) -> Result<String, ProviderError> {
        let rule = &t.spec.rules[i];
        let name = rule_name(t.name, rule);
        let wanted = rule_request(t.name, t.address, rule);
        if !recorded.contains_key(&format!("rule.{name}")) {
            // PutRule replaces a rule of the same name: one panka did not record is checked
            // first (on the default bus it may be anybody's).
            let found = unless_missing(
                self.events
                    .describe_rule()
                    .name(&name)
                    .event_bus_name(bus)
                    .send()
                    .await,
                not_found,
                format!("reading rule {name}"),
            )?;
            if let Some(arn) = found.as_ref().and_then(|r| r.arn()) {
                self.check_tags(arn, &format!("rule {name}"), t).await?;
            }
        }
        let arn = self
            .events
            .put_rule()
            .name(&name)
            .event_bus_name(bus)
            .set_state(wanted.state().cloned())
            .set_description(wanted.description().map(str::to_string))
            .set_schedule_expression(wanted.schedule_expression().map(str::to_string))
            .set_event_pattern(wanted.event_pattern().map(str::to_string))
            .set_tags(Some(tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("putting rule {name}"), e))?
            .rule_arn()
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("EventBridge returned no ARN for rule {name}"),
                )
            })?;
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
        let stale: Vec<EbTarget> = self
            .targets(bus, &name)
            .await?
            .into_iter()
            .filter(|x| !wanted.contains(x.id()))
            .collect();
        self.remove_targets(bus, &name, &arn, &stale).await?;
        Ok(arn)
    }

    /// Removes `targets` from rule `rule` (`rule_arn`), and from each function among them the
    /// rule's permission to invoke it.
    async fn remove_targets(
        &self,
        bus: &str,
        rule: &str,
        rule_arn: &str,
        targets: &[EbTarget],
    ) -> Result<(), ProviderError> {
        let ids: Vec<String> = targets.iter().map(|x| x.id().to_string()).collect();
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
        for function in targets.iter().map(EbTarget::arn).filter(|a| is_function(a)) {
            forbid_to_invoke(&self.lambda, function, "events", rule_arn).await?;
        }
        Ok(())
    }

    /// Removes rule `rule` (`rule_arn`) of `bus` with its targets and their permissions; a rule
    /// already gone is fine.
    async fn delete_rule(
        &self,
        bus: &str,
        rule: &str,
        rule_arn: &str,
    ) -> Result<(), ProviderError> {
        let targets = self.targets(bus, rule).await?;
        self.remove_targets(bus, rule, rule_arn, &targets).await?;
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
            let arn = self.converge_rule(t, bus, i, recorded).await?;
            rules.insert(rule_name(t.name, rule), arn);
        }
        for (key, arn) in recorded {
            if let Some(old) = key.strip_prefix("rule.")
                && !rules.contains_key(old)
            {
                self.delete_rule(bus, old, arn).await?;
            }
        }
        Ok(outcome(bus, &bus_arn, rules, archive))
    }
}

impl EventBridgeProvider {
    /// The bus, the rules on it that are this component's with their targets, and the archive
    /// `archive` (when given), as the spec; `None` when the bus does not exist.
    async fn survey(
        &self,
        name: &str,
        address: &str,
        bus: &str,
        archive: Option<&str>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observation<EventBridgeSpec>>, ProviderError> {
        let Some(bus_arn) = self.bus_arn(bus).await? else {
            return Ok(None);
        };
        // On the account's default bus, only the rules named after this component.
        let prefix = (bus == DEFAULT_BUS).then(|| rule_prefix(name));
        let mut rules = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .events
                .list_rules()
                .event_bus_name(bus)
                .set_name_prefix(prefix.clone())
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the rules of event bus {bus}"), e))?;
            rules.extend(page.rules().iter().cloned());
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        let mut seen = Vec::new();
        for rule in rules {
            let aws_name = rule.name().unwrap_or_default().to_string();
            // Rules an AWS service manages on the bus are not the component's.
            if rule.managed_by().is_some()
                || (bus == DEFAULT_BUS
                    && !ids.contains_key(&format!("rule.{aws_name}"))
                    && spec_rule_name(name, address, &rule).is_none())
            {
                continue;
            }
            let targets = self.targets(bus, &aws_name).await?;
            // The rule EventBridge adds for an archive (`Events-Archive-BUS`, delivering to the
            // archive) is EventBridge's, also where it carries no ManagedBy (LocalStack).
            if aws_name.starts_with("Events-Archive-")
                && !targets.is_empty()
                && targets.iter().all(|t| t.arn().contains(":archive/"))
            {
                continue;
            }
            seen.push((rule, targets));
        }
        let archive = match archive {
            Some(a) => unless_missing(
                self.events.describe_archive().archive_name(a).send().await,
                not_found,
                format!("reading archive {a}"),
            )?
            .map(|r| (a.to_string(), Some(r.retention_days().unwrap_or(0)))),
            None => ids.get("archive").map(|a| (a.clone(), None)),
        };
        Ok(Some(observe(
            name, address, bus, &bus_arn, &seen, archive, ids,
        )))
    }

    /// Every target of rule `rule` (ListTargetsByRule, a page of up to 100).
    async fn targets(&self, bus: &str, rule: &str) -> Result<Vec<EbTarget>, ProviderError> {
        let mut out = Vec::new();
        let mut next = None;
        loop {
            let page = unless_missing(
                self.events
                    .list_targets_by_rule()
                    .rule(rule)
                    .event_bus_name(bus)
                    .set_next_token(next)
                    .send()
                    .await,
                not_found,
                format!("listing the targets of rule {rule}"),
            )?;
            let Some(page) = page else {
                return Ok(out);
            };
            out.extend(page.targets().iter().cloned());
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(out);
            }
        }
    }
}

/// What the names of this component's rules start with ([`rule_name`], also when shortened).
fn rule_prefix(name: &str) -> String {
    let full = format!("{name}-");
    let keep = RULE_NAME_LIMIT - 9;
    if full.len() <= keep {
        full
    } else {
        full[..keep].trim_end_matches(['-', '.', '_']).to_string()
    }
}

/// The spec's name of a rule panka made for component `name`: the one panka's default
/// description gives, else the AWS name without the component's prefix (a name shortened with
/// a hash and described otherwise reads as its shortened remainder); `None` when it is not a
/// rule of this component.
fn spec_rule_name(name: &str, address: &str, rule: &Rule) -> Option<String> {
    let aws = rule.name()?;
    let named = |candidate: &str| {
        let probe = EventRule {
            name: candidate.to_string(),
            description: None,
            event_pattern: None,
            schedule: None,
            enabled: true,
            targets: Vec::new(),
            input: Default::default(),
        };
        rule_name(name, &probe) == aws
    };
    // panka's own description names the rule; it settles a name shortened with a hash, whose
    // remainder would pass for a name of its own.
    if let Some(described) = rule
        .description()
        .and_then(|d| d.strip_prefix(&format!("panka: {address} ")))
        && named(described)
    {
        return Some(described.to_string());
    }
    aws.strip_prefix(&format!("{name}-"))
        .filter(|rest| named(rest))
        .map(str::to_string)
}

/// The bus, its rules and archive as EventBridge reports them, in the form of the spec: the
/// inverse of [`rule_request`], [`target_request`], [`bus_name`] and the archive's request.
/// A target is the ARN it delivers to, in the reference's place (the engine puts the
/// reference back when it is the ARN that component has).
fn observe(
    name: &str,
    address: &str,
    bus: &str,
    bus_arn: &str,
    rules: &[(Rule, Vec<EbTarget>)],
    archive: Option<(String, Option<i32>)>,
    ids: &BTreeMap<String, String>,
) -> Observation<EventBridgeSpec> {
    let mut found = BTreeMap::new();
    let mut observed = Vec::new();
    for (rule, targets) in rules {
        let aws_name = rule.name().unwrap_or_default().to_string();
        let spec_name = spec_rule_name(name, address, rule);
        if spec_name.is_some() || ids.contains_key(&format!("rule.{aws_name}")) {
            found.insert(aws_name.clone(), rule.arn().unwrap_or_default().to_string());
        }
        let rule_name = spec_name.unwrap_or(aws_name);
        // The spec has one static input for every target: the first target's stands for all.
        let input = targets
            .iter()
            .find_map(|t| t.input())
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or_default();
        observed.push(EventRule {
            description: rule
                .description()
                .filter(|d| *d != default_description(address, &rule_name))
                .map(str::to_string),
            event_pattern: rule
                .event_pattern()
                .and_then(|p| serde_json::from_str(p).ok()),
            schedule: rule.schedule_expression().map(str::to_string),
            enabled: rule.state() != Some(&RuleState::Disabled),
            targets: targets
                .iter()
                .map(|t| kinds::Target {
                    component: t.arn().to_string(),
                })
                .collect(),
            input,
            name: rule_name,
        });
    }
    let spec = EventBridgeSpec {
        custom_bus: bus != DEFAULT_BUS,
        archive_retention_days: archive
            .as_ref()
            .and_then(|(_, days)| *days)
            .map(|d| u32::try_from(d).unwrap_or_default()),
        rules: observed,
        depends_on: Vec::new(),
    };
    let mut unobserved = vec!["dependsOn"];
    if archive.as_ref().is_some_and(|(_, days)| days.is_none()) {
        // Not asked (a health check): its retention stands as recorded.
        unobserved.push("archiveRetentionDays");
    }
    let outcome = outcome(bus, bus_arn, found, archive.map(|(a, _)| a));
    Observation::new(outcome, spec).unobserved(&unobserved)
}

impl KindProvider for EventBridgeProvider {
    type Spec = EventBridgeSpec;
    const KIND: &'static str = "EventBridge";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    async fn create(&self, t: &Target<'_, EventBridgeSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    /// DescribeEventBus, ListRules (one call a page), one ListTargetsByRule per rule and
    /// DescribeArchive: 3 + N calls, the bus and archive names taken from the state.
    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<EventBridgeSpec>>, ProviderError> {
        let Some(bus) = id.ids.get("bus") else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} has no recorded event bus", id.address),
            ));
        };
        let archive = id
            .ids
            .get("archive")
            .cloned()
            .unwrap_or_else(|| archive_name(id.name));
        self.survey(id.name, id.address, bus, Some(&archive), id.ids)
            .await
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
        for (key, arn) in ids {
            if let Some(rule) = key.strip_prefix("rule.") {
                self.delete_rule(bus, rule, arn).await?;
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
        let bus = ids
            .get("bus")
            .map_or_else(|| bus_name(t.name, &t.spec), String::as_str);
        let Some(observed) = self.survey(t.name, t.address, bus, None, ids).await? else {
            return Ok(None);
        };
        let enabled = observed.spec.rules.iter().filter(|r| r.enabled).count();
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
        let bus = bus_name(t.name, &t.spec);
        let Some(mut found) = self
            .survey(t.name, t.address, bus, None, &BTreeMap::new())
            .await?
        else {
            return Ok(None);
        };
        let ours: BTreeSet<String> = t
            .spec
            .rules
            .iter()
            .map(|r| format!("rule.{}", rule_name(t.name, r)))
            .collect();
        found
            .outcome
            .physical_ids
            .retain(|k, _| !k.starts_with("rule.") || ours.contains(k));
        // A custom bus is this component's by its tags; on the default bus, each rule by its own.
        if bus == DEFAULT_BUS {
            for (key, arn) in &found.outcome.physical_ids {
                if let Some(rule) = key.strip_prefix("rule.") {
                    self.check_tags(arn, &format!("rule {rule}"), t).await?;
                }
            }
        } else if let Some(arn) = found.outcome.outputs.get("busArn") {
            self.check_tags(arn, &format!("event bus {bus}"), t).await?;
        }
        Ok(Some(found.outcome))
    }
}

#[cfg(test)]
mod tests;
