//! RDS database instances: a DB subnet group in the stack's private subnets, a parameter group
//! when `parameters` are given, a security group, and the instance with its master password
//! generated and kept by Secrets Manager (`ManageMasterUserPassword`), encryption, backups,
//! Multi-AZ, deletion protection and a final snapshot unless disabled.
//!
//! Outputs: `endpoint`, `port`, `arn`, `masterSecretArn`, `databaseName`, `securityGroupId`
//! (each only when RDS reports it). Engine type, encryption, database name and user force
//! replacement (see `Kind::info`); other fields are modified in place, immediately.
//!
//! A read is one DescribeDBInstances, plus DescribeDBParameters (user-set parameters only)
//! when the instance uses a parameter group of its own; [`observe`] maps the answers back to
//! the spec.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::client::Waiters;
use aws_sdk_rds::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder;
use aws_sdk_rds::types::{ApplyMethod, DbInstance, Parameter, PendingModifiedValues, Tag};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{
    AtRestEncryption, AutomatedBackup, Deletion, Maintenance, RdsAvailability, RdsBackup,
    RdsDatabase, RdsEngine, RdsEngineType, RdsInstance, RdsSpec, RdsStorage, RdsStorageType,
    StringMap,
};

use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// RDS documents up to about 40 minutes for a Multi-AZ instance to become available; a minor
/// modification or a deletion takes less.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long after ModifyDBInstance the first look at the instance comes.
#[cfg(not(test))]
const MODIFY_SETTLE_DELAY: Duration = Duration::from_secs(30);
#[cfg(test)]
const MODIFY_SETTLE_DELAY: Duration = Duration::from_millis(1);
const DELETED_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// gp3 storage of MariaDB, MySQL and PostgreSQL comes with a baseline of 3,000 IOPS and
/// 125 MiB/s under 400 GiB, and 12,000 IOPS and 500 MiB/s from 400 GiB, which RDS reports as
/// the instance's `Iops` and `StorageThroughput` when none were provisioned.
/// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#gp3-storage
const GP3_BASELINE_FROM_GB: u32 = 400;
const GP3_BASELINE_SMALL: (u32, u32) = (3_000, 125);
const GP3_BASELINE_LARGE: (u32, u32) = (12_000, 500);

/// The fields of an RDS spec that DescribeDBInstances does not report.
const RDS_UNOBSERVED: &[&str] = &["dependsOn", "deletion.finalSnapshot"];

/// The RDS provider.
#[derive(Clone, Debug)]
pub struct RdsProvider {
    rds: Client,
    ec2: aws_sdk_ec2::Client,
}

/// Creates or updates the DB subnet group `name` over `subnets`. RDS and DocumentDB share DB
/// subnet groups: both providers make theirs here.
pub(crate) async fn ensure_subnet_group(
    rds: &Client,
    name: &str,
    subnets: &[String],
    t: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let created = rds
        .create_db_subnet_group()
        .db_subnet_group_name(name)
        .db_subnet_group_description(format!("panka: subnets of {name}"))
        .set_subnet_ids(Some(subnets.to_vec()))
        .set_tags(Some(tags(t)))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_subnet_group_already_exists_fault()) =>
        {
            rds.modify_db_subnet_group()
                .db_subnet_group_name(name)
                .set_subnet_ids(Some(subnets.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(format!("updating DB subnet group {name}"), e))?;
            Ok(())
        }
        Err(e) => Err(aws_error(format!("creating DB subnet group {name}"), e)),
    }
}

/// Deletes the DB subnet group `name`; done when it is already gone.
pub(crate) async fn delete_subnet_group(rds: &Client, name: &str) -> Result<(), ProviderError> {
    unless_gone(
        rds.delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await,
        |e| e.is_db_subnet_group_not_found_fault(),
        format!("deleting DB subnet group {name}"),
    )
}

impl RdsProvider {
    pub fn new(rds: Client, ec2: aws_sdk_ec2::Client) -> Self {
        RdsProvider { rds, ec2 }
    }
}

/// RDS's name of an engine.
fn engine_name(t: RdsEngineType) -> &'static str {
    match t {
        RdsEngineType::Postgres => "postgres",
        RdsEngineType::Mysql => "mysql",
        RdsEngineType::Mariadb => "mariadb",
    }
}

