//! The twenty component kinds: their specs, outputs, replacement rules and naming limits.
//!
//! Each kind's spec is a typed struct (in the submodules); this module erases them into
//! [`ComponentSpec`] and describes each kind with a [`KindInfo`]: which outputs `valueFrom` may
//! use, which fields force replacement, whether it holds data, and how its AWS name is shortened.

pub mod common;
pub mod compute;
pub mod data;
pub mod edge;
pub mod messaging;

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

pub use common::*;
pub use compute::*;
pub use data::*;
pub use edge::*;
pub use messaging::*;

/// Which `infra.yaml` sections a kind takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InfraUse {
    /// No infra.yaml: the kind has no sizing or networking of its own.
    None,
    /// Fargate sizing, scaling and networking (MicroService, Worker).
    Service,
    /// Fargate sizing and networking, no scaling (CronJob).
    Task,
}

/// One output of a kind, usable as `valueFrom: {component: X, output: NAME}`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OutputInfo {
    pub name: &'static str,
    pub description: &'static str,
    /// The output is the ARN of a secret (usable in `secrets`); never the secret's value.
    pub secret_arn: bool,
    /// One output per port of the component: `name` is `BASE.PORT` and the output is
    /// `BASE.` followed by a port's `name` (`internalUrl.admin`).
    pub per_port: bool,
}

impl OutputInfo {
    /// Whether `name` is one of the outputs of a per-port family (`internalUrl.admin` of
    /// `internalUrl.PORT`).
    pub fn family_member(&self, name: &str) -> bool {
        self.per_port
            && self.name.strip_suffix("PORT").is_some_and(|base| {
                name.strip_prefix(base)
                    .is_some_and(|port| !port.is_empty() && !port.contains('.'))
            })
    }
}

/// An output (a struct literal, so that lists of outputs are promoted to `'static`).
macro_rules! out {
    ($name:literal, $description:literal) => {
        OutputInfo {
            name: $name,
            description: $description,
            secret_arn: false,
            per_port: false,
        }
    };
}

/// One output per port, named `BASE.PORT` (the port's name in place of `PORT`).
macro_rules! port_out {
    ($name:literal, $description:literal) => {
        OutputInfo {
            name: $name,
            description: $description,
            secret_arn: false,
            per_port: true,
        }
    };
}

/// An output holding a secret's ARN.
macro_rules! secret_out {
    ($name:literal, $description:literal) => {
        OutputInfo {
            name: $name,
            description: $description,
            secret_arn: true,
            per_port: false,
        }
    };
}

/// What panka knows about a kind beyond its schema.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindInfo {
    pub kind: Kind,
    /// One line on what the kind deploys.
    pub summary: &'static str,
    /// The AWS services it calls.
    pub aws: &'static str,
    pub outputs: &'static [OutputInfo],
    /// Spec fields (dotted paths) whose change forces a replacement; every other field
    /// changes in place.
    pub replace_on: &'static [&'static str],
    /// Spec fields (dotted paths) AWS takes in place but applies only at the resource's next
    /// reboot, which panka does not do on its own: the plan says so of each such change, and
    /// `panka status` reports what is pending.
    pub applies_at_reboot: &'static [&'static str],
    /// Holds data: never deleted or replaced without an explicit flag.
    pub stateful: bool,
    pub infra: InfraUse,
    /// Longest AWS name the kind's resources accept; longer derived names are shortened.
    pub name_limit: usize,
    /// The kind's AWS names must be lowercase.
    pub name_lowercase: bool,
}

