//! ElastiCache Memcached clusters: a cache subnet group in the stack's private subnets, a
//! security group, and the cache cluster (node type, node count, nodes spread across
//! Availability Zones, TLS, maintenance window).
//!
//! Outputs: `configurationEndpoint` (for auto discovery), `port`, `arn`, `securityGroupId`, each
//! only when AWS has a value for it. The port and TLS force replacement; node type, node count,
//! engine version and the maintenance settings change in place. Removing nodes removes the
//! newest ones. A read is one DescribeCacheClusters call (with the nodes' details).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::operation::create_cache_cluster::builders::CreateCacheClusterFluentBuilder;
use aws_sdk_elasticache::types::{AzMode, CacheCluster, CacheNode, Endpoint};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{ElastiCacheMemcachedSpec, Maintenance};

use crate::elasticache::{
    MODIFY_SETTLE_DELAY, check_cache_owner, ensure_subnet_group, not_ready_when_busy, tags,
    version_moved_by_aws, wait_until_available,
};
use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// ElastiCache documents about 10 minutes for a new cluster; adding many nodes takes longer.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// The statuses a cache cluster passes through on its way to `available`
/// (terraform-provider-aws `waitCacheClusterAvailable`, internal/service/elasticache/wait.go:
/// `Pending` creating, modifying, snapshotting, rebooting cache cluster nodes); any other
/// (`deleting`, `incompatible-network`, `restore-failed`) ends the wait.
const CLUSTER_PENDING: &[&str] = &[
    "creating",
    "modifying",
    "snapshotting",
    "rebooting cache cluster nodes",
];

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

/// The port clients use: the configuration endpoint's, else the first node's.
fn port_of(c: &CacheCluster) -> Option<i32> {
    c.configuration_endpoint()
        .and_then(Endpoint::port)
        .or_else(|| {
            c.cache_nodes()
                .iter()
                .find_map(|n| n.endpoint().and_then(Endpoint::port))
        })
}

/// The ids and outputs of a cluster. `port` stands in for the endpoint's while the cluster has
/// none yet (create and update know the port they asked for; a read does not).
fn outcome(c: &CacheCluster, sg: &str, port: Option<u32>) -> Outcome {
    let mut physical_ids = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    let put = |map: &mut BTreeMap<String, String>, key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            map.insert(key.to_string(), v);
        }
    };
    put(
        &mut physical_ids,
        "cacheCluster",
        c.cache_cluster_id().map(str::to_string),
    );
    put(&mut physical_ids, "arn", c.arn().map(str::to_string));
    put(&mut physical_ids, "securityGroup", Some(sg.to_string()));
    put(
        &mut outputs,
        "configurationEndpoint",
        c.configuration_endpoint()
            .and_then(Endpoint::address)
            .map(str::to_string),
    );
    put(
        &mut outputs,
        "port",
        port_of(c)
            .map(|p| p.to_string())
            .or_else(|| port.map(|p| p.to_string())),
    );
    put(&mut outputs, "arn", c.arn().map(str::to_string));
    put(&mut outputs, "securityGroupId", Some(sg.to_string()));
    Outcome {
        physical_ids,
        outputs,
    }
}

/// Whether the nodes are spread across zones: ElastiCache says `Multiple` as the preferred zone
/// of a cross-AZ cluster; without it, the nodes' own zones tell. `None` when neither is reported.
fn cross_az_of(c: &CacheCluster) -> Option<bool> {
    if let Some(zone) = c.preferred_availability_zone().filter(|z| !z.is_empty()) {
        return Some(zone == "Multiple");
    }
    let zones: std::collections::BTreeSet<&str> = c
        .cache_nodes()
        .iter()
        .filter_map(CacheNode::customer_availability_zone)
        .collect();
    (!zones.is_empty()).then_some(zones.len() > 1)
}

