//! A hostile AWS for tests: an HTTP proxy in front of the emulator that, per seed, throttles or
//! fails a share of calls before they reach it, loses a share of responses after it answered,
//! adds latency, and answers "not found" for a while after a create (eventual consistency).
//!
//! Every fault is written in the wire protocol of the service called, so the SDK parses it as
//! it would AWS's own answer:
//!
//! | protocol | services | throttling | server error |
//! |---|---|---|---|
//! | JSON (`X-Amz-Target`) | DynamoDB, SQS, ECS, Logs, ... | 400 `{"__type":"ThrottlingException"}` | 500 `InternalFailure` |
//! | query (`Action=`) | IAM, SNS, ELBv2, RDS, ElastiCache, STS | 400 `<Code>Throttling</Code>` | 500 `InternalFailure` |
//! | EC2 query | EC2 | 503 `<Code>RequestLimitExceeded</Code>` | 500 `InternalError` |
//! | REST-XML | S3 | 503 `<Code>SlowDown</Code>` | 500 `InternalError` |
//! | REST-XML | CloudFront, Route 53 | 400 `<Code>Throttling</Code>` | 500 `InternalFailure` |
//! | REST-JSON | Lambda, API Gateway, EFS, ... | 429 `TooManyRequestsException` | 500 `ServiceException` |
//! | RPC v2 CBOR | CloudWatch | 503, no body | 500, no body |
//!
//! (Error shapes: AWS API references, "Common Errors" of each service; the SDK's throttling codes
//! are smithy-rs aws-runtime's retry classifier list.)
//!
//! A lost response is a call forwarded to the emulator, which acts on it, whose answer is
//! dropped: the connection is closed without a response, as when a network path fails after
//! AWS did the work. The SDK retries such a call, so a create arrives twice.
//!
//! The proxy also gives the emulator one property AWS has and moto lacks: S3 conditional writes
//! (`If-Match`, `If-None-Match`) to one object are atomic. moto checks the condition and writes
//! in two steps, so two concurrent writers can both succeed (a moto gap); the proxy serialises
//! conditional PUTs per object, as S3 does (S3 User Guide, "Conditional writes": concurrent
//! conditional writes to one key get 409 ConditionalRequestConflict or 412).
//!
//! Every call is logged with its service, operation and what the proxy did, so tests can count.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1 as server_http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to calls. Shares are probabilities in `0.0..=1.0`, drawn per call from a
/// generator seeded with `seed`.
#[derive(Clone, Debug)]
pub struct Faults {
    pub seed: u64,
    /// Share of calls answered with the protocol's throttling error, not forwarded.
    pub throttle: f64,
    /// Share of calls answered with a 5xx, not forwarded.
    pub server_error: f64,
    /// Share of calls forwarded whose response is then lost.
    pub lose_response: f64,
    /// Latency added to every call, drawn uniformly from this range.
    pub latency: (Duration, Duration),
    /// For how long after a create its resource reads as not found (`None`: consistent).
    pub not_found_after_create: Option<Duration>,
    /// Calls whose operation is listed here are never faulted (the test's own set-up and
    /// read-back calls, say). Matched against [`Call::operation`].
    pub spare: Vec<String>,
}

impl Faults {
    /// No faults: a transparent proxy (with atomic S3 conditional writes).
    pub fn none() -> Self {
        Faults {
            seed: 0,
            throttle: 0.0,
            server_error: 0.0,
            lose_response: 0.0,
            latency: (Duration::ZERO, Duration::ZERO),
            not_found_after_create: None,
            spare: Vec::new(),
        }
    }
}

/// What the proxy did with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    Forwarded,
    Throttled,
    ServerError,
    /// Forwarded, and the emulator acted on it, but its response was dropped.
    ResponseLost,
    /// Answered "not found" because its resource was created a moment ago.
    NotYetVisible,
}

/// One call through the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The SigV4 signing name (`sqs`, `iam`, `ecs`, `s3`, `lambda`, ...).
    pub service: String,
    /// The operation (`CreateQueue`), or for REST protocols `METHOD /path`.
    pub operation: String,
    pub fate: Fate,
}

/// A running proxy. Stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: point the SDK (`AWS_ENDPOINT_URL`) here.
    pub endpoint: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

