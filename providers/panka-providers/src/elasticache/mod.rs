//! ElastiCache Redis replication groups: a cache subnet group in the stack's private subnets, a
//! parameter group when `parameters` are given, a security group, and the replication group
//! (replicas, shards, encryption at rest and in transit, failover, snapshots).
//!
//! Outputs: `primaryEndpoint`, `readerEndpoint` (cluster mode off), `port`, `arn`,
//! `securityGroupId`; each only when AWS has a value for it. Encryption at rest and the port force
//! replacement; node type, version, replicas, failover and windows change in place.
//!
//! A read observes the group (DescribeReplicationGroups), its primary cache cluster for what the
//! group does not report (DescribeCacheClusters: engine version, maintenance window, parameter
//! group) and, with panka's own parameter group, the parameters set in it (DescribeCacheParameters).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::client::Waiters;
use aws_sdk_elasticache::operation::create_replication_group::builders::CreateReplicationGroupFluentBuilder;
use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, CacheCluster, Endpoint, MultiAzStatus, ParameterNameValue,
    ReplicationGroup, Tag,
};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{CacheEncryption, ElastiCacheRedisSpec, Maintenance, StringMap};

use crate::errors::{
    aws_error, aws_error_when, check_owner, poll_while, unless_gone, unless_missing,
};
use crate::network::{delete_security_group, ensure_security_group, placement};
use panka_engine::Transient;

/// ElastiCache documents 10-20 minutes for a new replication group; more with many shards.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
const DELETED_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// Between two looks at a replication group or cache cluster that is changing:
/// terraform-provider-aws looks no more often than every 10 seconds (`MinTimeout: 10 *
/// time.Second` of `waitReplicationGroupAvailable`, internal/service/elasticache/wait.go and
/// replication_group.go). The unit tests replay the statuses without the wait.
#[cfg(not(test))]
pub(crate) const STATUS_POLL: Duration = Duration::from_secs(10);
#[cfg(test)]
pub(crate) const STATUS_POLL: Duration = Duration::from_millis(1);

/// How long after a Modify* (or replica count) call the first look waits. ElastiCache accepts
/// the change and keeps reporting the group `available` for a moment before it turns
/// `modifying`: a look at once takes the change for done, and the next call then meets
/// `InvalidReplicationGroupState` ("is not in available state"). terraform-provider-aws waits
/// 30 seconds before its first look (`replicationGroupAvailableDelay` and
/// `cacheClusterAvailableDelay = 30 * time.Second`, internal/service/elasticache/wait.go; the
/// `delay` of `waitReplicationGroupAvailable` after a modify in replication_group.go). The unit
/// tests shorten it; their replayed group stays `available` for exactly this long.
#[cfg(not(test))]
pub(crate) const MODIFY_SETTLE_DELAY: Duration = Duration::from_secs(30);
#[cfg(test)]
pub(crate) const MODIFY_SETTLE_DELAY: Duration = Duration::from_millis(10);

/// The statuses a replication group passes through on its way to `available`
/// (terraform-provider-aws `waitReplicationGroupAvailable`: `Pending` creating, modifying,
/// snapshotting); any other (`create-failed`, `deleting`) ends the wait.
const GROUP_PENDING: &[&str] = &["creating", "modifying", "snapshotting"];

/// Waits `delay`, then looks (with `look`: the status and the described thing, `None` when it
/// is gone) every [`STATUS_POLL`] until the status is `available`, for at most `timeout`.
/// `what` names the thing for messages ("ElastiCache replication group shop-dev-cache").
///
/// # Errors
/// [`ErrorKind::Timeout`] while still pending after `timeout`; [`ErrorKind::Conflict`] for a
/// status outside `pending` (being deleted, failed); [`ErrorKind::NotFound`] when it is gone;
/// the errors of `look`.
pub(crate) async fn wait_until_available<T, F, Fut>(
    what: &str,
    pending: &[&str],
    delay: Duration,
    timeout: Duration,
    look: F,
) -> Result<T, ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<(String, T)>, ProviderError>>,
{
    tokio::time::sleep(delay).await;
    let polls = (timeout.as_millis() / STATUS_POLL.as_millis()).max(1) as usize;
    let check = || {
        let looked = look();
        async move {
            match looked.await? {
                Some((status, found)) if status == "available" => Ok(found),
                Some((status, _)) if pending.contains(&status.as_str()) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "waiting for {what} to become available: still {status} after {} minutes",
                        timeout.as_secs() / 60
                    ),
                )),
                Some((status, _)) => Err(ProviderError::new(
                    ErrorKind::Conflict,
                    format!("waiting for {what} to become available: it is {status}"),
                )),
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("{what} vanished while becoming available"),
                )),
            }
        }
    };
    poll_while(STATUS_POLL, polls, ErrorKind::Timeout, check).await
}

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

