//! Unit tests for the ElastiCache provider.

use super::*;
use aws_sdk_elasticache::operation::create_replication_group::builders::CreateReplicationGroupInputBuilder;
use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
use aws_sdk_elasticache::operation::describe_cache_parameters::DescribeCacheParametersOutput;
use aws_sdk_elasticache::operation::describe_replication_groups::{
    DescribeReplicationGroupsError, DescribeReplicationGroupsOutput,
};
use aws_sdk_elasticache::types::error::ReplicationGroupNotFoundFault;
use aws_sdk_elasticache::types::{
    CacheParameterGroupStatus, NodeGroup, NodeGroupMember, Parameter,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

const NAME: &str = "shop-dev-orders-cache";
const ARN: &str =
    "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:shop-dev-orders-cache";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd";

fn full_spec() -> ElastiCacheRedisSpec {
    serde_json::from_value(json!({
        "nodeType": "cache.r7g.large", "engineVersion": "7.1", "replicas": 2,
        "encryption": {"atRest": true, "inTransit": true, "kmsKeyId": KEY},
        "multiAZ": true, "port": 6380, "snapshotRetentionDays": 5,
        "maintenance": {"window": "sun:05:00-sun:06:00", "autoMinorVersionUpgrade": false},
        "parameters": {"maxmemory-policy": "allkeys-lru", "timeout": "300"}
    }))
    .unwrap()
}

fn client() -> Client {
    let conf = aws_sdk_elasticache::Config::builder()
        .behavior_version(aws_sdk_elasticache::config::BehaviorVersion::latest())
        .region(aws_sdk_elasticache::config::Region::new("us-east-1"))
        .build();
    Client::from_conf(conf)
}

/// The CreateReplicationGroup request panka sends for `spec`.
fn request(spec: &ElastiCacheRedisSpec) -> CreateReplicationGroupInputBuilder {
    let params = (!spec.parameters.is_empty()).then(|| NAME.to_string());
    create_request(
        &client(),
        NAME,
        "orders/cache",
        spec,
        "sg-1",
        params,
        &BTreeMap::new(),
    )
    .as_input()
    .clone()
}

/// What DescribeReplicationGroups and DescribeCacheClusters answer for a group made by `r`
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ReplicationGroup.html,
/// https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CacheCluster.html):
/// the member clusters `NAME-001`..., the first the primary; one node group with cluster
/// mode off, else one per shard behind a configuration endpoint; the engine at its latest
/// release of the version asked for (`7.1` runs as `7.1.0`).
fn answer(r: &CreateReplicationGroupInputBuilder) -> (ReplicationGroup, CacheCluster) {
    let port = r.get_port().unwrap();
    let endpoint = |host: &str| Endpoint::builder().address(host).port(port).build();
    let shards = r.get_num_node_groups().unwrap_or(1);
    let per_shard = r
        .get_num_cache_clusters()
        .unwrap_or(1 + r.get_replicas_per_node_group().unwrap_or(0));
    let mut g = ReplicationGroup::builder()
        .replication_group_id(NAME)
        .arn(ARN)
        .status("available")
        .cache_node_type(r.get_cache_node_type().clone().unwrap())
        .at_rest_encryption_enabled(r.get_at_rest_encryption_enabled().unwrap())
        .transit_encryption_enabled(r.get_transit_encryption_enabled().unwrap())
        .set_kms_key_id(r.get_kms_key_id().clone())
        .automatic_failover(if r.get_automatic_failover_enabled().unwrap() {
            AutomaticFailoverStatus::Enabled
        } else {
            AutomaticFailoverStatus::Disabled
        })
        .multi_az(if r.get_multi_az_enabled().unwrap() {
            MultiAzStatus::Enabled
        } else {
            MultiAzStatus::Disabled
        })
        .snapshot_retention_limit(r.get_snapshot_retention_limit().unwrap())
        .snapshot_window("03:00-04:00")
        .auto_minor_version_upgrade(r.get_auto_minor_version_upgrade().unwrap())
        .cluster_enabled(shards > 1);
    if shards > 1 {
        g = g.configuration_endpoint(endpoint("clustercfg.cache.use1.cache.amazonaws.com"));
    }
    for shard in 1..=shards {
        let mut group = NodeGroup::builder().node_group_id(format!("{shard:04}"));
        if shards == 1 {
            group = group
                .primary_endpoint(endpoint("master.cache.use1.cache.amazonaws.com"))
                .reader_endpoint(endpoint("replica.cache.use1.cache.amazonaws.com"));
        }
        for n in 1..=per_shard {
            let id = format!("{NAME}-{shard:04}-{n:03}");
            g = g.member_clusters(&id);
            group = group.node_group_members(
                NodeGroupMember::builder()
                    .cache_cluster_id(id)
                    .cache_node_id("0001")
                    .current_role(if n == 1 { "primary" } else { "replica" })
                    .build(),
            );
        }
        g = g.node_groups(group.build());
    }
    let version = r.get_engine_version().clone().unwrap();
    let release = if version.split('.').count() < 3 {
        format!("{version}.0")
    } else {
        version
    };
    let member = CacheCluster::builder()
        .cache_cluster_id(format!("{NAME}-0001-001"))
        .engine("redis")
        .engine_version(release)
        .cache_node_type(r.get_cache_node_type().clone().unwrap())
        .set_preferred_maintenance_window(
            r.get_preferred_maintenance_window()
                .clone()
                .or(Some("sat:07:00-sat:08:00".into())),
        )
        .cache_parameter_group(
            CacheParameterGroupStatus::builder()
                .cache_parameter_group_name(
                    r.get_cache_parameter_group_name()
                        .clone()
                        .unwrap_or("default.redis7".into()),
                )
                .parameter_apply_status("in-sync")
                .build(),
        )
        .auto_minor_version_upgrade(r.get_auto_minor_version_upgrade().unwrap())
        .build();
    (g.build(), member)
}

/// DescribeCacheParameters(Source=user) for the values set by ModifyCacheParameterGroup
/// (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeCacheParameters.html).
fn parameters_answer(set: &[ParameterNameValue]) -> Vec<Parameter> {
    set.iter()
        .map(|p| {
            Parameter::builder()
                .parameter_name(p.parameter_name().unwrap())
                .parameter_value(p.parameter_value().unwrap())
                .source("user")
                .data_type("string")
                .is_modifiable(true)
                .build()
        })
        .collect()
}

async fn read_back(
    g: ReplicationGroup,
    member: CacheCluster,
    params: Vec<Parameter>,
) -> Observation<ElastiCacheRedisSpec> {
    let groups = mock!(Client::describe_replication_groups)
        .match_requests(|r| r.replication_group_id() == Some(NAME))
        .then_output(move || {
            DescribeReplicationGroupsOutput::builder()
                .replication_groups(g.clone())
                .build()
        });
    let member_id = member.cache_cluster_id().unwrap().to_string();
    let clusters = mock!(Client::describe_cache_clusters)
        .match_requests(move |r| r.cache_cluster_id() == Some(member_id.as_str()))
        .then_output(move || {
            DescribeCacheClustersOutput::builder()
                .cache_clusters(member.clone())
                .build()
        });
    let parameters = mock!(Client::describe_cache_parameters)
        .match_requests(|r| {
            r.cache_parameter_group_name() == Some(NAME) && r.source() == Some("user")
        })
        .then_output(move || {
            DescribeCacheParametersOutput::builder()
                .set_parameters(Some(params.clone()))
                .build()
        });
    let cache = mock_client!(
        aws_sdk_elasticache,
        RuleMode::MatchAny,
        [&groups, &clusters, &parameters]
    );
    let provider = RedisProvider::new(cache, aws_sdk_ec2::Client::new(&sdk_config()));
    let ids = BTreeMap::from([
        ("replicationGroup".to_string(), NAME.to_string()),
        ("securityGroup".to_string(), "sg-1".to_string()),
    ]);
    let outputs = BTreeMap::new();
    let id = crate::test_identity("orders/cache", NAME, &ids, &outputs);
    provider.read(&id).await.unwrap().unwrap()
}

fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build()
}