struct Shared {
    upstream: SocketAddr,
    faults: Mutex<Faults>,
    rng: Mutex<fastrand::Rng>,
    calls: Mutex<Vec<Call>>,
    /// Names of resources created recently, per service, with when.
    created: Mutex<Vec<(String, String, Instant)>>,
    /// One lock per S3 object that conditional writes go through.
    object_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`) on a free port of
    /// 127.0.0.1, on a thread of its own.
    ///
    /// # Panics
    /// When `upstream` is not `http://HOST:PORT` or no port can be bound.
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("the proxy's upstream {upstream} is not HOST:PORT: {e}"));
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("binding the proxy's port");
        std_listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let endpoint = format!(
            "http://{}",
            std_listener.local_addr().expect("the proxy's address")
        );
        let shared = Arc::new(Shared {
            upstream,
            rng: Mutex::new(fastrand::Rng::with_seed(faults.seed)),
            faults: Mutex::new(faults),
            calls: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
            object_locks: Mutex::new(HashMap::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the proxy's runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("the proxy's listener");
                tokio::pin!(stopped);
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let shared = serving.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| {
                                    let shared = shared.clone();
                                    async move { handle(shared, req).await }
                                });
                                // A lost response ends the connection with an error: that is
                                // the point, not a failure of the proxy.
                                let _ = server_http1::Builder::new()
                                    .keep_alive(true)
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        FaultProxy {
            endpoint,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Changes the faults from now on (the generator keeps its sequence).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// How many calls met `fate`.
    pub fn count(&self, fate: Fate) -> usize {
        lock(&self.shared.calls)
            .iter()
            .filter(|c| c.fate == fate)
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a service speaks, for writing its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Json,
    Query,
    Ec2,
    S3,
    RestXml,
    RestJson,
    Cbor,
}

/// The SigV4 signing name from the `Authorization` header's credential scope
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
fn signing_service(req: &http::request::Parts) -> String {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string()
}

fn protocol(service: &str, req: &http::request::Parts, body: &[u8]) -> Protocol {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    if header("smithy-protocol").contains("cbor") || header("content-type").contains("cbor") {
        Protocol::Cbor
    } else if req.headers.contains_key("x-amz-target") {
        Protocol::Json
    } else if service == "ec2" {
        Protocol::Ec2
    } else if service == "s3" {
        Protocol::S3
    } else if header("content-type").contains("x-www-form-urlencoded")
        || body.starts_with(b"Action=")
    {
        Protocol::Query
    } else if matches!(service, "cloudfront" | "route53") {
        Protocol::RestXml
    } else {
        Protocol::RestJson
    }
}

/// The operation: `X-Amz-Target`'s suffix, the query `Action`, or `METHOD /path`.
fn operation(protocol: Protocol, req: &http::request::Parts, body: &[u8]) -> String {
    match protocol {
        Protocol::Json => req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_string(),
        Protocol::Query | Protocol::Ec2 => form_value(body, "Action").unwrap_or_default(),
        Protocol::Cbor => req
            .uri
            .path()
            .rsplit('/')
            .next()
            .unwrap_or("unknown")
            .to_string(),
        _ => format!("{} {}", req.method, req.uri.path()),
    }
}

/// A value of a form-encoded body.
fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The name a create call gives its resource (`QueueName`, `RoleName`, `GroupName`,
/// `TableName`, `FunctionName`, `serviceName`, `Name`, ... or the bucket of an S3 `PUT /bucket`).
fn created_name(protocol: Protocol, operation: &str, body: &[u8], path: &str) -> Option<String> {
    match protocol {
        Protocol::Query | Protocol::Ec2 => std::str::from_utf8(body).ok().and_then(|text| {
            text.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k.ends_with("Name") && !k.contains('.')).then(|| percent_decode(v))
            })
        }),
        Protocol::Json | Protocol::RestJson => {
            let v: serde_json::Value = serde_json::from_slice(body).ok()?;
            let object = v.as_object()?;
            object.iter().find_map(|(k, v)| {
                (k.ends_with("Name") || k.ends_with("name") || k == "Name")
                    .then(|| v.as_str().map(str::to_string))
                    .flatten()
            })
        }
        Protocol::S3 if operation.starts_with("PUT ") => {
            let mut parts = path.trim_start_matches('/').split('/');
            let bucket = parts.next().filter(|b| !b.is_empty())?;
            parts.next().is_none().then(|| bucket.to_string())
        }
        _ => None,
    }
}

fn is_create(protocol: Protocol, operation: &str) -> bool {
    match protocol {
        Protocol::Json | Protocol::Query | Protocol::Ec2 | Protocol::Cbor => {
            operation.starts_with("Create")
        }
        Protocol::S3 => operation.starts_with("PUT "),
        Protocol::RestJson | Protocol::RestXml => operation.starts_with("POST "),
    }
}

fn is_read(protocol: Protocol, operation: &str) -> bool {
    match protocol {
        Protocol::Json | Protocol::Query | Protocol::Ec2 | Protocol::Cbor => {
            ["Describe", "Get", "List", "Head"]
                .iter()
                .any(|p| operation.starts_with(p))
        }
        _ => operation.starts_with("GET ") || operation.starts_with("HEAD "),
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, incoming) = req.into_parts();
    let service = signing_service(&parts);
    let body = incoming
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let proto = protocol(&service, &parts, &body);
    let op = operation(proto, &parts, &body);
    let path = parts.uri.path().to_string();

    let faults = lock(&shared.faults).clone();
    let (latency, draw_throttle, draw_error, draw_lose) = {
        let mut rng = lock(&shared.rng);
        let (lo, hi) = faults.latency;
        let span = hi.saturating_sub(lo).as_millis() as u64;
        let latency = lo + Duration::from_millis(if span == 0 { 0 } else { rng.u64(0..=span) });
        (latency, rng.f64(), rng.f64(), rng.f64())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let spared = faults.spare.iter().any(|s| s == &op);
    let record = |fate: Fate| {
        lock(&shared.calls).push(Call {
            service: service.clone(),
            operation: op.clone(),
            fate,
        });
    };

    if !spared && draw_throttle < faults.throttle {
        record(Fate::Throttled);
        return Ok(throttling(proto));
    }
    if !spared && draw_error < faults.server_error {
        record(Fate::ServerError);
        return Ok(server_error(proto));
    }
    if !spared
        && let Some(window) = faults.not_found_after_create
        && is_read(proto, &op)
    {
        let now = Instant::now();
        let recent = {
            let mut created = lock(&shared.created);
            created.retain(|(_, _, at)| now.duration_since(*at) < window);
            created.iter().any(|(svc, name, _)| {
                svc == &service && (contains(&body, name) || path.contains(name.as_str()))
            })
        };
        if recent {
            record(Fate::NotYetVisible);
            return Ok(not_found(proto, &service));
        }
    }

    // S3 conditional writes are atomic per object.
    let conditional = proto == Protocol::S3
        && parts.method == hyper::Method::PUT
        && (parts.headers.contains_key("if-match") || parts.headers.contains_key("if-none-match"));
    let object_lock = conditional.then(|| {
        lock(&shared.object_locks)
            .entry(path.clone())
            .or_default()
            .clone()
    });
    let _held = match &object_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };

    let forwarded = forward(shared.upstream, &parts, body.clone()).await;
    drop(_held);
    let response = match forwarded {
        Ok(r) => r,
        Err(e) => {
            record(Fate::ServerError);
            return Ok(text_response(
                StatusCode::BAD_GATEWAY,
                &format!("the fault proxy could not reach the emulator: {e}"),
            ));
        }
    };
    if response.status().is_success()
        && is_create(proto, &op)
        && let Some(name) = created_name(proto, &op, &body, &path)
    {
        lock(&shared.created).push((service.clone(), name, Instant::now()));
    }
    if !spared && draw_lose < faults.lose_response {
        record(Fate::ResponseLost);
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the proxy drops this response",
        ));
    }
    record(Fate::Forwarded);
    Ok(response)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && (haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
            || {
                // Query bodies carry names percent-encoded.
                let text = String::from_utf8_lossy(haystack);
                percent_decode(&text).contains(needle)
            })
}

