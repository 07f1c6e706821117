//! The stack's shared ECS cluster (`_shared/cluster`): one per stack and environment, created
//! before the first MicroService, Worker or CronJob and deleted after the last one.
//!
//! Outputs: `name`, `arn`. Nothing forces replacement; Container Insights is set in place.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Cluster, ClusterSetting, ClusterSettingName, Tag};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use serde_json::Value;

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

fn outcome(c: &Cluster) -> Outcome {
    let name = c.cluster_name().unwrap_or_default().to_string();
    let arn = c.cluster_arn().unwrap_or_default().to_string();
    Outcome {
        physical_ids: BTreeMap::from([("cluster".to_string(), name.clone())]),
        outputs: BTreeMap::from([("name".to_string(), name), ("arn".to_string(), arn)]),
    }
}

impl ClusterProvider {
    /// The cluster `name` when it exists and is active.
    async fn describe(&self, name: &str) -> Result<Option<Cluster>, ProviderError> {
        let found = self
            .ecs
            .describe_clusters()
            .clusters(name)
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
        Ok(outcome(cluster))
    }

    async fn read(
        &self,
        t: &Target<'_, Value>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self.describe(t.name).await?.map(|c| Observed {
            outcome: outcome(&c),
            spec: t.spec.clone(),
        }))
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
        Ok(outcome(cluster))
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
                        err.kind = ErrorKind::Retryable;
                    }
                    Err(err)
                }
            }
        };
        let polls = (DRAIN_WAIT.as_secs() / DRAIN_POLL.as_secs()) as usize;
        poll_while(DRAIN_POLL, polls, ErrorKind::Retryable, attempt).await
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
        Ok(self.describe(t.name).await?.as_ref().map(outcome))
    }
}
