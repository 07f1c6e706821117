//! API Gateway REST APIs (`type: REST`): the regional API, a resource for every segment of the
//! routes' paths, one method with its integration per route, CORS preflight answers, a deployment
//! on the stage with the throttling asked for, and an optional custom domain mapped to the stage.
//!
//! A route to a Lambda function is an `AWS_PROXY` integration, and the function's policy lets
//! this API invoke it. A route to a MicroService is an `HTTP_PROXY` integration to the service's
//! URL (a `{proxy+}` path passes its remainder on). With `cors`, every routed path answers
//! `OPTIONS` from a `MOCK` integration with the `Access-Control-Allow-*` headers; a REST API
//! answers with one fixed origin, so more than one origin is refused (HTTP APIs take a list).
//! Methods and resources gone from the spec are deleted; every apply that changes the API deploys
//! it anew and deletes the deployments no stage uses. REST stage names take letters, digits, `-`
//! and `_`: the spec's default stage, `$default` (an HTTP API's), is deployed as `default`.
//! Outputs: `url` (the stage's invoke URL), `apiId`, `arn`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{
    EndpointConfiguration, EndpointType, IntegrationType, Method, Op, PatchOperation,
};
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, Observed, ProviderError, Target};
use panka_format::kinds::{ApiCors, ApiGatewaySpec, Route, RouteAuthorization};
use serde_json::Value;

use crate::apigateway::{Backend, backend};
use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::policy::allow_to_invoke;

/// Headers a preflight allows when the spec names none: the ones AWS SDKs and browsers send to
/// API Gateway (the console's own default).
const DEFAULT_ALLOW_HEADERS: &str =
    "Content-Type,Authorization,X-Amz-Date,X-Api-Key,X-Amz-Security-Token";

/// REST APIs, driven by the APIGateway provider for components of `type: REST`.
#[derive(Clone, Debug)]
pub(crate) struct RestApis {
    api: Client,
    lambda: aws_sdk_lambda::Client,
}

/// The stage a REST API is deployed to.
pub(crate) fn stage_name(spec: &ApiGatewaySpec) -> &str {
    if spec.stage == "$default" {
        "default"
    } else {
        &spec.stage
    }
}

fn invoke_url(id: &str, region: &str, stage: &str) -> String {
    format!("https://{id}.execute-api.{region}.amazonaws.com/{stage}")
}

fn outcome(id: &str, t: &Target<'_, ApiGatewaySpec>, domain: Option<&str>) -> Outcome {
    let mut physical_ids = BTreeMap::from([("restApi".to_string(), id.to_string())]);
    if let Some(d) = domain {
        physical_ids.insert("domain".to_string(), d.to_string());
    }
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            (
                "url".to_string(),
                invoke_url(id, t.region, stage_name(&t.spec)),
            ),
            ("apiId".to_string(), id.to_string()),
            (
                "arn".to_string(),
                format!("arn:aws:apigateway:{}::/restapis/{id}", t.region),
            ),
        ]),
    }
}

/// A route's HTTP method as API Gateway spells it.
fn http_method(r: &Route) -> String {
    r.method.to_ascii_uppercase()
}

/// The path of a resource and of each of its ancestors below the root, shortest first:
/// `/a/{id}` gives `/a` and `/a/{id}`.
fn prefixes(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current.push('/');
        current.push_str(part);
        out.push(current.clone());
    }
    out
}

/// What a method should be: how it is authorized and where its integration sends requests.
#[derive(Debug, PartialEq)]
struct MethodShape {
    authorization: String,
    integration: IntegrationType,
    /// The HTTP method of the integration's request.
    integration_method: Option<String>,
    uri: Option<String>,
    /// Method request parameters (name → required).
    method_parameters: HashMap<String, bool>,
    /// Integration request parameters (name → source).
    integration_parameters: HashMap<String, String>,
    /// Response headers of a `MOCK` integration's 200 answer (name → quoted value).
    mock_headers: HashMap<String, String>,
}

