//! NLB components: a Network Load Balancer whose listeners forward TCP, UDP or TLS to a
//! MicroService of the stack.
//!
//! Per listener: a target group (`NAME-PORT`, IP targets on the target port, tagged
//! `panka:attached-by` = this component) and a listener forwarding to it. The target group is
//! added to the MicroService's ECS service (container named after the component, on the target
//! port) — the MicroService provider keeps target groups so tagged when it updates its service —
//! and the service's security group admits the VPC on that port (IP targets see the load
//! balancer's private addresses, and health checks come from them). When the targets see the
//! clients' own addresses (UDP and TCP_UDP always, TCP and TLS with `preserveClientIp`), the
//! group also admits the clients: `allowedCidrs`, or `0.0.0.0/0` on an internet-facing load
//! balancer. Listeners gone from the spec are detached and deleted, and ranges no longer
//! admitted are revoked. Outputs: `dnsName`, `arn`, `zoneId`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::SecurityGroupRule;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener, LoadBalancer, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum, Tag, TargetGroup,
    TargetGroupAttribute, TargetTypeEnum,
};
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{NlbListener, NlbProtocol, NlbSpec, Scheme};
use panka_format::naming::shorten;

use crate::alb::{
    LISTENER_PORTS, Live, check_load_balancer_owner, delete_load_balancer, delete_target_group,
    describe_load_balancer, elb_tags, health_line, in_recorded_order, listener_ports,
    load_balancer_listeners, owned_target_group, read_live,
};
use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::microservice::{ATTACHED_BY_TAG, container_name};
use crate::network::{Source, Tier, authorize_protocol, placement_in, revoke_protocol, vpc_cidr};

const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(900);

/// The NLB provider.
#[derive(Clone, Debug)]
pub struct NlbProvider {
    elb: Client,
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
}

impl NlbProvider {
    pub fn new(elb: Client, ec2: aws_sdk_ec2::Client, ecs: aws_sdk_ecs::Client) -> Self {
        NlbProvider { elb, ec2, ecs }
    }
}

/// Target group names are limited to 32 characters.
fn target_group_name(name: &str, port: u32) -> String {
    let suffix = format!("-{port}");
    format!("{}{suffix}", shorten(name, 32 - suffix.len()))
}

fn protocol(p: NlbProtocol) -> ProtocolEnum {
    match p {
        NlbProtocol::Tcp => ProtocolEnum::Tcp,
        NlbProtocol::Udp => ProtocolEnum::Udp,
        NlbProtocol::TcpUdp => ProtocolEnum::TcpUdp,
        NlbProtocol::Tls => ProtocolEnum::Tls,
    }
}

/// What the targets speak: TLS ends at the load balancer.
fn target_protocol(p: NlbProtocol) -> ProtocolEnum {
    match p {
        NlbProtocol::Tls => ProtocolEnum::Tcp,
        other => protocol(other),
    }
}

/// The security group protocols a listener needs admitted on its targets.
fn ingress_protocols(p: NlbProtocol) -> &'static [&'static str] {
    match p {
        NlbProtocol::Tcp | NlbProtocol::Tls => &["tcp"],
        NlbProtocol::Udp => &["udp"],
        NlbProtocol::TcpUdp => &["tcp", "udp"],
    }
}

/// The ECS service a listener forwards to: its cluster, name and security group.
struct Service {
    cluster: String,
    name: String,
    security_group: String,
}

fn service_of(
    t: &Target<'_, NlbSpec>,
    i: usize,
    l: &NlbListener,
) -> Result<Service, ProviderError> {
    let outputs = input(t.config, &format!("listeners[{i}].target"))
        .map(|r| r.outputs)
        .unwrap_or_default();
    let arn = outputs.get("serviceArn").filter(|a| !a.is_empty());
    // arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME
    let cluster = arn
        .and_then(|a| a.rsplit_once(":service/"))
        .and_then(|(_, rest)| rest.split('/').next())
        .map(str::to_string);
    match (
        cluster,
        outputs.get("serviceName"),
        outputs.get("securityGroupId"),
    ) {
        (Some(cluster), Some(name), Some(sg)) => Ok(Service {
            cluster,
            name: name.clone(),
            security_group: sg.clone(),
        }),
        _ => Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "listener {}: {} is not a deployed ECS service (no serviceArn, serviceName and securityGroupId)",
                l.port, l.target.component
            ),
        )),
    }
}

