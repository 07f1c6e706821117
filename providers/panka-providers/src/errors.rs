//! Classifying AWS SDK errors for the engine, and retrying eventual consistency.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use backon::{ConstantBuilder, ExponentialBuilder, Retryable};
use panka_engine::{ErrorKind, ProviderError};

/// Tries for eventual consistency the SDK's own retries do not cover (a bucket just created
/// that a settings call does not see yet): 8 tries over about 20 seconds.
const CONSISTENCY_TRIES: usize = 8;
const CONSISTENCY_MAX_DELAY: Duration = Duration::from_secs(5);

/// The class of an SDK error: by HTTP status when there was a response, retryable when the
/// request did not get one (timeouts and connection errors the SDK already retried).
pub fn classify<E, R>(e: &SdkError<E, R>) -> ErrorKind
where
    R: HasStatus,
{
    match e.raw_response().map(HasStatus::status_code) {
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(429) | Some(500..=599) => ErrorKind::Retryable,
        Some(400..=499) => ErrorKind::Invalid,
        Some(_) => ErrorKind::Retryable,
        None => match e {
            SdkError::TimeoutError(_) => ErrorKind::Timeout,
            _ => ErrorKind::Retryable,
        },
    }
}

/// Wraps an SDK error with what was being done.
pub fn aws_error<E, R>(action: impl Into<String>, e: SdkError<E, R>) -> ProviderError
where
    E: std::error::Error + Send + Sync + 'static,
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
    E: std::error::Error + Send + Sync + 'static,
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
    E: std::error::Error + Send + Sync + 'static,
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
