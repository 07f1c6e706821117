//! A REST API read back as its spec: the routes from its resources' methods, CORS from the
//! preflight answers, throttling from the stage, the custom domain from its mapping.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_apigateway::types::{BasePathMapping, IntegrationType, Method, Stage};
use panka_engine::{ErrorKind, Identity, Observation, ProviderError};
use panka_format::kinds::{
    self, ApiCors, ApiDomain, ApiGatewaySpec, ApiType, Route, RouteAuthorization, Throttling,
};

use super::shape::DEFAULT_ALLOW_HEADERS;
use super::{Listed, RestApis, invoke_url, outcome_of};
use crate::apigateway::function_of;
use crate::errors::{aws_error, unless_missing};

/// The stage settings that apply to every method.
const ALL_METHODS: &str = "*/*";

/// A custom domain as API Gateway reports it.
pub(super) struct Domain {
    pub(super) name: String,
    pub(super) certificate_arn: Option<String>,
    pub(super) mappings: Vec<BasePathMapping>,
}

impl RestApis {
    /// GetRestApi, GetResources (methods embedded, one page of 500), GetStages, and with a
    /// domain GetDomainName and GetBasePathMappings: 3 or 5 calls, the API id and domain taken
    /// from the state.
    pub(crate) async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<ApiGatewaySpec>>, ProviderError> {
        let Some(api_id) = id.ids.get("restApi") else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} has no recorded REST API id", id.address),
            ));
        };
        let found = unless_missing(
            self.api.get_rest_api().rest_api_id(api_id).send().await,
            |s| s.is_not_found_exception(),
            format!("reading REST API {api_id}"),
        )?;
        if found.is_none() {
            return Ok(None);
        }
        let resources = self.resources(api_id).await?;
        let stages = self
            .api
            .get_stages()
            .rest_api_id(api_id)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the stages of REST API {api_id}"), e))?
            .item()
            .to_vec();
        let domain = match id.ids.get("domain") {
            Some(d) => self.domain_of(d).await?,
            None => None,
        };
        Ok(Some(observe(
            api_id,
            &resources,
            &stages,
            domain.as_ref(),
            id,
        )))
    }

    async fn domain_of(&self, domain: &str) -> Result<Option<Domain>, ProviderError> {
        let found = unless_missing(
            self.api.get_domain_name().domain_name(domain).send().await,
            |s| s.is_not_found_exception(),
            format!("reading domain {domain}"),
        )?;
        let Some(found) = found else {
            return Ok(None);
        };
        let mappings = self
            .api
            .get_base_path_mappings()
            .domain_name(domain)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the mappings of {domain}"), e))?;
        Ok(Some(Domain {
            name: domain.to_string(),
            certificate_arn: found.regional_certificate_arn().map(str::to_string),
            mappings: mappings.items().to_vec(),
        }))
    }
}

/// The 200 answer's headers of a `MOCK` integration: a CORS preflight's.
fn preflight_headers(m: &Method) -> Option<BTreeMap<String, String>> {
    let i = m.method_integration()?;
    if i.r#type() != Some(&IntegrationType::Mock) {
        return None;
    }
    let headers = i
        .integration_responses()?
        .get("200")?
        .response_parameters()?;
    Some(
        headers
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("method.response.header.Access-Control-")?;
                Some((name.to_string(), v.trim_matches('\'').to_string()))
            })
            .collect(),
    )
}

/// The CORS settings a path's preflight answers with, `methods` the routes' methods there: the
/// inverse of [`super::shape::preflight_shape`] (the methods and headers it fills in when the
/// spec names none read back as none).
fn cors_of(headers: &BTreeMap<String, String>, methods: &BTreeSet<String>) -> ApiCors {
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut filled: Vec<&str> = methods.iter().map(String::as_str).collect();
    filled.push("OPTIONS");
    let allow_methods = headers
        .get("Allow-Methods")
        .filter(|m| **m != filled.join(","))
        .map(|m| list(m))
        .unwrap_or_default();
    let allow_headers = headers
        .get("Allow-Headers")
        .filter(|h| h.as_str() != DEFAULT_ALLOW_HEADERS)
        .map(|h| list(h))
        .unwrap_or_default();
    ApiCors {
        allow_origins: headers
            .get("Allow-Origin")
            .map(|o| list(o))
            .unwrap_or_default(),
        allow_methods,
        allow_headers,
        max_age_seconds: headers.get("Max-Age").and_then(|a| a.parse().ok()),
    }
}