macro_rules! kinds {
    ($( $variant:ident => $spec:ident ),* $(,)?) => {
        /// A component kind, as written in `kind:`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind { $($variant),* }

        impl Kind {
            /// Every kind, in documentation order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => stringify!($variant)),* }
            }

            pub fn parse(name: &str) -> Option<Kind> {
                match name { $(stringify!($variant) => Some(Kind::$variant),)* _ => None }
            }

            /// The JSON Schema of the kind's `spec`.
            pub fn spec_schema(self, generator: &mut SchemaGenerator) -> Schema {
                match self { $(Kind::$variant => $spec::json_schema(generator)),* }
            }

            /// The name of the spec type's schema definition.
            pub fn spec_type_name(self) -> &'static str {
                match self { $(Kind::$variant => stringify!($spec)),* }
            }
        }

        /// A component's spec, typed per kind.
        #[derive(Clone, Debug, PartialEq)]
        pub enum ComponentSpec { $($variant(Box<$spec>)),* }

        /// Serialized, a spec is its kind's spec type serialized (no tag: the kind is beside it).
        impl Serialize for ComponentSpec {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self { $(ComponentSpec::$variant(s) => s.serialize(serializer)),* }
            }
        }

        impl ComponentSpec {
            pub fn kind(&self) -> Kind {
                match self { $(ComponentSpec::$variant(_) => Kind::$variant),* }
            }

            /// Builds the typed spec of `kind` from JSON.
            ///
            /// # Errors
            /// The serde error with the path of the offending field.
            pub fn from_json(kind: Kind, value: serde_json::Value)
                -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
                Ok(match kind {
                    $(Kind::$variant => ComponentSpec::$variant(Box::new(serde_path_to_error::deserialize(value)?)),)*
                })
            }

            /// The spec as JSON with every default filled in: the form stored in state and diffed.
            pub fn to_json(&self) -> serde_json::Value {
                // Specs hold only strings, numbers, booleans, lists and string-keyed maps.
                serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
            }

            /// The `dependsOn` list as written.
            pub fn depends_on(&self) -> &[String] {
                match self { $(ComponentSpec::$variant(s) => &s.depends_on),* }
            }
        }
    };
}

kinds! {
    MicroService => MicroServiceSpec,
    Worker => WorkerSpec,
    CronJob => CronJobSpec,
    Lambda => LambdaSpec,
    RDS => RdsSpec,
    DynamoDB => DynamoDbSpec,
    DocumentDB => DocumentDbSpec,
    ElastiCacheRedis => ElastiCacheRedisSpec,
    ElastiCacheMemcached => ElastiCacheMemcachedSpec,
    S3 => S3Spec,
    SQS => SqsSpec,
    SNS => SnsSpec,
    EFS => EfsSpec,
    EBS => EbsSpec,
    MSK => MskSpec,
    EventBridge => EventBridgeSpec,
    ALB => AlbSpec,
    NLB => NlbSpec,
    CloudFront => CloudFrontSpec,
    APIGateway => ApiGatewaySpec,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Kind::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown kind {name}")))
    }
}

const ECS_OUTPUTS: &[OutputInfo] = &[
    out!("serviceName", "ECS service name"),
    out!("serviceArn", "ECS service ARN"),
    out!(
        "taskDefinitionArn",
        "ARN of the task definition revision deployed"
    ),
    out!("taskRoleArn", "ARN of the task's IAM role"),
    out!("securityGroupId", "ID of the tasks' security group"),
    out!("logGroupName", "CloudWatch Logs group of the containers"),
];

/// Spec fields holding free-form JSON (filter policies, event patterns, parameter maps): a
/// `component` key inside them is data, not a reference to another component.
pub const FREE_FORM_FIELDS: &[&str] = &[
    "filterPolicy",
    "eventPattern",
    "input",
    "parameters",
    "configuration",
];

impl Kind {
    /// Whether the kind's resources live in the stack's VPC subnets.
    pub fn in_vpc(self) -> bool {
        matches!(
            self,
            Kind::MicroService
                | Kind::Worker
                | Kind::CronJob
                | Kind::Lambda
                | Kind::RDS
                | Kind::DocumentDB
                | Kind::ElastiCacheRedis
                | Kind::ElastiCacheMemcached
                | Kind::EFS
                | Kind::MSK
        )
    }