/// Sets `pointer` in `v`, adding the key when it is not there.
fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent).unwrap()[key] = value;
}

#[tokio::test]
async fn a_group_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let (g, member) = answer(&request(&spec));
    let seen = read_back(g, member, parameters_answer(&parameter_values(&spec))).await;
    // ElastiCache runs `7.1` at its latest release; the recorded prefix stands for it.
    assert_eq!(seen.spec.engine_version, "7.1.0");
    let managed = RedisProvider::managed_by_aws(&spec, &seen.spec);
    assert_eq!(managed, ["engineVersion"]);
    let recorded = serde_json::to_value(&spec).unwrap();
    let live = serde_json::to_value(&seen.spec).unwrap();
    let r = panka_engine::observe::reconcile(&recorded, None, live, &seen.unobserved, &managed);
    assert_eq!(r.live, recorded);
    assert_eq!(seen.unobserved, ["dependsOn"]);
    let outputs = &seen.outcome.outputs;
    assert_eq!(
        outputs["primaryEndpoint"],
        "master.cache.use1.cache.amazonaws.com"
    );
    assert_eq!(
        outputs["readerEndpoint"],
        "replica.cache.use1.cache.amazonaws.com"
    );
    assert_eq!(outputs["port"], "6380");
    assert_eq!(outputs["arn"], ARN);
    assert_eq!(outputs["securityGroupId"], "sg-1");
    assert_eq!(seen.outcome.physical_ids["arn"], ARN);

    // A plain group: default parameter group, no KMS key, no replica, and with cluster
    // mode on no reader endpoint at all (never an empty one).
    let plain: ElastiCacheRedisSpec = serde_json::from_value(
        json!({"nodeType": "cache.t4g.micro", "engineVersion": "7.1.0", "shards": 2}),
    )
    .unwrap();
    let (g, member) = answer(&request(&plain));
    let seen = read_back(g, member, Vec::new()).await;
    assert_eq!(
        RedisProvider::managed_by_aws(&plain, &seen.spec),
        ["maintenance.window"]
    );
    assert_eq!(
        seen.spec.maintenance.window.as_deref(),
        Some("sat:07:00-sat:08:00")
    );
    let mut expected = serde_json::to_value(&plain).unwrap();
    set(
        &mut expected,
        "/maintenance/window",
        "sat:07:00-sat:08:00".into(),
    );
    assert_eq!(serde_json::to_value(&seen.spec).unwrap(), expected);
    assert!(!seen.outcome.outputs.contains_key("readerEndpoint"));
    assert_eq!(
        seen.outcome.outputs["primaryEndpoint"],
        "clustercfg.cache.use1.cache.amazonaws.com"
    );
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    type Change = fn(&mut CreateReplicationGroupInputBuilder, &mut Vec<ParameterNameValue>);
    let cases: Vec<(Change, &str, Value)> = vec![
        (
            |r, _| *r = r.clone().cache_node_type("cache.m7g.xlarge"),
            "/nodeType",
            "cache.m7g.xlarge".into(),
        ),
        (
            |r, _| *r = r.clone().engine_version("7.2.4"),
            "/engineVersion",
            "7.2.4".into(),
        ),
        (
            |r, _| *r = r.clone().num_cache_clusters(2),
            "/replicas",
            1.into(),
        ),
        (
            |r, _| {
                *r = r
                    .clone()
                    .set_num_cache_clusters(None)
                    .num_node_groups(3)
                    .replicas_per_node_group(2)
            },
            "/shards",
            3.into(),
        ),
        (
            |r, _| *r = r.clone().at_rest_encryption_enabled(false),
            "/encryption/atRest",
            false.into(),
        ),
        (
            |r, _| *r = r.clone().transit_encryption_enabled(false),
            "/encryption/inTransit",
            false.into(),
        ),
        (
            |r, _| *r = r.clone().kms_key_id(format!("{KEY}0")),
            "/encryption/kmsKeyId",
            format!("{KEY}0").into(),
        ),
        (
            |r, _| *r = r.clone().automatic_failover_enabled(false),
            "/automaticFailover",
            false.into(),
        ),
        (
            |r, _| *r = r.clone().multi_az_enabled(false),
            "/multiAZ",
            false.into(),
        ),
        (|r, _| *r = r.clone().port(6390), "/port", 6390.into()),
        (
            |r, _| *r = r.clone().snapshot_retention_limit(0),
            "/snapshotRetentionDays",
            0.into(),
        ),
        (
            |r, _| {
                *r = r
                    .clone()
                    .preferred_maintenance_window("mon:01:00-mon:02:00")
            },
            "/maintenance/window",
            "mon:01:00-mon:02:00".into(),
        ),
        (
            |r, _| *r = r.clone().auto_minor_version_upgrade(true),
            "/maintenance/autoMinorVersionUpgrade",
            true.into(),
        ),
        (
            |_, p| {
                p[1] = ParameterNameValue::builder()
                    .parameter_name("timeout")
                    .parameter_value("600")
                    .build()
            },
            "/parameters/timeout",
            "600".into(),
        ),
    ];
    let spec = full_spec();
    let mut baseline = serde_json::to_value(&spec).unwrap();
    set(&mut baseline, "/engineVersion", "7.1.0".into());
    for (change, pointer, value) in cases {
        let mut r = request(&spec);
        let mut params = parameter_values(&spec);
        change(&mut r, &mut params);
        let (g, member) = answer(&r);
        let seen = read_back(g, member, parameters_answer(&params)).await;
        let mut expected = baseline.clone();
        set(&mut expected, pointer, value);
        assert_eq!(
            serde_json::to_value(&seen.spec).unwrap(),
            expected,
            "only {pointer} differs"
        );
    }
}

