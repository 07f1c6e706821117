//! The stack's shared Application Load Balancer (`_shared/load-balancer`): one per stack and
//! environment, with its security group and listeners, created before the first MicroService and
//! deleted after the last one. Listeners answer 404 (or redirect to HTTPS) until a MicroService
//! adds a rule for its path or host.
//!
//! Its settings are the top of its configuration (`scheme`, `listeners`, `idleTimeoutSeconds`,
//! `network`), so its spec is the JSON object of those. Outputs: `arn`, `dnsName`,
//! `canonicalHostedZoneId`, `securityGroupId`, `vpcId`, and `listener.PORT` (the ARN) for every
//! listener that forwards rather than redirects. `scheme` and `network` force replacement;
//! listeners and the idle timeout are changed in place.
//!
//! With a `domain` (`shared.domain` and the hosts inside its zone), the load balancer also owns
//! the hosts' certificates, its HTTPS listener's certificates and the hosts' alias records: see
//! [`super::domain`] for why they live here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, Listener, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};
use panka_engine::provider::Outcome;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{AlbListener, AlbProtocol, Scheme};
use serde_json::{Value, json};

use super::domain::{
    DomainClients, ZONE, alias_points_at, alias_types, converge_listener_certificates,
    delete_alias, delete_certificate, domain_ids, domain_of, ensure_certificate, find_certificate,
    find_public_zone, listener_certificates, recorded_certificates, upsert_alias, zone_name,
};
use super::listeners::{
    IDLE_TIMEOUT, Settings, attributes, certificates, default_action, observe_listeners, protocol,
    scheme_of,
};
use super::{
    LISTENER_PORTS, Live, describe_load_balancer, elb_tags, group_name, health_line,
    listener_ports, load_balancer_listeners, put, read_live,
};
use crate::errors::aws_error;
use crate::network::{
    Placement, Source, Tier, authorize_ingress, delete_security_group, ensure_security_group,
    find_security_group, placement_in, revoke_ingress, vpc_cidr,
};

/// A new ALB is usually active within 3 minutes; AWS gives no bound, so allow 15.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(900);

/// Physical ids recording where the load balancer was placed: `vpc` and `subnets` (in the
/// network's order) when the configuration gives a `network`, `defaultVpc` when it does not.
const VPC: &str = "vpc";
const SUBNETS: &str = "subnets";
const DEFAULT_VPC: &str = "defaultVpc";

/// What [`LoadBalancerProvider::converge_with`] needs of a target.
struct Named<'a> {
    name: &'a str,
    config: &'a Value,
    tags: &'a BTreeMap<String, String>,
}

/// What [`LoadBalancerProvider::converge_with`] made: the load balancer, its listeners, its
/// security group and where it is.
pub(crate) struct Converged {
    pub lb: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub security_group: String,
    pub placement: Placement,
    /// Placed in the default VPC because the configuration gives no network.
    pub default_vpc: bool,
}

/// The shared load balancer provider.
#[derive(Clone, Debug)]
pub struct LoadBalancerProvider {
    pub(super) elb: Client,
    pub(super) ec2: aws_sdk_ec2::Client,
    /// ACM and Route 53, for a shared load balancer with a domain.
    domain: Option<DomainClients>,
}

impl LoadBalancerProvider {
    pub fn new(elb: Client, ec2: aws_sdk_ec2::Client) -> Self {
        LoadBalancerProvider {
            elb,
            ec2,
            domain: None,
        }
    }

    /// The provider able to serve `shared.domain`: certificates through `acm`, validation and
    /// alias records through `route53`.
    pub fn with_domain(
        mut self,
        acm: aws_sdk_acm::Client,
        route53: aws_sdk_route53::Client,
    ) -> Self {
        self.domain = Some(DomainClients { acm, route53 });
        self
    }

    fn domain_clients(&self) -> Result<&DomainClients, ProviderError> {
        crate::alb::domain::required(&self.domain, "shared load balancer")
    }
}

fn settings(config: &Value) -> Result<Settings, ProviderError> {
    serde_json::from_value(config.clone()).map_err(|e| {
        ProviderError::with_source(
            ErrorKind::Invalid,
            "the recorded shared load balancer configuration does not match this version of panka",
            e,
        )
    })
}

