//! Semantic rules: what the schema cannot say.
//!
//! Names and AWS naming limits, per-kind constraints (valid Fargate cpu/memory pairs, engine
//! version shapes, retention bounds, fields that only make sense together), references to
//! components and outputs that must exist, and dependency cycles, reported with their whole path.

use indexmap::IndexMap;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::kinds::*;
use crate::load::{RawComponent, ServiceEntry, parse_serde_path, path};
use crate::model::*;
use crate::naming::valid_resource_name;
use crate::source::Span;
use crate::yaml::{Node, PathSeg, Value};

pub(crate) struct StackContext<'a> {
    pub stack_node: &'a Node,
    pub env_node: Option<&'a Node>,
    pub stack_spec: Option<&'a StackSpec>,
    pub stack_meta: Option<&'a Metadata>,
    pub environment: &'a str,
    pub services: &'a IndexMap<String, ServiceEntry>,
    pub components: &'a [RawComponent],
    /// Components that exist but could not be parsed; references to them are not reported.
    pub broken: &'a [Address],
}

type Resolved = Vec<(Address, (Vec<Reference>, Vec<Address>))>;

/// Runs every rule; returns each component's references and dependencies when all resolve.
pub(crate) fn check_stack(ctx: &StackContext<'_>, out: &mut Vec<Diagnostic>) -> Option<Resolved> {
    check_stack_document(ctx, out);
    check_domain_hosts(ctx, out);
    for c in ctx.components {
        check_names(c, out);
        if let Some(spec) = &c.typed {
            let mut r = Rules {
                c,
                domain: ctx.stack_spec.and_then(|s| s.shared.domain.as_ref()),
                out: &mut *out,
            };
            r.check_spec(spec);
            r.check_infra();
        }
    }
    let resolved = resolve_references(ctx, out);
    let service_cycles = check_service_dependencies(ctx, out);
    // A cycle between services makes every pair of their components a cycle too: report the
    // services' cycle only.
    if let Some(resolved) = &resolved
        && !service_cycles
    {
        check_cycles(ctx, resolved, out);
    }
    resolved
}

fn check_stack_document(ctx: &StackContext<'_>, out: &mut Vec<Diagnostic>) {
    let node = ctx.stack_node;
    let at = |p: &str| node.span_of(&parse_serde_path(p));
    if let Some(meta) = ctx.stack_meta
        && !valid_resource_name(&meta.name)
    {
        out.push(bad_name("stack", &meta.name, at("metadata.name")));
    }
    if !valid_resource_name(ctx.environment) {
        let span = ctx
            .env_node
            .map(|n| n.span_of(&path(&["metadata", "name"])))
            .unwrap_or(at("metadata.name"));
        out.push(bad_name("environment", ctx.environment, span));
    }
    for (name, entry) in ctx.services {
        if !valid_resource_name(name) {
            out.push(bad_name("service", name, entry.span));
        }
    }
    let Some(spec) = ctx.stack_spec else { return };
    if !valid_region(&spec.provider.region) {
        out.push(
            Diagnostic::error(
                "invalid-value",
                at("spec.provider.region"),
                format!("`{}` is not an AWS region", spec.provider.region),
            )
            .with_help("regions look like `us-east-1` or `eu-west-1`"),
        );
    }
    if let Some(env) = ctx.env_node
        && let Some(region) = env
            .at(&path(&["spec", "provider", "region"]))
            .and_then(Node::as_str)
        && !valid_region(region)
    {
        out.push(Diagnostic::error(
            "invalid-value",
            env.span_of(&path(&["spec", "provider", "region"])),
            format!("`{region}` is not an AWS region"),
        ));
    }
    if let Some(account) = &spec.provider.account_id
        && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
    {
        out.push(Diagnostic::error(
            "invalid-value",
            at("spec.provider.accountId"),
            format!("account id `{account}` must be 12 digits"),
        ));
    }
    if let Some(backend) = &spec.backend
        && let Some(problem) = bucket_name_problem(&backend.s3.bucket)
    {
        out.push(Diagnostic::error(
            "invalid-name",
            at("spec.backend.s3.bucket"),
            format!("state bucket `{}` {problem}", backend.s3.bucket),
        ));
    }
    if let Some(metrics) = &spec.deployment.metrics
        && metrics.namespace.starts_with("AWS/")
    {
        out.push(Diagnostic::error(
            "invalid-value",
            at("spec.deployment.metrics.namespace"),
            format!(
                "metric namespace `{}` starts with `AWS/`, which CloudWatch keeps for AWS's own metrics",
                metrics.namespace
            ),
        ));
    }
    if let Some(net) = &spec.shared.network {
        if !net.vpc_id.starts_with("vpc-") {
            out.push(Diagnostic::error(
                "invalid-value",
                at("spec.shared.network.vpcId"),
                format!("`{}` is not a VPC id (`vpc-...`)", net.vpc_id),
            ));
        }
        for (field, list) in [
            ("privateSubnets", &net.private_subnets),
            ("publicSubnets", &net.public_subnets),
        ] {
            for (i, s) in list.iter().enumerate() {
                if !s.starts_with("subnet-") {
                    out.push(Diagnostic::error(
                        "invalid-value",
                        at(&format!("spec.shared.network.{field}[{i}]")),
                        format!("`{s}` is not a subnet id (`subnet-...`)"),
                    ));
                }
            }
        }
    }
    check_alb_listeners(
        &spec.shared.load_balancer.listeners,
        |p| at(&format!("spec.shared.loadBalancer.{p}")),
        out,
    );
    if let Some(domain) = &spec.shared.domain {
        if let Some(problem) = zone_name_problem(&domain.zone) {
            out.push(
                Diagnostic::error(
                    "invalid-value",
                    at("spec.shared.domain.zone"),
                    format!("zone `{}` {problem}", domain.zone),
                )
                .with_help("the name of a public Route 53 hosted zone, like `example.com`"),
            );
        }
        for (i, l) in spec.shared.load_balancer.listeners.iter().enumerate() {
            if l.port == DOMAIN_HTTPS_PORT && l.protocol != AlbProtocol::Https {
                out.push(
                    Diagnostic::error(
                        "invalid-combination",
                        at(&format!("spec.shared.loadBalancer.listeners[{i}].protocol")),
                        "with `shared.domain`, the load balancer serves the domain's hosts over HTTPS on port 443",
                    )
                    .with_help("remove this listener or make it HTTPS"),
                );
            }
        }
    }
    for (name, output) in &spec.outputs {
        let span = at(&format!("spec.outputs.{name}"));
        if output.value.is_some() == output.value_from.is_some() {
            out.push(Diagnostic::error(
                "invalid-value",
                span,
                format!("stack output `{name}` needs exactly one of `value` and `valueFrom`"),
            ));
        }
    }
}

/// The port of the HTTPS listener `shared.domain` gives the shared load balancer.
pub const DOMAIN_HTTPS_PORT: u32 = 443;

/// Why `zone` cannot name a public hosted zone, if it cannot: a DNS name of at least two
/// labels, each 1-63 letters, digits or hyphens not at either end, 253 characters at most
/// (RFC 1035 section 2.3.1; Route 53 takes the name without its trailing dot as well).
pub fn zone_name_problem(zone: &str) -> Option<&'static str> {
    if zone.ends_with('.') {
        return Some("is written without its trailing dot");
    }
    if zone.is_empty() || zone.len() > 253 {
        return Some("must be 1 to 253 characters long");
    }
    let labels: Vec<&str> = zone.split('.').collect();
    if labels.len() < 2 {
        return Some("needs at least two labels (`example.com`)");
    }
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !labels.iter().all(label_ok) {
        return Some("is not a DNS name: labels of 1 to 63 letters, digits and inner hyphens");
    }
    None
}

/// With `shared.domain`, a public port's `host` outside the zone gets no certificate and no
/// record: warned at the host, so a misspelt zone or host does not go unnoticed.
fn check_domain_hosts(ctx: &StackContext<'_>, out: &mut Vec<Diagnostic>) {
    let Some(domain) = ctx.stack_spec.and_then(|s| s.shared.domain.as_ref()) else {
        return;
    };
    if zone_name_problem(&domain.zone).is_some() {
        return;
    }
    for c in ctx.components {
        let Some(ComponentSpec::MicroService(s)) = &c.typed else {
            continue;
        };
        for (i, p) in s.ports.iter().enumerate() {
            let Some(host) = p.host.as_deref().filter(|_| p.public) else {
                continue;
            };
            if !domain.holds(host) {
                out.push(
                    Diagnostic::warning(
                        "outside-zone",
                        c.spec.span_of(&parse_serde_path(&format!("ports[{i}].host"))),
                        format!(
                            "host `{host}` is not in the zone `{}`: it gets no certificate, no HTTPS and no DNS record from panka",
                            domain.zone
                        ),
                    )
                    .with_help("point its DNS at the load balancer yourself, or use a host inside the zone"),
                );
            }
        }
    }
}

fn bad_name(what: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error("invalid-name", span, format!("{what} name `{name}` is not valid"))
        .with_help("use lowercase letters, digits and single hyphens, starting with a letter, at most 40 characters")
}

fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn check_names(c: &RawComponent, out: &mut Vec<Diagnostic>) {
    if !valid_resource_name(&c.metadata.name) {
        out.push(bad_name("component", &c.metadata.name, c.name_span));
    }
}

/// Why `name` cannot be an S3 bucket name, if it cannot.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    if name.len() < 3 || name.len() > 63 {
        return Some("must be 3 to 63 characters long");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return Some("may hold only lowercase letters, digits, hyphens and dots");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some("must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("must not hold two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("must not look like an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return Some("uses a prefix or suffix S3 reserves");
    }
    None
}

/// Fargate's valid memory sizes (MiB) for a CPU size.
pub fn fargate_memory_options(cpu: u32) -> Option<Vec<u32>> {
    let range =
        |from: u32, to: u32, step: u32| (from..=to).step_by(step as usize).collect::<Vec<_>>();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => return None,
    })
}

fn version_shape(v: &str, max_parts: usize) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    !v.is_empty()
        && parts.len() <= max_parts
        && parts.iter().enumerate().all(|(i, p)| {
            (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) || (i > 0 && *p == "x")
        })
}

