//! Amazon MSK provisioned clusters: a security group, an MSK configuration holding the spec's
//! broker properties (when it has any), and the cluster in the stack's private subnets with its
//! brokers, EBS storage, encryption at rest and in transit, client authentication and monitoring.
//!
//! Outputs: `arn`, `bootstrapBrokers` (plaintext), `bootstrapBrokersTls`, `bootstrapBrokersIam`,
//! `port` (the port of the first enabled authentication: 9098 IAM, 9096 SASL/SCRAM, 9094 TLS,
//! 9092 plaintext; services referring to the cluster are let in on it) and `securityGroupId`.
//! The instance type and the KMS key force replacement. In place, one operation at a time (MSK
//! takes one per cluster, each waited for): more brokers, more storage, another Kafka version,
//! monitoring, authentication and client encryption, broker properties (a new configuration
//! revision). MSK cannot remove brokers or shrink storage: asking for that fails with a message
//! and changes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_kafka::Client;
use aws_sdk_kafka::primitives::Blob;
use aws_sdk_kafka::types::{
    BrokerEbsVolumeInfo, BrokerNodeGroupInfo, ClientAuthentication, ClientBroker, ClusterInfo,
    ClusterState, ConfigurationInfo, EbsStorageInfo, EncryptionAtRest, EncryptionInTransit,
    EncryptionInfo, EnhancedMonitoring, Iam, Sasl, Scram, StorageInfo, Unauthenticated,
};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{MskClientBroker, MskMonitoring, MskSpec};

use aws_smithy_runtime_api::client::result::SdkError;

use crate::errors::{HasStatus, aws_error, poll_while, unless_gone, unless_missing};
use crate::network::{delete_security_group, ensure_security_group, placement};

/// MSK documents 15 to 30 minutes for a new cluster and as long for some updates (a version
/// upgrade restarts every broker in turn); an hour leaves room for large clusters.
const POLL: Duration = Duration::from_secs(30);
const POLLS: usize = 120;

/// The MSK provider.
#[derive(Clone, Debug)]
pub struct MskProvider {
    kafka: Client,
    ec2: aws_sdk_ec2::Client,
}

impl MskProvider {
    pub fn new(kafka: Client, ec2: aws_sdk_ec2::Client) -> Self {
        MskProvider { kafka, ec2 }
    }
}

/// The port clients use: that of the first enabled authentication.
pub fn client_port(s: &MskSpec) -> u16 {
    if s.authentication.iam {
        9098
    } else if s.authentication.scram {
        9096
    } else if s.encryption.in_transit == MskClientBroker::Plaintext {
        9092
    } else {
        9094
    }
}

fn client_broker(s: &MskSpec) -> ClientBroker {
    match s.encryption.in_transit {
        MskClientBroker::Tls => ClientBroker::Tls,
        MskClientBroker::TlsPlaintext => ClientBroker::TlsPlaintext,
        MskClientBroker::Plaintext => ClientBroker::Plaintext,
    }
}

fn monitoring(s: &MskSpec) -> EnhancedMonitoring {
    match s.enhanced_monitoring {
        MskMonitoring::Default => EnhancedMonitoring::Default,
        MskMonitoring::PerBroker => EnhancedMonitoring::PerBroker,
        MskMonitoring::PerTopicPerBroker => EnhancedMonitoring::PerTopicPerBroker,
        MskMonitoring::PerTopicPerPartition => EnhancedMonitoring::PerTopicPerPartition,
    }
}

fn authentication(s: &MskSpec) -> ClientAuthentication {
    let a = &s.authentication;
    ClientAuthentication::builder()
        .sasl(
            Sasl::builder()
                .iam(Iam::builder().enabled(a.iam).build())
                .scram(Scram::builder().enabled(a.scram).build())
                .build(),
        )
        .unauthenticated(
            Unauthenticated::builder()
                .enabled(a.unauthenticated)
                .build(),
        )
        .build()
}

fn in_transit(s: &MskSpec) -> EncryptionInTransit {
    EncryptionInTransit::builder()
        .client_broker(client_broker(s))
        .in_cluster(true)
        .build()
}

