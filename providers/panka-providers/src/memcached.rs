//! ElastiCache Memcached clusters: a cache subnet group in the stack's private subnets, a
//! security group, and the cache cluster (node type, node count, nodes spread across
//! Availability Zones, TLS, maintenance window).
//!
//! Outputs: `configurationEndpoint` (for auto discovery), `port`, `arn`, `securityGroupId`. The
//! port and TLS force replacement; node type, node count, engine version and the maintenance
//! settings change in place. Removing nodes removes the newest ones.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::types::{AzMode, CacheCluster};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::ElastiCacheMemcachedSpec;

use crate::elasticache::{ensure_subnet_group, tags};
use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// ElastiCache documents about 10 minutes for a new cluster; adding many nodes takes longer.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// The ElastiCacheMemcached provider.
#[derive(Clone, Debug)]
pub struct MemcachedProvider {
    cache: Client,
    ec2: aws_sdk_ec2::Client,
}

impl MemcachedProvider {
    pub fn new(cache: Client, ec2: aws_sdk_ec2::Client) -> Self {
        MemcachedProvider { cache, ec2 }
    }
}

/// Cross-AZ placement needs two nodes or more (validation says so for the YAML).
fn az_mode(s: &ElastiCacheMemcachedSpec) -> AzMode {
    if s.cross_az && s.nodes > 1 {
        AzMode::CrossAz
    } else {
        AzMode::SingleAz
    }
}

fn outcome(c: &CacheCluster, sg: &str, port: u32) -> Outcome {
    let endpoint = c.configuration_endpoint();
    Outcome {
        physical_ids: BTreeMap::from([
            (
                "cacheCluster".to_string(),
                c.cache_cluster_id().unwrap_or_default().to_string(),
            ),
            ("securityGroup".to_string(), sg.to_string()),
        ]),
        outputs: BTreeMap::from([
            (
                "configurationEndpoint".to_string(),
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
                    .unwrap_or_else(|| port.to_string()),
            ),
            ("arn".to_string(), c.arn().unwrap_or_default().to_string()),
            ("securityGroupId".to_string(), sg.to_string()),
        ]),
    }
}

/// The ids of the nodes to remove to go from the cluster's nodes down to `want`: the newest.
fn nodes_to_remove(c: &CacheCluster, want: u32) -> Vec<String> {
    let mut ids: Vec<String> = c
        .cache_nodes()
        .iter()
        .filter_map(|n| n.cache_node_id().map(str::to_string))
        .collect();
    if ids.is_empty() {
        // Without node details, ElastiCache numbers nodes from 0001.
        let count = c.num_cache_nodes().unwrap_or_default().max(0) as u32;
        ids = (1..=count).map(|i| format!("{i:04}")).collect();
    }
    ids.sort();
    ids.into_iter().skip(want as usize).collect()
}

impl MemcachedProvider {
    async fn describe(&self, id: &str) -> Result<Option<CacheCluster>, ProviderError> {
        Ok(unless_missing(
            self.cache
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .show_cache_node_info(true)
                .send()
                .await,
            |s| s.is_cache_cluster_not_found_fault(),
            format!("reading ElastiCache cluster {id}"),
        )?
        .and_then(|r| r.cache_clusters().first().cloned()))
    }

    async fn wait_available(&self, id: &str) -> Result<CacheCluster, ProviderError> {
        self.cache
            .wait_until_cache_cluster_available()
            .cache_cluster_id(id)
            .wait(AVAILABLE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for ElastiCache cluster {id} to become available"),
                    e,
                )
            })?;
        self.describe(id).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("cache cluster {id} vanished while becoming available"),
            )
        })
    }
}

impl KindProvider for MemcachedProvider {
    type Spec = ElastiCacheMemcachedSpec;
    const KIND: &'static str = "ElastiCacheMemcached";

