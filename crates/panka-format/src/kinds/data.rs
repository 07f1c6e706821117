//! Kinds that hold data: relational and document databases, key-value tables, caches, buckets,
//! file systems, volumes and Kafka clusters. All are stateful: panka never deletes or replaces
//! them without an explicit flag.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;
use super::compute::StringMap;

// ---------------------------------------------------------------------------------------- RDS

/// An Amazon RDS database instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsSpec {
    /// Engine and version. Changing the engine type forces replacement.
    pub engine: RdsEngine,
    /// Instance class and storage.
    pub instance: RdsInstance,
    /// Initial database and master user. The password is generated and kept by Secrets Manager.
    pub database: RdsDatabase,
    /// Availability settings.
    #[serde(default)]
    pub availability: RdsAvailability,
    /// Storage encryption. Changing it forces replacement.
    #[serde(default)]
    pub encryption: AtRestEncryption,
    /// Automated backups.
    #[serde(default)]
    pub backup: RdsBackup,
    /// Maintenance window and minor upgrades.
    #[serde(default)]
    pub maintenance: Maintenance,
    /// Deletion protection and final snapshot.
    #[serde(default)]
    pub deletion: Deletion,
    /// Parameter group settings (a parameter group is created when any are given).
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub parameters: StringMap,
    /// Performance Insights.
    #[serde(default)]
    pub performance_insights: bool,
    /// Seconds between Enhanced Monitoring samples (0 turns it off; 1, 5, 10, 15, 30 or 60).
    #[serde(default)]
    pub monitoring_interval_seconds: u32,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// Database engines panka deploys on RDS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RdsEngineType {
    Postgres,
    Mysql,
    Mariadb,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsEngine {
    /// Engine.
    #[serde(rename = "type")]
    pub engine_type: RdsEngineType,
    /// Engine version: `16.4`, `8.0.39`, or a major version such as `16`.
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsInstance {
    /// Instance class such as `db.t4g.micro` or `db.r6g.large`.
    pub class: String,
    /// Storage.
    #[serde(default)]
    pub storage: RdsStorage,
}

/// RDS storage types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RdsStorageType {
    Gp2,
    #[default]
    Gp3,
    Io1,
    Io2,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsStorage {
    /// Allocated storage in GiB (20-65536).
    #[serde(default = "default_rds_storage", rename = "allocatedGB")]
    #[schemars(range(min = 20, max = 65536))]
    pub allocated_gb: u32,
    /// Upper bound for storage autoscaling in GiB; absent turns autoscaling off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "maxAllocatedGB"
    )]
    pub max_allocated_gb: Option<u32>,
    /// Storage type.
    #[serde(default, rename = "type")]
    pub storage_type: RdsStorageType,
    /// Provisioned IOPS (io1, io2, and gp3 over 400 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Throughput in MiB/s (gp3 over 400 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<u32>,
}

impl Default for RdsStorage {
    fn default() -> Self {
        RdsStorage {
            allocated_gb: default_rds_storage(),
            max_allocated_gb: None,
            storage_type: RdsStorageType::Gp3,
            iops: None,
            throughput: None,
        }
    }
}

