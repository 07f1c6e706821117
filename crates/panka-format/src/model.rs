//! The documents of a stack (Stack, Service, Environment, ComponentInfra) and the resolved
//! model that loading produces for one environment.

use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kinds::{ComponentSpec, Kind, ValueFrom};
use crate::source::Span;

pub const CORE_API_VERSION: &str = "core.panka.io/v1";
pub const COMPONENTS_API_VERSION: &str = "components.panka.io/v1";
pub const INFRA_API_VERSION: &str = "infra.panka.io/v1";

/// `metadata` of a Stack, Service or Environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// Name: lowercase letters, digits and hyphens, starting with a letter.
    pub name: String,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// Free-form description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `metadata` of a component or ComponentInfra.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentMetadata {
    /// Component name, unique in its service.
    pub name: String,
    /// The service the component belongs to; must match the folder it is in.
    pub service: String,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// Free-form description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// --------------------------------------------------------------------------------- Stack

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackSpec {
    /// Cloud provider and region.
    pub provider: Provider,
    /// Where state and locks live; absent = local files under `.panka/` beside stack.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Variable defaults; environments and `--var` override them.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, VariableValue>,
    /// Resources shared by the stack's components in one environment.
    #[serde(default)]
    pub shared: Shared,
    /// Defaults applied to every component.
    #[serde(default)]
    pub defaults: Defaults,
    /// Services of the stack; absent = every folder under `services/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceRef>>,
    /// How applies run.
    #[serde(default)]
    pub deployment: DeploymentSettings,
    /// Values the stack exports, shown after apply and by `panka status`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, StackOutput>,
}

