//! Unit tests for the API Gateway provider.

use super::*;
use aws_sdk_apigatewayv2::operation::get_api::{GetApiError, GetApiOutput};
use aws_sdk_apigatewayv2::operation::get_api_mappings::GetApiMappingsOutput;
use aws_sdk_apigatewayv2::operation::get_domain_name::GetDomainNameOutput;
use aws_sdk_apigatewayv2::operation::get_integrations::GetIntegrationsOutput;
use aws_sdk_apigatewayv2::operation::get_routes::GetRoutesOutput;
use aws_sdk_apigatewayv2::operation::get_stages::GetStagesOutput;
use aws_sdk_apigatewayv2::types::Stage;
use aws_sdk_apigatewayv2::types::error::NotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

const API: &str = "a1b2c3d4e5";
const ENDPOINT: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-payments-webhook";
const SERVICE: &str = "http://shop-dev-lb-123.us-east-1.elb.amazonaws.com/orders";
const DOMAIN: &str = "api.example.test";

/// Every setting: a route to a function with IAM authorization, a greedy route to a
/// service's URL, a named stage with throttling, CORS and a custom domain.
fn full_spec() -> ApiGatewaySpec {
    serde_json::from_value(json!({
        "stage": "v1",
        "routes": [
            {"name": "webhook", "method": "POST", "path": "/webhooks/payments",
             "target": {"component": FUNCTION}, "authorization": "AWS_IAM"},
            {"name": "orders", "method": "ANY", "path": "/orders/{proxy+}",
             "target": {"component": SERVICE}}
        ],
        "cors": {"allowOrigins": ["https://shop.example.test"], "allowMethods": ["POST", "GET"],
                 "allowHeaders": ["content-type"], "maxAgeSeconds": 600},
        "throttling": {"rateLimit": 100, "burstLimit": 200},
        "domain": {"name": DOMAIN, "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0b9c"}
    }))
    .unwrap()
}

/// What API Gateway holds for an API made from `spec`.
struct Aws {
    cors: Option<Cors>,
    routes: Vec<AwsRoute>,
    integrations: Vec<Integration>,
    stages: Vec<Stage>,
    domain: Vec<DomainNameConfiguration>,
    mappings: Vec<ApiMapping>,
}

/// The requests panka makes for `spec` as the Get* calls answer them, with the ids and
/// defaults API Gateway adds.
/// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-routes.html
/// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations.html
/// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-stages.html
/// https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/domainnames-domainname.html
fn aws_for(spec: &ApiGatewaySpec) -> Aws {
    let mut routes = Vec::new();
    let mut integrations = Vec::new();
    for (i, r) in spec.routes.iter().enumerate() {
        let to = if r.target.component.starts_with("arn:") {
            Backend::Function(r.target.component.clone())
        } else if r.path.ends_with("{proxy+}") {
            Backend::Http(format!("{}/{{proxy}}", r.target.component))
        } else {
            Backend::Http(r.target.component.clone())
        };
        let mut integration = integration_request(r, &to);
        integration.integration_id = Some(format!("int{i}"));
        integration.connection_type = Some(aws_sdk_apigatewayv2::types::ConnectionType::Internet);
        integration.timeout_in_millis = Some(30_000);
        integrations.push(integration);
        routes.push(
            AwsRoute::builder()
                .route_id(format!("rt{i}"))
                .route_key(route_key(r))
                .target(format!("integrations/int{i}"))
                .authorization_type(authorization(r.authorization))
                .api_key_required(false)
                .build(),
        );
    }
    let stage = Stage::builder()
        .stage_name(&spec.stage)
        .auto_deploy(true)
        .default_route_settings(route_settings(spec))
        .build();
    let d = spec.domain.as_ref();
    Aws {
        cors: cors(spec),
        routes,
        integrations,
        stages: vec![stage],
        domain: d
            .map(|d| {
                vec![
                    DomainNameConfiguration::builder()
                        .certificate_arn(&d.certificate_arn)
                        .endpoint_type(EndpointType::Regional)
                        .api_gateway_domain_name("d-abc.execute-api.us-east-1.amazonaws.com")
                        .build(),
                ]
            })
            .unwrap_or_default(),
        mappings: d
            .map(|_| {
                vec![
                    ApiMapping::builder()
                        .api_id(API)
                        .stage(&spec.stage)
                        .api_mapping_id("map1")
                        .build(),
                ]
            })
            .unwrap_or_default(),
    }
}