/// The group's primary (or, with cluster mode on, configuration) endpoint.
fn primary_endpoint(g: &ReplicationGroup) -> Option<&Endpoint> {
    g.configuration_endpoint()
        .or_else(|| g.node_groups().first().and_then(|n| n.primary_endpoint()))
}

/// The ids and outputs of a group. `port` stands in for the endpoint's port while the group
/// has no endpoint yet (create and update know the port they asked for; a read does not).
fn outcome(g: &ReplicationGroup, sg: &str, port: Option<u32>) -> Outcome {
    let primary = primary_endpoint(g);
    let reader = g.node_groups().first().and_then(|n| n.reader_endpoint());
    let mut physical_ids = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    let put = |map: &mut BTreeMap<String, String>, key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            map.insert(key.to_string(), v);
        }
    };
    put(
        &mut physical_ids,
        "replicationGroup",
        g.replication_group_id().map(str::to_string),
    );
    put(&mut physical_ids, "arn", g.arn().map(str::to_string));
    put(&mut physical_ids, "securityGroup", Some(sg.to_string()));
    put(
        &mut outputs,
        "primaryEndpoint",
        primary.and_then(Endpoint::address).map(str::to_string),
    );
    put(
        &mut outputs,
        "readerEndpoint",
        reader.and_then(Endpoint::address).map(str::to_string),
    );
    put(
        &mut outputs,
        "port",
        primary
            .and_then(Endpoint::port)
            .map(|p| p.to_string())
            .or_else(|| port.map(|p| p.to_string())),
    );
    put(&mut outputs, "arn", g.arn().map(str::to_string));
    put(&mut outputs, "securityGroupId", Some(sg.to_string()));
    Outcome {
        physical_ids,
        outputs,
    }
}

/// Whether AWS, not the configuration, moved the engine version from `recorded` to `live`: a
/// version given as a prefix (`7`, `7.1`) that AWS runs at its latest release (`7.1.0`), or,
/// with automatic minor upgrades, a newer release of the same line. `line` is how many leading
/// parts name a release line: 1 for Redis (`7`), 2 for Memcached (`1.6`).
pub(crate) fn version_moved_by_aws(
    recorded: &str,
    live: &str,
    auto_minor_upgrade: bool,
    line: usize,
) -> bool {
    // The same rule as RDS's, with the release line in place of the major version.
    crate::rds::version_not_drift(recorded, live, line, auto_minor_upgrade)
}

/// The replicas per shard: the members of the first node group past its primary, or, when
/// the group does not list its members, the member clusters spread over the shards.
fn replicas_of(g: &ReplicationGroup, shards: u32) -> u32 {
    let listed = g
        .node_groups()
        .first()
        .map(|n| n.node_group_members().len())
        .unwrap_or(0);
    let per_shard = if listed > 0 {
        listed
    } else {
        g.member_clusters().len() / shards.max(1) as usize
    };
    per_shard.saturating_sub(1) as u32
}