/// A route's method as its spec; `None` for a method with no integration to a backend.
fn route_of(path: &str, verb: &str, m: &Method) -> Option<Route> {
    let i = m.method_integration()?;
    let uri = i.uri().filter(|u| !u.is_empty())?;
    let target = match i.r#type() {
        Some(IntegrationType::AwsProxy) => function_of(uri).to_string(),
        _ if path.ends_with("{proxy+}") => uri.strip_suffix("/{proxy}").unwrap_or(uri).to_string(),
        _ => uri.to_string(),
    };
    Some(Route {
        // Methods made before panka named them: the route key stands for the name.
        name: m
            .operation_name()
            .map_or_else(|| format!("{verb} {path}"), str::to_string),
        method: verb.to_string(),
        path: path.to_string(),
        target: kinds::Target { component: target },
        authorization: match m.authorization_type() {
            Some("AWS_IAM") => RouteAuthorization::AwsIam,
            _ => RouteAuthorization::None,
        },
    })
}

/// The REST API as API Gateway reports it, in the form of the spec: the inverse of
/// [`super::shape::route_shape`], [`super::shape::preflight_shape`], the stage's throttling
/// patch and the domain's requests. A route's target is the function ARN or URL its
/// integration sends to, in the reference's place (the engine puts the reference back when it
/// is what that component has).
pub(super) fn observe(
    api_id: &str,
    resources: &BTreeMap<String, Listed>,
    stages: &[Stage],
    domain: Option<&Domain>,
    id: &Identity<'_>,
) -> Observation<ApiGatewaySpec> {
    let mut routes = Vec::new();
    let mut cors = None;
    for (path, listed) in resources {
        let mut verbs: Vec<&String> = listed.methods.keys().collect();
        verbs.sort();
        let mut served = BTreeSet::new();
        let mut preflight = None;
        for verb in verbs {
            let m = &listed.methods[verb];
            if verb == "OPTIONS"
                && let Some(headers) = preflight_headers(m)
            {
                preflight = Some(headers);
                continue;
            }
            if let Some(r) = route_of(path, verb, m) {
                served.insert(verb.clone());
                routes.push(r);
            }
        }
        // One CORS setting answers every path: the first path's preflight tells it.
        if cors.is_none()
            && let Some(headers) = preflight
        {
            cors = Some(cors_of(&headers, &served));
        }
    }
    let url = id.outputs.get("url");
    let stage = stages
        .iter()
        .find(|s| {
            url.is_some_and(|u| {
                *u == invoke_url(api_id, id.region, s.stage_name().unwrap_or_default())
            })
        })
        .or_else(|| stages.first());
    let aws_stage = stage
        .and_then(Stage::stage_name)
        .unwrap_or_default()
        .to_string();
    // -1 is the stage's own throttling turned off.
    let throttling = stage
        .and_then(Stage::method_settings)
        .and_then(|m| m.get(ALL_METHODS))
        .filter(|s| s.throttling_rate_limit() >= 0.0 && s.throttling_burst_limit() >= 0)
        .map(|s| Throttling {
            rate_limit: s.throttling_rate_limit() as u32,
            burst_limit: u32::try_from(s.throttling_burst_limit()).unwrap_or_default(),
        });
    let domain = domain.filter(|d| {
        d.mappings
            .iter()
            .any(|m| m.rest_api_id() == Some(api_id) && m.stage() == Some(aws_stage.as_str()))
    });
    let spec = ApiGatewaySpec {
        api_type: ApiType::Rest,
        routes,
        // The spec's default stage, `$default`, is deployed as `default`.
        stage: if aws_stage == "default" {
            "$default".to_string()
        } else {
            aws_stage.clone()
        },
        cors,
        throttling,
        domain: domain.and_then(|d| {
            Some(ApiDomain {
                name: d.name.clone(),
                certificate_arn: d.certificate_arn.clone()?,
            })
        }),
        depends_on: Vec::new(),
    };
    let mut unobserved = vec!["dependsOn"];
    if stage.is_none() {
        unobserved.push("stage");
    }
    let outcome = outcome_of(
        api_id,
        id.region,
        stage.and_then(Stage::stage_name),
        domain.map(|d| d.name.as_str()),
    );
    Observation::new(outcome, spec).unobserved(&unobserved)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::apigateway::Backend;
    use crate::apigateway_rest::shape::{MethodShape, http_method, preflight_shape, route_shape};
    use aws_sdk_apigateway::Client;
    use aws_sdk_apigateway::operation::get_base_path_mappings::GetBasePathMappingsOutput;
    use aws_sdk_apigateway::operation::get_domain_name::GetDomainNameOutput;
    use aws_sdk_apigateway::operation::get_resources::GetResourcesOutput;
    use aws_sdk_apigateway::operation::get_rest_api::{GetRestApiError, GetRestApiOutput};
    use aws_sdk_apigateway::operation::get_stages::GetStagesOutput;
    use aws_sdk_apigateway::types::error::NotFoundException;
    use aws_sdk_apigateway::types::{Integration, IntegrationResponse, MethodSetting, Resource};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::{Value, json};

    const API: &str = "r1s2t3u4v5";
    const REGION: &str = "us-east-1";
    const FUNCTION: &str =
        "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-webhook";
    const SERVICE: &str = "http://shop-dev-lb-123.us-east-1.elb.amazonaws.com/status";
    const DOMAIN: &str = "rest.example.test";
    const CERTIFICATE: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0b9c";

    /// Every setting: a greedy route to a service, an IAM-authorized route to a function, CORS
    /// with every field (methods listed, so not the ones panka fills in), a named stage with
    /// throttling and a custom domain. Routes in path order, as the read lists them.
    fn full_spec() -> ApiGatewaySpec {
        serde_json::from_value(json!({
            "type": "REST",
            "stage": "v1",
            "routes": [
                {"name": "status", "method": "GET", "path": "/status/{proxy+}", "target": {"component": SERVICE}},
                {"name": "webhook", "method": "POST", "path": "/webhooks/payments",
                 "target": {"component": FUNCTION}, "authorization": "AWS_IAM"}
            ],
            "cors": {"allowOrigins": ["https://shop.example.test"], "allowMethods": ["GET", "POST", "OPTIONS"],
                     "allowHeaders": ["Content-Type"], "maxAgeSeconds": 600},
            "throttling": {"rateLimit": 100, "burstLimit": 200},
            "domain": {"name": DOMAIN, "certificateArn": CERTIFICATE}
        }))
        .unwrap()
    }

    /// A method made to `shape` as GetResources (methods embedded) lists it.
    /// https://docs.aws.amazon.com/apigateway/latest/api/API_GetResources.html
    /// https://docs.aws.amazon.com/apigateway/latest/api/API_Method.html
    fn method_of(verb: &str, shape: &MethodShape) -> Method {
        let mut integration = Integration::builder()
            .r#type(shape.integration.clone())
            .set_http_method(shape.integration_method.clone())
            .set_uri(shape.uri.clone())
            .passthrough_behavior("WHEN_NO_MATCH")
            .timeout_in_millis(29_000)
            .cache_namespace("abc123");
        if !shape.integration_parameters.is_empty() {
            integration =
                integration.set_request_parameters(Some(shape.integration_parameters.clone()));
        }
        if !shape.mock_headers.is_empty() {
            integration = integration.integration_responses(
                "200",
                IntegrationResponse::builder()
                    .status_code("200")
                    .set_response_parameters(Some(shape.mock_headers.clone()))
                    .build(),
            );
        }
        let mut m = Method::builder()
            .http_method(verb)
            .authorization_type(&shape.authorization)
            .set_operation_name(shape.operation_name.clone())
            .api_key_required(false)
            .method_integration(integration.build());
        if !shape.method_parameters.is_empty() {
            m = m.set_request_parameters(Some(shape.method_parameters.clone()));
        }
        m.build()
    }

    struct Aws {
        /// Path → method → method.
        resources: BTreeMap<String, HashMap<String, Method>>,
        stages: Vec<Stage>,
        certificate: Option<String>,
        mappings: Vec<BasePathMapping>,
    }

    fn throttled(rate: f64, burst: i32) -> MethodSetting {
        MethodSetting::builder()
            .throttling_rate_limit(rate)
            .throttling_burst_limit(burst)
            .metrics_enabled(false)
            .build()
    }

    /// What API Gateway holds for a REST API made from `spec`, built from the shapes panka puts.
    /// https://docs.aws.amazon.com/apigateway/latest/api/API_GetStages.html
    /// https://docs.aws.amazon.com/apigateway/latest/api/API_GetDomainName.html
    fn aws_for(spec: &ApiGatewaySpec) -> Aws {
        let mut resources: BTreeMap<String, HashMap<String, Method>> = BTreeMap::new();
        resources.insert("/".into(), HashMap::new());
        let mut by_path: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for r in &spec.routes {
            let to = if r.target.component.starts_with("arn:") {
                Backend::Function(r.target.component.clone())
            } else if r.path.ends_with("{proxy+}") {
                Backend::Http(format!("{}/{{proxy}}", r.target.component))
            } else {
                Backend::Http(r.target.component.clone())
            };
            let shape = route_shape(r, &to, REGION);
            resources
                .entry(r.path.clone())
                .or_default()
                .insert(http_method(r), method_of(&http_method(r), &shape));
            by_path.entry(&r.path).or_default().insert(http_method(r));
            let parent = r.path.rsplit_once('/').map(|(p, _)| p).unwrap_or_default();
            if !parent.is_empty() {
                resources.entry(parent.to_string()).or_default();
            }
        }
        if let Some(cors) = &spec.cors {
            for (path, methods) in by_path {
                let shape = preflight_shape(cors, &methods, "web/gateway").unwrap();
                resources
                    .get_mut(path)
                    .unwrap()
                    .insert("OPTIONS".into(), method_of("OPTIONS", &shape));
            }
        }
        let stage = super::super::stage_name(spec).to_string();
        let (rate, burst) = spec.throttling.as_ref().map_or((-1.0, -1), |t| {
            (f64::from(t.rate_limit), t.burst_limit as i32)
        });
        Aws {
            resources,
            stages: vec![
                Stage::builder()
                    .stage_name(&stage)
                    .deployment_id("dep1")
                    .method_settings(ALL_METHODS, throttled(rate, burst))
                    .build(),
            ],
            certificate: spec.domain.as_ref().map(|d| d.certificate_arn.clone()),
            mappings: spec
                .domain
                .as_ref()
                .map(|_| {
                    vec![
                        BasePathMapping::builder()
                            .base_path("(none)")
                            .rest_api_id(API)
                            .stage(&stage)
                            .build(),
                    ]
                })
                .unwrap_or_default(),
        }
    }

    fn ids() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("restApi".to_string(), API.to_string()),
            ("domain".to_string(), DOMAIN.to_string()),
        ])
    }

    async fn read_back(aws: Aws) -> Observation<ApiGatewaySpec> {
        let api_rule = mock!(Client::get_rest_api).then_output(|| {
            GetRestApiOutput::builder()
                .id(API)
                .name("shop-dev-web-gateway")
                .build()
        });
        let items: Vec<Resource> = aws
            .resources
            .iter()
            .enumerate()
            .map(|(i, (path, methods))| {
                Resource::builder()
                    .id(format!("res{i}"))
                    .path(path)
                    .set_path_part(
                        path.rsplit('/')
                            .next()
                            .filter(|p| !p.is_empty())
                            .map(str::to_string),
                    )
                    .set_resource_methods((!methods.is_empty()).then(|| methods.clone()))
                    .build()
            })
            .collect();
        let resources_rule = mock!(Client::get_resources).then_output(move || {
            GetResourcesOutput::builder()
                .set_items(Some(items.clone()))
                .build()
        });
        let stages = aws.stages.clone();
        let stages_rule = mock!(Client::get_stages).then_output(move || {
            GetStagesOutput::builder()
                .set_item(Some(stages.clone()))
                .build()
        });
        let certificate = aws.certificate.clone();
        let domain_rule = mock!(Client::get_domain_name).then_output(move || {
            GetDomainNameOutput::builder()
                .domain_name(DOMAIN)
                .set_regional_certificate_arn(certificate.clone())
                .build()
        });
        let mappings = aws.mappings.clone();
        let mappings_rule = mock!(Client::get_base_path_mappings).then_output(move || {
            GetBasePathMappingsOutput::builder()
                .set_items(Some(mappings.clone()))
                .build()
        });
        let client = mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            [
                &api_rule,
                &resources_rule,
                &stages_rule,
                &domain_rule,
                &mappings_rule
            ]
        );
        let ids = ids();
        let outputs = BTreeMap::from([("url".to_string(), invoke_url(API, REGION, "v1"))]);
        let id = crate::test_identity("web/gateway", "shop-dev-web-gateway", &ids, &outputs);
        rest(client).read(&id).await.unwrap().unwrap()
    }

    fn rest(api: Client) -> RestApis {
        let none = Vec::<aws_smithy_mocks::Rule>::new();
        RestApis::new(
            api,
            mock_client!(aws_sdk_lambda, RuleMode::MatchAny, none.iter()),
        )
    }

    /// Sets `value` at `pointer` in `v`, adding the last key when it is absent.
    fn set(v: &mut Value, pointer: &str, value: Value) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent).unwrap()[key] = value;
    }

    fn method<'a>(a: &'a mut Aws, path: &str, verb: &str) -> &'a mut Method {
        a.resources.get_mut(path).unwrap().get_mut(verb).unwrap()
    }

    fn preflight(a: &mut Aws, header: &str, value: &str) {
        let m = method(a, "/status/{proxy+}", "OPTIONS");
        let r = m
            .method_integration
            .as_mut()
            .unwrap()
            .integration_responses
            .as_mut()
            .unwrap()
            .get_mut("200")
            .unwrap();
        r.response_parameters.as_mut().unwrap().insert(
            format!("method.response.header.Access-Control-{header}"),
            format!("'{value}'"),
        );
    }

    #[tokio::test]
    async fn an_api_made_from_a_full_spec_reads_back_as_that_spec() {
        let spec = full_spec();
        let seen = read_back(aws_for(&spec)).await;
        assert_eq!(seen.spec, spec);
        assert_eq!(seen.outcome.physical_ids, ids());
        assert_eq!(seen.outcome.outputs["url"], invoke_url(API, REGION, "v1"));
        assert_eq!(seen.unobserved, ["dependsOn"]);
        // The plainest API: the `$default` stage (deployed as `default`), CORS with only its
        // origin (panka fills in methods and headers), no throttling, no domain.
        let plain: ApiGatewaySpec = serde_json::from_value(json!({
            "type": "REST",
            "routes": [{"name": "hook", "method": "POST", "path": "/hook", "target": {"component": FUNCTION}}],
            "cors": {"allowOrigins": ["*"]}
        }))
        .unwrap();
        let seen = read_back(aws_for(&plain)).await;
        assert_eq!(seen.spec, plain);
        assert!(!seen.outcome.physical_ids.contains_key("domain"));
    }

    #[tokio::test]
    async fn each_setting_changed_in_aws_reads_back_as_exactly_that_field() {
        let spec = full_spec();
        let expected_json = serde_json::to_value(&spec).unwrap();
        type Change = fn(&mut Aws);
        let cases: Vec<(&str, Change, Value)> = vec![
            (
                "/routes/1/name",
                |a| method(a, "/webhooks/payments", "POST").operation_name = Some("hook".into()),
                "hook".into(),
            ),
            (
                "/routes/1/authorization",
                |a| {
                    method(a, "/webhooks/payments", "POST").authorization_type = Some("NONE".into())
                },
                "NONE".into(),
            ),
            (
                "/routes/1/target/component",
                |a| {
                    method(a, "/webhooks/payments", "POST")
                        .method_integration
                        .as_mut()
                        .unwrap()
                        .uri = Some(format!(
                        "arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{FUNCTION}-v2/invocations"
                    ))
                },
                format!("{FUNCTION}-v2").into(),
            ),
            (
                "/routes/0/target/component",
                |a| {
                    method(a, "/status/{proxy+}", "GET")
                        .method_integration
                        .as_mut()
                        .unwrap()
                        .uri = Some("http://elsewhere.example.test/{proxy}".into())
                },
                "http://elsewhere.example.test".into(),
            ),
            (
                "/routes/0/method",
                |a| {
                    let methods = a.resources.get_mut("/status/{proxy+}").unwrap();
                    let m = methods.remove("GET").unwrap();
                    methods.insert("PUT".into(), m);
                },
                "PUT".into(),
            ),
            (
                "/routes/1/path",
                |a| {
                    let methods = a.resources.remove("/webhooks/payments").unwrap();
                    a.resources.insert("/webhooks/refunds".into(), methods);
                },
                "/webhooks/refunds".into(),
            ),
            (
                "/stage",
                |a| {
                    a.stages[0].stage_name = Some("v2".into());
                    a.mappings[0].stage = Some("v2".into());
                },
                "v2".into(),
            ),
            (
                "/cors/allowOrigins",
                |a| preflight(a, "Allow-Origin", "*"),
                json!(["*"]),
            ),
            (
                "/cors/allowMethods",
                |a| preflight(a, "Allow-Methods", "GET"),
                json!(["GET"]),
            ),
            (
                "/cors/allowHeaders",
                |a| preflight(a, "Allow-Headers", "X-Api-Key"),
                json!(["X-Api-Key"]),
            ),
            (
                "/cors/maxAgeSeconds",
                |a| preflight(a, "Max-Age", "60"),
                60.into(),
            ),
            (
                "/throttling/rateLimit",
                |a| {
                    a.stages[0]
                        .method_settings
                        .as_mut()
                        .unwrap()
                        .insert(ALL_METHODS.into(), throttled(5.0, 200));
                },
                5.into(),
            ),
            (
                "/throttling/burstLimit",
                |a| {
                    a.stages[0]
                        .method_settings
                        .as_mut()
                        .unwrap()
                        .insert(ALL_METHODS.into(), throttled(100.0, 10));
                },
                10.into(),
            ),
            (
                "/domain/certificateArn",
                |a| a.certificate = Some(format!("{CERTIFICATE}-new")),
                format!("{CERTIFICATE}-new").into(),
            ),
        ];
        for (pointer, change, value) in cases {
            let mut aws = aws_for(&spec);
            change(&mut aws);
            let seen = serde_json::to_value(read_back(aws).await.spec).unwrap();
            let mut expected = expected_json.clone();
            set(&mut expected, pointer, value);
            assert_eq!(seen, expected, "only {pointer} differs");
        }
        // The preflights, the stage's throttling and the domain's mapping removed, a method
        // deleted: each absent.
        type Removal = fn(&mut Aws);
        let removals: Vec<(&str, Removal)> = vec![
            ("cors", |a| {
                for methods in a.resources.values_mut() {
                    methods.remove("OPTIONS");
                }
            }),
            ("throttling", |a| {
                a.stages[0]
                    .method_settings
                    .as_mut()
                    .unwrap()
                    .insert(ALL_METHODS.into(), throttled(-1.0, -1));
            }),
            ("domain", |a| a.mappings.clear()),
        ];
        for (key, change) in removals {
            let mut aws = aws_for(&spec);
            change(&mut aws);
            let seen = read_back(aws).await;
            let mut expected = expected_json.clone();
            expected.as_object_mut().unwrap().remove(key);
            assert_eq!(
                serde_json::to_value(&seen.spec).unwrap(),
                expected,
                "{key} removed"
            );
        }
        let mut aws = aws_for(&spec);
        aws.resources
            .get_mut("/status/{proxy+}")
            .unwrap()
            .remove("GET");
        let seen = serde_json::to_value(read_back(aws).await.spec).unwrap();
        let mut expected = expected_json.clone();
        expected["routes"].as_array_mut().unwrap().remove(0);
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn an_api_gone_from_aws_reads_as_absent() {
        let gone = mock!(Client::get_rest_api).then_error(|| {
            GetRestApiError::NotFoundException(NotFoundException::builder().build())
        });
        let client = mock_client!(aws_sdk_apigateway, [&gone]);
        let ids = ids();
        let empty = BTreeMap::new();
        let id = crate::test_identity("web/gateway", "shop-dev-web-gateway", &ids, &empty);
        assert!(rest(client).read(&id).await.unwrap().is_none());
    }

    #[test]
    fn the_shapes_panka_puts_are_what_it_finds_listed() {
        let spec = full_spec();
        let aws = aws_for(&spec);
        let r = &spec.routes[1];
        let shape = route_shape(r, &Backend::Function(FUNCTION.into()), REGION);
        assert!(shape.is(&aws.resources["/webhooks/payments"]["POST"]));
        let mut renamed = aws.resources["/webhooks/payments"]["POST"].clone();
        renamed.operation_name = None;
        assert!(
            !shape.is(&renamed),
            "a method without the route's name is put again"
        );
    }
}