fn check_alb_listeners(
    listeners: &[AlbListener],
    at: impl Fn(&str) -> Span,
    out: &mut Vec<Diagnostic>,
) {
    let mut ports: IndexMap<u32, usize> = IndexMap::new();
    for (i, l) in listeners.iter().enumerate() {
        if l.protocol == AlbProtocol::Https && l.certificate_arn.is_none() {
            out.push(
                Diagnostic::error(
                    "missing-field",
                    at(&format!("listeners[{i}]")),
                    format!("HTTPS listener on port {} needs `certificateArn`", l.port),
                )
                .with_help("give an ACM certificate ARN, or use protocol HTTP"),
            );
        }
        if let Some(first) = ports.insert(l.port, i) {
            out.push(
                Diagnostic::error(
                    "duplicate-name",
                    at(&format!("listeners[{i}].port")),
                    format!("two listeners on port {}", l.port),
                )
                .with_related(at(&format!("listeners[{first}].port")), "first one here"),
            );
        }
    }
}

/// The component's own container, as its sidecars see it: its ports (name and number) and
/// whether it has a container health check.
struct MainContainer<'a> {
    ports: Vec<(&'a str, u32)>,
    checked: bool,
}

/// Whether `a` reads as an IAM action: `service:Action`, the service in lowercase letters,
/// digits and `-`, the action in letters and digits with `*` and `?` wildcards.
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
pub fn iam_action(a: &str) -> bool {
    let Some((service, action)) = a.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !action.is_empty()
        && action
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
}

/// Whether `r` has the shape of an ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, with
/// a partition, a service and a resource (region and account may be empty, as in S3's).
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
pub fn arn_shape(r: &str) -> bool {
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && !parts[2].is_empty()
        && !parts[5].is_empty()
        && !r.contains(char::is_whitespace)
}

/// Whether `arn` is the ARN of an IAM managed policy: `arn:PARTITION:iam::ACCOUNT:policy/...`
/// with a 12-digit account, or `aws` for AWS managed policies.
pub fn managed_policy_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (parts[4] == "aws"
            || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())))
        && parts[5]
            .strip_prefix("policy/")
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
        && !arn.contains(char::is_whitespace)
}

/// Per-component rules, with spans looked up in the component's merged tree.
struct Rules<'a> {
    c: &'a RawComponent,
    /// `shared.domain`, which provides the certificate of CloudFront aliases inside its zone.
    domain: Option<&'a SharedDomain>,
    out: &'a mut Vec<Diagnostic>,
}

