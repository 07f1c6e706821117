//! The cluster: the request that creates it, finding it, waiting for it, its outputs.

use std::collections::BTreeMap;

use aws_sdk_kafka::Client;
use aws_sdk_kafka::operation::create_cluster::builders::CreateClusterFluentBuilder;
use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersOutput;
use aws_sdk_kafka::types::{
    BrokerNodeGroupInfo, ClientAuthentication, ClientBroker, ClusterInfo, ClusterState,
    ConfigurationInfo, EbsStorageInfo, EncryptionAtRest, EncryptionInTransit, EncryptionInfo,
    EnhancedMonitoring, Iam, Sasl, Scram, StorageInfo, Unauthenticated,
};
use aws_smithy_runtime_api::client::result::SdkError;
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, ProviderError};
use panka_format::kinds::{MskClientBroker, MskMonitoring, MskSpec};

use super::update::live;
use super::{MskProvider, POLL, POLLS};
use crate::errors::{HasStatus, aws_error, poll_while, unless_missing};

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

pub(super) fn client_broker(s: &MskSpec) -> ClientBroker {
    match s.encryption.in_transit {
        MskClientBroker::Tls => ClientBroker::Tls,
        MskClientBroker::TlsPlaintext => ClientBroker::TlsPlaintext,
        MskClientBroker::Plaintext => ClientBroker::Plaintext,
    }
}

pub(super) fn monitoring(s: &MskSpec) -> EnhancedMonitoring {
    match s.enhanced_monitoring {
        MskMonitoring::Default => EnhancedMonitoring::Default,
        MskMonitoring::PerBroker => EnhancedMonitoring::PerBroker,
        MskMonitoring::PerTopicPerBroker => EnhancedMonitoring::PerTopicPerBroker,
        MskMonitoring::PerTopicPerPartition => EnhancedMonitoring::PerTopicPerPartition,
    }
}