/// The engine RDS names `name` (in any case); `None` for engines panka does not deploy.
fn engine_type(name: &str) -> Option<RdsEngineType> {
    match name.to_ascii_lowercase().as_str() {
        "postgres" => Some(RdsEngineType::Postgres),
        "mysql" => Some(RdsEngineType::Mysql),
        "mariadb" => Some(RdsEngineType::Mariadb),
        _ => None,
    }
}

/// The port an engine listens on when none is given.
fn default_port(t: RdsEngineType) -> u32 {
    match t {
        RdsEngineType::Postgres => 5432,
        RdsEngineType::Mysql | RdsEngineType::Mariadb => 3306,
    }
}

/// How many leading numbers of an engine's version name its major version: PostgreSQL's
/// first (`16`), MySQL's and MariaDB's first two (`8.0`, `10.11`).
fn major_parts(t: RdsEngineType) -> usize {
    match t {
        RdsEngineType::Postgres => 1,
        RdsEngineType::Mysql | RdsEngineType::Mariadb => 2,
    }
}

fn engine(spec: &RdsSpec) -> &'static str {
    engine_name(spec.engine.engine_type)
}

/// The parameter group family: `postgres16`, `mysql8.0`, `mariadb10.11`.
fn family(spec: &RdsSpec) -> String {
    let parts: Vec<&str> = spec.engine.version.split('.').collect();
    match spec.engine.engine_type {
        RdsEngineType::Postgres => format!("postgres{}", parts[0]),
        _ => format!(
            "{}{}.{}",
            engine(spec),
            parts[0],
            parts.get(1).copied().unwrap_or("0")
        ),
    }
}

fn storage_type_name(t: RdsStorageType) -> &'static str {
    match t {
        RdsStorageType::Gp2 => "gp2",
        RdsStorageType::Gp3 => "gp3",
        RdsStorageType::Io1 => "io1",
        RdsStorageType::Io2 => "io2",
    }
}

fn storage_type(name: &str) -> Option<RdsStorageType> {
    match name.to_ascii_lowercase().as_str() {
        "gp2" => Some(RdsStorageType::Gp2),
        "gp3" => Some(RdsStorageType::Gp3),
        "io1" => Some(RdsStorageType::Io1),
        "io2" => Some(RdsStorageType::Io2),
        _ => None,
    }
}

/// The IOPS and throughput gp3 storage of `allocated_gb` has without provisioning.
fn gp3_baseline(allocated_gb: u32) -> (u32, u32) {
    if allocated_gb >= GP3_BASELINE_FROM_GB {
        GP3_BASELINE_LARGE
    } else {
        GP3_BASELINE_SMALL
    }
}

fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The spec's parameters as a parameter group takes them (applied at the next reboot).
fn parameters(spec: &RdsSpec) -> Vec<Parameter> {
    spec.parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect()
}

/// The CreateDBInstance request for `spec`: the instance `name` in the subnet group of the
/// same name, behind `sg`, with the parameter group `params` (the engine's default without).
fn create_request(
    rds: &Client,
    name: &str,
    s: &RdsSpec,
    sg: &str,
    params: Option<String>,
    t: &BTreeMap<String, String>,
) -> CreateDBInstanceFluentBuilder {
    let st = &s.instance.storage;
    rds.create_db_instance()
        .db_instance_identifier(name)
        .engine(engine(s))
        .engine_version(&s.engine.version)
        .db_instance_class(&s.instance.class)
        .allocated_storage(st.allocated_gb as i32)
        .set_max_allocated_storage(st.max_allocated_gb.map(|v| v as i32))
        .storage_type(storage_type_name(st.storage_type))
        .set_iops(st.iops.map(|v| v as i32))
        .set_storage_throughput(st.throughput.map(|v| v as i32))
        .db_name(&s.database.name)
        .master_username(&s.database.username)
        .manage_master_user_password(true)
        .set_port(s.database.port.map(|p| p as i32))
        .storage_encrypted(s.encryption.at_rest)
        .set_kms_key_id(s.encryption.kms_key_id.clone())
        .backup_retention_period(s.backup.automated.retention_days as i32)
        .set_preferred_backup_window(s.backup.automated.window.clone())
        .set_preferred_maintenance_window(s.maintenance.window.clone())
        .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
        .multi_az(s.availability.multi_az)
        .deletion_protection(s.deletion.protection)
        .enable_performance_insights(s.performance_insights)
        .publicly_accessible(false)
        .copy_tags_to_snapshot(true)
        .vpc_security_group_ids(sg)
        .db_subnet_group_name(name)
        .set_db_parameter_group_name(params)
        .set_tags(Some(tags(t)))
}