impl Rules<'_> {
    fn span(&self, spec_path: &str) -> Span {
        self.c.spec.span_of(&parse_serde_path(spec_path))
    }

    fn err(
        &mut self,
        code: &'static str,
        spec_path: &str,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let span = self.span(spec_path);
        self.out.push(Diagnostic::error(code, span, message));
        self.out.last_mut().expect("just pushed")
    }

    fn warn(
        &mut self,
        code: &'static str,
        spec_path: &str,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let span = self.span(spec_path);
        self.out.push(Diagnostic::warning(code, span, message));
        self.out.last_mut().expect("just pushed")
    }

    fn help(d: &mut Diagnostic, help: impl Into<String>) {
        d.help = Some(help.into());
    }

    fn check_spec(&mut self, spec: &ComponentSpec) {
        match spec {
            ComponentSpec::MicroService(s) => {
                self.image(&s.image);
                self.env_and_secrets(&s.environment, &s.secrets);
                self.ports(&s.ports);
                self.health(&s.health_check, &s.ports);
                self.logging(&s.logging);
                self.deployment(&s.deployment);
                self.permissions(&s.permissions, &s.managed_policies);
                let main = MainContainer {
                    ports: s.ports.iter().map(|p| (p.name.as_str(), p.port)).collect(),
                    checked: s.health_check.liveness.is_some(),
                };
                self.sidecars(&s.sidecars, &main);
            }
            ComponentSpec::Worker(s) => {
                self.image(&s.image);
                self.env_and_secrets(&s.environment, &s.secrets);
                if let Some(p) = &s.health_check {
                    self.probe(p, "healthCheck", false);
                }
                self.logging(&s.logging);
                self.deployment(&s.deployment);
                self.permissions(&s.permissions, &s.managed_policies);
                let main = MainContainer {
                    ports: Vec::new(),
                    checked: s.health_check.is_some(),
                };
                self.sidecars(&s.sidecars, &main);
            }
            ComponentSpec::CronJob(s) => {
                self.image(&s.image);
                self.env_and_secrets(&s.environment, &s.secrets);
                self.schedule(&s.schedule, "schedule");
                self.logging(&s.logging);
                self.permissions(&s.permissions, &s.managed_policies);
                let main = MainContainer {
                    ports: Vec::new(),
                    checked: false,
                };
                self.sidecars(&s.sidecars, &main);
            }
            ComponentSpec::Lambda(s) => self.lambda(s),
            ComponentSpec::RDS(s) => self.rds(s),
            ComponentSpec::DynamoDB(s) => self.dynamodb(s),
            ComponentSpec::DocumentDB(s) => {
                if !version_shape(&s.engine_version, 3) {
                    let d = self.err(
                        "invalid-value",
                        "engineVersion",
                        format!("`{}` is not a DocumentDB engine version", s.engine_version),
                    );
                    Self::help(d, "versions look like `5.0.0` or `4.0.0`");
                }
                if !s.instance_class.starts_with("db.") {
                    self.err(
                        "invalid-value",
                        "instanceClass",
                        format!(
                            "`{}` is not an instance class (`db.t4g.medium`, `db.r6g.large`)",
                            s.instance_class
                        ),
                    );
                }
                self.db_username(&s.master_username, "masterUsername");
            }
            ComponentSpec::ElastiCacheRedis(s) => {
                if !version_shape(&s.engine_version, 3) {
                    let d = self.err(
                        "invalid-value",
                        "engineVersion",
                        format!("`{}` is not a Redis engine version", s.engine_version),
                    );
                    Self::help(d, "versions look like `7.1`, `7` or `6.x`");
                }
                if !s.node_type.starts_with("cache.") {
                    self.err(
                        "invalid-value",
                        "nodeType",
                        format!("`{}` is not a node type (`cache.t4g.micro`)", s.node_type),
                    );
                }
                if s.multi_az && s.replicas == 0 {
                    self.err(
                        "invalid-combination",
                        "multiAZ",
                        "`multiAZ` needs at least one replica",
                    );
                }
                if s.automatic_failover == Some(true) && s.replicas == 0 {
                    self.err(
                        "invalid-combination",
                        "automaticFailover",
                        "`automaticFailover` needs at least one replica",
                    );
                }
                if s.shards > 1 && s.automatic_failover == Some(false) {
                    self.err(
                        "invalid-combination",
                        "automaticFailover",
                        "cluster mode (`shards` > 1) requires automatic failover",
                    );
                }
            }
            ComponentSpec::ElastiCacheMemcached(s) => {
                if !version_shape(&s.engine_version, 3) {
                    self.err(
                        "invalid-value",
                        "engineVersion",
                        format!(
                            "`{}` is not a Memcached engine version (`1.6.22`)",
                            s.engine_version
                        ),
                    );
                }
                if !s.node_type.starts_with("cache.") {
                    self.err(
                        "invalid-value",
                        "nodeType",
                        format!("`{}` is not a node type (`cache.t4g.micro`)", s.node_type),
                    );
                }
                if s.cross_az && s.nodes < 2 {
                    self.err(
                        "invalid-combination",
                        "crossAZ",
                        "`crossAZ` needs at least two nodes",
                    );
                }
            }
            ComponentSpec::S3(s) => self.s3(s),
            ComponentSpec::SQS(s) => {
                if s.content_based_deduplication && !s.fifo {
                    self.err(
                        "invalid-combination",
                        "contentBasedDeduplication",
                        "`contentBasedDeduplication` applies to FIFO queues only",
                    )
                    .help = Some("set `fifo: true` or remove it".into());
                }
                if let Some(name) = &s.queue_name {
                    let base = name.strip_suffix(".fifo").unwrap_or(name);
                    if base.is_empty()
                        || base.len() > 75
                        || !base
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    {
                        self.err("invalid-name", "queueName", format!("queue name `{name}` must be 1-75 letters, digits, `-` or `_` (plus `.fifo`)"));
                    }
                    if name.ends_with(".fifo") && !s.fifo {
                        self.err(
                            "invalid-combination",
                            "queueName",
                            "a `.fifo` queue name needs `fifo: true`",
                        );
                    }
                }
                if let Some(dl) = &s.dead_letter
                    && dl.retention_days < s.retention_days
                {
                    let d = self.warn("retention", "deadLetter.retentionDays", format!("the dead-letter queue keeps messages {} days, less than the queue's {}", dl.retention_days, s.retention_days));
                    Self::help(
                        d,
                        "SQS counts retention from the original enqueue time: a message may expire as soon as it is moved",
                    );
                }
            }
            ComponentSpec::SNS(s) => {
                if let Some(name) = &s.topic_name {
                    let base = name.strip_suffix(".fifo").unwrap_or(name);
                    if base.is_empty()
                        || base.len() > 251
                        || !base
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    {
                        self.err("invalid-name", "topicName", format!("topic name `{name}` must be 1-251 letters, digits, `-` or `_` (plus `.fifo`)"));
                    }
                    if name.ends_with(".fifo") && !s.fifo {
                        self.err(
                            "invalid-combination",
                            "topicName",
                            "a `.fifo` topic name needs `fifo: true`",
                        );
                    }
                }
                let mut names = IndexMap::new();
                for (i, sub) in s.subscriptions.iter().enumerate() {
                    let p = format!("subscriptions[{i}]");
                    if let Some(first) = names.insert(sub.name.clone(), i) {
                        let first_span = self.span(&format!("subscriptions[{first}].name"));
                        self.err(
                            "duplicate-name",
                            &format!("{p}.name"),
                            format!("two subscriptions named `{}`", sub.name),
                        )
                        .related
                        .push((first_span, "first one here".into()));
                    }
                    match (&sub.target, &sub.endpoint) {
                        (Some(_), Some(_)) | (None, None) => {
                            self.err(
                                "invalid-combination",
                                &p,
                                "a subscription needs exactly one of `target` and `endpoint`",
                            );
                        }
                        (None, Some(e)) => {
                            let ok = match sub.protocol {
                                SubscriptionProtocol::Https => e.starts_with("https://"),
                                SubscriptionProtocol::Http => e.starts_with("http://"),
                                SubscriptionProtocol::Email => e.contains('@'),
                                SubscriptionProtocol::Sqs | SubscriptionProtocol::Lambda => {
                                    e.starts_with("arn:")
                                }
                                SubscriptionProtocol::Sms => e.starts_with('+'),
                            };
                            if !ok {
                                self.err(
                                    "invalid-value",
                                    &format!("{p}.endpoint"),
                                    format!(
                                        "`{e}` is not a valid endpoint for protocol {:?}",
                                        sub.protocol
                                    )
                                    .to_lowercase(),
                                );
                            }
                        }
                        (Some(_), None) => {
                            if !matches!(
                                sub.protocol,
                                SubscriptionProtocol::Sqs | SubscriptionProtocol::Lambda
                            ) {
                                self.err(
                                    "invalid-combination",
                                    &format!("{p}.target"),
                                    "a component `target` needs protocol `sqs` or `lambda`",
                                );
                            }
                        }
                    }
                }
            }
            ComponentSpec::EFS(s) => {
                if s.throughput_mode == EfsThroughputMode::Provisioned
                    && s.provisioned_throughput_mibps.is_none()
                {
                    self.err(
                        "missing-field",
                        "throughputMode",
                        "`provisioned` throughput needs `provisionedThroughputMibps`",
                    );
                }
                if let Some(d) = s.transition_to_ia_days
                    && ![1, 7, 14, 30, 60, 90, 180, 270, 365].contains(&d)
                {
                    self.err(
                        "invalid-value",
                        "transitionToIaDays",
                        format!("{d} is not allowed; use 1, 7, 14, 30, 60, 90, 180, 270 or 365"),
                    );
                }
                for (i, ap) in s.access_points.iter().enumerate() {
                    if !ap.path.starts_with('/') {
                        self.err(
                            "invalid-value",
                            &format!("accessPoints[{i}].path"),
                            "access point paths start with `/`",
                        );
                    }
                }
            }
            ComponentSpec::EBS(s) => self.ebs(s),
            ComponentSpec::MSK(s) => {
                if !version_shape(&s.kafka_version, 4) {
                    self.err(
                        "invalid-value",
                        "kafkaVersion",
                        format!("`{}` is not a Kafka version (`3.6.0`)", s.kafka_version),
                    );
                }
                if !s.instance_type.starts_with("kafka.") {
                    self.err(
                        "invalid-value",
                        "instanceType",
                        format!(
                            "`{}` is not a broker type (`kafka.m7g.large`)",
                            s.instance_type
                        ),
                    );
                }
                if s.broker_nodes < 2 {
                    self.err(
                        "out-of-range",
                        "brokerNodes",
                        "MSK needs at least two brokers (one per Availability Zone)",
                    );
                } else if !s.broker_nodes.is_multiple_of(2) && !s.broker_nodes.is_multiple_of(3) {
                    self.err(
                        "invalid-value",
                        "brokerNodes",
                        format!(
                            "MSK spreads brokers evenly over two or three Availability Zones: \
                             {} is a multiple of neither",
                            s.broker_nodes
                        ),
                    );
                }
                if !s.authentication.iam
                    && !s.authentication.scram
                    && !s.authentication.unauthenticated
                {
                    self.err(
                        "invalid-combination",
                        "authentication",
                        "turn on at least one authentication method",
                    );
                }
            }
            ComponentSpec::EventBridge(s) => {
                for (i, r) in s.rules.iter().enumerate() {
                    let p = format!("rules[{i}]");
                    if r.event_pattern.is_some() == r.schedule.is_some() {
                        self.err(
                            "invalid-combination",
                            &p,
                            "a rule needs exactly one of `eventPattern` and `schedule`",
                        );
                    }
                    if let Some(sch) = &r.schedule {
                        self.schedule(sch, &format!("{p}.schedule"));
                        if s.custom_bus {
                            self.err(
                                "invalid-combination",
                                &format!("{p}.schedule"),
                                "scheduled rules run on the default bus only",
                            )
                            .help = Some(
                                "set `customBus: false`, or use a CronJob or a Lambda trigger"
                                    .into(),
                            );
                        }
                    }
                }
            }
            ComponentSpec::ALB(s) => {
                let spec = &self.c.spec;
                check_alb_listeners(
                    &s.listeners,
                    |p| spec.span_of(&parse_serde_path(p)),
                    self.out,
                );
            }
            ComponentSpec::NLB(s) => {
                for (i, l) in s.listeners.iter().enumerate() {
                    if l.protocol == NlbProtocol::Tls && l.certificate_arn.is_none() {
                        self.err(
                            "missing-field",
                            &format!("listeners[{i}]"),
                            "a TLS listener needs `certificateArn`",
                        );
                    }
                    if l.preserve_client_ip
                        && matches!(l.protocol, NlbProtocol::Udp | NlbProtocol::TcpUdp)
                    {
                        self.err(
                            "invalid-combination",
                            &format!("listeners[{i}].preserveClientIp"),
                            "UDP and TCP_UDP listeners always pass the clients' addresses; `preserveClientIp` is for TCP and TLS",
                        );
                    }
                    if !l.allowed_cidrs.is_empty() && !l.sees_clients() {
                        self.err(
                            "invalid-combination",
                            &format!("listeners[{i}].allowedCidrs"),
                            "the targets of a TCP or TLS listener see the load balancer's addresses, not the clients': set `preserveClientIp: true` to admit client ranges",
                        );
                    }
                    for (j, cidr) in l.allowed_cidrs.iter().enumerate() {
                        if cidr.parse::<ipnet::Ipv4Net>().is_err() {
                            self.err(
                                "invalid-value",
                                &format!("listeners[{i}].allowedCidrs[{j}]"),
                                format!(
                                    "`{cidr}` is not an IPv4 CIDR range such as 203.0.113.0/24"
                                ),
                            );
                        }
                    }
                }
            }
            ComponentSpec::CloudFront(s) => {
                let names: Vec<&str> = s.origins.iter().map(|o| o.name.as_str()).collect();
                for (i, o) in s.origins.iter().enumerate() {
                    if o.target.is_some() == o.domain_name.is_some() {
                        self.err(
                            "invalid-combination",
                            &format!("origins[{i}]"),
                            "an origin needs exactly one of `target` and `domainName`",
                        );
                    }
                }
                let behaviors =
                    std::iter::once(("defaultBehavior".to_string(), &s.default_behavior)).chain(
                        s.behaviors
                            .iter()
                            .enumerate()
                            .map(|(i, b)| (format!("behaviors[{i}]"), b)),
                    );
                for (p, b) in behaviors {
                    if !names.contains(&b.origin.as_str()) {
                        let hint = did_you_mean(&b.origin, names.iter().copied());
                        let d = self.err(
                            "unknown-reference",
                            &format!("{p}.origin"),
                            format!("no origin named `{}`", b.origin),
                        );
                        d.help = Some(match hint {
                            Some(h) => format!("did you mean `{h}`?"),
                            None => format!("origins: {}", names.join(", ")),
                        });
                    }
                    if p != "defaultBehavior" && b.path_pattern.is_none() {
                        self.err(
                            "missing-field",
                            &p,
                            "a behaviour other than the default needs `pathPattern`",
                        );
                    }
                }
                let served = self
                    .domain
                    .is_some_and(|d| d.serves_aliases(&s.aliases, s.certificate_arn.as_deref()));
                if !s.aliases.is_empty() && s.certificate_arn.is_none() && !served {
                    self.err(
                        "missing-field",
                        "aliases",
                        "aliases need `certificateArn` (an ACM certificate in us-east-1), unless all are inside the zone of `shared.domain`",
                    );
                }
            }
            ComponentSpec::APIGateway(s) => {
                for (i, r) in s.routes.iter().enumerate() {
                    let m = r.method.to_ascii_uppercase();
                    if ![
                        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
                    ]
                    .contains(&m.as_str())
                    {
                        self.err(
                            "invalid-value",
                            &format!("routes[{i}].method"),
                            format!("`{}` is not an HTTP method", r.method),
                        );
                    }
                    if !r.path.starts_with('/') {
                        self.err(
                            "invalid-value",
                            &format!("routes[{i}].path"),
                            "route paths start with `/`",
                        );
                    }
                }
                if s.api_type == ApiType::Rest {
                    if let Some(c) = &s.cors
                        && c.allow_origins.len() != 1
                    {
                        self.err(
                            "invalid-combination",
                            "cors.allowOrigins",
                            format!(
                                "a REST API answers preflight requests with one fixed origin, not {}",
                                c.allow_origins.len()
                            ),
                        )
                        .help = Some("list one origin (or \"*\"), or use `type: HTTP`".into());
                    }
                    let stage_ok = s.stage == "$default"
                        || (!s.stage.is_empty()
                            && s.stage.len() <= 128
                            && s.stage
                                .chars()
                                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'));
                    if !stage_ok {
                        self.err(
                            "invalid-value",
                            "stage",
                            "a REST API's stage name takes letters, digits, `-` and `_`",
                        );
                    }
                }
            }
        }
        self.named_list_unique(spec);
    }

    /// Lists merged by name must not hold a name twice.
    fn named_list_unique(&mut self, spec: &ComponentSpec) {
        let json = spec.to_json();
        let Some(obj) = json.as_object() else { return };
        for (field, value) in obj {
            let Some(items) = value.as_array() else {
                continue;
            };
            let mut seen: IndexMap<&str, usize> = IndexMap::new();
            for (i, item) in items.iter().enumerate() {
                if let Some(name) = item.get("name").and_then(|n| n.as_str())
                    && let Some(first) = seen.insert(name, i)
                {
                    let first_span = self.span(&format!("{field}[{first}].name"));
                    self.err(
                        "duplicate-name",
                        &format!("{field}[{i}].name"),
                        format!("`{field}` holds `{name}` twice"),
                    )
                    .related
                    .push((first_span, "first one here".into()));
                }
            }
        }
    }

    fn image(&mut self, image: &Image) {
        self.image_at(image, "image");
    }

    /// The image at spec path `at` (`image`, `sidecars[0].image`).
    fn image_at(&mut self, image: &Image, at: &str) {
        if image.repository.trim().is_empty() || image.repository.contains(char::is_whitespace) {
            self.err(
                "invalid-value",
                &format!("{at}.repository"),
                format!("`{}` is not an image repository", image.repository),
            );
        }
        if let Some(d) = &image.digest {
            let ok = d
                .strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
            if !ok {
                self.err(
                    "invalid-value",
                    &format!("{at}.digest"),
                    "a digest is `sha256:` followed by 64 hex characters",
                );
            }
        }
        // A tag still holding `${` failed interpolation, which is reported on its own.
        if let Some(t) = &image.tag
            && !t.contains("${")
            && (t.is_empty()
                || t.len() > 128
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            self.err(
                "invalid-value",
                &format!("{at}.tag"),
                format!("`{t}` is not a valid image tag"),
            )
            .help = Some("tags are up to 128 letters, digits, `_`, `.` and `-`".into());
        }
    }

    fn env_and_secrets(&mut self, env: &[EnvVar], secrets: &[Secret]) {
        self.env_and_secrets_at(env, secrets, "");
    }

    /// Environment and secrets of the container whose spec path starts with `at` (empty for
    /// the component's own, `sidecars[0].` for a sidecar).
    fn env_and_secrets_at(&mut self, env: &[EnvVar], secrets: &[Secret], at: &str) {
        let mut names: IndexMap<&str, String> = IndexMap::new();
        for (i, e) in env.iter().enumerate() {
            let p = format!("{at}environment[{i}]");
            self.env_name(&e.name, &format!("{p}.name"), &mut names);
            if e.value.is_some() == e.value_from.is_some() {
                self.err(
                    "invalid-combination",
                    &p,
                    format!(
                        "environment variable `{}` needs exactly one of `value` and `valueFrom`",
                        e.name
                    ),
                );
            }
        }
        for (i, s) in secrets.iter().enumerate() {
            let p = format!("{at}secrets[{i}]");
            self.env_name(&s.name, &format!("{p}.name"), &mut names);
            let v = &s.value_from;
            let sources = [
                v.component.is_some(),
                v.secrets_manager.is_some(),
                v.ssm_parameter.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if sources != 1 {
                self.err("invalid-combination", &format!("{p}.valueFrom"), format!("secret `{}` needs exactly one of `component`, `secretsManager` and `ssmParameter`", s.name));
            } else if v.component.is_some() && v.output.is_none() {
                self.err(
                    "missing-field",
                    &format!("{p}.valueFrom"),
                    format!("secret `{}` names a component but no `output`", s.name),
                );
            } else if v.component.is_none() && v.output.is_some() {
                self.err(
                    "invalid-combination",
                    &format!("{p}.valueFrom.output"),
                    "`output` goes with `component`",
                );
            }
            if v.json_key.is_some() && v.secrets_manager.is_none() && v.component.is_none() {
                self.err(
                    "invalid-combination",
                    &format!("{p}.valueFrom.jsonKey"),
                    "`jsonKey` applies to Secrets Manager secrets",
                );
            }
        }
    }

    fn env_name<'n>(&mut self, name: &'n str, p: &str, seen: &mut IndexMap<&'n str, String>) {
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.err(
                "invalid-name",
                p,
                format!("`{name}` is not a valid environment variable name"),
            )
            .help = Some("letters, digits and `_`, not starting with a digit".into());
        }
        if let Some(first) = seen.get(name) {
            let first_span = self.span(first);
            self.err(
                "duplicate-name",
                p,
                format!(
                    "variable `{name}` is set twice (environment and secrets share one namespace)"
                ),
            )
            .related
            .push((first_span, "first set here".into()));
        } else {
            seen.insert(name, p.to_string());
        }
    }

    fn ports(&mut self, ports: &[Port]) {
        let mut numbers: IndexMap<u32, usize> = IndexMap::new();
        for (i, p) in ports.iter().enumerate() {
            let at = format!("ports[{i}]");
            if let Some(first) = numbers.insert(p.port, i) {
                let first_span = self.span(&format!("ports[{first}].port"));
                self.err(
                    "duplicate-name",
                    &format!("{at}.port"),
                    format!("port {} is declared twice", p.port),
                )
                .related
                .push((first_span, "first declared here".into()));
            }
            if p.public {
                if matches!(p.protocol, PortProtocol::Tcp | PortProtocol::Udp) {
                    self.err(
                        "invalid-combination",
                        &format!("{at}.protocol"),
                        "the shared Application Load Balancer routes HTTP, HTTPS and GRPC only",
                    )
                    .help = Some("use an NLB component for TCP or UDP".into());
                }
                if p.path.is_none() && p.host.is_none() {
                    self.err(
                        "missing-field",
                        &at,
                        format!(
                            "public port `{}` needs a `path` or a `host` for its listener rule",
                            p.name
                        ),
                    );
                }
                if let Some(path) = &p.path
                    && !path.starts_with('/')
                {
                    self.err(
                        "invalid-value",
                        &format!("{at}.path"),
                        "paths start with `/`",
                    );
                }
            } else if p.path.is_some() || p.host.is_some() {
                self.warn(
                    "unused-field",
                    &at,
                    format!(
                        "port `{}` is not public: `path` and `host` have no effect",
                        p.name
                    ),
                );
            }
        }
    }

    fn health(&mut self, hc: &HealthCheck, ports: &[Port]) {
        if let Some(r) = &hc.readiness {
            self.probe(r, "healthCheck.readiness", true);
            if let Some(h) = &r.http
                && let Some(port) = h.port
                && !ports.iter().any(|p| p.port == port)
            {
                let listed: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
                self.err(
                    "unknown-reference",
                    "healthCheck.readiness.http.port",
                    format!(
                        "port {port} is not one of the container's ports ({})",
                        listed.join(", ")
                    ),
                );
            }
        }
        if let Some(l) = &hc.liveness {
            self.probe(l, "healthCheck.liveness", false);
        }
    }

    fn probe(&mut self, p: &Probe, at: &str, readiness: bool) {
        let kinds = [p.http.is_some(), p.tcp.is_some(), p.command.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if kinds != 1 {
            self.err(
                "invalid-combination",
                at,
                "a health check needs exactly one of `http`, `tcp` and `command`",
            );
        }
        if readiness && p.command.is_some() {
            self.err(
                "invalid-combination",
                &format!("{at}.command"),
                "the load balancer cannot run a command; use `http` or `tcp` for readiness",
            );
        }
        if p.timeout_seconds >= p.period_seconds {
            self.err(
                "invalid-combination",
                &format!("{at}.timeoutSeconds"),
                format!(
                    "timeout ({}s) must be shorter than the period ({}s)",
                    p.timeout_seconds, p.period_seconds
                ),
            );
        }
        if let Some(h) = &p.http
            && !h.path.starts_with('/')
        {
            self.err(
                "invalid-value",
                &format!("{at}.http.path"),
                "health check paths start with `/`",
            );
        }
    }

    fn logging(&mut self, l: &Logging) {
        if !LOG_RETENTION_DAYS.contains(&l.retention_days) {
            let nearest = LOG_RETENTION_DAYS
                .iter()
                .min_by_key(|d| d.abs_diff(l.retention_days))
                .copied()
                .unwrap_or(30);
            self.err(
                "invalid-value",
                "logging.retentionDays",
                format!(
                    "CloudWatch Logs does not accept a retention of {} days",
                    l.retention_days
                ),
            )
            .help = Some(format!(
                "the nearest allowed value is {nearest}; allowed: {}",
                LOG_RETENTION_DAYS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    fn deployment(&mut self, d: &EcsDeployment) {
        if d.maximum_percent <= d.minimum_healthy_percent && d.minimum_healthy_percent > 0 {
            self.err(
                "invalid-combination",
                "deployment.maximumPercent",
                "`maximumPercent` must be above `minimumHealthyPercent`, or no new task can start",
            );
        }
    }

    /// IAM statements and managed policies given to the role a component's code runs as.
    fn permissions(&mut self, permissions: &[Permission], managed: &[String]) {
        for (i, p) in permissions.iter().enumerate() {
            let at = format!("permissions[{i}]");
            for (j, a) in p.actions.iter().enumerate() {
                if a != "*" && !iam_action(a) {
                    self.err(
                        "invalid-value",
                        &format!("{at}.actions[{j}]"),
                        format!("`{a}` is not an IAM action"),
                    )
                    .help = Some(
                        "actions are `service:Action`, such as `s3:GetObject`; `*` and `?` may \
                         stand for characters of the action name (`s3:Get*`)"
                            .into(),
                    );
                }
            }
            for (j, r) in p.resources.iter().enumerate() {
                if r != "*" && !arn_shape(r) {
                    self.err(
                        "invalid-value",
                        &format!("{at}.resources[{j}]"),
                        format!("`{r}` is not an ARN"),
                    )
                    .help = Some(
                        "resources are ARNs, `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, \
                         with `*` and `?` allowed inside"
                            .into(),
                    );
                }
            }
            let any_action = p.actions.iter().any(|a| a == "*");
            let any_resource = p.resources.iter().any(|r| r == "*");
            if (any_action || any_resource) && !p.allow_wildcard {
                let (field, what) = if any_action {
                    ("actions", "every action")
                } else {
                    ("resources", "every resource")
                };
                let j = if any_action {
                    p.actions.iter().position(|a| a == "*")
                } else {
                    p.resources.iter().position(|r| r == "*")
                }
                .unwrap_or_default();
                self.err(
                    "wildcard-permission",
                    &format!("{at}.{field}[{j}]"),
                    format!("this statement grants {what} (`*`)"),
                )
                .help = Some(
                    "name the actions and resources the code needs, or set \
                     `allowWildcard: true` on the statement to grant it as written"
                        .into(),
                );
            } else if p.allow_wildcard && !any_action && !any_resource {
                self.warn(
                    "unused-field",
                    &format!("{at}.allowWildcard"),
                    "the statement has no `*` action or resource: `allowWildcard` has no effect",
                );
            }
        }
        let mut seen: IndexMap<&str, usize> = IndexMap::new();
        for (i, arn) in managed.iter().enumerate() {
            let at = format!("managedPolicies[{i}]");
            if !managed_policy_arn(arn) {
                self.err(
                    "invalid-value",
                    &at,
                    format!("`{arn}` is not the ARN of an IAM managed policy"),
                )
                .help = Some(
                    "managed policy ARNs are `arn:aws:iam::aws:policy/NAME` (AWS managed) or \
                     `arn:aws:iam::ACCOUNT:policy/PATH/NAME`"
                        .into(),
                );
            }
            if let Some(first) = seen.insert(arn.as_str(), i) {
                let first_span = self.span(&format!("managedPolicies[{first}]"));
                self.err(
                    "duplicate-name",
                    &at,
                    format!("managed policy `{arn}` is listed twice"),
                )
                .related
                .push((first_span, "first listed here".into()));
            }
        }
    }

    /// Sidecars: names, images, environment, ports unique in the task, and the containers they
    /// wait for (which must exist, be able to reach the condition, and not wait in a circle).
    fn sidecars(&mut self, sidecars: &[Sidecar], main: &MainContainer<'_>) {
        let own = self.c.address.component.clone();
        let mut ports: IndexMap<u32, String> = IndexMap::new();
        let mut port_names: IndexMap<&str, String> = IndexMap::new();
        for (i, (name, number)) in main.ports.iter().enumerate() {
            ports.insert(*number, format!("ports[{i}].port"));
            port_names.insert(name, format!("ports[{i}].name"));
        }
        for (i, sc) in sidecars.iter().enumerate() {
            let at = format!("sidecars[{i}]");
            let valid = !sc.name.is_empty()
                && sc.name.len() <= 255
                && sc
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                self.err(
                    "invalid-name",
                    &format!("{at}.name"),
                    format!("`{}` is not a valid container name", sc.name),
                )
                .help = Some("up to 255 letters, digits, `-` and `_`".into());
            }
            if sc.name == own {
                self.err(
                    "duplicate-name",
                    &format!("{at}.name"),
                    format!("the component's own container is named `{own}`"),
                )
                .help = Some("give the sidecar another name".into());
            }
            self.image_at(&sc.image, &format!("{at}.image"));
            self.env_and_secrets_at(&sc.environment, &sc.secrets, &format!("{at}."));
            for (j, p) in sc.ports.iter().enumerate() {
                let pat = format!("{at}.ports[{j}]");
                if let Some(first) = ports.get(&p.port).cloned() {
                    let first_span = self.span(&first);
                    self.err(
                        "duplicate-name",
                        &format!("{pat}.port"),
                        format!("port {} is declared twice in the task", p.port),
                    )
                    .related
                    .push((first_span, "first declared here".into()));
                } else {
                    ports.insert(p.port, format!("{pat}.port"));
                }
                if let Some(first) = port_names.get(p.name.as_str()).cloned() {
                    let first_span = self.span(&first);
                    self.err(
                        "duplicate-name",
                        &format!("{pat}.name"),
                        format!("the task has two ports named `{}`", p.name),
                    )
                    .related
                    .push((first_span, "first named here".into()));
                } else {
                    port_names.insert(&p.name, format!("{pat}.name"));
                }
            }
            for (j, d) in sc.depends_on.iter().enumerate() {
                let dat = format!("{at}.dependsOn[{j}]");
                if d.container == sc.name {
                    self.err(
                        "self-reference",
                        &format!("{dat}.container"),
                        format!("sidecar `{}` waits for itself", sc.name),
                    );
                    continue;
                }
                let target = sidecars.iter().find(|o| o.name == d.container);
                let (essential, checked) = match target {
                    Some(o) => (o.essential, false),
                    None if d.container == own => (true, main.checked),
                    None => {
                        let mut names: Vec<&str> = vec![own.as_str()];
                        for o in sidecars {
                            if !names.contains(&o.name.as_str()) {
                                names.push(&o.name);
                            }
                        }
                        let hint = did_you_mean(&d.container, names.iter().copied());
                        self.err(
                            "unknown-reference",
                            &format!("{dat}.container"),
                            format!("the task has no container `{}`", d.container),
                        )
                        .help = Some(match hint {
                            Some(h) => format!("did you mean `{h}`?"),
                            None => format!("containers: {}", names.join(", ")),
                        });
                        continue;
                    }
                };
                match d.condition {
                    ContainerCondition::Complete | ContainerCondition::Success if essential => {
                        self.err(
                            "invalid-combination",
                            &format!("{dat}.condition"),
                            format!(
                                "`{}` is essential: the task stops when it exits, so nothing \
                                 can wait for it to complete",
                                d.container
                            ),
                        )
                        .help = Some(if d.container == own {
                            "wait for the component's own container to START or be HEALTHY".into()
                        } else {
                            format!("set `essential: false` on sidecar `{}`", d.container)
                        });
                    }
                    ContainerCondition::Healthy if !checked => {
                        self.err(
                            "invalid-combination",
                            &format!("{dat}.condition"),
                            format!("`{}` has no container health check to pass", d.container),
                        )
                        .help = Some(if d.container == own {
                            "give the component a liveness check, or wait for it to START".into()
                        } else {
                            "sidecars have no health check: wait for them to START".into()
                        });
                    }
                    _ => {}
                }
            }
        }
        // Sidecars waiting for each other in a circle never start.
        let mut graph: DiGraph<usize, ()> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..sidecars.len()).map(|i| graph.add_node(i)).collect();
        for (i, sc) in sidecars.iter().enumerate() {
            for d in &sc.depends_on {
                if let Some(n) = sidecars.iter().position(|o| o.name == d.container)
                    && n != i
                {
                    graph.add_edge(nodes[i], nodes[n], ());
                }
            }
        }
        for scc in petgraph::algo::tarjan_scc(&graph) {
            if scc.len() < 2 {
                continue;
            }
            let mut members: Vec<usize> = scc.iter().map(|n| graph[*n]).collect();
            members.sort_unstable();
            let names: Vec<&str> = members.iter().map(|k| sidecars[*k].name.as_str()).collect();
            self.err(
                "dependency-cycle",
                &format!("sidecars[{}].dependsOn", members[0]),
                format!(
                    "sidecars {} wait for each other: none of them can start",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    fn schedule(&mut self, expr: &str, at: &str) {
        let ok = if let Some(body) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
            body.split_whitespace().count() == 6
        } else if let Some(body) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
            let mut parts = body.split_whitespace();
            match (
                parts.next().and_then(|n| n.parse::<u32>().ok()),
                parts.next(),
                parts.next(),
            ) {
                (Some(1), Some("minute" | "hour" | "day"), None) => true,
                (Some(n), Some("minutes" | "hours" | "days"), None) => n > 1,
                _ => false,
            }
        } else {
            expr.strip_prefix("at(").is_some_and(|s| s.ends_with(')'))
        };
        if !ok {
            self.err("invalid-value", at, format!("`{expr}` is not a schedule expression")).help =
                Some("use `cron(MIN HOUR DAY MONTH WEEKDAY YEAR)` such as `cron(0 3 * * ? *)`, or `rate(5 minutes)`".into());
        }
    }

    fn lambda(&mut self, s: &LambdaSpec) {
        self.env_and_secrets(&s.environment, &s.secrets);
        self.logging(&s.logging);
        self.permissions(&s.permissions, &s.managed_policies);
        match (&s.code.s3, &s.code.image_uri) {
            (Some(_), None) => {
                if s.runtime.is_none() {
                    self.err("missing-field", "code", "a zip function needs `runtime`");
                }
                if s.handler.is_none() {
                    self.err("missing-field", "code", "a zip function needs `handler`");
                }
            }
            (None, Some(_)) => {
                if s.runtime.is_some() || s.handler.is_some() {
                    self.err(
                        "invalid-combination",
                        "runtime",
                        "an image function takes its runtime and handler from the image",
                    );
                }
            }
            _ => {
                self.err(
                    "invalid-combination",
                    "code",
                    "`code` needs exactly one of `s3` and `imageUri`",
                );
            }
        }
        if let Some(rt) = &s.runtime {
            let known = ["python3.", "nodejs", "java", "dotnet", "ruby3.", "provided"]
                .iter()
                .any(|p| rt.starts_with(p));
            if !known {
                self.err(
                    "invalid-value",
                    "runtime",
                    format!("`{rt}` is not a Lambda runtime"),
                )
                .help = Some(
                    "for example `python3.12`, `nodejs20.x`, `java21`, `provided.al2023`".into(),
                );
            }
        }
        for (i, t) in s.triggers.iter().enumerate() {
            let p = format!("triggers[{i}]");
            if t.schedule.is_some() == t.queue.is_some() {
                self.err(
                    "invalid-combination",
                    &p,
                    "a trigger needs exactly one of `schedule` and `queue`",
                );
            }
            if let Some(sch) = &t.schedule {
                self.schedule(sch, &format!("{p}.schedule"));
            }
            if t.batch_size.is_some() && t.queue.is_none() {
                self.err(
                    "invalid-combination",
                    &format!("{p}.batchSize"),
                    "`batchSize` applies to queue triggers",
                );
            }
        }
    }

    fn db_username(&mut self, u: &str, at: &str) {
        let valid = u.len() <= 16
            && u.starts_with(|c: char| c.is_ascii_alphabetic())
            && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.err(
                "invalid-name",
                at,
                format!("`{u}` is not a valid master user name"),
            )
            .help = Some("1-16 letters, digits and `_`, starting with a letter".into());
        }
        if [
            "admin",
            "rdsadmin",
            "postgres",
            "root",
            "master",
            "rdsrepladmin",
        ]
        .contains(&u.to_ascii_lowercase().as_str())
        {
            self.err("invalid-name", at, format!("`{u}` is a reserved user name"));
        }
    }

    fn rds(&mut self, s: &RdsSpec) {
        if !version_shape(&s.engine.version, 3) {
            self.err(
                "invalid-value",
                "engine.version",
                format!("`{}` is not an engine version", s.engine.version),
            )
            .help =
                Some("versions look like `16.4`, `8.0.39` or a major version such as `16`".into());
        }
        let class = &s.instance.class;
        if !(class.starts_with("db.") && class.split('.').count() == 3) {
            self.err(
                "invalid-value",
                "instance.class",
                format!("`{class}` is not an instance class"),
            )
            .help = Some("for example `db.t4g.micro` or `db.r6g.large`".into());
        }
        let name = &s.database.name;
        let max = if s.engine.engine_type == RdsEngineType::Postgres {
            63
        } else {
            64
        };
        if name.len() > max
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.err(
                "invalid-name",
                "database.name",
                format!("`{name}` is not a valid database name"),
            )
            .help = Some(format!(
                "letters, digits and `_`, starting with a letter, at most {max} characters"
            ));
        }
        self.db_username(&s.database.username, "database.username");
        let st = &s.instance.storage;
        if let Some(m) = st.max_allocated_gb
            && m <= st.allocated_gb
        {
            self.err(
                "invalid-combination",
                "instance.storage.maxAllocatedGB",
                format!(
                    "`maxAllocatedGB` ({m}) must be above `allocatedGB` ({})",
                    st.allocated_gb
                ),
            );
        }
        match st.storage_type {
            RdsStorageType::Io1 | RdsStorageType::Io2 if st.iops.is_none() => {
                self.err(
                    "missing-field",
                    "instance.storage",
                    "io1 and io2 storage need `iops`",
                );
            }
            RdsStorageType::Gp2 if st.iops.is_some() || st.throughput.is_some() => {
                self.err(
                    "invalid-combination",
                    "instance.storage.type",
                    "gp2 storage takes neither `iops` nor `throughput`",
                );
            }
            _ => {}
        }
        if ![0, 1, 5, 10, 15, 30, 60].contains(&s.monitoring_interval_seconds) {
            self.err(
                "invalid-value",
                "monitoringIntervalSeconds",
                "Enhanced Monitoring intervals are 0, 1, 5, 10, 15, 30 or 60 seconds",
            );
        }
        if let Some(w) = &s.backup.automated.window
            && !daily_window(w)
        {
            self.err(
                "invalid-value",
                "backup.automated.window",
                format!("`{w}` is not a window `hh:mm-hh:mm`"),
            );
        }
        if let Some(w) = &s.maintenance.window
            && !weekly_window(w)
        {
            self.err(
                "invalid-value",
                "maintenance.window",
                format!("`{w}` is not a window `ddd:hh:mm-ddd:hh:mm`"),
            );
        }
        if s.availability.multi_az && s.backup.automated.retention_days == 0 {
            self.warn("risky", "backup.automated.retentionDays", "a Multi-AZ instance without automated backups cannot be restored to a point in time");
        }
    }

    fn dynamodb(&mut self, s: &DynamoDbSpec) {
        if let Some(n) = &s.table_name
            && (n.len() < 3
                || n.len() > 255
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            self.err(
                "invalid-name",
                "tableName",
                format!("table name `{n}` must be 3-255 letters, digits, `_`, `-` or `.`"),
            );
        }
        match s.billing.mode {
            BillingMode::Provisioned => {
                if s.billing.read_capacity.is_none() || s.billing.write_capacity.is_none() {
                    self.err(
                        "missing-field",
                        "billing",
                        "PROVISIONED billing needs `readCapacity` and `writeCapacity`",
                    );
                }
            }
            BillingMode::PayPerRequest => {
                if s.billing.read_capacity.is_some() || s.billing.write_capacity.is_some() {
                    self.err(
                        "invalid-combination",
                        "billing",
                        "capacities apply to PROVISIONED billing only",
                    );
                }
            }
        }
        if !s.local_secondary_indexes.is_empty() && s.sort_key.is_none() {
            self.err(
                "invalid-combination",
                "localSecondaryIndexes",
                "local secondary indexes need a table with a sort key",
            );
        }
        for (i, lsi) in s.local_secondary_indexes.iter().enumerate() {
            if lsi.partition_key != s.partition_key {
                self.err(
                    "invalid-combination",
                    &format!("localSecondaryIndexes[{i}].partitionKey"),
                    "a local secondary index shares the table's partition key",
                );
            }
        }
        for (field, list) in [
            ("globalSecondaryIndexes", &s.global_secondary_indexes),
            ("localSecondaryIndexes", &s.local_secondary_indexes),
        ] {
            for (i, ix) in list.iter().enumerate() {
                if ix.projection == Projection::Include && ix.non_key_attributes.is_empty() {
                    self.err(
                        "missing-field",
                        &format!("{field}[{i}]"),
                        "an INCLUDE projection needs `nonKeyAttributes`",
                    );
                }
            }
        }
        if s.global_secondary_indexes.len() > 20 {
            self.err(
                "out-of-range",
                "globalSecondaryIndexes",
                "a table has at most 20 global secondary indexes",
            );
        }
        if s.local_secondary_indexes.len() > 5 {
            self.err(
                "out-of-range",
                "localSecondaryIndexes",
                "a table has at most 5 local secondary indexes",
            );
        }
    }

    fn s3(&mut self, s: &S3Spec) {
        if let Some(name) = &s.bucket_name
            && let Some(problem) = bucket_name_problem(name)
        {
            self.err(
                "invalid-name",
                "bucketName",
                format!("bucket name `{name}` {problem}"),
            );
        }
        match s.encryption.encryption_type {
            S3EncryptionType::Aes256 if s.encryption.kms_key_id.is_some() => {
                self.err(
                    "invalid-combination",
                    "encryption.kmsKeyId",
                    "`kmsKeyId` needs encryption type `aws:kms`",
                );
            }
            _ => {}
        }
        for (i, r) in s.lifecycle.iter().enumerate() {
            let p = format!("lifecycle[{i}]");
            if r.expire_days.is_none()
                && r.noncurrent_expire_days.is_none()
                && r.transitions.is_empty()
                && r.abort_incomplete_multipart_days.is_none()
            {
                self.err("missing-field", &p, "a lifecycle rule needs an action: `expireDays`, `noncurrentExpireDays`, `transitions` or `abortIncompleteMultipartDays`");
            }
            if r.noncurrent_expire_days.is_some() && !s.versioning {
                self.warn(
                    "unused-field",
                    &format!("{p}.noncurrentExpireDays"),
                    "without `versioning` there are no noncurrent versions to expire",
                );
            }
            for (j, t) in r.transitions.iter().enumerate() {
                if matches!(
                    t.storage_class,
                    StorageClass::StandardIa | StorageClass::OnezoneIa
                ) && t.days < 30
                {
                    self.err("out-of-range", &format!("{p}.transitions[{j}].days"), "S3 moves objects to STANDARD_IA or ONEZONE_IA after 30 days at the earliest");
                }
                if let Some(e) = r.expire_days
                    && t.days >= e
                {
                    self.err(
                        "invalid-combination",
                        &format!("{p}.transitions[{j}].days"),
                        format!("objects expire after {e} days, before this transition"),
                    );
                }
            }
        }
        for (i, c) in s.cors.iter().enumerate() {
            for (j, m) in c.allowed_methods.iter().enumerate() {
                if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()) {
                    self.err(
                        "invalid-value",
                        &format!("cors[{i}].allowedMethods[{j}]"),
                        format!(
                            "`{m}` is not a CORS method S3 accepts (GET, PUT, POST, DELETE, HEAD)"
                        ),
                    );
                }
            }
        }
    }

    fn ebs(&mut self, s: &EbsSpec) {
        let (min, max) = match s.volume_type {
            EbsVolumeType::Gp2 | EbsVolumeType::Gp3 => (1, 16384),
            EbsVolumeType::Io1 | EbsVolumeType::Io2 => (4, 65536),
            EbsVolumeType::St1 | EbsVolumeType::Sc1 => (125, 16384),
        };
        if s.size_gb < min || s.size_gb > max {
            self.err(
                "out-of-range",
                "sizeGB",
                format!("{:?} volumes are {min} to {max} GiB", s.volume_type).to_lowercase(),
            );
        }
        match s.volume_type {
            EbsVolumeType::Io1 | EbsVolumeType::Io2 if s.iops.is_none() => {
                self.err("missing-field", "type", "io1 and io2 volumes need `iops`");
            }
            EbsVolumeType::Gp3 => {
                if let Some(i) = s.iops
                    && !(3000..=16000).contains(&i)
                {
                    self.err(
                        "out-of-range",
                        "iops",
                        "gp3 volumes take 3000 to 16000 IOPS",
                    );
                }
                if let Some(t) = s.throughput
                    && !(125..=1000).contains(&t)
                {
                    self.err(
                        "out-of-range",
                        "throughput",
                        "gp3 volumes take 125 to 1000 MiB/s",
                    );
                }
            }
            _ if s.throughput.is_some() => {
                self.err(
                    "invalid-combination",
                    "throughput",
                    "only gp3 volumes take `throughput`",
                );
            }
            _ => {}
        }
    }

    fn check_infra(&mut self) {
        let c = self.c;
        let use_ = c.kind.info().infra;
        let Some(infra_node) = &c.infra else { return };
        if use_ == InfraUse::None {
            self.out.push(
                Diagnostic::error("infra-not-supported", infra_node.span, format!("{} components take no infra.yaml", c.kind))
                    .with_help("infra.yaml (resources, scaling, networking) applies to MicroService, Worker and CronJob"),
            );
            return;
        }
        let Some(infra) = &c.typed_infra else { return };
        let at = |p: &str| infra_node.span_of(&parse_serde_path(p));
        let r = &infra.resources;
        match fargate_memory_options(r.cpu) {
            None => self.out.push(
                Diagnostic::error(
                    "invalid-value",
                    at("resources.cpu"),
                    format!("{} is not a Fargate CPU size", r.cpu),
                )
                .with_help("use 256, 512, 1024, 2048, 4096, 8192 or 16384"),
            ),
            Some(options) if !options.contains(&r.memory) => {
                let shown = if options.len() > 8 {
                    format!(
                        "{} to {} in steps of {}",
                        options[0],
                        options[options.len() - 1],
                        options[1] - options[0]
                    )
                } else {
                    options
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                self.out.push(
                    Diagnostic::error(
                        "invalid-value",
                        at("resources.memory"),
                        format!(
                            "{} MiB of memory is not valid with {} CPU units on Fargate",
                            r.memory, r.cpu
                        ),
                    )
                    .with_help(format!("with cpu {} use memory {shown}", r.cpu)),
                );
            }
            Some(_) => {}
        }
        if let Some(scaling) = &infra.scaling {
            if use_ == InfraUse::Task {
                self.out.push(Diagnostic::error(
                    "invalid-combination",
                    at("scaling"),
                    "a CronJob runs one task per schedule; `scaling` does not apply",
                ));
            }
            if let Some(a) = &scaling.autoscaling {
                if a.min > a.max {
                    self.out.push(Diagnostic::error(
                        "invalid-combination",
                        at("scaling.autoscaling.min"),
                        format!("`min` ({}) is above `max` ({})", a.min, a.max),
                    ));
                }
                if a.target_cpu_percent.is_none()
                    && a.target_memory_percent.is_none()
                    && a.requests_per_target.is_none()
                {
                    self.out.push(
                        Diagnostic::error("missing-field", at("scaling.autoscaling"), "autoscaling needs a target: `targetCpuPercent`, `targetMemoryPercent` or `requestsPerTarget`"),
                    );
                }
                if a.requests_per_target.is_some() && c.kind != Kind::MicroService {
                    self.out.push(Diagnostic::error(
                        "invalid-combination",
                        at("scaling.autoscaling.requestsPerTarget"),
                        "`requestsPerTarget` needs a load balancer (MicroService)",
                    ));
                }
                if scaling.replicas < a.min || scaling.replicas > a.max {
                    self.out.push(Diagnostic::warning(
                        "out-of-range",
                        at("scaling.replicas"),
                        format!("`replicas` ({}) is outside autoscaling's {}..{}; autoscaling will move it", scaling.replicas, a.min, a.max),
                    ));
                }
            }
        }
        if infra.networking.subnets == SubnetPlacement::Private && infra.networking.assign_public_ip
        {
            self.out.push(Diagnostic::warning(
                "unused-field",
                at("networking.assignPublicIp"),
                "a public IP in private subnets is never reachable",
            ));
        }
    }
}

fn daily_window(w: &str) -> bool {
    let hhmm = |s: &str| {
        s.len() == 5
            && s.as_bytes()[2] == b':'
            && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
            && s[3..].parse::<u8>().is_ok_and(|m| m < 60)
    };
    w.split_once('-').is_some_and(|(a, b)| hhmm(a) && hhmm(b))
}

fn weekly_window(w: &str) -> bool {
    let part = |s: &str| {
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        s.len() == 9
            && days.contains(&&s[..3].to_ascii_lowercase()[..])
            && &s[3..4] == ":"
            && daily_window(&format!("{}-{}", &s[4..], &s[4..]))
    };
    w.split_once('-').is_some_and(|(a, b)| part(a) && part(b))
}

// --------------------------------------------------------------------------- references

/// A `{component: ...}` found in a spec tree.
struct FoundRef<'n> {
    path: Vec<PathSeg>,
    component: &'n Node,
    output: Option<&'n Node>,
}

fn find_refs<'n>(node: &'n Node, path: &mut Vec<PathSeg>, out: &mut Vec<FoundRef<'n>>) {
    match &node.value {
        Value::Map(entries) => {
            if let Some(c) = node.get("component")
                && c.as_str().is_some()
            {
                out.push(FoundRef {
                    path: path.clone(),
                    component: c,
                    output: node.get("output"),
                });
            }
            for (k, v) in entries {
                if crate::kinds::FREE_FORM_FIELDS.contains(&k.name.as_str()) {
                    continue;
                }
                path.push(PathSeg::Key(k.name.clone()));
                find_refs(v, path, out);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                find_refs(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Which kinds a whole-component reference at a spec path (indices written `[*]`) may point to.
fn allowed_targets(kind: Kind, pattern: &str) -> Option<&'static [Kind]> {
    Some(match (kind, pattern) {
        (Kind::Worker, "subscriptions[*]") => &[Kind::SQS],
        (Kind::Lambda, "triggers[*].queue") => &[Kind::SQS],
        (Kind::SNS, "subscriptions[*].target") => &[Kind::SQS, Kind::Lambda],
        (Kind::EventBridge, "rules[*].targets[*]") => &[Kind::SQS, Kind::SNS, Kind::Lambda],
        (Kind::ALB, "accessLogs") => &[Kind::S3],
        (Kind::NLB, "listeners[*].target") => &[Kind::MicroService, Kind::Worker],
        (Kind::CloudFront, "origins[*].target") => &[
            Kind::S3,
            Kind::ALB,
            Kind::NLB,
            Kind::APIGateway,
            Kind::MicroService,
        ],
        (Kind::APIGateway, "routes[*].target") => &[Kind::Lambda, Kind::MicroService],
        _ => return None,
    })
}

fn pattern_of(path: &[PathSeg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSeg::Index(_) => s.push_str("[*]"),
        }
    }
    s
}

fn resolve_references(ctx: &StackContext<'_>, out: &mut Vec<Diagnostic>) -> Option<Resolved> {
    let by_address: IndexMap<Address, &RawComponent> = ctx
        .components
        .iter()
        .map(|c| (c.address.clone(), c))
        .collect();
    let all_addresses: Vec<String> = by_address.keys().map(Address::to_string).collect();
    let mut ok = true;
    let mut resolved = Vec::new();

    let unknown = |text: &str, span: Span, out: &mut Vec<Diagnostic>| {
        if ctx
            .broken
            .iter()
            .any(|b| b.to_string() == text || b.component == text)
        {
            return;
        }
        let mut d = Diagnostic::error(
            "unknown-reference",
            span,
            format!("no component `{text}` in this stack"),
        );
        d = match did_you_mean(text, all_addresses.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(
                "addresses are `service/component`, or `component` inside the same service",
            ),
        };
        out.push(d);
    };

    for c in ctx.components {
        let mut refs = Vec::new();
        let mut deps: Vec<Address> = Vec::new();
        let mut found = Vec::new();
        find_refs(&c.spec, &mut Vec::new(), &mut found);
        for f in found {
            let text = f.component.as_str().unwrap_or_default();
            let Some(target) = Address::parse(text, &c.address.service) else {
                unknown(text, f.component.span, out);
                ok = false;
                continue;
            };
            if target == c.address {
                out.push(Diagnostic::error(
                    "self-reference",
                    f.component.span,
                    format!("`{}` refers to itself", c.address),
                ));
                ok = false;
                continue;
            }
            let Some(tc) = by_address.get(&target) else {
                unknown(text, f.component.span, out);
                ok = false;
                continue;
            };
            let pattern = pattern_of(&f.path);
            let output = f.output.and_then(Node::as_str).map(str::to_string);
            if let Some(out_name) = &output {
                match tc.kind.output(out_name) {
                    None => {
                        let names: Vec<&str> =
                            tc.kind.info().outputs.iter().map(|o| o.name).collect();
                        let span = f.output.map(|n| n.span).unwrap_or(f.component.span);
                        let mut d = Diagnostic::error(
                            "unknown-output",
                            span,
                            format!("{} `{}` has no output `{out_name}`", tc.kind, target),
                        );
                        d = match did_you_mean(out_name, names.iter().copied()) {
                            Some(s) => d.with_help(format!(
                                "did you mean `{s}`? {} outputs: {}",
                                tc.kind,
                                names.join(", ")
                            )),
                            None => {
                                d.with_help(format!("{} outputs: {}", tc.kind, names.join(", ")))
                            }
                        };
                        out.push(d);
                        ok = false;
                    }
                    Some(info) => {
                        // `internalUrl.PORT`: the MicroService must have several ports, one of
                        // them named PORT (it has no such output otherwise).
                        if info.per_port
                            && out_name != info.name
                            && let Some(ComponentSpec::MicroService(ms)) = &tc.typed
                        {
                            let base = info.name.trim_end_matches("PORT");
                            let port = &out_name[base.len()..];
                            let names: Vec<&str> =
                                ms.ports.iter().map(|p| p.name.as_str()).collect();
                            let problem = if !names.contains(&port) {
                                Some(format!(
                                    "MicroService `{target}` has no port `{port}` (its ports: {})",
                                    if names.is_empty() {
                                        "none".to_string()
                                    } else {
                                        names.join(", ")
                                    }
                                ))
                            } else if names.len() < 2 {
                                Some(format!(
                                    "MicroService `{target}` has one port: its address is `{}`",
                                    base.trim_end_matches('.')
                                ))
                            } else {
                                None
                            };
                            if let Some(message) = problem {
                                let span = f.output.map(|n| n.span).unwrap_or(f.component.span);
                                out.push(Diagnostic::error("unknown-output", span, message));
                                ok = false;
                            }
                        }
                        let in_secrets = pattern.starts_with("secrets[*]")
                            || pattern.starts_with("sidecars[*].secrets[*]");
                        if in_secrets && !info.secret_arn {
                            let secret_outputs: Vec<&str> = tc
                                .kind
                                .info()
                                .outputs
                                .iter()
                                .filter(|o| o.secret_arn)
                                .map(|o| o.name)
                                .collect();
                            let span = f.output.map(|n| n.span).unwrap_or(f.component.span);
                            let mut d = Diagnostic::error(
                                "not-a-secret",
                                span,
                                format!(
                                    "output `{out_name}` of {} `{target}` is not a secret ARN",
                                    tc.kind
                                ),
                            );
                            d = if secret_outputs.is_empty() {
                                d.with_help(format!(
                                    "{} has no secret outputs; put plain values in `environment`",
                                    tc.kind
                                ))
                            } else {
                                d.with_help(format!(
                                    "secret outputs of {}: {}",
                                    tc.kind,
                                    secret_outputs.join(", ")
                                ))
                            };
                            out.push(d);
                            ok = false;
                        }
                    }
                }
            } else if let Some(allowed) = allowed_targets(c.kind, &pattern)
                && !allowed.contains(&tc.kind)
            {
                out.push(Diagnostic::error(
                    "wrong-target-kind",
                    f.component.span,
                    format!(
                        "`{target}` is {} {}; `{pattern}` of a {} takes {}",
                        article_for(tc.kind.name()),
                        tc.kind,
                        c.kind,
                        allowed
                            .iter()
                            .map(|k| k.name())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ));
                ok = false;
            }
            refs.push(Reference {
                target: target.clone(),
                output,
                path: crate::yaml::display_path(&f.path),
                span: f.component.span,
            });
            deps.push(target);
        }
        if let Some(spec) = &c.typed {
            for (i, d) in spec.depends_on().iter().enumerate() {
                let span = c
                    .spec
                    .span_of(&[PathSeg::from("dependsOn"), PathSeg::Index(i)]);
                match Address::parse(d, &c.address.service) {
                    Some(a) if a == c.address => {
                        out.push(Diagnostic::error(
                            "self-reference",
                            span,
                            format!("`{}` depends on itself", c.address),
                        ));
                        ok = false;
                    }
                    Some(a) if by_address.contains_key(&a) => deps.push(a),
                    _ => {
                        unknown(d, span, out);
                        ok = false;
                    }
                }
            }
        }
        if let Some(service) = ctx.services.get(&c.address.service) {
            for s in &service.service.depends_on {
                deps.extend(
                    ctx.components
                        .iter()
                        .filter(|o| &o.address.service == s)
                        .map(|o| o.address.clone()),
                );
            }
        }
        deps.sort();
        deps.dedup();
        resolved.push((c.address.clone(), (refs, deps)));
    }

    if let Some(spec) = ctx.stack_spec {
        for (name, output) in &spec.outputs {
            let Some(vf) = &output.value_from else {
                continue;
            };
            let span = ctx.stack_node.span_of(&parse_serde_path(&format!(
                "spec.outputs.{name}.valueFrom.component"
            )));
            match vf
                .component
                .split_once('/')
                .map(|(s, c)| Address::new(s, c))
            {
                Some(a) => match by_address.get(&a) {
                    Some(tc) if tc.kind.output(&vf.output).is_none() => {
                        let names: Vec<&str> =
                            tc.kind.info().outputs.iter().map(|o| o.name).collect();
                        let ospan = ctx.stack_node.span_of(&parse_serde_path(&format!(
                            "spec.outputs.{name}.valueFrom.output"
                        )));
                        out.push(
                            Diagnostic::error(
                                "unknown-output",
                                ospan,
                                format!("{} `{a}` has no output `{}`", tc.kind, vf.output),
                            )
                            .with_help(format!(
                                "{} outputs: {}",
                                tc.kind,
                                names.join(", ")
                            )),
                        );
                        ok = false;
                    }
                    Some(_) => {}
                    None => {
                        unknown(&vf.component, span, out);
                        ok = false;
                    }
                },
                None => {
                    out.push(Diagnostic::error(
                        "unknown-reference",
                        span,
                        format!(
                            "stack outputs need a full address `service/component`, found `{}`",
                            vf.component
                        ),
                    ));
                    ok = false;
                }
            }
        }
    }
    ok.then_some(resolved)
}

fn article_for(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U'])
        || word.starts_with("S3")
        || word.starts_with("SQS")
        || word.starts_with("SNS")
        || word.starts_with("RDS")
        || word.starts_with("NLB")
        || word.starts_with("MSK")
    {
        "an"
    } else {
        "a"
    }
}

/// Returns whether the services' dependencies hold a cycle.
fn check_service_dependencies(ctx: &StackContext<'_>, out: &mut Vec<Diagnostic>) -> bool {
    let names: Vec<&str> = ctx.services.keys().map(String::as_str).collect();
    let mut graph: DiGraph<&str, Span> = DiGraph::new();
    let index: IndexMap<&str, NodeIndex> = names.iter().map(|n| (*n, graph.add_node(*n))).collect();
    for (name, entry) in ctx.services {
        for (i, dep) in entry.service.depends_on.iter().enumerate() {
            let span = entry.depends_on_spans.get(i).copied().unwrap_or(entry.span);
            match index.get(dep.as_str()) {
                Some(_) if dep == name => {
                    out.push(Diagnostic::error(
                        "self-reference",
                        span,
                        format!("service `{name}` depends on itself"),
                    ));
                }
                Some(&to) => {
                    graph.add_edge(index[name.as_str()], to, span);
                }
                None => {
                    let mut d = Diagnostic::error(
                        "unknown-reference",
                        span,
                        format!(
                            "service `{name}` depends on `{dep}`, which is not a service of this stack"
                        ),
                    );
                    if let Some(s) = did_you_mean(dep, names.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
    let cycles = find_cycles(&graph);
    let found = !cycles.is_empty();
    for cycle in cycles {
        let path: Vec<&str> = cycle.iter().map(|i| graph[*i]).collect();
        let first = graph
            .find_edge(cycle[0], cycle[1 % cycle.len()])
            .map(|e| graph[e])
            .unwrap_or(ctx.services[path[0]].span);
        out.push(
            Diagnostic::error(
                "dependency-cycle",
                first,
                format!(
                    "services depend on each other in a cycle: {} → {}",
                    path.join(" → "),
                    path[0]
                ),
            )
            .with_help("remove one of the services' `dependsOn` entries"),
        );
    }
    found
}

/// An edge of the component graph and why it exists.
#[derive(Clone, Copy)]
struct Edge {
    span: Span,
}

fn check_cycles(ctx: &StackContext<'_>, resolved: &Resolved, out: &mut Vec<Diagnostic>) {
    let mut graph: DiGraph<&Address, Edge> =
        DiGraph::with_capacity(resolved.len(), resolved.len() * 2);
    let index: IndexMap<&Address, NodeIndex> = resolved
        .iter()
        .map(|(a, _)| (a, graph.add_node(a)))
        .collect();
    let components: IndexMap<&Address, &RawComponent> =
        ctx.components.iter().map(|c| (&c.address, c)).collect();
    for (addr, (refs, deps)) in resolved {
        let from = index[addr];
        let c = components[addr];
        for dep in deps {
            // The location that creates the edge: a reference, a dependsOn entry, or the service.
            let span = refs
                .iter()
                .find(|r| &r.target == dep)
                .map(|r| r.span)
                .or_else(|| {
                    c.typed.as_ref().and_then(|s| {
                        s.depends_on()
                            .iter()
                            .position(|d| Address::parse(d, &addr.service).as_ref() == Some(dep))
                            .map(|i| {
                                c.spec
                                    .span_of(&[PathSeg::from("dependsOn"), PathSeg::Index(i)])
                            })
                    })
                })
                .or_else(|| {
                    let entry = ctx.services.get(&addr.service)?;
                    let i = entry
                        .service
                        .depends_on
                        .iter()
                        .position(|s| *s == dep.service)?;
                    entry.depends_on_spans.get(i).copied()
                })
                .unwrap_or(c.name_span);
            if let Some(&to) = index.get(dep) {
                graph.add_edge(from, to, Edge { span });
            }
        }
    }
    for cycle in find_cycles(&graph) {
        let names: Vec<String> = cycle.iter().map(|i| graph[*i].to_string()).collect();
        let mut related = Vec::new();
        for (k, from) in cycle.iter().enumerate() {
            let to = cycle[(k + 1) % cycle.len()];
            if let Some(e) = graph.find_edge(*from, to) {
                related.push((
                    graph[e].span,
                    format!("{} needs {}", graph[*from], graph[to]),
                ));
            }
        }
        let (first_span, _) = related
            .first()
            .cloned()
            .unwrap_or((components[graph[cycle[0]]].name_span, String::new()));
        let mut d = Diagnostic::error("dependency-cycle", first_span, format!("dependency cycle: {} → {}", names.join(" → "), names[0]))
            .with_label(format!("{} needs {}", names[0], names.get(1).unwrap_or(&names[0])))
            .with_help("break the cycle: remove a `dependsOn` entry or a `valueFrom` reference on one of these edges");
        d.related = related.into_iter().skip(1).collect();
        out.push(d);
    }
}

/// One cycle per strongly connected component with more than one node, as a path in order.
fn find_cycles<N, E>(graph: &DiGraph<N, E>) -> Vec<Vec<NodeIndex>> {
    let mut cycles = Vec::new();
    for scc in petgraph::algo::tarjan_scc(graph) {
        if scc.len() < 2 {
            continue;
        }
        let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let start = *scc.iter().min().expect("non-empty");
        // Walk inside the component until a node repeats; the repeat closes a cycle.
        let mut path = vec![start];
        let mut position: IndexMap<NodeIndex, usize> = IndexMap::new();
        position.insert(start, 0);
        let mut current = start;
        loop {
            let mut next: Vec<NodeIndex> = graph
                .neighbors(current)
                .filter(|n| members.contains(n))
                .collect();
            next.sort();
            let Some(&n) = next.first() else { break };
            if let Some(&at) = position.get(&n) {
                cycles.push(path[at..].to_vec());
                break;
            }
            position.insert(n, path.len());
            path.push(n);
            current = n;
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_pairs() {
        assert!(fargate_memory_options(256).unwrap().contains(&512));
        assert!(!fargate_memory_options(256).unwrap().contains(&4096));
        assert!(fargate_memory_options(4096).unwrap().contains(&30720));
        assert!(fargate_memory_options(300).is_none());
    }

    #[test]
    fn bucket_names() {
        assert_eq!(bucket_name_problem("my-bucket"), None);
        assert!(bucket_name_problem("My_Bucket").is_some());
        assert!(bucket_name_problem("ab").is_some());
        assert!(bucket_name_problem("192.168.1.1").is_some());
    }

    #[test]
    fn windows_and_versions() {
        assert!(daily_window("03:00-04:00"));
        assert!(!daily_window("25:00-04:00"));
        assert!(weekly_window("sun:05:00-sun:06:00"));
        assert!(version_shape("16.4", 3));
        assert!(version_shape("7.x", 3));
        assert!(!version_shape("latest", 3));
    }

    #[test]
    fn regions() {
        assert!(valid_region("us-east-1"));
        assert!(valid_region("us-gov-west-1"));
        assert!(!valid_region("useast1"));
        assert!(!valid_region("US-EAST-1"));
    }
}
