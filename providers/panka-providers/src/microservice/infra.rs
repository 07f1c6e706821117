//! Reading a component's `infra` back from AWS: the task's size from its task definition (the
//! inverse of `register`), the task count and placement from the service (the inverse of the
//! `converge` network configuration and desired count, or of a CronJob's `RunTask` parameters),
//! and the autoscaling from Application Auto Scaling (the inverse of
//! [`super::autoscaling::target_policies`]).
//!
//! Subnets are read as a placement (`private` or `public`): the subnet lists of the stack's
//! network are recorded in the physical ids when the tasks are placed (`subnets.private`,
//! `subnets.public`), and the subnets AWS reports are matched against them, so the read needs
//! no EC2 call. In the default VPC (`defaultVpc` recorded) every subnet is public and both
//! placements put the tasks in all of them, and panka gives the tasks a public IP whatever the
//! infra says: there the placement, and a public IP, cannot be told apart.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, ScalableTarget, ScalingPolicy,
};
use panka_format::model::{Autoscaling, Networking, Resources};

use super::*;

/// The ephemeral storage of a Fargate task that asks for none, in GiB (the spec's default):
/// panka registers a size only above it.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-storage.html
pub(crate) const FARGATE_EPHEMERAL_GIB: u32 = 21;

/// Physical ids recording where the tasks are placed: the stack network's private and public
/// subnets (comma-separated), or the default VPC's id.
pub(crate) const PRIVATE_SUBNETS: &str = "subnets.private";
pub(crate) const PUBLIC_SUBNETS: &str = "subnets.public";
pub(crate) const DEFAULT_VPC: &str = "defaultVpc";

/// The physical ids that record the network the tasks are placed in: the subnet lists of the
/// configuration's `network`, or, without one, the default VPC `vpc_id` (when known).
pub(crate) fn network_ids(config: &Value, vpc_id: Option<&str>) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    match config.get("network").filter(|n| !n.is_null()) {
        Some(n) => {
            for (field, key) in [
                ("privateSubnets", PRIVATE_SUBNETS),
                ("publicSubnets", PUBLIC_SUBNETS),
            ] {
                let subnets: Vec<&str> = n
                    .get(field)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !subnets.is_empty() {
                    ids.insert(key.to_string(), subnets.join(","));
                }
            }
        }
        None => {
            if let Some(vpc) = vpc_id.filter(|v| !v.is_empty()) {
                ids.insert(DEFAULT_VPC.to_string(), vpc.to_string());
            }
        }
    }
    ids
}

/// A task-level size as ECS holds it: CPU units or MiB (`1024`), or the `1 vCPU` / `2 GB`
/// spelling ECS also accepts (1024 units a vCPU, 1024 MiB a GB).
fn task_size(text: &str, unit: &str) -> Option<u32> {
    let text = text.trim();
    if let Ok(v) = text.parse::<u32>() {
        return Some(v);
    }
    let (number, suffix) = text.split_once(' ')?;
    if !suffix.trim().eq_ignore_ascii_case(unit) {
        return None;
    }
    let v = number.parse::<f64>().ok()? * 1024.0;
    (v >= 0.0 && v <= f64::from(u32::MAX)).then(|| v.round() as u32)
}

/// CPU, memory and ephemeral storage of a task definition; a size it does not report is added
/// to `unobserved` (Fargate task definitions always carry both).
pub(crate) fn resources_of(
    task: Option<&aws_sdk_ecs::types::TaskDefinition>,
    unobserved: &mut Vec<&'static str>,
) -> Resources {
    let defaults = Resources::default();
    let Some(task) = task else {
        unobserved.push("infra.resources");
        return defaults;
    };
    let cpu = task.cpu().and_then(|c| task_size(c, "vCPU"));
    let memory = task.memory().and_then(|m| task_size(m, "GB"));
    if cpu.is_none() {
        unobserved.push("infra.resources.cpu");
    }
    if memory.is_none() {
        unobserved.push("infra.resources.memory");
    }
    Resources {
        cpu: cpu.unwrap_or(defaults.cpu),
        memory: memory.unwrap_or(defaults.memory),
        ephemeral_storage_gb: task
            .ephemeral_storage()
            .and_then(|e| u32::try_from(e.size_in_gib()).ok())
            .unwrap_or(FARGATE_EPHEMERAL_GIB),
    }
}

