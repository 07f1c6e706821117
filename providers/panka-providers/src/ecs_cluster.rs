//! The stack's shared ECS cluster (`_shared/cluster`): one per stack and environment, created
//! before the first MicroService, Worker or CronJob and deleted after the last one.
//!
//! Outputs: `name`, `arn`. Nothing forces replacement; Container Insights is set in place.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName, Tag};
use panka_engine::Transient;
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, Identity, KindProvider, Observation, ProviderError, Target};
use serde_json::{Value, json};

use crate::errors::{aws_error, poll_while};

/// Tasks of a deleted service take up to their stop timeout (and the load balancer's
/// deregistration delay) to stop; the cluster cannot be deleted before.
const DRAIN_WAIT: Duration = Duration::from_secs(600);
const DRAIN_POLL: Duration = Duration::from_secs(10);

/// The ECS cluster provider.
#[derive(Clone, Debug)]
pub struct ClusterProvider {
    ecs: Client,
}

impl ClusterProvider {
    pub fn new(ecs: Client) -> Self {
        ClusterProvider { ecs }
    }
}

/// Container Insights as the configuration asks (`containerInsights`, off by default).
fn insights(config: &Value) -> bool {
    config
        .get("containerInsights")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn setting(on: bool) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if on { "enabled" } else { "disabled" })
        .build()
}

pub(crate) fn ecs_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The cluster's ids and outputs; `name` falls back to the name asked for, `arn` is absent when
/// ECS reports none.
fn outcome(asked: &str, c: &Cluster) -> Outcome {
    let name = c
        .cluster_name()
        .filter(|n| !n.is_empty())
        .unwrap_or(asked)
        .to_string();
    let mut outputs = BTreeMap::from([("name".to_string(), name.clone())]);
    if let Some(arn) = c.cluster_arn().filter(|a| !a.is_empty()) {
        outputs.insert("arn".to_string(), arn.to_string());
    }
    Outcome {
        physical_ids: BTreeMap::from([("cluster".to_string(), name)]),
        outputs,
    }
}

/// The cluster's settings as ECS reports them, in the form of the configuration's settings:
/// the inverse of [`setting`]. Container Insights is on when `enabled` or `enhanced` (the
/// enhanced observability ECS offers since 2024, which includes it).
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ClusterSetting.html
fn observe(asked: &str, c: &Cluster) -> Observation<Value> {
    let on = c
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .is_some_and(|v| matches!(v, "enabled" | "enhanced"));
    Observation::new(outcome(asked, c), json!({ "containerInsights": on }))
}

impl ClusterProvider {
    /// The cluster `name` (with its settings) when it exists and is active.
    async fn describe(&self, name: &str) -> Result<Option<Cluster>, ProviderError> {
        let found = self
            .ecs
            .describe_clusters()
            .clusters(name)
            .include(ClusterField::Settings)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading ECS cluster {name}"), e))?;
        Ok(found
            .clusters()
            .iter()
            .find(|c| c.status() == Some("ACTIVE"))
            .cloned())
    }
}

impl KindProvider for ClusterProvider {
    type Spec = Value;
    const KIND: &'static str = "SharedCluster";

