//! The HTTP API as API Gateway reports it, in the form of its spec.

use aws_sdk_apigatewayv2::types::{
    Api, AuthorizationType, DomainNameConfiguration, Integration, IntegrationType,
    Route as AwsRoute, Stage,
};
use panka_engine::{Identity, Observation};
use panka_format::kinds::{
    self, ApiCors, ApiDomain, ApiGatewaySpec, ApiType, Route, RouteAuthorization, Throttling,
};

use super::{Domain, invoke_url, outcome_of};

/// The function an `AWS_PROXY` integration invokes: its URI is the function's ARN, or (made
/// elsewhere) the Lambda invocation path around it.
pub(crate) fn function_of(uri: &str) -> &str {
    uri.split_once(":lambda:path/2015-03-31/functions/")
        .map_or(uri, |(_, rest)| {
            rest.strip_suffix("/invocations").unwrap_or(rest)
        })
}

/// The stage the component serves: the one its recorded `url` names when there are several
/// (panka deletes the others), else the only one.
pub(super) fn chosen_stage<'a>(
    stages: &'a [Stage],
    endpoint: Option<&str>,
    url: Option<&str>,
) -> Option<&'a Stage> {
    let named = |s: &&Stage| {
        let name = s.stage_name().unwrap_or_default();
        endpoint.is_some_and(|e| url == Some(invoke_url(e, name).as_str()))
    };
    stages.iter().find(named).or_else(|| stages.first())
}

/// The HTTP API as API Gateway reports it, in the form of the spec: the inverse of
/// [`cors`](super::cors), [`integration_request`](super::integration_request), the routes'
/// requests, [`route_settings`](super::route_settings) and the domain's. A
/// route's name is its integration's (`panka route NAME`), else its route key; its target is
/// the function ARN or URL it sends to, in the reference's place (the engine puts the reference
/// back when it is what that component has).
pub(super) fn observe(
    api: &Api,
    routes: &[AwsRoute],
    integrations: &[Integration],
    stages: &[Stage],
    domain: Option<&Domain>,
    id: &Identity<'_>,
) -> Observation<ApiGatewaySpec> {
    let api_id = api.api_id().unwrap_or_default();
    let mut observed = Vec::new();
    for r in routes {
        // `$default` and WebSocket-style keys are not routes the spec can hold.
        let Some((method, path)) = r.route_key().and_then(|k| k.split_once(' ')) else {
            continue;
        };
        let integration = r
            .target()
            .and_then(|t| t.strip_prefix("integrations/"))
            .and_then(|iid| {
                integrations
                    .iter()
                    .find(|i| i.integration_id() == Some(iid))
            });
        let Some(target) = integration
            .and_then(Integration::integration_uri)
            .map(
                |uri| match integration.and_then(Integration::integration_type) {
                    Some(IntegrationType::AwsProxy) => function_of(uri).to_string(),
                    _ if path.ends_with("{proxy+}") => {
                        uri.strip_suffix("/{proxy}").unwrap_or(uri).to_string()
                    }
                    _ => uri.to_string(),
                },
            )
        else {
            // A route with no integration sends nowhere: it is not a route of the spec.
            continue;
        };
        let name = integration
            .and_then(Integration::description)
            .and_then(|d| d.strip_prefix("panka route "))
            .map_or_else(|| format!("{method} {path}"), str::to_string);
        observed.push(Route {
            name,
            method: method.to_string(),
            path: path.to_string(),
            target: kinds::Target { component: target },
            authorization: match r.authorization_type() {
                Some(AuthorizationType::AwsIam) => RouteAuthorization::AwsIam,
                _ => RouteAuthorization::None,
            },
        });
    }
    let stage = chosen_stage(
        stages,
        api.api_endpoint(),
        id.outputs.get("url").map(String::as_str),
    );
    let stage_name = stage
        .and_then(Stage::stage_name)
        .unwrap_or_default()
        .to_string();
    let settings = stage.and_then(Stage::default_route_settings);
    let throttling = settings.and_then(|s| {
        Some(Throttling {
            rate_limit: s.throttling_rate_limit()? as u32,
            burst_limit: u32::try_from(s.throttling_burst_limit()?).unwrap_or_default(),
        })
    });
    let cors = api.cors_configuration().map(|c| ApiCors {
        allow_origins: c.allow_origins().to_vec(),
        allow_methods: c.allow_methods().to_vec(),
        allow_headers: c.allow_headers().to_vec(),
        max_age_seconds: c.max_age().and_then(|a| u32::try_from(a).ok()),
    });
    // The domain is the spec's when it maps to this API's stage.
    let domain = domain.filter(|d| {
        d.mappings
            .iter()
            .any(|m| m.api_id() == Some(api_id) && m.stage() == Some(stage_name.as_str()))
    });
    let spec = ApiGatewaySpec {
        api_type: ApiType::Http,
        routes: observed,
        stage: stage_name.clone(),
        cors,
        throttling,
        domain: domain.and_then(|d| {
            Some(ApiDomain {
                name: d.name.clone(),
                certificate_arn: d
                    .configurations
                    .iter()
                    .find_map(DomainNameConfiguration::certificate_arn)?
                    .to_string(),
            })
        }),
        depends_on: Vec::new(),
    };
    let mut unobserved = vec!["dependsOn"];
    if stage.is_none() {
        // No stage at all: the name the spec gives it cannot be told.
        unobserved.push("stage");
    }
    let outcome = outcome_of(
        api_id,
        api.api_endpoint(),
        stage.and_then(Stage::stage_name),
        id.region,
        domain.map(|d| d.name.as_str()),
    );
    Observation::new(outcome, spec).unobserved(&unobserved)
}
