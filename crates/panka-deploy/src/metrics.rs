//! Deployment metrics in CloudWatch (`deployment.metrics.namespace`): after each apply,
//! destroy, rollback and remediation, its duration, success or failure, resources created,
//! updated, replaced and deleted, and the time spent waiting for locks, with the dimensions
//! Stack and Environment, and Stack, Environment and Service for each service a targeted run
//! was limited to.

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use panka_state::{Deployment, DeploymentResult};

/// Where metrics go.
#[derive(Clone, Debug)]
pub struct MetricsSink {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl MetricsSink {
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: impl Into<String>) -> Self {
        MetricsSink {
            client,
            namespace: namespace.into(),
        }
    }

    /// The namespace metrics are published in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Publishes one deployment's metrics.
    ///
    /// # Errors
    /// CloudWatch refused or could not be reached (the message says which call).
    pub async fn publish(
        &self,
        stack: &str,
        environment: &str,
        deployment: &Deployment,
    ) -> Result<(), String> {
        let mut dimension_sets = vec![vec![
            dimension("Stack", stack),
            dimension("Environment", environment),
        ]];
        for service in &deployment.services {
            dimension_sets.push(vec![
                dimension("Stack", stack),
                dimension("Environment", environment),
                dimension("Service", service),
            ]);
        }
        let c = &deployment.changes;
        let succeeded = deployment.result == DeploymentResult::Succeeded;
        let values: [(&str, f64, StandardUnit); 8] = [
            (
                "DeploymentDuration",
                deployment.duration_seconds,
                StandardUnit::Seconds,
            ),
            (
                "DeploymentSucceeded",
                f64::from(u8::from(succeeded)),
                StandardUnit::Count,
            ),
            (
                "DeploymentFailed",
                f64::from(u8::from(deployment.result == DeploymentResult::Failed)),
                StandardUnit::Count,
            ),
            ("ResourcesCreated", c.created as f64, StandardUnit::Count),
            ("ResourcesUpdated", c.updated as f64, StandardUnit::Count),
            ("ResourcesReplaced", c.replaced as f64, StandardUnit::Count),
            ("ResourcesDeleted", c.deleted as f64, StandardUnit::Count),
            (
                "LockWaitTime",
                deployment.lock_wait_seconds,
                StandardUnit::Seconds,
            ),
        ];
        let timestamp =
            aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
        let mut data = Vec::new();
        for dims in &dimension_sets {
            for (name, value, unit) in &values {
                data.push(
                    MetricDatum::builder()
                        .metric_name(*name)
                        .value(*value)
                        .unit(unit.clone())
                        .timestamp(timestamp)
                        .set_dimensions(Some(dims.clone()))
                        .build(),
                );
            }
        }
        // PutMetricData takes up to 1,000 data per call (CloudWatch API reference).
        for chunk in data.chunks(1000) {
            self.client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "publishing deployment metrics to CloudWatch namespace {}: {}",
                        self.namespace,
                        crate::error_chain(&e.into_service_error())
                    )
                })?;
        }
        Ok(())
    }
}

/// A CloudWatch client with panka's AWS settings (region, endpoint, credentials, retries).
pub fn client(aws: &panka_aws::Aws) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(aws.config())
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn deployment(services: &[&str], result: DeploymentResult) -> Deployment {
        Deployment {
            id: "d-1".into(),
            operation: "apply".into(),
            who: "ci@host".into(),
            started_at: "2026-12-07T10:00:00Z".into(),
            finished_at: "2026-12-07T10:01:00Z".into(),
            duration_seconds: 60.5,
            git_commit: None,
            git_branch: None,
            variables_hash: String::new(),
            result,
            changes: panka_state::ChangeCounts {
                created: 3,
                updated: 2,
                replaced: 1,
                deleted: 4,
                failed: 0,
            },
            services: services.iter().map(|s| s.to_string()).collect(),
            lock_wait_seconds: 2.5,
            rollback_of: None,
        }
    }

    #[tokio::test]
    async fn a_targeted_deployment_is_published_per_stack_and_per_service() {
        let put = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
            .match_requests(|r| {
                let data = r.metric_data();
                let names = |d: &MetricDatum| {
                    d.dimensions()
                        .iter()
                        .map(|x| format!("{}={}", x.name().unwrap(), x.value().unwrap()))
                        .collect::<Vec<_>>()
                };
                let value = |metric: &str, dims: usize| {
                    data.iter()
                        .find(|d| d.metric_name() == Some(metric) && d.dimensions().len() == dims)
                        .and_then(MetricDatum::value)
                };
                r.namespace() == Some("Shop/Deployments")
                    && data.len() == 16
                    && value("DeploymentDuration", 2) == Some(60.5)
                    && value("DeploymentSucceeded", 3) == Some(1.0)
                    && value("DeploymentFailed", 2) == Some(0.0)
                    && value("ResourcesDeleted", 3) == Some(4.0)
                    && value("LockWaitTime", 2) == Some(2.5)
                    && data
                        .iter()
                        .any(|d| names(d) == ["Stack=shop", "Environment=dev", "Service=orders"])
            })
            .then_output(|| PutMetricDataOutput::builder().build());
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&put]);
        MetricsSink::new(client, "Shop/Deployments")
            .publish(
                "shop",
                "dev",
                &deployment(&["orders"], DeploymentResult::Succeeded),
            )
            .await
            .unwrap();
        assert_eq!(put.num_calls(), 1);
    }
}
