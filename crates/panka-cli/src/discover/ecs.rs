//! Listing ECS services: a service with target groups becomes a MicroService, one without a
//! Worker. Its cluster and load balancer are the stack's shared ones (`_shared/cluster`,
//! `_shared/load-balancer`), which panka names `{stack}-{environment}` and finds by that name:
//! a service in another cluster, or behind another load balancer, is skipped with the reason.
//!
//! A public port's path and host are on the listener rules that forward to its target group:
//! they are found here (DescribeListeners, DescribeRules) and handed to the MicroService's read
//! as the rules it records (`rule.PORT.LISTENER_PORT`), which reads them back as the port's
//! `path`, `host` and `priority`.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::Rule;
use panka_format::kinds::{Kind, Port, PortProtocol};

use super::listing::aws_error;
use super::{Listed, Skipped};

/// The services DescribeServices takes at once.
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html
const DESCRIBE_SERVICES_MAX: usize = 10;

/// What an ECS service uses of the stack's shared resources.
#[derive(Clone, Debug)]
pub(super) struct EcsUse {
    /// Its cluster's name.
    pub cluster: String,
    /// Its load balancer's name and ARN (MicroServices).
    pub load_balancer: Option<(String, String)>,
}

/// The listeners of a load balancer, each with its port and its rules.
type Listeners = Vec<(i32, Vec<Rule>)>;

/// ECS services of every cluster, with their tags (ListClusters, ListServices,
/// DescribeServices; for services with target groups also DescribeTaskDefinition,
/// DescribeTargetGroups, DescribeLoadBalancers, DescribeListeners and DescribeRules).
pub(super) async fn list_ecs(
    aws: &panka_aws::Aws,
    skipped: &mut Vec<Skipped>,
) -> anyhow::Result<Vec<Listed>> {
    let ecs = aws.ecs();
    let elb = aws.elbv2();
    let mut clusters = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_clusters()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("listing ECS clusters: {}", aws_error(&e)))?;
        clusters.extend(page.cluster_arns().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut listeners: BTreeMap<String, Listeners> = BTreeMap::new();
    let mut out = Vec::new();
    for cluster_arn in clusters {
        let cluster = cluster_arn.rsplit('/').next().unwrap_or(&cluster_arn);
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let page = ecs
                .list_services()
                .cluster(&cluster_arn)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "listing the services of ECS cluster {cluster}: {}",
                        aws_error(&e)
                    )
                })?;
            arns.extend(page.service_arns().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        for chunk in arns.chunks(DESCRIBE_SERVICES_MAX) {
            let described = ecs
                .describe_services()
                .cluster(&cluster_arn)
                .set_services(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "reading the services of ECS cluster {cluster}: {}",
                        aws_error(&e)
                    )
                })?;
            for svc in described.services() {
                let Some(name) = svc
                    .service_name()
                    .filter(|_| svc.status() == Some("ACTIVE"))
                else {
                    continue;
                };
                let tags: BTreeMap<String, String> = svc
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                let skip = |reason: String| Skipped {
                    kind: "ECS service".into(),
                    name: name.to_string(),
                    reason,
                };
                let mut ids = BTreeMap::from([
                    ("cluster".to_string(), cluster.to_string()),
                    ("service".to_string(), name.to_string()),
                ]);
                let mut inexpressible = Vec::new();
                if svc.launch_type().is_some_and(|l| l.as_str() != "FARGATE")
                    || !svc.capacity_provider_strategy().is_empty()
                {
                    inexpressible.push(
                        "its launch type or capacity providers (panka runs services on Fargate)"
                            .to_string(),
                    );
                }
                let task = match svc.task_definition() {
                    Some(arn) => ecs
                        .describe_task_definition()
                        .task_definition(arn)
                        .send()
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!("reading task definition {arn}: {}", aws_error(&e))
                        })?
                        .task_definition()
                        .cloned(),
                    None => None,
                };
                let mappings: Vec<(Option<String>, i32, Option<String>)> = task
                    .iter()
                    .flat_map(|t| t.container_definitions())
                    .flat_map(|c| {
                        c.port_mappings().iter().filter_map(move |m| {
                            Some((
                                c.name().map(str::to_string),
                                m.container_port()?,
                                m.name().map(str::to_string),
                            ))
                        })
                    })
                    .collect();
                if svc.load_balancers().is_empty() {
                    if !mappings.is_empty() {
                        inexpressible.push(
                            "its container ports (a Worker has none: the first apply registers its task definition without them)".to_string(),
                        );
                    }
                    out.push(Listed {
                        kind: Kind::Worker,
                        name: name.to_string(),
                        ids,
                        tags,
                        inexpressible,
                        code_sha256: None,
                        ecs: Some(EcsUse {
                            cluster: cluster.to_string(),
                            load_balancer: None,
                        }),
                    });
                    continue;
                }
                match balanced(&elb, svc, name, &mappings, &mut listeners, &mut ids).await? {
                    Ok(load_balancer) => out.push(Listed {
                        kind: Kind::MicroService,
                        name: name.to_string(),
                        ids,
                        tags,
                        inexpressible,
                        code_sha256: None,
                        ecs: Some(EcsUse {
                            cluster: cluster.to_string(),
                            load_balancer: Some(load_balancer),
                        }),
                    }),
                    Err(reason) => skipped.push(skip(reason)),
                }
            }
        }
    }
    Ok(out)
}