async fn forward(
    upstream: SocketAddr,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, String> {
    let stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut builder = Request::builder().method(parts.method.clone()).uri(
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
    );
    for (k, v) in &parts.headers {
        builder = builder.header(k, v);
    }
    let request = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, incoming) = response.into_parts();
    let bytes = incoming
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let mut out = Response::from_parts(parts, Full::new(bytes));
    // The body was re-framed: let hyper write its own length.
    out.headers_mut().remove(hyper::header::TRANSFER_ENCODING);
    Ok(out)
}

fn text_response(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(text.to_string())))
        .expect("a valid response")
}

fn response(
    status: u16,
    content_type: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", uuid_like());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn uuid_like() -> String {
    format!("{:032x}", fastrand::u128(..))
}

fn query_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    response(
        status,
        "text/xml",
        &[],
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            uuid_like()
        ),
    )
}

fn ec2_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    response(
        status,
        "text/xml",
        &[],
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
            uuid_like()
        ),
    )
}

fn s3_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    response(
        status,
        "application/xml",
        &[],
        format!(
            "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
            uuid_like()
        ),
    )
}

fn json_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    response(
        status,
        "application/x-amz-json-1.1",
        &[("x-amzn-query-error", &format!("{code};Sender"))],
        serde_json::json!({"__type": code, "message": message}).to_string(),
    )
}

