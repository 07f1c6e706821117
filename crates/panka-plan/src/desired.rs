//! The desired resources of a resolved stack, each with the configuration panka would apply.
//!
//! A resource's configuration is normalised — every default filled in, infra sizing included
//! even when infra.yaml is absent — so that planning again after an apply finds nothing to do.

use serde_json::{Value, json};

use panka_format::Stack;
use panka_format::kinds::InfraUse;
use panka_format::model::{ComponentInfraSpec, Scaling};
use panka_format::naming::shorten;
use panka_graph::{ResourceKind, SHARED_CLUSTER, SHARED_LOAD_BALANCER};

/// A resource as the YAML wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredResource {
    pub address: String,
    pub kind: ResourceKind,
    /// `{name, spec, infra?, tags}` for components; the shared settings for shared resources.
    pub config: Value,
    pub depends_on: Vec<String>,
}

/// Builds the configuration of one resource of a stack at a time.
pub struct ConfigBuilder<'a> {
    stack: &'a Stack,
    base_tags: Value,
    by_address: std::collections::HashMap<String, &'a panka_format::Component>,
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
            by_address: stack
                .components
                .values()
                .map(|c| (c.address.to_string(), c))
                .collect(),
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
            SHARED_LOAD_BALANCER => json!({
                // Load balancer names are limited to 32 characters.
                "name": shorten(&format!("{}-{}", stack.name, stack.environment), 32),
                "scheme": stack.shared.load_balancer.scheme,
                "listeners": stack.shared.load_balancer.listeners,
                "idleTimeoutSeconds": stack.shared.load_balancer.idle_timeout_seconds,
                "network": stack.shared.network,
                "tags": with_defaults(&self.base_tags, stack),
            }),
            _ => {
                let c = self.by_address[address];
                let mut config = json!({
                    "name": c.physical_name,
                    "spec": c.spec.to_json(),
                    "tags": c.tags,
                });
                // Kinds placed in the VPC carry the network, so moving it shows in the plan.
                if c.kind.in_vpc() {
                    config["network"] =
                        serde_json::to_value(&stack.shared.network).unwrap_or(Value::Null);
                }
                if let Some(infra) = normalized_infra(c.kind.info().infra, c.infra.as_ref()) {
                    config["infra"] = serde_json::to_value(infra).unwrap_or(Value::Null);
                }
                config
            }
        }
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
