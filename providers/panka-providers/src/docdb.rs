//! Amazon DocumentDB clusters: a DB subnet group in the stack's private subnets, a cluster
//! parameter group when `parameters` are given, a security group, the cluster with its master
//! password generated and kept by Secrets Manager (`ManageMasterUserPassword`), storage
//! encryption, backups, maintenance window and deletion protection, and its instances
//! (`NAME-1` is the writer's first choice, the others read replicas).
//!
//! Outputs: `endpoint`, `readerEndpoint`, `port`, `arn`, `masterSecretArn`, `securityGroupId`.
//! The master user and the encryption force replacement; the engine version, port, backups,
//! maintenance, deletion protection, parameters, instance class and instance count change in
//! place, immediately. Fewer instances remove the highest-numbered ones.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_docdb::Client;
use aws_sdk_docdb::client::Waiters;
use aws_sdk_docdb::types::{ApplyMethod, DbCluster, DbInstance, Parameter, Tag};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::DocumentDbSpec;
use panka_format::naming::shorten;

use crate::errors::{aws_error, poll_while, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};
use crate::rds::{ensure_subnet_group, epoch_seconds};

/// DocumentDB documents about 10 minutes for an instance to become available; a modification
/// or a deletion takes less. An hour leaves room for a cluster of many instances.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How often, and how many times, a cluster's own state is polled (it has no SDK waiter).
const POLL: Duration = Duration::from_secs(15);
const POLLS: usize = 240;

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

