//! The rollout wait: until the primary deployment completes, or why it did not.

use super::*;

impl<S: EcsKind> EcsServiceProvider<S> {
    /// Waits until the service's primary deployment has rolled out (`COMPLETED`, as many tasks
    /// running as desired). A failed rollout, or one still going at the deadline, is reported
    /// with the stopped tasks' reasons, the unhealthy targets and the service's last events.
    pub(super) async fn wait_rollout(
        &self,
        t: &Target<'_, S>,
        cluster: &str,
        timeout_minutes: u32,
    ) -> Result<(), ProviderError> {
        let deadline = Instant::now() + Duration::from_secs(u64::from(timeout_minutes) * 60);
        loop {
            let svc = self
                .describe_service(cluster, t.name)
                .await?
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::NotFound,
                        format!("ECS service {} vanished during its deployment", t.name),
                    )
                })?;
            let primary = svc
                .deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"));
            let state = primary
                .and_then(|d| d.rollout_state())
                .map(|s| s.as_str().to_string());
            let running = primary.map_or(svc.running_count(), |d| d.running_count());
            let desired = primary.map_or(svc.desired_count(), |d| d.desired_count());
            match state.as_deref() {
                Some("COMPLETED") if running >= desired => return Ok(()),
                // A service without a rollout state (the ECS deployment controller reports
                // one; others do not) counts as done when its tasks run.
                None if svc.deployments().len() <= 1 && running >= desired => return Ok(()),
                Some("FAILED") => {
                    let why = self.diagnose(t, cluster, &svc).await;
                    let reason = primary
                        .and_then(|d| d.rollout_state_reason())
                        .unwrap_or("the deployment failed");
                    return Err(ProviderError::new(
                        ErrorKind::Invalid,
                        format!("ECS service {} did not roll out: {reason}{why}", t.name),
                    ));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                let why = self.diagnose(t, cluster, &svc).await;
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "ECS service {} still rolling out after {timeout_minutes} min ({running} of {desired} tasks running){why}",
                        t.name
                    ),
                ));
            }
            tokio::time::sleep(ROLLOUT_POLL).await;
        }
    }

    /// Why a rollout is not done, one line each after a newline: stopped tasks' reasons,
    /// unhealthy targets, recent events. Best effort: what cannot be read is left out.
    pub(super) async fn diagnose(&self, t: &Target<'_, S>, cluster: &str, svc: &Service) -> String {
        let mut lines = Vec::new();
        if let Ok(stopped) = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(t.name)
            .desired_status(DesiredStatus::Stopped)
            .send()
            .await
        {
            let arns: Vec<String> = stopped
                .task_arns()
                .iter()
                .take(REASONS_SHOWN)
                .cloned()
                .collect();
            if !arns.is_empty()
                && let Ok(tasks) = self
                    .ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(arns))
                    .send()
                    .await
            {
                for task in tasks.tasks() {
                    let containers: Vec<String> = task
                        .containers()
                        .iter()
                        .filter_map(|c| {
                            c.reason()
                                .map(|r| format!("{}: {r}", c.name().unwrap_or("container")))
                        })
                        .collect();
                    lines.push(format!(
                        "  stopped task: {}{}",
                        task.stopped_reason().unwrap_or("no reason given"),
                        if containers.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", containers.join("; "))
                        }
                    ));
                }
            }
        }
        for lb in svc.load_balancers() {
            let Some(tg) = lb.target_group_arn() else {
                continue;
            };
            if let Ok(health) = self
                .elb
                .describe_target_health()
                .target_group_arn(tg)
                .send()
                .await
            {
                for h in health.target_health_descriptions() {
                    let Some(th) = h.target_health() else {
                        continue;
                    };
                    if th.state().map(|s| s.as_str()) == Some("healthy") {
                        continue;
                    }
                    lines.push(format!(
                        "  target {}:{} {}: {}",
                        h.target().and_then(|t| t.id()).unwrap_or_default(),
                        h.target().and_then(|t| t.port()).unwrap_or_default(),
                        th.state().map(|s| s.as_str()).unwrap_or("unknown"),
                        th.description().unwrap_or_default()
                    ));
                }
            }
        }
        for e in svc.events().iter().take(REASONS_SHOWN) {
            if let Some(m) = e.message() {
                lines.push(format!("  event: {m}"));
            }
        }
        lines.iter().map(|l| format!("\n{l}")).collect()
    }
}

