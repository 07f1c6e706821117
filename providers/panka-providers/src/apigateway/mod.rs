//! API Gateway HTTP APIs: the API (with its CORS configuration), one integration and one route
//! per spec route, a stage deploying automatically with the throttling asked for, and an
//! optional custom domain mapped to the stage.
//!
//! A route to a Lambda function is an `AWS_PROXY` integration (payload format 2.0), and the
//! function's policy lets this API invoke it. A route to a MicroService is an `HTTP_PROXY`
//! integration to the service's URL (its path's `{proxy+}` passed on), which the service's load
//! balancer must answer from the internet. Routes, integrations and stages gone from the spec
//! are deleted, and a function no route sends to any more loses the API's permission to invoke
//! it (so does every function of the API when it is deleted). Outputs: `url` (the stage's
//! invoke URL), `apiId`, `arn`.
//!
//! API names are not unique, and CreateApi takes no idempotency token: the API is looked up by
//! name and panka's tags (which CreateApi sets) before one is created, so a create whose answer
//! was lost is found, not repeated; one of the name with other tags is not taken over.
//!
//! REST APIs (`type: REST`) are another AWS service: `apigateway_rest.rs` builds them, and this
//! provider hands components of that type over to it.

use std::collections::BTreeMap;

use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::types::{
    Api, ApiMapping, AuthorizationType, Cors, DomainNameConfiguration, EndpointType, Integration,
    IntegrationType, ProtocolType, Route as AwsRoute, RouteSettings,
};
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{ApiGatewaySpec, ApiType, Route, RouteAuthorization};

use crate::apigateway_rest::RestApis;
use crate::errors::{OWNER_TAGS, aws_error, check_owner, unless_gone, unless_missing};
use crate::partition;
use crate::policy::{allow_to_invoke, forbid_to_invoke};

mod observe;

pub(crate) use observe::function_of;
use observe::observe;

/// The APIGateway provider.
#[derive(Clone, Debug)]
pub struct ApiGatewayProvider {
    api: Client,
    lambda: aws_sdk_lambda::Client,
    rest: RestApis,
}

impl ApiGatewayProvider {
    pub fn new(
        api: Client,
        rest: aws_sdk_apigateway::Client,
        lambda: aws_sdk_lambda::Client,
    ) -> Self {
        ApiGatewayProvider {
            api,
            rest: RestApis::new(rest, lambda.clone()),
            lambda,
        }
    }
}

fn route_key(r: &Route) -> String {
    format!("{} {}", r.method.to_ascii_uppercase(), r.path)
}

/// How panka recognises the integration it made for a route.
fn integration_description(r: &Route) -> String {
    format!("panka route {}", r.name)
}

fn cors(spec: &ApiGatewaySpec) -> Option<Cors> {
    spec.cors.as_ref().map(|c| {
        Cors::builder()
            .set_allow_origins(Some(c.allow_origins.clone()))
            .set_allow_methods((!c.allow_methods.is_empty()).then(|| c.allow_methods.clone()))
            .set_allow_headers((!c.allow_headers.is_empty()).then(|| c.allow_headers.clone()))
            .set_max_age(c.max_age_seconds.map(|s| s as i32))
            .build()
    })
}

fn route_settings(spec: &ApiGatewaySpec) -> RouteSettings {
    RouteSettings::builder()
        .set_throttling_rate_limit(spec.throttling.as_ref().map(|t| f64::from(t.rate_limit)))
        .set_throttling_burst_limit(spec.throttling.as_ref().map(|t| t.burst_limit as i32))
        .build()
}

fn authorization(a: RouteAuthorization) -> AuthorizationType {
    match a {
        RouteAuthorization::None => AuthorizationType::None,
        RouteAuthorization::AwsIam => AuthorizationType::AwsIam,
    }
}

