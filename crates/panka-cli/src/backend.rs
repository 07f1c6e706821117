//! The stack's state and lock stores, as named in stack.yaml, and running under a lock.

use std::time::Duration;

use anyhow::Context;
use panka_aws::{Aws, AwsOptions};
use panka_backend::locks::{DynamoLocks, LocalLocks};
use panka_backend::{
    LocalStore, LockGuard, LockRequest, LockScope, LockStore, S3Store, StateKey, StateStore,
};
use panka_format::Stack;

use crate::cli::GlobalArgs;

/// Where a stack's state and locks live.
pub struct Backends {
    pub key: StateKey,
    pub state: StateStore,
    pub locks: LockStore,
    pub aws: Option<Aws>,
}

impl Backends {
    /// The stores of `stack`: S3 and DynamoDB when `spec.backend.s3` is set, else local files.
    pub async fn for_stack(stack: &Stack, global: &GlobalArgs) -> Backends {
        let key = StateKey::new(&stack.name, &stack.environment);
        match &stack.backend {
            None => Backends {
                key,
                state: StateStore::Local(LocalStore::new(&stack.root)),
                locks: LockStore::Local(LocalLocks::new(&stack.root)),
                aws: None,
            },
            Some(b) => {
                let region = b.s3.region.clone().unwrap_or_else(|| stack.region.clone());
                let aws = Aws::load(&AwsOptions {
                    region: Some(region),
                    endpoint_url: global.endpoint_url.clone(),
                })
                .await;
                Backends {
                    key,
                    state: StateStore::S3(S3Store::new(
                        aws.s3(),
                        &b.s3.bucket,
                        b.s3.prefix.as_deref(),
                    )),
                    locks: LockStore::Dynamo(DynamoLocks::new(aws.dynamodb(), &b.s3.lock_table)),
                    aws: Some(aws),
                }
            }
        }
    }

    /// Checks the state store enforces conditional writes; mutating commands refuse one that does not.
    pub async fn check(&self) -> anyhow::Result<()> {
        if let Err(e) = self.state.check_conditional_writes(&self.key).await {
            let e = anyhow::Error::new(e).context("checking the state store");
            if format!("{e:#}").contains("NoSuchBucket") {
                return Err(e.context(
                    "the state bucket does not exist yet: create it and the lock table with `panka backend init` (same --stack and -e)",
                ));
            }
            return Err(e);
        }
        Ok(())
    }

    /// Takes a lock for `operation`, releasing it if Ctrl-C arrives while waiting.
    pub async fn lock(
        &self,
        scope: LockScope,
        operation: &str,
        wait: Duration,
    ) -> anyhow::Result<LockGuard> {
        let request = LockRequest::new(self.key.clone(), scope, operation, wait);
        tokio::select! {
            guard = self.locks.acquire(&request) => match guard {
                Ok(g) => Ok(g),
                Err(e) if format!("{e:?}").contains("ResourceNotFound") => Err(anyhow::Error::new(e)
                    .context("the lock table does not exist yet: create it with `panka backend init` (same --stack and -e)")),
                Err(e) => Err(e.into()),
            },
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted while waiting for the lock"),
        }
    }
}

/// Runs `work` under a lock, releasing the lock however `work` ends, Ctrl-C included.
pub async fn with_lock<T>(
    backends: &Backends,
    scope: LockScope,
    operation: &str,
    wait: Duration,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let guard = backends.lock(scope, operation, wait).await?;
    let result = tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; the lock was released and nothing more was written")),
    };
    let released = guard.release().await;
    let value = result?;
    released.context("releasing the lock")?;
    Ok(value)
}

pub use panka_deploy::record::deployment;

/// Parses `30s`, `5m`, `1h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 30s, 5m or 1h: {e}"))
}
