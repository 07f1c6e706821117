//! AWS's error answers as each wire protocol writes them (status, headers, body), for the
//! mocked replays of the providers' tests: an error replayed this way goes through the SDK's
//! own deserializer and through `errors::classify`, as a real one does.
//!
//! The shapes are the protocols' documented error forms: restJson1 (Lambda, API Gateway: the
//! `x-amzn-errortype` header and a JSON body), awsJson1.0 with `awsQueryCompatible` (SQS: the
//! query code in `x-amzn-query-error`), awsQuery (SNS, IAM: `<ErrorResponse><Error>`), ec2Query
//! (`<Response><Errors><Error>`) and restXml (S3: `<Error>`; CloudFront: `<ErrorResponse>`).

use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;

fn reply(status: u16, headers: &[(&'static str, String)], body: String) -> Response {
    let mut r = Response::new(
        StatusCode::try_from(status).expect("an HTTP status"),
        SdkBody::from(body),
    );
    for (k, v) in headers {
        r.headers_mut().insert(*k, v.clone());
    }
    r
}

/// A restJson1 error (Lambda, API Gateway): `x-amzn-errortype: CODE` and `{"message": …}`.
pub(crate) fn rest_json(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        &[
            ("content-type", "application/json".to_string()),
            ("x-amzn-errortype", code.to_string()),
        ],
        serde_json::json!({"Type": "User", "message": message}).to_string(),
    )
}

/// An SQS error: awsJson1.0 with the query protocol's code in `x-amzn-query-error`
/// (`QUERY_CODE;Sender`).
pub(crate) fn sqs(status: u16, shape: &str, query_code: &str, message: &str) -> Response {
    reply(
        status,
        &[
            ("content-type", "application/x-amz-json-1.0".to_string()),
            ("x-amzn-query-error", format!("{query_code};Sender")),
        ],
        serde_json::json!({"__type": format!("com.amazonaws.sqs#{shape}"), "message": message})
            .to_string(),
    )
}

/// An awsQuery error (SNS, IAM).
pub(crate) fn query(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        &[("content-type", "text/xml".to_string())],
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>8f2b6d1e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
        ),
    )
}

/// An ec2Query error.
pub(crate) fn ec2(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        &[("content-type", "text/xml".to_string())],
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>8f2b6d1e-0000-4000-8000-000000000000</RequestID></Response>"
        ),
    )
}

/// An S3 error (restXml, no wrapper).
pub(crate) fn s3(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        &[("content-type", "application/xml".to_string())],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        ),
    )
}

/// A CloudFront error (restXml in an `ErrorResponse`).
pub(crate) fn cloudfront(status: u16, code: &str, message: &str) -> Response {
    reply(
        status,
        &[("content-type", "text/xml".to_string())],
        format!(
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>8f2b6d1e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
        ),
    )
}