/// The target group attribute that makes TCP and TLS targets see clients' addresses.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation
const PRESERVE_CLIENT_IP: &str = "preserve_client_ip.enabled";
/// The VPC's range, recorded so that a read tells it from the client ranges admitted.
const VPC_CIDR_ID: &str = "vpcCidr";
/// Every IPv4 address: the clients of an internet-facing load balancer.
const ANYWHERE: &str = "0.0.0.0/0";

/// The ranges the targets' security group admits for listener `l`: the VPC's (the load
/// balancer's private addresses, which send the health checks, and the clients' when the
/// targets see only the load balancer), then the clients' when the targets see them.
fn admitted_ranges(l: &NlbListener, public: bool, vpc: &str) -> Vec<String> {
    let mut ranges = vec![vpc.to_string()];
    if l.sees_clients() {
        let clients = if !l.allowed_cidrs.is_empty() {
            l.allowed_cidrs.clone()
        } else if public {
            vec![ANYWHERE.to_string()]
        } else {
            Vec::new()
        };
        for c in clients {
            if !ranges.contains(&c) {
                ranges.push(c);
            }
        }
    }
    ranges
}

/// One ingress rule a listener set up: group, range, protocol, port.
type IngressRule = (String, String, String, i32);

/// The rules recorded as `ingress.PORT` = `GROUP RANGE[,RANGE] PROTOCOL[,PROTOCOL] TARGET_PORT`.
fn recorded_rules(text: &str) -> Vec<IngressRule> {
    let parts: Vec<&str> = text.split(' ').collect();
    let [group, ranges, protocols, port] = parts[..] else {
        return Vec::new();
    };
    let Ok(port) = port.parse::<i32>() else {
        return Vec::new();
    };
    let mut rules = Vec::new();
    for r in ranges.split(',') {
        for p in protocols.split(',') {
            rules.push((group.to_string(), r.to_string(), p.to_string(), port));
        }
    }
    rules
}

const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";

/// The attributes panka sets on an NLB.
fn nlb_attributes(s: &NlbSpec) -> Vec<LoadBalancerAttribute> {
    [
        (CROSS_ZONE, s.cross_zone),
        (DELETION_PROTECTION, s.deletion_protection),
    ]
    .iter()
    .map(|(k, v)| {
        LoadBalancerAttribute::builder()
            .key(*k)
            .value(v.to_string())
            .build()
    })
    .collect()
}

/// The listener's certificate (TLS).
fn certificates(l: &NlbListener) -> Option<Vec<Certificate>> {
    l.certificate_arn
        .as_ref()
        .map(|c| vec![Certificate::builder().certificate_arn(c).build()])
}

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

/// The outcome: `ids` as given, the outputs of `lb` (absent when AWS reports no value).
fn outcome(lb: &LoadBalancer, ids: BTreeMap<String, String>) -> Outcome {
    let mut outputs = BTreeMap::new();
    for (k, v) in [
        ("arn", lb.load_balancer_arn()),
        ("dnsName", lb.dns_name()),
        ("zoneId", lb.canonical_hosted_zone_id()),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            outputs.insert(k.to_string(), v.to_string());
        }
    }
    Outcome {
        physical_ids: ids,
        outputs,
    }
}

/// The target group a listener forwards to.
fn target_group_of(l: &Listener) -> Option<&str> {
    l.default_actions().iter().find_map(|a| {
        a.target_group_arn().or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
        })
    })
}

