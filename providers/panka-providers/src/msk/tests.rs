use super::configuration::parse_properties;
use super::*;
use aws_sdk_kafka::operation::create_cluster::builders::CreateClusterInputBuilder;
use aws_sdk_kafka::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
use aws_sdk_kafka::operation::describe_configuration_revision::DescribeConfigurationRevisionOutput;
use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersOutput;
use aws_sdk_kafka::primitives::Blob;
use aws_sdk_kafka::types::{
    BrokerNodeGroupInfo, BrokerSoftwareInfo, ClientAuthentication, ClientBroker, ClusterInfo,
    EbsStorageInfo, EncryptionAtRest, EncryptionInTransit, EncryptionInfo, EnhancedMonitoring, Iam,
    Sasl, Scram, StorageInfo, Tls, Unauthenticated,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

fn spec(extra: serde_json::Value) -> MskSpec {
    let mut v = serde_json::json!({"kafkaVersion": "3.6.0", "instanceType": "kafka.t3.small", "brokerNodes": 2});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(v).unwrap()
}

#[test]
fn brokers_go_in_two_or_three_zones() {
    let zones: Vec<(String, String)> = [("s1", "a"), ("s2", "a"), ("s3", "b"), ("s4", "c")]
        .iter()
        .map(|(s, z)| (s.to_string(), z.to_string()))
        .collect();
    assert_eq!(client_subnets(&zones, 3).unwrap(), ["s1", "s3", "s4"]);
    assert_eq!(client_subnets(&zones, 6).unwrap(), ["s1", "s3", "s4"]);
    assert_eq!(client_subnets(&zones, 4).unwrap(), ["s1", "s3"]);
    assert!(
        client_subnets(&zones[..2], 3)
            .unwrap_err()
            .contains("1 zone")
    );
}

#[test]
fn ports_and_properties() {
    assert_eq!(client_port(&spec(serde_json::json!({}))), 9098);
    assert_eq!(
        client_port(&spec(
            serde_json::json!({"authentication": {"iam": false, "scram": true}})
        )),
        9096
    );
    assert_eq!(
        client_port(&spec(serde_json::json!({
            "authentication": {"iam": false, "unauthenticated": true},
            "encryption": {"inTransit": "PLAINTEXT"}
        }))),
        9092
    );
    let s = spec(
        serde_json::json!({"configuration": {"num.partitions": "3", "auto.create.topics.enable": "false"}}),
    );
    assert_eq!(
        server_properties(&s),
        "auto.create.topics.enable=false\nnum.partitions=3\n"
    );
}

/// A new cluster: its configuration made from the broker properties, then the cluster with
/// every setting of the spec, its brokers over three subnets of distinct zones in the
/// component's security group, waited for until active, with the brokers' addresses among
/// its outputs. (moto writes MSK timestamps the SDK cannot parse, so this runs against
/// mocked responses.)
#[tokio::test]
async fn a_new_cluster_gets_every_setting_of_its_spec() {
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
    use aws_sdk_ec2::types::{SecurityGroup, Subnet};
    use aws_sdk_kafka::operation::create_cluster::CreateClusterOutput;
    use aws_sdk_kafka::operation::create_configuration::CreateConfigurationOutput;
    use aws_sdk_kafka::operation::describe_cluster::DescribeClusterOutput;
    use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersOutput;
    use aws_sdk_kafka::operation::list_clusters::ListClustersOutput;
    use aws_sdk_kafka::operation::list_configurations::ListConfigurationsOutput;
    use aws_sdk_kafka::types::{BrokerSoftwareInfo, ConfigurationRevision};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let name = "shop-dev-data-events";
    let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/shop-dev-data-events/1";
    let config_arn = "arn:aws:kafka:us-east-1:123456789012:configuration/shop-dev-data-events/1";
    let subnets = mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
        let mut out = DescribeSubnetsOutput::builder();
        for (id, zone) in [
            ("s-1", "us-east-1a"),
            ("s-2", "us-east-1a"),
            ("s-3", "us-east-1b"),
            ("s-4", "us-east-1c"),
        ] {
            out = out.subnets(
                Subnet::builder()
                    .subnet_id(id)
                    .availability_zone(zone)
                    .build(),
            );
        }
        out.build()
    });
    let groups = mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(
                SecurityGroup::builder()
                    .group_id("sg-9")
                    .group_name("shop-dev-data-events")
                    .build(),
            )
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&subnets, &groups]);

    let created = Arc::new(AtomicBool::new(false));
    let seen = created.clone();
    let list = mock!(Client::list_clusters).then_output(move || {
        let out = ListClustersOutput::builder();
        if seen.load(Ordering::SeqCst) {
            out.cluster_info_list(
                ClusterInfo::builder()
                    .cluster_name(name)
                    .cluster_arn(arn)
                    .build(),
            )
            .build()
        } else {
            out.build()
        }
    });
    let configurations = mock!(Client::list_configurations)
        .then_output(|| ListConfigurationsOutput::builder().build());
    let configuration = mock!(Client::create_configuration)
        .match_requests(|r| {
            r.name() == Some(name)
                && r.kafka_versions() == ["3.6.0"]
                && r.server_properties().map(Blob::as_ref) == Some(&b"num.partitions=6\n"[..])
        })
        .then_output(move || {
            CreateConfigurationOutput::builder()
                .arn(config_arn)
                .latest_revision(ConfigurationRevision::builder().revision(1).build())
                .build()
        });
    let flag = created.clone();
    let create = mock!(Client::create_cluster)
        .match_requests(move |r| {
            let b = r.broker_node_group_info().unwrap();
            let auth = r.client_authentication().unwrap();
            let sasl = auth.sasl().unwrap();
            let enc = r.encryption_info().unwrap();
            r.cluster_name() == Some(name)
                && r.kafka_version() == Some("3.6.0")
                && r.number_of_broker_nodes() == Some(3)
                && b.instance_type() == Some("kafka.m7g.large")
                && b.client_subnets() == ["s-1", "s-3", "s-4"]
                && b.security_groups() == ["sg-9"]
                && b.storage_info()
                    .and_then(|s| s.ebs_storage_info())
                    .and_then(|e| e.volume_size())
                    == Some(500)
                && sasl.iam().and_then(|i| i.enabled()) == Some(false)
                && sasl.scram().and_then(|s| s.enabled()) == Some(true)
                && auth.unauthenticated().and_then(|u| u.enabled()) == Some(false)
                && enc.encryption_in_transit().and_then(|t| t.client_broker())
                    == Some(&ClientBroker::TlsPlaintext)
                && enc.encryption_in_transit().and_then(|t| t.in_cluster()) == Some(true)
                && enc
                    .encryption_at_rest()
                    .and_then(|a| a.data_volume_kms_key_id())
                    == Some("alias/kafka")
                && r.enhanced_monitoring() == Some(&EnhancedMonitoring::PerTopicPerBroker)
                && r.configuration_info().and_then(|c| c.arn()) == Some(config_arn)
                && r.configuration_info().and_then(|c| c.revision()) == Some(1)
                && r.tags()
                    .and_then(|t| t.get("panka:component"))
                    .map(String::as_str)
                    == Some("events")
        })
        .then_output(move || {
            flag.store(true, Ordering::SeqCst);
            CreateClusterOutput::builder().cluster_arn(arn).build()
        });
    let describe = mock!(Client::describe_cluster).then_output(move || {
        DescribeClusterOutput::builder()
            .cluster_info(
                ClusterInfo::builder()
                    .cluster_name(name)
                    .cluster_arn(arn)
                    .state(ClusterState::Active)
                    .number_of_broker_nodes(3)
                    .current_broker_software_info(
                        BrokerSoftwareInfo::builder()
                            .kafka_version("3.6.0")
                            .configuration_arn(config_arn)
                            .configuration_revision(1)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let bootstrap = mock!(Client::get_bootstrap_brokers).then_output(|| {
        GetBootstrapBrokersOutput::builder()
            .bootstrap_broker_string("b-1:9092")
            .bootstrap_broker_string_tls("b-1:9094")
            .build()
    });
    let kafka = mock_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [
            &list,
            &configurations,
            &configuration,
            &create,
            &describe,
            &bootstrap
        ]
    );
    let provider = MskProvider::new(kafka, ec2);
    let tags = BTreeMap::from([("panka:component".to_string(), "events".to_string())]);
    let config = serde_json::json!({"network": {"vpcId": "vpc-1", "privateSubnets": ["s-1", "s-2", "s-3", "s-4"]}});
    let target = Target {
        address: "data/events",
        name,
        spec: spec(serde_json::json!({
            "instanceType": "kafka.m7g.large", "brokerNodes": 3, "storageGB": 500,
            "encryption": {"inTransit": "TLS_PLAINTEXT", "kmsKeyId": "alias/kafka"},
            "authentication": {"iam": false, "scram": true},
            "enhancedMonitoring": "PER_TOPIC_PER_BROKER",
            "configuration": {"num.partitions": "6"},
        })),
        tags: &tags,
        region: "us-east-1",
        config: &config,
    };
    let out = provider.create(&target).await.unwrap();
    assert_eq!((configuration.num_calls(), create.num_calls()), (1, 1));
    assert_eq!(out.outputs["arn"], arn);
    assert_eq!(out.outputs["bootstrapBrokersTls"], "b-1:9094");
    assert_eq!(out.outputs["port"], "9096");
    assert_eq!(out.outputs["securityGroupId"], "sg-9");
    assert_eq!(out.physical_ids["configuration"], config_arn);
}

/// Two brokers to four and 100 GiB to 200: one operation each, in that order, each with the
/// cluster's current version and after the cluster is active again; nothing else is
/// touched. (The emulator has no MSK update operations, so this runs against mocked
/// responses.)
#[tokio::test]
async fn more_brokers_and_storage_change_in_place() {
    use aws_sdk_kafka::operation::describe_cluster::DescribeClusterOutput;
    use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersOutput;
    use aws_sdk_kafka::operation::list_clusters::ListClustersOutput;
    use aws_sdk_kafka::operation::tag_resource::TagResourceOutput;
    use aws_sdk_kafka::operation::update_broker_count::UpdateBrokerCountOutput;
    use aws_sdk_kafka::operation::update_broker_storage::UpdateBrokerStorageOutput;
    use aws_sdk_kafka::types::BrokerSoftwareInfo;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI32, Ordering};

    let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/shop-dev-data-events/1";
    // The cluster as MSK reports it: each update bumps its version, brokers and storage.
    let brokers = Arc::new(AtomicI32::new(2));
    let storage = Arc::new(AtomicI32::new(100));
    let version = Arc::new(AtomicI32::new(1));
    let list = mock!(Client::list_clusters).then_output(move || {
        ListClustersOutput::builder()
            .cluster_info_list(
                ClusterInfo::builder()
                    .cluster_name("shop-dev-data-events")
                    .cluster_arn(arn)
                    .build(),
            )
            .build()
    });
    let (b, st, v) = (brokers.clone(), storage.clone(), version.clone());
    let describe = mock!(Client::describe_cluster).then_output(move || {
        DescribeClusterOutput::builder()
            .cluster_info(
                ClusterInfo::builder()
                    .cluster_name("shop-dev-data-events")
                    .cluster_arn(arn)
                    .state(ClusterState::Active)
                    .current_version(format!("K{}", v.load(Ordering::SeqCst)))
                    .number_of_broker_nodes(b.load(Ordering::SeqCst))
                    .broker_node_group_info(
                        BrokerNodeGroupInfo::builder()
                            .instance_type("kafka.t3.small")
                            .storage_info(
                                StorageInfo::builder()
                                    .ebs_storage_info(
                                        EbsStorageInfo::builder()
                                            .volume_size(st.load(Ordering::SeqCst))
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .current_broker_software_info(
                        BrokerSoftwareInfo::builder().kafka_version("3.6.0").build(),
                    )
                    .enhanced_monitoring(EnhancedMonitoring::Default)
                    .encryption_info(
                        EncryptionInfo::builder()
                            .encryption_in_transit(
                                EncryptionInTransit::builder()
                                    .client_broker(ClientBroker::Tls)
                                    .build(),
                            )
                            .build(),
                    )
                    .client_authentication(
                        ClientAuthentication::builder()
                            .sasl(
                                Sasl::builder()
                                    .iam(Iam::builder().enabled(true).build())
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let (b, v) = (brokers.clone(), version.clone());
    let count = mock!(Client::update_broker_count)
        .match_requests(|r| {
            r.target_number_of_broker_nodes() == Some(4) && r.current_version() == Some("K1")
        })
        .then_output(move || {
            b.store(4, Ordering::SeqCst);
            v.fetch_add(1, Ordering::SeqCst);
            UpdateBrokerCountOutput::builder().build()
        });
    let (st, v) = (storage.clone(), version.clone());
    let grow = mock!(Client::update_broker_storage)
        .match_requests(|r| {
            r.current_version() == Some("K2")
                && r.target_broker_ebs_volume_info()
                    .first()
                    .and_then(|i| i.volume_size_gb())
                    == Some(200)
        })
        .then_output(move || {
            st.store(200, Ordering::SeqCst);
            v.fetch_add(1, Ordering::SeqCst);
            UpdateBrokerStorageOutput::builder().build()
        });
    let tag = mock!(Client::tag_resource).then_output(|| TagResourceOutput::builder().build());
    let bootstrap = mock!(Client::get_bootstrap_brokers).then_output(|| {
        GetBootstrapBrokersOutput::builder()
            .bootstrap_broker_string_sasl_iam("b-1:9098,b-2:9098")
            .build()
    });
    let kafka = mock_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&list, &describe, &count, &grow, &tag, &bootstrap]
    );
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let provider = MskProvider::new(kafka, aws_sdk_ec2::Client::new(&conf));
    let tags = BTreeMap::new();
    let config = serde_json::json!({});
    let target = Target {
        address: "data/events",
        name: "shop-dev-data-events",
        spec: spec(serde_json::json!({"brokerNodes": 4, "storageGB": 200})),
        tags: &tags,
        region: "us-east-1",
        config: &config,
    };
    let ids = BTreeMap::from([("securityGroup".to_string(), "sg-1".to_string())]);
    let out = provider.update(&target, &ids).await.unwrap();
    assert_eq!((count.num_calls(), grow.num_calls()), (1, 1));
    assert_eq!(out.outputs["bootstrapBrokersIam"], "b-1:9098,b-2:9098");
    assert_eq!(out.outputs["port"], "9098");

    // Fewer brokers than the cluster has: refused before any call changes anything.
    let target = Target {
        spec: spec(serde_json::json!({"brokerNodes": 2, "storageGB": 200})),
        ..target
    };
    let err = provider.update(&target, &ids).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot go from 4 brokers down to 2"),
        "{err}"
    );
    assert_eq!((count.num_calls(), grow.num_calls()), (1, 1));
}

const NAME: &str = "shop-dev-data-events";
const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/shop-dev-data-events/1";
const CONFIG_ARN: &str =
    "arn:aws:kafka:us-east-1:123456789012:configuration/shop-dev-data-events/1";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd";

fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build()
}

fn full_spec() -> MskSpec {
    spec(json!({
        "kafkaVersion": "3.7.x", "instanceType": "kafka.m7g.large", "brokerNodes": 3,
        "storageGB": 500,
        "encryption": {"inTransit": "TLS_PLAINTEXT", "kmsKeyId": KEY},
        "authentication": {"iam": false, "scram": true, "unauthenticated": true},
        "enhancedMonitoring": "PER_TOPIC_PER_PARTITION",
        "configuration": {"auto.create.topics.enable": "false", "num.partitions": "6"}
    }))
}

/// The CreateCluster request panka sends for `s` (configuration revision 1).
fn request(s: &MskSpec) -> CreateClusterInputBuilder {
    let kafka = Client::new(&sdk_config());
    let subnets = vec!["s-1".to_string(), "s-3".to_string(), "s-4".to_string()];
    let configuration = (!s.configuration.is_empty()).then(|| (CONFIG_ARN.to_string(), 1));
    super::cluster::create_request(
        &kafka,
        NAME,
        s,
        subnets,
        "sg-9",
        configuration,
        &BTreeMap::new(),
    )
    .as_input()
    .clone()
}

/// What DescribeCluster answers for a cluster made by `r`
/// (https://docs.aws.amazon.com/msk/1.0/apireference/clusters-clusterarn.html#clusters-clusterarn-prop-clusterinfo):
/// the broker group, authentication and encryption as asked (TLS authentication reported off,
/// encryption within the cluster on), the configuration in the broker software info.
fn answer(r: &CreateClusterInputBuilder) -> ClusterInfo {
    let mut auth = r.get_client_authentication().clone().unwrap();
    auth.tls = Some(Tls::builder().enabled(false).build());
    let mut software =
        BrokerSoftwareInfo::builder().kafka_version(r.get_kafka_version().clone().unwrap());
    if let Some(c) = r.get_configuration_info() {
        software = software
            .configuration_arn(c.arn().unwrap())
            .configuration_revision(c.revision().unwrap());
    }
    ClusterInfo::builder()
        .cluster_name(NAME)
        .cluster_arn(ARN)
        .state(ClusterState::Active)
        .current_version("K3AEGXETSR30VB")
        .number_of_broker_nodes(r.get_number_of_broker_nodes().unwrap())
        .broker_node_group_info(r.get_broker_node_group_info().clone().unwrap())
        .set_encryption_info(r.get_encryption_info().clone())
        .client_authentication(auth)
        .set_enhanced_monitoring(r.get_enhanced_monitoring().clone())
        .current_broker_software_info(software.build())
        .build()
}

async fn read_back(c: ClusterInfo, properties: String) -> Observation<MskSpec> {
    let describe = mock!(Client::describe_cluster)
        .match_requests(|r| r.cluster_arn() == Some(ARN))
        .then_output(move || {
            DescribeClusterOutput::builder()
                .cluster_info(c.clone())
                .build()
        });
    // https://docs.aws.amazon.com/msk/1.0/apireference/configurations-arn-revisions-revision.html
    let revision = mock!(Client::describe_configuration_revision)
        .match_requests(|r| r.arn() == Some(CONFIG_ARN) && r.revision() == Some(1))
        .then_output(move || {
            DescribeConfigurationRevisionOutput::builder()
                .arn(CONFIG_ARN)
                .revision(1)
                .server_properties(Blob::new(properties.clone()))
                .build()
        });
    let bootstrap = mock!(Client::get_bootstrap_brokers).then_output(|| {
        GetBootstrapBrokersOutput::builder()
            .bootstrap_broker_string("b-1:9092,b-2:9092")
            .bootstrap_broker_string_tls("b-1:9094,b-2:9094")
            .build()
    });
    let kafka = mock_client!(
        aws_sdk_kafka,
        RuleMode::MatchAny,
        [&describe, &revision, &bootstrap]
    );
    let provider = MskProvider::new(kafka, aws_sdk_ec2::Client::new(&sdk_config()));
    let ids = BTreeMap::from([
        ("cluster".to_string(), ARN.to_string()),
        ("securityGroup".to_string(), "sg-9".to_string()),
    ]);
    let outputs = BTreeMap::new();
    let id = crate::test_identity("data/events", NAME, &ids, &outputs);
    provider.read(&id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_cluster_made_from_a_full_spec_reads_back_as_that_spec() {
    let s = full_spec();
    let seen = read_back(answer(&request(&s)), server_properties(&s)).await;
    assert_eq!(seen.spec, s);
    assert_eq!(seen.unobserved, ["dependsOn"]);
    assert!(MskProvider::managed_by_aws(&s, &seen.spec).is_empty());
    let outputs = &seen.outcome.outputs;
    assert_eq!(outputs["arn"], ARN);
    assert_eq!(outputs["bootstrapBrokers"], "b-1:9092,b-2:9092");
    assert_eq!(outputs["bootstrapBrokersTls"], "b-1:9094,b-2:9094");
    // No IAM authentication: no IAM brokers, and no empty output for them.
    assert!(!outputs.contains_key("bootstrapBrokersIam"));
    assert_eq!(outputs["port"], "9096");
    assert_eq!(outputs["securityGroupId"], "sg-9");
    assert_eq!(seen.outcome.physical_ids["configuration"], CONFIG_ARN);

    // Without a key of its own MSK uses its AWS-managed key and reports that key's ARN: the
    // recorded absence stands for it.
    let plain = spec(json!({}));
    let mut c = answer(&request(&plain));
    c.encryption_info = Some(
        EncryptionInfo::builder()
            .encryption_at_rest(
                EncryptionAtRest::builder()
                    .data_volume_kms_key_id(KEY)
                    .build(),
            )
            .encryption_in_transit(
                EncryptionInTransit::builder()
                    .client_broker(ClientBroker::Tls)
                    .in_cluster(true)
                    .build(),
            )
            .build(),
    );
    let seen = read_back(c, String::new()).await;
    let managed = MskProvider::managed_by_aws(&plain, &seen.spec);
    assert_eq!(managed, ["encryption.kmsKeyId"]);
    let recorded = serde_json::to_value(&plain).unwrap();
    let live = serde_json::to_value(&seen.spec).unwrap();
    let r = panka_engine::observe::reconcile(&recorded, None, live, &seen.unobserved, &managed);
    assert_eq!(r.live, recorded);
}

#[tokio::test]
async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
    let s = full_spec();
    let group = |instance: &str, gb: i32| {
        BrokerNodeGroupInfo::builder()
            .instance_type(instance)
            .client_subnets("s-1")
            .storage_info(
                StorageInfo::builder()
                    .ebs_storage_info(EbsStorageInfo::builder().volume_size(gb).build())
                    .build(),
            )
            .build()
    };
    let encryption = |client: ClientBroker, key: &str| {
        EncryptionInfo::builder()
            .encryption_at_rest(
                EncryptionAtRest::builder()
                    .data_volume_kms_key_id(key)
                    .build(),
            )
            .encryption_in_transit(
                EncryptionInTransit::builder()
                    .client_broker(client)
                    .in_cluster(true)
                    .build(),
            )
            .build()
    };
    let auth = |iam: bool, scram: bool, unauthenticated: bool| {
        ClientAuthentication::builder()
            .sasl(
                Sasl::builder()
                    .iam(Iam::builder().enabled(iam).build())
                    .scram(Scram::builder().enabled(scram).build())
                    .build(),
            )
            .unauthenticated(Unauthenticated::builder().enabled(unauthenticated).build())
            .build()
    };
    let cases: Vec<(CreateClusterInputBuilder, Option<&str>, &str, Value)> = vec![
        (
            request(&s).kafka_version("3.8.x"),
            None,
            "/kafkaVersion",
            "3.8.x".into(),
        ),
        (
            request(&s).broker_node_group_info(group("kafka.m7g.xlarge", 500)),
            None,
            "/instanceType",
            "kafka.m7g.xlarge".into(),
        ),
        (
            request(&s).number_of_broker_nodes(6),
            None,
            "/brokerNodes",
            6.into(),
        ),
        (
            request(&s).broker_node_group_info(group("kafka.m7g.large", 800)),
            None,
            "/storageGB",
            800.into(),
        ),
        (
            request(&s).encryption_info(encryption(ClientBroker::Tls, KEY)),
            None,
            "/encryption/inTransit",
            "TLS".into(),
        ),
        (
            request(&s).encryption_info(encryption(
                ClientBroker::TlsPlaintext,
                "arn:aws:kms:us-east-1:123456789012:key/other",
            )),
            None,
            "/encryption/kmsKeyId",
            "arn:aws:kms:us-east-1:123456789012:key/other".into(),
        ),
        (
            request(&s).client_authentication(auth(true, true, true)),
            None,
            "/authentication/iam",
            true.into(),
        ),
        (
            request(&s).client_authentication(auth(false, false, true)),
            None,
            "/authentication/scram",
            false.into(),
        ),
        (
            request(&s).client_authentication(auth(false, true, false)),
            None,
            "/authentication/unauthenticated",
            false.into(),
        ),
        (
            request(&s).enhanced_monitoring(EnhancedMonitoring::PerBroker),
            None,
            "/enhancedMonitoring",
            "PER_BROKER".into(),
        ),
        (
            request(&s),
            Some("auto.create.topics.enable=false\nnum.partitions=12\n"),
            "/configuration/num.partitions",
            "12".into(),
        ),
    ];
    let baseline = serde_json::to_value(&s).unwrap();
    for (r, properties, pointer, value) in cases {
        let text = properties.map_or_else(|| server_properties(&s), str::to_string);
        let seen = read_back(answer(&r), text).await;
        let mut expected = baseline.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        expected.pointer_mut(parent).unwrap()[key] = value;
        assert_eq!(
            serde_json::to_value(&seen.spec).unwrap(),
            expected,
            "only {pointer} differs"
        );
    }
}

#[tokio::test]
async fn a_cluster_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::describe_cluster).then_error(|| {
        DescribeClusterError::NotFoundException(
            aws_sdk_kafka::types::error::NotFoundException::builder().build(),
        )
    });
    let kafka = mock_client!(aws_sdk_kafka, [&gone]);
    let provider = MskProvider::new(kafka, aws_sdk_ec2::Client::new(&sdk_config()));
    let ids = BTreeMap::from([("cluster".to_string(), ARN.to_string())]);
    let outputs = BTreeMap::new();
    let id = crate::test_identity("data/events", NAME, &ids, &outputs);
    assert!(provider.read(&id).await.unwrap().is_none());
}

#[test]
fn broker_properties_read_back_as_written() {
    let s = full_spec();
    assert_eq!(parse_properties(&server_properties(&s)), s.configuration);
    let text = "# set by hand\n\nnum.partitions = 3\nlog.retention.hours=48\n";
    let parsed = parse_properties(text);
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        json!({"log.retention.hours": "48", "num.partitions": "3"})
    );
}

mod replays {
    //! MSK's documented answers to an update, replayed: each update call answers with the
    //! `ClusterOperationArn` of the operation it started; DescribeClusterOperationV2 reports
    //! that operation PENDING, UPDATE_IN_PROGRESS, then UPDATE_COMPLETE (or UPDATE_FAILED with
    //! its ErrorInfo); the cluster's CurrentVersion changes with the operation, and a call
    //! with another version, or while an operation runs, is refused (BadRequestException).
    //! The replayed cluster stays ACTIVE at its old version until the operation is complete,
    //! the worst case for a wait on the cluster's state instead of the operation.
    //! https://docs.aws.amazon.com/msk/1.0/apireference/clusters-clusterarn-nodes-count.html
    //! https://docs.aws.amazon.com/msk/1.0/apireference/operations-clusteroperationarn.html
    //! (DescribeClusterOperation; DescribeClusterOperationV2 reports the same states)
    use super::*;
    use crate::aws_replies;
    use aws_sdk_kafka::operation::describe_cluster_operation_v2::DescribeClusterOperationV2Output;
    use aws_sdk_kafka::operation::list_clusters::ListClustersOutput;
    use aws_sdk_kafka::operation::tag_resource::TagResourceOutput;
    use aws_sdk_kafka::operation::update_broker_count::UpdateBrokerCountOutput;
    use aws_sdk_kafka::operation::update_broker_storage::UpdateBrokerStorageOutput;
    use aws_sdk_kafka::types::{ClusterOperationV2, ErrorInfo};
    use aws_smithy_mocks::{MockResponse, Rule};
    use std::sync::{Arc, Mutex};

    /// An operation in progress: its ARN, the states it reports still, in order (the last
    /// one stays), and the change it makes once complete.
    struct Operation {
        arn: String,
        states: Vec<&'static str>,
        error: Option<(&'static str, &'static str)>,
        apply: Box<dyn Fn(&mut Cluster) + Send>,
    }

    /// The cluster as MSK has it, and every call panka made, in order.
    struct Cluster {
        version: u32,
        brokers: i32,
        storage: i32,
        operation: Option<Operation>,
        operations: u32,
        /// Whether the next operation fails (UPDATE_FAILED).
        fail_next: bool,
        log: Vec<String>,
    }

    type Shared = Arc<Mutex<Cluster>>;

    impl Cluster {
        fn info(&self) -> ClusterInfo {
            ClusterInfo::builder()
                .cluster_name(NAME)
                .cluster_arn(ARN)
                .state(ClusterState::Active)
                .current_version(format!("K{}", self.version))
                .number_of_broker_nodes(self.brokers)
                .broker_node_group_info(
                    BrokerNodeGroupInfo::builder()
                        .instance_type("kafka.t3.small")
                        .storage_info(
                            StorageInfo::builder()
                                .ebs_storage_info(
                                    EbsStorageInfo::builder().volume_size(self.storage).build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .current_broker_software_info(
                    BrokerSoftwareInfo::builder().kafka_version("3.6.0").build(),
                )
                .enhanced_monitoring(EnhancedMonitoring::Default)
                .encryption_info(
                    EncryptionInfo::builder()
                        .encryption_in_transit(
                            EncryptionInTransit::builder()
                                .client_broker(ClientBroker::Tls)
                                .build(),
                        )
                        .build(),
                )
                .client_authentication(
                    ClientAuthentication::builder()
                        .sasl(
                            Sasl::builder()
                                .iam(Iam::builder().enabled(true).build())
                                .build(),
                        )
                        .build(),
                )
                .build()
        }

        /// An update call with `version`: refused (BadRequestException with this message)
        /// while an operation runs or with a stale version, else the ARN of the operation it
        /// starts.
        fn start(
            &mut self,
            call: &str,
            version: Option<&str>,
            apply: Box<dyn Fn(&mut Cluster) + Send>,
        ) -> Result<String, &'static str> {
            self.log
                .push(format!("{call}({})", version.unwrap_or("no version")));
            if self.operation.is_some() {
                return Err(
                    "The request is not valid because the cluster has an operation in progress.",
                );
            }
            if version != Some(format!("K{}", self.version).as_str()) {
                return Err("The request does not match the current version of the cluster.");
            }
            self.operations += 1;
            let arn = format!(
                "arn:aws:kafka:us-east-1:123456789012:cluster-operation/{NAME}/1/op-{}",
                self.operations
            );
            let (states, error) = if std::mem::take(&mut self.fail_next) {
                (
                    vec!["PENDING", "UPDATE_IN_PROGRESS", "UPDATE_FAILED"],
                    Some((
                        "InsufficientCapacity",
                        "There is not enough kafka.t3.small capacity in us-east-1a",
                    )),
                )
            } else {
                (
                    vec!["PENDING", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"],
                    None,
                )
            };
            self.operation = Some(Operation {
                arn: arn.clone(),
                states,
                error,
                apply,
            });
            Ok(arn)
        }

        /// DescribeClusterOperationV2: the operation's next state; complete, it has changed
        /// the cluster and a new version; failed, it has changed nothing.
        fn look(&mut self, arn: &str) -> ClusterOperationV2 {
            let op = self.operation.as_mut().filter(|o| o.arn == arn).unwrap();
            let state = if op.states.len() > 1 {
                op.states.remove(0)
            } else {
                op.states[0]
            };
            let error = op.error;
            self.log.push(format!("operation: {state}"));
            if state == "UPDATE_COMPLETE" {
                let op = self.operation.take().unwrap();
                (op.apply)(self);
                self.version += 1;
            } else if state == "UPDATE_FAILED" {
                self.operation = None;
            }
            ClusterOperationV2::builder()
                .cluster_arn(ARN)
                .operation_arn(arn)
                .operation_state(state)
                .operation_type("UPDATE_BROKER_COUNT")
                .set_error_info(error.map(|(code, message)| {
                    ErrorInfo::builder()
                        .error_code(code)
                        .error_string(message)
                        .build()
                }))
                .build()
        }
    }

    fn rules(cluster: &Shared) -> Vec<Rule> {
        let list = mock!(Client::list_clusters).then_output(|| {
            ListClustersOutput::builder()
                .cluster_info_list(
                    ClusterInfo::builder()
                        .cluster_name(NAME)
                        .cluster_arn(ARN)
                        .build(),
                )
                .build()
        });
        let c = cluster.clone();
        let describe = mock!(Client::describe_cluster).then_compute_output(move |_| {
            let c = c.lock().unwrap();
            DescribeClusterOutput::builder()
                .cluster_info(c.info())
                .build()
        });
        let c = cluster.clone();
        let operation =
            mock!(Client::describe_cluster_operation_v2).then_compute_output(move |r| {
                let info = c.lock().unwrap().look(r.cluster_operation_arn().unwrap());
                DescribeClusterOperationV2Output::builder()
                    .cluster_operation_info(info)
                    .build()
            });
        let c = cluster.clone();
        let count = mock!(Client::update_broker_count).then_compute_response(move |r| {
            let brokers = r.target_number_of_broker_nodes().unwrap();
            let started = c.lock().unwrap().start(
                "UpdateBrokerCount",
                r.current_version(),
                Box::new(move |c| c.brokers = brokers),
            );
            match started {
                Ok(arn) => MockResponse::Output(
                    UpdateBrokerCountOutput::builder()
                        .cluster_arn(ARN)
                        .cluster_operation_arn(arn)
                        .build(),
                ),
                Err(message) => {
                    MockResponse::Http(aws_replies::rest_json(400, "BadRequestException", message))
                }
            }
        });
        let c = cluster.clone();
        let storage = mock!(Client::update_broker_storage).then_compute_response(move |r| {
            let size = r.target_broker_ebs_volume_info()[0]
                .volume_size_gb()
                .unwrap();
            let started = c.lock().unwrap().start(
                "UpdateBrokerStorage",
                r.current_version(),
                Box::new(move |c| c.storage = size),
            );
            match started {
                Ok(arn) => MockResponse::Output(
                    UpdateBrokerStorageOutput::builder()
                        .cluster_arn(ARN)
                        .cluster_operation_arn(arn)
                        .build(),
                ),
                Err(message) => {
                    MockResponse::Http(aws_replies::rest_json(400, "BadRequestException", message))
                }
            }
        });
        let c = cluster.clone();
        let tag = mock!(Client::tag_resource).then_compute_output(move |_| {
            c.lock().unwrap().log.push("TagResource".into());
            TagResourceOutput::builder().build()
        });
        let bootstrap = mock!(Client::get_bootstrap_brokers).then_output(|| {
            GetBootstrapBrokersOutput::builder()
                .bootstrap_broker_string_sasl_iam("b-1:9098,b-2:9098")
                .build()
        });
        vec![list, describe, operation, count, storage, tag, bootstrap]
    }

    async fn update(cluster: &Shared, spec: MskSpec) -> Result<Outcome, ProviderError> {
        let rules = rules(cluster);
        let refs: Vec<&Rule> = rules.iter().collect();
        let kafka = mock_client!(aws_sdk_kafka, RuleMode::MatchAny, &refs);
        let provider = MskProvider::new(kafka, aws_sdk_ec2::Client::new(&sdk_config()));
        let tags = BTreeMap::new();
        let config = json!({});
        let target = Target {
            address: "data/events",
            name: NAME,
            spec,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let ids = BTreeMap::from([("securityGroup".to_string(), "sg-1".to_string())]);
        provider.update(&target, &ids).await
    }

    fn cluster(fail_next: bool) -> Shared {
        Arc::new(Mutex::new(Cluster {
            version: 1,
            brokers: 2,
            storage: 100,
            operation: None,
            operations: 0,
            fail_next,
            log: Vec::new(),
        }))
    }

    /// Two brokers to four, then 100 GiB to 200: the storage call is sent only once the
    /// broker operation reported UPDATE_COMPLETE, and with the version the cluster has after
    /// it (K2), read anew.
    #[tokio::test]
    async fn each_update_waits_for_its_operation_and_the_next_carries_the_new_version() {
        let c = cluster(false);
        let out = update(&c, spec(json!({"brokerNodes": 4, "storageGB": 200}))).await;
        let log = c.lock().unwrap().log.clone();
        let out = out.unwrap_or_else(|e| panic!("{}; calls: {log:?}", e.chain()));
        assert_eq!(
            log,
            [
                "UpdateBrokerCount(K1)",
                "operation: PENDING",
                "operation: UPDATE_IN_PROGRESS",
                "operation: UPDATE_COMPLETE",
                "UpdateBrokerStorage(K2)",
                "operation: PENDING",
                "operation: UPDATE_IN_PROGRESS",
                "operation: UPDATE_COMPLETE",
                "TagResource",
            ]
        );
        let c = c.lock().unwrap();
        assert_eq!((c.brokers, c.storage, c.version), (4, 200, 3));
        assert_eq!(out.outputs["bootstrapBrokersIam"], "b-1:9098,b-2:9098");
    }

    /// An operation that ends UPDATE_FAILED fails the update with MSK's error code and
    /// message, and nothing after it is sent.
    #[tokio::test]
    async fn a_failed_operation_fails_the_update_with_its_error() {
        let c = cluster(true);
        let err = update(&c, spec(json!({"brokerNodes": 4, "storageGB": 200})))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{}", err.chain());
        assert!(
            err.message.contains("adding brokers of MSK cluster shop-dev-data-events failed")
                && err.message.contains(
                    "InsufficientCapacity: There is not enough kafka.t3.small capacity in us-east-1a"
                ),
            "{}",
            err.chain()
        );
        let c = c.lock().unwrap();
        assert_eq!(
            c.log,
            [
                "UpdateBrokerCount(K1)",
                "operation: PENDING",
                "operation: UPDATE_IN_PROGRESS",
                "operation: UPDATE_FAILED",
            ]
        );
        assert_eq!((c.brokers, c.storage, c.version), (2, 100, 1));
    }
}