/// The load balancer (name, ARN) of a service with target groups, after putting the listener
/// rules that forward to them into `ids`; `Err` is why panka's MicroService cannot be it.
async fn balanced(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    svc: &aws_sdk_ecs::types::Service,
    name: &str,
    mappings: &[(Option<String>, i32, Option<String>)],
    listeners: &mut BTreeMap<String, Listeners>,
    ids: &mut BTreeMap<String, String>,
) -> anyhow::Result<Result<(String, String), String>> {
    let mut arns = Vec::new();
    for b in svc.load_balancers() {
        match b.target_group_arn() {
            Some(arn) => arns.push(arn.to_string()),
            None => {
                return Ok(Err(format!(
                    "it is behind Classic Load Balancer {} (panka's MicroService is behind the stack's Application Load Balancer)",
                    b.load_balancer_name().unwrap_or("?")
                )));
            }
        }
    }
    let groups = elb
        .describe_target_groups()
        .set_target_group_arns(Some(arns))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "reading the target groups of ECS service {name}: {}",
                aws_error(&e)
            )
        })?;
    let mut lb_arns: Vec<String> = groups
        .target_groups()
        .iter()
        .flat_map(|g| g.load_balancer_arns().iter().cloned())
        .collect();
    lb_arns.sort();
    lb_arns.dedup();
    let [lb_arn] = lb_arns.as_slice() else {
        return Ok(Err(format!(
            "its target groups are on {} load balancers (panka's MicroService is behind the stack's one shared load balancer)",
            lb_arns.len()
        )));
    };
    let lb = elb
        .describe_load_balancers()
        .load_balancer_arns(lb_arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("reading load balancer {lb_arn}: {}", aws_error(&e)))?;
    let Some(lb_name) = lb
        .load_balancers()
        .first()
        .filter(|l| l.r#type().map(|t| t.as_str()) == Some("application"))
        .and_then(|l| l.load_balancer_name())
    else {
        return Ok(Err(format!(
            "its load balancer {lb_arn} is not an Application Load Balancer"
        )));
    };
    if !listeners.contains_key(lb_arn) {
        listeners.insert(lb_arn.clone(), listeners_of(elb, lb_arn).await?);
    }
    let on_lb = &listeners[lb_arn];
    for b in svc.load_balancers() {
        let (Some(tg_arn), Some(port)) = (b.target_group_arn(), b.container_port()) else {
            continue;
        };
        let Some(group) = groups
            .target_groups()
            .iter()
            .find(|g| g.target_group_arn() == Some(tg_arn))
        else {
            return Ok(Err(format!("its target group {tg_arn} is gone")));
        };
        let port_name = mappings
            .iter()
            .find(|(container, p, _)| {
                *p == port
                    && (b.container_name().is_none() || container.as_deref() == b.container_name())
            })
            .and_then(|(_, _, n)| n.clone());
        let Some(port_name) = port_name else {
            return Ok(Err(format!(
                "its container port {port} has no name in the task definition (panka names each port, and its target group after it)"
            )));
        };
        let wanted = panka_providers::microservice::target_group(
            name,
            &Port {
                name: port_name.clone(),
                port: u32::try_from(port).unwrap_or_default(),
                protocol: PortProtocol::Http,
                public: true,
                path: None,
                host: None,
                priority: None,
            },
        );
        let group_name = group.target_group_name().unwrap_or_default();
        if group_name != wanted {
            return Ok(Err(format!(
                "its target group {group_name} is not the one panka names for its port {port_name} (`{wanted}`): the format has no field for a target group's name"
            )));
        }
        for (listener_port, rules) in on_lb {
            let forwarding: Vec<&Rule> = rules
                .iter()
                .filter(|r| !r.is_default().unwrap_or(false) && forwards_to(r, tg_arn))
                .collect();
            match forwarding.as_slice() {
                [] => {}
                [rule] => {
                    if let Some(arn) = rule.rule_arn() {
                        ids.insert(format!("rule.{port_name}.{listener_port}"), arn.to_string());
                    }
                }
                _ => {
                    return Ok(Err(format!(
                        "{} rules of its load balancer's listener on port {listener_port} forward to its port {port_name} (panka gives a port one rule on each listener)",
                        forwarding.len()
                    )));
                }
            }
        }
    }
    Ok(Ok((lb_name.to_string(), lb_arn.clone())))
}

/// Whether a listener rule forwards to the target group `arn` (alone or among others).
fn forwards_to(rule: &Rule, arn: &str) -> bool {
    rule.actions().iter().any(|a| {
        a.target_group_arn() == Some(arn)
            || a.forward_config().is_some_and(|f| {
                f.target_groups()
                    .iter()
                    .any(|g| g.target_group_arn() == Some(arn))
            })
    })
}

/// The listeners of a load balancer with their rules (DescribeListeners, DescribeRules).
async fn listeners_of(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    lb_arn: &str,
) -> anyhow::Result<Listeners> {
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "reading the listeners of load balancer {lb_arn}: {}",
                aws_error(&e)
            )
        })?;
    let mut out = Vec::new();
    for l in listeners.listeners() {
        let (Some(port), Some(arn)) = (l.port(), l.listener_arn()) else {
            continue;
        };
        let mut rules = Vec::new();
        let mut marker = None;
        loop {
            let page = elb
                .describe_rules()
                .listener_arn(arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("reading the rules of listener {arn}: {}", aws_error(&e))
                })?;
            rules.extend(page.rules().iter().cloned());
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        out.push((port, rules));
    }
    Ok(out)
}
