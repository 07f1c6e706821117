//! The stack's shared Application Load Balancer (`_shared/load-balancer`): one per stack and
//! environment, with its security group and listeners, created before the first MicroService and
//! deleted after the last one. Listeners answer 404 (or redirect to HTTPS) until a MicroService
//! adds a rule for its path or host.
//!
//! Outputs: `arn`, `dnsName`, `canonicalHostedZoneId`, `securityGroupId`, `vpcId`, and
//! `listener.PORT` (the ARN) for every listener that forwards rather than redirects. `scheme` and
//! `network` force replacement; listeners and the idle timeout are changed in place.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, LoadBalancer,
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, Tag,
};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{AlbListener, AlbProtocol, AlbSpec, Scheme};
use serde::Deserialize;
use serde_json::Value;

use crate::errors::{aws_error, unless_missing};
use crate::network::{
    Source, Tier, authorize_ingress, delete_security_group, ensure_security_group,
    find_security_group, placement_in, revoke_ingress, vpc_cidr,
};

/// A new ALB is usually active within 3 minutes; AWS gives no bound, so allow 15.
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(900);
/// Deleting an ALB takes seconds; its network interfaces linger longer (the security group
/// deletion waits for those on its own).
const DELETED_TIMEOUT: Duration = Duration::from_secs(600);

/// A load balancer's settings; for the shared one, as `panka_plan::desired::ConfigBuilder`
/// writes them.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Settings {
    pub scheme: Scheme,
    pub listeners: Vec<AlbListener>,
    pub idle_timeout_seconds: u32,
}

/// What [`LoadBalancerProvider::converge_with`] needs of a target.
struct Named<'a> {
    name: &'a str,
    config: &'a Value,
    tags: &'a BTreeMap<String, String>,
}

/// The shared load balancer provider.
#[derive(Clone, Debug)]
pub struct LoadBalancerProvider {
    elb: Client,
    ec2: aws_sdk_ec2::Client,
}

impl LoadBalancerProvider {
    pub fn new(elb: Client, ec2: aws_sdk_ec2::Client) -> Self {
        LoadBalancerProvider { elb, ec2 }
    }
}

/// How a load balancer is doing, for `panka status`: its state and DNS name.
pub(crate) fn health_line(lb: &LoadBalancer) -> String {
    format!(
        "{} · {}",
        lb.state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "unknown".into()),
        lb.dns_name().unwrap_or_default()
    )
}

/// The load balancer's security group is named after it.
fn group_name(name: &str) -> String {
    format!("{name}-alb")
}

pub(crate) fn elb_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
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

/// What a listener does with requests no MicroService rule matches.
fn default_action(l: &AlbListener) -> Action {
    if l.redirect_to_https {
        Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build()
    } else {
        Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("404")
                    .content_type("text/plain")
                    .message_body("no route")
                    .build(),
            )
            .build()
    }
}

fn protocol(p: AlbProtocol) -> ProtocolEnum {
    match p {
        AlbProtocol::Http => ProtocolEnum::Http,
        AlbProtocol::Https => ProtocolEnum::Https,
    }
}

fn outcome(lb: &LoadBalancer, listeners: &[Listener], wanted: &[AlbListener], sg: &str) -> Outcome {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let mut physical_ids = BTreeMap::from([
        ("loadBalancer".to_string(), arn.clone()),
        ("securityGroup".to_string(), sg.to_string()),
    ]);
    let mut outputs = BTreeMap::from([
        ("arn".to_string(), arn),
        (
            "dnsName".to_string(),
            lb.dns_name().unwrap_or_default().to_string(),
        ),
        (
            "canonicalHostedZoneId".to_string(),
            lb.canonical_hosted_zone_id()
                .unwrap_or_default()
                .to_string(),
        ),
        ("securityGroupId".to_string(), sg.to_string()),
        (
            "vpcId".to_string(),
            lb.vpc_id().unwrap_or_default().to_string(),
        ),
    ]);
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

/// The load balancer named `name`, if there is one.
pub(crate) async fn describe_load_balancer(
    elb: &Client,
    name: &str,
) -> Result<Option<LoadBalancer>, ProviderError> {
    Ok(unless_missing(
        elb.describe_load_balancers().names(name).send().await,
        |s| s.is_load_balancer_not_found_exception(),
        format!("reading load balancer {name}"),
    )?
    .and_then(|r| r.load_balancers().first().cloned()))
}

/// The listeners of the load balancer `arn`.
pub(crate) async fn load_balancer_listeners(
    elb: &Client,
    arn: &str,
) -> Result<Vec<Listener>, ProviderError> {
    let found = elb
        .describe_listeners()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error(format!("listing the listeners of {arn}"), e))?;
    Ok(found.listeners().to_vec())
}

