//! Listeners of an Application Load Balancer: what panka asks for ([`default_action`],
//! [`protocol`], [`certificates`]) and its inverse ([`observe_listeners`]).

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, LoadBalancer,
    LoadBalancerAttribute, LoadBalancerSchemeEnum, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};
use panka_format::kinds::{AlbListener, AlbProtocol, Scheme};
use serde::Deserialize;

use super::in_recorded_order;

/// The TLS policy Elastic Load Balancing gives an HTTPS listener created through the API
/// without one (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html):
/// read back as no `sslPolicy`, as it was asked.
pub(crate) const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-2016-08";

/// The attribute holding the idle timeout.
pub(crate) const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";

/// A load balancer's settings; for the shared one, as `panka_plan::desired::ConfigBuilder`
/// writes them.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Settings {
    pub scheme: Scheme,
    pub listeners: Vec<AlbListener>,
    pub idle_timeout_seconds: u32,
}

/// What a listener does with requests no MicroService rule matches.
pub(crate) fn default_action(l: &AlbListener) -> Action {
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

pub(crate) fn protocol(p: AlbProtocol) -> ProtocolEnum {
    match p {
        AlbProtocol::Http => ProtocolEnum::Http,
        AlbProtocol::Https => ProtocolEnum::Https,
    }
}

/// The listener's default certificate.
pub(crate) fn certificates(l: &AlbListener) -> Option<Vec<Certificate>> {
    l.certificate_arn
        .as_ref()
        .map(|c| vec![Certificate::builder().certificate_arn(c).build()])
}

/// The attributes panka sets on every Application Load Balancer, then `extra`.
pub(crate) fn attributes(s: &Settings, extra: &[(&str, String)]) -> Vec<LoadBalancerAttribute> {
    let mut attrs = vec![
        LoadBalancerAttribute::builder()
            .key(IDLE_TIMEOUT)
            .value(s.idle_timeout_seconds.to_string())
            .build(),
    ];
    attrs.extend(
        extra
            .iter()
            .map(|(k, v)| LoadBalancerAttribute::builder().key(*k).value(v).build()),
    );
    attrs
}

pub(crate) fn scheme_of(lb: &LoadBalancer) -> Scheme {
    match lb.scheme() {
        Some(LoadBalancerSchemeEnum::Internal) => Scheme::Internal,
        _ => Scheme::InternetFacing,
    }
}

/// Whether the action is the redirect to HTTPS [`default_action`] makes.
fn redirects_to_https(a: &Action) -> bool {
    a.r#type() == Some(&ActionTypeEnum::Redirect)
        && a.redirect_config()
            .and_then(|r| r.protocol())
            .is_some_and(|p| p.eq_ignore_ascii_case("HTTPS"))
}

/// The listeners as DescribeListeners reports them, in the form of the spec: the inverse of
/// [`protocol`], [`certificates`] and [`default_action`], in the recorded `order`.
pub(crate) fn observe_listeners(listeners: &[Listener], order: Option<&str>) -> Vec<AlbListener> {
    let seen = listeners
        .iter()
        .filter_map(|l| {
            let port = u32::try_from(l.port()?).ok()?;
            Some(AlbListener {
                port,
                protocol: match l.protocol() {
                    Some(ProtocolEnum::Https) => AlbProtocol::Https,
                    _ => AlbProtocol::Http,
                },
                certificate_arn: l
                    .certificates()
                    .iter()
                    .find(|c| c.is_default() != Some(false))
                    .and_then(|c| c.certificate_arn())
                    .map(str::to_string),
                ssl_policy: l
                    .ssl_policy()
                    .filter(|p| !p.is_empty() && *p != DEFAULT_SSL_POLICY)
                    .map(str::to_string),
                redirect_to_https: l.default_actions().iter().any(redirects_to_https),
            })
        })
        .collect();
    in_recorded_order(seen, |l: &AlbListener| l.port, order)
}

/// The listener as DescribeListeners answers for one made from `l` on the load balancer `lb`:
/// what panka sent, with its ARN.
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeListeners.html
#[cfg(test)]
pub(crate) fn described_listener(lb: &str, l: &AlbListener) -> Listener {
    Listener::builder()
        .listener_arn(format!("{lb}/listener-{}", l.port))
        .load_balancer_arn(lb)
        .port(l.port as i32)
        .protocol(protocol(l.protocol))
        .set_certificates(certificates(l))
        .set_ssl_policy(
            l.ssl_policy.clone().or_else(|| {
                (l.protocol == AlbProtocol::Https).then(|| DEFAULT_SSL_POLICY.to_string())
            }),
        )
        .default_actions(default_action(l))
        .build()
}
