//! Amazon DocumentDB clusters: a DB subnet group in the stack's private subnets, a cluster
//! parameter group when `parameters` are given, a security group, the cluster with its master
//! password generated and kept by Secrets Manager (`ManageMasterUserPassword`), storage
//! encryption, backups, maintenance window and deletion protection, and its instances
//! (`NAME-1` is the writer's first choice, the others read replicas).
//!
//! Outputs: `endpoint`, `readerEndpoint`, `port`, `arn`, `masterSecretArn`, `securityGroupId`
//! (each only when DocumentDB reports it).
//! The master user and the encryption force replacement; the engine version, port, backups,
//! maintenance, deletion protection, parameters, instance class and instance count change in
//! place, immediately. Fewer instances remove the highest-numbered ones.
//!
//! A read is one DescribeDBClusters and one DescribeDBInstances (the cluster's instances),
//! plus DescribeDBClusterParameters (user-set parameters only) when the cluster uses a
//! parameter group of its own; [`observe`] maps the answers back to the spec.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_docdb::Client;
use aws_sdk_docdb::client::Waiters;
use aws_sdk_docdb::operation::create_db_cluster::builders::CreateDBClusterFluentBuilder;
use aws_sdk_docdb::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder;
use aws_sdk_docdb::types::{ApplyMethod, DbCluster, DbInstance, Parameter, Tag};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{AtRestEncryption, Deletion, DocumentDbSpec, Maintenance, StringMap};
use panka_format::naming::shorten;

use crate::errors::{aws_error, poll_while, unless_gone, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};
use crate::rds::{
    delete_subnet_group, ensure_subnet_group, epoch_seconds, kms_key_not_comparable,
    version_not_drift, window_not_drift,
};

/// DocumentDB documents about 10 minutes for an instance to become available; a modification
/// or a deletion takes less. An hour leaves room for a cluster of many instances.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How often, and how many times, a cluster's own state is polled (it has no SDK waiter).
const POLL: Duration = Duration::from_secs(15);
const POLLS: usize = 240;

/// DocumentDB's major version is its first two numbers (`5.0` of `5.0.0`).
const MAJOR_PARTS: usize = 2;

/// The fields of a DocumentDB spec that DescribeDBClusters and DescribeDBInstances do not
/// report.
const DOCDB_UNOBSERVED: &[&str] = &["dependsOn", "deletion.finalSnapshot"];

/// The DocumentDB provider.
#[derive(Clone, Debug)]
pub struct DocumentDbProvider {
    docdb: Client,
    /// DB subnet groups are RDS's, shared with DocumentDB.
    rds: aws_sdk_rds::Client,
    ec2: aws_sdk_ec2::Client,
}

impl DocumentDbProvider {
    pub fn new(docdb: Client, rds: aws_sdk_rds::Client, ec2: aws_sdk_ec2::Client) -> Self {
        DocumentDbProvider { docdb, rds, ec2 }
    }
}

fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The identifier of the cluster's `n`th instance (from 1).
fn instance_id(cluster: &str, n: u32) -> String {
    format!("{}-{n}", shorten(cluster, 60))
}

/// The instance number of `id` in `cluster`, when it is one of panka's.
fn instance_number(cluster: &str, id: &str) -> Option<u32> {
    id.strip_prefix(&format!("{}-", shorten(cluster, 60)))?
        .parse()
        .ok()
}

/// The cluster parameter group family: `docdb5.0` for engine version `5.0.0`.
fn family(spec: &DocumentDbSpec) -> String {
    let mut parts = spec.engine_version.split('.');
    format!(
        "docdb{}.{}",
        parts.next().unwrap_or("5"),
        parts.next().unwrap_or("0")
    )
}