fn protocol_of(p: Option<&ProtocolEnum>) -> NlbProtocol {
    match p {
        Some(ProtocolEnum::Udp) => NlbProtocol::Udp,
        Some(ProtocolEnum::TcpUdp) => NlbProtocol::TcpUdp,
        Some(ProtocolEnum::Tls) => NlbProtocol::Tls,
        _ => NlbProtocol::Tcp,
    }
}

/// The NLB as Elastic Load Balancing and ECS report it, in the form of its spec: the inverse
/// of [`NlbProvider::converge`]'s requests. `groups` are the target groups its listeners
/// forward to, `services` the ECS services (by ARN) with the target groups each has among its
/// load balancers: a listener's `target` is the ARN of the service using its target group
/// (the engine puts the reference back when that is the MicroService it names), or the target
/// group's ARN when no service uses it.
fn observe(
    live: &Live,
    groups: &[TargetGroup],
    access: &Access,
    services: &[(String, Vec<String>)],
    ids: &BTreeMap<String, String>,
) -> Observation<NlbSpec> {
    let public = live.lb.scheme() != Some(&LoadBalancerSchemeEnum::Internal);
    let mut physical = ids.clone();
    physical.insert("loadBalancer".to_string(), live.arn().to_string());
    let mut listeners = Vec::new();
    for l in &live.listeners {
        let Some(port) = l.port().and_then(|p| u32::try_from(p).ok()) else {
            continue;
        };
        let tg = target_group_of(l);
        let group = tg.and_then(|a| groups.iter().find(|g| g.target_group_arn() == Some(a)));
        // An NLB listener always forwards to a target group; one that does not is shown by
        // its own ARN as its target.
        let Some(target) = tg
            .and_then(|a| {
                services
                    .iter()
                    .find(|(_, tgs)| tgs.iter().any(|t| t == a))
                    .map(|(svc, _)| svc.clone())
            })
            .or_else(|| tg.or(l.listener_arn()).map(str::to_string))
        else {
            continue;
        };
        if let Some(a) = l.listener_arn() {
            physical.insert(format!("listener.{port}"), a.to_string());
        }
        if let Some(a) = tg {
            physical.insert(format!("targetGroup.{port}"), a.to_string());
        }
        let protocol = protocol_of(l.protocol());
        let preserve_client_ip = matches!(protocol, NlbProtocol::Tcp | NlbProtocol::Tls)
            && tg.is_some_and(|a| access.preserved.contains(a));
        let sees_clients =
            preserve_client_ip || matches!(protocol, NlbProtocol::Udp | NlbProtocol::TcpUdp);
        let allowed_cidrs = match ids.get(&format!("ingress.{port}")) {
            Some(recorded) if sees_clients => {
                client_ranges(access, recorded, protocol, public, ids.get(VPC_CIDR_ID))
            }
            _ => Vec::new(),
        };
        listeners.push(NlbListener {
            port,
            protocol,
            preserve_client_ip,
            allowed_cidrs,
            target: panka_format::kinds::Target { component: target },
            target_port: group
                .and_then(|g| g.port())
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p != port),
            certificate_arn: l
                .certificates()
                .first()
                .and_then(|c| c.certificate_arn())
                .map(str::to_string),
        });
    }
    let listeners = in_recorded_order(
        listeners,
        |l: &NlbListener| l.port,
        ids.get(LISTENER_PORTS).map(String::as_str),
    );
    let spec = NlbSpec {
        scheme: match live.lb.scheme() {
            Some(LoadBalancerSchemeEnum::Internal) => Scheme::Internal,
            _ => Scheme::InternetFacing,
        },
        listeners,
        cross_zone: live.flag(CROSS_ZONE),
        deletion_protection: live.flag(DELETION_PROTECTION),
        depends_on: Vec::new(),
    };
    physical.insert(
        LISTENER_PORTS.to_string(),
        listener_ports(spec.listeners.iter().map(|l| l.port)),
    );
    Observation::new(outcome(&live.lb, physical), spec).unobserved(&["dependsOn"])
}

