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
//!
//! A read is DescribeCluster (by the recorded ARN), GetBootstrapBrokers (for the outputs, once
//! the cluster is active) and, with broker properties, DescribeConfigurationRevision for the
//! revision the cluster runs: 2 or 3 calls.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_kafka::Client;
use aws_sdk_kafka::types::ClusterState;
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::MskSpec;

use crate::errors::{aws_error, unless_gone};
use crate::network::{delete_security_group, ensure_security_group, placement};

mod cluster;
mod configuration;
mod observe;
#[cfg(test)]
mod tests;
mod update;

pub use cluster::client_port;
// The helpers of the one-file module, still at their `crate::msk::` paths.
use cluster::create_request;
#[allow(unused_imports)]
use cluster::{authentication, client_broker, client_subnets, in_transit, monitoring};
#[allow(unused_imports)]
use configuration::server_properties;
use observe::observe;
use update::live;

/// MSK documents 15 to 30 minutes for a new cluster and as long for some updates (a version
/// upgrade restarts every broker in turn); an hour leaves room for large clusters.
/// The unit tests replay the states without the wait.
#[cfg(not(test))]
const POLL: Duration = Duration::from_secs(30);
#[cfg(test)]
const POLL: Duration = Duration::from_millis(1);
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

    /// Refuses a cluster that does not carry the component's tags (ListTagsForResource).
    async fn check_cluster_owner(
        &self,
        c: &aws_sdk_kafka::types::ClusterInfo,
        t: &Target<'_, MskSpec>,
    ) -> Result<(), ProviderError> {
        let arn = c.cluster_arn().unwrap_or_default();
        let tags = self
            .kafka
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the tags of {arn}"), e))?;
        crate::errors::check_owner(
            &format!("MSK cluster {}", c.cluster_name().unwrap_or(t.name)),
            t.address,
            tags.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            t.tags,
        )
    }
}

impl KindProvider for MskProvider {
    type Spec = MskSpec;
    const KIND: &'static str = "MSK";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    /// The at-rest key when the spec leaves it to MSK, which then uses its AWS-managed key
    /// (`aws/kafka`) and reports that key's ARN.
    fn managed_by_aws(recorded: &MskSpec, _live: &MskSpec) -> Vec<&'static str> {
        if recorded.encryption.kms_key_id.is_none() {
            vec!["encryption.kmsKeyId"]
        } else {
            Vec::new()
        }
    }

    async fn create(&self, t: &Target<'_, MskSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        // A cluster of this name is this component's only when it carries the component's tags
        // (CreateCluster sets them): anybody else's is refused before panka makes anything.
        let existing = self.describe(t.name).await?;
        if let Some(c) = &existing {
            self.check_cluster_owner(c, t).await?;
        }
        let place = placement(&self.ec2, t.config).await?;
        let sg = ensure_security_group(
            &self.ec2,
            t.name,
            &format!("panka: {} (MSK)", t.address),
            &place.vpc_id,
            t.tags,
        )
        .await?;
        if let Some(c) = existing {
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
        create_request(&self.kafka, t.name, s, subnets, &sg, configuration, t.tags)
            .send()
            .await
            .map_err(|e| aws_error(format!("creating MSK cluster {}", t.name), e))?;
        let c = self.wait_active(t.name).await?;
        self.outcome(&c, s, &sg).await
    }

    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<MskSpec>>, ProviderError> {
        let found = match id.ids.get("cluster") {
            Some(arn) => self.describe_arn(arn).await?,
            // States written before the ARN was recorded: found by name.
            None => self.describe(id.name).await?,
        };
        let Some(c) = found else {
            return Ok(None);
        };
        let properties = match live(&c).configuration {
            Some((arn, revision)) => self.revision_properties(&arn, revision).await?,
            // No configuration of its own: MSK's defaults, none of the spec's properties.
            None => Some(String::new()),
        };
        let brokers = self.bootstrap_brokers(&c).await?;
        let sg = id.ids.get("securityGroup").map_or("", String::as_str);
        Ok(Some(observe(
            sg,
            &c,
            properties.as_deref(),
            brokers.as_ref(),
        )))
    }

    async fn update(
        &self,
        t: &Target<'_, MskSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.update_cluster(t, ids).await
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
        self.check_cluster_owner(&c, t).await?;
        let sg = crate::network::security_group_of(&self.ec2, t.config, t.name).await?;
        Ok(Some(self.outcome(&c, &t.spec, &sg).await?))
    }
}