/// The spec's parameters as a cluster parameter group takes them (applied at the next reboot).
fn parameters(spec: &DocumentDbSpec) -> Vec<Parameter> {
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

/// The CreateDBCluster request for `spec`: the cluster `name` in the subnet group of the same
/// name, behind `sg`, with the cluster parameter group `params` (the engine's default without).
fn create_cluster_request(
    docdb: &Client,
    name: &str,
    s: &DocumentDbSpec,
    sg: &str,
    params: Option<String>,
    t: &BTreeMap<String, String>,
) -> CreateDBClusterFluentBuilder {
    docdb
        .create_db_cluster()
        .db_cluster_identifier(name)
        .engine("docdb")
        .engine_version(&s.engine_version)
        .master_username(&s.master_username)
        .manage_master_user_password(true)
        .port(s.port as i32)
        .storage_encrypted(s.encryption.at_rest)
        .set_kms_key_id(s.encryption.kms_key_id.clone())
        .backup_retention_period(s.backup_retention_days as i32)
        .set_preferred_maintenance_window(s.maintenance.window.clone())
        .deletion_protection(s.deletion.protection)
        .vpc_security_group_ids(sg)
        .db_subnet_group_name(name)
        .set_db_cluster_parameter_group_name(params)
        .set_tags(Some(tags(t)))
}

/// The CreateDBInstance request for the cluster's `n`th instance.
fn create_instance_request(
    docdb: &Client,
    cluster: &str,
    n: u32,
    s: &DocumentDbSpec,
    t: &BTreeMap<String, String>,
) -> CreateDBInstanceFluentBuilder {
    docdb
        .create_db_instance()
        .db_instance_identifier(instance_id(cluster, n))
        .db_cluster_identifier(cluster)
        .db_instance_class(&s.instance_class)
        .engine("docdb")
        // The first instance is the first choice for writer.
        .promotion_tier(if n == 1 { 0 } else { 1 })
        .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
        .set_preferred_maintenance_window(s.maintenance.window.clone())
        .set_tags(Some(tags(t)))
}

/// The ids and outputs of a cluster. `sg` is the recorded security group; without one, the
/// first security group DocumentDB reports. An output DocumentDB does not report is absent.
fn outcome(c: &DbCluster, sg: Option<&str>) -> Outcome {
    let sg = sg.filter(|s| !s.is_empty()).or_else(|| {
        c.vpc_security_groups()
            .iter()
            .find_map(|g| g.vpc_security_group_id())
    });
    let port = c.port().map(|p| p.to_string());
    let outputs = [
        ("endpoint", c.endpoint()),
        ("readerEndpoint", c.reader_endpoint()),
        ("port", port.as_deref()),
        ("arn", c.db_cluster_arn()),
        (
            "masterSecretArn",
            c.master_user_secret().and_then(|s| s.secret_arn()),
        ),
        ("securityGroupId", sg),
    ];
    let ids = [
        ("cluster", c.db_cluster_identifier()),
        ("securityGroup", sg),
    ];
    let present = |pairs: &[(&str, Option<&str>)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.filter(|v| !v.is_empty())?.to_string())))
            .collect()
    };
    Outcome {
        physical_ids: present(&ids),
        outputs: present(&outputs),
    }
}

fn number(v: Option<i32>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

/// The cluster as DocumentDB reports it, in the form of its spec: the inverse of
/// [`create_cluster_request`], [`create_instance_request`] and [`parameters`]. `instances`
/// are every instance of the cluster, `user_parameters` the parameters set in its own cluster
/// parameter group (none with the engine's default group), `sg` the recorded security group.
///
/// The instance class and automatic minor upgrades are instance settings: they are read from
/// panka's lowest-numbered instance (the writer's first choice), or the first instance when
/// none is panka's. A cluster without instances has neither: both are then unobserved, and
/// their recorded values stand. The window and the KMS key ARN are reported as DocumentDB
/// spells them; the spellings a spec may hold instead are matched in `managed_by_aws`.
fn observe(
    c: &DbCluster,
    instances: &[DbInstance],
    user_parameters: &[Parameter],
    sg: Option<&str>,
) -> Result<Observation<DocumentDbSpec>, ProviderError> {
    let id = c.db_cluster_identifier().unwrap_or("(unnamed)");
    let reported = |v: Option<&str>, what: &str| {
        v.filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("DocumentDB reported no {what} for cluster {id}"),
                )
            })
    };
    let first = instances
        .iter()
        .filter_map(|i| Some((instance_number(id, i.db_instance_identifier()?)?, i)))
        .min_by_key(|(n, _)| *n)
        .map(|(_, i)| i)
        .or(instances.first());
    let mut unobserved = DOCDB_UNOBSERVED.to_vec();
    let (instance_class, auto_minor_version_upgrade) =
        match first.and_then(|i| Some((i.db_instance_class()?, i))) {
            Some((class, i)) => (
                class.to_string(),
                i.auto_minor_version_upgrade().unwrap_or_default(),
            ),
            None => {
                // No instance to ask: the engine puts the recorded values in (unobserved).
                unobserved.extend(["instanceClass", "maintenance.autoMinorVersionUpgrade"]);
                (
                    String::new(),
                    Maintenance::default().auto_minor_version_upgrade,
                )
            }
        };
    let parameters: StringMap = user_parameters
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect();
    let spec = DocumentDbSpec {
        engine_version: reported(c.engine_version(), "engine version")?,
        instance_class,
        instances: u32::try_from(instances.len()).unwrap_or(u32::MAX),
        master_username: reported(c.master_username(), "master user name")?,
        port: number(c.port()).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("DocumentDB reported no port for cluster {id}"),
            )
        })?,
        encryption: AtRestEncryption {
            at_rest: c.storage_encrypted().unwrap_or_default(),
            kms_key_id: c.kms_key_id().filter(|k| !k.is_empty()).map(str::to_string),
        },
        backup_retention_days: number(c.backup_retention_period()).unwrap_or_default(),
        maintenance: Maintenance {
            window: c
                .preferred_maintenance_window()
                .filter(|w| !w.is_empty())
                .map(str::to_string),
            auto_minor_version_upgrade,
        },
        deletion: Deletion {
            protection: c.deletion_protection().unwrap_or_default(),
            // panka's own choice when deleting (DOCDB_UNOBSERVED): the recorded value stands.
            ..Deletion::default()
        },
        parameters,
        depends_on: Vec::new(),
    };
    Ok(Observation::new(outcome(c, sg), spec).unobserved(&unobserved))
}