/// The integration panka makes for route `r` to `to`: `AWS_PROXY` (payload 2.0) to a
/// function, `HTTP_PROXY` (payload 1.0, the route's method) to a URL.
fn integration_request(r: &Route, to: &Backend) -> Integration {
    let i = Integration::builder().description(integration_description(r));
    match to {
        Backend::Function(arn) => i
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(arn)
            .payload_format_version("2.0"),
        Backend::Http(url) => i
            .integration_type(IntegrationType::HttpProxy)
            .integration_uri(url)
            .integration_method(r.method.to_ascii_uppercase())
            .payload_format_version("1.0"),
    }
    .build()
}

/// Where a route sends requests.
pub(crate) enum Backend {
    /// A Lambda function's ARN.
    Function(String),
    /// A URL answering HTTP.
    Http(String),
}

pub(crate) fn backend(
    t: &Target<'_, ApiGatewaySpec>,
    i: usize,
    r: &Route,
) -> Result<Backend, ProviderError> {
    let outputs = input(t.config, &format!("routes[{i}].target"))
        .map(|x| x.outputs)
        .unwrap_or_default();
    if let Some(arn) = outputs
        .get("arn")
        .filter(|a| a.starts_with("arn:") && a.split(':').nth(2) == Some("lambda"))
    {
        return Ok(Backend::Function(arn.clone()));
    }
    let url = outputs
        .get("url")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "route {}: {} has neither a function ARN nor a URL",
                    r.name, r.target.component
                ),
            )
        })?;
    let url = url.trim_end_matches('/');
    Ok(Backend::Http(if r.path.ends_with("{proxy+}") {
        format!("{url}/{{proxy}}")
    } else {
        url.to_string()
    }))
}

/// The `SourceArn` of the permission letting API `api` invoke `function` through any stage,
/// method and path: `arn:PARTITION:execute-api:REGION:ACCOUNT:API/*` (API Gateway developer
/// guide, "Control access for invoking an API"; the account is the function's).
pub(crate) fn execute_api_source(region: &str, function: &str, api: &str) -> String {
    let account = function.split(':').nth(4).unwrap_or_default();
    partition::arn(region, "execute-api", region, account, &format!("{api}/*"))
}

/// Picks, among APIs named as the component, the one whose panka tags are the component's.
///
/// # Errors
/// [`ErrorKind::NotOwned`] when APIs of that name exist and none is the component's.
pub(crate) fn owned_by_tags<'a, A>(
    what: &str,
    address: &str,
    expected: &BTreeMap<String, String>,
    named: impl IntoIterator<Item = (A, Option<&'a std::collections::HashMap<String, String>>)>,
) -> Result<Option<A>, ProviderError> {
    let mut stranger = None;
    for (api, tags) in named {
        let empty = std::collections::HashMap::new();
        let tags = tags.unwrap_or(&empty);
        let ours = OWNER_TAGS
            .iter()
            .all(|k| tags.get(*k).map(String::as_str) == expected.get(*k).map(String::as_str));
        if ours {
            return Ok(Some(api));
        }
        stranger.get_or_insert_with(|| {
            check_owner(
                what,
                address,
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                expected,
            )
        });
    }
    match stranger {
        Some(Err(e)) => Err(e),
        _ => Ok(None),
    }
}

fn invoke_url(endpoint: &str, stage: &str) -> String {
    if stage == "$default" {
        endpoint.to_string()
    } else {
        format!("{endpoint}/{stage}")
    }
}

fn outcome(api: &Api, t: &Target<'_, ApiGatewaySpec>, domain: Option<&str>) -> Outcome {
    outcome_of(
        api.api_id().unwrap_or_default(),
        api.api_endpoint(),
        Some(&t.spec.stage),
        t.region,
        domain,
    )
}