    async fn create(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (Memcached)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(c) = self.describe(t.name).await? {
            // Created by a run that did not finish: wait for it rather than create it again.
            let c = if c.cache_cluster_status() == Some("available") {
                c
            } else {
                self.wait_available(t.name).await?
            };
            return Ok(outcome(&c, &sg, s.port));
        }
        ensure_subnet_group(&self.cache, t.name, &place.subnets, t.tags).await?;
        self.cache
            .create_cache_cluster()
            .cache_cluster_id(t.name)
            .engine("memcached")
            .engine_version(&s.engine_version)
            .cache_node_type(&s.node_type)
            .num_cache_nodes(s.nodes as i32)
            .az_mode(az_mode(s))
            .port(s.port as i32)
            .transit_encryption_enabled(s.in_transit_encryption)
            .security_group_ids(&sg)
            .cache_subnet_group_name(t.name)
            .set_preferred_maintenance_window(s.maintenance.window.clone())
            .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
            .set_tags(Some(tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("creating ElastiCache cluster {}", t.name), e))?;
        let c = self.wait_available(t.name).await?;
        Ok(outcome(&c, &sg, s.port))
    }

    async fn read(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(n) = c.cache_node_type() {
            spec["nodeType"] = n.into();
        }
        if let Some(v) = c.engine_version() {
            spec["engineVersion"] = v.into();
        }
        if let Some(n) = c.num_cache_nodes() {
            spec["nodes"] = n.into();
        }
        if let Some(v) = c.transit_encryption_enabled() {
            spec["inTransitEncryption"] = v.into();
        }
        if let Some(v) = c.auto_minor_version_upgrade() {
            spec["maintenance"]["autoMinorVersionUpgrade"] = v.into();
        }
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        Ok(Some(Observed {
            outcome: outcome(&c, &sg, t.spec.port),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let current = self.describe(t.name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("cache cluster {} does not exist", t.name),
            )
        })?;
        let mut req = self
            .cache
            .modify_cache_cluster()
            .cache_cluster_id(t.name)
            .apply_immediately(true)
            .engine_version(&s.engine_version)
            .set_preferred_maintenance_window(s.maintenance.window.clone())
            .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade);
        if current.cache_node_type() != Some(s.node_type.as_str()) {
            req = req.cache_node_type(&s.node_type);
        }
        let now = current.num_cache_nodes().unwrap_or_default().max(0) as u32;
        if now != s.nodes {
            req = req.num_cache_nodes(s.nodes as i32);
            if s.nodes > now {
                req = req.az_mode(az_mode(s));
            } else {
                req = req.set_cache_node_ids_to_remove(Some(nodes_to_remove(&current, s.nodes)));
            }
        }
        req.send()
            .await
            .map_err(|e| aws_error(format!("modifying ElastiCache cluster {}", t.name), e))?;
        if let Some(arn) = current.arn() {
            self.cache
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging ElastiCache cluster {}", t.name), e))?;
        }
        let c = self.wait_available(t.name).await?;
        Ok(outcome(
            &c,
            ids.get("securityGroup")
                .map(String::as_str)
                .unwrap_or_default(),
            s.port,
        ))
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<ElastiCacheMemcachedSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if self.describe(name).await?.is_some() {
            let deleted = self
                .cache
                .delete_cache_cluster()
                .cache_cluster_id(name)
                .send()
                .await;
            unless_gone(
                deleted,
                |s| s.is_cache_cluster_not_found_fault(),
                format!("deleting ElastiCache cluster {name}"),
            )?;
            self.cache
                .wait_until_cache_cluster_deleted()
                .cache_cluster_id(name)
                .wait(DELETED_TIMEOUT)
                .await
                .map_err(|e| {
                    ProviderError::with_source(
                        ErrorKind::Timeout,
                        format!("waiting for ElastiCache cluster {name} to be deleted"),
                        e,
                    )
                })?;
        }
        let deleted = self
            .cache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(name)
            .send()
            .await;
        unless_gone(
            deleted,
            |s| s.is_cache_subnet_group_not_found_fault(),
            format!("deleting cache subnet group {name}"),
        )?;
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|c| {
            format!(
                "{} · {} nodes · memcached {}",
                c.cache_cluster_status().unwrap_or("unknown"),
                c.num_cache_nodes().unwrap_or_default(),
                c.engine_version().unwrap_or("?")
            )
        }))
    }

    async fn find(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
    ) -> Result<Option<Outcome>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&c, &sg, t.spec.port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticache::types::CacheNode;

    /// Going from three nodes to one modifies the cluster in place, removing the two newest
    /// nodes, and leaves the node type alone when it did not change. (The emulator has no
    /// ModifyCacheCluster, so this is checked against mocked responses.)
    #[tokio::test]
    async fn fewer_nodes_are_removed_in_place() {
        use aws_sdk_elasticache::operation::add_tags_to_resource::AddTagsToResourceOutput;
        use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
        use aws_sdk_elasticache::operation::modify_cache_cluster::ModifyCacheClusterOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let describe = mock!(Client::describe_cache_clusters).then_output(|| {
            let mut c = CacheCluster::builder()
                .cache_cluster_id("shop-dev-web-sessions")
                .arn("arn:aws:elasticache:us-east-1:123456789012:cluster:shop-dev-web-sessions")
                .cache_cluster_status("available")
                .cache_node_type("cache.t4g.micro")
                .num_cache_nodes(3);
            for id in ["0001", "0002", "0003"] {
                c = c.cache_nodes(CacheNode::builder().cache_node_id(id).build());
            }
            DescribeCacheClustersOutput::builder()
                .cache_clusters(c.build())
                .build()
        });
        let modify = mock!(Client::modify_cache_cluster)
            .match_requests(|r| {
                r.num_cache_nodes() == Some(1)
                    && r.cache_node_ids_to_remove() == ["0002", "0003"]
                    && r.cache_node_type().is_none()
                    && r.apply_immediately() == Some(true)
            })
            .then_output(|| ModifyCacheClusterOutput::builder().build());
        let tag = mock!(Client::add_tags_to_resource)
            .then_output(|| AddTagsToResourceOutput::builder().build());
        let cache = mock_client!(
            aws_sdk_elasticache,
            RuleMode::MatchAny,
            [&describe, &modify, &tag]
        );
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let provider = MemcachedProvider::new(cache, aws_sdk_ec2::Client::new(&conf));
        let spec: ElastiCacheMemcachedSpec = serde_json::from_value(
            serde_json::json!({"nodeType": "cache.t4g.micro", "engineVersion": "1.6.22", "nodes": 1}),
        )
        .unwrap();
        let tags = BTreeMap::new();
        let config = serde_json::json!({});
        let target = Target {
            address: "web/sessions",
            name: "shop-dev-web-sessions",
            spec,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let ids = BTreeMap::from([("securityGroup".to_string(), "sg-1".to_string())]);
        let out = provider.update(&target, &ids).await.unwrap();
        assert_eq!(modify.num_calls(), 1);
        assert_eq!(out.outputs["securityGroupId"], "sg-1");
    }

    #[test]
    fn the_newest_nodes_are_removed() {
        let c = CacheCluster::builder()
            .num_cache_nodes(3)
            .cache_nodes(CacheNode::builder().cache_node_id("0002").build())
            .cache_nodes(CacheNode::builder().cache_node_id("0001").build())
            .cache_nodes(CacheNode::builder().cache_node_id("0003").build())
            .build();
        assert_eq!(nodes_to_remove(&c, 1), ["0002", "0003"]);
        assert!(nodes_to_remove(&c, 3).is_empty());
        // Without node details, the ids ElastiCache gives.
        let bare = CacheCluster::builder().num_cache_nodes(4).build();
        assert_eq!(nodes_to_remove(&bare, 2), ["0003", "0004"]);
    }
}
