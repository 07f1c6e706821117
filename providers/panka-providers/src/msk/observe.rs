//! The cluster as MSK reports it, in the form of its spec.

use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersOutput;
use aws_sdk_kafka::types::{
    BrokerNodeGroupInfo, ClientBroker, ClusterInfo, EncryptionAtRest, EncryptionInfo,
    EnhancedMonitoring,
};
use panka_engine::Observation;
use panka_format::kinds::{
    MskAuthentication, MskClientBroker, MskEncryption, MskMonitoring, MskSpec,
};

use super::cluster::outcome_of;
use super::configuration::parse_properties;
use super::update::live;

/// The inverse of [`super::cluster::create_request`] (and of the configuration's server
/// properties): `properties` is the text of the configuration revision the cluster runs (empty
/// without a configuration of its own; `None` when MSK no longer has that revision), `brokers`
/// its bootstrap brokers once active.
pub(super) fn observe(
    sg: &str,
    c: &ClusterInfo,
    properties: Option<&str>,
    brokers: Option<&GetBootstrapBrokersOutput>,
) -> Observation<MskSpec> {
    let l = live(c);
    let mut unobserved = vec!["dependsOn"];
    if properties.is_none() {
        unobserved.push("configuration");
    }
    let in_transit = match l.client_broker {
        Some(ClientBroker::TlsPlaintext) => MskClientBroker::TlsPlaintext,
        Some(ClientBroker::Plaintext) => MskClientBroker::Plaintext,
        // MSK's default, and what it reports for TLS.
        _ => MskClientBroker::Tls,
    };
    let enhanced_monitoring = match l.monitoring {
        Some(EnhancedMonitoring::PerBroker) => MskMonitoring::PerBroker,
        Some(EnhancedMonitoring::PerTopicPerBroker) => MskMonitoring::PerTopicPerBroker,
        Some(EnhancedMonitoring::PerTopicPerPartition) => MskMonitoring::PerTopicPerPartition,
        _ => MskMonitoring::Default,
    };
    let spec = MskSpec {
        kafka_version: l.kafka_version,
        instance_type: c
            .broker_node_group_info()
            .and_then(BrokerNodeGroupInfo::instance_type)
            .unwrap_or_default()
            .to_string(),
        broker_nodes: l.brokers,
        storage_gb: l.storage_gb,
        encryption: MskEncryption {
            in_transit,
            kms_key_id: c
                .encryption_info()
                .and_then(EncryptionInfo::encryption_at_rest)
                .and_then(EncryptionAtRest::data_volume_kms_key_id)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
        },
        authentication: MskAuthentication {
            iam: l.iam,
            scram: l.scram,
            unauthenticated: l.unauthenticated,
        },
        enhanced_monitoring,
        configuration: properties.map(parse_properties).unwrap_or_default(),
        depends_on: Vec::new(),
    };
    let outcome = outcome_of(c, &spec, sg, brokers);
    Observation::new(outcome, spec).unobserved(&unobserved)
}
