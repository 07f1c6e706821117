//! ElastiCache Redis replication groups: a cache subnet group in the stack's private subnets, a
//! parameter group when `parameters` are given, a security group, and the replication group
//! (replicas, shards, encryption at rest and in transit, failover, snapshots).
//!
//! Outputs: `primaryEndpoint`, `readerEndpoint`, `port`, `arn`, `securityGroupId`. Encryption at
//! rest and the port force replacement; node type, version, replicas, failover and windows change
//! in place.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::types::{ParameterNameValue, ReplicationGroup, Tag};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::ElastiCacheRedisSpec;

use crate::errors::{aws_error, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// ElastiCache documents 10-20 minutes for a new replication group; more with many shards.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// The ElastiCacheRedis provider.
#[derive(Clone, Debug)]
pub struct RedisProvider {
    cache: Client,
    ec2: aws_sdk_ec2::Client,
}

impl RedisProvider {
    pub fn new(cache: Client, ec2: aws_sdk_ec2::Client) -> Self {
        RedisProvider { cache, ec2 }
    }
}

pub(crate) fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Creates the cache subnet group `name` over `subnets`, or points an existing one at them.
pub(crate) async fn ensure_subnet_group(
    cache: &Client,
    name: &str,
    subnets: &[String],
    t: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let created = cache
        .create_cache_subnet_group()
        .cache_subnet_group_name(name)
        .cache_subnet_group_description(format!("panka: subnets of {name}"))
        .set_subnet_ids(Some(subnets.to_vec()))
        .set_tags(Some(tags(t)))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cache_subnet_group_already_exists_fault()) =>
        {
            cache
                .modify_cache_subnet_group()
                .cache_subnet_group_name(name)
                .set_subnet_ids(Some(subnets.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(format!("updating cache subnet group {name}"), e))?;
            Ok(())
        }
        Err(e) => Err(aws_error(format!("creating cache subnet group {name}"), e)),
    }
}

/// The parameter group family for a Redis version: `redis7`, `redis6.x`.
fn family(version: &str) -> String {
    let major = version.split('.').next().unwrap_or("7");
    if major == "6" {
        "redis6.x".into()
    } else {
        format!("redis{major}")
    }
}

fn failover(s: &ElastiCacheRedisSpec) -> bool {
    s.automatic_failover
        .unwrap_or(s.replicas > 0 || s.shards > 1)
}

fn outcome(g: &ReplicationGroup, sg: &str, port: u32) -> Outcome {
    let node = g.node_groups().first();
    let primary = g
        .configuration_endpoint()
        .or_else(|| node.and_then(|n| n.primary_endpoint()));
    let reader = node.and_then(|n| n.reader_endpoint());
    Outcome {
        physical_ids: BTreeMap::from([
            (
                "replicationGroup".to_string(),
                g.replication_group_id().unwrap_or_default().to_string(),
            ),
            ("securityGroup".to_string(), sg.to_string()),
        ]),
        outputs: BTreeMap::from([
            (
                "primaryEndpoint".to_string(),
                primary
                    .and_then(|e| e.address())
                    .unwrap_or_default()
                    .to_string(),
            ),
            (
                "readerEndpoint".to_string(),
                reader
                    .and_then(|e| e.address())
                    .unwrap_or_default()
                    .to_string(),
            ),
            (
                "port".to_string(),
                primary
                    .and_then(|e| e.port())
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| port.to_string()),
            ),
            ("arn".to_string(), g.arn().unwrap_or_default().to_string()),
            ("securityGroupId".to_string(), sg.to_string()),
        ]),
    }
}

impl RedisProvider {
    async fn describe(&self, id: &str) -> Result<Option<ReplicationGroup>, ProviderError> {
        let found = unless_missing(
            self.cache
                .describe_replication_groups()
                .replication_group_id(id)
                .send()
                .await,
            |s| s.is_replication_group_not_found_fault(),
            format!("reading ElastiCache replication group {id}"),
        )?;
        Ok(found.and_then(|r| r.replication_groups().first().cloned()))
    }