/// The ids and outputs of an instance. `sg` is the recorded security group; without one, the
/// first security group RDS reports. An output RDS does not report is absent.
fn outcome(db: &DbInstance, sg: Option<&str>) -> Outcome {
    let sg = sg.filter(|s| !s.is_empty()).or_else(|| {
        db.vpc_security_groups()
            .iter()
            .find_map(|g| g.vpc_security_group_id())
    });
    let endpoint = db.endpoint();
    let outputs: BTreeMap<String, String> = [
        (
            "endpoint",
            endpoint.and_then(|e| e.address()).map(str::to_string),
        ),
        (
            "port",
            endpoint.and_then(|e| e.port()).map(|p| p.to_string()),
        ),
        ("arn", db.db_instance_arn().map(str::to_string)),
        (
            "masterSecretArn",
            db.master_user_secret()
                .and_then(|s| s.secret_arn())
                .map(str::to_string),
        ),
        ("databaseName", db.db_name().map(str::to_string)),
        ("securityGroupId", sg.map(str::to_string)),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), v.filter(|v| !v.is_empty())?)))
    .collect();
    let physical_ids = [
        ("instance", db.db_instance_identifier()),
        ("securityGroup", sg),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_string(), v.filter(|v| !v.is_empty())?.to_string())))
    .collect();
    Outcome {
        physical_ids,
        outputs,
    }
}

/// Whether the instance is `available` with no modification pending.
fn settled(db: &DbInstance) -> bool {
    db.db_instance_status() == Some("available")
        && db
            .pending_modified_values()
            .is_none_or(|p| *p == PendingModifiedValues::builder().build())
}

/// `panka status`'s line for an instance: its state, engine, multi-AZ, and parameters set in
/// its parameter group that wait for a reboot (DescribeDBInstances reports the group's
/// `ParameterApplyStatus` as `pending-reboot` then:
/// https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBParameterGroupStatus.html).
fn health_line(db: &DbInstance) -> String {
    let pending = db
        .db_parameter_groups()
        .iter()
        .any(|g| g.parameter_apply_status() == Some("pending-reboot"));
    format!(
        "{} · {} {}{}{}",
        db.db_instance_status().unwrap_or("unknown"),
        db.engine().unwrap_or_default(),
        db.engine_version().unwrap_or_default(),
        if db.multi_az() == Some(true) {
            " · multi-AZ"
        } else {
            ""
        },
        if pending {
            " · parameters pending reboot"
        } else {
            ""
        }
    )
}

/// The parameter group of the instance's own, when it has one (not an engine's `default.*`).
fn own_parameter_group(db: &DbInstance) -> Option<&str> {
    db.db_parameter_groups()
        .iter()
        .filter_map(|g| g.db_parameter_group_name())
        .find(|n| !n.starts_with("default."))
}