/// What AWS reports of who may reach the targets: the target groups that preserve client
/// addresses, and the ingress rules of the targets' security groups.
#[derive(Debug, Default)]
struct Access {
    preserved: std::collections::BTreeSet<String>,
    rules: Vec<SecurityGroupRule>,
}

/// The client ranges the targets' security group admits for a listener on every protocol it
/// needs, in the spec's terms: in the order recorded, without the VPC's range, and none when
/// they are the scheme's default (`0.0.0.0/0` on an internet-facing load balancer, nothing
/// more on an internal one). An internet-facing load balancer whose targets admit no client
/// range reads as admitting the VPC's range only, so that the missing rule shows as drift.
fn client_ranges(
    access: &Access,
    recorded: &str,
    protocol: NlbProtocol,
    public: bool,
    vpc: Option<&String>,
) -> Vec<String> {
    let Some((group, _, _, port)) = recorded_rules(recorded).into_iter().next() else {
        return Vec::new();
    };
    let admitted = |p: &str| -> std::collections::BTreeSet<&str> {
        access
            .rules
            .iter()
            .filter(|r| {
                r.group_id() == Some(group.as_str())
                    && r.is_egress() != Some(true)
                    && r.ip_protocol() == Some(p)
                    && r.from_port() == Some(port)
                    && r.to_port() == Some(port)
            })
            .filter_map(|r| r.cidr_ipv4())
            .collect()
    };
    let mut each = ingress_protocols(protocol).iter().map(|p| admitted(p));
    let first = each.next().unwrap_or_default();
    let common = each.fold(first, |acc, s| acc.intersection(&s).copied().collect());
    let order: Vec<String> = recorded_rules(recorded)
        .into_iter()
        .map(|(_, range, _, _)| range)
        .collect();
    let mut clients: Vec<String> = common
        .into_iter()
        .filter(|c| Some(*c) != vpc.map(String::as_str))
        .map(str::to_string)
        .collect();
    clients.sort_by_key(|c| order.iter().position(|o| o == c).unwrap_or(usize::MAX));
    match clients.as_slice() {
        [only] if public && only == ANYWHERE => Vec::new(),
        [] if public => vpc.map(|v| vec![v.clone()]).unwrap_or_default(),
        _ => clients,
    }
}

