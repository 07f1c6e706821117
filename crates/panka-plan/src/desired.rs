//! The desired resources of a resolved stack, each with the configuration panka would apply.
//!
//! A resource's configuration is normalised — every default filled in, infra sizing included
//! even when infra.yaml is absent — so that planning again after an apply finds nothing to do.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Value, json};

use panka_format::Stack;
use panka_format::kinds::{AlbListener, AlbProtocol, ComponentSpec, InfraUse};
use panka_format::model::{ComponentInfraSpec, Network, Scaling};
use panka_format::naming::shorten;
use panka_format::rules::DOMAIN_HTTPS_PORT;
use panka_graph::{SHARED_CLUSTER, SHARED_LOAD_BALANCER, SHARED_NAMESPACE};
use panka_state::RecordedConfig;

use crate::cost::{MonthlyCost, component_cost, component_priced_class};

/// Builds the configuration of one resource of a stack at a time.
pub struct ConfigBuilder<'a> {
    stack: &'a Stack,
    base_tags: Value,
}

impl<'a> ConfigBuilder<'a> {
    pub fn new(stack: &'a Stack) -> Self {
        ConfigBuilder {
            stack,
            base_tags: json!({
                "panka:stack": stack.name,
                "panka:environment": stack.environment,
                "panka:managed-by": "panka",
            }),
        }
    }

    /// The configuration of the resource at `address` (a component, or `_shared/...`).
    pub fn config(&self, address: &str) -> Value {
        let stack = self.stack;
        match address {
            SHARED_CLUSTER => json!({
                "name": shorten(&format!("{}-{}", stack.name, stack.environment), 255),
                "containerInsights": stack.shared.cluster.container_insights,
                "tags": with_defaults(&self.base_tags, stack),
            }),
            SHARED_LOAD_BALANCER => {
                let mut config = json!({
                    // Load balancer names are limited to 32 characters.
                    "name": shorten(&format!("{}-{}", stack.name, stack.environment), 32),
                    "scheme": stack.shared.load_balancer.scheme,
                    "listeners": stack.shared.load_balancer.listeners,
                    "idleTimeoutSeconds": stack.shared.load_balancer.idle_timeout_seconds,
                    "network": stack.shared.network,
                    "tags": with_defaults(&self.base_tags, stack),
                });
                if let Some(domain) = &stack.shared.domain {
                    let hosts = stack.domain_hosts();
                    config["listeners"] = json!(domain_listeners(
                        &stack.shared.load_balancer.listeners,
                        !hosts.is_empty()
                    ));
                    // Route 53 answers zone names in lowercase: so is the zone here, and the
                    // hosts (DNS names are case-insensitive, RFC 4343).
                    config["domain"] = json!({
                        "zone": domain.zone.to_ascii_lowercase(),
                        "hosts": hosts,
                    });
                }
                config
            }
            SHARED_NAMESPACE => json!({
                "name": namespace_name(stack),
                "network": stack.shared.network,
                "tags": with_defaults(&self.base_tags, stack),
            }),
            // Specs hold only strings, numbers, booleans, lists and string-keyed maps.
            _ => self
                .stack
                .component(address)
                .map_or(Value::Null, |c| self.component_config(c)),
        }
    }

    /// Whether the configuration of the resource at `address` is `recorded`, told without
    /// building it: it is written as JSON into `scratch` and compared byte by byte with the
    /// recorded text. Equal bytes mean equal configurations; unequal bytes (keys recorded in
    /// another order, say) answer `false`, and the caller compares the trees.
    pub fn is_recorded(
        &self,
        address: &str,
        recorded: &RecordedConfig,
        scratch: &mut Scratch,
    ) -> bool {
        if matches!(
            address,
            SHARED_CLUSTER | SHARED_LOAD_BALANCER | SHARED_NAMESPACE
        ) {
            return scratch.writes_as(&self.config(address), recorded);
        }
        self.stack
            .component(address)
            .is_some_and(|c| self.component(c).is_recorded(recorded, scratch))
    }

    /// The configuration of component `c` of the stack.
    pub fn component_config(&self, c: &panka_format::Component) -> Value {
        self.component(c).to_value()
    }

    /// Component `c`'s configuration, not yet built: compared, priced or built from it.
    pub fn component<'c>(&'c self, c: &'c panka_format::Component) -> ComponentConfig<'c> {
        ComponentConfig {
            name: &c.physical_name,
            spec: &c.spec,
            tags: &c.tags,
            // Kinds placed in the VPC carry the network, so moving it shows in the plan.
            network: c.kind.in_vpc().then_some(&self.stack.shared.network),
            infra: normalized_infra(c.kind.info().infra, c.infra.as_ref()),
            domain: self.edge_domain(&c.spec),
        }
    }