    async fn wait_available(&self, id: &str) -> Result<ReplicationGroup, ProviderError> {
        self.cache
            .wait_until_replication_group_available()
            .replication_group_id(id)
            .wait(AVAILABLE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for ElastiCache replication group {id} to become available"),
                    e,
                )
            })?;
        self.describe(id).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("replication group {id} vanished while becoming available"),
            )
        })
    }

    async fn ensure_parameter_group(
        &self,
        name: &str,
        s: &ElastiCacheRedisSpec,
    ) -> Result<Option<String>, ProviderError> {
        if s.parameters.is_empty() {
            return Ok(None);
        }
        let created = self
            .cache
            .create_cache_parameter_group()
            .cache_parameter_group_name(name)
            .cache_parameter_group_family(family(&s.engine_version))
            .description(format!("panka: parameters of {name}"))
            .send()
            .await;
        if let Err(e) = created
            && !e
                .as_service_error()
                .is_some_and(|s| s.is_cache_parameter_group_already_exists_fault())
        {
            return Err(aws_error(
                format!("creating cache parameter group {name}"),
                e,
            ));
        }
        let values: Vec<ParameterNameValue> = s
            .parameters
            .iter()
            .map(|(k, v)| {
                ParameterNameValue::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        self.cache
            .modify_cache_parameter_group()
            .cache_parameter_group_name(name)
            .set_parameter_name_values(Some(values))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    format!("setting parameters of cache parameter group {name}"),
                    e,
                )
            })?;
        Ok(Some(name.to_string()))
    }
}

impl KindProvider for RedisProvider {
    type Spec = ElastiCacheRedisSpec;
    const KIND: &'static str = "ElastiCacheRedis";