/// The broker properties as MSK takes them: `key=value` lines, sorted.
fn server_properties(s: &MskSpec) -> String {
    let mut lines: Vec<String> = s
        .configuration
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

fn enabled(v: Option<bool>) -> bool {
    v.unwrap_or(false)
}

/// What a cluster's settings say, in the spec's terms, for drift and for deciding updates.
struct Live {
    kafka_version: String,
    brokers: u32,
    storage_gb: u32,
    monitoring: Option<EnhancedMonitoring>,
    client_broker: Option<ClientBroker>,
    iam: bool,
    scram: bool,
    unauthenticated: bool,
    configuration: Option<(String, i64)>,
}

fn live(c: &ClusterInfo) -> Live {
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

/// The subnets the brokers go in: MSK takes two or three, each in its own Availability Zone,
/// and as many brokers in each. Three zones when the broker count allows it and the network has
/// them, else two.
fn client_subnets(zones: &[(String, String)], brokers: u32) -> Result<Vec<String>, String> {
    let mut seen = std::collections::BTreeSet::new();
    let distinct: Vec<&String> = zones
        .iter()
        .filter(|(_, zone)| seen.insert(zone.clone()))
        .map(|(subnet, _)| subnet)
        .collect();
    let count = if brokers.is_multiple_of(3) && distinct.len() >= 3 {
        3
    } else if brokers.is_multiple_of(2) && distinct.len() >= 2 {
        2
    } else {
        return Err(format!(
            "MSK needs the brokers spread evenly over two or three Availability Zones: {brokers} \
             brokers over the network's {} zone{}",
            distinct.len(),
            if distinct.len() == 1 { "" } else { "s" }
        ));
    };
    Ok(distinct.into_iter().take(count).cloned().collect())
}

impl MskProvider {
    /// The subnets of `place` with their zones, in the network's order.
    async fn zones(&self, subnets: &[String]) -> Result<Vec<(String, String)>, ProviderError> {
        let described = self
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("reading the stack's subnets", e))?;
        Ok(subnets
            .iter()
            .filter_map(|id| {
                described
                    .subnets()
                    .iter()
                    .find(|s| s.subnet_id() == Some(id.as_str()))
                    .map(|s| {
                        (
                            id.clone(),
                            s.availability_zone().unwrap_or_default().to_string(),
                        )
                    })
            })
            .collect())
    }

    /// The cluster named `name` (MSK filters names by prefix: the exact one is kept).
    async fn describe(&self, name: &str) -> Result<Option<ClusterInfo>, ProviderError> {
        let listed = self
            .kafka
            .list_clusters()
            .cluster_name_filter(name)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing MSK clusters named {name}"), e))?;
        let Some(arn) = listed
            .cluster_info_list()
            .iter()
            .find(|c| c.cluster_name() == Some(name))
            .and_then(|c| c.cluster_arn())
        else {
            return Ok(None);
        };
        Ok(unless_missing(
            self.kafka.describe_cluster().cluster_arn(arn).send().await,
            |s| s.is_not_found_exception(),
            format!("reading MSK cluster {name}"),
        )?
        .and_then(|d| d.cluster_info().cloned()))
    }

    /// Polls until the cluster is `ACTIVE` (after a create or an update); a cluster that turns
    /// `FAILED` ends the wait at once.
    async fn wait_active(&self, name: &str) -> Result<ClusterInfo, ProviderError> {
        let check = || async {
            match self.describe(name).await? {
                Some(c) if c.state() == Some(&ClusterState::Active) => Ok(c),
                Some(c) if c.state() == Some(&ClusterState::Failed) => Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!("MSK cluster {name} failed; its events in the MSK console say why"),
                )),
                Some(c) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "MSK cluster {name} is still {} after {} minutes",
                        c.state()
                            .map_or("in an unknown state", ClusterState::as_str),
                        POLL.as_secs() * POLLS as u64 / 60
                    ),
                )),
                None => Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!("MSK cluster {name} vanished while being waited for"),
                )),
            }
        };
        poll_while(POLL, POLLS, ErrorKind::Timeout, check).await
    }

    /// Polls until no cluster of that name is left.
    async fn wait_deleted(&self, name: &str) -> Result<(), ProviderError> {
        let check = || async {
            match self.describe(name).await? {
                None => Ok(()),
                Some(c) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "MSK cluster {name} is still {} after {} minutes",
                        c.state().map_or("there", ClusterState::as_str),
                        POLL.as_secs() * POLLS as u64 / 60
                    ),
                )),
            }
        };
        poll_while(POLL, POLLS, ErrorKind::Timeout, check).await
    }

    /// The configuration holding the spec's broker properties, at the revision that has them;
    /// `None` when the spec sets none.
    async fn ensure_configuration(
        &self,
        t: &Target<'_, MskSpec>,
    ) -> Result<Option<(String, i64)>, ProviderError> {
        if t.spec.configuration.is_empty() {
            return Ok(None);
        }
        let properties = server_properties(&t.spec);
        let Some(arn) = self.find_configuration(t.name).await? else {
            let created = self
                .kafka
                .create_configuration()
                .name(t.name)
                .description(format!("panka: {}", t.address))
                .kafka_versions(&t.spec.kafka_version)
                .server_properties(Blob::new(properties))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating MSK configuration {}", t.name), e))?;
            return Ok(Some((
                created.arn().unwrap_or_default().to_string(),
                created
                    .latest_revision()
                    .and_then(|r| r.revision())
                    .unwrap_or(1),
            )));
        };
        let latest = self
            .kafka
            .describe_configuration()
            .arn(&arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading MSK configuration {}", t.name), e))?
            .latest_revision()
            .and_then(|r| r.revision())
            .unwrap_or(1);
        let current = self
            .kafka
            .describe_configuration_revision()
            .arn(&arn)
            .revision(latest)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading MSK configuration {}", t.name), e))?;
        if current.server_properties().map(Blob::as_ref) == Some(properties.as_bytes()) {
            return Ok(Some((arn, latest)));
        }
        let updated = self
            .kafka
            .update_configuration()
            .arn(&arn)
            .server_properties(Blob::new(properties))
            .send()
            .await
            .map_err(|e| aws_error(format!("updating MSK configuration {}", t.name), e))?;
        Ok(Some((
            arn,
            updated
                .latest_revision()
                .and_then(|r| r.revision())
                .unwrap_or(latest + 1),
        )))
    }

    async fn find_configuration(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let mut next = None;
        loop {
            let page = self
                .kafka
                .list_configurations()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error("listing MSK configurations", e))?;
            if let Some(arn) = page
                .configurations()
                .iter()
                .find(|c| c.name() == Some(name))
                .and_then(|c| c.arn())
            {
                return Ok(Some(arn.to_string()));
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(None);
            }
        }
    }

    /// The cluster's outputs; bootstrap brokers exist only once it is active.
    async fn outcome(
        &self,
        c: &ClusterInfo,
        s: &MskSpec,
        sg: &str,
    ) -> Result<Outcome, ProviderError> {
        let arn = c.cluster_arn().unwrap_or_default().to_string();
        let mut outputs = BTreeMap::from([
            ("arn".to_string(), arn.clone()),
            ("port".to_string(), client_port(s).to_string()),
            ("securityGroupId".to_string(), sg.to_string()),
        ]);
        let (mut plain, mut tls, mut iam) = Default::default();
        if c.state() == Some(&ClusterState::Active) {
            let b = self
                .kafka
                .get_bootstrap_brokers()
                .cluster_arn(&arn)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the brokers of {arn}"), e))?;
            let text = |v: Option<&str>| v.unwrap_or_default().to_string();
            plain = text(b.bootstrap_broker_string());
            tls = text(b.bootstrap_broker_string_tls());
            iam = text(b.bootstrap_broker_string_sasl_iam());
        }
        outputs.insert("bootstrapBrokers".to_string(), plain);
        outputs.insert("bootstrapBrokersTls".to_string(), tls);
        outputs.insert("bootstrapBrokersIam".to_string(), iam);
        let mut physical_ids = BTreeMap::from([
            ("cluster".to_string(), arn),
            ("securityGroup".to_string(), sg.to_string()),
        ]);
        if let Some((config, _)) = live(c).configuration {
            physical_ids.insert("configuration".to_string(), config);
        }
        Ok(Outcome {
            physical_ids,
            outputs,
        })
    }

    /// Runs one update operation on the cluster and waits until it is active again.
    async fn step<F, Fut, T, E, R>(
        &self,
        name: &str,
        what: &str,
        call: F,
    ) -> Result<ClusterInfo, ProviderError>
    where
        F: FnOnce(String, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
        E: std::error::Error + Send + Sync + 'static,
        R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
    {
        let c = self.wait_active(name).await?;
        let arn = c.cluster_arn().unwrap_or_default().to_string();
        let version = c.current_version().unwrap_or_default().to_string();
        call(arn, version)
            .await
            .map_err(|e| aws_error(format!("{what} of MSK cluster {name}"), e))?;
        self.wait_active(name).await
    }
}