/// Deletes the load balancer named `name` (its listeners go with it) and waits until it is
/// gone; one already gone is fine.
pub(crate) async fn delete_load_balancer(elb: &Client, name: &str) -> Result<(), ProviderError> {
    let Some(lb) = describe_load_balancer(elb, name).await? else {
        return Ok(());
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    match elb
        .delete_load_balancer()
        .load_balancer_arn(&arn)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_load_balancer_not_found_exception()) => {}
        Err(e) => return Err(aws_error(format!("deleting load balancer {name}"), e)),
    }
    elb.wait_until_load_balancers_deleted()
        .load_balancer_arns(&arn)
        .wait(DELETED_TIMEOUT)
        .await
        .map_err(|e| {
            ProviderError::with_source(
                ErrorKind::Timeout,
                format!("waiting for load balancer {name} to be deleted"),
                e,
            )
        })?;
    Ok(())
}

/// A target group stays "in use" for a moment after the rule, listener or service using it
/// are gone.
const IN_USE_TRIES: usize = 30;
const IN_USE_POLL: Duration = Duration::from_secs(5);

/// Deletes a target group, waiting while it is still in use.
pub(crate) async fn delete_target_group(elb: &Client, arn: &str) -> Result<(), ProviderError> {
    for _ in 0..IN_USE_TRIES {
        match elb.delete_target_group().target_group_arn(arn).send().await {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                tokio::time::sleep(IN_USE_POLL).await;
            }
            Err(e) => return Err(aws_error(format!("deleting target group {arn}"), e)),
        }
    }
    Err(ProviderError::new(
        ErrorKind::Timeout,
        format!("target group {arn} is still in use"),
    ))
}

impl LoadBalancerProvider {
    async fn describe(&self, name: &str) -> Result<Option<LoadBalancer>, ProviderError> {
        describe_load_balancer(&self.elb, name).await
    }

    async fn listeners(&self, arn: &str) -> Result<Vec<Listener>, ProviderError> {
        load_balancer_listeners(&self.elb, arn).await
    }

    /// Creates what is missing and brings everything else to the settings: the security group
    /// and its rules, the load balancer, its idle timeout and its listeners.
    async fn converge(&self, t: &Target<'_, Value>) -> Result<Outcome, ProviderError> {
        let s = settings(t.config)?;
        let (lb, listeners, sg) = self
            .converge_with(
                t.name,
                t.config,
                t.tags,
                &s,
                &format!("panka: shared load balancer {}", t.name),
                &[],
            )
            .await?;
        Ok(outcome(&lb, &listeners, &s.listeners, &sg))
    }

    /// Creates what is missing and brings everything else to `s`: the security group and its
    /// rules, the load balancer, its idle timeout and the `attributes` given, and its listeners.
    /// Returns the load balancer, its listeners and its security group.
    pub(crate) async fn converge_with(
        &self,
        name: &str,
        config: &Value,
        tags: &BTreeMap<String, String>,
        s: &Settings,
        description: &str,
        attributes: &[(&str, String)],
    ) -> Result<(LoadBalancer, Vec<Listener>, String), ProviderError> {
        let t = Named { name, config, tags };
        let public = s.scheme == Scheme::InternetFacing;
        let tier = if public { Tier::Public } else { Tier::Private };
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
        let mut attrs = vec![
            LoadBalancerAttribute::builder()
                .key("idle_timeout.timeout_seconds")
                .value(s.idle_timeout_seconds.to_string())
                .build(),
        ];
        attrs.extend(
            attributes
                .iter()
                .map(|(k, v)| LoadBalancerAttribute::builder().key(*k).value(v).build()),
        );
        self.elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .set_attributes(Some(attrs))
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
        Ok((lb, listeners, sg))
    }