pub(super) fn authentication(s: &MskSpec) -> ClientAuthentication {
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

pub(super) fn in_transit(s: &MskSpec) -> EncryptionInTransit {
    EncryptionInTransit::builder()
        .client_broker(client_broker(s))
        .in_cluster(true)
        .build()
}

/// The subnets the brokers go in: MSK takes two or three, each in its own Availability Zone,
/// and as many brokers in each. Three zones when the broker count allows it and the network has
/// them, else two.
pub(super) fn client_subnets(
    zones: &[(String, String)],
    brokers: u32,
) -> Result<Vec<String>, String> {
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

/// The request that creates the cluster `name` from `s`, its brokers in `subnets` and the
/// security group `sg`, with the broker properties of `configuration` (ARN and revision).
pub(super) fn create_request(
    kafka: &Client,
    name: &str,
    s: &MskSpec,
    subnets: Vec<String>,
    sg: &str,
    configuration: Option<(String, i64)>,
    tags: &BTreeMap<String, String>,
) -> CreateClusterFluentBuilder {
    let at_rest = s.encryption.kms_key_id.as_ref().map(|k| {
        EncryptionAtRest::builder()
            .data_volume_kms_key_id(k)
            .build()
    });
    kafka
        .create_cluster()
        .cluster_name(name)
        .kafka_version(&s.kafka_version)
        .number_of_broker_nodes(s.broker_nodes as i32)
        .broker_node_group_info(
            BrokerNodeGroupInfo::builder()
                .instance_type(&s.instance_type)
                .set_client_subnets(Some(subnets))
                .security_groups(sg)
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
        .set_tags(Some(tags.clone().into_iter().collect()))
}

/// The ids and outputs of a cluster; each bootstrap-broker output only when MSK has that
/// string (none before the cluster is active, none for a disabled authentication).
pub(super) fn outcome_of(
    c: &ClusterInfo,
    s: &MskSpec,
    sg: &str,
    brokers: Option<&GetBootstrapBrokersOutput>,
) -> Outcome {
    let arn = c.cluster_arn().unwrap_or_default().to_string();
    let mut outputs = BTreeMap::from([("port".to_string(), client_port(s).to_string())]);
    let mut physical_ids = BTreeMap::new();
    let put = |map: &mut BTreeMap<String, String>, key: &str, value: Option<&str>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            map.insert(key.to_string(), v.to_string());
        }
    };
    put(&mut outputs, "arn", Some(&arn));
    put(&mut outputs, "securityGroupId", Some(sg));
    if let Some(b) = brokers {
        put(
            &mut outputs,
            "bootstrapBrokers",
            b.bootstrap_broker_string(),
        );
        put(
            &mut outputs,
            "bootstrapBrokersTls",
            b.bootstrap_broker_string_tls(),
        );
        put(
            &mut outputs,
            "bootstrapBrokersIam",
            b.bootstrap_broker_string_sasl_iam(),
        );
    }
    put(&mut physical_ids, "cluster", Some(&arn));
    put(&mut physical_ids, "securityGroup", Some(sg));
    if let Some((config, _)) = live(c).configuration {
        put(&mut physical_ids, "configuration", Some(&config));
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

impl MskProvider {
    /// The subnets of `place` with their zones, in the network's order.
    pub(super) async fn zones(
        &self,
        subnets: &[String],
    ) -> Result<Vec<(String, String)>, ProviderError> {
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
    pub(super) async fn describe(&self, name: &str) -> Result<Option<ClusterInfo>, ProviderError> {
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
    pub(super) async fn wait_active(&self, name: &str) -> Result<ClusterInfo, ProviderError> {
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
    pub(super) async fn wait_deleted(&self, name: &str) -> Result<(), ProviderError> {
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

    /// The cluster `arn`; `None` when MSK does not know it.
    pub(super) async fn describe_arn(
        &self,
        arn: &str,
    ) -> Result<Option<ClusterInfo>, ProviderError> {
        Ok(unless_missing(
            self.kafka.describe_cluster().cluster_arn(arn).send().await,
            |s| s.is_not_found_exception(),
            format!("reading MSK cluster {arn}"),
        )?
        .and_then(|d| d.cluster_info().cloned()))
    }

    /// The cluster's bootstrap brokers; `None` until it is active (MSK has none before).
    pub(super) async fn bootstrap_brokers(
        &self,
        c: &ClusterInfo,
    ) -> Result<Option<GetBootstrapBrokersOutput>, ProviderError> {
        if c.state() != Some(&ClusterState::Active) {
            return Ok(None);
        }
        let arn = c.cluster_arn().unwrap_or_default();
        self.kafka
            .get_bootstrap_brokers()
            .cluster_arn(arn)
            .send()
            .await
            .map(Some)
            .map_err(|e| aws_error(format!("reading the brokers of {arn}"), e))
    }

    /// The cluster's outputs; bootstrap brokers exist only once it is active.
    pub(super) async fn outcome(
        &self,
        c: &ClusterInfo,
        s: &MskSpec,
        sg: &str,
    ) -> Result<Outcome, ProviderError> {
        let brokers = self.bootstrap_brokers(c).await?;
        Ok(outcome_of(c, s, sg, brokers.as_ref()))
    }

    /// Runs one update operation on the cluster `c`, with its ARN and current version, waits
    /// for the operation that call started (its ARN in the answer) to complete, and returns the
    /// cluster described anew: its current version changed with the operation, and the next
    /// update call must carry the new one (a stale one is refused). terraform-provider-aws does
    /// the same for each update in internal/service/kafka/cluster.go: `waitClusterOperationCompleted`
    /// on `ClusterOperationArn`, then `refreshClusterVersion`.
    pub(super) async fn step<F, Fut, T, E, R>(
        &self,
        c: &ClusterInfo,
        name: &str,
        what: &str,
        call: F,
    ) -> Result<ClusterInfo, ProviderError>
    where
        F: FnOnce(String, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
        T: StartsOperation,
        E: std::error::Error
            + aws_smithy_types::error::metadata::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
        R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
    {
        let arn = c.cluster_arn().unwrap_or_default().to_string();
        let version = c.current_version().unwrap_or_default().to_string();
        let started = call(arn, version)
            .await
            .map_err(|e| aws_error(format!("{what} of MSK cluster {name}"), e))?;
        // MSK documents an operation ARN in every update's answer; without one, the cluster's
        // state is all there is to wait on.
        if let Some(operation) = started.operation_arn() {
            self.wait_operation(name, what, operation).await?;
        }
        self.wait_active(name).await
    }

    /// Polls the cluster operation `operation` (DescribeClusterOperationV2) until it is
    /// `UPDATE_COMPLETE`; `UPDATE_FAILED` ends the wait with MSK's error code and message.
    /// terraform-provider-aws internal/service/kafka/wait.go `waitClusterOperationCompleted`:
    /// pending `PENDING` and `UPDATE_IN_PROGRESS`, target `UPDATE_COMPLETE`, the operation's
    /// `ErrorInfo` as the error of a failed one.
    pub(super) async fn wait_operation(
        &self,
        name: &str,
        what: &str,
        operation: &str,
    ) -> Result<(), ProviderError> {
        let check = || async {
            let described = unless_missing(
                self.kafka
                    .describe_cluster_operation_v2()
                    .cluster_operation_arn(operation)
                    .send()
                    .await,
                |s| s.is_not_found_exception(),
                format!("reading MSK operation {operation} ({what} of {name})"),
            )?;
            let info = described.as_ref().and_then(|d| d.cluster_operation_info());
            // An operation just started may not be visible yet: still pending.
            let state = info
                .and_then(|i| i.operation_state())
                .unwrap_or(OPERATION_PENDING[0]);
            match state {
                OPERATION_COMPLETE => Ok(()),
                OPERATION_FAILED => {
                    let error = info.and_then(|i| i.error_info());
                    Err(ProviderError::new(
                        ErrorKind::Invalid,
                        format!(
                            "{what} of MSK cluster {name} failed (operation {operation}): {}: {}",
                            error
                                .and_then(|e| e.error_code())
                                .unwrap_or("no error code"),
                            error
                                .and_then(|e| e.error_string())
                                .unwrap_or("MSK gave no message")
                        ),
                    ))
                }
                s if OPERATION_PENDING.contains(&s) => Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{what} of MSK cluster {name} is still {s} after {} minutes (operation {operation})",
                        POLL.as_secs() * POLLS as u64 / 60
                    ),
                )),
                other => Err(ProviderError::new(
                    ErrorKind::Conflict,
                    format!("{what} of MSK cluster {name}: operation {operation} is {other}"),
                )),
            }
        };
        poll_while(POLL, POLLS, ErrorKind::Timeout, check).await
    }
}

/// The states of a cluster operation on its way to [`OPERATION_COMPLETE`]
/// (terraform-provider-aws internal/service/kafka/wait.go `waitClusterOperationCompleted`).
const OPERATION_PENDING: &[&str] = &["PENDING", "UPDATE_IN_PROGRESS"];
const OPERATION_COMPLETE: &str = "UPDATE_COMPLETE";
const OPERATION_FAILED: &str = "UPDATE_FAILED";

/// The answer of an MSK update call: the ARN of the cluster operation it started.
pub(super) trait StartsOperation {
    fn operation_arn(&self) -> Option<&str>;
}

macro_rules! starts_operation {
    ($($output:ty),* $(,)?) => {
        $(impl StartsOperation for $output {
            fn operation_arn(&self) -> Option<&str> {
                self.cluster_operation_arn()
            }
        })*
    };
}

starts_operation!(
    aws_sdk_kafka::operation::update_broker_count::UpdateBrokerCountOutput,
    aws_sdk_kafka::operation::update_broker_storage::UpdateBrokerStorageOutput,
    aws_sdk_kafka::operation::update_cluster_kafka_version::UpdateClusterKafkaVersionOutput,
    aws_sdk_kafka::operation::update_monitoring::UpdateMonitoringOutput,
    aws_sdk_kafka::operation::update_security::UpdateSecurityOutput,
    aws_sdk_kafka::operation::update_cluster_configuration::UpdateClusterConfigurationOutput,
);