fn number(v: Option<i32>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

/// The instance as RDS reports it, in the form of its spec: the inverse of [`create_request`]
/// and [`parameters`]. `user_parameters` are the parameters set in the instance's own
/// parameter group (none with an engine's default group), `sg` the recorded security group.
///
/// RDS's spellings are brought to the spec's: the engine name in lower case, the endpoint's
/// port absent when it is the engine's default, gp3's baseline IOPS and throughput absent
/// (they are what gp3 has without provisioning), and zero IOPS, throughput or maximum storage
/// absent. The windows and the KMS key ARN are reported as RDS spells them; the spellings a
/// spec may hold instead (another case, an alias) are matched in `managed_by_aws`.
fn observe(
    db: &DbInstance,
    user_parameters: &[Parameter],
    sg: Option<&str>,
) -> Result<Observation<RdsSpec>, ProviderError> {
    let id = db.db_instance_identifier().unwrap_or("(unnamed)");
    let reported = |v: Option<&str>, what: &str| {
        v.filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("RDS reported no {what} for instance {id}"),
                )
            })
    };
    let engine_type = db.engine().and_then(engine_type).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "RDS instance {id} runs engine {}, which is not one panka deploys (postgres, mysql, mariadb)",
                db.engine().unwrap_or("(none)")
            ),
        )
    })?;
    let storage = db.storage_type().and_then(storage_type).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "RDS instance {id} has storage type {}, which panka does not manage (gp2, gp3, io1, io2)",
                db.storage_type().unwrap_or("(none)")
            ),
        )
    })?;
    let allocated_gb = number(db.allocated_storage()).unwrap_or_default();
    let (base_iops, base_throughput) = gp3_baseline(allocated_gb);
    let gp3 = storage == RdsStorageType::Gp3;
    let iops = number(db.iops()).filter(|v| *v > 0 && !(gp3 && *v == base_iops));
    let throughput =
        number(db.storage_throughput()).filter(|v| *v > 0 && !(gp3 && *v == base_throughput));
    let port = db
        .endpoint()
        .and_then(|e| e.port())
        .or(db.db_instance_port())
        .and_then(|p| number(Some(p)))
        .filter(|p| *p > 0 && *p != default_port(engine_type));
    let parameters: StringMap = user_parameters
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect();
    let spec = RdsSpec {
        engine: RdsEngine {
            engine_type,
            version: reported(db.engine_version(), "engine version")?,
        },
        instance: RdsInstance {
            class: reported(db.db_instance_class(), "instance class")?,
            storage: RdsStorage {
                allocated_gb,
                max_allocated_gb: number(db.max_allocated_storage()).filter(|v| *v > 0),
                storage_type: storage,
                iops,
                throughput,
            },
        },
        database: RdsDatabase {
            name: reported(db.db_name(), "initial database name")?,
            username: reported(db.master_username(), "master user name")?,
            port,
        },
        availability: RdsAvailability {
            multi_az: db.multi_az().unwrap_or_default(),
        },
        encryption: AtRestEncryption {
            at_rest: db.storage_encrypted().unwrap_or_default(),
            kms_key_id: db
                .kms_key_id()
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        },
        backup: RdsBackup {
            automated: AutomatedBackup {
                retention_days: number(db.backup_retention_period()).unwrap_or_default(),
                window: db
                    .preferred_backup_window()
                    .filter(|w| !w.is_empty())
                    .map(str::to_string),
            },
        },
        maintenance: Maintenance {
            window: db
                .preferred_maintenance_window()
                .filter(|w| !w.is_empty())
                .map(str::to_string),
            auto_minor_version_upgrade: db.auto_minor_version_upgrade().unwrap_or_default(),
        },
        deletion: Deletion {
            protection: db.deletion_protection().unwrap_or_default(),
            // panka's own choice when deleting (RDS_UNOBSERVED): the recorded value stands.
            ..Deletion::default()
        },
        parameters,
        performance_insights: db.performance_insights_enabled().unwrap_or_default(),
        monitoring_interval_seconds: number(db.monitoring_interval()).unwrap_or_default(),
        depends_on: Vec::new(),
    };
    Ok(Observation::new(outcome(db, sg), spec).unobserved(RDS_UNOBSERVED))
}