    async fn converge_listeners(
        &self,
        lb_arn: &str,
        wanted: &[AlbListener],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let existing = self.listeners(lb_arn).await?;
        for l in wanted {
            let certificates = l
                .certificate_arn
                .as_ref()
                .map(|c| vec![Certificate::builder().certificate_arn(c).build()]);
            match existing.iter().find(|e| e.port() == Some(l.port as i32)) {
                Some(e) => {
                    self.elb
                        .modify_listener()
                        .listener_arn(e.listener_arn().unwrap_or_default())
                        .protocol(protocol(l.protocol))
                        .set_certificates(certificates)
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
                        .set_certificates(certificates)
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
        for e in &existing {
            let kept = wanted.iter().any(|l| e.port() == Some(l.port as i32));
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

    async fn create(&self, t: &Target<'_, Value>) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn read(
        &self,
        t: &Target<'_, Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(lb) = self.describe(t.name).await? else {
            return Ok(None);
        };
        let s = settings(t.config)?;
        let listeners = self
            .listeners(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        Ok(Some(Observed {
            outcome: outcome(&lb, &listeners, &s.listeners, &sg),
            spec: t.spec.clone(),
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, Value>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<Value>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        delete_load_balancer(&self.elb, name).await?;
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
        let s = settings(t.config)?;
        let listeners = self
            .listeners(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        let sg = find_security_group(
            &self.ec2,
            &group_name(t.name),
            lb.vpc_id().unwrap_or_default(),
        )
        .await?
        .unwrap_or_default();
        Ok(Some(outcome(&lb, &listeners, &s.listeners, &sg)))
    }
}

// ------------------------------------------------------------------ ALB components

/// Elastic Load Balancing's account in the regions opened before August 2022, which must be let
/// write access logs; newer regions use the `logdelivery.elasticloadbalancing.amazonaws.com`
/// service principal.
const ELB_LOG_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-1", "582318560864"),
    ("ap-northeast-2", "600734575887"),
    ("ap-northeast-3", "383597477331"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-west-3", "009996457667"),
    ("eu-south-1", "635631232127"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
];

/// The statement letting the load balancer `name` write its access logs into `bucket`.
fn log_statement(region: &str, bucket: &str, name: &str) -> Value {
    let principal = match ELB_LOG_ACCOUNTS.iter().find(|(r, _)| *r == region) {
        Some((_, account)) => serde_json::json!({"AWS": format!("arn:aws:iam::{account}:root")}),
        None => serde_json::json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    };
    serde_json::json!({
        "Sid": format!("panka-elb-logs-{name}"),
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{bucket}/{name}/AWSLogs/*"),
    })
}

/// The provider of ALB components: a dedicated Application Load Balancer built like the stack's
/// shared one (security group, listeners answering 404 or redirecting to HTTPS, idle timeout),
/// with deletion protection and access logs into an S3 component (prefix: its name; the bucket's
/// policy lets Elastic Load Balancing write there). Outputs: `dnsName`, `arn`, `zoneId`,
/// `securityGroupId`.
#[derive(Clone, Debug)]
pub struct AlbProvider {
    lb: LoadBalancerProvider,
    s3: aws_sdk_s3::Client,
}

impl AlbProvider {
    pub fn new(elb: Client, ec2: aws_sdk_ec2::Client, s3: aws_sdk_s3::Client) -> Self {
        AlbProvider {
            lb: LoadBalancerProvider::new(elb, ec2),
            s3,
        }
    }

    async fn converge(&self, t: &Target<'_, AlbSpec>) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        let settings = Settings {
            scheme: s.scheme,
            listeners: s.listeners.clone(),
            idle_timeout_seconds: s.idle_timeout_seconds,
        };
        let mut attributes = vec![(
            "deletion_protection.enabled",
            s.deletion_protection.to_string(),
        )];
        match &s.access_logs {
            Some(_) => {
                let bucket = panka_engine::resolve::input(t.config, "accessLogs")
                    .and_then(|r| r.outputs.get("name").cloned())
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::Invalid,
                            "accessLogs refers to a component with no bucket name",
                        )
                    })?;
                // The bucket must let the load balancer write before logging is turned on.
                crate::policy::add_bucket_statement(
                    &self.s3,
                    &bucket,
                    log_statement(t.region, &bucket, t.name),
                )
                .await?;
                attributes.push(("access_logs.s3.enabled", "true".into()));
                attributes.push(("access_logs.s3.bucket", bucket));
                attributes.push(("access_logs.s3.prefix", t.name.to_string()));
            }
            None => attributes.push(("access_logs.s3.enabled", "false".into())),
        }
        let (lb, listeners, sg) = self
            .lb
            .converge_with(
                t.name,
                t.config,
                t.tags,
                &settings,
                &format!("panka: {} (load balancer)", t.address),
                &attributes,
            )
            .await?;
        Ok(alb_outcome(&lb, &listeners, &sg))
    }
}

fn alb_outcome(lb: &LoadBalancer, listeners: &[Listener], sg: &str) -> Outcome {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let mut physical_ids = BTreeMap::from([
        ("loadBalancer".to_string(), arn.clone()),
        ("securityGroup".to_string(), sg.to_string()),
    ]);
    for l in listeners {
        if let (Some(port), Some(larn)) = (l.port(), l.listener_arn()) {
            physical_ids.insert(format!("listener.{port}"), larn.to_string());
        }
    }
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            ("arn".to_string(), arn),
            (
                "dnsName".to_string(),
                lb.dns_name().unwrap_or_default().to_string(),
            ),
            (
                "zoneId".to_string(),
                lb.canonical_hosted_zone_id()
                    .unwrap_or_default()
                    .to_string(),
            ),
            ("securityGroupId".to_string(), sg.to_string()),
        ]),
    }
}

impl KindProvider for AlbProvider {
    type Spec = AlbSpec;
    const KIND: &'static str = "ALB";

    async fn create(&self, t: &Target<'_, AlbSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn read(
        &self,
        t: &Target<'_, AlbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(lb) = self.lb.describe(t.name).await? else {
            return Ok(None);
        };
        let listeners = self
            .lb
            .listeners(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(scheme) = lb.scheme() {
            spec["scheme"] = scheme.as_str().into();
        }
        let sg = ids.get("securityGroup").cloned().unwrap_or_default();
        Ok(Some(Observed {
            outcome: alb_outcome(&lb, &listeners, &sg),
            spec,
        }))
    }

    async fn update(
        &self,
        t: &Target<'_, AlbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<AlbSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        KindProvider::delete(&self.lb, name, None, ids)
            .await
            .map_err(|mut e| {
                if e.chain().contains("deletion protection") || e.chain().contains("OperationNotPermitted") {
                    e.message = format!(
                        "{}: the load balancer has deletion protection; set `deletionProtection: false` and apply first",
                        e.message
                    );
                }
                e
            })
    }

    async fn health(
        &self,
        t: &Target<'_, AlbSpec>,
        _ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self.lb.describe(t.name).await?.as_ref().map(health_line))
    }

    async fn find(&self, t: &Target<'_, AlbSpec>) -> Result<Option<Outcome>, ProviderError> {
        let Some(lb) = self.lb.describe(t.name).await? else {
            return Ok(None);
        };
        let listeners = self
            .lb
            .listeners(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        let sg = find_security_group(
            &self.lb.ec2,
            &group_name(t.name),
            lb.vpc_id().unwrap_or_default(),
        )
        .await?
        .unwrap_or_default();
        Ok(Some(alb_outcome(&lb, &listeners, &sg)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_logs_are_let_in_by_the_regions_elb_account_or_service() {
        let old = log_statement("us-east-1", "logs", "shop-dev-web-edge");
        assert_eq!(old["Principal"]["AWS"], "arn:aws:iam::127311923021:root");
        assert_eq!(
            old["Resource"],
            "arn:aws:s3:::logs/shop-dev-web-edge/AWSLogs/*"
        );
        let new = log_statement("ap-southeast-5", "logs", "x");
        assert_eq!(
            new["Principal"]["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
    }
}