fn outcome(c: &DbCluster, sg: &str) -> Outcome {
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    Outcome {
        physical_ids: BTreeMap::from([
            ("cluster".to_string(), text(c.db_cluster_identifier())),
            ("securityGroup".to_string(), sg.to_string()),
        ]),
        outputs: BTreeMap::from([
            ("endpoint".to_string(), text(c.endpoint())),
            ("readerEndpoint".to_string(), text(c.reader_endpoint())),
            (
                "port".to_string(),
                c.port().map(|p| p.to_string()).unwrap_or_default(),
            ),
            ("arn".to_string(), text(c.db_cluster_arn())),
            (
                "masterSecretArn".to_string(),
                text(c.master_user_secret().and_then(|s| s.secret_arn())),
            ),
            ("securityGroupId".to_string(), sg.to_string()),
        ]),
    }
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

    /// The cluster's instances that panka made, by number.
    async fn instances(&self, cluster: &str) -> Result<BTreeMap<u32, DbInstance>, ProviderError> {
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
        Ok(listed
            .db_instances()
            .iter()
            .filter_map(|i| {
                let n = instance_number(cluster, i.db_instance_identifier()?)?;
                Some((n, i.clone()))
            })
            .collect())
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
                    self.docdb
                        .create_db_instance()
                        .db_instance_identifier(&id)
                        .db_cluster_identifier(t.name)
                        .db_instance_class(&s.instance_class)
                        .engine("docdb")
                        // The first instance is the first choice for writer.
                        .promotion_tier(if n == 1 { 0 } else { 1 })
                        .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
                        .set_preferred_maintenance_window(s.maintenance.window.clone())
                        .set_tags(Some(tags(t.tags)))
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

    async fn create(&self, t: &Target<'_, DocumentDbSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (DocumentDB)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        // A cluster created by a run that did not finish is taken over, not created again.
        if self.describe(t.name).await?.is_none() {
            ensure_subnet_group(&self.rds, t.name, &place.subnets, t.tags).await?;
            let parameters = self.ensure_parameter_group(t.name, s, t.tags).await?;
            self.docdb
                .create_db_cluster()
                .db_cluster_identifier(t.name)
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
                .vpc_security_group_ids(&sg)
                .db_subnet_group_name(t.name)
                .set_db_cluster_parameter_group_name(parameters)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating DocumentDB cluster {}", t.name), e))?;
        }
        self.wait_cluster(t.name).await?;
        self.converge_instances(t).await?;
        let c = self.wait_cluster(t.name).await?;
        Ok(outcome(&c, &sg))
    }

    async fn read(
        &self,
        t: &Target<'_, DocumentDbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let instances = self.instances(t.name).await?;
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(v) = c.engine_version() {
            spec["engineVersion"] = v.into();
        }
        if let Some(p) = c.port() {
            spec["port"] = p.into();
        }
        if let Some(b) = c.backup_retention_period() {
            spec["backupRetentionDays"] = b.into();
        }
        if let Some(d) = c.deletion_protection() {
            spec["deletion"]["protection"] = d.into();
        }
        if let Some(w) = c.preferred_maintenance_window() {
            spec["maintenance"]["window"] = w.into();
        }
        spec["instances"] = instances.len().into();
        if let Some(class) = instances
            .values()
            .next()
            .and_then(|i| i.db_instance_class())
        {
            spec["instanceClass"] = class.into();
        }
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        Ok(Some(Observed {
            outcome: outcome(&c, &sg),
            spec,
        }))
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
        Ok(outcome(
            &c,
            ids.get("securityGroup")
                .map(String::as_str)
                .unwrap_or_default(),
        ))
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
        let _ = self
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await;
        let _ = self
            .docdb
            .delete_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .send()
            .await;
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
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&c, &sg)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_docdb::operation::create_db_cluster::CreateDbClusterOutput;
    use aws_sdk_docdb::operation::create_db_cluster_parameter_group::CreateDbClusterParameterGroupOutput;
    use aws_sdk_docdb::operation::create_db_instance::CreateDbInstanceOutput;
    use aws_sdk_docdb::operation::delete_db_cluster::DeleteDbClusterOutput;
    use aws_sdk_docdb::operation::describe_db_clusters::DescribeDbClustersOutput;
    use aws_sdk_docdb::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_docdb::operation::modify_db_cluster_parameter_group::ModifyDbClusterParameterGroupOutput;
    use aws_sdk_docdb::types::ClusterMasterUserSecret;
    use aws_sdk_rds::operation::create_db_subnet_group::CreateDbSubnetGroupOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const NAME: &str = "shop-dev-orders-docs";

    fn spec(extra: serde_json::Value) -> DocumentDbSpec {
        let mut v = serde_json::json!({"engineVersion": "5.0.0", "instanceClass": "db.r6g.large", "masterUsername": "app"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn ec2_with_group() -> aws_sdk_ec2::Client {
        use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
        use aws_sdk_ec2::types::SecurityGroup;
        let groups = mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(|| {
            DescribeSecurityGroupsOutput::builder()
                .security_groups(
                    SecurityGroup::builder()
                        .group_id("sg-9")
                        .group_name(NAME)
                        .build(),
                )
                .build()
        });
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&groups])
    }

    /// An RDS client for a test whose path makes no RDS call.
    fn rds_unused() -> aws_sdk_rds::Client {
        mock_client!(aws_sdk_rds, RuleMode::MatchAny, [])
    }

    fn cluster(protected: bool) -> DbCluster {
        DbCluster::builder()
            .db_cluster_identifier(NAME)
            .db_cluster_arn(format!("arn:aws:rds:us-east-1:123456789012:cluster:{NAME}"))
            .status("available")
            .endpoint("docs.cluster-x.docdb.amazonaws.com")
            .reader_endpoint("docs.cluster-ro-x.docdb.amazonaws.com")
            .port(27017)
            .deletion_protection(protected)
            .master_user_secret(
                ClusterMasterUserSecret::builder()
                    .secret_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:docs")
                    .build(),
            )
            .build()
    }

    #[test]
    fn names_and_families() {
        assert_eq!(instance_id(NAME, 2), "shop-dev-orders-docs-2");
        assert_eq!(instance_number(NAME, "shop-dev-orders-docs-12"), Some(12));
        assert_eq!(instance_number(NAME, "shop-dev-orders-docs-x"), None);
        assert_eq!(instance_number(NAME, "other-1"), None);
        assert_eq!(family(&spec(serde_json::json!({}))), "docdb5.0");
        // Instance ids stay within DocumentDB's 63 characters.
        assert!(instance_id(&"n".repeat(63), 16).len() <= 63);
    }

    /// A new cluster: subnet group, parameter group with the spec's parameters, the cluster with
    /// every setting and a managed master password, then its instances (the first the writer's
    /// first choice), waited for. (moto refuses DocumentDB, so this runs against mocked
    /// responses.)
    #[tokio::test]
    async fn a_new_cluster_gets_its_settings_and_instances() {
        let created = Arc::new(AtomicBool::new(false));
        let instances = Arc::new(AtomicUsize::new(0));
        let seen = created.clone();
        let describe = mock!(Client::describe_db_clusters).then_output(move || {
            let out = DescribeDbClustersOutput::builder();
            if seen.load(Ordering::SeqCst) {
                out.db_clusters(cluster(false)).build()
            } else {
                out.build()
            }
        });
        let subnet_group = mock!(aws_sdk_rds::Client::create_db_subnet_group)
            .match_requests(|r| r.subnet_ids() == ["s-1", "s-2"])
            .then_output(|| CreateDbSubnetGroupOutput::builder().build());
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&subnet_group]);
        let group = mock!(Client::create_db_cluster_parameter_group)
            .match_requests(|r| r.db_parameter_group_family() == Some("docdb5.0"))
            .then_output(|| CreateDbClusterParameterGroupOutput::builder().build());
        let params = mock!(Client::modify_db_cluster_parameter_group)
            .match_requests(|r| {
                r.parameters().len() == 1 && r.parameters()[0].parameter_name() == Some("tls")
            })
            .then_output(|| ModifyDbClusterParameterGroupOutput::builder().build());
        let flag = created.clone();
        let create = mock!(Client::create_db_cluster)
            .match_requests(|r| {
                r.db_cluster_identifier() == Some(NAME)
                    && r.engine() == Some("docdb")
                    && r.engine_version() == Some("5.0.0")
                    && r.master_username() == Some("app")
                    && r.manage_master_user_password() == Some(true)
                    && r.master_user_password().is_none()
                    && r.port() == Some(27017)
                    && r.storage_encrypted() == Some(true)
                    && r.kms_key_id() == Some("alias/docs")
                    && r.backup_retention_period() == Some(14)
                    && r.deletion_protection() == Some(true)
                    && r.vpc_security_group_ids() == ["sg-9"]
                    && r.db_subnet_group_name() == Some(NAME)
                    && r.db_cluster_parameter_group_name() == Some(NAME)
            })
            .then_output(move || {
                flag.store(true, Ordering::SeqCst);
                CreateDbClusterOutput::builder().build()
            });
        let count = instances.clone();
        let create_instance = mock!(Client::create_db_instance)
            .match_requests(|r| {
                let tier = match r.db_instance_identifier() {
                    Some("shop-dev-orders-docs-1") => 0,
                    Some("shop-dev-orders-docs-2") => 1,
                    _ => return false,
                };
                r.promotion_tier() == Some(tier)
                    && r.db_cluster_identifier() == Some(NAME)
                    && r.db_instance_class() == Some("db.r6g.large")
                    && r.engine() == Some("docdb")
            })
            .then_output(move || {
                count.fetch_add(1, Ordering::SeqCst);
                CreateDbInstanceOutput::builder().build()
            });
        let made = instances.clone();
        let list = mock!(Client::describe_db_instances).then_output(move || {
            let mut out = DescribeDbInstancesOutput::builder();
            for n in 1..=made.load(Ordering::SeqCst) {
                out = out.db_instances(
                    DbInstance::builder()
                        .db_instance_identifier(format!("{NAME}-{n}"))
                        .db_instance_class("db.r6g.large")
                        .db_instance_status("available")
                        .build(),
                );
            }
            out.build()
        });
        let docdb = mock_client!(
            aws_sdk_docdb,
            RuleMode::MatchAny,
            [&describe, &group, &params, &create, &create_instance, &list]
        );
        let provider = DocumentDbProvider::new(docdb, rds, ec2_with_group());
        let tags = BTreeMap::new();
        let config =
            serde_json::json!({"network": {"vpcId": "vpc-1", "privateSubnets": ["s-1", "s-2"]}});
        let target = Target {
            address: "orders/docs",
            name: NAME,
            spec: spec(serde_json::json!({
                "instances": 2, "backupRetentionDays": 14,
                "encryption": {"kmsKeyId": "alias/docs"},
                "deletion": {"protection": true},
                "parameters": {"tls": "enabled"},
            })),
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let out = provider.create(&target).await.unwrap();
        assert_eq!(create.num_calls(), 1);
        assert_eq!(create_instance.num_calls(), 2);
        assert_eq!(
            out.outputs["endpoint"],
            "docs.cluster-x.docdb.amazonaws.com"
        );
        assert_eq!(out.outputs["port"], "27017");
        assert!(out.outputs["masterSecretArn"].starts_with("arn:aws:secretsmanager:"));
        assert_eq!(out.outputs["securityGroupId"], "sg-9");
    }

    /// A cluster with deletion protection is not deleted: the provider says how to proceed and
    /// makes no delete call.
    #[tokio::test]
    async fn a_protected_cluster_is_not_deleted() {
        let describe = mock!(Client::describe_db_clusters).then_output(|| {
            DescribeDbClustersOutput::builder()
                .db_clusters(cluster(true))
                .build()
        });
        let delete = mock!(Client::delete_db_cluster)
            .then_output(|| DeleteDbClusterOutput::builder().build());
        let docdb = mock_client!(aws_sdk_docdb, RuleMode::MatchAny, [&describe, &delete]);
        let provider = DocumentDbProvider::new(docdb, rds_unused(), ec2_with_group());
        let err = provider
            .delete(NAME, None, &BTreeMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
        assert!(
            err.to_string().contains("deletion.protection: false"),
            "{err}"
        );
        assert_eq!(delete.num_calls(), 0);
    }
}