impl MethodShape {
    /// Whether `m`, as API Gateway lists it, is this shape.
    fn is(&self, m: &Method) -> bool {
        let Some(i) = m.method_integration() else {
            return false;
        };
        let mock_headers = i
            .integration_responses()
            .and_then(|r| r.get("200"))
            .and_then(|r| r.response_parameters())
            .cloned()
            .unwrap_or_default();
        m.authorization_type() == Some(self.authorization.as_str())
            && i.r#type() == Some(&self.integration)
            && (self.integration == IntegrationType::Mock
                || i.http_method() == self.integration_method.as_deref())
            && i.uri().filter(|u| !u.is_empty()) == self.uri.as_deref()
            && m.request_parameters().cloned().unwrap_or_default() == self.method_parameters
            && i.request_parameters().cloned().unwrap_or_default() == self.integration_parameters
            && mock_headers == self.mock_headers
    }
}

/// A route's method: an `AWS_PROXY` integration to a function, or `HTTP_PROXY` to a URL.
fn route_shape(r: &Route, to: &Backend, region: &str) -> MethodShape {
    let authorization = match r.authorization {
        RouteAuthorization::None => "NONE",
        RouteAuthorization::AwsIam => "AWS_IAM",
    }
    .to_string();
    let greedy = r.path.ends_with("{proxy+}");
    match to {
        Backend::Function(arn) => MethodShape {
            authorization,
            integration: IntegrationType::AwsProxy,
            // Lambda is always invoked with POST, whatever the client's method.
            integration_method: Some("POST".into()),
            uri: Some(format!(
                "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
            )),
            method_parameters: HashMap::new(),
            integration_parameters: HashMap::new(),
            mock_headers: HashMap::new(),
        },
        Backend::Http(url) => MethodShape {
            authorization,
            integration: IntegrationType::HttpProxy,
            integration_method: Some(http_method(r)),
            uri: Some(url.clone()),
            method_parameters: if greedy {
                HashMap::from([("method.request.path.proxy".to_string(), true)])
            } else {
                HashMap::new()
            },
            integration_parameters: if greedy {
                HashMap::from([(
                    "integration.request.path.proxy".to_string(),
                    "method.request.path.proxy".to_string(),
                )])
            } else {
                HashMap::new()
            },
            mock_headers: HashMap::new(),
        },
    }
}

/// The preflight answer of a path whose routes use `methods`.
fn preflight_shape(
    cors: &ApiCors,
    methods: &BTreeSet<String>,
    address: &str,
) -> Result<MethodShape, ProviderError> {
    let [origin] = cors.allow_origins.as_slice() else {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "{address}: a REST API answers preflight requests with one fixed origin, and \
                 `cors.allowOrigins` lists {}; list one origin (or \"*\"), or use `type: HTTP`",
                cors.allow_origins.len()
            ),
        ));
    };
    let allow_methods = if cors.allow_methods.is_empty() {
        let mut m: Vec<&str> = methods.iter().map(String::as_str).collect();
        m.push("OPTIONS");
        m.join(",")
    } else {
        cors.allow_methods.join(",")
    };
    let allow_headers = if cors.allow_headers.is_empty() {
        DEFAULT_ALLOW_HEADERS.to_string()
    } else {
        cors.allow_headers.join(",")
    };
    let header = |name: &str| format!("method.response.header.Access-Control-{name}");
    let mut headers = HashMap::from([
        (header("Allow-Origin"), format!("'{origin}'")),
        (header("Allow-Methods"), format!("'{allow_methods}'")),
        (header("Allow-Headers"), format!("'{allow_headers}'")),
    ]);
    if let Some(age) = cors.max_age_seconds {
        headers.insert(header("Max-Age"), format!("'{age}'"));
    }
    Ok(MethodShape {
        authorization: "NONE".into(),
        integration: IntegrationType::Mock,
        integration_method: None,
        uri: None,
        method_parameters: HashMap::new(),
        integration_parameters: HashMap::new(),
        mock_headers: headers,
    })
}

/// A resource of the API as listed: its id and its methods.
struct Listed {
    id: String,
    methods: HashMap<String, Method>,
}

impl RestApis {
    pub(crate) fn new(api: Client, lambda: aws_sdk_lambda::Client) -> Self {
        RestApis { api, lambda }
    }