/// A variable's value: written as a string, number or boolean, used as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum VariableValue {
    String(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl VariableValue {
    pub fn as_text(&self) -> String {
        match self {
            VariableValue::String(s) => s.clone(),
            VariableValue::Integer(i) => i.to_string(),
            VariableValue::Number(n) => n.to_string(),
            VariableValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Provider {
    /// Only `aws`.
    pub name: ProviderName,
    /// AWS region such as `us-east-1`.
    pub region: String,
    /// Refuse to run when the credentials belong to another account (12 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderName {
    Aws,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Backend {
    /// State in S3, locks in DynamoDB.
    pub s3: S3Backend,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Backend {
    /// State bucket.
    pub bucket: String,
    /// DynamoDB lock table.
    pub lock_table: String,
    /// Region of the bucket and table; the stack's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Shared {
    /// VPC and subnets; absent = the region's default VPC and its subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The stack's shared Application Load Balancer, created on first use.
    #[serde(default)]
    pub load_balancer: SharedLoadBalancer,
    /// The stack's shared ECS cluster.
    #[serde(default)]
    pub cluster: SharedCluster,
    /// An existing public Route 53 hosted zone: the `host` of every public MicroService port
    /// inside it gets an ACM certificate (validated through DNS records in the zone), the
    /// shared load balancer an HTTPS listener on 443 (HTTP on 80 redirecting to it), and the
    /// host an alias record to the load balancer. Hosts outside the zone get none of these.
    /// A CloudFront component whose `aliases` are all inside the zone and which has no
    /// `certificateArn` gets an ACM certificate in us-east-1 for them and alias records to the
    /// distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<SharedDomain>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SharedDomain {
    /// Name of an existing public Route 53 hosted zone (`example.com`, no trailing dot).
    pub zone: String,
}

impl SharedDomain {
    /// Whether panka provides the certificate and the alias records of a CloudFront
    /// distribution with `aliases` and `certificate_arn`: it has aliases, all inside the zone,
    /// and no certificate of its own (one certificate serves a distribution, so it must cover
    /// every alias, and ACM validates only names of the zone panka writes records in).
    pub fn serves_aliases(&self, aliases: &[String], certificate_arn: Option<&str>) -> bool {
        certificate_arn.is_none() && !aliases.is_empty() && aliases.iter().all(|a| self.holds(a))
    }

    /// Whether `host` (`api.example.com`, `*.example.com`) is a name inside the zone: the
    /// zone's apex or a name ending in `.ZONE`, compared without case (DNS names are
    /// case-insensitive, RFC 4343).
    pub fn holds(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let zone = self.zone.to_ascii_lowercase();
        host == zone
            || host
                .strip_suffix(&zone)
                .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Network {
    /// VPC id (`vpc-...`).
    pub vpc_id: String,
    /// Subnets for tasks, databases and caches.
    #[schemars(length(min = 1))]
    pub private_subnets: Vec<String>,
    /// Subnets for internet-facing load balancers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_subnets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SharedLoadBalancer {
    /// Scheme of the shared ALB.
    #[serde(default)]
    pub scheme: crate::kinds::Scheme,
    /// Listeners (an overlay replaces the whole list).
    #[serde(default = "default_listeners")]
    pub listeners: Vec<crate::kinds::AlbListener>,
    /// Idle timeout in seconds (1-4000).
    #[serde(default = "crate::kinds::edge::default_idle")]
    #[schemars(range(min = 1, max = 4000))]
    pub idle_timeout_seconds: u32,
}

impl Default for SharedLoadBalancer {
    fn default() -> Self {
        SharedLoadBalancer {
            scheme: crate::kinds::Scheme::InternetFacing,
            listeners: default_listeners(),
            idle_timeout_seconds: 60,
        }
    }
}

fn default_listeners() -> Vec<crate::kinds::AlbListener> {
    vec![crate::kinds::AlbListener {
        port: 80,
        protocol: crate::kinds::AlbProtocol::Http,
        certificate_arn: None,
        ssl_policy: None,
        redirect_to_https: false,
    }]
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SharedCluster {
    /// CloudWatch Container Insights on the cluster.
    #[serde(default)]
    pub container_insights: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Defaults {
    /// Tags added to every AWS resource, besides panka's own.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceRef {
    /// Service name.
    pub name: String,
    /// Folder of the service, relative to stack.yaml; `services/NAME` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentSettings {
    /// Most actions running at once (1-100); `--parallelism` overrides it.
    #[serde(default = "default_parallelism")]
    #[schemars(range(min = 1, max = 100))]
    pub parallelism: u32,
    /// Roll every changed component back to its previous configuration when an apply fails.
    #[serde(default)]
    pub auto_rollback: bool,
    /// Publish deployment metrics to CloudWatch after each apply, destroy and rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<DeploymentMetrics>,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        DeploymentSettings {
            parallelism: default_parallelism(),
            auto_rollback: false,
            metrics: None,
        }
    }
}

/// Where deployment metrics go: duration, success or failure, resources created, updated,
/// replaced and deleted, and lock wait time, with the dimensions Stack, Environment and (for a
/// targeted run) Service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeploymentMetrics {
    /// CloudWatch namespace (1-255 characters, not starting with `AWS/`).
    #[schemars(length(min = 1, max = 255))]
    pub namespace: String,
}

fn default_parallelism() -> u32 {
    10
}

/// A stack output: a literal `value` or a `valueFrom` reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackOutput {
    /// Literal value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// An output of a component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ------------------------------------------------------------------------------- Service

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Owning team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Services deployed before this one: every component here waits for all of theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

// --------------------------------------------------------------------------- Environment

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// Region and account for this environment, overriding the stack's provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderOverride>,
    /// Variable values for this environment.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, VariableValue>,
    /// Changes to components for this environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderOverride {
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Account guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// An overlay on one component, or on every component of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Override {
    /// A component address (`orders/api`) or a service name (`orders`).
    pub target: String,
    /// Merged into the component's spec (maps merge, scalars replace, named lists merge by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    /// Merged into the component's infra.yaml spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra: Option<serde_json::Value>,
}

// ------------------------------------------------------------------------- ComponentInfra

/// Sizing, scaling and networking of a compute component (`infra.yaml`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComponentInfraSpec {
    /// CPU and memory of the task: a valid Fargate pair.
    #[serde(default)]
    pub resources: Resources,
    /// Task count and autoscaling (MicroService and Worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Scaling>,
    /// Where tasks run.
    #[serde(default)]
    pub networking: Networking,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    /// CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384.
    #[serde(default = "default_cpu")]
    pub cpu: u32,
    /// Memory in MiB, valid for the CPU chosen.
    #[serde(default = "default_memory")]
    pub memory: u32,
    /// Ephemeral storage in GiB (21-200).
    #[serde(default = "default_ephemeral", rename = "ephemeralStorageGB")]
    #[schemars(range(min = 21, max = 200))]
    pub ephemeral_storage_gb: u32,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: default_cpu(),
            memory: default_memory(),
            ephemeral_storage_gb: default_ephemeral(),
        }
    }
}

fn default_cpu() -> u32 {
    256
}
fn default_memory() -> u32 {
    512
}
fn default_ephemeral() -> u32 {
    21
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scaling {
    /// Desired task count (0-1000); the starting count under autoscaling.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: u32,
    /// Target-tracking autoscaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
}

fn default_replicas() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Autoscaling {
    /// Fewest tasks.
    #[schemars(range(min = 0, max = 1000))]
    pub min: u32,
    /// Most tasks.
    #[schemars(range(min = 1, max = 1000))]
    pub max: u32,
    /// Average CPU utilisation to hold (1-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_percent: Option<u32>,
    /// Average memory utilisation to hold (1-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_memory_percent: Option<u32>,
    /// Requests per target per minute to hold (MicroService only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub requests_per_target: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Networking {
    /// `private` (default) or `public` subnets.
    #[serde(default)]
    pub subnets: SubnetPlacement,
    /// Give tasks a public IP (needed in public subnets without a NAT gateway).
    #[serde(default)]
    pub assign_public_ip: bool,
    /// Extra security groups attached to the tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}

impl Default for Networking {
    fn default() -> Self {
        Networking {
            subnets: SubnetPlacement::Private,
            assign_public_ip: false,
            security_groups: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubnetPlacement {
    #[default]
    Private,
    Public,
}

// ----------------------------------------------------------------------- Resolved model

/// A component address: `service/component`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    pub service: String,
    pub component: String,
}

impl Address {
    pub fn new(service: impl Into<String>, component: impl Into<String>) -> Self {
        Address {
            service: service.into(),
            component: component.into(),
        }
    }

    /// Parses `service/component`, or `component` relative to `current_service`.
    pub fn parse(text: &str, current_service: &str) -> Option<Address> {
        match text.split_once('/') {
            Some((s, c)) if !s.is_empty() && !c.is_empty() && !c.contains('/') => {
                Some(Address::new(s, c))
            }
            None if !text.is_empty() => Some(Address::new(current_service, text)),
            _ => None,
        }
    }
}

impl Address {
    /// `service/component` as a string, written without the formatting machinery (large
    /// stacks turn every address into text when building their graph).
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.service.len() + 1 + self.component.len());
        s.push_str(&self.service);
        s.push('/');
        s.push_str(&self.component);
        s
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.component)
    }
}

/// An address given as `service/component` text, looked up among addresses without building
/// one: it hashes and compares as the [`Address`] it names.
#[derive(Hash)]
struct AddressText<'a> {
    service: &'a str,
    component: &'a str,
}

impl indexmap::Equivalent<Address> for AddressText<'_> {
    fn equivalent(&self, key: &Address) -> bool {
        self.service == key.service && self.component == key.component
    }
}

/// A reference from one component to another's output or to the component itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub target: Address,
    /// The output used; `None` for a whole-component target (a queue to subscribe).
    pub output: Option<String>,
    /// Where in the spec the reference is (`environment[1].valueFrom`).
    pub path: String,
    pub span: Span,
}

/// A service of the resolved stack.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: String,
    pub owner: Option<String>,
    pub depends_on: Vec<String>,
    pub labels: IndexMap<String, String>,
    pub file: PathBuf,
}