fn rest_json_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    response(
        status,
        "application/json",
        &[("x-amzn-errortype", code)],
        serde_json::json!({"message": message, "Message": message}).to_string(),
    )
}

fn throttling(p: Protocol) -> Response<Full<Bytes>> {
    const RATE: &str = "Rate exceeded";
    match p {
        Protocol::Json => json_error(400, "ThrottlingException", RATE),
        Protocol::Query | Protocol::RestXml => query_error(400, "Throttling", RATE),
        Protocol::Ec2 => ec2_error(503, "RequestLimitExceeded", "Request limit exceeded."),
        Protocol::S3 => s3_error(503, "SlowDown", "Please reduce your request rate."),
        Protocol::RestJson => rest_json_error(429, "TooManyRequestsException", RATE),
        Protocol::Cbor => response(503, "application/cbor", &[], String::new()),
    }
}

fn server_error(p: Protocol) -> Response<Full<Bytes>> {
    const MSG: &str = "We encountered an internal error. Please try again.";
    match p {
        Protocol::Json => json_error(500, "InternalFailure", MSG),
        Protocol::Query | Protocol::RestXml => query_error(500, "InternalFailure", MSG),
        Protocol::Ec2 => ec2_error(500, "InternalError", MSG),
        Protocol::S3 => s3_error(500, "InternalError", MSG),
        Protocol::RestJson => rest_json_error(500, "ServiceException", MSG),
        Protocol::Cbor => response(500, "application/cbor", &[], String::new()),
    }
}

/// The service's own "not found" answer.
fn not_found(p: Protocol, service: &str) -> Response<Full<Bytes>> {
    match (p, service) {
        (Protocol::Query, "iam") => query_error(404, "NoSuchEntity", "The role cannot be found."),
        (Protocol::Query, "sns") => query_error(404, "NotFound", "Topic does not exist"),
        (Protocol::Query, "elasticloadbalancing") => query_error(
            400,
            "TargetGroupNotFound",
            "One or more target groups not found",
        ),
        (Protocol::Query, "rds") => query_error(404, "DBInstanceNotFound", "not found"),
        (Protocol::Query, _) => query_error(404, "NotFound", "not found"),
        (Protocol::Ec2, _) => ec2_error(
            400,
            "InvalidGroup.NotFound",
            "The security group does not exist",
        ),
        (Protocol::S3, _) => s3_error(404, "NoSuchBucket", "The specified bucket does not exist"),
        (Protocol::Json, "sqs") => json_error(
            400,
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        ),
        (Protocol::Json, _) => json_error(400, "ResourceNotFoundException", "not found"),
        (Protocol::RestJson, _) => rest_json_error(404, "ResourceNotFoundException", "not found"),
        (Protocol::RestXml, _) => query_error(404, "NoSuchResource", "not found"),
        (Protocol::Cbor, _) => response(404, "application/cbor", &[], String::new()),
    }
}
