//! API Gateway HTTP APIs: the API (with its CORS configuration), one integration and one route
//! per spec route, a stage deploying automatically with the throttling asked for, and an
//! optional custom domain mapped to the stage.
//!
//! A route to a Lambda function is an `AWS_PROXY` integration (payload format 2.0), and the
//! function's policy lets this API invoke it. A route to a MicroService is an `HTTP_PROXY`
//! integration to the service's URL (its path's `{proxy+}` passed on), which the service's load
//! balancer must answer from the internet. Routes, integrations and stages gone from the spec
//! are deleted. Outputs: `url` (the stage's invoke URL), `apiId`, `arn`.
//!
//! REST APIs (`type: REST`) are another AWS service: `apigateway_rest.rs` builds them, and this
//! provider hands components of that type over to it.

use std::collections::BTreeMap;

use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::types::{
    Api, AuthorizationType, Cors, DomainNameConfiguration, EndpointType, IntegrationType,
    ProtocolType, RouteSettings,
};
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{ApiGatewaySpec, ApiType, Route, RouteAuthorization};
use serde_json::Value;

use crate::apigateway_rest::RestApis;
use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::policy::allow_to_invoke;

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

fn invoke_url(endpoint: &str, stage: &str) -> String {
    if stage == "$default" {
        endpoint.to_string()
    } else {
        format!("{endpoint}/{stage}")
    }
}

fn outcome(api: &Api, t: &Target<'_, ApiGatewaySpec>, domain: Option<&str>) -> Outcome {
    let id = api.api_id().unwrap_or_default();
    let mut physical_ids = BTreeMap::from([("api".to_string(), id.to_string())]);
    if let Some(d) = domain {
        physical_ids.insert("domain".to_string(), d.to_string());
    }
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            (
                "url".to_string(),
                invoke_url(api.api_endpoint().unwrap_or_default(), &t.spec.stage),
            ),
            ("apiId".to_string(), id.to_string()),
            (
                "arn".to_string(),
                format!("arn:aws:apigateway:{}::/apis/{id}", t.region),
            ),
        ]),
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
        let stack = t.tags.get("panka:stack");
        let mut next = None;
        loop {
            let page = self
                .api
                .get_apis()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| aws_error("listing HTTP APIs", e))?;
            if let Some(found) = page.items().iter().find(|a| {
                a.name() == Some(t.name)
                    && a.tags().and_then(|tags| tags.get("panka:stack")) == stack
            }) {
                return Ok(Some(found.clone()));
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(None);
            }
        }
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
        let integrations = self.integrations(id).await?;
        let existing_routes = self.routes(id).await?;
        let mut keys = Vec::new();
        let mut used = Vec::new();
        for (i, r) in t.spec.routes.iter().enumerate() {
            let description = integration_description(r);
            let (kind, uri, method, payload) = match backend(t, i, r)? {
                Backend::Function(arn) => {
                    let account = arn.split(':').nth(4).unwrap_or_default();
                    let source = format!("arn:aws:execute-api:{}:{account}:{id}/*", t.region);
                    allow_to_invoke(&self.lambda, &arn, "apigateway", &source).await?;
                    (IntegrationType::AwsProxy, arn, None, Some("2.0"))
                }
                Backend::Http(url) => (
                    IntegrationType::HttpProxy,
                    url,
                    Some(r.method.to_ascii_uppercase()),
                    Some("1.0"),
                ),
            };
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
            let auth = match r.authorization {
                RouteAuthorization::None => AuthorizationType::None,
                RouteAuthorization::AwsIam => AuthorizationType::AwsIam,
            };
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
        Ok(())
    }

    /// The API's integrations by description.
    async fn integrations(&self, id: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        let mut out = BTreeMap::new();
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
            for i in page.items() {
                if let (Some(d), Some(iid)) = (i.description(), i.integration_id()) {
                    out.insert(d.to_string(), iid.to_string());
                }
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(out);
            }
        }
    }

    /// The API's routes by route key.
    async fn routes(&self, id: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        let mut out = BTreeMap::new();
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
            for r in page.items() {
                if let (Some(rid), Some(key)) = (r.route_id(), r.route_key()) {
                    out.insert(key.to_string(), rid.to_string());
                }
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(out);
            }
        }
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

impl KindProvider for ApiGatewayProvider {
    type Spec = ApiGatewaySpec;
    const KIND: &'static str = "APIGateway";

    async fn create(&self, t: &Target<'_, ApiGatewaySpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    async fn read(
        &self,
        t: &Target<'_, ApiGatewaySpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        if t.spec.api_type == ApiType::Rest {
            return self.rest.read(t, ids).await;
        }
        let Some(api) = self.find_api(t, ids).await? else {
            return Ok(None);
        };
        let id = api.api_id().unwrap_or_default().to_string();
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        // Routes as they are now: a route deleted outside panka is missing from the list.
        let live = self.routes(&id).await?;
        let written = spec["routes"].as_array().cloned().unwrap_or_default();
        spec["routes"] = Value::Array(
            t.spec
                .routes
                .iter()
                .zip(written)
                .filter(|(r, _)| live.contains_key(&route_key(r)))
                .map(|(_, v)| v)
                .collect(),
        );
        let domain = ids.get("domain").cloned();
        Ok(Some(Observed {
            outcome: outcome(&api, t, domain.as_deref()),
            spec,
        }))
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
mod tests {
    use super::*;

    #[test]
    fn route_keys_and_urls() {
        let r: Route = serde_json::from_value(serde_json::json!({
            "name": "orders", "method": "any", "path": "/orders/{proxy+}",
            "target": {"component": "orders/api"},
        }))
        .unwrap();
        assert_eq!(route_key(&r), "ANY /orders/{proxy+}");
        assert_eq!(
            invoke_url("https://x.execute-api", "$default"),
            "https://x.execute-api"
        );
        assert_eq!(
            invoke_url("https://x.execute-api", "v1"),
            "https://x.execute-api/v1"
        );
    }
}