#[tokio::test]
async fn a_group_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::describe_replication_groups).then_error(|| {
        DescribeReplicationGroupsError::ReplicationGroupNotFoundFault(
            ReplicationGroupNotFoundFault::builder().build(),
        )
    });
    let cache = mock_client!(aws_sdk_elasticache, [&gone]);
    let provider = RedisProvider::new(cache, aws_sdk_ec2::Client::new(&sdk_config()));
    let ids = BTreeMap::from([("replicationGroup".to_string(), NAME.to_string())]);
    let outputs = BTreeMap::new();
    let id = crate::test_identity("orders/cache", NAME, &ids, &outputs);
    assert!(provider.read(&id).await.unwrap().is_none());
}

#[test]
fn aws_moves_a_prefixed_version_and_minor_upgrades_only() {
    // A prefix is a release line AWS picks the latest of.
    assert!(version_moved_by_aws("7", "7.1.0", false, 1));
    assert!(version_moved_by_aws("7.1", "7.1.0", false, 1));
    assert!(!version_moved_by_aws("7.1", "7.10.0", false, 1));
    // With automatic minor upgrades, a newer release of the same major.
    assert!(version_moved_by_aws("7.0.7", "7.1.0", true, 1));
    assert!(!version_moved_by_aws("7.0.7", "7.1.0", false, 1));
    assert!(!version_moved_by_aws("6.2.6", "7.1.0", true, 1));
    assert!(!version_moved_by_aws("7.1.0", "7.0.7", true, 1));
    assert!(!version_moved_by_aws("7.1", "7.1", true, 1));
    // Memcached names its line by two parts.
    assert!(version_moved_by_aws("1.6.22", "1.6.24", true, 2));
    assert!(!version_moved_by_aws("1.5.16", "1.6.22", true, 2));

    let spec = full_spec();
    let mut live = spec.clone();
    live.engine_version = "7.2.0".into();
    // Minor upgrades are off in the full spec: another release is drift.
    assert!(RedisProvider::managed_by_aws(&spec, &live).is_empty());
    let mut auto = spec.clone();
    auto.maintenance.auto_minor_version_upgrade = true;
    assert_eq!(
        RedisProvider::managed_by_aws(&auto, &live),
        ["engineVersion"]
    );
    let mut no_window = auto.clone();
    no_window.maintenance.window = None;
    assert_eq!(
        RedisProvider::managed_by_aws(&no_window, &live),
        ["engineVersion", "maintenance.window"]
    );
}