/// The cluster as ElastiCache reports it, in the form of its spec: the inverse of
/// [`create_request`].
fn observe(sg: &str, c: &CacheCluster) -> Observation<ElastiCacheMemcachedSpec> {
    let mut unobserved = vec!["dependsOn"];
    let cross_az = cross_az_of(c);
    if cross_az.is_none() {
        unobserved.push("crossAZ");
    }
    let port = port_of(c);
    if port.is_none() {
        // No endpoint yet (still being created): the port cannot be told.
        unobserved.push("port");
    }
    let auto_minor = c.auto_minor_version_upgrade();
    if auto_minor.is_none() {
        unobserved.push("maintenance.autoMinorVersionUpgrade");
    }
    let spec = ElastiCacheMemcachedSpec {
        node_type: c.cache_node_type().unwrap_or_default().to_string(),
        engine_version: c.engine_version().unwrap_or_default().to_string(),
        nodes: c.num_cache_nodes().unwrap_or_default().max(0) as u32,
        cross_az: cross_az.unwrap_or(false),
        port: port.map_or(0, |p| p.max(0) as u32),
        in_transit_encryption: c.transit_encryption_enabled().unwrap_or(false),
        maintenance: Maintenance {
            window: c
                .preferred_maintenance_window()
                .filter(|w| !w.is_empty())
                .map(str::to_string),
            auto_minor_version_upgrade: auto_minor.unwrap_or(true),
        },
        depends_on: Vec::new(),
    };
    Observation::new(outcome(c, sg, None), spec).unobserved(&unobserved)
}

/// The request that creates the cluster `name` from `s`.
fn create_request(
    cache: &Client,
    name: &str,
    s: &ElastiCacheMemcachedSpec,
    sg: &str,
    t: &BTreeMap<String, String>,
) -> CreateCacheClusterFluentBuilder {
    cache
        .create_cache_cluster()
        .cache_cluster_id(name)
        .engine("memcached")
        .engine_version(&s.engine_version)
        .cache_node_type(&s.node_type)
        .num_cache_nodes(s.nodes as i32)
        .az_mode(az_mode(s))
        .port(s.port as i32)
        .transit_encryption_enabled(s.in_transit_encryption)
        .security_group_ids(sg)
        .cache_subnet_group_name(name)
        .set_preferred_maintenance_window(s.maintenance.window.clone())
        .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
        .set_tags(Some(tags(t)))
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

    /// Waits `delay` (none after a create, which reports `creating` at once;
    /// [`MODIFY_SETTLE_DELAY`] after a modify), then until the cluster is `available`.
    async fn wait_cluster_available(
        &self,
        id: &str,
        delay: Duration,
    ) -> Result<CacheCluster, ProviderError> {
        let what = format!("ElastiCache cluster {id}");
        wait_until_available(&what, CLUSTER_PENDING, delay, AVAILABLE_TIMEOUT, || async {
            Ok(self
                .describe(id)
                .await?
                .map(|c| (c.cache_cluster_status().unwrap_or_default().to_string(), c)))
        })
        .await
    }
}

