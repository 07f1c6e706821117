//! RDS database instances: a DB subnet group in the stack's private subnets, a parameter group
//! when `parameters` are given, a security group, and the instance with its master password
//! generated and kept by Secrets Manager (`ManageMasterUserPassword`), encryption, backups,
//! Multi-AZ, deletion protection and a final snapshot unless disabled.
//!
//! Outputs: `endpoint`, `port`, `arn`, `masterSecretArn`, `databaseName`, `securityGroupId`.
//! Engine type, encryption, database name and user force replacement (see `Kind::info`); other
//! fields are modified in place, immediately.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::client::Waiters;
use aws_sdk_rds::types::{ApplyMethod, DbInstance, Parameter, Tag};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{RdsEngineType, RdsSpec, RdsStorageType};

use crate::errors::{aws_error, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// RDS documents up to about 40 minutes for a Multi-AZ instance to become available; a minor
/// modification or a deletion takes less.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(60 * 60);

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

impl RdsProvider {
    pub fn new(rds: Client, ec2: aws_sdk_ec2::Client) -> Self {
        RdsProvider { rds, ec2 }
    }
}

fn engine(spec: &RdsSpec) -> &'static str {
    match spec.engine.engine_type {
        RdsEngineType::Postgres => "postgres",
        RdsEngineType::Mysql => "mysql",
        RdsEngineType::Mariadb => "mariadb",
    }
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

fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn outcome(db: &DbInstance, sg: &str) -> Outcome {
    let endpoint = db.endpoint();
    let mut outputs = BTreeMap::from([
        (
            "endpoint".to_string(),
            endpoint
                .and_then(|e| e.address())
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "port".to_string(),
            endpoint
                .and_then(|e| e.port())
                .map(|p| p.to_string())
                .unwrap_or_default(),
        ),
        (
            "arn".to_string(),
            db.db_instance_arn().unwrap_or_default().to_string(),
        ),
        (
            "masterSecretArn".to_string(),
            db.master_user_secret()
                .and_then(|s| s.secret_arn())
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "databaseName".to_string(),
            db.db_name().unwrap_or_default().to_string(),
        ),
    ]);
    outputs.insert("securityGroupId".to_string(), sg.to_string());
    Outcome {
        physical_ids: BTreeMap::from([
            (
                "instance".to_string(),
                db.db_instance_identifier().unwrap_or_default().to_string(),
            ),
            ("securityGroup".to_string(), sg.to_string()),
        ]),
        outputs,
    }
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
        let params: Vec<Parameter> = spec
            .parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .apply_method(ApplyMethod::PendingReboot)
                    .build()
            })
            .collect();
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
}

impl KindProvider for RdsProvider {
    type Spec = RdsSpec;
    const KIND: &'static str = "RDS";

    async fn create(&self, t: &Target<'_, RdsSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (RDS)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(db) = self.describe(t.name).await? {
            // Created by a run that did not finish: wait for it rather than create it again.
            let db = if db.db_instance_status() == Some("available") {
                db
            } else {
                self.wait_available(t.name).await?
            };
            return Ok(outcome(&db, &sg));
        }
        ensure_subnet_group(&self.rds, t.name, &place.subnets, t.tags).await?;
        let params = self.ensure_parameter_group(t.name, s, t.tags).await?;
        let st = &s.instance.storage;
        let storage_type = match st.storage_type {
            RdsStorageType::Gp2 => "gp2",
            RdsStorageType::Gp3 => "gp3",
            RdsStorageType::Io1 => "io1",
            RdsStorageType::Io2 => "io2",
        };
        self.rds
            .create_db_instance()
            .db_instance_identifier(t.name)
            .engine(engine(s))
            .engine_version(&s.engine.version)
            .db_instance_class(&s.instance.class)
            .allocated_storage(st.allocated_gb as i32)
            .set_max_allocated_storage(st.max_allocated_gb.map(|v| v as i32))
            .storage_type(storage_type)
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
            .vpc_security_group_ids(&sg)
            .db_subnet_group_name(t.name)
            .set_db_parameter_group_name(params)
            .set_tags(Some(tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("creating RDS instance {}", t.name), e))?;
        let db = self.wait_available(t.name).await?;
        Ok(outcome(&db, &sg))
    }

    async fn read(
        &self,
        t: &Target<'_, RdsSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(db) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(c) = db.db_instance_class() {
            spec["instance"]["class"] = c.into();
        }
        if let Some(v) = db.engine_version() {
            spec["engine"]["version"] = v.into();
        }
        if let Some(v) = db.allocated_storage() {
            spec["instance"]["storage"]["allocatedGB"] = v.into();
        }
        if let Some(v) = db.multi_az() {
            spec["availability"]["multiAZ"] = v.into();
        }
        if let Some(v) = db.backup_retention_period() {
            spec["backup"]["automated"]["retentionDays"] = v.into();
        }
        if let Some(v) = db.deletion_protection() {
            spec["deletion"]["protection"] = v.into();
        }
        if let Some(v) = db.storage_encrypted() {
            spec["encryption"]["atRest"] = v.into();
        }
        Ok(Some(Observed {
            outcome: outcome(&db, &sg),
            spec,
        }))
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
        let params = self.ensure_parameter_group(t.name, s, t.tags).await?;
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        let major_upgrade = current
            .engine_version()
            .is_some_and(|v| major(v) != major(&s.engine.version));
        let st = &s.instance.storage;
        self.rds
            .modify_db_instance()
            .db_instance_identifier(t.name)
            .apply_immediately(true)
            .engine_version(&s.engine.version)
            .allow_major_version_upgrade(major_upgrade)
            .db_instance_class(&s.instance.class)
            .allocated_storage(st.allocated_gb as i32)
            .set_max_allocated_storage(st.max_allocated_gb.map(|v| v as i32))
            .set_iops(st.iops.map(|v| v as i32))
            .set_storage_throughput(st.throughput.map(|v| v as i32))
            .backup_retention_period(s.backup.automated.retention_days as i32)
            .set_preferred_backup_window(s.backup.automated.window.clone())
            .set_preferred_maintenance_window(s.maintenance.window.clone())
            .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
            .multi_az(s.availability.multi_az)
            .deletion_protection(s.deletion.protection)
            .enable_performance_insights(s.performance_insights)
            .set_db_parameter_group_name(params)
            .send()
            .await
            .map_err(|e| aws_error(format!("modifying RDS instance {}", t.name), e))?;
        if let Some(arn) = current.db_instance_arn() {
            self.rds
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging RDS instance {}", t.name), e))?;
        }
        let db = self.wait_available(t.name).await?;
        Ok(outcome(
            &db,
            ids.get("securityGroup")
                .map(String::as_str)
                .unwrap_or_default(),
        ))
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
        let _ = self
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await;
        let _ = self
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(name)
            .send()
            .await;
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
        Ok(self.describe(t.name).await?.map(|db| {
            format!(
                "{} · {} {}{}",
                db.db_instance_status().unwrap_or("unknown"),
                db.engine().unwrap_or_default(),
                db.engine_version().unwrap_or_default(),
                if db.multi_az() == Some(true) {
                    " · multi-AZ"
                } else {
                    ""
                }
            )
        }))
    }

    async fn find(&self, t: &Target<'_, RdsSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(db) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&db, &sg)))
    }
}

/// Seconds since the epoch: final snapshot names end with it, so the newest sorts last.
/// Seconds since 1970, for the names of final snapshots.
pub(crate) fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