impl DocumentDbProvider {
    async fn describe(&self, id: &str) -> Result<Option<DbCluster>, ProviderError> {
        Ok(unless_missing(
            self.docdb
                .describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await,
            |s| s.is_db_cluster_not_found_fault(),
            format!("reading DocumentDB cluster {id}"),
        )?
        .and_then(|r| r.db_clusters().first().cloned()))
    }

    /// Refuses a cluster that does not carry the component's tags (ListTagsForResource).
    async fn check_cluster_owner(
        &self,
        c: &DbCluster,
        t: &Target<'_, DocumentDbSpec>,
    ) -> Result<(), ProviderError> {
        let arn = c.db_cluster_arn().unwrap_or_default();
        let tags = self
            .docdb
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of {arn}"), e))?;
        crate::errors::check_owner(
            &format!(
                "DocumentDB cluster {}",
                c.db_cluster_identifier().unwrap_or(t.name)
            ),
            t.address,
            tags.tag_list()
                .iter()
                .filter_map(|tag| Some((tag.key()?, tag.value()?))),
            t.tags,
        )
    }

    /// Every instance of the cluster (a cluster has at most 16: one page).
    async fn cluster_instances(&self, cluster: &str) -> Result<Vec<DbInstance>, ProviderError> {
        let listed = self
            .docdb
            .describe_db_instances()
            .filters(
                aws_sdk_docdb::types::Filter::builder()
                    .name("db-cluster-id")
                    .values(cluster)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the instances of {cluster}"), e))?;
        Ok(listed.db_instances().to_vec())
    }

    /// The cluster's instances that panka made, by number.
    async fn instances(&self, cluster: &str) -> Result<BTreeMap<u32, DbInstance>, ProviderError> {
        Ok(self
            .cluster_instances(cluster)
            .await?
            .into_iter()
            .filter_map(|i| {
                let n = instance_number(cluster, i.db_instance_identifier()?)?;
                Some((n, i))
            })
            .collect())
    }

    /// The parameters set in the cluster parameter group `group` (DescribeDBClusterParameters
    /// with source `user`, every page).
    async fn user_parameters(&self, group: &str) -> Result<Vec<Parameter>, ProviderError> {
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .docdb
                .describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(group)
                .source("user")
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("reading parameters of DocumentDB parameter group {group}"),
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

    /// Polls until the cluster is `available`.
    async fn wait_cluster(&self, id: &str) -> Result<DbCluster, ProviderError> {
        let check = || async {
            match self.describe(id).await? {
                Some(c) if c.status() == Some("available") => Ok(c),
                Some(c) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "DocumentDB cluster {id} is still {} after {} minutes",
                        c.status().unwrap_or("changing"),
                        POLL.as_secs() * POLLS as u64 / 60
                    ),
                )),
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("DocumentDB cluster {id} vanished while being waited for"),
                )),
            }
        };
        poll_while(POLL, POLLS, ErrorKind::Timeout, check).await
    }

    async fn wait_instance(&self, id: &str) -> Result<(), ProviderError> {
        self.docdb
            .wait_until_db_instance_available()
            .db_instance_identifier(id)
            .wait(AVAILABLE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for DocumentDB instance {id} to become available"),
                    e,
                )
            })?;
        Ok(())
    }

    /// The cluster parameter group for the spec's `parameters`, created or updated; `None`
    /// without any (the engine's default group).
    async fn ensure_parameter_group(
        &self,
        name: &str,
        spec: &DocumentDbSpec,
        t: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        if spec.parameters.is_empty() {
            return Ok(None);
        }
        let created = self
            .docdb
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
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
            return Err(aws_error(
                format!("creating DocumentDB parameter group {name}"),
                e,
            ));
        }
        let params = parameters(spec);
        // DocumentDB takes at most 20 parameters per call.
        for chunk in params.chunks(20) {
            self.docdb
                .modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("setting parameters of DocumentDB parameter group {name}"),
                        e,
                    )
                })?;
        }
        Ok(Some(name.to_string()))
    }

    /// Instances `1..=count` of the cluster at the spec's class: missing ones are created,
    /// those of another class modified, those numbered above `count` deleted; then every
    /// remaining one is waited for.
    async fn converge_instances(
        &self,
        t: &Target<'_, DocumentDbSpec>,
    ) -> Result<(), ProviderError> {
        let s = &t.spec;
        let existing = self.instances(t.name).await?;
        for n in 1..=s.instances {
            let id = instance_id(t.name, n);
            match existing.get(&n) {
                None => {
                    create_instance_request(&self.docdb, t.name, n, s, t.tags)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("creating DocumentDB instance {id}"), e))?;
                }
                Some(i) if i.db_instance_class() != Some(s.instance_class.as_str()) => {
                    self.docdb
                        .modify_db_instance()
                        .db_instance_identifier(&id)
                        .db_instance_class(&s.instance_class)
                        .apply_immediately(true)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("resizing DocumentDB instance {id}"), e))?;
                }
                Some(_) => {}
            }
        }
        for (n, i) in existing.iter().rev() {
            if *n > s.instances {
                let id = i.db_instance_identifier().unwrap_or_default();
                self.delete_instance(id).await?;
            }
        }
        for n in 1..=s.instances {
            self.wait_instance(&instance_id(t.name, n)).await?;
        }
        Ok(())
    }

    async fn delete_instance(&self, id: &str) -> Result<(), ProviderError> {
        match self
            .docdb
            .delete_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(aws_error(format!("deleting DocumentDB instance {id}"), e)),
        }
        self.docdb
            .wait_until_db_instance_deleted()
            .db_instance_identifier(id)
            .wait(DELETED_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for DocumentDB instance {id} to be deleted"),
                    e,
                )
            })?;
        Ok(())
    }
}