    async fn create(&self, t: &Target<'_, Value>) -> Result<Outcome, ProviderError> {
        // Made by a run that did not finish: bring it to the settings instead.
        if self.describe(t.name).await?.is_some() {
            return self.update(t, &BTreeMap::new()).await;
        }
        // CreateCluster re-activates an inactive cluster of the same name.
        let created = self
            .ecs
            .create_cluster()
            .cluster_name(t.name)
            .settings(setting(insights(t.config)))
            .set_tags(Some(ecs_tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("creating ECS cluster {}", t.name), e))?;
        let cluster = created.cluster().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("ECS returned no cluster for {}", t.name),
            )
        })?;
        Ok(outcome(t.name, cluster))
    }

    /// One DescribeClusters call (with its settings), by the recorded cluster name.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<Value>>, ProviderError> {
        let name = id.ids.get("cluster").map_or(id.name, String::as_str);
        Ok(self.describe(name).await?.map(|c| observe(name, &c)))
    }

    async fn update(
        &self,
        t: &Target<'_, Value>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let updated = self
            .ecs
            .update_cluster()
            .cluster(t.name)
            .settings(setting(insights(t.config)))
            .send()
            .await
            .map_err(|e| aws_error(format!("updating ECS cluster {}", t.name), e))?;
        let cluster = updated.cluster().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::NotFound,
                format!("ECS cluster {} does not exist", t.name),
            )
        })?;
        if let Some(arn) = cluster.cluster_arn() {
            self.ecs
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(ecs_tags(t.tags)))
                .send()
                .await
                .map_err(|e| aws_error(format!("tagging ECS cluster {}", t.name), e))?;
        }
        Ok(outcome(t.name, cluster))
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<Value>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let attempt = || async {
            match self.ecs.delete_cluster().cluster(name).send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception()) =>
                {
                    Ok(())
                }
                Err(e) => {
                    // Tasks of a service just deleted may still be stopping.
                    let busy = e.as_service_error().is_some_and(|s| {
                        s.is_cluster_contains_tasks_exception()
                            || s.is_cluster_contains_services_exception()
                    });
                    let mut err = aws_error(format!("deleting ECS cluster {name}"), e);
                    if busy {
                        err.kind = ErrorKind::Transient(Transient::DependencyNotReady);
                    }
                    Err(err)
                }
            }
        };
        let polls = (DRAIN_WAIT.as_secs() / DRAIN_POLL.as_secs()) as usize;
        poll_while(
            DRAIN_POLL,
            polls,
            ErrorKind::Transient(Transient::DependencyNotReady),
            attempt,
        )
        .await
    }

    async fn health(
        &self,
        t: &Target<'_, Value>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|c| {
            let mut line = format!(
                "{} services · {} tasks running",
                c.active_services_count(),
                c.running_tasks_count()
            );
            // Pending tasks, like a service's, only when there are some.
            if c.pending_tasks_count() > 0 {
                line.push_str(&format!(" · {} pending", c.pending_tasks_count()));
            }
            line
        }))
    }

    async fn find(&self, t: &Target<'_, Value>) -> Result<Option<Outcome>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|c| outcome(t.name, &c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const NAME: &str = "shop-dev";
    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/shop-dev";

    /// The cluster DescribeClusters (include SETTINGS) answers for one made with `settings`:
    /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html
    fn cluster(settings: Vec<ClusterSetting>, status: &str) -> Cluster {
        Cluster::builder()
            .cluster_name(NAME)
            .cluster_arn(ARN)
            .status(status)
            .set_settings(Some(settings))
            .active_services_count(2)
            .running_tasks_count(3)
            .build()
    }

    async fn read_back(c: Option<Cluster>) -> Option<Observation<Value>> {
        let rule = mock!(Client::describe_clusters)
            .match_requests(|r| {
                r.clusters() == [NAME] && r.include().contains(&ClusterField::Settings)
            })
            .then_output(move || {
                DescribeClustersOutput::builder()
                    .set_clusters(c.clone().map(|c| vec![c]))
                    .build()
            });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
        let ids = BTreeMap::from([("cluster".to_string(), NAME.to_string())]);
        let empty = BTreeMap::new();
        let id = crate::test_identity("_shared/cluster", NAME, &ids, &empty);
        ClusterProvider::new(client).read(&id).await.unwrap()
    }

    #[tokio::test]
    async fn a_cluster_made_with_insights_reads_back_with_insights() {
        let config = json!({"name": NAME, "containerInsights": true, "tags": {}});
        let made = cluster(vec![setting(insights(&config))], "ACTIVE");
        let seen = read_back(Some(made)).await.unwrap();
        assert_eq!(seen.spec, panka_engine::observe::settings(&config));
        assert_eq!(seen.outcome.outputs["arn"], ARN);
        assert_eq!(seen.outcome.outputs["name"], NAME);
        assert_eq!(seen.outcome.physical_ids["cluster"], NAME);
        assert!(seen.unobserved.is_empty());
    }

    #[tokio::test]
    async fn insights_changed_in_aws_read_back_changed() {
        let on = json!({"containerInsights": true});
        let off = json!({"containerInsights": false});
        for (value, expected) in [("disabled", &off), ("enabled", &on), ("enhanced", &on)] {
            let s = ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value(value)
                .build();
            let seen = read_back(Some(cluster(vec![s], "ACTIVE"))).await.unwrap();
            assert_eq!(&seen.spec, expected, "{value}");
        }
        // No setting reported at all: ECS's default, off.
        let seen = read_back(Some(cluster(vec![], "ACTIVE"))).await.unwrap();
        assert_eq!(seen.spec, off);
    }

    #[tokio::test]
    async fn a_cluster_gone_or_inactive_reads_as_absent() {
        assert!(read_back(None).await.is_none());
        let inactive = cluster(vec![setting(true)], "INACTIVE");
        assert!(read_back(Some(inactive)).await.is_none());
    }

    #[test]
    fn no_arn_means_no_arn_output() {
        let c = Cluster::builder().status("ACTIVE").build();
        let o = outcome(NAME, &c);
        assert_eq!(o.outputs.get("name").map(String::as_str), Some(NAME));
        assert!(!o.outputs.contains_key("arn"));
    }
}