/// The ids and outputs of an HTTP API; `url` only when it has an endpoint and a stage.
fn outcome_of(
    id: &str,
    endpoint: Option<&str>,
    stage: Option<&str>,
    region: &str,
    domain: Option<&str>,
) -> Outcome {
    let mut physical_ids = BTreeMap::from([("api".to_string(), id.to_string())]);
    if let Some(d) = domain {
        physical_ids.insert("domain".to_string(), d.to_string());
    }
    let mut outputs = BTreeMap::from([
        ("apiId".to_string(), id.to_string()),
        (
            "arn".to_string(),
            partition::arn(region, "apigateway", region, "", &format!("/apis/{id}")),
        ),
    ]);
    if let (Some(e), Some(stage)) = (endpoint.filter(|e| !e.is_empty()), stage) {
        outputs.insert("url".to_string(), invoke_url(e, stage));
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

impl ApiGatewayProvider {
    /// The API of this component: found by id when recorded, else by name and stack tag.
    async fn find_api(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Api>, ProviderError> {
        if let Some(id) = ids.get("api") {
            match self.api.get_api().api_id(id).send().await {
                Ok(a) => {
                    return Ok(Some(
                        Api::builder()
                            .set_api_id(a.api_id().map(str::to_string))
                            .set_api_endpoint(a.api_endpoint().map(str::to_string))
                            .set_name(a.name().map(str::to_string))
                            .set_protocol_type(a.protocol_type().cloned())
                            .set_cors_configuration(a.cors_configuration().cloned())
                            .build(),
                    ));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_not_found_exception()) => {}
                Err(e) => return Err(aws_error(format!("reading API {id}"), e)),
            }
        }
        let mut named = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .api
                .get_apis()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error("listing HTTP APIs", e))?;
            named.extend(
                page.items()
                    .iter()
                    .filter(|a| a.name() == Some(t.name))
                    .cloned(),
            );
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        owned_by_tags(
            &format!("HTTP API {}", t.name),
            t.address,
            t.tags,
            named.iter().map(|a| (a, a.tags())),
        )
        .map(|a| a.cloned())
    }

    async fn converge(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let s = &t.spec;
        if s.api_type == ApiType::Rest {
            return self.rest.converge(t, ids).await;
        }
        let api = match self.find_api(t, ids).await? {
            Some(api) => api,
            None => {
                let created = self
                    .api
                    .create_api()
                    .name(t.name)
                    .protocol_type(ProtocolType::Http)
                    .description(format!("panka: {}", t.address))
                    .set_cors_configuration(cors(s))
                    .set_tags(Some(t.tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("creating HTTP API {}", t.name), e))?;
                Api::builder()
                    .set_api_id(created.api_id().map(str::to_string))
                    .set_api_endpoint(created.api_endpoint().map(str::to_string))
                    .set_name(created.name().map(str::to_string))
                    .build()
            }
        };
        let id = api.api_id().unwrap_or_default().to_string();
        self.converge_cors(&id, s).await?;
        self.converge_routes(t, &id).await?;
        self.converge_stage(t, &id).await?;
        let domain = self.converge_domain(t, &id, ids).await?;
        Ok(outcome(&api, t, domain.as_deref()))
    }

    async fn converge_cors(&self, id: &str, s: &ApiGatewaySpec) -> Result<(), ProviderError> {
        match cors(s) {
            Some(c) => {
                self.api
                    .update_api()
                    .api_id(id)
                    .cors_configuration(c)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("setting the CORS of API {id}"), e))?;
            }
            None => {
                let removed = self.api.delete_cors_configuration().api_id(id).send().await;
                unless_gone(
                    removed,
                    |s| s.is_not_found_exception(),
                    format!("removing the CORS of API {id}"),
                )?;
            }
        }
        Ok(())
    }

    /// One integration and one route per spec route; the others are deleted.
    async fn converge_routes(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let listed = self.list_integrations(id).await?;
        let integrations: BTreeMap<String, String> = listed
            .iter()
            .filter_map(|i| {
                Some((
                    i.description()?.to_string(),
                    i.integration_id()?.to_string(),
                ))
            })
            .collect();
        let existing_routes = self.routes(id).await?;
        let mut keys = Vec::new();
        let mut used = Vec::new();
        let mut functions = Vec::new();
        for (i, r) in t.spec.routes.iter().enumerate() {
            let description = integration_description(r);
            let to = backend(t, i, r)?;
            if let Backend::Function(arn) = &to {
                let source = execute_api_source(t.region, arn, id);
                allow_to_invoke(&self.lambda, arn, "apigateway", &source).await?;
                functions.push(arn.clone());
            }
            let wanted = integration_request(r, &to);
            let kind = wanted
                .integration_type()
                .cloned()
                .unwrap_or(IntegrationType::AwsProxy);
            let uri = wanted.integration_uri().unwrap_or_default().to_string();
            let method = wanted.integration_method().map(str::to_string);
            let payload = wanted.payload_format_version();
            let integration = match integrations.get(&description) {
                Some(existing) => {
                    self.api
                        .update_integration()
                        .api_id(id)
                        .integration_id(existing)
                        .integration_type(kind)
                        .integration_uri(&uri)
                        .set_integration_method(method)
                        .set_payload_format_version(payload.map(str::to_string))
                        .send()
                        .await
                        .map_err(|e| {
                            aws_error(format!("updating the integration of route {}", r.name), e)
                        })?;
                    existing.clone()
                }
                None => self
                    .api
                    .create_integration()
                    .api_id(id)
                    .description(&description)
                    .integration_type(kind)
                    .integration_uri(&uri)
                    .set_integration_method(method)
                    .set_payload_format_version(payload.map(str::to_string))
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(format!("creating the integration of route {}", r.name), e)
                    })?
                    .integration_id()
                    .unwrap_or_default()
                    .to_string(),
            };
            used.push(integration.clone());
            let key = route_key(r);
            let auth = authorization(r.authorization);
            let target = format!("integrations/{integration}");
            match existing_routes.get(&key) {
                Some(route_id) => {
                    self.api
                        .update_route()
                        .api_id(id)
                        .route_id(route_id)
                        .target(&target)
                        .authorization_type(auth)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("updating route {key}"), e))?;
                }
                None => {
                    self.api
                        .create_route()
                        .api_id(id)
                        .route_key(&key)
                        .target(&target)
                        .authorization_type(auth)
                        .send()
                        .await
                        .map_err(|e| aws_error(format!("creating route {key}"), e))?;
                }
            }
            keys.push(key);
        }
        for (key, route_id) in &existing_routes {
            if !keys.contains(key) {
                self.api
                    .delete_route()
                    .api_id(id)
                    .route_id(route_id)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("deleting route {key}"), e))?;
            }
        }
        for (description, integration) in &integrations {
            if description.starts_with("panka route ") && !used.contains(integration) {
                self.api
                    .delete_integration()
                    .api_id(id)
                    .integration_id(integration)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("deleting integration {integration}"), e))?;
            }
        }
        // Functions the API sent to and no longer does.
        for function in functions_of(&listed) {
            if !functions.iter().any(|f| f == function) {
                let source = execute_api_source(t.region, function, id);
                forbid_to_invoke(&self.lambda, function, "apigateway", &source).await?;
            }
        }
        Ok(())
    }

    /// The API's routes by route key.
    async fn routes(&self, id: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        Ok(self
            .list_routes(id)
            .await?
            .iter()
            .filter_map(|r| Some((r.route_key()?.to_string(), r.route_id()?.to_string())))
            .collect())
    }

    /// Every integration of the API (GetIntegrations, a page at a time).
    async fn list_integrations(&self, id: &str) -> Result<Vec<Integration>, ProviderError> {
        let mut out = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .api
                .get_integrations()
                .api_id(id)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the integrations of API {id}"), e))?;
            out.extend(page.items().iter().cloned());
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every route of the API (GetRoutes, a page at a time).
    async fn list_routes(&self, id: &str) -> Result<Vec<AwsRoute>, ProviderError> {
        let mut out = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .api
                .get_routes()
                .api_id(id)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error(format!("listing the routes of API {id}"), e))?;
            out.extend(page.items().iter().cloned());
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(out);
            }
        }
    }

    /// The HTTP API recorded in `id`, as its spec; `None` when it does not exist.
    async fn observe_http(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<ApiGatewaySpec>>, ProviderError> {
        let Some(api_id) = id.ids.get("api") else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} has no recorded API id", id.address),
            ));
        };
        let found = unless_missing(
            self.api.get_api().api_id(api_id).send().await,
            |s| s.is_not_found_exception(),
            format!("reading API {api_id}"),
        )?;
        let Some(found) = found else {
            return Ok(None);
        };
        let api = Api::builder()
            .set_api_id(found.api_id().map(str::to_string))
            .set_api_endpoint(found.api_endpoint().map(str::to_string))
            .set_name(found.name().map(str::to_string))
            .set_protocol_type(found.protocol_type().cloned())
            .set_cors_configuration(found.cors_configuration().cloned())
            .build();
        let routes = self.list_routes(api_id).await?;
        let integrations = self.list_integrations(api_id).await?;
        let stages = self
            .api
            .get_stages()
            .api_id(api_id)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the stages of API {api_id}"), e))?
            .items()
            .to_vec();
        let domain = match id.ids.get("domain") {
            Some(d) => self.domain_of(d).await?,
            None => None,
        };
        Ok(Some(observe(
            &api,
            &routes,
            &integrations,
            &stages,
            domain.as_ref(),
            id,
        )))
    }

    /// A custom domain's configurations and API mappings; `None` when it does not exist.
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
            .get_api_mappings()
            .domain_name(domain)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the mappings of {domain}"), e))?;
        Ok(Some(Domain {
            name: domain.to_string(),
            configurations: found.domain_name_configurations().to_vec(),
            mappings: mappings.items().to_vec(),
        }))
    }

    /// The stage, deploying every change, with the throttling asked for; other stages go.
    async fn converge_stage(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let stage = &t.spec.stage;
        let listed = self
            .api
            .get_stages()
            .api_id(id)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the stages of API {id}"), e))?;
        let stages: Vec<String> = listed
            .items()
            .iter()
            .filter_map(|s| s.stage_name().map(str::to_string))
            .collect();
        let wanted = route_settings(&t.spec);
        let current = listed
            .items()
            .iter()
            .find(|s| s.stage_name() == Some(stage.as_str()));
        let settled = current.is_some_and(|c| {
            let now = c.default_route_settings();
            c.auto_deploy() == Some(true)
                && now.and_then(RouteSettings::throttling_rate_limit)
                    == wanted.throttling_rate_limit()
                && now.and_then(RouteSettings::throttling_burst_limit)
                    == wanted.throttling_burst_limit()
        });
        if settled {
            // Nothing to change.
        } else if current.is_some() {
            self.api
                .update_stage()
                .api_id(id)
                .stage_name(stage)
                .auto_deploy(true)
                .default_route_settings(wanted)
                .send()
                .await
                .map_err(|e| aws_error(format!("updating stage {stage} of API {id}"), e))?;
        } else {
            self.api
                .create_stage()
                .api_id(id)
                .stage_name(stage)
                .auto_deploy(true)
                .default_route_settings(route_settings(&t.spec))
                .set_tags(Some(t.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error(format!("creating stage {stage} of API {id}"), e))?;
        }
        for old in stages.iter().filter(|s| *s != stage) {
            self.api
                .delete_stage()
                .api_id(id)
                .stage_name(old)
                .send()
                .await
                .map_err(|e| aws_error(format!("deleting stage {old} of API {id}"), e))?;
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
        let found = unless_missing(
            self.api.get_domain_name().domain_name(&d.name).send().await,
            |s| s.is_not_found_exception(),
            format!("reading domain {}", d.name),
        )?;
        let recorded = ids.get("domain") == Some(&d.name);
        match found {
            // A domain panka did not record is this component's only by its tags.
            Some(f) if !recorded => {
                let tags = f.tags().cloned().unwrap_or_default();
                check_owner(
                    &format!("custom domain {}", d.name),
                    t.address,
                    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    t.tags,
                )?;
            }
            Some(_) => {}
            None => {
                self.api
                    .create_domain_name()
                    .domain_name(&d.name)
                    .domain_name_configurations(
                        DomainNameConfiguration::builder()
                            .certificate_arn(&d.certificate_arn)
                            .endpoint_type(EndpointType::Regional)
                            .build(),
                    )
                    .set_tags(Some(t.tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("creating domain {}", d.name), e))?;
            }
        }
        let mappings = self
            .api
            .get_api_mappings()
            .domain_name(&d.name)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the mappings of {}", d.name), e))?;
        let mapped = mappings
            .items()
            .iter()
            .any(|m| m.api_id() == Some(id) && m.stage() == Some(t.spec.stage.as_str()));
        if !mapped {
            self.api
                .create_api_mapping()
                .domain_name(&d.name)
                .api_id(id)
                .stage(&t.spec.stage)
                .send()
                .await
                .map_err(|e| aws_error(format!("mapping {} to API {id}", d.name), e))?;
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
}

/// The functions the integrations send to (`AWS_PROXY` integrations take the function's ARN).
fn functions_of(integrations: &[Integration]) -> Vec<&str> {
    let mut out: Vec<&str> = integrations
        .iter()
        .filter(|i| i.integration_type() == Some(&IntegrationType::AwsProxy))
        .filter_map(Integration::integration_uri)
        .map(function_of)
        .filter(|f| f.split(':').nth(2) == Some("lambda"))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A custom domain as API Gateway reports it.
struct Domain {
    name: String,
    configurations: Vec<DomainNameConfiguration>,
    mappings: Vec<ApiMapping>,
}

impl KindProvider for ApiGatewayProvider {
    type Spec = ApiGatewaySpec;
    const KIND: &'static str = "APIGateway";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "stage",
            tracked_by: "only while the API has no stage at all (its name is then unknown): the recorded value stands",
        },
    ];

    async fn create(&self, t: &Target<'_, ApiGatewaySpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    /// HTTP: GetApi, GetRoutes, GetIntegrations and GetStages (one page each for up to 100
    /// routes), and with a domain GetDomainName and GetApiMappings: 4 or 6 calls, the API id and
    /// domain taken from the state. REST: see `apigateway_rest`.
    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<ApiGatewaySpec>>, ProviderError> {
        // The recorded ids say which kind of API this is.
        if id.ids.contains_key("restApi") {
            return self.rest.read(id).await;
        }
        self.observe_http(id).await
    }

    async fn update(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    async fn delete(
        &self,
        _name: &str,
        _spec: Option<ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        // The recorded ids say which kind of API this was (the type may have changed since).
        if ids.contains_key("restApi") {
            return self.rest.delete(ids).await;
        }
        if let Some(d) = ids.get("domain") {
            self.delete_domain(d).await?;
        }
        if let Some(id) = ids.get("api") {
            // The functions' permissions name the API: they go with it.
            let integrations = match self.list_integrations(id).await {
                Ok(list) => list,
                Err(e) if e.kind == ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            for function in functions_of(&integrations) {
                let region = function.split(':').nth(3).unwrap_or_default();
                let source = execute_api_source(region, function, id);
                forbid_to_invoke(&self.lambda, function, "apigateway", &source).await?;
            }
            let deleted = self.api.delete_api().api_id(id).send().await;
            unless_gone(
                deleted,
                |s| s.is_not_found_exception(),
                format!("deleting API {id}"),
            )?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        if t.spec.api_type == ApiType::Rest {
            return self.rest.health(t, ids).await;
        }
        let Some(api) = self.find_api(t, ids).await? else {
            return Ok(None);
        };
        let routes = self.routes(api.api_id().unwrap_or_default()).await?;
        Ok(Some(format!(
            "{} route{} · {}",
            routes.len(),
            if routes.len() == 1 { "" } else { "s" },
            invoke_url(api.api_endpoint().unwrap_or_default(), &t.spec.stage)
        )))
    }

    async fn find(&self, t: &Target<'_, ApiGatewaySpec>) -> Result<Option<Outcome>, ProviderError> {
        if t.spec.api_type == ApiType::Rest {
            return self.rest.find(t).await;
        }
        Ok(self
            .find_api(t, &BTreeMap::new())
            .await?
            .map(|api| outcome(&api, t, None)))
    }
}

#[cfg(test)]
mod tests;