impl KindProvider for MemcachedProvider {
    type Spec = ElastiCacheMemcachedSpec;
    const KIND: &'static str = "ElastiCacheMemcached";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    /// The engine version when AWS moved it (a newer patch of the same `1.6` line with minor
    /// upgrades on), and the maintenance window when the spec leaves it to ElastiCache.
    fn managed_by_aws(
        recorded: &ElastiCacheMemcachedSpec,
        live: &ElastiCacheMemcachedSpec,
    ) -> Vec<&'static str> {
        let mut managed = Vec::new();
        if version_moved_by_aws(
            &recorded.engine_version,
            &live.engine_version,
            recorded.maintenance.auto_minor_version_upgrade,
            2,
        ) {
            managed.push("engineVersion");
        }
        if recorded.maintenance.window.is_none() {
            managed.push("maintenance.window");
        }
        managed
    }

    async fn create(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        // A cluster of this name that exists already is this component's only when it carries
        // the component's tags (CreateCacheCluster sets them): anybody else's is refused before
        // panka makes or changes anything around it.
        let existing = self.describe(t.name).await?;
        if let Some(c) = &existing {
            check_cluster_owner(&self.cache, c, t).await?;
        }
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (Memcached)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(c) = existing {
            // Created by a run that did not finish: wait for it rather than create it again.
            let c = if c.cache_cluster_status() == Some("available") {
                c
            } else {
                self.wait_cluster_available(t.name, Duration::ZERO).await?
            };
            return Ok(outcome(&c, &sg, Some(s.port)));
        }
        ensure_subnet_group(&self.cache, t.name, &place.subnets, t.tags).await?;
        match create_request(&self.cache, t.name, s, &sg, t.tags)
            .send()
            .await
        {
            Ok(_) => {}
            // The SDK's retry of a create whose answer was lost: the cluster is there; its tags
            // say whether it is the one this create made.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_cache_cluster_already_exists_fault()) =>
            {
                if let Some(c) = self.describe(t.name).await? {
                    check_cluster_owner(&self.cache, &c, t).await?;
                }
            }
            Err(e) => {
                return Err(aws_error(
                    format!("creating ElastiCache cluster {}", t.name),
                    e,
                ));
            }
        }
        let c = self.wait_cluster_available(t.name, Duration::ZERO).await?;
        Ok(outcome(&c, &sg, Some(s.port)))
    }

    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<ElastiCacheMemcachedSpec>>, ProviderError> {
        // States written before the cluster's id was recorded: it is the component's name.
        let cluster = id.ids.get("cacheCluster").map_or(id.name, String::as_str);
        let Some(c) = self.describe(cluster).await? else {
            return Ok(None);
        };
        let sg = id.ids.get("securityGroup").map_or("", String::as_str);
        Ok(Some(observe(sg, &c)))
    }

    async fn update(
        &self,
        t: &Target<'_, ElastiCacheMemcachedSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let mut current = self.describe(t.name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("cache cluster {} does not exist", t.name),
            )
        })?;
        if current.cache_cluster_status() != Some("available") {
            // ElastiCache refuses a change while another is in progress (an earlier run's).
            current = self.wait_cluster_available(t.name, Duration::ZERO).await?;
        }
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
        req.send().await.map_err(|e| {
            not_ready_when_busy(format!("modifying ElastiCache cluster {}", t.name), e)
        })?;
        // Reported `available` for a moment after the call: looked at only after the delay.
        let c = self
            .wait_cluster_available(t.name, MODIFY_SETTLE_DELAY)
            .await?;
        if let Some(arn) = current.arn() {
            self.cache
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging ElastiCache cluster {}", t.name), e))?;
        }
        Ok(outcome(
            &c,
            ids.get("securityGroup")
                .map(String::as_str)
                .unwrap_or_default(),
            Some(s.port),
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
        check_cluster_owner(&self.cache, &c, t).await?;
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&c, &sg, Some(t.spec.port))))
    }
}