/// The group as ElastiCache reports it, in the form of its spec: the inverse of
/// [`create_request`]. `member` is the group's primary cache cluster (what the group itself does
/// not report), `parameters` those set in panka's parameter group (empty with a default group).
fn observe(
    sg: &str,
    g: &ReplicationGroup,
    member: Option<&CacheCluster>,
    parameters: Option<StringMap>,
) -> Observation<ElastiCacheRedisSpec> {
    let mut unobserved = vec!["dependsOn"];
    let shards = (g.node_groups().len() as u32).max(1);
    let replicas = replicas_of(g, shards);
    let failover = matches!(
        g.automatic_failover(),
        Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
    );
    // Unset, panka turns failover on exactly when there is a replica or a second shard.
    let derived = replicas > 0 || shards > 1;
    let port = primary_endpoint(g).and_then(Endpoint::port);
    if port.is_none() {
        // No endpoint yet (still being created): the port cannot be told.
        unobserved.push("port");
    }
    let engine_version = member.and_then(CacheCluster::engine_version);
    if engine_version.is_none() {
        unobserved.push("engineVersion");
    }
    let window = member.and_then(CacheCluster::preferred_maintenance_window);
    if member.is_none() {
        unobserved.push("maintenance.window");
    }
    let auto_minor = g
        .auto_minor_version_upgrade()
        .or_else(|| member.and_then(CacheCluster::auto_minor_version_upgrade));
    if auto_minor.is_none() {
        unobserved.push("maintenance.autoMinorVersionUpgrade");
    }
    if parameters.is_none() {
        unobserved.push("parameters");
    }
    let spec = ElastiCacheRedisSpec {
        node_type: g
            .cache_node_type()
            .or_else(|| member.and_then(CacheCluster::cache_node_type))
            .unwrap_or_default()
            .to_string(),
        engine_version: engine_version.unwrap_or_default().to_string(),
        replicas,
        shards,
        encryption: CacheEncryption {
            at_rest: g.at_rest_encryption_enabled().unwrap_or(false),
            in_transit: g.transit_encryption_enabled().unwrap_or(false),
            kms_key_id: g.kms_key_id().filter(|k| !k.is_empty()).map(str::to_string),
        },
        automatic_failover: (failover != derived).then_some(failover),
        multi_az: g.multi_az() == Some(&MultiAzStatus::Enabled),
        port: port.map_or(0, |p| p.max(0) as u32),
        snapshot_retention_days: g.snapshot_retention_limit().unwrap_or(0).max(0) as u32,
        maintenance: Maintenance {
            window: window.filter(|w| !w.is_empty()).map(str::to_string),
            auto_minor_version_upgrade: auto_minor.unwrap_or(true),
        },
        parameters: parameters.unwrap_or_default(),
        depends_on: Vec::new(),
    };
    Observation::new(outcome(g, sg, None), spec).unobserved(&unobserved)
}

/// The cache cluster that is the group's primary (the first member when no role is reported).
fn primary_member(g: &ReplicationGroup) -> Option<&str> {
    let members = g.node_groups().first().map(|n| n.node_group_members());
    members
        .and_then(|m| {
            m.iter()
                .find(|m| m.current_role() == Some("primary"))
                .or_else(|| m.first())
        })
        .and_then(|m| m.cache_cluster_id())
        .or_else(|| g.member_clusters().first().map(String::as_str))
}