/// A component of the resolved stack, with overlays merged and variables resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub address: Address,
    pub kind: Kind,
    pub spec: ComponentSpec,
    /// The merged infra.yaml, for kinds that take one.
    pub infra: Option<ComponentInfraSpec>,
    pub labels: IndexMap<String, String>,
    /// The file the component is defined in.
    pub file: PathBuf,
    /// Every component this one needs first: `dependsOn`, references and its service's
    /// `dependsOn`, without duplicates, sorted.
    pub depends_on: Vec<Address>,
    /// The references in its spec, in document order.
    pub references: Vec<Reference>,
    /// The AWS name of its main resource (see docs/reference/naming.md).
    pub physical_name: String,
    /// Tags every AWS resource of the component carries.
    pub tags: IndexMap<String, String>,
}

/// A stack resolved for one environment: the input of the graph and the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    pub name: String,
    pub environment: String,
    pub region: String,
    pub account_id: Option<String>,
    pub backend: Option<Backend>,
    pub root: PathBuf,
    /// The variables in effect, after `--var` and the environment's values.
    pub variables: IndexMap<String, String>,
    pub shared: Shared,
    pub deployment: DeploymentSettings,
    pub default_tags: IndexMap<String, String>,
    pub outputs: IndexMap<String, StackOutput>,
    pub services: IndexMap<String, Service>,
    pub components: IndexMap<Address, Component>,
}

impl Stack {
    /// The hosts of the stack's public MicroService ports inside `shared.domain`'s zone,
    /// lowercased, sorted and without repeats: those that get a certificate and a record.
    /// Empty without a domain.
    pub fn domain_hosts(&self) -> Vec<String> {
        let Some(domain) = &self.shared.domain else {
            return Vec::new();
        };
        let mut hosts: Vec<String> = self
            .components
            .values()
            .filter_map(|c| match &c.spec {
                ComponentSpec::MicroService(s) => Some(&s.ports),
                _ => None,
            })
            .flatten()
            .filter(|p| p.public)
            .filter_map(|p| p.host.as_deref())
            .filter(|h| domain.holds(h))
            .map(str::to_ascii_lowercase)
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// The component at `service/component`.
    pub fn component(&self, address: &str) -> Option<&Component> {
        let (service, component) = address.split_once('/')?;
        self.components.get(&AddressText { service, component })
    }
}
