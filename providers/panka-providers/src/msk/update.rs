//! Changing a cluster in place: MSK takes one operation at a time, each waited for.

use std::collections::BTreeMap;

use aws_sdk_kafka::types::{
    BrokerEbsVolumeInfo, BrokerNodeGroupInfo, ClientAuthentication, ClientBroker, ClusterInfo,
    ConfigurationInfo, EbsStorageInfo, EncryptionInTransit, EncryptionInfo, EnhancedMonitoring,
    Iam, Sasl, Scram, StorageInfo, Unauthenticated,
};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, ProviderError, Target};
use panka_format::kinds::MskSpec;

use super::MskProvider;
use super::cluster::{authentication, client_broker, in_transit, monitoring};
use crate::errors::aws_error;

fn enabled(v: Option<bool>) -> bool {
    v.unwrap_or(false)
}

/// What a cluster's settings say, in the spec's terms, for drift and for deciding updates.
pub(super) struct Live {
    pub(super) kafka_version: String,
    pub(super) brokers: u32,
    pub(super) storage_gb: u32,
    pub(super) monitoring: Option<EnhancedMonitoring>,
    pub(super) client_broker: Option<ClientBroker>,
    pub(super) iam: bool,
    pub(super) scram: bool,
    pub(super) unauthenticated: bool,
    pub(super) configuration: Option<(String, i64)>,
}

pub(super) fn live(c: &ClusterInfo) -> Live {
    let auth = c.client_authentication();
    let sasl = auth.and_then(ClientAuthentication::sasl);
    let software = c.current_broker_software_info();
    Live {
        kafka_version: software
            .and_then(|s| s.kafka_version())
            .unwrap_or_default()
            .to_string(),
        brokers: c.number_of_broker_nodes().unwrap_or_default().max(0) as u32,
        storage_gb: c
            .broker_node_group_info()
            .and_then(BrokerNodeGroupInfo::storage_info)
            .and_then(StorageInfo::ebs_storage_info)
            .and_then(EbsStorageInfo::volume_size)
            .unwrap_or_default()
            .max(0) as u32,
        monitoring: c.enhanced_monitoring().cloned(),
        client_broker: c
            .encryption_info()
            .and_then(EncryptionInfo::encryption_in_transit)
            .and_then(EncryptionInTransit::client_broker)
            .cloned(),
        iam: enabled(sasl.and_then(Sasl::iam).and_then(Iam::enabled)),
        scram: enabled(sasl.and_then(Sasl::scram).and_then(Scram::enabled)),
        unauthenticated: enabled(
            auth.and_then(ClientAuthentication::unauthenticated)
                .and_then(Unauthenticated::enabled),
        ),
        configuration: software.and_then(|s| {
            Some((
                s.configuration_arn().filter(|a| !a.is_empty())?.to_string(),
                s.configuration_revision()?,
            ))
        }),
    }
}

impl MskProvider {
    /// Brings the cluster to `t`'s spec, one MSK operation at a time.
    pub(super) async fn update_cluster(
        &self,
        t: &Target<'_, MskSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let name = t.name;
        // MSK takes no update while another operation runs: the cluster is ACTIVE first.
        let mut c = self.wait_active(name).await?;
        let now = live(&c);
        if s.broker_nodes < now.brokers {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: MSK cannot go from {} brokers down to {}; keep {} or more, or replace \
                     the cluster (a new name)",
                    t.address, now.brokers, s.broker_nodes, now.brokers
                ),
            ));
        }
        if s.storage_gb < now.storage_gb {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: MSK cannot shrink broker storage from {} GiB to {} GiB",
                    t.address, now.storage_gb, s.storage_gb
                ),
            ));
        }
        if s.broker_nodes > now.brokers {
            c = self
                .step(&c, name, "adding brokers", |arn, version| {
                    self.kafka
                        .update_broker_count()
                        .cluster_arn(arn)
                        .current_version(version)
                        .target_number_of_broker_nodes(s.broker_nodes as i32)
                        .send()
                })
                .await?;
        }
        if s.storage_gb > now.storage_gb {
            c = self
                .step(&c, name, "growing the storage", |arn, version| {
                    self.kafka
                        .update_broker_storage()
                        .cluster_arn(arn)
                        .current_version(version)
                        .target_broker_ebs_volume_info(
                            BrokerEbsVolumeInfo::builder()
                                .kafka_broker_node_id("All")
                                .volume_size_gb(s.storage_gb as i32)
                                .build(),
                        )
                        .send()
                })
                .await?;
        }
        if now.kafka_version != s.kafka_version {
            c = self
                .step(&c, name, "upgrading Kafka", |arn, version| {
                    self.kafka
                        .update_cluster_kafka_version()
                        .cluster_arn(arn)
                        .current_version(version)
                        .target_kafka_version(&s.kafka_version)
                        .send()
                })
                .await?;
        }
        if now.monitoring.as_ref() != Some(&monitoring(s)) {
            c = self
                .step(&c, name, "changing the monitoring", |arn, version| {
                    self.kafka
                        .update_monitoring()
                        .cluster_arn(arn)
                        .current_version(version)
                        .enhanced_monitoring(monitoring(s))
                        .send()
                })
                .await?;
        }
        let a = &s.authentication;
        if (now.iam, now.scram, now.unauthenticated) != (a.iam, a.scram, a.unauthenticated)
            || now.client_broker.as_ref() != Some(&client_broker(s))
        {
            c = self
                .step(
                    &c,
                    name,
                    "changing authentication and encryption",
                    |arn, version| {
                        self.kafka
                            .update_security()
                            .cluster_arn(arn)
                            .current_version(version)
                            .client_authentication(authentication(s))
                            .encryption_info(
                                EncryptionInfo::builder()
                                    .encryption_in_transit(in_transit(s))
                                    .build(),
                            )
                            .send()
                    },
                )
                .await?;
        }
        let configuration = self.ensure_configuration(t).await?;
        if let Some((arn, revision)) = configuration
            && now.configuration != Some((arn.clone(), revision))
        {
            c = self
                .step(
                    &c,
                    name,
                    "applying the broker properties",
                    |cluster, version| {
                        self.kafka
                            .update_cluster_configuration()
                            .cluster_arn(cluster)
                            .current_version(version)
                            .configuration_info(
                                ConfigurationInfo::builder()
                                    .arn(arn)
                                    .revision(revision)
                                    .build(),
                            )
                            .send()
                    },
                )
                .await?;
        }
        if let Some(arn) = c.cluster_arn() {
            self.kafka
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging MSK cluster {name}"), e))?;
        }
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        self.outcome(&c, s, &sg).await
    }
}