/// Refuses a cache cluster that does not carry the component's tags.
async fn check_cluster_owner(
    cache: &Client,
    c: &CacheCluster,
    t: &Target<'_, ElastiCacheMemcachedSpec>,
) -> Result<(), ProviderError> {
    let what = format!(
        "ElastiCache cluster {}",
        c.cache_cluster_id().unwrap_or(t.name)
    );
    check_cache_owner(cache, c.arn(), &what, t.address, t.tags).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticache::operation::create_cache_cluster::builders::CreateCacheClusterInputBuilder;
    use aws_sdk_elasticache::operation::describe_cache_clusters::{
        DescribeCacheClustersError, DescribeCacheClustersOutput,
    };
    use aws_sdk_elasticache::types::error::CacheClusterNotFoundFault;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::{Value, json};

    const NAME: &str = "shop-dev-web-sessions";
    const ARN: &str = "arn:aws:elasticache:us-east-1:123456789012:cluster:shop-dev-web-sessions";

    fn sdk_config() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build()
    }

    fn full_spec() -> ElastiCacheMemcachedSpec {
        serde_json::from_value(json!({
            "nodeType": "cache.r7g.large", "engineVersion": "1.6.22", "nodes": 3, "crossAZ": true,
            "port": 11212, "inTransitEncryption": true,
            "maintenance": {"window": "sun:05:00-sun:06:00", "autoMinorVersionUpgrade": false}
        }))
        .unwrap()
    }

    /// The CreateCacheCluster request panka sends for `spec`.
    fn request(spec: &ElastiCacheMemcachedSpec) -> CreateCacheClusterInputBuilder {
        let cache = Client::new(&sdk_config());
        create_request(&cache, NAME, spec, "sg-1", &BTreeMap::new())
            .as_input()
            .clone()
    }

    /// What DescribeCacheClusters(ShowCacheNodeInfo) answers for a cluster made by `r`
    /// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CacheCluster.html):
    /// `Multiple` as the preferred zone of a cross-AZ cluster, its nodes over two zones, a
    /// configuration endpoint on the port asked for, a window ElastiCache picks when none was.
    fn answer(r: &CreateCacheClusterInputBuilder) -> CacheCluster {
        let port = r.get_port().unwrap();
        let cross = r.get_az_mode() == &Some(AzMode::CrossAz);
        let mut c = CacheCluster::builder()
            .cache_cluster_id(NAME)
            .arn(ARN)
            .cache_cluster_status("available")
            .engine("memcached")
            .engine_version(r.get_engine_version().clone().unwrap())
            .cache_node_type(r.get_cache_node_type().clone().unwrap())
            .num_cache_nodes(r.get_num_cache_nodes().unwrap())
            .preferred_availability_zone(if cross { "Multiple" } else { "us-east-1a" })
            .configuration_endpoint(
                Endpoint::builder()
                    .address("sessions.cfg.use1.cache.amazonaws.com")
                    .port(port)
                    .build(),
            )
            .transit_encryption_enabled(r.get_transit_encryption_enabled().unwrap())
            .preferred_maintenance_window(
                r.get_preferred_maintenance_window()
                    .clone()
                    .unwrap_or("sat:07:00-sat:08:00".into()),
            )
            .auto_minor_version_upgrade(r.get_auto_minor_version_upgrade().unwrap());
        for n in 1..=r.get_num_cache_nodes().unwrap() {
            let zone = if cross && n % 2 == 0 {
                "us-east-1b"
            } else {
                "us-east-1a"
            };
            c = c.cache_nodes(
                CacheNode::builder()
                    .cache_node_id(format!("{n:04}"))
                    .cache_node_status("available")
                    .customer_availability_zone(zone)
                    .endpoint(
                        Endpoint::builder()
                            .address(format!("sessions.{n:04}.use1.cache.amazonaws.com"))
                            .port(port)
                            .build(),
                    )
                    .build(),
            );
        }
        c.build()
    }

    async fn read_back(c: CacheCluster) -> Observation<ElastiCacheMemcachedSpec> {
        let describe = mock!(Client::describe_cache_clusters)
            .match_requests(|r| r.cache_cluster_id() == Some(NAME))
            .then_output(move || {
                DescribeCacheClustersOutput::builder()
                    .cache_clusters(c.clone())
                    .build()
            });
        let cache = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, [&describe]);
        let provider = MemcachedProvider::new(cache, aws_sdk_ec2::Client::new(&sdk_config()));
        let ids = BTreeMap::from([
            ("cacheCluster".to_string(), NAME.to_string()),
            ("securityGroup".to_string(), "sg-1".to_string()),
        ]);
        let outputs = BTreeMap::new();
        let id = crate::test_identity("web/sessions", NAME, &ids, &outputs);
        let seen = provider.read(&id).await.unwrap().unwrap();
        assert_eq!(describe.num_calls(), 1, "one call reads a cluster");
        seen
    }

    #[tokio::test]
    async fn a_cluster_made_from_a_full_spec_reads_back_as_that_spec() {
        let spec = full_spec();
        let seen = read_back(answer(&request(&spec))).await;
        assert_eq!(seen.spec, spec);
        assert_eq!(seen.unobserved, ["dependsOn"]);
        assert!(MemcachedProvider::managed_by_aws(&spec, &seen.spec).is_empty());
        let outputs = &seen.outcome.outputs;
        assert_eq!(
            outputs["configurationEndpoint"],
            "sessions.cfg.use1.cache.amazonaws.com"
        );
        assert_eq!(outputs["port"], "11212");
        assert_eq!(outputs["arn"], ARN);
        assert_eq!(outputs["securityGroupId"], "sg-1");
        assert_eq!(seen.outcome.physical_ids["arn"], ARN);

        // Still being created: no endpoint, so no port and no empty outputs; the port is not
        // observed, the zones come from the nodes.
        let mut creating = answer(&request(&spec));
        creating.configuration_endpoint = None;
        if let Some(nodes) = &mut creating.cache_nodes {
            nodes.iter_mut().for_each(|n| n.endpoint = None);
        }
        creating.preferred_availability_zone = None;
        let seen = read_back(creating).await;
        assert_eq!(seen.unobserved, ["dependsOn", "port"]);
        assert!(seen.spec.cross_az);
        assert!(!seen.outcome.outputs.contains_key("configurationEndpoint"));
        assert!(!seen.outcome.outputs.contains_key("port"));
    }

    #[tokio::test]
    async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
        type Change = fn(CreateCacheClusterInputBuilder) -> CreateCacheClusterInputBuilder;
        let cases: Vec<(Change, &str, Value)> = vec![
            (
                |r| r.cache_node_type("cache.m7g.large"),
                "/nodeType",
                "cache.m7g.large".into(),
            ),
            (
                |r| r.engine_version("1.6.24"),
                "/engineVersion",
                "1.6.24".into(),
            ),
            (|r| r.num_cache_nodes(5), "/nodes", 5.into()),
            (|r| r.az_mode(AzMode::SingleAz), "/crossAZ", false.into()),
            (|r| r.port(11300), "/port", 11300.into()),
            (
                |r| r.transit_encryption_enabled(false),
                "/inTransitEncryption",
                false.into(),
            ),
            (
                |r| r.preferred_maintenance_window("mon:01:00-mon:02:00"),
                "/maintenance/window",
                "mon:01:00-mon:02:00".into(),
            ),
            (
                |r| r.auto_minor_version_upgrade(true),
                "/maintenance/autoMinorVersionUpgrade",
                true.into(),
            ),
        ];
        let spec = full_spec();
        let baseline = serde_json::to_value(&spec).unwrap();
        for (change, pointer, value) in cases {
            let seen = read_back(answer(&change(request(&spec)))).await;
            let mut expected = baseline.clone();
            *expected.pointer_mut(pointer).unwrap() = value;
            assert_eq!(
                serde_json::to_value(&seen.spec).unwrap(),
                expected,
                "only {pointer} differs"
            );
        }
    }

    #[tokio::test]
    async fn a_cluster_gone_from_aws_reads_as_absent() {
        let gone = mock!(Client::describe_cache_clusters).then_error(|| {
            DescribeCacheClustersError::CacheClusterNotFoundFault(
                CacheClusterNotFoundFault::builder().build(),
            )
        });
        let cache = mock_client!(aws_sdk_elasticache, [&gone]);
        let provider = MemcachedProvider::new(cache, aws_sdk_ec2::Client::new(&sdk_config()));
        let ids = BTreeMap::from([("cacheCluster".to_string(), NAME.to_string())]);
        let outputs = BTreeMap::new();
        let id = crate::test_identity("web/sessions", NAME, &ids, &outputs);
        assert!(provider.read(&id).await.unwrap().is_none());
    }

    #[test]
    fn aws_manages_patch_upgrades_and_an_unset_window() {
        let spec = full_spec();
        let mut live = spec.clone();
        live.engine_version = "1.6.24".into();
        // Minor upgrades off in the full spec: a new patch is drift.
        assert!(MemcachedProvider::managed_by_aws(&spec, &live).is_empty());
        let mut auto = spec.clone();
        auto.maintenance.auto_minor_version_upgrade = true;
        assert_eq!(
            MemcachedProvider::managed_by_aws(&auto, &live),
            ["engineVersion"]
        );
        live.engine_version = "1.7.0".into();
        assert!(MemcachedProvider::managed_by_aws(&auto, &live).is_empty());
        auto.maintenance.window = None;
        assert_eq!(
            MemcachedProvider::managed_by_aws(&auto, &live),
            ["maintenance.window"]
        );
    }

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

    /// A cluster still modifying (an earlier run's change) is waited for before
    /// ModifyCacheCluster; after it, ElastiCache reports `available` for a moment before
    /// `modifying`, so the first look comes only after [`MODIFY_SETTLE_DELAY`] and the update
    /// ends on the `available` that follows `modifying`. ModifyCacheCluster refused with
    /// InvalidCacheClusterState is a dependency not ready, tried again by the engine.
    /// https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyCacheCluster.html
    #[tokio::test]
    async fn a_change_waits_for_the_cluster_to_be_available_before_and_after() {
        use aws_sdk_elasticache::operation::add_tags_to_resource::AddTagsToResourceOutput;
        use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
        use aws_sdk_elasticache::operation::modify_cache_cluster::ModifyCacheClusterOutput;
        use aws_smithy_mocks::{MockResponse, RuleMode, mock, mock_client};
        use panka_engine::Transient;
        use std::sync::{Arc, Mutex};
        use std::time::Instant;

        // The change in progress (accepted when, looks of `modifying` left), and the calls.
        type Cluster = Arc<Mutex<(Option<(Instant, u32)>, Vec<String>)>>;
        let earlier = Instant::now().checked_sub(MODIFY_SETTLE_DELAY * 2).unwrap();
        let cluster: Cluster = Arc::new(Mutex::new((Some((earlier, 1)), Vec::new())));
        let c = cluster.clone();
        let describe = mock!(Client::describe_cache_clusters).then_compute_output(move |_| {
            let mut c = c.lock().unwrap();
            let (change, log) = &mut *c;
            let status = match change {
                Some((at, _)) if at.elapsed() < MODIFY_SETTLE_DELAY => "available",
                Some((_, 0)) => {
                    *change = None;
                    "available"
                }
                Some((_, left)) => {
                    *left -= 1;
                    "modifying"
                }
                None => "available",
            };
            log.push(format!("describe: {status}"));
            DescribeCacheClustersOutput::builder()
                .cache_clusters(
                    CacheCluster::builder()
                        .cache_cluster_id("shop-dev-web-sessions")
                        .arn(ARN)
                        .cache_cluster_status(status)
                        .cache_node_type("cache.t4g.micro")
                        .num_cache_nodes(2)
                        .build(),
                )
                .build()
        });
        let c = cluster.clone();
        let modify = mock!(Client::modify_cache_cluster).then_compute_response(move |_| {
            let mut c = c.lock().unwrap();
            if c.0.is_some() {
                c.1.push("ModifyCacheCluster: refused".into());
                return MockResponse::Http(crate::aws_replies::query(
                    400,
                    "InvalidCacheClusterState",
                    "Cache cluster shop-dev-web-sessions is not in available state.",
                ));
            }
            c.0 = Some((Instant::now(), 2));
            c.1.push("ModifyCacheCluster".into());
            MockResponse::Output(ModifyCacheClusterOutput::builder().build())
        });
        let c = cluster.clone();
        let tag = mock!(Client::add_tags_to_resource).then_compute_output(move |_| {
            c.lock().unwrap().1.push("AddTagsToResource".into());
            AddTagsToResourceOutput::builder().build()
        });
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
            serde_json::json!({"nodeType": "cache.m7g.large", "engineVersion": "1.6.22", "nodes": 2}),
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
        let out = provider.update(&target, &ids).await;
        let log = cluster.lock().unwrap().1.clone();
        out.unwrap_or_else(|e| panic!("{}; calls: {log:?}", e.chain()));
        assert_eq!(
            log,
            [
                "describe: modifying",
                "describe: available",
                "ModifyCacheCluster",
                "describe: modifying",
                "describe: modifying",
                "describe: available",
                "AddTagsToResource",
            ]
        );

        // Someone else's change starts between panka's look and its call.
        cluster.lock().unwrap().1.clear();
        let c = cluster.clone();
        let raced = mock!(Client::describe_cache_clusters).then_compute_output(move |_| {
            let mut c = c.lock().unwrap();
            c.0 = Some((Instant::now(), 1));
            c.1.push("describe: available".into());
            DescribeCacheClustersOutput::builder()
                .cache_clusters(
                    CacheCluster::builder()
                        .cache_cluster_id("shop-dev-web-sessions")
                        .cache_cluster_status("available")
                        .build(),
                )
                .build()
        });
        let cache = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, [&raced, &modify]);
        let provider = MemcachedProvider::new(cache, aws_sdk_ec2::Client::new(&conf));
        let err = provider.update(&target, &ids).await.unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::Transient(Transient::DependencyNotReady),
            "{}",
            err.chain()
        );
        assert_eq!(
            cluster.lock().unwrap().1,
            ["describe: available", "ModifyCacheCluster: refused"]
        );
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
