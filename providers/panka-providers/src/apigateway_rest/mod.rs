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
//!
//! A function no route sends to any more loses the API's permission to invoke it, and every
//! function of the API loses it when the API is deleted. The API is looked up by name and
//! panka's tags before one is created (CreateRestApi takes no idempotency token).
//!
//! `shape` says what each method should be, `stage` deploys and maps the domain, `observe`
//! reads the API back as its spec.

mod observe;
mod shape;
mod stage;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType, Method};
use panka_engine::Transient;
use panka_engine::provider::Outcome;
use panka_engine::{ErrorKind, ProviderError, Target};
use panka_format::kinds::ApiGatewaySpec;

use self::shape::{MethodShape, http_method, prefixes, preflight_shape, route_shape};
use crate::apigateway::{Backend, backend, execute_api_source, function_of, owned_by_tags};
use crate::errors::{aws_error, unless_gone};
use crate::partition;
use crate::policy::{allow_to_invoke, forbid_to_invoke};

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
    format!(
        "https://{id}.execute-api.{region}.{}/{stage}",
        partition::dns_suffix(region)
    )
}

fn outcome(id: &str, t: &Target<'_, ApiGatewaySpec>, domain: Option<&str>) -> Outcome {
    outcome_of(id, t.region, Some(stage_name(&t.spec)), domain)
}

/// The ids and outputs of REST API `id` deployed to `stage` (API Gateway's name for it); `url`
/// only when it has a stage.
fn outcome_of(id: &str, region: &str, stage: Option<&str>, domain: Option<&str>) -> Outcome {
    let mut physical_ids = BTreeMap::from([("restApi".to_string(), id.to_string())]);
    if let Some(d) = domain {
        physical_ids.insert("domain".to_string(), d.to_string());
    }
    let mut outputs = BTreeMap::from([
        ("apiId".to_string(), id.to_string()),
        (
            "arn".to_string(),
            partition::arn(region, "apigateway", region, "", &format!("/restapis/{id}")),
        ),
    ]);
    if let Some(stage) = stage {
        outputs.insert("url".to_string(), invoke_url(id, region, stage));
    }
    Outcome {
        physical_ids,
        outputs,
    }
}

/// The functions the API's methods send to (`AWS_PROXY` integrations, whose URI names the
/// function's ARN).
fn functions_in(resources: &BTreeMap<String, Listed>) -> Vec<String> {
    let mut out: Vec<String> = resources
        .values()
        .flat_map(|r| r.methods.values())
        .filter_map(|m| m.method_integration())
        .filter(|i| i.r#type() == Some(&IntegrationType::AwsProxy))
        .filter_map(|i| i.uri())
        .map(|uri| function_of(uri).to_string())
        .filter(|f| f.split(':').nth(2) == Some("lambda"))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
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
        let mut named = Vec::new();
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
            named.extend(
                page.items()
                    .iter()
                    .filter(|a| a.name() == Some(t.name))
                    .cloned(),
            );
            position = page.position().map(str::to_string);
            if position.is_none() {
                break;
            }
        }
        Ok(owned_by_tags(
            &format!("REST API {}", t.name),
            t.address,
            t.tags,
            named.iter().map(|a| (a, a.tags())),
        )?
        .and_then(|a| a.id().map(str::to_string)))
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
            let source = execute_api_source(t.region, arn, &id);
            allow_to_invoke(&self.lambda, arn, "apigateway", &source).await?;
        }

        let mut resources = self.resources(&id).await?;
        // Functions the API sent to before this apply and no longer does.
        for function in functions_in(&resources) {
            if !functions.iter().any(|f| f == &function) {
                let source = execute_api_source(t.region, &function, &id);
                forbid_to_invoke(&self.lambda, &function, "apigateway", &source).await?;
            }
        }
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
                ErrorKind::Transient(Transient::NotYetVisible),
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
            .set_operation_name(shape.operation_name.clone())
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

    pub(crate) async fn delete(&self, ids: &BTreeMap<String, String>) -> Result<(), ProviderError> {
        if let Some(d) = ids.get("domain") {
            self.delete_domain(d).await?;
        }
        if let Some(id) = ids.get("restApi") {
            // The functions' permissions name the API: they go with it.
            let resources = match self.resources(id).await {
                Ok(r) => r,
                Err(e) if e.kind == ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(e),
            };
            for function in functions_in(&resources) {
                let region = function.split(':').nth(3).unwrap_or_default();
                let source = execute_api_source(region, &function, id);
                forbid_to_invoke(&self.lambda, &function, "apigateway", &source).await?;
            }
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