    /// The API of this component: found by id when recorded, else by name and stack tag.
    async fn find_api(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        if let Some(id) = ids.get("restApi") {
            match self.api.get_rest_api().rest_api_id(id).send().await {
                Ok(_) => return Ok(Some(id.clone())),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_not_found_exception()) => {}
                Err(e) => return Err(aws_error(format!("reading REST API {id}"), e)),
            }
        }
        let stack = t.tags.get("panka:stack");
        let mut position = None;
        loop {
            let page = self
                .api
                .get_rest_apis()
                .limit(500)
                .set_position(position)
                .send()
                .await
                .map_err(|e| aws_error("listing REST APIs", e))?;
            if let Some(found) = page.items().iter().find(|a| {
                a.name() == Some(t.name)
                    && a.tags().and_then(|tags| tags.get("panka:stack")) == stack
            }) {
                return Ok(found.id().map(str::to_string));
            }
            position = page.position().map(str::to_string);
            if position.is_none() {
                return Ok(None);
            }
        }
    }

    pub(crate) async fn converge(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        // Everything the spec asks for is worked out before the first call.
        let mut wanted: BTreeMap<(String, String), MethodShape> = BTreeMap::new();
        let mut functions = Vec::new();
        for (i, r) in t.spec.routes.iter().enumerate() {
            let to = backend(t, i, r)?;
            if let Backend::Function(arn) = &to {
                functions.push(arn.clone());
            }
            wanted.insert(
                (r.path.clone(), http_method(r)),
                route_shape(r, &to, t.region),
            );
        }
        if let Some(cors) = &t.spec.cors {
            let mut by_path: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
            for r in &t.spec.routes {
                by_path.entry(&r.path).or_default().insert(http_method(r));
            }
            for (path, methods) in by_path {
                // A route of its own on OPTIONS answers preflights itself.
                if !methods.contains("OPTIONS") {
                    let shape = preflight_shape(cors, &methods, t.address)?;
                    wanted.insert((path.to_string(), "OPTIONS".into()), shape);
                }
            }
        }

        let id = match self.find_api(t, ids).await? {
            Some(id) => id,
            None => self
                .api
                .create_rest_api()
                .name(t.name)
                .description(format!("panka: {}", t.address))
                .endpoint_configuration(
                    EndpointConfiguration::builder()
                        .types(EndpointType::Regional)
                        .build(),
                )
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating REST API {}", t.name), e))?
                .id()
                .unwrap_or_default()
                .to_string(),
        };
        for arn in &functions {
            let account = arn.split(':').nth(4).unwrap_or_default();
            let source = format!("arn:aws:execute-api:{}:{account}:{id}/*", t.region);
            allow_to_invoke(&self.lambda, arn, "apigateway", &source).await?;
        }

        let mut resources = self.resources(&id).await?;
        for (path, method) in wanted.keys() {
            let resource = self.ensure_resource(&id, &mut resources, path).await?;
            let shape = &wanted[&(path.clone(), method.clone())];
            let current = resources[path].methods.get(method);
            if current.is_some_and(|m| shape.is(m)) {
                continue;
            }
            if current.is_some() {
                self.delete_method(&id, &resource, method).await?;
            }
            self.put_method(&id, &resource, method, shape).await?;
        }
        // Methods, then resources, that no route needs any more.
        let needed: BTreeSet<String> = wanted.keys().flat_map(|(p, _)| prefixes(p)).collect();
        for (path, r) in &resources {
            for method in r.methods.keys() {
                if !wanted.contains_key(&(path.clone(), method.clone())) {
                    self.delete_method(&id, &r.id, method).await?;
                }
            }
        }
        let mut stale: Vec<&String> = resources
            .keys()
            .filter(|p| p.as_str() != "/" && !needed.contains(*p))
            .collect();
        // Deepest first, so that a parent is deleted after its children (deleting it would take
        // them along, and their own delete would then find nothing).
        stale.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
        for path in stale {
            let deleted = self
                .api
                .delete_resource()
                .rest_api_id(&id)
                .resource_id(&resources[path].id)
                .send()
                .await;
            unless_gone(
                deleted,
                |s| s.is_not_found_exception(),
                format!("deleting resource {path} of REST API {id}"),
            )?;
        }

        self.deploy(t, &id).await?;
        let domain = self.converge_domain(t, &id, ids).await?;
        Ok(outcome(&id, t, domain.as_deref()))
    }

    /// The API's resources by path, with their methods.
    async fn resources(&self, id: &str) -> Result<BTreeMap<String, Listed>, ProviderError> {
        let mut out = BTreeMap::new();
        let mut position = None;
        loop {
            let page = self
                .api
                .get_resources()
                .rest_api_id(id)
                .embed("methods")
                .limit(500)
                .set_position(position)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the resources of REST API {id}"), e))?;
            for r in page.items() {
                if let (Some(path), Some(rid)) = (r.path(), r.id()) {
                    out.insert(
                        path.to_string(),
                        Listed {
                            id: rid.to_string(),
                            methods: r.resource_methods().cloned().unwrap_or_default(),
                        },
                    );
                }
            }
            position = page.position().map(str::to_string);
            if position.is_none() {
                return Ok(out);
            }
        }
    }

    /// The id of the resource at `path`, created with its missing ancestors.
    async fn ensure_resource(
        &self,
        id: &str,
        resources: &mut BTreeMap<String, Listed>,
        path: &str,
    ) -> Result<String, ProviderError> {
        let mut parent = resources.get("/").map(|r| r.id.clone()).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Retryable,
                format!("REST API {id} has no root resource yet"),
            )
        })?;
        for prefix in prefixes(path) {
            if let Some(r) = resources.get(&prefix) {
                parent = r.id.clone();
                continue;
            }
            let part = prefix.rsplit('/').next().unwrap_or_default();
            let created = self
                .api
                .create_resource()
                .rest_api_id(id)
                .parent_id(&parent)
                .path_part(part)
                .send()
                .await
                .map_err(|e| {
                    aws_error(format!("creating resource {prefix} of REST API {id}"), e)
                })?;
            parent = created.id().unwrap_or_default().to_string();
            resources.insert(
                prefix,
                Listed {
                    id: parent.clone(),
                    methods: HashMap::new(),
                },
            );
        }
        Ok(parent)
    }

    async fn put_method(
        &self,
        id: &str,
        resource: &str,
        method: &str,
        shape: &MethodShape,
    ) -> Result<(), ProviderError> {
        let what =
            |verb: &str| format!("{verb} method {method} of resource {resource} in REST API {id}");
        self.api
            .put_method()
            .rest_api_id(id)
            .resource_id(resource)
            .http_method(method)
            .authorization_type(&shape.authorization)
            .set_request_parameters(
                (!shape.method_parameters.is_empty()).then(|| shape.method_parameters.clone()),
            )
            .send()
            .await
            .map_err(|e| aws_error(what("creating"), e))?;
        let mock = shape.integration == IntegrationType::Mock;
        self.api
            .put_integration()
            .rest_api_id(id)
            .resource_id(resource)
            .http_method(method)
            .r#type(shape.integration.clone())
            .set_integration_http_method(shape.integration_method.clone())
            .set_uri(shape.uri.clone())
            .set_request_parameters(
                (!shape.integration_parameters.is_empty())
                    .then(|| shape.integration_parameters.clone()),
            )
            .set_request_templates(mock.then(|| {
                HashMap::from([(
                    "application/json".to_string(),
                    r#"{"statusCode": 200}"#.to_string(),
                )])
            }))
            .send()
            .await
            .map_err(|e| aws_error(what("integrating"), e))?;
        if mock {
            self.api
                .put_method_response()
                .rest_api_id(id)
                .resource_id(resource)
                .http_method(method)
                .status_code("200")
                .set_response_parameters(Some(
                    shape
                        .mock_headers
                        .keys()
                        .map(|h| (h.clone(), false))
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| aws_error(what("declaring the response of"), e))?;
            self.api
                .put_integration_response()
                .rest_api_id(id)
                .resource_id(resource)
                .http_method(method)
                .status_code("200")
                .set_response_parameters(Some(shape.mock_headers.clone()))
                .send()
                .await
                .map_err(|e| aws_error(what("answering"), e))?;
        }
        Ok(())
    }

    async fn delete_method(
        &self,
        id: &str,
        resource: &str,
        method: &str,
    ) -> Result<(), ProviderError> {
        let deleted = self
            .api
            .delete_method()
            .rest_api_id(id)
            .resource_id(resource)
            .http_method(method)
            .send()
            .await;
        unless_gone(
            deleted,
            |s| s.is_not_found_exception(),
            format!("deleting method {method} of resource {resource} in REST API {id}"),
        )
    }

    /// A new deployment on the stage, with the throttling asked for; other stages and the
    /// deployments no stage uses are deleted.
    async fn deploy(&self, t: &Target<'_, ApiGatewaySpec>, id: &str) -> Result<(), ProviderError> {
        let stage = stage_name(&t.spec);
        let deployment = self
            .api
            .create_deployment()
            .rest_api_id(id)
            .description(format!("panka: {}", t.address))
            .send()
            .await
            .map_err(|e| aws_error(format!("deploying REST API {id}"), e))?
            .id()
            .unwrap_or_default()
            .to_string();
        let stages = self
            .api
            .get_stages()
            .rest_api_id(id)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the stages of REST API {id}"), e))?;
        let replace = |path: &str, value: String| {
            PatchOperation::builder()
                .op(Op::Replace)
                .path(path)
                .value(value)
                .build()
        };
        let mut patch = Vec::new();
        if stages.item().iter().any(|s| s.stage_name() == Some(stage)) {
            patch.push(replace("/deploymentId", deployment.clone()));
        } else {
            self.api
                .create_stage()
                .rest_api_id(id)
                .stage_name(stage)
                .deployment_id(&deployment)
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating stage {stage} of REST API {id}"), e))?;
        }
        // -1 turns a stage's own throttling off (the account's limits apply).
        let (rate, burst) = t
            .spec
            .throttling
            .as_ref()
            .map_or(("-1".to_string(), "-1".to_string()), |th| {
                (th.rate_limit.to_string(), th.burst_limit.to_string())
            });
        patch.push(replace("/*/*/throttling/rateLimit", rate));
        patch.push(replace("/*/*/throttling/burstLimit", burst));
        self.api
            .update_stage()
            .rest_api_id(id)
            .stage_name(stage)
            .set_patch_operations(Some(patch))
            .send()
            .await
            .map_err(|e| aws_error(format!("updating stage {stage} of REST API {id}"), e))?;
        for old in stages.item().iter().filter_map(|s| s.stage_name()) {
            if old != stage {
                let deleted = self
                    .api
                    .delete_stage()
                    .rest_api_id(id)
                    .stage_name(old)
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_not_found_exception(),
                    format!("deleting stage {old} of REST API {id}"),
                )?;
            }
        }
        let deployments = self
            .api
            .get_deployments()
            .rest_api_id(id)
            .limit(500)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the deployments of REST API {id}"), e))?;
        for old in deployments.items().iter().filter_map(|d| d.id()) {
            if old != deployment {
                let deleted = self
                    .api
                    .delete_deployment()
                    .rest_api_id(id)
                    .deployment_id(old)
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_not_found_exception(),
                    format!("deleting deployment {old} of REST API {id}"),
                )?;
            }
        }
        Ok(())
    }

    /// The custom domain and its mapping to the stage; a domain no longer asked for is removed.
    async fn converge_domain(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        id: &str,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let wanted = t.spec.domain.as_ref();
        if let Some(old) = ids.get("domain")
            && wanted.is_none_or(|d| &d.name != old)
        {
            self.delete_domain(old).await?;
        }
        let Some(d) = wanted else {
            return Ok(None);
        };
        let exists = unless_missing(
            self.api.get_domain_name().domain_name(&d.name).send().await,
            |s| s.is_not_found_exception(),
            format!("reading domain {}", d.name),
        )?
        .is_some();
        if !exists {
            self.api
                .create_domain_name()
                .domain_name(&d.name)
                .regional_certificate_arn(&d.certificate_arn)
                .endpoint_configuration(
                    EndpointConfiguration::builder()
                        .types(EndpointType::Regional)
                        .build(),
                )
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating domain {}", d.name), e))?;
        }
        let stage = stage_name(&t.spec);
        // A domain created just now has no mappings to look through.
        let mapped = exists
            && self
                .api
                .get_base_path_mappings()
                .domain_name(&d.name)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the mappings of {}", d.name), e))?
                .items()
                .iter()
                .any(|m| m.rest_api_id() == Some(id) && m.stage() == Some(stage));
        if !mapped {
            self.api
                .create_base_path_mapping()
                .domain_name(&d.name)
                .rest_api_id(id)
                .stage(stage)
                .send()
                .await
                .map_err(|e| aws_error(format!("mapping {} to REST API {id}", d.name), e))?;
        }
        Ok(Some(d.name.clone()))
    }

    async fn delete_domain(&self, domain: &str) -> Result<(), ProviderError> {
        let deleted = self
            .api
            .delete_domain_name()
            .domain_name(domain)
            .send()
            .await;
        unless_gone(
            deleted,
            |s| s.is_not_found_exception(),
            format!("deleting domain {domain}"),
        )
    }

    /// The spec as AWS has it now: a route whose method was deleted outside panka is missing.
    pub(crate) async fn read(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(id) = self.find_api(t, ids).await? else {
            return Ok(None);
        };
        let resources = self.resources(&id).await?;
        let live = |r: &Route| {
            resources
                .get(&r.path)
                .is_some_and(|l| l.methods.contains_key(&http_method(r)))
        };
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        let written = spec["routes"].as_array().cloned().unwrap_or_default();
        spec["routes"] = Value::Array(
            t.spec
                .routes
                .iter()
                .zip(written)
                .filter(|(r, _)| live(r))
                .map(|(_, v)| v)
                .collect(),
        );
        Ok(Some(Observed {
            outcome: outcome(&id, t, ids.get("domain").map(String::as_str)),
            spec,
        }))
    }

    pub(crate) async fn delete(&self, ids: &BTreeMap<String, String>) -> Result<(), ProviderError> {
        if let Some(d) = ids.get("domain") {
            self.delete_domain(d).await?;
        }
        if let Some(id) = ids.get("restApi") {
            let deleted = self.api.delete_rest_api().rest_api_id(id).send().await;
            unless_gone(
                deleted,
                |s| s.is_not_found_exception(),
                format!("deleting REST API {id}"),
            )?;
        }
        Ok(())
    }

    pub(crate) async fn health(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        let Some(id) = self.find_api(t, ids).await? else {
            return Ok(None);
        };
        let routes: usize = self
            .resources(&id)
            .await?
            .values()
            .map(|r| r.methods.keys().filter(|m| *m != "OPTIONS").count())
            .sum();
        Ok(Some(format!(
            "{routes} route{} · {}",
            if routes == 1 { "" } else { "s" },
            invoke_url(&id, t.region, stage_name(&t.spec))
        )))
    }

    pub(crate) async fn find(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
    ) -> Result<Option<Outcome>, ProviderError> {
        Ok(self
            .find_api(t, &BTreeMap::new())
            .await?
            .map(|id| outcome(&id, t, None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str]) -> ApiCors {
        serde_json::from_value(serde_json::json!({"allowOrigins": origins})).unwrap()
    }

    #[test]
    fn routes_to_services_pass_the_rest_of_the_path_on() {
        let route: Route = serde_json::from_value(serde_json::json!({
            "name": "orders", "method": "any", "path": "/orders/{proxy+}",
            "target": {"component": "orders/api"}, "authorization": "AWS_IAM",
        }))
        .unwrap();
        let to = Backend::Http("http://lb.example/orders/{proxy}".into());
        let shape = route_shape(&route, &to, "eu-west-1");
        assert_eq!(shape.integration, IntegrationType::HttpProxy);
        assert_eq!(shape.integration_method.as_deref(), Some("ANY"));
        assert_eq!(shape.authorization, "AWS_IAM");
        assert!(shape.method_parameters["method.request.path.proxy"]);
        assert_eq!(
            shape.integration_parameters["integration.request.path.proxy"],
            "method.request.path.proxy"
        );
        let to = Backend::Function("arn:aws:lambda:eu-west-1:1:function:f".into());
        let shape = route_shape(&route, &to, "eu-west-1");
        assert_eq!(shape.integration_method.as_deref(), Some("POST"));
        assert_eq!(
            shape.uri.as_deref(),
            Some(
                "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:f/invocations"
            )
        );
        assert!(shape.method_parameters.is_empty());
    }

    #[test]
    fn paths_stages_and_preflights() {
        assert_eq!(prefixes("/orders/{id}"), ["/orders", "/orders/{id}"]);
        assert_eq!(prefixes("/"), Vec::<String>::new());
        let spec: ApiGatewaySpec = serde_json::from_value(serde_json::json!({
            "type": "REST",
            "routes": [{"name": "a", "method": "get", "path": "/a", "target": {"component": "x/y"}}],
        }))
        .unwrap();
        assert_eq!(stage_name(&spec), "default");
        let methods = BTreeSet::from(["GET".to_string(), "POST".to_string()]);
        let shape = preflight_shape(&cors(&["https://a.test"]), &methods, "web/api").unwrap();
        assert_eq!(
            shape.mock_headers["method.response.header.Access-Control-Allow-Methods"],
            "'GET,POST,OPTIONS'"
        );
        assert_eq!(
            shape.mock_headers["method.response.header.Access-Control-Allow-Origin"],
            "'https://a.test'"
        );
        let two = preflight_shape(
            &cors(&["https://a.test", "https://b.test"]),
            &methods,
            "web/api",
        )
        .unwrap_err();
        assert!(two.to_string().contains("one fixed origin"), "{two}");
    }
}