/// `2/2 running · rollout COMPLETED · revision 3` for a service.
pub(crate) fn service_health(svc: &Service) -> String {
    let primary = svc
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    let mut parts = vec![format!(
        "{}/{} running",
        svc.running_count(),
        svc.desired_count()
    )];
    if svc.pending_count() > 0 {
        parts.push(format!("{} pending", svc.pending_count()));
    }
    if let Some(state) = primary.and_then(|d| d.rollout_state()) {
        parts.push(format!("rollout {}", state.as_str()));
    }
    if svc.deployments().len() > 1 {
        parts.push(format!("{} deployments", svc.deployments().len()));
    }
    if let Some(rev) = svc
        .task_definition()
        .and_then(|td| td.rsplit_once(':'))
        .map(|(_, r)| r)
    {
        parts.push(format!("revision {rev}"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rollout the circuit breaker stopped is reported with the stopped tasks' reasons, the
    /// unhealthy targets and the service's events, not as a bare failure.
    #[tokio::test]
    async fn a_failed_rollout_says_why() {
        use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
        use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
        use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
        use aws_sdk_ecs::types::{
            Container, Deployment, DeploymentRolloutState, ServiceEvent, Task,
        };
        use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
        use aws_sdk_elasticloadbalancingv2::types::{
            TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .service_name("shop-dev-orders-api")
                        .status("ACTIVE")
                        .desired_count(2)
                        .running_count(0)
                        .deployments(
                            Deployment::builder()
                                .status("PRIMARY")
                                .desired_count(2)
                                .running_count(0)
                                .rollout_state(DeploymentRolloutState::Failed)
                                .rollout_state_reason(
                                    "ECS deployment circuit breaker: tasks failed to start.",
                                )
                                .build(),
                        )
                        .load_balancers(
                            EcsLoadBalancer::builder()
                                .target_group_arn("arn:aws:elasticloadbalancing:tg/api")
                                .build(),
                        )
                        .events(
                            ServiceEvent::builder()
                                .message("(service shop-dev-orders-api) rolling back to revision 3")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let list = mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:task/1")
                .build()
        });
        let tasks = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    Task::builder()
                        .stopped_reason("Essential container in task exited")
                        .containers(
                            Container::builder()
                                .name("api")
                                .reason("CannotPullContainerError: image not found")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let health = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
            .then_output(|| {
                DescribeTargetHealthOutput::builder()
                    .target_health_descriptions(
                        TargetHealthDescription::builder()
                            .target(
                                TargetDescription::builder()
                                    .id("10.0.1.5")
                                    .port(8080)
                                    .build(),
                            )
                            .target_health(
                                TargetHealth::builder()
                                    .state(TargetHealthStateEnum::Unhealthy)
                                    .description("Health checks failed with these codes: [503]")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list, &tasks]);
        let elb = mock_client!(aws_sdk_elasticloadbalancingv2, [&health]);
        // Clients the rollout wait never calls.
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let provider = MicroServiceProvider::new(Clients {
            ecs,
            elb,
            iam: aws_sdk_iam::Client::new(&conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
            scaling: aws_sdk_applicationautoscaling::Client::new(&conf),
            ec2: aws_sdk_ec2::Client::new(&conf),
            discovery: crate::microservice::unused_discovery(),
        });
        let spec: MicroServiceSpec = serde_json::from_value(
            json!({"image": {"repository": "nginx"}, "ports": [{"name": "http", "port": 8080}]}),
        )
        .unwrap();
        let tags = BTreeMap::new();
        let config = json!({});
        let target = Target {
            address: "orders/api",
            name: "shop-dev-orders-api",
            spec,
            tags: &tags,
            region: "us-east-1",
            config: &config,
        };
        let err = provider
            .wait_rollout(&target, "shop-dev", 1)
            .await
            .unwrap_err();
        let text = err.message;
        for needle in [
            "did not roll out: ECS deployment circuit breaker: tasks failed to start.",
            "stopped task: Essential container in task exited (api: CannotPullContainerError: image not found)",
            "target 10.0.1.5:8080 unhealthy: Health checks failed with these codes: [503]",
            "event: (service shop-dev-orders-api) rolling back to revision 3",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }
}
