//! State in S3: `{prefix}stacks/{stack}/{env}/state.json` and `.../history/*.json`.
//!
//! Writes are conditional: `If-Match` with the ETag read, or `If-None-Match: *` for the first
//! state. S3 answers 412 when the object changed since it was read and 409 when another
//! conditional write to it is in flight; both are a [`WriteOutcome::Conflict`].

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::error::BackendError;
use crate::history::HistoryEntry;
use crate::{StateKey, Stored, Version, WriteOutcome};

#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

/// Tag on history objects, for the bucket's lifecycle rule (state.json never carries it).
pub const HISTORY_TAG: &str = "panka%3Aobject=history";

impl S3Store {
    pub fn new(client: Client, bucket: impl Into<String>, prefix: Option<&str>) -> Self {
        let prefix = prefix
            .map(|p| {
                if p.is_empty() || p.ends_with('/') {
                    p.to_string()
                } else {
                    format!("{p}/")
                }
            })
            .unwrap_or_default();
        S3Store {
            client,
            bucket: bucket.into(),
            prefix,
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn base(&self, key: &StateKey) -> String {
        format!("{}stacks/{}/{}", self.prefix, key.stack, key.environment)
    }

    pub fn state_key(&self, key: &StateKey) -> String {
        format!("{}/state.json", self.base(key))
    }

    pub fn url(&self, key: &StateKey) -> String {
        format!("s3://{}/{}", self.bucket, self.state_key(key))
    }

    pub(crate) async fn read(&self, key: &StateKey) -> Result<Option<Stored>, BackendError> {
        let object = self.state_key(key);
        let resp = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => {
                return Err(BackendError::aws(
                    format!("reading s3://{}/{object}", self.bucket),
                    e.into_service_error(),
                ));
            }
        };
        let etag = resp.e_tag().unwrap_or_default().to_string();
        let bytes = resp
            .body
            .collect()
            .await
            .map_err(|e| BackendError::aws(format!("reading s3://{}/{object}", self.bucket), e))?
            .into_bytes();
        let state = serde_json::from_slice(&bytes).map_err(|e| BackendError::Decode {
            what: format!("s3://{}/{object}", self.bucket),
            source: e,
        })?;
        Ok(Some(Stored {
            state,
            version: Version::ETag(etag),
        }))
    }

    pub(crate) async fn write(
        &self,
        key: &StateKey,
        bytes: &[u8],
        expected: Option<&Version>,
    ) -> Result<WriteOutcome, BackendError> {
        let object = self.state_key(key);
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object)
            .content_type("application/json")
            .body(ByteStream::from(bytes.to_vec()));
        put = match expected {
            Some(Version::ETag(etag)) => put.if_match(etag),
            Some(other) => {
                return Err(BackendError::aws(
                    "writing state",
                    std::io::Error::other(format!("an S3 write needs an ETag, not {other:?}")),
                ));
            }
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(resp) => Ok(WriteOutcome::Written(Version::ETag(
                resp.e_tag().unwrap_or_default().to_string(),
            ))),
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(WriteOutcome::Conflict),
            Err(e) => Err(BackendError::aws(
                format!("writing s3://{}/{object}", self.bucket),
                e.into_service_error(),
            )),
        }
    }

    pub(crate) async fn put_history(
        &self,
        key: &StateKey,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), BackendError> {
        let object = format!("{}/history/{name}", self.base(key));
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&object)
            .content_type("application/json")
            .tagging(HISTORY_TAG)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| {
                BackendError::aws(
                    format!("writing s3://{}/{object}", self.bucket),
                    e.into_service_error(),
                )
            })?;
        Ok(())
    }

    pub(crate) async fn history(&self, key: &StateKey) -> Result<Vec<HistoryEntry>, BackendError> {
        let prefix = format!("{}/history/", self.base(key));
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let resp = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    BackendError::aws(
                        format!("listing s3://{}/{prefix}", self.bucket),
                        e.into_service_error(),
                    )
                })?;
            names.extend(
                resp.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match resp.next_continuation_token() {
                Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let resp = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&name)
                .send()
                .await
                .map_err(|e| {
                    BackendError::aws(
                        format!("reading s3://{}/{name}", self.bucket),
                        e.into_service_error(),
                    )
                })?;
            let bytes = resp
                .body
                .collect()
                .await
                .map_err(|e| BackendError::aws(format!("reading s3://{}/{name}", self.bucket), e))?
                .into_bytes();
            out.push(
                serde_json::from_slice(&bytes).map_err(|e| BackendError::Decode {
                    what: format!("s3://{}/{name}", self.bucket),
                    source: e,
                })?,
            );
        }
        Ok(out)
    }

    pub(crate) async fn check_conditional_writes(
        &self,
        key: &StateKey,
    ) -> Result<(), BackendError> {
        let probe = format!(
            "{}/.conditional-write-probe-{}",
            self.base(key),
            uuid::Uuid::new_v4()
        );
        let put = || {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&probe)
                .if_none_match("*")
                .body(ByteStream::from_static(b"probe"))
                .send()
        };
        put().await.map_err(|e| {
            BackendError::aws(
                format!("writing a probe to s3://{}", self.bucket),
                e.into_service_error(),
            )
        })?;
        let second = put().await;
        let _ = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&probe)
            .send()
            .await;
        match second {
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(()),
            Ok(_) => Err(BackendError::NotConditional {
                store: format!("s3://{}", self.bucket),
            }),
            Err(e) => Err(BackendError::aws(
                format!("writing a probe to s3://{}", self.bucket),
                e.into_service_error(),
            )),
        }
    }
}

/// The HTTP status of an SDK error that got a response.
pub(crate) fn status<E, R: HasStatus>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HasStatus::status_code)
}

pub(crate) trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}