/// What AWS reports of where the tasks run: a service's `awsvpcConfiguration`, or the
/// `AwsvpcConfiguration` of a CronJob's `RunTask` parameters.
pub(crate) struct TaskNetwork<'a> {
    pub subnets: &'a [String],
    pub security_groups: &'a [String],
    pub public_ip: bool,
}

/// The tasks' own security group: the one recorded (when still attached), or else the first
/// (panka attaches its own first, the component's extra groups after it).
pub(crate) fn own_group<'a>(groups: &'a [String], recorded: Option<&str>) -> Option<&'a str> {
    groups
        .iter()
        .find(|g| Some(g.as_str()) == recorded)
        .or(groups.first())
        .map(String::as_str)
}

/// The networking settings of the tasks: the placement whose recorded subnets are the ones
/// the tasks run in, the public IP, and the security groups besides their own (`own`).
/// `ids` are the recorded physical ids; what cannot be told is added to `unobserved`.
pub(crate) fn networking_of(
    net: &TaskNetwork<'_>,
    own: Option<&str>,
    ids: &BTreeMap<String, String>,
    unobserved: &mut Vec<&'static str>,
) -> Networking {
    let own = own_group(net.security_groups, own);
    let security_groups = net
        .security_groups
        .iter()
        .filter(|g| Some(g.as_str()) != own)
        .cloned()
        .collect();
    let live: BTreeSet<&str> = net.subnets.iter().map(String::as_str).collect();
    let recorded = |key: &str| {
        ids.get(key).map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .collect::<BTreeSet<&str>>()
        })
    };
    let private = recorded(PRIVATE_SUBNETS).is_some_and(|s| s == live);
    let public = recorded(PUBLIC_SUBNETS).is_some_and(|s| s == live);
    let default_vpc = ids.contains_key(DEFAULT_VPC);
    let subnets = match (private, public) {
        (true, false) if !default_vpc => SubnetPlacement::Private,
        (false, true) if !default_vpc => SubnetPlacement::Public,
        // The default VPC, the same subnets in both lists, subnets of neither (changed outside
        // panka) or no record (a state written before placements were recorded).
        _ => {
            unobserved.push("infra.networking.subnets");
            SubnetPlacement::default()
        }
    };
    // In the default VPC panka gives the tasks a public IP whatever the infra says.
    let unrecorded = [PRIVATE_SUBNETS, PUBLIC_SUBNETS, DEFAULT_VPC]
        .iter()
        .all(|k| !ids.contains_key(*k));
    if net.public_ip && (default_vpc || unrecorded) {
        unobserved.push("infra.networking.assignPublicIp");
    }
    Networking {
        subnets,
        assign_public_ip: net.public_ip,
        security_groups,
    }
}

/// The target-tracking autoscaling of a service: the scalable target's capacities and the
/// values its policies hold, by their predefined metric; `None` when no target is registered.
pub(super) fn autoscaling_of(
    target: Option<&ScalableTarget>,
    policies: &[ScalingPolicy],
) -> Option<Autoscaling> {
    let target = target?;
    let value = |metric: MetricType| {
        policies
            .iter()
            .filter(|p| p.policy_type() == &PolicyType::TargetTrackingScaling)
            .filter_map(|p| p.target_tracking_scaling_policy_configuration())
            .find(|c| {
                c.predefined_metric_specification()
                    .is_some_and(|m| m.predefined_metric_type() == &metric)
            })
            .map(|c| c.target_value())
            .filter(|v| *v >= 0.0 && *v <= f64::from(u32::MAX))
            .map(|v| v.round() as u32)
    };
    let count = |v: i32| u32::try_from(v).unwrap_or_default();
    Some(Autoscaling {
        min: count(target.min_capacity()),
        max: count(target.max_capacity()),
        target_cpu_percent: value(MetricType::EcsServiceAverageCpuUtilization),
        target_memory_percent: value(MetricType::EcsServiceAverageMemoryUtilization),
        requests_per_target: value(MetricType::AlbRequestCountPerTarget),
    })
}