/// Whether `recorded` names the version `live` at a dot boundary: `16` names `16.4`, `8.0`
/// names `8.0.35`, `1` does not name `16.4`.
pub(crate) fn names_version(recorded: &str, live: &str) -> bool {
    live.strip_prefix(recorded)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Whether `live` is a later minor version of `recorded`'s major version, whose first
/// `major` numbers name it: `16.3` → `16.4`, `8.0.35` → `8.0.36`; not `16.4` → `17.1`, not
/// `16.4` → `16.3`, not `8.0.39` → `8.4.3`.
pub(crate) fn later_minor(recorded: &str, live: &str, major: usize) -> bool {
    let r: Vec<&str> = recorded.split('.').collect();
    let l: Vec<&str> = live.split('.').collect();
    if r.len() <= major || l.len() <= major || r[..major] != l[..major] {
        return false;
    }
    let minor = |parts: &[&str]| -> Option<Vec<u64>> {
        parts.iter().map(|p| p.parse::<u64>().ok()).collect()
    };
    match (minor(&r[major..]), minor(&l[major..])) {
        (Some(r), Some(l)) => l > r,
        _ => false,
    }
}

/// Whether the key RDS reports (`live`, always a key ARN) may be the key `recorded` names
/// where the answer cannot tell: no key recorded (RDS then picks the AWS-managed key
/// `aws/rds`, reported by its ARN), an alias or alias ARN (resolving it needs KMS, which the
/// read does not call; the key of an instance cannot change in place anyway), or the key id
/// the ARN ends with. A recorded key ARN is compared as it is.
pub(crate) fn kms_key_not_comparable(recorded: Option<&str>, live: Option<&str>) -> bool {
    match (recorded, live) {
        (None, Some(_)) => true,
        (Some(r), Some(l)) if r != l => {
            if r.starts_with("alias/") || r.contains(":alias/") {
                true
            } else if r.starts_with("arn:") {
                false
            } else {
                l.rsplit_once(":key/").is_some_and(|(_, id)| id == r)
            }
        }
        _ => false,
    }
}

/// Whether a window RDS reports is the recorded one: assigned by RDS when none was recorded
/// (it picks one at random), or the same window in another case (RDS lowercases day names).
pub(crate) fn window_not_drift(recorded: Option<&str>, live: Option<&str>) -> bool {
    match (recorded, live) {
        (None, Some(_)) => true,
        (Some(r), Some(l)) => r != l && r.eq_ignore_ascii_case(l),
        _ => false,
    }
}

/// Whether the engine version RDS reports is the recorded one as RDS manages it: the full
/// spelling of a recorded major (or major.minor) version, or a later minor version applied by
/// automatic minor upgrades when the recorded settings turn them on.
pub(crate) fn version_not_drift(
    recorded: &str,
    live: &str,
    major: usize,
    auto_minor: bool,
) -> bool {
    recorded != live
        && (names_version(recorded, live) || (auto_minor && later_minor(recorded, live, major)))
}

impl RdsProvider {
    async fn describe(&self, id: &str) -> Result<Option<DbInstance>, ProviderError> {
        let found = unless_missing(
            self.rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await,
            |s| s.is_db_instance_not_found_fault(),
            format!("reading RDS instance {id}"),
        )?;
        Ok(found.and_then(|r| r.db_instances().first().cloned()))
    }

    async fn wait_available(&self, id: &str) -> Result<DbInstance, ProviderError> {
        self.rds
            .wait_until_db_instance_available()
            .db_instance_identifier(id)
            .wait(AVAILABLE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for RDS instance {id} to become available"),
                    e,
                )
            })?;
        self.describe(id).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("RDS instance {id} vanished while becoming available"),
            )
        })
    }

    /// Waits until a modification has taken effect: the instance `available` with no pending
    /// modified values. AWS keeps answering `available` for a moment after ModifyDBInstance
    /// (terraform-provider-aws waits with a delay for this reason): the first look comes after
    /// `delay`, and the pending values show a change not done yet.
    async fn wait_settled(&self, id: &str, delay: Duration) -> Result<DbInstance, ProviderError> {
        tokio::time::sleep(delay).await;
        let deadline = tokio::time::Instant::now() + AVAILABLE_TIMEOUT;
        loop {
            let db = self.describe(id).await?.ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::NotFound,
                    format!("RDS instance {id} vanished while being modified"),
                )
            })?;
            if settled(&db) {
                return Ok(db);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "RDS instance {id} is still {} with pending modifications after {} minutes",
                        db.db_instance_status().unwrap_or("changing"),
                        AVAILABLE_TIMEOUT.as_secs() / 60
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    }

    /// The parameter group for the spec's `parameters`, created or updated; `None` without any.
    async fn ensure_parameter_group(
        &self,
        name: &str,
        spec: &RdsSpec,
        t: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        if spec.parameters.is_empty() {
            return Ok(None);
        }
        let created = self
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(family(spec))
            .description(format!("panka: parameters of {name}"))
            .set_tags(Some(tags(t)))
            .send()
            .await;
        if let Err(e) = created
            && !e
                .as_service_error()
                .is_some_and(|s| s.is_db_parameter_group_already_exists_fault())
        {
            return Err(aws_error(format!("creating DB parameter group {name}"), e));
        }
        let params = parameters(spec);
        // RDS takes at most 20 parameters per call.
        for chunk in params.chunks(20) {
            self.rds
                .modify_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("setting parameters of DB parameter group {name}"),
                        e,
                    )
                })?;
        }
        Ok(Some(name.to_string()))
    }

    /// The parameters set in the parameter group `group` (DescribeDBParameters with source
    /// `user`, every page).
    async fn user_parameters(&self, group: &str) -> Result<Vec<Parameter>, ProviderError> {
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .rds
                .describe_db_parameters()
                .db_parameter_group_name(group)
                .source("user")
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("reading parameters of DB parameter group {group}"),
                        e,
                    )
                })?;
            found.extend(page.parameters().iter().cloned());
            match page.marker().filter(|m| !m.is_empty()) {
                Some(m) => marker = Some(m.to_string()),
                None => return Ok(found),
            }
        }
    }
}