/// The ids and outputs of the shared load balancer. `wanted` are the listeners asked for (or
/// observed); `sg` its security group, when known.
fn outcome(
    lb: &LoadBalancer,
    listeners: &[Listener],
    wanted: &[AlbListener],
    sg: Option<&str>,
) -> Outcome {
    let mut physical_ids = BTreeMap::new();
    let mut outputs = BTreeMap::new();
    put(&mut physical_ids, "loadBalancer", lb.load_balancer_arn());
    put(&mut physical_ids, "securityGroup", sg);
    put(&mut outputs, "arn", lb.load_balancer_arn());
    put(&mut outputs, "dnsName", lb.dns_name());
    put(
        &mut outputs,
        "canonicalHostedZoneId",
        lb.canonical_hosted_zone_id(),
    );
    put(&mut outputs, "securityGroupId", sg);
    put(&mut outputs, "vpcId", lb.vpc_id());
    physical_ids.insert(
        LISTENER_PORTS.to_string(),
        listener_ports(wanted.iter().map(|l| l.port)),
    );
    for l in listeners {
        let (Some(port), Some(larn)) = (l.port(), l.listener_arn()) else {
            continue;
        };
        physical_ids.insert(format!("listener.{port}"), larn.to_string());
        let forwards = wanted
            .iter()
            .any(|w| w.port as i32 == port && !w.redirect_to_https);
        if forwards {
            outputs.insert(format!("listener.{port}"), larn.to_string());
        }
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

/// Records where the load balancer was placed (see [`VPC`]).
fn record_placement(o: &mut Outcome, c: &Converged) {
    if c.default_vpc {
        o.physical_ids
            .insert(DEFAULT_VPC.to_string(), c.placement.vpc_id.clone());
    } else {
        o.physical_ids
            .insert(VPC.to_string(), c.placement.vpc_id.clone());
        o.physical_ids
            .insert(SUBNETS.to_string(), c.placement.subnets.join(","));
    }
}

/// The shared load balancer as Elastic Load Balancing reports it, in the form of its settings:
/// the inverse of [`LoadBalancerProvider::converge_with`]. `ids` are the recorded ids (the
/// listener order, the placement and the security group).
fn observe(live: &Live, ids: &BTreeMap<String, String>) -> Observation<Value> {
    let scheme = scheme_of(&live.lb);
    let listeners = observe_listeners(&live.listeners, ids.get(LISTENER_PORTS).map(String::as_str));
    let idle = live
        .attributes
        .get(IDLE_TIMEOUT)
        .and_then(|v| v.parse::<u32>().ok());
    let mut unobserved = Vec::new();
    let subnets: Vec<String> = {
        let order: Vec<&str> = ids
            .get(SUBNETS)
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let mut s: Vec<String> = live
            .lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .map(str::to_string)
            .collect();
        s.sort_by_key(|x| {
            (
                order.iter().position(|o| o == x).unwrap_or(usize::MAX),
                x.clone(),
            )
        });
        s
    };
    let network = if ids.contains_key(DEFAULT_VPC) {
        // No network given: the default VPC and its subnets, as placed.
        Value::Null
    } else if ids.contains_key(VPC) {
        // The load balancer is in the subnets of its scheme's tier only.
        let (tier, other) = match scheme {
            Scheme::InternetFacing => ("publicSubnets", "network.privateSubnets"),
            Scheme::Internal => ("privateSubnets", "network.publicSubnets"),
        };
        unobserved.push(other);
        json!({"vpcId": live.lb.vpc_id(), tier: subnets})
    } else {
        // A state written before the placement was recorded: whether the network was given
        // cannot be told from AWS; the recorded one stands until the next apply records it.
        unobserved.push("network");
        Value::Null
    };
    let mut spec = json!({
        "scheme": scheme,
        "listeners": listeners,
        "network": network,
    });
    match idle {
        Some(i) => spec["idleTimeoutSeconds"] = i.into(),
        None => unobserved.push("idleTimeoutSeconds"),
    }
    let sg = ids
        .get("securityGroup")
        .map(String::as_str)
        .or_else(|| live.lb.security_groups().first().map(String::as_str));
    let mut o = outcome(&live.lb, &live.listeners, &listeners, sg);
    for k in [VPC, SUBNETS, DEFAULT_VPC] {
        if let Some(v) = ids.get(k) {
            o.physical_ids.insert(k.to_string(), v.clone());
        }
    }
    Observation::new(o, spec).unobserved(&unobserved)
}

impl LoadBalancerProvider {
    pub(super) async fn describe(&self, name: &str) -> Result<Option<LoadBalancer>, ProviderError> {
        describe_load_balancer(&self.elb, name).await
    }

    pub(super) async fn listeners(&self, arn: &str) -> Result<Vec<Listener>, ProviderError> {
        load_balancer_listeners(&self.elb, arn).await
    }

    /// Adds what AWS has of the domain recorded in `ids` (zone `zone`) to `observed`: the
    /// zone's name, and the recorded hosts whose certificate an HTTPS listener serves and whose
    /// alias record points at the load balancer (a host missing either reads as gone, so drift
    /// shows it). The HTTPS listeners' default certificate, when it is a host's, reads as no
    /// `certificateArn`, as the configuration leaves it to the domain.
    async fn observe_domain(
        &self,
        live: &Live,
        ids: &BTreeMap<String, String>,
        zone: &str,
        observed: &mut Observation<Value>,
    ) -> Result<(), ProviderError> {
        let clients = self.domain_clients()?;
        let recorded = recorded_certificates(ids);
        let ours: BTreeSet<&str> = recorded.values().map(String::as_str).collect();
        let mut served: BTreeSet<String> = live
            .listeners
            .iter()
            .flat_map(|l| l.certificates())
            .filter_map(|c| c.certificate_arn())
            .map(str::to_string)
            .collect();
        for extra in listener_certificates(&self.elb, &live.listeners)
            .await?
            .into_values()
        {
            served.extend(extra);
        }
        let Some(name) = zone_name(&clients.route53, zone).await? else {
            observed.spec["domain"] = Value::Null;
            return Ok(());
        };
        let mut hosts = Vec::new();
        for (host, arn) in &recorded {
            if served.contains(arn)
                && alias_points_at(
                    &clients.route53,
                    zone,
                    host,
                    aws_sdk_route53::types::RrType::A,
                    live.lb.dns_name().unwrap_or_default(),
                )
                .await?
            {
                hosts.push(host.clone());
            }
        }
        observed.spec["domain"] = json!({"zone": name, "hosts": hosts});
        if let Some(listeners) = observed.spec["listeners"].as_array_mut() {
            for l in listeners {
                let domain_default = l
                    .get("certificateArn")
                    .and_then(Value::as_str)
                    .is_some_and(|c| ours.contains(c));
                if domain_default && let Some(o) = l.as_object_mut() {
                    o.remove("certificateArn");
                }
            }
        }
        for (k, v) in ids.iter().filter(|(k, _)| {
            *k == ZONE || k.starts_with("certificate.") || k.starts_with("record.")
        }) {
            observed.outcome.physical_ids.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    /// Creates what is missing and brings everything else to the settings: the security group
    /// and its rules, the load balancer, its idle timeout and its listeners; with a domain,
    /// first the hosts' certificates (issued), then the listeners serving them and the hosts'
    /// alias records. Hosts recorded in `old` and no longer wanted lose their records and,
    /// detached from the listeners, their certificates.
    async fn converge(
        &self,
        t: &Target<'_, Value>,
        old: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let mut s = settings(t.config)?;
        let domain = domain_of(t.config)?;
        let recorded = recorded_certificates(old);
        let mut certificates = BTreeMap::new();
        let mut zone_id = None;
        if let Some(d) = &domain {
            let clients = self.domain_clients()?;
            let zone = find_public_zone(&clients.route53, &d.zone).await?;
            for host in &d.hosts {
                let arn = ensure_certificate(
                    clients,
                    &zone,
                    t.name,
                    host,
                    t.tags,
                    recorded.get(host).map(String::as_str),
                )
                .await?;
                certificates.insert(host.clone(), arn);
            }
            // The HTTPS listener the domain adds serves the first host's certificate by
            // default, the others as listener certificates (chosen by SNI).
            if let Some(first) = certificates.values().next() {
                for l in &mut s.listeners {
                    if l.protocol == AlbProtocol::Https && l.certificate_arn.is_none() {
                        l.certificate_arn = Some(first.clone());
                    }
                }
            }
            zone_id = Some(zone);
        }
        let c = self
            .converge_with(
                t.name,
                t.config,
                t.tags,
                &s,
                &format!("panka: shared load balancer {}", t.name),
                &[],
            )
            .await?;
        let mut o = outcome(&c.lb, &c.listeners, &s.listeners, Some(&c.security_group));
        record_placement(&mut o, &c);
        if domain.is_none() && recorded.is_empty() && !old.contains_key(ZONE) {
            return Ok(o);
        }
        let clients = self.domain_clients()?;
        let wanted: BTreeSet<String> = certificates.values().cloned().collect();
        let ours: BTreeSet<String> = recorded.values().chain(&wanted).cloned().collect();
        converge_listener_certificates(&self.elb, &c.listeners, &wanted, &ours).await?;
        let dns_name = c.lb.dns_name().unwrap_or_default();
        let types = alias_types(c.lb.ip_address_type() == Some(&IpAddressType::Dualstack));
        if let Some(zone) = &zone_id {
            for host in certificates.keys() {
                upsert_alias(
                    &clients.route53,
                    zone,
                    host,
                    &types,
                    dns_name,
                    c.lb.canonical_hosted_zone_id().unwrap_or_default(),
                )
                .await?;
            }
        }
        // Hosts gone (or the zone changed): their records go from the zone they were written
        // in, and the certificates of hosts no longer wanted, now unused, are deleted.
        let old_zone = old.get(ZONE);
        let moved = old_zone.is_some() && old_zone != zone_id.as_ref();
        for (host, arn) in &recorded {
            let wanted_here = certificates.contains_key(host);
            if let Some(z) = old_zone
                && (moved || !wanted_here)
            {
                delete_alias(&clients.route53, z, host, dns_name).await?;
            }
            if !wanted_here && !wanted.contains(arn) {
                delete_certificate(clients, old_zone.map(String::as_str), arn).await?;
            }
        }
        if let Some(zone) = &zone_id {
            o.physical_ids
                .extend(domain_ids(zone, &certificates, &types));
        }
        Ok(o)
    }

    /// Creates what is missing and brings everything else to `s`: the security group and its
    /// rules, the load balancer, its idle timeout and the `extra` attributes given, and its
    /// listeners.
    pub(crate) async fn converge_with(
        &self,
        name: &str,
        config: &Value,
        tags: &BTreeMap<String, String>,
        s: &Settings,
        description: &str,
        extra: &[(&str, String)],
    ) -> Result<Converged, ProviderError> {
        let t = Named { name, config, tags };
        let public = s.scheme == Scheme::InternetFacing;
        let tier = if public { Tier::Public } else { Tier::Private };
        let default_vpc = t.config.get("network").is_none_or(Value::is_null);
        let place = placement_in(&self.ec2, t.config, tier).await?;
        let sg = ensure_security_group(
            &self.ec2,
            &group_name(t.name),
            description,
            &place.vpc_id,
            t.tags,
        )
        .await?;
        let source = if public {
            Source::Cidr("0.0.0.0/0".into())
        } else {
            Source::Cidr(vpc_cidr(&self.ec2, &place.vpc_id).await?)
        };
        let ports: Vec<i32> = s.listeners.iter().map(|l| l.port as i32).collect();
        for port in &ports {
            authorize_ingress(&self.ec2, &sg, *port, &source).await?;
        }
        self.revoke_other_ports(&sg, &ports).await?;

        let lb = match self.describe(t.name).await? {
            Some(lb) => lb,
            None => {
                let created = self
                    .elb
                    .create_load_balancer()
                    .name(t.name)
                    .r#type(LoadBalancerTypeEnum::Application)
                    .scheme(if public {
                        LoadBalancerSchemeEnum::InternetFacing
                    } else {
                        LoadBalancerSchemeEnum::Internal
                    })
                    .set_subnets(Some(place.subnets.clone()))
                    .security_groups(&sg)
                    .set_tags(Some(elb_tags(t.tags)))
                    .send()
                    .await;
                match created {
                    Ok(c) => c.load_balancers().first().cloned().ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Invalid,
                            format!("ELB returned no load balancer for {}", t.name),
                        )
                    })?,
                    // Made at the same moment by another apply: use that one.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_duplicate_load_balancer_name_exception()) =>
                    {
                        self.describe(t.name).await?.ok_or_else(|| {
                            aws_error(format!("creating load balancer {}", t.name), e)
                        })?
                    }
                    Err(e) => {
                        return Err(aws_error(format!("creating load balancer {}", t.name), e));
                    }
                }
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
            .add_tags()
            .resource_arns(&arn)
            .set_tags(Some(elb_tags(t.tags)))
            .send()
            .await
            .map_err(|e| aws_error(format!("tagging load balancer {}", t.name), e))?;
        self.elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .set_attributes(Some(attributes(s, extra)))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    format!("setting the attributes of load balancer {}", t.name),
                    e,
                )
            })?;
        self.converge_listeners(&arn, &s.listeners, t.tags).await?;
        let lb = self.describe(t.name).await?.unwrap_or(lb);
        let listeners = self.listeners(&arn).await?;
        Ok(Converged {
            lb,
            listeners,
            security_group: sg,
            placement: place,
            default_vpc,
        })
    }

    async fn converge_listeners(
        &self,
        lb_arn: &str,
        wanted: &[AlbListener],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let existing = self.listeners(lb_arn).await?;
        for l in wanted {
            match existing.iter().find(|e| e.port() == Some(l.port as i32)) {
                Some(e) => {
                    self.elb
                        .modify_listener()
                        .listener_arn(e.listener_arn().unwrap_or_default())
                        .protocol(protocol(l.protocol))
                        .set_certificates(certificates(l))
                        .set_ssl_policy(l.ssl_policy.clone())
                        .default_actions(default_action(l))
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("updating listener {}", l.port), e))?;
                }
                None => {
                    let created = self
                        .elb
                        .create_listener()
                        .load_balancer_arn(lb_arn)
                        .port(l.port as i32)
                        .protocol(protocol(l.protocol))
                        .set_certificates(certificates(l))
                        .set_ssl_policy(l.ssl_policy.clone())
                        .default_actions(default_action(l))
                        .set_tags(Some(elb_tags(tags)))
                        .send()
                        .await;
                    match created {
                        Ok(_) => {}
                        // Made at the same moment by another apply, with the same settings.
                        Err(e)
                            if e.as_service_error()
                                .is_some_and(|s| s.is_duplicate_listener_exception()) => {}
                        Err(e) => {
                            return Err(aws_error(format!("creating listener {}", l.port), e));
                        }
                    }
                }
            }
        }
        // One listener per wanted port, the first the load balancer lists (the one rules are
        // put on); the others go: ports no longer wanted, and a second listener on a port that a
        // CreateListener sent again after its answer was lost made (the emulator accepts it;
        // AWS answers an identical create with the same listener).
        let now = self.listeners(lb_arn).await?;
        let mut kept_ports = std::collections::BTreeSet::new();
        for e in &now {
            let kept = e
                .port()
                .is_some_and(|p| wanted.iter().any(|l| p == l.port as i32) && kept_ports.insert(p));
            if !kept && let Some(arn) = e.listener_arn() {
                match self.elb.delete_listener().listener_arn(arn).send().await {
                    Ok(_) => {}
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|s| s.is_listener_not_found_exception()) => {}
                    Err(err) => {
                        return Err(aws_error(format!("deleting listener {arn}"), err));
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes the security group's ingress rules for ports no listener uses any more.
    async fn revoke_other_ports(&self, sg: &str, ports: &[i32]) -> Result<(), ProviderError> {
        let found = self
            .ec2
            .describe_security_groups()
            .group_ids(sg)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading security group {sg}"), e))?;
        let Some(group) = found.security_groups().first() else {
            return Ok(());
        };
        for p in group.ip_permissions() {
            let Some(port) = p.from_port() else { continue };
            if ports.contains(&port) {
                continue;
            }
            for r in p.ip_ranges() {
                if let Some(c) = r.cidr_ip() {
                    revoke_ingress(&self.ec2, sg, port, &Source::Cidr(c.to_string())).await?;
                }
            }
        }
        Ok(())
    }
}

impl KindProvider for LoadBalancerProvider {
    type Spec = Value;
    const KIND: &'static str = "SharedLoadBalancer";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        Unobservable {
            field: "network.publicSubnets",
            tracked_by: "an internal load balancer is not in the public subnets: the recorded list stands",
        },
        Unobservable {
            field: "network.privateSubnets",
            tracked_by: "an internet-facing load balancer is not in the private subnets: the recorded list stands",
        },
        Unobservable {
            field: "network",
            tracked_by: "only for states written before the placement was recorded (ids `vpc`, `subnets`, `defaultVpc`): the recorded network stands until the next apply",
        },
        Unobservable {
            field: "idleTimeoutSeconds",
            tracked_by: "only when DescribeLoadBalancerAttributes leaves it out: the recorded value stands",
        },
    ];

    async fn create(&self, t: &Target<'_, Value>) -> Result<Outcome, ProviderError> {
        // A load balancer of this name is the stack's only when it carries its tags.
        if let Some(lb) = self.describe(t.name).await? {
            super::check_load_balancer_owner(&self.elb, &lb, t.address, t.tags).await?;
        }
        self.converge(t, &BTreeMap::new()).await
    }

    /// DescribeLoadBalancers (by the recorded ARN) + DescribeListeners +
    /// DescribeLoadBalancerAttributes = 3 calls; with a domain, GetHostedZone, one
    /// DescribeListenerCertificates per HTTPS listener and one ListResourceRecordSets per
    /// recorded host.
    async fn read(&self, id: &Identity<'_>) -> Result<Option<Observation<Value>>, ProviderError> {
        let arn = id.ids.get("loadBalancer").map(String::as_str);
        let Some(live) = read_live(&self.elb, arn, id.name).await? else {
            return Ok(None);
        };
        let mut observed = observe(&live, id.ids);
        if let Some(zone) = id.ids.get(ZONE) {
            self.observe_domain(&live, id.ids, zone, &mut observed)
                .await?;
        }
        Ok(Some(observed))
    }

    async fn update(
        &self,
        t: &Target<'_, Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        // The hosts' records go first, while the load balancer they point at is known; its
        // certificates after it, once no listener serves them.
        let recorded = recorded_certificates(ids);
        let zone = ids.get(ZONE);
        if zone.is_some() || !recorded.is_empty() {
            let clients = self.domain_clients()?;
            if let (Some(z), Some(lb)) = (zone, self.describe(name).await?) {
                for host in recorded.keys() {
                    delete_alias(&clients.route53, z, host, lb.dns_name().unwrap_or_default())
                        .await?;
                }
            }
        }
        super::delete_load_balancer(&self.elb, name).await?;
        for arn in recorded.values() {
            delete_certificate(self.domain_clients()?, zone.map(String::as_str), arn).await?;
        }
        if let Some(sg) = ids.get("securityGroup").filter(|s| !s.is_empty()) {
            delete_security_group(&self.ec2, sg).await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, Value>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.describe(t.name).await?.as_ref().map(health_line))
    }

    async fn find(&self, t: &Target<'_, Value>) -> Result<Option<Outcome>, ProviderError> {
        let Some(lb) = self.describe(t.name).await? else {
            return Ok(None);
        };
        super::check_load_balancer_owner(&self.elb, &lb, t.address, t.tags).await?;
        let s = settings(t.config)?;
        let listeners = self
            .listeners(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        let sg = find_security_group(
            &self.ec2,
            &group_name(t.name),
            lb.vpc_id().unwrap_or_default(),
        )
        .await?;
        let mut o = outcome(&lb, &listeners, &s.listeners, sg.as_deref());
        // With a domain, the zone and the hosts' certificates found by their tags are adopted
        // with the load balancer; the next apply writes any record missing.
        if let Some(d) = domain_of(t.config)? {
            let clients = self.domain_clients()?;
            let zone = find_public_zone(&clients.route53, &d.zone).await?;
            let mut certificates = BTreeMap::new();
            for host in &d.hosts {
                if let Some(arn) = find_certificate(&clients.acm, host, t.tags).await? {
                    certificates.insert(host.clone(), arn);
                }
            }
            let types = alias_types(lb.ip_address_type() == Some(&IpAddressType::Dualstack));
            o.physical_ids
                .extend(domain_ids(&zone, &certificates, &types));
        }
        Ok(Some(o))
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