fn default_rds_storage() -> u32 {
    20
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsDatabase {
    /// Name of the initial database (letters, digits, underscores; starts with a letter).
    pub name: String,
    /// Master user name. Changing it forces replacement.
    pub username: String,
    /// Port; the engine's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1150, max = 65535))]
    pub port: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsAvailability {
    /// A standby in a second Availability Zone.
    #[serde(default, rename = "multiAZ")]
    pub multi_az: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RdsBackup {
    /// Automated daily backups.
    #[serde(default)]
    pub automated: AutomatedBackup,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutomatedBackup {
    /// Days to keep automated backups (0-35; 0 turns them off).
    #[serde(default = "default_backup_days")]
    #[schemars(range(min = 0, max = 35))]
    pub retention_days: u32,
    /// Daily backup window in UTC, `hh:mm-hh:mm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

impl Default for AutomatedBackup {
    fn default() -> Self {
        AutomatedBackup {
            retention_days: default_backup_days(),
            window: None,
        }
    }
}

fn default_backup_days() -> u32 {
    7
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Maintenance {
    /// Weekly maintenance window in UTC, `ddd:hh:mm-ddd:hh:mm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Apply minor engine upgrades automatically during the window.
    #[serde(default = "yes")]
    pub auto_minor_version_upgrade: bool,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            window: None,
            auto_minor_version_upgrade: true,
        }
    }
}

// ----------------------------------------------------------------------------------- DynamoDB

/// A DynamoDB table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DynamoDbSpec {
    /// Explicit table name; derived from the address when absent. Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// Partition key. Changing it forces replacement.
    pub partition_key: KeyAttribute,
    /// Sort key. Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeyAttribute>,
    /// Capacity mode.
    #[serde(default)]
    pub billing: DynamoDbBilling,
    /// Global secondary indexes, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_secondary_indexes: Vec<SecondaryIndex>,
    /// Local secondary indexes. Changing them forces replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_secondary_indexes: Vec<SecondaryIndex>,
    /// Attribute holding an expiry epoch; absent turns TTL off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<String>,
    /// DynamoDB Streams view type; absent turns the stream off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamViewType>,
    /// Point-in-time recovery (continuous backups for 35 days).
    #[serde(default = "yes")]
    pub point_in_time_recovery: bool,
    /// Customer-managed KMS key; AWS-owned key when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// AWS-side deletion protection.
    #[serde(default)]
    pub deletion_protection: bool,
    /// Table class.
    #[serde(default)]
    pub table_class: TableClass,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Attribute type: `S` (string), `N` (number) or `B` (binary).
    #[serde(rename = "type")]
    pub attribute_type: AttributeType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AttributeType {
    S,
    N,
    B,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    #[default]
    PayPerRequest,
    Provisioned,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DynamoDbBilling {
    /// `PAY_PER_REQUEST` (on demand) or `PROVISIONED`.
    #[serde(default)]
    pub mode: BillingMode,
    /// Read capacity units (PROVISIONED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_capacity: Option<u32>,
    /// Write capacity units (PROVISIONED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_capacity: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecondaryIndex {
    /// Index name.
    pub name: String,
    /// Partition key (for a local index, the table's own).
    pub partition_key: KeyAttribute,
    /// Sort key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeyAttribute>,
    /// Attributes copied into the index.
    #[serde(default)]
    pub projection: Projection,
    /// Extra attributes for an `INCLUDE` projection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub non_key_attributes: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Projection {
    #[default]
    All,
    KeysOnly,
    Include,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TableClass {
    #[default]
    Standard,
    StandardInfrequentAccess,
}

// --------------------------------------------------------------------------------- DocumentDB

/// An Amazon DocumentDB (MongoDB-compatible) cluster with its instances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentDbSpec {
    /// Engine version such as `5.0.0`.
    pub engine_version: String,
    /// Instance class such as `db.t4g.medium`.
    pub instance_class: String,
    /// Number of instances (1-16); the first is the writer.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 16))]
    pub instances: u32,
    /// Master user name; the password is kept by Secrets Manager. Changing it forces replacement.
    pub master_username: String,
    /// Port.
    #[serde(default = "default_docdb_port")]
    #[schemars(range(min = 1150, max = 65535))]
    pub port: u32,
    /// Storage encryption. Changing it forces replacement.
    #[serde(default)]
    pub encryption: AtRestEncryption,
    /// Days to keep automated backups (1-35).
    #[serde(default = "default_backup_days")]
    #[schemars(range(min = 1, max = 35))]
    pub backup_retention_days: u32,
    /// Maintenance window.
    #[serde(default)]
    pub maintenance: Maintenance,
    /// Deletion protection and final snapshot.
    #[serde(default)]
    pub deletion: Deletion,
    /// Cluster parameter group settings.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub parameters: StringMap,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn one() -> u32 {
    1
}
fn default_docdb_port() -> u32 {
    27017
}

// ------------------------------------------------------------------------------- ElastiCache

/// An ElastiCache Redis (or Valkey-compatible) replication group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ElastiCacheRedisSpec {
    /// Node type such as `cache.t4g.micro`.
    pub node_type: String,
    /// Engine version, `7.1` or a major version such as `7`.
    pub engine_version: String,
    /// Read replicas per shard (0-5).
    #[serde(default)]
    #[schemars(range(min = 0, max = 5))]
    pub replicas: u32,
    /// Shards (1 = cluster mode disabled; more enables cluster mode).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 500))]
    pub shards: u32,
    /// Encryption at rest (forces replacement) and in transit.
    #[serde(default)]
    pub encryption: CacheEncryption,
    /// Automatic failover to a replica (needs at least one replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_failover: Option<bool>,
    /// Spread nodes across Availability Zones (needs automatic failover).
    #[serde(default, rename = "multiAZ")]
    pub multi_az: bool,
    /// Port.
    #[serde(default = "default_redis_port")]
    #[schemars(range(min = 1024, max = 65535))]
    pub port: u32,
    /// Days to keep daily snapshots (0-35; 0 turns them off).
    #[serde(default)]
    #[schemars(range(min = 0, max = 35))]
    pub snapshot_retention_days: u32,
    /// Maintenance window.
    #[serde(default)]
    pub maintenance: Maintenance,
    /// Parameter group settings.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub parameters: StringMap,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn default_redis_port() -> u32 {
    6379
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheEncryption {
    /// Encrypt data at rest. Changing it forces replacement.
    #[serde(default = "yes")]
    pub at_rest: bool,
    /// TLS between clients and nodes.
    #[serde(default = "yes")]
    pub in_transit: bool,
    /// KMS key for encryption at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Default for CacheEncryption {
    fn default() -> Self {
        CacheEncryption {
            at_rest: true,
            in_transit: true,
            kms_key_id: None,
        }
    }
}

/// An ElastiCache Memcached cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ElastiCacheMemcachedSpec {
    /// Node type such as `cache.t4g.micro`.
    pub node_type: String,
    /// Engine version such as `1.6.22`.
    pub engine_version: String,
    /// Number of nodes (1-40).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 40))]
    pub nodes: u32,
    /// Spread nodes across Availability Zones.
    #[serde(default, rename = "crossAZ")]
    pub cross_az: bool,
    /// Port.
    #[serde(default = "default_memcached_port")]
    #[schemars(range(min = 1024, max = 65535))]
    pub port: u32,
    /// TLS between clients and nodes. Changing it forces replacement.
    #[serde(default)]
    pub in_transit_encryption: bool,
    /// Maintenance window.
    #[serde(default)]
    pub maintenance: Maintenance,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn default_memcached_port() -> u32 {
    11211
}

// ------------------------------------------------------------------------------------------ S3

/// An S3 bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Spec {
    /// Explicit bucket name (3-63 characters, lowercase); derived from the address when absent.
    /// Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// Keep every version of every object.
    #[serde(default)]
    pub versioning: bool,
    /// Default server-side encryption.
    #[serde(default)]
    pub encryption: S3Encryption,
    /// `blocked` turns on all four public access blocks; `allowed` turns them off.
    #[serde(default)]
    pub public_access: PublicAccess,
    /// Lifecycle rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle: Vec<LifecycleRule>,
    /// CORS rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors: Vec<CorsRule>,
    /// Empty the bucket before deleting it (objects are lost).
    #[serde(default)]
    pub force_destroy: bool,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Encryption {
    /// `AES256` (S3-managed keys) or `aws:kms`.
    #[serde(default, rename = "type")]
    pub encryption_type: S3EncryptionType,
    /// KMS key for `aws:kms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Use an S3 Bucket Key to cut KMS requests.
    #[serde(default = "yes")]
    pub bucket_key: bool,
}

impl Default for S3Encryption {
    fn default() -> Self {
        S3Encryption {
            encryption_type: S3EncryptionType::Aes256,
            kms_key_id: None,
            bucket_key: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum S3EncryptionType {
    #[default]
    #[serde(rename = "AES256")]
    Aes256,
    #[serde(rename = "aws:kms")]
    Kms,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PublicAccess {
    #[default]
    Blocked,
    Allowed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LifecycleRule {
    /// Rule id; derived from the prefix when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Key prefix the rule applies to; the whole bucket when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Delete current objects this many days after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub expire_days: Option<u32>,
    /// Delete noncurrent versions this many days after they become noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub noncurrent_expire_days: Option<u32>,
    /// Move objects to another storage class.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    /// Abort incomplete multipart uploads after this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub abort_incomplete_multipart_days: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Transition {
    /// Days after creation.
    pub days: u32,
    /// Target storage class.
    pub storage_class: StorageClass,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    GlacierIr,
    Glacier,
    DeepArchive,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CorsRule {
    /// Origins allowed (`https://example.com`, `*`).
    #[schemars(length(min = 1))]
    pub allowed_origins: Vec<String>,
    /// Methods allowed: GET, PUT, POST, DELETE, HEAD.
    #[schemars(length(min = 1))]
    pub allowed_methods: Vec<String>,
    /// Request headers allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// Response headers exposed to the browser.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// Seconds a preflight answer may be cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

// ----------------------------------------------------------------------------------------- EFS

/// An EFS file system with mount targets in the stack's private subnets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EfsSpec {
    /// Performance mode. Changing it forces replacement.
    #[serde(default)]
    pub performance_mode: EfsPerformanceMode,
    /// Throughput mode.
    #[serde(default)]
    pub throughput_mode: EfsThroughputMode,
    /// MiB/s for `provisioned` throughput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput_mibps: Option<u32>,
    /// Encryption at rest. Changing it forces replacement.
    #[serde(default)]
    pub encryption: AtRestEncryption,
    /// Days without access before files move to Infrequent Access (1, 7, 14, 30, 60, 90, 180, 270, 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_to_ia_days: Option<u32>,
    /// AWS Backup's automatic daily backups.
    #[serde(default = "yes")]
    pub backup: bool,
    /// Access points, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_points: Vec<AccessPoint>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EfsPerformanceMode {
    #[default]
    GeneralPurpose,
    MaxIO,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EfsThroughputMode {
    Bursting,
    Provisioned,
    #[default]
    Elastic,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessPoint {
    /// Access point name.
    pub name: String,
    /// Root directory exposed, created if missing.
    pub path: String,
    /// POSIX user id applied to all access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// POSIX group id applied to all access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Octal permissions of a created root directory, such as `0755`.
    #[serde(default = "default_permissions")]
    pub permissions: String,
}

fn default_permissions() -> String {
    "0755".into()
}

// ----------------------------------------------------------------------------------------- EBS

/// An EBS volume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EbsSpec {
    /// Size in GiB (1-65536 depending on type). Can grow in place, never shrink.
    #[serde(rename = "sizeGB")]
    #[schemars(range(min = 1, max = 65536))]
    pub size_gb: u32,
    /// Volume type.
    #[serde(default, rename = "type")]
    pub volume_type: EbsVolumeType,
    /// Provisioned IOPS (gp3, io1, io2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Throughput in MiB/s (gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<u32>,
    /// Availability Zone; the first of the region when absent. Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Encryption. Changing it forces replacement.
    #[serde(default)]
    pub encryption: AtRestEncryption,
    /// Snapshot to create from. Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EbsVolumeType {
    Gp2,
    #[default]
    Gp3,
    Io1,
    Io2,
    St1,
    Sc1,
}

// ----------------------------------------------------------------------------------------- MSK

/// An Amazon MSK (managed Kafka) provisioned cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MskSpec {
    /// Kafka version such as `3.6.0`.
    pub kafka_version: String,
    /// Broker instance type such as `kafka.m7g.large` or `kafka.t3.small`.
    pub instance_type: String,
    /// Number of brokers; a multiple of the number of private subnets.
    #[schemars(range(min = 1, max = 90))]
    pub broker_nodes: u32,
    /// EBS storage per broker in GiB (1-16384).
    #[serde(default = "default_msk_storage", rename = "storageGB")]
    #[schemars(range(min = 1, max = 16384))]
    pub storage_gb: u32,
    /// Encryption.
    #[serde(default)]
    pub encryption: MskEncryption,
    /// Client authentication methods.
    #[serde(default)]
    pub authentication: MskAuthentication,
    /// Monitoring level.
    #[serde(default)]
    pub enhanced_monitoring: MskMonitoring,
    /// Broker configuration properties.
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub configuration: StringMap,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn default_msk_storage() -> u32 {
    100
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MskEncryption {
    /// Client-broker traffic: `TLS`, `TLS_PLAINTEXT` or `PLAINTEXT`.
    #[serde(default)]
    pub in_transit: MskClientBroker,
    /// KMS key for data at rest (AWS-managed when absent). Changing it forces replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Default for MskEncryption {
    fn default() -> Self {
        MskEncryption {
            in_transit: MskClientBroker::Tls,
            kms_key_id: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MskClientBroker {
    #[default]
    Tls,
    TlsPlaintext,
    Plaintext,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MskAuthentication {
    /// IAM access control.
    #[serde(default = "yes")]
    pub iam: bool,
    /// SASL/SCRAM with credentials in Secrets Manager.
    #[serde(default)]
    pub scram: bool,
    /// Unauthenticated access.
    #[serde(default)]
    pub unauthenticated: bool,
}

impl Default for MskAuthentication {
    fn default() -> Self {
        MskAuthentication {
            iam: true,
            scram: false,
            unauthenticated: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MskMonitoring {
    #[default]
    Default,
    PerBroker,
    PerTopicPerBroker,
    PerTopicPerPartition,
}