/// The spec's parameters as ModifyCacheParameterGroup takes them.
fn parameter_values(s: &ElastiCacheRedisSpec) -> Vec<ParameterNameValue> {
    s.parameters
        .iter()
        .map(|(k, v)| {
            ParameterNameValue::builder()
                .parameter_name(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

/// The request that creates the group `name` for `address` from `s`.
fn create_request(
    cache: &Client,
    name: &str,
    address: &str,
    s: &ElastiCacheRedisSpec,
    sg: &str,
    params: Option<String>,
    t: &BTreeMap<String, String>,
) -> CreateReplicationGroupFluentBuilder {
    let req = cache
        .create_replication_group()
        .replication_group_id(name)
        .replication_group_description(format!("panka: {address}"))
        .engine("redis")
        .engine_version(&s.engine_version)
        .cache_node_type(&s.node_type)
        .automatic_failover_enabled(failover(s))
        .multi_az_enabled(s.multi_az)
        .at_rest_encryption_enabled(s.encryption.at_rest)
        .transit_encryption_enabled(s.encryption.in_transit)
        .set_kms_key_id(s.encryption.kms_key_id.clone())
        .port(s.port as i32)
        .security_group_ids(sg)
        .cache_subnet_group_name(name)
        .set_cache_parameter_group_name(params)
        .snapshot_retention_limit(s.snapshot_retention_days as i32)
        .set_preferred_maintenance_window(s.maintenance.window.clone())
        .auto_minor_version_upgrade(s.maintenance.auto_minor_version_upgrade)
        .set_tags(Some(tags(t)));
    if s.shards > 1 {
        req.num_node_groups(s.shards as i32)
            .replicas_per_node_group(s.replicas as i32)
    } else {
        req.num_cache_clusters(1 + s.replicas as i32)
    }
}

impl RedisProvider {
    /// Refuses a replication group that does not carry the component's tags.
    async fn check_group_owner(
        &self,
        g: &ReplicationGroup,
        t: &Target<'_, ElastiCacheRedisSpec>,
    ) -> Result<(), ProviderError> {
        let what = format!(
            "ElastiCache replication group {}",
            g.replication_group_id().unwrap_or(t.name)
        );
        check_cache_owner(&self.cache, g.arn(), &what, t.address, t.tags).await
    }

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

    /// One cache cluster of a group; `None` when ElastiCache does not know it.
    async fn describe_member(&self, id: &str) -> Result<Option<CacheCluster>, ProviderError> {
        let found = unless_missing(
            self.cache
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send()
                .await,
            |s| s.is_cache_cluster_not_found_fault(),
            format!("reading ElastiCache cluster {id}"),
        )?;
        Ok(found.and_then(|r| r.cache_clusters().first().cloned()))
    }

    /// The parameters set in the parameter group `name` (those whose source is `user`), sorted
    /// by name; `None` when the group is gone.
    async fn user_parameters(&self, name: &str) -> Result<Option<StringMap>, ProviderError> {
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let page = unless_missing(
                self.cache
                    .describe_cache_parameters()
                    .cache_parameter_group_name(name)
                    .source("user")
                    .set_marker(marker)
                    .send()
                    .await,
                |s| s.is_cache_parameter_group_not_found_fault(),
                format!("reading cache parameter group {name}"),
            )?;
            let Some(page) = page else {
                return Ok(None);
            };
            found.extend(page.parameters().iter().filter_map(|p| {
                Some((
                    p.parameter_name()?.to_string(),
                    p.parameter_value()?.to_string(),
                ))
            }));
            marker = page.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        found.sort();
        Ok(Some(found.into_iter().collect()))
    }

    /// Waits `delay` (none after a create, which reports `creating` at once;
    /// [`MODIFY_SETTLE_DELAY`] after a modify), then until the group is `available`.
    async fn wait_group_available(
        &self,
        id: &str,
        delay: Duration,
    ) -> Result<ReplicationGroup, ProviderError> {
        let what = format!("ElastiCache replication group {id}");
        wait_until_available(&what, GROUP_PENDING, delay, AVAILABLE_TIMEOUT, || async {
            Ok(self
                .describe(id)
                .await?
                .map(|g| (g.status().unwrap_or_default().to_string(), g)))
        })
        .await
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
        let values = parameter_values(s);
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
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    /// The engine version when AWS moved it ([`version_moved_by_aws`]), and the maintenance
    /// window when the spec leaves it to ElastiCache (which then picks one).
    fn managed_by_aws(
        recorded: &ElastiCacheRedisSpec,
        live: &ElastiCacheRedisSpec,
    ) -> Vec<&'static str> {
        let mut managed = Vec::new();
        if version_moved_by_aws(
            &recorded.engine_version,
            &live.engine_version,
            recorded.maintenance.auto_minor_version_upgrade,
            1,
        ) {
            managed.push("engineVersion");
        }
        if recorded.maintenance.window.is_none() {
            managed.push("maintenance.window");
        }
        managed
    }

    async fn create(&self, t: &Target<'_, ElastiCacheRedisSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        // A group of this name that exists already is this component's only when it carries the
        // component's tags (CreateReplicationGroup sets them): anybody else's is refused before
        // panka makes or changes anything around it.
        let existing = self.describe(t.name).await?;
        if let Some(g) = &existing {
            self.check_group_owner(g, t).await?;
        }
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (Redis)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(g) = existing {
            // Created by a run that did not finish: wait for it rather than create it again.
            let g = if g.status() == Some("available") {
                g
            } else {
                self.wait_group_available(t.name, Duration::ZERO).await?
            };
            return Ok(outcome(&g, &sg, Some(s.port)));
        }
        ensure_subnet_group(&self.cache, t.name, &place.subnets, t.tags).await?;
        let params = self.ensure_parameter_group(t.name, s).await?;
        let req = create_request(&self.cache, t.name, t.address, s, &sg, params, t.tags);
        match req.send().await {
            Ok(_) => {}
            // The SDK's retry of a create whose answer was lost: the group is there; its tags
            // say whether it is the one this create made.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_replication_group_already_exists_fault()) =>
            {
                if let Some(g) = self.describe(t.name).await? {
                    self.check_group_owner(&g, t).await?;
                }
            }
            Err(e) => {
                return Err(aws_error(
                    format!("creating ElastiCache replication group {}", t.name),
                    e,
                ));
            }
        }
        let g = self.wait_group_available(t.name, Duration::ZERO).await?;
        Ok(outcome(&g, &sg, Some(s.port)))
    }

    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<ElastiCacheRedisSpec>>, ProviderError> {
        // States written before the group's id was recorded: it is the component's name.
        let group_id = id
            .ids
            .get("replicationGroup")
            .map_or(id.name, String::as_str);
        let Some(g) = self.describe(group_id).await? else {
            return Ok(None);
        };
        let member = match primary_member(&g) {
            Some(m) => self.describe_member(m).await?,
            None => None,
        };
        let group = member
            .as_ref()
            .and_then(|m| m.cache_parameter_group())
            .and_then(|p| p.cache_parameter_group_name());
        let parameters = match (member.as_ref(), group) {
            // ElastiCache's default groups (`default.redis7`) hold no setting of the spec.
            (Some(_), Some(name)) if !name.starts_with("default.") => {
                self.user_parameters(name).await?
            }
            (Some(_), _) => Some(StringMap::new()),
            (None, _) => None,
        };
        let sg = id.ids.get("securityGroup").map_or("", String::as_str);
        Ok(Some(observe(sg, &g, member.as_ref(), parameters)))
    }

    /// One change at a time: the group is `available` before each call (ElastiCache refuses a
    /// change while another is in progress), and each call is waited for, from `modifying`
    /// back to `available`, before the next one.
    async fn update(
        &self,
        t: &Target<'_, ElastiCacheRedisSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let mut current = self.describe(t.name).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("replication group {} does not exist", t.name),
            )
        })?;
        if current.status() != Some("available") {
            // A change of an earlier run (or of someone else) still in progress.
            current = self.wait_group_available(t.name, Duration::ZERO).await?;
        }
        let params = self.ensure_parameter_group(t.name, s).await?;
        let modified = self
            .cache
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
            .await;
        modified.map_err(|e| {
            not_ready_when_busy(
                format!("modifying ElastiCache replication group {}", t.name),
                e,
            )
        })?;
        let mut g = self
            .wait_group_available(t.name, MODIFY_SETTLE_DELAY)
            .await?;
        // Replicas: with cluster mode off, the first node group's members are primary + replicas.
        let replicas_now = current
            .node_groups()
            .first()
            .map(|n| n.node_group_members().len().saturating_sub(1))
            .unwrap_or(0) as u32;
        if s.shards <= 1 && replicas_now != s.replicas {
            if s.replicas > replicas_now {
                self.cache
                    .increase_replica_count()
                    .replication_group_id(t.name)
                    .apply_immediately(true)
                    .new_replica_count(s.replicas as i32)
                    .send()
                    .await
                    .map_err(|e| {
                        not_ready_when_busy(format!("adding replicas to {}", t.name), e)
                    })?;
            } else {
                self.cache
                    .decrease_replica_count()
                    .replication_group_id(t.name)
                    .apply_immediately(true)
                    .new_replica_count(s.replicas as i32)
                    .send()
                    .await
                    .map_err(|e| {
                        not_ready_when_busy(format!("removing replicas from {}", t.name), e)
                    })?;
            }
            g = self
                .wait_group_available(t.name, MODIFY_SETTLE_DELAY)
                .await?;
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
        Ok(outcome(
            &g,
            ids.get("securityGroup")
                .map(String::as_str)
                .unwrap_or_default(),
            Some(s.port),
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
        // Made only when the spec had parameters: often not there.
        let deleted = self
            .cache
            .delete_cache_parameter_group()
            .cache_parameter_group_name(name)
            .send()
            .await;
        unless_gone(
            deleted,
            |s| s.is_cache_parameter_group_not_found_fault(),
            format!("deleting cache parameter group {name}"),
        )?;
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
        self.check_group_owner(&g, t).await?;
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(outcome(&g, &sg, Some(t.spec.port))))
    }
}

/// Refuses an ElastiCache resource (`arn`) that does not carry the component's tags
/// (ListTagsForResource); one without an ARN in its description has none to show.
pub(crate) async fn check_cache_owner(
    cache: &Client,
    arn: Option<&str>,
    what: &str,
    address: &str,
    expected: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let tags = match arn {
        Some(arn) => cache
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading tags of {what}"), e))?
            .tag_list()
            .to_vec(),
        None => Vec::new(),
    };
    check_owner(
        what,
        address,
        tags.iter().filter_map(|t| Some((t.key()?, t.value()?))),
        expected,
    )
}

/// Wraps an ElastiCache error of a change, as [`aws_error`] does, but as a dependency not
/// ready yet when ElastiCache refused it because the group or cluster is busy with another
/// change (`InvalidReplicationGroupState`: "Replication group ... is not in available state",
/// `InvalidCacheClusterState`): the engine tries the action again, which waits for `available`
/// first. (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html
/// and API_ModifyCacheCluster.html list these errors.)
pub(crate) fn not_ready_when_busy<E, R>(
    action: impl Into<String>,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> ProviderError
where
    E: std::error::Error
        + aws_smithy_types::error::metadata::ProvideErrorMetadata
        + Send
        + Sync
        + 'static,
    R: crate::errors::HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    aws_error_when(action, e, Transient::DependencyNotReady, |code, _| {
        matches!(
            code,
            Some("InvalidReplicationGroupState" | "InvalidCacheClusterState")
        )
    })
}

#[cfg(test)]
mod tests;