/// The infra fields AWS manages under `recorded`: the task count, which autoscaling moves.
pub(super) fn managed_infra(recorded: &ComponentInfraSpec) -> Vec<&'static str> {
    if recorded
        .scaling
        .as_ref()
        .is_some_and(|s| s.autoscaling.is_some())
    {
        vec!["scaling.replicas"]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use panka_format::model::Scaling;

    #[test]
    fn the_task_count_is_managed_by_aws_only_under_autoscaling() {
        let mut infra = ComponentInfraSpec {
            scaling: Some(Scaling {
                replicas: 3,
                autoscaling: None,
            }),
            ..ComponentInfraSpec::default()
        };
        assert!(managed_infra(&infra).is_empty());
        assert!(managed_infra(&ComponentInfraSpec::default()).is_empty());
        infra.scaling.as_mut().unwrap().autoscaling = Some(Autoscaling {
            min: 1,
            max: 4,
            target_cpu_percent: Some(50),
            target_memory_percent: None,
            requests_per_target: None,
        });
        assert_eq!(managed_infra(&infra), ["scaling.replicas"]);
    }

    #[test]
    fn task_sizes_read_in_either_spelling() {
        assert_eq!(task_size("1024", "vCPU"), Some(1024));
        assert_eq!(task_size("0.25 vCPU", "vCPU"), Some(256));
        assert_eq!(task_size("2 GB", "GB"), Some(2048));
        assert_eq!(task_size("2 vCPU", "GB"), None);
    }

    #[test]
    fn placements_are_told_by_the_recorded_subnets() {
        let ids = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let network = ids(&[
            (PRIVATE_SUBNETS, "subnet-a,subnet-b"),
            (PUBLIC_SUBNETS, "subnet-p"),
        ]);
        let groups = ["sg-own".to_string(), "sg-extra".to_string()];
        let read = |subnets: &[&str], public_ip: bool, ids: &BTreeMap<String, String>| {
            let subnets: Vec<String> = subnets.iter().map(|s| s.to_string()).collect();
            let mut unobserved = Vec::new();
            let n = networking_of(
                &TaskNetwork {
                    subnets: &subnets,
                    security_groups: &groups,
                    public_ip,
                },
                Some("sg-own"),
                ids,
                &mut unobserved,
            );
            (n, unobserved)
        };
        // In any order.
        let (n, u) = read(&["subnet-b", "subnet-a"], false, &network);
        assert_eq!(n.subnets, SubnetPlacement::Private);
        assert_eq!(n.security_groups, ["sg-extra"]);
        assert!(u.is_empty());
        let (n, u) = read(&["subnet-p"], true, &network);
        assert_eq!(
            (n.subnets, n.assign_public_ip),
            (SubnetPlacement::Public, true)
        );
        assert!(u.is_empty());
        // Subnets of neither list: moved outside panka.
        let (_, u) = read(&["subnet-a"], false, &network);
        assert_eq!(u, ["infra.networking.subnets"]);
        // The default VPC: every subnet is public and a public IP is forced.
        let (_, u) = read(&["subnet-a"], true, &ids(&[(DEFAULT_VPC, "vpc-1")]));
        assert_eq!(
            u,
            [
                "infra.networking.subnets",
                "infra.networking.assignPublicIp"
            ]
        );
        // A state written before placements were recorded.
        let (n, u) = read(&["subnet-a"], false, &BTreeMap::new());
        assert_eq!(u, ["infra.networking.subnets"]);
        assert!(!n.assign_public_ip);
    }
}