mod replays {
    //! ElastiCache's documented behaviour around a change, replayed: the group keeps reporting
    //! `available` for a moment after ModifyReplicationGroup (or IncreaseReplicaCount) accepted
    //! it, then `modifying`, then `available` again; a change asked for meanwhile is refused
    //! with InvalidReplicationGroupState ("Replication group ... is not in available state").
    //! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html
    //! https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_IncreaseReplicaCount.html
    use super::*;
    use crate::aws_replies;
    use aws_sdk_elasticache::operation::add_tags_to_resource::AddTagsToResourceOutput;
    use aws_sdk_elasticache::operation::increase_replica_count::IncreaseReplicaCountOutput;
    use aws_sdk_elasticache::operation::modify_replication_group::ModifyReplicationGroupOutput;
    use aws_smithy_mocks::{MockResponse, Rule};
    use panka_engine::Transient;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// The group as ElastiCache has it, and every call panka made, in order.
    struct Group {
        /// The change in progress: when ElastiCache accepted it, and how many more looks
        /// report it `modifying` once the group has turned.
        change: Option<(Instant, u32)>,
        replicas: usize,
        log: Vec<String>,
    }

    type Shared = Arc<Mutex<Group>>;

    impl Group {
        fn new(replicas: usize, change: Option<(Instant, u32)>) -> Shared {
            Arc::new(Mutex::new(Group {
                change,
                replicas,
                log: Vec::new(),
            }))
        }