    /// `domain` of a CloudFront component whose aliases `shared.domain` serves: the zone
    /// (lowercase, as Route 53 answers it), where its certificate is validated and its alias
    /// records written.
    fn edge_domain(&self, spec: &ComponentSpec) -> Option<EdgeDomain> {
        let (ComponentSpec::CloudFront(s), Some(domain)) = (spec, &self.stack.shared.domain) else {
            return None;
        };
        domain
            .serves_aliases(&s.aliases, s.certificate_arn.as_deref())
            .then(|| EdgeDomain {
                zone: domain.zone.to_ascii_lowercase(),
            })
    }
}

/// The shared load balancer's listeners with a domain that has `hosts`: the stack's, with HTTP
/// on port 80 redirecting to HTTPS, and an HTTPS listener on 443 (serving the domain's
/// certificates: no `certificateArn`) unless the stack has one there. Without hosts there is
/// no certificate to serve: the stack's listeners as written.
pub fn domain_listeners(listeners: &[AlbListener], hosts: bool) -> Vec<AlbListener> {
    let mut out = listeners.to_vec();
    if !hosts {
        return out;
    }
    for l in &mut out {
        if l.port == 80 && l.protocol == AlbProtocol::Http {
            l.redirect_to_https = true;
        }
    }
    if !out.iter().any(|l| l.port == DOMAIN_HTTPS_PORT) {
        out.push(AlbListener {
            port: DOMAIN_HTTPS_PORT,
            protocol: AlbProtocol::Https,
            certificate_arn: None,
            ssl_policy: None,
            redirect_to_https: false,
        });
    }
    out
}

/// The stack's private DNS namespace (Cloud Map): `{environment}.{stack}.internal`. Stack and
/// environment names are lowercase letters, digits and hyphens, so this is a valid DNS name
/// under `.internal`, the top-level domain ICANN reserved for private use.
pub fn namespace_name(stack: &Stack) -> String {
    format!("{}.{}.internal", stack.environment, stack.name)
}

/// The buffer [`ConfigBuilder::is_recorded`] reuses from one resource to the next.
#[derive(Default)]
pub struct Scratch {
    desired: Vec<u8>,
}

impl Scratch {
    /// Whether `desired`, written as compact JSON, is the `recorded` text byte for byte.
    fn writes_as(&mut self, desired: &impl Serialize, recorded: &RecordedConfig) -> bool {
        self.desired.clear();
        serde_json::to_writer(&mut self.desired, desired).is_ok()
            && self.desired == recorded.as_str().as_bytes()
    }
}

/// A component's configuration: `{name, spec, tags, network?, infra?, domain?}`.
#[derive(Serialize)]
pub struct ComponentConfig<'a> {
    name: &'a str,
    spec: &'a ComponentSpec,
    tags: &'a IndexMap<String, String>,
    /// Present (`null` for the default VPC) for kinds placed in the VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<&'a Option<Network>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    infra: Option<ComponentInfraSpec>,
    /// Present for a CloudFront component whose aliases `shared.domain` serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<EdgeDomain>,
}

/// `domain` of a CloudFront component's configuration, as the CloudFront provider reads it.
#[derive(Serialize)]
struct EdgeDomain {
    zone: String,
}

impl ComponentConfig<'_> {
    /// Whether this is the `recorded` configuration (see [`ConfigBuilder::is_recorded`]).
    pub fn is_recorded(&self, recorded: &RecordedConfig, scratch: &mut Scratch) -> bool {
        scratch.writes_as(self, recorded)
    }

    /// The configuration as a JSON tree.
    pub fn to_value(&self) -> Value {
        // Specs hold only strings, numbers, booleans, lists and string-keyed maps.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Its monthly cost: [`monthly_cost`](crate::cost::monthly_cost) of [`Self::to_value`].
    pub fn monthly_cost(&self, region: &str) -> MonthlyCost {
        component_cost(self.spec, self.infra.as_ref(), region)
    }

    /// The instance class, node type or broker type it is priced by.
    pub fn priced_class(&self) -> Option<&str> {
        component_priced_class(self.spec)
    }
}

fn with_defaults(base: &Value, stack: &Stack) -> Value {
    let mut tags = serde_json::Map::new();
    for (k, v) in &stack.default_tags {
        if !k.starts_with("panka:") {
            tags.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if let Value::Object(b) = base {
        tags.extend(b.clone());
    }
    Value::Object(tags)
}

/// Infra with its defaults: absent infra.yaml means the default size and one task.
fn normalized_infra(
    use_: InfraUse,
    infra: Option<&ComponentInfraSpec>,
) -> Option<ComponentInfraSpec> {
    match use_ {
        InfraUse::None => None,
        InfraUse::Task => Some(ComponentInfraSpec {
            scaling: None,
            ..infra.cloned().unwrap_or_default()
        }),
        InfraUse::Service => {
            let mut i = infra.cloned().unwrap_or_default();
            if i.scaling.is_none() {
                i.scaling = Some(Scaling {
                    replicas: 1,
                    autoscaling: None,
                });
            }
            Some(i)
        }
    }
}