    async fn create(&self, t: &Target<'_, ElastiCacheRedisSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (Redis)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(g) = self.describe(t.name).await? {
            // Created by a run that did not finish: wait for it rather than create it again.
            let g = if g.status() == Some("available") {
                g
            } else {
                self.wait_available(t.name).await?
            };
            return Ok(outcome(&g, &sg, s.port));
        }
        ensure_subnet_group(&self.cache, t.name, &place.subnets, t.tags).await?;
        let params = self.ensure_parameter_group(t.name, s).await?;
        let mut req = self
            .cache
            .create_replication_group()
            .replication_group_id(t.name)
            .replication_group_description(format!("panka: {}", t.address))
            .engine("redis")
            .engine_version(&s.engine_version)
            .cache_node_type(&s.node_type)
            .automatic_failover_enabled(failover(s))
            .multi_az_enabled(s.multi_az)
            .at_rest_encryption_enabled(s.encryption.at_rest)
            .transit_encryption_enabled(s.encryption.in_transit)
            .set_kms_key_id(s.encryption.kms_key_id.clone())
            .port(s.port as i32)
            .security_group_ids(&sg)
            .cache_subnet_group_name(t.name)
            .set_cache_parameter_group_name(params)
            .snapshot_retention_limit(s.snapshot_retention_days as i32)
            .set_preferred_maintenance_window(s.maintenance.window.clone())
            .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
            .set_tags(Some(tags(t.tags)));
        req = if s.shards > 1 {
            req.num_node_groups(s.shards as i32)
                .replicas_per_node_group(s.replicas as i32)
        } else {
            req.num_cache_clusters(1 + s.replicas as i32)
        };
        req.send().await.map_err(|e| {
            aws_error(
                format!("creating ElastiCache replication group {}", t.name),
                e,
            )
        })?;
        let g = self.wait_available(t.name).await?;
        Ok(outcome(&g, &sg, s.port))
    }

    async fn read(
        &self,
        t: &Target<'_, ElastiCacheRedisSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(g) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(n) = g.cache_node_type() {
            spec["nodeType"] = n.into();
        }
        if let Some(first) = g.node_groups().first() {
            spec["replicas"] = (first.node_group_members().len().saturating_sub(1) as u64).into();
        }
        if let Some(v) = g.at_rest_encryption_enabled() {
            spec["encryption"]["atRest"] = v.into();
        }
        if let Some(v) = g.transit_encryption_enabled() {
            spec["encryption"]["inTransit"] = v.into();
        }
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        Ok(Some(Observed {
            outcome: outcome(&g, &sg, t.spec.port),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, ElastiCacheRedisSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let current = self.describe(t.name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("replication group {} does not exist", t.name),
            )
        })?;
        let params = self.ensure_parameter_group(t.name, s).await?;
        self.cache
            .modify_replication_group()
            .replication_group_id(t.name)
            .apply_immediately(true)
            .cache_node_type(&s.node_type)
            .engine_version(&s.engine_version)
            .automatic_failover_enabled(failover(s))
            .multi_az_enabled(s.multi_az)
            .snapshot_retention_limit(s.snapshot_retention_days as i32)
            .set_preferred_maintenance_window(s.maintenance.window.clone())
            .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
            .set_cache_parameter_group_name(params)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    format!("modifying ElastiCache replication group {}", t.name),
                    e,
                )
            })?;
        self.wait_available(t.name).await?;
        // Replicas: with cluster mode off, the first node group's members are primary + replicas.
        let replicas_now = current
            .node_groups()
            .first()
            .map(|n| n.node_group_members().len().saturating_sub(1))
            .unwrap_or(0) as u32;
        if s.shards <= 1 && replicas_now != s.replicas {
            let r = if s.replicas > replicas_now {
                self.cache
                    .increase_replica_count()
                    .replication_group_id(t.name)
                    .apply_immediately(true)
                    .new_replica_count(s.replicas as i32)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error(format!("adding replicas to {}", t.name), e))
            } else {
                self.cache
                    .decrease_replica_count()
                    .replication_group_id(t.name)
                    .apply_immediately(true)
                    .new_replica_count(s.replicas as i32)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error(format!("removing replicas from {}", t.name), e))
            };
            r?;
        }
        if let Some(arn) = current.arn() {
            self.cache
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| {
                    aws_error(
                        format!("tagging ElastiCache replication group {}", t.name),
                        e,
                    )
                })?;
        }
        let g = self.wait_available(t.name).await?;
        Ok(outcome(
            &g,
            ids.get("securityGroup")
                .map(String::as_str)
                .unwrap_or_default(),
            s.port,
        ))
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<ElastiCacheRedisSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if self.describe(name).await?.is_some() {
            match self
                .cache
                .delete_replication_group()
                .replication_group_id(name)
                .retain_primary_cluster(false)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_replication_group_not_found_fault()) => {}
                Err(e) => {
                    return Err(aws_error(
                        format!("deleting ElastiCache replication group {name}"),
                        e,
                    ));
                }
            }
            self.cache
                .wait_until_replication_group_deleted()
                .replication_group_id(name)
                .wait(DELETED_TIMEOUT)
                .await
                .map_err(|e| {
                    ProviderError::with_source(
                        ErrorKind::Timeout,
                        format!("waiting for ElastiCache replication group {name} to be deleted"),
                        e,
                    )
                })?;
        }
        let _ = self
            .cache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(name)
            .send()
            .await;
        let _ = self
            .cache
            .delete_cache_parameter_group()
            .cache_parameter_group_name(name)
            .send()
            .await;
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, ElastiCacheRedisSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|g| {
            format!(
                "{} · {} nodes",
                g.status().unwrap_or("unknown"),
                g.member_clusters().len()
            )
        }))
    }

    async fn find(
        &self,
        t: &Target<'_, ElastiCacheRedisSpec>,
    ) -> Result<Option<Outcome>, ProviderError> {
        let Some(g) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&g, &sg, t.spec.port)))
    }
}