        /// The status DescribeReplicationGroups reports now.
        fn look(&mut self) -> &'static str {
            let status = match &mut self.change {
                // Accepted a moment ago: not turned `modifying` yet.
                Some((at, _)) if at.elapsed() < MODIFY_SETTLE_DELAY => "available",
                Some((_, 0)) => {
                    self.change = None;
                    "available"
                }
                Some((_, left)) => {
                    *left -= 1;
                    "modifying"
                }
                None => "available",
            };
            self.log.push(format!("describe: {status}"));
            status
        }

        /// A change call: accepted (two looks of `modifying` follow the stale moment) or,
        /// while another change is in progress, refused with this message.
        fn start(&mut self, call: &str) -> Result<(), String> {
            if self.change.is_some() {
                self.log.push(format!("{call}: refused"));
                return Err(format!(
                    "Replication group {NAME} is not in available state."
                ));
            }
            self.change = Some((Instant::now(), 2));
            self.log.push(call.to_string());
            Ok(())
        }
    }

    /// ElastiCache's refusal of a change while another is in progress (awsQuery, 400).
    fn busy(message: &str) -> aws_smithy_runtime_api::http::Response {
        aws_replies::query(400, "InvalidReplicationGroupState", message)
    }

    fn described(group: &Shared) -> Rule {
        let g = group.clone();
        mock!(Client::describe_replication_groups).then_compute_output(move |_| {
            let mut g = g.lock().unwrap();
            let status = g.look();
            let mut members = NodeGroup::builder().node_group_id("0001");
            for n in 0..=g.replicas {
                members = members.node_group_members(
                    NodeGroupMember::builder()
                        .cache_cluster_id(format!("{NAME}-{:03}", n + 1))
                        .current_role(if n == 0 { "primary" } else { "replica" })
                        .build(),
                );
            }
            DescribeReplicationGroupsOutput::builder()
                .replication_groups(
                    ReplicationGroup::builder()
                        .replication_group_id(NAME)
                        .arn(ARN)
                        .status(status)
                        .node_groups(members.build())
                        .build(),
                )
                .build()
        })
    }

    fn modified(group: &Shared) -> Rule {
        let g = group.clone();
        mock!(Client::modify_replication_group).then_compute_response(move |r| {
            assert_eq!(r.apply_immediately(), Some(true));
            match g.lock().unwrap().start("ModifyReplicationGroup") {
                Ok(()) => MockResponse::Output(ModifyReplicationGroupOutput::builder().build()),
                Err(message) => MockResponse::Http(busy(&message)),
            }
        })
    }

    fn replicas_increased(group: &Shared) -> Rule {
        let g = group.clone();
        mock!(Client::increase_replica_count).then_compute_response(move |r| {
            let mut g = g.lock().unwrap();
            match g.start("IncreaseReplicaCount") {
                Ok(()) => {
                    g.replicas = r.new_replica_count().unwrap() as usize;
                    MockResponse::Output(IncreaseReplicaCountOutput::builder().build())
                }
                Err(message) => MockResponse::Http(busy(&message)),
            }
        })
    }

    fn tagged(group: &Shared) -> Rule {
        let g = group.clone();
        mock!(Client::add_tags_to_resource).then_compute_output(move |_| {
            g.lock().unwrap().log.push("AddTagsToResource".into());
            AddTagsToResourceOutput::builder().build()
        })
    }

    fn redis(rules: &[&Rule]) -> RedisProvider {
        let cache = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, rules);
        RedisProvider::new(cache, aws_sdk_ec2::Client::new(&sdk_config()))
    }

    /// One replica more, and another node type: no parameters, so no parameter group calls.
    fn two_replicas() -> ElastiCacheRedisSpec {
        serde_json::from_value(json!({
            "nodeType": "cache.r7g.xlarge", "engineVersion": "7.1", "replicas": 2
        }))
        .unwrap()
    }

    async fn update(
        provider: &RedisProvider,
        spec: ElastiCacheRedisSpec,
    ) -> Result<Outcome, ProviderError> {
        let tags = BTreeMap::new();
        let config = json!({});
        let target = Target {
            address: "orders/cache",
            name: NAME,
            spec,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let ids = BTreeMap::from([("securityGroup".to_string(), "sg-1".to_string())]);
        provider.update(&target, &ids).await
    }

    /// The node type change, then the replica count: IncreaseReplicaCount is sent only after
    /// a look showed the group `modifying` and then `available` again, never on the
    /// `available` ElastiCache still reports right after ModifyReplicationGroup (which would
    /// be refused).
    #[tokio::test]
    async fn each_change_waits_for_the_group_to_go_modifying_and_back_to_available() {
        let group = Group::new(1, None);
        let provider = redis(&[
            &described(&group),
            &modified(&group),
            &replicas_increased(&group),
            &tagged(&group),
        ]);
        let out = update(&provider, two_replicas()).await;
        let log = group.lock().unwrap().log.clone();
        let out = out.unwrap_or_else(|e| panic!("{}; calls: {log:?}", e.chain()));
        assert_eq!(
            log,
            [
                "describe: available",
                "ModifyReplicationGroup",
                "describe: modifying",
                "describe: modifying",
                "describe: available",
                "IncreaseReplicaCount",
                "describe: modifying",
                "describe: modifying",
                "describe: available",
                "AddTagsToResource",
            ]
        );
        assert_eq!(group.lock().unwrap().replicas, 2);
        assert_eq!(out.outputs["securityGroupId"], "sg-1");
    }

    /// A group still modifying (a change of an earlier run) is waited for before the first
    /// call; a change refused all the same (someone else's started in between) is a
    /// dependency not ready, which the engine tries again.
    #[tokio::test]
    async fn a_busy_group_is_waited_for_first_and_a_refused_change_is_retried() {
        let earlier = Instant::now().checked_sub(MODIFY_SETTLE_DELAY * 2).unwrap();
        let group = Group::new(2, Some((earlier, 1)));
        let provider = redis(&[&described(&group), &modified(&group), &tagged(&group)]);
        update(&provider, two_replicas()).await.unwrap();
        assert_eq!(
            group.lock().unwrap().log[..3],
            [
                "describe: modifying",
                "describe: available",
                "ModifyReplicationGroup"
            ]
        );

        // Another change starts between panka's look and its call.
        let group = Group::new(2, None);
        let busy = group.clone();
        let raced = mock!(Client::describe_replication_groups).then_compute_output(move |_| {
            let mut g = busy.lock().unwrap();
            g.look();
            g.change = Some((Instant::now(), 1));
            DescribeReplicationGroupsOutput::builder()
                .replication_groups(
                    ReplicationGroup::builder()
                        .replication_group_id(NAME)
                        .status("available")
                        .build(),
                )
                .build()
        });
        let provider = redis(&[&raced, &modified(&group)]);
        let err = update(&provider, two_replicas()).await.unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::Transient(Transient::DependencyNotReady),
            "{}",
            err.chain()
        );
        assert!(
            err.chain().contains("is not in available state"),
            "{}",
            err.chain()
        );
        assert_eq!(
            group.lock().unwrap().log,
            ["describe: available", "ModifyReplicationGroup: refused"]
        );
    }
}