fn ids() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("api".to_string(), API.to_string()),
        ("domain".to_string(), DOMAIN.to_string()),
    ])
}

async fn read_back(aws: Aws) -> Observation<ApiGatewaySpec> {
    let cors = aws.cors.clone();
    let api_rule = mock!(Client::get_api).then_output(move || {
        GetApiOutput::builder()
            .api_id(API)
            .api_endpoint(ENDPOINT)
            .name("shop-dev-web-gateway")
            .protocol_type(ProtocolType::Http)
            .set_cors_configuration(cors.clone())
            .build()
    });
    let routes = aws.routes.clone();
    let routes_rule = mock!(Client::get_routes).then_output(move || {
        GetRoutesOutput::builder()
            .set_items(Some(routes.clone()))
            .build()
    });
    let integrations = aws.integrations.clone();
    let integrations_rule = mock!(Client::get_integrations).then_output(move || {
        GetIntegrationsOutput::builder()
            .set_items(Some(integrations.clone()))
            .build()
    });
    let stages = aws.stages.clone();
    let stages_rule = mock!(Client::get_stages).then_output(move || {
        GetStagesOutput::builder()
            .set_items(Some(stages.clone()))
            .build()
    });
    let domain = aws.domain.clone();
    let domain_rule = mock!(Client::get_domain_name).then_output(move || {
        GetDomainNameOutput::builder()
            .domain_name(DOMAIN)
            .set_domain_name_configurations(Some(domain.clone()))
            .build()
    });
    let mappings = aws.mappings.clone();
    let mappings_rule = mock!(Client::get_api_mappings).then_output(move || {
        GetApiMappingsOutput::builder()
            .set_items(Some(mappings.clone()))
            .build()
    });
    let client = mock_client!(
        aws_sdk_apigatewayv2,
        RuleMode::MatchAny,
        [
            &api_rule,
            &routes_rule,
            &integrations_rule,
            &stages_rule,
            &domain_rule,
            &mappings_rule
        ]
    );
    let ids = ids();
    let outputs = BTreeMap::from([("url".to_string(), format!("{ENDPOINT}/v1"))]);
    let id = crate::test_identity("web/gateway", "shop-dev-web-gateway", &ids, &outputs);
    provider(client).read(&id).await.unwrap().unwrap()
}

fn provider(api: Client) -> ApiGatewayProvider {
    let none = Vec::<aws_smithy_mocks::Rule>::new();
    ApiGatewayProvider::new(
        api,
        mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, none.iter()),
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, none.iter()),
    )
}

/// Sets `value` at `pointer` in `v`, adding the last key when it is absent.
fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent).unwrap()[key] = value;
}