impl KindProvider for DocumentDbProvider {
    type Spec = DocumentDbSpec;
    const KIND: &'static str = "DocumentDB";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "deletion.finalSnapshot",
            tracked_by: "panka's own choice when it deletes the cluster, not a DocumentDB setting: recorded in the state",
        },
        Unobservable {
            field: "masterPassword",
            tracked_by: "not a spec field: DocumentDB generates the master password and keeps it in a Secrets Manager secret it manages (ManageMasterUserPassword); panka records only the secret's ARN (output masterSecretArn)",
        },
    ];

    async fn create(&self, t: &Target<'_, DocumentDbSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        // A cluster created by a run that did not finish is taken over, not created again; one
        // without the component's tags is anybody else's and is refused before panka makes
        // anything around it.
        let existing = self.describe(t.name).await?;
        if let Some(c) = &existing {
            self.check_cluster_owner(c, t).await?;
        }
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (DocumentDB)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if existing.is_none() {
            ensure_subnet_group(&self.rds, t.name, &place.subnets, t.tags).await?;
            let parameters = self.ensure_parameter_group(t.name, s, t.tags).await?;
            create_cluster_request(&self.docdb, t.name, s, &sg, parameters, t.tags)
                .send()
                .await
                .map_err(|e| aws_error(format!("creating DocumentDB cluster {}", t.name), e))?;
        }
        self.wait_cluster(t.name).await?;
        self.converge_instances(t).await?;
        let c = self.wait_cluster(t.name).await?;
        Ok(outcome(&c, Some(&sg)))
    }

    /// One DescribeDBClusters for the recorded cluster id and one DescribeDBInstances for its
    /// instances; with a cluster parameter group of its own, DescribeDBClusterParameters for the
    /// parameters set in it (one call per 100).
    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<DocumentDbSpec>>, ProviderError> {
        // States written before the cluster id was recorded fall back on the derived name,
        // which is the cluster id panka creates.
        let cluster = id
            .ids
            .get("cluster")
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .unwrap_or(id.name);
        let Some(c) = self.describe(cluster).await? else {
            return Ok(None);
        };
        let instances = self.cluster_instances(cluster).await?;
        let user_parameters = match c
            .db_cluster_parameter_group()
            .filter(|g| !g.starts_with("default."))
        {
            Some(group) => self.user_parameters(group).await?,
            None => Vec::new(),
        };
        let sg = id.ids.get("securityGroup").map(String::as_str);
        observe(&c, &instances, &user_parameters, sg).map(Some)
    }

    /// An engine version DocumentDB spells out or upgraded within its minor versions, a window
    /// DocumentDB assigned or lowercased, and a KMS key the recorded spelling cannot be
    /// compared with (see the helpers in `rds`, shared by both kinds).
    fn managed_by_aws(recorded: &DocumentDbSpec, live: &DocumentDbSpec) -> Vec<&'static str> {
        let mut managed = Vec::new();
        if version_not_drift(
            &recorded.engine_version,
            &live.engine_version,
            MAJOR_PARTS,
            recorded.maintenance.auto_minor_version_upgrade,
        ) {
            managed.push("engineVersion");
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
        managed
    }

    async fn update(
        &self,
        t: &Target<'_, DocumentDbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let current = self.wait_cluster(t.name).await?;
        let parameters = self.ensure_parameter_group(t.name, s, t.tags).await?;
        let major = |v: Option<&str>| v.and_then(|v| v.split('.').next()).map(str::to_string);
        let mut req = self
            .docdb
            .modify_db_cluster()
            .db_cluster_identifier(t.name)
            .apply_immediately(true)
            .backup_retention_period(s.backup_retention_days as i32)
            .set_preferred_maintenance_window(s.maintenance.window.clone())
            .deletion_protection(s.deletion.protection)
            .set_db_cluster_parameter_group_name(parameters);
        if current.engine_version() != Some(s.engine_version.as_str()) {
            req = req
                .engine_version(&s.engine_version)
                .allow_major_version_upgrade(
                    major(current.engine_version()) != major(Some(&s.engine_version)),
                );
        }
        if current.port() != Some(s.port as i32) {
            req = req.port(s.port as i32);
        }
        req.send()
            .await
            .map_err(|e| aws_error(format!("modifying DocumentDB cluster {}", t.name), e))?;
        if let Some(arn) = current.db_cluster_arn() {
            self.docdb
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging DocumentDB cluster {}", t.name), e))?;
        }
        self.wait_cluster(t.name).await?;
        self.converge_instances(t).await?;
        let c = self.wait_cluster(t.name).await?;
        Ok(outcome(&c, ids.get("securityGroup").map(String::as_str)))
    }

    async fn delete(
        &self,
        name: &str,
        spec: Option<DocumentDbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if let Some(c) = self.describe(name).await? {
            if c.deletion_protection() == Some(true) {
                return Err(ProviderError::new(
                    ErrorKind::Conflict,
                    format!(
                        "DocumentDB cluster {name} has deletion protection on; set \
                         `deletion.protection: false` and apply before deleting it"
                    ),
                ));
            }
            // A cluster goes once its instances are gone.
            for i in self.instances(name).await?.values().rev() {
                self.delete_instance(i.db_instance_identifier().unwrap_or_default())
                    .await?;
            }
            let final_snapshot = spec.as_ref().is_none_or(|s| s.deletion.final_snapshot);
            let req = self
                .docdb
                .delete_db_cluster()
                .db_cluster_identifier(name)
                .skip_final_snapshot(!final_snapshot);
            let req = if final_snapshot {
                req.final_db_snapshot_identifier(format!("{name}-final-{}", epoch_seconds()))
            } else {
                req
            };
            match req.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_db_cluster_not_found_fault()) => {}
                Err(e) => {
                    return Err(aws_error(format!("deleting DocumentDB cluster {name}"), e));
                }
            }
            let gone = || async {
                match self.describe(name).await? {
                    None => Ok(()),
                    Some(c) => Err(ProviderError::new(
                        ErrorKind::Timeout,
                        format!(
                            "DocumentDB cluster {name} is still {}",
                            c.status().unwrap_or("there")
                        ),
                    )),
                }
            };
            poll_while(POLL, POLLS, ErrorKind::Timeout, gone).await?;
        }
        delete_subnet_group(&self.rds, name).await?;
        // A cluster parameter group exists only when the spec had parameters.
        unless_gone(
            self.docdb
                .delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .send()
                .await,
            |e| e.is_db_parameter_group_not_found_fault(),
            format!("deleting DocumentDB parameter group {name}"),
        )?;
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, DocumentDbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let members = c.db_cluster_members().len();
        Ok(Some(format!(
            "{} · {members} instance{} · docdb {}",
            c.status().unwrap_or("unknown"),
            if members == 1 { "" } else { "s" },
            c.engine_version().unwrap_or("?")
        )))
    }

    async fn find(&self, t: &Target<'_, DocumentDbSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        self.check_cluster_owner(&c, t).await?;
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&c, Some(&sg))))
    }
}

#[cfg(test)]
mod tests;