    /// What panka knows about this kind.
    pub fn info(self) -> KindInfo {
        let base = KindInfo {
            kind: self,
            summary: "",
            aws: "",
            outputs: &[],
            replace_on: &[],
            applies_at_reboot: &[],
            stateful: false,
            infra: InfraUse::None,
            name_limit: 255,
            name_lowercase: false,
        };
        match self {
            Kind::MicroService => KindInfo {
                summary: "ECS Fargate service behind the stack's shared Application Load Balancer (public ports), registered in the stack's Cloud Map namespace when the stack uses service discovery",
                aws: "ECS, Elastic Load Balancing, Cloud Map, IAM, CloudWatch Logs, Application Auto Scaling, EC2 security groups",
                outputs: &[
                    out!("url", "URL of the service through the shared load balancer"),
                    out!(
                        "internalHost",
                        "Host name of the service inside the VPC (Cloud Map): `COMPONENT.SERVICE.ENVIRONMENT.STACK.internal`, one A record per running task"
                    ),
                    out!(
                        "internalUrl",
                        "`http://HOST:PORT` of the first port (HOST: `internalHost`); components that reference it are admitted by the service's security group on that port"
                    ),
                    port_out!(
                        "internalUrl.PORT",
                        "`http://HOST:PORT` of the port named PORT (`internalUrl.admin`), when the service has more than one; referencing it admits the component on that port"
                    ),
                    out!("serviceName", "ECS service name"),
                    out!("serviceArn", "ECS service ARN"),
                    out!(
                        "taskDefinitionArn",
                        "ARN of the task definition revision deployed"
                    ),
                    out!("taskRoleArn", "ARN of the task's IAM role"),
                    out!("targetGroupArn", "ARN of the target group"),
                    out!("securityGroupId", "ID of the tasks' security group"),
                    out!("logGroupName", "CloudWatch Logs group of the containers"),
                ],
                infra: InfraUse::Service,
                // Target group names are limited to 32 characters.
                name_limit: 32,
                ..base
            },
            Kind::Worker => KindInfo {
                summary: "ECS Fargate service without a load balancer (queue consumers, background work)",
                aws: "ECS, IAM, CloudWatch Logs, Application Auto Scaling, EC2 security groups",
                outputs: ECS_OUTPUTS,
                infra: InfraUse::Service,
                // IAM role names are limited to 64 characters.
                name_limit: 64,
                ..base
            },
            Kind::CronJob => KindInfo {
                summary: "Fargate task run on a schedule by EventBridge Scheduler",
                aws: "ECS, EventBridge Scheduler, IAM, CloudWatch Logs",
                outputs: &[
                    out!("scheduleArn", "ARN of the schedule"),
                    out!("taskDefinitionArn", "ARN of the task definition revision"),
                    out!("taskRoleArn", "ARN of the task's IAM role"),
                    out!("logGroupName", "CloudWatch Logs group of the containers"),
                ],
                infra: InfraUse::Task,
                name_limit: 64,
                ..base
            },
            Kind::Lambda => KindInfo {
                summary: "AWS Lambda function with its role, log group and triggers",
                aws: "Lambda, IAM, CloudWatch Logs, EventBridge, SQS event source mappings",
                outputs: &[
                    out!("functionName", "Function name"),
                    out!("arn", "Function ARN"),
                    out!("roleArn", "ARN of the execution role"),
                    out!("logGroupName", "CloudWatch Logs group"),
                ],
                name_limit: 64,
                ..base
            },
            Kind::RDS => KindInfo {
                summary: "RDS database instance with subnet group, parameter group and security group",
                aws: "RDS, Secrets Manager (managed master password), EC2 security groups",
                outputs: &[
                    out!("endpoint", "Host name of the instance"),
                    out!("port", "Port the database listens on"),
                    out!("arn", "Instance ARN"),
                    secret_out!(
                        "masterSecretArn",
                        "ARN of the Secrets Manager secret holding the master password"
                    ),
                    out!("databaseName", "Name of the initial database"),
                    out!("securityGroupId", "ID of the database's security group"),
                ],
                replace_on: &[
                    "engine.type",
                    "encryption.atRest",
                    "encryption.kmsKeyId",
                    "database.name",
                    "database.username",
                ],
                // Set in the instance's parameter group with the `pending-reboot` apply method.
                applies_at_reboot: &["parameters"],
                stateful: true,
                name_limit: 63,
                name_lowercase: true,
                ..base
            },
            Kind::DynamoDB => KindInfo {
                summary: "DynamoDB table with indexes, TTL, streams and point-in-time recovery",
                aws: "DynamoDB",
                outputs: &[
                    out!("name", "Table name"),
                    out!("arn", "Table ARN"),
                    out!(
                        "streamArn",
                        "ARN of the table's stream (empty without a stream)"
                    ),
                ],
                replace_on: &[
                    "tableName",
                    "partitionKey",
                    "sortKey",
                    "localSecondaryIndexes",
                ],
                stateful: true,
                name_limit: 255,
                ..base
            },
            Kind::DocumentDB => KindInfo {
                summary: "DocumentDB cluster and instances with a managed master password",
                aws: "DocumentDB, Secrets Manager, EC2 security groups",
                outputs: &[
                    out!("endpoint", "Cluster (writer) endpoint"),
                    out!("readerEndpoint", "Reader endpoint"),
                    out!("port", "Port"),
                    out!("arn", "Cluster ARN"),
                    secret_out!(
                        "masterSecretArn",
                        "ARN of the secret holding the master password"
                    ),
                    out!("securityGroupId", "ID of the cluster's security group"),
                ],
                replace_on: &["masterUsername", "encryption.atRest", "encryption.kmsKeyId"],
                stateful: true,
                name_limit: 63,
                name_lowercase: true,
                ..base
            },
            Kind::ElastiCacheRedis => KindInfo {
                summary: "ElastiCache Redis replication group with subnet group and security group",
                aws: "ElastiCache, EC2 security groups",
                outputs: &[
                    out!("primaryEndpoint", "Primary (or configuration) endpoint"),
                    out!("readerEndpoint", "Reader endpoint"),
                    out!("port", "Port"),
                    out!("arn", "Replication group ARN"),
                    out!("securityGroupId", "ID of the cache's security group"),
                ],
                replace_on: &["encryption.atRest", "encryption.kmsKeyId", "port"],
                stateful: true,
                // Replication group ids are limited to 40 characters.
                name_limit: 40,
                name_lowercase: true,
                ..base
            },
            Kind::ElastiCacheMemcached => KindInfo {
                summary: "ElastiCache Memcached cluster with subnet group and security group",
                aws: "ElastiCache, EC2 security groups",
                outputs: &[
                    out!(
                        "configurationEndpoint",
                        "Configuration endpoint for auto discovery"
                    ),
                    out!("port", "Port"),
                    out!("arn", "Cluster ARN"),
                    out!("securityGroupId", "ID of the cache's security group"),
                ],
                replace_on: &["port", "inTransitEncryption"],
                stateful: true,
                name_limit: 40,
                name_lowercase: true,
                ..base
            },
            Kind::S3 => KindInfo {
                summary: "S3 bucket with versioning, encryption, public access block, lifecycle and CORS",
                aws: "S3",
                outputs: &[
                    out!("name", "Bucket name"),
                    out!("arn", "Bucket ARN"),
                    out!(
                        "regionalDomainName",
                        "Regional domain name (`bucket.s3.region.amazonaws.com`)"
                    ),
                ],
                replace_on: &["bucketName"],
                stateful: true,
                name_limit: 63,
                name_lowercase: true,
                ..base
            },
            Kind::SQS => KindInfo {
                summary: "SQS queue, standard or FIFO, with an optional managed dead-letter queue",
                aws: "SQS",
                outputs: &[
                    out!("url", "Queue URL"),
                    out!("arn", "Queue ARN"),
                    out!("name", "Queue name"),
                    out!(
                        "deadLetterArn",
                        "ARN of the dead-letter queue (empty without one)"
                    ),
                ],
                replace_on: &["queueName", "fifo"],
                // 80 characters including the `.fifo` suffix and `-dlq`.
                name_limit: 71,
                ..base
            },
            Kind::SNS => KindInfo {
                summary: "SNS topic with subscriptions to components or external endpoints",
                aws: "SNS",
                outputs: &[out!("arn", "Topic ARN"), out!("name", "Topic name")],
                replace_on: &["topicName", "fifo"],
                name_limit: 251,
                ..base
            },
            Kind::EFS => KindInfo {
                summary: "EFS file system with mount targets and access points",
                aws: "EFS, EC2 security groups",
                outputs: &[
                    out!("fileSystemId", "File system ID"),
                    out!("arn", "File system ARN"),
                    out!("dnsName", "DNS name for mounting"),
                    out!("securityGroupId", "ID of the mount targets' security group"),
                ],
                replace_on: &[
                    "performanceMode",
                    "encryption.atRest",
                    "encryption.kmsKeyId",
                ],
                stateful: true,
                name_limit: 64,
                ..base
            },
            Kind::EBS => KindInfo {
                summary: "EBS volume",
                aws: "EC2",
                outputs: &[
                    out!("volumeId", "Volume ID"),
                    out!("arn", "Volume ARN"),
                    out!("availabilityZone", "Availability Zone"),
                ],
                replace_on: &[
                    "availabilityZone",
                    "encryption.atRest",
                    "encryption.kmsKeyId",
                    "snapshotId",
                ],
                stateful: true,
                name_limit: 255,
                ..base
            },
            Kind::MSK => KindInfo {
                summary: "Amazon MSK provisioned Kafka cluster",
                aws: "Kafka (MSK), EC2 security groups",
                outputs: &[
                    out!("arn", "Cluster ARN"),
                    out!("bootstrapBrokers", "Plaintext bootstrap brokers"),
                    out!("bootstrapBrokersTls", "TLS bootstrap brokers"),
                    out!("bootstrapBrokersIam", "IAM-authenticated bootstrap brokers"),
                    out!(
                        "port",
                        "Port clients connect on: that of the first enabled authentication (9098 IAM, 9096 SASL/SCRAM, 9094 TLS, 9092 plaintext)"
                    ),
                    out!("securityGroupId", "ID of the brokers' security group"),
                ],
                replace_on: &["encryption.kmsKeyId", "instanceType"],
                stateful: true,
                name_limit: 64,
                ..base
            },
            Kind::EventBridge => KindInfo {
                summary: "EventBridge bus (or the default bus) with rules targeting components",
                aws: "EventBridge, IAM",
                outputs: &[
                    out!("busName", "Event bus name"),
                    out!("busArn", "Event bus ARN"),
                ],
                replace_on: &["customBus"],
                name_limit: 64,
                ..base
            },
            Kind::ALB => KindInfo {
                summary: "Dedicated Application Load Balancer with listeners",
                aws: "Elastic Load Balancing, EC2 security groups",
                outputs: &[
                    out!("dnsName", "DNS name"),
                    out!("arn", "Load balancer ARN"),
                    out!("zoneId", "Route 53 hosted zone ID for alias records"),
                    out!(
                        "securityGroupId",
                        "ID of the load balancer's security group"
                    ),
                ],
                replace_on: &["scheme"],
                name_limit: 32,
                ..base
            },
            Kind::NLB => KindInfo {
                summary: "Network Load Balancer forwarding to a component",
                aws: "Elastic Load Balancing",
                outputs: &[
                    out!("dnsName", "DNS name"),
                    out!("arn", "Load balancer ARN"),
                    out!("zoneId", "Route 53 hosted zone ID"),
                ],
                replace_on: &["scheme"],
                name_limit: 32,
                ..base
            },
            Kind::CloudFront => KindInfo {
                summary: "CloudFront distribution in front of components or external origins",
                aws: "CloudFront",
                outputs: &[
                    out!(
                        "domainName",
                        "Distribution domain name (`d123.cloudfront.net`)"
                    ),
                    out!("distributionId", "Distribution ID"),
                    out!("arn", "Distribution ARN"),
                ],
                name_limit: 128,
                ..base
            },
            Kind::APIGateway => KindInfo {
                summary: "API Gateway HTTP API with routes to Lambda functions or MicroServices",
                aws: "API Gateway v2",
                outputs: &[
                    out!("url", "Invoke URL of the stage"),
                    out!("apiId", "API ID"),
                    out!("arn", "API ARN"),
                ],
                replace_on: &["type"],
                name_limit: 128,
                ..base
            },
        }
    }

    /// The output named `name`, when the kind has it.
    pub fn output(self, name: &str) -> Option<OutputInfo> {
        self.info()
            .outputs
            .iter()
            .copied()
            .find(|o| o.name == name || o.family_member(name))
    }

    /// The file name panka's examples use for a component of this kind (`rds.yaml`).
    pub fn file_stem(self) -> String {
        self.name().to_ascii_lowercase()
    }
}
