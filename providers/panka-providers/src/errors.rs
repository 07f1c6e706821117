//! Classifying AWS SDK errors for the engine, and retrying eventual consistency.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use backon::{ConstantBuilder, ExponentialBuilder, Retryable};
use panka_engine::{ErrorKind, ProviderError, Transient};

/// Tries for eventual consistency the SDK's own retries do not cover (a bucket just created
/// that a settings call does not see yet): 8 tries over about 20 seconds.
const CONSISTENCY_TRIES: usize = 8;
const CONSISTENCY_MAX_DELAY: Duration = Duration::from_secs(5);

/// Error codes AWS services use for throttling, in every wire protocol (JSON
/// `ThrottlingException`, query `Throttling`, EC2 `RequestLimitExceeded`, S3 `SlowDown`): the
/// list of smithy-rs's `aws-runtime` retry classifier, without `LimitExceededException`, which
/// several services (Lambda, IAM, ECS) use for quotas that no retry lifts.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes AWS answers a create with when a resource of its name exists: after the SDK
/// retried a create whose answer was lost, the resource is this create's own. The engine
/// retries the action, which finds the resource and checks its tags before using it
/// ([`Transient::AlreadyExists`]).
const ALREADY_EXISTS_CODES: &[&str] = &[
    "DuplicateLoadBalancerName",
    "DuplicateListener",
    "DuplicateTargetGroupName",
    "PriorityInUse",
    "ResourceAlreadyExistsException",
    "AlreadyExistsException",
    "DBInstanceAlreadyExists",
    "DBClusterAlreadyExistsFault",
    "ReplicationGroupAlreadyExists",
    "CacheClusterAlreadyExists",
];

/// Error codes of a request that timed out on AWS's side.
const TIMEOUT_CODES: &[&str] = &["RequestTimeout", "RequestTimeoutException"];

/// Whether an AWS error code means throttling.
pub fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

/// The class of an SDK error: throttling and timeouts by their error code, then by HTTP status
/// when there was a response; a request that got no response (a timeout, a reset connection)
/// is [`Transient::NoResponse`], one that could not be built is invalid.
pub fn classify<E, R>(e: &SdkError<E, R>) -> ErrorKind
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    if let Some(code) = e.as_service_error().and_then(ProvideErrorMetadata::code) {
        if is_throttling_code(code) {
            return ErrorKind::Transient(Transient::Throttled);
        }
        if TIMEOUT_CODES.contains(&code) {
            return ErrorKind::Transient(Transient::NoResponse);
        }
        if ALREADY_EXISTS_CODES.contains(&code) {
            return ErrorKind::Transient(Transient::AlreadyExists);
        }
    }
    match e.raw_response().map(HasStatus::status_code) {
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(429) => ErrorKind::Transient(Transient::Throttled),
        Some(500..=599) => ErrorKind::Transient(Transient::ServerError),
        Some(400..=499) => ErrorKind::Invalid,
        Some(_) => ErrorKind::Transient(Transient::ServerError),
        None => match e {
            SdkError::ConstructionFailure(_) => ErrorKind::Invalid,
            _ => ErrorKind::Transient(Transient::NoResponse),
        },
    }
}

/// The error code AWS answered with, if any (`InvalidGroup.NotFound`, `ResourceConflictException`).
pub fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// The error message AWS answered with, if any.
pub fn message<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    e.as_service_error().and_then(ProvideErrorMetadata::message)
}

/// Wraps an SDK error with what was being done, as [`aws_error`] does, but with the error kind
/// `cause` when `matches` says the error is that eventual-consistency case (an IAM role not yet
/// assumable, a security group not yet visible). For calls where AWS documents such a case.
pub fn aws_error_when<E, R>(
    action: impl Into<String>,
    e: SdkError<E, R>,
    cause: Transient,
    matches: impl Fn(Option<&str>, &str) -> bool,
) -> ProviderError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    let hit = matches(code(&e), message(&e).unwrap_or_default());
    let mut err = aws_error(action, e);
    if hit {
        err.kind = ErrorKind::Transient(cause);
    }
    err
}