impl KindProvider for RdsProvider {
    type Spec = RdsSpec;
    const KIND: &'static str = "RDS";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "deletion.finalSnapshot",
            tracked_by: "panka's own choice when it deletes the instance, not an RDS setting: recorded in the state",
        },
        Unobservable {
            field: "database.password",
            tracked_by: "not a spec field: RDS generates the master password and keeps it in a Secrets Manager secret it manages (ManageMasterUserPassword); panka records only the secret's ARN (output masterSecretArn)",
        },
    ];

    async fn create(&self, t: &Target<'_, RdsSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        // An instance of this name that exists already is this component's only when it carries
        // the component's tags (CreateDBInstance sets them with the instance): anybody else's
        // is refused before panka makes or changes anything around it.
        let existing = self.describe(t.name).await?;
        if let Some(db) = &existing {
            check_instance_owner(db, t)?;
        }
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (RDS)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(db) = existing {
            // Created by a run that did not finish: wait for it rather than create it again.
            let db = if db.db_instance_status() == Some("available") {
                db
            } else {
                self.wait_available(t.name).await?
            };
            return Ok(outcome(&db, Some(&sg)));
        }
        ensure_subnet_group(&self.rds, t.name, &place.subnets, t.tags).await?;
        let params = self.ensure_parameter_group(t.name, s, t.tags).await?;
        match create_request(&self.rds, t.name, s, &sg, params, t.tags)
            .send()
            .await
        {
            Ok(_) => {}
            // The SDK's retry of a create whose answer was lost: the instance is there; its
            // tags say whether it is the one this create made.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_instance_already_exists_fault()) =>
            {
                if let Some(db) = self.describe(t.name).await? {
                    check_instance_owner(&db, t)?;
                }
            }
            Err(e) => return Err(aws_error(format!("creating RDS instance {}", t.name), e)),
        }
        let db = self.wait_available(t.name).await?;
        Ok(outcome(&db, Some(&sg)))
    }

    /// One DescribeDBInstances for the recorded instance id; with a parameter group of the
    /// instance's own, DescribeDBParameters for the parameters set in it (one call per 100).
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<RdsSpec>>, ProviderError> {
        // States written before the instance id was recorded fall back on the derived name,
        // which is the instance id panka creates.
        let instance = id
            .ids
            .get("instance")
            .map(String::as_str)
            .filter(|i| !i.is_empty())
            .unwrap_or(id.name);
        let Some(db) = self.describe(instance).await? else {
            return Ok(None);
        };
        let user_parameters = match own_parameter_group(&db) {
            Some(group) => self.user_parameters(group).await?,
            None => Vec::new(),
        };
        let sg = id.ids.get("securityGroup").map(String::as_str);
        observe(&db, &user_parameters, sg).map(Some)
    }

    /// Storage grown by storage autoscaling (up to `maxAllocatedGB`), an engine version RDS
    /// spells out or upgraded within its minor versions, windows RDS assigned or lowercased, a
    /// KMS key the recorded spelling cannot be compared with, and defaults RDS reports that
    /// the recorded settings spell out (the engine's port, gp3's baseline IOPS and throughput).
    fn managed_by_aws(recorded: &RdsSpec, live: &RdsSpec) -> Vec<&'static str> {
        let mut managed = Vec::new();
        let (rs, ls) = (&recorded.instance.storage, &live.instance.storage);
        if let Some(max) = rs.max_allocated_gb
            && ls.allocated_gb > rs.allocated_gb
            && ls.allocated_gb <= max
        {
            managed.push("instance.storage.allocatedGB");
        }
        if recorded.engine.engine_type == live.engine.engine_type
            && version_not_drift(
                &recorded.engine.version,
                &live.engine.version,
                major_parts(live.engine.engine_type),
                recorded.maintenance.auto_minor_version_upgrade,
            )
        {
            managed.push("engine.version");
        }
        if window_not_drift(
            recorded.backup.automated.window.as_deref(),
            live.backup.automated.window.as_deref(),
        ) {
            managed.push("backup.automated.window");
        }
        if window_not_drift(
            recorded.maintenance.window.as_deref(),
            live.maintenance.window.as_deref(),
        ) {
            managed.push("maintenance.window");
        }
        if kms_key_not_comparable(
            recorded.encryption.kms_key_id.as_deref(),
            live.encryption.kms_key_id.as_deref(),
        ) {
            managed.push("encryption.kmsKeyId");
        }
        if live.database.port.is_none()
            && recorded.database.port == Some(default_port(live.engine.engine_type))
        {
            managed.push("database.port");
        }
        if ls.storage_type == RdsStorageType::Gp3 {
            let (iops, throughput) = gp3_baseline(ls.allocated_gb);
            if ls.iops.is_none() && rs.iops == Some(iops) {
                managed.push("instance.storage.iops");
            }
            if ls.throughput.is_none() && rs.throughput == Some(throughput) {
                managed.push("instance.storage.throughput");
            }
        }
        managed
    }

    async fn update(
        &self,
        t: &Target<'_, RdsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let current = self.describe(t.name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("RDS instance {} does not exist", t.name),
            )
        })?;
        // RDS refuses a modification while the instance is modifying, backing up or
        // rebooting: wait for `available` first.
        let current = if current.db_instance_status() == Some("available") {
            current
        } else {
            self.wait_available(t.name).await?
        };
        let params = self.ensure_parameter_group(t.name, s, t.tags).await?;
        let (request, changed) = modify_request(&self.rds, t.name, &current, s, params);
        // Whether ModifyDBInstance's answer already shows the change done (nothing pending, the
        // instance available): then there is no lag to wait out before looking.
        let mut answered_settled = false;
        if !changed.is_empty() {
            let answer = request
                .send()
                .await
                .map_err(|e| aws_error(format!("modifying RDS instance {}", t.name), e))?;
            answered_settled = answer.db_instance().is_some_and(settled);
        }
        if let Some(arn) = current.db_instance_arn() {
            self.rds
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging RDS instance {}", t.name), e))?;
        }
        let db = if changed.is_empty() {
            current
        } else {
            let delay = if answered_settled {
                Duration::ZERO
            } else {
                MODIFY_SETTLE_DELAY
            };
            self.wait_settled(t.name, delay).await?
        };
        Ok(outcome(&db, ids.get("securityGroup").map(String::as_str)))
    }

    async fn delete(
        &self,
        name: &str,
        spec: Option<RdsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if let Some(db) = self.describe(name).await? {
            if db.deletion_protection() == Some(true) {
                return Err(ProviderError::new(
                    ErrorKind::Conflict,
                    format!(
                        "RDS instance {name} has deletion protection on; set `deletion.protection: false` and apply before deleting it"
                    ),
                ));
            }
            let final_snapshot = spec.as_ref().is_none_or(|s| s.deletion.final_snapshot);
            let snapshot_id = format!("{name}-final-{}", epoch_seconds());
            let req = self
                .rds
                .delete_db_instance()
                .db_instance_identifier(name)
                .skip_final_snapshot(!final_snapshot)
                .delete_automated_backups(false);
            let req = if final_snapshot {
                req.final_db_snapshot_identifier(snapshot_id)
            } else {
                req
            };
            match req.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_db_instance_not_found_fault()) => {}
                Err(e) => return Err(aws_error(format!("deleting RDS instance {name}"), e)),
            }
            self.rds
                .wait_until_db_instance_deleted()
                .db_instance_identifier(name)
                .wait(DELETED_TIMEOUT)
                .await
                .map_err(|e| {
                    ProviderError::with_source(
                        ErrorKind::Timeout,
                        format!("waiting for RDS instance {name} to be deleted"),
                        e,
                    )
                })?;
        }
        delete_subnet_group(&self.rds, name).await?;
        // A parameter group exists only when the spec had parameters.
        unless_gone(
            self.rds
                .delete_db_parameter_group()
                .db_parameter_group_name(name)
                .send()
                .await,
            |e| e.is_db_parameter_group_not_found_fault(),
            format!("deleting DB parameter group {name}"),
        )?;
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, RdsSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|db| health_line(&db)))
    }

    async fn find(&self, t: &Target<'_, RdsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(db) = self.describe(t.name).await? else {
            return Ok(None);
        };
        check_instance_owner(&db, t)?;
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&db, Some(&sg))))
    }
}

