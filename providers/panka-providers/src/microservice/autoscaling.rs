//! Target-tracking autoscaling of the service's desired count (Application Auto Scaling).

use aws_sdk_applicationautoscaling::types::{
    MetricType, PredefinedMetricSpecification, TargetTrackingScalingPolicyConfiguration,
};
use panka_format::model::Autoscaling;

use super::*;

/// The policies panka keeps on a service, named `NAME-KIND`.
pub(super) const POLICY_KINDS: [&str; 3] = ["cpu", "memory", "requests"];

/// The resource label of an `ALBRequestCountPerTarget` metric:
/// `app/NAME/ID/targetgroup/NAME/ID`, from the load balancer and target group ARNs.
pub(super) fn request_label(lb_arn: &str, tg_arn: &str) -> String {
    format!(
        "{}/{}",
        lb_arn.split_once(":loadbalancer/").map_or("", |(_, r)| r),
        tg_arn.rsplit_once(':').map_or("", |(_, r)| r)
    )
}

/// The target-tracking policies of `a`, by kind (one of [`POLICY_KINDS`]): the metric and the
/// value to hold; `label` is the request-count metric's resource label.
pub(super) fn target_policies(
    a: &Autoscaling,
    label: Option<String>,
) -> Result<Vec<(&'static str, TargetTrackingScalingPolicyConfiguration)>, ProviderError> {
    let mut wanted = Vec::new();
    for (kind, metric, target, label) in [
        (
            "cpu",
            MetricType::EcsServiceAverageCpuUtilization,
            a.target_cpu_percent,
            None,
        ),
        (
            "memory",
            MetricType::EcsServiceAverageMemoryUtilization,
            a.target_memory_percent,
            None,
        ),
        (
            "requests",
            MetricType::AlbRequestCountPerTarget,
            a.requests_per_target,
            label,
        ),
    ] {
        let Some(target) = target else { continue };
        let spec = PredefinedMetricSpecification::builder()
            .predefined_metric_type(metric)
            .set_resource_label(label)
            .build()
            .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "metric", e))?;
        let config = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(f64::from(target))
            .predefined_metric_specification(spec)
            .build()
            .map_err(|e| ProviderError::with_source(ErrorKind::Invalid, "policy", e))?;
        wanted.push((kind, config));
    }
    Ok(wanted)
}

impl<S: EcsKind> EcsServiceProvider<S> {
    pub(super) async fn converge_autoscaling(
        &self,
        t: &Target<'_, S>,
        ctx: &Context,
        scaling: &panka_format::model::Scaling,
        outputs: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        use aws_sdk_applicationautoscaling::types::{
            PolicyType, ScalableDimension, ServiceNamespace,
        };
        let resource = scalable_resource(&ctx.cluster, t.name);
        let Some(a) = &scaling.autoscaling else {
            let registered = self
                .scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_ids(&resource)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading autoscaling of {}", t.name), e))?;
            if !registered.scalable_targets().is_empty() {
                self.scaling
                    .deregister_scalable_target()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(&resource)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("removing autoscaling of {}", t.name), e))?;
            }
            return Ok(());
        };
        self.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(a.min as i32)
            .max_capacity(a.max as i32)
            .send()
            .await
            .map_err(|e| aws_error(format!("registering autoscaling of {}", t.name), e))?;
        let label = if a.requests_per_target.is_some() {
            let lb = shared(t.config, "_shared/load-balancer")?
                .get("arn")
                .cloned()
                .unwrap_or_default();
            let tg = outputs.get("targetGroupArn").cloned().unwrap_or_default();
            Some(request_label(&lb, &tg))
        } else {
            None
        };
        let wanted = target_policies(a, label)?;
        let existing: BTreeSet<String> = self
            .scaling
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading the scaling policies of {}", t.name), e))?
            .scaling_policies()
            .iter()
            .map(|p| p.policy_name().to_string())
            .collect();
        for kind in POLICY_KINDS {
            let policy = format!("{}-{kind}", t.name);
            match wanted.iter().find(|w| w.0 == kind) {
                Some((_, config)) => {
                    self.scaling
                        .put_scaling_policy()
                        .policy_name(&policy)
                        .service_namespace(ServiceNamespace::Ecs)
                        .resource_id(&resource)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .policy_type(PolicyType::TargetTrackingScaling)
                        .target_tracking_scaling_policy_configuration(config.clone())
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("setting scaling policy {policy}"), e))?;
                }
                None if existing.contains(&policy) => {
                    self.scaling
                        .delete_scaling_policy()
                        .policy_name(&policy)
                        .service_namespace(ServiceNamespace::Ecs)
                        .resource_id(&resource)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("deleting scaling policy {policy}"), e))?;
                }
                None => {}
            }
        }
        Ok(())
    }
}