impl KindProvider for MskProvider {
    type Spec = MskSpec;
    const KIND: &'static str = "MSK";

    async fn create(&self, t: &Target<'_, MskSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (MSK)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(c) = self.describe(t.name).await? {
            // Created by a run that did not finish: wait for it rather than create it again.
            let c = if c.state() == Some(&ClusterState::Active) {
                c
            } else {
                self.wait_active(t.name).await?
            };
            return self.outcome(&c, s, &sg).await;
        }
        let subnets = client_subnets(&self.zones(&place.subnets).await?, s.broker_nodes)
            .map_err(|m| ProviderError::new(ErrorKind::Invalid, format!("{}: {m}", t.address)))?;
        let configuration = self.ensure_configuration(t).await?;
        let at_rest = s.encryption.kms_key_id.as_ref().map(|k| {
            EncryptionAtRest::builder()
                .data_volume_kms_key_id(k)
                .build()
        });
        self.kafka
            .create_cluster()
            .cluster_name(t.name)
            .kafka_version(&s.kafka_version)
            .number_of_broker_nodes(s.broker_nodes as i32)
            .broker_node_group_info(
                BrokerNodeGroupInfo::builder()
                    .instance_type(&s.instance_type)
                    .set_client_subnets(Some(subnets))
                    .security_groups(&sg)
                    .storage_info(
                        StorageInfo::builder()
                            .ebs_storage_info(
                                EbsStorageInfo::builder()
                                    .volume_size(s.storage_gb as i32)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .encryption_info(
                EncryptionInfo::builder()
                    .set_encryption_at_rest(at_rest)
                    .encryption_in_transit(in_transit(s))
                    .build(),
            )
            .client_authentication(authentication(s))
            .enhanced_monitoring(monitoring(s))
            .set_configuration_info(configuration.map(|(arn, revision)| {
                ConfigurationInfo::builder()
                    .arn(arn)
                    .revision(revision)
                    .build()
            }))
            .set_tags(Some(t.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error(format!("creating MSK cluster {}", t.name), e))?;
        let c = self.wait_active(t.name).await?;
        self.outcome(&c, s, &sg).await
    }

    async fn read(
        &self,
        t: &Target<'_, MskSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let l = live(&c);
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if !l.kafka_version.is_empty() {
            spec["kafkaVersion"] = l.kafka_version.into();
        }
        if let Some(i) = c.broker_node_group_info().and_then(|b| b.instance_type()) {
            spec["instanceType"] = i.into();
        }
        spec["brokerNodes"] = l.brokers.into();
        if l.storage_gb > 0 {
            spec["storageGB"] = l.storage_gb.into();
        }
        if let Some(m) = &l.monitoring {
            spec["enhancedMonitoring"] = m.as_str().into();
        }
        if let Some(cb) = &l.client_broker {
            spec["encryption"]["inTransit"] = cb.as_str().into();
        }
        spec["authentication"]["iam"] = l.iam.into();
        spec["authentication"]["scram"] = l.scram.into();
        spec["authentication"]["unauthenticated"] = l.unauthenticated.into();
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        Ok(Some(Observed {
            outcome: self.outcome(&c, &t.spec, &sg).await?,
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, MskSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let name = t.name;
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
                .step(name, "adding brokers", |arn, version| {
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
                .step(name, "growing the storage", |arn, version| {
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
                .step(name, "upgrading Kafka", |arn, version| {
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
                .step(name, "changing the monitoring", |arn, version| {
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

    async fn delete(
        &self,
        name: &str,
        spec: Option<MskSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        if let Some(c) = self.describe(name).await? {
            if c.state() != Some(&ClusterState::Deleting) {
                let deleted = self
                    .kafka
                    .delete_cluster()
                    .cluster_arn(c.cluster_arn().unwrap_or_default())
                    .set_current_version(c.current_version().map(str::to_string))
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_not_found_exception(),
                    format!("deleting MSK cluster {name}"),
                )?;
            }
            self.wait_deleted(name).await?;
        }
        // The configuration can go once no cluster uses it. Without a recorded one, it is looked
        // for only when the spec had broker properties (a create killed before it recorded the
        // configuration may have made it).
        let configuration = match ids.get("configuration") {
            Some(arn) => Some(arn.clone()),
            None if spec.is_some_and(|s| !s.configuration.is_empty()) => {
                self.find_configuration(name).await?
            }
            None => None,
        };
        if let Some(arn) = configuration {
            let deleted = self.kafka.delete_configuration().arn(&arn).send().await;
            unless_gone(
                deleted,
                |s| s.is_not_found_exception(),
                format!("deleting MSK configuration {arn}"),
            )?;
        }
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, MskSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|c| {
            let l = live(&c);
            format!(
                "{} · {} broker{} · kafka {}",
                c.state().map_or("unknown", ClusterState::as_str),
                l.brokers,
                if l.brokers == 1 { "" } else { "s" },
                if l.kafka_version.is_empty() {
                    "?"
                } else {
                    &l.kafka_version
                }
            )
        }))
    }

    async fn find(&self, t: &Target<'_, MskSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(c) = self.describe(t.name).await? else {
            return Ok(None);
        };
        // Adopted only when it carries this stack's tags.
        let arn = c.cluster_arn().unwrap_or_default();
        let tags = self
            .kafka
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of {arn}"), e))?;
        let ours = ["panka:stack", "panka:environment", "panka:component"]
            .iter()
            .all(|k| tags.tags().and_then(|m| m.get(*k)) == t.tags.get(*k));
        if !ours {
            return Ok(None);
        }
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(self.outcome(&c, &t.spec, &sg).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let config_arn =
            "arn:aws:kafka:us-east-1:123456789012:configuration/shop-dev-data-events/1";
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
}