impl NlbProvider {
    /// Which of the TCP target groups `arns` preserve client addresses (one
    /// DescribeTargetGroupAttributes each), and the ingress rules of the security groups the
    /// listeners recorded (one DescribeSecurityGroupRules, paged).
    async fn access(
        &self,
        tcp_groups: Vec<String>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Access, ProviderError> {
        let mut access = Access::default();
        for arn in tcp_groups {
            let attributes = unless_missing(
                self.elb
                    .describe_target_group_attributes()
                    .target_group_arn(&arn)
                    .send()
                    .await,
                |e| e.is_target_group_not_found_exception(),
                format!("reading the attributes of {arn}"),
            )?;
            if attributes.is_some_and(|a| {
                a.attributes()
                    .iter()
                    .any(|x| x.key() == Some(PRESERVE_CLIENT_IP) && x.value() == Some("true"))
            }) {
                access.preserved.insert(arn);
            }
        }
        let groups: std::collections::BTreeSet<String> = ids
            .iter()
            .filter(|(k, _)| k.starts_with("ingress."))
            .filter_map(|(_, v)| recorded_rules(v).into_iter().next().map(|r| r.0))
            .collect();
        if groups.is_empty() {
            return Ok(access);
        }
        let mut token = None;
        loop {
            let page = self
                .ec2
                .describe_security_group_rules()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("group-id")
                        .set_values(Some(groups.iter().cloned().collect()))
                        .build(),
                )
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("reading the targets' security group rules", e))?;
            access
                .rules
                .extend(page.security_group_rules().iter().cloned());
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(access);
            }
        }
    }

    /// The target groups `arns` (one DescribeTargetGroups); none when one of them is gone.
    async fn target_groups(&self, arns: Vec<String>) -> Result<Vec<TargetGroup>, ProviderError> {
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        Ok(unless_missing(
            self.elb
                .describe_target_groups()
                .set_target_group_arns(Some(arns))
                .send()
                .await,
            |e| e.is_target_group_not_found_exception(),
            "reading the target groups of the listeners",
        )?
        .map(|r| r.target_groups().to_vec())
        .unwrap_or_default())
    }

    /// The ECS services recorded as attached (`attached.PORT` = `CLUSTER/SERVICE`), by ARN,
    /// with the target groups each has among its load balancers: one DescribeServices per
    /// cluster (ten services a call).
    async fn services_using(
        &self,
        ids: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, Vec<String>)>, ProviderError> {
        let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (k, v) in ids {
            if k.starts_with("attached.")
                && let Some((cluster, service)) = v.split_once('/')
            {
                let names = by_cluster.entry(cluster).or_default();
                if !names.iter().any(|n| n == service) {
                    names.push(service.to_string());
                }
            }
        }
        let mut found = Vec::new();
        for (cluster, names) in by_cluster {
            for chunk in names.chunks(10) {
                let described = unless_missing(
                    self.ecs
                        .describe_services()
                        .cluster(cluster)
                        .set_services(Some(chunk.to_vec()))
                        .send()
                        .await,
                    |e| e.is_cluster_not_found_exception(),
                    format!("reading the ECS services of cluster {cluster}"),
                )?;
                for svc in described.iter().flat_map(|d| d.services()) {
                    if svc.status() != Some("ACTIVE") {
                        continue;
                    }
                    let Some(arn) = svc.service_arn() else {
                        continue;
                    };
                    let tgs = svc
                        .load_balancers()
                        .iter()
                        .filter_map(|b| b.target_group_arn())
                        .map(str::to_string)
                        .collect();
                    found.push((arn.to_string(), tgs));
                }
            }
        }
        Ok(found)
    }

    async fn describe(&self, name: &str) -> Result<Option<LoadBalancer>, ProviderError> {
        describe_load_balancer(&self.elb, name).await
    }

    async fn ensure_target_group(
        &self,
        t: &Target<'_, NlbSpec>,
        l: &NlbListener,
        vpc: &str,
    ) -> Result<String, ProviderError> {
        let arn = self.ensure_target_group_exists(t, l, vpc).await?;
        // UDP and TCP_UDP groups always preserve client addresses and take no setting.
        if matches!(l.protocol, NlbProtocol::Tcp | NlbProtocol::Tls) {
            self.elb
                .modify_target_group_attributes()
                .target_group_arn(&arn)
                .attributes(
                    TargetGroupAttribute::builder()
                        .key(PRESERVE_CLIENT_IP)
                        .value(l.preserve_client_ip.to_string())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error(format!("setting client IP preservation on {arn}"), e))?;
        }
        Ok(arn)
    }

    async fn ensure_target_group_exists(
        &self,
        t: &Target<'_, NlbSpec>,
        l: &NlbListener,
        vpc: &str,
    ) -> Result<String, ProviderError> {
        let name = target_group_name(t.name, l.port);
        if let Some(arn) = owned_target_group(&self.elb, &name, t.address, t.tags).await? {
            return Ok(arn);
        }
        let mut tags = elb_tags(t.tags);
        tags.push(Tag::builder().key(ATTACHED_BY_TAG).value(t.address).build());
        let created = self
            .elb
            .create_target_group()
            .name(&name)
            .protocol(target_protocol(l.protocol))
            .port(l.target_port.unwrap_or(l.port) as i32)
            .vpc_id(vpc)
            .target_type(TargetTypeEnum::Ip)
            .set_tags(Some(tags))
            .send()
            .await;
        let created = match created {
            Ok(created) => created,
            // The SDK's retry of a create whose answer was lost: the group is there, with its
            // tags (see crate::alb::owned_target_group).
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_duplicate_target_group_name_exception()) =>
            {
                if let Some(arn) = owned_target_group(&self.elb, &name, t.address, t.tags).await? {
                    return Ok(arn);
                }
                return Err(aws_error(format!("creating target group {name}"), e));
            }
            Err(e) => return Err(aws_error(format!("creating target group {name}"), e)),
        };
        Ok(created
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .unwrap_or_default()
            .to_string())
    }

    /// Adds the target group to the service's load balancers (once).
    async fn attach(
        &self,
        svc: &Service,
        target_group: &str,
        container: &str,
        port: u32,
    ) -> Result<(), ProviderError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(&svc.cluster)
            .services(&svc.name)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading ECS service {}", svc.name), e))?;
        let Some(current) = described.services().first() else {
            return Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("ECS service {} does not exist", svc.name),
            ));
        };
        let mut balancers = current.load_balancers().to_vec();
        if balancers
            .iter()
            .any(|b| b.target_group_arn() == Some(target_group))
        {
            return Ok(());
        }
        balancers.push(
            aws_sdk_ecs::types::LoadBalancer::builder()
                .target_group_arn(target_group)
                .container_name(container)
                .container_port(port as i32)
                .build(),
        );
        self.ecs
            .update_service()
            .cluster(&svc.cluster)
            .service(&svc.name)
            .set_load_balancers(Some(balancers))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    format!("attaching {target_group} to ECS service {}", svc.name),
                    e,
                )
            })?;
        Ok(())
    }

    /// Takes the target group out of the service's load balancers; a service gone is fine.
    async fn detach(
        &self,
        cluster: &str,
        service: &str,
        target_group: &str,
    ) -> Result<(), ProviderError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await;
        let Some(current) = described.ok().and_then(|d| {
            d.services()
                .iter()
                .find(|s| s.status() == Some("ACTIVE"))
                .cloned()
        }) else {
            return Ok(());
        };
        if !current
            .load_balancers()
            .iter()
            .any(|b| b.target_group_arn() == Some(target_group))
        {
            return Ok(());
        }
        let kept: Vec<_> = current
            .load_balancers()
            .iter()
            .filter(|b| b.target_group_arn() != Some(target_group))
            .cloned()
            .collect();
        self.ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_load_balancers(Some(kept))
            .send()
            .await
            .map_err(|e| aws_error(format!("detaching {target_group} from {service}"), e))?;
        Ok(())
    }

    /// Removes what a listener recorded under `port` set up: its attachment, listener, target
    /// group and ingress.
    async fn remove_listener(
        &self,
        ids: &BTreeMap<String, String>,
        port: &str,
        listener_gone: bool,
    ) -> Result<(), ProviderError> {
        let tg = ids.get(&format!("targetGroup.{port}"));
        if let (Some(tg), Some(attached)) = (tg, ids.get(&format!("attached.{port}")))
            && let Some((cluster, service)) = attached.split_once('/')
        {
            self.detach(cluster, service, tg).await?;
        }
        if !listener_gone && let Some(l) = ids.get(&format!("listener.{port}")) {
            let deleted = self.elb.delete_listener().listener_arn(l).send().await;
            unless_gone(
                deleted,
                |s| s.is_listener_not_found_exception(),
                format!("deleting listener {l}"),
            )?;
        }
        if let Some(tg) = tg {
            delete_target_group(&self.elb, tg).await?;
        }
        if let Some(rules) = ids.get(&format!("ingress.{port}")) {
            self.revoke(&recorded_rules(rules)).await?;
        }
        Ok(())
    }

    async fn revoke(&self, rules: &[IngressRule]) -> Result<(), ProviderError> {
        for (group, range, protocol, port) in rules {
            revoke_protocol(
                &self.ec2,
                group,
                protocol,
                *port,
                &Source::Cidr(range.clone()),
            )
            .await?;
        }
        Ok(())
    }

    async fn converge(
        &self,
        t: &Target<'_, NlbSpec>,
        recorded: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let public = s.scheme == Scheme::InternetFacing;
        let tier = if public { Tier::Public } else { Tier::Private };
        let place = placement_in(&self.ec2, t.config, tier).await?;
        let lb = match self.describe(t.name).await? {
            Some(lb) => lb,
            None => {
                let created = self
                    .elb
                    .create_load_balancer()
                    .name(t.name)
                    .r#type(LoadBalancerTypeEnum::Network)
                    .scheme(if public {
                        LoadBalancerSchemeEnum::InternetFacing
                    } else {
                        LoadBalancerSchemeEnum::Internal
                    })
                    .set_subnets(Some(place.subnets.clone()))
                    .set_tags(Some(elb_tags(t.tags)))
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("creating load balancer {}", t.name), e))?;
                created.load_balancers().first().cloned().ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("ELB returned no load balancer for {}", t.name),
                    )
                })?
            }
        };
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        self.elb
            .wait_until_load_balancer_available()
            .load_balancer_arns(&arn)
            .wait(AVAILABLE_TIMEOUT)
            .await
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for load balancer {} to become active", t.name),
                    e,
                )
            })?;
        self.elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .set_attributes(Some(nlb_attributes(s)))
            .send()
            .await
            .map_err(|e| aws_error(format!("setting the attributes of {}", t.name), e))?;
        let cidr = vpc_cidr(&self.ec2, &place.vpc_id).await?;
        let existing = load_balancer_listeners(&self.elb, &arn).await?;
        let mut ids = BTreeMap::from([
            ("loadBalancer".to_string(), arn.clone()),
            (
                LISTENER_PORTS.to_string(),
                listener_ports(s.listeners.iter().map(|l| l.port)),
            ),
        ]);
        for (i, l) in s.listeners.iter().enumerate() {
            let svc = service_of(t, i, l)?;
            let target_port = l.target_port.unwrap_or(l.port);
            let tg = self.ensure_target_group(t, l, &place.vpc_id).await?;
            let forward = forward(&tg);
            let certificates = certificates(l);
            let listener = match existing.iter().find(|x| x.port() == Some(l.port as i32)) {
                // Already as the spec has it: no call.
                Some(x)
                    if x.protocol() == Some(&protocol(l.protocol))
                        && target_group_of(x) == Some(tg.as_str())
                        && x.certificates().first().and_then(|c| c.certificate_arn())
                            == l.certificate_arn.as_deref() =>
                {
                    x.listener_arn().unwrap_or_default().to_string()
                }
                Some(x) => {
                    let larn = x.listener_arn().unwrap_or_default().to_string();
                    self.elb
                        .modify_listener()
                        .listener_arn(&larn)
                        .protocol(protocol(l.protocol))
                        .set_certificates(certificates)
                        .default_actions(forward)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("updating listener {}", l.port), e))?;
                    larn
                }
                None => self
                    .elb
                    .create_listener()
                    .load_balancer_arn(&arn)
                    .port(l.port as i32)
                    .protocol(protocol(l.protocol))
                    .set_certificates(certificates)
                    .default_actions(forward)
                    .set_tags(Some(elb_tags(t.tags)))
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("creating listener {}", l.port), e))?
                    .listeners()
                    .first()
                    .and_then(|x| x.listener_arn())
                    .unwrap_or_default()
                    .to_string(),
            };
            let ranges = admitted_ranges(l, public, &cidr);
            for range in &ranges {
                for p in ingress_protocols(l.protocol) {
                    authorize_protocol(
                        &self.ec2,
                        &svc.security_group,
                        p,
                        target_port as i32,
                        &Source::Cidr(range.clone()),
                    )
                    .await?;
                }
            }
            self.attach(&svc, &tg, container_name(&l.target.component), target_port)
                .await?;
            let port = l.port;
            ids.insert(format!("listener.{port}"), listener);
            ids.insert(format!("targetGroup.{port}"), tg);
            ids.insert(
                format!("attached.{port}"),
                format!("{}/{}", svc.cluster, svc.name),
            );
            let ingress = format!(
                "{} {} {} {target_port}",
                svc.security_group,
                ranges.join(","),
                ingress_protocols(l.protocol).join(",")
            );
            // Ranges (or a port, protocol or group) the listener no longer admits.
            if let Some(before) = recorded.get(&format!("ingress.{port}")) {
                let now = recorded_rules(&ingress);
                let stale: Vec<IngressRule> = recorded_rules(before)
                    .into_iter()
                    .filter(|r| !now.contains(r))
                    .collect();
                self.revoke(&stale).await?;
            }
            ids.insert(format!("ingress.{port}"), ingress);
        }
        ids.insert(VPC_CIDR_ID.to_string(), cidr);
        // Listeners gone from the spec.
        for key in recorded.keys() {
            if let Some(port) = key.strip_prefix("listener.")
                && !ids.contains_key(key)
            {
                self.remove_listener(recorded, port, false).await?;
            }
        }
        let lb = self.describe(t.name).await?.unwrap_or(lb);
        Ok(outcome(&lb, ids))
    }
}