/// ModifyDBInstance with only what differs between the instance and the spec, and the names
/// of the fields it changes (none: no call). An engine version the spec names by prefix (`16`
/// for `16.4`) or that automatic minor upgrades moved on is not sent, nor storage that storage
/// autoscaling grew within `maxAllocatedGB`, nor a window RDS spells in another case: sending
/// them would downgrade, shrink (refused) or touch what does not change.
fn modify_request(
    rds: &aws_sdk_rds::Client,
    name: &str,
    current: &DbInstance,
    s: &RdsSpec,
    params: Option<String>,
) -> (
    aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder,
    Vec<&'static str>,
) {
    let mut req = rds
        .modify_db_instance()
        .db_instance_identifier(name)
        .apply_immediately(true);
    let mut changed = Vec::new();
    let live_version = current.engine_version().unwrap_or_default();
    if s.engine.version != live_version
        && !version_not_drift(
            &s.engine.version,
            live_version,
            major_parts(s.engine.engine_type),
            s.maintenance.auto_minor_version_upgrade,
        )
    {
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        req = req
            .engine_version(&s.engine.version)
            .allow_major_version_upgrade(major(live_version) != major(&s.engine.version));
        changed.push("engine.version");
    }
    if current.db_instance_class() != Some(s.instance.class.as_str()) {
        req = req.db_instance_class(&s.instance.class);
        changed.push("instance.class");
    }
    let st = &s.instance.storage;
    let live_gb = current
        .allocated_storage()
        .and_then(|g| u32::try_from(g).ok());
    let grown = st
        .max_allocated_gb
        .zip(live_gb)
        .is_some_and(|(max, live)| live > st.allocated_gb && live <= max);
    if live_gb != Some(st.allocated_gb) && !grown {
        req = req.allocated_storage(st.allocated_gb as i32);
        changed.push("instance.storage.allocatedGB");
    }
    let live_max = current
        .max_allocated_storage()
        .and_then(|g| u32::try_from(g).ok());
    if st.max_allocated_gb.is_some() && st.max_allocated_gb != live_max {
        req = req.set_max_allocated_storage(st.max_allocated_gb.map(|v| v as i32));
        changed.push("instance.storage.maxAllocatedGB");
    }
    if st.iops.is_some() && st.iops.map(|v| v as i32) != current.iops() {
        req = req.set_iops(st.iops.map(|v| v as i32));
        changed.push("instance.storage.iops");
    }
    if st.throughput.is_some() && st.throughput.map(|v| v as i32) != current.storage_throughput() {
        req = req.set_storage_throughput(st.throughput.map(|v| v as i32));
        changed.push("instance.storage.throughput");
    }
    let retention = s.backup.automated.retention_days as i32;
    if current.backup_retention_period() != Some(retention) {
        req = req.backup_retention_period(retention);
        changed.push("backup.automated.retentionDays");
    }
    let differs = |want: &Option<String>, live: Option<&str>| {
        want.as_deref()
            .is_some_and(|w| !live.is_some_and(|l| l.eq_ignore_ascii_case(w)))
    };
    if differs(
        &s.backup.automated.window,
        current.preferred_backup_window(),
    ) {
        req = req.set_preferred_backup_window(s.backup.automated.window.clone());
        changed.push("backup.automated.window");
    }
    if differs(
        &s.maintenance.window,
        current.preferred_maintenance_window(),
    ) {
        req = req.set_preferred_maintenance_window(s.maintenance.window.clone());
        changed.push("maintenance.window");
    }
    if current.auto_minor_version_upgrade() != Some(s.maintenance.auto_minor_version_upgrade) {
        req = req.auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade);
        changed.push("maintenance.autoMinorVersionUpgrade");
    }
    if current.multi_az() != Some(s.availability.multi_az) {
        req = req.multi_az(s.availability.multi_az);
        changed.push("availability.multiAZ");
    }
    if current.deletion_protection() != Some(s.deletion.protection) {
        req = req.deletion_protection(s.deletion.protection);
        changed.push("deletion.protection");
    }
    if current.performance_insights_enabled().unwrap_or(false) != s.performance_insights {
        req = req.enable_performance_insights(s.performance_insights);
        changed.push("performanceInsights");
    }
    let live_group = current
        .db_parameter_groups()
        .first()
        .and_then(|g| g.db_parameter_group_name());
    if let Some(group) = params.filter(|g| Some(g.as_str()) != live_group) {
        req = req.db_parameter_group_name(group);
        changed.push("parameters");
    }
    (req, changed)
}

/// Refuses an instance that does not carry the component's tags (DescribeDBInstances answers
/// with each instance's TagList).
fn check_instance_owner(db: &DbInstance, t: &Target<'_, RdsSpec>) -> Result<(), ProviderError> {
    crate::errors::check_owner(
        &format!(
            "RDS instance {}",
            db.db_instance_identifier().unwrap_or(t.name)
        ),
        t.address,
        db.tag_list()
            .iter()
            .filter_map(|tag| Some((tag.key()?, tag.value()?))),
        t.tags,
    )
}

/// Seconds since the epoch: final snapshot names end with it, so the newest sorts last.
pub(crate) fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