/// Checks that a resource found by its AWS name is this component's: its tags name the same
/// stack, environment, service and component as `expected` (panka's tags for the component).
/// A resource without them, or with another owner's, is not taken over.
///
/// # Errors
/// [`ErrorKind::NotOwned`] naming the resource, the owner its tags give, and `panka import`.
pub fn check_owner<'a>(
    what: &str,
    address: &str,
    found: impl IntoIterator<Item = (&'a str, &'a str)>,
    expected: &std::collections::BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let found: std::collections::BTreeMap<&str, &str> = found.into_iter().collect();
    let mismatched: Vec<&str> = OWNER_TAGS
        .iter()
        .copied()
        .filter(|k| expected.get(*k).map(String::as_str) != found.get(k).copied())
        .collect();
    if mismatched.is_empty() {
        return Ok(());
    }
    let owner = if OWNER_TAGS.iter().all(|k| !found.contains_key(k)) {
        "it carries no panka tags".to_string()
    } else {
        let tags: Vec<String> = OWNER_TAGS
            .iter()
            .map(|k| format!("{k}={}", found.get(k).copied().unwrap_or("(none)")))
            .collect();
        format!("its tags say {}", tags.join(", "))
    };
    Err(not_owned(what, address, &owner))
}

/// The [`ErrorKind::NotOwned`] error for `what`, found by its name, that is not `address`'s for
/// the reason `owner` gives.
pub fn not_owned(what: &str, address: &str, owner: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::NotOwned,
        format!(
            "{what} already exists and is not {address}'s ({owner}); panka does not take over a resource it did not create: adopt it with `panka import {address}`, or give the component another name"
        ),
    )
}

/// The tags that say which component owns a resource.
pub const OWNER_TAGS: [&str; 4] = [
    panka_format::naming::TAG_STACK,
    panka_format::naming::TAG_ENVIRONMENT,
    panka_format::naming::TAG_SERVICE,
    panka_format::naming::TAG_COMPONENT,
];

/// Wraps an SDK error with what was being done.
pub fn aws_error<E, R>(action: impl Into<String>, e: SdkError<E, R>) -> ProviderError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    let kind = classify(&e);
    ProviderError::with_source(kind, action, e)
}

/// The outcome of a call that removes something: done, also when `gone` says the thing was not
/// there any more; any other error is wrapped with `action`.
pub fn unless_gone<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    gone: impl Fn(&E) -> bool,
    action: impl Into<String>,
) -> Result<(), ProviderError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(&gone) => Ok(()),
        Err(e) => Err(aws_error(action, e)),
    }
}

/// The outcome of a call that reads something: `None` when `missing` says the thing is not
/// there; any other error is wrapped with `action`.
pub fn unless_missing<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    missing: impl Fn(&E) -> bool,
    action: impl Into<String>,
) -> Result<Option<T>, ProviderError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: HasStatus + std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().is_some_and(&missing) => Ok(None),
        Err(e) => Err(aws_error(action, e)),
    }
}

/// Access to the HTTP status of a raw response.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Runs `op`, trying again while it fails with "not found" (a resource not yet visible).
pub async fn until_visible<T, F, Fut>(op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    op.retry(
        ExponentialBuilder::default()
            .with_max_times(CONSISTENCY_TRIES)
            .with_max_delay(CONSISTENCY_MAX_DELAY),
    )
    .sleep(tokio::time::sleep)
    .when(|e: &ProviderError| e.kind == ErrorKind::NotFound)
    .await
}

/// Calls `check` every `delay`, at most `times` more times, while it fails with an error of
/// `kind` (a resource still changing state, say); its success, its other errors and its last
/// error end the polling.
pub(crate) async fn poll_while<T, F, Fut>(
    delay: Duration,
    times: usize,
    kind: ErrorKind,
    check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    check
        .retry(
            ConstantBuilder::default()
                .with_delay(delay)
                .with_max_times(times),
        )
        .sleep(tokio::time::sleep)
        .when(|e: &ProviderError| e.kind == kind)
        .await
}
