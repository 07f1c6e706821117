//! Messaging kinds: SQS queues, SNS topics and EventBridge buses with their rules.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;

/// An SQS queue, optionally with a managed dead-letter queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqsSpec {
    /// Explicit queue name (a FIFO queue's ends in `.fifo`, added when missing); derived from
    /// the address when absent. Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// FIFO queue (exactly-once, ordered). Changing it forces replacement.
    #[serde(default)]
    pub fifo: bool,
    /// FIFO only: deduplicate on a hash of the body.
    #[serde(default)]
    pub content_based_deduplication: bool,
    /// Seconds a received message stays invisible (0-43200).
    #[serde(default = "default_visibility")]
    #[schemars(range(min = 0, max = 43200))]
    pub visibility_timeout_seconds: u32,
    /// Days messages are kept (1-14).
    #[serde(default = "default_retention")]
    #[schemars(range(min = 1, max = 14))]
    pub retention_days: u32,
    /// Seconds new messages are delayed (0-900).
    #[serde(default)]
    #[schemars(range(min = 0, max = 900))]
    pub delay_seconds: u32,
    /// Largest message in bytes (1024-1048576; queues SQS makes since August 2025 allow
    /// 1048576 unless told otherwise).
    #[serde(default = "default_max_message")]
    #[schemars(range(min = 1024, max = 1048576))]
    pub max_message_size_bytes: u32,
    /// Long-polling wait in seconds (0-20).
    #[serde(default)]
    #[schemars(range(min = 0, max = 20))]
    pub receive_wait_time_seconds: u32,
    /// A managed dead-letter queue with a redrive policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
    /// Server-side encryption.
    #[serde(default)]
    pub encryption: SqsEncryption,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn default_visibility() -> u32 {
    30
}
fn default_retention() -> u32 {
    4
}
fn default_max_message() -> u32 {
    262144
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeadLetter {
    /// Receives before a message moves to the dead-letter queue (1-1000).
    #[schemars(range(min = 1, max = 1000))]
    pub max_receive_count: u32,
    /// Days the dead-letter queue keeps messages (1-14).
    #[serde(default = "default_dlq_retention")]
    #[schemars(range(min = 1, max = 14))]
    pub retention_days: u32,
}

fn default_dlq_retention() -> u32 {
    14
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqsEncryption {
    /// SQS-managed server-side encryption (SSE-SQS). Ignored when `kmsKeyId` is set.
    #[serde(default = "yes")]
    pub sqs_managed: bool,
    /// KMS key for SSE-KMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Default for SqsEncryption {
    fn default() -> Self {
        SqsEncryption {
            sqs_managed: true,
            kms_key_id: None,
        }
    }
}

/// An SNS topic and its subscriptions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnsSpec {
    /// Explicit topic name (a FIFO topic's ends in `.fifo`, added when missing); derived from
    /// the address when absent. Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// FIFO topic. Changing it forces replacement.
    #[serde(default)]
    pub fifo: bool,
    /// FIFO only: deduplicate on a hash of the body.
    #[serde(default)]
    pub content_based_deduplication: bool,
    /// Display name used for SMS and email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// KMS key for server-side encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Subscriptions, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// One subscription: to a component of the stack (`target`) or an external `endpoint`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subscription {
    /// Subscription name, unique in the topic.
    pub name: String,
    /// Delivery protocol.
    pub protocol: SubscriptionProtocol,
    /// An SQS or Lambda component of the stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// External endpoint: URL, email address or ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// SNS filter policy (message attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy: Option<serde_json::Value>,
    /// Deliver the raw message without the SNS envelope (SQS, HTTP).
    #[serde(default)]
    pub raw_message_delivery: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionProtocol {
    Sqs,
    Lambda,
    Https,
    Http,
    Email,
    Sms,
}

/// An EventBridge event bus (or the default bus) with rules that route events to components.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventBridgeSpec {
    /// Create a custom bus for this component; false attaches the rules to the default bus.
    #[serde(default = "yes")]
    pub custom_bus: bool,
    /// Days archived events are kept for replay; absent turns the archive off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_retention_days: Option<u32>,
    /// Rules, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<EventRule>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A rule: an event pattern or a schedule, and where matching events go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventRule {
    /// Rule name, unique in the bus.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Event pattern (EventBridge JSON syntax). Exactly one of `eventPattern`, `schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<serde_json::Value>,
    /// Schedule expression (default bus only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Turn the rule on or off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Targets: components of the stack (SQS, SNS, Lambda).
    #[schemars(length(min = 1, max = 5))]
    pub targets: Vec<Target>,
    /// Static JSON input passed to targets instead of the event.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub input: IndexMap<String, serde_json::Value>,
}