impl KindProvider for NlbProvider {
    type Spec = NlbSpec;
    const KIND: &'static str = "NLB";
    const UNOBSERVABLE: &'static [Unobservable] = &[crate::DEPENDS_ON];

    async fn create(&self, t: &Target<'_, NlbSpec>) -> Result<Outcome, ProviderError> {
        // A load balancer of this name is the component's only when it carries its tags.
        if let Some(lb) = self.describe(t.name).await? {
            check_load_balancer_owner(&self.elb, &lb, t.address, t.tags).await?;
        }
        self.converge(t, &BTreeMap::new()).await
    }

    /// DescribeLoadBalancers (by the recorded ARN) + DescribeListeners +
    /// DescribeLoadBalancerAttributes + DescribeTargetGroups (every listener's, in one call) +
    /// DescribeTargetGroupAttributes (each TCP or TLS listener's group) + EC2
    /// DescribeSecurityGroupRules (the targets' groups, one call) + ECS DescribeServices (the
    /// recorded services, one call per cluster) = 6 calls and one per TCP or TLS listener.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<NlbSpec>>, ProviderError> {
        let arn = id.ids.get("loadBalancer").map(String::as_str);
        let Some(live) = read_live(&self.elb, arn, id.name).await? else {
            return Ok(None);
        };
        let arns: Vec<String> = live
            .listeners
            .iter()
            .filter_map(target_group_of)
            .map(str::to_string)
            .collect();
        let groups = self.target_groups(arns).await?;
        let tcp_groups = groups
            .iter()
            .filter(|g| g.protocol() == Some(&ProtocolEnum::Tcp))
            .filter_map(|g| g.target_group_arn())
            .map(str::to_string)
            .collect();
        let access = self.access(tcp_groups, id.ids).await?;
        let services = self.services_using(id.ids).await?;
        Ok(Some(observe(&live, &groups, &access, &services, id.ids)))
    }

    async fn update(
        &self,
        t: &Target<'_, NlbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<NlbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        // The services let go of the target groups first; the load balancer takes its
        // listeners with it.
        for (key, tg) in ids.iter().filter(|(k, _)| k.starts_with("targetGroup.")) {
            let port = key.trim_start_matches("targetGroup.");
            if let Some((cluster, service)) = ids
                .get(&format!("attached.{port}"))
                .and_then(|a| a.split_once('/'))
            {
                self.detach(cluster, service, tg).await?;
            }
        }
        delete_load_balancer(&self.elb, name).await?;
        for key in ids.keys() {
            if let Some(port) = key.strip_prefix("targetGroup.") {
                self.remove_listener(ids, port, true).await?;
            }
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, NlbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.as_ref().map(health_line))
    }

    async fn find(&self, t: &Target<'_, NlbSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(lb) = self.describe(t.name).await? else {
            return Ok(None);
        };
        check_load_balancer_owner(&self.elb, &lb, t.address, t.tags).await?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let ports = listener_ports(t.spec.listeners.iter().map(|l| l.port));
        Ok(Some(outcome(
            &lb,
            BTreeMap::from([
                ("loadBalancer".to_string(), arn),
                (LISTENER_PORTS.to_string(), ports),
            ]),
        )))
    }
}

#[cfg(test)]
mod tests;