#[tokio::test]
async fn an_api_made_from_a_full_spec_reads_back_as_that_spec() {
    let spec = full_spec();
    let seen = read_back(aws_for(&spec)).await;
    assert_eq!(seen.spec, spec);
    assert_eq!(seen.outcome.physical_ids, ids());
    assert_eq!(seen.outcome.outputs["url"], format!("{ENDPOINT}/v1"));
    assert_eq!(seen.outcome.outputs["apiId"], API);
    assert_eq!(seen.unobserved, ["dependsOn"]);
    // The plainest API: `$default` stage, no CORS, throttling or domain.
    let plain: ApiGatewaySpec = serde_json::from_value(json!({
        "routes": [{"name": "webhook", "method": "POST", "path": "/hook", "target": {"component": FUNCTION}}]
    }))
    .unwrap();
    let mut aws = aws_for(&plain);
    aws.stages[0].default_route_settings = Some(
        RouteSettings::builder()
            .detailed_metrics_enabled(false)
            .build(),
    );
    let seen = read_back(aws).await;
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
            "/routes/0/name",
            |a| a.integrations[0].description = Some("panka route hook".into()),
            "hook".into(),
        ),
        (
            "/routes/0/authorization",
            |a| a.routes[0].authorization_type = Some(AuthorizationType::None),
            "NONE".into(),
        ),
        (
            "/routes/0/path",
            |a| a.routes[0].route_key = Some("POST /webhooks/refunds".into()),
            "/webhooks/refunds".into(),
        ),
        (
            "/routes/1/method",
            |a| a.routes[1].route_key = Some("GET /orders/{proxy+}".into()),
            "GET".into(),
        ),
        (
            "/routes/0/target/component",
            |a| a.integrations[0].integration_uri = Some(format!("{FUNCTION}-v2")),
            format!("{FUNCTION}-v2").into(),
        ),
        (
            "/routes/1/target/component",
            |a| {
                a.integrations[1].integration_uri =
                    Some("http://elsewhere.example.test/{proxy}".into())
            },
            "http://elsewhere.example.test".into(),
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
            |a| a.cors.as_mut().unwrap().allow_origins = Some(vec!["*".into()]),
            json!(["*"]),
        ),
        (
            "/cors/allowMethods",
            |a| a.cors.as_mut().unwrap().allow_methods = Some(vec!["GET".into()]),
            json!(["GET"]),
        ),
        (
            "/cors/allowHeaders",
            |a| a.cors.as_mut().unwrap().allow_headers = Some(vec!["x-api-key".into()]),
            json!(["x-api-key"]),
        ),
        (
            "/cors/maxAgeSeconds",
            |a| a.cors.as_mut().unwrap().max_age = Some(60),
            60.into(),
        ),
        (
            "/throttling/rateLimit",
            |a| {
                let s = a.stages[0].default_route_settings.as_mut().unwrap();
                s.throttling_rate_limit = Some(5.0);
            },
            5.into(),
        ),
        (
            "/throttling/burstLimit",
            |a| {
                let s = a.stages[0].default_route_settings.as_mut().unwrap();
                s.throttling_burst_limit = Some(10);
            },
            10.into(),
        ),
        (
            "/domain/certificateArn",
            |a| {
                a.domain[0].certificate_arn =
                    Some("arn:aws:acm:us-east-1:123456789012:certificate/new".into())
            },
            "arn:aws:acm:us-east-1:123456789012:certificate/new".into(),
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
    // CORS, throttling and the domain's mapping removed, a route deleted: each absent.
    type Removal = fn(&mut Aws);
    let removals: Vec<(&str, Removal)> = vec![
        ("cors", |a| a.cors = None),
        ("throttling", |a| {
            a.stages[0].default_route_settings = Some(RouteSettings::builder().build())
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
    aws.routes.remove(0);
    let seen = serde_json::to_value(read_back(aws).await.spec).unwrap();
    let mut expected = expected_json.clone();
    expected["routes"].as_array_mut().unwrap().remove(0);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn an_api_gone_from_aws_reads_as_absent() {
    let gone = mock!(Client::get_api)
        .then_error(|| GetApiError::NotFoundException(NotFoundException::builder().build()));
    let client = mock_client!(aws_sdk_apigatewayv2, [&gone]);
    let ids = ids();
    let empty = BTreeMap::new();
    let id = crate::test_identity("web/gateway", "shop-dev-web-gateway", &ids, &empty);
    assert!(provider(client).read(&id).await.unwrap().is_none());
}

#[test]
fn a_lambda_invocation_uri_is_its_function() {
    let uri = format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"
    );
    assert_eq!(function_of(&uri), FUNCTION);
    assert_eq!(function_of(FUNCTION), FUNCTION);
}

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

mod replays {
    use std::sync::{Arc, Mutex};

    use aws_sdk_apigateway::operation::delete_rest_api::DeleteRestApiOutput;
    use aws_sdk_apigateway::operation::get_resources::GetResourcesOutput;
    use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
    use aws_sdk_apigateway::types::{
        Integration as RestIntegration, IntegrationType as RestIntegrationType, Method, Resource,
        RestApi,
    };
    use aws_sdk_apigatewayv2::operation::delete_api::DeleteApiOutput;
    use aws_sdk_apigatewayv2::operation::get_apis::GetApisOutput;
    use aws_sdk_lambda::operation::remove_permission::RemovePermissionOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use panka_engine::{ErrorKind, KindProvider, Target};

    use super::*;

    const NAME: &str = "shop-dev-web-gateway";

    fn owner_tags(component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("panka:stack".to_string(), "shop".to_string()),
            ("panka:environment".to_string(), "dev".to_string()),
            ("panka:service".to_string(), "web".to_string()),
            ("panka:component".to_string(), component.to_string()),
        ])
    }

    fn target<'a>(
        spec: ApiGatewaySpec,
        tags: &'a BTreeMap<String, String>,
        config: &'a Value,
    ) -> Target<'a, ApiGatewaySpec> {
        Target {
            address: "web/gateway",
            name: NAME,
            spec,
            tags,
            region: "us-east-1",
            config,
        }
    }

    fn api(id: &str, tags: &BTreeMap<String, String>) -> Api {
        Api::builder()
            .api_id(id)
            .name(NAME)
            .protocol_type(ProtocolType::Http)
            .route_selection_expression("$request.method $request.path")
            .set_tags(Some(tags.clone().into_iter().collect()))
            .build()
    }

    /// HTTP API names are not unique: GetApis lists every API of the name, and only the one
    /// whose panka tags are this component's is taken; another's alone is refused.
    #[tokio::test]
    async fn an_http_api_is_found_by_its_tags_and_another_of_the_name_refused() {
        let tags = owner_tags("gateway");
        let config = json!({});
        let spec: ApiGatewaySpec = serde_json::from_value(json!({"routes": []})).unwrap();
        let listed = mock!(Client::get_apis).then_output(|| {
            GetApisOutput::builder()
                .items(api("untagged1", &BTreeMap::new()))
                .items(api("ours12345", &owner_tags("gateway")))
                .build()
        });
        let client = mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, [&listed]);
        let found = provider(client)
            .find(&target(spec.clone(), &tags, &config))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.physical_ids["api"], "ours12345");

        let listed = mock!(Client::get_apis).then_output(|| {
            GetApisOutput::builder()
                .items(api("theirs123", &owner_tags("admin")))
                .build()
        });
        let client = mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, [&listed]);
        let err = provider(client)
            .find(&target(spec, &tags, &config))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
        assert!(
            err.message.contains("panka:component=admin"),
            "{}",
            err.message
        );
    }

    /// The same for REST APIs (GetRestApis).
    #[tokio::test]
    async fn a_rest_api_is_found_by_its_tags_and_another_of_the_name_refused() {
        let tags = owner_tags("gateway");
        let config = json!({});
        let spec: ApiGatewaySpec =
            serde_json::from_value(json!({"type": "REST", "routes": []})).unwrap();
        let rest = |id: &str, tags: BTreeMap<String, String>| {
            RestApi::builder()
                .id(id)
                .name(NAME)
                .set_tags(Some(tags.into_iter().collect()))
                .build()
        };
        let listed = mock!(aws_sdk_apigateway::Client::get_rest_apis).then_output(move || {
            GetRestApisOutput::builder()
                .items(rest("untagged1", BTreeMap::new()))
                .build()
        });
        let none = Vec::<aws_smithy_mocks::Rule>::new();
        let p = ApiGatewayProvider::new(
            mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, none.iter()),
            mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, [&listed]),
            mock_client!(aws_sdk_lambda, RuleMode::MatchAny, none.iter()),
        );
        let err = p.find(&target(spec, &tags, &config)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotOwned);
        assert!(
            err.message.contains("carries no panka tags"),
            "{}",
            err.message
        );
    }

    /// The permission's source is the API in the region's partition, the function's account.
    #[test]
    fn the_invoke_permission_source_follows_the_partition() {
        assert_eq!(
            execute_api_source(
                "cn-north-1",
                "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
                "a1b2c3"
            ),
            "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3/*"
        );
        assert_eq!(
            outcome_of("a1b2c3", None, None, "us-gov-west-1", None).outputs["arn"],
            "arn:aws-us-gov:apigateway:us-gov-west-1::/apis/a1b2c3"
        );
    }

    /// Lambda logging RemovePermission as `FUNCTION SID`.
    fn lambda(log: &Arc<Mutex<Vec<String>>>) -> aws_sdk_lambda::Client {
        let l = log.clone();
        let remove =
            mock!(aws_sdk_lambda::Client::remove_permission).then_compute_output(move |r| {
                l.lock().unwrap().push(format!(
                    "RemovePermission {} {}",
                    r.function_name().unwrap(),
                    r.statement_id().unwrap()
                ));
                RemovePermissionOutput::builder().build()
            });
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&remove])
    }

    /// Deleting an HTTP API takes back the permission each function it sent to gave it, then
    /// deletes the API.
    #[tokio::test]
    async fn deleting_an_http_api_takes_its_function_permissions_back() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let integrations = mock!(Client::get_integrations).then_output(|| {
            GetIntegrationsOutput::builder()
                .items(
                    Integration::builder()
                        .integration_id("int1")
                        .integration_type(IntegrationType::AwsProxy)
                        .integration_uri(FUNCTION)
                        .build(),
                )
                .items(
                    Integration::builder()
                        .integration_id("int2")
                        .integration_type(IntegrationType::HttpProxy)
                        .integration_uri(SERVICE)
                        .build(),
                )
                .build()
        });
        let l = log.clone();
        let delete = mock!(Client::delete_api).then_compute_output(move |_| {
            l.lock().unwrap().push("DeleteApi".to_string());
            DeleteApiOutput::builder().build()
        });
        let none = Vec::<aws_smithy_mocks::Rule>::new();
        let p = ApiGatewayProvider::new(
            mock_client!(
                aws_sdk_apigatewayv2,
                RuleMode::MatchAny,
                [&integrations, &delete]
            ),
            mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, none.iter()),
            lambda(&log),
        );
        let ids = BTreeMap::from([("api".to_string(), API.to_string())]);
        p.delete(NAME, None, &ids).await.unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                format!("RemovePermission {FUNCTION} panka-apigateway-{API}--"),
                "DeleteApi".to_string()
            ]
        );
    }

    /// The same for a REST API: its methods' `AWS_PROXY` integrations name the functions.
    #[tokio::test]
    async fn deleting_a_rest_api_takes_its_function_permissions_back() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let uri = format!(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"
        );
        let resources = mock!(aws_sdk_apigateway::Client::get_resources).then_output(move || {
            let method = Method::builder()
                .http_method("POST")
                .method_integration(
                    RestIntegration::builder()
                        .r#type(RestIntegrationType::AwsProxy)
                        .uri(&uri)
                        .build(),
                )
                .build();
            GetResourcesOutput::builder()
                .items(Resource::builder().id("root").path("/").build())
                .items(
                    Resource::builder()
                        .id("r1")
                        .path("/hooks")
                        .resource_methods("POST", method)
                        .build(),
                )
                .build()
        });
        let l = log.clone();
        let delete =
            mock!(aws_sdk_apigateway::Client::delete_rest_api).then_compute_output(move |_| {
                l.lock().unwrap().push("DeleteRestApi".to_string());
                DeleteRestApiOutput::builder().build()
            });
        let none = Vec::<aws_smithy_mocks::Rule>::new();
        let p = ApiGatewayProvider::new(
            mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, none.iter()),
            mock_client!(
                aws_sdk_apigateway,
                RuleMode::MatchAny,
                [&resources, &delete]
            ),
            lambda(&log),
        );
        let ids = BTreeMap::from([("restApi".to_string(), "r3st4p1".to_string())]);
        p.delete(NAME, None, &ids).await.unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                format!("RemovePermission {FUNCTION} panka-apigateway-r3st4p1--"),
                "DeleteRestApi".to_string()
            ]
        );
    }
}
