//! What a REST API's methods should be: a route's method and integration, and the CORS
//! preflight answer of a path, compared with what API Gateway lists.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_apigateway::types::{IntegrationType, Method};
use panka_engine::{ErrorKind, ProviderError};
use panka_format::kinds::{ApiCors, Route, RouteAuthorization};

use crate::apigateway::Backend;

/// Headers a preflight allows when the spec names none: the ones AWS SDKs and browsers send to
/// API Gateway (the console's own default).
pub(super) const DEFAULT_ALLOW_HEADERS: &str =
    "Content-Type,Authorization,X-Amz-Date,X-Api-Key,X-Amz-Security-Token";

/// A route's HTTP method as API Gateway spells it.
pub(super) fn http_method(r: &Route) -> String {
    r.method.to_ascii_uppercase()
}

/// The path of a resource and of each of its ancestors below the root, shortest first:
/// `/a/{id}` gives `/a` and `/a/{id}`.
pub(super) fn prefixes(path: &str) -> Vec<String> {
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
pub(super) struct MethodShape {
    /// The route's name (a preflight has none): API Gateway keeps it as the operation name.
    pub(super) operation_name: Option<String>,
    pub(super) authorization: String,
    pub(super) integration: IntegrationType,
    /// The HTTP method of the integration's request.
    pub(super) integration_method: Option<String>,
    pub(super) uri: Option<String>,
    /// Method request parameters (name → required).
    pub(super) method_parameters: HashMap<String, bool>,
    /// Integration request parameters (name → source).
    pub(super) integration_parameters: HashMap<String, String>,
    /// Response headers of a `MOCK` integration's 200 answer (name → quoted value).
    pub(super) mock_headers: HashMap<String, String>,
}

impl MethodShape {
    /// Whether `m`, as API Gateway lists it, is this shape.
    pub(super) fn is(&self, m: &Method) -> bool {
        let Some(i) = m.method_integration() else {
            return false;
        };
        let mock_headers = i
            .integration_responses()
            .and_then(|r| r.get("200"))
            .and_then(|r| r.response_parameters())
            .cloned()
            .unwrap_or_default();
        m.operation_name() == self.operation_name.as_deref()
            && m.authorization_type() == Some(self.authorization.as_str())
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
pub(super) fn route_shape(r: &Route, to: &Backend, region: &str) -> MethodShape {
    let authorization = match r.authorization {
        RouteAuthorization::None => "NONE",
        RouteAuthorization::AwsIam => "AWS_IAM",
    }
    .to_string();
    let greedy = r.path.ends_with("{proxy+}");
    match to {
        Backend::Function(arn) => MethodShape {
            operation_name: Some(r.name.clone()),
            authorization,
            integration: IntegrationType::AwsProxy,
            // Lambda is always invoked with POST, whatever the client's method.
            integration_method: Some("POST".into()),
            uri: Some(crate::partition::arn(
                region,
                "apigateway",
                region,
                "lambda",
                &format!("path/2015-03-31/functions/{arn}/invocations"),
            )),
            method_parameters: HashMap::new(),
            integration_parameters: HashMap::new(),
            mock_headers: HashMap::new(),
        },
        Backend::Http(url) => MethodShape {
            operation_name: Some(r.name.clone()),
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
pub(super) fn preflight_shape(
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
        operation_name: None,
        authorization: "NONE".into(),
        integration: IntegrationType::Mock,
        integration_method: None,
        uri: None,
        method_parameters: HashMap::new(),
        integration_parameters: HashMap::new(),
        mock_headers: headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apigateway_rest::stage_name;
    use panka_format::kinds::ApiGatewaySpec;

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
