//! Edge kinds: load balancers, CloudFront distributions and API Gateway APIs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::*;

/// Whether a load balancer faces the internet or only the VPC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    InternetFacing,
    Internal,
}

/// A dedicated Application Load Balancer (the stack's shared one is configured in
/// `stack.yaml` under `shared.loadBalancer`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlbSpec {
    /// Scheme. Changing it forces replacement.
    #[serde(default)]
    pub scheme: Scheme,
    /// Listeners (an overlay replaces the whole list).
    #[schemars(length(min = 1))]
    pub listeners: Vec<AlbListener>,
    /// Idle connection timeout in seconds (1-4000).
    #[serde(default = "default_idle")]
    #[schemars(range(min = 1, max = 4000))]
    pub idle_timeout_seconds: u32,
    /// Access logs to an S3 component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<Target>,
    /// AWS-side deletion protection.
    #[serde(default)]
    pub deletion_protection: bool,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

pub(crate) fn default_idle() -> u32 {
    60
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AlbProtocol {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlbListener {
    /// Listener port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// `HTTP` or `HTTPS`.
    pub protocol: AlbProtocol,
    /// ACM certificate for HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// TLS policy for HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Answer every request with a redirect to HTTPS on 443.
    #[serde(default)]
    pub redirect_to_https: bool,
}

/// A Network Load Balancer forwarding TCP/UDP/TLS to a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NlbSpec {
    /// Scheme. Changing it forces replacement.
    #[serde(default)]
    pub scheme: Scheme,
    /// Listeners (an overlay replaces the whole list).
    #[schemars(length(min = 1))]
    pub listeners: Vec<NlbListener>,
    /// Balance across Availability Zones.
    #[serde(default = "yes")]
    pub cross_zone: bool,
    /// AWS-side deletion protection.
    #[serde(default)]
    pub deletion_protection: bool,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NlbProtocol {
    Tcp,
    Udp,
    TcpUdp,
    Tls,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NlbListener {
    /// Listener port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// Protocol.
    pub protocol: NlbProtocol,
    /// The MicroService or Worker receiving the traffic.
    pub target: Target,
    /// Port on the target; the listener port when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<u32>,
    /// ACM certificate for TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// TCP and TLS listeners: the targets see the clients' addresses instead of the load
    /// balancer's (the target group attribute `preserve_client_ip.enabled`). UDP and TCP_UDP
    /// listeners always pass the clients' addresses (AWS cannot turn that off), so it is not
    /// set on them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_client_ip: bool,
    /// The client ranges (IPv4 CIDRs) the targets' security group admits on the target port
    /// when the targets see the clients' addresses (UDP, TCP_UDP, or `preserveClientIp`):
    /// `0.0.0.0/0` when absent on an internet-facing load balancer, the VPC's range on an
    /// internal one. The VPC's range is always admitted too (health checks come from the load
    /// balancer's private addresses). Not allowed when the targets see only the load balancer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<String>,
}

impl NlbListener {
    /// Whether the targets see the clients' own addresses: always for UDP and TCP_UDP (IP
    /// targets), for TCP and TLS when `preserveClientIp` is on.
    /// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation
    pub fn sees_clients(&self) -> bool {
        matches!(self.protocol, NlbProtocol::Udp | NlbProtocol::TcpUdp) || self.preserve_client_ip
    }
}

/// A CloudFront distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudFrontSpec {
    /// Origins, merged by name.
    #[schemars(length(min = 1))]
    pub origins: Vec<Origin>,
    /// Behaviour for requests no other behaviour matches.
    pub default_behavior: Behavior,
    /// Path-specific behaviours, in order of precedence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub behaviors: Vec<Behavior>,
    /// Alternate domain names (CNAMEs); require `certificateArn`, unless all are inside the
    /// zone of `shared.domain`: then panka requests an ACM certificate in us-east-1 for them
    /// (validated through DNS records in the zone) and writes alias A and AAAA records from
    /// each to the distribution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// ACM certificate in us-east-1 for the aliases (none: the `shared.domain` certificate
    /// when the aliases are inside its zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// Price class.
    #[serde(default)]
    pub price_class: PriceClass,
    /// Object returned for `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_root_object: Option<String>,
    /// Serve requests.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// AWS WAF web ACL ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_acl_arn: Option<String>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// An origin: a component of the stack (S3 bucket, ALB, APIGateway) or an external domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Origin {
    /// Origin name, referenced by behaviours.
    pub name: String,
    /// A component of the stack. Exactly one of `target`, `domainName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// An external host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Path prepended to requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Behavior {
    /// Path pattern (`/api/*`); omitted on the default behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_pattern: Option<String>,
    /// Name of the origin requests go to.
    pub origin: String,
    /// Viewer protocol policy.
    #[serde(default)]
    pub viewer_protocol_policy: ViewerProtocolPolicy,
    /// Methods allowed: `GET_HEAD`, `GET_HEAD_OPTIONS` or `ALL`.
    #[serde(default)]
    pub allowed_methods: AllowedMethods,
    /// Managed cache policy name (`CachingOptimized`, `CachingDisabled`) or policy id.
    #[serde(default = "default_cache_policy")]
    pub cache_policy: String,
    /// Compress responses.
    #[serde(default = "yes")]
    pub compress: bool,
}

fn default_cache_policy() -> String {
    "CachingOptimized".into()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ViewerProtocolPolicy {
    #[default]
    RedirectToHttps,
    HttpsOnly,
    AllowAll,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AllowedMethods {
    #[default]
    GetHead,
    GetHeadOptions,
    All,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PriceClass {
    #[serde(rename = "PriceClass_100")]
    PriceClass100,
    #[serde(rename = "PriceClass_200")]
    PriceClass200,
    #[default]
    #[serde(rename = "PriceClass_All")]
    PriceClassAll,
}

/// An API Gateway API (HTTP or REST) routing to Lambda functions or MicroServices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiGatewaySpec {
    /// API type: `HTTP` (API Gateway v2) or `REST` (v1). Changing it forces replacement.
    #[serde(default, rename = "type")]
    pub api_type: ApiType,
    /// Routes, merged by name.
    #[schemars(length(min = 1))]
    pub routes: Vec<Route>,
    /// Stage name. `$default` serves an HTTP API at its root; a REST API deploys it as a stage
    /// named `default`. REST stage names take letters, digits, `-` and `_`.
    #[serde(default = "default_stage")]
    pub stage: String,
    /// CORS configuration. A REST API answers preflights from its paths with one fixed origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<ApiCors>,
    /// Throttling of the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttling: Option<Throttling>,
    /// Custom domain name with an ACM certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<ApiDomain>,
    /// Components (addresses) that must exist before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn default_stage() -> String {
    "$default".into()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiType {
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "REST")]
    Rest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    /// Route name, unique in the API.
    pub name: String,
    /// HTTP method or `ANY`.
    pub method: String,
    /// Path such as `/orders/{id}` or `/{proxy+}`.
    pub path: String,
    /// The Lambda or MicroService serving the route.
    pub target: Target,
    /// Authorization: `NONE` or `AWS_IAM`.
    #[serde(default)]
    pub authorization: RouteAuthorization,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RouteAuthorization {
    #[default]
    None,
    AwsIam,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiCors {
    /// Origins allowed.
    pub allow_origins: Vec<String>,
    /// Methods allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    /// Headers allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    /// Seconds a preflight answer may be cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Throttling {
    /// Steady-state requests per second.
    pub rate_limit: u32,
    /// Burst capacity.
    pub burst_limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiDomain {
    /// Domain name.
    pub name: String,
    /// ACM certificate in the stack's region.
    pub certificate_arn: String,
}
